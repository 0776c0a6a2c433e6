// LLM inference: prefill and autoregressive decode with a KV cache (docs/llm.md).
//
// The decoder graph is rewritten once (llm_graph): the K and V operands of every
// attention matmul go through a kv_cache node whose result is the whole context (dim
// `ctx`), the scores/softmax/probabilities take `ctx` as their last dim, and the LM head
// sees only the last token. One SystemC elaboration then serves every step: inference
// i = step·batch + sequence runs the variant of its step (prefill: seq = prompt_len;
// decode step k: seq = 1, ctx = prompt_len + k), and a sequence's next step is injected
// only when its previous token left the system (closed loop).
// Contract: plan_llm is kernel-free and deterministic; SystemC blocks take their
// per-variant costs from it (the same op_timing the mapper uses).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "models/op_cost.hpp"
#include "models/schedule.hpp"
#include "sim/config/config.hpp"
#include "sim/config/device_types.hpp"
#include "sim/mapping/mapping.hpp"
#include "sim/config/system_spec.hpp"
#include "workloads/graph.hpp"

namespace YAML {
class Node;
}

namespace masesim {

/// Reads workload.phase & co.; checks them (InputError naming the key).
LlmSpec llm_spec(const Config& cfg);

struct LlmGraphInfo {
  std::vector<std::string> kv_nodes;  ///< inserted kv_cache nodes
  std::string last_token_slice;       ///< inserted slice before the LM head ("" if none)
};

/// Rewrites a decoder graph tree for LLM inference (see the file comment). InputError
/// naming the file when it has no `seq` dim or no attention matmul.
YAML::Node llm_graph(const YAML::Node& root, const std::string& file, LlmGraphInfo* info = nullptr);

/// The graph of an LLM run: the tensor-parallel rewrite (mapping.parallelism tensor or
/// hybrid, placing every node on the devices), then llm_graph, with `seq`/`ctx` bound to
/// the step the mapping is chosen on (a decode step for decode/generate, the prompt for
/// prefill; other steps re-tile with the same parallelism). InputError naming the config
/// key or graph node.
Graph load_llm_graph(const SystemSpec& s);

/// Per-variant analytic costs of one sequence-step (bounds).
struct VariantCost {
  std::vector<double> macs;                    ///< per device
  std::vector<double> off_chip_bytes;          ///< per device: off-chip weights + KV reads/writes
  std::vector<std::int64_t> kv_on_chip_beats;  ///< per device
  std::int64_t slowest_mac_cycles = 0, slowest_other_cycles = 0;
  std::string slowest_mac_node, slowest_other_node;
  /// The block whose own weight streaming takes longest: tiles x (access latency + tile
  /// transfer), the next tile's fetch overlapping this tile's compute (two tile buffers).
  double slowest_fetch_ps = 0;
  std::string slowest_fetch_node;
  std::map<std::pair<int, int>, std::uint64_t> transfer_bytes;  ///< (from, to) device
};

struct LlmPlan {
  LlmSpec spec;
  std::int64_t inferences = 0;
  SchedulePtr schedule;
  std::vector<std::int64_t> depends_on;  ///< per inference: the one it waits for (-1: none)
  std::vector<std::int64_t> step_of, sequence_of;  ///< per inference
  std::vector<std::int64_t> variant_seq, variant_ctx;
  std::vector<std::vector<OpTiming>> node_timing;  ///< [node]: its distinct timings
  std::vector<std::vector<int>> node_timing_of;    ///< [node][variant] -> index in node_timing
  std::vector<std::vector<std::int64_t>> node_out_beats;              ///< [node][variant]
  std::vector<std::vector<std::vector<std::int64_t>>> node_in_beats;  ///< [node][port][variant]
  std::vector<std::vector<std::int64_t>> input_beats;                 ///< [input][variant]
  std::vector<VariantCost> cost;                                      ///< [variant]
  std::vector<std::int64_t> kv_bytes;          ///< per device: cache capacity
  std::vector<std::int64_t> kv_bytes_on_chip;  ///< per device
  std::vector<double> mac_lanes;               ///< per device: peak MACs per cycle
  std::int64_t kv_bytes_per_sequence = 0;      ///< at the longest context, all layers
};

/// Places the KV caches (mapping.kv_cache) — updating `m`'s kv nodes, resources and
/// overflows — and derives every variant's tilings and costs from `m`'s tilings
/// (padded to each variant's shapes).
LlmPlan plan_llm(const Graph& g, const SystemSpec& s, Mapping& m);

}  // namespace masesim
