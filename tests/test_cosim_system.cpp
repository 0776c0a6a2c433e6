// Full-system co-simulation: systolic nodes run on the Verilated RTL core inside a
// transaction-level system must give exactly the timing of the all-TLM run.
// Shapes covered: MNIST fc2 (1x1024x10 on 16x16, output-stationary), a batched
// bmm (2 x 8x16x8 on 4x4, weight-stationary) and a matmul (4 x 5x7x3 on 8x8 OS).
#include <gtest/gtest.h>

#include "sim_harness.hpp"

using masesim::test::read_file;
using masesim::test::run_simulate;

namespace {
const std::string kSrc = MASESIM_SOURCE_DIR;

std::string mnist_with_systolic_fc2() {
  std::string g = read_file(kSrc + "/workloads/graphs/mnist_cnn.yaml");
  const std::string from = "hw: {parallelism: {data_in_0: [32], data_out_0: [10]}}";
  g.replace(g.find(from), from.size(),
            "hw: {parallelism: {data_in_0: [32], data_out_0: [10]}, impl: systolic}");
  return g;
}

std::string batched_graph(const std::string& op, int b, int m, int k, int n) {
  const auto s = [](int v) { return std::to_string(v); };
  return "format: mase-graph\nversion: 1\ninputs:\n"
         "  - {name: a, shape: [" +
         s(b) + ", " + s(m) + ", " + s(k) +
         "], precision: {type: fixed, width: 8}}\n"
         "  - {name: w, shape: [" +
         s(b) + ", " + s(k) + ", " + s(n) +
         "], precision: {type: fixed, width: 8}}\n"
         "nodes:\n  - {name: mm, op: " +
         op + ", args: {data_in_0: a, data_in_1: w}, results: {data_out_0: {shape: [" + s(b) +
         ", " + s(m) + ", " + s(n) +
         "], precision: {type: fixed, width: 8}}}, hw: {impl: systolic}}\noutputs: [mm]\n";
}

void expect_same_timing(const masesim::test::SimRun& tlm, const masesim::test::SimRun& rtl,
                        const std::string& node) {
  ASSERT_EQ(tlm.exit_code, 0) << tlm.stderr_text;
  ASSERT_EQ(rtl.exit_code, 0) << rtl.stderr_text;
  EXPECT_EQ(tlm.str("nodes." + node + ".impl"), "tlm");
  EXPECT_EQ(rtl.str("nodes." + node + ".impl"), "rtl");
  EXPECT_EQ(rtl.num("nodes." + node + ".rtl_cycles"),
            rtl.num("nodes." + node + ".systolic.model_cycles"))
      << "RTL and cycle model disagree on " << rtl.str("nodes." + node + ".systolic.gemm");
  EXPECT_EQ(rtl.num("nodes." + node + ".rtl_mismatches"), 0);
  EXPECT_EQ(rtl.num("latency_cycles"), tlm.num("latency_cycles"));
  EXPECT_EQ(rtl.num("total_cycles"), tlm.num("total_cycles"));
  EXPECT_EQ(rtl.num("throughput_inferences_per_s"), tlm.num("throughput_inferences_per_s"));
}
}  // namespace

TEST(CosimSystem, MnistFc2OnRtlMatchesTlm) {
  const std::map<std::string, std::string> files = {
      {"g.yaml", mnist_with_systolic_fc2()},
      {"c.yaml", "workload: {graph: g.yaml, inferences: 3}\n"}};
  const auto tlm = run_simulate(files, "c.yaml");
  const auto rtl = run_simulate(files, "c.yaml", "--cosim fc2");
  expect_same_timing(tlm, rtl, "fc2");
  EXPECT_EQ(rtl.num("nodes.fc2.systolic.gemms"), 3);
  // 1x1024x10 output-stationary on 16x16: one tile, S = max(K, R, C) = 1024:
  // K + rows_in_last_tile + C + 1 = 1024 + 1 + 16 + 1 per GEMM.
  EXPECT_EQ(rtl.num("nodes.fc2.rtl_cycles"), 3 * (1024 + 1 + 16 + 1));
}

TEST(CosimSystem, BatchedBmmWeightStationaryOnRtlMatchesTlm) {
  const std::map<std::string, std::string> files = {
      {"g.yaml", batched_graph("bmm", 2, 8, 16, 8)},
      {"c.yaml",
       "workload: {graph: g.yaml, inferences: 2}\nsystolic: {rows: 4, cols: 4, dataflow: "
       "weight_stationary}\n"}};
  const auto tlm = run_simulate(files, "c.yaml");
  const auto rtl = run_simulate(files, "c.yaml", "--cosim 'm*'");
  expect_same_timing(tlm, rtl, "mm");
  EXPECT_EQ(rtl.num("nodes.mm.systolic.gemms"), 4);
}

TEST(CosimSystem, MatmulOddShapeOnRtlMatchesTlm) {
  const std::map<std::string, std::string> files = {
      {"g.yaml", batched_graph("matmul", 4, 5, 7, 3)},
      {"c.yaml",
       "workload: {graph: g.yaml, inferences: 2}\nsystolic: {rows: 8, cols: 8}\nmapping: "
       "{default_parallelism: 1}\n"}};
  expect_same_timing(run_simulate(files, "c.yaml"), run_simulate(files, "c.yaml", "--cosim mm"),
                     "mm");
}

TEST(CosimSystem, VcdWaveformAndErrors) {
  const std::map<std::string, std::string> files = {
      {"g.yaml", batched_graph("bmm", 1, 4, 4, 4)},
      {"c.yaml", "workload: {graph: g.yaml, inferences: 1}\nsystolic: {rows: 4, cols: 4}\n"}};
  const auto r = run_simulate(files, "c.yaml", "--cosim mm --vcd /tmp/masesim_cosim_test.vcd");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_NE(read_file("/tmp/masesim_cosim_test.vcd").find("$enddefinitions"), std::string::npos);
  const auto none = run_simulate(files, "c.yaml", "--cosim nothing*");
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.stderr_text.find("--cosim nothing*: matches no node or engine of the system"),
            std::string::npos)
      << none.stderr_text;
  const auto big = run_simulate(files, "c.yaml", "--cosim mm --set systolic.rows=5");
  EXPECT_EQ(big.exit_code, 1);
  EXPECT_NE(big.stderr_text.find("no Verilated systolic core of 5x4"), std::string::npos)
      << big.stderr_text;
}

// A shared core on the Verilated RTL: every GEMM tile of every node scheduled on it runs on
// the RTL (4x4 weight-stationary), with the same end-to-end timing as the cycle model.
TEST(CosimSystem, SharedEngineOnRtlMatchesTlm) {
  const std::string q = "precision: {type: fixed, width: 8, frac_width: 4}";
  const std::string g =
      "format: mase-graph\nversion: 1\ninputs:\n  - {name: x, shape: [1, 3, 6, 6], " + q +
      "}\nnodes:\n"
      "  - {name: conv, op: conv2d, args: {data_in_0: x}, params: {weight: {shape: [8, 3, 3, 3], " +
      q + "}}, attrs: {stride: 1, padding: 1}, results: {data_out_0: {shape: [1, 8, 6, 6], " + q +
      "}}}\n  - {name: relu, op: relu, args: {data_in_0: conv}, results: {data_out_0: {shape: "
      "[1, 8, 6, 6], " +
      q +
      "}}}\n  - {name: flat, op: flatten, args: {data_in_0: relu}, attrs: {start_dim: 1}, "
      "results: {data_out_0: {shape: [1, 288], " +
      q +
      "}}}\n  - {name: fc, op: linear, args: {data_in_0: flat}, params: {weight: {shape: [10, "
      "288], " +
      q + "}}, results: {data_out_0: {shape: [1, 10], " + q + "}}}\noutputs: [fc]\n";
  const std::map<std::string, std::string> files = {
      {"g.yaml", g},
      {"c.yaml",
       "workload: {graph: g.yaml, inferences: 2}\nsystem:\n  devices: [{name: d0, type: "
       "u250}]\n  engines:\n    - {name: core, device: d0, gemm: {rows: 4, cols: 4, dataflow: "
       "weight_stationary}, alu: {lanes: 4, ops: [relu]}, buffers: {input_bytes: 512, "
       "weight_bytes: 512, acc_bytes: 1024}}\nmapping: {engines: {core: [\"*\"]}}\n"}};
  const auto tlm = run_simulate(files, "c.yaml");
  const auto rtl = run_simulate(files, "c.yaml", "--cosim core");
  ASSERT_EQ(tlm.exit_code, 0) << tlm.stderr_text;
  ASSERT_EQ(rtl.exit_code, 0) << rtl.stderr_text;
  EXPECT_EQ(tlm.str("engines.core.impl"), "tlm");
  EXPECT_EQ(rtl.str("engines.core.impl"), "rtl");
  EXPECT_EQ(rtl.num("engines.core.rtl_mismatches"), 0);
  EXPECT_GT(rtl.num("engines.core.gemm_tiles"), 4);  // several tiles per node
  for (const std::string k :
       {"latency_cycles", "total_cycles", "engines.core.busy_cycles",
        "engines.core.wait_load_cycles", "engines.core.gemm_tiles", "nodes.fc.busy_cycles"})
    EXPECT_EQ(rtl.num(k), tlm.num(k)) << k;
  const auto bad = run_simulate(files, "c.yaml", "--cosim conv");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.stderr_text.find("node 'conv' runs on shared engine 'core': co-simulate the "
                                 "engine (--cosim core)"),
            std::string::npos)
      << bad.stderr_text;
}
