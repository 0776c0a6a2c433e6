// The op registry (models/ops): completeness, lookup errors, the listing, and the
// kernels and rules the registry added (slice/cat kernels, a constant operand `other`).
#include <gtest/gtest.h>

#include <stdexcept>

#include "models/functional/kernels.hpp"
#include "models/hls_blocks.hpp"
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
  EXPECT_DOUBLE_EQ(r.lut, act.lut);
  EXPECT_DOUBLE_EQ(r.dsp, act.dsp);
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
