#include "models/ops/shape_util.hpp"

#include <algorithm>

#include "workloads/error.hpp"

namespace masesim::ops {

void fail_rule(const std::string& msg) {
  throw InputError(msg);
}

std::int64_t norm_dim(std::int64_t d, std::size_t rank, const char* what) {
  const auto r = static_cast<std::int64_t>(rank);
  if (d < -r || d >= r)
    fail_rule(std::string("attribute ") + what + " = " + std::to_string(d) +
              " is out of range for rank " + std::to_string(rank));
  return d < 0 ? d + r : d;
}

void need_rank(const Shape& s, std::size_t lo, std::size_t hi, const char* port) {
  if (s.size() < lo || s.size() > hi)
    fail_rule(std::string(port) + " has rank " + std::to_string(s.size()) + " " +
              shape_to_string(s) + ", expected rank " + std::to_string(lo) +
              (hi != lo ? ".." + std::to_string(hi) : ""));
}

std::vector<Shape> same_shape(const Node&, const std::vector<Shape>& in) {
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
      fail_rule("cannot broadcast " + shape_to_string(a) + " with " + shape_to_string(b));
    out[i] = std::max(da, db);
  }
  return out;
}

std::int64_t window_out(std::int64_t size, std::int64_t k, std::int64_t stride, std::int64_t pad,
                        std::int64_t dil, const char* what) {
  if (k <= 0 || stride <= 0 || pad < 0 || dil <= 0)
    fail_rule(std::string(what) + ": kernel, stride and dilation must be positive, padding >= 0");
  const std::int64_t span = dil * (k - 1) + 1;
  if (size + 2 * pad < span)
    fail_rule(std::string(what) + ": window " + std::to_string(span) +
              " larger than padded input " + std::to_string(size + 2 * pad));
  return (size + 2 * pad - span) / stride + 1;
}

std::vector<std::int64_t> pair_attr(const Node& n, const char* a, std::int64_t dflt) {
  auto v = n.attr_ints(a, {dflt, dflt});
  if (v.size() == 1) v.push_back(v[0]);
  if (v.size() != 2) fail_rule(std::string("attribute ") + a + " must be an int or a pair");
  return v;
}

void check_bias(const Node& n, std::int64_t out) {
  if (const Param* b = n.param("bias"))
    if (b->tensor.shape != Shape{out})
      fail_rule("bias " + shape_to_string(b->tensor.shape) + " must be [" + std::to_string(out) +
                "]");
}

}  // namespace masesim::ops
