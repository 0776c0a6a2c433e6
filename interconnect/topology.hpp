// Device graphs of QSFP28 links and deterministic shortest-path routing (kernel-free).
//
// Contract: a Topology built by make_topology() has devices 0..n_devices-1 and, when
// a switch is modelled, one extra node (index n_devices) that is the switch. Every
// physical link is a full-duplex cable using one port at each end; each direction
// is a separate channel LinkId{from, to}. A unidirectional ring has channels in one
// direction only (its cables still occupy two ports per device). route() returns
// the same hop list for the same topology every time; its distances come in closed form
// for the regular kinds and from one breadth-first search per destination (cached) for
// explicit links, so a Topology's channel lists must not change after make_topology().
// At most kMaxTopologyDevices devices and kMaxTopologyChannels channels are modelled.
// Errors raise TopologyError (a std::runtime_error) naming the topology, device, and
// what was expected. Rules and defaults: docs/interconnect.md.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace masesim::interconnect {

class TopologyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class TopologyKind {
  chain,            ///< 0 - 1 - ... - n-1
  ring_uni,         ///< 0 -> 1 -> ... -> n-1 -> 0, one direction only
  ring_bi,          ///< ring, both directions
  torus2d,          ///< rows x cols, wrap-around in both dimensions; index = r * cols + c
  fully_connected,  ///< a cable between every pair
  explicit_links,   ///< the (a, b) cables listed in TopologyParams::links
  switched,         ///< every device has one cable to a central switch
};

/// "chain", "ring" (= ring_bi), "ring_bi", "ring_uni", "torus2d", "fully_connected",
/// "explicit", "switch"; throws TopologyError otherwise.
TopologyKind parse_topology_kind(const std::string& name);
const char* to_string(TopologyKind kind);

/// Largest topology modelled: a routing table holds a distance per (node, destination)
/// pair, 4 bytes each, i.e. at most 256 MiB.
inline constexpr uint32_t kMaxTopologyDevices = 8192;
/// Largest number of directed channels (a fully connected topology of 4,097 devices).
inline constexpr uint64_t kMaxTopologyChannels = uint64_t{1} << 24;

/// QSFP28 cages on an Alveo U250 or U280.
inline constexpr uint32_t kAlveoQsfp28Ports = 2;

struct TopologyParams {
  uint32_t rows = 0;  ///< torus2d: rows * cols must equal n_devices
  uint32_t cols = 0;
  std::vector<std::pair<uint32_t, uint32_t>> links;  ///< explicit_links: cables (a, b)
  /// QSFP28 ports per device; empty means `default_ports` for every device.
  std::vector<uint32_t> ports_per_device;
  uint32_t default_ports = kAlveoQsfp28Ports;
  /// Device names (for messages and reports); empty means "dev<i>".
  std::vector<std::string> names;
  /// If a device lacks ports for the topology, connect every device to one
  /// switch instead of failing.
  bool allow_switch = false;
  /// Port-to-port latency of the switch, added once per pass through it.
  /// Estimate for a cut-through 100GbE data-centre switch (docs/interconnect.md).
  double switch_latency_ns = 450.0;
  uint32_t switch_ports = 32;  ///< a 32 x QSFP28 top-of-rack switch
};

/// One directed channel of a full-duplex link.
struct LinkId {
  uint32_t from = 0;
  uint32_t to = 0;

  bool operator==(const LinkId& o) const { return from == o.from && to == o.to; }
  bool operator!=(const LinkId& o) const { return !(*this == o); }
  bool operator<(const LinkId& o) const { return from != o.from ? from < o.from : to < o.to; }
};
using Hop = LinkId;

struct RouteCache;

struct Topology {
  TopologyKind requested_kind = TopologyKind::chain;  ///< what was asked for
  TopologyKind kind = TopologyKind::chain;            ///< what was built (switched if substituted)
  uint32_t n_devices = 0;
  bool has_switch = false;
  double switch_latency_ns = 0.0;
  std::vector<std::string> names;                     ///< one per node (devices, then "switch")
  std::vector<uint32_t> ports;                        ///< available ports, one per device
  std::vector<std::vector<uint32_t>> out;             ///< per node: channel targets, ascending
  std::vector<std::pair<uint32_t, uint32_t>> cables;  ///< (a < b), ascending
  uint32_t rows = 0;  ///< torus2d: the grid (index = r * cols + c); 0 otherwise
  uint32_t cols = 0;
  /// Distances route() computed by search (explicit links); shared by copies.
  std::shared_ptr<RouteCache> route_cache;

  uint32_t n_nodes() const { return static_cast<uint32_t>(out.size()); }
  uint32_t switch_node() const;  ///< throws if there is no switch
  bool is_switch(uint32_t node) const { return has_switch && node == n_devices; }
  bool has_channel(uint32_t from, uint32_t to) const;
  std::vector<LinkId> channels() const;  ///< every directed channel, ascending
  const std::string& name(uint32_t node) const;
};

/// Builds the device graph; throws TopologyError if parameters are inconsistent or a
/// device needs more ports than it has (and allow_switch is false).
Topology make_topology(TopologyKind kind, uint32_t n_devices, const TopologyParams& params = {});

/// Ports (cables) in use at `device`.
uint32_t ports_used(const Topology& topo, uint32_t device);

/// Shortest route in hops from device `src` to device `dst`; among equal-length
/// routes, each step takes the lowest-indexed next node. Empty if src == dst.
/// Throws TopologyError if dst is unreachable or an index is out of range.
std::vector<Hop> route(const Topology& topo, uint32_t src, uint32_t dst);

/// Length of route(topo, src, dst).
uint32_t hop_count(const Topology& topo, uint32_t src, uint32_t dst);

/// Readable form "0->1->4" (node indices) for messages and reports.
std::string route_to_string(const std::vector<Hop>& hops);

}  // namespace masesim::interconnect
