#include "sim/mapping/layer_reuse.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "sim/config/system_spec.hpp"
#include "workloads/error.hpp"

namespace masesim {

std::int64_t LayerReusePlan::resident_layers() const {
  return std::min<std::int64_t>(weight_buffers, layers);
}

int layer_index(const std::string& pattern, const std::string& name) {
  const std::size_t at = pattern.find("{i}");
  if (at == std::string::npos) return -1;
  const std::string prefix = pattern.substr(0, at), rest = pattern.substr(at + 3);
  if (name.compare(0, prefix.size(), prefix) != 0) return -1;
  std::size_t k = prefix.size();
  const std::size_t digits = k;
  while (k < name.size() && std::isdigit(static_cast<unsigned char>(name[k]))) ++k;
  if (k == digits || k - digits > 6) return -1;
  if (fnmatch(rest.c_str(), name.c_str() + k, 0) != 0) return -1;
  return std::stoi(name.substr(digits, k - digits));
}

namespace {

/// `name` without its layer prefix and index ("transformer.h.3.mlp.c_fc" -> ".mlp.c_fc").
std::string suffix_of(const std::string& pattern, const std::string& name) {
  const std::size_t at = pattern.find("{i}");
  std::size_t k = at;
  while (k < name.size() && std::isdigit(static_cast<unsigned char>(name[k]))) ++k;
  return name.substr(k);
}

bool same_attr(const AttrValue& a, const AttrValue& b) {
  if (a.kind != b.kind || a.number != b.number || a.boolean != b.boolean || a.str != b.str ||
      a.list.size() != b.list.size())
    return false;
  for (std::size_t i = 0; i < a.list.size(); ++i)
    if (a.list[i].value != b.list[i].value) return false;
  return true;
}

std::string tensor_text(const Tensor& t) {
  return shape_to_string(t.shape) + " " + t.precision.to_string();
}

/// Node `b` of a later layer against node `a` in its place in layer 0: the same op, output,
/// parameters, attributes and input shapes; InputError `at` + what differs otherwise.
void check_same_node(const Graph& g, const std::string& pattern, const std::string& at,
                     const Node& a, const Node& b) {
  const std::string both = "node '" + b.name + "' (" + b.op + ") ";
  const std::string where = " where '" + a.name + "' (" + a.op + ") has ";
  if (suffix_of(pattern, a.name) != suffix_of(pattern, b.name) || a.op != b.op)
    throw InputError(at + both + "is in the place of '" + a.name + "' (" + a.op + ")");
  if (a.results.size() != b.results.size() ||
      (!a.results.empty() && (a.results[0].shape != b.results[0].shape ||
                              !(a.results[0].precision == b.results[0].precision))))
    throw InputError(at + both + "has output " + tensor_text(b.results.at(0)) + where +
                     tensor_text(a.results.at(0)));
  if (a.params.size() != b.params.size())
    throw InputError(at + both + "has " + std::to_string(b.params.size()) + " parameters" + where +
                     std::to_string(a.params.size()));
  for (std::size_t k = 0; k < a.params.size(); ++k)
    if (a.params[k].name != b.params[k].name ||
        a.params[k].tensor.shape != b.params[k].tensor.shape ||
        !(a.params[k].tensor.precision == b.params[k].tensor.precision))
      throw InputError(at + both + "has parameter '" + b.params[k].name + "' " +
                       tensor_text(b.params[k].tensor) + where + "'" + a.params[k].name + "' " +
                       tensor_text(a.params[k].tensor));
  if (a.attrs.size() != b.attrs.size()) throw InputError(at + both + "has other attributes");
  for (const auto& [name, v] : a.attrs) {
    const auto it = b.attrs.find(name);
    if (it == b.attrs.end() || !same_attr(v, it->second))
      throw InputError(at + both + "has another attribute '" + name + "'");
  }
  if (a.args.size() != b.args.size())
    throw InputError(at + both + "has " + std::to_string(b.args.size()) + " inputs" + where +
                     std::to_string(a.args.size()));
  for (std::size_t k = 0; k < a.args.size(); ++k)
    if (g.tensor_of(a.args[k]).shape != g.tensor_of(b.args[k]).shape)
      throw InputError(at + both + "has input " + std::to_string(k) + " " +
                       shape_to_string(g.tensor_of(b.args[k]).shape) + where +
                       shape_to_string(g.tensor_of(a.args[k]).shape));
}

}  // namespace

Graph insert_layer_io(const Graph& g, const SystemSpec& s) {
  const std::string& pattern = s.mapping.reuse_layers;
  if (pattern.empty()) return g;
  const std::string key = s.file + ": mapping.layer_reuse.layers '" + pattern + "'";
  std::vector<int> layer(g.nodes.size(), -1);
  std::map<int, std::vector<std::size_t>> members;  // layer -> its nodes, in graph order
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    if (g.nodes[i].name.rfind(std::string(kLayerIoEngine) + ".", 0) == 0)
      throw InputError(g.file + ": node '" + g.nodes[i].name + "': names starting with '" +
                       kLayerIoEngine + ".' are reserved for mapping.layer_reuse");
    layer[i] = layer_index(pattern, g.nodes[i].name);
    if (layer[i] >= 0) members[layer[i]].push_back(i);
  }
  if (members.empty())
    throw InputError(key + " matches no node of " + g.file +
                     " (write the layer prefix with {i} where the index is, e.g. "
                     "\"transformer.h.{i}.*\")");
  const int L = static_cast<int>(members.size());
  if (members.begin()->first != 0 || members.rbegin()->first != L - 1)
    throw InputError(key + ": the layers found are numbered " +
                     std::to_string(members.begin()->first) + ".." +
                     std::to_string(members.rbegin()->first) + " with " + std::to_string(L) +
                     " present; a reuse region needs layers 0.." + std::to_string(L - 1));
  auto producer_layer = [&](const PortRef& r) {
    const auto it = g.node_index.find(r.node);
    return it == g.node_index.end() ? -1 : layer[it->second];
  };
  auto producer_pos = [&](const PortRef& r) -> long {
    const auto it = g.node_index.find(r.node);
    return it == g.node_index.end() ? -1 : static_cast<long>(it->second);
  };
  const long first_region_node = static_cast<long>(members.at(0).front());
  // Identical layers: node by node against layer 0.
  const auto& ref = members.at(0);
  for (int l = 1; l < L; ++l) {
    const auto& mem = members.at(l);
    const std::string at = key + ": layer " + std::to_string(l) + " differs from layer 0: ";
    if (mem.size() != ref.size())
      throw InputError(at + "it has " + std::to_string(mem.size()) + " nodes, layer 0 has " +
                       std::to_string(ref.size()));
    for (std::size_t p = 0; p < mem.size(); ++p) {
      check_same_node(g, pattern, at, g.nodes[ref[p]], g.nodes[mem[p]]);
    }
  }
  // Edges: a layer reads itself, the previous layer or what comes before the region; the
  // nodes after the region read only the last layer.
  std::map<std::pair<std::string, int>, std::string> io_name;  // (producer text, into) -> node
  std::vector<Node> io_nodes;
  auto io_for = [&](const PortRef& r, int into, int from) -> std::string {
    const auto k = std::make_pair(r.text(), into);
    const auto it = io_name.find(k);
    if (it != io_name.end()) return it->second;
    Node n;
    n.name = std::string(kLayerIoEngine) + "." + std::to_string(into) + "." + r.node +
             (r.index ? "." + std::to_string(r.index) : "");
    n.op = "layer_io";
    n.args = {r};
    n.results = {g.tensor_of(r)};
    AttrValue a;
    a.number = into;
    n.attrs["into"] = a;
    a.number = from;
    n.attrs["from"] = a;
    io_nodes.push_back(n);
    io_name[k] = n.name;
    return n.name;
  };
  Graph out = g;
  out.nodes.clear();
  std::set<std::string> emitted;
  auto emit_io = [&](const std::string& name) {
    if (!emitted.insert(name).second) return;
    for (const auto& n : io_nodes)
      if (n.name == name) out.nodes.push_back(n);
  };
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    Node n = g.nodes[i];
    const int l = layer[i];
    for (auto& arg : n.args) {
      const int pl = producer_layer(arg);
      if (pl == l && l >= 0) continue;  // inside the layer
      const std::string what = key + ": node '" + n.name + "'" +
                               (l >= 0 ? " of layer " + std::to_string(l) : "") + " reads '" +
                               arg.node + "'";
      if (l >= 0) {
        if (pl >= 0 && pl != l - 1)
          throw InputError(what + " of layer " + std::to_string(pl) +
                           ": a reuse region's layer reads only itself, the previous layer and "
                           "tensors from before the region");
        if (pl < 0 && producer_pos(arg) > first_region_node)
          throw InputError(what + ", which is outside the layers but after the region's start");
        arg = PortRef{io_for(arg, l, pl), 0};
        emit_io(arg.node);
      } else if (pl >= 0) {
        if (pl != L - 1)
          throw InputError(what + " of layer " + std::to_string(pl) +
                           ": after the region only the last layer's output can be read");
        arg = PortRef{io_for(arg, L, pl), 0};
        emit_io(arg.node);
      }
    }
    out.nodes.push_back(std::move(n));
  }
  for (auto& o : out.outputs) {
    const int pl = producer_layer(o);
    if (pl < 0) continue;
    if (pl != L - 1)
      throw InputError(key + ": graph output '" + o.node + "' is in layer " + std::to_string(pl) +
                       ": after the region only the last layer's output can be read");
    o = PortRef{io_for(o, L, pl), 0};
    emit_io(o.node);
  }
  out.build_index();
  return out;
}

LayerReusePlan layer_reuse_plan(const Graph& g, const SystemSpec& s) {
  LayerReusePlan p;
  if (s.mapping.reuse_layers.empty()) return p;
  p.weight_buffers = s.mapping.reuse_weight_buffers;
  p.layer_of.assign(g.nodes.size(), -1);
  p.io_into.assign(g.nodes.size(), -1);
  p.io_from.assign(g.nodes.size(), -1);
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (n.op == "layer_io") {
      p.io_into[i] = static_cast<int>(n.attr_int("into", -1));
      p.io_from[i] = static_cast<int>(n.attr_int("from", -1));
      continue;
    }
    p.layer_of[i] = layer_index(s.mapping.reuse_layers, n.name);
    p.layers = std::max(p.layers, p.layer_of[i] + 1);
  }
  return p;
}

}  // namespace masesim
