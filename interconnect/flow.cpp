#include "interconnect/flow.hpp"

#include <cmath>
#include <limits>
#include <string>

namespace masesim::interconnect {
namespace {

/// Progressive filling over the flows with active[i] set; inactive flows get 0.
std::vector<double> fair_rates(const std::vector<Flow>& flows, const std::vector<bool>& active,
                               const FlowNetwork& net) {
  struct LinkState {
    double remaining_gbps = 0.0;
    uint32_t unfrozen = 0;
  };
  std::map<LinkId, LinkState> links;
  std::vector<bool> frozen(flows.size(), true);
  for (size_t i = 0; i < flows.size(); ++i) {
    if (!active[i] || flows[i].route.empty()) continue;
    frozen[i] = false;
    for (const Hop& h : flows[i].route) {
      auto [it, inserted] = links.try_emplace(h);
      if (inserted) it->second.remaining_gbps = net.capacity_gbps(h);
      ++it->second.unfrozen;
    }
  }
  std::vector<double> rate(flows.size(), 0.0);
  for (;;) {
    // Bottleneck: the link whose remaining capacity per unfrozen flow is least
    // (first in LinkId order on ties, which does not change the rates).
    const LinkId* bottleneck = nullptr;
    double share = std::numeric_limits<double>::infinity();
    for (const auto& [id, st] : links) {
      if (st.unfrozen == 0) continue;
      const double s = std::max(0.0, st.remaining_gbps) / st.unfrozen;
      if (s < share) {
        share = s;
        bottleneck = &id;
      }
    }
    if (bottleneck == nullptr) break;
    const LinkId b = *bottleneck;
    for (size_t i = 0; i < flows.size(); ++i) {
      if (frozen[i]) continue;
      bool crosses = false;
      for (const Hop& h : flows[i].route) crosses = crosses || h == b;
      if (!crosses) continue;
      frozen[i] = true;
      rate[i] = share;
      for (const Hop& h : flows[i].route) {
        LinkState& st = links[h];
        st.remaining_gbps -= share;
        --st.unfrozen;
      }
    }
  }
  return rate;
}

}  // namespace

double FlowNetwork::capacity_gbps(const LinkId& link) const {
  const auto it = link_gbps.find(link);
  const double c = it == link_gbps.end() ? default_link_gbps : it->second;
  if (!(c > 0.0)) {
    throw FlowError("flow network: capacity of channel " + std::to_string(link.from) + "->" +
                    std::to_string(link.to) + " must be positive, found " + std::to_string(c) +
                    " Gb/s");
  }
  return c;
}

std::vector<double> max_min_fair_rates_gbps(const std::vector<Flow>& flows,
                                            const FlowNetwork& net) {
  return fair_rates(flows, std::vector<bool>(flows.size(), true), net);
}

std::vector<uint64_t> fair_share_completion_ps(const std::vector<Flow>& flows,
                                               const FlowNetwork& net) {
  std::vector<uint64_t> done_ps(flows.size(), 0);
  std::vector<double> remaining_bits(flows.size(), 0.0);
  std::vector<bool> active(flows.size(), false);
  size_t n_active = 0;
  for (size_t i = 0; i < flows.size(); ++i) {
    if (flows[i].route.empty() || flows[i].bytes == 0) continue;
    remaining_bits[i] = 8.0 * static_cast<double>(flows[i].bytes);
    active[i] = true;
    ++n_active;
  }
  double now_s = 0.0;
  while (n_active > 0) {
    const std::vector<double> rate = fair_rates(flows, active, net);
    double step_s = std::numeric_limits<double>::infinity();
    for (size_t i = 0; i < flows.size(); ++i) {
      if (active[i]) step_s = std::min(step_s, remaining_bits[i] / (rate[i] * 1e9));
    }
    now_s += step_s;
    for (size_t i = 0; i < flows.size(); ++i) {
      if (!active[i]) continue;
      const double moved = rate[i] * 1e9 * step_s;
      // Flows within a relative 1e-12 of the end finish in this step too.
      if (remaining_bits[i] - moved <= 1e-12 * 8.0 * static_cast<double>(flows[i].bytes)) {
        active[i] = false;
        --n_active;
        done_ps[i] = static_cast<uint64_t>(std::ceil(now_s * 1e12 - 1e-3));
      } else {
        remaining_bits[i] -= moved;
      }
    }
  }
  return done_ps;
}

}  // namespace masesim::interconnect
