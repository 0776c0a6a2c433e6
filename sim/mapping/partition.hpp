// Automatic partitioning of a dataflow graph over a chain of FPGAs. Kernel-free and
// YAML-free: plain data in, plain data out (docs/partitioning.md has the model).
// Contract: nodes are in topological order and every edge goes forward (from < to);
// stage k (a contiguous range of nodes) goes on device k. Failure: SimulationError when
// a node fits no device or the nodes need more devices than given; std::invalid_argument
// for malformed input (edge indices, next_hops size).
#pragma once
#include <string>
#include <vector>

#include "models/op_cost.hpp"

namespace masesim {

/// Block RAM a node can bind to the other kind (models/hls_blocks.hpp array_storage): its
/// BRAM36 that could move and the URAM they would take, and the reverse.
struct StorageAlt {
  double bram36_movable = 0, bram36_as_uram = 0;
  double uram_movable = 0, uram_as_bram36 = 0;
};

struct PartNode {
  Resources res_on;            ///< resources with its weights on chip
  Resources res_off;           ///< weights streamed from off-chip memory (== res_on if no weights)
  StorageAlt alt_on, alt_off;  ///< their spill alternatives (a stage's BRAM and URAM fit
                               ///< when moving part of one kind to the other fits)
  double time_on_ps = 0;       ///< datapath time per inference, weights on chip
  double weight_bytes = 0;     ///< weight bytes read per inference when off chip (0 if none)
  bool has_weights = false;    ///< weights the partitioner may move off chip
  /// Weights that stay off chip (the configuration says so): res_off and weight_bytes
  /// apply, and the node shares its device's memory bandwidth like a spilled one.
  bool weights_fixed_off = false;
  std::string name;  ///< optional; only used in error messages
};

/// Bytes per inference from node `from` to node `to` (from < to).
struct PartEdge {
  int from = 0;
  int to = 0;
  double bytes = 0;
};

struct PartDevice {
  Resources capacity;
  double mem_bytes_per_ps = 0;  ///< off-chip memory bandwidth (0: no off-chip weights possible)
};

struct PartLinks {
  double bytes_per_ps = 0;  ///< goodput of one link direction
  /// next_hops[k]: hops from device k to device k + 1, the only pairs a stage boundary
  /// joins (empty: a chain; else one entry per device but the last).
  std::vector<int> next_hops;
};

struct PartResult {
  std::vector<int> device;         ///< per node
  std::vector<bool> weights_off;   ///< per node
  double bottleneck_ps = 0;        ///< time per inference of the slowest stage or link
  std::string bottleneck;          ///< "node X" or "link a->b"
  std::vector<std::string> notes;  ///< one line per stage, plus warnings
  /// partition_balanced with devices left idle: why more stages would not help ("" else).
  std::string idle_reason;
};

/// Minimises the bottleneck (max over stages of max(stage time, time of the link leaving
/// the stage)) by dynamic programming over (cut position, devices used). Uses the first m
/// devices for the smallest m that reaches the minimum. Every resource of a stage must
/// stay <= utilisation_cap × capacity.
PartResult partition_balanced(const std::vector<PartNode>& nodes,
                              const std::vector<PartEdge>& edges,
                              const std::vector<PartDevice>& devices, const PartLinks& links,
                              double utilisation_cap);

/// MASE's baseline: nodes in graph order fill a device while its LUTs stay <=
/// lut_fill × capacity (other resources <= utilisation_cap × capacity), then the next one.
PartResult partition_greedy(const std::vector<PartNode>& nodes, const std::vector<PartEdge>& edges,
                            const std::vector<PartDevice>& devices, const PartLinks& links,
                            double utilisation_cap, double lut_fill = 0.75);

/// Evaluates a given assignment (per node device index, non-decreasing along the node
/// order; devices may be skipped, traffic then passes through them). Weights are placed
/// as in the partitioners. Throws SimulationError if a device's stage does not fit.
PartResult partition_evaluate(const std::vector<PartNode>& nodes,
                              const std::vector<PartEdge>& edges,
                              const std::vector<PartDevice>& devices, const PartLinks& links,
                              double utilisation_cap, const std::vector<int>& device);

/// Time per inference of the stage [begin, end) on `dev`: max over its nodes of their time
/// (the off-chip nodes share the memory bandwidth equally); +infinity if it does not fit
/// under utilisation_cap × capacity even with weights spilled. `weights_off`, if given,
/// receives end-begin flags.
double stage_time_ps(const std::vector<PartNode>& nodes, int begin, int end, const PartDevice& dev,
                     double utilisation_cap, std::vector<bool>* weights_off = nullptr);

/// Bytes per inference crossing each cut: result[c] = sum of edge bytes with from < c <= to,
/// for c = 0..n (result[0] == result[n] == 0).
std::vector<double> cut_bytes(const std::vector<PartEdge>& edges, int n);

}  // namespace masesim
