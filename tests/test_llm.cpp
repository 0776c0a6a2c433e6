// LLM inference through the simulate binary (one SystemC design per process): KV-cache
// sizes, the memory and compute bounds of a decode step, the closed loop of
// autoregressive decode, batch scaling in a pipeline and tensor-parallel link traffic.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>

#include "sim_harness.hpp"

using masesim::test::run_simulate;
using masesim::test::SimRun;

namespace {

const std::string kSrc = MASESIM_SOURCE_DIR;
const std::string kOpt = kSrc + "/workloads/graphs/opt125m_int8.json";

// OPT-125M int8 by hand: per layer q,k,v,out 4 x 768 x 768 + fc1, fc2 2 x 768 x 3072
// = 7,077,888 weights; 12 layers = 84,934,656; LM head 50,272 x 768 = 38,608,896.
constexpr double kLinearWeights = 84934656.0 + 38608896.0;  // bytes = MACs per token

std::string config(const std::string& body) {
  return "workload:\n  graph: " + kOpt + "\n" + body;
}

SimRun run(const std::string& cfg, const std::string& extra = "") {
  return run_simulate({{"c.yaml", cfg}}, "c.yaml", extra);
}

}  // namespace

TEST(Llm, KvCacheBytesOpt125m) {
  // 2 (K and V) x 12 layers x context (16 + 8) x 768 hidden x 1 byte (int8), per sequence.
  const auto r = run(
      config("  phase: prefill\n  prompt_len: 16\n  gen_tokens: 8\n  batch: 2\nsystem:\n  devices: "
             "[{name: fpga0, type: u250}]\nmapping:\n  weights: auto\n"));
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_EQ(r.num("kv_cache_bytes_per_sequence"), 2.0 * 12 * 24 * 768 * 1);
  EXPECT_EQ(r.num("devices.fpga0.kv_cache_bytes"), 2 * 442368.0);
  EXPECT_EQ(r.str("llm.phase"), "prefill");
  EXPECT_GT(r.num("ttft_us"), 0);
  EXPECT_EQ(r.num("llm.tokens"), 2);
}

TEST(Llm, OffChipDecodeStepNeverFasterThanWeightStreaming) {
  // Every weight streams from HBM (460 GB/s) each step: TPOT >= bytes / bandwidth.
  const auto r = run(config(
      "  phase: decode\n  prompt_len: 16\n  gen_tokens: 3\nsystem:\n  devices: [{name: fpga0, "
      "type: u280}]\nmapping:\n  weights: off_chip\n  kv_cache: off_chip\n"));
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  const double bound_us = kLinearWeights / 460e9 * 1e6;  // 268.57 us
  EXPECT_GE(r.num("tpot_us"), bound_us);
  // The report's off-chip bound counts the same bytes (plus KV traffic and one embedding
  // row per token): within 1 % of the weights alone.
  EXPECT_NEAR(r.num("llm.phases.decode.off_chip_device_bound_us"), bound_us, 0.01 * bound_us);
  // One block streaming its own weights (two tiles in flight, 120 ns HBM latency each) is
  // slower still: the LM head's tiles one fetch apart.
  EXPECT_GT(r.num("llm.phases.decode.off_chip_block_bound_us"), bound_us);
  EXPECT_EQ(r.str("llm.phases.decode.slowest_fetch_node"), "lm_head");
  EXPECT_GE(r.num("tpot_us"), r.num("llm.phases.decode.off_chip_block_bound_us"));
  EXPECT_GE(r.num("tpot_us"), r.num("llm.phases.decode.bound_us"));
  EXPECT_GT(r.num("devices.fpga0.memory.bytes_read"), 3 * kLinearWeights);
}

TEST(Llm, OnChipDecodeStepNeverFasterThanPeakMacs) {
  // Weights on chip over four U250s (pipeline): TPOT >= MACs / peak MACs per cycle / f.
  const auto r = run(
      config("  phase: decode\n  prompt_len: 16\n  gen_tokens: 3\nsystem:\n  devices: [{count: 4, "
             "type: u250}]\n  topology: ring\nmapping:\n  weights: on_chip\n  kv_cache: on_chip\n  "
             "utilisation_cap: 0.95\n"));
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  double lanes = 0;
  for (int d = 0; d < 4; ++d)
    lanes += r.num("devices.fpga" + std::to_string(d) + ".peak_macs_per_cycle");
  ASSERT_GT(lanes, 0);
  const double bound_us = kLinearWeights / lanes / 250e6 * 1e6;
  EXPECT_GE(r.num("tpot_us"), bound_us);
  EXPECT_GE(r.num("tpot_us"), r.num("llm.phases.decode.bound_us"));
  EXPECT_EQ(r.num("devices.fpga0.memory.bytes_read"), 0);  // nothing off chip
}

TEST(Llm, NextTokenWaitsForThePreviousOne) {
  // Closed loop: with one sequence every decode step k >= 1 is injected when step k-1
  // left the system, so a turnaround of 1 us adds exactly 1 us to each of those steps:
  // mean TPOT over 4 intervals (the first starts at 0) grows by 3/4 us.
  const std::string base = config(
      "  phase: decode\n  prompt_len: 16\n  gen_tokens: 4\nsystem:\n  devices: [{name: "
      "fpga0, type: u250}]\nmapping:\n  weights: auto\n");
  const auto a = run(base);
  const auto b = run(base, "--set workload.token_turnaround_ns=1000");
  ASSERT_EQ(a.exit_code, 0) << a.stderr_text;
  ASSERT_EQ(b.exit_code, 0) << b.stderr_text;
  EXPECT_NEAR(b.num("tpot_us") - a.num("tpot_us"), 0.75, 1e-6);
  EXPECT_NEAR(b.num("llm.makespan_us") - a.num("llm.makespan_us"), 3.0, 1e-6);
  // Later steps attend over a longer context: never faster than the first.
  EXPECT_GE(a.num("tpot_p99_us"), a.num("tpot_us"));
}

TEST(Llm, PipelineThroughputDoesNotFallWithBatch) {
  // Four U250s, contiguous layers per device: more sequences in flight fill the stages
  // until the slowest resource saturates; the report names it.
  const std::string base = config(
      "  phase: generate\n  prompt_len: 16\n  gen_tokens: 12\nsystem:\n  devices: [{count: "
      "4, type: u250}]\n  topology: ring\nmapping:\n  parallelism: pipeline\n  weights: auto\n");
  double prev = 0;
  SimRun last;
  for (int b : {1, 2, 4, 8}) {
    const auto r = run(base, "--set workload.batch=" + std::to_string(b));
    ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
    const double tps = r.num("decode_tokens_per_s");
    EXPECT_GE(tps, prev) << "batch " << b;
    prev = tps;
    if (b == 1) {
      EXPECT_GT(r.num("tpot_us"), 2 * r.num("llm.phases.decode.bound_us"));
      EXPECT_NE(r.str("llm.phases.decode.limited_by").find("latency"), std::string::npos);
    }
    last = r;
  }
  // Saturated at batch 8 by the LM head (768 x 50,272 MACs on 8 x 8 lanes = 603,264 cycles
  // = 2,413.056 us per token at 250 MHz): 1 / 2,413.056 us = 414.4 tokens/s.
  EXPECT_EQ(last.str("llm.phases.decode.limited_by"), "compute");
  EXPECT_EQ(last.str("llm.phases.decode.slowest_mac_node"), "lm_head");
  EXPECT_NEAR(last.num("llm.phases.decode.compute_bound_us"), 8 * 2413.056, 1e-6);
  EXPECT_NEAR(prev, 1e6 / 2413.056, 0.01 * 1e6 / 2413.056);
}

TEST(Llm, TensorParallelRingMovesTheAllReduceVolume) {
  // 4 devices, 12 layers x 2 all-reduces of [16 tokens x 768] int8 = 12,288 bytes each:
  // a ring all-reduce sends 2 (n - 1) / n of the tensor per device = 18,432 bytes, so
  // 24 x 18,432 = 442,368 bytes per device for the prefill.
  const std::string base = config(
      "  phase: prefill\n  prompt_len: 16\nsystem:\n  devices: [{count: 4, type: u280}]\n  "
      "topology: ring\nmapping:\n  parallelism: tensor\n  weights: auto\n");
  for (const char* alg : {"ring", "direct"}) {
    const auto r = run(base, std::string("--set mapping.allreduce=") + alg);
    ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
    for (int d = 0; d < 4; ++d)
      EXPECT_EQ(r.num("devices.fpga" + std::to_string(d) + ".allreduce_tx_bytes"), 442368.0)
          << alg << " fpga" << d;
    if (std::string(alg) == "ring") {
      // Every all-reduce frame goes to the ring neighbour: the reverse link into rank 0
      // carries only the logits of ranks 1 and 2 gathered there (2 x 12,568 bytes).
      EXPECT_EQ(r.num("links.fpga1->fpga0.bytes"), 2 * 12568.0);
      EXPECT_GE(r.num("links.fpga1->fpga2.bytes"), 442368.0);
    }
  }
}

TEST(Llm, TensorParallelDecodesFasterThanOneDevice) {
  // DFX's point: splitting every layer over four devices shortens a decode step.
  const std::string one = config(
      "  phase: decode\n  prompt_len: 16\n  gen_tokens: 2\nsystem:\n  devices: [{name: fpga0, "
      "type: u280}]\nmapping:\n  weights: auto\n");
  const std::string four = config(
      "  phase: decode\n  prompt_len: 16\n  gen_tokens: 2\nsystem:\n  devices: [{count: 4, "
      "type: u280}]\n  topology: ring\nmapping:\n  parallelism: tensor\n  weights: auto\n");
  const auto a = run(one), b = run(four);
  ASSERT_EQ(a.exit_code, 0) << a.stderr_text;
  ASSERT_EQ(b.exit_code, 0) << b.stderr_text;
  EXPECT_LT(b.num("tpot_us"), a.num("tpot_us"));
}

TEST(Llm, TensorParallelAutoSizesTilesWithinEachDevice) {
  // mapping.auto on a graph that places itself: every node stays on its rank's device and
  // each device's LUT/DSP stay within mapping.utilisation_cap (0.8).
  const auto r = run(
      config("  phase: prefill\n  prompt_len: 16\nsystem:\n  devices: [{count: 4, type: u280}]\n  "
             "topology: ring\nmapping:\n  parallelism: tensor\n  auto: true\n  weights: auto\n"));
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_EQ(r.str("nodes.model.decoder.layers.0.fc1@r2.device"), "fpga2");
  EXPECT_EQ(r.str("nodes.model.decoder.layers.11.self_attn.out_proj@r3.device"), "fpga3");
  for (int d = 0; d < 4; ++d) {
    const std::string dev = "devices.fpga" + std::to_string(d) + ".resources.";
    EXPECT_LE(r.num(dev + "lut.utilisation"), 0.8) << d;
    EXPECT_LE(r.num(dev + "dsp.utilisation"), 0.8) << d;
  }
  EXPECT_EQ(r.str("mapping.partition"), "manual");
}

TEST(Llm, KvCacheAutoMovesTheLastLayersOffChipFirst) {
  // One U250 whose BRAM/URAM the weights nearly fill: a cache for 16 + 240 tokens (4.7 MB)
  // does not fit whole, so mapping.kv_cache: auto keeps the first layers' caches on chip and
  // moves the last layers' to DDR4, where the prefill writes them (16 tokens x 768 bytes).
  const auto r = run(
      config("  phase: prefill\n  prompt_len: 16\n  gen_tokens: 240\nsystem:\n  devices: [{name: "
             "fpga0, type: u250}]\nmapping:\n  weights: auto\n  kv_cache: auto\n"));
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  const double total = r.num("devices.fpga0.kv_cache_bytes"),
               on = r.num("devices.fpga0.kv_cache_on_chip_bytes");
  EXPECT_EQ(total, 2.0 * 12 * 256 * 768);
  EXPECT_GT(on, 0);
  EXPECT_LT(on, total);
  const std::string l0 = "nodes.model.decoder.layers.0.self_attn.matmul.kv_cache.";
  const std::string l11 = "nodes.model.decoder.layers.11.self_attn.matmul_1.kv_cache.";
  EXPECT_EQ(r.str(l0 + "kv_cache"), "on_chip");
  EXPECT_EQ(r.num(l0 + "kv_write_bytes"), 0);
  EXPECT_EQ(r.str(l11 + "kv_cache"), "off_chip");
  EXPECT_EQ(r.num(l11 + "kv_write_bytes"), 16.0 * 768);
  EXPECT_EQ(r.num(l11 + "kv_read_bytes"), 0);  // the prefill reads no earlier context
}

namespace {
const std::string kP = "precision: {type: fixed, width: 8, frac_width: 4}";
std::string tiny_linear(const std::string& name, const std::string& in, int k, int n,
                        const std::string& out_shape) {
  return "  - {name: " + name + ", op: linear, args: {data_in_0: " + in +
         "}, params: {weight: {shape: [" + std::to_string(n) + ", " + std::to_string(k) + "], " +
         kP + "}},\n     results: {data_out_0: {shape: " + out_shape + ", " + kP +
         "}}, hw: {parallelism: {data_in_0: [8], data_out_0: [8]}}}\n";
}
// A one-head decoder layer on 16-wide tokens: q, k, v projections, scores = q k^T,
// softmax, probs v, and an LM head 16 -> 8.
const std::string kTinyDecoder =
    "format: mase-graph\nversion: 1\nname: tinydec\ndims: {seq: 4}\ninputs: [{name: x, "
    "shape: [1, seq, 16], " +
    kP + "}]\nnodes:\n" + tiny_linear("q", "x", 16, 16, "[1, seq, 16]") +
    tiny_linear("k", "x", 16, 16, "[1, seq, 16]") + tiny_linear("v", "x", 16, 16, "[1, seq, 16]") +
    "  - {name: kt, op: transpose, args: {data_in_0: k}, attrs: {dim0: 1, dim1: 2},\n"
    "     results: {data_out_0: {shape: [1, 16, seq], " +
    kP +
    "}}}\n"
    "  - {name: scores, op: matmul, args: {data_in_0: q, data_in_1: kt},\n"
    "     results: {data_out_0: {shape: [1, seq, seq], " +
    kP +
    "}}}\n"
    "  - {name: probs, op: softmax, args: {data_in_0: scores}, attrs: {dim: -1},\n"
    "     results: {data_out_0: {shape: [1, seq, seq], " +
    kP +
    "}}}\n"
    "  - {name: attn, op: matmul, args: {data_in_0: probs, data_in_1: v},\n"
    "     results: {data_out_0: {shape: [1, seq, 16], " +
    kP + "}}}\n" + tiny_linear("head", "attn", 16, 8, "[1, seq, 8]") + "outputs: [head]\n";
}  // namespace

// Busy cycles are counted per phase by the blocks. Prompt of 4 tokens, 3 generated tokens
// (the prefill, then 2 decode steps). q (16 -> 16, tiles of 8): 2 input beats x 2 output
// tiles = 4 cycles per token, so the prefill's 4 tokens take 16 cycles and each decode
// step's one token 4: 16 + 2 x 4 = 24 (the mapping's decode-step timing x 3 steps would
// say 12). The LM head sees only the last token (16 -> 8: 2 x 1 = 2 cycles per step).
TEST(Llm, BusyCyclesAreCountedPerPhase) {
  const auto r = run_simulate(
      {{"g.yaml", kTinyDecoder},
       {"c.yaml",
        "workload:\n  graph: g.yaml\n  phase: generate\n  prompt_len: 4\n  gen_tokens: 3\n"}},
      "c.yaml");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_EQ(r.num("nodes.q.phases.prefill.busy_cycles"), 16);
  EXPECT_EQ(r.num("nodes.q.phases.decode.busy_cycles"), 2 * 4);
  EXPECT_EQ(r.num("nodes.q.busy_cycles"), 16 + 2 * 4);
  EXPECT_EQ(r.num("nodes.q.analytic_busy_cycles"), 16 + 2 * 4);
  EXPECT_EQ(r.num("nodes.q.phases.prefill.analytic_busy_cycles"), 16);
  EXPECT_EQ(r.num("nodes.q.macs"), (4 + 2) * 16 * 16);
  EXPECT_EQ(r.num("nodes.q.phases.prefill.macs"), 4 * 16 * 16);
  EXPECT_EQ(r.num("nodes.q.phases.prefill.beats_in"), 4 * 2);
  EXPECT_EQ(r.num("nodes.q.phases.decode.beats_out"), 2 * 2);
  // Tiles are chosen at a decode step (seq = 1), so kt's output [1, 16, seq] has tiles of
  // 1: the prompt's transpose is 64 beats (reorder: max(8 in, 64 out) cycles), a step's 16.
  EXPECT_EQ(r.num("nodes.kt.phases.prefill.busy_cycles"), 64);
  EXPECT_EQ(r.num("nodes.kt.phases.decode.busy_cycles"), 2 * 16);
  EXPECT_EQ(r.num("nodes.head.phases.prefill.busy_cycles"), 2);
  EXPECT_EQ(r.num("nodes.head.phases.decode.busy_cycles"), 2 * 2);
  EXPECT_EQ(r.num("blocks.source_x.phases.prefill.beats_out"), 4 * 2);
  EXPECT_EQ(r.num("blocks.source_x.phases.decode.beats_out"), 2 * 2);
}

// The tiny decoder with every node on one shared core (VTA-like: 16x16 GEMM, ALU for the
// transpose and softmax): each step runs at its own shapes. q: 4 x 16 x 16 MACs in the
// prefill and 16 x 16 per decode step; scores = q k^T against the context (4, then 5 and
// 6): 4 x 16 x 4, then 16 x 5 and 16 x 6; six GEMM nodes of one tile each per step.
TEST(Llm, ASharedEngineRunsEveryStepAtItsShapes) {
  const auto r = run_simulate(
      {{"g.yaml", kTinyDecoder},
       {"c.yaml",
        "workload:\n  graph: g.yaml\n  phase: generate\n  prompt_len: 4\n  gen_tokens: 3\n"
        "system:\n  devices: [{name: fpga0, type: u250}]\n  engines:\n    - name: core\n"
        "      device: fpga0\n      gemm: {rows: 16, cols: 16}\n      alu: {lanes: 16, ops: "
        "[transpose, softmax]}\n      buffers: {input_bytes: 4096, weight_bytes: 4096, "
        "acc_bytes: 4096}\nmapping: {engines: {core: [\"*\"]}}\n"}},
      "c.yaml");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_EQ(r.str("nodes.q.engine.name"), "core");
  EXPECT_EQ(r.num("nodes.q.phases.prefill.macs"), 4 * 16 * 16);
  EXPECT_EQ(r.num("nodes.q.phases.decode.macs"), 2 * 16 * 16);
  EXPECT_EQ(r.num("nodes.scores.phases.prefill.macs"), 4 * 16 * 4);
  EXPECT_EQ(r.num("nodes.scores.phases.decode.macs"), 16 * 5 + 16 * 6);
  EXPECT_EQ(r.num("engines.core.gemm_tiles"), 6 * 3);
  EXPECT_EQ(r.num("llm.tokens"), 3);
  // The engine bounds every step: the report's bound is its never-stalled compute time.
  EXPECT_EQ(r.str("llm.phases.decode.bound"), "shared engine");
  EXPECT_GE(r.num("llm.phases.decode.simulated_us"), r.num("llm.phases.decode.engine_bound_us"));
  EXPECT_GT(r.num("llm.phases.decode.engine_bound_us"), 0);
}

// Off-chip memory is a capacity like the on-chip ones (issue 17): 4096 sequences of
// 128 + 128 tokens need 2 x 12 x 256 x 768 = 4,718,592 bytes each, 19,327,352,832 bytes
// of KV cache in all, over the U280's 8 GB of HBM2 (8e9 bytes): exit 2 with the numbers.
TEST(Llm, KvCacheOverflowOfHbmIsASimulationError) {
  const std::string cfg = config(
      "  phase: generate\n  prompt_len: 128\n  gen_tokens: 128\n  batch: 4096\nsystem:\n"
      "  devices: [{name: fpga0, type: u280}]\nmapping:\n  weights: auto\n"
      "  kv_cache: off_chip\n");
  const auto r = run(cfg);
  EXPECT_EQ(r.exit_code, 2) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("4718592 bytes per sequence x 4096 sequences"), std::string::npos)
      << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("device 'fpga0' (u280): off-chip memory hbm2 needs "),
            std::string::npos)
      << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("bytes but has 8000000000 ("), std::string::npos) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("KV caches 19327352832"), std::string::npos) << r.stderr_text;
  // mapping.oversubscribe reports it instead (--summary: no simulation of 4096 sequences).
  const std::string out = masesim::test::make_temp_dir() + "/summary.txt";
  const auto o = run(cfg, "--set mapping.oversubscribe=true --summary > " + out);
  EXPECT_EQ(o.exit_code, 0) << o.stderr_text;
  std::ifstream in(out);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("oversubscribed device 'fpga0' (u280): off-chip memory hbm2 needs "),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("KV caches 19327352832"), std::string::npos) << text;
}
