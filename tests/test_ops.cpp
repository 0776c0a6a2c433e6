// The op registry (models/ops): completeness, lookup errors, the listing, and the
// kernels and rules the registry added (slice/cat kernels, a constant operand `other`).
#include <gtest/gtest.h>

#include <stdexcept>

#include "models/functional/kernels.hpp"
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
  const Resources act = elementwise_resources(EltwiseKind::Activation, 2, q, q);
  EXPECT_DOUBLE_EQ(r.lut, act.lut);
  EXPECT_DOUBLE_EQ(r.dsp, act.dsp);
  EXPECT_EQ(ops::find("exp")->tp, ops::TpShard::Pointwise);
}
