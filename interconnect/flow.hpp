// Analytic max-min fair sharing of link bandwidth among flows (kernel-free).
//
// Contract: flows start together at t = 0 and each moves `bytes` along `route`.
// At every instant the active flows get max-min fair rates (progressive filling):
// no flow can go faster without slowing one that is no faster. When a flow ends,
// the rates are recomputed. Capacities are payload rates (use goodput_gbps() of
// the link's framing to include overhead). A flow with an empty route or zero
// bytes completes at 0. This is an estimate for the mapper; the SystemC link
// model is the reference for timing.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <vector>

#include "interconnect/topology.hpp"

namespace masesim::interconnect {

class FlowError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Flow {
  std::vector<Hop> route;
  uint64_t bytes = 0;
};

struct FlowNetwork {
  double default_link_gbps = 100.0;    ///< capacity of every channel not listed below
  std::map<LinkId, double> link_gbps;  ///< per-channel overrides
  double capacity_gbps(const LinkId& link) const;
};

/// Max-min fair rate of every flow when all of them are active (Gb/s; 0 for a flow
/// with an empty route). Throws FlowError on a non-positive capacity.
std::vector<double> max_min_fair_rates_gbps(const std::vector<Flow>& flows, const FlowNetwork& net);

/// Completion time of every flow in ps (rounded up) under max-min fair sharing.
std::vector<uint64_t> fair_share_completion_ps(const std::vector<Flow>& flows,
                                               const FlowNetwork& net);

}  // namespace masesim::interconnect
