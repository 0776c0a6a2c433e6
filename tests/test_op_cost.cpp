#include <gtest/gtest.h>

#include <map>

#include "models/hls_blocks.hpp"
#include "models/op_cost.hpp"
#include "workloads/error.hpp"
#include "workloads/graph.hpp"

using namespace masesim;

namespace {
Graph linear_graph(int in, int out, int rows) {
  const std::string t =
      "format: mase-graph\nversion: 1\ninputs: [{name: x, shape: [" + std::to_string(rows) + ", " +
      std::to_string(in) +
      "], precision: {type: fixed, width: 8}}]\nnodes:\n  - name: fc\n    op: linear\n    args: "
      "{data_in_0: x}\n"
      "    params: {weight: {shape: [" +
      std::to_string(out) + ", " + std::to_string(in) +
      "], precision: {type: fixed, width: 8}}}\n    results: {data_out_0: {shape: [" +
      std::to_string(rows) + ", " + std::to_string(out) +
      "], precision: {type: fixed, width: 8}}}\noutputs: [fc]\n";
  return load_graph_text(t, "lin.yaml");
}
NodeHw hw_for(const Graph& g, std::int64_t in_par, std::int64_t out_par) {
  NodeHw hw;
  hw.in.push_back(tile_port(g.inputs[0].tensor.shape, {in_par}));
  hw.out = tile_port(g.nodes[0].results[0].shape, {out_par});
  return hw;
}
}  // namespace

TEST(OpCost, LinearFollowsMaseFixedLinear) {
  const Graph g = linear_graph(64, 32, 1);
  const OpTiming t = op_timing(g, g.nodes[0], hw_for(g, 8, 4));
  EXPECT_EQ(t.rows, 1);
  EXPECT_EQ(t.row_cycles, (64 / 8) * (32 / 4));
  EXPECT_EQ(t.first_out_cycles, 8);
  EXPECT_EQ(t.out_interval_cycles, 8);
  EXPECT_EQ(t.latency_cycles, 3 + 3);  // log2(8) + 3
  EXPECT_EQ(t.macs, 64 * 32);
  EXPECT_EQ(t.macs_per_cycle, 32);
  // MASE: L = (IN/IN_PAR)(OUT/OUT_PAR) + log2(IN_PAR) + 3 = 64 + 3 + 3
  EXPECT_EQ(mase_fixed_linear_latency(64, 8, 32, 4), 70);
}

TEST(OpCost, DoublingParallelismHalvesBusyCycles) {
  const Graph g = linear_graph(256, 256, 16);
  const auto base = op_timing(g, g.nodes[0], hw_for(g, 8, 8)).ideal_cycles();
  EXPECT_EQ(base, 16 * 32 * 32);
  EXPECT_EQ(op_timing(g, g.nodes[0], hw_for(g, 16, 8)).ideal_cycles(), base / 2);
  EXPECT_EQ(op_timing(g, g.nodes[0], hw_for(g, 8, 16)).ideal_cycles(), base / 2);
  EXPECT_EQ(op_timing(g, g.nodes[0], hw_for(g, 16, 16)).ideal_cycles(), base / 4);
}

TEST(OpCost, OffChipWeightTraffic) {
  const Graph g = linear_graph(256, 128, 100);
  NodeHw hw = hw_for(g, 16, 8);
  hw.weights_off_chip = true;
  hw.weight_block_rows = 64;
  const OpTiming t = op_timing(g, g.nodes[0], hw);
  EXPECT_EQ(t.weight_tiles, 128 / 8);
  EXPECT_EQ(t.weight_tile_bytes, 256 * 8);  // K x OUT_PAR int8
  EXPECT_EQ(t.block_rows, 64);
  EXPECT_EQ(t.weight_bytes_per_inference, 2 * 256 * 128);  // two passes (100 rows / 64)
}

// The weight schedule's timing with a memory of a fixed 100 ps per fetch, period 10 ps.
// One datapath, tiles of 5 cycles (50 ps): fetch 0 issues at the prefetch slot 0 and
// arrives at 100; tile 0 computes 100..150 (its inputs were ready at 20); fetch 1 issues
// when tile 0 begins (100) and arrives at 200: tile 1 200..250; tile 2 300..350. The
// busiest datapath's 15 cycles from 20 would end at 170: 180 ps of stalls.
TEST(OpCost, WeightScheduleTimes) {
  auto mem = [](time_ps issue, std::int64_t) { return issue + 100; };
  std::vector<OpTiming::WeightTile> s(3, OpTiming::WeightTile{64, 5, 0});
  WeightScheduleTimes w = weight_schedule_times(s, 20, 0, 10, mem);
  EXPECT_EQ(w.done, 350);
  EXPECT_EQ(w.last_begin, 300);
  EXPECT_EQ(w.stall_ps, 180);
  ASSERT_EQ(w.waits.size(), 3u);
  EXPECT_EQ(w.waits[0], (std::pair<time_ps, time_ps>{20, 100}));
  EXPECT_EQ(w.waits[2], (std::pair<time_ps, time_ps>{250, 300}));
  // Compute-bound tiles (20 cycles = 200 ps): only the first fetch is waited for.
  s.assign(3, OpTiming::WeightTile{64, 20, 0});
  w = weight_schedule_times(s, 0, 0, 10, mem);
  EXPECT_EQ(w.done, 100 + 3 * 200);
  EXPECT_EQ(w.stall_ps, 100);
  // Two datapaths, tiles alternating 0, 1, 0, 1 of 5 cycles: fetches issue at 0, 0
  // (datapath 1's buffers are free), then at datapath 0's tile start 100 and datapath 1's
  // 100: all four arrive at 100 or 200, each datapath computes 100..150 and 200..250.
  s = {{64, 5, 0}, {64, 5, 1}, {64, 5, 0}, {64, 5, 1}};
  w = weight_schedule_times(s, 0, 0, 10, mem);
  EXPECT_EQ(w.done, 250);
  EXPECT_EQ(w.stall_ps, 250 - 100);
  EXPECT_EQ(w.waits.size(), 2u);  // datapath 0 only
}

TEST(OpCost, ResourcesDspPacking) {
  EXPECT_DOUBLE_EQ(dsp_per_mac(8, 8), 0.5);
  EXPECT_DOUBLE_EQ(dsp_per_mac(4, 4), 0.0);
  EXPECT_DOUBLE_EQ(dsp_per_mac(16, 16), 1.0);
  EXPECT_DOUBLE_EQ(dsp_per_mac(32, 32), 4.0);  // ceil(32/18) x ceil(32/27)
  EXPECT_DOUBLE_EQ(bram36_for_bits(36864), 1.0);
  EXPECT_DOUBLE_EQ(bram36_for_bits(36865), 2.0);
}

// A node's resources are its HLS block's (models/hls_blocks), with the node's binding:
// linear 64 -> 32 at 8 x 4 lanes is int_linear2d with k_par 8, n_par 4, depths 8 x 8.
TEST(OpCost, ResourcesFollowTheBinding) {
  const Graph g = linear_graph(64, 32, 1);
  NodeHw hw = hw_for(g, 8, 4);
  const OpTiming t = op_timing(g, g.nodes[0], hw);
  HlsLinearParams q;
  q.k_par = 8, q.n_par = 4, q.row_par = 1, q.k_depth = 8, q.n_depth = 8;
  q.bias = false;
  std::map<MulBinding, Resources> by;
  for (const MulBinding b : {MulBinding::HlsDefault, MulBinding::DspPacked, MulBinding::Lut}) {
    hw.binding = q.binding = b;
    const ResourceEstimate e = estimate_node(g, g.nodes[0], hw, t);
    const HlsBlockEstimate h = hls_linear(q);
    EXPECT_DOUBLE_EQ(e.res[Res::lut], h.res[Res::lut]) << mul_binding_name(b);
    EXPECT_DOUBLE_EQ(e.res[Res::ff], h.res[Res::ff]) << mul_binding_name(b);
    EXPECT_DOUBLE_EQ(e.res[Res::dsp], h.res[Res::dsp]) << mul_binding_name(b);
    // 32 weight arrays of 8 x 8 entries: LUTRAM, as in the synthesis data.
    EXPECT_DOUBLE_EQ(e.res[Res::bram36], 0);
    // No bias (int_matmul's loop: no data), and only hls_default is in the data.
    EXPECT_TRUE(e.extrapolated);
    EXPECT_EQ(e.reason.find("binding") != std::string::npos, b != MulBinding::HlsDefault)
        << e.reason;
    by[b] = e.res;
  }
  // hls_default: 0.6872 per multiplier (32) + 0.2483 per output (4), fitted.
  EXPECT_DOUBLE_EQ(by[MulBinding::HlsDefault][Res::dsp], 0.6872 * 32 + 0.2483 * 4);
  // dsp_packed: two int8 products sharing an operand per DSP48E2: k_par x ceil(O / 2).
  EXPECT_DOUBLE_EQ(by[MulBinding::DspPacked][Res::dsp], 8 * 2);
  EXPECT_DOUBLE_EQ(by[MulBinding::Lut][Res::dsp], 0);
  EXPECT_GT(by[MulBinding::Lut][Res::lut], by[MulBinding::HlsDefault][Res::lut]);
  // dsp_packed keeps hls_default's glue per DSP multiplier (docs/resource-model.md).
  EXPECT_DOUBLE_EQ(by[MulBinding::DspPacked][Res::lut], by[MulBinding::HlsDefault][Res::lut]);
}

TEST(OpCost, RowReduceNeedsDividingParallelism) {
  const std::string t = R"(
format: mase-graph
version: 1
inputs: [{name: x, shape: [4, 60], precision: {type: fixed, width: 8}}]
nodes:
  - {name: s, op: softmax, attrs: {dim: -1}, args: {data_in_0: x}, results: {data_out_0: {shape: [4, 60], precision: {type: fixed, width: 8}}}}
outputs: [s]
)";
  const Graph g = load_graph_text(t, "s.yaml");
  NodeHw hw;
  hw.in.push_back(tile_port({4, 60}, {4}));
  hw.out = tile_port({4, 60}, {4});
  const OpTiming ok = op_timing(g, g.nodes[0], hw);
  EXPECT_EQ(ok.rows, 4);
  EXPECT_EQ(ok.row_cycles, 15);
  EXPECT_EQ(largest_divisor_at_most(60, 8), 6);
  EXPECT_EQ(largest_divisor_at_most(6272, 8), 8);
  EXPECT_EQ(largest_divisor_at_most(13, 8), 1);
}

#include "sim/mapping/auto_map.hpp"

TEST(AutoMap, NextDivisorSteps) {
  EXPECT_EQ(masesim::next_divisor(768, 8), 16);
  EXPECT_EQ(masesim::next_divisor(768, 256), 768);    // smallest divisor >= 2 x 256
  EXPECT_EQ(masesim::next_divisor(50272, 32), 1571);  // 50272 = 2^5 x 1571
  EXPECT_EQ(masesim::next_divisor(7, 7), 0);
  EXPECT_EQ(masesim::next_divisor(28, 7), 14);
}
