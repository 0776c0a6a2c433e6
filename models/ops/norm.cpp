// Row-reduce ops: a whole row is buffered, reduced, then normalised on the Rows engine
// (softmax over `dim`, layer_norm over its normalized_shape).
#include <cmath>

#include "models/ops/registry.hpp"
#include "models/ops/shape_util.hpp"

namespace masesim::ops {
namespace {

std::vector<Shape> softmax_shape(const Node& n, const std::vector<Shape>& in) {
  norm_dim(n.attr_int("dim", -1), in[0].size(), "dim");
  return {in[0]};
}

std::vector<Shape> norm_shape(const Node& n, const std::vector<Shape>& in) {
  for (const char* p : {"weight", "bias"})
    if (const Param* w = n.param(p)) {
      const Shape& ws = w->tensor.shape;
      if (ws.size() > in[0].size() || !std::equal(ws.rbegin(), ws.rend(), in[0].rbegin()))
        fail_rule(std::string(p) + " " + shape_to_string(ws) +
                  " does not match the trailing dims of " + shape_to_string(in[0]));
    }
  return {in[0]};
}

/// Elements of one softmax row: every dim from `dim` to the last.
std::int64_t softmax_row(const Graph& g, const Node& n) {
  const Shape& x = g.tensor_of(n.args[0]).shape;
  auto d = n.attr_int("dim", -1);
  if (d < 0) d += static_cast<std::int64_t>(x.size());
  std::int64_t D = 1;
  for (std::size_t i = static_cast<std::size_t>(d); i < x.size(); ++i) D *= x[i];
  return D;
}

/// Elements of one normalised row: the trailing normalized_shape dims (default: last dim).
std::int64_t norm_row(const Graph& g, const Node& n) {
  const Shape& x = g.tensor_of(n.args[0]).shape;
  if (!n.has_attr("normalized_shape")) return x.back();
  const auto ns = n.attr_ints("normalized_shape", {});
  std::int64_t D = 1;
  for (std::size_t i = 0; i < ns.size() && i < x.size(); ++i) D *= x[x.size() - 1 - i];
  return D;
}

OpDescriptor row_op(const char* name, const char* summary,
                    std::int64_t (*row)(const Graph&, const Node&),
                    ResourceEstimate (*logic)(const TileShape&, const Precision&, const NodeHw&)) {
  OpDescriptor d;
  d.name = name;
  d.summary = summary;
  d.cls = OpClass::RowReduce;
  d.macs = no_macs;
  // On a shared vector unit a row reduction makes three passes over the row: reduce (max
  // or mean), transform and accumulate (exp-sum or variance), normalise.
  d.alu_ops_per_elem = 3;
  d.timing = [row](const Graph& g, const Node& n, const NodeHw& hw, OpTiming& t) {
    row_reduce_timing(g, n, hw, t, row(g, n));
  };
  d.resources = [logic](const Graph& g, const Node& n, const NodeHw& hw, const OpTiming& t) {
    const Tensor& x = g.tensor_of(n.args[0]);
    return row_reduce_block_resources(g, n, hw, t,
                                      logic(tile_of(x.shape, hw.in[0]), x.precision, hw));
  };
  return d;
}

bool attr_bool(const Node& n, const char* a, bool dflt) {
  auto it = n.attrs.find(a);
  if (it == n.attrs.end()) return dflt;
  if (it->second.kind != AttrValue::Kind::Bool)
    fail_rule(std::string("attribute ") + a + " must be true or false");
  return it->second.boolean;
}

/// The dims `mean` reduces (sorted, normalised); they must be the trailing dims.
std::vector<std::size_t> mean_dims(const Node& n, std::size_t rank) {
  std::vector<std::size_t> dims;
  for (auto d : n.attr_ints("dim", {-1}))
    dims.push_back(static_cast<std::size_t>(norm_dim(d, rank, "dim")));
  std::sort(dims.begin(), dims.end());
  for (std::size_t k = 0; k < dims.size(); ++k)
    if (dims[k] != rank - dims.size() + k)
      fail_rule("mean over dims that are not the trailing dims is not supported (permute first)");
  return dims;
}

std::vector<Shape> mean_shape(const Node& n, const std::vector<Shape>& in) {
  const auto dims = mean_dims(n, in[0].size());
  Shape out(in[0].begin(), in[0].end() - static_cast<std::ptrdiff_t>(dims.size()));
  if (attr_bool(n, "keepdim", false)) out.resize(in[0].size(), 1);
  return {out};
}

std::int64_t mean_row(const Graph& g, const Node& n) {
  const Shape& x = g.tensor_of(n.args[0]).shape;
  std::int64_t D = 1;
  for (auto d : mean_dims(n, x.size())) D *= x[d];
  return D;
}

/// mean: one pass (accumulate) over each row, no row buffer: an adder per input lane and
/// one multiplier (× 1/D) per output lane.
Resources mean_resources(const Graph& g, const Node& n, const NodeHw& hw, const OpTiming&) {
  const Precision& p = g.tensor_of(n.args[0]).precision;
  Resources r = elementwise_resources(EltwiseKind::AddSub, hw.in[0].elems_per_beat, p, p);
  r += elementwise_resources(EltwiseKind::Mul, hw.out.elems_per_beat, p, p);
  return r;
}

void mean_kernel(const KernelCall& c) {
  const std::int64_t D = mean_row(c.g, c.n);
  const std::int64_t rows = static_cast<std::int64_t>(c.in[0]->v.size()) / D;
  for (std::int64_t r = 0; r < rows; ++r) {
    double s = 0;
    for (std::int64_t i = 0; i < D; ++i) s += c.in[0]->v[static_cast<std::size_t>(r * D + i)];
    c.y.v[static_cast<std::size_t>(r)] = s / static_cast<double>(D);
  }
}

/// y = x / sqrt(mean(x²) + eps) · weight over the normalised trailing dims.
void rms_norm_kernel(const KernelCall& c) {
  const fn::QTensor* w = fn::param_data(c.n, c.params, "weight", false);
  const std::int64_t D = norm_row(c.g, c.n);
  const double eps = c.n.attr_number("eps", 1e-6);
  const std::int64_t rows = static_cast<std::int64_t>(c.in[0]->v.size()) / D;
  for (std::int64_t r = 0; r < rows; ++r) {
    const double* x = c.in[0]->v.data() + r * D;
    double q = 0;
    for (std::int64_t i = 0; i < D; ++i) q += x[i] * x[i];
    const double den = std::sqrt(q / static_cast<double>(D) + eps);
    for (std::int64_t i = 0; i < D; ++i) {
      double v = x[i] / den;
      if (w) v = v * w->v[static_cast<std::size_t>(i)];
      c.y.v[static_cast<std::size_t>(r * D + i)] = v;
    }
  }
}

}  // namespace

void register_norm_ops(std::vector<OpDescriptor>& v) {
  OpDescriptor sm = row_op("softmax", "exp(x − max) / Σ over dim (two passes over a buffered row)",
                           softmax_row, softmax_estimate);
  sm.attrs_allowed = {"dim"};
  sm.infer = softmax_shape;
  sm.kernel = [](const KernelCall& c) { fn::softmax(c.n, *c.in[0], c.y); };
  sm.tp = TpShard::RowReduce;
  v.push_back(sm);

  OpDescriptor ln = row_op("layer_norm", "(x − mean)/sqrt(var + eps)·w + b over normalized_shape",
                           norm_row, layernorm_estimate);
  ln.params_allowed = {"weight", "bias"};
  ln.attrs_allowed = {"normalized_shape", "eps"};
  ln.infer = norm_shape;
  ln.kernel = [](const KernelCall& c) { fn::layer_norm(c.n, *c.in[0], c.params, c.y); };
  ln.tp = TpShard::Norm;
  v.push_back(ln);

  // RMSNorm: MASE int_rmsnorm (models/hls_blocks hls_norm, fitted on int_rmsnorm.csv).
  OpDescriptor rms = row_op("rms_norm", "x / sqrt(mean(x²) + eps)·w over normalized_shape",
                            norm_row, rmsnorm_estimate);
  rms.params_allowed = {"weight"};
  rms.attrs_allowed = {"normalized_shape", "eps"};
  rms.infer = [](const Node& n, const std::vector<Shape>& in) {
    n.attr_number("eps", 1e-6);
    return norm_shape(n, in);
  };
  rms.kernel = rms_norm_kernel;
  v.push_back(rms);

  OpDescriptor mean =
      row_op("mean", "mean over the trailing dims `dim` (keepdim)", mean_row, layernorm_estimate);
  mean.attrs_allowed = {"dim", "keepdim"};
  mean.infer = mean_shape;
  mean.resources = mean_resources;
  mean.kernel = mean_kernel;
  v.push_back(mean);
}

}  // namespace masesim::ops
