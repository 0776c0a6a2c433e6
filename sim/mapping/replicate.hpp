// Stage replication (mapping.replicate): data parallelism for graphs run as inferences.
// The nodes a rule matches (a contiguous pipeline stage) become `ways` replicas; inference
// i runs on replica i mod ways. Where the stage is entered, the producer's stream is
// dispatched round-robin (the fork sends inference i only to the legs of replica i mod
// ways); where it is left, a `collect` node reads inference i from replica i mod ways, so
// the outputs leave in inference order and everything downstream is unchanged. Every edge
// into, inside and out of the replicas is an ordinary graph edge, so crossing devices is
// real frames on the links (docs/partitioning.md).
// Contract: `replicate_graph` is a pure function of the tree and its loaded graph (the
// input tree is not modified). Names: replica j of node `n` is `n@r<j>`, with hw.replica
// {index: j, ways: K} (the graph's record of its share, checked by the loader); the collect of a
// stage output takes that output's name (its consumers and the graph's outputs keep
// theirs). Placement: replica j on the rule's devices[j] (hw.device), the collect where
// the original node was (hw.device, mapping.place). Failure: InputError naming the
// configuration key and the node (a glob matching nothing or a node matched twice, a
// stage that is not contiguous, functional mode).
#pragma once
#include <yaml-cpp/yaml.h>

#include <string>
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
  std::vector<int> devices;          ///< the rule's devices (empty: none given)
  int rule = 0;                      ///< its index in the rules
};

struct ReplicateReport {
  std::vector<ReplicaGroup> groups;
};

/// Name of replica j of `node`.
std::string replica_name(const std::string& node, int j);

/// The tree with every rule applied (rule k's key named `what[k]`). Appends to `report`.
YAML::Node replicate_graph(const YAML::Node& root, const Graph& g,
                           const std::vector<ReplicateRule>& rules, const std::string& what,
                           ReplicateReport* report);

struct SplitReport;
/// The workload graph of a run as inferences: `splits` applied (load_split_graph), then the
/// stages of `reps` replicated (none: the split graph). InputError naming
/// mapping.replicate in functional mode.
Graph load_replicated_graph(const SystemSpec& s, const std::vector<SplitRule>& splits,
                            const std::vector<ReplicateRule>& reps, SplitReport* split_report,
                            ReplicateReport* rep_report);

/// Inferences of a replica (ways, index) out of `total`: those i < total with
/// i % ways == index.
std::int64_t replica_inferences(std::int64_t total, int ways, int index);

/// After mapping: InputError naming the replica when mapping.place moved it off the device
/// its rule gives.
void check_replica_devices(const Graph& g, const SystemSpec& s, const ReplicateReport& rep,
                           const Mapping& m);

}  // namespace masesim
