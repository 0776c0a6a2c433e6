// Stage replication (mapping.replicate, docs/partitioning.md) through the simulate binary:
// a bound stage's throughput against the cycle model by hand, the round-robin dispatch
// and collection as bytes and frames on the links, a stage of several nodes, and the
// errors for rules that cannot hold.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sim_harness.hpp"

using masesim::test::run_simulate;
using masesim::test::SimRun;

namespace {

// x [16, 64] int8 -> fc (linear 64 -> 64, no bias) -> r (relu) -> host.
const char* const kGraph = masesim::test::kLinearReluGraph;

// Four U250s (250 MHz) on a switch, 8 lanes per port; `inferences` injected back to back.
std::string config(int inferences, const std::string& mapping) {
  return "workload: {graph: g.yaml, inferences: " + std::to_string(inferences) +
         "}\nsystem:\n  devices: [{count: 4, type: u250}]\n  topology: fully_connected\n  "
         "allow_switch: true\n"
         "mapping:\n  default_parallelism: 8\n" +
         mapping;
}

std::string devices(int k) {
  std::string d;
  for (int j = 0; j < k; ++j) d += (j ? ", fpga" : "fpga") + std::to_string(j);
  return d;
}

// fc replicated k ways (replica j on fpga j); r and the collect on fpga0.
SimRun run_replicated(int k, int inferences, const std::string& glob = "fc") {
  const std::string m = k > 1
                            ? "  replicate: [{nodes: \"" + glob + "\", ways: " + std::to_string(k) +
                                  ", devices: [" + devices(k) + "]}]\n"
                            : "";
  return run_simulate({{"g.yaml", kGraph}, {"c.yaml", config(inferences, m)}}, "c.yaml");
}

double done(const SimRun& r, int i) {
  return r.num("inference_done_cycles." + std::to_string(i));
}

// A graph on x [4, 16] int8 whose nodes (name, op, args, extra keys) all give [4, 16] int8.
struct SmallNode {
  std::string name, op, args, extra;
};
std::string small_graph(const std::vector<SmallNode>& nodes, const std::string& output) {
  std::string g =
      "format: mase-graph\nversion: 1\n"
      "inputs: [{name: x, shape: [4, 16], precision: {type: fixed, width: 8}}]\nnodes:\n";
  for (const auto& n : nodes)
    g += "  - {name: " + n.name + ", op: " + n.op + ", args: {" + n.args + "}" + n.extra +
         ",\n     results: {data_out_0: {shape: [4, 16], precision: {type: fixed, width: 8}}}}\n";
  return g + "outputs: [" + output + "]\n";
}

SimRun run_bad(const std::string& mapping, const std::string& extra = "") {
  return run_simulate({{"g.yaml", kGraph}, {"c.yaml", config(4, mapping) + extra}}, "c.yaml");
}

}  // namespace

// The linear's cycle model (MASE fixed_linear): 16 rows x (64/8) x (64/8) = 1024 cycles per
// inference, every other block at 128 beats per inference, so fc bounds the pipeline at
// 250 MHz / 1024. Two replicas take the inferences in turn: replica 0 (beside the source)
// runs 0, 2, 4, 6, 8 back to back, 1024 cycles apart, replica 1 the odd ones; with 9
// inferences the first and the last completion are both replica 0's, 4 x 1024 cycles apart,
// so the measured throughput is exactly 8 / 4096 cycles: twice the single block's.
// Links: fpga0 -> switch -> fpga1 carries the inputs of inferences 1, 3, 5, 7 (1024 bytes,
// one frame each) and fpga1 -> switch -> fpga0 their outputs.
TEST(Replicate, ReplicationDoublesThroughputOfABoundStageExactly) {
  const SimRun one = run_replicated(1, 9);
  ASSERT_EQ(one.exit_code, 0) << one.stderr_text;
  EXPECT_DOUBLE_EQ(one.num("throughput_inferences_per_s"), 250e6 / 1024);
  EXPECT_EQ(one.num("mapping.replicated_stages"), 0);

  const SimRun two = run_replicated(2, 9);
  ASSERT_EQ(two.exit_code, 0) << two.stderr_text;
  EXPECT_DOUBLE_EQ(two.num("throughput_inferences_per_s"),
                   2 * one.num("throughput_inferences_per_s"));
  EXPECT_DOUBLE_EQ(two.num("throughput_inferences_per_s"), 250e6 / 512);
  EXPECT_EQ(two.num("mapping.replicated_stages"), 1);
  EXPECT_EQ(two.str("mapping.replicas"), "fc: 2 replicas of 1 node(s), collected at fc");
  EXPECT_EQ(two.str("nodes.fc.op"), "collect");  // the collect keeps the stage output's name
  EXPECT_EQ(two.str("nodes.fc@r0.device"), "fpga0");
  EXPECT_EQ(two.str("nodes.fc@r1.device"), "fpga1");
  EXPECT_EQ(two.str("nodes.fc@r1.replica"), "1 of 2");
  EXPECT_EQ(two.num("nodes.fc@r0.inferences"), 5);
  EXPECT_EQ(two.num("nodes.fc@r1.inferences"), 4);
  EXPECT_EQ(two.num("nodes.fc@r0.busy_cycles"), 5 * 1024);
  EXPECT_EQ(two.num("nodes.fc@r1.busy_cycles"), 4 * 1024);
  EXPECT_EQ(two.num("nodes.fc@r0.macs"), 5 * 16 * 64 * 64);
  EXPECT_EQ(two.num("nodes.fc@r1.macs"), 4 * 16 * 64 * 64);
  for (int i = 0; i + 2 < 9; i += 2) EXPECT_EQ(done(two, i + 2) - done(two, i), 1024) << i;
  EXPECT_EQ(two.num("links.fpga0->switch.bytes"), 4 * 1024);
  EXPECT_EQ(two.num("links.fpga0->switch.frames"), 4);
  EXPECT_EQ(two.num("links.switch->fpga1.bytes"), 4 * 1024);
  EXPECT_EQ(two.num("links.fpga1->switch.bytes"), 4 * 1024);
  EXPECT_EQ(two.num("links.switch->fpga0.bytes"), 4 * 1024);
  EXPECT_EQ(two.num("links.switch->fpga0.frames"), 4);
  // Every inference's result still reaches the host, in order.
  for (int i = 0; i + 1 < 9; ++i) EXPECT_LT(done(two, i), done(two, i + 1)) << i;
}

// Four replicas: after the first round (the remote replicas start when their input has
// crossed the link), four inferences complete every 1024 cycles; each remote replica
// receives inferences j, j + 4 (two frames of 1024 bytes from fpga0).
TEST(Replicate, FourReplicasCompleteFourInferencesPerStageInterval) {
  const SimRun r = run_replicated(4, 9);
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_EQ(done(r, 8) - done(r, 4), 1024);
  EXPECT_EQ(done(r, 4) - done(r, 0) > 1024, true);  // the fill: remote replicas start later
  EXPECT_EQ(r.num("nodes.fc@r0.inferences"), 3);
  for (int j = 1; j < 4; ++j) {
    const std::string dev = "fpga" + std::to_string(j);
    EXPECT_EQ(r.num("nodes.fc@r" + std::to_string(j) + ".inferences"), 2) << j;
    EXPECT_EQ(r.num("links.switch->" + dev + ".bytes"), 2 * 1024) << dev;
    EXPECT_EQ(r.num("links.switch->" + dev + ".frames"), 2) << dev;
    EXPECT_EQ(r.num("links." + dev + "->switch.bytes"), 2 * 1024) << dev;
  }
  EXPECT_EQ(r.num("links.fpga0->switch.bytes"), 6 * 1024);
}

// A stage of two nodes: fc and r are both replicated, the edge fc@rj -> r@rj stays inside
// replica j (on its device), and only r's output is collected.
TEST(Replicate, AStageOfSeveralNodesKeepsItsEdgesInsideEachReplica) {
  const SimRun r = run_replicated(2, 9, "*");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_EQ(r.str("mapping.replicas"), "*: 2 replicas of 2 node(s), collected at r");
  EXPECT_EQ(r.str("nodes.r.op"), "collect");
  EXPECT_EQ(r.str("nodes.r@r1.device"), "fpga1");
  EXPECT_EQ(r.num("nodes.r@r1.inferences"), 4);
  EXPECT_FALSE(r.has("nodes.fc.op"));  // fc has no collect: its output stays in the stage
  EXPECT_DOUBLE_EQ(r.num("throughput_inferences_per_s"), 250e6 / 512);
  // fpga1 receives the odd inputs and returns the odd outputs: nothing else crosses.
  EXPECT_EQ(r.num("links.switch->fpga1.bytes"), 4 * 1024);
  EXPECT_EQ(r.num("links.fpga1->switch.bytes"), 4 * 1024);
}

// The balanced partitioner counts a replica's share: each of fc's two replicas runs one
// inference in two, 1024 / 2 = 512 cycles per inference of the system, which is its
// estimate of the bottleneck; the replicas (both fit one U250) run side by side, so the
// simulated throughput is that estimate exactly (9 inferences, as above).
TEST(Replicate, BalancedPartitionCountsEachReplicasShare) {
  const SimRun r = run_simulate(
      {{"g.yaml", kGraph},
       {"c.yaml", config(9, "  partition: balanced\n  replicate: [{nodes: fc, ways: 2}]\n")}},
      "c.yaml");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_EQ(r.num("mapping.estimated_bottleneck_cycles"), 512);
  EXPECT_DOUBLE_EQ(r.num("throughput_inferences_per_s"), 250e6 / 512);
  EXPECT_EQ(r.num("nodes.fc@r0.busy_cycles"), 5 * 1024);
  EXPECT_EQ(r.num("nodes.fc@r1.busy_cycles"), 4 * 1024);
}

TEST(Replicate, RulesThatCannotHoldAreErrorsNamingTheKeyAndNode) {
  struct Case {
    std::string mapping, extra, message;
  };
  const Case cases[] = {
      {"  replicate: [{nodes: \"lm_*\", ways: 2}]\n", "",
       "mapping.replicate[0].nodes: 'lm_*' matches no node"},
      {"  replicate: [{nodes: fc, ways: 1}]\n", "",
       "mapping.replicate[0].ways: 1 (nodes 'fc'): expected 2..64"},
      {"  replicate: [{nodes: fc, ways: 2, devices: [fpga1]}]\n", "",
       "mapping.replicate[0].devices: expected a list of 2 device names (one per replica)"},
      {"  replicate: [{nodes: fc, ways: 2, devices: [fpga0, fpga9]}]\n", "",
       "mapping.replicate[0].devices[1]: device 'fpga9' is not in system.devices"},
      {"  replicate: [{nodes: fc, ways: 2, device: [fpga0, fpga1]}]\n", "",
       "mapping.replicate[0]: unknown key 'device'"},
      {"  replicate: [{nodes: fc, ways: 2}, {nodes: \"f*\", ways: 2}]\n", "",
       "mapping.replicate[1].nodes: node 'fc' is already replicated by mapping.replicate[0]"},
      {"  replicate: [{nodes: fc, ways: 2, devices: [fpga0, fpga1]}]\n  place: {\"fc@r1\": "
       "fpga2}\n",
       "",
       "mapping.replicate[0].devices: replica 'fc@r1' belongs on 'fpga1', but mapping.place "
       "puts it on 'fpga2'"},
      {"  replicate: [{nodes: fc, ways: 2, devices: [fpga0, fpga1]}]\n  auto: true\n", "",
       "mapping.replicate[].devices places the replicas, but mapping.auto places every node "
       "itself"},
      {"  replicate: [{nodes: fc, ways: 2, devices: [fpga0, fpga1]}]\n  partition: balanced\n", "",
       "mapping.replicate[].devices places the replicas, but mapping.partition: balanced places "
       "every node itself"},
      {"  replicate: [{nodes: fc, ways: 2}]\n", "simulation: {mode: functional}\n",
       "mapping.replicate: functional mode runs every inference on one graph of node data"},
      {"  replicate: {nodes: fc}\n", "", "mapping.replicate: expected a list of {nodes: GLOB"},
  };
  for (const Case& c : cases) {
    const SimRun r = run_bad(c.mapping, c.extra);
    EXPECT_EQ(r.exit_code, 1) << c.mapping << r.stderr_text;
    EXPECT_NE(r.stderr_text.find(c.message), std::string::npos)
        << "expected: " << c.message << "\ngot: " << r.stderr_text;
  }
}

// a -> b -> c and a -> c: replicating a and c but not b would leave the stage through b and
// come back, so the replicas could not run inferences independently.
TEST(Replicate, AStageThatIsNotContiguousIsAnError) {
  const std::string g = small_graph({{"a", "relu", "data_in_0: x", ""},
                                     {"b", "relu", "data_in_0: a", ""},
                                     {"c", "add", "data_in_0: a, data_in_1: b", ""}},
                                    "c");
  const SimRun r = run_simulate(
      {{"g.yaml", g}, {"c.yaml", config(4, "  replicate: [{nodes: \"[ac]\", ways: 2}]\n")}},
      "c.yaml");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.stderr_text.find("mapping.replicate[0].nodes: the stage is not contiguous: node "
                               "'b' (outside it) reads 'a' (inside) and feeds 'c' (inside)"),
            std::string::npos)
      << r.stderr_text;
}

// The collect op exists for the rewrite; a graph that uses it itself is rejected.
TEST(Replicate, AGraphCannotUseCollectItself) {
  const std::string g = small_graph(
      {{"a", "relu", "data_in_0: x", ""}, {"c", "collect", "data_in_0: a, data_in_1: x", ""}}, "c");
  const SimRun r = run_simulate({{"g.yaml", g}, {"c.yaml", config(4, "")}}, "c.yaml");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.stderr_text.find("node 'c': op 'collect' reads data_in_0 from 'a' (every "
                               "inference), not replica 0 of 2 (collects are made by "
                               "mapping.replicate"),
            std::string::npos)
      << r.stderr_text;
}

// Replicas written by hand (hw.replica) are checked like the rewrite's: a node that runs
// every inference cannot read a replica, which delivers only its share.
TEST(Replicate, AReplicaReadByANodeOfAnotherShareIsAnError) {
  const std::string g =
      small_graph({{"a", "relu", "data_in_0: x", ", hw: {replica: {index: 1, ways: 2}}"},
                   {"b", "relu", "data_in_0: a", ""}},
                  "b");
  const SimRun r = run_simulate({{"g.yaml", g}, {"c.yaml", config(4, "")}}, "c.yaml");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.stderr_text.find("node 'b' (every inference) reads 'a' (replica 1 of 2): a "
                               "replica's output goes to the same replica's nodes or to a collect"),
            std::string::npos)
      << r.stderr_text;
}

// The shipped data-parallel config: the MNIST CNN replicated on four ring-connected U250s.
// One board (configs/mnist_cnn_u250.yaml) is bound by conv1 at 7,056 cycles per inference
// (250 MHz / 7056 = 35,430.8 inferences/s); four replicas with 17 inferences complete
// inferences 0 and 16 on fpga0's replica 4 x 7,056 cycles apart: exactly 4x. Every device
// runs a replica and every replica's input and result cross the ring (MNIST's 784-byte
// image and 10-byte result per inference: 4 inferences to fpga1 plus 4 through it to fpga2).
TEST(Replicate, ShippedReplicatedMnistIsFourTimesOneBoard) {
  const std::string src = MASESIM_SOURCE_DIR;
  std::string cfg = masesim::test::read_file(src + "/configs/mnist_cnn_4xu250_replicated.yaml");
  const auto at = cfg.find("../workloads/");
  ASSERT_NE(at, std::string::npos);
  cfg.replace(at, 2, src);
  const SimRun r = run_simulate({{"c.yaml", cfg}}, "c.yaml");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_EQ(done(r, 16) - done(r, 0), 4 * 7056);
  EXPECT_EQ(done(r, 16) - done(r, 12), 7056);
  // stats.csv prints 10 significant digits.
  EXPECT_NEAR(r.num("throughput_inferences_per_s"), 4 * 250e6 / 7056, 1e-3);
  EXPECT_EQ(r.num("mapping.devices_used"), 4);
  // The model is the single board's: its parameters (replicas share replica 0's) and MACs
  // per inference (each inference runs on one replica).
  EXPECT_EQ(r.num("workload.parameters"), 6438602);
  EXPECT_EQ(r.num("workload.macs"), 10158336);
  EXPECT_EQ(r.num("nodes.conv1@r0.inferences"), 5);
  for (int j = 1; j < 4; ++j) {
    EXPECT_EQ(r.str("nodes.conv1@r" + std::to_string(j) + ".device"), "fpga" + std::to_string(j));
    EXPECT_EQ(r.num("nodes.conv1@r" + std::to_string(j) + ".inferences"), 4) << j;
  }
  EXPECT_EQ(r.num("links.fpga0->fpga1.bytes"), 8 * 784);
  EXPECT_EQ(r.num("links.fpga1->fpga2.bytes"), 4 * 784);
  EXPECT_EQ(r.num("links.fpga0->fpga3.bytes"), 4 * 784);
}

namespace {

// Four U250s on a switch under mapping.auto; `graph` as g.yaml.
SimRun run_auto(const std::string& graph, int lanes, const std::string& sets = "") {
  const std::string cfg =
      "workload: {graph: g.yaml, inferences: 9}\nsystem:\n  devices: [{count: "
      "4, type: u250}]\n  topology: fully_connected\n  allow_switch: true\n"
      "mapping:\n  auto: true\n  default_parallelism: " +
      std::to_string(lanes) + "\n";
  return run_simulate({{"g.yaml", graph}, {"c.yaml", cfg}}, "c.yaml", sets);
}

std::string one_linear(int rows, int in, int out) {
  const std::string x = "[" + std::to_string(rows) + ", " + std::to_string(in) + "]";
  return "format: mase-graph\nversion: 1\n"
         "inputs: [{name: x, shape: " +
         x +
         ", precision: {type: fixed, width: 8}}]\n"
         "nodes:\n"
         "  - {name: fc, op: linear, args: {data_in_0: x},\n"
         "     params: {weight: {shape: [" +
         std::to_string(out) + ", " + std::to_string(in) +
         "], precision: {type: fixed, width: 8}}},\n"
         "     results: {data_out_0: {shape: [" +
         std::to_string(rows) + ", " + std::to_string(out) +
         "], precision: {type: fixed, width: 8}}}}\n"
         "outputs: [fc]\n";
}

}  // namespace

// A linear of one row and 4,099 (a prime) output features does not split within four
// ways, so mapping.auto replicates it. Its tiles grow to the whole 4,096-element row in and
// one output feature per cycle out (4,099 has no other divisor below itself), so one
// inference is 1 x (4096/4096) x (4099/1) = 4,099 cycles, and each of four replicas runs one
// inference in four: 4,099 / 4 = 1,024.75
// cycles per inference of the system — the partitioner's estimate and the simulated
// interval (inferences 0 and 8 both on replica 0, two of its inferences apart).
TEST(Replicate, AutoReplicatesANodeThatDoesNotSplit) {
  const SimRun one = run_auto(one_linear(1, 4096, 4099), 64, "--set mapping.auto_split=false");
  ASSERT_EQ(one.exit_code, 0) << one.stderr_text;
  const double cycles = one.num("nodes.fc.busy_cycles") / 9;
  EXPECT_EQ(cycles, 4099);
  const SimRun r = run_auto(one_linear(1, 4096, 4099), 64);
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_EQ(r.str("mapping.replicas"), "fc: 4 replicas of 1 node(s), collected at fc");
  EXPECT_DOUBLE_EQ(r.num("mapping.estimated_bottleneck_cycles"), cycles / 4);
  EXPECT_EQ(done(r, 8) - done(r, 0), 2 * cycles);
  EXPECT_EQ(r.num("nodes.fc@r0.busy_cycles"), 3 * cycles);
  EXPECT_EQ(r.num("mapping.devices_used"), 4);
  EXPECT_NE(
      r.str("mapping.scale_bound").find("does not split or replicate (further) within 4 ways"),
      std::string::npos)
      << r.str("mapping.scale_bound");
}

// The host injects an input one beat per cycle: 5 x 4,096 int8 elements at 8 lanes are
// 2,560 beats per inference, more than the linear needs once mapping.auto has grown its
// tiles. The partitioner's estimate, the scaling bound and the report's bottleneck all name
// the host input, and the simulated interval is those 2,560 cycles.
TEST(Replicate, TheHostInputIsANamedBound) {
  const SimRun r = run_auto(one_linear(5, 4096, 7), 8);
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_EQ(r.str("bottleneck.kind"), "host_input");
  EXPECT_EQ(r.str("bottleneck.name"), "x");
  EXPECT_EQ(r.num("mapping.estimated_bottleneck_cycles"), 2560);
  EXPECT_EQ(r.str("mapping.estimated_bottleneck"),
            "host input 'x' (2560 beats per inference, one per cycle)");
  EXPECT_EQ(r.str("mapping.scale_bound").rfind("host input 'x'", 0), 0u)
      << r.str("mapping.scale_bound");
  for (int i = 1; i < 9; ++i) EXPECT_EQ(done(r, i) - done(r, i - 1), 2560) << i;
  EXPECT_EQ(r.num("mapping.replicated_stages"), 0);  // no replica lowers an input bound
}
