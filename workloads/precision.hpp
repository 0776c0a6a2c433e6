// Number formats of MASE (names and keys as in MASE's quantization configs).
#pragma once
#include <cstdint>
#include <string>

namespace masesim {

enum class PrecisionKind { Fixed, Float, Minifloat, BlockFp, MxInt, MxFp };

/// Contract: a Precision built by make_*/validate() has parameters inside the ranges of
/// docs/graph-format.md; bits_per_element() then is positive and finite.
struct Precision {
  PrecisionKind kind = PrecisionKind::Fixed;
  int width = 8;           ///< element width (fixed, float, minifloat, block_fp mantissa, mxint)
  int frac_width = 0;      ///< fixed only
  int exponent_width = 0;  ///< minifloat, block_fp (shared), mxfp (per element)
  int exponent_bias = 0;   ///< minifloat
  int mantissa_width = 0;  ///< mxfp
  int block_size = 1;      ///< block_fp, mxint, mxfp

  /// Storage bits per element, shared exponents amortised over the block.
  double bits_per_element() const;
  /// Bits of the per-element multiplier operand (what a MAC multiplies).
  int mac_operand_bits() const;
  bool is_block_format() const;
  std::string type_name() const;
  std::string to_string() const;
  bool operator==(const Precision& o) const;
};

/// Throws InputError with `where` prefixed when a parameter is out of range.
void validate_precision(const Precision& p, const std::string& where);

Precision fixed_precision(int width, int frac_width);

}  // namespace masesim
