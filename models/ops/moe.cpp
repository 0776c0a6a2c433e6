// Mixture of experts (Mixtral-style sparse MoE layer):
//   topk_gate:   router logits [..., E] -> gates [..., E]: softmax over the top_k logits of
//                each row (Mixtral's softmax → top-k → renormalise), zero elsewhere.
//   moe_experts: x [..., D], gates [..., E] -> Σ_e gates[e] · FFN_e(x) over the routed
//                experts; FFN_e = w2_e · (act(w1_e · x) ⊙ w3_e · x) (SwiGLU with w3;
//                w2_e · act(w1_e · x) without). The block holds `expert_parallel`
//                expert datapaths; an expert's cost follows the tokens routed to it
//                (models/ops/moe.hpp), the busiest datapath sets the time.
#include "models/ops/moe.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "models/ops/gemv_cost.hpp"
#include "models/ops/registry.hpp"
#include "models/ops/shape_util.hpp"
#include "workloads/error.hpp"

namespace masesim::ops {
namespace {

std::string attr_str(const Node& n, const char* a, const std::string& dflt) {
  auto it = n.attrs.find(a);
  if (it == n.attrs.end()) return dflt;
  if (it->second.kind != AttrValue::Kind::String)
    fail_rule(std::string("attribute ") + a + " must be a string");
  return it->second.str;
}

std::int64_t positive_attr(const Node& n, const char* a, std::int64_t dflt) {
  if (!n.has_attr(a) && dflt <= 0) fail_rule(std::string("attribute ") + a + " is required");
  const std::int64_t v = n.attr_int(a, dflt);
  if (v < 1)
    fail_rule(std::string("attribute ") + a + " must be at least 1, got " + std::to_string(v));
  return v;
}

// ---- topk_gate ------------------------------------------------------------------------
std::vector<Shape> topk_gate_shape(const Node& n, const std::vector<Shape>& in) {
  need_rank(in[0], 1, 8, "data_in_0");
  const std::int64_t k = positive_attr(n, "top_k", 0);
  if (k > in[0].back())
    fail_rule("top_k " + std::to_string(k) + " is above the number of experts " +
              std::to_string(in[0].back()));
  return {in[0]};
}

void topk_gate_kernel(const KernelCall& c) {
  const auto E = static_cast<std::size_t>(c.in[0]->shape.back());
  const auto k = static_cast<std::size_t>(c.n.attr_int("top_k", 1));
  std::vector<std::size_t> order(E);
  for (std::size_t r0 = 0; r0 < c.in[0]->v.size(); r0 += E) {
    const double* l = c.in[0]->v.data() + r0;
    std::iota(order.begin(), order.end(), 0);
    // torch.topk's order: larger first, equal values by the lower index
    std::stable_sort(order.begin(), order.end(),
                     [l](std::size_t a, std::size_t b) { return l[a] > l[b]; });
    double s = 0;
    for (std::size_t j = 0; j < k; ++j) s += std::exp(l[order[j]] - l[order[0]]);
    for (std::size_t j = 0; j < k; ++j)
      c.y.v[r0 + order[j]] = std::exp(l[order[j]] - l[order[0]]) / s;
  }
}

// ---- moe_experts ----------------------------------------------------------------------
struct MoeDims {
  std::int64_t E, D, F, k, tokens;
  bool gated;  ///< w3 present (SwiGLU)
};

MoeDims moe_dims(const Graph& g, const Node& n) {
  const Shape& x = g.tensor_of(n.args[0]).shape;
  const Shape w1 = n.param("w1")->tensor.shape;
  return {w1[0],
          x.back(),
          w1[1],
          n.attr_int("top_k", 1),
          shape_numel(x) / x.back(),
          n.param("w3") != nullptr};
}

std::vector<Shape> moe_shape(const Node& n, const std::vector<Shape>& in) {
  need_rank(in[0], 1, 8, "data_in_0");
  const Shape w1 = param_shape(n, "w1"), w2 = param_shape(n, "w2");
  if (w1.size() != 3) fail_rule("w1 must be [experts, ffn, hidden], got " + shape_to_string(w1));
  const std::int64_t E = w1[0], F = w1[1], D = in[0].back();
  if (w1[2] != D)
    fail_rule("w1 " + shape_to_string(w1) + " does not match hidden " + std::to_string(D));
  if (w2 != Shape{E, D, F})
    fail_rule("w2 " + shape_to_string(w2) +
              " must be [experts, hidden, ffn] = " + shape_to_string(Shape{E, D, F}));
  if (n.param("w3") && param_shape(n, "w3") != w1)
    fail_rule("w3 " + shape_to_string(param_shape(n, "w3")) + " must equal w1 " +
              shape_to_string(w1));
  Shape lead(in[0].begin(), in[0].end() - 1);
  lead.push_back(E);
  if (in[1] != lead)
    fail_rule("gates (data_in_1) " + shape_to_string(in[1]) + " must be " + shape_to_string(lead) +
              " (one gate per expert for every row of data_in_0)");
  const std::int64_t k = positive_attr(n, "top_k", 0);
  if (k > E)
    fail_rule("top_k " + std::to_string(k) + " is above the " + std::to_string(E) + " experts");
  const std::int64_t P = positive_attr(n, "expert_parallel", 1);
  if (P > E)
    fail_rule("expert_parallel " + std::to_string(P) + " is above the " + std::to_string(E) +
              " experts");
  const std::string act = attr_str(n, "activation", "silu");
  if (act != "silu" && act != "gelu" && act != "relu")
    fail_rule("activation '" + act + "' is not one of silu, gelu, relu");
  moe_expert_tokens(n, E, k, shape_numel(in[0]) / D);  // checks the routing attributes
  return {in[0]};
}

std::int64_t moe_macs(const Graph& g, const Node& n) {
  const MoeDims d = moe_dims(g, n);
  // every routed token slot runs one expert: (gated ? 3 : 2) GEMVs of D × F
  return checked_mul(checked_mul(d.tokens, d.k, n.name), (d.gated ? 3 : 2) * d.D * d.F,
                     n.name + " MACs");
}

/// One token slot through one expert: w1 (and w3) D → F, w2 F → D, on the k_par (over D
/// and F) × n_par (over F and D) lanes of one expert datapath.
std::int64_t moe_cycles_per_token(const MoeDims& d, std::int64_t kp, std::int64_t np) {
  return (d.gated ? 2 : 1) * gemv_cycles(d.D, d.F, kp, np) + gemv_cycles(d.F, d.D, kp, np);
}

/// Off-chip experts: the inference's token slots are gathered per expert and every routed
/// expert's weights stream through once, one tile of n_par output rows at a time — w1 with
/// w3 (n_par of the F rows × D, applied to each of the expert's slots in ceil(D/k_par)
/// cycles per GEMV), then w2 (n_par of the D rows × F, ceil(F/k_par) cycles a slot).
/// Experts e, e+P, … share datapath e mod P; a round of P experts fetches tile j of each
/// in turn. Unrouted experts are not fetched.
std::vector<OpTiming::WeightTile> moe_weight_schedule(const Graph& g, const Node& n,
                                                      std::int64_t kp, std::int64_t np) {
  const MoeDims d = moe_dims(g, n);
  const std::int64_t P = n.attr_int("expert_parallel", 1);
  const std::vector<std::int64_t> slots = moe_expert_tokens(n, d.E, d.k, d.tokens);
  auto bytes = [](std::int64_t elems, const Precision& p) {
    return static_cast<std::int64_t>(
        std::ceil(static_cast<double>(elems) * p.bits_per_element() / 8.0));
  };
  const Precision& p1 = n.param("w1")->tensor.precision;
  const Precision& p2 = n.param("w2")->tensor.precision;
  const Param* w3 = n.param("w3");
  std::vector<OpTiming::WeightTile> s;
  for (std::int64_t r0 = 0; r0 < d.E; r0 += P) {
    for (int phase = 0; phase < 2; ++phase) {  // 0: w1 (+ w3), D → F; 1: w2, F → D
      const std::int64_t rows = phase == 0 ? d.F : d.D, cols = phase == 0 ? d.D : d.F;
      for (std::int64_t j = 0; j * np < rows; ++j) {
        const std::int64_t tile_rows = std::min(np, rows - j * np);
        for (std::int64_t e = r0; e < std::min(d.E, r0 + P); ++e) {
          const std::int64_t c = slots[static_cast<std::size_t>(e)];
          if (c == 0) continue;
          OpTiming::WeightTile w;
          w.datapath = e % P;
          if (phase == 0) {
            w.bytes = bytes(tile_rows * cols, p1);
            if (w3) w.bytes += bytes(tile_rows * cols, w3->tensor.precision);
            w.cycles = c * (w3 ? 2 : 1) * ceil_div(cols, kp);
          } else {
            w.bytes = bytes(tile_rows * cols, p2);
            w.cycles = c * ceil_div(cols, kp);
          }
          s.push_back(w);
        }
      }
    }
  }
  return s;
}

void moe_timing(const Graph& g, const Node& n, const NodeHw& hw, OpTiming& t) {
  const MoeDims d = moe_dims(g, n);
  const std::int64_t kp = hw.in[0].tile.empty() ? 1 : hw.in[0].tile.back();
  const std::int64_t np = hw.out.tile.empty() ? 1 : hw.out.tile.back();
  const std::int64_t P = n.attr_int("expert_parallel", 1);
  const std::int64_t busy =
      moe_busy_cycles(moe_expert_tokens(n, d.E, d.k, d.tokens), P, moe_cycles_per_token(d, kp, np));
  t.engine = OpTiming::Engine::Rows;
  t.rows = d.tokens;
  // The busiest datapath's cycles spread over the token rows (at least a row's beats).
  t.row_cycles = std::max({ceil_div(busy, d.tokens), ceil_div(t.in_beats[0], d.tokens),
                           ceil_div(t.out_beats, d.tokens)});
  t.first_out_cycles = 0;
  t.out_interval_cycles = std::max<std::int64_t>(1, t.row_cycles / ceil_div(t.out_beats, t.rows));
  t.macs_per_cycle = kp * np * P;
  // MAC tree + activation (4) + gate multiply (2) + combine add (1)
  t.latency_cycles = ceil_log2(kp) + 3 + 4 + 2 + 1;
  if (hw.weights_off_chip) t.weight_schedule = moe_weight_schedule(g, n, kp, np);
}

ResourceEstimate moe_resources(const Graph& g, const Node& n, const NodeHw& hw, const OpTiming& t) {
  const MoeDims d = moe_dims(g, n);
  const Precision& px = g.tensor_of(n.args[0]).precision;
  const Precision& pw = n.param("w1")->tensor.precision;
  const std::int64_t kp = hw.in[0].tile.empty() ? 1 : hw.in[0].tile.back();
  const std::int64_t np = hw.out.tile.empty() ? 1 : hw.out.tile.back();
  const std::int64_t P = n.attr_int("expert_parallel", 1);
  ResourceEstimate r;
  for (std::int64_t p = 0; p < P; ++p) {
    r += ResourceEstimate(hls_linear(gemv_params(d.D, d.F, kp, np, px, pw, hw.binding)),
                          "expert int_linear2d", hw.uram_per_bram36);
    r += ResourceEstimate(hls_activation(HlsActivation::Silu, np, px, hw.binding),
                          "expert activation", hw.uram_per_bram36);
    if (d.gated)
      r += ResourceEstimate(hls_binary(HlsBinary::Mul, np, px, px, hw.binding),
                            "expert gate int_mult", hw.uram_per_bram36);
    r += flat_buffer(2.0 * static_cast<double>(d.F) * px.bits_per_element(), hw.uram_per_bram36);
  }
  // gate · expert output and the sum over the k experts of a token
  r += ResourceEstimate(hls_binary(HlsBinary::Mul, np, px, px, hw.binding), "combine int_mult",
                        hw.uram_per_bram36);
  r += ResourceEstimate(hls_binary(HlsBinary::Add, np, px, px), "combine int_add",
                        hw.uram_per_bram36);
  if (!hw.weights_off_chip) {
    double bits = 0;  // every expert's weights on chip
    for (const auto& prm : n.params) bits += tensor_bits(prm.tensor);
    r += flat_buffer(bits, hw.uram_per_bram36);
  } else {
    // Off chip: a double-buffered weight tile per datapath, and the inference's tokens
    // gathered per expert: x and the output accumulators of every token, the hidden
    // activations of the busiest expert's slots per datapath.
    std::int64_t max_slots = 0;
    for (auto c : moe_expert_tokens(n, d.E, d.k, d.tokens)) max_slots = std::max(max_slots, c);
    const double px_bits = px.bits_per_element();
    r += flat_buffer(2.0 * static_cast<double>(P) * static_cast<double>(t.weight_tile_bytes) * 8.0,
                     hw.uram_per_bram36);
    r += flat_buffer(2.0 * static_cast<double>(d.tokens * d.D) * px_bits, hw.uram_per_bram36);
    r += flat_buffer(static_cast<double>(P * max_slots * d.F) * px_bits, hw.uram_per_bram36);
  }
  r.extrapolate("moe_experts", "composed of int_linear2d, int_silu, int_mult and int_add blocks");
  return r;
}

double act_of(const std::string& a, double v) {
  if (a == "relu") return v > 0 ? v : 0.0;
  if (a == "gelu") return fn::gelu(v, false);
  return v / (1.0 + std::exp(-v));
}

void moe_kernel(const KernelCall& c) {
  const MoeDims d = moe_dims(c.g, c.n);
  const fn::QTensor* w1 = fn::param_data(c.n, c.params, "w1", true);
  const fn::QTensor* w2 = fn::param_data(c.n, c.params, "w2", true);
  const fn::QTensor* w3 = fn::param_data(c.n, c.params, "w3", false);
  const std::string act = attr_str(c.n, "activation", "silu");
  const auto D = static_cast<std::size_t>(d.D), F = static_cast<std::size_t>(d.F);
  const auto E = static_cast<std::size_t>(d.E);
  std::vector<double> h(F);
  for (std::size_t t = 0; t < static_cast<std::size_t>(d.tokens); ++t) {
    const double* x = c.in[0]->v.data() + t * D;
    for (std::size_t e = 0; e < E; ++e) {
      const double gate = c.in[1]->v[t * E + e];
      if (gate == 0) continue;  // not routed to e
      for (std::size_t f = 0; f < F; ++f) {
        double a = 0, b = 0;
        for (std::size_t i = 0; i < D; ++i) {
          a += w1->v[(e * F + f) * D + i] * x[i];
          if (w3) b += w3->v[(e * F + f) * D + i] * x[i];
        }
        h[f] = w3 ? act_of(act, a) * b : act_of(act, a);
      }
      for (std::size_t o = 0; o < D; ++o) {
        double s = 0;
        for (std::size_t f = 0; f < F; ++f) s += w2->v[(e * D + o) * F + f] * h[f];
        c.y.v[t * D + o] += gate * s;
      }
    }
  }
}

std::uint64_t splitmix64(std::uint64_t& s) {
  std::uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

}  // namespace

std::vector<std::int64_t> moe_expert_tokens(const Node& n, std::int64_t E, std::int64_t k,
                                            std::int64_t tokens) {
  const std::string routing =
      attr_str(n, "routing", n.has_attr("expert_load") ? "load" : "balanced");
  std::vector<std::int64_t> c(static_cast<std::size_t>(E), 0);
  const std::int64_t slots = tokens * k;
  if (routing == "balanced") {
    for (std::int64_t e = 0; e < E; ++e)
      c[static_cast<std::size_t>(e)] = slots / E + (e < slots % E ? 1 : 0);
  } else if (routing == "load") {
    const auto w = n.attr_ints("expert_load", {});
    if (static_cast<std::int64_t>(w.size()) != E)
      fail_rule("expert_load has " + std::to_string(w.size()) +
                " entries, expected one per expert (" + std::to_string(E) + ")");
    std::int64_t sum = 0;
    for (auto x : w) {
      if (x < 0) fail_rule("expert_load entries must be non-negative");
      sum += x;
    }
    if (sum == 0) fail_rule("expert_load is all zero");
    std::vector<std::pair<std::int64_t, std::int64_t>> rem;  // (remainder, expert)
    std::int64_t given = 0;
    for (std::int64_t e = 0; e < E; ++e) {
      const std::int64_t q =
          checked_mul(slots, w[static_cast<std::size_t>(e)], n.name + " expert_load");
      c[static_cast<std::size_t>(e)] = q / sum;
      given += q / sum;
      rem.push_back({q % sum, e});
    }
    std::stable_sort(rem.begin(), rem.end(), [](auto a, auto b) { return a.first > b.first; });
    for (std::int64_t j = 0; j < slots - given; ++j)
      ++c[static_cast<std::size_t>(rem[static_cast<std::size_t>(j)].second)];
    for (std::int64_t e = 0; e < E; ++e)
      if (c[static_cast<std::size_t>(e)] > tokens)
        fail_rule("expert_load gives expert " + std::to_string(e) + " " +
                  std::to_string(c[static_cast<std::size_t>(e)]) + " token slots, more than the " +
                  std::to_string(tokens) + " tokens (each token picks top_k distinct experts)");
  } else if (routing == "seeded") {
    std::uint64_t s = static_cast<std::uint64_t>(n.attr_int("routing_seed", 0));
    std::vector<std::int64_t> pick(static_cast<std::size_t>(E));
    for (std::int64_t t = 0; t < tokens; ++t) {
      std::iota(pick.begin(), pick.end(), 0);
      for (std::int64_t j = 0; j < k; ++j) {  // partial Fisher–Yates: k distinct experts
        const std::int64_t r =
            j + static_cast<std::int64_t>(splitmix64(s) % static_cast<std::uint64_t>(E - j));
        std::swap(pick[static_cast<std::size_t>(j)], pick[static_cast<std::size_t>(r)]);
        ++c[static_cast<std::size_t>(pick[static_cast<std::size_t>(j)])];
      }
    }
  } else {
    fail_rule("routing '" + routing + "' is not one of balanced, load, seeded");
  }
  return c;
}

std::int64_t moe_busy_cycles(const std::vector<std::int64_t>& tokens, std::int64_t parallel,
                             std::int64_t cycles_per_token) {
  std::vector<std::int64_t> load(static_cast<std::size_t>(std::max<std::int64_t>(1, parallel)), 0);
  for (std::size_t e = 0; e < tokens.size(); ++e) load[e % load.size()] += tokens[e];
  return *std::max_element(load.begin(), load.end()) * cycles_per_token;
}

void register_moe_ops(std::vector<OpDescriptor>& v) {
  OpDescriptor g;
  g.name = "topk_gate";
  g.summary = "softmax over each row's top_k logits, zero elsewhere (MoE router)";
  g.cls = OpClass::RowReduce;
  g.attrs_allowed = {"top_k"};
  g.infer = topk_gate_shape;
  g.macs = no_macs;
  g.alu_ops_per_elem = 3;  // select, exp, normalise
  g.timing = [](const Graph& gr, const Node& n, const NodeHw& hw, OpTiming& t) {
    row_reduce_timing(gr, n, hw, t, gr.tensor_of(n.args[0]).shape.back());
  };
  g.resources = [](const Graph& gr, const Node& n, const NodeHw& hw, const OpTiming& t) {
    const Tensor& x = gr.tensor_of(n.args[0]);
    ResourceEstimate logic = softmax_estimate(tile_of(x.shape, hw.in[0]), x.precision, hw);
    logic.extrapolate(
        "topk_gate",
        "costed as int_softmax over the experts (the top-k compare is not in the data)");
    return row_reduce_block_resources(gr, n, hw, t, logic);
  };
  g.kernel = topk_gate_kernel;
  v.push_back(g);

  OpDescriptor m;
  m.name = "moe_experts";
  m.summary =
      "Σ over routed experts of gate·FFN_e(x) (SwiGLU with w3); cost follows the tokens per expert";
  m.cls = OpClass::RowReduce;  // x in, x out (coupled lanes); not a systolic GEMM
  m.min_inputs = m.max_inputs = 2;
  m.params_allowed = {"w1", "w2", "w3"};
  m.params_required = {"w1", "w2"};
  m.attrs_allowed = {"top_k",   "activation",   "expert_parallel",
                     "routing", "routing_seed", "expert_load"};
  m.infer = moe_shape;
  m.macs = moe_macs;
  m.timing = moe_timing;
  m.resources = moe_resources;
  m.kernel = moe_kernel;
  m.weights_can_stream = true;
  m.streamed_params = {"w1", "w2", "w3"};
  v.push_back(m);
}

}  // namespace masesim::ops
