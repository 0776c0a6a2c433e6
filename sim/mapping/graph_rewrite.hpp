// Node constructors shared by the graph rewrites on mase-graph trees (the tensor-parallel
// LLM rewrite and mapping.split). Contract: pure functions on yaml-cpp nodes.
#pragma once
#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

namespace masesim::rewrite {

/// A node `{name, op, args: {data_in_k: args[k]}, attrs, results: {data_out_0: {shape,
/// precision}}, hw: {device}}`; no `attrs` unless `attrs` is a map, `hw` empty when `device`
/// is empty. `shape` is used as is, `precision` is cloned.
YAML::Node make_node(const std::string& name, const std::string& op,
                     const std::vector<std::string>& args, const YAML::Node& attrs,
                     const YAML::Node& shape, const YAML::Node& precision,
                     const std::string& device);

/// Sets entry k of a shape list to `value` (as text: yaml-cpp encodes an integer through
/// a temporary node, several times slower than setting the text).
void set_dim(YAML::Node seq, std::size_t k, std::int64_t value);

}  // namespace masesim::rewrite
