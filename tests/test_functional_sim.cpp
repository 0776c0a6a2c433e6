// Functional simulation through the full SystemC system: beats carry their tensors'
// values, every node computes with the hardware arithmetic, and --check-reference compares
// each node with the PyTorch emulation written by scripts/export_graph.py --data
// (the functional_data fixture). Timing must not change with the mode.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include "sim_harness.hpp"

using masesim::test::run_simulate;

namespace {
const std::string kData = MASESIM_FN_DATA;

bool have(const std::string& graph) {
  struct stat st {};
  return stat((kData + "/" + graph + ".json").c_str(), &st) == 0;
}

std::string cfg(const std::string& graph, const std::string& extra = "") {
  return "workload: {graph: " + kData + "/" + graph +
         ".json, inferences: 2}\nsimulation: {mode: functional}\n" + extra;
}
}  // namespace

TEST(FunctionalSim, MnistInt8BitExactAndSameTiming) {
  if (!have("mnist_cnn_int8")) GTEST_SKIP() << "no functional data (python3-torch missing)";
  const auto f = run_simulate({{"c.yaml", cfg("mnist_cnn_int8")}}, "c.yaml", "--check-reference");
  ASSERT_EQ(f.exit_code, 0) << f.stderr_text;
  EXPECT_EQ(f.num("reference_check.nodes"), 9);
  EXPECT_EQ(f.num("reference_check.failing_nodes"), 0);
  EXPECT_EQ(f.num("reference_check.mismatches"), 0);
  EXPECT_EQ(f.num("nodes.fc2.check.elements"), 10);
  EXPECT_EQ(f.num("nodes.conv1.check.elements"), 16 * 28 * 28);
  const auto t =
      run_simulate({{"c.yaml", cfg("mnist_cnn_int8")}}, "c.yaml", "--set simulation.mode=timing");
  ASSERT_EQ(t.exit_code, 0) << t.stderr_text;
  for (const std::string k :
       {"latency_cycles", "total_cycles", "throughput_inferences_per_s",
        "nodes.fc1.stall_in_cycles", "nodes.conv2.stall_out_cycles", "nodes.pool.beats_out"})
    EXPECT_EQ(f.str(k), t.str(k)) << k;
}

TEST(FunctionalSim, OptStyleDecoderInt8AndMsfp12) {
  for (const std::string g : {"opt_tiny_int8", "opt_tiny_msfp12"}) {
    if (!have(g)) GTEST_SKIP() << "no functional data";
    const auto f = run_simulate({{"c.yaml", cfg(g)}}, "c.yaml", "--check-reference");
    ASSERT_EQ(f.exit_code, 0) << g << ": " << f.stderr_text;
    EXPECT_EQ(f.num("reference_check.failing_nodes"), 0) << g;
    EXPECT_GT(f.num("reference_check.nodes"), 40) << g;
  }
}

// Values cross devices through the bridges and links unchanged.
TEST(FunctionalSim, MnistSplitOverTwoDevicesStaysBitExact) {
  if (!have("mnist_cnn_int8")) GTEST_SKIP() << "no functional data";
  const auto f = run_simulate({{"c.yaml", cfg("mnist_cnn_int8",
                                              "system: {devices: [{count: 2, type: u250}]}\n"
                                              "mapping: {place: {\"*fc*\": fpga1}}\n")}},
                              "c.yaml", "--check-reference");
  ASSERT_EQ(f.exit_code, 0) << f.stderr_text;
  EXPECT_EQ(f.num("reference_check.mismatches"), 0);
  EXPECT_GT(f.num("links.fpga0->fpga1.bytes"), 0);
}

// A rounding mode that differs from the reference's: the check names the node and the
// first mismatch, and the run exits 2.
TEST(FunctionalSim, MismatchIsReportedWithNodeAndElement) {
  if (!have("mnist_cnn_int8")) GTEST_SKIP() << "no functional data";
  const auto f = run_simulate(
      {{"c.yaml", cfg("mnist_cnn_int8", "simulation: {mode: functional, rounding: truncate}\n")}},
      "c.yaml", "--check-reference");
  EXPECT_EQ(f.exit_code, 2) << f.stderr_text;
  EXPECT_NE(f.stderr_text.find("reference check failed"), std::string::npos) << f.stderr_text;
  EXPECT_NE(f.stderr_text.find("first at ["), std::string::npos) << f.stderr_text;
  EXPECT_NE(f.stderr_text.find("expected"), std::string::npos) << f.stderr_text;
  const auto t = run_simulate({{"c.yaml", cfg("mnist_cnn_int8", "simulation: {mode: timing}\n")}},
                              "c.yaml", "--check-reference");
  EXPECT_EQ(t.exit_code, 1);
  EXPECT_NE(t.stderr_text.find("--check-reference needs simulation.mode: functional"),
            std::string::npos);
}

// Functional co-simulation: fc2 runs on the Verilated systolic core with the node's real
// int8 operands; the core's int32 results equal the reference GEMM and the whole graph
// stays bit-exact against the PyTorch emulation.
TEST(FunctionalSim, RtlCoreComputesWithRealOperands) {
  if (!have("mnist_cnn_int8")) GTEST_SKIP() << "no functional data";
  const auto f = run_simulate({{"c.yaml", cfg("mnist_cnn_int8", "mapping: {systolic: [fc2]}\n")}},
                              "c.yaml", "--check-reference --cosim fc2");
  if (f.exit_code == 1 && f.stderr_text.find("no Verilated RTL") != std::string::npos)
    GTEST_SKIP() << "built without RTL";
  ASSERT_EQ(f.exit_code, 0) << f.stderr_text;
  EXPECT_EQ(f.str("nodes.fc2.impl"), "rtl");
  EXPECT_EQ(f.num("nodes.fc2.rtl_real_operand_gemms"), 2);
  EXPECT_EQ(f.num("nodes.fc2.rtl_mismatches"), 0);
  EXPECT_EQ(f.num("nodes.fc2.rtl_cycles"), f.num("nodes.fc2.systolic.model_cycles"));
  EXPECT_EQ(f.num("reference_check.mismatches"), 0);
}
