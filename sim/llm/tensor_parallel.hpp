// Tensor-parallel (Megatron / DFX style) rewrite of a mase-graph tree, optionally inside
// pipeline stages. A pure function on the parsed YAML/JSON tree: no SystemC, no config.
// Contract: the result is a new tree (the input is not modified) that load_graph_yaml()
// accepts, in which every node has hw.device set, dims stay symbolic, and every exchange
// of data between devices is an ordinary graph edge (so the simulator turns it into link
// traffic). Failure: InputError naming the file and the node.
#pragma once
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>
#include <vector>

namespace masesim {

struct TensorParallelSpec {
  int tp = 1;                        ///< devices per tensor-parallel group (>= 1)
  int stages = 1;                    ///< pipeline stages (tensor groups inside pipeline stages)
  std::vector<std::string> devices;  ///< size tp*stages; stage s, rank r = devices[s*tp + r]
  std::string algorithm = "ring";    ///< all-reduce algorithm: "ring" | "direct"
  /// DFX's synchronisation (mapping.tp_sync: all_gather): a row-parallel linear's input is
  /// all-gathered, the linear keeps out/t rows of its weight and bias like a column-parallel
  /// one, and its output is all-gathered (two syncs where Megatron all-reduces once).
  bool gather_rows = false;
};

struct AllReduceInfo {
  std::string name;                          ///< the partial-sum node (row-parallel linear) reduced
  std::vector<std::string> devices;          ///< the group's devices, rank order
  std::int64_t tensor_bytes_expr_elems = 0;  ///< elements per inference at the graph's dims
  int stage = 0;                             ///< pipeline stage of the group
  int layer = 0;                             ///< transformer layer (0-based, in graph order)
};

struct TensorParallelReport {
  int layers = 0;                ///< transformer layers found
  std::vector<int> layer_stage;  ///< per layer: its pipeline stage
  std::vector<AllReduceInfo> all_reduces;
  std::vector<std::string> notes;  ///< approximations and choices, one line each
};

/// Rewrites a mase-graph tree into its tensor-parallel form (docs in tensor_parallel.cpp).
/// Structure is detected from the graph, not from names: a linear consuming a layer_norm
/// output is column-parallel; the region it feeds is sharded up to the linear(s) whose output
/// goes (through dropout/contiguous) into a residual add: those are row-parallel and their
/// partial sums are all-reduced over the group. A column-parallel linear whose output is a
/// graph output is the LM head (vocab-parallel, gathered by a `cat` on rank 0 of the last
/// stage). Everything else is replicated on every rank of its stage.
///
/// Names: `<original>@r<g>` for every shard/replica; all-reduce nodes
/// `<row linear>.allreduce.{slice<c>,rs<k>,ag<k>,cat}@r<g>`; the logits gather
/// `<lm head>.cat@r0`; with stages > 1, `<producer>.to_stage<s>@r<g>` (a `contiguous` on the
/// consuming device, so each rank receives one point-to-point flow per producer).
/// Parameters tied with `shared_with` stay tied when both sides keep their shape (t = 1);
/// the LM head's vocab shards are untied (the loader ties only equal shapes: report.notes).
/// Throws InputError naming the file and node when the graph has no recognisable
/// transformer-layer pattern or a dimension (heads, FFN width, vocab) is not divisible by tp.
YAML::Node tensor_parallel_graph(const YAML::Node& root, const std::string& file,
                                 const TensorParallelSpec& spec,
                                 TensorParallelReport* report = nullptr);

}  // namespace masesim
