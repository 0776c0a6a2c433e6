// Comparing functional results with reference tensors (docs/functional.md).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "models/functional/kernels.hpp"

namespace masesim::fn {

struct CheckReport {
  bool shape_ok = true;
  std::int64_t elements = 0;
  std::int64_t mismatches = 0;  ///< elements with |got - expected| > tol (NaN vs non-NaN too)
  double max_abs_error = 0;
  std::int64_t first_index = -1;  ///< flat row-major index of the first mismatch
  double first_expected = 0, first_got = 0;
  bool ok() const { return shape_ok && mismatches == 0; }
  /// "shape [..] vs [..]" or "N/M mismatching, max abs error E, first at [i,j,..]: expected X got
  /// Y".
  std::string summary(const Shape& shape = {}) const;
};

/// Element-wise comparison with one absolute tolerance (0: bit-exact).
CheckReport compare(const QTensor& got, const QTensor& expected, double tol);
/// Element-wise comparison with a tolerance per element (tol.size() == expected.numel()).
CheckReport compare(const QTensor& got, const QTensor& expected, const std::vector<double>& tol);

/// Row-major multi-index "[i, j, ...]" of flat index `flat` in `shape`.
std::string index_to_string(std::int64_t flat, const Shape& shape);

}  // namespace masesim::fn
