// Layer reuse through the simulator (sim/mapping/layer_reuse.hpp, docs/published-designs.md "Layer
// reuse"): one set of blocks runs every layer in turn, each layer's input read from memory
// and its output written back, the next layer's parameters fetched while the current one
// computes (two buffers) or after it (one buffer).
//
// Test device "fast1" (written here): one memory channel of 64 GB/s = 256 bytes per 4 ns
// cycle at 250 MHz, no latency. Graph: x [4, 16] int8 -> layers.0.fc -> layers.1.fc, two
// identical 16 -> 16 linears at 1 input x 1 output lane (a row takes 16 x 16 = 256 cycles,
// 4 rows = 1,024 busy cycles, 3 cycles of pipeline latency); each layer's parameters are
// its 16 x 16 int8 weight, 256 bytes, fetched over a 1-byte/cycle port (256 cycles).
#include <gtest/gtest.h>

#include "sim_harness.hpp"

using masesim::test::run_simulate;

namespace {

const std::string kDevice =
    "name: fast1\npart: test\nlut: 1000000\nff: 2000000\ndsp: 10000\nbram36: 2000\nuram: 0\n"
    "slrs: 1\nclock_mhz: 250\nqsfp28_ports: 2\nmemory: {kind: ddr4, channels: 1, gbytes_per_s: "
    "64, latency_ns: 0, capacity_gbytes: 1}\n";
const std::string kQ = "precision: {type: fixed, width: 8, frac_width: 4}";

std::string linear(const std::string& name, const std::string& in, int k = 16, int n = 16) {
  const auto s = [](int v) { return std::to_string(v); };
  return "  - {name: " + name + ", op: linear, args: {data_in_0: " + in +
         "}, params: {weight: {shape: [" + s(n) + ", " + s(k) + "], " + kQ +
         "}}, results: {data_out_0: {shape: [4, " + s(n) + "], " + kQ +
         "}}, hw: {parallelism: {data_in_0: [1, 1], data_out_0: [1, 1]}}}\n";
}

std::string graph(const std::string& nodes, const std::string& out) {
  return "format: mase-graph\nversion: 1\ninputs:\n  - {name: x, shape: [4, 16], " + kQ +
         "}\nnodes:\n" + nodes + "outputs: [" + out + "]\n";
}

const std::string kTwoLayers =
    graph(linear("layers.0.fc", "x") + linear("layers.1.fc", "layers.0.fc"), "layers.1.fc");

masesim::test::SimRun run(const std::string& g, const std::string& reuse, int inferences = 1,
                          const std::string& extra = "") {
  return run_simulate(
      {{"fast1.yaml", kDevice},
       {"g.yaml", g},
       {"c.yaml", "workload: {graph: g.yaml, inferences: " + std::to_string(inferences) +
                      "}\nsystem: {devices: [{name: d0, type: fast1.yaml}]" + extra +
                      "}\nmapping: {layer_reuse: " + reuse + "}\n"}},
      "c.yaml");
}

std::string buffers(int b) {
  return "{layers: \"layers.{i}.*\", weight_buffers: " + std::to_string(b) +
         ", port_bytes_per_cycle: 1}";
}

}  // namespace

// Two buffers: layer 0's parameters arrive at cycle 256 (256 bytes over the 1-byte port),
// while x is in memory from cycle 7.25 (8 beats, one 64-byte write of 1 ns at cycle 7): the
// first layer waits 1,024 - 29 = 995 ns for them. Layer 1's parameters are fetched into the
// second buffer from cycle 256 (the port is free) to 512, while layer 0 computes (its read
// of x queues one cycle behind that fetch on the channel: cycles 257.25 .. 1,284.25 = 1,024
// busy + 3 latency), so layer 1 starts as soon as layer 0's output is in memory (1,284.5):
// nothing more exposed; latency 2,375 cycles.
// One buffer: layer 1's fetch waits until layer 0's output is written (1,283.5; layer 0
// ran from 256.25 without the competing fetch), takes 256 cycles, and layer 1 starts that
// much later: 1,024 ns more exposed, latency 2,630 = 2,375 + 256 - 1 (the cycle of channel
// contention that two buffers cost layer 0).
TEST(LayerReuse, PrefetchIsHiddenWithTwoBuffersAndExposedWithOne) {
  const auto two = run(kTwoLayers, buffers(2));
  const auto one = run(kTwoLayers, buffers(1));
  ASSERT_EQ(two.exit_code, 0) << two.stderr_text;
  ASSERT_EQ(one.exit_code, 0) << one.stderr_text;
  EXPECT_EQ(two.num("latency_cycles"), 2375);
  EXPECT_EQ(one.num("latency_cycles"), 2630);
  EXPECT_NEAR(two.num("layer_reuse.exposed_fetch_us"), 0.995, 1e-9);
  EXPECT_NEAR(one.num("layer_reuse.exposed_fetch_us"), 0.995 + 1.024, 1e-9);
  for (const auto* r : {&two, &one}) {
    EXPECT_EQ(r->num("layer_reuse.layers"), 2);
    EXPECT_EQ(r->num("layer_reuse.layer_runs"), 2);
    EXPECT_EQ(r->num("layer_reuse.weight_bytes_per_layer"), 256);
    EXPECT_EQ(r->num("layer_reuse.weight_fetches"), 2);
    EXPECT_EQ(r->num("layer_reuse.weight_bytes_fetched"), 512);
    EXPECT_NEAR(r->num("layer_reuse.weight_fetch_busy_us"), 2 * 1.024, 1e-9);
    // Each layer computes its 1,024 cycles on the one set of blocks.
    EXPECT_EQ(r->num("nodes.layers.0.fc.busy_cycles"), 1024);
    EXPECT_EQ(r->num("nodes.layers.1.fc.busy_cycles"), 1024);
    // Layer 1's blocks are layer 0's hardware: no resources of their own.
    EXPECT_EQ(r->num("nodes.layers.1.fc.resources.lut"), 0);
    EXPECT_EQ(r->num("nodes.layers.1.fc.resources.bram36"), 0);
    EXPECT_GT(r->num("nodes.layers.0.fc.resources.lut"), 0);
  }
  // Two layers of parameters on chip take one more BRAM36 than one (2,048 bits each).
  EXPECT_EQ(
      two.num("nodes.layers.0.fc.resources.bram36") - one.num("nodes.layers.0.fc.resources.bram36"),
      1);
}

// Two inferences: the region runs (inference, layer) pairs in order, so inference 1's layer
// 0 starts reading only once inference 0's layer 1 has written its output (two buffers:
// 2,312.0, read from 2,312.25). With two buffers both layers stay resident (2 fetches in
// all); with one, every layer run fetches its parameters again (4), inference 1's layer 0
// 256 cycles after inference 0's output (2,567.0 -> 2,823.25).
TEST(LayerReuse, TheRegionRunsOneLayerAtATime) {
  const auto two = run(kTwoLayers, buffers(2), 2);
  const auto one = run(kTwoLayers, buffers(1), 2);
  ASSERT_EQ(two.exit_code, 0) << two.stderr_text;
  ASSERT_EQ(one.exit_code, 0) << one.stderr_text;
  EXPECT_EQ(two.num("layer_reuse.weight_fetches"), 2);
  EXPECT_EQ(one.num("layer_reuse.weight_fetches"), 4);
  EXPECT_EQ(two.num("layer_reuse.layer_runs"), 4);
  // Two buffers: inference 1's layer 0 runs 2,312.25 .. 3,339.25, its layer 1 to 4,366.75,
  // the output is in memory at 4,367 and read out by 4,431; one buffer: 256 cycles later per
  // layer run after the first (the fetches are exposed), 5,198.
  EXPECT_EQ(two.num("total_cycles"), 4431);
  EXPECT_EQ(one.num("total_cycles"), 5198);
  // Inference 1's input is in memory from cycle 15.25 (its 8 beats follow inference 0's)
  // and waits for the region until 2,312: (2,312 - 15.25) x 4 ns.
  EXPECT_NEAR(two.num("layer_reuse.region_wait_us"), 9.187, 1e-9);
}

TEST(LayerReuse, LayersThatDifferInShapeAreAnError) {
  const auto r =
      run(graph(linear("layers.0.fc", "x") + linear("layers.1.fc", "layers.0.fc", 16, 32),
                "layers.1.fc"),
          buffers(2));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.stderr_text.find("mapping.layer_reuse.layers 'layers.{i}.*': layer 1 differs from "
                               "layer 0: node 'layers.1.fc' (linear) has output [4, 32]"),
            std::string::npos)
      << r.stderr_text;
}

TEST(LayerReuse, BadRegionsAreErrors) {
  const auto none = run(kTwoLayers, "{layers: \"blocks.{i}.*\"}");
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.stderr_text.find("'blocks.{i}.*' matches no node of"), std::string::npos)
      << none.stderr_text;
  const auto no_index = run(kTwoLayers, "{layers: \"layers.*\"}");
  EXPECT_EQ(no_index.exit_code, 1);
  EXPECT_NE(no_index.stderr_text.find("mapping.layer_reuse.layers: 'layers.*' has no {i}"),
            std::string::npos)
      << no_index.stderr_text;
  // Layer 2 reads layer 0: not the previous layer.
  const auto skip = run(graph(linear("layers.0.fc", "x") + linear("layers.1.fc", "layers.0.fc") +
                                  linear("layers.2.fc", "layers.0.fc"),
                              "layers.2.fc"),
                        buffers(2));
  EXPECT_EQ(skip.exit_code, 1);
  EXPECT_NE(skip.stderr_text.find("node 'layers.2.fc' of layer 2 reads 'layers.0.fc' of layer 0"),
            std::string::npos)
      << skip.stderr_text;
  const auto gap =
      run(graph(linear("layers.0.fc", "x") + linear("layers.2.fc", "layers.0.fc"), "layers.2.fc"),
          buffers(2));
  EXPECT_EQ(gap.exit_code, 1);
  EXPECT_NE(gap.stderr_text.find("numbered 0..2 with 2 present"), std::string::npos)
      << gap.stderr_text;
  const auto off = run_simulate(
      {{"fast1.yaml", kDevice},
       {"g.yaml", kTwoLayers},
       {"c.yaml",
        "workload: {graph: g.yaml}\nsystem: {devices: [{name: d0, type: fast1.yaml}]}\n"
        "mapping: {weights: off_chip, layer_reuse: " +
            buffers(2) + "}\n"}},
      "c.yaml");
  EXPECT_EQ(off.exit_code, 1);
  EXPECT_NE(off.stderr_text.find("node 'layers.0.fc' has its weights off chip"), std::string::npos)
      << off.stderr_text;
}

// The shipped TRETS design (configs/gpt2_medium_spatial_u280.yaml): one GPT-2-medium layer
// as spatial blocks in three SLRs, reused for the 24 layers. One layer's parameters (W4A8):
// q, k, v, out-projection 4 x (1024 x 1024 / 2 + 1,024 bias) = 2,101,248 bytes; fc1 4096 x
// 1024 / 2 + 4,096 = 2,101,248; fc2 1024 x 4096 / 2 + 1,024 = 2,098,176; two LayerNorms
// 2 x 2 x 1,024 = 4,096: 6,304,768 bytes. At a 128-token prefill the q projection (16 input
// x 16 output lanes = 256 MACs/cycle) is busy 128 rows x 64 x 64 = 524,288 cycles (the
// design's HLS count: 528,822).
TEST(LayerReuse, ShippedGpt2MediumSpatialU280Runs) {
  const std::string src = MASESIM_SOURCE_DIR;
  std::string c = masesim::test::read_file(src + "/configs/gpt2_medium_spatial_u280.yaml");
  c.replace(c.find("../workloads"), 2, src + "/configs/..");
  const auto gen = run_simulate({{"c.yaml", c}}, "c.yaml",
                                "--set workload.prompt_len=8 --set workload.gen_tokens=2");
  ASSERT_EQ(gen.exit_code, 0) << gen.stderr_text;
  EXPECT_EQ(gen.num("llm.tokens"), 2);
  EXPECT_EQ(gen.num("layer_reuse.layers"), 24);
  EXPECT_EQ(gen.num("layer_reuse.weight_bytes_per_layer"), 6304768);
  EXPECT_EQ(gen.num("layer_reuse.layer_runs"), 2 * 24);  // prefill and one decode step
  EXPECT_EQ(gen.num("layer_reuse.weight_fetches"), 2 * 24);
  EXPECT_EQ(gen.num("layer_reuse.weight_bytes_fetched"), 2 * 24 * 6304768.0);
  // Layer 5's fc1 is layer 0's hardware; layer 0's holds two layers of parameters.
  EXPECT_EQ(gen.num("nodes.transformer.h.5.mlp.c_fc.resources.dsp"), 0);
  EXPECT_GT(gen.num("nodes.transformer.h.0.mlp.c_fc.resources.dsp"), 0);
  EXPECT_EQ(gen.str("nodes.transformer.h.0.attn.q_proj.device"), "fpga0");
  EXPECT_GT(gen.num("devices.fpga0.slrs.SLR0.dsp.used"), 0);
  // A decode layer computes longer (fc1 alone: 1024 / 16 x 4096 / 16 = 16,384 cycles,
  // 65.5 us; the layer ~170 us) than its largest fetch (fc1's 2,101,248 bytes over a 64-byte
  // port: 32,832 cycles, 131.3 us): the prefetch is hidden; only the prefill's first layer
  // waits for its parameters.
  EXPECT_EQ(gen.num("layer_reuse.phases.decode.exposed_fetch_us"), 0);
  EXPECT_GT(gen.num("layer_reuse.phases.prefill.exposed_fetch_us"), 0);
  EXPECT_LT(gen.num("layer_reuse.phases.prefill.exposed_fetch_us"), 131.328);
  const auto pre = run_simulate({{"c.yaml", c}}, "c.yaml",
                                "--set workload.phase=prefill --set workload.prompt_len=128 "
                                "--set workload.gen_tokens=1");
  ASSERT_EQ(pre.exit_code, 0) << pre.stderr_text;
  EXPECT_EQ(pre.num("nodes.transformer.h.0.attn.q_proj.busy_cycles"), 524288);
}
