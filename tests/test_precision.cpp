#include <gtest/gtest.h>

#include "workloads/error.hpp"
#include "workloads/precision.hpp"

using namespace masesim;

TEST(Precision, BitsPerElementAmortisesSharedExponents) {
  EXPECT_DOUBLE_EQ(fixed_precision(8, 4).bits_per_element(), 8.0);
  Precision msfp12;
  msfp12.kind = PrecisionKind::BlockFp;
  msfp12.width = 4;
  msfp12.exponent_width = 8;
  msfp12.block_size = 16;
  EXPECT_DOUBLE_EQ(msfp12.bits_per_element(), 4.5);  // 4 + 8/16
  Precision mxint8;
  mxint8.kind = PrecisionKind::MxInt;
  mxint8.width = 8;
  mxint8.block_size = 32;
  EXPECT_DOUBLE_EQ(mxint8.bits_per_element(), 8.25);  // 8 + E8M0/32
  Precision e4m3;
  e4m3.kind = PrecisionKind::MxFp;
  e4m3.exponent_width = 4;
  e4m3.mantissa_width = 3;
  e4m3.block_size = 32;
  EXPECT_DOUBLE_EQ(e4m3.bits_per_element(), 8.25);  // 1+4+3 + 8/32
  Precision h;
  h.kind = PrecisionKind::Float;
  h.width = 16;
  EXPECT_DOUBLE_EQ(h.bits_per_element(), 16.0);
  EXPECT_EQ(h.mac_operand_bits(), 11);
}

TEST(Precision, ValidationNamesTheParameter) {
  try {
    validate_precision(fixed_precision(0, 0), "x");
    FAIL() << "width 0 accepted";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "x: precision width = 0 is out of range (expected 1..64)");
  }
  EXPECT_THROW(validate_precision(fixed_precision(1000, 0), "x"), InputError);
  EXPECT_THROW(validate_precision(fixed_precision(8, 9), "x"), InputError);
  Precision mf;
  mf.kind = PrecisionKind::Minifloat;
  mf.width = 8;
  mf.exponent_width = 7;  // leaves no mantissa bit and no sign: rejected
  EXPECT_THROW(validate_precision(mf, "x"), InputError);
  mf.exponent_width = 4;
  EXPECT_NO_THROW(validate_precision(mf, "x"));
}

TEST(Errors, NearestKeySuggestion) {
  EXPECT_EQ(did_you_mean("inferencs", {"inferences", "graph"}), " (did you mean 'inferences'?)");
  EXPECT_EQ(did_you_mean("zzzzzzzz", {"a", "graph"}), "");
  EXPECT_THROW(checked_mul(std::int64_t{1} << 40, std::int64_t{1} << 30, "s"), InputError);
  EXPECT_EQ(checked_mul(6, 7, "s"), 42);
}
