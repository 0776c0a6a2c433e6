// End-to-end simulations through the simulate binary, checked against hand-computed
// cycle counts and the bounds the cost models promise.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <cmath>

#include "sim_harness.hpp"

using masesim::test::read_file;
using masesim::test::run_simulate;
using masesim::test::without_provenance;

namespace {
const std::string kSrc = MASESIM_SOURCE_DIR;

std::string linear_graph(int rows, int in, int out, int in_par, int out_par,
                         const std::string& weights = "on_chip") {
  const auto s = [](int v) { return std::to_string(v); };
  return "format: mase-graph\nversion: 1\nname: lin\ninputs: [{name: x, shape: [" + s(rows) + ", " +
         s(in) +
         "], precision: {type: fixed, width: 8, frac_width: 4}}]\n"
         "nodes:\n  - name: fc\n    op: linear\n    args: {data_in_0: x}\n"
         "    params: {weight: {shape: [" +
         s(out) + ", " + s(in) +
         "], precision: {type: fixed, width: 8, frac_width: 4}}}\n"
         "    results: {data_out_0: {shape: [" +
         s(rows) + ", " + s(out) +
         "], precision: {type: fixed, width: 8, frac_width: 4}}}\n"
         "    hw: {parallelism: {data_in_0: [" +
         s(in_par) + "], data_out_0: [" + s(out_par) + "]}, weights: " + weights +
         "}\n"
         "outputs: [fc]\n";
}

std::string config(int inferences, const std::string& extra = "") {
  return "workload:\n  graph: g.yaml\n  inferences: " + std::to_string(inferences) + "\n" + extra;
}
}  // namespace

// One input row through one linear: the last output leaves exactly MASE's
// L = (IN/IN_PAR)(OUT/OUT_PAR) + log2(IN_PAR) + 3 cycles after the first input.
TEST(Sim, SingleLinearLatencyEqualsMaseFormula) {
  const auto r =
      run_simulate({{"g.yaml", linear_graph(1, 64, 32, 8, 4)}, {"c.yaml", config(1)}}, "c.yaml");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_EQ(r.num("latency_cycles"), 64 + 3 + 3);
  EXPECT_EQ(r.num("nodes.fc.beats_in"), 8);
  EXPECT_EQ(r.num("nodes.fc.beats_out"), 8);
  EXPECT_EQ(r.num("nodes.fc.macs"), 64 * 32);
}

// Compute-bound linear: doubling the input parallelism halves the busy cycles, and the
// run never beats MACs / MACs-per-cycle.
TEST(Sim, DoublingParallelismHalvesBusyCycles) {
  const int rows = 16, n = 2;
  const auto a = run_simulate(
      {{"g.yaml", linear_graph(rows, 256, 256, 8, 8)}, {"c.yaml", config(n)}}, "c.yaml");
  const auto b = run_simulate(
      {{"g.yaml", linear_graph(rows, 256, 256, 16, 8)}, {"c.yaml", config(n)}}, "c.yaml");
  const auto c = run_simulate(
      {{"g.yaml", linear_graph(rows, 256, 256, 16, 16)}, {"c.yaml", config(n)}}, "c.yaml");
  ASSERT_EQ(a.exit_code, 0) << a.stderr_text;
  ASSERT_EQ(b.exit_code, 0) << b.stderr_text;
  ASSERT_EQ(c.exit_code, 0) << c.stderr_text;
  EXPECT_EQ(a.num("nodes.fc.busy_cycles"), n * rows * 32 * 32);
  EXPECT_EQ(b.num("nodes.fc.busy_cycles"), a.num("nodes.fc.busy_cycles") / 2);
  EXPECT_EQ(c.num("nodes.fc.busy_cycles"), a.num("nodes.fc.busy_cycles") / 4);
  for (const auto* r : {&a, &b, &c}) {
    const double macs = r->num("nodes.fc.macs"), per_cycle = r->num("nodes.fc.macs_per_cycle");
    EXPECT_GE(r->num("total_cycles"), macs / per_cycle);
    EXPECT_LE(r->num("total_cycles"), macs / per_cycle + 2 * 256 / 8 + 64);  // plus fill and drain
  }
}

// Off-chip weights behind a 1 GB/s memory: the node cannot be faster than the bytes
// it must read, and it reports itself memory-bound.
TEST(Sim, OffChipWeightsAtLowBandwidthAreMemoryBound) {
  const std::string device =
      "name: slow\nlut: 1000000\nff: 2000000\ndsp: 10000\nbram36: 2000\nuram: 1000\nslrs: "
      "1\nclock_mhz: 250\n"
      "qsfp28_ports: 2\nmemory: {kind: ddr4, channels: 1, gbytes_per_s: 1, latency_ns: 100, "
      "capacity_gbytes: 4}\n";
  const int n = 2;
  const auto r =
      run_simulate({{"g.yaml", linear_graph(1, 256, 256, 16, 16, "off_chip")},
                    {"c.yaml", config(n, "system:\n  devices: [{name: fpga0, type: slow.yaml}]\n")},
                    {"slow.yaml", device}},
                   "c.yaml");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  const double weight_bytes = 256 * 256;
  const double bytes_per_cycle = 1e9 / 250e6;  // 1 GB/s at 250 MHz
  EXPECT_EQ(r.num("devices.fpga0.memory.bytes_read"), n * weight_bytes);
  EXPECT_GE(r.num("total_cycles"), n * weight_bytes / bytes_per_cycle);
  EXPECT_GE(r.num("latency_cycles"), weight_bytes / bytes_per_cycle);
  EXPECT_EQ(r.str("nodes.fc.bound"), "memory");
  EXPECT_EQ(r.str("bottleneck.bound"), "memory");
  EXPECT_GT(r.num("nodes.fc.stall_mem_cycles"), r.num("nodes.fc.busy_cycles"));
}

// N inferences back to back through the pipelined MNIST CNN: steady-state throughput is
// set by the slowest block and beats 1/latency. The convs stream channel-parallel beats
// (docs/architecture.md, "Tiling"): conv1 (1 -> 16 channels, lanes 1 x 16) and conv2
// (16 -> 32, lanes 16 x 32) both spend 3·3 cycles per output pixel (3·3·1/1 · 16/16 and
// 3·3·16/16 · 32/32), 28·28·9 = 7056 cycles per inference, more than fc1's
// (6272/32)·(1024/32) = 6272; they tie and the first in graph order is named.
TEST(Sim, PipelinedMnistThroughput) {
  const auto r =
      run_simulate({{"c.yaml", "workload:\n  graph: " + kSrc +
                                   "/workloads/graphs/mnist_cnn.yaml\n  inferences: 8\n"}},
                   "c.yaml");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  const double latency_s = r.num("latency_us") * 1e-6;
  EXPECT_GT(r.num("throughput_inferences_per_s") * latency_s, 1.0);
  EXPECT_EQ(r.str("bottleneck.node"), "conv1");
  EXPECT_EQ(r.num("nodes.conv1.busy_cycles"), 8 * 28 * 28 * 9);
  EXPECT_EQ(r.num("nodes.conv2.busy_cycles"), 8 * 28 * 28 * 9);
  EXPECT_EQ(r.num("nodes.fc1.busy_cycles"), 8 * (6272 / 32) * (1024 / 32));
  EXPECT_NEAR(r.num("throughput_inferences_per_s"), 250e6 / 7056.0, 250e6 / 7056.0 * 1e-3);
  EXPECT_EQ(r.num("workload.macs"), 10158336);
}

TEST(Sim, SameInputsSameNumbersAndWholeOutputs) {
  const std::map<std::string, std::string> files = {
      {"c.yaml",
       "workload:\n  graph: " + kSrc + "/workloads/graphs/mnist_cnn.yaml\n  inferences: 3\n"}};
  const auto a = run_simulate(files, "c.yaml");
  const auto b = run_simulate(files, "c.yaml");
  ASSERT_EQ(a.exit_code, 0) << a.stderr_text;
  const std::string ja = read_file(a.dir + "/out/stats.json");
  EXPECT_FALSE(ja.empty());
  EXPECT_NE(ja.find("\"provenance\""), std::string::npos);
  EXPECT_EQ(without_provenance(ja), without_provenance(read_file(b.dir + "/out/stats.json")));
  // The effective configuration written next to the result reproduces it.
  const auto c = run_simulate({{"c.yaml", read_file(a.dir + "/out/config.yaml")}}, "c.yaml");
  ASSERT_EQ(c.exit_code, 0) << c.stderr_text;
  EXPECT_EQ(without_provenance(read_file(c.dir + "/out/stats.json")), without_provenance(ja));
}

TEST(Sim, DimsOverrideFromCommandLine) {
  const std::string g =
      "format: mase-graph\nversion: 1\ndims: {seq: 4}\ninputs: [{name: x, shape: [seq, 64], "
      "precision: {type: fixed, width: 8}}]\n"
      "nodes:\n  - {name: r, op: relu, args: {data_in_0: x}, results: {data_out_0: {shape: [seq, "
      "64], precision: {type: fixed, width: 8}}}}\n"
      "outputs: [r]\n";
  const auto r =
      run_simulate({{"g.yaml", g}, {"c.yaml", config(1)}}, "c.yaml", "--set workload.dims.seq=32");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_EQ(r.num("nodes.r.beats_in"), 32 * 64 / 8);
  EXPECT_EQ(r.num("workload.dims.seq"), 32);
  // relu: one beat per cycle, 1 cycle pipeline: last of 256 beats leaves at cycle 255 + 1.
  EXPECT_EQ(r.num("latency_cycles"), 256);
}

// mapping.auto chooses every node's parallelism; on OPT-125M over four U250s (seq 16 to
// keep the test short) it must beat MASE's greedy fill with the default parallelism.
TEST(Sim, AutoMappingBeatsGreedyOnOpt125m) {
  const std::string cfg = read_file(kSrc + "/configs/opt125m_4xu250_ring.yaml");
  const std::map<std::string, std::string> files = {{"c.yaml", cfg}};
  const std::string common = "--set workload.graph=" + kSrc +
                             "/workloads/graphs/opt125m_int8.json --set workload.dims.seq=16 " +
                             "--set workload.inferences=2";
  const auto autom = run_simulate(files, "c.yaml", common + " --set mapping.auto=true");
  const auto greedy = run_simulate(
      files, "c.yaml", common + " --set mapping.auto=false --set mapping.partition=greedy");
  ASSERT_EQ(autom.exit_code, 0) << autom.stderr_text;
  ASSERT_EQ(greedy.exit_code, 0) << greedy.stderr_text;
  EXPECT_EQ(autom.str("mapping.auto"), "true");
  EXPECT_GT(autom.num("mapping.auto_steps"), 0);
  EXPECT_GT(autom.num("throughput_inferences_per_s"), greedy.num("throughput_inferences_per_s"));
  for (const std::string d : {"fpga0", "fpga1", "fpga2", "fpga3"})
    for (const std::string r : {"lut", "ff", "dsp", "bram36", "uram"})
      EXPECT_LE(autom.num("devices." + d + ".resources." + r + ".utilisation"), 0.8 + 1e-9)
          << d << " " << r;
}

// The timeline of a small known run: one linear, one inference (latency 70 cycles = 280 ns).
TEST(Sim, TraceOfASmallKnownRun) {
  const auto r = run_simulate({{"g.yaml", linear_graph(1, 64, 32, 8, 4)}, {"c.yaml", config(1)}},
                              "c.yaml", "--trace /tmp/masesim_trace_test.json");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  const std::string t = read_file("/tmp/masesim_trace_test.json");
  EXPECT_NE(t.find("\"traceEvents\""), std::string::npos);
  EXPECT_NE(t.find("{\"ph\": \"M\", \"name\": \"thread_name\", \"pid\": 0, \"tid\": 0, \"args\": "
                   "{\"name\": \"fc\"}}"),
            std::string::npos)
      << t;
  // The node is busy from the first input (0) to its last output (70 cycles x 4 ns).
  EXPECT_NE(t.find("{\"ph\": \"X\", \"name\": \"inference\", \"pid\": 0, \"tid\": 0, \"ts\": "
                   "0.000000, \"dur\": 0.280000, "
                   "\"args\": {\"n\": 0}}"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("\"name\": \"inference 0 out\""), std::string::npos);
  EXPECT_NE(t.find("\"ts\": 0.280000}"), std::string::npos);
  EXPECT_EQ(r.num("trace.events"), 3);  // the slice, the source's and the sink's markers
  // A window that ends before the output drops the sink's marker.
  const auto w =
      run_simulate({{"g.yaml", linear_graph(1, 64, 32, 8, 4)}, {"c.yaml", config(1)}}, "c.yaml",
                   "--trace /tmp/masesim_trace_test2.json --trace-window 0:0.1");
  ASSERT_EQ(w.exit_code, 0) << w.stderr_text;
  EXPECT_EQ(w.num("trace.events"), 2);
  EXPECT_EQ(read_file("/tmp/masesim_trace_test2.json").find("inference 0 out"), std::string::npos);
  const auto bad = run_simulate({{"g.yaml", linear_graph(1, 64, 32, 8, 4)}, {"c.yaml", config(1)}},
                                "c.yaml", "--trace /tmp/x.json --trace-window 5:1");
  EXPECT_EQ(bad.exit_code, 1);
}

// Statistics are counted by the blocks. x [2, 16] -> fc (linear 16 -> 8, tile in 8, out 4)
// -> relu -> host, 3 inferences, FIFOs of depth 2. fc: K/8 = 2 input beats and N/4 = 2
// output tiles per row, row_cycles 2 x 2 = 4, 2 rows: 8 busy cycles per inference; first
// output 2 cycles after a row starts, then one every 2, pipeline depth log2(8) + 3 = 6.
// By hand (cycles): fc's rows start at 0, 4, 8, ..., 20 (datapath-bound; its inputs are
// always there), its outputs are offered at 8, 10, 12, 14, ..., 30. relu (1 beat per
// cycle, depth 1) waits 8 cycles for the first and 1 cycle for each of the 11 others:
// stall_in 19. The sink takes beat j one cycle after relu got it: 9 + 11 x 1 stall cycles.
// The source pushes 12 beats from cycle 0; beat 10 waits for fc to take beat 8 (cycle 12,
// row 0 of inference 2), 2 cycles.
TEST(Sim, BlocksCountBusyStallsBeatsAndMacs) {
  const std::string p = "precision: {type: fixed, width: 8, frac_width: 4}";
  const std::string g =
      "format: mase-graph\nversion: 1\nname: lr\ninputs: [{name: x, shape: [2, 16], " + p +
      "}]\nnodes:\n"
      "  - {name: fc, op: linear, args: {data_in_0: x}, params: {weight: {shape: [8, 16], " +
      p + "}},\n     results: {data_out_0: {shape: [2, 8], " + p +
      "}}, hw: {parallelism: {data_in_0: [8], data_out_0: [4]}}}\n"
      "  - {name: r, op: relu, args: {data_in_0: fc}, results: {data_out_0: {shape: [2, 8], " +
      p + "}}}\noutputs: [r]\n";
  const auto r = run_simulate({{"g.yaml", g}, {"c.yaml", config(3)}}, "c.yaml");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_EQ(r.num("nodes.fc.busy_cycles"), 3 * 8);
  EXPECT_EQ(r.num("nodes.fc.analytic_busy_cycles"), 3 * 8);
  EXPECT_EQ(r.num("nodes.fc.macs"), 3 * 2 * 16 * 8);
  EXPECT_EQ(r.num("nodes.fc.analytic_macs"), 3 * 2 * 16 * 8);
  EXPECT_EQ(r.num("nodes.fc.beats_in"), 3 * 4);
  EXPECT_EQ(r.num("nodes.fc.beats_out"), 3 * 4);
  EXPECT_EQ(r.num("nodes.fc.stall_in_cycles"), 0);
  EXPECT_EQ(r.num("nodes.fc.stall_out_cycles"), 0);
  EXPECT_EQ(r.num("nodes.fc.stall_mem_cycles"), 0);
  EXPECT_EQ(r.num("nodes.r.busy_cycles"), 3 * 4);
  EXPECT_EQ(r.num("nodes.r.macs"), 0);
  EXPECT_EQ(r.num("nodes.r.stall_in_cycles"), 8 + 11);
  EXPECT_EQ(r.num("nodes.r.stall_out_cycles"), 0);
  EXPECT_EQ(r.num("blocks.sink_r.busy_cycles"), 12);
  EXPECT_EQ(r.num("blocks.sink_r.beats_in"), 12);
  EXPECT_EQ(r.num("blocks.sink_r.stall_in_cycles"), 9 + 11);
  EXPECT_EQ(r.num("blocks.source_x.beats_out"), 12);
  EXPECT_EQ(r.num("blocks.source_x.stall_out_cycles"), 2);
  EXPECT_EQ(r.num("latency_cycles"), 15);  // inference 0: first input at 0, last output 15
  EXPECT_EQ(r.str("bottleneck.node"), "fc");
  EXPECT_EQ(r.num("bottleneck.busy_cycles"), 24);
  EXPECT_EQ(r.str("nodes.fc.bound"), "compute");
}

// A systolic node counts the cycles its GEMM engine reports: MNIST fc2 (1x1024x10) on the
// 16x16 output-stationary array, K + rows in the last tile + C + 1 = 1024 + 1 + 16 + 1
// cycles per GEMM, one GEMM per inference.
TEST(Sim, SystolicBlockCountsItsEngineCycles) {
  std::string g = read_file(kSrc + "/workloads/graphs/mnist_cnn.yaml");
  const std::string from = "hw: {parallelism: {data_in_0: [32], data_out_0: [10]}}";
  ASSERT_NE(g.find(from), std::string::npos);
  g.replace(g.find(from), from.size(),
            "hw: {parallelism: {data_in_0: [32], data_out_0: [10]}, impl: systolic}");
  const auto r = run_simulate({{"g.yaml", g}, {"c.yaml", config(3)}}, "c.yaml");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_EQ(r.num("nodes.fc2.busy_cycles"), 3 * (1024 + 1 + 16 + 1));
  EXPECT_EQ(r.num("nodes.fc2.analytic_busy_cycles"), 3 * (1024 + 1 + 16 + 1));
  EXPECT_EQ(r.num("nodes.fc2.macs"), 3 * 1024 * 10);
  EXPECT_EQ(r.num("nodes.fc2.beats_out"), 3 * 1);  // one 10-wide tile per inference
}

// The links' bridges count too: x [1, 640] int8 -> relu a (fpga0) -> relu b (fpga1), tiles
// of 64: the TX bridge reads a's 10 beats (one per cycle) into one 640-byte frame (MTU
// 1500), the RX bridge takes that frame and pushes 10 beats to b, for each of 2 inferences.
TEST(Sim, BridgesCountBeatsAndFrames) {
  const std::string p = "precision: {type: fixed, width: 8}";
  const std::string g =
      "format: mase-graph\nversion: 1\ninputs: [{name: x, shape: [1, 640], " + p +
      "}]\nnodes:\n"
      "  - {name: a, op: relu, args: {data_in_0: x}, results: {data_out_0: {shape: [1, 640], " +
      p + "}}, hw: {device: fpga0}}\n" +
      "  - {name: b, op: relu, args: {data_in_0: a}, results: {data_out_0: {shape: [1, 640], " + p +
      "}}, hw: {device: fpga1}}\noutputs: [b]\n";
  const auto r =
      run_simulate({{"g.yaml", g},
                    {"c.yaml", config(2,
                                      "system:\n  devices: [{count: 2, type: u250}]\nmapping: "
                                      "{default_parallelism: 64}\n")}},
                   "c.yaml");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  const std::string tx = "blocks.tx_a__b_data_in_0.", rx = "blocks.rx_a__b_data_in_0.";
  EXPECT_EQ(r.num(tx + "beats_in"), 2 * 10);
  EXPECT_EQ(r.num(tx + "busy_cycles"), 2 * 10);
  EXPECT_EQ(r.num(tx + "beats_out"), 2 * 1);  // frames
  EXPECT_EQ(r.num(rx + "beats_in"), 2 * 1);
  EXPECT_EQ(r.num(rx + "beats_out"), 2 * 10);
  EXPECT_EQ(r.num("links.fpga0->fpga1.frames"), 2);
  EXPECT_EQ(r.num("nodes.b.beats_in"), 2 * 10);
}

// The harness never turns a missing statistic into a passing comparison: num() of a
// missing or non-numeric key fails the test and reads as NaN (which equals nothing).
TEST(Harness, MissingStatisticFailsTheTest) {
  static masesim::test::SimRun r;
  r.stats["nodes.fc.busy_cycles"] = "24";
  r.stats["nodes.fc.bound"] = "\"compute\"";
  EXPECT_EQ(r.num("nodes.fc.busy_cycles"), 24);
  EXPECT_EQ(r.str("nodes.fc.bound"), "compute");
  static double v = 0;
  EXPECT_NONFATAL_FAILURE(v = r.num("nodes.fc.busy"), "statistic 'nodes.fc.busy' is missing");
  EXPECT_TRUE(std::isnan(v));
  EXPECT_NONFATAL_FAILURE(v = r.num("nodes.fc.bound"), "is not a number");
  EXPECT_TRUE(std::isnan(v));
  EXPECT_NONFATAL_FAILURE(r.str("nodes.fc.op"), "statistic 'nodes.fc.op' is missing");
  EXPECT_TRUE(r.has("nodes.fc.bound"));
  EXPECT_FALSE(r.has("nodes.fc.op"));
}
