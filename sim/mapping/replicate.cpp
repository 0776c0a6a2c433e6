// mapping.replicate: see sim/mapping/replicate.hpp. The rewrite works on the tree, reading
// the stage's edges from the loaded graph.
#include "sim/mapping/replicate.hpp"

#include <fnmatch.h>

#include <set>

#include "sim/mapping/graph_rewrite.hpp"
#include "sim/mapping/mapping.hpp"
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
    bool any = false;
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
      if (fnmatch(rules[k].glob.c_str(), g.nodes[i].name.c_str(), 0) != 0) continue;
      if (group[i] >= 0)
        throw InputError(at + ".nodes: node '" + g.nodes[i].name + "' is already replicated by " +
                         "mapping.replicate[" + std::to_string(group[i]) + "]");
      group[i] = static_cast<int>(k);
      any = true;
    }
    if (!any) throw InputError(at + ".nodes: '" + rules[k].glob + "' matches no node");
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
      if (!rule.devices.empty()) {
        YAML::Node hw = r["hw"] ? r["hw"] : YAML::Node(YAML::NodeType::Map);
        hw["device"] = rule.device_names[static_cast<std::size_t>(j)];
        r["hw"] = hw;
      }
      nodes.push_back(r);
      pieces.push_back(name);
      if (report) report->phase[name] = {rule.ways, j};
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

void apply_replicas(const Graph& g, const SystemSpec& s, const ReplicateReport& rep, Mapping& m) {
  const std::string what = s.file + ": mapping.replicate";
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    NodeMap& nm = m.nodes[i];
    const auto it = rep.phase.find(n.name);
    if (it != rep.phase.end()) {
      nm.replica_ways = it->second.first;
      nm.replica_index = it->second.second;
    }
    if (n.op != "collect") continue;
    // A collect reads port j from replica j of one node: only the rewrite makes them.
    for (std::size_t a = 0; a < n.args.size(); ++a) {
      const auto ph = rep.phase.find(n.args[a].node);
      if (ph == rep.phase.end() || ph->second.second != static_cast<int>(a) ||
          ph->second.first != static_cast<int>(n.args.size()))
        throw InputError(g.file + ": node '" + n.name +
                         "': op 'collect' is made by mapping.replicate (its data_in_" +
                         std::to_string(a) + " must be replica " + std::to_string(a) + " of " +
                         std::to_string(n.args.size()) + "); a graph cannot use it directly");
    }
  }
  for (std::size_t k = 0; k < rep.groups.size(); ++k) {
    const ReplicateRule& rule = s.mapping.replicate[k];
    if (rule.devices.empty()) continue;
    for (const auto& member : rep.groups[k].members)
      for (int j = 0; j < rule.ways; ++j) {
        const std::string name = replica_name(member, j);
        const int want = rule.devices[static_cast<std::size_t>(j)];
        const int got = m.nodes[g.node_index.at(name)].device;
        if (got != want)
          throw InputError(what + "[" + std::to_string(k) + "].devices: replica '" + name +
                           "' belongs on '" + s.devices[static_cast<std::size_t>(want)].name +
                           "', but mapping.place puts it on '" +
                           s.devices[static_cast<std::size_t>(got)].name +
                           "' (leave the replicas out of mapping.place, or drop devices:)");
      }
  }
}

}  // namespace masesim
