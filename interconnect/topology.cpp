#include "interconnect/topology.hpp"

#include <algorithm>
#include <limits>
#include <set>

namespace masesim::interconnect {
namespace {

constexpr uint32_t kUnreached = std::numeric_limits<uint32_t>::max();

std::string device_label(const Topology& t, uint32_t d) {
  return "'" + t.name(d) + "' (index " + std::to_string(d) + ")";
}

/// Cables as ordered pairs (a < b) and directed channels, sorted and without duplicates
/// once finish() ran; one-way channels for ring_uni, both directions otherwise.
struct Wiring {
  std::vector<std::pair<uint32_t, uint32_t>> cables;
  std::vector<std::pair<uint32_t, uint32_t>> channels;

  void add_cable(uint32_t a, uint32_t b, bool both_directions = true) {
    if (a == b) return;
    cables.emplace_back(std::min(a, b), std::max(a, b));
    channels.emplace_back(a, b);
    if (both_directions) channels.emplace_back(b, a);
  }
  void finish() {
    for (auto* v : {&cables, &channels}) {
      if (!std::is_sorted(v->begin(), v->end())) std::sort(v->begin(), v->end());
      v->erase(std::unique(v->begin(), v->end()), v->end());
    }
  }
};

/// Directed channels `kind` wires before duplicates are removed (an upper bound).
uint64_t channels_before_dedup(TopologyKind kind, uint64_t n, const TopologyParams& p) {
  switch (kind) {
    case TopologyKind::chain:
      return 2 * (n - 1);
    case TopologyKind::ring_uni:
      return n;
    case TopologyKind::ring_bi:
    case TopologyKind::switched:
      return 2 * n;
    case TopologyKind::torus2d:
      return 4 * n;
    case TopologyKind::fully_connected:
      return n * (n - 1);
    case TopologyKind::explicit_links:
      return 2 * static_cast<uint64_t>(p.links.size());
  }
  return 0;
}

Wiring wire(TopologyKind kind, uint32_t n, const TopologyParams& p) {
  Wiring w;
  w.channels.reserve(static_cast<std::size_t>(channels_before_dedup(kind, n, p)));
  switch (kind) {
    case TopologyKind::chain:
      for (uint32_t i = 0; i + 1 < n; ++i) w.add_cable(i, i + 1);
      break;
    case TopologyKind::ring_uni:
      // With n == 2 both channels 0->1 and 1->0 share the one cable.
      for (uint32_t i = 0; i < n; ++i) w.add_cable(i, (i + 1) % n, false);
      break;
    case TopologyKind::ring_bi:
      for (uint32_t i = 0; i < n; ++i) w.add_cable(i, (i + 1) % n);
      break;
    case TopologyKind::torus2d: {
      if (p.rows == 0 || p.cols == 0 || static_cast<uint64_t>(p.rows) * p.cols != n) {
        throw TopologyError("topology torus2d: rows x cols must equal the " + std::to_string(n) +
                            " devices, found rows=" + std::to_string(p.rows) +
                            " cols=" + std::to_string(p.cols));
      }
      for (uint32_t r = 0; r < p.rows; ++r) {
        for (uint32_t c = 0; c < p.cols; ++c) {
          const uint32_t i = r * p.cols + c;
          w.add_cable(i, r * p.cols + (c + 1) % p.cols);
          w.add_cable(i, ((r + 1) % p.rows) * p.cols + c);
        }
      }
      break;
    }
    case TopologyKind::fully_connected:  // written in sorted order: finish() need not sort
      for (uint32_t a = 0; a < n; ++a) {
        for (uint32_t b = 0; b < n; ++b) {
          if (b != a) w.channels.emplace_back(a, b);
          if (b > a) w.cables.emplace_back(a, b);
        }
      }
      break;
    case TopologyKind::explicit_links: {
      std::set<std::pair<uint32_t, uint32_t>> seen;
      for (const auto& [a, b] : p.links) {
        if (a >= n || b >= n) {
          throw TopologyError("topology explicit: link (" + std::to_string(a) + ", " +
                              std::to_string(b) + ") names a device outside 0.." +
                              std::to_string(n == 0 ? 0 : n - 1));
        }
        if (a == b) {
          throw TopologyError("topology explicit: link (" + std::to_string(a) + ", " +
                              std::to_string(b) + ") connects a device to itself");
        }
        if (!seen.insert({std::min(a, b), std::max(a, b)}).second) {
          throw TopologyError("topology explicit: link (" + std::to_string(a) + ", " +
                              std::to_string(b) +
                              ") is listed twice (parallel cables are not modelled)");
        }
        w.add_cable(a, b);
      }
      break;
    }
    case TopologyKind::switched:
      for (uint32_t i = 0; i < n; ++i) w.add_cable(i, n);  // node n is the switch
      break;
  }
  w.finish();
  return w;
}

void fill(Topology& t, const Wiring& w) {
  t.out.assign(t.n_devices + (t.has_switch ? 1 : 0), {});
  std::vector<uint32_t> degree(t.out.size(), 0);
  for (const auto& c : w.channels) ++degree[c.first];
  for (std::size_t a = 0; a < t.out.size(); ++a) t.out[a].reserve(degree[a]);
  for (const auto& [a, b] : w.channels) t.out[a].push_back(b);  // sorted: ascending
  t.cables = w.cables;
}

/// Hops from `at` to `dst` along the shorter way round a ring of n (both directions).
uint32_t ring_distance(uint32_t at, uint32_t dst, uint32_t n) {
  const uint32_t forward = (dst + n - at) % n;
  return forward == 0 ? 0 : std::min(forward, n - forward);
}

}  // namespace

/// Hop distances to destinations found by breadth-first search, one table per destination
/// routed to (explicit links, whose cables all carry both directions).
struct RouteCache {
  std::vector<std::vector<uint32_t>> dist_to;  ///< per destination; empty until needed
};

namespace {

/// Hop distance from every node to `dst` along channels (BFS from dst: every channel of an
/// explicit topology has its reverse, so out-lists serve as in-lists).
std::vector<uint32_t> distances_to(const Topology& t, uint32_t dst) {
  std::vector<uint32_t> dist(t.n_nodes(), kUnreached);
  std::vector<uint32_t> queue{dst};
  queue.reserve(t.n_nodes());
  dist[dst] = 0;
  for (std::size_t head = 0; head < queue.size(); ++head) {
    const uint32_t v = queue[head];
    for (uint32_t u : t.out[v]) {
      if (dist[u] == kUnreached) {
        dist[u] = dist[v] + 1;
        queue.push_back(u);
      }
    }
  }
  return dist;
}

/// Shortest-path hop distance from node `at` to device `dst` (kUnreached if none): closed
/// form for the regular kinds, a cached search for explicit links.
class Distances {
 public:
  Distances(const Topology& t, uint32_t dst) : t_(t), dst_(dst) {
    if (t.kind != TopologyKind::explicit_links) return;
    if (!t.route_cache) {
      own_ = distances_to(t, dst);
      table_ = &own_;
      return;
    }
    auto& tables = t.route_cache->dist_to;
    if (tables.size() < t.n_nodes()) tables.resize(t.n_nodes());
    if (tables[dst].empty()) tables[dst] = distances_to(t, dst);
    table_ = &tables[dst];
  }

  uint32_t operator()(uint32_t at) const {
    if (table_) return (*table_)[at];
    if (at == dst_) return 0;
    const uint32_t n = t_.n_devices;
    switch (t_.kind) {
      case TopologyKind::chain:
        return at > dst_ ? at - dst_ : dst_ - at;
      case TopologyKind::ring_uni:
        return (dst_ + n - at) % n;
      case TopologyKind::ring_bi:
        return ring_distance(at, dst_, n);
      case TopologyKind::torus2d:
        return ring_distance(at / t_.cols, dst_ / t_.cols, t_.rows) +
               ring_distance(at % t_.cols, dst_ % t_.cols, t_.cols);
      case TopologyKind::fully_connected:
        return 1;
      case TopologyKind::switched:
        return t_.is_switch(at) ? 1 : 2;  // device -> switch -> device
      case TopologyKind::explicit_links:
        break;
    }
    return kUnreached;
  }

 private:
  const Topology& t_;
  uint32_t dst_;
  std::vector<uint32_t> own_;
  const std::vector<uint32_t>* table_ = nullptr;
};

}  // namespace

TopologyKind parse_topology_kind(const std::string& name) {
  if (name == "chain") return TopologyKind::chain;
  if (name == "ring" || name == "ring_bi") return TopologyKind::ring_bi;
  if (name == "ring_uni") return TopologyKind::ring_uni;
  if (name == "torus2d") return TopologyKind::torus2d;
  if (name == "fully_connected") return TopologyKind::fully_connected;
  if (name == "explicit") return TopologyKind::explicit_links;
  if (name == "switch") return TopologyKind::switched;
  throw TopologyError("topology kind: unknown '" + name +
                      "', expected one of chain, ring, ring_bi, ring_uni, torus2d, "
                      "fully_connected, explicit, switch");
}

const char* to_string(TopologyKind kind) {
  switch (kind) {
    case TopologyKind::chain:
      return "chain";
    case TopologyKind::ring_uni:
      return "ring_uni";
    case TopologyKind::ring_bi:
      return "ring_bi";
    case TopologyKind::torus2d:
      return "torus2d";
    case TopologyKind::fully_connected:
      return "fully_connected";
    case TopologyKind::explicit_links:
      return "explicit";
    case TopologyKind::switched:
      return "switch";
  }
  return "?";
}

uint32_t Topology::switch_node() const {
  if (!has_switch)
    throw TopologyError("topology " + std::string(to_string(kind)) + ": has no switch");
  return n_devices;
}

bool Topology::has_channel(uint32_t from, uint32_t to) const {
  if (from >= n_nodes()) return false;
  return std::binary_search(out[from].begin(), out[from].end(), to);
}

std::vector<LinkId> Topology::channels() const {
  std::vector<LinkId> all;
  for (uint32_t a = 0; a < n_nodes(); ++a) {
    for (uint32_t b : out[a]) all.push_back({a, b});
  }
  return all;
}

const std::string& Topology::name(uint32_t node) const {
  if (node >= names.size()) {
    throw TopologyError("topology " + std::string(to_string(kind)) + ": node " +
                        std::to_string(node) + " does not exist (" + std::to_string(names.size()) +
                        " nodes)");
  }
  return names[node];
}

Topology make_topology(TopologyKind kind, uint32_t n_devices, const TopologyParams& params) {
  const std::string what = "topology " + std::string(to_string(kind));
  if (n_devices == 0) throw TopologyError(what + ": needs at least 1 device, found 0");
  if (!params.names.empty() && params.names.size() != n_devices) {
    throw TopologyError(what + ": " + std::to_string(params.names.size()) + " names given for " +
                        std::to_string(n_devices) + " devices");
  }
  if (!params.ports_per_device.empty() && params.ports_per_device.size() != n_devices) {
    throw TopologyError(what + ": ports_per_device has " +
                        std::to_string(params.ports_per_device.size()) + " entries for " +
                        std::to_string(n_devices) + " devices");
  }
  if (params.switch_latency_ns < 0) {
    throw TopologyError(what + ": switch_latency_ns must not be negative");
  }
  if (n_devices > kMaxTopologyDevices) {
    throw TopologyError(what + " of " + std::to_string(n_devices) + " devices: at most " +
                        std::to_string(kMaxTopologyDevices) +
                        " devices are modelled (the routing table holds a hop distance per "
                        "pair of devices)");
  }
  const uint64_t channels = channels_before_dedup(kind, n_devices, params);
  if (channels > kMaxTopologyChannels) {
    throw TopologyError(what + " of " + std::to_string(n_devices) + " devices has " +
                        std::to_string(channels) + " directed channels; at most " +
                        std::to_string(kMaxTopologyChannels) +
                        " are modelled (the routing table's limit)");
  }

  Topology t;
  t.requested_kind = kind;
  t.kind = kind;
  t.n_devices = n_devices;
  t.names = params.names;
  if (t.names.empty()) {
    for (uint32_t i = 0; i < n_devices; ++i) t.names.push_back("dev" + std::to_string(i));
  }
  t.ports = params.ports_per_device.empty() ? std::vector<uint32_t>(n_devices, params.default_ports)
                                            : params.ports_per_device;

  Wiring w = wire(kind, n_devices, params);

  // Ports check: one port per cable end.
  std::vector<uint32_t> used(n_devices + 1, 0);
  for (const auto& [a, b] : w.cables) {
    ++used[a];
    ++used[b];
  }
  for (uint32_t d = 0; d < n_devices; ++d) {
    if (used[d] <= t.ports[d]) continue;
    if (!params.allow_switch || kind == TopologyKind::switched) {
      throw TopologyError(what + " of " + std::to_string(n_devices) + " devices: device " +
                          device_label(t, d) + " needs " + std::to_string(used[d]) +
                          " QSFP28 ports but has " + std::to_string(t.ports[d]) +
                          (kind == TopologyKind::switched
                               ? ""
                               : " (set allow_switch to connect every device through a "
                                 "switch)"));
    }
    kind = TopologyKind::switched;
    t.kind = kind;
    w = wire(kind, n_devices, params);
    break;
  }

  if (kind == TopologyKind::switched) {
    if (n_devices > params.switch_ports) {
      throw TopologyError(what + ": the switch has " + std::to_string(params.switch_ports) +
                          " ports but " + std::to_string(n_devices) + " devices need one each");
    }
    t.has_switch = true;
    t.switch_latency_ns = params.switch_latency_ns;
    t.names.push_back("switch");
  }
  if (kind == TopologyKind::torus2d) {
    t.rows = params.rows;
    t.cols = params.cols;
  }
  fill(t, w);
  t.route_cache = std::make_shared<RouteCache>();
  return t;
}

uint32_t ports_used(const Topology& topo, uint32_t device) {
  if (device >= topo.n_devices) {
    throw TopologyError("ports_used: device " + std::to_string(device) + " does not exist (" +
                        std::to_string(topo.n_devices) + " devices)");
  }
  uint32_t n = 0;
  for (const auto& [a, b] : topo.cables) n += (a == device) + (b == device);
  return n;
}

std::vector<Hop> route(const Topology& topo, uint32_t src, uint32_t dst) {
  for (uint32_t d : {src, dst}) {
    if (d >= topo.n_devices) {
      throw TopologyError("route: device " + std::to_string(d) + " does not exist (" +
                          std::to_string(topo.n_devices) + " devices)");
    }
  }
  std::vector<Hop> hops;
  if (src == dst) return hops;
  const Distances dist(topo, dst);
  if (dist(src) == kUnreached) {
    throw TopologyError("route: no path from device " + device_label(topo, src) + " to device " +
                        device_label(topo, dst) + " in topology " + to_string(topo.kind));
  }
  hops.reserve(dist(src));
  uint32_t at = src;
  while (at != dst) {
    // out[at] is ascending, so the first neighbour one step closer is the lowest.
    const uint32_t d = dist(at);
    for (uint32_t next : topo.out[at]) {
      const uint32_t dn = dist(next);
      if (dn != kUnreached && dn + 1 == d) {
        hops.push_back({at, next});
        at = next;
        break;
      }
    }
  }
  return hops;
}

uint32_t hop_count(const Topology& topo, uint32_t src, uint32_t dst) {
  for (uint32_t d : {src, dst}) {
    if (d >= topo.n_devices) {
      throw TopologyError("hop_count: device " + std::to_string(d) + " does not exist (" +
                          std::to_string(topo.n_devices) + " devices)");
    }
  }
  if (src == dst) return 0;
  const uint32_t h = Distances(topo, dst)(src);
  if (h == kUnreached) return static_cast<uint32_t>(route(topo, src, dst).size());  // throws
  return h;
}

std::string route_to_string(const std::vector<Hop>& hops) {
  if (hops.empty()) return "(local)";
  std::string s = std::to_string(hops.front().from);
  for (const Hop& h : hops) s += "->" + std::to_string(h.to);
  return s;
}

}  // namespace masesim::interconnect
