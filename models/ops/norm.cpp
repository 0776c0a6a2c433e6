// Row-reduce ops: a whole row is buffered, reduced, then normalised on the Rows engine
// (softmax over `dim`, layer_norm over its normalized_shape).
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
                    Resources (*logic)(const TileShape&, const Precision&)) {
  OpDescriptor d;
  d.name = name;
  d.summary = summary;
  d.cls = OpClass::RowReduce;
  d.macs = no_macs;
  d.timing = [row](const Graph& g, const Node& n, const NodeHw& hw, OpTiming& t) {
    row_reduce_timing(g, n, hw, t, row(g, n));
  };
  d.resources = [logic](const Graph& g, const Node& n, const NodeHw& hw, const OpTiming& t,
                        const ResourceOptions&) {
    const Tensor& x = g.tensor_of(n.args[0]);
    return row_reduce_block_resources(g, n, hw, t, logic(tile_of(x.shape, hw.in[0]), x.precision));
  };
  return d;
}

}  // namespace

void register_norm_ops(std::vector<OpDescriptor>& v) {
  OpDescriptor sm = row_op("softmax", "exp(x − max) / Σ over dim (two passes over a buffered row)",
                           softmax_row, softmax_resources);
  sm.attrs_allowed = {"dim"};
  sm.infer = softmax_shape;
  sm.kernel = [](const KernelCall& c) { fn::softmax(c.n, *c.in[0], c.y); };
  sm.tp = TpShard::RowReduce;
  v.push_back(sm);

  OpDescriptor ln = row_op("layer_norm", "(x − mean)/sqrt(var + eps)·w + b over normalized_shape",
                           norm_row, layernorm_resources);
  ln.params_allowed = {"weight", "bias"};
  ln.attrs_allowed = {"normalized_shape", "eps"};
  ln.infer = norm_shape;
  ln.kernel = [](const KernelCall& c) { fn::layer_norm(c.n, *c.in[0], c.params, c.y); };
  ln.tp = TpShard::Norm;
  v.push_back(ln);
}

}  // namespace masesim::ops
