// The typed description of one simulated system: the workload, the devices, the QSFP28
// topology and links, the mapping choices, the systolic engine and the simulation
// parameters, read once from a Config.
// Contract: load_system_spec reads every key that the mapper, the LLM planner and the
// system builder need, resolves names (devices of system.links and mapping.place) and
// paths, and derives the defaults that depend on other keys (an LLM pipeline over several
// devices partitions with balanced unless told otherwise). Nothing after it reads the
// Config or writes to it. Errors: InputError naming the config file and the key.
// build_topology is the one place the device graph is built (mapper and system alike).
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "interconnect/framing.hpp"
#include "interconnect/topology.hpp"
#include "models/op_cost.hpp"
#include "sim/config/config.hpp"
#include "sim/config/device_types.hpp"
#include "sim/mapping/engines.hpp"

namespace masesim {

struct LlmSpec {
  std::string phase;  ///< "" (not an LLM run), prefill, decode, generate
  std::int64_t prompt_len = 128;
  std::int64_t gen_tokens = 128;
  std::int64_t batch = 1;  ///< sequences in flight
  double turnaround_ns = 0;
  std::string kv_cache = "auto";         ///< auto | on_chip | off_chip
  std::string parallelism = "pipeline";  ///< pipeline | tensor | hybrid
  std::int64_t tensor_parallel = 0;      ///< devices per tensor group (0: all devices)
  std::string allreduce = "ring";
  std::string tp_sync = "all_reduce";  ///< all_reduce | all_gather (mapping.tp_sync)
  bool enabled() const { return !phase.empty(); }
  /// Token steps per sequence in the run (prefill counts as one).
  std::int64_t steps() const;
  /// Context length (tokens whose K/V the cache holds) of step k.
  std::int64_t context_of_step(std::int64_t k) const;
  std::int64_t max_context() const { return prompt_len + gen_tokens; }
};

/// workload.moe_routing: the routing of the moe_experts nodes matching `glob` (the graph's
/// routing attributes replaced): "balanced", "load" with `expert_load` (one weight per
/// expert), or "seeded" with `routing_seed` (models/ops/moe.hpp).
struct MoeRoutingRule {
  std::string glob;
  std::string routing;
  std::vector<std::int64_t> expert_load;
  std::int64_t routing_seed = 0;
};

struct WorkloadSpec {
  std::string graph_path;                    ///< absolute
  std::map<std::string, std::int64_t> dims;  ///< workload.dims.*
  std::int64_t inferences = 4;               ///< workload.inferences (LLM runs: from the plan)
  std::vector<MoeRoutingRule> moe_routing;   ///< in the order given; the first match wins
};

struct TopologySpec {
  interconnect::TopologyKind kind = interconnect::TopologyKind::chain;
  std::uint32_t rows = 0, cols = 0;  ///< torus2d
  bool allow_switch = false;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> cables;  ///< explicit: device indices
};

struct LinkSpec {
  interconnect::FramingConfig framing;
  interconnect::LinkTiming timing;
  std::uint64_t rx_buffer_bytes = 65536;
  bool cut_through = false;  ///< link.forwarding
  /// Goodput of one link direction with MTU-sized frames (the partitioner's link rate).
  double goodput_bytes_per_ps() const;
};

/// mapping.weights.
enum class WeightPolicy { Graph, OnChip, OffChip, Auto };

struct PlaceRule {
  std::string glob;  ///< node-name glob (mapping.place key)
  int device = 0;    ///< index into SystemSpec::devices
};

/// mapping.slr: nodes matching `glob` go to the SLR named `slr` of their device.
struct SlrRule {
  std::string glob;
  std::string slr;
};

/// mapping.lanes: elements per beat on the last dim, per port ("" = every data port).
struct LaneRule {
  std::string glob;
  std::map<std::string, std::int64_t> ports;
};

/// mapping.split: nodes matching `glob` become `ways` pieces (sim/mapping/split.hpp).
enum class SplitBy { Columns, Rows };
struct SplitRule {
  std::string glob;
  int ways = 2;
  SplitBy by = SplitBy::Columns;
};

/// mapping.replicate: the nodes matching `globs` (a pipeline stage) become `ways` replicas,
/// inferences round-robin over them (sim/mapping/replicate.hpp); replica j on
/// `devices[j]` (indices into SystemSpec::devices; empty: where mapping.place puts it).
struct ReplicateRule {
  std::string glob;                ///< as given (a list: its globs joined by ", ")
  std::vector<std::string> globs;  ///< the node-name globs; a node matching any is in the stage
  int ways = 2;
  std::vector<int> devices;
  std::vector<std::string> device_names;  ///< as given, for the replicas' hw.device
};

struct MappingSpec {
  std::string partition = "manual";  ///< manual | balanced | greedy (the effective choice)
  bool automatic = false;            ///< mapping.auto
  double utilisation_cap = 0.8;
  std::vector<PlaceRule> place;       ///< in the order given; the first match wins
  std::vector<SlrRule> slr;           ///< mapping.slr, in the order given; the first match wins
  std::vector<LaneRule> lanes;        ///< mapping.lanes, in the order given; the first match wins
  std::vector<std::string> systolic;  ///< node-name globs
  std::int64_t default_parallelism = 8;
  WeightPolicy weights = WeightPolicy::Graph;
  std::int64_t kv_port_bytes = 64;
  std::int64_t weight_block_rows = 64;
  bool oversubscribe = false;
  MulBinding binding = MulBinding::HlsDefault;                    ///< system.binding
  std::vector<std::pair<std::string, MulBinding>> binding_rules;  ///< mapping.binding
  /// mapping.kernel_unroll: {conv node-name glob: U}, the first match wins (NodeHw::kernel_unroll)
  std::vector<std::pair<std::string, std::int64_t>> kernel_unroll;
  double extrapolation_margin = 0.15;                             ///< mapping.extrapolation_margin
  /// mapping.layer_reuse (sim/mapping/layer_reuse.hpp): the layers' node-name pattern ("" none),
  /// layers of parameters held on chip, the parameter port's bytes per cycle.
  std::string reuse_layers;
  std::int64_t reuse_weight_buffers = 2;
  std::int64_t reuse_port_bytes = 64;
  std::vector<SplitRule> split;  ///< mapping.split, in the order given; the first match wins
  bool auto_split = true;        ///< mapping.auto_split (with mapping.auto)
  std::vector<ReplicateRule> replicate;  ///< mapping.replicate, in the order given
};

struct SystolicSpec {
  std::int64_t rows = 16, cols = 16;
  bool weight_stationary = false;
};

struct SimulationSpec {
  bool functional = false;
  bool truncate = false;  ///< simulation.rounding: truncate (else half_even)
  double check_tolerance = 0;
  std::string data_dir;  ///< workload.data resolved ("" = <graph>.data)
  std::size_t stream_depth = 2;
  std::int64_t fork_depth = 0;
  double max_sim_time_ms = 10000;
  bool burst = false;  ///< simulation.granularity: burst (else beat)
};

struct SystemSpec {
  std::string file;  ///< the configuration file (for messages)
  WorkloadSpec workload;
  LlmSpec llm;
  std::vector<DeviceInstance> devices;
  TopologySpec topology;
  LinkSpec link;
  MappingSpec mapping;
  std::vector<EngineSpec> engines;  ///< system.engines with their mapping.engines globs
  SystolicSpec systolic;
  SimulationSpec simulation;
};

/// Reads the whole description from `cfg` (see the file comment).
SystemSpec load_system_spec(const Config& cfg);

/// The device graph of `s` (needs at least two devices). InputError naming the config
/// file when the topology does not fit the devices (ports, torus shape, cables).
interconnect::Topology build_topology(const SystemSpec& s);

/// Index of device `name` in `s.devices`, or -1.
int device_index(const SystemSpec& s, const std::string& name);

}  // namespace masesim
