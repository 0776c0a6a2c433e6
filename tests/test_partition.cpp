// Unit tests of the kernel-free partitioners (sim/mapping/partition.*).
#include "sim/mapping/partition.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <iostream>
#include <limits>
#include <random>

#include "workloads/error.hpp"

using namespace masesim;

namespace {

Resources res(double lut, double bram = 0, double uram = 0, double ff = 0, double dsp = 0) {
  Resources r;
  r[Res::lut] = lut, r[Res::ff] = ff, r[Res::dsp] = dsp, r[Res::bram36] = bram, r[Res::uram] = uram;
  return r;
}

PartNode plain(double lut, double time_ps) {
  PartNode n;
  n.res_on = n.res_off = res(lut);
  n.time_on_ps = time_ps;
  return n;
}

PartNode weighted(double lut, double bram_on, double time_ps, double weight_bytes) {
  PartNode n;
  n.res_on = res(lut, bram_on);
  n.res_off = res(lut, 0);
  n.time_on_ps = time_ps;
  n.weight_bytes = weight_bytes;
  n.has_weights = true;
  return n;
}

PartDevice device(double lut, double bram = 1e9, double mem_bytes_per_ps = 0) {
  PartDevice d;
  d.capacity = res(lut, bram, 1e9, 1e9, 1e9);
  d.mem_bytes_per_ps = mem_bytes_per_ps;
  return d;
}

std::vector<PartEdge> chain(const std::vector<double>& bytes) {
  std::vector<PartEdge> e;
  for (std::size_t i = 0; i < bytes.size(); ++i)
    e.push_back({static_cast<int>(i), static_cast<int>(i + 1), bytes[i]});
  return e;
}

PartLinks links(double bytes_per_ps) {
  PartLinks l;
  l.bytes_per_ps = bytes_per_ps;
  return l;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const SimulationError& e) {
    return e.what();
  }
  return "(no SimulationError)";
}

}  // namespace

TEST(Partition, FourEqualNodesTwoDevicesCutInTheMiddle) {
  // 400 LUTs each on 1000-LUT devices: two per device.
  const std::vector<PartNode> nodes(4, plain(400, 1000));
  const auto edges = chain({10, 10, 10});
  const auto r =
      partition_balanced(nodes, edges, std::vector<PartDevice>(2, device(1000)), links(1.0), 1.0);
  EXPECT_EQ(r.device, (std::vector<int>{0, 0, 1, 1}));
  EXPECT_EQ(r.bottleneck_ps, 1000.0);  // one node's time: a stage's nodes run concurrently
  EXPECT_EQ(r.bottleneck, "node 0");
  EXPECT_EQ(r.weights_off, std::vector<bool>(4, false));
  // More devices than needed: not faster, so the fewest devices are used.
  const auto r4 =
      partition_balanced(nodes, edges, std::vector<PartDevice>(4, device(1000)), links(1.0), 1.0);
  EXPECT_EQ(r4.device, (std::vector<int>{0, 0, 1, 1}));
  EXPECT_EQ(r4.bottleneck_ps, 1000.0);
  // Utilisation cap 0.7: 700 usable LUTs, one node per device.
  const auto r07 =
      partition_balanced(nodes, edges, std::vector<PartDevice>(4, device(1000)), links(1.0), 0.7);
  EXPECT_EQ(r07.device, (std::vector<int>{0, 1, 2, 3}));
}

TEST(Partition, EverythingFitsOnOneDevice) {
  const std::vector<PartNode> nodes{plain(100, 30), plain(100, 70), plain(100, 50)};
  const auto r = partition_balanced(nodes, chain({1e6, 1e6}),
                                    std::vector<PartDevice>(3, device(1000)), links(1.0), 1.0);
  EXPECT_EQ(r.device, (std::vector<int>{0, 0, 0}));
  EXPECT_EQ(r.bottleneck_ps, 70.0);
  EXPECT_EQ(r.bottleneck, "node 1");
}

TEST(Partition, HeavyEdgeIsNotCut) {
  // Three nodes per device; cuts at 1, 2 or 3 are possible with 2 devices.
  const std::vector<PartNode> nodes(4, plain(300, 10));
  const auto edges = chain({100, 5000, 50});
  const auto r =
      partition_balanced(nodes, edges, std::vector<PartDevice>(2, device(1000)), links(1.0), 1.0);
  EXPECT_EQ(r.device, (std::vector<int>{0, 0, 0, 1}));
  EXPECT_EQ(r.bottleneck_ps, 50.0);
  EXPECT_EQ(r.bottleneck, "link 0->1");
  // Forcing the cut onto the heavy edge costs 5000 bytes / 1 byte/ps.
  const auto forced = partition_evaluate(nodes, edges, std::vector<PartDevice>(2, device(1000)),
                                         links(1.0), 1.0, {0, 0, 1, 1});
  EXPECT_EQ(forced.bottleneck_ps, 5000.0);
  EXPECT_EQ(forced.bottleneck, "link 0->1");
}

TEST(Partition, EdgeSkippingAStageLoadsEveryLinkOnItsWay) {
  const std::vector<PartNode> nodes(3, plain(600, 1));
  std::vector<PartEdge> edges = chain({10, 20});
  edges.push_back({0, 2, 100});  // residual 0 -> 2 passes through device 1
  EXPECT_EQ(cut_bytes(edges, 3), (std::vector<double>{0, 110, 120, 0}));
  const auto r =
      partition_balanced(nodes, edges, std::vector<PartDevice>(3, device(1000)), links(2.0), 1.0);
  EXPECT_EQ(r.device, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(r.bottleneck_ps, 60.0);  // 120 bytes on link 1->2 at 2 bytes/ps
  EXPECT_EQ(r.bottleneck, "link 1->2");
  // An empty device in between: both links carry the 0->2 edge (and 1->2's 20 bytes).
  const auto skip = partition_evaluate(nodes, edges, std::vector<PartDevice>(3, device(2000)),
                                       links(2.0), 1.0, {0, 0, 2});
  EXPECT_EQ(skip.bottleneck_ps, 60.0);
  EXPECT_EQ(skip.bottleneck, "link 0->1");
}

TEST(Partition, NonNeighbourDevicesAreNoted) {
  const std::vector<PartNode> nodes(2, plain(600, 1));
  PartLinks l = links(1.0);
  l.next_hops = {2};
  const auto r =
      partition_balanced(nodes, chain({5}), std::vector<PartDevice>(2, device(1000)), l, 1.0);
  bool noted = false;
  for (const auto& n : r.notes)
    noted = noted || n.find("devices 0 and 1 are 2 hops apart") != std::string::npos;
  EXPECT_TRUE(noted);
  l.next_hops = {1, 1};
  EXPECT_THROW(
      partition_balanced(nodes, chain({5}), std::vector<PartDevice>(2, device(1000)), l, 1.0),
      std::invalid_argument);
}

TEST(Partition, WeightsSpillWhenBramDoesNotFit) {
  // 100 BRAM, 2 bytes/ps of off-chip memory. On chip both need 140 BRAM.
  const std::vector<PartNode> nodes{weighted(100, 80, 1000, 10000), weighted(100, 60, 1000, 4000)};
  const auto dev = device(1000, 100, 2.0);
  std::vector<bool> off;
  // The largest weights (node 0) go off chip: 10000 bytes at 2 bytes/ps.
  EXPECT_EQ(stage_time_ps(nodes, 0, 2, dev, 1.0, &off), 5000.0);
  EXPECT_EQ(off, (std::vector<bool>{true, false}));
  const auto r1 = partition_balanced(nodes, chain({1}), {dev}, links(1.0), 1.0);
  EXPECT_EQ(r1.weights_off, (std::vector<bool>{true, false}));
  EXPECT_EQ(r1.bottleneck_ps, 5000.0);
  EXPECT_EQ(r1.bottleneck, "node 0");
  // Two devices: everything on chip again.
  const auto r2 = partition_balanced(nodes, chain({1}), {dev, dev}, links(1.0), 1.0);
  EXPECT_EQ(r2.device, (std::vector<int>{0, 1}));
  EXPECT_EQ(r2.weights_off, (std::vector<bool>{false, false}));
  EXPECT_EQ(r2.bottleneck_ps, 1000.0);
  // 30 BRAM: both off chip, sharing the bandwidth: node 0 reads 10000 bytes at 1 byte/ps.
  const auto small = device(1000, 30, 2.0);
  EXPECT_EQ(stage_time_ps(nodes, 0, 2, small, 1.0, &off), 10000.0);
  EXPECT_EQ(off, (std::vector<bool>{true, true}));
  // Utilisation cap 0.5 on 200 BRAM is the same 100 usable blocks.
  EXPECT_EQ(stage_time_ps(nodes, 0, 2, device(1000, 200, 2.0), 0.5), 5000.0);
  // No off-chip memory: the stage does not fit.
  EXPECT_EQ(stage_time_ps(nodes, 0, 2, device(1000, 100, 0.0), 1.0),
            std::numeric_limits<double>::infinity());
}

TEST(Partition, SpillingStopsWhenItFits) {
  // Three weighted nodes of 50 BRAM each, limit 100: only the largest (node 1) spills.
  const std::vector<PartNode> nodes{weighted(10, 50, 100, 300), weighted(10, 50, 100, 900),
                                    weighted(10, 50, 100, 600)};
  std::vector<bool> off;
  EXPECT_EQ(stage_time_ps(nodes, 0, 3, device(1000, 100, 3.0), 1.0, &off),
            300.0);  // 900 bytes / 3 bytes/ps
  EXPECT_EQ(off, (std::vector<bool>{false, true, false}));
}

// Weights fixed off chip (the configuration says so) stay off chip even where they fit,
// count res_off, and share the memory bandwidth with the nodes that spill.
TEST(Partition, FixedOffChipWeightsStayOffChip) {
  PartNode fixed = weighted(100, 80, 1000, 4000);
  fixed.has_weights = false;
  fixed.weights_fixed_off = true;
  const std::vector<PartNode> nodes{fixed, weighted(100, 60, 1000, 10000)};
  std::vector<bool> off;
  // Plenty of BRAM: node 1 stays on chip, node 0 reads 4000 bytes at 2 bytes/ps.
  EXPECT_EQ(stage_time_ps(nodes, 0, 2, device(1000, 1000, 2.0), 1.0, &off), 2000.0);
  EXPECT_EQ(off, (std::vector<bool>{true, false}));
  // 50 BRAM: node 0 holds none (res_off), node 1's 60 spill too; two off-chip nodes share
  // 2 bytes/ps: node 1 reads 10000 bytes at 1 byte/ps.
  EXPECT_EQ(stage_time_ps(nodes, 0, 2, device(1000, 50, 2.0), 1.0, &off), 10000.0);
  EXPECT_EQ(off, (std::vector<bool>{true, true}));
  // 60 BRAM: node 1 fits beside node 0, which needs none.
  EXPECT_EQ(stage_time_ps(nodes, 0, 2, device(1000, 60, 2.0), 1.0, &off), 2000.0);
  EXPECT_EQ(off, (std::vector<bool>{true, false}));
  // The balanced DP (incremental stage table) and greedy agree with the evaluation.
  for (const auto& r :
       {partition_balanced(nodes, chain({1}), {device(1000, 60, 2.0)}, links(1.0), 1.0),
        partition_greedy(nodes, chain({1}), {device(1000, 60, 2.0)}, links(1.0), 1.0)}) {
    EXPECT_EQ(r.device, (std::vector<int>{0, 0}));
    EXPECT_EQ(r.weights_off, (std::vector<bool>{true, false}));
    EXPECT_EQ(r.bottleneck_ps, 2000.0);
  }
  // Two devices: node 0 alone still reads its weights; node 1 on chip on device 1.
  const auto r2 = partition_balanced(
      nodes, chain({1}), std::vector<PartDevice>(2, device(1000, 50, 2.0)), links(1.0), 1.0);
  EXPECT_EQ(r2.device, (std::vector<int>{0, 1}));
  EXPECT_EQ(r2.weights_off, (std::vector<bool>{true, true}));
  // Device 1: node 1's 60 BRAM > 50 spill; alone it reads 10000 bytes at 2 bytes/ps.
  EXPECT_EQ(r2.bottleneck_ps, 5000.0);
}

TEST(Partition, GreedyFillsSeventyFivePercentOfLuts) {
  const std::vector<PartNode> nodes(4, plain(250, 1));
  const auto r = partition_greedy(nodes, chain({1, 1, 1}), std::vector<PartDevice>(3, device(1000)),
                                  links(1.0), 1.0);
  EXPECT_EQ(r.device, (std::vector<int>{0, 0, 0, 1}));  // 750 <= 0.75 x 1000, 1000 > 750
  const auto half = partition_greedy(
      nodes, chain({1, 1, 1}), std::vector<PartDevice>(3, device(1000)), links(1.0), 1.0, 0.5);
  EXPECT_EQ(half.device, (std::vector<int>{0, 0, 1, 1}));
}

TEST(Partition, GreedyIsWorseThanBalancedWhenItCutsHeavyEdges) {
  const std::vector<PartNode> nodes(6, plain(300, 1));
  const auto edges = chain({10, 1000, 10, 1000, 10});
  const std::vector<PartDevice> devs(3, device(1000));
  const auto g = partition_greedy(nodes, edges, devs, links(1.0), 1.0);
  EXPECT_EQ(g.device, (std::vector<int>{0, 0, 1, 1, 2, 2}));
  EXPECT_EQ(g.bottleneck_ps, 1000.0);
  EXPECT_EQ(g.bottleneck, "link 0->1");
  const auto b = partition_balanced(nodes, edges, devs, links(1.0), 1.0);
  EXPECT_EQ(b.device, (std::vector<int>{0, 0, 0, 1, 1, 1}));
  EXPECT_EQ(b.bottleneck_ps, 10.0);
  // With two devices greedy runs out of them at node 4.
  const std::string msg = error_of([&] {
    partition_greedy(nodes, edges, {devs[0], devs[1]}, links(1.0), 1.0);
  });
  EXPECT_NE(msg.find("out of devices at node 4"), std::string::npos) << msg;
}

TEST(Partition, InfeasibleNodeNamesNodeAndResource) {
  std::vector<PartNode> nodes(3, plain(300, 1));
  nodes[2] = plain(1500, 1);
  nodes[2].name = "fc2";
  const std::string msg = error_of([&] {
    partition_balanced(nodes, chain({1, 1}), std::vector<PartDevice>(4, device(1000)), links(1.0),
                       0.8);
  });
  EXPECT_NE(msg.find("node 2 'fc2'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("lut needs 1500 but 800 are usable (0.8 x 1000)"), std::string::npos) << msg;
  // A node whose weights do not fit and cannot go off chip: BRAM is named.
  std::vector<PartNode> w{weighted(10, 500, 1, 64)};
  const std::string bram =
      error_of([&] { partition_balanced(w, {}, {device(1000, 100, 0.0)}, links(1.0), 1.0); });
  EXPECT_NE(bram.find("node 0"), std::string::npos) << bram;
  EXPECT_NE(bram.find("bram36 needs 500"), std::string::npos) << bram;
  const std::string greedy = error_of([&] {
    partition_greedy(nodes, chain({1, 1}), std::vector<PartDevice>(4, device(1000)), links(1.0),
                     1.0);
  });
  EXPECT_NE(greedy.find("node 2 'fc2'"), std::string::npos) << greedy;
  EXPECT_NE(greedy.find("lut needs 1500 but 750 are usable"), std::string::npos) << greedy;
  // Every node fits, but not all of them on too few devices.
  const std::string few = error_of([&] {
    partition_balanced(std::vector<PartNode>(4, plain(600, 1)), chain({1, 1, 1}),
                       std::vector<PartDevice>(2, device(1000)), links(1.0), 1.0);
  });
  EXPECT_NE(few.find("more devices are needed"), std::string::npos) << few;
}

namespace {

// Portable random numbers (std distributions differ between standard libraries).
struct Rng {
  std::mt19937 g;
  explicit Rng(std::uint32_t seed) : g(seed) {}
  double uniform(double lo, double hi) {
    return lo + (hi - lo) * (static_cast<double>(g()) / 4294967296.0);
  }
  int below(int n) { return static_cast<int>(g() % static_cast<std::uint32_t>(n)); }
};

struct Case {
  std::vector<PartNode> nodes;
  std::vector<PartEdge> edges;
};

Case random_chain(Rng& rng, int n, double lut_lo, double lut_hi) {
  Case c;
  for (int i = 0; i < n; ++i) {
    PartNode nd;
    nd.res_on = res(std::round(rng.uniform(lut_lo, lut_hi)), 0, 0, std::round(rng.uniform(0, 500)),
                    std::round(rng.uniform(0, 20)));
    nd.res_off = nd.res_on;
    nd.time_on_ps = std::round(rng.uniform(1000, 10000));
    if (rng.below(2) == 0) {
      nd.has_weights = true;
      nd.weight_bytes = std::round(rng.uniform(1e4, 1e5));
      nd.res_on[Res::bram36] = std::round(rng.uniform(5, 60));
      nd.res_off[Res::lut] += 20;   // the fetch logic
      nd.res_off[Res::bram36] = 2;  // the double-buffered tile
    }
    c.nodes.push_back(nd);
    if (i > 0) c.edges.push_back({i - 1, i, std::round(rng.uniform(100, 5000))});
    if (i > 2 && rng.below(4) == 0)
      c.edges.push_back({i - 3, i, std::round(rng.uniform(100, 5000))});  // residual
  }
  return c;
}

}  // namespace

TEST(Partition, MoreDevicesNeverGiveALargerBottleneck) {
  Rng rng(12345);
  const Case c = random_chain(rng, 60, 100, 400);
  const auto dev = device(20000, 300, 4.0);  // all LUTs fit on one device; BRAM does not
  double prev = std::numeric_limits<double>::infinity();
  double first = 0;
  for (int d = 1; d <= 8; ++d) {
    const auto r = partition_balanced(c.nodes, c.edges,
                                      std::vector<PartDevice>(static_cast<std::size_t>(d), dev),
                                      links(1.0), 0.9);
    EXPECT_LE(r.bottleneck_ps, prev) << "D=" << d;
    if (d == 1) first = r.bottleneck_ps;
    prev = r.bottleneck_ps;
    // Greedy (at the same caps) never beats the optimum.
    try {
      const auto g = partition_greedy(c.nodes, c.edges,
                                      std::vector<PartDevice>(static_cast<std::size_t>(d), dev),
                                      links(1.0), 0.9, 0.9);
      EXPECT_GE(g.bottleneck_ps, r.bottleneck_ps) << "D=" << d;
    } catch (const SimulationError&) {
    }
  }
  EXPECT_LT(prev, first);  // spreading the weights over 8 devices helps
}

TEST(Partition, BalancedMatchesExhaustiveSearch) {
  int feasible = 0, multi_device = 0, link_bound = 0, spilled = 0;
  for (std::uint32_t seed = 1; seed <= 20; ++seed) {
    Rng rng(seed);
    const int n = 9;
    const Case c = random_chain(rng, n, 200, 900);
    const int num_dev = 4;
    const std::vector<PartDevice> devs(num_dev, device(2000, 80, 2.0));
    const PartLinks l = links(0.5);
    double brute = std::numeric_limits<double>::infinity();
    int brute_used = 0;
    // Every assignment with non-empty stages on devices 0..m-1 (cut masks over n-1 gaps).
    for (int m = 1; m <= num_dev; ++m)
      for (int mask = 0; mask < (1 << (n - 1)); ++mask) {
        if (__builtin_popcount(static_cast<unsigned>(mask)) != m - 1) continue;
        std::vector<int> dv(static_cast<std::size_t>(n));
        for (int i = 1; i < n; ++i)
          dv[static_cast<std::size_t>(i)] =
              dv[static_cast<std::size_t>(i - 1)] + ((mask >> (i - 1)) & 1);
        try {
          const double b = partition_evaluate(c.nodes, c.edges, devs, l, 1.0, dv).bottleneck_ps;
          if (b < brute) brute = b, brute_used = m;
        } catch (const SimulationError&) {
        }
      }
    if (brute == std::numeric_limits<double>::infinity()) {
      EXPECT_THROW(partition_balanced(c.nodes, c.edges, devs, l, 1.0), SimulationError)
          << "seed " << seed;
      continue;
    }
    const auto r = partition_balanced(c.nodes, c.edges, devs, l, 1.0);
    EXPECT_EQ(r.bottleneck_ps, brute) << "seed " << seed;
    EXPECT_EQ(r.device.back() + 1, brute_used) << "seed " << seed;
    ++feasible;
    multi_device += brute_used > 1;
    link_bound += r.bottleneck.rfind("link", 0) == 0;
    spilled += std::count(r.weights_off.begin(), r.weights_off.end(), true) > 0;
  }
  std::cout << feasible << " feasible, " << multi_device << " on several devices, " << link_bound
            << " link-bound, " << spilled << " with weights off chip\n";
  EXPECT_GE(feasible, 10);  // the comparison is not vacuous
  EXPECT_GE(multi_device, 5);
}

TEST(Partition, LargeCaseRuns) {
  Rng rng(7);
  const Case c = random_chain(rng, 350, 1000, 3000);
  // 0: one device type; 1: two types alternating (two stage tables); 2: every node fits
  // one device (stages as long as 350 nodes: the worst case of the table) and slow links.
  for (int mode = 0; mode < 3; ++mode) {
    std::vector<PartDevice> devs;
    for (int d = 0; d < 64; ++d)
      devs.push_back(mode == 1 && d % 2 ? device(60000, 800, 8.0)
                                        : device(mode == 2 ? 1e9 : 40000, 500, 4.0));
    const PartLinks l = links(mode == 2 ? 0.5 : 2.0);
    const auto t0 = std::chrono::steady_clock::now();
    const auto r = partition_balanced(c.nodes, c.edges, devs, l, 0.8);
    const auto t1 = std::chrono::steady_clock::now();
    const auto g = partition_greedy(c.nodes, c.edges, devs, l, 0.8);
    const auto t2 = std::chrono::steady_clock::now();
    EXPECT_GT(r.bottleneck_ps, 0.0);
    EXPECT_LE(r.bottleneck_ps, g.bottleneck_ps);
    std::cout << "350 nodes x 64 devices, case " << mode << ": balanced "
              << std::chrono::duration<double, std::milli>(t1 - t0).count() << " ms, "
              << r.device.back() + 1 << " devices, " << r.bottleneck_ps << " ps (" << r.bottleneck
              << "); greedy " << std::chrono::duration<double, std::milli>(t2 - t1).count()
              << " ms, " << g.device.back() + 1 << " devices, " << g.bottleneck_ps << " ps ("
              << g.bottleneck << ")\n";
  }
}
