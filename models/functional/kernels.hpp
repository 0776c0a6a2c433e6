// Functional (value-level) kernels of the registered ops (models/ops), with the
// hardware's arithmetic (docs/functional.md). Kernel-free: nothing here knows SystemC.
#pragma once
#include <functional>
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

// ---- Kernels the op descriptors' `kernel` parts call (y is shaped and zeroed) ----
/// The data of parameter `name` (by bare name or "<node>.<name>"), checked against the
/// graph's declared shape; nullptr when absent and not `required` (else InputError).
const QTensor* param_data(const Node& n, const std::map<std::string, QTensor>& params,
                          const std::string& name, bool required);
void linear(const Graph& g, const Node& n, const QTensor& x,
            const std::map<std::string, QTensor>& params, QTensor& y);
void matmul(const Graph& g, const Node& n, const QTensor& a, const QTensor& b, QTensor& y);
void conv2d(const Graph& g, const Node& n, const QTensor& x,
            const std::map<std::string, QTensor>& params, QTensor& y);
void pool(const Node& n, const QTensor& x, QTensor& y, bool is_max);
/// y[i] = f(x[i]).
void map_unary(const QTensor& x, QTensor& y, const std::function<double(double)>& f);
/// y = f(a, b) with broadcasting: two inputs, one input and a constant param `other`, or
/// one input and the attribute `scalar`.
void map_binary(const Node& n, const std::vector<const QTensor*>& in,
                const std::map<std::string, QTensor>& params, QTensor& y,
                double (*f)(double, double));
double gelu(double x, bool tanh_approximation);
void softmax(const Node& n, const QTensor& x, QTensor& y);
void layer_norm(const Node& n, const QTensor& x, const std::map<std::string, QTensor>& params,
                QTensor& y);
void batch_norm(const Node& n, const QTensor& x, const std::map<std::string, QTensor>& params,
                QTensor& y);
void embedding(const Node& n, const QTensor& ids, const std::map<std::string, QTensor>& params,
               QTensor& y);
/// y = x with its dims reordered: y dim i is x dim dims[i].
void permute(const QTensor& x, const std::vector<std::int64_t>& dims, QTensor& y);

/// The accumulator width (bits) of a fixed × fixed dot product of length K plus an
/// optional fixed bias; 0 when the operands are not both fixed point.
int accumulator_bits(const Precision& a, const Precision& b, std::int64_t K, const Precision* bias);

}  // namespace masesim::fn
