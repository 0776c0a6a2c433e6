// Places nodes on devices and resolves every node's hardware parameters (tiling of each
// port, weight placement), its cost model and its resources. Kernel-free.
// Contract: on success every node has a device, tilings that divide its tensors, an
// OpTiming and Resources; each device's ledger fits its capacity (or, with
// mapping.oversubscribe, the overflow is recorded). Failure: InputError (bad hw
// metadata) or SimulationError naming the device and resource that does not fit.
#pragma once
#include <string>
#include <vector>

#include "models/hls_blocks.hpp"
#include "models/op_cost.hpp"
#include "sim/config/device_types.hpp"
#include "sim/config/system_spec.hpp"
#include "sim/mapping/engines.hpp"
#include "workloads/graph.hpp"

namespace masesim {

struct NodeMap {
  int device = 0;
  bool device_given = false;  ///< from hw.device or mapping.place
  /// Weights off chip because the configuration says so (hw.weights or mapping.weights:
  /// off_chip); no partitioner, mapping.auto or mapping.weights: auto moves them.
  bool weights_fixed_off = false;
  bool binding_given = false;  ///< hw.binding from mapping.binding (mapping.auto keeps it)
  bool kernel_unroll_given = false;  ///< from mapping.kernel_unroll (mapping.auto keeps it)
  NodeHw hw;
  OpTiming timing;
  /// The block models' estimate with its preferred storage binding (set_estimate).
  ResourceEstimate estimate;
  /// What the node uses: `estimate`, with its arrays moved to the other RAM kind when
  /// its device ran out of one (`storage_spill`).
  Resources resources;
  std::string storage_spill;  ///< "" | "uram_to_bram" | "bram_to_uram"
  int slr = -1;  ///< index into its device type's SLRs (mapping.slr or its engine's), -1 none
  /// Its layer in a layer-reuse region (sim/mapping/layer_reuse.hpp), -1 none: the weights stay on
  /// chip (fetched per layer by the region), and only layer 0's blocks are hardware.
  int reuse_layer = -1;
  /// Its hw.replica (sim/mapping/replicate.hpp): the node runs the inferences i with
  /// i % replica_ways == replica_index (1, 0: every inference).
  int replica_ways = 1;
  int replica_index = 0;
};

/// Sets a node's estimate and resources (no spill).
void set_estimate(NodeMap& nm, const ResourceEstimate& e);
/// What an estimate counts for in the fit check: × (1 + margin) when extrapolated.
Resources fit_resources(const Resources& r, bool extrapolated, double margin);

/// Off-chip memory bytes a device's mapping holds (docs/stats.md devices.*.memory).
struct OffChipUse {
  double weight_bytes = 0;      ///< weights streamed from off chip (and shared engines')
  double kv_cache_bytes = 0;    ///< KV caches off chip (LLM mode)
  double activation_bytes = 0;  ///< tensors shared engines write back and read again
  double total() const { return weight_bytes + kv_cache_bytes + activation_bytes; }
};

/// The SLRs of one device after mapping: what the placed nodes and engines use in each, and
/// the streams between them.
struct SlrLedger {
  std::vector<Resources> used;              ///< per SLR
  std::vector<std::int64_t> boundary_bits;  ///< per boundary i|i+1: stream bits per cycle
  std::int64_t crossings = 0;               ///< streams between nodes in different SLRs
  std::int64_t unplaced_nodes = 0;          ///< nodes of the device with no SLR
};

struct Mapping {
  std::vector<NodeMap> nodes;          ///< indexed like graph.nodes
  std::vector<PortTiling> inputs;      ///< graph inputs' tilings
  std::vector<Resources> used;         ///< per device
  std::vector<std::string> overflows;  ///< "device 'x': bram36 used 3000 > 2688"
  std::string partition = "manual";
  double estimated_bottleneck_ps = 0;  ///< partitioner's analytic time per inference (0: manual)
  std::string estimated_bottleneck;    ///< "node X" / "link a->b"
  std::vector<std::string> notes;
  std::string idle_reason;          ///< the balanced partitioner's, when it leaves devices idle
  std::vector<std::string> splits;  ///< "node: K ways by columns|rows" (mapping.split / auto)
  /// "GLOB: K replicas (N nodes, collected at a, b)" (mapping.replicate)
  std::vector<std::string> replicas;
  std::string scale_bound;  ///< mapping.auto's split search: what stopped it
  bool automatic = false;   ///< mapping.auto chose the tilings
  int auto_steps = 0;
  std::string auto_stop;
  /// Shared engines: which nodes run on which engine, in which order, with which tiles.
  /// A node on an engine has no block resources of its own; each engine's are in `used`.
  EngineAssignment engines;
  std::vector<Resources> engine_resources;  ///< per engine (SystemSpec::engines)
  std::vector<OffChipUse> offchip;          ///< per device (check_fit)
  std::vector<std::string> binding_notes;   ///< mapping.auto's binding choices
  std::vector<SlrLedger> slrs;              ///< per device
};

/// Recomputes `m.used` (engines + node resources per device).
void refresh_usage(const SystemSpec& s, Mapping& m);
/// The per-device usage the fit check compares with capacity: every node's resources,
/// extrapolated ones × (1 + mapping.extrapolation_margin), plus the engines'.
std::vector<Resources> fit_usage(const SystemSpec& s, const Mapping& m);
/// The same for one device (linear in nodes, not in nodes x devices).
Resources fit_usage(const SystemSpec& s, const Mapping& m, int device);
/// Binds each device's arrays to its RAM kinds: every node's preferred binding
/// (array_storage), then, while one kind is over capacity, whole nodes' arrays move to
/// the other kind where it has room (largest first), as a designer would with
/// bind_storage. Updates resources, storage_spill and m.used.
void spill_storage(const SystemSpec& s, Mapping& m, int device);
/// mapping.weights: auto on one device: while its BRAM or URAM (fit usage) is over
/// capacity, the largest weight still on chip that can stream moves off chip.
void move_weights_off_chip(const Graph& g, const SystemSpec& s, Mapping& m, int device);
/// The whole fit check: on-chip resources (fit_usage), each SLR's (m.slrs, placed again
/// from the current resources) and off-chip memory bytes per device (m.offchip). Records every
/// overflow in m.overflows; unless mapping.oversubscribe, throws SimulationError naming device,
/// resource or memory, the amount needed and available, prefixed by `what` and followed by `hint`.
void check_fit(const Graph& g, const SystemSpec& s, Mapping& m, const std::string& what,
               const std::string& hint);

/// Cycles a stream between SLR `a` and SLR `b` of a device of type `t` adds: one registered
/// crossing (slr_crossing.latency_cycles) per boundary between them (0 for a == b or either
/// unplaced).
std::int64_t slr_crossing_cycles(const DeviceType& t, int a, int b);

/// Maps `g` onto `s.devices` with `s.mapping`. InputError when the configuration
/// contradicts itself (hw.weights: off_chip under mapping.weights: on_chip; mapping.auto
/// with only some nodes placed).
Mapping map_graph(const Graph& g, const SystemSpec& s);

/// "device 'x' (u250): uram needs 3000 but has 1280" for every resource of every device
/// that `used` exceeds.
std::vector<std::string> resource_overflows(const std::vector<DeviceInstance>& devices,
                                            const std::vector<Resources>& used,
                                            const std::string& note = "");

/// True when the balanced partitioner can place `m`'s nodes (tilings as they are).
bool partition_fits(const Graph& g, const SystemSpec& s, const Mapping& m);

/// The tiling a port gets when the graph gives none: [1, d] on the last dim with d the
/// largest divisor <= cap.
std::vector<std::int64_t> default_tile(const Shape& s, std::int64_t cap);
/// The tiling of an activation streamed channel-parallel when the graph gives none:
/// channel_tile with the largest divisor of the channels (dim 1) <= cap.
std::vector<std::int64_t> default_channel_tile(const Shape& s, std::int64_t cap);

/// Elements per beat of a KV-cache read port (mapping.kv_port_bytes at the tensor's
/// precision, at least mapping.default_parallelism).
std::int64_t kv_port_lanes(const MappingSpec& ms, const Tensor& t);

}  // namespace masesim
