// Topologies, port budgets and deterministic routing.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "interconnect/topology.hpp"

namespace ic = masesim::interconnect;
using Hops = std::vector<ic::Hop>;

namespace {

std::string build_error(ic::TopologyKind kind, uint32_t n, const ic::TopologyParams& p) {
  try {
    ic::make_topology(kind, n, p);
  } catch (const ic::TopologyError& e) {
    return e.what();
  }
  return "";
}

ic::TopologyParams with_ports(uint32_t ports) {
  ic::TopologyParams p;
  p.default_ports = ports;
  return p;
}

}  // namespace

TEST(Topology, ChainRoutesAndPorts) {
  const auto t = ic::make_topology(ic::TopologyKind::chain, 4);
  EXPECT_EQ(route(t, 0, 3), (Hops{{0, 1}, {1, 2}, {2, 3}}));
  EXPECT_EQ(route(t, 3, 1), (Hops{{3, 2}, {2, 1}}));
  EXPECT_EQ(hop_count(t, 0, 3), 3u);
  EXPECT_TRUE(route(t, 2, 2).empty());
  EXPECT_EQ(ports_used(t, 0), 1u);
  EXPECT_EQ(ports_used(t, 1), 2u);
  EXPECT_EQ(t.channels().size(), 6u);  // 3 cables x 2 directions
  EXPECT_EQ(ic::route_to_string(route(t, 0, 3)), "0->1->2->3");
}

TEST(Topology, BidirectionalRingTakesShortestWayLowestNextHopOnTies) {
  const auto t = ic::make_topology(ic::TopologyKind::ring_bi, 4);
  EXPECT_EQ(route(t, 0, 3), (Hops{{0, 3}}));
  EXPECT_EQ(route(t, 0, 2), (Hops{{0, 1}, {1, 2}}));  // tie 0->1 vs 0->3: take 1
  EXPECT_EQ(route(t, 3, 1), (Hops{{3, 0}, {0, 1}}));  // tie 3->0 vs 3->2: take 0
  EXPECT_EQ(t.channels().size(), 8u);
  for (uint32_t d = 0; d < 4; ++d) EXPECT_EQ(ports_used(t, d), 2u);
}

TEST(Topology, UnidirectionalRingRoutesOneWayOnly) {
  const auto t = ic::make_topology(ic::TopologyKind::ring_uni, 4);
  EXPECT_EQ(route(t, 0, 3), (Hops{{0, 1}, {1, 2}, {2, 3}}));
  EXPECT_EQ(route(t, 1, 0), (Hops{{1, 2}, {2, 3}, {3, 0}}));
  EXPECT_EQ(route(t, 3, 0), (Hops{{3, 0}}));
  EXPECT_FALSE(t.has_channel(1, 0));
  EXPECT_TRUE(t.has_channel(0, 1));
  EXPECT_EQ(t.channels().size(), 4u);
  EXPECT_EQ(ports_used(t, 2), 2u);  // cables to both neighbours
}

TEST(Topology, TwoDeviceRingIsOneCable) {
  const auto bi = ic::make_topology(ic::TopologyKind::ring_bi, 2);
  EXPECT_EQ(ports_used(bi, 0), 1u);
  const auto uni = ic::make_topology(ic::TopologyKind::ring_uni, 2);
  EXPECT_EQ(route(uni, 1, 0), (Hops{{1, 0}}));
  EXPECT_EQ(ports_used(uni, 1), 1u);
}

TEST(Topology, Torus2dRoutes) {
  auto p = with_ports(4);
  p.rows = 3;
  p.cols = 3;
  const auto t = ic::make_topology(ic::TopologyKind::torus2d, 9, p);
  for (uint32_t d = 0; d < 9; ++d) EXPECT_EQ(ports_used(t, d), 4u);
  EXPECT_EQ(route(t, 0, 4), (Hops{{0, 1}, {1, 4}}));
  EXPECT_EQ(route(t, 0, 8), (Hops{{0, 2}, {2, 8}}));  // wrap-around in both dimensions
  EXPECT_EQ(route(t, 8, 0), (Hops{{8, 2}, {2, 0}}));
  EXPECT_EQ(hop_count(t, 0, 5), 2u);
}

TEST(Topology, Torus2x2CollapsesDuplicateWrapCables) {
  auto p = with_ports(2);
  p.rows = 2;
  p.cols = 2;
  const auto t = ic::make_topology(ic::TopologyKind::torus2d, 4, p);
  EXPECT_EQ(ports_used(t, 0), 2u);
  EXPECT_EQ(route(t, 0, 3), (Hops{{0, 1}, {1, 3}}));
}

TEST(Topology, TorusShapeMustMatchDeviceCount) {
  auto p = with_ports(4);
  p.rows = 2;
  p.cols = 3;
  const std::string msg = build_error(ic::TopologyKind::torus2d, 8, p);
  EXPECT_NE(msg.find("rows x cols"), std::string::npos) << msg;
  EXPECT_NE(msg.find("rows=2 cols=3"), std::string::npos) << msg;
}

TEST(Topology, TooFewPortsNamesDeviceNeededAndAvailable) {
  ic::TopologyParams p;  // U250: 2 QSFP28 ports
  p.rows = 3;
  p.cols = 3;
  const std::string msg = build_error(ic::TopologyKind::torus2d, 9, p);
  EXPECT_EQ(msg,
            "topology torus2d of 9 devices: device 'dev0' (index 0) needs 4 QSFP28 ports "
            "but has 2 (set allow_switch to connect every device through a switch)");

  ic::TopologyParams q;
  q.names = {"u250_a", "u250_b", "u280_c", "u280_d"};
  q.ports_per_device = {3, 3, 2, 3};
  const std::string fc = build_error(ic::TopologyKind::fully_connected, 4, q);
  EXPECT_NE(fc.find("device 'u280_c' (index 2) needs 3 QSFP28 ports but has 2"), std::string::npos)
      << fc;
  EXPECT_NO_THROW(ic::make_topology(ic::TopologyKind::fully_connected, 3));
}

TEST(Topology, AllowSwitchReplacesTopologyWithStar) {
  ic::TopologyParams p;
  p.rows = 3;
  p.cols = 3;
  p.allow_switch = true;
  const auto t = ic::make_topology(ic::TopologyKind::torus2d, 9, p);
  EXPECT_EQ(t.requested_kind, ic::TopologyKind::torus2d);
  EXPECT_EQ(t.kind, ic::TopologyKind::switched);
  ASSERT_TRUE(t.has_switch);
  EXPECT_EQ(t.switch_node(), 9u);
  EXPECT_EQ(t.name(9), "switch");
  EXPECT_DOUBLE_EQ(t.switch_latency_ns, 450.0);
  EXPECT_EQ(route(t, 0, 8), (Hops{{0, 9}, {9, 8}}));
  EXPECT_EQ(ports_used(t, 4), 1u);
  // A topology that fits is left alone even with allow_switch.
  p.default_ports = 4;
  EXPECT_FALSE(ic::make_topology(ic::TopologyKind::torus2d, 9, p).has_switch);
}

TEST(Topology, SwitchNeedsEnoughPorts) {
  ic::TopologyParams p;
  p.switch_ports = 4;
  const std::string msg = build_error(ic::TopologyKind::switched, 5, p);
  EXPECT_NE(msg.find("the switch has 4 ports but 5 devices"), std::string::npos) << msg;
}

TEST(Topology, ExplicitLinks) {
  ic::TopologyParams p;
  p.links = {{0, 1}, {2, 1}, {2, 3}};
  const auto t = ic::make_topology(ic::TopologyKind::explicit_links, 4, p);
  EXPECT_EQ(route(t, 0, 3), (Hops{{0, 1}, {1, 2}, {2, 3}}));
  EXPECT_EQ(hop_count(t, 3, 0), 3u);

  p.links = {{0, 1}, {1, 0}};
  EXPECT_NE(build_error(ic::TopologyKind::explicit_links, 2, p).find("listed twice"),
            std::string::npos);
  p.links = {{0, 4}};
  EXPECT_NE(build_error(ic::TopologyKind::explicit_links, 4, p).find("outside 0..3"),
            std::string::npos);
  p.links = {{1, 1}};
  EXPECT_NE(build_error(ic::TopologyKind::explicit_links, 4, p).find("itself"), std::string::npos);
}

TEST(Topology, UnreachableAndOutOfRangeAreErrors) {
  ic::TopologyParams p;
  p.links = {{0, 1}, {2, 3}};
  const auto t = ic::make_topology(ic::TopologyKind::explicit_links, 4, p);
  try {
    route(t, 0, 2);
    FAIL() << "expected TopologyError";
  } catch (const ic::TopologyError& e) {
    EXPECT_NE(std::string(e.what()).find("no path from device 'dev0' (index 0) to device "
                                         "'dev2' (index 2)"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(route(t, 0, 4), ic::TopologyError);
  EXPECT_THROW(ports_used(t, 4), ic::TopologyError);
}

TEST(Topology, ParseKinds) {
  EXPECT_EQ(ic::parse_topology_kind("ring"), ic::TopologyKind::ring_bi);
  EXPECT_EQ(ic::parse_topology_kind("ring_uni"), ic::TopologyKind::ring_uni);
  EXPECT_EQ(ic::parse_topology_kind("explicit"), ic::TopologyKind::explicit_links);
  EXPECT_THROW(ic::parse_topology_kind("rign"), ic::TopologyError);
  EXPECT_STREQ(ic::to_string(ic::TopologyKind::torus2d), "torus2d");
}

TEST(Topology, NameAndPortListsMustMatchDeviceCount) {
  ic::TopologyParams p;
  p.names = {"a", "b"};
  EXPECT_NE(build_error(ic::TopologyKind::chain, 3, p).find("2 names given for 3 devices"),
            std::string::npos);
  EXPECT_NE(build_error(ic::TopologyKind::chain, 0, {}).find("at least 1 device"),
            std::string::npos);
}
