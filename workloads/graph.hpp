// Graph IR: a quantized model as a DAG of MASE nodes (docs/graph-format.md).
// Contract: a Graph returned by load_graph() is validated: names unique, references
// resolved, acyclic, nodes in topological order, every result shape equal to its op
// rule, precisions and explicit parallelism valid. Nothing here knows SystemC.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "workloads/precision.hpp"

namespace YAML {
class Node;
}

namespace masesim {

/// One entry of a shape: an integer or the name of a graph dim.
struct DimExpr {
  std::int64_t value = 0;
  std::string name;  ///< non-empty: symbolic
  std::string to_string() const { return name.empty() ? std::to_string(value) : name; }
};
using ShapeExpr = std::vector<DimExpr>;
using Shape = std::vector<std::int64_t>;

std::string shape_to_string(const Shape& s);
/// Product of dims, checked for overflow (InputError naming `what`).
std::int64_t shape_numel(const Shape& s, const std::string& what = "shape");

struct Tensor {
  ShapeExpr shape_expr;
  Shape shape;  ///< resolved with the graph's dims
  Precision precision;
  std::int64_t numel() const { return shape_numel(shape); }
  /// Storage bytes at this precision (rounded up to whole bytes).
  std::int64_t bytes() const;
};

struct AttrValue {
  enum class Kind { Number, String, Bool, List } kind = Kind::Number;
  double number = 0;
  bool boolean = false;
  std::string str;
  ShapeExpr list;  ///< resolved values in DimExpr::value (names kept for view shapes)
};

/// A reference to a producer's output: graph input (node = input name, index 0) or node.
struct PortRef {
  std::string node;
  int index = 0;
  std::string text() const { return node + ".data_out_" + std::to_string(index); }
};

struct Param {
  std::string name;
  Tensor tensor;
  std::string shared_with;  ///< "node.param" when tied (counted once)
};

enum class WeightPlace { OnChip, OffChip };

struct HwInfo {
  std::string device;                                            ///< empty: the mapper decides
  std::map<std::string, std::vector<std::int64_t>> parallelism;  ///< per port: data_in_K/data_out_K
  WeightPlace weights = WeightPlace::OnChip;
  bool weights_given = false;
  std::string impl = "dataflow";  ///< dataflow | systolic
  /// hw.replica {index: j, ways: K}: a replica of a replicated stage (mapping.replicate,
  /// sim/mapping/replicate.hpp) runs the inferences i with i % K == j; K = 1: all.
  int replica_index = 0;
  int replica_ways = 1;
};

struct Node {
  std::string name;
  std::string op;
  std::vector<PortRef> args;
  std::vector<Param> params;
  std::map<std::string, AttrValue> attrs;
  std::vector<Tensor> results;
  HwInfo hw;
  int line = 0;  ///< line in the graph file (1-based), 0 if unknown

  const Param* param(const std::string& n) const;
  bool has_attr(const std::string& a) const { return attrs.count(a) != 0; }
  std::int64_t attr_int(const std::string& a, std::int64_t dflt) const;
  /// A number attribute (InputError when it is another kind).
  double attr_number(const std::string& a, double dflt) const;
  std::vector<std::int64_t> attr_ints(const std::string& a, std::vector<std::int64_t> dflt) const;
};

struct GraphInput {
  std::string name;
  Tensor tensor;
};

struct Graph {
  std::string name;
  std::string file;  ///< path it was loaded from
  std::map<std::string, std::int64_t> dims;
  std::vector<GraphInput> inputs;
  std::vector<Node> nodes;  ///< topological order
  std::vector<PortRef> outputs;

  /// Lookups, filled by the loader (build_index()); without them lookups scan the nodes.
  std::unordered_map<std::string, std::size_t> node_index;
  /// producer node/input name -> (consumer node index or -1 for a graph output, arg or
  /// output index, producer output index)
  std::unordered_map<std::string, std::vector<std::array<int, 3>>> consumer_index;
  void build_index();

  const Node* find_node(const std::string& name) const;
  const GraphInput* find_input(const std::string& name) const;
  /// The tensor a reference points at (input or node result). Requires a valid ref.
  const Tensor& tensor_of(const PortRef& r) const;
  /// Consumers of each producer port, in node order ("" node index -1 = graph output).
  std::vector<std::pair<int, int>> consumers_of(const PortRef& r) const;  ///< (node idx, arg idx)
};

/// Loads and validates a mase-graph file (JSON or YAML). `dim_overrides` replace the
/// graph's dim defaults (unknown dim names are errors). Throws InputError naming the
/// file, the node and the key.
Graph load_graph(const std::string& path,
                 const std::map<std::string, std::int64_t>& dim_overrides = {});
/// Same from text (`label` stands in for the file name in messages).
Graph load_graph_text(const std::string& text, const std::string& label,
                      const std::map<std::string, std::int64_t>& dim_overrides = {});

/// Same from a parsed YAML/JSON tree (graph transforms rewrite the tree, then load it).
Graph load_graph_yaml(const YAML::Node& root, const std::string& label,
                      const std::map<std::string, std::int64_t>& dim_overrides = {});

/// The graph with its symbolic dims bound to new values (tensor shapes and attribute
/// lists re-resolved, shape rules re-checked). Unknown dim names are InputErrors. Explicit
/// hw.parallelism is not re-checked (callers re-tile with padding).
Graph rebind_dims(const Graph& g, const std::map<std::string, std::int64_t>& dims);

/// Multiply-accumulates of a node as executed (linear, matmul, bmm, conv2d; 0 otherwise).
std::int64_t node_macs(const Graph& g, const Node& n);

struct WorkloadSummary {
  std::int64_t parameters = 0;  ///< elements of learned params (tied once; no buffers)
  std::int64_t macs = 0;        ///< per inference (a replicated node once)
  std::int64_t nodes = 0;
  std::int64_t weight_bytes = 0;  ///< params at their precision, tied counted once
};
WorkloadSummary summarize(const Graph& g);

}  // namespace masesim
