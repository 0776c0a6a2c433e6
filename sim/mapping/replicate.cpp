// mapping.replicate: see sim/mapping/replicate.hpp. The rewrite works on the tree, reading
// the stage's edges from the loaded graph.
#include "sim/mapping/replicate.hpp"

#include <fnmatch.h>

#include <set>

#include "sim/mapping/graph_rewrite.hpp"
#include "sim/mapping/mapping.hpp"
#include "sim/mapping/split.hpp"
#include "workloads/error.hpp"

namespace masesim {

std::string replica_name(const std::string& node, int j) {
  return node + "@r" + std::to_string(j);
}

std::int64_t replica_inferences(std::int64_t total, int ways, int index) {
  if (ways <= 1) return total;
  return total > index ? (total - index + ways - 1) / ways : 0;
}

namespace {

std::string ref_text(const PortRef& r, const std::string& node) {
  return r.index == 0 ? node : node + ".data_out_" + std::to_string(r.index);
}

/// Rule of each node (-1: none); InputError for a glob matching nothing or a node matched
/// by two rules.
std::vector<int> group_of_nodes(const Graph& g, const std::vector<ReplicateRule>& rules,
                                const std::string& what) {
  std::vector<int> group(g.nodes.size(), -1);
  for (std::size_t k = 0; k < rules.size(); ++k) {
    const std::string at = what + "[" + std::to_string(k) + "]";
    for (const std::string& glob : rules[k].globs) {
      bool any = false;
      for (std::size_t i = 0; i < g.nodes.size(); ++i) {
        if (fnmatch(glob.c_str(), g.nodes[i].name.c_str(), 0) != 0) continue;
        any = true;
        if (group[i] == static_cast<int>(k)) continue;  // two of the rule's globs
        if (group[i] >= 0)
          throw InputError(at + ".nodes: node '" + g.nodes[i].name +
                           "' is already replicated by mapping.replicate[" +
                           std::to_string(group[i]) + "]");
        group[i] = static_cast<int>(k);
      }
      if (!any) throw InputError(at + ".nodes: '" + glob + "' matches no node");
    }
  }
  return group;
}

/// A stage must be contiguous: no path leaves it and comes back. `via[i]`: a node outside
/// group k that a path from the group reaches (the node it came from, for the message).
void check_contiguous(const Graph& g, const std::vector<int>& group, int k, const std::string& at) {
  std::vector<std::string> via(g.nodes.size());       // non-empty: reached from the group
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {  // topological order
    const Node& n = g.nodes[i];
    for (const auto& a : n.args) {
      const auto it = g.node_index.find(a.node);
      if (it == g.node_index.end()) continue;
      const std::size_t p = it->second;
      const bool from_group = group[p] == k;
      if (group[i] == k) {
        if (!from_group && !via[p].empty())
          throw InputError(at + ".nodes: the stage is not contiguous: node '" + g.nodes[p].name +
                           "' (outside it) reads '" + via[p] + "' (inside) and feeds '" + n.name +
                           "' (inside); add '" + g.nodes[p].name + "' to the stage or split it");
        continue;
      }
      if (via[i].empty() && (from_group || !via[p].empty()))
        via[i] = from_group ? g.nodes[p].name : via[p];
    }
  }
}

/// Replica j's parameters are copies: counted once in the model's parameters (replica 0's,
/// through shared_with), once per replica in its device's resources. A tie the node already
/// had follows the replica when its target is in the stage.
void share_params(YAML::Node r, const Node& n, const Graph& g, const std::vector<int>& group, int k,
                  int j) {
  YAML::Node ps = r["params"];
  if (!ps || !ps.IsMap()) return;
  for (const Param& p : n.params) {
    YAML::Node y = ps[p.name];
    if (!p.shared_with.empty()) {
      const std::string owner = p.shared_with.substr(0, p.shared_with.rfind('.'));
      const auto it = g.node_index.find(owner);
      if (it != g.node_index.end() && group[it->second] == k)
        y["shared_with"] = replica_name(owner, j) + p.shared_with.substr(owner.size());
    } else if (j > 0) {
      y["shared_with"] = replica_name(n.name, 0) + "." + p.name;
    }
  }
}

}  // namespace

YAML::Node replicate_graph(const YAML::Node& root, const Graph& g,
                           const std::vector<ReplicateRule>& rules, const std::string& what,
                           ReplicateReport* report) {
  const std::vector<int> group = group_of_nodes(g, rules, what);
  for (std::size_t k = 0; k < rules.size(); ++k)
    check_contiguous(g, group, static_cast<int>(k), what + "[" + std::to_string(k) + "]");
  std::map<std::string, YAML::Node> yaml_of;
  const YAML::Node ns = root["nodes"];
  for (std::size_t k = 0; k < ns.size(); ++k) yaml_of[ns[k]["name"].as<std::string>()] = ns[k];
  std::set<std::string> outputs;
  for (const auto& o : g.outputs) outputs.insert(o.node);

  std::vector<ReplicaGroup> groups(rules.size());
  YAML::Node out = YAML::Clone(root);
  YAML::Node nodes(YAML::NodeType::Sequence);
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    const YAML::Node& y = yaml_of.at(n.name);
    const int k = group[i];
    if (k < 0) {
      nodes.push_back(YAML::Clone(y));
      continue;
    }
    const ReplicateRule& rule = rules[static_cast<std::size_t>(k)];
    ReplicaGroup& grp = groups[static_cast<std::size_t>(k)];
    grp.glob = rule.glob;
    grp.ways = rule.ways;
    grp.devices = rule.devices;
    grp.rule = k;
    grp.members.push_back(n.name);
    std::vector<std::string> pieces;
    for (int j = 0; j < rule.ways; ++j) {
      YAML::Node r = YAML::Clone(y);
      const std::string name = replica_name(n.name, j);
      r["name"] = name;
      YAML::Node args(YAML::NodeType::Map);
      for (std::size_t a = 0; a < n.args.size(); ++a) {
        const PortRef& ref = n.args[a];
        const auto it = g.node_index.find(ref.node);
        const bool inside = it != g.node_index.end() && group[it->second] == k;
        args["data_in_" + std::to_string(a)] =
            ref_text(ref, inside ? replica_name(ref.node, j) : ref.node);
      }
      r["args"] = args;
      share_params(r, n, g, group, k, j);
      YAML::Node hw = r["hw"] ? r["hw"] : YAML::Node(YAML::NodeType::Map);
      if (!rule.devices.empty()) hw["device"] = rule.device_names[static_cast<std::size_t>(j)];
      YAML::Node phase(YAML::NodeType::Map);
      phase["index"] = j;
      phase["ways"] = rule.ways;
      hw["replica"] = phase;
      r["hw"] = hw;
      nodes.push_back(r);
      pieces.push_back(name);
    }
    // An output that leaves the stage (or that nobody reads: the collect's drain) is
    // collected back into inference order under the node's own name.
    bool leaves = outputs.count(n.name) != 0;
    const auto consumers = g.consumers_of(PortRef{n.name, 0});
    if (consumers.empty()) leaves = true;
    for (const auto& c : consumers)
      if (c.first < 0 || group[static_cast<std::size_t>(c.first)] != k) leaves = true;
    if (!leaves) continue;
    const YAML::Node res = y["results"]["data_out_0"];
    const std::string device =
        y["hw"] && y["hw"]["device"] ? y["hw"]["device"].as<std::string>() : "";
    nodes.push_back(rewrite::make_node(n.name, "collect", pieces, YAML::Node(),
                                       YAML::Clone(res["shape"]), res["precision"], device));
    grp.exits.push_back(n.name);
  }
  out["nodes"] = nodes;
  if (report)
    for (auto& grp : groups) report->groups.push_back(std::move(grp));
  return out;
}

Graph load_replicated_graph(const SystemSpec& s, const std::vector<SplitRule>& splits,
                            const std::vector<ReplicateRule>& reps, SplitReport* split_report,
                            ReplicateReport* rep_report) {
  if (reps.empty()) return load_split_graph(s, splits, split_report);
  const std::string what = s.file + ": mapping.replicate";
  if (s.simulation.functional)
    throw InputError(what +
                     ": functional mode runs every inference on one graph of node data; "
                     "run the replicas in timing mode");
  YAML::Node tree;
  const Graph split = load_split_graph(s, splits, split_report, &tree);
  return load_graph_yaml(replicate_graph(tree, split, reps, what, rep_report),
                         s.workload.graph_path, s.workload.dims);
}

void check_replica_devices(const Graph& g, const SystemSpec& s, const ReplicateReport& rep,
                           const Mapping& m) {
  const std::string what = s.file + ": mapping.replicate";
  for (const ReplicaGroup& grp : rep.groups) {
    if (grp.devices.empty()) continue;
    for (const auto& member : grp.members)
      for (int j = 0; j < grp.ways; ++j) {
        const std::string name = replica_name(member, j);
        const int want = grp.devices[static_cast<std::size_t>(j)];
        const int got = m.nodes[g.node_index.at(name)].device;
        if (got != want)
          throw InputError(what + "[" + std::to_string(grp.rule) + "].devices: replica '" + name +
                           "' belongs on '" + s.devices[static_cast<std::size_t>(want)].name +
                           "', but mapping.place puts it on '" +
                           s.devices[static_cast<std::size_t>(got)].name +
                           "' (leave the replicas out of mapping.place, or drop devices:)");
      }
  }
}

}  // namespace masesim
