// Loading a graph's tensor data (docs/graph-format.md "Tensor data files") and running a
// whole graph functionally, node by node in topological order, without SystemC.
#pragma once
#include <functional>
#include <map>
#include <string>

#include "models/functional/kernels.hpp"

namespace masesim::fn {

/// Every parameter of `g` from `<data_dir>/params/<node>.<param>.npy`, quantised to the
/// parameter's precision; keys "<node>.<param>". A tied parameter (shared_with) reads its
/// owner's file (same element count, reshaped to this node's layout).
std::map<std::string, QTensor> load_params(const Graph& g, const std::string& data_dir, Rounding r);

/// Graph input `name`, inference `inference`, quantised to the input's precision.
QTensor load_input(const Graph& g, const std::string& data_dir, const std::string& name,
                   std::int64_t inference, Rounding r);

/// The reference output of node `node` (`<data_dir>/reference/<node>.npy`), shape-checked.
QTensor load_reference(const Graph& g, const std::string& data_dir, const std::string& node);

/// Supplies the input tensors of a node: given the node, returns for each arg the tensor to
/// use. run_graph's default takes the outputs computed so far (free-running).
using ArgSource = std::function<const QTensor*(const Node& n, int arg)>;

/// Runs every node of `g` in order (the loader's topological order). `inputs` maps graph
/// input names to their (quantised) tensors. Returns every node's data_out_0 by node name.
/// With `teacher` set, node arguments are taken from it instead (per-node checking against
/// reference activations); a null return falls back to the computed value.
std::map<std::string, QTensor> run_graph(const Graph& g,
                                         const std::map<std::string, QTensor>& params,
                                         const std::map<std::string, QTensor>& inputs, Rounding r,
                                         const ArgSource& teacher = nullptr);

}  // namespace masesim::fn
