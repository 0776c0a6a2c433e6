// Node splitting (mapping.split, docs/partitioning.md) through the simulate binary: a
// split linear's throughput against the cycle model by hand, the fan-out and gather
// traffic on the links frame by frame, and the shipped multi-device configs using every
// device.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "sim_harness.hpp"

using masesim::test::run_simulate;
using masesim::test::SimRun;

namespace {

constexpr int kInferences = 8;

// x [16, 64] int8 -> fc (linear 64 -> 64, no bias) -> r (relu) -> host.
const char* const kGraph = masesim::test::kLinearReluGraph;

// Four U250s (250 MHz), each cabled to a switch (two QSFP28 cages, three peers), 8 lanes
// per port (mapping.default_parallelism).
std::string config(const std::string& mapping) {
  return "workload: {graph: g.yaml, inferences: " + std::to_string(kInferences) +
         "}\nsystem:\n  devices: [{count: 4, type: u250}]\n  topology: fully_connected\n  "
         "allow_switch: true\n"
         "mapping:\n  default_parallelism: 8\n" +
         mapping;
}

// Split k ways by `by`; piece j (and its relu) on fpga j, the gather `r` on fpga0 (and
// the row slices, which run on the input's side).
SimRun run_split(int k, const std::string& by) {
  std::string m;
  if (k > 1) {
    m = "  split: [{node: fc, ways: " + std::to_string(k) + ", by: " + by + "}]\n  place: {";
    for (int j = 0; j < k; ++j)
      m += "\"fc@s" + std::to_string(j) + "\": fpga" + std::to_string(j) + ", \"r@s" +
           std::to_string(j) + "\": fpga" + std::to_string(j) + ", \"fc.rows@s" +
           std::to_string(j) + "\": fpga0, ";
    m += "r: fpga0}\n";
  }
  return run_simulate({{"g.yaml", kGraph}, {"c.yaml", config(m)}}, "c.yaml");
}

std::string piece(const std::string& node, int j) {
  return node + "@s" + std::to_string(j);
}

}  // namespace

// The linear's cycle model (MASE fixed_linear): per row N/N_PAR output tiles of K/K_PAR
// cycles, so one inference of 16 rows takes 16 * (64/8) * (64/8) = 1024 cycles, and a
// piece of k keeps 64/k output columns: 16 * (64/k/8) * 8 = 1024/k cycles. Every other
// block is faster (x: 128 beats per inference; a relu piece 16 * 64/k/8 beats; the
// links move 1 KiB in ~0.1 us, well under 1024/k cycles of 4 ns), so the steady-state
// interval is the piece's: throughput = 250 MHz / (1024/k cycles).
// Links per inference: fpga0 -> switch -> fpga j (j >= 1) carries the whole input (16 * 64
// = 1024 bytes, one 1500-byte-MTU Ethernet frame), fpga j -> switch -> fpga0 the piece's
// gathered slice (16 * 64/k bytes, one frame); fpga0's cable carries k-1 of each.
TEST(Split, LinearByColumnsOverTwoAndFourDevicesMatchesTheCycleModel) {
  for (const int k : {1, 2, 4}) {
    const SimRun r = run_split(k, "columns");
    ASSERT_EQ(r.exit_code, 0) << "k=" << k << ": " << r.stderr_text;
    const double cycles = 1024.0 / k;
    EXPECT_DOUBLE_EQ(r.num("throughput_inferences_per_s"), 250e6 / cycles) << "k=" << k;
    EXPECT_EQ(r.num("mapping.devices_used"), k) << "k=" << k;
    EXPECT_EQ(r.num("mapping.split_nodes"), k > 1 ? 1 : 0) << "k=" << k;
    if (k == 1) {
      EXPECT_EQ(r.num("nodes.fc.busy_cycles"), kInferences * cycles);
      continue;
    }
    EXPECT_EQ(r.str("mapping.splits"), "fc: " + std::to_string(k) + " ways by columns");
    EXPECT_EQ(r.str("nodes.r.op"), "cat");  // the gather keeps the chain's last name
    for (int j = 0; j < k; ++j) {
      const std::string dev = "fpga" + std::to_string(j);
      EXPECT_EQ(r.str("nodes." + piece("fc", j) + ".device"), dev);
      EXPECT_EQ(r.str("nodes." + piece("r", j) + ".device"), dev);
      EXPECT_EQ(r.num("nodes." + piece("fc", j) + ".busy_cycles"), kInferences * cycles);
      EXPECT_EQ(r.num("nodes." + piece("fc", j) + ".macs"), kInferences * 16 * 64 * 64 / k);
      if (j == 0) continue;
      EXPECT_EQ(r.num("links.switch->" + dev + ".bytes"), kInferences * 1024);
      EXPECT_EQ(r.num("links.switch->" + dev + ".frames"), kInferences);
      EXPECT_EQ(r.num("links." + dev + "->switch.bytes"), kInferences * 16 * 64 / k);
      EXPECT_EQ(r.num("links." + dev + "->switch.frames"), kInferences);
    }
    EXPECT_EQ(r.num("links.fpga0->switch.bytes"), kInferences * 1024 * (k - 1));
    EXPECT_EQ(r.num("links.fpga0->switch.frames"), kInferences * (k - 1));
    EXPECT_EQ(r.num("links.switch->fpga0.bytes"), kInferences * 16 * 64 / k * (k - 1));
  }
}

// By rows: piece j reads rows [8j, 8j+8) (sliced on fpga0) with the whole weight:
// 8 * (64/8) * (64/8) = 512 cycles per inference; fpga0 -> fpga1 carries the slice
// (8 * 64 = 512 bytes), fpga1 -> fpga0 the piece's rows (512 bytes), one frame each
// (through the switch).
TEST(Split, LinearByRowsHalvesTheRowsAndKeepsTheWeight) {
  const SimRun r = run_split(2, "rows");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_DOUBLE_EQ(r.num("throughput_inferences_per_s"), 250e6 / 512);
  EXPECT_EQ(r.num("nodes.fc@s1.busy_cycles"), kInferences * 512);
  EXPECT_EQ(r.str("nodes.fc.rows@s1.op"), "slice");
  EXPECT_EQ(r.num("links.switch->fpga1.bytes"), kInferences * 512);
  EXPECT_EQ(r.num("links.fpga1->switch.bytes"), kInferences * 512);
  EXPECT_EQ(r.num("links.fpga1->switch.frames"), kInferences);
}

// Pieces are parallel hardware blocks: on one device they already run side by side, so the
// balanced partitioner (a stage takes as long as its slowest block) keeps them together
// when they fit, with the split's throughput (512 cycles per inference); without the split
// it says why it leaves devices idle.
TEST(Split, BalancedPartitionKeepsPiecesThatFitTogether) {
  const SimRun r =
      run_simulate({{"g.yaml", kGraph},
                    {"c.yaml", config("  partition: balanced\n  split: [{node: fc, ways: 2}]\n")}},
                   "c.yaml");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_EQ(r.num("mapping.devices_used"), 1);
  EXPECT_DOUBLE_EQ(r.num("throughput_inferences_per_s"), 250e6 / 512);

  const SimRun one =
      run_simulate({{"g.yaml", kGraph}, {"c.yaml", config("  partition: balanced\n")}}, "c.yaml");
  ASSERT_EQ(one.exit_code, 0) << one.stderr_text;
  EXPECT_EQ(one.num("mapping.devices_used"), 1);
  EXPECT_NE(one.str("mapping.idle_devices_reason").find("3 of 4 devices idle"), std::string::npos)
      << one.str("mapping.idle_devices_reason");
  EXPECT_NE(one.str("mapping.idle_devices_reason").find("node 0 'fc'"), std::string::npos)
      << one.str("mapping.idle_devices_reason");
}

// The shipped 4-device ring: every device holds nodes, and every device sends or receives
// bytes over the ring (a pipeline: the first stage only sends, the last only receives).
TEST(Split, ShippedFourDeviceRingUsesEveryDevice) {
  const std::string src = MASESIM_SOURCE_DIR;
  std::string cfg = masesim::test::read_file(src + "/configs/opt125m_4xu250_ring.yaml");
  const auto at = cfg.find("../workloads/");
  ASSERT_NE(at, std::string::npos);
  cfg.replace(at, 2, src);
  const SimRun r = run_simulate({{"c.yaml", cfg}}, "c.yaml", "--set workload.inferences=2");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_EQ(r.num("mapping.devices_used"), 4);
  std::map<std::string, int> nodes_on;
  for (const auto& [k, v] : r.stats)
    if (k.rfind("nodes.", 0) == 0 && k.size() > 7 && k.compare(k.size() - 7, 7, ".device") == 0)
      ++nodes_on[v];
  EXPECT_EQ(nodes_on.size(), 4u);
  for (int d = 0; d < 4; ++d) {
    const std::string a = "fpga" + std::to_string(d);
    EXPECT_GT(nodes_on["\"" + a + "\""], 0) << a;
    double moved = 0;
    for (const auto& [k, v] : r.stats)
      if (k.rfind("links.", 0) == 0 && k.find(a) != std::string::npos && k.size() > 6 &&
          k.compare(k.size() - 6, 6, ".bytes") == 0)
        moved += std::stod(v);
    EXPECT_GT(moved, 0) << a;
  }
}
