// Automatic choice of every node's parallelism (mapping.auto: true).
// Contract: grows the tile of the slowest node (its datapath cycles per inference) one
// divisor step at a time — for GEMMs and convolutions the input or output lanes, whichever
// helps more — while the summed LUT/FF/DSP (and non-weight BRAM/URAM) of all nodes stays
// within utilisation_cap × the devices' total; stops when the slowest node cannot grow.
// The balanced partitioner then places the nodes; if it cannot, the last steps are undone
// (binary search) until it can. With `fixed_devices` (every node already placed, e.g. a
// tensor-parallel graph) the budget is each node's own device and nothing is re-placed.
// Kernel-free.
#pragma once
#include <string>
#include <vector>

#include "sim/mapping/mapping.hpp"
#include "sim/config/system_spec.hpp"

namespace masesim {

struct AutoMapReport {
  int steps = 0;            ///< tile growth steps kept
  int steps_undone = 0;     ///< undone so that the partition fits
  std::string stop_reason;  ///< why growth stopped
};

/// Sets the tiles of every node in `m` (nodes already hold their default mapping).
/// Weights fixed off chip (NodeMap::weights_fixed_off) stay off chip.
AutoMapReport auto_parallelism(const Graph& g, const SystemSpec& sys, Mapping& m,
                               bool fixed_devices = false);

struct AutoSplitReport {
  std::vector<SplitRule> rules;    ///< the splits chosen (empty: none helps)
  std::vector<ReplicateRule> replicas;  ///< the stages replicated (after the splits)
  std::string bound;               ///< what bounds the throughput, in words
  std::vector<std::string> steps;  ///< one line per split tried
};

/// mapping.auto with mapping.auto_split and more than one device (no mapping.split given):
/// while the partitioner's bottleneck is a node that splits (linear, matmul, bmm, conv2d,
/// or a piece of one), split that node more ways — by columns when its output columns
/// allow (the weights divide too), else by rows — map again (tiles and partition), and
/// keep the split if the partitioner's time per inference fell. Stops at the first
/// bottleneck that is a link, a node that does not split (or cannot split further: the
/// ways must divide the dimension and stay <= 64 and <= the devices), or a split that does
/// not help; `bound` names it. Kernel-free; every candidate is a full map_graph.
AutoSplitReport auto_splits(const SystemSpec& s);

/// Smallest divisor of `dim` that is >= 2·p, else the smallest one > p; 0 if none.
std::int64_t next_divisor(std::int64_t dim, std::int64_t p);

}  // namespace masesim
