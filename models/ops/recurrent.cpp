// Recurrences: a step depends on the previous step's state, so the time is sequential
// over the sequence and parallel only within a step.
//   selective_scan: Mamba's SSM scan over [batch, seq, channels] with state size N:
//     h_t = exp(Δ_t·A) ⊙ h_{t−1} + Δ_t·u_t·B_t,  y_t = C_t·h_t + D ⊙ u_t,  A = −exp(A_log);
//     a step is parallel over channels × state.
//   causal_conv1d: Mamba's depthwise causal convolution over [batch, channels, seq]:
//     y[l] = b + Σ_j w[j]·x[l − (K−1) + j] (zero before the sequence), the same length;
//     each channel keeps its last K − 1 inputs (a shift register), one output per input.
//   lstm, gru: PyTorch's nn.LSTM / nn.GRU layer (one layer, one direction): every step a
//     GEMV of G·H × (I + H) (G = 4 gates for LSTM, 3 for GRU) and the cell's element-wise
//     update; the output is every step's h.
#include <cmath>

#include "models/ops/gemv_cost.hpp"
#include "models/ops/registry.hpp"
#include "models/ops/shape_util.hpp"
#include "workloads/error.hpp"

namespace masesim::ops {
namespace {

// ---- selective_scan -------------------------------------------------------------------
/// The state update's loop: exp (4 cycles, as the exp op), multiply (2, int_mult), add (1,
/// int_add). A channel's next step cannot start before its previous one left the loop.
constexpr std::int64_t kScanLoopCycles = 4 + 2 + 1;

std::vector<Shape> scan_shape(const Node& n, const std::vector<Shape>& in) {
  need_rank(in[0], 3, 3, "data_in_0 (u: [batch, seq, channels])");
  if (in[1] != in[0])
    fail_rule("delta (data_in_1) " + shape_to_string(in[1]) + " must equal u " +
              shape_to_string(in[0]));
  const Shape a = param_shape(n, "A_log");
  if (a.size() != 2 || a[0] != in[0][2])
    fail_rule("A_log " + shape_to_string(a) + " must be [channels, state] with channels " +
              std::to_string(in[0][2]));
  const Shape bc{in[0][0], in[0][1], a[1]};
  for (std::size_t p = 2; p < 4; ++p)
    if (in[p] != bc)
      fail_rule(std::string(p == 2 ? "B (data_in_2) " : "C (data_in_3) ") + shape_to_string(in[p]) +
                " must be [batch, seq, state] = " + shape_to_string(bc));
  if (n.param("D") && param_shape(n, "D") != Shape{in[0][2]})
    fail_rule("D " + shape_to_string(param_shape(n, "D")) + " must be [channels]");
  return {in[0]};
}

std::int64_t scan_state(const Node& n) {
  return n.param("A_log")->tensor.shape[1];
}

std::int64_t scan_macs(const Graph& g, const Node& n) {
  // per token and channel: Δ·A, Ā·h, (Δ·u)·B, C·h for each of N states; Δ·u; D·u
  const std::int64_t N = scan_state(n);
  return checked_mul(g.tensor_of(n.args[0]).numel(), 4 * N + 1 + (n.param("D") ? 1 : 0),
                     n.name + " MACs");
}

void scan_timing(const Graph& g, const Node& n, const NodeHw& hw, OpTiming& t) {
  const Shape& u = g.tensor_of(n.args[0]).shape;
  const std::int64_t p = hw.in[0].tile.empty() ? 1 : hw.in[0].tile.back();
  t.engine = OpTiming::Engine::Rows;
  t.rows = u[0] * u[1];  // one row per step of every sequence
  std::int64_t beats = ceil_div(t.out_beats, t.rows);
  for (auto b : t.in_beats) beats = std::max(beats, ceil_div(b, t.rows));
  // p channels × N states per cycle: ceil(channels / p) cycles a step, at least the loop
  t.row_cycles = std::max({ceil_div(u[2], p), kScanLoopCycles, beats});
  t.first_out_cycles = 0;
  t.out_interval_cycles = std::max<std::int64_t>(1, t.row_cycles / ceil_div(t.out_beats, t.rows));
  t.macs_per_cycle = p * (4 * scan_state(n) + 2);
  t.latency_cycles = ceil_log2(scan_state(n)) + 2;  // C·h adder tree, + D·u
}

ResourceEstimate scan_resources(const Graph& g, const Node& n, const NodeHw& hw, const OpTiming&) {
  const Tensor& u = g.tensor_of(n.args[0]);
  const std::int64_t p = hw.in[0].tile.empty() ? 1 : hw.in[0].tile.back();
  const std::int64_t L = p * scan_state(n);  // state lanes
  const Precision& x = u.precision;
  ResourceEstimate r(hls_activation(HlsActivation::Exp, L, x, hw.binding), "scan exp",
                     hw.uram_per_bram36);
  r += ResourceEstimate(hls_binary(HlsBinary::Mul, 4 * L + 2 * p, x, x, hw.binding),
                        "scan int_mult", hw.uram_per_bram36);
  r += ResourceEstimate(hls_binary(HlsBinary::Add, 2 * L + p, x, x), "scan int_add",
                        hw.uram_per_bram36);
  // the state of every channel of one sequence, and the A / D constants
  double bits = static_cast<double>(u.shape[2] * scan_state(n)) * x.bits_per_element();
  for (const auto& prm : n.params) bits += tensor_bits(prm.tensor);
  r += flat_buffer(bits, hw.uram_per_bram36);
  r.extrapolate("selective_scan", "composed of int_softmax's exp, int_mult and int_add blocks");
  return r;
}

void scan_kernel(const KernelCall& c) {
  const Shape& s = c.in[0]->shape;
  const auto B = static_cast<std::size_t>(s[0]), L = static_cast<std::size_t>(s[1]),
             Dc = static_cast<std::size_t>(s[2]), N = static_cast<std::size_t>(scan_state(c.n));
  const fn::QTensor* alog = fn::param_data(c.n, c.params, "A_log", true);
  const fn::QTensor* dp = fn::param_data(c.n, c.params, "D", false);
  const auto &u = c.in[0]->v, &dt = c.in[1]->v, &Bm = c.in[2]->v, &Cm = c.in[3]->v;
  std::vector<double> h(N);
  for (std::size_t b = 0; b < B; ++b)
    for (std::size_t d = 0; d < Dc; ++d) {
      std::fill(h.begin(), h.end(), 0.0);
      for (std::size_t l = 0; l < L; ++l) {
        const std::size_t i = (b * L + l) * Dc + d, j = (b * L + l) * N;
        double y = 0;
        for (std::size_t k = 0; k < N; ++k) {
          const double A = -std::exp(alog->v[d * N + k]);
          h[k] = std::exp(dt[i] * A) * h[k] + dt[i] * u[i] * Bm[j + k];
          y += Cm[j + k] * h[k];
        }
        c.y.v[i] = y + (dp ? dp->v[d] * u[i] : 0.0);
      }
    }
}

// ---- causal_conv1d ---------------------------------------------------------------------
std::vector<Shape> causal_conv_shape(const Node& n, const std::vector<Shape>& in) {
  need_rank(in[0], 3, 3, "data_in_0 ([batch, channels, seq])");
  const Shape w = param_shape(n, "weight");
  if (w.size() != 3 || w[0] != in[0][1] || w[1] != 1)
    fail_rule("weight " + shape_to_string(w) + " must be [channels, 1, kernel] with channels " +
              std::to_string(in[0][1]) + " (depthwise)");
  check_bias(n, w[0]);
  return {in[0]};
}

std::int64_t causal_conv_kernel_size(const Node& n) {
  return n.param("weight")->tensor.shape[2];
}

void causal_conv_kernel(const KernelCall& c) {
  const Shape& s = c.in[0]->shape;
  const auto C = static_cast<std::size_t>(s[1]), L = static_cast<std::size_t>(s[2]);
  const auto K = static_cast<std::size_t>(causal_conv_kernel_size(c.n));
  const fn::QTensor* w = fn::param_data(c.n, c.params, "weight", true);
  const fn::QTensor* b = fn::param_data(c.n, c.params, "bias", false);
  for (std::size_t r = 0; r < static_cast<std::size_t>(s[0]) * C; ++r) {
    const std::size_t ch = r % C;
    const double* x = c.in[0]->v.data() + r * L;
    for (std::size_t l = 0; l < L; ++l) {
      double y = b ? b->v[ch] : 0.0;
      for (std::size_t j = 0; j < K; ++j)
        if (l + j + 1 >= K) y += w->v[ch * K + j] * x[l + j + 1 - K];
      c.y.v[r * L + l] = y;
    }
  }
}

// ---- lstm / gru -----------------------------------------------------------------------
bool batch_first(const Node& n) {
  auto it = n.attrs.find("batch_first");
  if (it == n.attrs.end()) return false;
  if (it->second.kind != AttrValue::Kind::Bool)
    fail_rule("attribute batch_first must be true or false");
  return it->second.boolean;
}

std::vector<Shape> rnn_shape(const Node& n, const std::vector<Shape>& in, std::int64_t G) {
  need_rank(in[0], 3, 3,
            batch_first(n) ? "data_in_0 ([batch, seq, input])" : "data_in_0 ([seq, batch, input])");
  const Shape wi = param_shape(n, "weight_ih"), wh = param_shape(n, "weight_hh");
  if (wh.size() != 2 || wh[0] != G * wh[1])
    fail_rule("weight_hh " + shape_to_string(wh) + " must be [" + std::to_string(G) +
              "·hidden, hidden]");
  const std::int64_t H = wh[1];
  if (wi != Shape{G * H, in[0][2]})
    fail_rule("weight_ih " + shape_to_string(wi) + " must be " +
              shape_to_string(Shape{G * H, in[0][2]}) + " (" + std::to_string(G) +
              "·hidden, input)");
  for (const char* b : {"bias_ih", "bias_hh"})
    if (n.param(b) && param_shape(n, b) != Shape{G * H})
      fail_rule(std::string(b) + " " + shape_to_string(param_shape(n, b)) + " must be [" +
                std::to_string(G * H) + "]");
  if (!n.param("bias_ih") != !n.param("bias_hh"))
    fail_rule("give both bias_ih and bias_hh, or neither");
  Shape out = in[0];
  out[2] = H;
  return {out};
}

struct RnnDims {
  std::int64_t batch, seq, I, H;
};
RnnDims rnn_dims(const Graph& g, const Node& n) {
  const Shape& x = g.tensor_of(n.args[0]).shape;
  const bool bf = batch_first(n);
  return {bf ? x[0] : x[1], bf ? x[1] : x[0], x[2], n.param("weight_hh")->tensor.shape[1]};
}

std::int64_t rnn_macs(const Graph& g, const Node& n, std::int64_t G) {
  const RnnDims d = rnn_dims(g, n);
  return checked_mul(d.batch * d.seq, G * d.H * (d.I + d.H), n.name + " MACs");
}

/// The cell's loop after the GEMV: MAC tree (log2 k_par + 3, as fixed_linear), the gate
/// activations (4), the state multiply (2) and add (1); an LSTM adds tanh(c) (4).
std::int64_t rnn_loop_cycles(std::int64_t kp, bool lstm) {
  return ceil_log2(kp) + 3 + 4 + 2 + 1 + (lstm ? 4 : 0);
}

void rnn_timing(const Graph& g, const Node& n, const NodeHw& hw, OpTiming& t, std::int64_t G) {
  const RnnDims d = rnn_dims(g, n);
  const std::int64_t kp = hw.in[0].tile.empty() ? 1 : hw.in[0].tile.back();
  const std::int64_t np = hw.out.tile.empty() ? 1 : hw.out.tile.back();
  const std::int64_t gemv = gemv_cycles(d.I + d.H, G * d.H, kp, np);
  // A step of the batch's sequences: their GEMVs back to back, and no sooner than one
  // sequence's GEMV plus the loop (the next step needs h).
  const std::int64_t step = std::max(d.batch * gemv, gemv + rnn_loop_cycles(kp, G == 4));
  t.engine = OpTiming::Engine::Rows;
  t.rows = d.batch * d.seq;
  t.row_cycles = std::max({ceil_div(d.seq * step, t.rows), ceil_div(t.in_beats[0], t.rows),
                           ceil_div(t.out_beats, t.rows)});
  t.first_out_cycles = 0;
  t.out_interval_cycles = std::max<std::int64_t>(1, t.row_cycles / ceil_div(t.out_beats, t.rows));
  t.macs_per_cycle = kp * np;
  t.latency_cycles = rnn_loop_cycles(kp, G == 4);
}

ResourceEstimate rnn_resources(const Graph& g, const Node& n, const NodeHw& hw, std::int64_t G) {
  const RnnDims d = rnn_dims(g, n);
  const Precision& x = g.tensor_of(n.args[0]).precision;
  const Precision& w = n.param("weight_ih")->tensor.precision;
  const std::int64_t kp = hw.in[0].tile.empty() ? 1 : hw.in[0].tile.back();
  const std::int64_t np = hw.out.tile.empty() ? 1 : hw.out.tile.back();
  const bool lstm = G == 4;
  ResourceEstimate r(hls_linear(gemv_params(d.I + d.H, G * d.H, kp, np, x, w, hw.binding)),
                     "cell int_linear2d", hw.uram_per_bram36);
  r += ResourceEstimate(hls_activation(HlsActivation::Sigmoid, (lstm ? 3 : 2) * np, x, hw.binding),
                        "cell sigmoid", hw.uram_per_bram36);
  r += ResourceEstimate(hls_activation(HlsActivation::Tanh, (lstm ? 2 : 1) * np, x, hw.binding),
                        "cell tanh", hw.uram_per_bram36);
  r += ResourceEstimate(hls_binary(HlsBinary::Mul, 3 * np, x, x, hw.binding), "cell int_mult",
                        hw.uram_per_bram36);
  r += ResourceEstimate(hls_binary(HlsBinary::Add, 2 * np, x, x), "cell int_add",
                        hw.uram_per_bram36);
  // weights on chip, and h (and c) of every sequence of the batch
  double bits = static_cast<double>(d.batch * d.H * (lstm ? 2 : 1)) * x.bits_per_element();
  for (const auto& prm : n.params) bits += tensor_bits(prm.tensor);
  r += flat_buffer(bits, hw.uram_per_bram36);
  r.extrapolate(n.op, "composed of int_linear2d, activation, int_mult and int_add blocks");
  return r;
}

double sigm(double v) {
  return 1.0 / (1.0 + std::exp(-v));
}

void rnn_kernel(const KernelCall& c, bool lstm) {
  const RnnDims d = rnn_dims(c.g, c.n);
  const bool bf = batch_first(c.n);
  const std::size_t G = lstm ? 4 : 3, H = static_cast<std::size_t>(d.H),
                    I = static_cast<std::size_t>(d.I);
  const fn::QTensor* wi = fn::param_data(c.n, c.params, "weight_ih", true);
  const fn::QTensor* wh = fn::param_data(c.n, c.params, "weight_hh", true);
  const fn::QTensor* bi = fn::param_data(c.n, c.params, "bias_ih", false);
  const fn::QTensor* bh = fn::param_data(c.n, c.params, "bias_hh", false);
  const auto B = static_cast<std::size_t>(d.batch), L = static_cast<std::size_t>(d.seq);
  auto at = [&](std::size_t b, std::size_t l) { return bf ? b * L + l : l * B + b; };
  std::vector<double> h(H), cs(H), gx(G * H), gh(G * H);
  for (std::size_t b = 0; b < B; ++b) {
    std::fill(h.begin(), h.end(), 0.0);
    std::fill(cs.begin(), cs.end(), 0.0);
    for (std::size_t l = 0; l < L; ++l) {
      const double* x = c.in[0]->v.data() + at(b, l) * I;
      for (std::size_t r = 0; r < G * H; ++r) {
        double a = bi ? bi->v[r] : 0.0, e = bh ? bh->v[r] : 0.0;
        for (std::size_t k = 0; k < I; ++k) a += wi->v[r * I + k] * x[k];
        for (std::size_t k = 0; k < H; ++k) e += wh->v[r * H + k] * h[k];
        gx[r] = a;
        gh[r] = e;
      }
      for (std::size_t j = 0; j < H; ++j) {
        if (lstm) {  // gates i, f, g, o
          const double ig = sigm(gx[j] + gh[j]), fg = sigm(gx[H + j] + gh[H + j]);
          const double gg = std::tanh(gx[2 * H + j] + gh[2 * H + j]),
                       og = sigm(gx[3 * H + j] + gh[3 * H + j]);
          cs[j] = fg * cs[j] + ig * gg;
          h[j] = og * std::tanh(cs[j]);
        } else {  // gates r, z, n
          const double rg = sigm(gx[j] + gh[j]), zg = sigm(gx[H + j] + gh[H + j]);
          const double ng = std::tanh(gx[2 * H + j] + rg * gh[2 * H + j]);
          h[j] = (1.0 - zg) * ng + zg * h[j];
        }
      }
      for (std::size_t j = 0; j < H; ++j) c.y.v[at(b, l) * H + j] = h[j];
    }
  }
}

OpDescriptor rnn_op(const char* name, const char* summary, std::int64_t G) {
  OpDescriptor d;
  d.name = name;
  d.summary = summary;
  d.cls = OpClass::RowReduce;
  d.params_allowed = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
  d.params_required = {"weight_ih", "weight_hh"};
  d.attrs_allowed = {"batch_first"};
  d.infer = [G](const Node& n, const std::vector<Shape>& in) { return rnn_shape(n, in, G); };
  d.macs = [G](const Graph& g, const Node& n) { return rnn_macs(g, n, G); };
  d.timing = [G](const Graph& g, const Node& n, const NodeHw& hw, OpTiming& t) {
    rnn_timing(g, n, hw, t, G);
  };
  d.resources = [G](const Graph& g, const Node& n, const NodeHw& hw, const OpTiming&) {
    return rnn_resources(g, n, hw, G);
  };
  d.kernel = [G](const KernelCall& c) { rnn_kernel(c, G == 4); };
  return d;
}

}  // namespace

void register_recurrent_ops(std::vector<OpDescriptor>& v) {
  OpDescriptor s;
  s.name = "selective_scan";
  s.summary = "Mamba SSM scan: h = exp(Δ·A)·h + Δ·u·B, y = C·h + D·u (sequential over seq)";
  s.cls = OpClass::RowReduce;
  s.min_inputs = s.max_inputs = 4;
  s.params_allowed = {"A_log", "D"};
  s.params_required = {"A_log"};
  s.infer = scan_shape;
  s.macs = scan_macs;
  s.timing = scan_timing;
  s.resources = scan_resources;
  s.kernel = scan_kernel;
  v.push_back(s);
  OpDescriptor cc;
  cc.name = "causal_conv1d";
  cc.summary = "depthwise causal conv over the last dim (Mamba): same length, K−1 history";
  cc.cls = OpClass::Elementwise;  // one output beat per input beat
  cc.params_allowed = {"weight", "bias"};
  cc.params_required = {"weight"};
  cc.infer = causal_conv_shape;
  cc.macs = [](const Graph& g, const Node& n) {
    return checked_mul(g.tensor_of(n.args[0]).numel(), causal_conv_kernel_size(n),
                       n.name + " MACs");
  };
  cc.timing = [](const Graph& g, const Node& n, const NodeHw& hw, OpTiming& t) {
    // K products summed by an adder tree (fixed_linear's log2 + 3 for K lanes)
    streaming_timing(g, n, hw, t, ceil_log2(causal_conv_kernel_size(n)) + 3, false);
    t.macs_per_cycle = hw.out.elems_per_beat * causal_conv_kernel_size(n);
  };
  cc.resources = [](const Graph& g, const Node& n, const NodeHw& hw, const OpTiming&) {
    const Tensor& x = g.tensor_of(n.args[0]);
    const std::int64_t K = causal_conv_kernel_size(n), L = hw.out.elems_per_beat;
    ResourceEstimate r(hls_binary(HlsBinary::Mul, K * L, x.precision,
                                  n.param("weight")->tensor.precision, hw.binding),
                       "causal_conv1d int_mult", hw.uram_per_bram36);
    r += ResourceEstimate(hls_binary(HlsBinary::Add, K * L, x.precision, x.precision),
                          "causal_conv1d int_add", hw.uram_per_bram36);
    // the K − 1 previous inputs of every channel, and the weights and bias
    double bits = static_cast<double>((K - 1) * x.shape[1]) * x.precision.bits_per_element();
    for (const auto& prm : n.params) bits += tensor_bits(prm.tensor);
    r += flat_buffer(bits, hw.uram_per_bram36);
    r.extrapolate("causal_conv1d", "composed of int_mult and int_add blocks");
    return r;
  };
  cc.kernel = causal_conv_kernel;
  cc.alu_ops_per_elem = 2;  // per tap: a multiply and an add
  v.push_back(cc);
  v.push_back(
      rnn_op("lstm", "nn.LSTM layer: per step a GEMV of 4H × (I + H) and the cell update", 4));
  v.push_back(
      rnn_op("gru", "nn.GRU layer: per step a GEMV of 3H × (I + H) and the cell update", 3));
}

}  // namespace masesim::ops
