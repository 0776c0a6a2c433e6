// Functional (value-level) kernels of every op of workloads/op_rules.cpp, with the
// hardware's arithmetic (docs/functional.md). Kernel-free: nothing here knows SystemC.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "models/functional/quant.hpp"
#include "workloads/graph.hpp"
#include "workloads/tensor_file.hpp"

namespace masesim::fn {

/// A tensor of (quantised) values, row-major: {Shape shape; std::vector<double> v;}.
using QTensor = masesim::TensorData;

/// Evaluates node `n` of `g` on `inputs` (one per arg, in arg order, each already
/// quantised to its producer's precision and of the producer's shape) and returns its
/// data_out_0 quantised to the node's result precision with rounding `r`.
///
/// `params` holds the node's parameters already quantised to their precisions (see
/// load_params), keyed either by the parameter name ("weight") or by "<node>.<param>"
/// ("model.fc1.weight"); both forms are looked up, the bare name first.
///
/// linear / matmul / bmm / conv2d accumulate exact products; for fixed × fixed the
/// accumulator width in_width + weight_width + ceil(log2 K) (+ bias alignment) must be
/// ≤ 53 bits (exact in double), else SimulationError. Throws InputError on a missing
/// parameter, a wrong input count or shape, or an embedding id out of range.
QTensor eval_node(const Graph& g, const Node& n, const std::vector<const QTensor*>& inputs,
                  const std::map<std::string, QTensor>& params, Rounding r);

/// The accumulator width (bits) of a fixed × fixed dot product of length K plus an
/// optional fixed bias; 0 when the operands are not both fixed point.
int accumulator_bits(const Precision& a, const Precision& b, std::int64_t K, const Precision* bias);

}  // namespace masesim::fn
