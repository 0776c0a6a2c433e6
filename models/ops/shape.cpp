// Implicit (shape and memory) ops. Wires keep the element order and cost nothing but
// wires (flatten, view, reshape, dropout, contiguous, slice, cat); reorders change it and
// hold the whole tensor in a double-buffered reorder buffer (permute, transpose).
#include <algorithm>

#include "models/ops/registry.hpp"
#include "models/ops/shape_util.hpp"
#include "workloads/error.hpp"

namespace masesim::ops {
namespace {

std::vector<Shape> flatten_shape(const Node& n, const std::vector<Shape>& in) {
  const Shape& s = in[0];
  if (s.empty()) return {s};
  const std::int64_t a = norm_dim(n.attr_int("start_dim", 1), s.size(), "start_dim");
  const std::int64_t b = norm_dim(n.attr_int("end_dim", -1), s.size(), "end_dim");
  if (a > b) fail_rule("start_dim after end_dim");
  Shape out(s.begin(), s.begin() + a);
  std::int64_t prod = 1;
  for (std::int64_t i = a; i <= b; ++i) prod = checked_mul(prod, s[i], "flatten");
  out.push_back(prod);
  out.insert(out.end(), s.begin() + b + 1, s.end());
  return {out};
}

std::vector<Shape> view_shape(const Node& n, const std::vector<Shape>& in) {
  auto it = n.attrs.find("shape");
  if (it == n.attrs.end() || it->second.kind != AttrValue::Kind::List)
    fail_rule("attribute shape (a list) is required");
  const std::int64_t numel = shape_numel(in[0]);
  Shape out;
  int infer = -1;
  std::int64_t known = 1;
  for (const auto& d : it->second.list) {
    if (d.value == -1) {
      if (infer >= 0) fail_rule("attribute shape has more than one -1");
      infer = static_cast<int>(out.size());
      out.push_back(1);
      continue;
    }
    if (d.value <= 0)
      fail_rule("attribute shape has a non-positive entry " + std::to_string(d.value));
    known = checked_mul(known, d.value, "view shape");
    out.push_back(d.value);
  }
  if (infer >= 0) {
    if (numel % known != 0)
      fail_rule("cannot view " + shape_to_string(in[0]) + " as " + shape_to_string(out));
    out[infer] = numel / known;
  }
  if (shape_numel(out) != numel)
    fail_rule("view changes the number of elements: " + shape_to_string(in[0]) + " -> " +
              shape_to_string(out));
  return {out};
}

std::vector<Shape> permute_shape(const Node& n, const std::vector<Shape>& in) {
  const auto dims = n.attr_ints("dims", {});
  if (dims.size() != in[0].size())
    fail_rule("attribute dims has " + std::to_string(dims.size()) + " entries for rank " +
              std::to_string(in[0].size()));
  Shape out;
  std::vector<bool> seen(dims.size(), false);
  for (auto d : dims) {
    const auto k = norm_dim(d, in[0].size(), "dims");
    if (seen[k]) fail_rule("attribute dims repeats " + std::to_string(d));
    seen[k] = true;
    out.push_back(in[0][k]);
  }
  return {out};
}

std::vector<Shape> transpose_shape(const Node& n, const std::vector<Shape>& in) {
  Shape out = in[0];
  const auto a = norm_dim(n.attr_int("dim0", -2), out.size(), "dim0");
  const auto b = norm_dim(n.attr_int("dim1", -1), out.size(), "dim1");
  std::swap(out[a], out[b]);
  return {out};
}

/// [start, end) of a slice along `dim` of a tensor of shape `x` (negative: from the end).
std::pair<std::int64_t, std::int64_t> slice_range(const Node& n, const Shape& x, std::size_t d) {
  const std::int64_t size = x[d];
  std::int64_t start = n.attr_int("start", 0), end = n.attr_int("end", size);
  if (start < 0) start += size;
  if (end < 0) end += size;
  return {start, end};
}

std::vector<Shape> slice_shape(const Node& n, const std::vector<Shape>& in) {
  const std::size_t d =
      static_cast<std::size_t>(norm_dim(n.attr_int("dim", -1), in[0].size(), "dim"));
  const std::int64_t size = in[0][d];
  const auto [start, end] = slice_range(n, in[0], d);
  if (start < 0 || end > size || start >= end)
    fail_rule("slice [" + std::to_string(n.attr_int("start", 0)) + ", " +
              std::to_string(n.attr_int("end", size)) + ") is empty or outside dim " +
              std::to_string(d) + " of size " + std::to_string(size));
  Shape out = in[0];
  out[d] = end - start;
  return {out};
}

/// cat's constant operand `other` as concatenated: broadcast over its size-1 dims to
/// data_in_0's shape outside `dim`.
Shape other_expanded(const Node& n, const Shape& in0, std::size_t d) {
  const Shape& o = n.param("other")->tensor.shape;
  if (o.size() != in0.size())
    fail_rule("param other " + shape_to_string(o) + " has another rank than data_in_0 " +
              shape_to_string(in0));
  Shape e = in0;
  for (std::size_t i = 0; i < in0.size(); ++i)
    if (i == d)
      e[i] = o[i];
    else if (o[i] != in0[i] && o[i] != 1)
      fail_rule("param other " + shape_to_string(o) + " does not broadcast to data_in_0 " +
                shape_to_string(in0) + " outside dim " + std::to_string(d));
  return e;
}

std::vector<Shape> cat_shape(const Node& n, const std::vector<Shape>& in) {
  const std::size_t d =
      static_cast<std::size_t>(norm_dim(n.attr_int("dim", -1), in[0].size(), "dim"));
  if (in.size() < 2 && !n.param("other"))
    fail_rule("cat needs two inputs, or one input and param other");
  Shape out = in[0];
  if (n.param("other")) out[d] += other_expanded(n, in[0], d)[d];
  for (std::size_t k = 1; k < in.size(); ++k) {
    if (in[k].size() != in[0].size())
      fail_rule("data_in_" + std::to_string(k) + " " + shape_to_string(in[k]) +
                " has another rank than data_in_0 " + shape_to_string(in[0]));
    for (std::size_t i = 0; i < in[0].size(); ++i)
      if (i != d && in[k][i] != in[0][i])
        fail_rule("data_in_" + std::to_string(k) + " " + shape_to_string(in[k]) +
                  " differs from data_in_0 " + shape_to_string(in[0]) + " outside dim " +
                  std::to_string(d));
    out[d] += in[k][d];
  }
  return {out};
}

/// collect (mapping.replicate): every input has the output's shape.
std::vector<Shape> collect_shape(const Node&, const std::vector<Shape>& in) {
  if (in.size() < 2) fail_rule("collect needs one input per replica (at least two)");
  for (std::size_t k = 1; k < in.size(); ++k)
    if (in[k] != in[0])
      fail_rule("data_in_" + std::to_string(k) + " " + shape_to_string(in[k]) +
                " differs from data_in_0 " + shape_to_string(in[0]) +
                " (the replicas of one node)");
  return {in[0]};
}

/// Elements before dim `d` (outer) and from dim `d + 1` on (inner) of shape `s`.
std::pair<std::int64_t, std::int64_t> outer_inner(const Shape& s, std::size_t d) {
  std::int64_t outer = 1, inner = 1;
  for (std::size_t i = 0; i < d; ++i) outer *= s[i];
  for (std::size_t i = d + 1; i < s.size(); ++i) inner *= s[i];
  return {outer, inner};
}

void slice_kernel(const KernelCall& c) {
  const Shape& x = c.in[0]->shape;
  const auto d = static_cast<std::size_t>(norm_dim(c.n.attr_int("dim", -1), x.size(), "dim"));
  const auto [start, end] = slice_range(c.n, x, d);
  const auto [outer, inner] = outer_inner(x, d);
  const std::int64_t len = end - start;
  for (std::int64_t o = 0; o < outer; ++o)
    std::copy_n(c.in[0]->v.begin() + (o * x[d] + start) * inner, len * inner,
                c.y.v.begin() + o * len * inner);
}

void cat_kernel(const KernelCall& c) {
  const Shape& y = c.y.shape;
  const auto d = static_cast<std::size_t>(norm_dim(c.n.attr_int("dim", -1), y.size(), "dim"));
  const auto [outer, inner] = outer_inner(y, d);
  std::vector<const fn::QTensor*> parts(c.in.begin(), c.in.end());
  fn::QTensor expanded;  // the constant operand, broadcast, placed first
  if (const fn::QTensor* o = fn::param_data(c.n, c.params, "other", false)) {
    expanded.shape = other_expanded(c.n, c.in[0]->shape, d);
    expanded.v.resize(static_cast<std::size_t>(shape_numel(expanded.shape)));
    const std::size_t rank = expanded.shape.size();
    std::vector<std::int64_t> idx(rank, 0), ostride(rank, 1);
    for (std::size_t i = rank; i-- > 1;) ostride[i - 1] = ostride[i] * o->shape[i];
    for (std::size_t k = 0; k < expanded.v.size(); ++k) {
      std::int64_t off = 0;
      for (std::size_t i = 0; i < rank; ++i) off += (o->shape[i] == 1 ? 0 : idx[i]) * ostride[i];
      expanded.v[k] = o->v[static_cast<std::size_t>(off)];
      for (std::size_t i = rank; i-- > 0;) {
        if (++idx[i] < expanded.shape[i]) break;
        idx[i] = 0;
      }
    }
    parts.insert(parts.begin(), &expanded);
  }
  std::int64_t at = 0;  // offset along dim d
  for (const fn::QTensor* x : parts) {
    const std::int64_t len = x->shape[d];
    for (std::int64_t o = 0; o < outer; ++o)
      std::copy_n(x->v.begin() + o * len * inner, len * inner,
                  c.y.v.begin() + (o * y[d] + at) * inner);
    at += len;
  }
}

/// Beats before the slice's first row are read before the first output; a slice of the
/// last dim keeps every row and streams in proportion.
void slice_timing(const Graph& g, const Node& n, const NodeHw& hw, OpTiming& t) {
  streaming_timing(g, n, hw, t, 0);
  const Shape& x = g.tensor_of(n.args[0]).shape;
  auto d = n.attr_int("dim", -1);
  if (d < 0) d += static_cast<std::int64_t>(x.size());
  if (static_cast<std::size_t>(d) + 1 < x.size()) {
    std::int64_t start = n.attr_int("start", 0);
    if (start < 0) start += x[static_cast<std::size_t>(d)];
    t.preload_beats[0] = t.in_beats[0] * start / x[static_cast<std::size_t>(d)];
  }
}

Resources no_resources(const Graph&, const Node&, const NodeHw&, const OpTiming&) {
  return Resources{};
}

OpDescriptor wire(const char* name, const char* summary,
                  std::vector<Shape> (*infer)(const Node&, const std::vector<Shape>&),
                  std::vector<std::string> attrs, TpShard tp) {
  OpDescriptor d;
  d.name = name;
  d.summary = summary;
  d.cls = OpClass::Wire;
  d.attrs_allowed = std::move(attrs);
  d.infer = infer;
  d.macs = no_macs;
  d.timing = [](const Graph& g, const Node& n, const NodeHw& hw, OpTiming& t) {
    streaming_timing(g, n, hw, t, 0);
  };
  d.resources = no_resources;
  d.kernel = [](const KernelCall& c) { c.y.v = c.in[0]->v; };
  d.tp = tp;
  return d;
}

/// The whole tensor in a reorder buffer: output starts when the last input beat is in.
void reorder_timing(const Graph&, const Node&, const NodeHw&, OpTiming& t) {
  t.engine = OpTiming::Engine::Rows;
  t.rows = 1;
  t.row_cycles = std::max(t.in_beats[0], t.out_beats);
  t.first_out_cycles = 0;
  t.out_interval_cycles = 1;
  t.latency_cycles = 1;
}

OpDescriptor reorder(const char* name, const char* summary,
                     std::vector<Shape> (*infer)(const Node&, const std::vector<Shape>&),
                     std::vector<std::string> attrs, TpShard tp) {
  OpDescriptor d;
  d.name = name;
  d.summary = summary;
  d.cls = OpClass::Reorder;
  d.attrs_allowed = std::move(attrs);
  d.infer = infer;
  d.macs = no_macs;
  d.timing = reorder_timing;
  d.resources = [](const Graph& g, const Node& n, const NodeHw& hw, const OpTiming&) {
    const Tensor& x = g.tensor_of(n.args[0]);
    return transpose_estimate(tile_of(x.shape, hw.in[0]), x.precision, hw);
  };
  d.tp = tp;
  return d;
}

}  // namespace

void register_shape_ops(std::vector<OpDescriptor>& v) {
  v.push_back(wire("flatten", "merges dims start_dim..end_dim", flatten_shape,
                   {"start_dim", "end_dim"}, TpShard::Flatten));
  v.push_back(wire("view", "same elements, new shape (one -1 inferred)", view_shape, {"shape"},
                   TpShard::Reshape));
  v.push_back(wire("reshape", "same elements, new shape (one -1 inferred)", view_shape, {"shape"},
                   TpShard::Reshape));
  v.push_back(
      wire("dropout", "identity at inference", same_shape, {"p", "inplace"}, TpShard::Identity));
  v.push_back(wire("contiguous", "identity (layout only)", same_shape, {}, TpShard::Identity));
  // Inserted by mapping.layer_reuse (sim/mapping/layer_reuse.hpp), never written in a graph file by
  // hand: runs on the region's memory port (an engine), so the tensor is written to the
  // device memory and read back; as a spatial block it would be a wire.
  v.push_back(wire("layer_io",
                   "a layer-reuse region's boundary: the tensor goes to off-chip memory and is "
                   "read back for the next layer (mapping.layer_reuse)",
                   same_shape, {"into", "from"}, TpShard::None));
  OpDescriptor sl = wire("slice", "elements [start, end) of dim", slice_shape,
                         {"dim", "start", "end"}, TpShard::None);
  sl.timing = slice_timing;
  sl.kernel = slice_kernel;
  v.push_back(sl);
  OpDescriptor cat = wire("cat", "inputs concatenated along dim (interleaved in proportion)",
                          cat_shape, {"dim"}, TpShard::None);
  cat.max_inputs = 64;
  cat.min_inputs = 1;
  cat.params_allowed = {"other"};
  cat.resources = [](const Graph&, const Node& n, const NodeHw& hw, const OpTiming&) {
    const Param* o = n.param("other");  // the constant operand in BRAM/URAM
    return o ? flat_buffer(tensor_bits(o->tensor), hw.uram_per_bram36) : ResourceEstimate{};
  };
  cat.timing = [](const Graph& g, const Node& n, const NodeHw& hw, OpTiming& t) {
    streaming_timing(g, n, hw, t, 0, false);
  };
  cat.kernel = cat_kernel;
  v.push_back(cat);

  // The end of a replicated stage (sim/mapping/replicate.hpp): inference i is read from
  // data_in_(i mod K), K = the replicas, so the outputs leave in inference order. Each
  // input is a FIFO of one whole tensor (the replicas finish out of step; one that is
  // done waits there, not in its pipeline), so the block holds K tensors in BRAM/URAM.
  // The per-inference port selection is set by the system (sim/system/build.cpp); the
  // descriptor's timing is that of a pass-through stream.
  OpDescriptor col =
      wire("collect", "replicas' outputs back in inference order (mapping.replicate)",
           collect_shape, {}, TpShard::None);
  col.max_inputs = 64;
  col.min_inputs = 2;
  col.resources = [](const Graph&, const Node& n, const NodeHw& hw, const OpTiming&) {
    return flat_buffer(static_cast<double>(n.args.size()) * tensor_bits(n.results[0]),
                       hw.uram_per_bram36);
  };
  col.kernel = unsupported_kernel("mapping.replicate runs in timing mode");
  col.has_functional_model = false;
  v.push_back(col);

  OpDescriptor perm = reorder("permute", "dims reordered (reorder buffer of the whole tensor)",
                              permute_shape, {"dims"}, TpShard::Permute);
  perm.kernel = [](const KernelCall& c) { fn::permute(*c.in[0], c.n.attr_ints("dims", {}), c.y); };
  v.push_back(perm);
  OpDescriptor tr = reorder("transpose", "dim0 and dim1 swapped (reorder buffer)", transpose_shape,
                            {"dim0", "dim1"}, TpShard::Transpose);
  tr.kernel = [](const KernelCall& c) {
    const std::size_t rank = c.in[0]->shape.size();
    std::vector<std::int64_t> dims(rank);
    for (std::size_t i = 0; i < rank; ++i) dims[i] = static_cast<std::int64_t>(i);
    std::swap(dims[static_cast<std::size_t>(norm_dim(c.n.attr_int("dim0", -2), rank, "dim0"))],
              dims[static_cast<std::size_t>(norm_dim(c.n.attr_int("dim1", -1), rank, "dim1"))]);
    fn::permute(*c.in[0], dims, c.y);
  };
  v.push_back(tr);
}

}  // namespace masesim::ops
