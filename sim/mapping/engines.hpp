// Shared engines in a system: their declarations (system.engines), which graph nodes run
// on them (mapping.engines, by glob) and in which order (mapping.engine_order, else the
// graph's topological order), and each node's lowering and tiling on its engine.
// Contract: assign_engines either returns a plan in which every assigned node can run on
// its engine (the op lowers onto a unit the engine has, its smallest tile fits the
// buffers, the order respects every dependency between nodes of one engine) or throws
// InputError naming the config file, the engine and the node. Kernel-free.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "models/device.hpp"
#include "models/engine_cost.hpp"
#include "models/op_cost.hpp"
#include "sim/config/config.hpp"
#include "workloads/graph.hpp"

namespace masesim {

struct SystemSpec;
struct DeviceInstance;

struct EngineSpec {
  std::string name;
  int device = 0;  ///< index into SystemSpec::devices
  /// The device whose memory holds the engine's tensors: its own (-1), or a host's, reached
  /// over the card's PCIe link (system.engines[].memory).
  int memory_device = -1;
  int slr = -1;             ///< index into the device type's SLRs (system.engines[].slr), -1 none
  engine::CoreConfig core;  ///< core.cpu: the CPU of host device `device` (named after it)
  std::vector<std::string> globs;  ///< mapping.engines.<name>, in the order given
  std::vector<std::string> order;  ///< mapping.engine_order.<name> (empty: topological)
};

/// Reads system.engines, mapping.engines and mapping.engine_order (devices by name from
/// `devices`), and adds one CPU engine per host device, named after the device, after the
/// declared engines. InputError naming the file and key.
std::vector<EngineSpec> load_engine_specs(const Config& cfg,
                                          const std::vector<DeviceInstance>& devices);

/// One node's work on its engine.
struct EngineTask {
  int node = -1;  ///< graph node index
  engine::Lowering low;
  engine::TilePlan plan;       ///< Gemm
  std::int64_t chunk = 0;      ///< Vector: output elements per ALU pass
  std::vector<int> fused;      ///< Gemm: vector nodes run on its accumulator tiles
  std::int64_t fused_ops = 0;  ///< their ALU ops per output element
  int fused_into = -1;         ///< a fused vector node: its GEMM's task index
  std::int64_t macs = 0;       ///< per inference
  time_ps cpu_ps = 0;          ///< on a host CPU: the node's time (engine::cpu_node_ps)
};

struct EnginePlan {
  std::vector<EngineTask> tasks;  ///< in execution order
};

struct EngineAssignment {
  std::vector<int> engine_of;     ///< per graph node: engine index or -1 (a spatial block)
  std::vector<EnginePlan> plans;  ///< per engine
  bool any() const { return !plans.empty(); }
};

/// Assigns, orders and lowers (see the file comment). A node that no glob assigns runs
/// on `default_engine[i]` when that is >= 0 (the CPU of the host it is placed on).
EngineAssignment assign_engines(const Graph& g, const std::vector<EngineSpec>& engines,
                                const std::string& file,
                                const std::vector<int>& default_engine = {});

/// Task `t` of `es` at the shapes of `gv` (the graph at an LLM step's dims, nodes indexed
/// as in the plan): lowering, tiles or chunk, MACs, CPU time; its fused nodes as planned.
/// InputError starting with `what` and naming node and engine when a tile cannot fit.
EngineTask engine_task_at(const Graph& gv, const EngineTask& t, const EngineSpec& es,
                          const std::string& what);

/// The engine's own resources: the GEMM array (as a MAC datapath of rows × cols), the
/// ALU lanes, the three buffers and the load/store ports (models/resource_model.hpp).
Resources engine_resources(const EngineSpec& e, const DeviceType& type);

}  // namespace masesim
