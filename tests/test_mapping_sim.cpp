// Mapping choices end to end through the simulate binary: explicit topologies with every
// partitioner (one topology builder for the mapper and the system), off-chip weight
// placements that every partitioner and mapping.auto keep, mapping.auto with a full
// mapping.place, and the effective configuration re-running the same simulation.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>

#include "sim_harness.hpp"

using masesim::test::read_file;
using masesim::test::run_simulate;
using masesim::test::SimRun;
using masesim::test::without_provenance;

namespace {

const long kElems = 4096;  // int8 elements of x, a and b: 4096 bytes per inference
const int kInferences = 2;

// x -> relu a -> relu b -> host.
const std::string kRelus =
    "format: mase-graph\nversion: 1\ninputs: [{name: x, shape: [1, 4096], precision: {type: "
    "fixed, width: 8}}]\nnodes:\n"
    "  - {name: a, op: relu, args: {data_in_0: x}, results: {data_out_0: {shape: [1, 4096], "
    "precision: {type: fixed, width: 8}}}}\n"
    "  - {name: b, op: relu, args: {data_in_0: a}, results: {data_out_0: {shape: [1, 4096], "
    "precision: {type: fixed, width: 8}}}}\n"
    "outputs: [b]\n";

// A device on which one 8-lane relu (149 LUTs) fits under the 80 % cap (200 LUTs) and
// under greedy's 75 % LUT fill (187.5), but two (297) do not: every partitioner must cut
// between a and b.
const std::string kTiny =
    "name: tiny\nlut: 250\nff: 100000\ndsp: 100\nbram36: 100\nuram: 10\nslrs: 1\nclock_mhz: 250\n"
    "qsfp28_ports: 2\nmemory: {kind: ddr4, channels: 1, gbytes_per_s: 16, latency_ns: 100, "
    "capacity_gbytes: 4}\n";

// Three devices cabled fpga0 - fpga2 - fpga1: stage 0 (fpga0) reaches stage 1 (fpga1)
// only through fpga2, over the two explicit cables.
const std::string kExplicit =
    "workload: {graph: g.yaml, inferences: 2}\nsystem:\n  devices: [{count: 3, type: "
    "tiny.yaml}]\n  topology: explicit\n  links: [[fpga0, fpga2], [fpga2, fpga1]]\n";

SimRun run_explicit(const std::string& set) {
  return run_simulate({{"g.yaml", kRelus}, {"tiny.yaml", kTiny}, {"c.yaml", kExplicit}}, "c.yaml",
                      "--set " + set);
}

void expect_cut_over_explicit_cables(const SimRun& r) {
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_EQ(r.str("nodes.a.device"), "fpga0");
  EXPECT_EQ(r.str("nodes.b.device"), "fpga1");
  // a's output crosses both cables once per inference; no cable fpga0-fpga1 exists.
  EXPECT_EQ(r.num("links.fpga0->fpga2.bytes"), kElems * kInferences);
  EXPECT_EQ(r.num("links.fpga2->fpga1.bytes"), kElems * kInferences);
  EXPECT_EQ(r.stats.count("links.fpga0->fpga1.bytes"), 0u);
  EXPECT_EQ(r.stats.count("links.fpga2->fpga0.bytes"), 0u);
}

}  // namespace

TEST(MappingSim, ExplicitTopologyWithBalancedPartition) {
  const auto r = run_explicit("mapping.partition=balanced");
  expect_cut_over_explicit_cables(r);
  EXPECT_EQ(r.str("mapping.partition"), "balanced");
}

TEST(MappingSim, ExplicitTopologyWithGreedyPartition) {
  const auto r = run_explicit("mapping.partition=greedy");
  expect_cut_over_explicit_cables(r);
  EXPECT_EQ(r.str("mapping.partition"), "greedy");
}

TEST(MappingSim, ExplicitTopologyWithAutoMapping) {
  const auto r = run_explicit("mapping.auto=true");
  expect_cut_over_explicit_cables(r);
  EXPECT_EQ(r.str("mapping.partition"), "balanced");
  EXPECT_EQ(r.str("mapping.auto"), "true");
}

namespace {

// One linear 64 -> 32 (2048 weight bytes), one row per inference; `weights` is the
// node's hw.weights.
std::string linear_graph(const std::string& weights) {
  return "format: mase-graph\nversion: 1\ninputs: [{name: x, shape: [1, 64], precision: {type: "
         "fixed, width: 8}}]\nnodes:\n  - name: fc\n    op: linear\n    args: {data_in_0: x}\n"
         "    params: {weight: {shape: [32, 64], precision: {type: fixed, width: 8}}}\n"
         "    results: {data_out_0: {shape: [1, 32], precision: {type: fixed, width: 8}}}\n"
         "    hw: {weights: " +
         weights + "}\noutputs: [fc]\n";
}

SimRun run_linear(const std::string& node_weights, const std::string& sets) {
  const std::string cfg =
      "workload: {graph: g.yaml, inferences: 2}\nsystem:\n  devices: [{count: 2, type: u250}]\n";
  return run_simulate({{"g.yaml", linear_graph(node_weights)}, {"c.yaml", cfg}}, "c.yaml", sets);
}

// mapping.auto without its split search, which would split fc over the two devices (its
// weights stream from off chip: two devices' memories read half each; see
// AutoSplitKeepsTheOffChipPlacementInEveryPiece).
const char* const kPlacers[] = {"mapping.partition=manual", "mapping.partition=balanced",
                                "mapping.partition=greedy",
                                "mapping.auto=true --set mapping.auto_split=false"};

// The weights fit on chip easily, so any partitioner left to itself keeps them there; an
// explicit off-chip placement must survive: each inference reads the 2048 weight bytes
// from fpga0's memory.
void expect_off_chip(const SimRun& r, const std::string& what) {
  ASSERT_EQ(r.exit_code, 0) << what << ": " << r.stderr_text;
  EXPECT_EQ(r.str("nodes.fc.device"), "fpga0") << what;
  EXPECT_EQ(r.str("nodes.fc.weights"), "off_chip") << what;
  EXPECT_EQ(r.num("nodes.fc.weight_bytes_read"), 2048 * kInferences) << what;
  EXPECT_EQ(r.num("devices.fpga0.memory.bytes_read"), 2048 * kInferences) << what;
}

}  // namespace

TEST(MappingSim, MappingWeightsOffChipIsKeptByEveryPartitioner) {
  for (const std::string p : kPlacers)
    expect_off_chip(run_linear("on_chip", "--set mapping.weights=off_chip --set " + p), p);
}

TEST(MappingSim, NodeWeightsOffChipIsKeptByEveryPartitioner) {
  for (const std::string p : kPlacers) expect_off_chip(run_linear("off_chip", "--set " + p), p);
}

TEST(MappingSim, NodeWeightsOffChipIsKeptByMappingWeightsAuto) {
  for (const std::string p : kPlacers)
    expect_off_chip(run_linear("off_chip", "--set mapping.weights=auto --set " + p), p);
}

// The split search keeps the explicit placement: fc becomes two pieces of 16 output
// features, one per device, each reading its 16 x 64 = 1024 weight bytes per inference
// from its own device's memory; the gather keeps the name fc. The input goes in as one
// 64-lane beat: at the default 8 lanes its 8 beats per inference would be the bound (the
// host injects one beat per cycle, 32 ns, above fc's 26.6 ns), which no split lowers.
TEST(MappingSim, AutoSplitKeepsTheOffChipPlacementInEveryPiece) {
  const SimRun r =
      run_linear("off_chip", "--set mapping.auto=true --set mapping.default_parallelism=64");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_EQ(r.str("mapping.splits"), "fc: 2 ways by columns");
  EXPECT_EQ(r.str("nodes.fc.op"), "cat");
  EXPECT_NE(r.str("nodes.fc@s0.device"), r.str("nodes.fc@s1.device"));
  for (const std::string p : {"fc@s0", "fc@s1"}) {
    EXPECT_EQ(r.str("nodes." + p + ".weights"), "off_chip") << p;
    EXPECT_EQ(r.num("nodes." + p + ".weight_bytes_read"), 1024 * kInferences) << p;
  }
  EXPECT_FALSE(r.str("mapping.scale_bound").empty());
}

// The control: without an off-chip placement every partitioner keeps these weights on chip.
TEST(MappingSim, OnChipWeightsStayOnChip) {
  for (const std::string p : kPlacers) {
    const auto r = run_linear("on_chip", "--set " + p);
    ASSERT_EQ(r.exit_code, 0) << p << ": " << r.stderr_text;
    EXPECT_EQ(r.str("nodes.fc.weights"), "on_chip") << p;
    EXPECT_EQ(r.num("devices.fpga0.memory.bytes_read"), 0) << p;
  }
}

// mapping.auto with every node placed by mapping.place keeps the placement (even one
// against the graph order) and only sizes the tiles.
TEST(MappingSim, AutoKeepsAFullMappingPlace) {
  const std::string cfg =
      "workload: {graph: g.yaml, inferences: 2}\nsystem:\n  devices: [{count: 2, type: u250}]\n"
      "mapping:\n  auto: true\n  place: {a: fpga1, b: fpga0}\n";
  const auto r = run_simulate({{"g.yaml", kRelus}, {"c.yaml", cfg}}, "c.yaml");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_EQ(r.str("mapping.auto"), "true");
  EXPECT_EQ(r.str("mapping.partition"), "manual");
  EXPECT_EQ(r.str("nodes.a.device"), "fpga1");
  EXPECT_EQ(r.str("nodes.b.device"), "fpga0");
  // x enters at a's device (fpga1); a -> b crosses fpga1 -> fpga0 once per inference.
  EXPECT_EQ(r.num("links.fpga1->fpga0.bytes"), kElems * kInferences);
  EXPECT_EQ(r.stats.count("links.fpga0->fpga1.bytes"), 0u);
}

// The effective configuration (out/config.yaml) re-runs the same simulation from another
// directory: the graph and device-type paths in it are absolute.
TEST(MappingSim, EffectiveConfigReRunsTheSameSimulation) {
  const auto a = run_explicit("mapping.partition=balanced");
  ASSERT_EQ(a.exit_code, 0) << a.stderr_text;
  const std::string eff = read_file(a.dir + "/out/config.yaml");
  EXPECT_NE(eff.find("graph: " + a.dir + "/g.yaml"), std::string::npos) << eff;
  EXPECT_NE(eff.find("type: " + a.dir + "/tiny.yaml"), std::string::npos) << eff;
  const auto b = run_simulate({{"c.yaml", eff}}, "c.yaml");
  ASSERT_EQ(b.exit_code, 0) << b.stderr_text;
  EXPECT_EQ(without_provenance(read_file(b.dir + "/out/stats.json")),
            without_provenance(read_file(a.dir + "/out/stats.json")));
}

// An LLM pipeline over several devices without a placement is partitioned with balanced:
// a choice derived in the system description, not written into the configuration (the
// effective configuration keeps mapping.partition: manual and re-runs the same simulation).
TEST(MappingSim, LlmPipelineDefaultPartitionIsNotWrittenIntoTheConfig) {
  const std::string cfg = "workload: {graph: " + std::string(MASESIM_SOURCE_DIR) +
                          "/workloads/graphs/opt125m_int8.json, phase: decode, prompt_len: 8, "
                          "gen_tokens: 2}\nsystem:\n  devices: [{count: 2, type: u250}]\n"
                          "mapping: {weights: auto}\n";
  const auto a = run_simulate({{"c.yaml", cfg}}, "c.yaml");
  ASSERT_EQ(a.exit_code, 0) << a.stderr_text;
  EXPECT_EQ(a.str("mapping.partition"), "balanced");
  EXPECT_EQ(a.num("mapping.devices_used"), 2);
  const std::string eff = read_file(a.dir + "/out/config.yaml");
  EXPECT_NE(eff.find("partition: manual"), std::string::npos) << eff;
  const auto b = run_simulate({{"c.yaml", eff}}, "c.yaml");
  ASSERT_EQ(b.exit_code, 0) << b.stderr_text;
  EXPECT_EQ(without_provenance(read_file(b.dir + "/out/stats.json")),
            without_provenance(read_file(a.dir + "/out/stats.json")));
}

// ---- resource estimates from the HLS block models (issue 17) ----
namespace {
// wide: a linear with 768 reduction lanes (k_par 768, outside int_linear2d's data: k_par
// 1..8); fc: 64 -> 32 with a bias at 8 x 4 lanes, 8 x 8 tiles: inside it.
std::string two_linears(bool with_fc) {
  std::string g =
      "format: mase-graph\nversion: 1\ninputs: [{name: x, shape: [1, 768], precision: {type: "
      "fixed, width: 8}}]\nnodes:\n"
      "  - name: wide\n    op: linear\n    args: {data_in_0: x}\n"
      "    params: {weight: {shape: [64, 768], precision: {type: fixed, width: 8}}}\n"
      "    results: {data_out_0: {shape: [1, 64], precision: {type: fixed, width: 8}}}\n"
      "    hw: {parallelism: {data_in_0: [1, 768], data_out_0: [1, 8]}}\n";
  if (with_fc)
    g += "  - name: fc\n    op: linear\n    args: {data_in_0: wide}\n"
         "    params: {weight: {shape: [32, 64], precision: {type: fixed, width: 8}},\n"
         "             bias: {shape: [32], precision: {type: fixed, width: 8}}}\n"
         "    results: {data_out_0: {shape: [1, 32], precision: {type: fixed, width: 8}}}\n"
         "    hw: {parallelism: {data_in_0: [1, 8], data_out_0: [1, 4]}}\n";
  return g + "outputs: [" + (with_fc ? "fc" : "wide") + "]\n";
}
const std::string kU250 =
    "workload: {graph: g.yaml, inferences: 1}\nsystem: {devices: [{name: fpga0, type: u250}]}\n";
}  // namespace

TEST(MappingSim, ExtrapolatedEstimatesAreMarked) {
  const auto r = run_simulate({{"g.yaml", two_linears(true)}, {"c.yaml", kU250}}, "c.yaml");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_EQ(r.str("nodes.wide.resources.extrapolated"), "true");
  EXPECT_NE(r.str("nodes.wide.resources.extrapolation").find("k_par 768 (data: 1..8)"),
            std::string::npos)
      << r.str("nodes.wide.resources.extrapolation");
  EXPECT_EQ(r.str("nodes.fc.resources.extrapolated"), "false");
  EXPECT_EQ(r.str("nodes.fc.resources.binding"), "hls_default");
  EXPECT_EQ(r.num("mapping.extrapolated_nodes"), 1);
  EXPECT_EQ(r.num("mapping.extrapolation_margin"), 0.15);
}

TEST(MappingSim, BindingKeysSwitchTheNodesMultipliers) {
  const std::map<std::string, std::string> f = {{"g.yaml", two_linears(true)}, {"c.yaml", kU250}};
  const auto def = run_simulate(f, "c.yaml");
  const auto lut = run_simulate(f, "c.yaml", "--set system.binding=lut");
  const auto one = run_simulate(f, "c.yaml", "--set 'mapping.binding={fc: dsp_packed}'");
  ASSERT_EQ(def.exit_code, 0) << def.stderr_text;
  ASSERT_EQ(lut.exit_code, 0) << lut.stderr_text;
  ASSERT_EQ(one.exit_code, 0) << one.stderr_text;
  // fc: 32 multipliers, 4 outputs: hls_default 0.6872 x 32 + 0.2483 x 4 DSPs (fitted);
  // dsp_packed k_par x ceil(4 / 2) = 16; lut none.
  EXPECT_NEAR(def.num("nodes.fc.resources.dsp"), 0.6872 * 32 + 0.2483 * 4, 1e-6);
  EXPECT_EQ(lut.num("nodes.fc.resources.dsp"), 0);
  EXPECT_EQ(lut.num("nodes.wide.resources.dsp"), 0);
  EXPECT_GT(lut.num("nodes.fc.resources.lut"), def.num("nodes.fc.resources.lut"));
  EXPECT_EQ(one.num("nodes.fc.resources.dsp"), 16);
  EXPECT_EQ(one.str("nodes.fc.resources.binding"), "dsp_packed");
  EXPECT_EQ(one.str("nodes.wide.resources.binding"), "hls_default");
  EXPECT_EQ(one.num("nodes.wide.resources.dsp"), def.num("nodes.wide.resources.dsp"));
  const auto bad = run_simulate(f, "c.yaml", "--set 'mapping.binding={fc: dsp}'");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.stderr_text.find("mapping.binding.fc: unknown multiplier binding 'dsp'"),
            std::string::npos)
      << bad.stderr_text;
}

// The fit check counts an extrapolated estimate as (1 + margin) x its value: with the
// wide linear alone, the verdict flips at margin = 1 / (its largest utilisation) - 1.
TEST(MappingSim, ExtrapolationMarginChangesTheFitVerdict) {
  const std::map<std::string, std::string> f = {{"g.yaml", two_linears(false)}, {"c.yaml", kU250}};
  const auto base = run_simulate(f, "c.yaml", "--set mapping.extrapolation_margin=0");
  ASSERT_EQ(base.exit_code, 0) << base.stderr_text;
  double u = 0;
  for (const std::string r : {"lut", "ff", "dsp", "bram36", "uram"})
    u = std::max(u, base.num("nodes.wide.resources." + r) /
                        base.num("devices.fpga0.resources." + r + ".available"));
  const double flip = 1 / u - 1;
  ASSERT_GT(flip, 0.1);
  ASSERT_LT(flip, 9.0);
  const auto pass = run_simulate(
      f, "c.yaml", "--set mapping.extrapolation_margin=" + std::to_string(flip - 0.05));
  EXPECT_EQ(pass.exit_code, 0) << pass.stderr_text;
  const auto fail = run_simulate(
      f, "c.yaml", "--set mapping.extrapolation_margin=" + std::to_string(flip + 0.05));
  EXPECT_EQ(fail.exit_code, 2);
  EXPECT_NE(fail.stderr_text.find("margin on 1 extrapolated node estimates"), std::string::npos)
      << fail.stderr_text;
}

// mapping.weights: auto moves the largest weights off chip until BRAM and URAM fit, but only
// those of blocks that can stream them: the layer_norm's weight (4096 bytes, as large as the
// linear's and earlier in the graph, so taken first on size alone) stays on chip and the
// linear's goes off chip. A device with no BRAM or URAM never fits, so the run is
// oversubscribed; the linear reads its 4096 weight bytes per inference.
TEST(MappingSim, WeightsAutoMovesOnlyWeightsThatCanStream) {
  const std::string graph =
      "format: mase-graph\nversion: 1\ninputs: [{name: x, shape: [1, 4096], precision: {type: "
      "fixed, width: 8}}]\nnodes:\n  - name: ln\n    op: layer_norm\n    args: {data_in_0: x}\n"
      "    params: {weight: {shape: [4096], precision: {type: fixed, width: 8}}}\n"
      "    results: {data_out_0: {shape: [1, 4096], precision: {type: fixed, width: 8}}}\n"
      "  - name: fc\n    op: linear\n    args: {data_in_0: ln}\n"
      "    params: {weight: {shape: [1, 4096], precision: {type: fixed, width: 8}}}\n"
      "    results: {data_out_0: {shape: [1, 1], precision: {type: fixed, width: 8}}}\n"
      "outputs: [fc]\n";
  const std::string no_ram =
      "name: no_ram\nlut: 1000000\nff: 2000000\ndsp: 10000\nbram36: 0\nuram: 0\nslrs: 1\n"
      "clock_mhz: 250\nqsfp28_ports: 2\nmemory: {kind: ddr4, channels: 1, gbytes_per_s: 16, "
      "latency_ns: 100, capacity_gbytes: 4}\n";
  const std::string cfg =
      "workload: {graph: g.yaml, inferences: 2}\nsystem:\n  devices: [{name: fpga0, type: "
      "no_ram.yaml}]\nmapping: {weights: auto, oversubscribe: true}\n";
  const auto r =
      run_simulate({{"g.yaml", graph}, {"no_ram.yaml", no_ram}, {"c.yaml", cfg}}, "c.yaml");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_EQ(r.str("nodes.ln.weights"), "on_chip");
  EXPECT_EQ(r.str("nodes.fc.weights"), "off_chip");
  EXPECT_EQ(r.num("nodes.fc.weight_bytes_read"), 4096 * kInferences);
  EXPECT_EQ(r.num("devices.fpga0.memory.bytes_read"), 4096 * kInferences);
}

namespace {

// One moe_experts node: 8 tokens of hidden 4, 4 experts of ffn 8 with w3 (SwiGLU), top-2,
// one datapath per expert; 2 lanes per port.
const char* const kMoeGraph =
    "format: mase-graph\nversion: 1\n"
    "inputs: [{name: x, shape: [8, 4], precision: {type: fixed, width: 8}},\n"
    "         {name: g, shape: [8, 4], precision: {type: fixed, width: 8}}]\n"
    "nodes:\n"
    "  - name: moe\n    op: moe_experts\n    args: {data_in_0: x, data_in_1: g}\n"
    "    attrs: {top_k: 2, expert_parallel: 4}\n"
    "    params: {w1: {shape: [4, 8, 4], precision: {type: fixed, width: 8}},\n"
    "             w2: {shape: [4, 4, 8], precision: {type: fixed, width: 8}},\n"
    "             w3: {shape: [4, 8, 4], precision: {type: fixed, width: 8}}}\n"
    "    results: {data_out_0: {shape: [8, 4], precision: {type: fixed, width: 8}}}\n"
    "outputs: [moe]\n";

SimRun run_moe(const std::string& routing, const std::string& sets = "") {
  const std::string cfg = "workload: {graph: g.yaml, inferences: 2" +
                          (routing.empty() ? "" : ", moe_routing: " + routing) +
                          "}\nsystem:\n  devices: [{name: fpga0, type: u250}]\n"
                          "mapping: {default_parallelism: 2}\n";
  return run_simulate({{"g.yaml", kMoeGraph}, {"c.yaml", cfg}}, "c.yaml", sets);
}

}  // namespace

// Experts off chip (mapping.weights: off_chip): every inference streams the weights of
// the experts it routes to, once. expert_load 1:1:0:0 routes the 16 slots to experts 0 and
// 1 (8 each): w1 + w3 in 4 tiles of 2 × 4 × 2 bytes and w2 in 2 tiles of 2 × 8 bytes per
// expert, 96 bytes each, 192 per inference against the 384 of all four; experts 2 and 3
// are never read. Datapaths 0 and 1 each run 8 slots × 24 cycles = 192 busy cycles per
// inference, as on chip; balanced routing reads all four experts (384 bytes).
TEST(MappingSim, MoeExpertsStreamTheRoutedExpertsFromOffChip) {
  const SimRun r = run_moe("{moe: {expert_load: [1, 1, 0, 0]}}", "--set mapping.weights=off_chip");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_EQ(r.str("nodes.moe.weights"), "off_chip");
  EXPECT_EQ(r.num("nodes.moe.weight_bytes_read"), 2 * 192);
  EXPECT_EQ(r.num("devices.fpga0.memory.bytes_read"), 2 * 192);
  EXPECT_EQ(r.num("devices.fpga0.memory.requests"), 2 * 12);  // one per tile
  EXPECT_EQ(r.num("nodes.moe.busy_cycles"), 2 * 192);
  const SimRun on = run_moe("{moe: {expert_load: [1, 1, 0, 0]}}");
  ASSERT_EQ(on.exit_code, 0) << on.stderr_text;
  EXPECT_EQ(on.str("nodes.moe.weights"), "on_chip");
  EXPECT_EQ(on.num("nodes.moe.busy_cycles"), 2 * 192);
  EXPECT_EQ(on.num("devices.fpga0.memory.bytes_read"), 0);
  // off chip the weights wait for the memory (≥ one access latency per inference)
  EXPECT_GT(r.num("nodes.moe.stall_mem_cycles"), 0);
  EXPECT_GT(r.num("total_cycles"), on.num("total_cycles"));
  const SimRun bal = run_moe("", "--set mapping.weights=off_chip");
  ASSERT_EQ(bal.exit_code, 0) << bal.stderr_text;
  EXPECT_EQ(bal.num("nodes.moe.weight_bytes_read"), 2 * 384);
}

// workload.moe_routing sets the routed token counts from the configuration. One token slot
// costs w1 and w3 ceil(4/2)·ceil(8/2) = 8 cycles each and w2 8: 24 cycles. 8 tokens × top-2
// = 16 slots; balanced (the graph's default) gives each of the 4 datapaths 4 slots: 96
// cycles per inference; expert_load 3:1:1:1 gives 8, 3, 3, 2 (largest remainders), so the
// busiest datapath takes 8 × 24 = 192. Two inferences each; the MACs do not change.
TEST(MappingSim, MoeRoutingFromTheConfigSetsTheExpertLoad) {
  const SimRun bal = run_moe("");
  ASSERT_EQ(bal.exit_code, 0) << bal.stderr_text;
  EXPECT_EQ(bal.num("nodes.moe.busy_cycles"), 2 * 96);
  const SimRun load = run_moe("{moe: {expert_load: [3, 1, 1, 1]}}");
  ASSERT_EQ(load.exit_code, 0) << load.stderr_text;
  EXPECT_EQ(load.num("nodes.moe.busy_cycles"), 2 * 192);
  EXPECT_EQ(load.num("nodes.moe.macs"), bal.num("nodes.moe.macs"));
  // seeded: the same counts on every run, at most all 8 tokens on one datapath
  const SimRun s1 = run_moe("{\"m*\": {routing_seed: 7}}");
  const SimRun s2 = run_moe("{\"m*\": {routing: seeded, routing_seed: 7}}");
  ASSERT_EQ(s1.exit_code, 0) << s1.stderr_text;
  EXPECT_EQ(s1.num("nodes.moe.busy_cycles"), s2.num("nodes.moe.busy_cycles"));
  EXPECT_GE(s1.num("nodes.moe.busy_cycles"), 2 * 96);
  EXPECT_LE(s1.num("nodes.moe.busy_cycles"), 2 * 8 * 24);
  const std::pair<std::string, std::string> bad[] = {
      {"{moe: {expert_load: [3, 1, 1]}}",
       "workload.moe_routing.moe.expert_load: 3 weights for node 'moe', which has 4 experts"},
      {"{\"lm*\": {routing: balanced}}", "workload.moe_routing.lm*: matches no moe_experts node"},
      {"{moe: {routing: sedded}}",
       "workload.moe_routing.moe.routing: 'sedded' is not one of balanced, load, seeded (did you "
       "mean 'seeded'?)"},
      {"{moe: {routing: load}}", "workload.moe_routing.moe: routing: load needs expert_load"},
      {"{moe: {expert_lod: [1]}}", "unknown key 'expert_lod'"},
      {"{moe: {expert_load: [8, 0, 0, 0]}}",
       "expert_load gives expert 0 16 token slots, more than the 8 tokens (each token picks "
       "top_k distinct experts) (the routing is set by "},
  };
  for (const auto& [routing, message] : bad) {
    const SimRun r = run_moe(routing);
    EXPECT_EQ(r.exit_code, 1) << routing;
    EXPECT_NE(r.stderr_text.find(message), std::string::npos)
        << routing << "\nexpected: " << message << "\ngot: " << r.stderr_text;
  }
}
