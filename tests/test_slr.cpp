// SLRs through the simulator (docs/devices.md "SLRs"): mapping.slr and system.engines[].slr
// place nodes in named SLRs, the per-SLR ledger and fit check (resources, and stream bits
// across each boundary against its super long lines), and the crossing latency on the
// streams that cross.
//
// Test device "s2" (written here): three SLRs of 500/300/200 LUT, 3 cycles per boundary,
// 64 super long lines per boundary; graph x [4, 16] -> relu a -> relu b (8 lanes of int8:
// 64 bits per beat, 8 beats per inference; one relu block is 149 LUT).
#include <gtest/gtest.h>

#include <cmath>

#include "sim_harness.hpp"

using masesim::test::run_simulate;

namespace {

const std::string kDevice =
    "name: s2\npart: test\nlut: 1000\nff: 2000\ndsp: 100\nbram36: 100\nuram: 0\nslrs:\n"
    "  - {name: SLR0, lut: 500, ff: 1000, dsp: 50, bram36: 50, uram: 0}\n"
    "  - {name: SLR1, lut: 300, ff: 600, dsp: 30, bram36: 30, uram: 0}\n"
    "  - {name: SLR2, lut: 200, ff: 400, dsp: 20, bram36: 20, uram: 0}\n"
    "slr_crossing: {latency_cycles: 3, sll_bits_per_cycle: 64}\nclock_mhz: 250\n"
    "qsfp28_ports: 2\nmemory: {kind: ddr4, channels: 1, gbytes_per_s: 16, latency_ns: 0, "
    "capacity_gbytes: 1}\n";
const std::string kQ = "precision: {type: fixed, width: 8, frac_width: 4}";
const std::string kGraph =
    "format: mase-graph\nversion: 1\ninputs:\n  - {name: x, shape: [4, 16], " + kQ +
    "}\nnodes:\n  - {name: a, op: relu, args: {data_in_0: x}, results: {data_out_0: {shape: [4, "
    "16], " +
    kQ +
    "}}}\n  - {name: b, op: relu, args: {data_in_0: a}, results: {data_out_0: {shape: [4, 16], " +
    kQ + "}}}\noutputs: [b]\n";

masesim::test::SimRun run(const std::string& mapping) {
  return run_simulate(
      {{"s2.yaml", kDevice},
       {"g.yaml", kGraph},
       {"c.yaml",
        "workload: {graph: g.yaml, inferences: 2}\nsystem: {devices: [{name: d0, type: "
        "s2.yaml}]}\nmapping: " +
            mapping + "\n"}},
      "c.yaml");
}

}  // namespace

// a -> b in the same SLR: latency 9 cycles, 18 for two inferences. Across one boundary the
// stream a->b pays 3 cycles, across two 6; the register slices keep its rate, so the
// second inference still follows 9 cycles after the first.
TEST(Slr, ACrossingAddsItsLatencyOnTheStreamThatCrosses) {
  const auto same = run("{slr: {a: SLR0, b: SLR0}}");
  const auto one = run("{slr: {a: SLR0, b: SLR1}}");
  const auto two = run("{slr: {a: SLR0, b: SLR2}}");
  for (const auto* r : {&same, &one, &two}) ASSERT_EQ(r->exit_code, 0) << r->stderr_text;
  EXPECT_EQ(same.num("latency_cycles"), 9);
  EXPECT_EQ(one.num("latency_cycles"), 9 + 3);
  EXPECT_EQ(two.num("latency_cycles"), 9 + 6);
  EXPECT_EQ(two.num("total_cycles") - two.num("latency_cycles"),
            same.num("total_cycles") - same.num("latency_cycles"));
  EXPECT_EQ(same.num("devices.d0.slr_crossings"), 0);
  EXPECT_EQ(two.num("devices.d0.slr_crossings"), 1);
  // 8 int8 lanes = 64 bits on each boundary the stream crosses.
  EXPECT_EQ(two.num("devices.d0.slrs.SLR0.boundary_bits_per_cycle"), 64);
  EXPECT_EQ(two.num("devices.d0.slrs.SLR1.boundary_bits_per_cycle"), 64);
  EXPECT_EQ(one.num("devices.d0.slrs.SLR1.boundary_bits_per_cycle"), 0);
}

TEST(Slr, TheLedgerCountsEachNodeInItsSlr) {
  const auto r = run("{slr: {a: SLR0, b: SLR1}}");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_EQ(r.num("devices.d0.slrs.SLR0.lut.used"), 149);
  EXPECT_EQ(r.num("devices.d0.slrs.SLR1.lut.used"), 149);
  EXPECT_EQ(r.num("devices.d0.slrs.SLR2.lut.used"), 0);
  EXPECT_EQ(r.num("devices.d0.slrs.SLR1.lut.available"), 300);
  EXPECT_EQ(r.num("devices.d0.slr_unplaced_nodes"), 0);
  const auto u = run("{slr: {a: SLR0}}");
  ASSERT_EQ(u.exit_code, 0) << u.stderr_text;
  EXPECT_EQ(u.num("devices.d0.slr_unplaced_nodes"), 1);
  EXPECT_EQ(u.num("devices.d0.resources.lut.used"), 298);  // the device total counts both
}

TEST(Slr, ARegionThatDoesNotFitItsSlrNamesTheSlrAndResource) {
  const auto r = run("{slr: {\"*\": SLR2}}");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.stderr_text.find("device 'd0' (s2) SLR2: lut needs 298 but has 200"),
            std::string::npos)
      << r.stderr_text;
  // 16 lanes = 128 bits across SLR0/SLR1, whose 64 super long lines cannot carry them.
  const auto w = run("{slr: {a: SLR0, b: SLR1}, default_parallelism: 16}");
  EXPECT_EQ(w.exit_code, 2);
  EXPECT_NE(w.stderr_text.find("SLR0/SLR1 boundary: streams need 128 bits per cycle but its "
                               "super long lines carry 64"),
            std::string::npos)
      << w.stderr_text;
}

TEST(Slr, AnSlrNameThatDoesNotExistGivesTheNearestName) {
  const auto r = run("{slr: {b: SLR3}}");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.stderr_text.find("mapping.slr.b (node 'b' on device 'd0'): device type 's2' has "
                               "no SLR 'SLR3' (SLRs: SLR0, SLR1, SLR2) (did you mean"),
            std::string::npos)
      << r.stderr_text;
}

// An engine in an SLR: its resources count there, and a node of the engine cannot be put
// in another SLR.
TEST(Slr, AnEngineLivesInItsSlr) {
  const std::string engine =
      "system:\n  devices: [{name: d0, type: s2.yaml}]\n  engines:\n    - name: e\n      "
      "device: d0\n      slr: SLR1\n      alu: {lanes: 1, ops: [relu]}\n      buffers: "
      "{input_bytes: 1024, weight_bytes: 1024, acc_bytes: 1024}\n";
  auto go = [&](const std::string& mapping) {
    return run_simulate({{"s2.yaml", kDevice},
                         {"g.yaml", kGraph},
                         {"c.yaml", "workload: {graph: g.yaml, inferences: 1}\n" + engine +
                                        "mapping: " + mapping + "\n"}},
                        "c.yaml");
  };
  const auto r = go("{engines: {e: [a, b]}, oversubscribe: true}");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_GT(r.num("devices.d0.slrs.SLR1.lut.used"), 0);
  EXPECT_EQ(r.num("devices.d0.slrs.SLR1.lut.used"), std::ceil(r.num("engines.e.resources.lut")));
  EXPECT_EQ(r.num("devices.d0.slrs.SLR0.lut.used"), 0);
  const auto bad = go("{engines: {e: [a, b]}, slr: {a: SLR0}, oversubscribe: true}");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.stderr_text.find("the node runs on engine 'e', which is in SLR1"),
            std::string::npos)
      << bad.stderr_text;
}
