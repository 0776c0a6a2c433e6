#include "models/resource_model.hpp"

#include <algorithm>
#include <cmath>

#include "models/hls_blocks.hpp"
#include "models/ops/registry.hpp"

namespace masesim {

namespace {

// ---------------------------------------------------------------------------------------
// Fitted constants. Source: shared/calibration/mase-hls-u250 (MASE machop/configs/dse,
// Vitis HLS, xcu250, 4 ns). Fit and errors: bench/resource_fit.py — rows with index % 5
// == 4 held out (20 %), weighted (1/y) non-negative least squares on the other 80 %.
// "held" = mean / max abs % error on the held-out rows.

// int_linear2d.csv, 8192 rows (6554 fitted). P = MACs/cycle = x_row·x_col·w_row,
// O = outputs/beat = x_col·w_row, acc = a + b + ceil_log2(x_row·x_row_depth),
// m = 1 when the multiplier is in a DSP (else LUT), a/b = x/w multiplier widths.
// DSP (HLS, unpacked) = m·(0.6872·P + 0.2483·O)            held 11.0 % / 62 %
// LUT = 344.7 + m·(0.5914 + 15.89·P) + 2.611·P·(a+b) + 1.62·O·acc
//       + (1−m)·P·(5.953 + 3.618·a·b)                        held  9.6 % / 44 %
// FF  = 40.47 + m·(125.4 + 17.3·P) + 0.4691·P·(a+b) + 0.5852·O·acc
//       + 1.601·(input tile bits of x and w)                 held 16.5 % / 64 %
constexpr double kLinDspPerMac = 0.6872, kLinDspPerOut = 0.2483;
constexpr double kLinLut0 = 344.7, kLinLutDsp = 0.5914, kLinLutDspPerMac = 15.89,
                 kLinLutPerMacBit = 2.611, kLinLutPerAccBit = 1.62, kLinLutLmulPerMac = 5.953,
                 kLinLutLmulPerBit2 = 3.618;
constexpr double kLinFf0 = 40.47, kLinFfDsp = 125.4, kLinFfDspPerMac = 17.3,
                 kLinFfPerMacBit = 0.4691, kLinFfPerAccBit = 0.5852, kLinFfPerInBit = 1.601;
// LUT multipliers beyond the data's range (a·b > 4 in LUTs, Packed mapping only): one LUT
// per partial-product bit (first principles: an AND + full-adder cell per bit maps to one
// LUT6 with the carry chain).
constexpr double kLutPerPartialProductBit = 1.0;

// int_relu.csv, 512 rows (410 fitted). L = lanes, a = width (data bits = a−1).
// LUT = 94.15 + 0.9743·L·(a−1)   held 5.6 % / 50 %;  FF = 10.46 + 1.032·L·(a−1)  held 2.6 % / 11 %
constexpr double kReluLut0 = 94.15, kReluLutPerBit = 0.9743, kReluFf0 = 10.46,
                 kReluFfPerBit = 1.032;

// int_add.csv, 4096 rows (3277 fitted). w = max(a, b).
// LUT = 100.2 + 9.923·L + 0.7525·L·w   held 2.9 % / 15 %;  FF = 12 + L·(1 + w)  held 0 % (exact)
constexpr double kAddLut0 = 100.2, kAddLutPerLane = 9.923, kAddLutPerBit = 0.7525;
constexpr double kAddFf0 = 12, kAddFfPerLane = 1, kAddFfPerBit = 1;

// int_mult.csv, 4096 rows (3277 fitted); HLS keeps ≤8-bit element-wise products in LUTs.
// LUT = 100.3 + 0.04703·L·a·b + 2.296·L·(a+b)   held 17.4 % / 65 %
// FF  = 11.48 + 0.1248·L·a·b + 0.8338·L·(a+b)   held 14.6 % / 63 %
constexpr double kMulLut0 = 100.3, kMulLutPerBit2 = 0.04703, kMulLutPerBit = 2.296;
constexpr double kMulFf0 = 11.48, kMulFfPerBit2 = 0.1248, kMulFfPerBit = 0.8338;

// int_softmax.csv, 512 rows (410 fitted). L = x_row·x_col lanes, R = x_col rows per beat.
// LUT = 297.6 + 27.8·L·a + 7.471·R·a   held 9.8 % / 24 %
// FF  = 49.66 + 32.04·L·a + 5.928·R·a  held 10.7 % / 22 %
constexpr double kSmLut0 = 297.6, kSmLutPerLaneBit = 27.8, kSmLutPerRowBit = 7.471;
constexpr double kSmFf0 = 49.66, kSmFfPerLaneBit = 32.04, kSmFfPerRowBit = 5.928;

// int_layernorm.csv, 512 rows (410 fitted). m = 1 when a ≥ 4 (one DSP multiplier per lane).
// DSP = 1.041·m·L                                                 held  4.0 % / 22 %
// LUT = 954.9 + 1115·R + 50.81·R·a + 29.04·L·a + 5.897·(1−m)·L·a²  held 11.7 % / 32 %
// FF  = 327.1 + 117.9·R + 82.96·R·a + 27.56·L·a + 15.34·m·L·a      held 12.6 % / 30 %
constexpr double kLnDspPerLane = 1.041;
constexpr double kLnLut0 = 954.9, kLnLutPerRow = 1115, kLnLutPerRowBit = 50.81,
                 kLnLutPerLaneBit = 29.04, kLnLutLmulPerLaneBit2 = 5.897;
constexpr double kLnFf0 = 327.1, kLnFfPerRow = 117.9, kLnFfPerRowBit = 82.96,
                 kLnFfPerLaneBit = 27.56, kLnFfDspPerLaneBit = 15.34;

// int_transpose.csv (= buffer.csv, byte-identical), 512 rows (410 fitted), tensors of
// 8×8 tiles. LUT = 373.1 + 38.71·L + 1.054·L·a  held 1.1 % / 3.8 %
//            FF  = 43.71 + 0.4855·L + 1.053·L·a  held 9.4 % / 26 %
constexpr double kTrLut0 = 373.1, kTrLutPerLane = 38.71, kTrLutPerBit = 1.054;
constexpr double kTrFf0 = 43.71, kTrFfPerLane = 0.4855, kTrFfPerBit = 1.053;

// fork.csv, 5120 rows (4096 fitted): LUT = 82 + 9·fork_num, FF = 10, independent of
// width and tile (exact on all rows: the data path is wires, only handshakes cost).
constexpr double kForkLut0 = 82, kForkLutPerOut = 9, kForkFf = 10;

// ---------------------------------------------------------------------------------------
// First-principles constants (not fitted).
constexpr double kUramThresholdBits = 8.0 * 64 * 1024;  // > 64 KiB → URAM (as op_cost.cpp)
// U250 totals (DS962): LUT 1,728,000; FF 3,456,000; DSP 12,288; BRAM36 2,688; URAM 1,280.
constexpr double kU250Lut = 1728000, kU250Dsp = 12288, kU250Bram = 2688, kU250Uram = 1280;

double clog2(double x) {
  return x <= 1 ? 0 : std::ceil(std::log2(x) - 1e-12);
}

/// LUTs of a W-bit barrel shifter with S stages: 2:1 mux per bit and stage, two stages
/// per LUT6 (a 4:1 mux fits one LUT6).
double shifter_luts(double width, double stages) {
  return width * std::ceil(stages / 2.0);
}

/// Vitis HLS's DSP binding observed in the data: a multiplier goes to a DSP unless an
/// operand is 1 bit or the product has at most 4 bits.
bool hls_uses_dsp(int a, int b) {
  return !(a <= 1 || b <= 1 || a * b <= 4);
}

int elem_bits(const Precision& p) {
  return static_cast<int>(std::ceil(p.bits_per_element()));
}

/// Per-lane extra logic of a non-fixed element-wise add/compare/normalise of width `p`
/// significand bits: align + normalise shifters, leading-zero count, exponent logic.
Resources float_add_lane(int p, int e) {
  Resources r;
  const double w = p + 3;  // guard, round, sticky
  r[Res::lut] = 2 * shifter_luts(w, clog2(w)) + w + 2.0 * (e + 1);
  r[Res::ff] = w + e;
  return r;
}

}  // namespace

/// DSP48E2 tiles of one unpacked a×b multiplier (27×18, UG579).
double dsp_tiles(int a, int b) {
  const int lo = std::min(a, b), hi = std::max(a, b);
  if (lo <= 18 && hi <= 27) return 1;
  return std::ceil(lo / 18.0) * std::ceil(hi / 27.0);
}

int float_exp_bits(const Precision& p) {
  switch (p.kind) {
    case PrecisionKind::Float:
      return p.width == 16 ? 5 : (p.width == 32 ? 8 : 11);
    case PrecisionKind::Minifloat:
    case PrecisionKind::MxFp:
      return p.exponent_width;
    default:
      return 0;
  }
}
int shared_exp_bits(const Precision& p) {
  switch (p.kind) {
    case PrecisionKind::BlockFp:
      return p.exponent_width;
    case PrecisionKind::MxInt:
    case PrecisionKind::MxFp:
      return 8;  // E8M0 scale (OCP MX)
    default:
      return 0;
  }
}

// ---------------------------------------------------------------------------------------
Resources buffer_resources(double bits) {
  Resources r;
  if (bits <= 0) return r;
  if (bits > kUramThresholdBits)
    r[Res::uram] = uram_for_bits(bits);
  else
    r[Res::bram36] = bram36_for_bits(bits);
  return r;
}

double lut_equivalent(const Resources& r) {
  return r[Res::lut] + 0.5 * r[Res::ff] + r[Res::dsp] * (kU250Lut / kU250Dsp) +
         r[Res::bram36] * (kU250Lut / kU250Bram) + r[Res::uram] * (kU250Lut / kU250Uram);
}

double linear_dsp(const LinearShape& s, DspMapping m) {
  const int a = s.x.mac_operand_bits(), b = s.w.mac_operand_bits();
  const double P = static_cast<double>(s.macs_per_cycle());
  const double O = static_cast<double>(s.outputs_per_beat());
  if (m == DspMapping::HlsDefault)
    return hls_uses_dsp(a, b) ? (kLinDspPerMac * P + kLinDspPerOut * O) * dsp_tiles(a, b) : 0.0;
  const double d = dsp_per_mac(a, b);
  if (d == 0.5) {
    // Two products with a shared operand per DSP48E2 (WP487). Outputs of the O-tile that
    // share x (same row) or w (same feature) pair up: ceil(O/2) DSPs per reduction lane.
    return static_cast<double>(s.k_par) * std::ceil(O / 2.0);
  }
  return P * d;
}

Resources format_overhead(const Precision& x, const Precision& w, std::int64_t reduce_lanes,
                          std::int64_t outputs) {
  Resources r;
  const double K = static_cast<double>(std::max<std::int64_t>(1, reduce_lanes));
  const double O = static_cast<double>(std::max<std::int64_t>(1, outputs));
  const int a = x.mac_operand_bits(), b = w.mac_operand_bits();
  const double p = a + b;  // product width
  const int ee = std::max(float_exp_bits(x), float_exp_bits(w));
  const bool is_float = x.kind == PrecisionKind::Float || w.kind == PrecisionKind::Float;
  double acc = p + clog2(K);
  if (ee > 0) {
    if (is_float) {
      // IEEE float: a floating-point adder per MAC (align, add, normalise, round).
      const Resources add = float_add_lane(static_cast<int>(p), ee);
      r[Res::lut] += K * O * add[Res::lut];
      r[Res::ff] += K * O * add[Res::ff];
    } else {
      // minifloat / MX-FP elements: per MAC an exponent adder and a shift of the product
      // into a fixed-point window of p + 2^(e+1) bits (exact accumulation, Kulisch-style).
      const double window = p + std::pow(2.0, ee + 1);
      r[Res::lut] += K * O * ((ee + 1) + shifter_luts(window, ee + 1));
      r[Res::ff] += K * O * window;
      acc = window + clog2(K);
      // Per output: leading-zero count + normalising shift back to the element format.
      r[Res::lut] += O * (acc + shifter_luts(acc, clog2(acc)));
      r[Res::ff] += O * acc;
    }
  }
  const int se = std::max(shared_exp_bits(x), shared_exp_bits(w));
  if (se > 0) {
    int bs = 4096;
    if (shared_exp_bits(x) > 0) bs = std::min(bs, x.block_size);
    if (shared_exp_bits(w) > 0) bs = std::min(bs, w.block_size);
    const double groups = std::ceil(K / bs);
    // Per output: add the two shared exponents; if a beat spans several blocks, align
    // each block's partial sum (shifter of its width + exponent compare) before the tree.
    r[Res::lut] += O * (se + 1);
    r[Res::ff] += O * (se + 1);
    if (groups > 1) {
      const double ps = p + clog2(std::min<double>(bs, K));
      r[Res::lut] += O * groups * (shifter_luts(ps, clog2(ps)) + (se + 1));
      r[Res::ff] += O * groups * ps;
    }
    // Per output accumulator: align the running sum to the new block exponent.
    r[Res::lut] += O * (shifter_luts(acc, clog2(acc)) + (se + 1));
    r[Res::ff] += O * acc;
  }
  return r;
}

Resources linear_resources(const LinearShape& s, const ResourceOptions& o) {
  Resources r;
  const int a = s.x.mac_operand_bits(), b = s.w.mac_operand_bits();
  const double P = static_cast<double>(s.macs_per_cycle());
  const double O = static_cast<double>(s.outputs_per_beat());
  const double acc =
      a + b + clog2(static_cast<double>(s.k_par * std::max<std::int64_t>(1, s.k_depth)));
  const bool dsp = o.dsp == DspMapping::HlsDefault ? hls_uses_dsp(a, b) : dsp_per_mac(a, b) > 0;
  r[Res::dsp] = linear_dsp(s, o.dsp);
  r[Res::lut] = kLinLut0 + kLinLutPerMacBit * P * (a + b) + kLinLutPerAccBit * O * acc;
  r[Res::ff] = kLinFf0 + kLinFfPerMacBit * P * (a + b) + kLinFfPerAccBit * O * acc +
               kLinFfPerInBit * (static_cast<double>(s.k_par * s.row_par) * elem_bits(s.x) +
                                 static_cast<double>(s.k_par * s.n_par) * elem_bits(s.w));
  if (dsp) {
    r[Res::lut] += kLinLutDsp + kLinLutDspPerMac * P;
    r[Res::ff] += kLinFfDsp + kLinFfDspPerMac * P;
  } else {
    // HLS mapping: the fitted term as is (the data's LUT multipliers: 1×b and 2×2).
    // Packed mapping also puts 3- and 4-bit products in LUTs: beyond a·b = 4 each extra
    // partial-product bit costs kLutPerPartialProductBit (extrapolation, first principles).
    const double ab = static_cast<double>(a) * b;
    const double fitted_ab = o.dsp == DspMapping::HlsDefault ? ab : std::min(ab, 4.0);
    r[Res::lut] += P * (kLinLutLmulPerMac + kLinLutLmulPerBit2 * fitted_ab +
                        kLutPerPartialProductBit * std::max(0.0, ab - fitted_ab));
  }
  const Resources f = format_overhead(s.x, s.w, s.k_par, s.n_par * s.row_par);
  r[Res::lut] += f[Res::lut];
  r[Res::ff] += f[Res::ff];
  return r;
}

Resources elementwise_resources(EltwiseKind kind, std::int64_t lanes, const Precision& x,
                                const Precision& y) {
  Resources r;
  const double L = static_cast<double>(std::max<std::int64_t>(1, lanes));
  const int a = x.mac_operand_bits(), b = y.mac_operand_bits();
  const int ax = elem_bits(x);
  const int ee = std::max(float_exp_bits(x), float_exp_bits(y));
  const int se = std::max(shared_exp_bits(x), shared_exp_bits(y));
  auto add_like = [&](int w) {
    r[Res::lut] += kAddLut0 + kAddLutPerLane * L + kAddLutPerBit * L * w;
    r[Res::ff] += kAddFf0 + kAddFfPerLane * L + kAddFfPerBit * L * w;
  };
  auto mul_like = [&](int ma, int mb) {
    const bool in_dsp = std::max(ma, mb) > 8;  // HLS: ≤8-bit element-wise products in LUTs
    r[Res::lut] +=
        kMulLut0 + (in_dsp ? 0.0 : kMulLutPerBit2 * L * ma * mb) + kMulLutPerBit * L * (ma + mb);
    r[Res::ff] +=
        kMulFf0 + (in_dsp ? 0.0 : kMulFfPerBit2 * L * ma * mb) + kMulFfPerBit * L * (ma + mb);
    if (in_dsp) r[Res::dsp] += L * dsp_tiles(ma, mb);  // no shared operand: no packing
  };
  auto relu_like = [&](int w) {
    r[Res::lut] += kReluLut0 + kReluLutPerBit * L * (w - 1);
    r[Res::ff] += kReluFf0 + kReluFfPerBit * L * (w - 1);
  };
  if (kind == EltwiseKind::SignTest) {
    relu_like(ax);
    return r;  // sign test only, for every format
  }
  if (kind == EltwiseKind::AddSub) {
    add_like(std::max(a, b));
    if (ee > 0) {  // float / minifloat / mxfp: align + normalise per lane
      const Resources f = float_add_lane(std::max(a, b), ee);
      r[Res::lut] += L * f[Res::lut];
      r[Res::ff] += L * f[Res::ff];
    } else if (se > 0) {  // block formats: align the two blocks (one shifter per lane)
      r[Res::lut] += L * shifter_luts(std::max(a, b) + 1, clog2(std::max(a, b) + 1)) + (se + 1);
    }
    return r;
  }
  if (kind == EltwiseKind::Mul) {
    mul_like(a, b);
    if (ee > 0 || se > 0) {  // exponent add (per lane or per block) + renormalise
      const int e = std::max(ee, se);
      r[Res::lut] += L * ((e + 1) + shifter_luts(a + b, clog2(a + b)));
      r[Res::ff] += L * (e + 1);
    }
    return r;
  }
  if (kind == EltwiseKind::Div) {
    // Pipelined non-restoring array divider: a stages of an (a+1)-bit add/subtract.
    r[Res::lut] += kAddLut0 + L * a * (a + 1.0);
    r[Res::ff] += kAddFf0 + L * a * (a + 1.0);
    return r;
  }
  if (kind == EltwiseKind::Affine) {  // per-channel scale and shift
    mul_like(a, a);
    add_like(2 * a);
    return r;
  }
  // gelu, silu, tanh, sigmoid: a lookup table for ≤10-bit inputs (2^a × a-bit ROM in LUT6
  // = 64×1 bit each), else a 16-segment piecewise-linear approximation (one multiplier,
  // 16-entry coefficient ROM, segment compare).
  relu_like(ax);
  if (a <= 10) {
    r[Res::lut] += L * a * std::ceil(std::pow(2.0, a) / 64.0);
  } else {
    r[Res::dsp] += L * dsp_tiles(a, a);
    r[Res::lut] += L * (4.0 * a + 2.0 * a);
    r[Res::ff] += L * 3.0 * a;
  }
  return r;
}

Resources layernorm_resources(const TileShape& t, const Precision& x) {
  Resources r;
  const double L = static_cast<double>(t.lanes()), R = static_cast<double>(t.col);
  const double a = x.mac_operand_bits();
  const bool dsp = a >= 4;
  r[Res::dsp] = dsp ? kLnDspPerLane * L * dsp_tiles(static_cast<int>(a), static_cast<int>(a)) : 0;
  r[Res::lut] = kLnLut0 + kLnLutPerRow * R + kLnLutPerRowBit * R * a + kLnLutPerLaneBit * L * a +
                (dsp ? 0.0 : kLnLutLmulPerLaneBit2 * L * a * a);
  r[Res::ff] = kLnFf0 + kLnFfPerRow * R + kLnFfPerRowBit * R * a + kLnFfPerLaneBit * L * a +
               (dsp ? kLnFfDspPerLaneBit * L * a : 0.0);
  const int ee = std::max(float_exp_bits(x), shared_exp_bits(x));
  if (ee > 0) {  // convert in/out of the format per lane (align / normalise)
    const Resources f = float_add_lane(static_cast<int>(a), ee);
    r[Res::lut] += L * f[Res::lut];
    r[Res::ff] += L * f[Res::ff];
  }
  return r;
}

Resources softmax_resources(const TileShape& t, const Precision& x) {
  Resources r;
  const double L = static_cast<double>(t.lanes()), R = static_cast<double>(t.col);
  const double a = x.mac_operand_bits();
  r[Res::lut] = kSmLut0 + kSmLutPerLaneBit * L * a + kSmLutPerRowBit * R * a;
  r[Res::ff] = kSmFf0 + kSmFfPerLaneBit * L * a + kSmFfPerRowBit * R * a;
  const int ee = std::max(float_exp_bits(x), shared_exp_bits(x));
  if (ee > 0) {
    const Resources f = float_add_lane(static_cast<int>(a), ee);
    r[Res::lut] += L * f[Res::lut];
    r[Res::ff] += L * f[Res::ff];
  }
  return r;
}

Resources transpose_resources(const TileShape& t, const Precision& x) {
  Resources r;
  const double L = static_cast<double>(t.lanes());
  const double a = elem_bits(x);
  r[Res::lut] = kTrLut0 + kTrLutPerLane * L + kTrLutPerBit * L * a;
  r[Res::ff] = kTrFf0 + kTrFfPerLane * L + kTrFfPerBit * L * a;
  r += buffer_resources(2.0 * static_cast<double>(t.elems()) * x.bits_per_element());
  return r;
}

Resources fork_resources(std::int64_t fork_num, double buffer_bits) {
  Resources r;
  r[Res::lut] = kForkLut0 + kForkLutPerOut * static_cast<double>(fork_num);
  r[Res::ff] = kForkFf;
  r += buffer_resources(buffer_bits);
  return r;
}

// ---------------------------------------------------------------------------------------
TileShape tile_of(const Shape& shape, const PortTiling& pt) {
  TileShape t;
  t.row = pt.tile.empty() ? 1 : pt.tile.back();
  t.col = std::max<std::int64_t>(1, pt.elems_per_beat / std::max<std::int64_t>(1, t.row));
  const std::int64_t last = shape.empty() ? 1 : shape.back();
  t.row_depth = std::max<std::int64_t>(1, last / std::max<std::int64_t>(1, t.row));
  const std::int64_t numel = shape_numel(shape);
  t.col_depth = std::max<std::int64_t>(1, numel / std::max<std::int64_t>(1, last * t.col));
  return t;
}

double tensor_bits(const Tensor& t) {
  return static_cast<double>(t.numel()) * t.precision.bits_per_element();
}

Resources handshake_resources(std::int64_t lanes, double bits) {
  Resources r;
  r[Res::lut] = kForkLut0 + static_cast<double>(lanes);
  r[Res::ff] = kForkFf + static_cast<double>(lanes) * bits;
  return r;
}

namespace {
/// Lanes, widths and binding of a linear-like block from the node's tiling.
HlsLinearParams linear_params(const Graph& g, const Node& n, const NodeHw& hw, const OpTiming& t,
                              bool conv) {
  const Tensor& tin = g.tensor_of(n.args[0]);
  const Param* w = n.param("weight");
  HlsLinearParams q;
  q.x = tin.precision;
  q.w = n.args.size() == 2 ? g.tensor_of(n.args[1]).precision
        : w                ? w->tensor.precision
                           : tin.precision;
  q.binding = hw.binding;
  const std::int64_t lanes_out = hw.out.elems_per_beat;
  const std::int64_t out_last = n.results[0].shape.empty() ? 1 : n.results[0].shape.back();
  if (!conv) {
    q.k_par = hw.in[0].tile.empty() ? 1 : hw.in[0].tile.back();
    q.n_par = hw.out.tile.empty() ? 1 : hw.out.tile.back();
    q.row_par = std::max<std::int64_t>(1, lanes_out / q.n_par);
    q.k_depth = std::max<std::int64_t>(1, tin.shape.back() / q.k_par);
  } else {
    // Channel-parallel MAC array (op_cost.cpp window_timing): U·P_in × P_out lanes (U
    // kernel positions of P_in channels, a group's dot product using at most C_in/groups of
    // the input beat's channels); weights kh·kw·(C_in/groups)/(U·P_in) deep per lane pair,
    // C_out/P_out output groups.
    const std::int64_t cg = w ? w->tensor.shape[1] : hw.in[0].elems_per_beat;
    q.k_par = std::min(hw.in[0].elems_per_beat, cg) * hw.kernel_unroll;  // U window positions
    q.n_par = lanes_out;
    q.row_par = 1;
    const std::int64_t outs = std::max<std::int64_t>(1, n.results[0].numel());
    q.k_depth = std::max<std::int64_t>(1, t.macs / outs / std::max<std::int64_t>(1, q.k_par));
  }
  const std::int64_t n_extent = conv ? n.results[0].shape[1] : out_last;
  q.n_depth = std::max<std::int64_t>(1, n_extent / std::max<std::int64_t>(1, q.n_par));
  q.bias = n.param("bias") != nullptr;
  q.weights_on_chip = w != nullptr && !hw.weights_off_chip;
  return q;
}
}  // namespace

ResourceEstimate mac_block_resources(const Graph& g, const Node& n, const NodeHw& hw,
                                     const OpTiming& t, bool conv) {
  const Tensor& tin = g.tensor_of(n.args[0]);
  const std::int64_t lanes_out = hw.out.elems_per_beat;
  const HlsLinearParams q = linear_params(g, n, hw, t, conv);
  ResourceEstimate r(hls_linear(q), conv ? "conv MAC array (int_linear2d)" : "int_linear2d",
                     hw.uram_per_bram36);
  // Off-chip weights: the double-buffered tile + row buffers (op_cost.cpp's bits).
  if (n.param("weight") && hw.weights_off_chip)
    r += flat_buffer(2.0 * t.weight_tile_bytes * 8.0 +
                         8.0 * t.block_rows * (hw.in[0].elems_per_beat + lanes_out) *
                             std::max<std::int64_t>(1, tin.shape.back() / hw.in[0].elems_per_beat),
                     hw.uram_per_bram36);
  if (n.args.size() == 2)
    r += flat_buffer(2.0 * tensor_bits(g.tensor_of(n.args[1])), hw.uram_per_bram36);
  if (conv)  // line buffer: kh−1−pad input rows + one beat
    r += flat_buffer(static_cast<double>(t.preload_beats[0] + 1) * hw.in[0].elems_per_beat *
                         tin.precision.bits_per_element(),
                     hw.uram_per_bram36);
  return r;
}

ResourceEstimate row_reduce_block_resources(const Graph& g, const Node& n, const NodeHw& hw,
                                            const OpTiming& t, const ResourceEstimate& logic) {
  ResourceEstimate r = logic;
  const Precision& pin = g.tensor_of(n.args[0]).precision;
  const double row_bits =
      static_cast<double>(t.row_cycles) * hw.in[0].elems_per_beat * pin.bits_per_element();
  r += flat_buffer(2.0 * row_bits,
                   hw.uram_per_bram36);      // two passes over a buffered row, double-buffered
  if (const Param* w = n.param("weight")) {  // elementwise affine
    const auto L = hw.out.elems_per_beat;
    r += ResourceEstimate(hls_binary(HlsBinary::Mul, L, pin, w->tensor.precision, hw.binding),
                          "affine int_mult", hw.uram_per_bram36);
    if (n.param("bias"))
      r += ResourceEstimate(hls_binary(HlsBinary::Add, L, pin, w->tensor.precision),
                            "affine int_add", hw.uram_per_bram36);
    r += flat_buffer(tensor_bits(w->tensor) * (n.param("bias") ? 2.0 : 1.0), hw.uram_per_bram36);
  }
  return r;
}

namespace {
HlsActivation activation_of(const std::string& op) {
  if (op == "gelu") return HlsActivation::Gelu;
  if (op == "tanh") return HlsActivation::Tanh;
  if (op == "exp") return HlsActivation::Exp;
  if (op == "silu") return HlsActivation::Silu;
  return HlsActivation::Sigmoid;  // sigmoid and the other exp-and-divide activations
}
}  // namespace

ResourceEstimate elementwise_block_resources(const Graph& g, const Node& n, const NodeHw& hw,
                                             const OpTiming& t, EltwiseKind kind) {
  const Precision& pin = g.tensor_of(n.args[0]).precision;
  const Param* other = n.param("other");
  const Precision& p2 = n.args.size() == 2 ? g.tensor_of(n.args[1]).precision
                        : other            ? other->tensor.precision
                                           : pin;
  const std::int64_t L = hw.out.elems_per_beat;
  ResourceEstimate r;
  switch (kind) {
    case EltwiseKind::SignTest:
      r = ResourceEstimate(hls_activation(HlsActivation::Relu, L, pin), "int_relu",
                           hw.uram_per_bram36);
      break;
    case EltwiseKind::AddSub:
      r = ResourceEstimate(hls_binary(HlsBinary::Add, L, pin, p2), "int_add", hw.uram_per_bram36);
      break;
    case EltwiseKind::Mul:
      r = ResourceEstimate(hls_binary(HlsBinary::Mul, L, pin, p2, hw.binding), "int_mult",
                           hw.uram_per_bram36);
      break;
    case EltwiseKind::Affine:
      r = ResourceEstimate(hls_binary(HlsBinary::Mul, L, pin, pin, hw.binding), "int_mult",
                           hw.uram_per_bram36);
      r += ResourceEstimate(hls_binary(HlsBinary::Add, L, pin, pin), "int_add", hw.uram_per_bram36);
      break;
    case EltwiseKind::Activation: {
      const HlsActivation a = activation_of(n.op);
      r = ResourceEstimate(hls_activation(a, L, pin, hw.binding), n.op, hw.uram_per_bram36);
      if (n.op != "gelu" && n.op != "tanh" && n.op != "exp" && n.op != "silu" && n.op != "sigmoid")
        r.extrapolate(n.op, "no HLS block: costed as sigmoid's exponential and divider");
      break;
    }
    case EltwiseKind::Div:
      r = elementwise_resources(kind, L, pin, p2);
      r.extrapolate(n.op, "no HLS block: first-principles array divider");
      break;
  }
  for (std::size_t p = 0; p < hw.in.size() && p < t.preload_beats.size(); ++p)
    if (t.preload_beats[p] > 0)
      r += flat_buffer(tensor_bits(g.tensor_of(n.args[p])), hw.uram_per_bram36);
  if (!n.params.empty()) {  // per-channel constants (batch_norm) or a constant operand
    double bits = 0;
    for (const auto& prm : n.params) bits += tensor_bits(prm.tensor);
    r += flat_buffer(bits, hw.uram_per_bram36);
  }
  return r;
}

namespace {
HlsRowTile row_tile(const TileShape& t) {
  HlsRowTile h;
  h.row_lanes = t.row;
  h.rows = t.col;
  h.row_depth = t.row_depth;
  h.col_depth = t.col_depth;
  return h;
}
}  // namespace

ResourceEstimate layernorm_estimate(const TileShape& t, const Precision& x, const NodeHw& hw) {
  return ResourceEstimate(hls_norm(HlsNorm::LayerNorm, row_tile(t), x, hw.binding), "int_layernorm",
                          hw.uram_per_bram36);
}
ResourceEstimate rmsnorm_estimate(const TileShape& t, const Precision& x, const NodeHw& hw) {
  return ResourceEstimate(hls_norm(HlsNorm::RmsNorm, row_tile(t), x, hw.binding), "int_rmsnorm",
                          hw.uram_per_bram36);
}
ResourceEstimate rope_estimate(const TileShape& t, const Precision& x, const NodeHw& hw) {
  return ResourceEstimate(hls_rope(row_tile(t), x, hw.binding), "int_rope", hw.uram_per_bram36);
}
ResourceEstimate softmax_estimate(const TileShape& t, const Precision& x, const NodeHw& hw) {
  return ResourceEstimate(hls_softmax(row_tile(t), x), "int_softmax", hw.uram_per_bram36);
}
ResourceEstimate transpose_estimate(const TileShape& t, const Precision& x, const NodeHw& hw) {
  // MASE's int_transpose / buffer holds the whole tensor once: lanes × tiles.
  return ResourceEstimate(hls_buffer(t.lanes(), t.row_depth * t.col_depth, x), "int_transpose",
                          hw.uram_per_bram36);
}

Resources node_resources(const Graph& g, const Node& n, const NodeHw& hw, const OpTiming& t) {
  return node_estimate(g, n, hw, t).res;
}

ResourceEstimate node_estimate(const Graph& g, const Node& n, const NodeHw& hw, const OpTiming& t) {
  if (hw.in.empty()) return ResourceEstimate{};
  return ops::of(n).resources(g, n, hw, t);
}

}  // namespace masesim
