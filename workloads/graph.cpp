#include "workloads/graph.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>
#include <unordered_map>

#include "workloads/error.hpp"
#include "workloads/op_schema.hpp"
#include "workloads/yaml_util.hpp"

namespace masesim {

std::string shape_to_string(const Shape& s) {
  std::string r = "[";
  for (std::size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

std::int64_t shape_numel(const Shape& s, const std::string& what) {
  std::int64_t n = 1;
  for (auto d : s) n = checked_mul(n, d, what);
  return n;
}

std::int64_t Tensor::bytes() const {
  const double bits = static_cast<double>(numel()) * precision.bits_per_element();
  return static_cast<std::int64_t>(std::ceil(bits / 8.0));
}

const Param* Node::param(const std::string& n) const {
  for (const auto& p : params)
    if (p.name == n) return &p;
  return nullptr;
}

std::int64_t Node::attr_int(const std::string& a, std::int64_t dflt) const {
  auto it = attrs.find(a);
  if (it == attrs.end()) return dflt;
  if (it->second.kind == AttrValue::Kind::List && it->second.list.size() == 1)
    return it->second.list[0].value;
  if (it->second.kind != AttrValue::Kind::Number ||
      it->second.number != std::floor(it->second.number))
    throw InputError("attribute " + a + " must be an integer");
  return static_cast<std::int64_t>(it->second.number);
}

double Node::attr_number(const std::string& a, double dflt) const {
  auto it = attrs.find(a);
  if (it == attrs.end()) return dflt;
  if (it->second.kind != AttrValue::Kind::Number)
    throw InputError("attribute " + a + " must be a number");
  return it->second.number;
}

std::vector<std::int64_t> Node::attr_ints(const std::string& a,
                                          std::vector<std::int64_t> dflt) const {
  auto it = attrs.find(a);
  if (it == attrs.end()) return dflt;
  if (it->second.kind == AttrValue::Kind::Number) return {attr_int(a, 0)};
  if (it->second.kind != AttrValue::Kind::List)
    throw InputError("attribute " + a + " must be an integer list");
  std::vector<std::int64_t> v;
  for (const auto& d : it->second.list) v.push_back(d.value);
  return v;
}

void Graph::build_index() {
  node_index.clear();
  consumer_index.clear();
  for (std::size_t i = 0; i < nodes.size(); ++i) node_index[nodes[i].name] = i;
  for (std::size_t i = 0; i < nodes.size(); ++i)
    for (std::size_t a = 0; a < nodes[i].args.size(); ++a)
      consumer_index[nodes[i].args[a].node].push_back(
          {static_cast<int>(i), static_cast<int>(a), nodes[i].args[a].index});
  for (std::size_t o = 0; o < outputs.size(); ++o)
    consumer_index[outputs[o].node].push_back({-1, static_cast<int>(o), outputs[o].index});
}

const Node* Graph::find_node(const std::string& n) const {
  if (!nodes.empty() && node_index.size() == nodes.size()) {
    auto it = node_index.find(n);
    return it == node_index.end() ? nullptr : &nodes[it->second];
  }
  for (const auto& x : nodes)
    if (x.name == n) return &x;
  return nullptr;
}

const GraphInput* Graph::find_input(const std::string& n) const {
  for (const auto& x : inputs)
    if (x.name == n) return &x;
  return nullptr;
}

const Tensor& Graph::tensor_of(const PortRef& r) const {
  if (const GraphInput* in = find_input(r.node)) return in->tensor;
  return find_node(r.node)->results.at(static_cast<std::size_t>(r.index));
}

std::vector<std::pair<int, int>> Graph::consumers_of(const PortRef& r) const {
  std::vector<std::pair<int, int>> v;
  if (!nodes.empty() && node_index.size() == nodes.size()) {
    auto it = consumer_index.find(r.node);
    if (it != consumer_index.end()) {
      for (const auto& c : it->second)  // nodes in order, then outputs
        if (c[2] == r.index && c[0] >= 0) v.emplace_back(c[0], c[1]);
      for (const auto& c : it->second)
        if (c[2] == r.index && c[0] < 0) v.emplace_back(-1, c[1]);
    }
    return v;
  }
  for (std::size_t i = 0; i < nodes.size(); ++i)
    for (std::size_t a = 0; a < nodes[i].args.size(); ++a)
      if (nodes[i].args[a].node == r.node && nodes[i].args[a].index == r.index)
        v.emplace_back(static_cast<int>(i), static_cast<int>(a));
  for (std::size_t o = 0; o < outputs.size(); ++o)
    if (outputs[o].node == r.node && outputs[o].index == r.index)
      v.emplace_back(-1, static_cast<int>(o));
  return v;
}

std::int64_t node_macs(const Graph& g, const Node& n) {
  const OpSchema* op = find_op_schema(n.op);
  if (!op) throw InputError("node '" + n.name + "': unknown op '" + n.op + "'");
  return op->macs(g, n);
}

WorkloadSummary summarize(const Graph& g) {
  WorkloadSummary s;
  s.nodes = static_cast<std::int64_t>(g.nodes.size());
  for (const auto& n : g.nodes) {
    // An inference runs on one replica of a replicated node (hw.replica): count replica 0.
    if (n.hw.replica_index == 0) s.macs = checked_add(s.macs, node_macs(g, n), "workload MACs");
    const OpSchema* op = find_op_schema(n.op);
    for (const auto& p : n.params) {
      if (!p.shared_with.empty()) continue;
      const bool buffer = op && std::find(op->params_buffers.begin(), op->params_buffers.end(),
                                          p.name) != op->params_buffers.end();
      if (!buffer) s.parameters = checked_add(s.parameters, p.tensor.numel(), "parameter count");
      s.weight_bytes = checked_add(s.weight_bytes, p.tensor.bytes(), "weight bytes");
    }
  }
  return s;
}

// ---------------------------------------------------------------------------------------
namespace {

using yaml::as_int;
using yaml::as_string;
using yaml::check_keys;
using yaml::require;
using yaml::where;

struct Loader {
  std::string file;
  std::map<std::string, std::int64_t> dims;

  [[noreturn]] void fail(const YAML::Node& at, const std::string& msg) const {
    throw InputError(where(file, at) + ": " + msg);
  }

  Precision precision(const YAML::Node& n, const std::string& ctx) const {
    if (!n.IsMap()) fail(n, ctx + ": precision must be a mapping with a 'type'");
    const std::string type = as_string(file, require(file, n, ctx, "type"), ctx + ".type");
    Precision p;
    std::vector<std::string> keys = {"type"};
    auto get = [&](const char* k, int dflt, bool required) {
      keys.push_back(k);
      const YAML::Node v = n[k];
      if (!v) {
        if (required) fail(n, ctx + ": precision '" + type + "' requires key '" + k + "'");
        return dflt;
      }
      const std::int64_t x = as_int(file, v, ctx + "." + k);
      if (x < -100000 || x > 100000)
        fail(v, ctx + "." + k + " = " + std::to_string(x) + " is out of range");
      return static_cast<int>(x);
    };
    if (type == "fixed" || type == "int") {
      p.kind = PrecisionKind::Fixed;
      p.width = get("width", 8, true);
      p.frac_width = get("frac_width", 0, false);
    } else if (type == "float") {
      p.kind = PrecisionKind::Float;
      p.width = get("width", 32, false);
    } else if (type == "minifloat") {
      p.kind = PrecisionKind::Minifloat;
      p.width = get("width", 8, true);
      p.exponent_width = get("exponent_width", 4, true);
      p.exponent_bias = get("exponent_bias", (1 << (std::max(1, p.exponent_width) - 1)) - 1, false);
    } else if (type == "block_fp") {
      p.kind = PrecisionKind::BlockFp;
      p.width = get("width", 4, true);
      p.exponent_width = get("exponent_width", 8, true);
      p.block_size = get("block_size", 16, true);
    } else if (type == "mxint") {
      p.kind = PrecisionKind::MxInt;
      p.width = get("width", 8, true);
      p.block_size = get("block_size", 32, true);
    } else if (type == "mxfp") {
      p.kind = PrecisionKind::MxFp;
      p.exponent_width = get("exponent_width", 4, true);
      p.mantissa_width = get("mantissa_width", 3, true);
      p.block_size = get("block_size", 32, true);
      p.width = 1 + p.exponent_width + p.mantissa_width;
    } else {
      fail(n, ctx + ": unknown precision type '" + type + "'" +
                  did_you_mean(type, {"fixed", "float", "minifloat", "block_fp", "mxint", "mxfp"}));
    }
    check_keys(file, n, ctx, keys);
    validate_precision(p, where(file, n) + ": " + ctx);
    return p;
  }

  /// `allow_minus1`: attribute lists, which take any integer (padding 0, dims -1).
  DimExpr dim(const YAML::Node& n, const std::string& ctx, bool allow_minus1) const {
    DimExpr d;
    if (!n.IsScalar()) fail(n, ctx + ": a dimension must be an integer or a dim name");
    const std::string s = n.Scalar();
    if (!s.empty() &&
        (std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '-' || s[0] == '+')) {
      d.value = as_int(file, n, ctx);
      if (d.value <= 0 && !allow_minus1)
        fail(n, ctx + ": dimension " + std::to_string(d.value) + " must be positive");
      return d;
    }
    auto it = dims.find(s);
    if (it == dims.end()) {
      std::vector<std::string> names;
      for (const auto& kv : dims) names.push_back(kv.first);
      fail(n, ctx + ": unknown dim '" + s + "'" + did_you_mean(s, names));
    }
    d.name = s;
    d.value = it->second;
    return d;
  }

  Tensor tensor(const YAML::Node& n, const std::string& ctx, bool check = true) const {
    if (check) check_keys(file, n, ctx, {"shape", "precision", "shared_with"});
    Tensor t;
    const YAML::Node sh = require(file, n, ctx, "shape");
    if (!sh.IsSequence()) fail(sh, ctx + ".shape: expected a list");
    for (std::size_t i = 0; i < sh.size(); ++i) {
      t.shape_expr.push_back(dim(sh[i], ctx + ".shape[" + std::to_string(i) + "]", false));
      t.shape.push_back(t.shape_expr.back().value);
    }
    shape_numel(t.shape, where(file, sh) + ": " + ctx + ".shape");
    t.precision = precision(require(file, n, ctx, "precision"), ctx + ".precision");
    return t;
  }

  PortRef ref(const YAML::Node& n, const std::string& ctx) const {
    const std::string s = as_string(file, n, ctx);
    PortRef r;
    const auto dot = s.rfind(".data_out_");
    if (dot != std::string::npos) {
      r.node = s.substr(0, dot);
      const std::string idx = s.substr(dot + 10);
      if (idx.empty() || idx.find_first_not_of("0123456789") != std::string::npos || idx.size() > 4)
        fail(n, ctx + ": bad output index in reference '" + s + "'");
      r.index = std::stoi(idx);
    } else {
      r.node = s;
    }
    if (r.node.empty()) fail(n, ctx + ": empty reference");
    return r;
  }

  AttrValue attr(const YAML::Node& n, const std::string& ctx) const {
    AttrValue a;
    if (n.IsSequence()) {
      a.kind = AttrValue::Kind::List;
      for (std::size_t i = 0; i < n.size(); ++i) a.list.push_back(dim(n[i], ctx, true));
      return a;
    }
    if (!n.IsScalar()) fail(n, ctx + ": attribute values must be scalars or lists");
    const std::string s = n.Scalar();
    if (s == "true" || s == "false") {
      a.kind = AttrValue::Kind::Bool;
      a.boolean = s == "true";
      return a;
    }
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    if (!s.empty() && *end == '\0') {
      if (!std::isfinite(v)) fail(n, ctx + ": attribute is not finite");
      a.kind = AttrValue::Kind::Number;
      a.number = v;
      return a;
    }
    a.kind = AttrValue::Kind::String;
    a.str = s;
    return a;
  }

  HwInfo hw(const YAML::Node& n, const std::string& ctx) const {
    HwInfo h;
    check_keys(file, n, ctx, {"device", "parallelism", "weights", "impl", "replica"});
    if (n["device"]) h.device = as_string(file, n["device"], ctx + ".device");
    if (const YAML::Node p = n["parallelism"]) {
      if (!p.IsMap()) fail(p, ctx + ".parallelism: expected a mapping port -> list");
      for (const auto& kv : p) {
        const std::string port = yaml::key_string(file, kv.first, ctx + ".parallelism");
        std::vector<std::int64_t> v;
        const YAML::Node& lst = kv.second;
        const std::string pctx = ctx + ".parallelism." + port;
        if (lst.IsScalar()) {
          v.push_back(as_int(file, lst, pctx));
        } else if (lst.IsSequence()) {
          for (std::size_t i = 0; i < lst.size(); ++i) v.push_back(as_int(file, lst[i], pctx));
        } else {
          fail(lst, pctx + ": expected a list of integers");
        }
        for (auto x : v)
          if (x <= 0) fail(lst, pctx + ": parallelism " + std::to_string(x) + " must be positive");
        h.parallelism[port] = v;
      }
    }
    if (const YAML::Node w = n["weights"]) {
      const std::string s = as_string(file, w, ctx + ".weights");
      if (s == "on_chip")
        h.weights = WeightPlace::OnChip;
      else if (s == "off_chip")
        h.weights = WeightPlace::OffChip;
      else
        fail(w, ctx + ".weights: expected on_chip or off_chip, got '" + s + "'");
      h.weights_given = true;
    }
    if (const YAML::Node i = n["impl"]) {
      h.impl = as_string(file, i, ctx + ".impl");
      if (h.impl != "dataflow" && h.impl != "systolic")
        fail(i, ctx + ".impl: expected dataflow or systolic, got '" + h.impl + "'");
    }
    if (const YAML::Node r = n["replica"]) {
      const std::string rctx = ctx + ".replica";
      if (!r.IsMap()) fail(r, rctx + ": expected {index: J, ways: K}");
      check_keys(file, r, rctx, {"index", "ways"});
      if (!r["index"] || !r["ways"]) fail(r, rctx + ": expected {index: J, ways: K}");
      const std::int64_t ways = as_int(file, r["ways"], rctx + ".ways");
      const std::int64_t index = as_int(file, r["index"], rctx + ".index");
      if (ways < 2 || ways > 64)
        fail(r, rctx + ".ways: " + std::to_string(ways) + ": expected 2..64");
      if (index < 0 || index >= ways)
        fail(r, rctx + ".index: " + std::to_string(index) + ": expected 0.." +
                    std::to_string(ways - 1));
      h.replica_ways = static_cast<int>(ways);
      h.replica_index = static_cast<int>(index);
    }
    return h;
  }

  template <typename F>
  void indexed_ports(const YAML::Node& m, const std::string& ctx, const std::string& prefix,
                     F f) const {
    if (!m.IsMap()) fail(m, ctx + ": expected a mapping " + prefix + "K -> ...");
    const std::size_t count = m.size();
    std::vector<std::string> seen;
    for (const auto& kv : m) {
      const std::string k = yaml::key_string(file, kv.first, ctx);
      for (const auto& x : seen)
        if (x == k) fail(kv.first, ctx + ": key '" + k + "' appears twice");
      seen.push_back(k);
      bool ok = k.rfind(prefix, 0) == 0 && k.size() > prefix.size() &&
                k.size() < prefix.size() + 4 &&
                k.find_first_not_of("0123456789", prefix.size()) == std::string::npos;
      if (!ok || static_cast<std::size_t>(std::stoi(k.substr(prefix.size()))) >= count)
        fail(kv.first, ctx + ": unexpected key '" + k + "' (expected " + prefix + "0.." + prefix +
                           std::to_string(count - 1) + ")");
    }
    for (std::size_t i = 0; i < count; ++i) f(i, m[prefix + std::to_string(i)]);
  }
};

/// Replicas (hw.replica) are read only by the same replica's nodes and by a collect at the
/// port of their index; a collect reads replica p of K at data_in_p.
void check_replicas(const Graph& g) {
  auto phase = [](const Node& n) {
    return n.hw.replica_ways > 1 ? "replica " + std::to_string(n.hw.replica_index) + " of " +
                                       std::to_string(n.hw.replica_ways)
                                 : std::string("every inference");
  };
  for (const Node& c : g.nodes) {
    const std::string at = g.file + ":" + std::to_string(c.line) + ": node '" + c.name + "'";
    const bool collect = c.op == "collect";
    if (collect && c.hw.replica_ways > 1)
      throw InputError(at + ": a collect cannot be a replica itself (hw.replica)");
    for (std::size_t a = 0; a < c.args.size(); ++a) {
      const Node* p = g.find_node(c.args[a].node);
      const int kp = p ? p->hw.replica_ways : 1, jp = p ? p->hw.replica_index : 0;
      if (collect) {
        if (kp != static_cast<int>(c.args.size()) || jp != static_cast<int>(a))
          throw InputError(at + ": op 'collect' reads data_in_" + std::to_string(a) + " from '" +
                           c.args[a].node + "' (" + (p ? phase(*p) : "a graph input") +
                           "), not replica " + std::to_string(a) + " of " +
                           std::to_string(c.args.size()) +
                           " (collects are made by mapping.replicate, docs/partitioning.md)");
        continue;
      }
      if (kp > 1 && (c.hw.replica_ways != kp || c.hw.replica_index != jp))
        throw InputError(at + " (" + phase(c) + ") reads '" + p->name + "' (" + phase(*p) +
                         "): a replica's output goes to the same replica's nodes or to a "
                         "collect");
    }
  }
  for (const PortRef& o : g.outputs) {
    const Node* p = g.find_node(o.node);
    if (p && p->hw.replica_ways > 1)
      throw InputError(g.file + ": output '" + o.node + "' is " + phase(*p) +
                       ": a graph output is read through a collect");
  }
}

}  // namespace

/// Checks a node's result shapes against its op rule (InputError prefixed by `at`).
static void check_shape_rule(const Graph& g, const Node& n, const std::string& at,
                             const std::string& when) {
  std::vector<Shape> in;
  for (const auto& a : n.args) in.push_back(g.tensor_of(a).shape);
  std::vector<Shape> out;
  try {
    out = find_op_schema(n.op)->infer(n, in);
  } catch (const InputError& e) {
    throw InputError(at + ": " + e.what());
  }
  for (std::size_t k = 0; k < out.size(); ++k)
    if (out[k] != n.results[k].shape)
      throw InputError(at + ": " + when + "data_out_" + std::to_string(k) + " shape " +
                       shape_to_string(n.results[k].shape) +
                       " does not match the op rule, which gives " + shape_to_string(out[k]));
}

/// One entry of `nodes:` (its names checked against `names`, which it extends).
Node load_node(const Loader& L, const YAML::Node& y, std::size_t i, std::set<std::string>& names) {
  const std::string& file = L.file;
  std::string ctx = "nodes[" + std::to_string(i) + "]";
  if (!y.IsMap()) L.fail(y, ctx + ": expected a mapping");
  Node n;
  n.line = y.Mark().line + 1;
  n.name = as_string(file, require(file, y, ctx, "name"), ctx + ".name");
  if (n.name.empty()) L.fail(y, ctx + ": empty node name");
  ctx = "node '" + n.name + "'";
  check_keys(file, y, ctx, {"name", "op", "args", "params", "attrs", "results", "hw", "implicit"});
  if (!names.insert(n.name).second) L.fail(y, ctx + ": duplicate name '" + n.name + "'");
  n.op = as_string(file, require(file, y, ctx, "op"), ctx + ".op");
  const OpSchema* rule = find_op_schema(n.op);
  if (!rule) L.fail(y["op"], ctx + ": unknown op '" + n.op + "'" + did_you_mean(n.op, op_names()));
  L.indexed_ports(require(file, y, ctx, "args"), ctx + ".args", "data_in_",
                  [&](std::size_t k, const YAML::Node& v) {
                    n.args.push_back(L.ref(v, ctx + ".args.data_in_" + std::to_string(k)));
                  });
  if (static_cast<int>(n.args.size()) < rule->min_inputs ||
      static_cast<int>(n.args.size()) > rule->max_inputs)
    L.fail(
        y["args"],
        ctx + ": op '" + n.op + "' takes " + std::to_string(rule->min_inputs) +
            (rule->max_inputs != rule->min_inputs ? ".." + std::to_string(rule->max_inputs) : "") +
            " inputs, got " + std::to_string(n.args.size()));
  // A parameter or attribute name the op declares; else an error naming the nearest one.
  auto check_allowed = [&](const YAML::Node& at, const std::string& name,
                           const std::vector<std::string>& allowed, const char* what) {
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end())
      L.fail(at, ctx + ": op '" + n.op + "' has no " + what + " '" + name + "'" +
                     did_you_mean(name, allowed));
  };
  if (const YAML::Node ps = y["params"]) {
    if (!ps.IsMap()) L.fail(ps, ctx + ".params: expected a mapping");
    for (const auto& kv : ps) {
      const std::string pn = yaml::key_string(file, kv.first, ctx + ".params");
      check_allowed(kv.first, pn, rule->params_allowed, "parameter");
      Param p;
      p.name = pn;
      p.tensor = L.tensor(kv.second, ctx + ".params." + pn);
      if (kv.second["shared_with"])
        p.shared_with =
            as_string(file, kv.second["shared_with"], ctx + ".params." + pn + ".shared_with");
      n.params.push_back(p);
    }
  }
  for (const auto& req : rule->params_required)
    if (!n.param(req)) L.fail(y, ctx + ": op '" + n.op + "' requires parameter '" + req + "'");
  if (const YAML::Node as = y["attrs"]) {
    if (!as.IsMap()) L.fail(as, ctx + ".attrs: expected a mapping");
    for (const auto& kv : as) {
      const std::string an = yaml::key_string(file, kv.first, ctx + ".attrs");
      check_allowed(kv.first, an, rule->attrs_allowed, "attribute");
      n.attrs[an] = L.attr(kv.second, ctx + ".attrs." + an);
    }
  }
  L.indexed_ports(
      require(file, y, ctx, "results"), ctx + ".results", "data_out_",
      [&](std::size_t k, const YAML::Node& v) {
        n.results.push_back(L.tensor(v, ctx + ".results.data_out_" + std::to_string(k)));
      });
  if (n.results.size() != 1)
    L.fail(y["results"], ctx + ": op '" + n.op + "' has exactly one result data_out_0");
  if (const YAML::Node h = y["hw"]) n.hw = L.hw(h, ctx + ".hw");
  if (const YAML::Node im = y["implicit"]) yaml::as_bool(file, im, ctx + ".implicit");
  return n;
}

/// A reference to a graph input or to a node's result; InputError naming `ctx` otherwise.
/// `index` maps node names to their entry in the file, `result_count` gives its results.
void check_ref(const Graph& g, const std::vector<std::size_t>& result_count,
               const std::unordered_map<std::string, std::size_t>& index,
               const std::vector<std::string>& all_names, const PortRef& r, const std::string& ctx,
               int line) {
  const std::string at = g.file + (line ? ":" + std::to_string(line) : "");
  if (g.find_input(r.node)) {
    if (r.index != 0)
      throw InputError(at + ": " + ctx + ": graph input '" + r.node + "' has only data_out_0");
    return;
  }
  auto it = index.find(r.node);
  if (it == index.end())
    throw InputError(at + ": " + ctx + ": reference to unknown node '" + r.node + "'" +
                     did_you_mean(r.node, all_names));
  if (r.index >= static_cast<int>(result_count[it->second]))
    throw InputError(at + ": " + ctx + ": node '" + r.node + "' has no data_out_" +
                     std::to_string(r.index));
}

/// The nodes of `raw` into g.nodes in topological order (Kahn, stable by file order);
/// InputError for a dangling reference or a cycle (naming it).
void sort_nodes(Graph& g, std::vector<Node>& raw,
                const std::unordered_map<std::string, std::size_t>& index,
                const std::vector<std::size_t>& result_count,
                const std::vector<std::string>& all_names) {
  const std::string& file = g.file;
  std::vector<int> indeg(raw.size(), 0);
  std::vector<std::vector<std::size_t>> succ(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i)
    for (std::size_t a = 0; a < raw[i].args.size(); ++a) {
      check_ref(g, result_count, index, all_names, raw[i].args[a],
                "node '" + raw[i].name + "' data_in_" + std::to_string(a), raw[i].line);
      auto it = index.find(raw[i].args[a].node);
      if (it != index.end()) {
        ++indeg[i];
        succ[it->second].push_back(i);
      }
    }
  std::vector<std::size_t> order;
  std::vector<bool> done(raw.size(), false);
  for (bool progress = true; progress && order.size() < raw.size();) {
    progress = false;
    for (std::size_t i = 0; i < raw.size(); ++i)
      if (!done[i] && indeg[i] == 0) {
        done[i] = true;
        order.push_back(i);
        for (auto s : succ[i]) --indeg[s];
        progress = true;
      }
  }
  if (order.size() < raw.size()) {
    // Walk predecessors from a node left over until one repeats: that is a cycle.
    std::size_t cur = 0;
    while (done[cur]) ++cur;
    std::vector<std::size_t> path;
    std::vector<int> pos(raw.size(), -1);
    while (pos[cur] < 0) {
      pos[cur] = static_cast<int>(path.size());
      path.push_back(cur);
      for (const auto& a : raw[cur].args) {
        auto it = index.find(a.node);
        if (it != index.end() && !done[it->second]) {
          cur = it->second;
          break;
        }
      }
    }
    std::string cyc;
    for (std::size_t k = static_cast<std::size_t>(pos[cur]); k < path.size(); ++k)
      cyc = "'" + raw[path[k]].name + "'" + (cyc.empty() ? "" : " -> ") + cyc;
    throw InputError(file + ": the graph has a cycle: " + cyc + " -> '" + raw[path.back()].name +
                     "'");
  }
  for (auto i : order) g.nodes.push_back(std::move(raw[i]));
  g.build_index();
}

/// hw.parallelism of node `n`: a known port, a rank and entries that divide its dims.
void check_parallelism(const Graph& g, const Node& n, const std::string& at) {
  for (const auto& [port, par] : n.hw.parallelism) {
    const Tensor* t = nullptr;
    if (port.rfind("data_in_", 0) == 0 && port.size() > 8 &&
        port.find_first_not_of("0123456789", 8) == std::string::npos &&
        std::stoul(port.substr(8)) < n.args.size())
      t = &g.tensor_of(n.args[std::stoul(port.substr(8))]);
    else if (port == "data_out_0")
      t = &n.results[0];
    else if (port == "weight" && n.param("weight"))
      t = &n.param("weight")->tensor;
    else
      throw InputError(at + ": hw.parallelism has unknown port '" + port + "'");
    if (par.size() > t->shape.size())
      throw InputError(at + ": hw.parallelism." + port + " has " + std::to_string(par.size()) +
                       " entries for a tensor of rank " + std::to_string(t->shape.size()));
    for (std::size_t k = 0; k < par.size(); ++k) {
      const std::int64_t d = t->shape[t->shape.size() - par.size() + k];
      if (par[k] > d)
        throw InputError(at + ": hw.parallelism." + port + "[" + std::to_string(k) +
                         "] = " + std::to_string(par[k]) + " exceeds the tensor dim " +
                         std::to_string(d) + " of " + shape_to_string(t->shape));
      if (d % par[k] != 0)
        throw InputError(at + ": hw.parallelism." + port + "[" + std::to_string(k) +
                         "] = " + std::to_string(par[k]) + " does not divide the tensor dim " +
                         std::to_string(d) + " of " + shape_to_string(t->shape));
    }
  }
}

/// Every shared_with names a parameter of the same shape.
void check_shared_params(const Graph& g) {
  const std::string& file = g.file;
  for (const auto& n : g.nodes)
    for (const auto& p : n.params)
      if (!p.shared_with.empty()) {
        const auto dot = p.shared_with.rfind('.');
        const Node* o =
            dot == std::string::npos ? nullptr : g.find_node(p.shared_with.substr(0, dot));
        const Param* op = o ? o->param(p.shared_with.substr(dot + 1)) : nullptr;
        if (!op || op->tensor.shape != p.tensor.shape)
          throw InputError(file + ":" + std::to_string(n.line) + ": node '" + n.name + "' param '" +
                           p.name + "': shared_with '" + p.shared_with +
                           "' names no parameter of the same shape");
      }
}

static Graph load_from_yaml(const YAML::Node& root, const std::string& file,
                            const std::map<std::string, std::int64_t>& dim_overrides) {
  Loader L{file, {}};
  if (!root || !root.IsMap())
    throw InputError(file + ": expected a mase-graph mapping at the top level");
  check_keys(file, root, "graph",
             {"format", "version", "name", "dims", "inputs", "nodes", "outputs", "attrs"});
  const std::string fmt = as_string(file, require(file, root, "graph", "format"), "format");
  if (fmt != "mase-graph")
    L.fail(root["format"], "format: expected 'mase-graph', got '" + fmt + "'");
  const auto version = as_int(file, require(file, root, "graph", "version"), "version");
  if (version != 1)
    L.fail(root["version"],
           "version: " + std::to_string(version) + " is not supported (expected 1)");
  Graph g;
  g.file = file;
  g.name = root["name"] ? as_string(file, root["name"], "name") : "graph";
  if (const YAML::Node d = root["dims"]) {
    if (!d.IsMap()) L.fail(d, "dims: expected a mapping name -> positive integer");
    for (const auto& kv : d) {
      const std::string k = yaml::key_string(file, kv.first, "dims");
      const auto v = as_int(file, kv.second, "dims." + k);
      if (v <= 0) L.fail(kv.second, "dims." + k + " = " + std::to_string(v) + " must be positive");
      g.dims[k] = v;
    }
  }
  for (const auto& [k, v] : dim_overrides) {
    if (!g.dims.count(k)) {
      std::vector<std::string> names;
      for (const auto& kv : g.dims) names.push_back(kv.first);
      throw InputError(file + ": workload.dims." + k + ": the graph has no dim '" + k + "'" +
                       did_you_mean(k, names));
    }
    if (v <= 0)
      throw InputError(file + ": workload.dims." + k + " = " + std::to_string(v) +
                       " must be positive");
    g.dims[k] = v;
  }
  L.dims = g.dims;

  std::set<std::string> names;
  const YAML::Node ins = require(file, root, "graph", "inputs");
  if (!ins.IsSequence() || ins.size() == 0) L.fail(ins, "inputs: expected a non-empty list");
  for (std::size_t i = 0; i < ins.size(); ++i) {
    const std::string ctx = "inputs[" + std::to_string(i) + "]";
    check_keys(file, ins[i], ctx, {"name", "shape", "precision"});
    GraphInput gi;
    gi.name = as_string(file, require(file, ins[i], ctx, "name"), ctx + ".name");
    gi.tensor = L.tensor(ins[i], ctx, false);
    if (!names.insert(gi.name).second) L.fail(ins[i], "duplicate name '" + gi.name + "'");
    g.inputs.push_back(gi);
  }

  const YAML::Node nodes = require(file, root, "graph", "nodes");
  if (!nodes.IsSequence() || nodes.size() == 0) L.fail(nodes, "nodes: expected a non-empty list");
  std::vector<Node> raw;
  for (std::size_t i = 0; i < nodes.size(); ++i) raw.push_back(load_node(L, nodes[i], i, names));

  // Resolve references and sort topologically.
  std::unordered_map<std::string, std::size_t> index;
  std::vector<std::size_t> result_count(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    index[raw[i].name] = i;
    result_count[i] = raw[i].results.size();
  }
  const std::vector<std::string> all_names(names.begin(), names.end());
  sort_nodes(g, raw, index, result_count, all_names);

  const YAML::Node outs = require(file, root, "graph", "outputs");
  if (!outs.IsSequence() || outs.size() == 0) L.fail(outs, "outputs: expected a non-empty list");
  for (std::size_t i = 0; i < outs.size(); ++i) {
    PortRef r = L.ref(outs[i], "outputs[" + std::to_string(i) + "]");
    check_ref(g, result_count, index, all_names, r, "outputs[" + std::to_string(i) + "]",
              outs[i].Mark().line + 1);
    g.outputs.push_back(r);
  }
  g.build_index();
  check_replicas(g);

  // Shape rules.
  for (const auto& n : g.nodes) {
    const std::string at =
        file + ":" + std::to_string(n.line) + ": node '" + n.name + "' (" + n.op + ")";
    check_shape_rule(g, n, at, "");
    check_parallelism(g, n, at);
  }
  check_shared_params(g);
  return g;
}

Graph load_graph(const std::string& path,
                 const std::map<std::string, std::int64_t>& dim_overrides) {
  return load_from_yaml(yaml::load_file(path), path, dim_overrides);
}

Graph load_graph_yaml(const YAML::Node& root, const std::string& label,
                      const std::map<std::string, std::int64_t>& dim_overrides) {
  return load_from_yaml(root, label, dim_overrides);
}

Graph rebind_dims(const Graph& g0, const std::map<std::string, std::int64_t>& dims) {
  Graph g = g0;
  for (const auto& [k, v] : dims) {
    if (!g.dims.count(k)) throw InputError(g.file + ": the graph has no dim '" + k + "'");
    if (v <= 0)
      throw InputError(g.file + ": dim " + k + " = " + std::to_string(v) + " must be positive");
    g.dims[k] = v;
  }
  auto value = [&](const DimExpr& e) { return e.name.empty() ? e.value : g.dims.at(e.name); };
  auto resolve = [&](Tensor& t) {
    for (std::size_t i = 0; i < t.shape_expr.size() && i < t.shape.size(); ++i)
      t.shape[i] = value(t.shape_expr[i]);
  };
  for (auto& in : g.inputs) resolve(in.tensor);
  for (auto& n : g.nodes) {
    for (auto& p : n.params) resolve(p.tensor);
    for (auto& r : n.results) resolve(r);
    for (auto& [k, a] : n.attrs)
      if (a.kind == AttrValue::Kind::List)
        for (auto& e : a.list)
          if (!e.name.empty()) e.value = value(e);
  }
  for (const auto& n : g.nodes)
    check_shape_rule(
        g, n, g.file + ":" + std::to_string(n.line) + ": node '" + n.name + "' (" + n.op + ")",
        "with dims rebound, ");
  return g;
}

Graph load_graph_text(const std::string& text, const std::string& label,
                      const std::map<std::string, std::int64_t>& dim_overrides) {
  return load_from_yaml(yaml::load_text(text, label), label, dim_overrides);
}

}  // namespace masesim
