// Layer reuse (mapping.layer_reuse): the layers of a repeated block — the nodes whose names
// match a pattern with {i} for the layer index — run one after another on ONE set of
// hardware (the spatial blocks of one layer, with their FIFOs), as FPGA LLM accelerators
// that reuse a few regions for every layer do (../shared/designs/README.md section 3).
//
// Structure (docs/published-designs.md "Layer reuse"):
// - every tensor that enters a layer, or leaves the last one, passes through a `layer_io`
//   node, inserted here; these run on the region's memory port (the engine named
//   kLayerIoEngine), so the tensor is written to the device memory and read back: a
//   layer's input is read from off-chip memory and its output written back;
// - the layers' blocks are simulated per layer (the graph keeps every layer's nodes), but
//   the hardware is layer 0's: the other layers' blocks have no resources of their own, and
//   the region runs (inference, layer) pairs in order — layer l of an inference starts
//   reading its input only when layer l-1 has written its output (the region is free);
// - parameters: the region's buffers hold `weight_buffers` layers; layer l's are fetched
//   from off-chip memory into its buffer once the layer that last used that buffer has
//   finished (2 buffers: while the previous layer computes), and layer l starts only when
//   they are in (sim/system/system.cpp: the region's prefetch block);
// - KV caches stay per layer (their storage is not shared: mapping.kv_cache places them).
// Kernel-free.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "workloads/graph.hpp"

namespace masesim {

struct SystemSpec;

/// The engine that runs the layer_io nodes (the region's off-chip port).
constexpr const char* kLayerIoEngine = "layer_io";

struct LayerReusePlan {
  int layers = 0;
  std::int64_t weight_buffers = 2;
  std::vector<int> layer_of;  ///< per node: its layer, -1 outside the region (layer_io: -1)
  /// per node: a layer_io node's next layer (`layers`: the nodes after the region), else -1
  std::vector<int> io_into;
  /// per node: the layer whose output a layer_io node carries (-1: from before the region)
  std::vector<int> io_from;
  bool enabled() const { return layers > 0; }
  /// Layers of parameters on chip: min(weight_buffers, layers).
  std::int64_t resident_layers() const;
};

/// Node `name`'s layer under `pattern` ({i} = a decimal index; the text before it literal,
/// the text after it a glob), -1 if it does not match.
int layer_index(const std::string& pattern, const std::string& name);

/// With mapping.layer_reuse.layers: checks that at least one layer matches, that the layers
/// are numbered 0..L-1 and identical (same nodes by name suffix, ops, attributes, shapes,
/// precisions, parameters) and that a layer reads only its own nodes, the previous layer
/// and tensors from before the region; then inserts a layer_io node for every tensor that
/// enters a layer or leaves the last one. Without the key: `g` unchanged. InputError naming
/// the configuration file, the key, the layer and the node.
Graph insert_layer_io(const Graph& g, const SystemSpec& s);

/// The plan of a graph that insert_layer_io has rewritten (not enabled without the key).
LayerReusePlan layer_reuse_plan(const Graph& g, const SystemSpec& s);

}  // namespace masesim
