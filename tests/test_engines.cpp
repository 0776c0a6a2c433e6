// Shared engines through the whole simulator: graph nodes time-multiplexed on one core,
// with hand-computed end-to-end times, exact tile counts, functional equality with the
// spatial design, and the errors of bad engine configurations.
//
// Hand computations use two test devices (written by the tests): "slow1", one memory
// channel of 0.25 GB/s = 1 byte per 4 ns cycle at 250 MHz, no latency, so every transfer
// is an exact number of cycles and transfers queue on the one channel; "fast1", 64 GB/s
// (16 bytes per cycle), so the engine's 16-byte/cycle DMA ports set the load times.
// GEMM tile cycles are the systolic cycle model's (equal to the RTL, tests/cosim):
// 16x16 weight-stationary 1x16x16 = 50, 32x64x64 = 561, 56x36x16 = 217, 8x36x16 = 81.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include "sim_harness.hpp"

using masesim::test::read_file;
using masesim::test::run_simulate;

namespace {

std::string device(const std::string& name, const std::string& gbps) {
  return "name: " + name +
         "\npart: test\nlut: 1000000\nff: 2000000\ndsp: 10000\nbram36: 2000\nuram: 0\nslrs: "
         "1\nclock_mhz: 250\nqsfp28_ports: 2\nmemory: {kind: ddr4, channels: 1, gbytes_per_s: " +
         gbps + ", latency_ns: 0, capacity_gbytes: 1}\n";
}

const std::string kQ = "precision: {type: fixed, width: 8, frac_width: 4}";

std::string linear(const std::string& name, const std::string& in, int rows, int k, int n) {
  const auto s = [](int v) { return std::to_string(v); };
  return "  - {name: " + name + ", op: linear, args: {data_in_0: " + in +
         "}, params: {weight: {shape: [" + s(n) + ", " + s(k) + "], " + kQ +
         "}}, results: {data_out_0: {shape: [" + s(rows) + ", " + s(n) + "], " + kQ + "}}}\n";
}

std::string graph(const std::string& input_shape, const std::string& nodes,
                  const std::string& out) {
  return "format: mase-graph\nversion: 1\ninputs:\n  - {name: x, shape: " + input_shape + ", " +
         kQ + "}\nnodes:\n" + nodes + "outputs: [" + out + "]\n";
}

std::string core(const std::string& device, const std::string& buffers,
                 const std::string& dma = "16", const std::string& extra = "") {
  return "system:\n  devices: [{name: d0, type: " + device +
         "}]\n  engines:\n    - name: core\n      device: d0\n      gemm: {rows: 16, cols: 16, "
         "dataflow: weight_stationary}\n      buffers: " +
         buffers + "\n      load_bytes_per_cycle: " + dma +
         "\n      store_bytes_per_cycle: " + dma + "\n" + extra;
}

}  // namespace

// Two 16x16 linears on one core, batch 1. Cycles: the source's two beats (0, 1) are
// written at cycle 1 (16 bytes: 1..17). fc1: B 256 bytes 17..273 (after the write on the
// channel), A 273..289, EX 289..339, ST 339..355. fc2: B (issued at 289) queues behind
// fc1's store on the channel: 355..611, A 611..627, EX 627..677, ST 677..693. Egress reads
// 16 bytes 693..709 and sends two beats at 709 and 710: latency 710 = both tiles (2 x 50)
// plus the exposed loads and transfers.
TEST(Engines, TwoLinearsOnOneCoreHandTimed) {
  const auto r = run_simulate(
      {{"slow1.yaml", device("slow1", "0.25")},
       {"g.yaml",
        graph("[1, 16]", linear("fc1", "x", 1, 16, 16) + linear("fc2", "fc1", 1, 16, 16), "fc2")},
       {"c.yaml",
        "workload: {graph: g.yaml, inferences: 1}\n" +
            core("slow1.yaml", "{input_bytes: 1024, weight_bytes: 1024, acc_bytes: 1024}", "1") +
            "mapping: {engines: {core: [\"fc*\"]}}\n"}},
      "c.yaml");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_EQ(r.num("latency_cycles"), 710);
  EXPECT_EQ(r.num("engines.core.busy_cycles"), 100);
  // fc1 waits 17 cycles for its input, then 272 for its loads; fc2 waits 16 for fc1's
  // store and 272 for its loads.
  EXPECT_EQ(r.num("engines.core.wait_input_cycles"), 33);
  EXPECT_EQ(r.num("engines.core.wait_load_cycles"), 544);
  EXPECT_EQ(r.num("engines.core.wait_store_cycles"), 0);
  EXPECT_EQ(r.num("engines.core.gemm_tiles"), 2);
  EXPECT_EQ(r.num("engines.core.bytes_loaded"), 2 * (256 + 16));
  EXPECT_EQ(r.num("engines.core.bytes_stored"), 32);
  EXPECT_EQ(r.num("engines.core.macs"), 512);
  EXPECT_EQ(r.num("nodes.fc1.busy_cycles"), 50);
  EXPECT_EQ(r.num("nodes.fc2.analytic_busy_cycles"), 50);
  EXPECT_EQ(r.str("nodes.fc2.engine.name"), "core");
  EXPECT_EQ(r.str("bottleneck.engine"), "core");
  EXPECT_EQ(r.str("bottleneck.node"), "engine core");
}

// A 64x64x64 linear in two 32-row tiles (561 cycles each). Double-buffered, tile 1's input
// (2048 bytes, 128 cycles at 16 B/cycle) loads while tile 0 computes: only the first load
// is exposed. With one slot per buffer (the same tiles, half the bytes) tile 1's load
// waits for tile 0's compute to release the buffer: 128 more cycles.
TEST(Engines, DoubleBufferingHidesTheNextLoadAndOneBufferExposesIt) {
  auto run = [](bool double_buffer) {
    const std::string buf = double_buffer
                                ? "{input_bytes: 4096, weight_bytes: 8192, acc_bytes: 16384}"
                                : "{input_bytes: 2048, weight_bytes: 4096, acc_bytes: 8192, "
                                  "double_buffer: false}";
    return run_simulate(
        {{"fast1.yaml", device("fast1", "64")},
         {"g.yaml", graph("[64, 64]", linear("fc", "x", 64, 64, 64), "fc")},
         {"c.yaml", "workload: {graph: g.yaml, inferences: 1}\n" + core("fast1.yaml", buf) +
                        "mapping: {engines: {core: [fc]}}\n"}},
        "c.yaml");
  };
  const auto two = run(true), one = run(false);
  ASSERT_EQ(two.exit_code, 0) << two.stderr_text;
  ASSERT_EQ(one.exit_code, 0) << one.stderr_text;
  EXPECT_EQ(two.str("nodes.fc.engine.tile"), "32x64x64");
  EXPECT_EQ(one.str("nodes.fc.engine.tile"), "32x64x64");
  EXPECT_EQ(two.num("engines.core.busy_cycles"), 2 * 561);
  // Input in memory at 527 (512 beats, then a 16-cycle write); A of tile 0 527..655.
  EXPECT_EQ(two.num("engines.core.wait_input_cycles"), 527);
  EXPECT_EQ(two.num("engines.core.wait_load_cycles"), 128);
  EXPECT_EQ(one.num("engines.core.wait_load_cycles"), 256);
  // EX 655..1216..1777, last store 1777..1905, egress read 16 cycles, 512 beats.
  EXPECT_EQ(two.num("latency_cycles"), 2432);
  EXPECT_EQ(one.num("latency_cycles"), 2432 + 128);
  EXPECT_EQ(two.num("engines.core.buffers.peak_input_bytes"), 4096);
  EXPECT_EQ(one.num("engines.core.buffers.peak_input_bytes"), 2048);
}

// conv2d [1,4,8,8] * [16,4,3,3] (pad 1) lowered by im2col to a 64x36x16 GEMM: K = 36 fits
// one tile, N = 16, M limited by the 2048-byte input slot to 56 rows: tiles of 56 and 8
// rows (217 + 81 cycles), each followed by the fused ReLU on its accumulator tile
// (ceil(896/16) + 4 = 60 and 8 + 4 = 12 ALU cycles).
TEST(Engines, Conv2dLowersToGemmTilesWithFusedRelu) {
  const std::string nodes =
      "  - {name: conv, op: conv2d, args: {data_in_0: x}, params: {weight: {shape: [16, 4, 3, "
      "3], " +
      kQ + "}}, attrs: {stride: 1, padding: 1}, results: {data_out_0: {shape: [1, 16, 8, 8], " +
      kQ +
      "}}}\n  - {name: relu, op: relu, args: {data_in_0: conv}, results: {data_out_0: {shape: "
      "[1, 16, 8, 8], " +
      kQ + "}}}\n";
  const auto r = run_simulate(
      {{"fast1.yaml", device("fast1", "64")},
       {"g.yaml", graph("[1, 4, 8, 8]", nodes, "relu")},
       {"c.yaml",
        "workload: {graph: g.yaml, inferences: 1}\n" +
            core("fast1.yaml", "{input_bytes: 4096, weight_bytes: 8192, acc_bytes: 16384}", "16",
                 "      alu: {lanes: 16, pipeline_cycles: 4, ops: [relu]}\n") +
            "mapping: {engines: {core: [\"*\"]}}\n"}},
      "c.yaml");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_EQ(r.str("nodes.conv.engine.gemm"), "1x64x36x16");
  EXPECT_EQ(r.str("nodes.conv.engine.tile"), "56x36x16");
  EXPECT_EQ(r.num("nodes.conv.engine.tiles"), 2);
  EXPECT_EQ(r.str("nodes.conv.engine.fused"), "relu");
  EXPECT_EQ(r.str("nodes.relu.engine.fused_into"), "conv");
  EXPECT_EQ(r.num("engines.core.busy_cycles"), 217 + 81 + 60 + 12);
  EXPECT_EQ(r.num("nodes.conv.analytic_busy_cycles"), 217 + 81 + 60 + 12);
  EXPECT_EQ(r.num("engines.core.alu_passes"), 2);
  // B once (36x16), A per tile (56x36 + 8x36); the ReLU's output stored once (16x64).
  EXPECT_EQ(r.num("engines.core.bytes_loaded"), 576 + 2016 + 288);
  EXPECT_EQ(r.num("engines.core.bytes_stored"), 1024);
  EXPECT_EQ(r.num("nodes.conv.macs"), 64 * 36 * 16);
}

// Mixed: fc1 on the core, fc2 a spatial block: the engine's output leaves through an
// egress stream and the run completes.
TEST(Engines, EngineFeedsASpatialBlock) {
  const auto r = run_simulate(
      {{"fast1.yaml", device("fast1", "64")},
       {"g.yaml",
        graph("[4, 16]", linear("fc1", "x", 4, 16, 16) + linear("fc2", "fc1", 4, 16, 16), "fc2")},
       {"c.yaml",
        "workload: {graph: g.yaml, inferences: 3}\n" +
            core("fast1.yaml", "{input_bytes: 1024, weight_bytes: 1024, acc_bytes: 1024}") +
            "mapping: {engines: {core: [fc1]}}\n"}},
      "c.yaml");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_EQ(r.str("nodes.fc1.engine.name"), "core");
  EXPECT_FALSE(r.has("nodes.fc2.engine.name"));
  EXPECT_EQ(r.num("inferences"), 3);
  EXPECT_GT(r.num("nodes.fc2.beats_in"), 0);
}

namespace {
struct BadCase {
  const char* name;
  std::string engines_yaml;  ///< system.engines entries (under "  engines:\n")
  std::string mapping_yaml;
  std::string expect;
};
}  // namespace

TEST(Engines, BadConfigurationsAreClearErrors) {
  const std::string gemm =
      "    - {name: core, device: d0, gemm: {rows: 16, cols: 16}, buffers: {input_bytes: 1024, "
      "weight_bytes: 1024, acc_bytes: 1024}}\n";
  const std::vector<BadCase> cases = {
      {"no ALU for relu", gemm, "{engines: {core: [\"*\"]}}",
       "node 'act' (relu) on engine 'core': the engine has no ALU"},
      {"glob matches nothing", gemm, "{engines: {core: [\"conv*\"]}}",
       "mapping.engines.core: glob 'conv*' matches no node of the graph"},
      {"unknown engine", gemm, "{engines: {cor: [fc1]}}",
       "mapping.engines.cor: no engine 'cor' in system.engines (did you mean 'core'?)"},
      {"overlap",
       gemm +
           "    - {name: core2, device: d0, gemm: {rows: 8, cols: 8}, buffers: {input_bytes: 1024, "
           "weight_bytes: 1024, acc_bytes: 1024}}\n",
       "{engines: {core: [\"fc*\"], core2: [fc1]}}",
       "node 'fc1' is assigned to engine 'core' and to engine 'core2'"},
      {"tile does not fit",
       "    - {name: core, device: d0, gemm: {rows: 16, cols: 16}, buffers: {input_bytes: 1024, "
       "weight_bytes: 256, acc_bytes: 1024}}\n",
       "{engines: {core: [fc1]}}",
       "node 'fc1' (linear) on engine 'core': weight buffer of 256 bytes cannot hold the "
       "smallest KxN tile of 256 bytes (two tiles: double buffering)"},
      {"order against a dependency", gemm,
       "{engines: {core: [fc1, fc2]}, engine_order: {core: [fc2, fc1]}}",
       "mapping.engine_order.core: node 'fc2' runs before 'fc1', whose output it depends on: "
       "the engine would wait for itself"},
      {"order against a dependency through a spatial block", gemm,
       "{engines: {core: [fc1, fc3]}, engine_order: {core: [fc3, fc1]}}",
       "mapping.engine_order.core: node 'fc3' runs before 'fc1', whose output it depends on"},
      {"no unit", "    - {name: core, device: d0, buffers: {acc_bytes: 1024}}\n",
       "{engines: {core: [fc1]}}", "an engine needs a gemm or an alu unit"},
      {"unknown alu op",
       "    - {name: core, device: d0, alu: {lanes: 4, ops: [rleu]}, buffers: {acc_bytes: "
       "1024}}\n",
       "{engines: {core: [act]}}", "alu.ops: unknown op 'rleu' (did you mean 'relu'?)"},
      {"unknown device",
       "    - {name: core, device: d1, gemm: {rows: 4, cols: 4}, buffers: {input_bytes: 64, "
       "weight_bytes: 64, acc_bytes: 64}}\n",
       "{engines: {core: [fc1]}}", "system.engines[0].device: 'd1' is not in system.devices"},
      {"engine cannot run the op kind", gemm, "{engines: {core: [act, fc1]}}",
       "node 'act' (relu) on engine 'core': the engine has no ALU"},
  };
  const std::string nodes = linear("fc1", "x", 1, 16, 16) + linear("fc2", "fc1", 1, 16, 16) +
                            "  - {name: act, op: relu, args: {data_in_0: fc2}, results: "
                            "{data_out_0: {shape: [1, 16], " +
                            kQ + "}}}\n" + linear("fc3", "act", 1, 16, 16);
  for (const auto& c : cases) {
    const auto r =
        run_simulate({{"g.yaml", graph("[1, 16]", nodes, "fc3")},
                      {"c.yaml",
                       "workload: {graph: g.yaml, inferences: 1}\nsystem:\n  devices: [{name: d0, "
                       "type: u250}]\n  engines:\n" +
                           c.engines_yaml + "mapping: " + c.mapping_yaml + "\n"}},
                     "c.yaml");
    EXPECT_EQ(r.exit_code, 1) << c.name << ": " << r.stderr_text;
    EXPECT_NE(r.stderr_text.find(c.expect), std::string::npos)
        << c.name << ": expected '" << c.expect << "' in: " << r.stderr_text;
  }
}

// The MNIST CNN all on one shared core and as a spatial design compute the same outputs
// (functional mode), bit-exact with the PyTorch emulation.
TEST(Engines, SharedAndSpatialMnistGiveTheSameOutputs) {
  const std::string data = MASESIM_FN_DATA;
  struct stat st {};
  if (stat((data + "/mnist_cnn_int8.json").c_str(), &st) != 0)
    GTEST_SKIP() << "no functional data (python3-torch missing)";
  const std::string base = "workload: {graph: " + data +
                           "/mnist_cnn_int8.json, inferences: 2}\nsimulation: {mode: functional}\n";
  const std::string shared =
      base +
      "system:\n  devices: [{name: fpga0, type: u250}]\n  engines:\n    - name: core\n      "
      "device: fpga0\n      gemm: {rows: 16, cols: 16}\n      alu: {lanes: 16, ops: [relu, "
      "max_pool2d]}\n      buffers: {input_bytes: 32768, weight_bytes: 262144, acc_bytes: "
      "131072}\nmapping: {engines: {core: [\"*\"]}}\n";
  const auto s = run_simulate({{"c.yaml", shared}}, "c.yaml", "--check-reference");
  const auto p = run_simulate({{"c.yaml", base}}, "c.yaml", "--check-reference");
  ASSERT_EQ(s.exit_code, 0) << s.stderr_text;
  ASSERT_EQ(p.exit_code, 0) << p.stderr_text;
  EXPECT_EQ(s.num("reference_check.nodes"), 9);
  EXPECT_EQ(s.num("reference_check.failing_nodes"), 0);
  EXPECT_EQ(s.num("reference_check.mismatches"), 0);
  const std::string out_s = read_file(s.dir + "/out/outputs/fc2.npy");
  EXPECT_FALSE(out_s.empty());
  EXPECT_EQ(out_s, read_file(p.dir + "/out/outputs/fc2.npy"));
  EXPECT_NE(s.str("latency_cycles"), p.str("latency_cycles"));  // different hardware
}

// The GEMM-offload design (host CPU + a GEMM engine over PCIe, configs/gemm_offload_mnist.yaml)
// computes what the spatial design computes, bit-exact with the PyTorch emulation (the
// design's own acceptance test: identical to PyTorch).
TEST(Engines, HostOffloadMnistGivesTheSpatialOutputs) {
  const std::string data = MASESIM_FN_DATA;
  struct stat st {};
  if (stat((data + "/mnist_cnn_int8.json").c_str(), &st) != 0)
    GTEST_SKIP() << "no functional data (python3-torch missing)";
  const std::string base = "workload: {graph: " + data +
                           "/mnist_cnn_int8.json, inferences: 2}\nsimulation: {mode: functional}\n";
  std::string offload =
      read_file(std::string(MASESIM_SOURCE_DIR) + "/configs/gemm_offload_mnist.yaml");
  offload = base + offload.substr(offload.find("system:"));
  const auto o = run_simulate({{"c.yaml", offload}}, "c.yaml", "--check-reference");
  const auto p = run_simulate({{"c.yaml", base}}, "c.yaml", "--check-reference");
  ASSERT_EQ(o.exit_code, 0) << o.stderr_text;
  ASSERT_EQ(p.exit_code, 0) << p.stderr_text;
  EXPECT_EQ(o.str("nodes.relu1.engine.name"), "host");
  EXPECT_EQ(o.str("nodes.fc1.engine.name"), "gemm");
  EXPECT_EQ(o.num("reference_check.nodes"), 9);
  EXPECT_EQ(o.num("reference_check.mismatches"), 0);
  const std::string out_o = read_file(o.dir + "/out/outputs/fc2.npy");
  EXPECT_FALSE(out_o.empty());
  EXPECT_EQ(out_o, read_file(p.dir + "/out/outputs/fc2.npy"));
}

// The shipped VTA system: ResNet-18 (int8) on one shared core on a PYNQ-Z1, every node on
// the engine, conv -> batch_norm (-> relu) fused onto the accumulator tiles.
TEST(Engines, ShippedVtaResnet18Runs) {
  const std::string src = MASESIM_SOURCE_DIR;
  const auto r = run_simulate({{"c.yaml", "workload: {graph: " + src +
                                              "/workloads/graphs/resnet18_int8.json, "
                                              "inferences: 1}\n" +
                                              [&] {
                                                std::string c =
                                                    read_file(src + "/configs/vta_resnet18.yaml");
                                                return c.substr(c.find("system:"));
                                              }()}},
                              "c.yaml");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_EQ(r.num("engines.vta.nodes"), 69);
  EXPECT_EQ(r.num("engines.vta.macs"), 1814073344.0);  // ResNet-18 at 224x224
  EXPECT_EQ(r.str("bottleneck.engine"), "vta");
  EXPECT_EQ(r.str("nodes.conv1.engine.fused"), "bn1+relu");
  EXPECT_EQ(r.num("devices.pynq.resources.dsp.used"), 128);  // 16x16 int8, two MACs per DSP
  EXPECT_EQ(r.num("engines.vta.buffers.peak_weight_bytes"), 262144);
}

// The shipped TRETS design built from shared engines (configs/gpt2_medium_engines_u280.yaml):
// 11 engines in the three SLRs of a U280, W4A8, generating. At a 128-token prefill one layer's
// q projection is 16 tiles of 32x1024x256 on the packed 8x16 (x2) array: 32,817 cycles each
// (the systolic model, equal to the RTL) = 525,072; the design's HLS count is 528,822
// (docs/published-designs.md compares every unit).
TEST(Engines, ShippedGpt2MediumEnginesU280Runs) {
  const std::string src = MASESIM_SOURCE_DIR;
  std::string c = read_file(src + "/configs/gpt2_medium_engines_u280.yaml");
  c.replace(c.find("../workloads"), 2, src + "/configs/..");
  const auto gen = run_simulate({{"c.yaml", c}}, "c.yaml",
                                "--set workload.prompt_len=8 --set workload.gen_tokens=2");
  ASSERT_EQ(gen.exit_code, 0) << gen.stderr_text;
  EXPECT_EQ(gen.num("llm.tokens"), 2);
  EXPECT_EQ(gen.str("nodes.transformer.h.23.mlp.c_fc.engine.name"), "fc1");
  EXPECT_EQ(gen.str("engines.q.gemm"), "8x16 x2 MACs/PE weight_stationary");
  EXPECT_EQ(gen.num("engines.q.nodes"), 48);                  // q_proj and its view in 24 layers
  EXPECT_EQ(gen.num("devices.fpga0.slr_unplaced_nodes"), 2);  // the two embeddings
  EXPECT_GT(gen.num("devices.fpga0.slrs.SLR0.dsp.used"), 0);
  EXPECT_GT(gen.num("ttft_us"), 0);
  const auto pre = run_simulate({{"c.yaml", c}}, "c.yaml",
                                "--set workload.phase=prefill --set workload.prompt_len=128 "
                                "--set workload.gen_tokens=1");
  ASSERT_EQ(pre.exit_code, 0) << pre.stderr_text;
  EXPECT_EQ(pre.str("nodes.transformer.h.0.attn.q_proj.engine.tile"), "32x1024x256");
  EXPECT_EQ(pre.num("nodes.transformer.h.0.attn.q_proj.busy_cycles"), 525072);
}

// The shipped DFX systems (GPT-2 345 M on 1, 2, 4 U280s and 1.5 B on 4): one FP16
// dot-product core per card, tensor parallel, at a 4-token prompt and 2 new tokens. The
// FP16 matrix unit is 1,024 MACs x 3 DSPs (multiplier 1, adder 2).
TEST(Engines, ShippedDfxConfigsRun) {
  const std::string src = MASESIM_SOURCE_DIR;
  for (const char* name :
       {"gpt2_dfx_1xu280", "gpt2_dfx_2xu280", "gpt2_dfx_4xu280", "gpt2_dfx_1.5b_4xu280"}) {
    std::string c = read_file(src + "/configs/" + name + ".yaml");
    c.replace(c.find("../workloads"), 2, src + "/configs/..");
    const auto r = run_simulate({{"c.yaml", c}}, "c.yaml",
                                "--set workload.prompt_len=4 --set workload.gen_tokens=2");
    ASSERT_EQ(r.exit_code, 0) << name << ": " << r.stderr_text;
    EXPECT_EQ(r.str("engines.dfx0.gemm"), "16x64 dot_product fp16") << name;
    EXPECT_GE(r.num("engines.dfx0.resources.dsp"), 3072) << name;
    EXPECT_EQ(r.num("llm.tokens"), 2) << name;
    if (std::string(name) != "gpt2_dfx_1xu280") {
      EXPECT_GT(r.num("devices.fpga0.allreduce_tx_bytes"), 0) << name;
    }
  }
}

// A shared engine past simulation.max_sim_time_ms stops the run: exit 2 naming the node.
TEST(Engines, TimeLimitNamesTheEngineNode) {
  const std::string src = MASESIM_SOURCE_DIR;
  const auto r =
      run_simulate({{"c.yaml", "workload: {graph: " + src +
                                   "/workloads/graphs/resnet18_int8.json, inferences: 1}\n" +
                                   [&] {
                                     std::string c = read_file(src + "/configs/vta_resnet18.yaml");
                                     return c.substr(c.find("system:"));
                                   }()}},
                   "c.yaml", "--set simulation.max_sim_time_ms=1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.stderr_text.find("simulated-time limit of 1.000000 ms (simulation.max_sim_time_ms) "
                               "reached at "),
            std::string::npos)
      << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("on node '"), std::string::npos) << r.stderr_text;
}

// DFX synchronises four times per layer (mapping.tp_sync: all_gather; the shipped DFX
// configs): after attention, its projection, fc1 and fc2, each an all-gather; Megatron's
// all_reduce mode twice. GPT-2 345 M in FP16 on 2 cards at a 4-token prompt and 2 new tokens
// (a 4-token prefill and one 1-token decode step), bytes each card sends:
// all-gather: half of each gathered tensor, (1024 + 1024 + 4096 + 1024) x 2 B / 2 = 7,168 B
// per token and layer: 24 x 7,168 x (4 + 1) = 860,160; ring all-reduce: 2 (t - 1) / t = 1
// tensor of 1024 x 2 B per sync, 2 per layer: 24 x 2 x 2,048 x 5 = 491,520.
TEST(Engines, DfxSynchronisesFourTimesPerLayer) {
  const std::string src = MASESIM_SOURCE_DIR;
  std::string c = read_file(src + "/configs/gpt2_dfx_2xu280.yaml");
  c.replace(c.find("../workloads"), 2, src + "/configs/..");
  const std::string lengths = "--set workload.prompt_len=4 --set workload.gen_tokens=2";
  const auto dfx = run_simulate({{"c.yaml", c}}, "c.yaml", lengths);
  const auto megatron =
      run_simulate({{"c.yaml", c}}, "c.yaml", lengths + " --set mapping.tp_sync=all_reduce");
  ASSERT_EQ(dfx.exit_code, 0) << dfx.stderr_text;
  ASSERT_EQ(megatron.exit_code, 0) << megatron.stderr_text;
  EXPECT_EQ(dfx.num("devices.fpga0.allreduce_tx_bytes"), 860160);
  EXPECT_EQ(dfx.num("devices.fpga1.allreduce_tx_bytes"), 860160);
  EXPECT_EQ(megatron.num("devices.fpga0.allreduce_tx_bytes"), 491520);
  // Every linear splits by output columns: fc2 keeps 1024 / 2 output columns on each card.
  EXPECT_EQ(dfx.str("nodes.transformer.h.0.mlp.c_proj@r1.device"), "fpga1");
  EXPECT_EQ(dfx.num("nodes.transformer.h.0.mlp.c_proj@r1.macs"),
            (4 + 1) * 4096.0 * 512);  // 5 tokens x 4096 inputs x 512 outputs
}
