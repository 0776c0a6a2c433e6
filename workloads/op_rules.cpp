#include "workloads/op_rules.hpp"

#include <algorithm>
#include <map>

#include "workloads/error.hpp"

namespace masesim {
namespace {

[[noreturn]] void fail(const std::string& msg) {
  throw InputError(msg);
}

std::int64_t norm_dim(std::int64_t d, std::size_t rank, const char* what) {
  const auto r = static_cast<std::int64_t>(rank);
  if (d < -r || d >= r)
    fail(std::string("attribute ") + what + " = " + std::to_string(d) +
         " is out of range for rank " + std::to_string(rank));
  return d < 0 ? d + r : d;
}

void need_rank(const Shape& s, std::size_t lo, std::size_t hi, const char* port) {
  if (s.size() < lo || s.size() > hi)
    fail(std::string(port) + " has rank " + std::to_string(s.size()) + " " + shape_to_string(s) +
         ", expected rank " + std::to_string(lo) + (hi != lo ? ".." + std::to_string(hi) : ""));
}

std::vector<Shape> same(const Node&, const std::vector<Shape>& in) {
  return {in[0]};
}

Shape param_shape(const Node& n, const char* p) {
  const Param* w = n.param(p);
  return w ? w->tensor.shape : Shape{};
}

Shape broadcast(const Shape& a, const Shape& b) {
  Shape out(std::max(a.size(), b.size()));
  for (std::size_t i = 0; i < out.size(); ++i) {
    const std::int64_t da = i < out.size() - a.size() ? 1 : a[i - (out.size() - a.size())];
    const std::int64_t db = i < out.size() - b.size() ? 1 : b[i - (out.size() - b.size())];
    if (da != db && da != 1 && db != 1)
      fail("cannot broadcast " + shape_to_string(a) + " with " + shape_to_string(b));
    out[i] = std::max(da, db);
  }
  return out;
}

std::vector<Shape> linear(const Node& n, const std::vector<Shape>& in) {
  need_rank(in[0], 1, 8, "data_in_0");
  const Shape w = param_shape(n, "weight");
  if (w.size() != 2) fail("weight must be [out_features, in_features], got " + shape_to_string(w));
  if (w[1] != in[0].back())
    fail("weight " + shape_to_string(w) + " does not match data_in_0 " + shape_to_string(in[0]) +
         " (in_features " + std::to_string(w[1]) + " != " + std::to_string(in[0].back()) + ")");
  if (const Param* b = n.param("bias"))
    if (b->tensor.shape != Shape{w[0]})
      fail("bias " + shape_to_string(b->tensor.shape) + " must be [" + std::to_string(w[0]) + "]");
  Shape out = in[0];
  out.back() = w[0];
  return {out};
}

std::vector<Shape> matmul(const Node&, const std::vector<Shape>& in) {
  need_rank(in[0], 2, 8, "data_in_0");
  need_rank(in[1], 2, 8, "data_in_1");
  const Shape& a = in[0];
  const Shape& b = in[1];
  if (a.back() != b[b.size() - 2])
    fail("inner dimensions differ: data_in_0 " + shape_to_string(a) + " x data_in_1 " +
         shape_to_string(b));
  Shape ab(a.begin(), a.end() - 2), bb(b.begin(), b.end() - 2);
  Shape out = broadcast(ab, bb);
  out.push_back(a[a.size() - 2]);
  out.push_back(b.back());
  return {out};
}

std::vector<Shape> bmm(const Node& n, const std::vector<Shape>& in) {
  need_rank(in[0], 3, 3, "data_in_0");
  need_rank(in[1], 3, 3, "data_in_1");
  if (in[0][0] != in[1][0])
    fail("batch sizes differ: " + shape_to_string(in[0]) + " vs " + shape_to_string(in[1]));
  return matmul(n, in);
}

std::int64_t window_out(std::int64_t size, std::int64_t k, std::int64_t stride, std::int64_t pad,
                        std::int64_t dil, const char* what) {
  if (k <= 0 || stride <= 0 || pad < 0 || dil <= 0)
    fail(std::string(what) + ": kernel, stride and dilation must be positive, padding >= 0");
  const std::int64_t span = dil * (k - 1) + 1;
  if (size + 2 * pad < span)
    fail(std::string(what) + ": window " + std::to_string(span) + " larger than padded input " +
         std::to_string(size + 2 * pad));
  return (size + 2 * pad - span) / stride + 1;
}

std::vector<std::int64_t> pair_attr(const Node& n, const char* a, std::int64_t dflt) {
  auto v = n.attr_ints(a, {dflt, dflt});
  if (v.size() == 1) v.push_back(v[0]);
  if (v.size() != 2) fail(std::string("attribute ") + a + " must be an int or a pair");
  return v;
}

std::vector<Shape> conv2d(const Node& n, const std::vector<Shape>& in) {
  need_rank(in[0], 4, 4, "data_in_0");
  const Shape w = param_shape(n, "weight");
  if (w.size() != 4) fail("weight must be [out, in/groups, kh, kw], got " + shape_to_string(w));
  const std::int64_t groups = n.attr_int("groups", 1);
  if (groups <= 0 || in[0][1] % groups != 0 || w[0] % groups != 0)
    fail("groups = " + std::to_string(groups) + " must divide in and out channels");
  if (w[1] * groups != in[0][1])
    fail("weight " + shape_to_string(w) + " expects " + std::to_string(w[1] * groups) +
         " input channels, data_in_0 " + shape_to_string(in[0]) + " has " +
         std::to_string(in[0][1]));
  if (const Param* b = n.param("bias"))
    if (b->tensor.shape != Shape{w[0]})
      fail("bias " + shape_to_string(b->tensor.shape) + " must be [" + std::to_string(w[0]) + "]");
  const auto s = pair_attr(n, "stride", 1), p = pair_attr(n, "padding", 0),
             d = pair_attr(n, "dilation", 1);
  return {{in[0][0], w[0], window_out(in[0][2], w[2], s[0], p[0], d[0], "conv2d height"),
           window_out(in[0][3], w[3], s[1], p[1], d[1], "conv2d width")}};
}

std::vector<Shape> pool(const Node& n, const std::vector<Shape>& in) {
  need_rank(in[0], 4, 4, "data_in_0");
  if (!n.has_attr("kernel_size")) fail("attribute kernel_size is required");
  const auto k = pair_attr(n, "kernel_size", 1);
  const auto s = n.has_attr("stride") ? pair_attr(n, "stride", 1) : k;
  const auto p = pair_attr(n, "padding", 0);
  return {{in[0][0], in[0][1], window_out(in[0][2], k[0], s[0], p[0], 1, "pool height"),
           window_out(in[0][3], k[1], s[1], p[1], 1, "pool width")}};
}

std::vector<Shape> eltwise2(const Node& n, const std::vector<Shape>& in) {
  if (in.size() == 1) {
    if (!n.has_attr("scalar")) fail("one input given: attribute scalar is required");
    return {in[0]};
  }
  if (n.has_attr("scalar")) fail("attribute scalar is only allowed with one input");
  return {broadcast(in[0], in[1])};
}

std::vector<Shape> norm(const Node& n, const std::vector<Shape>& in) {
  for (const char* p : {"weight", "bias"})
    if (const Param* w = n.param(p)) {
      const Shape& ws = w->tensor.shape;
      if (ws.size() > in[0].size() || !std::equal(ws.rbegin(), ws.rend(), in[0].rbegin()))
        fail(std::string(p) + " " + shape_to_string(ws) + " does not match the trailing dims of " +
             shape_to_string(in[0]));
    }
  return {in[0]};
}

std::vector<Shape> batch_norm(const Node& n, const std::vector<Shape>& in) {
  need_rank(in[0], 2, 5, "data_in_0");
  for (const auto& p : n.params)
    if (p.tensor.shape != Shape{in[0][1]})
      fail(p.name + " " + shape_to_string(p.tensor.shape) + " must be [" +
           std::to_string(in[0][1]) + "] (channels)");
  return {in[0]};
}

std::vector<Shape> embedding(const Node& n, const std::vector<Shape>& in) {
  const Shape w = param_shape(n, "weight");
  if (w.size() != 2) fail("weight must be [num_embeddings, dim], got " + shape_to_string(w));
  Shape out = in[0];
  out.push_back(w[1]);
  return {out};
}

std::vector<Shape> flatten(const Node& n, const std::vector<Shape>& in) {
  const Shape& s = in[0];
  if (s.empty()) return {s};
  const std::int64_t a = norm_dim(n.attr_int("start_dim", 1), s.size(), "start_dim");
  const std::int64_t b = norm_dim(n.attr_int("end_dim", -1), s.size(), "end_dim");
  if (a > b) fail("start_dim after end_dim");
  Shape out(s.begin(), s.begin() + a);
  std::int64_t prod = 1;
  for (std::int64_t i = a; i <= b; ++i) prod = checked_mul(prod, s[i], "flatten");
  out.push_back(prod);
  out.insert(out.end(), s.begin() + b + 1, s.end());
  return {out};
}

std::vector<Shape> view(const Node& n, const std::vector<Shape>& in) {
  auto it = n.attrs.find("shape");
  if (it == n.attrs.end() || it->second.kind != AttrValue::Kind::List)
    fail("attribute shape (a list) is required");
  const std::int64_t numel = shape_numel(in[0]);
  Shape out;
  int infer = -1;
  std::int64_t known = 1;
  for (const auto& d : it->second.list) {
    if (d.value == -1) {
      if (infer >= 0) fail("attribute shape has more than one -1");
      infer = static_cast<int>(out.size());
      out.push_back(1);
      continue;
    }
    if (d.value <= 0) fail("attribute shape has a non-positive entry " + std::to_string(d.value));
    known = checked_mul(known, d.value, "view shape");
    out.push_back(d.value);
  }
  if (infer >= 0) {
    if (numel % known != 0)
      fail("cannot view " + shape_to_string(in[0]) + " as " + shape_to_string(out));
    out[infer] = numel / known;
  }
  if (shape_numel(out) != numel)
    fail("view changes the number of elements: " + shape_to_string(in[0]) + " -> " +
         shape_to_string(out));
  return {out};
}

std::vector<Shape> permute(const Node& n, const std::vector<Shape>& in) {
  const auto dims = n.attr_ints("dims", {});
  if (dims.size() != in[0].size())
    fail("attribute dims has " + std::to_string(dims.size()) + " entries for rank " +
         std::to_string(in[0].size()));
  Shape out;
  std::vector<bool> seen(dims.size(), false);
  for (auto d : dims) {
    const auto k = norm_dim(d, in[0].size(), "dims");
    if (seen[k]) fail("attribute dims repeats " + std::to_string(d));
    seen[k] = true;
    out.push_back(in[0][k]);
  }
  return {out};
}

std::vector<Shape> transpose(const Node& n, const std::vector<Shape>& in) {
  Shape out = in[0];
  const auto a = norm_dim(n.attr_int("dim0", -2), out.size(), "dim0");
  const auto b = norm_dim(n.attr_int("dim1", -1), out.size(), "dim1");
  std::swap(out[a], out[b]);
  return {out};
}

std::vector<Shape> softmax(const Node& n, const std::vector<Shape>& in) {
  norm_dim(n.attr_int("dim", -1), in[0].size(), "dim");
  return {in[0]};
}

std::vector<Shape> slice(const Node& n, const std::vector<Shape>& in) {
  const std::size_t d =
      static_cast<std::size_t>(norm_dim(n.attr_int("dim", -1), in[0].size(), "dim"));
  const std::int64_t size = in[0][d];
  std::int64_t start = n.attr_int("start", 0), end = n.attr_int("end", size);
  if (start < 0) start += size;
  if (end < 0) end += size;
  if (start < 0 || end > size || start >= end)
    fail("slice [" + std::to_string(n.attr_int("start", 0)) + ", " +
         std::to_string(n.attr_int("end", size)) + ") is empty or outside dim " +
         std::to_string(d) + " of size " + std::to_string(size));
  Shape out = in[0];
  out[d] = end - start;
  return {out};
}

std::vector<Shape> cat(const Node& n, const std::vector<Shape>& in) {
  const std::size_t d =
      static_cast<std::size_t>(norm_dim(n.attr_int("dim", -1), in[0].size(), "dim"));
  Shape out = in[0];
  for (std::size_t k = 1; k < in.size(); ++k) {
    if (in[k].size() != in[0].size())
      fail("data_in_" + std::to_string(k) + " " + shape_to_string(in[k]) +
           " has another rank than data_in_0 " + shape_to_string(in[0]));
    for (std::size_t i = 0; i < in[0].size(); ++i)
      if (i != d && in[k][i] != in[0][i])
        fail("data_in_" + std::to_string(k) + " " + shape_to_string(in[k]) +
             " differs from data_in_0 " + shape_to_string(in[0]) + " outside dim " +
             std::to_string(d));
    out[d] += in[k][d];
  }
  return {out};
}

// KV cache: data_in_0 holds the new keys or values (the step's tokens along `dim`); the
// result is the whole cache of the context (its `dim` is the context length, >= the new
// tokens), which the block reads back from on-chip or off-chip memory.
std::vector<Shape> kv_cache(const Node& n, const std::vector<Shape>& in) {
  const std::size_t d =
      static_cast<std::size_t>(norm_dim(n.attr_int("dim", -1), in[0].size(), "dim"));
  if (n.results.empty() || n.results[0].shape.size() != in[0].size())
    fail("the result must have the rank of data_in_0 " + shape_to_string(in[0]));
  Shape out = in[0];
  out[d] = n.results[0].shape[d];
  if (out[d] < in[0][d])
    fail("the context " + std::to_string(out[d]) + " is shorter than the " +
         std::to_string(in[0][d]) + " new tokens of data_in_0");
  return {out};
}

const std::vector<OpRule>& table() {
  static const std::vector<OpRule> t = [] {
    std::vector<OpRule> v;
    const std::vector<std::string> none;
    v.push_back({"linear", OpClass::Gemm, 1, 1, {"weight", "bias"}, {"weight"}, {}, linear});
    v.push_back({"matmul", OpClass::Gemm, 2, 2, none, none, {}, matmul});
    v.push_back({"bmm", OpClass::Gemm, 2, 2, none, none, {}, bmm});
    v.push_back({"conv2d",
                 OpClass::Conv,
                 1,
                 1,
                 {"weight", "bias"},
                 {"weight"},
                 {"stride", "padding", "dilation", "groups"},
                 conv2d});
    for (const char* e : {"relu", "gelu", "silu", "tanh", "sigmoid"})
      v.push_back({e, OpClass::Elementwise, 1, 1, none, none, {"inplace", "approximate"}, same});
    for (const char* e : {"add", "sub", "mul", "div"})
      v.push_back({e, OpClass::Elementwise, 1, 2, none, none, {"scalar"}, eltwise2});
    v.push_back({"softmax", OpClass::RowReduce, 1, 1, none, none, {"dim"}, softmax});
    v.push_back({"layer_norm",
                 OpClass::RowReduce,
                 1,
                 1,
                 {"weight", "bias"},
                 none,
                 {"normalized_shape", "eps"},
                 norm});
    v.push_back({"batch_norm",
                 OpClass::Elementwise,
                 1,
                 1,
                 {"weight", "bias", "running_mean", "running_var"},
                 none,
                 {"eps", "momentum"},
                 batch_norm});
    v.push_back({"embedding",
                 OpClass::Embedding,
                 1,
                 1,
                 {"weight"},
                 {"weight"},
                 {"padding_idx"},
                 embedding});
    v.push_back({"max_pool2d",
                 OpClass::Pool,
                 1,
                 1,
                 none,
                 none,
                 {"kernel_size", "stride", "padding"},
                 pool});
    v.push_back({"avg_pool2d",
                 OpClass::Pool,
                 1,
                 1,
                 none,
                 none,
                 {"kernel_size", "stride", "padding"},
                 pool});
    v.push_back({"flatten", OpClass::Wire, 1, 1, none, none, {"start_dim", "end_dim"}, flatten});
    v.push_back({"view", OpClass::Wire, 1, 1, none, none, {"shape"}, view});
    v.push_back({"reshape", OpClass::Wire, 1, 1, none, none, {"shape"}, view});
    v.push_back({"dropout", OpClass::Wire, 1, 1, none, none, {"p", "inplace"}, same});
    v.push_back({"contiguous", OpClass::Wire, 1, 1, none, none, {}, same});
    v.push_back({"slice", OpClass::Wire, 1, 1, none, none, {"dim", "start", "end"}, slice});
    v.push_back({"cat", OpClass::Wire, 2, 64, none, none, {"dim"}, cat});
    v.push_back({"kv_cache", OpClass::KvCache, 1, 1, none, none, {"dim"}, kv_cache});
    v.push_back({"permute", OpClass::Reorder, 1, 1, none, none, {"dims"}, permute});
    v.push_back({"transpose", OpClass::Reorder, 1, 1, none, none, {"dim0", "dim1"}, transpose});
    return v;
  }();
  return t;
}

}  // namespace

const OpRule* find_op_rule(const std::string& op) {
  for (const auto& r : table())
    if (r.name == op) return &r;
  return nullptr;
}

std::vector<std::string> op_names() {
  std::vector<std::string> v;
  for (const auto& r : table()) v.push_back(r.name);
  return v;
}

bool is_implicit(OpClass c) {
  return c == OpClass::Wire || c == OpClass::Reorder;
}

}  // namespace masesim
