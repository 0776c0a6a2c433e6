// Stage replication (mapping.replicate): data parallelism for graphs run as inferences.
// The nodes a rule matches (a contiguous pipeline stage) become `ways` replicas; inference
// i runs on replica i mod ways. Where the stage is entered, the producer's stream is
// dispatched round-robin (the fork sends inference i only to the legs of replica i mod
// ways); where it is left, a `collect` node reads inference i from replica i mod ways, so
// the outputs leave in inference order and everything downstream is unchanged. Every edge
// into, inside and out of the replicas is an ordinary graph edge, so crossing devices is
// real frames on the links (docs/partitioning.md).
// Contract: `replicate_graph` is a pure function of the tree and its loaded graph (the
// input tree is not modified). Names: replica j of node `n` is `n@r<j>`; the collect of a
// stage output takes that output's name (its consumers and the graph's outputs keep
// theirs). Placement: replica j on the rule's devices[j] (hw.device), the collect where
// the original node was (hw.device, mapping.place). Failure: InputError naming the
// configuration key and the node (a glob matching nothing or a node matched twice, a
// stage that is not contiguous, functional mode).
#pragma once
#include <yaml-cpp/yaml.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "sim/config/system_spec.hpp"
#include "workloads/graph.hpp"

namespace masesim {

struct Mapping;

struct ReplicaGroup {
  std::string glob;
  int ways = 2;
  std::vector<std::string> members;  ///< the original nodes, in graph order
  std::vector<std::string> exits;    ///< members whose output leaves the stage (collects)
};

struct ReplicateReport {
  std::vector<ReplicaGroup> groups;
  /// Replica node name -> (ways, index): the node runs inferences i with i % ways == index.
  std::map<std::string, std::pair<int, int>> phase;
};

/// Name of replica j of `node`.
std::string replica_name(const std::string& node, int j);

/// The tree with every rule applied (rule k's key named `what[k]`). Appends to `report`.
YAML::Node replicate_graph(const YAML::Node& root, const Graph& g,
                           const std::vector<ReplicateRule>& rules, const std::string& what,
                           ReplicateReport* report);

/// Inferences of a replica (ways, index) out of `total`: those i < total with
/// i % ways == index.
std::int64_t replica_inferences(std::int64_t total, int ways, int index);

/// After mapping: sets every replica's NodeMap::replica_ways/index; InputError naming the
/// replica when mapping.place moved it off the device its rule gives, and for a collect
/// node the rewrite did not make (a graph that uses the op itself).
void apply_replicas(const Graph& g, const SystemSpec& s, const ReplicateReport& rep, Mapping& m);

}  // namespace masesim
