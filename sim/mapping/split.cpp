// mapping.split: see sim/mapping/split.hpp. The rewrite works on the tree, reading shapes, ops and
// consumers from the loaded graph (shapes resolved with the run's dims, so a divided
// symbolic dim is written as its number).
#include "sim/mapping/split.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <map>
#include <set>

#include "interconnect/topology.hpp"
#include "models/ops/registry.hpp"
#include "sim/mapping/graph_rewrite.hpp"
#include "sim/mapping/mapping.hpp"
#include "workloads/error.hpp"
#include "workloads/yaml_util.hpp"

namespace masesim {

const char* to_string(SplitBy b) {
  return b == SplitBy::Rows ? "rows" : "columns";
}

std::string split_piece_name(const std::string& node, int j) {
  return node + "@s" + std::to_string(j);
}

namespace {

struct Plan {
  const SplitRule* rule = nullptr;
  std::size_t rule_index = 0;
  int axis = 0;                ///< output dim divided (columns) or sliced (rows)
  std::vector<int> followers;  ///< element-wise nodes split with it, in chain order
};

class Splitter {
 public:
  Splitter(const YAML::Node& root, const Graph& g, const std::vector<SplitRule>& rules,
           const std::string& what, int first_index, SplitReport& rep)
      : root_(root), g_(g), rules_(rules), what_(what), first_(first_index), rep_(rep) {}

  YAML::Node run() {
    index_yaml();
    plan();
    return emit();
  }

 private:
  const YAML::Node& root_;
  const Graph& g_;
  const std::vector<SplitRule>& rules_;
  const std::string& what_;
  const int first_;
  SplitReport& rep_;
  std::map<std::string, YAML::Node> yaml_of_;  ///< node name -> its tree node
  std::map<int, Plan> plans_;                  ///< by node index
  std::set<int> absorbed_;
  std::set<std::string> noted_;

  void note(const std::string& s) {
    if (noted_.insert(s).second) rep_.notes.push_back(s);
  }

  [[noreturn]] void fail(std::size_t rule, const Node& n, const std::string& msg) const {
    throw InputError(what_ + "[" + std::to_string(first_ + static_cast<int>(rule)) + "]: node '" +
                     n.name + "' (" + n.op + "): " + msg);
  }

  void index_yaml() {
    const YAML::Node ns = root_["nodes"];
    for (std::size_t k = 0; k < ns.size(); ++k) yaml_of_[ns[k]["name"].as<std::string>()] = ns[k];
  }

  /// The tree's precision node of a producer port (graph input or node result).
  YAML::Node precision_of(const PortRef& r) const {
    if (g_.find_input(r.node)) {
      const YAML::Node in = root_["inputs"];
      for (std::size_t k = 0; k < in.size(); ++k)
        if (in[k]["name"].as<std::string>() == r.node) return in[k]["precision"];
    }
    return yaml_of_.at(r.node)["results"]["data_out_" + std::to_string(r.index)]["precision"];
  }

  /// A shape list of `t` with entry `axis` set to `value` (other entries as written).
  static YAML::Node shape_with(const Tensor& t, std::size_t axis, std::int64_t value) {
    YAML::Node s(YAML::NodeType::Sequence);
    for (std::size_t k = 0; k < t.shape.size(); ++k) {
      const DimExpr& e = k < t.shape_expr.size() ? t.shape_expr[k] : DimExpr{t.shape[k], ""};
      s.push_back(k == axis ? std::to_string(value) : e.to_string());
    }
    return s;
  }

  static bool splittable_op(const Node& n) {
    return n.op == "linear" || n.op == "matmul" || n.op == "bmm" || n.op == "conv2d";
  }

  void plan() {
    std::vector<bool> used(rules_.size(), false);
    for (std::size_t i = 0; i < g_.nodes.size(); ++i) {
      const Node& n = g_.nodes[i];
      for (std::size_t r = 0; r < rules_.size(); ++r) {
        if (fnmatch(rules_[r].glob.c_str(), n.name.c_str(), 0) != 0) continue;
        // A pattern takes the nodes that split among those it matches; a plain name must
        // name one.
        const bool pattern = rules_[r].glob.find_first_of("*?[") != std::string::npos;
        if (pattern && !splittable_op(n)) continue;
        used[r] = true;
        if (absorbed_.count(static_cast<int>(i))) break;  // split with its producer
        plan_node(static_cast<int>(i), r);
        break;
      }
    }
    for (std::size_t r = 0; r < rules_.size(); ++r)
      if (!used[r])
        throw InputError(what_ + "[" + std::to_string(first_ + static_cast<int>(r)) + "].node: '" +
                         rules_[r].glob + "' matches no node of " + g_.file +
                         " (a pattern matches only linear, matmul, bmm and conv2d nodes)");
  }

  void plan_node(int i, std::size_t r) {
    const Node& n = g_.nodes[static_cast<std::size_t>(i)];
    const SplitRule& rule = rules_[r];
    if (!splittable_op(n))
      fail(r, n,
           "only linear, matmul, bmm and conv2d nodes split (their element-wise "
           "followers split with them)");
    const Shape& os = n.results[0].shape;
    Plan p;
    p.rule = &rule;
    p.rule_index = r;
    if (n.op == "conv2d") {
      if (rule.by == SplitBy::Rows)
        fail(r, n, "a conv2d splits by output channels (by: columns) only");
      if (n.attr_int("groups", 1) != 1)
        fail(r, n,
             "a grouped conv2d (groups " + std::to_string(n.attr_int("groups", 1)) +
                 ") does not split");
      p.axis = 1;
    } else if (rule.by == SplitBy::Columns) {
      p.axis = static_cast<int>(os.size()) - 1;
    } else {
      if (os.size() < 2) fail(r, n, "its output " + shape_to_string(os) + " has no rows");
      p.axis = static_cast<int>(os.size()) - 2;
    }
    const std::int64_t dim = os[static_cast<std::size_t>(p.axis)];
    const char* what = n.op == "conv2d"              ? "output channels"
                       : rule.by == SplitBy::Columns ? "output columns"
                                                     : "rows";
    if (dim % rule.ways != 0)
      fail(r, n,
           "split " + std::to_string(rule.ways) + " ways by " + to_string(rule.by) + ": its " +
               std::to_string(dim) + " " + what + " (output " + shape_to_string(os) +
               ") are not divisible by " + std::to_string(rule.ways));
    // Element-wise followers that only this chain feeds split with it.
    const Node* tail = &n;
    for (;;) {
      const auto uses = g_.consumers_of(PortRef{tail->name, 0});
      if (uses.size() != 1 || uses[0].first < 0) break;
      const Node& c = g_.nodes[static_cast<std::size_t>(uses[0].first)];
      const ops::TpShard tp = ops::of(c).tp;
      if ((tp != ops::TpShard::Pointwise && tp != ops::TpShard::Identity) || c.args.size() != 1 ||
          !c.params.empty() || c.results.size() != 1 || c.results[0].shape != os)
        break;
      p.followers.push_back(uses[0].first);
      absorbed_.insert(uses[0].first);
      tail = &c;
    }
    plans_[i] = p;
  }

  YAML::Node emit() {
    YAML::Node out(YAML::NodeType::Map);
    for (const auto& kv : root_) {
      const std::string key = kv.first.as<std::string>();
      out[key] = key == "nodes" ? YAML::Node(YAML::NodeType::Sequence) : YAML::Clone(kv.second);
    }
    YAML::Node nodes = out["nodes"];
    for (std::size_t i = 0; i < g_.nodes.size(); ++i) {
      const int ii = static_cast<int>(i);
      if (absorbed_.count(ii)) continue;
      auto it = plans_.find(ii);
      if (it == plans_.end()) {
        nodes.push_back(YAML::Clone(yaml_of_.at(g_.nodes[i].name)));
        continue;
      }
      emit_split(ii, it->second, nodes);
    }
    return out;
  }

  void emit_split(int i, const Plan& p, YAML::Node& nodes) {
    const Node& n = g_.nodes[static_cast<std::size_t>(i)];
    const int k = p.rule->ways;
    const bool cols = p.rule->by == SplitBy::Columns;
    const std::size_t axis = static_cast<std::size_t>(p.axis);
    const Tensor& out = n.results[0];
    const std::int64_t piece = out.shape[axis] / k;
    const YAML::Node orig = yaml_of_.at(n.name);
    const std::string device =
        orig["hw"] && orig["hw"]["device"] ? orig["hw"]["device"].as<std::string>() : "";
    // The operand that is sliced: rows of the first (every op by rows), columns of the
    // second (matmul/bmm by columns); linear and conv2d by columns divide their weights.
    int sliced = -1;
    std::size_t sliced_axis = 0;
    if (!cols) {
      sliced = 0;
      sliced_axis = g_.tensor_of(n.args[0]).shape.size() - 2;
    } else if (n.op == "matmul" || n.op == "bmm") {
      sliced = 1;
      sliced_axis = g_.tensor_of(n.args[1]).shape.size() - 1;
    }
    const std::string tag = cols ? ".cols" : ".rows";
    std::vector<std::string> tails;
    for (int j = 0; j < k; ++j) {
      std::vector<std::string> args;
      for (const auto& a : n.args) args.push_back(a.text());
      if (sliced >= 0) {
        const PortRef& a = n.args[static_cast<std::size_t>(sliced)];
        const Tensor& t = g_.tensor_of(a);
        const std::int64_t len = t.shape[sliced_axis] / k;
        YAML::Node attrs(YAML::NodeType::Map);
        attrs["dim"] = std::to_string(static_cast<std::int64_t>(sliced_axis) -
                                      static_cast<std::int64_t>(t.shape.size()));
        attrs["start"] = std::to_string(j * len);
        attrs["end"] = std::to_string((j + 1) * len);
        const std::string name = split_piece_name(n.name + tag, j);
        nodes.push_back(rewrite::make_node(name, "slice", {a.text()}, attrs,
                                           shape_with(t, sliced_axis, len), precision_of(a),
                                           device));
        args[static_cast<std::size_t>(sliced)] = name;
      }
      YAML::Node y = YAML::Clone(orig);
      const std::string name = split_piece_name(n.name, j);
      y["name"] = name;
      YAML::Node a(YAML::NodeType::Map);
      for (std::size_t q = 0; q < args.size(); ++q) a["data_in_" + std::to_string(q)] = args[q];
      y["args"] = a;
      y["results"]["data_out_0"]["shape"] = shape_with(out, axis, piece);
      if (y["hw"] && y["hw"]["parallelism"]) {
        y["hw"].remove("parallelism");
        note("hw.parallelism of split nodes is dropped (the mapper re-tiles the pieces)");
      }
      if (YAML::Node params = y["params"]; params && params.IsMap()) {
        for (auto kv : params) {
          const std::string pn = kv.first.as<std::string>();
          YAML::Node prm = kv.second;
          if (!prm.IsMap()) continue;
          const bool divided = cols && sliced < 0 && (pn == "weight" || pn == "bias");
          if (divided) {
            rewrite::set_dim(prm["shape"], 0, n.param(pn)->tensor.shape[0] / k);
            if (prm["shared_with"]) {
              prm.remove("shared_with");
              note("param '" + n.name + "." + pn +
                   "' was tied; its column slices are untied (the loader ties only "
                   "parameters of the same shape)");
            }
          } else if (j > 0 && !prm["shared_with"]) {
            prm["shared_with"] = split_piece_name(n.name, 0) + "." + pn;
          }
        }
        if (!cols && n.param("weight"))
          note(
              "split by rows: every piece holds the whole weight (counted once in "
              "workload.parameters, once per piece in the devices' resources)");
      }
      nodes.push_back(y);
      std::string prev = name;
      for (int f : p.followers) {
        const Node& c = g_.nodes[static_cast<std::size_t>(f)];
        YAML::Node fy = YAML::Clone(yaml_of_.at(c.name));
        const std::string fname = split_piece_name(c.name, j);
        fy["name"] = fname;
        YAML::Node fa(YAML::NodeType::Map);
        fa["data_in_0"] = prev;
        fy["args"] = fa;
        fy["results"]["data_out_0"]["shape"] = shape_with(c.results[0], axis, piece);
        if (fy["hw"] && fy["hw"]["parallelism"]) fy["hw"].remove("parallelism");
        nodes.push_back(fy);
        prev = fname;
      }
      tails.push_back(prev);
    }
    const Node& last =
        p.followers.empty() ? n : g_.nodes[static_cast<std::size_t>(p.followers.back())];
    const YAML::Node last_y = yaml_of_.at(last.name);
    YAML::Node attrs(YAML::NodeType::Map);
    attrs["dim"] = std::to_string(static_cast<std::int64_t>(axis) -
                                  static_cast<std::int64_t>(out.shape.size()));
    nodes.push_back(rewrite::make_node(last.name, "cat", tails, attrs,
                                       YAML::Clone(last_y["results"]["data_out_0"]["shape"]),
                                       last_y["results"]["data_out_0"]["precision"], device));
    if (!cols)
      note(
          "a gather by rows is a cat along dim -2, timed as a streaming cat that takes its "
          "inputs in proportion (the pieces' rows arrive concurrently)");
    SplitInfo info;
    info.node = n.name;
    info.ways = k;
    info.by = p.rule->by;
    for (int f : p.followers) info.absorbed.push_back(g_.nodes[static_cast<std::size_t>(f)].name);
    info.gather = last.name;
    rep_.splits.push_back(std::move(info));
  }
};

}  // namespace

YAML::Node split_graph(const YAML::Node& root, const Graph& g, const std::vector<SplitRule>& rules,
                       const std::string& what, SplitReport* report, int first_index) {
  SplitReport local;
  SplitReport& rep = report ? *report : local;
  Splitter s(root, g, rules, what, first_index, rep);
  return s.run();
}

Graph load_split_graph(const SystemSpec& s, const std::vector<SplitRule>& rules,
                       SplitReport* report, YAML::Node* tree_out) {
  if (report) *report = SplitReport{};
  if (rules.empty() && !tree_out && s.workload.moe_routing.empty())
    return load_graph(s.workload.graph_path, s.workload.dims);
  const std::string what = s.file + ": mapping.split";
  if (!rules.empty() && s.simulation.functional)
    throw InputError(what +
                     ": functional mode reads data per node; split nodes have none "
                     "(run the split in timing mode)");
  // One pass per rule, in order: a later rule may split the pieces of an earlier one.
  YAML::Node tree = rewrite::workload_tree(s);
  Graph g = rewrite::load_workload_yaml(tree, s, s.workload.dims);
  for (std::size_t k = 0; k < rules.size(); ++k) {
    tree = split_graph(tree, g, {rules[k]}, what, report, static_cast<int>(k));
    g = load_graph_yaml(tree, s.workload.graph_path, s.workload.dims);
  }
  if (tree_out) *tree_out = tree;
  return g;
}

void check_split_routes(const Graph& g, const SystemSpec& s, const Mapping& m,
                        const SplitReport& rep) {
  if (rep.splits.empty() || s.devices.size() < 2) return;
  const interconnect::Topology topo = build_topology(s);
  auto device_of = [&](const std::string& name) -> int {
    if (g.find_input(name)) return -1;  // the host feeds it to its consumer's device
    const auto it = g.node_index.find(name);
    return it == g.node_index.end() ? -1 : m.nodes[it->second].device;
  };
  for (const SplitInfo& sp : rep.splits) {
    auto check = [&](const std::string& from, const std::string& to) {
      const int a = device_of(from), b = device_of(to);
      if (a < 0 || b < 0 || a == b) return;
      try {
        (void)interconnect::route(topo, static_cast<std::uint32_t>(a),
                                  static_cast<std::uint32_t>(b));
      } catch (const std::exception& e) {
        throw InputError(s.file + ": mapping.split: node '" + sp.node + "': the edge '" + from +
                         "' -> '" + to + "' joins devices '" +
                         s.devices[static_cast<std::size_t>(a)].name + "' and '" +
                         s.devices[static_cast<std::size_t>(b)].name +
                         "', which no route connects (" + e.what() + ")");
      }
    };
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
      const Node& n = g.nodes[i];
      const bool piece =
          n.name.rfind(sp.node + "@s", 0) == 0 || n.name.rfind(sp.node + ".rows@s", 0) == 0 ||
          n.name.rfind(sp.node + ".cols@s", 0) == 0 || n.name == sp.gather ||
          std::any_of(sp.absorbed.begin(), sp.absorbed.end(),
                      [&](const std::string& f) { return n.name.rfind(f + "@s", 0) == 0; });
      if (!piece) continue;
      for (const auto& a : n.args) check(a.node, n.name);
    }
  }
}

}  // namespace masesim
