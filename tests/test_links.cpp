// Multi-device runs through the simulate binary: QSFP28 link timing, framing goodput,
// flow control, contention and multi-hop latency, checked against the framing formulas
// (interconnect/framing) computed here by hand.
#include <gtest/gtest.h>

#include <string>

#include "interconnect/framing.hpp"
#include "sim_harness.hpp"

using masesim::test::run_simulate;
namespace ic = masesim::interconnect;

namespace {
// x -> relu a (fpga0) -> relu b (device `to`) -> host; `n` int8 elements.
std::string relay_graph(long n) {
  const std::string s = std::to_string(n);
  return "format: mase-graph\nversion: 1\ninputs: [{name: x, shape: [1, " + s +
         "], precision: {type: fixed, width: 8}}]\nnodes:\n"
         "  - {name: a, op: relu, args: {data_in_0: x}, results: {data_out_0: {shape: [1, " +
         s +
         "], precision: {type: fixed, width: 8}}}, hw: {device: fpga0}}\n"
         "  - {name: b, op: relu, args: {data_in_0: a}, results: {data_out_0: {shape: [1, " +
         s +
         "], precision: {type: fixed, width: 8}}}, hw: {device: DEST}}\n"
         "outputs: [b]\n";
}
std::string with_dest(std::string g, const std::string& dest) {
  return g.replace(g.find("DEST"), 4, dest);
}

std::string config(int devices, const std::string& extra) {
  return "workload: {graph: g.yaml, inferences: 1}\nsystem:\n  devices: [{count: " +
         std::to_string(devices) + ", type: u250}]\nmapping: {default_parallelism: 64}\n" + extra;
}

double ps(double us) {
  return us * 1e6;
}
}  // namespace

// One 1 MiB tensor over one link (the producer offers 64 B/cycle = 128 Gb/s, so the link
// limits): the transfer takes the serialisation of all frames plus the fixed latency, within
// 1 %, and never less.
TEST(Links, LargeTensorTakesLineRateTimeWithFraming) {
  const long n = 1 << 20;
  const auto r = run_simulate(
      {{"g.yaml", with_dest(relay_graph(n), "fpga1")}, {"c.yaml", config(2, "")}}, "c.yaml");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  ic::FramingConfig f;  // Ethernet, MTU 1500
  const double wire = static_cast<double>(ic::transfer_wire_bytes(n, f));
  const double line_ps = wire * 80.0;  // 100 Gb/s: 80 ps per byte
  const double fixed_ps = static_cast<double>(ic::ethernet_link_timing().fixed_latency_ps());
  EXPECT_EQ(r.num("links.fpga0->fpga1.bytes"), n);
  EXPECT_EQ(r.num("links.fpga0->fpga1.wire_bytes"), wire);
  EXPECT_EQ(r.num("links.fpga0->fpga1.frames"),
            static_cast<double>(ic::frames_for(n, f).frame_count()));
  EXPECT_DOUBLE_EQ(ps(r.num("links.fpga0->fpga1.busy_ns") / 1e3), line_ps);
  const double latency_ps = ps(r.num("latency_us"));
  EXPECT_GE(latency_ps, line_ps + fixed_ps);
  EXPECT_LE(latency_ps, 1.01 * (line_ps + fixed_ps));
}

// Goodput per frame size equals the framing formula (no tail frame: 576000 is a multiple of each
// MTU).
class LinkGoodput : public ::testing::TestWithParam<int> {};
TEST_P(LinkGoodput, EqualsFramingFormula) {
  const int mtu = GetParam();
  const auto r =
      run_simulate({{"g.yaml", with_dest(relay_graph(576000), "fpga1")},
                    {"c.yaml", config(2, "link: {mtu_bytes: " + std::to_string(mtu) + "}\n")}},
                   "c.yaml");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  ic::FramingConfig f;
  f.mtu_bytes = static_cast<std::uint64_t>(mtu);
  EXPECT_NEAR(r.num("links.fpga0->fpga1.goodput_gbps"),
              ic::goodput_gbps(static_cast<std::uint64_t>(mtu), f), 1e-6);
  const double reference = mtu == 1500   ? 97.53
                           : mtu == 9000 ? 99.58
                                         : 64.0 * 100 / 102;  // 64 B: 102 B on the wire
  EXPECT_NEAR(r.num("links.fpga0->fpga1.goodput_gbps"), reference, 0.005);
}
INSTANTIATE_TEST_SUITE_P(Mtu, LinkGoodput, ::testing::Values(64, 1500, 9000));

// A receive buffer of a single frame still delivers every byte, only slower.
TEST(Links, OneFrameBufferDeliversEveryByte) {
  const long n = 200000;
  const auto big = run_simulate(
      {{"g.yaml", with_dest(relay_graph(n), "fpga1")}, {"c.yaml", config(2, "")}}, "c.yaml");
  const auto one = run_simulate(
      {{"g.yaml", with_dest(relay_graph(n), "fpga1")},
       {"c.yaml", config(2, "link: {rx_buffer_bytes: 1}\nworkload: {inferences: 2}\n")}},
      "c.yaml");
  ASSERT_EQ(big.exit_code, 0) << big.stderr_text;
  ASSERT_EQ(one.exit_code, 0) << one.stderr_text;
  EXPECT_EQ(one.num("links.fpga0->fpga1.bytes"), 2.0 * n);
  EXPECT_EQ(one.num("nodes.b.beats_in"), 2.0 * n / 64);
  EXPECT_EQ(one.num("nodes.b.beats_out"), 2.0 * n / 64);
  EXPECT_LE(one.num("links.fpga0->fpga1.max_buffer_bytes"), 1500);
  EXPECT_GT(one.num("links.fpga0->fpga1.credit_stall_ns"), 0);
  EXPECT_GT(one.num("latency_us"), big.num("latency_us"));
}

// Two flows into one link: 0->2 and 1->2 on a chain share fpga1->fpga2; the link carries
// both and the pair takes about twice as long as one flow alone.
TEST(Links, TwoFlowsShareALink) {
  const std::string g =
      "format: mase-graph\nversion: 1\ninputs:\n  - {name: x, shape: [1, 300000], precision: "
      "{type: fixed, width: 8}}\n"
      "  - {name: y, shape: [1, 300000], precision: {type: fixed, width: 8}}\nnodes:\n"
      "  - {name: a, op: relu, args: {data_in_0: x}, results: {data_out_0: {shape: [1, 300000], "
      "precision: {type: fixed, width: 8}}}, hw: {device: fpga0}}\n"
      "  - {name: b, op: relu, args: {data_in_0: y}, results: {data_out_0: {shape: [1, 300000], "
      "precision: {type: fixed, width: 8}}}, hw: {device: fpga1}}\n"
      "  - {name: s, op: add, args: {data_in_0: a, data_in_1: b}, results: {data_out_0: {shape: "
      "[1, 300000], precision: {type: fixed, width: 8}}}, hw: {device: fpga2}}\n"
      "outputs: [s]\n";
  const auto r = run_simulate({{"g.yaml", g}, {"c.yaml", config(3, "")}}, "c.yaml");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  ic::FramingConfig f;
  const double one_flow_ps = static_cast<double>(ic::transfer_wire_bytes(300000, f)) * 80.0;
  EXPECT_EQ(r.num("links.fpga1->fpga2.bytes"), 600000);
  EXPECT_EQ(r.num("links.fpga0->fpga1.bytes"), 300000);
  EXPECT_GT(r.num("links.fpga1->fpga2.contention_ns"), 0);
  const double total_ps = ps(r.num("total_us"));
  EXPECT_GE(total_ps, 2 * one_flow_ps);
  EXPECT_LE(total_ps, 2.1 * one_flow_ps);
}

// One frame over 1 hop and over 3 hops (chain of 4, store-and-forward): 2 more hops cost
// 2 x (fixed latency + serialisation of the frame).
TEST(Links, ThreeHopsCostThreeHopsOfLatency) {
  const long n = 1024;  // one frame of 1024 B
  const auto one = run_simulate(
      {{"g.yaml", with_dest(relay_graph(n), "fpga1")}, {"c.yaml", config(4, "")}}, "c.yaml");
  const auto three = run_simulate(
      {{"g.yaml", with_dest(relay_graph(n), "fpga3")}, {"c.yaml", config(4, "")}}, "c.yaml");
  ASSERT_EQ(one.exit_code, 0) << one.stderr_text;
  ASSERT_EQ(three.exit_code, 0) << three.stderr_text;
  ic::FramingConfig f;
  const double hop_ps =
      static_cast<double>(ic::ethernet_link_timing().fixed_latency_ps() +
                          ic::serialization_ps(ic::frame_wire_bytes(n, f), f.line_rate));
  EXPECT_NEAR(ps(three.num("latency_us")) - ps(one.num("latency_us")), 2 * hop_ps,
              4000.0);  // within a 4 ns cycle
  EXPECT_EQ(three.num("links.fpga1->fpga2.frames"), 1);
  EXPECT_EQ(three.num("links.fpga2->fpga3.frames"), 1);
}

// The shipped link-bound configuration: the summary and stats name the link.
TEST(Links, LinkBoundConfigNamesTheLink) {
  const auto r = run_simulate(
      {{"c.yaml", "workload: {graph: " + std::string(MASESIM_SOURCE_DIR) +
                      "/workloads/graphs/elementwise_chain.yaml, inferences: 3}\n"
                      "system: {devices: [{count: 2, type: u250}]}\n"
                      "mapping: {default_parallelism: 64, place: {\"relu_b*\": fpga1}}\n"}},
      "c.yaml");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_EQ(r.str("bottleneck.kind"), "link");
  EXPECT_EQ(r.str("bottleneck.name"), "fpga0->fpga1");
  // Steady state: one 1 MiB tensor per inference at the Ethernet goodput of 1500 B frames.
  const double wire = static_cast<double>(ic::transfer_wire_bytes(1 << 20, ic::FramingConfig{}));
  EXPECT_NEAR(r.num("throughput_inferences_per_s"), 1e12 / (wire * 80.0),
              1e12 / (wire * 80.0) * 0.01);
}
