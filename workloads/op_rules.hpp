// The table of MASE op kinds the graph format accepts: arity, params, attributes and
// the shape rule of each. The single place op names are registered for validation;
// models/op_cost.cpp registers the cost model of each of these names.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "workloads/graph.hpp"

namespace masesim {

enum class OpClass {
  Gemm,         ///< linear, matmul, bmm: MAC arrays
  Conv,         ///< conv2d
  Elementwise,  ///< one output beat per input beat (relu, add, ...)
  RowReduce,    ///< needs a whole row before output (softmax, layer_norm)
  Pool,         ///< max/avg pool: window over rows
  Embedding,    ///< table lookup
  Wire,         ///< implicit, order preserving (view, reshape, flatten, dropout)
  Reorder,      ///< implicit, order changing (permute, transpose)
  KvCache,      ///< appends the step's keys/values to a cache and streams the whole context
};

struct OpRule {
  std::string name;
  OpClass cls;
  int min_inputs;
  int max_inputs;
  std::vector<std::string> params_allowed;
  std::vector<std::string> params_required;
  std::vector<std::string> attrs_allowed;
  /// Output shapes from input shapes; throws InputError with the message tail only
  /// (the caller prefixes file and node).
  std::function<std::vector<Shape>(const Node&, const std::vector<Shape>&)> infer;
};

const OpRule* find_op_rule(const std::string& op);
std::vector<std::string> op_names();
bool is_implicit(OpClass c);

}  // namespace masesim
