// HLS block models (models/hls_blocks.hpp): each block at two parameter points against
// values computed by hand from its primitive counts and the fitted tables (the counts
// and the arithmetic are in the comments), the multiplier-binding switch, the format
// composition, the storage rule, and the extrapolation flag.
#include <gtest/gtest.h>

#include "models/hls_blocks.hpp"
#include "workloads/error.hpp"

using namespace masesim;

namespace {

Precision fx(int w) {
  return fixed_precision(w, 1);
}
Precision bfp(int mantissa, int exp, int block) {
  Precision p;
  p.kind = PrecisionKind::BlockFp;
  p.width = mantissa;
  p.exponent_width = exp;
  p.block_size = block;
  return p;
}
HlsLinearParams linear(std::int64_t k, std::int64_t c, std::int64_t n, int a, int b,
                       MulBinding m = MulBinding::HlsDefault) {
  HlsLinearParams p;
  p.k_par = k;
  p.row_par = c;
  p.n_par = n;
  p.x = fx(a);
  p.w = fx(b);
  p.binding = m;
  return p;
}
HlsRowTile tile(std::int64_t rows, std::int64_t row_lanes) {
  HlsRowTile t;
  t.rows = rows;
  t.row_lanes = row_lanes;
  return t;
}
constexpr double kTol = 1e-6;

}  // namespace

TEST(HlsBlocks, Fork) {
  // proc 1 (LUT 73, FF 10), ports 1 + n (LUT 9): the data's 82 + 9·n exactly.
  EXPECT_NEAR(hls_fork(3).res[Res::lut], 73 + 9 * 4, kTol);
  EXPECT_NEAR(hls_fork(3).res[Res::ff], 10, kTol);
  EXPECT_NEAR(hls_fork(32).res[Res::lut], 73 + 9 * 33, kTol);  // fork.csv: 370
  EXPECT_EQ(hls_fork(32).res[Res::dsp], 0);
}

TEST(HlsBlocks, Relu) {
  // L=16, a=8: proc 18.83 + 2 ports · 37.66 + sel 16·7 · 0.9743 = 203.2716.
  const auto r = hls_activation(HlsActivation::Relu, 16, fx(8)).res;
  EXPECT_NEAR(r[Res::lut], 18.83 + 2 * 37.66 + 0.9743 * 112, kTol);
  EXPECT_NEAR(r[Res::ff], 2.091 + 2 * 4.182 + 1.032 * 112, kTol);
  // L=1, a=1: no value bit, constants only.
  EXPECT_NEAR(hls_activation(HlsActivation::Relu, 1, fx(1)).res[Res::lut], 18.83 + 2 * 37.66, kTol);
}

TEST(HlsBlocks, Add) {
  // L=8, a=4, b=6: adder bits 8·(6+1) = 56.
  auto r = hls_binary(HlsBinary::Add, 8, fx(4), fx(6)).res;
  EXPECT_NEAR(r[Res::lut], 11.06 + 3 * 33.17 + 1.956 * 56, kTol);  // 220.106
  EXPECT_NEAR(r[Res::ff], 1.2 + 3 * 3.6 + 56, kTol);               // 68
  // L=64, a=b=8: 576 adder bits; FF 12 + 576 = 588 as int_add.csv's largest row.
  r = hls_binary(HlsBinary::Sub, 64, fx(8), fx(8)).res;
  EXPECT_NEAR(r[Res::lut], 11.06 + 3 * 33.17 + 1.956 * 576, kTol);
  EXPECT_NEAR(r[Res::ff], 588, kTol);
}

TEST(HlsBlocks, Mult) {
  // L=8, a=4, b=6 in LUTs: partial products 8·24 = 192, operand bits 8·10 = 80.
  auto e = hls_binary(HlsBinary::Mul, 8, fx(4), fx(6));
  EXPECT_NEAR(e.res[Res::lut], 10.03 + 3 * 30.09 + 0.04703 * 192 + 2.296 * 80, kTol);
  EXPECT_NEAR(e.res[Res::ff], 1.148 + 3 * 3.444 + 0.1248 * 192 + 0.8338 * 80, kTol);
  EXPECT_EQ(e.res[Res::dsp], 0);
  EXPECT_FALSE(e.extrapolated);
  // L=4, 12-bit: beyond 8 bits HLS binds DSPs (one per product, no shared operand).
  e = hls_binary(HlsBinary::Mul, 4, fx(12), fx(12));
  EXPECT_NEAR(e.res[Res::lut], 10.03 + 3 * 30.09 + 4 * 3.069, kTol);
  EXPECT_NEAR(e.res[Res::ff], 1.148 + 3 * 3.444 + 4 * 9.208, kTol);
  EXPECT_NEAR(e.res[Res::dsp], 4, kTol);
  EXPECT_TRUE(e.extrapolated);
}

TEST(HlsBlocks, LinearInt8InDsps) {
  // K=4, C=2, N=3, a=b=8: P = 24 DSP multipliers, O = 6 outputs, y = 16 bits; adder bits
  // 6·5·16 = 480, select 96; arrays 12 weights ×64×8 + 6 sums ×8×16 + 3 bias ×8×16 =
  // 7296 bits in 21 arrays.
  const auto e = hls_linear(linear(4, 2, 3, 8, 8));
  EXPECT_NEAR(e.res[Res::lut],
              53.52 + 2 * 107 + 24 * 15.36 + 480 * 1.817 + 7296 * 0.03436 + 21 * 10.26, kTol);
  EXPECT_NEAR(e.res[Res::ff],
              12.41 + 2 * 24.82 + 24 * 22.98 + 480 * 0.551 + 96 * 0.883 + 7296 * 0.02424, kTol);
  EXPECT_NEAR(e.res[Res::dsp], 24 * 0.6872 + 6 * 0.2483, kTol);  // 0.75 DSP per MAC
  EXPECT_EQ(e.res[Res::bram36], 0);
  EXPECT_FALSE(e.extrapolated) << e.reason;
}

TEST(HlsBlocks, MatmulIsLinearWithoutBias) {
  // int_matmul: int_linear2d's loop without the bias add (O·y = 96 adder bits) and the
  // bias arrays (3 × 8 × 16 = 384 bits, 3 arrays).
  HlsLinearParams q = linear(4, 2, 3, 8, 8);
  const Resources lin = hls_linear(q).res;
  q.bias = false;
  const auto mm = hls_linear(q);
  EXPECT_NEAR(lin[Res::lut] - mm.res[Res::lut], 96 * 1.817 + 384 * 0.03436 + 3 * 10.26, kTol);
  EXPECT_NEAR(lin[Res::ff] - mm.res[Res::ff], 96 * 0.551 + 384 * 0.02424, kTol);
  EXPECT_NEAR(mm.res[Res::dsp], lin[Res::dsp], kTol);
  EXPECT_EQ(mm.reason, "no bias (int_matmul: no synthesis data, int_linear2d's constants)");
}

TEST(HlsBlocks, LinearNarrowInLuts) {
  // K=8, C=N=1, a=b=2 (2×2 products stay in LUTs): partial products 32, operand bits 32,
  // adder bits 1·9·4 = 36, select 4, arrays 8×64×2 + 8×4 + 8×4 = 1088 bits in 10.
  const auto r = hls_linear(linear(8, 1, 1, 2, 2)).res;
  EXPECT_NEAR(r[Res::lut], 53.52 + 214 + 3.881 * 32 + 1.817 * 36 + 0.03436 * 1088 + 10.26 * 10,
              kTol);
  EXPECT_NEAR(r[Res::ff], 12.41 + 49.64 + 0.551 * 36 + 0.883 * 4 + 0.02424 * 1088, kTol);
  EXPECT_EQ(r[Res::dsp], 0);
}

TEST(HlsBlocks, BindingSwitchMovesMultipliers) {
  const Resources hls = hls_linear(linear(4, 2, 3, 8, 8)).res;
  // lut: no DSP; the 24 multipliers leave the DSP glue (LUT 15.36, FF 22.98 each) and
  // become 8×8 LUT multipliers, wider than int_linear2d's, at int_mult's constants:
  // 24·64 partial products and 24·16 operand bits.
  const auto lut = hls_linear(linear(4, 2, 3, 8, 8, MulBinding::Lut));
  EXPECT_EQ(lut.res[Res::dsp], 0);
  EXPECT_NEAR(lut.res[Res::lut], hls[Res::lut] - 24 * 15.36 + 1536 * 0.04703 + 384 * 2.296, kTol);
  EXPECT_NEAR(lut.res[Res::ff], hls[Res::ff] - 24 * 22.98 + 1536 * 0.1248 + 384 * 0.8338, kTol);
  // dsp_packed: two int8 MACs per DSP48E2, K·⌈O/2⌉ = 4·3 = 12; the glue is unchanged.
  const auto packed = hls_linear(linear(4, 2, 3, 8, 8, MulBinding::DspPacked));
  EXPECT_NEAR(packed.res[Res::dsp], 12, kTol);
  EXPECT_NEAR(packed.res[Res::lut], hls[Res::lut], kTol);
  // Both are outside the data (hls_default only).
  EXPECT_TRUE(lut.extrapolated);
  EXPECT_NE(packed.reason.find("binding dsp_packed"), std::string::npos) << packed.reason;
  EXPECT_EQ(parse_mul_binding("lut", "k"), MulBinding::Lut);
  try {
    parse_mul_binding("dsp", "sys.yaml: mapping.binding");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(),
                 "sys.yaml: mapping.binding: unknown multiplier binding 'dsp' (expected "
                 "dsp_packed, hls_default or lut)");
  }
}

TEST(HlsBlocks, BlockFormatAddsExponentLogicPerOutput) {
  // block_fp 4-bit mantissa, 8-bit exponent, block 16; K=4, C=1, N=2: mantissa products
  // in LUTs (hls_default for block formats), so the core equals fixed-4 with lut binding.
  // Per output (O=2): exponent add 9 + compare 2·9 + add of yman = 4+2 bits = 33 adder
  // bits; normalise 9·2 + alignment 4·6 = 42 select bits; exponent array 8×9 bits.
  HlsLinearParams q = linear(4, 1, 2, 4, 4);
  q.x = bfp(4, 8, 16);
  q.w = bfp(4, 8, 16);
  const auto e = hls_linear(q);
  const Resources fixed4 = hls_linear(linear(4, 1, 2, 4, 4, MulBinding::Lut)).res;
  EXPECT_NEAR(e.res[Res::lut] - fixed4[Res::lut], 66 * 1.691 + 84 * 0.4844 + 144 * 0.07716, kTol);
  EXPECT_NEAR(e.res[Res::ff] - fixed4[Res::ff], 66 * 0.8647 + 84 * 0.514 + 144 * 0.01965, kTol);
  EXPECT_EQ(e.res[Res::dsp], 0);
  EXPECT_TRUE(e.extrapolated);
  EXPECT_NE(e.reason.find("format block_fp"), std::string::npos) << e.reason;
}

TEST(HlsBlocks, BlockFormatElementwise) {
  // Add of two block_fp blocks (mantissa 4, exponent 8), 4 lanes, per lane: adder bits
  // 6·9 + 3 alignment adders × 6 = 72, select bits 4·6 + 9 + 5·3 = 48.
  const Precision b4 = bfp(4, 8, 16);
  const auto add = hls_binary(HlsBinary::Add, 4, b4, b4);
  const Resources add_fixed = hls_binary(HlsBinary::Add, 4, fx(4), fx(4)).res;
  EXPECT_NEAR(add.res[Res::lut] - add_fixed[Res::lut], 4 * (72 * 1.691 + 48 * 0.4844), kTol);
  EXPECT_TRUE(add.extrapolated);
  // Multiply: per lane 4·9 = 36 adder bits; select 8 + 9 + 9·4 = 53 bits.
  const auto mul = hls_binary(HlsBinary::Mul, 4, b4, b4);
  const Resources mul_fixed = hls_binary(HlsBinary::Mul, 4, fx(4), fx(4)).res;
  EXPECT_NEAR(mul.res[Res::lut] - mul_fixed[Res::lut], 4 * (36 * 1.691 + 53 * 0.4844), kTol);
  EXPECT_NEAR(mul.res[Res::ff] - mul_fixed[Res::ff], 4 * (36 * 0.8647 + 53 * 0.514), kTol);
}

TEST(HlsBlocks, Softmax) {
  // R=2, Kr=4, a=8 (L=8): exp 64 bits, row-sum adder 64 bits, divider 8·15·8 = 960 cells.
  auto r = hls_softmax(tile(2, 4), fx(8)).res;
  EXPECT_NEAR(r[Res::lut], 2 * 18.6 + 6 * 55.79 + 11.1 * 64 + 11.1 * 64 + 0.747 * 960, kTol);
  EXPECT_EQ(r[Res::dsp], 0);
  // R=Kr=1, a=1: one of each.
  r = hls_softmax(tile(1, 1), fx(1)).res;
  EXPECT_NEAR(r[Res::lut], 37.2 + 334.74 + 11.1 + 11.1 + 0.747, kTol);
  EXPECT_NEAR(r[Res::ff], 2 * 4.24 + 6 * 12.72 + 13.81 + 13.81 + 0.6759, kTol);
}

TEST(HlsBlocks, LayerNorm) {
  // R=2, Kr=4, a=8: adder bits 64 + 128 + 192 = 384, 8 DSP squares, / constant 2·64
  // partial products, 2 square roots, divider 8·15·8 = 960 cells.
  auto r = hls_norm(HlsNorm::LayerNorm, tile(2, 4), fx(8)).res;
  EXPECT_NEAR(r[Res::lut],
              3 * 18.7 + 12 * 74.78 + 384 * 1.94 + 8 * 32.57 + 128 * 5.233 + 2 * 1218 + 960 * 1.045,
              kTol);
  EXPECT_NEAR(r[Res::dsp], 8 * 1.041, kTol);
  // R=Kr=1, a=2: squares in LUTs (4 + 4 partial products, 4 operand bits), 12 adder
  // bits, one sqrt, divider 1·3·2 = 6 cells (layernorm.csv: 2236 LUT).
  r = hls_norm(HlsNorm::LayerNorm, tile(1, 1), fx(2)).res;
  EXPECT_NEAR(r[Res::lut], 56.1 + 897.36 + 12 * 1.94 + 8 * 5.233 + 4 * 6.249 + 1218 + 6 * 1.045,
              kTol);
  EXPECT_EQ(r[Res::dsp], 0);
}

TEST(HlsBlocks, RmsNorm) {
  // R=2, Kr=4, a=8: 24 LUT multipliers (1536 + 1024 partial products of / N), 128 adder
  // bits, 1/mean 64 cells, buffered tensor 8 arrays of 64×8.
  auto r = hls_norm(HlsNorm::RmsNorm, tile(2, 4), fx(8)).res;
  EXPECT_NEAR(r[Res::lut], 3 * 21.18 + 4 * 28.25 + 2560 * 0.1724 + 64 * 15.09 + 8 * 1.455, kTol);
  EXPECT_EQ(r[Res::dsp], 0);
  // R=Kr=1, a=4: 48 + 32 partial products, 16 cells, one array.
  r = hls_norm(HlsNorm::RmsNorm, tile(1, 1), fx(4)).res;
  EXPECT_NEAR(r[Res::lut], 63.54 + 113 + 80 * 0.1724 + 16 * 15.09 + 1.455, kTol);
}

TEST(HlsBlocks, Rope) {
  // R=2, Kr=4, a=8: column buffer 2 arrays × 32 × 8 = 512 bits, two 5-level reads per lane
  // (select, LUT constant 0), 16 DSP multipliers (0.5 DSP each), 128 adder bits.
  auto r = hls_rope(tile(2, 4), fx(8)).res;
  EXPECT_NEAR(r[Res::lut], 2 * 19.32 + 6 * 57.97 + 512 * 0.8298 + 128 * 0.2074, kTol);
  EXPECT_NEAR(r[Res::dsp], 8, kTol);
  // R=Kr=1, a=2: 16 buffer bits, 2 LUT multipliers (8 operand bits), 4 adder bits.
  r = hls_rope(tile(1, 1), fx(2)).res;
  EXPECT_NEAR(r[Res::lut], 38.64 + 347.82 + 16 * 0.8298 + 8 * 1.686 + 4 * 0.2074, kTol);
  EXPECT_EQ(r[Res::dsp], 0);
}

TEST(HlsBlocks, BufferAndStorageRule) {
  // L=16, 64 tiles, 8 bits: 8192 bits in 16 LUTRAM arrays; 2 loops, 2 ports.
  auto e = hls_buffer(16, 64, fx(8));
  EXPECT_NEAR(e.res[Res::lut], 4 * 93.29 + 8192 * 0.01648 + 16 * 38.71, kTol);
  EXPECT_FALSE(e.extrapolated);
  EXPECT_NEAR(hls_buffer(1, 64, fx(1)).res[Res::lut], 373.16 + 64 * 0.01648 + 38.71,
              kTol);  // csv: 413
  // 4096 tiles: arrays deeper than 64 entries go to block RAM (group_storage, xcu250):
  // 16 arrays of 4096 × 8 side by side are 4096 × 128 bits: 2 URAM288 (4K × 72) against
  // 15 BRAM36 (4K × 9, 15 columns); 2 < 1280/2688 × 15 = 7.1, so URAM; one per lane
  // would be 16 of either.
  e = hls_buffer(16, 4096, fx(8));
  EXPECT_EQ(e.res[Res::bram36], 0);
  EXPECT_EQ(e.res[Res::uram], 2);
  EXPECT_EQ(e.uram_as_bram36, 15);
  EXPECT_NEAR(e.res[Res::lut], 4 * 93.29, kTol);
  EXPECT_TRUE(e.extrapolated);
  // Without URAM (uram_per_bram36 = 0) the same arrays take 15 BRAM36.
  EXPECT_EQ(group_storage({16, 4096, 8}, 0).bram36, 15);
  // A linear with K = N = 128 (16×16 tiles of 8): 12 weight arrays of 256×8 = 256 × 96
  // bits packed: 2 BRAM36 (512 × 72) against 2 URAM; 2 < 0.476 × 2 fails, so BRAM36.
  HlsLinearParams q = linear(4, 2, 3, 8, 8);
  q.k_depth = q.n_depth = 16;
  EXPECT_EQ(hls_linear(q).res[Res::bram36], 2);
  EXPECT_EQ(hls_linear(q).res[Res::uram], 0);
}

TEST(HlsBlocks, SiluIsExpAndDividerBarelyWidthDependent) {
  // Shared table. a=8: adder bits 8 + 17, exp 16 bits (ap_fixed<16,8>), divider
  // (8 + 9) × 17 = 289 cells.
  const auto e8 = hls_activation(HlsActivation::Silu, 1, fx(8));
  EXPECT_NEAR(e8.res[Res::lut], 90.35 + 2 * 8.704 + 25 * 1.691 + 16 * 23.29 + 289 * 0.7425, kTol);
  EXPECT_NEAR(e8.res[Res::ff], 10.98 + 25 * 0.8647 + 16 * 19.23 + 289 * 1.898, kTol);
  // a=4: 21 adder bits, 13 × 17 = 221 cells: 8 % fewer LUTs for half the width.
  const auto e4 = hls_activation(HlsActivation::Silu, 1, fx(4));
  EXPECT_NEAR(e4.res[Res::lut], 90.35 + 2 * 8.704 + 21 * 1.691 + 16 * 23.29 + 221 * 0.7425, kTol);
  EXPECT_TRUE(e8.extrapolated);  // no synthesis data for SiLU
  EXPECT_NE(e8.reason.find("no synthesis data"), std::string::npos);
  // Sigmoid costs as SiLU, tanh adds an a-bit subtract per lane.
  EXPECT_NEAR(hls_activation(HlsActivation::Sigmoid, 4, fx(8)).res[Res::lut],
              hls_activation(HlsActivation::Silu, 4, fx(8)).res[Res::lut], kTol);
  EXPECT_NEAR(hls_activation(HlsActivation::Tanh, 4, fx(8)).res[Res::lut] -
                  hls_activation(HlsActivation::Sigmoid, 4, fx(8)).res[Res::lut],
              4 * 8 * 1.691, kTol);
}

TEST(HlsBlocks, ExtrapolationFlag) {
  EXPECT_FALSE(hls_linear(linear(8, 4, 4, 8, 8)).extrapolated);
  const auto e = hls_linear(linear(16, 4, 4, 8, 8));
  EXPECT_TRUE(e.extrapolated);
  EXPECT_EQ(e.reason, "k_par 16 (data: 1..8)");
  EXPECT_FALSE(e.validity.empty());
  EXPECT_EQ(hls_linear(linear(4, 1, 1, 9, 8)).reason, "x width 9 (data: 1..8)");
  EXPECT_EQ(hls_binary(HlsBinary::Add, 65, fx(8), fx(8)).reason, "lanes 65 (data: 1..64)");
  EXPECT_FALSE(hls_binary(HlsBinary::Add, 64, fx(8), fx(8)).extrapolated);
  EXPECT_EQ(hls_softmax(tile(9, 1), fx(8)).reason, "rows 9 (data: 1..8)");
  EXPECT_EQ(hls_fork(33).reason, "fork_num 33 (data: 1..32)");
  HlsRowTile deep = tile(1, 8);
  deep.row_depth = 16;
  EXPECT_EQ(hls_norm(HlsNorm::RmsNorm, deep, fx(8)).reason,
            "row_depth 16 (data: 8; storage scales by rule)");
  EXPECT_FALSE(hls_norm(HlsNorm::LayerNorm, deep, fx(8)).extrapolated);  // depth-free
}

// The script's model at its --golden points (bench/resource_fit.py --golden): the C++
// functions and the Python fit use the same counts and constants.
TEST(HlsBlocks, MatchesFitScriptGolden) {
  struct G {
    Resources got;
    double lut, ff, dsp;
  };
  HlsRowTile rt = tile(2, 4);
  const G g[] = {
      {hls_linear(linear(4, 2, 3, 8, 8)).res, 1974.47, 1139.67, 17.9826},
      {hls_linear(linear(8, 1, 1, 2, 2)).res, 597.108, 111.791, 0},
      {hls_activation(HlsActivation::Relu, 16, fx(8)).res, 203.272, 126.039, 0},
      {hls_binary(HlsBinary::Add, 8, fx(4), fx(6)).res, 220.106, 68, 0},
      {hls_binary(HlsBinary::Mul, 8, fx(4), fx(6)).res, 293.01, 102.146, 0},
      {hls_softmax(rt, fx(8)).res, 2509.86, 2501.34, 0},
      {hls_norm(HlsNorm::LayerNorm, rt, fx(8)).res, 6068, 4697.44, 8.328},
      {hls_norm(HlsNorm::RmsNorm, rt, fx(8)).res, 1595.28, 683.1, 0},
      {hls_rope(rt, fx(8)).res, 837.865, 527.58, 8},
      {hls_buffer(16, 64, fx(8)).res, 1127.52, 186.246, 0},
      {hls_fork(3).res, 109, 10, 0},
  };
  for (const auto& x : g) {
    EXPECT_NEAR(x.got[Res::lut], x.lut, 1e-5 * x.lut + 1e-3);
    EXPECT_NEAR(x.got[Res::ff], x.ff, 1e-5 * x.ff + 1e-3);
    EXPECT_NEAR(x.got[Res::dsp], x.dsp, 1e-5 * x.dsp + 1e-4);
  }
}
