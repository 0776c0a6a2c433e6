// What the graph IR needs to know of an op kind: arity, params, attributes, class, shape
// rule and MAC count. Contract: these functions are defined by the op registry
// (models/ops/registry.cpp) — the one place op kinds are registered; a binary that loads
// graphs links it (library masesim_cost). Nothing here knows timing or SystemC.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "workloads/graph.hpp"

namespace masesim {

enum class OpClass {
  Gemm,         ///< linear, matmul, bmm: MAC arrays
  Conv,         ///< conv2d, conv1d
  Elementwise,  ///< one output beat per input beat (relu, add, ...)
  RowReduce,    ///< needs a whole row before output (softmax, layer_norm)
  Pool,         ///< max/avg pool: window over rows
  Embedding,    ///< table lookup
  Wire,         ///< implicit, order preserving (view, reshape, flatten, dropout)
  Reorder,      ///< implicit, order changing (permute, transpose)
  KvCache,      ///< appends the step's keys/values to a cache and streams the whole context
};
const char* op_class_name(OpClass c);

struct OpSchema {
  std::string name;
  OpClass cls = OpClass::Elementwise;
  int min_inputs = 1;
  int max_inputs = 1;
  std::vector<std::string> params_allowed;
  std::vector<std::string> params_required;
  std::vector<std::string> attrs_allowed;
  /// Params that are state, not learned parameters (batch_norm's running statistics):
  /// stored and streamed like parameters, not counted as model parameters.
  std::vector<std::string> params_buffers;
  /// Output shapes from input shapes; throws InputError with the message tail only
  /// (the caller prefixes file and node).
  std::function<std::vector<Shape>(const Node&, const std::vector<Shape>&)> infer;
  /// Multiply-accumulates per inference as executed (0 for ops without multipliers).
  std::function<std::int64_t(const Graph&, const Node&)> macs;
};

/// The schema of `op`, or nullptr when no such op kind is registered.
const OpSchema* find_op_schema(const std::string& op);
/// Every registered op name, in registration order.
std::vector<std::string> op_names();
bool is_implicit(OpClass c);

}  // namespace masesim
