#include "sim/mapping/graph_rewrite.hpp"

#include <fnmatch.h>

#include "workloads/error.hpp"
#include "workloads/yaml_util.hpp"

namespace masesim::rewrite {

YAML::Node make_node(const std::string& name, const std::string& op,
                     const std::vector<std::string>& args, const YAML::Node& attrs,
                     const YAML::Node& shape, const YAML::Node& precision,
                     const std::string& device) {
  YAML::Node y(YAML::NodeType::Map);
  y["name"] = name;
  y["op"] = op;
  YAML::Node a(YAML::NodeType::Map);
  for (std::size_t k = 0; k < args.size(); ++k) a["data_in_" + std::to_string(k)] = args[k];
  y["args"] = a;
  if (attrs.IsMap()) y["attrs"] = attrs;
  YAML::Node d0(YAML::NodeType::Map);
  d0["shape"] = shape;
  d0["precision"] = YAML::Clone(precision);
  YAML::Node res(YAML::NodeType::Map);
  res["data_out_0"] = d0;
  y["results"] = res;
  YAML::Node hw(YAML::NodeType::Map);
  if (!device.empty()) hw["device"] = device;
  y["hw"] = hw;
  return y;
}

std::vector<std::string> set_moe_routing(YAML::Node tree, const std::vector<MoeRoutingRule>& rules,
                                         const std::string& what) {
  std::vector<std::string> changed;
  std::vector<bool> used(rules.size(), false);
  YAML::Node nodes = tree["nodes"];
  for (std::size_t i = 0; nodes.IsSequence() && i < nodes.size(); ++i) {
    YAML::Node n = nodes[i];
    if (!n.IsMap() || !n["op"] || !n["op"].IsScalar() || n["op"].Scalar() != "moe_experts" ||
        !n["name"] || !n["name"].IsScalar())
      continue;
    const std::string name = n["name"].Scalar();
    for (std::size_t k = 0; k < rules.size(); ++k) {
      const MoeRoutingRule& r = rules[k];
      if (fnmatch(r.glob.c_str(), name.c_str(), 0) != 0) continue;
      used[k] = true;
      YAML::Node attrs =
          n["attrs"] && n["attrs"].IsMap() ? n["attrs"] : YAML::Node(YAML::NodeType::Map);
      for (const char* a : {"routing", "expert_load", "routing_seed"}) attrs.remove(a);
      attrs["routing"] = r.routing;
      if (r.routing == "load") {
        // One weight per expert: w1 is [experts, ffn, hidden].
        const YAML::Node w1 =
            n["params"] && n["params"]["w1"] ? n["params"]["w1"]["shape"] : YAML::Node();
        if (w1 && w1.IsSequence() && w1.size() == 3 && w1[0].IsScalar()) {
          const std::string e = w1[0].Scalar();
          if (e.find_first_not_of("0123456789") == std::string::npos &&
              std::to_string(r.expert_load.size()) != e)
            throw InputError(what + "." + r.glob +
                             ".expert_load: " + std::to_string(r.expert_load.size()) +
                             " weights for node '" + name + "', which has " + e + " experts");
        }
        YAML::Node l(YAML::NodeType::Sequence);
        for (const auto w : r.expert_load) l.push_back(w);
        l.SetStyle(YAML::EmitterStyle::Flow);
        attrs["expert_load"] = l;
      }
      if (r.routing == "seeded") attrs["routing_seed"] = r.routing_seed;
      n["attrs"] = attrs;
      changed.push_back(name);
      break;
    }
  }
  for (std::size_t k = 0; k < rules.size(); ++k)
    if (!used[k]) throw InputError(what + "." + rules[k].glob + ": matches no moe_experts node");
  return changed;
}

YAML::Node workload_tree(const SystemSpec& s) {
  YAML::Node tree = yaml::load_file(s.workload.graph_path);
  if (!s.workload.moe_routing.empty())
    set_moe_routing(tree, s.workload.moe_routing, s.file + ": workload.moe_routing");
  return tree;
}

Graph load_workload_yaml(const YAML::Node& tree, const SystemSpec& s,
                         const std::map<std::string, std::int64_t>& dims) {
  try {
    return load_graph_yaml(tree, s.workload.graph_path, dims);
  } catch (const InputError& e) {
    const std::string m = e.what();
    if (s.workload.moe_routing.empty() ||
        (m.find("expert_load") == std::string::npos && m.find("routing") == std::string::npos))
      throw;
    throw InputError(m + " (the routing is set by " + s.file + ": workload.moe_routing)");
  }
}

void set_dim(YAML::Node seq, std::size_t k, std::int64_t value) {
  YAML::Node e = seq[k];
  e = std::to_string(value);
}

}  // namespace masesim::rewrite
