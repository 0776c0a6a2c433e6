// Node constructors shared by the graph rewrites on mase-graph trees (the tensor-parallel
// LLM rewrite and mapping.split). Contract: pure functions on yaml-cpp nodes.
#pragma once
#include <yaml-cpp/yaml.h>

#include <map>
#include <string>
#include <vector>

#include "sim/config/system_spec.hpp"
#include "workloads/graph.hpp"

namespace masesim::rewrite {

/// A node `{name, op, args: {data_in_k: args[k]}, attrs, results: {data_out_0: {shape,
/// precision}}, hw: {device}}`; no `attrs` unless `attrs` is a map, `hw` empty when `device`
/// is empty. `shape` is used as is, `precision` is cloned.
YAML::Node make_node(const std::string& name, const std::string& op,
                     const std::vector<std::string>& args, const YAML::Node& attrs,
                     const YAML::Node& shape, const YAML::Node& precision,
                     const std::string& device);

/// workload.moe_routing: the routing attributes (routing, expert_load, routing_seed) of every
/// moe_experts node of `tree` whose name matches a rule (the first) replaced by the rule's;
/// returns the names of the nodes changed. InputError `what` + the glob for a rule that
/// matches no moe_experts node.
std::vector<std::string> set_moe_routing(YAML::Node tree, const std::vector<MoeRoutingRule>& rules,
                                         const std::string& what);

/// The workload's graph file as a tree, with workload.moe_routing applied.
YAML::Node workload_tree(const SystemSpec& s);

/// load_graph_yaml of a tree from workload_tree: an InputError about a routing attribute
/// (expert_load, routing) says that workload.moe_routing set it, when it did.
Graph load_workload_yaml(const YAML::Node& tree, const SystemSpec& s,
                         const std::map<std::string, std::int64_t>& dims);

/// Sets entry k of a shape list to `value` (as text: yaml-cpp encodes an integer through
/// a temporary node, several times slower than setting the text).
void set_dim(YAML::Node seq, std::size_t k, std::int64_t value);

}  // namespace masesim::rewrite
