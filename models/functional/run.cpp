#include "models/functional/run.hpp"

#include "workloads/error.hpp"

namespace masesim::fn {

std::map<std::string, QTensor> load_params(const Graph& g, const std::string& dir, Rounding r) {
  std::map<std::string, QTensor> out;
  for (const Node& n : g.nodes)
    for (const Param& p : n.params) {
      std::string owner_node = n.name, owner_param = p.name;
      if (!p.shared_with.empty()) {
        const auto dot = p.shared_with.rfind('.');
        owner_node = p.shared_with.substr(0, dot);
        owner_param = p.shared_with.substr(dot + 1);
      }
      const std::string path = param_file(dir, owner_node, owner_param);
      QTensor t = read_npy(path);
      if (p.shared_with.empty() ? t.shape != p.tensor.shape : t.numel() != p.tensor.numel())
        throw InputError(path + ": parameter '" + n.name + "." + p.name + "' has shape " +
                         shape_to_string(t.shape) + ", the graph declares " +
                         shape_to_string(p.tensor.shape));
      t.shape = p.tensor.shape;
      quantize(t.v, t.shape, p.tensor.precision, r);
      out[n.name + "." + p.name] = std::move(t);
    }
  return out;
}

QTensor load_input(const Graph& g, const std::string& dir, const std::string& name,
                   std::int64_t inference, Rounding r) {
  const GraphInput* in = g.find_input(name);
  if (!in) throw InputError("graph '" + g.name + "' has no input '" + name + "'");
  QTensor t = read_input(dir, *in, inference);
  quantize(t.v, t.shape, in->tensor.precision, r);
  return t;
}

QTensor load_reference(const Graph& g, const std::string& dir, const std::string& node) {
  const Node* n = g.find_node(node);
  if (!n) throw InputError("graph '" + g.name + "' has no node '" + node + "'");
  return read_npy_shaped(reference_file(dir, node), n->results.at(0).shape,
                         "reference of node '" + node + "'");
}

std::map<std::string, QTensor> run_graph(const Graph& g,
                                         const std::map<std::string, QTensor>& params,
                                         const std::map<std::string, QTensor>& inputs, Rounding r,
                                         const ArgSource& teacher) {
  std::map<std::string, QTensor> out;
  for (const GraphInput& in : g.inputs)
    if (!inputs.count(in.name))
      throw InputError("run_graph: no tensor for graph input '" + in.name + "'");
  for (const Node& n : g.nodes) {
    std::vector<const QTensor*> args;
    for (std::size_t i = 0; i < n.args.size(); ++i) {
      const QTensor* t = teacher ? teacher(n, static_cast<int>(i)) : nullptr;
      if (!t) {
        const std::string& src = n.args[i].node;
        auto it = out.find(src);
        if (it != out.end()) {
          t = &it->second;
        } else {
          auto jt = inputs.find(src);
          if (jt == inputs.end())
            throw InputError("run_graph: node '" + n.name + "' reads '" + src + "', not computed");
          t = &jt->second;
        }
      }
      args.push_back(t);
    }
    out[n.name] = eval_node(g, n, args, params, r);
  }
  return out;
}

}  // namespace masesim::fn
