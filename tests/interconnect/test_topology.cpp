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

namespace {

/// Reference router: breadth-first search towards dst on reversed channels, then the
/// lowest-indexed next node one step closer (the rule route() documents).
Hops reference_route(const ic::Topology& t, uint32_t src, uint32_t dst) {
  const uint32_t none = ~0u;
  std::vector<uint32_t> dist(t.n_nodes(), none);
  std::vector<uint32_t> queue{dst};
  dist[dst] = 0;
  for (std::size_t h = 0; h < queue.size(); ++h)
    for (uint32_t u = 0; u < t.n_nodes(); ++u)
      if (dist[u] == none && t.has_channel(u, queue[h])) {
        dist[u] = dist[queue[h]] + 1;
        queue.push_back(u);
      }
  Hops hops;
  for (uint32_t at = src; at != dst;)
    for (uint32_t next : t.out[at])
      if (dist[next] != none && dist[next] + 1 == dist[at]) {
        hops.push_back({at, next});
        at = next;
        break;
      }
  return hops;
}

void expect_reference_routes(const ic::Topology& t, const std::string& what) {
  for (uint32_t a = 0; a < t.n_devices; ++a)
    for (uint32_t b = 0; b < t.n_devices; ++b) {
      const Hops r = reference_route(t, a, b);
      ASSERT_EQ(route(t, a, b), r) << what << ": " << a << " -> " << b;
      ASSERT_EQ(hop_count(t, a, b), r.size()) << what << ": " << a << " -> " << b;
    }
}

}  // namespace

// Closed-form distances (chain, rings, torus, fully connected, switch) and the cached
// search (explicit links) give exactly the routes of a plain breadth-first search with
// lowest-index tie-breaking, for every pair of every small topology.
TEST(Topology, RoutesEqualReferenceSearchOnEverySmallTopology) {
  for (uint32_t n = 1; n <= 9; ++n) {
    for (auto k : {ic::TopologyKind::chain, ic::TopologyKind::ring_uni, ic::TopologyKind::ring_bi,
                   ic::TopologyKind::fully_connected, ic::TopologyKind::switched})
      expect_reference_routes(ic::make_topology(k, n, with_ports(8)),
                              std::string(ic::to_string(k)) + " of " + std::to_string(n));
  }
  for (uint32_t rows = 1; rows <= 5; ++rows)
    for (uint32_t cols = 1; cols <= 5; ++cols) {
      auto p = with_ports(4);
      p.rows = rows;
      p.cols = cols;
      expect_reference_routes(ic::make_topology(ic::TopologyKind::torus2d, rows * cols, p),
                              "torus " + std::to_string(rows) + "x" + std::to_string(cols));
    }
  // A ring of 8 with two chords, and a tree: irregular graphs for the search.
  ic::TopologyParams p = with_ports(4);
  for (uint32_t i = 0; i < 8; ++i) p.links.emplace_back(i, (i + 1) % 8);
  p.links.emplace_back(0, 4);
  p.links.emplace_back(2, 7);
  const auto chords = ic::make_topology(ic::TopologyKind::explicit_links, 8, p);
  expect_reference_routes(chords, "ring with chords");
  expect_reference_routes(chords, "ring with chords (cached)");
  p.links = {{0, 1}, {0, 2}, {1, 3}, {1, 4}, {2, 5}, {2, 6}};
  expect_reference_routes(ic::make_topology(ic::TopologyKind::explicit_links, 7, p), "tree");
  p.allow_switch = true;  // torus on 2-port devices becomes a star
  p.default_ports = 2;
  p.rows = 2;
  p.cols = 3;
  const auto star = ic::make_topology(ic::TopologyKind::torus2d, 6, p);
  ASSERT_EQ(star.kind, ic::TopologyKind::switched);
  expect_reference_routes(star, "substituted star");
}

// 1,024 devices: route lengths and paths by hand (index = position on the ring; torus
// 32 x 32, index = row * 32 + column).
TEST(Topology, ThousandDeviceRingAndTorusRoutes) {
  const auto ring = ic::make_topology(ic::TopologyKind::ring_bi, 1024);
  EXPECT_EQ(ring.channels().size(), 2048u);
  EXPECT_EQ(hop_count(ring, 0, 511), 511u);   // forward
  EXPECT_EQ(hop_count(ring, 0, 513), 511u);   // backward over 1023
  EXPECT_EQ(hop_count(ring, 5, 1000), 29u);   // 5 -> 0 is 5 hops, 0 -> 1023 -> 1000 is 24
  const Hops opposite = route(ring, 0, 512);  // tie 0->1 vs 0->1023: take 1
  ASSERT_EQ(opposite.size(), 512u);
  for (uint32_t i = 0; i < 512; ++i) EXPECT_EQ(opposite[i], (ic::Hop{i, i + 1}));
  const Hops back = route(ring, 512, 0);  // tie 512->511 vs 512->513: take 511
  ASSERT_EQ(back.size(), 512u);
  EXPECT_EQ(back.front(), (ic::Hop{512, 511}));
  EXPECT_EQ(back.back(), (ic::Hop{1, 0}));
  const Hops wrap = route(ring, 1020, 3);
  EXPECT_EQ(ic::route_to_string(wrap), "1020->1021->1022->1023->0->1->2->3");

  const auto uni = ic::make_topology(ic::TopologyKind::ring_uni, 1024);
  EXPECT_EQ(hop_count(uni, 1, 0), 1023u);
  EXPECT_EQ(hop_count(uni, 1023, 0), 1u);

  auto p = with_ports(4);
  p.rows = 32;
  p.cols = 32;
  const auto torus = ic::make_topology(ic::TopologyKind::torus2d, 1024, p);
  EXPECT_EQ(torus.channels().size(), 4096u);
  // (0,0) -> (16,16): 16 + 16 hops, both dimensions tied; lowest next index first, so
  // along row 0 to (0,16) = 16, then down column 16 (index 48, 80, ...) to 528.
  const Hops far = route(torus, 0, 16 * 32 + 16);
  ASSERT_EQ(far.size(), 32u);
  for (uint32_t i = 0; i < 16; ++i) EXPECT_EQ(far[i], (ic::Hop{i, i + 1}));
  for (uint32_t i = 0; i < 16; ++i) EXPECT_EQ(far[16 + i], (ic::Hop{16 + 32 * i, 48 + 32 * i}));
  // (5,3) -> (30,30): rows 5 -> 0 -> 31 -> 30 (7 hops), columns 3 -> 0 -> 31 -> 30 (5 hops).
  EXPECT_EQ(hop_count(torus, 5 * 32 + 3, 30 * 32 + 30), 12u);
  EXPECT_EQ(hop_count(torus, 30 * 32 + 30, 5 * 32 + 3), 12u);
  EXPECT_EQ(hop_count(torus, 0, 1023), 2u);  // (0,0) -> (31,31): one wrap each way

  // Fully connected: every route is the direct channel.
  const auto full = ic::make_topology(ic::TopologyKind::fully_connected, 1024, with_ports(1023));
  EXPECT_EQ(full.channels().size(), 1024u * 1023u);
  EXPECT_EQ(route(full, 1000, 7), (Hops{{1000, 7}}));
  EXPECT_EQ(ports_used(full, 3), 1023u);
}

TEST(Topology, TooLargeForTheRoutingTableIsAnError) {
  EXPECT_EQ(build_error(ic::TopologyKind::ring_bi, 8193, {}),
            "topology ring_bi of 8193 devices: at most 8192 devices are modelled (the routing "
            "table holds a hop distance per pair of devices)");
  EXPECT_NO_THROW(ic::make_topology(ic::TopologyKind::ring_bi, 8192));
  EXPECT_EQ(build_error(ic::TopologyKind::fully_connected, 5000, with_ports(4999)),
            "topology fully_connected of 5000 devices has 24995000 directed channels; at most "
            "16777216 are modelled (the routing table's limit)");
}
