// Unit test of the systolic GEMM cycle/beat model against hand-computed schedules
// (derivations in docs/systolic.md).
#include <gtest/gtest.h>

#include <stdexcept>

#include "gemm_reference.hpp"
#include "systolic_cost.hpp"

namespace ms = masesim::systolic;
using ms::ArrayConfig;
using ms::Dataflow;
using ms::GemmShape;

namespace {
ArrayConfig os(std::uint32_t r, std::uint32_t c) {
  return {r, c, Dataflow::OutputStationary, 32};
}
ArrayConfig ws(std::uint32_t r, std::uint32_t c, std::uint32_t acc = 32) {
  return {r, c, Dataflow::WeightStationary, acc};
}
}  // namespace

TEST(SystolicCost, OutputStationarySingleTile) {
  // 1 wave in cycle 0; PE(0,3) in cycle 4; row ready 5; output register 6 -> 7 cycles.
  EXPECT_EQ(ms::gemm_cycles({1, 1, 1}, os(4, 4)).total_cycles, 7u);
  // K=4 waves (0..3), last wave leaves row 3 at 3 + 3 + 4 + 2 = 12 -> 13 cycles.
  const auto c = ms::gemm_cycles({4, 4, 4}, os(4, 4));
  EXPECT_EQ(c.total_cycles, 13u);
  EXPECT_EQ(c.tiles, 1u);
  EXPECT_EQ(c.steady_cycles, 4u);
  EXPECT_EQ(c.fill_cycles, 5u);
  EXPECT_EQ(c.drain_cycles, 4u);
  EXPECT_EQ(c.stall_cycles, 0u);
  EXPECT_EQ(c.overlap_cycles, 0u);
  EXPECT_DOUBLE_EQ(c.utilisation, 64.0 / (13.0 * 16.0));
}

TEST(SystolicCost, OutputStationaryTiles) {
  // 8x8x8 on 4x4: 4 tiles spaced S = 8: 3*8 + 8 + 4 + 4 + 1.
  EXPECT_EQ(ms::gemm_cycles({8, 8, 8}, os(4, 4)).total_cycles, 41u);
  // 5x3x6: 4 tiles, S = max(3,4,4) = 4, one bubble per tile gap, last tile has 1 row.
  const auto c = ms::gemm_cycles({5, 3, 6}, os(4, 4));
  EXPECT_EQ(c.tiles, 4u);
  EXPECT_EQ(c.stall_cycles, 3u);
  EXPECT_EQ(c.total_cycles, 3u * 4 + 3 + 1 + 4 + 1);
  // OPT-125M q projection at M=4 on 16x16: 48 tiles of K = 768.
  EXPECT_EQ(ms::gemm_cycles({4, 768, 768}, os(16, 16)).total_cycles, 47u * 768 + 768 + 4 + 17);
}

TEST(SystolicCost, WeightStationarySingleTile) {
  // Load rows in cycles 0..3, A rows 4..7, last row out at 7 + 4 + 4 + 1 = 16 -> 17.
  const auto c = ms::gemm_cycles({4, 4, 4}, ws(4, 4));
  EXPECT_EQ(c.total_cycles, 17u);
  EXPECT_EQ(c.tiles, 1u);
  EXPECT_EQ(c.steady_cycles, 4u);
  EXPECT_EQ(c.fill_cycles, 4u);
  EXPECT_EQ(c.drain_cycles, 9u);
  EXPECT_EQ(c.stall_cycles, 0u);
  EXPECT_EQ(c.overlap_cycles, 0u);
  EXPECT_EQ(ms::gemm_cycles({1, 1, 1}, ws(4, 4)).total_cycles, 11u);
}

TEST(SystolicCost, WeightStationaryDoubleBuffering) {
  // 8x8x8 on 4x4: tiles (n0,k0) = (0,0),(0,4),(4,0),(4,4); LS/LE/FS/FE:
  // t0 0/4/4/12, t1 4/8/12/20, t2 12/16/20/28 (waits for t0's bank), t3 20/24/28/36.
  const auto c = ms::gemm_cycles({8, 8, 8}, ws(4, 4));
  EXPECT_EQ(c.tiles, 4u);
  EXPECT_EQ(c.total_cycles, 36u + 9);
  EXPECT_EQ(c.steady_cycles, 32u);
  EXPECT_EQ(c.stall_cycles, 0u);
  // Load bound (M=1 < rows): one tile every 4 cycles after the first load.
  // 1x8x4: t0 0/4/4/5, t1 4/8/8/9 -> 9 + 9.
  EXPECT_EQ(ms::gemm_cycles({1, 8, 4}, ws(4, 4)).total_cycles, 18u);
  // M blocks: 40 rows with acc_rows 32 -> blocks of 32 and 8 rows.
  EXPECT_EQ(ms::gemm_cycles({40, 4, 4}, ws(4, 4)).tiles, 2u);
  // 40x4x4: t0 0/4/4/36, t1 4/8/36/44 -> 44 + 9.
  EXPECT_EQ(ms::gemm_cycles({40, 4, 4}, ws(4, 4)).total_cycles, 53u);
}

TEST(SystolicCost, Beats) {
  const auto o = ms::gemm_beats({5, 3, 6}, os(4, 4));
  EXPECT_EQ(o.a_beats, 4u * 3);
  EXPECT_EQ(o.b_beats, 4u * 3);
  EXPECT_EQ(o.c_beats, 5u * 2);
  EXPECT_EQ(o.a_lanes, 4u);
  const auto w = ms::gemm_beats({40, 9, 6}, ws(4, 4));
  EXPECT_EQ(w.a_beats, 2u * 3 * 40);  // n tiles * k tiles * M
  EXPECT_EQ(w.b_beats, 2u * 2 * 9);   // n tiles * m blocks * K
  EXPECT_EQ(w.c_beats, 40u * 2);
}

TEST(SystolicCost, UtilisationBoundedAndBreakdownConsistent) {
  for (auto df : {Dataflow::OutputStationary, Dataflow::WeightStationary}) {
    for (std::uint32_t r : {1u, 3u, 4u, 16u}) {
      for (std::uint64_t m : {1u, 5u, 64u, 300u}) {
        for (std::uint64_t k : {1u, 7u, 128u}) {
          for (std::uint64_t n : {1u, 17u, 64u}) {
            const ArrayConfig a{r, r + 1, df, 8};
            const auto c = ms::gemm_cycles({m, k, n}, a);
            EXPECT_GT(c.utilisation, 0.0);
            EXPECT_LE(c.utilisation, 1.0);
            EXPECT_EQ(c.steady_cycles + c.fill_cycles + c.drain_cycles + c.stall_cycles,
                      c.total_cycles + c.overlap_cycles);
          }
        }
      }
    }
  }
  // A large square GEMM on OS approaches full utilisation.
  EXPECT_GT(ms::gemm_cycles({1024, 1024, 1024}, os(16, 16)).utilisation, 0.99);
}

TEST(SystolicCost, LargeShapesAreFast) {
  // OPT-125M LM head at M=2048 on a 4x4 WS array: ~50 M weight tiles, evaluated by block.
  const auto c = ms::gemm_cycles({2048, 768, 50272}, ws(4, 4));
  EXPECT_EQ(c.tiles, 12568u * 64 * 192);
  EXPECT_LE(c.utilisation, 1.0);
}

TEST(SystolicCost, RejectsZeroSizes) {
  EXPECT_THROW(ms::gemm_cycles({0, 1, 1}, os(4, 4)), std::invalid_argument);
  EXPECT_THROW(ms::gemm_cycles({1, 1, 1}, os(0, 4)), std::invalid_argument);
  EXPECT_THROW(ms::gemm_beats({1, 0, 1}, ws(4, 4)), std::invalid_argument);
  EXPECT_EQ(ms::dataflow_from_string("ws"), Dataflow::WeightStationary);
  EXPECT_THROW(ms::dataflow_from_string("row_stationary"), std::invalid_argument);
}

TEST(GemmReference, SmallHandExample) {
  // [1 2; 3 4] * [5 6; 7 8] = [19 22; 43 50]; int8 extremes wrap as int32 does not.
  const auto c = ms::gemm_reference({2, 2, 2}, {1, 2, 3, 4}, {5, 6, 7, 8});
  EXPECT_EQ(c, (std::vector<std::int32_t>{19, 22, 43, 50}));
  const auto e = ms::gemm_reference({1, 2, 1}, {-128, -128}, {-128, -128});
  EXPECT_EQ(e[0], 32768);
  EXPECT_THROW(ms::gemm_reference({2, 2, 2}, {1}, {1}), std::invalid_argument);
}
