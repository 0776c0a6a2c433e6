#include "workloads/precision.hpp"

#include <sstream>

#include "workloads/error.hpp"

namespace masesim {

double Precision::bits_per_element() const {
  switch (kind) {
    case PrecisionKind::Fixed:
    case PrecisionKind::Float:
    case PrecisionKind::Minifloat:
      return width;
    case PrecisionKind::BlockFp:
      return width + static_cast<double>(exponent_width) / block_size;
    case PrecisionKind::MxInt:
      return width + 8.0 / block_size;
    case PrecisionKind::MxFp:
      return 1 + exponent_width + mantissa_width + 8.0 / block_size;
  }
  return width;
}

int Precision::mac_operand_bits() const {
  switch (kind) {
    case PrecisionKind::Fixed:
    case PrecisionKind::BlockFp:
    case PrecisionKind::MxInt:
      return width;
    case PrecisionKind::Float:
      return width == 16 ? 11 : (width == 32 ? 24 : 53);  // significand incl. hidden bit
    case PrecisionKind::Minifloat:
      return width - exponent_width;  // sign + mantissa + hidden bit
    case PrecisionKind::MxFp:
      return mantissa_width + 2;
  }
  return width;
}

bool Precision::is_block_format() const {
  return kind == PrecisionKind::BlockFp || kind == PrecisionKind::MxInt ||
         kind == PrecisionKind::MxFp;
}

std::string Precision::type_name() const {
  switch (kind) {
    case PrecisionKind::Fixed:
      return "fixed";
    case PrecisionKind::Float:
      return "float";
    case PrecisionKind::Minifloat:
      return "minifloat";
    case PrecisionKind::BlockFp:
      return "block_fp";
    case PrecisionKind::MxInt:
      return "mxint";
    case PrecisionKind::MxFp:
      return "mxfp";
  }
  return "?";
}

std::string Precision::to_string() const {
  std::ostringstream s;
  s << type_name();
  switch (kind) {
    case PrecisionKind::Fixed:
      s << "(" << width << "," << frac_width << ")";
      break;
    case PrecisionKind::Float:
      s << width;
      break;
    case PrecisionKind::Minifloat:
      s << "(w" << width << ",e" << exponent_width << ")";
      break;
    case PrecisionKind::BlockFp:
      s << "(w" << width << ",e" << exponent_width << ",b" << block_size << ")";
      break;
    case PrecisionKind::MxInt:
      s << "(w" << width << ",b" << block_size << ")";
      break;
    case PrecisionKind::MxFp:
      s << "(e" << exponent_width << "m" << mantissa_width << ",b" << block_size << ")";
      break;
  }
  return s.str();
}

bool Precision::operator==(const Precision& o) const {
  return kind == o.kind && width == o.width && frac_width == o.frac_width &&
         exponent_width == o.exponent_width && exponent_bias == o.exponent_bias &&
         mantissa_width == o.mantissa_width && block_size == o.block_size;
}

namespace {
void check_range(const std::string& where, const char* key, int v, int lo, int hi) {
  if (v < lo || v > hi)
    throw InputError(where + ": precision " + key + " = " + std::to_string(v) +
                     " is out of range (expected " + std::to_string(lo) + ".." +
                     std::to_string(hi) + ")");
}
}  // namespace

void validate_precision(const Precision& p, const std::string& where) {
  switch (p.kind) {
    case PrecisionKind::Fixed:
      check_range(where, "width", p.width, 1, 64);
      check_range(where, "frac_width", p.frac_width, 0, p.width);
      break;
    case PrecisionKind::Float:
      if (p.width != 16 && p.width != 32 && p.width != 64)
        throw InputError(where + ": float width " + std::to_string(p.width) +
                         " is not supported (expected 16, 32 or 64)");
      break;
    case PrecisionKind::Minifloat:
      check_range(where, "width", p.width, 3, 16);
      check_range(where, "exponent_width", p.exponent_width, 1, p.width - 2);
      break;
    case PrecisionKind::BlockFp:
      check_range(where, "width", p.width, 2, 32);
      check_range(where, "exponent_width", p.exponent_width, 1, 16);
      check_range(where, "block_size", p.block_size, 1, 4096);
      break;
    case PrecisionKind::MxInt:
      check_range(where, "width", p.width, 2, 32);
      check_range(where, "block_size", p.block_size, 1, 4096);
      break;
    case PrecisionKind::MxFp:
      check_range(where, "exponent_width", p.exponent_width, 1, 8);
      check_range(where, "mantissa_width", p.mantissa_width, 0, 23);
      check_range(where, "block_size", p.block_size, 1, 4096);
      break;
  }
}

Precision fixed_precision(int width, int frac_width) {
  Precision p;
  p.kind = PrecisionKind::Fixed;
  p.width = width;
  p.frac_width = frac_width;
  return p;
}

}  // namespace masesim
