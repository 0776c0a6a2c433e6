#include <gtest/gtest.h>

#include <string>

#include "workloads/error.hpp"
#include "workloads/graph.hpp"

using namespace masesim;

namespace {
const std::string kMnist = std::string(MASESIM_SOURCE_DIR) + "/workloads/graphs/mnist_cnn.yaml";

std::string mlp(const std::string& extra_node = "", const std::string& par = "") {
  return R"(
format: mase-graph
version: 1
name: mlp
dims: {batch: 1, seq: 16}
inputs: [{name: x, shape: [batch, seq, 64], precision: {type: fixed, width: 8, frac_width: 4}}]
nodes:
  - name: fc1
    op: linear
    args: {data_in_0: x}
    params:
      weight: {shape: [32, 64], precision: {type: fixed, width: 8, frac_width: 4}}
      bias: {shape: [32], precision: {type: fixed, width: 8, frac_width: 4}}
    results: {data_out_0: {shape: [batch, seq, 32], precision: {type: fixed, width: 8, frac_width: 4}}}
)" + par +
         extra_node + R"(
outputs: [fc1]
)";
}

std::string error_of(const std::string& text,
                     const std::map<std::string, std::int64_t>& dims = {}) {
  try {
    load_graph_text(text, "t.yaml", dims);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Graph, MnistCountsMatchHandDerivation) {
  const Graph g = load_graph(kMnist);
  ASSERT_EQ(g.nodes.size(), 9u);
  const WorkloadSummary s = summarize(g);
  // conv1 28*28*16*(1*9) + conv2 28*28*32*(16*9) + fc1 6272*1024 + fc2 1024*10
  EXPECT_EQ(s.macs, 112896 + 3612672 + 6422528 + 10240);
  // conv1 16*9+16, conv2 32*16*9+32, fc1 1024*6272+1024, fc2 10*1024+10
  EXPECT_EQ(s.parameters, 160 + 4640 + 6423552 + 10250);
  EXPECT_EQ(s.weight_bytes, s.parameters);  // int8
}

TEST(Graph, DimsOverrideResizesShapes) {
  const Graph g = load_graph_text(mlp(), "t.yaml", {{"seq", 512}});
  EXPECT_EQ(g.nodes[0].results[0].shape, (Shape{1, 512, 32}));
  EXPECT_EQ(node_macs(g, g.nodes[0]), 512 * 64 * 32);
  EXPECT_NE(error_of(mlp(), {{"sek", 4}}).find("the graph has no dim 'sek' (did you mean 'seq'?)"),
            std::string::npos);
}

TEST(Graph, ErrorsNameFileNodeAndKey) {
  EXPECT_NE(error_of(mlp("", "    hw: {parallelism: {data_in_0: [1, 48]}}\n"))
                .find("does not divide the tensor dim 64"),
            std::string::npos);
  EXPECT_NE(error_of(mlp("", "    hw: {parallelism: {data_out_0: [1, 64]}}\n"))
                .find("exceeds the tensor dim 32"),
            std::string::npos);
  EXPECT_NE(error_of(mlp("", "    hw: {parallelism: {data_in_7: [1]}}\n"))
                .find("unknown port 'data_in_7'"),
            std::string::npos);
  EXPECT_NE(
      error_of(mlp("", "    hw: {weights: sometimes}\n")).find("expected on_chip or off_chip"),
      std::string::npos);
  const std::string relu_bad = R"(  - name: r
    op: relu
    args: {data_in_0: fc1}
    results: {data_out_0: {shape: [batch, seq, 33], precision: {type: fixed, width: 8, frac_width: 4}}}
)";
  const std::string e = error_of(mlp(relu_bad));
  EXPECT_NE(e.find("t.yaml:"), std::string::npos) << e;
  EXPECT_NE(e.find("node 'r' (relu): data_out_0 shape [1, 16, 33] does not match the op rule, "
                   "which gives [1, 16, 32]"),
            std::string::npos)
      << e;
  const std::string bad_arg = R"(  - name: r
    op: relu
    args: {data_in_0: fc1.data_out_3}
    results: {data_out_0: {shape: [batch, seq, 32], precision: {type: fixed, width: 8, frac_width: 4}}}
)";
  EXPECT_NE(error_of(mlp(bad_arg)).find("node 'fc1' has no data_out_3"), std::string::npos);
}

TEST(Graph, OpRulesCheckShapes) {
  const std::string mm = R"(
format: mase-graph
version: 1
inputs:
  - {name: a, shape: [2, 4, 8], precision: {type: fixed, width: 8}}
  - {name: b, shape: [2, 9, 5], precision: {type: fixed, width: 8}}
nodes:
  - {name: m, op: bmm, args: {data_in_0: a, data_in_1: b}, results: {data_out_0: {shape: [2, 4, 5], precision: {type: fixed, width: 8}}}}
outputs: [m]
)";
  EXPECT_NE(error_of(mm).find("inner dimensions differ"), std::string::npos) << error_of(mm);
  const std::string conv = R"(
format: mase-graph
version: 1
inputs: [{name: x, shape: [1, 3, 32, 32], precision: {type: fixed, width: 8}}]
nodes:
  - name: c
    op: conv2d
    args: {data_in_0: x}
    params: {weight: {shape: [8, 3, 5, 5], precision: {type: fixed, width: 8}}}
    attrs: {stride: 2, padding: 2}
    results: {data_out_0: {shape: [1, 8, 16, 16], precision: {type: fixed, width: 8}}}
outputs: [c]
)";
  const Graph g = load_graph_text(conv, "c.yaml");
  EXPECT_EQ(node_macs(g, g.nodes[0]), 16 * 16 * 8 * 3 * 25);
}
