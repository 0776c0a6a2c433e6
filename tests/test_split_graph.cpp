// Unit tests of the node-split rewrite (sim/mapping/split.*): the pieces' shapes, weights and
// names, the gather, nested splits, and the errors naming the rule and the node.
#include "sim/mapping/split.hpp"

#include <gtest/gtest.h>

#include <string>

#include "workloads/error.hpp"
#include "workloads/graph.hpp"
#include "workloads/yaml_util.hpp"

using namespace masesim;

namespace {

// x [4, 32] -> fc (linear 32 -> 64, bias) -> act (relu) -> mm (matmul with y [64, 16]).
const char* const kGraph = R"(format: mase-graph
version: 1
dims: {rows: 4}
inputs:
  - {name: x, shape: [rows, 32], precision: {type: fixed, width: 8}}
  - {name: y, shape: [64, 16], precision: {type: fixed, width: 8}}
nodes:
  - {name: fc, op: linear, args: {data_in_0: x},
     params: {weight: {shape: [64, 32], precision: {type: fixed, width: 8}},
              bias: {shape: [64], precision: {type: fixed, width: 8}}},
     results: {data_out_0: {shape: [rows, 64], precision: {type: fixed, width: 8}}}}
  - {name: act, op: relu, args: {data_in_0: fc},
     results: {data_out_0: {shape: [rows, 64], precision: {type: fixed, width: 8}}}}
  - {name: mm, op: matmul, args: {data_in_0: act, data_in_1: y},
     results: {data_out_0: {shape: [rows, 16], precision: {type: fixed, width: 8}}}}
outputs: [mm]
)";

Graph split(const std::vector<SplitRule>& rules, SplitReport* rep = nullptr) {
  YAML::Node tree = yaml::load_text(kGraph, "g.yaml");
  Graph g = load_graph_yaml(tree, "g.yaml");
  for (std::size_t k = 0; k < rules.size(); ++k) {
    tree = split_graph(tree, g, {rules[k]}, "c.yaml: mapping.split", rep, static_cast<int>(k));
    g = load_graph_yaml(tree, "g.yaml");
  }
  return g;
}

Shape out_shape(const Graph& g, const std::string& n) {
  return g.find_node(n)->results[0].shape;
}

}  // namespace

// By columns: each piece keeps 64/2 = 32 weight rows and bias entries; the relu follows
// the pieces; the gather `act` (cat on dim -1) keeps the chain's last name.
TEST(SplitGraph, LinearByColumnsDividesWeightsAndAbsorbsTheRelu) {
  SplitReport rep;
  const Graph g = split({{"fc", 2, SplitBy::Columns}}, &rep);
  ASSERT_EQ(rep.splits.size(), 1u);
  EXPECT_EQ(rep.splits[0].gather, "act");
  EXPECT_EQ(rep.splits[0].absorbed, std::vector<std::string>{"act"});
  for (const std::string p : {"fc@s0", "fc@s1"}) {
    EXPECT_EQ(out_shape(g, p), (Shape{4, 32})) << p;
    EXPECT_EQ(g.find_node(p)->param("weight")->tensor.shape, (Shape{32, 32})) << p;
    EXPECT_EQ(g.find_node(p)->param("bias")->tensor.shape, (Shape{32})) << p;
  }
  EXPECT_EQ(g.find_node("act@s1")->args[0].node, "fc@s1");
  EXPECT_EQ(g.find_node("act")->op, "cat");
  EXPECT_EQ(g.find_node("act")->args.size(), 2u);
  EXPECT_EQ(out_shape(g, "act"), (Shape{4, 64}));
  EXPECT_EQ(g.find_node("fc"), nullptr);
  EXPECT_EQ(g.nodes.size(), 6u);  // 2 pieces, 2 relus, the gather, mm
}

// By rows: a slice of x's rows per piece (rows 2j..2j+1), the whole weight on each (tied to
// piece 0's, so the model's parameters are counted once); the symbolic dim is written as
// its number in the pieces.
TEST(SplitGraph, LinearByRowsSlicesTheInput) {
  const Graph g = split({{"fc", 2, SplitBy::Rows}});
  const Node* s1 = g.find_node("fc.rows@s1");
  ASSERT_NE(s1, nullptr);
  EXPECT_EQ(s1->op, "slice");
  EXPECT_EQ(s1->attr_int("start", -1), 2);
  EXPECT_EQ(s1->attr_int("end", -1), 4);
  EXPECT_EQ(out_shape(g, "fc@s1"), (Shape{2, 64}));
  EXPECT_EQ(g.find_node("fc@s1")->param("weight")->tensor.shape, (Shape{64, 32}));
  EXPECT_EQ(g.find_node("fc@s1")->param("weight")->shared_with, "fc@s0.weight");
  EXPECT_EQ(g.find_node("act")->attr_int("dim", 0), -2);
}

// matmul by columns slices its second operand (y's 16 columns, 8 per piece); a later rule
// splits the pieces again (nested: mm@s0@s1), and the inner gather is named mm@s0.
TEST(SplitGraph, MatmulByColumnsAndANestedSplit) {
  const Graph g = split({{"mm", 2, SplitBy::Columns}, {"mm@s*", 2, SplitBy::Rows}});
  EXPECT_EQ(out_shape(g, "mm.cols@s1"), (Shape{64, 8}));
  EXPECT_EQ(g.find_node("mm@s0")->op, "cat");
  EXPECT_EQ(out_shape(g, "mm@s0@s1"), (Shape{2, 8}));
  EXPECT_EQ(g.find_node("mm")->op, "cat");
  EXPECT_EQ(out_shape(g, "mm"), (Shape{4, 16}));
}

TEST(SplitGraph, ErrorsNameTheRuleAndTheNode) {
  try {
    split({{"fc", 2, SplitBy::Columns}, {"act", 3, SplitBy::Columns}});
    FAIL() << "a cat does not split";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("mapping.split[1]: node 'act' (cat): only linear"),
              std::string::npos)
        << e.what();
  }
  try {
    split({{"fc", 3, SplitBy::Rows}});
    FAIL() << "3 does not divide 4 rows";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("mapping.split[0]: node 'fc' (linear): split 3 ways by "
                                         "rows: its 4 rows (output [4, 64]) are not divisible"),
              std::string::npos)
        << e.what();
  }
}
