// Set-up cost of topologies and routing alone (kernel-free, no simulation): for 256 and
// 1,024 devices (and the 8,192-device limit) in each regular kind, the wall time of
// make_topology(), of the routes a pipeline of contiguous stages asks for (device k to
// k + 1, as the partitioner and the system builder do), of one route from device 0 to every
// device, and of hop_count() over every ordered pair. The explicit kind is a ring with a
// chord from every 8th device across the ring (breadth-first search, one cached table per
// destination). Each figure is the best of three runs, in milliseconds.
//
// Usage: build/bench/topology_bench        (printed as a Markdown table)
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

#include "interconnect/topology.hpp"

namespace ic = masesim::interconnect;

namespace {

/// Best of three runs of `f`; each run gets a topology built (untimed) by `make`, so
/// routes start from an empty route cache.
double best_ms(const std::function<ic::Topology()>& make,
               const std::function<void(const ic::Topology&)>& f) {
  double best = 1e300;
  for (int k = 0; k < 3; ++k) {
    const ic::Topology t = make();
    const auto t0 = std::chrono::steady_clock::now();
    f(t);
    const auto t1 = std::chrono::steady_clock::now();
    best = std::min(best, std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  return best;
}

ic::TopologyParams params_for(ic::TopologyKind kind, uint32_t n) {
  ic::TopologyParams p;
  p.default_ports = n;  // enough cages for every kind (fully connected needs n - 1)
  if (kind == ic::TopologyKind::torus2d) {
    uint32_t r = 1;
    while ((r * 2) * (r * 2) <= n) r *= 2;
    p.rows = r;
    p.cols = n / r;
  }
  if (kind == ic::TopologyKind::explicit_links) {
    for (uint32_t i = 0; i < n; ++i) p.links.emplace_back(i, (i + 1) % n);
    for (uint32_t i = 0; i < n / 2; i += 8) p.links.emplace_back(i, i + n / 2);
  }
  return p;
}

}  // namespace

int main() {
  std::printf(
      "| topology | devices | channels | build ms | pipeline routes (k to k+1) ms | routes from "
      "device 0 ms | hop_count, every pair, ms |\n|---|---|---|---|---|---|---|\n");
  const ic::TopologyKind kinds[] = {ic::TopologyKind::ring_bi, ic::TopologyKind::torus2d,
                                    ic::TopologyKind::fully_connected,
                                    ic::TopologyKind::explicit_links};
  for (uint32_t n : {256u, 1024u, 8192u}) {
    for (ic::TopologyKind kind : kinds) {
      if (kind == ic::TopologyKind::fully_connected && n > 4096) continue;  // channel limit
      const ic::TopologyParams p = params_for(kind, n);
      const auto make = [&] { return ic::make_topology(kind, n, p); };
      std::size_t channels = 0;
      const double build =
          best_ms([] { return ic::Topology{}; },
                  [&](const ic::Topology&) { channels = make().channels().size(); });
      uint64_t sink = 0;
      const double pipeline = best_ms(make, [&](const ic::Topology& t) {
        for (uint32_t k = 0; k + 1 < n; ++k) sink += ic::route(t, k, k + 1).size();
      });
      const double from0 = best_ms(make, [&](const ic::Topology& t) {
        for (uint32_t d = 0; d < n; ++d) sink += ic::route(t, 0, d).size();
      });
      double pairs = -1;
      if (n <= 1024) {
        pairs = best_ms(make, [&](const ic::Topology& t) {
          for (uint32_t a = 0; a < n; ++a)
            for (uint32_t b = 0; b < n; ++b) sink += ic::hop_count(t, a, b);
        });
      }
      char pair_text[32] = "not run";
      if (pairs >= 0) std::snprintf(pair_text, sizeof pair_text, "%.2f", pairs);
      std::printf("| %s | %u | %zu | %.2f | %.2f | %.2f | %s |%s\n", ic::to_string(kind), n,
                  channels, build, pipeline, from0, pair_text, sink == 0 ? " (no routes?)" : "");
    }
  }
  return 0;
}
