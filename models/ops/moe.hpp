// Mixture-of-experts routing (models/ops/moe.cpp): how many token slots each expert of a
// moe_experts node receives. The timing depends on it; the values (functional mode) follow
// the data's own gates.
#pragma once
#include <cstdint>
#include <vector>

#include "workloads/graph.hpp"

namespace masesim::ops {

/// Token slots per expert for `tokens` tokens routed to top_k of num_experts experts each
/// (the counts sum to tokens × top_k, none above tokens). attrs.routing picks the rule:
///  * "balanced" (default): tokens·k spread evenly, the remainder to the lowest experts;
///  * "load": attrs.expert_load (one non-negative integer weight per expert) apportioned
///    by largest remainder (ties to the lower expert); an expert above `tokens` is an error;
///  * "seeded": every token draws top_k distinct experts uniformly from a SplitMix64
///    stream seeded with attrs.routing_seed (default 0): the same counts on every run.
/// Throws InputError (message tail) on a bad attribute.
std::vector<std::int64_t> moe_expert_tokens(const Node& n, std::int64_t num_experts,
                                            std::int64_t top_k, std::int64_t tokens);

/// Cycles of the busiest of `parallel` expert datapaths (expert e on datapath e mod
/// parallel), each token slot costing `cycles_per_token`.
std::int64_t moe_busy_cycles(const std::vector<std::int64_t>& expert_tokens, std::int64_t parallel,
                             std::int64_t cycles_per_token);

}  // namespace masesim::ops
