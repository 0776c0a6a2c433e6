// The op registry (models/ops): completeness, lookup errors, the listing, and the
// kernels and rules the registry added (slice/cat kernels, a constant operand `other`).
#include <gtest/gtest.h>

#include <stdexcept>

#include "models/functional/kernels.hpp"
#include "models/hls_blocks.hpp"
#include "models/ops/moe.hpp"
#include "models/ops/registry.hpp"
#include "workloads/error.hpp"
#include "workloads/graph.hpp"

using namespace masesim;

namespace {

const char* kPrec = "{type: fixed, width: 16, frac_width: 8}";

/// One node `y` of `op` on input x of `in_shape` with `extra` YAML lines, result shape
/// `out_shape`.
Graph one_node(const std::string& op, const std::string& in_shape, const std::string& out_shape,
               const std::string& extra = "") {
  const std::string t = std::string("format: mase-graph\nversion: 1\ninputs: [{name: x, shape: ") +
                        in_shape + ", precision: " + kPrec +
                        "}]\nnodes:\n  - name: y\n    op: " + op + "\n    args: {data_in_0: x}\n" +
                        extra + "    results: {data_out_0: {shape: " + out_shape +
                        ", precision: " + kPrec + "}}\noutputs: [y]\n";
  return load_graph_text(t, "t.yaml");
}

fn::QTensor run(const Graph& g, const fn::QTensor& x,
                const std::map<std::string, fn::QTensor>& params = {}) {
  return fn::eval_node(g, g.nodes[0], {&x}, params, fn::Rounding::HalfEven);
}

}  // namespace

TEST(Ops, EveryOpHasEveryPart) {
  ASSERT_GE(ops::all().size(), 28u);
  for (const auto& d : ops::all()) {
    EXPECT_TRUE(d.infer && d.macs && d.timing && d.resources && d.kernel) << d.name;
    EXPECT_FALSE(d.summary.empty()) << d.name;
    EXPECT_EQ(find_op_schema(d.name), &d) << d.name;
  }
}

TEST(Ops, AHalfAddedOpIsAnErrorNamingThePart) {
  std::vector<ops::OpDescriptor> v = {*ops::find("relu")};
  v[0].name = "exp2";
  v[0].resources = nullptr;
  try {
    ops::validate_descriptors(v);
    FAIL() << "no error";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("op 'exp2' has no resource model"), std::string::npos)
        << e.what();
  }
  v[0] = *ops::find("relu");
  v.push_back(v[0]);
  EXPECT_THROW(ops::validate_descriptors(v), std::logic_error);  // registered twice
}

TEST(Ops, UnknownOpNamesTheNearest) {
  Node n;
  n.name = "act";
  n.op = "rellu";
  try {
    ops::of(n);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), "node 'act': unknown op 'rellu' (did you mean 'relu'?)");
  }
}

TEST(Ops, ListingComesFromTheRegistry) {
  const std::string text = ops::list_text();
  const std::string json = ops::list_json();
  for (const auto& d : ops::all()) {
    const bool listed =
        text.rfind(d.name + "  (", 0) == 0 || text.find("\n" + d.name + "  (") != std::string::npos;
    EXPECT_TRUE(listed) << d.name;
    EXPECT_NE(json.find("\"name\": \"" + d.name + "\""), std::string::npos) << d.name;
  }
  EXPECT_NE(text.find("kv_cache  (kv_cache)"), std::string::npos);
  EXPECT_NE(text.find("no functional model"), std::string::npos);  // kv_cache says so
}

TEST(Ops, SliceKernelTakesTheRange) {
  const Graph g = one_node("slice", "[2, 4]", "[2, 2]", "    attrs: {dim: 1, start: 1, end: 3}\n");
  fn::QTensor x{{2, 4}, {0, 1, 2, 3, 4, 5, 6, 7}};
  EXPECT_EQ(run(g, x).v, (std::vector<double>{1, 2, 5, 6}));
}

TEST(Ops, CatKernelConcatenatesAlongDim) {
  const std::string t = std::string(
                            "format: mase-graph\nversion: 1\ninputs: [{name: a, shape: [2, 1], "
                            "precision: ") +
                        kPrec + "}, {name: b, shape: [2, 2], precision: " + kPrec +
                        "}]\nnodes:\n  - name: y\n    op: cat\n    args: {data_in_0: a, "
                        "data_in_1: b}\n    attrs: {dim: 1}\n    results: {data_out_0: {shape: [2, "
                        "3], precision: " +
                        kPrec + "}}\noutputs: [y]\n";
  const Graph g = load_graph_text(t, "cat.yaml");
  fn::QTensor a{{2, 1}, {1, 2}}, b{{2, 2}, {10, 11, 20, 21}};
  const auto y = fn::eval_node(g, g.nodes[0], {&a, &b}, {}, fn::Rounding::HalfEven);
  EXPECT_EQ(y.v, (std::vector<double>{1, 10, 11, 2, 20, 21}));
}

TEST(Ops, ConstantOperandBroadcasts) {
  // y = x + other with other a [4] position row broadcast over 2 rows.
  const Graph g =
      one_node("add", "[2, 4]", "[2, 4]",
               std::string("    params: {other: {shape: [4], precision: ") + kPrec + "}}\n");
  fn::QTensor x{{2, 4}, {0, 1, 2, 3, 4, 5, 6, 7}};
  fn::QTensor other{{4}, {0.5, 1, 1.5, 2}};
  EXPECT_EQ(run(g, x, {{"other", other}}).v, (std::vector<double>{0.5, 2, 3.5, 5, 4.5, 6, 7.5, 9}));
  EXPECT_THROW(
      one_node("add", "[2, 4]", "[2, 4]",
               std::string("    params: {other: {shape: [3], precision: ") + kPrec + "}}\n"),
      InputError);  // cannot broadcast [2, 4] with [3]
}

// exp, added after the registry: one descriptor in models/ops/elementwise.cpp.
TEST(Ops, ExpIsAStreamingActivation) {
  const Graph g = one_node("exp", "[1, 4]", "[1, 4]");
  fn::QTensor x{{1, 4}, {0, 1, -1, 0.5}};
  // Q8.8 with round-half-even: e^1 = 2.71828 -> 696/256, e^-1 = 0.36788 -> 94/256,
  // e^0.5 = 1.64872 -> 422/256.
  EXPECT_EQ(run(g, x).v, (std::vector<double>{1.0, 696 / 256.0, 94 / 256.0, 422 / 256.0}));
  NodeHw hw;
  hw.in.push_back(tile_port({1, 4}, {2}));
  hw.out = tile_port({1, 4}, {2});
  const OpTiming t = op_timing(g, g.nodes[0], hw);
  EXPECT_EQ(t.engine, OpTiming::Engine::Streaming);
  EXPECT_EQ(t.latency_cycles, 4);
  EXPECT_EQ(t.out_beats, 2);
  EXPECT_EQ(t.macs, 0);
  const Resources r = estimate_resources(g, g.nodes[0], hw, t);
  const Precision q = g.inputs[0].tensor.precision;
  const Resources act = hls_activation(HlsActivation::Exp, 2, q).res;  // int_softmax's exp
  EXPECT_DOUBLE_EQ(r[Res::lut], act[Res::lut]);
  EXPECT_DOUBLE_EQ(r[Res::dsp], act[Res::dsp]);
  EXPECT_EQ(ops::find("exp")->tp, ops::TpShard::Pointwise);
}

// ---- ops the importers emit (docs/graph-format.md); Q8.8 values, round half even ----
namespace {
std::vector<double> eval1(const std::string& op, const std::string& extra,
                          const std::vector<double>& x) {
  const std::string s = "[1, " + std::to_string(x.size()) + "]";
  const Graph g = one_node(op, s, s, extra);
  return run(g, fn::QTensor{{1, static_cast<std::int64_t>(x.size())}, x}).v;
}
OpTiming timing_of(const Graph& g, std::int64_t lanes) {
  NodeHw hw;
  hw.in.push_back(tile_port(g.inputs[0].tensor.shape, {lanes}));
  hw.out = tile_port(g.nodes[0].results[0].shape, {lanes});
  return op_timing(g, g.nodes[0], hw);
}
}  // namespace

TEST(Ops, UnaryKernels) {
  EXPECT_EQ(eval1("hardtanh", "    attrs: {min_val: -1, max_val: 1}\n", {-2, 0.5, 3}),
            (std::vector<double>{-1, 0.5, 1}));
  EXPECT_EQ(eval1("hardswish", "", {-3, 0, 1.5, 3}), (std::vector<double>{0, 0, 1.125, 3}));
  // log 2 = 0.693147 -> 177/256; beta 2, threshold 1: 2·1 > 1 -> identity.
  EXPECT_EQ(eval1("softplus", "", {0}), (std::vector<double>{177 / 256.0}));
  EXPECT_EQ(eval1("softplus", "    attrs: {beta: 2, threshold: 1}\n", {1}),
            (std::vector<double>{1}));
  EXPECT_EQ(eval1("erf", "", {0, 1}), (std::vector<double>{0, 216 / 256.0}));  // 0.8427
  EXPECT_EQ(eval1("sqrt", "", {4, 2.25}), (std::vector<double>{2, 1.5}));
  EXPECT_EQ(eval1("rsqrt", "", {4, 0.25}), (std::vector<double>{0.5, 2}));
  EXPECT_EQ(eval1("pow", "    attrs: {scalar: 2}\n", {1.5, -2}), (std::vector<double>{2.25, 4}));
  EXPECT_THROW(eval1("pow", "", {1}), InputError);  // no exponent
  EXPECT_THROW(eval1("hardtanh", "    attrs: {min_val: 2, max_val: 1}\n", {1}), InputError);
}

TEST(Ops, PowOfTwoIsAMultiplier) {
  const Graph sq = one_node("pow", "[1, 8]", "[1, 8]", "    attrs: {scalar: 2}\n");
  const Graph cube = one_node("pow", "[1, 8]", "[1, 8]", "    attrs: {scalar: 3}\n");
  EXPECT_EQ(timing_of(sq, 4).latency_cycles, 2);    // as mul
  EXPECT_EQ(timing_of(cube, 4).latency_cycles, 4);  // exp/log as an activation
}

TEST(Ops, MeanOverTrailingDims) {
  const Graph g = one_node("mean", "[2, 4]", "[2]", "    attrs: {dim: [-1]}\n");
  EXPECT_EQ(run(g, fn::QTensor{{2, 4}, {0, 1, 2, 3, 4, 5, 6, 7}}).v,
            (std::vector<double>{1.5, 5.5}));
  const Graph k = one_node("mean", "[2, 4]", "[2, 1]", "    attrs: {dim: [1], keepdim: true}\n");
  EXPECT_EQ(k.nodes[0].results[0].shape, (Shape{2, 1}));
  // A row of 4 elements at 2 lanes: 2 rows of ceil(4/2) = 2 cycles each.
  const OpTiming t = timing_of(g, 2);
  EXPECT_EQ(t.engine, OpTiming::Engine::Rows);
  EXPECT_EQ(t.rows, 2);
  EXPECT_EQ(t.row_cycles, 2);
  EXPECT_THROW(one_node("mean", "[2, 4]", "[4]", "    attrs: {dim: [0]}\n"), InputError);
}

TEST(Ops, RmsNormScalesByTheRootMeanSquare) {
  const Graph g =
      one_node("rms_norm", "[1, 4]", "[1, 4]",
               std::string("    params: {weight: {shape: [4], precision: ") + kPrec + "}}\n");
  fn::QTensor w{{4}, {0.5, 1, 2, 1}};
  EXPECT_EQ(run(g, fn::QTensor{{1, 4}, {1, 1, 1, 1}}, {{"weight", w}}).v,
            (std::vector<double>{0.5, 1, 2, 1}));
  // [3, 4]: rms = sqrt(12.5) -> 3/3.5355 = 0.8485 -> 217/256, 4/3.5355 = 1.1314 -> 290/256.
  const Graph u = one_node("rms_norm", "[1, 2]", "[1, 2]");
  EXPECT_EQ(run(u, fn::QTensor{{1, 2}, {3, 4}}).v, (std::vector<double>{217 / 256.0, 290 / 256.0}));
}

TEST(Ops, AdaptiveAvgPoolWindows) {
  // 3 -> 2: windows [0, 2) and [1, 3) in both dims.
  const Graph g = one_node("adaptive_avg_pool2d", "[1, 1, 3, 3]", "[1, 1, 2, 2]",
                           "    attrs: {output_size: [2, 2]}\n");
  fn::QTensor x{{1, 1, 3, 3}, {0, 1, 2, 3, 4, 5, 6, 7, 8}};
  EXPECT_EQ(run(g, x).v, (std::vector<double>{2, 3, 5, 6}));
  // Line buffer of the largest window (2 rows) less one: one input row of 3 beats.
  NodeHw hw;
  hw.in.push_back(tile_port({1, 1, 3, 3}, {1}));
  hw.out = tile_port({1, 1, 2, 2}, {1});
  const OpTiming t = op_timing(g, g.nodes[0], hw);
  EXPECT_EQ(t.rows, 2);
  EXPECT_EQ(t.preload_beats[0], 3);
  EXPECT_THROW(one_node("adaptive_avg_pool2d", "[1, 1, 3, 3]", "[1, 1, 4, 4]",
                        "    attrs: {output_size: 4}\n"),
               InputError);
}

TEST(Ops, Conv1dSlidesAlongTheLength) {
  const Graph g =
      one_node("conv1d", "[1, 1, 4]", "[1, 1, 3]",
               std::string("    params: {weight: {shape: [1, 1, 2], precision: ") + kPrec + "}}\n");
  fn::QTensor w{{1, 1, 2}, {1, 1}};
  EXPECT_EQ(run(g, fn::QTensor{{1, 1, 4}, {1, 2, 3, 4}}, {{"weight", w}}).v,
            (std::vector<double>{3, 5, 7}));
  EXPECT_EQ(node_macs(g, g.nodes[0]), 3 * 2);
  EXPECT_TRUE(ops::find("conv1d")->weights_can_stream);
}

TEST(Ops, CatPrependsABroadcastConstant) {
  // A class token [1, 1, 2] before x [2, 2, 2] along dim 1, broadcast over the batch.
  const Graph g = one_node(
      "cat", "[2, 2, 2]", "[2, 3, 2]",
      std::string("    attrs: {dim: 1}\n    params: {other: {shape: [1, 1, 2], precision: ") +
          kPrec + "}}\n");
  fn::QTensor cls{{1, 1, 2}, {9, 8}};
  EXPECT_EQ(run(g, fn::QTensor{{2, 2, 2}, {0, 1, 2, 3, 4, 5, 6, 7}}, {{"other", cls}}).v,
            (std::vector<double>{9, 8, 0, 1, 2, 3, 9, 8, 4, 5, 6, 7}));
}

TEST(Ops, BatchNormRunningStatisticsAreNotParameters) {
  std::string p;
  for (const char* n : {"weight", "bias", "running_mean", "running_var"})
    p += std::string(p.empty() ? "" : ", ") + n + ": {shape: [3], precision: " + kPrec + "}";
  const Graph g =
      one_node("batch_norm", "[1, 3, 2, 2]", "[1, 3, 2, 2]", "    params: {" + p + "}\n");
  const WorkloadSummary s = summarize(g);
  EXPECT_EQ(s.parameters, 6);            // weight and bias
  EXPECT_EQ(s.weight_bytes, 4 * 3 * 2);  // all four are stored (16-bit)
}

// ---- rope, topk_gate / moe_experts, selective_scan, lstm / gru (new op families) ----
namespace {
/// A graph of one node `y` of `op` with inputs (name, shape) in order.
Graph multi_input(const std::string& op, const std::vector<std::pair<std::string, std::string>>& in,
                  const std::string& out_shape, const std::string& extra = "") {
  std::string t = "format: mase-graph\nversion: 1\ninputs: [";
  std::string args;
  for (std::size_t i = 0; i < in.size(); ++i) {
    t += std::string(i ? ", " : "") + "{name: " + in[i].first + ", shape: " + in[i].second +
         ", precision: " + kPrec + "}";
    args += std::string(i ? ", " : "") + "data_in_" + std::to_string(i) + ": " + in[i].first;
  }
  t += "]\nnodes:\n  - name: y\n    op: " + op + "\n    args: {" + args + "}\n" + extra +
       "    results: {data_out_0: {shape: " + out_shape + ", precision: " + kPrec +
       "}}\noutputs: [y]\n";
  return load_graph_text(t, "t.yaml");
}
}  // namespace

TEST(Ops, RopeRotatesHalvesByTheTables) {
  // x [2, 4] (two heads of one position), cos/sin [1, 4] broadcast over the heads.
  const Graph g =
      multi_input("rope", {{"x", "[2, 4]"}, {"c", "[1, 4]"}, {"s", "[1, 4]"}}, "[2, 4]");
  const fn::QTensor x{{2, 4}, {1, 2, 3, 4, 3 / 256.0, 0, 0, 0}};
  const fn::QTensor c{{1, 4}, std::vector<double>(4, 208 / 256.0)};
  const fn::QTensor s{{1, 4}, std::vector<double>(4, 150 / 256.0)};
  const auto y = fn::eval_node(g, g.nodes[0], {&x, &c, &s}, {}, fn::Rounding::HalfEven);
  // rotate_half([1, 2, 3, 4]) = [-3, -4, 1, 2]; y·256 = 208·x + 150·rot:
  //   208 − 450 = −242, 416 − 600 = −184, 624 + 150 = 774, 832 + 300 = 1132 (exact).
  // Row 2: rotate_half([3/256, 0, 0, 0]) = [0, 0, 3/256, 0]; 3·208/256 = 2.4375 → 2 LSB,
  //   3·150/256 = 1.7578 → 2 LSB.
  EXPECT_EQ(y.v, (std::vector<double>{-242 / 256.0, -184 / 256.0, 774 / 256.0, 1132 / 256.0,
                                      2 / 256.0, 0, 2 / 256.0, 0}));
  EXPECT_THROW(multi_input("rope", {{"x", "[2, 3]"}, {"c", "[3]"}, {"s", "[3]"}}, "[2, 3]"),
               InputError);  // odd head dim
  EXPECT_THROW(multi_input("rope", {{"x", "[2, 4]"}, {"c", "[2, 1]"}, {"s", "[2, 1]"}}, "[2, 4]"),
               InputError);  // not the trailing dims
}

TEST(Ops, RopeTimingAndResourcesFromIntRope) {
  // x [2, 8, 8] (2 heads, 8 positions, head dim 8), tables [8, 8] read whole first.
  const Graph g =
      multi_input("rope", {{"x", "[2, 8, 8]"}, {"c", "[8, 8]"}, {"s", "[8, 8]"}}, "[2, 8, 8]");
  NodeHw hw;
  hw.in.push_back(tile_port({2, 8, 8}, {2}));
  hw.in.push_back(tile_port({8, 8}, {2}));
  hw.in.push_back(tile_port({8, 8}, {2}));
  hw.out = tile_port({2, 8, 8}, {2});
  const OpTiming t = op_timing(g, g.nodes[0], hw);
  EXPECT_EQ(t.engine, OpTiming::Engine::Rows);
  EXPECT_EQ(t.rows, 16);                  // 2 × 8 rows of head dim 8
  EXPECT_EQ(t.row_cycles, 4);             // 8 / 2 lanes
  EXPECT_EQ(t.latency_cycles, 102 - 72);  // int_rope at ≥ 4 bits (16-bit Q8.8)
  EXPECT_EQ(t.preload_beats, (std::vector<std::int64_t>{0, 32, 32}));
  EXPECT_EQ(t.macs, 0);
  // int_rope with tile 2 × 1 (row_depth 4) plus the two 64-element 16-bit tables.
  const Precision q = g.inputs[0].tensor.precision;
  HlsRowTile rt;
  rt.row_lanes = 2;
  rt.rows = 1;
  rt.row_depth = 4;
  rt.col_depth = 16;
  const double uram = hw.uram_per_bram36;
  ResourceEstimate want(hls_rope(rt, q, hw.binding), "int_rope", uram);
  want += flat_buffer(64 * 16, uram);
  want += flat_buffer(64 * 16, uram);
  const ResourceEstimate r = estimate_node(g, g.nodes[0], hw, t);
  EXPECT_DOUBLE_EQ(r.res[Res::lut], want.res[Res::lut]);
  EXPECT_DOUBLE_EQ(r.res[Res::dsp], want.res[Res::dsp]);
  EXPECT_DOUBLE_EQ(r.res[Res::bram36] + r.res[Res::uram],
                   want.res[Res::bram36] + want.res[Res::uram]);
  EXPECT_TRUE(r.extrapolated);  // 16-bit operands: int_rope data has widths 1..8
}

TEST(Ops, TopkGateKeepsTheTopLogits) {
  const Graph g = one_node("topk_gate", "[1, 4]", "[1, 4]", "    attrs: {top_k: 2}\n");
  // logits 1, 3, 2, 0: top-2 are 3 and 2; softmax over them: 1/(1 + e^-1) = 0.73106 -> 187,
  // e^-1/(1 + e^-1) = 0.26894 -> 69 (Q8.8).
  EXPECT_EQ(run(g, fn::QTensor{{1, 4}, {1, 3, 2, 0}}).v,
            (std::vector<double>{0, 187 / 256.0, 69 / 256.0, 0}));
  EXPECT_THROW(one_node("topk_gate", "[1, 4]", "[1, 4]", "    attrs: {top_k: 5}\n"), InputError);
  EXPECT_THROW(one_node("topk_gate", "[1, 4]", "[1, 4]"), InputError);  // top_k required
}

namespace {
std::string moe_params(std::int64_t E, std::int64_t D, std::int64_t F, bool w3) {
  auto p = [](const std::string& n, const std::string& s) {
    return n + ": {shape: " + s + ", precision: " + kPrec + "}";
  };
  const std::string ef =
      "[" + std::to_string(E) + ", " + std::to_string(F) + ", " + std::to_string(D) + "]";
  const std::string ed =
      "[" + std::to_string(E) + ", " + std::to_string(D) + ", " + std::to_string(F) + "]";
  return "    params: {" + p("w1", ef) + ", " + p("w2", ed) + (w3 ? ", " + p("w3", ef) : "") +
         "}\n";
}
}  // namespace

TEST(Ops, MoeExpertsSumTheRoutedExperts) {
  // 2 tokens, hidden 2, ffn 1, 2 experts, top-1, relu experts.
  const std::string attrs = "    attrs: {top_k: 1, activation: relu}\n";
  const Graph g = multi_input("moe_experts", {{"x", "[2, 2]"}, {"g", "[2, 2]"}}, "[2, 2]",
                              attrs + moe_params(2, 2, 1, false));
  const fn::QTensor x{{2, 2}, {1, 2, 3, -1}}, gates{{2, 2}, {1, 0, 0, 0.5}};
  std::map<std::string, fn::QTensor> p{{"w1", {{2, 1, 2}, {1, 1, 1, -1}}},
                                       {"w2", {{2, 2, 1}, {2, 1, 1, 3}}}};
  // token 0 -> expert 0: h = relu(1 + 2) = 3, y = 1·[2·3, 1·3] = [6, 3];
  // token 1 -> expert 1: h = relu(3 + 1) = 4, y = 0.5·[1·4, 3·4] = [2, 6].
  auto y = fn::eval_node(g, g.nodes[0], {&x, &gates}, p, fn::Rounding::HalfEven);
  EXPECT_EQ(y.v, (std::vector<double>{6, 3, 2, 6}));
  EXPECT_EQ(node_macs(g, g.nodes[0]), 2 * 1 * 2 * (2 * 1));  // tokens · top_k · 2 GEMVs · D·F
  // SwiGLU-style (w3): h = act(w1·x) · (w3·x); w3 picks x0 for expert 0, x1 for expert 1:
  // token 0: 3 · 1 = 3 -> [6, 3]; token 1: 4 · (−1) = −4 -> 0.5·[−4, −12] = [−2, −6].
  const Graph s = multi_input("moe_experts", {{"x", "[2, 2]"}, {"g", "[2, 2]"}}, "[2, 2]",
                              attrs + moe_params(2, 2, 1, true));
  p["w3"] = {{2, 1, 2}, {1, 0, 0, 1}};
  y = fn::eval_node(s, s.nodes[0], {&x, &gates}, p, fn::Rounding::HalfEven);
  EXPECT_EQ(y.v, (std::vector<double>{6, 3, -2, -6}));
  EXPECT_EQ(node_macs(s, s.nodes[0]), 2 * 1 * 3 * 2);
}

TEST(Ops, MoeRoutingCounts) {
  Node n;
  n.name = "moe";
  // balanced: 5 tokens × top-2 = 10 slots over 4 experts -> 3, 3, 2, 2
  EXPECT_EQ(ops::moe_expert_tokens(n, 4, 2, 5), (std::vector<std::int64_t>{3, 3, 2, 2}));
  const Graph g = multi_input("moe_experts", {{"x", "[8, 4]"}, {"g", "[8, 4]"}}, "[8, 4]",
                              "    attrs: {top_k: 2, routing: load, expert_load: [3, 1, 1, 1]}\n" +
                                  moe_params(4, 4, 8, true));
  // 16 slots by weights 3:1:1:1: 8, 2.67, 2.67, 2.67 -> 8, 2, 2, 2 and the two spare
  // slots to the largest remainders (ties to the lower expert): 8, 3, 3, 2.
  EXPECT_EQ(ops::moe_expert_tokens(g.nodes[0], 4, 2, 8), (std::vector<std::int64_t>{8, 3, 3, 2}));
  // seeded: deterministic, 16 slots, no expert above the 8 tokens
  Node s;
  s.attrs["routing"].kind = AttrValue::Kind::String;
  s.attrs["routing"].str = "seeded";
  const auto a = ops::moe_expert_tokens(s, 4, 2, 8);
  EXPECT_EQ(a, ops::moe_expert_tokens(s, 4, 2, 8));
  std::int64_t sum = 0;
  for (auto c : a) {
    EXPECT_LE(c, 8);
    sum += c;
  }
  EXPECT_EQ(sum, 16);
  // busiest datapath: experts 0+2 = 5 and 1+3 = 5 slots on two datapaths
  EXPECT_EQ(ops::moe_busy_cycles({3, 3, 2, 2}, 2, 10), 50);
  EXPECT_EQ(ops::moe_busy_cycles({3, 3, 2, 2}, 4, 10), 30);
  EXPECT_EQ(ops::moe_busy_cycles({3, 3, 2, 2}, 1, 10), 100);
  // an expert given more slots than there are tokens
  EXPECT_THROW(
      multi_input("moe_experts", {{"x", "[2, 4]"}, {"g", "[2, 2]"}}, "[2, 4]",
                  "    attrs: {top_k: 2, expert_load: [1, 0]}\n" + moe_params(2, 4, 8, true)),
      InputError);
}

namespace {
/// 8 tokens, hidden 4, ffn 8, 4 SwiGLU experts, top-2, 2 lanes in and out; `attrs` adds
/// to the node's attributes.
OpTiming moe_8x4_timing(const std::string& attrs, bool weights_off_chip = false) {
  const Graph g = multi_input("moe_experts", {{"x", "[8, 4]"}, {"g", "[8, 4]"}}, "[8, 4]",
                              "    attrs: {top_k: 2" + attrs + "}\n" + moe_params(4, 4, 8, true));
  NodeHw hw;
  hw.in.push_back(tile_port({8, 4}, {2}));
  hw.in.push_back(tile_port({8, 4}, {2}));
  hw.out = tile_port({8, 4}, {2});
  hw.weights_off_chip = weights_off_chip;
  return op_timing(g, g.nodes[0], hw);
}
}  // namespace

TEST(Ops, MoeTimingFollowsTheBusiestExpert) {
  // One token slot: w1 and w3 ceil(4/2)·ceil(8/2) = 8 cycles each, w2 ceil(8/2)·ceil(4/2)
  // = 8: 24 cycles.
  auto timing = [](const std::string& attrs) { return moe_8x4_timing(attrs); };
  // one datapath: all 16 slots, 384 cycles over 8 rows
  EXPECT_EQ(timing("").row_cycles, 16 * 24 / 8);
  EXPECT_EQ(timing("").macs, 8 * 2 * 3 * 4 * 8);
  // four datapaths, balanced (4 slots each): 96 cycles; skewed 8, 3, 3, 2: 192
  EXPECT_EQ(timing(", expert_parallel: 4").row_cycles, 4 * 24 / 8);
  EXPECT_EQ(timing(", expert_parallel: 4, expert_load: [3, 1, 1, 1]").row_cycles, 8 * 24 / 8);
  EXPECT_EQ(timing(", expert_parallel: 4").macs_per_cycle, 2 * 2 * 4);
}

// Off-chip experts (hw weights off chip): the same 8 tokens × top-2, 2 lanes in and out,
// experts stream tile by tile. expert_load 1:1:0:0 gives experts 0 and 1 eight slots each
// and experts 2 and 3 none, which are not fetched. Per routed expert: w1 with w3 in
// ceil(8/2) = 4 tiles of 2 FFN rows × 4 (16-bit weights: 2 · 8 · 2 = 32 bytes), each
// applied to the 8 slots in 2·ceil(4/2) = 4 cycles a slot (32); then w2 in ceil(4/2) = 2
// tiles of 2 hidden rows × 8 (32 bytes), 8 slots × ceil(8/2) = 32 cycles. 12 tiles, 384
// of the 768 weight bytes; 2 × (4 + 2) × 32 = 384 compute cycles, the 16 slots × 24 of
// the on-chip model.
TEST(Ops, MoeOffChipWeightsStreamOnlyTheRoutedExperts) {
  auto timing = [](const std::string& attrs) { return moe_8x4_timing(attrs, true); };
  const OpTiming t = timing(", expert_load: [1, 1, 0, 0]");
  ASSERT_EQ(t.weight_schedule.size(), 12u);
  for (std::size_t i = 0; i < 12; ++i) {
    EXPECT_EQ(t.weight_schedule[i].bytes, 32) << i;
    EXPECT_EQ(t.weight_schedule[i].cycles, 32) << i;
    EXPECT_EQ(t.weight_schedule[i].datapath, 0) << i;
  }
  EXPECT_EQ(t.weight_tiles, 12);
  EXPECT_EQ(t.weight_tile_bytes, 32);
  EXPECT_EQ(t.block_rows, 8);  // one pass per inference
  EXPECT_EQ(t.weight_bytes_per_inference, 384);
  EXPECT_EQ(t.schedule_busy_cycles(), 384);
  EXPECT_EQ(t.schedule_busy_cycles(), t.ideal_cycles());
  // Balanced over two datapaths (4 slots per expert): a round fetches tile j of expert 0
  // (datapath 0), then of expert 1 (datapath 1); 4 routed experts, 24 tiles of 32 bytes,
  // each expert 4 × 16 + 2 × 16 = 96 cycles, two per datapath: 192 busy cycles.
  const OpTiming b = timing(", expert_parallel: 2");
  ASSERT_EQ(b.weight_schedule.size(), 24u);
  EXPECT_EQ(b.weight_schedule[0].datapath, 0);
  EXPECT_EQ(b.weight_schedule[1].datapath, 1);
  EXPECT_EQ(b.weight_schedule[0].cycles, 16);
  EXPECT_EQ(b.weight_schedule[8].cycles, 16);  // w2 tiles: 4 slots × ceil(8/2)
  EXPECT_EQ(b.weight_bytes_per_inference, 768);
  EXPECT_EQ(b.schedule_busy_cycles(), 192);
}

TEST(Ops, SelectiveScanRecurrence) {
  // 1 sequence of 2 steps, 1 channel, state 1; A_log 0 (A = −1), D = 0.5.
  const std::string prm = std::string("    params: {A_log: {shape: [1, 1], precision: ") + kPrec +
                          "}, D: {shape: [1], precision: " + kPrec + "}}\n";
  const Graph g =
      multi_input("selective_scan",
                  {{"u", "[1, 2, 1]"}, {"dt", "[1, 2, 1]"}, {"b", "[1, 2, 1]"}, {"c", "[1, 2, 1]"}},
                  "[1, 2, 1]", prm);
  const fn::QTensor u{{1, 2, 1}, {1, 2}}, dt{{1, 2, 1}, {1, 1}}, b{{1, 2, 1}, {1, 0.5}},
      c{{1, 2, 1}, {1, 2}};
  // step 1: h = e^−1·0 + 1·1·1 = 1, y = 1·1 + 0.5·1 = 1.5;
  // step 2: h = e^−1·1 + 1·2·0.5 = 1.36788, y = 2·1.36788 + 0.5·2 = 3.73576 -> 956/256.
  const auto y =
      fn::eval_node(g, g.nodes[0], {&u, &dt, &b, &c},
                    {{"A_log", {{1, 1}, {0}}}, {"D", {{1}, {0.5}}}}, fn::Rounding::HalfEven);
  EXPECT_EQ(y.v, (std::vector<double>{1.5, 956 / 256.0}));
  EXPECT_EQ(node_macs(g, g.nodes[0]), 2 * (4 * 1 + 2));
  // 8 channels, state 4, 2 steps: ceil(8/2) = 4 cycles a step at 2 lanes, but the state
  // loop takes 7; at 1 lane 8 cycles. Latency: log2(4) + 2.
  const std::string p4 =
      std::string("    params: {A_log: {shape: [8, 4], precision: ") + kPrec + "}}\n";
  const Graph t =
      multi_input("selective_scan",
                  {{"u", "[1, 2, 8]"}, {"dt", "[1, 2, 8]"}, {"b", "[1, 2, 4]"}, {"c", "[1, 2, 4]"}},
                  "[1, 2, 8]", p4);
  for (std::int64_t lanes : {2, 1}) {
    NodeHw hw;
    hw.in = {tile_port({1, 2, 8}, {lanes}), tile_port({1, 2, 8}, {lanes}),
             tile_port({1, 2, 4}, {1}), tile_port({1, 2, 4}, {1})};
    hw.out = tile_port({1, 2, 8}, {lanes});
    const OpTiming ti = op_timing(t, t.nodes[0], hw);
    EXPECT_EQ(ti.rows, 2);
    EXPECT_EQ(ti.row_cycles, lanes == 2 ? 7 : 8);
    EXPECT_EQ(ti.latency_cycles, 4);
  }
  EXPECT_THROW(
      multi_input("selective_scan",
                  {{"u", "[1, 2, 8]"}, {"dt", "[1, 2, 8]"}, {"b", "[1, 2, 3]"}, {"c", "[1, 2, 4]"}},
                  "[1, 2, 8]", p4),
      InputError);  // B is not [batch, seq, state]
}

namespace {
std::string rnn_params(std::int64_t G, std::int64_t H, std::int64_t I, bool bias) {
  auto p = [](const std::string& n, const std::string& s) {
    return n + ": {shape: " + s + ", precision: " + kPrec + "}";
  };
  const std::string gh = std::to_string(G * H);
  return "    params: {" + p("weight_ih", "[" + gh + ", " + std::to_string(I) + "]") + ", " +
         p("weight_hh", "[" + gh + ", " + std::to_string(H) + "]") +
         (bias ? ", " + p("bias_ih", "[" + gh + "]") + ", " + p("bias_hh", "[" + gh + "]") : "") +
         "}\n";
}
}  // namespace

TEST(Ops, LstmAndGruCells) {
  // input 1, hidden 1, 2 steps, x = 1, 2; only the candidate row of weight_ih is 1.
  const Graph l = one_node("lstm", "[1, 2, 1]", "[1, 2, 1]",
                           "    attrs: {batch_first: true}\n" + rnn_params(4, 1, 1, false));
  const fn::QTensor x{{1, 2, 1}, {1, 2}};
  // LSTM (gates i, f, g, o = 0.5, 0.5, tanh(x), 0.5): c1 = 0.5·tanh 1 = 0.38080,
  // h1 = 0.5·tanh c1 = 0.18170 -> 47/256; c2 = 0.5·c1 + 0.5·tanh 2 = 0.67241,
  // h2 = 0.5·tanh c2 = 0.29328 -> 75/256.
  auto y =
      fn::eval_node(l, l.nodes[0], {&x},
                    {{"weight_ih", {{4, 1}, {0, 0, 1, 0}}}, {"weight_hh", {{4, 1}, {0, 0, 0, 0}}}},
                    fn::Rounding::HalfEven);
  EXPECT_EQ(y.v, (std::vector<double>{47 / 256.0, 75 / 256.0}));
  EXPECT_EQ(node_macs(l, l.nodes[0]), 2 * 4 * 1 * (1 + 1));
  // GRU (r, z = 0.5, n = tanh(x)): h1 = 0.5·tanh 1 = 0.38080 -> 97/256,
  // h2 = 0.5·tanh 2 + 0.5·h1 = 0.67241 -> 172/256.
  const Graph gr = one_node("gru", "[1, 2, 1]", "[1, 2, 1]",
                            "    attrs: {batch_first: true}\n" + rnn_params(3, 1, 1, false));
  y = fn::eval_node(gr, gr.nodes[0], {&x},
                    {{"weight_ih", {{3, 1}, {0, 0, 1}}}, {"weight_hh", {{3, 1}, {0, 0, 0}}}},
                    fn::Rounding::HalfEven);
  EXPECT_EQ(y.v, (std::vector<double>{97 / 256.0, 172 / 256.0}));
  EXPECT_EQ(node_macs(gr, gr.nodes[0]), 2 * 3 * 1 * 2);
  EXPECT_THROW(one_node("lstm", "[1, 2, 1]", "[1, 2, 1]", rnn_params(3, 1, 1, false)), InputError);
}

TEST(Ops, RecurrentTimingIsSequentialOverSteps) {
  // input 8, hidden 8, 4 steps, 2 lanes: GEMV ceil(16/2)·ceil(4·8/2) = 128 cycles (LSTM),
  // 8·12 = 96 (GRU); loop log2(2) + 3 + 4 + 2 + 1 (+ 4 for tanh c) = 15 / 11 cycles.
  auto timing = [](const char* op, std::int64_t G, const std::string& in, const Shape& s) {
    const Graph g = one_node(op, in, in, rnn_params(G, 8, 8, true));
    NodeHw hw;
    hw.in.push_back(tile_port(s, {2}));
    hw.out = tile_port(s, {2});
    return op_timing(g, g.nodes[0], hw);
  };
  const OpTiming l = timing("lstm", 4, "[4, 1, 8]", {4, 1, 8});  // seq 4, batch 1
  EXPECT_EQ(l.rows, 4);
  EXPECT_EQ(l.row_cycles, 128 + 15);
  EXPECT_EQ(l.macs, 4 * 4 * 8 * 16);
  EXPECT_EQ(timing("gru", 3, "[4, 1, 8]", {4, 1, 8}).row_cycles, 96 + 11);
  // batch 2: a step is both sequences' GEMVs back to back (256 > 128 + 15), over 2 rows
  const OpTiming b = timing("lstm", 4, "[4, 2, 8]", {4, 2, 8});
  EXPECT_EQ(b.rows, 8);
  EXPECT_EQ(b.row_cycles, 4 * 256 / 8);
}

TEST(Ops, CausalConv1dKeepsTheLength) {
  const Graph g =
      one_node("causal_conv1d", "[1, 1, 4]", "[1, 1, 4]",
               std::string("    params: {weight: {shape: [1, 1, 2], precision: ") + kPrec + "}}\n");
  // y[l] = 1·x[l − 1] + 0.5·x[l], zero before the sequence: 0.5, 1 + 1, 2 + 1.5, 3 + 2
  EXPECT_EQ(run(g, fn::QTensor{{1, 1, 4}, {1, 2, 3, 4}}, {{"weight", {{1, 1, 2}, {1, 0.5}}}}).v,
            (std::vector<double>{0.5, 2, 3.5, 5}));
  EXPECT_EQ(node_macs(g, g.nodes[0]), 4 * 2);
  const OpTiming t = timing_of(g, 2);
  EXPECT_EQ(t.engine, OpTiming::Engine::Streaming);
  EXPECT_EQ(t.latency_cycles, 1 + 3);  // log2(2) + 3
  EXPECT_THROW(
      one_node("causal_conv1d", "[1, 2, 4]", "[1, 2, 4]",
               std::string("    params: {weight: {shape: [2, 2, 2], precision: ") + kPrec + "}}\n"),
      InputError);  // not depthwise
}
