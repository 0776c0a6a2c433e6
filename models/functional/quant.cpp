#include "models/functional/quant.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "workloads/error.hpp"

namespace masesim::fn {
namespace {

/// An element floating-point format: m mantissa bits (no hidden bit), emin the exponent
/// of the smallest normal (subnormals below it share emin), maxf the largest finite.
struct FpFormat {
  int m = 0;
  int emin = 0;
  double maxf = 0;
  bool overflow_to_inf = false;  ///< IEEE float16/32 with round-to-nearest
};

double pow2(int e) {
  return std::ldexp(1.0, e);
}

double round_sm(double s, Rounding r) {  // sign-magnitude operand s >= 0
  return r == Rounding::HalfEven ? std::nearbyint(s) : std::trunc(s);
}
double round_tc(double s, Rounding r) {  // two's complement operand
  return r == Rounding::HalfEven ? std::nearbyint(s) : std::floor(s);
}

/// exponent k with a = f * 2^k, f in [0.5, 1): floor(log2 a) = k - 1. a > 0, finite.
int frexp_exp(double a) {
  int k = 0;
  std::frexp(a, &k);
  return k;
}

double round_fp(double x, const FpFormat& f, Rounding r) {
  if (x == 0 || std::isnan(x)) return x;
  const double a = std::fabs(x);
  double v;
  if (std::isinf(a)) {
    v = (f.overflow_to_inf && r == Rounding::HalfEven) ? a : f.maxf;
  } else {
    const int e = std::max(frexp_exp(a) - 1, f.emin);
    v = std::ldexp(round_sm(std::ldexp(a, f.m - e), r), e - f.m);
    if (v > f.maxf)
      v = (f.overflow_to_inf && r == Rounding::HalfEven) ? std::numeric_limits<double>::infinity()
                                                         : f.maxf;
  }
  return std::copysign(v, x);
}

double ulp_fp(double x, const FpFormat& f) {
  const double a = std::fabs(x);
  const int e = (a == 0 || !std::isfinite(a)) ? f.emin : std::max(frexp_exp(a) - 1, f.emin);
  return pow2(e - f.m);
}

FpFormat minifloat_format(const Precision& p) {
  FpFormat f;
  f.m = p.width - 1 - p.exponent_width;
  const int emax = (1 << p.exponent_width) - 1 - p.exponent_bias;
  f.emin = 1 - p.exponent_bias;
  f.maxf = (2.0 - pow2(-f.m)) * pow2(emax);
  return f;
}

FpFormat float_format(int width) {
  FpFormat f;
  f.overflow_to_inf = true;
  if (width == 16) {
    f.m = 10;
    f.emin = -14;
    f.maxf = 65504.0;
  } else {
    f.m = 23;
    f.emin = -126;
    f.maxf = (2.0 - pow2(-23)) * pow2(127);
  }
  return f;
}

/// OCP MX element format E{e}M{m}: bias 2^(e-1)-1. e >= 5: IEEE-like (top exponent code
/// reserved, E5M2); E4M3: top code used, mantissa all-ones reserved for NaN (max 448);
/// otherwise (FP6 E2M3/E3M2, FP4 E2M1, ...) every code is finite.
FpFormat mx_element_format(int e, int m, int* emax_out) {
  FpFormat f;
  f.m = m;
  const int bias = (1 << (e - 1)) - 1;
  f.emin = 1 - bias;
  int emax;
  if (e >= 5) {
    emax = (1 << e) - 2 - bias;
    f.maxf = (2.0 - pow2(-m)) * pow2(emax);
  } else if (e == 4 && m == 3) {
    emax = (1 << e) - 1 - bias;
    f.maxf = (1.0 + (pow2(m) - 2) / pow2(m)) * pow2(emax);
  } else {
    emax = (1 << e) - 1 - bias;
    f.maxf = (2.0 - pow2(-m)) * pow2(emax);
  }
  *emax_out = emax;
  return f;
}

double quantize_fixed(double x, int width, int frac, Rounding r) {
  if (std::isnan(x)) return 0.0;  // fixed point has no NaN (documented)
  const double lo = -pow2(width - 1), hi = pow2(width - 1) - 1;
  double q = std::isinf(x) ? (x > 0 ? hi : lo) : round_tc(std::ldexp(x, frac), r);
  q = std::min(std::max(q, lo), hi);
  return std::ldexp(q, -frac);
}

double block_max(const double* b, std::size_t n) {
  double m = 0;
  for (std::size_t i = 0; i < n; ++i)
    if (!std::isnan(b[i])) m = std::max(m, std::fabs(b[i]));
  return m;
}

int clampi(int v, int lo, int hi) {
  return std::min(std::max(v, lo), hi);
}

/// Shared exponent of a block for each block format (see docs/functional.md):
/// block_fp: E = floor(log2 max)+1 clamped to the exponent field; values = q·2^(E-(w-1)).
/// mxint/mxfp: X = floor(log2 max) - emax_elem clamped to E8M0's [-127, 127].
struct BlockCtx {
  const Precision& p;
  FpFormat elem;      // mxfp only
  int emax_elem = 0;  // mxfp only (mxint: 0)
  explicit BlockCtx(const Precision& pp) : p(pp) {
    if (p.kind == PrecisionKind::MxFp)
      elem = mx_element_format(p.exponent_width, p.mantissa_width, &emax_elem);
  }
  int shared_exp(double maxabs) const {
    if (p.kind == PrecisionKind::BlockFp) {
      const int bias = (1 << (p.exponent_width - 1)) - 1;
      const int emin = -bias, emax = (1 << p.exponent_width) - 1 - bias;
      if (maxabs == 0) return emin;
      if (!std::isfinite(maxabs)) return emax;
      return clampi(frexp_exp(maxabs), emin, emax);
    }
    if (maxabs == 0) return -127;
    if (!std::isfinite(maxabs)) return 127;
    return clampi(frexp_exp(maxabs) - 1 - emax_elem, -127, 127);
  }
  double quantize(double x, int E, Rounding r) const {
    switch (p.kind) {
      case PrecisionKind::BlockFp: {
        if (std::isnan(x)) return 0.0;
        const int qe = E - (p.width - 1);
        const double qmax = pow2(p.width - 1) - 1;
        const double s = std::fabs(x);
        const double q = std::isinf(s) ? qmax : std::min(round_sm(std::ldexp(s, -qe), r), qmax);
        return std::copysign(std::ldexp(q, qe), x);
      }
      case PrecisionKind::MxInt:
        return quantize_fixed(std::ldexp(x, -E), p.width, p.width - 2, r) * pow2(E);
      case PrecisionKind::MxFp:
        return std::ldexp(round_fp(std::ldexp(x, -E), elem, r), E);
      default:
        return x;
    }
  }
  double quantum(double y, int E) const {
    switch (p.kind) {
      case PrecisionKind::BlockFp:
        return pow2(E - (p.width - 1));
      case PrecisionKind::MxInt:
        return pow2(E - (p.width - 2));
      case PrecisionKind::MxFp:
        return ulp_fp(std::ldexp(y, -E), elem) * pow2(E);
      default:
        return 0;
    }
  }
};

template <typename F>
void for_each_block(std::size_t n, const Shape& shape, int block_size, F&& f) {
  const std::size_t L = shape.empty() ? 1 : static_cast<std::size_t>(shape.back());
  if (L == 0 || n == 0) return;
  const std::size_t bs = static_cast<std::size_t>(block_size);
  for (std::size_t row = 0; row < n; row += L)
    for (std::size_t b = 0; b < L; b += bs) f(row + b, std::min(bs, L - b));
}

void check_size(const std::vector<double>& v, const Shape& shape) {
  const auto n = static_cast<std::size_t>(shape_numel(shape, "quantize"));
  if (v.size() != n)
    throw InputError("quantize: " + std::to_string(v.size()) + " values for shape " +
                     shape_to_string(shape) + " (" + std::to_string(n) + " elements)");
}

}  // namespace

const char* rounding_name(Rounding r) {
  return r == Rounding::HalfEven ? "half_even" : "truncate";
}

Rounding parse_rounding(const std::string& s) {
  if (s == "half_even") return Rounding::HalfEven;
  if (s == "truncate") return Rounding::Truncate;
  throw InputError("unknown rounding mode '" + s + "' (expected half_even or truncate)");
}

double max_finite(const Precision& p) {
  switch (p.kind) {
    case PrecisionKind::Fixed:
      return std::ldexp(pow2(p.width - 1) - 1, -p.frac_width);
    case PrecisionKind::Minifloat:
      return minifloat_format(p).maxf;
    case PrecisionKind::Float:
      return p.width == 64 ? std::numeric_limits<double>::max() : float_format(p.width).maxf;
    default:
      throw InputError("max_finite: " + p.to_string() + " is a block format");
  }
}

double quantize_scalar(double x, const Precision& p, Rounding r) {
  switch (p.kind) {
    case PrecisionKind::Fixed:
      return quantize_fixed(x, p.width, p.frac_width, r);
    case PrecisionKind::Float:
      if (p.width == 64) return x;
      return round_fp(x, float_format(p.width), r);
    case PrecisionKind::Minifloat:
      return round_fp(x, minifloat_format(p), r);
    default:
      throw InputError("quantize_scalar: " + p.to_string() +
                       " is a block format (needs its block)");
  }
}

void quantize(std::vector<double>& v, const Shape& shape, const Precision& p, Rounding r) {
  check_size(v, shape);
  if (!p.is_block_format()) {
    if (p.kind == PrecisionKind::Float && p.width == 64) return;
    for (double& x : v) x = quantize_scalar(x, p, r);
    return;
  }
  const BlockCtx ctx(p);
  for_each_block(v.size(), shape, p.block_size, [&](std::size_t at, std::size_t n) {
    double* b = v.data() + at;
    const int E = ctx.shared_exp(block_max(b, n));
    for (std::size_t i = 0; i < n; ++i) b[i] = ctx.quantize(b[i], E, r);
  });
}

std::vector<double> quantum_of(const std::vector<double>& v, const Shape& shape,
                               const Precision& p) {
  check_size(v, shape);
  std::vector<double> q(v.size());
  switch (p.kind) {
    case PrecisionKind::Fixed:
      std::fill(q.begin(), q.end(), pow2(-p.frac_width));
      return q;
    case PrecisionKind::Float:
      for (std::size_t i = 0; i < v.size(); ++i) {
        if (p.width == 64) {
          const double a = std::fabs(v[i]);
          q[i] =
              a == 0 ? std::numeric_limits<double>::denorm_min() : std::nextafter(a, INFINITY) - a;
        } else {
          q[i] = ulp_fp(v[i], float_format(p.width));
        }
      }
      return q;
    case PrecisionKind::Minifloat:
      for (std::size_t i = 0; i < v.size(); ++i) q[i] = ulp_fp(v[i], minifloat_format(p));
      return q;
    default:
      break;
  }
  const BlockCtx ctx(p);
  for_each_block(v.size(), shape, p.block_size, [&](std::size_t at, std::size_t n) {
    const int E = ctx.shared_exp(block_max(v.data() + at, n));
    for (std::size_t i = 0; i < n; ++i) q[at + i] = ctx.quantum(v[at + i], E);
  });
  return q;
}

}  // namespace masesim::fn
