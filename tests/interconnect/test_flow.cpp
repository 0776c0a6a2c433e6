// Max-min fair sharing of links among flows.
#include <gtest/gtest.h>

#include <vector>

#include "interconnect/flow.hpp"

namespace ic = masesim::interconnect;

TEST(Flow, SingleFlowRunsAtLinkRate) {
  const ic::FlowNetwork net;  // 100 Gb/s channels
  const std::vector<ic::Flow> flows{{{{0, 1}}, 1'000'000}};
  EXPECT_EQ(ic::fair_share_completion_ps(flows, net), (std::vector<uint64_t>{80'000'000}));
}

TEST(Flow, TwoFlowsOnOneLinkGetHalfEach) {
  const ic::FlowNetwork net;
  const std::vector<ic::Flow> flows{{{{0, 1}}, 1'000'000}, {{{0, 1}}, 1'000'000}};
  EXPECT_EQ(ic::max_min_fair_rates_gbps(flows, net), (std::vector<double>{50.0, 50.0}));
  EXPECT_EQ(ic::fair_share_completion_ps(flows, net),
            (std::vector<uint64_t>{160'000'000, 160'000'000}));
}

TEST(Flow, OppositeDirectionsDoNotShare) {
  const ic::FlowNetwork net;
  const std::vector<ic::Flow> flows{{{{0, 1}}, 1'000'000}, {{{1, 0}}, 1'000'000}};
  EXPECT_EQ(ic::max_min_fair_rates_gbps(flows, net), (std::vector<double>{100.0, 100.0}));
}

TEST(Flow, MaxMinFairGivesLeftoverToUnconstrainedFlow) {
  // A crosses both links; B, C share the first; D has the second link with A.
  const ic::FlowNetwork net;
  const std::vector<ic::Flow> flows{
      {{{0, 1}, {1, 2}}, 1000}, {{{0, 1}}, 1000}, {{{0, 1}}, 1000}, {{{1, 2}}, 1000}};
  const auto r = ic::max_min_fair_rates_gbps(flows, net);
  EXPECT_NEAR(r[0], 100.0 / 3, 1e-9);
  EXPECT_NEAR(r[1], 100.0 / 3, 1e-9);
  EXPECT_NEAR(r[2], 100.0 / 3, 1e-9);
  EXPECT_NEAR(r[3], 200.0 / 3, 1e-9);
}

TEST(Flow, RatesAreRecomputedWhenAFlowFinishes) {
  // Both at 50 Gb/s until the short one ends at 160 us; the long one then has the
  // whole link: 4 MB in total through one 100 Gb/s link = 320 us.
  const ic::FlowNetwork net;
  const std::vector<ic::Flow> flows{{{{0, 1}}, 1'000'000}, {{{0, 1}}, 3'000'000}};
  EXPECT_EQ(ic::fair_share_completion_ps(flows, net),
            (std::vector<uint64_t>{160'000'000, 320'000'000}));
}

TEST(Flow, PerLinkCapacityAndLocalFlows) {
  ic::FlowNetwork net;
  net.link_gbps[{1, 2}] = 25.0;
  const std::vector<ic::Flow> flows{{{{0, 1}, {1, 2}}, 1'000'000}, {{}, 5'000'000}};
  EXPECT_EQ(ic::fair_share_completion_ps(flows, net), (std::vector<uint64_t>{320'000'000, 0}));
  net.link_gbps[{1, 2}] = 0.0;
  EXPECT_THROW(ic::max_min_fair_rates_gbps(flows, net), ic::FlowError);
}
