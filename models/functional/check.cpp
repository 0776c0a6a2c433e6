#include "models/functional/check.hpp"

#include <cmath>
#include <sstream>

#include "workloads/error.hpp"

namespace masesim::fn {

std::string index_to_string(std::int64_t flat, const Shape& shape) {
  std::vector<std::int64_t> idx(shape.size());
  for (std::size_t d = shape.size(); d-- > 0;) {
    idx[d] = shape[d] ? flat % shape[d] : 0;
    flat = shape[d] ? flat / shape[d] : 0;
  }
  std::string s = "[";
  for (std::size_t i = 0; i < idx.size(); ++i) s += (i ? ", " : "") + std::to_string(idx[i]);
  return s + "]";
}

std::string CheckReport::summary(const Shape& shape) const {
  std::ostringstream s;
  s.precision(17);
  if (!shape_ok) return "shapes differ";
  s << mismatches << "/" << elements << " mismatching, max abs error " << max_abs_error;
  if (first_index >= 0)
    s << ", first at "
      << (shape.empty() ? "[" + std::to_string(first_index) + "]"
                        : index_to_string(first_index, shape))
      << ": expected " << first_expected << " got " << first_got;
  return s.str();
}

namespace {
template <typename Tol>
CheckReport compare_impl(const QTensor& got, const QTensor& exp, Tol tol) {
  CheckReport r;
  r.elements = static_cast<std::int64_t>(exp.v.size());
  if (got.shape != exp.shape || got.v.size() != exp.v.size()) {
    r.shape_ok = false;
    return r;
  }
  for (std::size_t i = 0; i < exp.v.size(); ++i) {
    const double a = got.v[i], e = exp.v[i];
    const bool nan = std::isnan(a) || std::isnan(e);
    const double err =
        nan ? (std::isnan(a) && std::isnan(e) ? 0.0 : INFINITY) : (a == e ? 0.0 : std::fabs(a - e));
    if (err > r.max_abs_error) r.max_abs_error = err;
    if (err > tol(i)) {
      if (r.mismatches++ == 0) {
        r.first_index = static_cast<std::int64_t>(i);
        r.first_expected = e;
        r.first_got = a;
      }
    }
  }
  return r;
}
}  // namespace

CheckReport compare(const QTensor& got, const QTensor& expected, double tol) {
  return compare_impl(got, expected, [tol](std::size_t) { return tol; });
}

CheckReport compare(const QTensor& got, const QTensor& expected, const std::vector<double>& tol) {
  if (tol.size() != expected.v.size())
    throw InputError("compare: " + std::to_string(tol.size()) + " tolerances for " +
                     std::to_string(expected.v.size()) + " elements");
  return compare_impl(got, expected, [&tol](std::size_t i) { return tol[i]; });
}

}  // namespace masesim::fn
