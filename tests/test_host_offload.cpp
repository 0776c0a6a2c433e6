// A host CPU beside an accelerator card (docs/engines.md "Host CPU and PCIe"): nodes placed
// on a host run on its CPU with the per-op-class cost, a GEMM engine on the card reads and
// writes the host's memory over PCIe. Hand-computed end-to-end times, the PCIe cost
// functions, and the errors of bad host systems.
//
// Test devices (written by the tests), all at 250 MHz (4 ns cycles): host "th" with a CPU
// of 1 GMAC/s, 1 Gelem/s, 1 GB/s and 100 ns per op, memory 16 GB/s without latency, and a
// PCIe Gen1 x4 link without TLP overhead: 4 x 2.5 GT/s x 8/10 / 8 = 1 GB/s (1 byte per ns),
// 1 us per transfer; card "card" as the engine tests' fast device.
#include <gtest/gtest.h>

#include "interconnect/pcie.hpp"
#include "sim_harness.hpp"

using masesim::interconnect::pcie_check;
using masesim::interconnect::pcie_payload_bytes_per_s;
using masesim::interconnect::pcie_serialize_ps;
using masesim::interconnect::pcie_transfer_ps;
using masesim::interconnect::PcieParams;
using masesim::test::run_simulate;

namespace {

const std::string kHost =
    "name: th\nkind: host\nclock_mhz: 250\ncpu: {gemm_gmacs_per_s: 1, vector_gelems_per_s: 1, "
    "memory_gbytes_per_s: 1, op_overhead_ns: 100}\npcie: {generation: 1, lanes: 4, "
    "max_payload_bytes: 256, tlp_overhead_bytes: 0, latency_ns: 1000}\nmemory: {kind: ddr4, "
    "channels: 1, gbytes_per_s: 16, latency_ns: 0, capacity_gbytes: 1}\n";
const std::string kCard =
    "name: card\npart: test\nlut: 1000000\nff: 2000000\ndsp: 10000\nbram36: 2000\nuram: 0\n"
    "slrs: 1\nclock_mhz: 250\nqsfp28_ports: 2\nmemory: {kind: ddr4, channels: 1, gbytes_per_s: "
    "16, latency_ns: 0, capacity_gbytes: 1}\n";
const std::string kQ = "precision: {type: fixed, width: 8, frac_width: 4}";
// x [1, 16] -> fc1 (16x16 linear) -> relu1.
const std::string kGraph =
    "format: mase-graph\nversion: 1\ninputs:\n  - {name: x, shape: [1, 16], " + kQ +
    "}\nnodes:\n  - {name: fc1, op: linear, args: {data_in_0: x}, params: {weight: {shape: "
    "[16, 16], " +
    kQ + "}}, results: {data_out_0: {shape: [1, 16], " + kQ +
    "}}}\n  - {name: relu1, op: relu, args: {data_in_0: fc1}, results: {data_out_0: {shape: [1, "
    "16], " +
    kQ + "}}}\noutputs: [relu1]\n";

std::string system_yaml(const std::string& engines, const std::string& mapping) {
  return "workload: {graph: g.yaml, inferences: 1}\nsystem:\n  devices: [{name: h, type: "
         "th.yaml}, {name: d0, type: card.yaml}]\n" +
         engines + "mapping: " + mapping + "\n";
}

const std::string kCore =
    "  engines:\n    - name: core\n      device: d0\n      memory: h\n      gemm: {rows: 16, "
    "cols: 16, dataflow: weight_stationary}\n      buffers: {input_bytes: 1024, weight_bytes: "
    "1024, acc_bytes: 1024}\n      load_bytes_per_cycle: 16\n      store_bytes_per_cycle: 16\n";

masesim::test::SimRun run(const std::string& config, const std::string& host = kHost) {
  return run_simulate(
      {{"th.yaml", host}, {"card.yaml", kCard}, {"g.yaml", kGraph}, {"c.yaml", config}}, "c.yaml");
}

}  // namespace

TEST(Pcie, Gen3x16PayloadRateFromTheLineCodeAndTlpOverhead) {
  PcieParams p;  // Gen3 x16, 256-byte payloads, 24 bytes per TLP
  // 16 x 8 GT/s x 128/130 / 8 = 15.754 GB/s on the line; x 256/280 of it is payload.
  EXPECT_NEAR(pcie_payload_bytes_per_s(p), 16 * 8e9 * 128 / 130 / 8 * 256 / 280, 1e-3);
  PcieParams g1;
  g1.generation = 1;
  g1.lanes = 4;
  g1.tlp_overhead_bytes = 0;
  EXPECT_DOUBLE_EQ(pcie_payload_bytes_per_s(g1), 1e9);  // 4 x 2.5 GT/s x 0.8 / 8
  EXPECT_EQ(pcie_serialize_ps(256, g1), 256'000u);
  EXPECT_EQ(pcie_transfer_ps(256, g1), 256'000u + 1'000'000u);
  g1.lanes = 3;
  EXPECT_EQ(pcie_check(g1), "pcie.lanes = 3 is not 1, 2, 4, 8 or 16");
}

// fc1 on the card's core, its operands in host memory; relu1 on the host CPU.
// Weights (256 B) load over PCIe from 0: 256 ns + 1 us = 1256; the input (16 B, in host
// memory at 5 ns) loads after them (in-order load unit): 1256 + 16 + 1000 = 2272; the tile
// computes 50 cycles = 200 ns to 2472; its 16-byte store returns at 2472 + 16 + 1000 = 3488;
// relu1 on the CPU: 100 ns + max(16 elements / 1 G/s, 32 bytes / 1 GB/s) = 132 ns -> 3620;
// the host reads the 16-byte output from its memory in 1 ns and sends two beats (3621,
// 3625). Latency 3625 ns = host ops + PCIe transfers + engine time.
TEST(HostOffload, LatencyIsHostOpsPlusPcieTransfersPlusEngineTime) {
  const auto r = run(system_yaml(kCore, "{engines: {core: [fc1]}}"));
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_DOUBLE_EQ(r.num("latency_us"), 3.625);
  EXPECT_EQ(r.str("nodes.relu1.engine.name"), "h");
  EXPECT_EQ(r.str("engines.h.kind"), "host_cpu");
  EXPECT_EQ(r.num("engines.h.busy_cycles"), 33);  // 132 ns
  EXPECT_EQ(r.num("engines.core.busy_cycles"), 50);
  EXPECT_EQ(r.num("engines.core.load_busy_cycles"), (1256 + 1016) / 4);
  EXPECT_EQ(r.num("engines.core.store_busy_cycles"), 1016 / 4);
  EXPECT_EQ(r.str("engines.core.memory"), "h");
  EXPECT_EQ(r.num("pcie.d0-h.transfers"), 3);
  EXPECT_EQ(r.num("pcie.d0-h.h2d_bytes"), 256 + 16);
  EXPECT_EQ(r.num("pcie.d0-h.d2h_bytes"), 16);
  EXPECT_DOUBLE_EQ(r.num("pcie.d0-h.payload_gbytes_per_s"), 1.0);
  // All on the host: fc1 100 + max(256 MACs / 1 GMAC/s, 288 bytes / 1 GB/s) = 388 ns,
  // relu1 132 ns.
  EXPECT_DOUBLE_EQ(r.num("engines.h.all_on_host_latency_us"), 0.52);
  EXPECT_NEAR(r.num("engines.h.offload_speedup"), 0.52 / 3.625, 1e-9);
}

// Every node on the host (no engine takes any): the input is in host memory at 5 ns, fc1
// 388 ns, relu1 132 ns, the output read (1 ns) and its two beats: 530 ns, which is the
// report's all-on-host figure (520 ns) plus the input and output streams.
TEST(HostOffload, AllOnTheHostRunsEveryNodeOnItsCpu) {
  const auto r = run(system_yaml("", "{}"));
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_DOUBLE_EQ(r.num("latency_us"), 0.53);
  EXPECT_EQ(r.num("engines.h.busy_cycles"), (388 + 132) / 4);
  EXPECT_DOUBLE_EQ(r.num("engines.h.all_on_host_latency_us"), 0.52);
  EXPECT_EQ(r.str("nodes.fc1.engine.name"), "h");
}

TEST(HostOffload, ShippedGemmOffloadMnistRuns) {
  const std::string src = MASESIM_SOURCE_DIR;
  std::string c = masesim::test::read_file(src + "/configs/gemm_offload_mnist.yaml");
  c.replace(c.find("../workloads"), 2, src + "/configs/..");
  c.replace(c.find("inferences: 16"), 14, "inferences: 2");
  const auto r = run_simulate({{"c.yaml", c}}, "c.yaml");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_EQ(r.str("nodes.conv1.engine.name"), "gemm");
  EXPECT_EQ(r.str("nodes.relu1.engine.name"), "host");
  EXPECT_EQ(r.num("engines.gemm.nodes"), 4);
  EXPECT_EQ(r.num("engines.host.nodes"), 5);
  EXPECT_GT(r.num("pcie.fpga0-host.h2d_bytes"), 6438602);  // every weight crosses at least once
}

TEST(HostOffload, BadHostSystemsAreClearErrors) {
  auto expect_error = [](const masesim::test::SimRun& r, const std::string& text) {
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.stderr_text.find(text), std::string::npos) << r.stderr_text;
  };
  // An engine declared on the host.
  expect_error(run(system_yaml("  engines:\n    - {name: e, device: h, gemm: {rows: 4, cols: 4}, "
                               "buffers: {input_bytes: 1024, weight_bytes: 1024, acc_bytes: "
                               "1024}}\n",
                               "{engines: {e: [fc1]}}")),
               "system.engines[0].device: 'h' is a host: its CPU is an engine of its own");
  // An engine's memory on a card that is not a host.
  std::string c = kCore;
  c.replace(c.find("memory: h"), 9, "memory: d0x");
  expect_error(run(system_yaml(c, "{engines: {core: [fc1]}}")),
               "system.engines[0].memory: 'd0x' is not in system.devices");
  // A QSFP28 cable to the host.
  expect_error(run(system_yaml("  links: [[h, d0]]\n  topology: explicit\n", "{}")),
               "system.links[0]: device 'h' is a host: hosts have no QSFP28 cages");
  expect_error(run(system_yaml("  topology: ring\n", "{}")),
               "system.topology: ring_bi with a host device");
  // A host file with fabric, and one with a bad PCIe lane count.
  expect_error(run(system_yaml("", "{}"), kHost + "lut: 5\n"),
               "lut: a device of kind host has no FPGA fabric");
  std::string bad = kHost;
  bad.replace(bad.find("lanes: 4"), 8, "lanes: 5");
  expect_error(run(system_yaml("", "{}"), bad), "pcie.lanes = 5 is not 1, 2, 4, 8 or 16");
  // The host CPU is named after its device: no engine of that name.
  std::string dup = kCore;
  dup.replace(dup.find("name: core"), 10, "name: h");
  expect_error(run(system_yaml(dup, "{engines: {h: [fc1]}}")),
               "engine 'h' has the name of host device 'h'");
}
