// GEMM ops: linear (x · Wᵀ + b), matmul (broadcast batch), bmm (3-D batches).
#include "models/ops/registry.hpp"
#include "models/ops/shape_util.hpp"
#include "workloads/error.hpp"

namespace masesim::ops {
namespace {

std::vector<Shape> linear_shape(const Node& n, const std::vector<Shape>& in) {
  need_rank(in[0], 1, 8, "data_in_0");
  const Shape w = param_shape(n, "weight");
  if (w.size() != 2)
    fail_rule("weight must be [out_features, in_features], got " + shape_to_string(w));
  if (w[1] != in[0].back())
    fail_rule("weight " + shape_to_string(w) + " does not match data_in_0 " +
              shape_to_string(in[0]) + " (in_features " + std::to_string(w[1]) +
              " != " + std::to_string(in[0].back()) + ")");
  check_bias(n, w[0]);
  Shape out = in[0];
  out.back() = w[0];
  return {out};
}

std::vector<Shape> matmul_shape(const Node&, const std::vector<Shape>& in) {
  need_rank(in[0], 2, 8, "data_in_0");
  need_rank(in[1], 2, 8, "data_in_1");
  const Shape& a = in[0];
  const Shape& b = in[1];
  if (a.back() != b[b.size() - 2])
    fail_rule("inner dimensions differ: data_in_0 " + shape_to_string(a) + " x data_in_1 " +
              shape_to_string(b));
  Shape ab(a.begin(), a.end() - 2), bb(b.begin(), b.end() - 2);
  Shape out = broadcast(ab, bb);
  out.push_back(a[a.size() - 2]);
  out.push_back(b.back());
  return {out};
}

std::vector<Shape> bmm_shape(const Node& n, const std::vector<Shape>& in) {
  need_rank(in[0], 3, 3, "data_in_0");
  need_rank(in[1], 3, 3, "data_in_1");
  if (in[0][0] != in[1][0])
    fail_rule("batch sizes differ: " + shape_to_string(in[0]) + " vs " + shape_to_string(in[1]));
  return matmul_shape(n, in);
}

/// Every output element is a dot product of the reduction (last) dim of data_in_0.
std::int64_t dot_macs(const Graph& g, const Node& n) {
  const Shape& a = g.tensor_of(n.args[0]).shape;
  return checked_mul(shape_numel(n.results[0].shape, n.name), a.back(), n.name + " MACs");
}

void gemm_or_systolic(const Graph& g, const Node& n, const NodeHw& hw, OpTiming& t) {
  if (hw.systolic)
    systolic_gemm_timing(g, n, hw, t);
  else
    gemm_timing(g, n, hw, t);
}

ResourceEstimate mac_resources(const Graph& g, const Node& n, const NodeHw& hw, const OpTiming& t) {
  return mac_block_resources(g, n, hw, t, false);
}

OpDescriptor gemm_op(const char* name, const char* summary, int inputs) {
  OpDescriptor d;
  d.name = name;
  d.summary = summary;
  d.cls = OpClass::Gemm;
  d.min_inputs = d.max_inputs = inputs;
  d.macs = dot_macs;
  d.timing = gemm_or_systolic;
  d.resources = mac_resources;
  return d;
}

}  // namespace

void register_gemm_ops(std::vector<OpDescriptor>& v) {
  OpDescriptor lin = gemm_op("linear", "y = x·Wᵀ + b over the last dim (MASE fixed_linear)", 1);
  lin.params_allowed = {"weight", "bias"};
  lin.params_required = {"weight"};
  lin.infer = linear_shape;
  lin.kernel = [](const KernelCall& c) { fn::linear(c.g, c.n, *c.in[0], c.params, c.y); };
  lin.weights_can_stream = true;
  lin.tp = TpShard::Linear;
  v.push_back(lin);

  OpDescriptor mm = gemm_op("matmul", "y = a·b with broadcast batch dims; b buffered whole", 2);
  mm.infer = matmul_shape;
  mm.kernel = [](const KernelCall& c) { fn::matmul(c.g, c.n, *c.in[0], *c.in[1], c.y); };
  mm.tp = TpShard::BatchedMatmul;
  v.push_back(mm);

  OpDescriptor b = gemm_op("bmm", "batched a·b of 3-D operands; b buffered whole", 2);
  b.infer = bmm_shape;
  b.kernel = mm.kernel;
  b.tp = TpShard::BatchedMatmul;
  v.push_back(b);
}

}  // namespace masesim::ops
