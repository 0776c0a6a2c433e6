// Shared-engine cost model (models/engine_cost.hpp): tiling, the LD→EX→ST timeline with
// hand-computed times, lowering of graph nodes, the host CPU cost.
#include <gtest/gtest.h>

#include <stdexcept>

#include "models/engine_cost.hpp"

using namespace masesim;
using namespace masesim::engine;

namespace {

CoreConfig small_core(bool double_buffer) {
  CoreConfig c;
  c.gemm_rows = 4;
  c.gemm_cols = 4;
  // Per slot: 32 B input, 32 B weight, 64 B accumulator in both cases.
  const std::int64_t s = double_buffer ? 2 : 1;
  c.input_buffer_bytes = 32 * s;
  c.weight_buffer_bytes = 32 * s;
  c.acc_buffer_bytes = 64 * s;
  c.double_buffer = double_buffer;
  c.load_bytes_per_cycle = 8;
  c.store_bytes_per_cycle = 8;
  return c;
}

GemmWork gemm8() {
  GemmWork w;
  w.m = w.k = w.n = 8;
  return w;  // int8 operands and output
}

// Memory: one byte per cycle (1000 ps), no latency, never contended.
time_ps byte_per_cycle(time_ps issue, std::uint64_t bytes, bool) {
  return issue + static_cast<time_ps>(bytes) * 1000;
}

}  // namespace

TEST(EngineCost, TilePlanFillsBuffersKFirst) {
  const TilePlan p = plan_gemm(gemm8(), small_core(true));
  // k: 8 (1x8 A row = 8 B, 8x4 B tile = 32 B fit); n: 4 (8x8 B = 64 B > 32); m: 32/8 = 4.
  EXPECT_EQ(p.k_t, 8);
  EXPECT_EQ(p.n_t, 4);
  EXPECT_EQ(p.m_t, 4);
  EXPECT_EQ(p.tiles_m, 2);
  EXPECT_EQ(p.tiles_k, 1);
  EXPECT_EQ(p.tiles_n, 2);
  EXPECT_EQ(p.a_tile_bytes, 32);
  EXPECT_EQ(p.b_tile_bytes, 32);
  EXPECT_EQ(p.acc_tile_bytes, 64);
}

TEST(EngineCost, TileThatCannotFitNamesTheBuffer) {
  CoreConfig c = small_core(true);
  c.weight_buffer_bytes = 16;  // 8 B per slot < one 4x4 int8 tile
  try {
    plan_gemm(gemm8(), c);
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(),
                 "weight buffer of 16 bytes cannot hold the smallest KxN tile of 16 bytes (two "
                 "tiles: double buffering)");
  }
}

// Four tiles (n-block outer, m-block inner), 20 cycles each: the loads are exposed.
TEST(EngineCost, TimelineLoadBound) {
  const CoreConfig c = small_core(true);
  CoreTimeline tl(c, 1000, byte_per_cycle);
  const TilePlan p = plan_gemm(gemm8(), c);
  const time_ps end = tl.gemm(gemm8(), p, 0, 0, 0, [](auto, auto, auto) { return 20; });
  // T0: B 0-32, A 32-64, EX 64-84, ST 84-100; T1: A 64-96, EX 96-116, ST 116-132;
  // T2: B 96-128, A 128-160, EX 160-180, ST 180-196; T3: A 160-192, EX 192-212, ST 212-228.
  EXPECT_EQ(end, 228000);
  const CoreCounters& k = tl.counters();
  EXPECT_EQ(k.compute_busy_ps, 80000);
  EXPECT_EQ(k.wait_load_ps, (64 + 12 + 44 + 12) * 1000);
  EXPECT_EQ(k.wait_store_ps, 0);
  EXPECT_EQ(k.loads, 6u);  // B reused across the two m-blocks of each n-block
  EXPECT_EQ(k.bytes_loaded, 192u);
  EXPECT_EQ(k.stores, 4u);
  EXPECT_EQ(k.bytes_stored, 64u);
  EXPECT_EQ(k.macs, 512u);
  EXPECT_EQ(k.gemm_tiles, 4u);
  EXPECT_EQ(k.peak_input_bytes, 64);  // two 32-byte slots
  EXPECT_EQ(k.peak_weight_bytes, 64);
}

// 100-cycle tiles: double buffering hides every load but the first.
TEST(EngineCost, DoubleBufferingHidesLoads) {
  const CoreConfig c = small_core(true);
  CoreTimeline tl(c, 1000, byte_per_cycle);
  const time_ps end =
      tl.gemm(gemm8(), plan_gemm(gemm8(), c), 0, 0, 0, [](auto, auto, auto) { return 100; });
  EXPECT_EQ(end, (64 + 4 * 100 + 16) * 1000);
  EXPECT_EQ(tl.counters().wait_load_ps, 64000);
}

// The same tiles with one slot per buffer: every load waits for the compute before it.
TEST(EngineCost, SingleBufferExposesLoads) {
  const CoreConfig c = small_core(false);
  CoreTimeline tl(c, 1000, byte_per_cycle);
  const time_ps end =
      tl.gemm(gemm8(), plan_gemm(gemm8(), c), 0, 0, 0, [](auto, auto, auto) { return 100; });
  // T0: B 0-32 A 32-64 EX 64-164 ST 164-180; T1: A 164-196 EX 196-296 ST 296-312;
  // T2: B 296-328 A 328-360 EX 360-460 ST 460-476; T3: A 460-492 EX 492-592 ST 592-608.
  EXPECT_EQ(end, 608000);
  EXPECT_EQ(tl.counters().wait_load_ps, (64 + 32 + 64 + 32) * 1000);
}

// The accumulator slot is reused only after its store: with a slow store the compute waits.
TEST(EngineCost, StoreBackPressureIsAWaitForStore) {
  CoreConfig c = small_core(false);
  c.store_bytes_per_cycle = 1;  // 16-byte store = 16 cycles; memory also 1 B/cycle
  CoreTimeline tl(c, 1000, [](time_ps issue, std::uint64_t bytes, bool write) {
    return issue + static_cast<time_ps>(bytes) * (write ? 10000 : 1000);  // stores 10x slower
  });
  GemmWork w = gemm8();
  w.n = 4;  // one n-block: B loaded once, two m-blocks
  const TilePlan p = plan_gemm(w, c);
  ASSERT_EQ(p.tiles(), 2);
  tl.gemm(w, p, 0, 0, 0, [](auto, auto, auto) { return 10; });
  // T0: B 0-32 A 32-64 EX 64-74 ST 74-234; T1: A 74-106 (waits EX of T0), EX waits the
  // accumulator: 234-244 (wait 106..234 is for the store).
  EXPECT_EQ(tl.counters().wait_store_ps, (234 - 106) * 1000);
  EXPECT_EQ(tl.compute_free(), 244000);
}

TEST(EngineCost, VectorChunksAndAluCycles) {
  CoreConfig c;
  c.alu_lanes = 16;
  c.alu_pipeline_cycles = 4;
  c.acc_buffer_bytes = 1024;  // 512 B per slot: 64 outputs with one input each (8 B per pair)
  VectorWork v;
  v.out_elems = 100;
  v.in_elems = 100;
  v.in_bytes = 100;
  v.out_bytes = 100;
  EXPECT_EQ(vector_chunk_elems(v, c), 64);
  EXPECT_EQ(alu_cycles(64, 1, c), 4 + 4);
  EXPECT_EQ(alu_cycles(36, 2, c), 5 + 4);
  CoreTimeline tl(c, 1000, byte_per_cycle);
  const time_ps end = tl.vector(v, 64, 0);
  // Chunk 0: LD 0-64 ALU 64-72 ST 72-136; chunk 1 (36): LD 64-100 (slot 1), ALU 100-107
  // (3 + 4 cycles), ST 136-172 (after the first store).
  EXPECT_EQ(end, 172000);
  EXPECT_EQ(tl.counters().alu_passes, 2u);
}

TEST(EngineCost, HostCpuCostIsTheSlowerOfComputeAndMemory) {
  CpuConfig c;
  c.gemm_macs_per_s = 1e9;
  c.vector_elems_per_s = 1e8;
  c.bytes_per_s = 1e9;
  c.op_overhead_ns = 500;
  Lowering g;
  g.kind = Lowering::Kind::Gemm;
  EXPECT_EQ(cpu_node_ps(g, 2000, 100, c), 2'000'000 + 500'000);  // 2 us compute
  EXPECT_EQ(cpu_node_ps(g, 10, 5000, c), 5'000'000 + 500'000);   // 5 us memory
  Lowering f;
  f.kind = Lowering::Kind::Free;
  EXPECT_EQ(cpu_node_ps(f, 0, 1e6, c), 0);
}

// DFX's matrix unit: 64 lanes of 16-wide dot products. A 1 x 1024 x 1024 GEMV: each lane
// takes 1024 / 16 = 64 cycles per output, 1024 / 64 = 16 outputs per lane: 1,024 cycles
// (1,024 MACs a cycle, no fill); edge tiles round up per dimension.
TEST(EngineCost, DotProductUnitConsumesItsWidthPerLanePerCycle) {
  EXPECT_EQ(masesim::engine::dot_product_cycles(1, 1024, 1024, 16, 64), 1024);
  EXPECT_EQ(masesim::engine::dot_product_cycles(3, 20, 65, 16, 64), 3 * 2 * 2);
  EXPECT_EQ(masesim::engine::dot_product_cycles(128, 16, 64, 16, 64), 128);
}
