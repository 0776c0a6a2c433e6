// Tensor-parallel rewrite of a mase-graph tree (Megatron-LM / DFX style), optionally with
// tensor groups inside pipeline stages.
//
// Detection (structural, no names): every layer_norm whose output feeds linears starts a
// *block*. Those linears are column-parallel; the nodes they feed are the sharded region,
// followed forward until linears (row-parallel). Each row-parallel linear must reach a
// residual `add` through a chain of dropout/contiguous nodes. The sharded axis of every
// region tensor is tracked through elementwise ops, view/reshape/flatten (the axis whose
// suffix product matches), transpose/permute and matmul/bmm batch dims; anything else in a
// region is an error. A layer_norm -> linear whose output is a graph output is the LM head.
// Blocks with a matmul (attention) start a new transformer layer; the following blocks
// (MLP) belong to it.
//
// Rewrite (t = tp, rank g): column-parallel linears keep out/t rows of weight and bias,
// region shapes (and view/reshape `shape` attrs) divide the sharded axis by t, row-parallel
// linears keep in/t columns of the weight (the bias is kept on every shard); the LM head
// may split unevenly (rank g keeps v/t rows, one more for the first v % t ranks: GPT-2's
// 50,257) and its slices are gathered by one cat. Each partial
// sum is all-reduced with slice/add/contiguous/cat nodes (ring or direct, see
// emit_all_reduce). Everything else is replicated on every rank of its stage.
#include "sim/llm/tensor_parallel.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <functional>
#include <map>
#include <queue>
#include <set>
#include <tuple>
#include <unordered_map>

#include "models/ops/registry.hpp"
#include "sim/mapping/graph_rewrite.hpp"
#include "workloads/error.hpp"
#include "workloads/yaml_util.hpp"

namespace masesim {
namespace {

using rewrite::make_node;
using yaml::as_int;
using yaml::as_string;
using yaml::where;

struct Ref {
  int node = -1;  ///< -1: graph input
  int port = 0;
  std::string text;
};

struct Use {
  int node = 0;
  int arg = 0;
  int port = 0;
};

enum class Role { Replicated, Column, Region, Row, Head };

struct Node {
  YAML::Node y;
  std::string name, op;
  ops::TpShard tp = ops::TpShard::None;  ///< the op's role (models/ops), None if unknown
  std::vector<std::string> arg_keys;     ///< data_in_0.. in index order
  std::vector<Ref> args;
  std::vector<std::string> out_keys;
  std::vector<std::vector<std::int64_t>> outs;  ///< resolved result shapes, per port
  std::vector<Use> uses;                        ///< consumers (all ports)
  int output_uses = 0;                          ///< references from the graph's outputs
  Role role = Role::Replicated;
  int block = -1;      ///< block it belongs to (sharded nodes, tails, joined layer norm)
  int axis = -1;       ///< sharded axis of data_out_0 (Column, Region, Head)
  int attr_axis = -1;  ///< view/reshape: entry of attrs.shape that is divided
  int stage = 0;
  int topo = 0;
};

struct Block {
  int ln = -1;
  std::vector<int> column, region, row;
  std::vector<int> tail;  ///< dropout/contiguous chains and the residual adds
  bool attention = false;
  std::vector<std::pair<int, std::int64_t>> splits;  ///< (view node, heads)
  int order = 0;                                     ///< topo position of its last residual add
  int layer = 0;
};

std::int64_t mod(std::int64_t a, std::int64_t m) {
  return ((a % m) + m) % m;
}

bool is_int_scalar(const YAML::Node& n) {
  if (!n.IsScalar()) return false;
  const std::string& s = n.Scalar();
  return !s.empty() &&
         (std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '-' || s[0] == '+');
}

class Rewriter {
 public:
  Rewriter(const YAML::Node& root, const std::string& file, const TensorParallelSpec& spec,
           TensorParallelReport& rep)
      : root_(root), file_(file), spec_(spec), rep_(rep), t_(spec.tp) {}

  YAML::Node run() {
    check_spec();
    parse();
    order();
    for (int i : topo_)
      if (nodes_[i].tp == ops::TpShard::Norm) find_block(i);
    if (blocks_.empty())
      throw InputError(file_ +
                       ": no transformer layer found: tensor parallelism needs a layer_norm "
                       "whose output feeds linear(s) leading, through a sharded region, to "
                       "linear(s) whose output goes into a residual add");
    check_divisible();
    assign_layers_and_stages();
    return emit();
  }

 private:
  const YAML::Node& root_;
  const std::string& file_;
  const TensorParallelSpec& spec_;
  TensorParallelReport& rep_;
  const int t_;

  std::map<std::string, std::int64_t> dims_;
  std::set<std::string> inputs_;
  std::vector<Node> nodes_;
  std::unordered_map<std::string, int> index_;
  std::vector<Ref> outputs_;
  std::vector<int> topo_;
  std::vector<Block> blocks_;
  std::vector<int> heads_;
  int last_stage_ = 0;

  // Emission state.
  YAML::Node out_nodes_;
  std::map<std::tuple<int, int, int, int>, std::string> pipes_;
  std::set<std::string> noted_;

  [[noreturn]] void fail(int i, const std::string& msg) const {
    throw InputError(where(file_, nodes_[static_cast<std::size_t>(i)].y) + ": node '" +
                     nodes_[static_cast<std::size_t>(i)].name + "': " + msg);
  }

  Node& nd(int i) { return nodes_[static_cast<std::size_t>(i)]; }
  const Node& nd(int i) const { return nodes_[static_cast<std::size_t>(i)]; }

  void note(const std::string& s) {
    if (noted_.insert(s).second) rep_.notes.push_back(s);
  }

  std::string tps() const { return "tp=" + std::to_string(t_); }

  // ---------------------------------------------------------------------------------
  void check_spec() const {
    const std::string at = file_ + ": tensor-parallel spec: ";
    if (spec_.tp < 1) throw InputError(at + "tp = " + std::to_string(spec_.tp) + " must be >= 1");
    if (spec_.stages < 1)
      throw InputError(at + "stages = " + std::to_string(spec_.stages) + " must be >= 1");
    if (spec_.tp > 64)
      throw InputError(at + "tp = " + std::to_string(spec_.tp) +
                       " is above 64, the most inputs a cat node takes");
    const std::size_t want = static_cast<std::size_t>(spec_.tp) * spec_.stages;
    if (spec_.devices.size() != want)
      throw InputError(at + std::to_string(spec_.devices.size()) +
                       " devices given, tp*stages = " + std::to_string(spec_.tp) + "*" +
                       std::to_string(spec_.stages) + " = " + std::to_string(want) + " needed");
    std::set<std::string> seen;
    for (const auto& d : spec_.devices) {
      if (d.empty()) throw InputError(at + "empty device name");
      if (!seen.insert(d).second) throw InputError(at + "device '" + d + "' is listed twice");
    }
    if (spec_.algorithm != "ring" && spec_.algorithm != "direct")
      throw InputError(at + "unknown all-reduce algorithm '" + spec_.algorithm + "'" +
                       did_you_mean(spec_.algorithm, {"ring", "direct"}));
  }

  std::int64_t resolve(const YAML::Node& d, const std::string& ctx) const {
    if (is_int_scalar(d)) return as_int(file_, d, ctx);
    const std::string s = as_string(file_, d, ctx);
    const auto it = dims_.find(s);
    if (it == dims_.end())
      throw InputError(where(file_, d) + ": " + ctx + ": unknown dim '" + s + "'");
    return it->second;
  }

  std::vector<std::int64_t> shape_of(const YAML::Node& sh, const std::string& ctx) const {
    if (!sh || !sh.IsSequence())
      throw InputError(where(file_, sh) + ": " + ctx + ": expected a list");
    std::vector<std::int64_t> v;
    for (std::size_t k = 0; k < sh.size(); ++k) v.push_back(resolve(sh[k], ctx));
    return v;
  }

  static int port_index(const std::string& key, const std::string& prefix) {
    if (key.compare(0, prefix.size(), prefix) != 0) return -1;
    const std::string idx = key.substr(prefix.size());
    if (idx.empty() || idx.size() > 4 || idx.find_first_not_of("0123456789") != std::string::npos)
      return -1;
    return std::stoi(idx);
  }

  Ref parse_ref(const std::string& s, const YAML::Node& at, const std::string& ctx) const {
    Ref r;
    r.text = s;
    if (auto it = index_.find(s); it != index_.end()) {
      r.node = it->second;
      return r;
    }
    if (inputs_.count(s)) return r;
    const auto dot = s.rfind(".data_out_");
    if (dot != std::string::npos) {
      auto it = index_.find(s.substr(0, dot));
      const int p = port_index(s.substr(dot + 1), "data_out_");
      if (it != index_.end() && p >= 0) {
        r.node = it->second;
        r.port = p;
        return r;
      }
    }
    throw InputError(where(file_, at) + ": " + ctx + ": reference '" + s + "' resolves to nothing");
  }

  void parse() {
    if (!root_.IsMap()) throw InputError(file_ + ": not a mase-graph (expected a mapping)");
    if (const YAML::Node d = root_["dims"]) {
      if (!d.IsMap()) throw InputError(where(file_, d) + ": dims: expected a mapping");
      for (const auto& kv : d)
        dims_[yaml::key_string(file_, kv.first, "dims")] = as_int(file_, kv.second, "dims");
    }
    if (const YAML::Node in = root_["inputs"]) {
      if (!in.IsSequence()) throw InputError(where(file_, in) + ": inputs: expected a list");
      for (std::size_t k = 0; k < in.size(); ++k)
        inputs_.insert(
            as_string(file_, yaml::require(file_, in[k], "inputs", "name"), "inputs.name"));
    }
    const YAML::Node ns = root_["nodes"];
    if (!ns || !ns.IsSequence()) throw InputError(file_ + ": not a mase-graph: no 'nodes' list");
    nodes_.resize(ns.size());
    for (std::size_t k = 0; k < ns.size(); ++k) {
      Node& n = nodes_[k];
      n.y = ns[k];
      const YAML::Node& y = n.y;
      const std::string ctx = "nodes[" + std::to_string(k) + "]";
      if (!y.IsMap()) throw InputError(where(file_, y) + ": " + ctx + ": expected a mapping");
      n.name = as_string(file_, yaml::require(file_, y, ctx, "name"), ctx + ".name");
      n.op = as_string(file_, yaml::require(file_, y, ctx, "op"), ctx + ".op");
      if (const ops::OpDescriptor* d = ops::find(n.op)) n.tp = d->tp;
      if (!index_.emplace(n.name, static_cast<int>(k)).second || inputs_.count(n.name))
        throw InputError(where(file_, n.y) + ": node '" + n.name + "': name used twice");
    }
    for (std::size_t k = 0; k < ns.size(); ++k) {
      Node& n = nodes_[k];
      const YAML::Node& y = n.y;  // read only: never touch the caller's tree
      const std::string ctx = "node '" + n.name + "'";
      std::vector<std::pair<int, std::string>> keys;
      if (const YAML::Node a = y["args"]) {
        if (!a.IsMap())
          throw InputError(where(file_, a) + ": " + ctx + ".args: expected a mapping");
        for (const auto& kv : a) {
          const std::string key = yaml::key_string(file_, kv.first, ctx + ".args");
          const int p = port_index(key, "data_in_");
          if (p < 0)
            throw InputError(where(file_, a) + ": " + ctx + ".args: bad key '" + key + "'");
          keys.emplace_back(p, key);
        }
      }
      std::sort(keys.begin(), keys.end());
      for (const auto& [p, key] : keys) {
        const YAML::Node v = y["args"][key];
        n.arg_keys.push_back(key);
        n.args.push_back(
            parse_ref(as_string(file_, v, ctx + ".args." + key), v, ctx + ".args." + key));
      }
      const YAML::Node res = y["results"];
      if (!res || !res.IsMap())
        throw InputError(where(file_, y) + ": " + ctx + ": 'results' must be a mapping");
      std::vector<std::pair<int, std::string>> rkeys;
      for (const auto& kv : res) {
        const std::string key = yaml::key_string(file_, kv.first, ctx + ".results");
        const int p = port_index(key, "data_out_");
        if (p < 0)
          throw InputError(where(file_, res) + ": " + ctx + ".results: bad key '" + key + "'");
        rkeys.emplace_back(p, key);
      }
      std::sort(rkeys.begin(), rkeys.end());
      for (const auto& [p, key] : rkeys) {
        if (p != static_cast<int>(n.outs.size()))
          throw InputError(where(file_, res) + ": " + ctx +
                           ".results: ports must be data_out_0..N");
        n.out_keys.push_back(key);
        n.outs.push_back(shape_of(res[key]["shape"], ctx + ".results." + key + ".shape"));
      }
      if (n.outs.empty()) throw InputError(where(file_, n.y) + ": " + ctx + ": no results");
    }
    for (std::size_t k = 0; k < nodes_.size(); ++k)
      for (std::size_t a = 0; a < nodes_[k].args.size(); ++a) {
        const Ref& r = nodes_[k].args[a];
        if (r.node >= 0) {
          if (r.port >= static_cast<int>(nd(r.node).outs.size()))
            fail(static_cast<int>(k), "reference '" + r.text + "' names a missing output");
          nd(r.node).uses.push_back({static_cast<int>(k), static_cast<int>(a), r.port});
        }
      }
    const YAML::Node outs = root_["outputs"];
    if (!outs || !outs.IsSequence()) throw InputError(file_ + ": 'outputs' must be a list");
    for (std::size_t k = 0; k < outs.size(); ++k) {
      outputs_.push_back(parse_ref(as_string(file_, outs[k], "outputs"), outs[k], "outputs"));
      if (outputs_.back().node >= 0) ++nd(outputs_.back().node).output_uses;
    }
  }

  void order() {
    std::vector<int> indeg(nodes_.size(), 0);
    for (std::size_t k = 0; k < nodes_.size(); ++k)
      for (const Ref& r : nodes_[k].args)
        if (r.node >= 0) ++indeg[k];
    std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
    for (std::size_t k = 0; k < nodes_.size(); ++k)
      if (indeg[k] == 0) ready.push(static_cast<int>(k));
    while (!ready.empty()) {
      const int i = ready.top();
      ready.pop();
      nd(i).topo = static_cast<int>(topo_.size());
      topo_.push_back(i);
      for (const Use& u : nd(i).uses)
        if (--indeg[static_cast<std::size_t>(u.node)] == 0) ready.push(u.node);
    }
    if (topo_.size() != nodes_.size())
      for (std::size_t k = 0; k < nodes_.size(); ++k)
        if (indeg[k] > 0) fail(static_cast<int>(k), "is on a cycle");
  }

  // ---------------------------------------------------------------------------------
  bool in_block(int i, int b) const {
    const Node& n = nd(i);
    return n.block == b &&
           (n.role == Role::Column || n.role == Role::Region || n.role == Role::Row);
  }

  bool sharded_in(int i, int b) const {
    const Node& n = nd(i);
    return n.block == b && (n.role == Role::Column || n.role == Role::Region);
  }

  std::int64_t attr_int(int i, const char* key, std::int64_t dflt) const {
    const YAML::Node a = nd(i).y["attrs"];
    if (!a || !a[key]) return dflt;
    return as_int(file_, a[key], "node '" + nd(i).name + "'.attrs." + key);
  }

  int norm_dim(int i, std::int64_t d, std::size_t rank, const char* what) const {
    const std::int64_t r = static_cast<std::int64_t>(rank);
    if (d < -r || d >= r) fail(i, std::string(what) + " " + std::to_string(d) + " out of range");
    return static_cast<int>(d < 0 ? d + r : d);
  }

  /// The columns of block `b` and everything they reach up to the row-parallel linears
  /// (breadth first): the region's nodes and its rows.
  void grow_region(int b, Block& blk, const std::vector<int>& cols) {
    std::queue<int> q;
    for (int c : cols) {
      nd(c).role = Role::Column;
      nd(c).block = b;
      q.push(c);
    }
    while (!q.empty()) {
      const int x = q.front();
      q.pop();
      if (nd(x).output_uses > 0)
        fail(x, "is a graph output inside a tensor-parallel region (the region fed by '" +
                    nd(cols[0]).name + "' must end in linear(s) feeding a residual add)");
      for (const Use& u : nd(x).uses) {
        Node& c = nd(u.node);
        if (in_block(u.node, b)) continue;
        if (c.role != Role::Replicated || c.block >= 0)
          fail(u.node, "is reached from two tensor-parallel regions (from '" + nd(x).name + "')");
        c.block = b;
        if (c.tp == ops::TpShard::Linear) {
          c.role = Role::Row;
          blk.row.push_back(u.node);
        } else {
          c.role = Role::Region;
          blk.region.push_back(u.node);
          q.push(u.node);
        }
      }
    }
  }

  /// From row-parallel linear `r` of block `b` (through dropout/contiguous) to its residual
  /// add, which sets the block's order; `origin` ends the messages.
  void follow_row_to_residual(int r, int b, Block& blk, const std::string& origin) {
    const Node& n = nd(r);
    int cur = r;
    for (;;) {
      const Node& c = nd(cur);
      if (c.uses.size() != 1 || c.output_uses > 0)
        fail(cur, "the output of row-parallel linear '" + n.name +
                      "' must go (possibly through dropout) into exactly one residual add" +
                      origin);
      const Use u = c.uses[0];
      Node& nx = nd(u.node);
      if (nx.role != Role::Replicated || nx.block >= 0)
        fail(u.node, "belongs to two transformer blocks");
      nx.block = b;
      blk.tail.push_back(u.node);
      if (nx.tp == ops::TpShard::Identity && nx.args.size() == 1) {
        cur = u.node;
        continue;
      }
      if (nx.tp == ops::TpShard::ResidualAdd && nx.args.size() == 2) {
        const Ref& other = nx.args[static_cast<std::size_t>(1 - u.arg)];
        if (other.node >= 0 && nd(other.node).block == b && nd(other.node).role != Role::Replicated)
          fail(u.node, "residual add takes both operands from the tensor-parallel region");
        blk.order = std::max(blk.order, nx.topo);
        break;
      }
      fail(u.node, "expected the residual add after row-parallel linear '" + n.name +
                       "' (through dropout/contiguous), found op '" + nx.op + "'" + origin);
    }
  }

  void find_block(int ln) {
    std::vector<int> cols;
    for (const Use& u : nd(ln).uses) {
      Node& c = nd(u.node);
      if (c.tp == ops::TpShard::Linear && c.role == Role::Replicated && c.block < 0 &&
          u.port == 0 && std::find(cols.begin(), cols.end(), u.node) == cols.end())
        cols.push_back(u.node);
    }
    if (cols.empty()) return;
    std::sort(cols.begin(), cols.end(), [&](int a, int b) { return nd(a).topo < nd(b).topo; });

    // LM head: a single linear whose output leaves the graph and feeds nothing else.
    if (cols.size() == 1 && nd(cols[0]).uses.empty() && nd(cols[0]).output_uses > 0) {
      Node& h = nd(cols[0]);
      if (h.outs.size() != 1) fail(cols[0], "a linear must have one result");
      h.role = Role::Head;
      h.axis = static_cast<int>(h.outs[0].size()) - 1;
      heads_.push_back(cols[0]);
      return;
    }

    const int b = static_cast<int>(blocks_.size());
    blocks_.emplace_back();
    Block blk;
    blk.column = cols;
    grow_region(b, blk, cols);
    if (blk.row.empty())
      fail(cols[0],
           "the region fed by this linear (which consumes layer norm '" + nd(ln).name +
               "') reaches no linear whose output goes into a residual add: not a transformer "
               "layer");
    auto by_topo = [&](int a, int c) { return nd(a).topo < nd(c).topo; };
    std::sort(blk.region.begin(), blk.region.end(), by_topo);
    std::sort(blk.row.begin(), blk.row.end(), by_topo);

    for (int c : cols) {
      Node& n = nd(c);
      if (n.outs.size() != 1) fail(c, "a linear must have one result");
      n.axis = static_cast<int>(n.outs[0].size()) - 1;
    }
    for (int r : blk.region) propagate(r, b, blk);
    const std::string origin = " (in the tensor-parallel region that starts at linear '" +
                               nd(cols[0]).name + "' after layer norm '" + nd(ln).name +
                               "': not a transformer layer)";
    for (int r : blk.row) {
      const Node& n = nd(r);
      if (n.args.size() != 1 || n.args[0].node < 0 || !sharded_in(n.args[0].node, b))
        fail(r, "row-parallel linear must take its input from the tensor-parallel region");
      const Node& p = nd(n.args[0].node);
      if (p.axis != static_cast<int>(p.outs[0].size()) - 1)
        fail(r, "row-parallel linear: its input '" + p.name + "' is sharded on dim " +
                    std::to_string(p.axis) + ", not on the input features");
      if (n.outs.size() != 1) fail(r, "a linear must have one result");
      follow_row_to_residual(r, b, blk, origin);
    }
    // Pre-LN: the layer norm belongs to the block when only the block consumes it.
    bool own = nd(ln).block < 0 && nd(ln).output_uses == 0;
    for (const Use& u : nd(ln).uses)
      if (nd(u.node).block != b) own = false;
    if (own) {
      nd(ln).block = b;
      blk.ln = ln;
    }
    for (int r : blk.region)
      if (nd(r).tp == ops::TpShard::BatchedMatmul) blk.attention = true;
    blocks_[static_cast<std::size_t>(b)] = std::move(blk);
  }

  /// Sharded axis of a region node's output from its inputs' axes.
  void propagate(int i, int b, Block& blk) {
    Node& n = nd(i);
    const YAML::Node& y = n.y;  // read only
    if (n.outs.size() != 1)
      fail(i, "ops with several results are not supported in a tensor-parallel region");
    for (const Ref& r : n.args)
      if (r.node < 0 || !sharded_in(r.node, b) || r.port != 0)
        fail(i, "consumes '" + r.text +
                    "' from outside the tensor-parallel region (only data computed by the "
                    "column-parallel linears can be sharded)");
    if (n.args.empty()) fail(i, "has no inputs");
    const auto& out = n.outs[0];
    const int rank = static_cast<int>(out.size());
    const Node& a0 = nd(n.args[0].node);
    const auto& in0 = a0.outs[0];
    const std::string& op = n.op;
    using ops::TpShard;
    auto from_end = [](const Node& p) { return static_cast<int>(p.outs[0].size()) - p.axis; };
    if (n.tp == TpShard::Pointwise || n.tp == TpShard::Identity || n.tp == TpShard::ResidualAdd ||
        n.tp == TpShard::RowReduce) {
      if (n.args.size() == 2) {
        const Node& a1 = nd(n.args[1].node);
        if (from_end(a0) != from_end(a1))
          fail(i, "its operands '" + a0.name + "' and '" + a1.name +
                      "' are sharded on different dims");
      }
      n.axis = rank - from_end(a0);
      if (n.axis < 0) fail(i, "cannot follow the sharded dim");
      if (n.tp == TpShard::RowReduce &&
          norm_dim(i, attr_int(i, "dim", -1), out.size(), "dim") == n.axis)
        fail(i, "softmax over the sharded dim " + std::to_string(n.axis) + " is not supported");
      return;
    }
    if (n.tp == TpShard::Reshape || n.tp == TpShard::Flatten) {
      std::int64_t suffix = 1;
      for (std::size_t k = static_cast<std::size_t>(a0.axis); k < in0.size(); ++k) suffix *= in0[k];
      std::int64_t s = 1;
      int found = -1;
      for (int k = rank - 1; k >= 0; --k) {
        s *= out[static_cast<std::size_t>(k)];
        if (s == suffix && out[static_cast<std::size_t>(k)] > 1) found = k;
        if (s > suffix) break;
      }
      if (found < 0)
        fail(i, "cannot follow the sharded dim " + std::to_string(a0.axis) + " of " + a0.name +
                    " through this " + op);
      n.axis = found;
      const std::int64_t m = out[static_cast<std::size_t>(found)];
      if (m < in0[static_cast<std::size_t>(a0.axis)]) blk.splits.emplace_back(i, m);
      if (n.tp == TpShard::Reshape) {
        const YAML::Node sh = y["attrs"] ? y["attrs"]["shape"] : YAML::Node();
        if (!sh || !sh.IsSequence() || static_cast<int>(sh.size()) != rank)
          fail(i, "attrs.shape must list one entry per result dim");
        n.attr_axis = found;
      }
      return;
    }
    if (n.tp == TpShard::Transpose) {
      const int d0 = norm_dim(i, attr_int(i, "dim0", -2), out.size(), "dim0");
      const int d1 = norm_dim(i, attr_int(i, "dim1", -1), out.size(), "dim1");
      n.axis = a0.axis == d0 ? d1 : a0.axis == d1 ? d0 : a0.axis;
      return;
    }
    if (n.tp == TpShard::Permute) {
      const YAML::Node d = y["attrs"] ? y["attrs"]["dims"] : YAML::Node();
      if (!d || !d.IsSequence()) fail(i, "permute needs attrs.dims");
      for (std::size_t k = 0; k < d.size(); ++k)
        if (norm_dim(i, as_int(file_, d[k], "dims"), out.size(), "dims") == a0.axis)
          n.axis = static_cast<int>(k);
      if (n.axis < 0) fail(i, "cannot follow the sharded dim through this permute");
      return;
    }
    if (n.tp == TpShard::BatchedMatmul) {
      if (n.args.size() != 2) fail(i, op + " needs two operands");
      const Node& a1 = nd(n.args[1].node);
      if (from_end(a0) != from_end(a1) || from_end(a0) < 3)
        fail(i, op + " of '" + a0.name + "' and '" + a1.name +
                    "' must have both operands sharded on the same batch (head) dim");
      n.axis = rank - from_end(a0);
      return;
    }
    fail(i, "op '" + op + "' is not supported inside a tensor-parallel region");
  }

  // ---------------------------------------------------------------------------------
  void check_divisible() const {
    const std::int64_t t = t_;
    for (const Block& blk : blocks_) {
      for (const auto& [v, h] : blk.splits)
        if (h % t != 0)
          fail(v, std::to_string(h) + (blk.attention ? " attention heads" : " groups") +
                      " are not divisible by " + tps() +
                      " (each rank of a tensor-parallel group must hold whole heads)");
      for (int c : blk.column) {
        const std::int64_t f = nd(c).outs[0].back();
        if (f % t != 0)
          fail(c, (blk.attention ? "out_features " : "FFN width (out_features) ") +
                      std::to_string(f) + " is not divisible by " + tps());
      }
      for (int r : blk.region) {
        const Node& n = nd(r);
        const YAML::Node e =
            n.y["results"][n.out_keys[0]]["shape"][static_cast<std::size_t>(n.axis)];
        if (!is_int_scalar(e))
          fail(r, "the sharded dim " + std::to_string(n.axis) + " is the symbolic dim '" +
                      e.Scalar() + "' (it cannot be split across devices)");
        if (n.outs[0][static_cast<std::size_t>(n.axis)] % t != 0)
          fail(r, "dim " + std::to_string(n.axis) + " of size " +
                      std::to_string(n.outs[0][static_cast<std::size_t>(n.axis)]) +
                      " is not divisible by " + tps());
        if (n.attr_axis >= 0) {
          const YAML::Node a = n.y["attrs"]["shape"][static_cast<std::size_t>(n.attr_axis)];
          if (!is_int_scalar(a))
            fail(r, "attrs.shape[" + std::to_string(n.attr_axis) + "] is the symbolic dim '" +
                        a.Scalar() + "' but it is the sharded dim");
        }
      }
      for (int r : blk.row) {
        const std::int64_t d = nd(r).outs[0].back();
        if (d % t != 0)
          fail(r, "hidden size " + std::to_string(d) + " is not divisible by " + tps() +
                      " (the all-reduce cuts the partial sum into tp chunks)");
      }
    }
    // The LM head may split unevenly: rank g holds vocab_share(v, t, g) rows (GPT-2's 50,257).
    for (int h : heads_)
      if (nd(h).outs[0].back() < t)
        fail(h, "vocab size " + std::to_string(nd(h).outs[0].back()) +
                    " (out_features of the LM head) is smaller than " + tps());
  }

  /// Rows of a dimension of `total` that rank `g` of `t` holds: the first total % t ranks
  /// one more than the others.
  static std::int64_t vocab_share(std::int64_t total, std::int64_t t, int g) {
    return total / t + (g < total % t ? 1 : 0);
  }
  static void share(YAML::Node seq, std::size_t k, std::int64_t t, int g) {
    YAML::Node e = seq[k];
    e = std::to_string(vocab_share(e.as<std::int64_t>(), t, g));
  }

  void assign_layers_and_stages() {
    std::vector<int> order(blocks_.size());
    for (std::size_t k = 0; k < order.size(); ++k) order[k] = static_cast<int>(k);
    std::sort(order.begin(), order.end(), [&](int a, int b) {
      return blocks_[static_cast<std::size_t>(a)].order <
             blocks_[static_cast<std::size_t>(b)].order;
    });
    const bool any_attention =
        std::any_of(blocks_.begin(), blocks_.end(), [](const Block& b) { return b.attention; });
    int layer = -1;
    for (int b : order) {
      Block& blk = blocks_[static_cast<std::size_t>(b)];
      if (layer < 0 || blk.attention || !any_attention) ++layer;
      blk.layer = layer;
    }
    const int layers = layer + 1;
    rep_.layers = layers;
    if (spec_.stages > layers)
      throw InputError(file_ + ": " + std::to_string(spec_.stages) +
                       " pipeline stages but the graph has only " + std::to_string(layers) +
                       " transformer layers");
    const int base = layers / spec_.stages, extra = layers % spec_.stages;
    rep_.layer_stage.clear();
    for (int s = 0; s < spec_.stages; ++s)
      for (int k = 0; k < base + (s < extra ? 1 : 0); ++k) rep_.layer_stage.push_back(s);
    last_stage_ = spec_.stages - 1;
    for (int i : topo_) {
      Node& n = nd(i);
      if (n.block >= 0) {
        n.stage = rep_.layer_stage[static_cast<std::size_t>(
            blocks_[static_cast<std::size_t>(n.block)].layer)];
      } else if (n.role == Role::Head) {
        n.stage = last_stage_;
      } else {
        n.stage = 0;
        for (const Ref& r : n.args)
          if (r.node >= 0) n.stage = std::max(n.stage, nd(r.node).stage);
      }
    }
  }

  // ---------------------------------------------------------------------------------
  const std::string& device(int stage, int rank) const {
    return spec_.devices[static_cast<std::size_t>(stage * t_ + rank)];
  }

  static std::string at_rank(const std::string& name, int rank) {
    return name + "@r" + std::to_string(rank);
  }

  /// Name the rank-`g` copy of a consumer on `stage` uses for reference `r`.
  std::string ref_text(const Ref& r, int g, int stage) {
    if (r.node < 0) return r.text;
    const Node& p = nd(r.node);
    std::string local;
    if (p.role == Role::Row && t_ > 1)
      local =
          at_rank(p.name + (spec_.gather_rows ? ".allreduce.gather_out.cat" : ".allreduce.cat"), g);
    else if (p.role == Role::Head && t_ > 1)
      local = at_rank(p.name + ".cat", 0);
    else
      local = at_rank(p.name, g) + (r.port ? ".data_out_" + std::to_string(r.port) : "");
    if (p.stage == stage) return local;
    // Pipeline boundary: one receiving node per producer port, stage and rank, so each rank
    // of the consuming stage gets one point-to-point flow from the same rank.
    const auto key = std::make_tuple(r.node, r.port, stage, g);
    if (auto it = pipes_.find(key); it != pipes_.end()) return it->second;
    const std::string name =
        at_rank(p.name + (r.port ? ".data_out_" + std::to_string(r.port) : "") + ".to_stage" +
                    std::to_string(stage),
                g);
    const YAML::Node res = p.y["results"][p.out_keys[static_cast<std::size_t>(r.port)]];
    out_nodes_.push_back(make_node(name, "contiguous", {local}, YAML::Node(),
                                   YAML::Clone(res["shape"]), res["precision"], device(stage, g)));
    note(
        "pipeline boundaries: each producer crossing a stage feeds one 'contiguous' node "
        "'<producer>.to_stage<s>@r<g>' on the consuming device (one flow per rank)");
    pipes_.emplace(key, name);
    return name;
  }

  static void divide(YAML::Node seq, std::size_t k, std::int64_t t) {
    rewrite::set_dim(seq, k, seq[k].as<std::int64_t>() / t);
  }

  YAML::Node copy_node(int i, int g) {
    const Node& n = nd(i);
    YAML::Node y = YAML::Clone(n.y);
    y["name"] = at_rank(n.name, g);
    for (std::size_t k = 0; k < n.args.size(); ++k)
      y["args"][n.arg_keys[k]] = ref_text(n.args[k], g, n.stage);
    const bool sharded = t_ > 1 && n.role != Role::Replicated;
    const bool gathered_row = sharded && n.role == Role::Row && spec_.gather_rows;
    if (gathered_row) {  // reads its all-gathered input, keeps out/t columns of its output
      y["args"][n.arg_keys[0]] = at_rank(n.name + ".allreduce.gather_in.cat", g);
      YAML::Node sh = y["results"][n.out_keys[0]]["shape"];
      divide(sh, sh.size() - 1, t_);
    }
    if (sharded && n.role == Role::Head) {
      share(y["results"][n.out_keys[0]]["shape"], static_cast<std::size_t>(n.axis), t_, g);
    } else if (sharded && (n.role == Role::Column || n.role == Role::Region)) {
      divide(y["results"][n.out_keys[0]]["shape"], static_cast<std::size_t>(n.axis), t_);
      if (n.attr_axis >= 0) {
        YAML::Node sh = y["attrs"]["shape"];
        if (sh[static_cast<std::size_t>(n.attr_axis)].as<std::int64_t>() > 0)
          divide(sh, static_cast<std::size_t>(n.attr_axis), t_);
      }
    }
    if (YAML::Node params = y["params"]; params && params.IsMap()) {
      for (auto kv : params) {
        const std::string pn = kv.first.as<std::string>();
        YAML::Node p = kv.second;
        if (sharded && p.IsMap() && p["shape"] && p["shape"].IsSequence()) {
          YAML::Node sh = p["shape"];
          if (n.role == Role::Head) {
            if (pn == "weight" || pn == "bias") share(sh, 0, t_, g);
          } else if (n.role == Role::Column) {
            if (pn == "weight" || pn == "bias") divide(sh, 0, t_);
          } else if (gathered_row) {
            if (pn == "weight" || pn == "bias") divide(sh, 0, t_);
          } else if (n.role == Role::Row && pn == "weight") {
            divide(sh, 1, t_);
          }
          if (n.role == Role::Row && pn == "bias" && !gathered_row)
            note(
                "row-parallel biases are kept on every shard (hardware adds them once after "
                "the all-reduce; their parameters are counted tp times)");
        }
        if (p.IsMap() && p["shared_with"]) {
          const std::string sw = p["shared_with"].as<std::string>();
          const auto dot = sw.rfind('.');
          auto it = dot == std::string::npos ? index_.end() : index_.find(sw.substr(0, dot));
          const bool owner_sharded = it != index_.end() && nd(it->second).role != Role::Replicated;
          if (t_ > 1 && (sharded || owner_sharded)) {
            p.remove("shared_with");
            note("param '" + n.name + "." + pn + "' was tied to '" + sw +
                 "'; its shards are untied (the loader ties only parameters of the same shape)");
          } else if (it != index_.end()) {
            p["shared_with"] = at_rank(sw.substr(0, dot), g) + sw.substr(dot);
          }
        }
      }
    }
    if (sharded && y["hw"] && y["hw"]["parallelism"]) {
      y["hw"].remove("parallelism");
      note("hw.parallelism of sharded nodes is dropped (the mapper re-tiles them)");
    }
    y["hw"]["device"] = device(n.stage, g);
    return y;
  }

  /// Adds a copy of template `tm` (made by make_node) with its name, args and device set.
  /// Cloning a template is the cheapest way to build a node with yaml-cpp (one memory for
  /// the whole copy), which matters at tp=16 (tens of thousands of all-reduce nodes).
  YAML::Node instantiate(const YAML::Node& tm, const std::string& name,
                         const std::vector<std::string>& args, const std::string& dev) {
    YAML::Node y = YAML::Clone(tm);
    y["name"] = name;
    YAML::Node a = y["args"];
    for (std::size_t k = 0; k < args.size(); ++k) a[arg_key(k)] = args[k];
    y["hw"]["device"] = dev;
    out_nodes_.push_back(y);
    return y;
  }

  static const std::string& arg_key(std::size_t k) {
    static const std::vector<std::string> keys = [] {
      std::vector<std::string> v;
      for (int i = 0; i < 64; ++i) v.push_back("data_in_" + std::to_string(i));
      return v;
    }();
    return keys.at(k);
  }

  /// All-gathers, over the group of `stage`, a tensor whose rank-r shard is node `src(r)`
  /// (shape `chunk`, `full` once gathered on the last dim): ring (each shard travels once
  /// around the ring, one hop a step) or direct (every rank sends its shard to every other);
  /// rank q's result is `<base>cat@r<q>`.
  void emit_all_gather(const std::string& base, const std::function<std::string(int)>& src,
                       const YAML::Node& chunk, const YAML::Node& full, const YAML::Node& prec,
                       int stage) {
    const int t = t_;
    auto nm = [&](const std::string& what, int r) { return at_rank(base + what, r); };
    auto dev = [&](int r) { return device(stage, r); };
    const YAML::Node none;
    YAML::Node cat_attrs(YAML::NodeType::Map);
    cat_attrs["dim"] = "-1";
    const YAML::Node t_fwd = make_node("", "contiguous", {""}, none, YAML::Clone(chunk), prec, "");
    const YAML::Node t_cat =
        make_node("", "cat", std::vector<std::string>(static_cast<std::size_t>(t)), cat_attrs,
                  YAML::Clone(full), prec, "");
    std::vector<std::vector<std::string>> cat_in(static_cast<std::size_t>(t));
    if (spec_.algorithm == "ring") {
      // After step k rank q holds chunk (q - 1 - k) mod t in ag<k>.
      for (int k = 0; k + 1 < t; ++k)
        for (int r = 0; r < t; ++r) {
          const int q = (r + 1) % t;
          instantiate(t_fwd, nm("ag" + std::to_string(k), q),
                      {k == 0 ? src(r) : nm("ag" + std::to_string(k - 1), r)}, dev(q));
        }
      for (int q = 0; q < t; ++q)
        for (int ch = 0; ch < t; ++ch)
          cat_in[static_cast<std::size_t>(q)].push_back(
              ch == q ? src(q) : nm("ag" + std::to_string(mod(q - 1 - ch, t)), q));
    } else {
      for (int q = 0; q < t; ++q)
        for (int ch = 0; ch < t; ++ch) cat_in[static_cast<std::size_t>(q)].push_back(src(ch));
    }
    for (int q = 0; q < t; ++q)
      instantiate(t_cat, nm("cat", q), cat_in[static_cast<std::size_t>(q)], dev(q));
  }

  /// DFX's sync of row-parallel linear `i` (TensorParallelSpec::gather_rows): its input's
  /// all-gather (before its copies) or its output's (after them).
  void emit_row_gather(int i, bool input) {
    const Node& p = nd(i);
    if (input) {
      const Ref& a = p.args[0];
      const Node& x = nd(a.node);
      const YAML::Node res = x.y["results"][x.out_keys[static_cast<std::size_t>(a.port)]];
      const std::size_t last = res["shape"].size() - 1;
      if (x.axis != static_cast<int>(last))
        fail(i,
             "mapping.tp_sync: all_gather needs the input of a row-parallel linear sharded on "
             "its last dim; '" +
                 x.name + "' is sharded on dim " + std::to_string(x.axis));
      YAML::Node chunk = YAML::Clone(res["shape"]);
      divide(chunk, last, t_);
      emit_all_gather(
          p.name + ".allreduce.gather_in.", [&](int r) { return ref_text(a, r, p.stage); }, chunk,
          res["shape"], res["precision"], p.stage);
      return;
    }
    const YAML::Node res = p.y["results"][p.out_keys[0]];
    YAML::Node chunk = YAML::Clone(res["shape"]);
    divide(chunk, chunk.size() - 1, t_);
    emit_all_gather(
        p.name + ".allreduce.gather_out.", [&](int r) { return at_rank(p.name, r); }, chunk,
        res["shape"], res["precision"], p.stage);
  }

  /// Reduces the partial sums of row-parallel linear `i` over its stage's group.
  void emit_all_reduce(int i) {
    const Node& p = nd(i);
    const int t = t_;
    const std::int64_t d = p.outs[0].back(), c = d / t;
    const YAML::Node res = p.y["results"][p.out_keys[0]];
    const YAML::Node prec = res["precision"];
    const YAML::Node full = res["shape"];
    YAML::Node chunk = YAML::Clone(full);
    chunk[chunk.size() - 1] = std::to_string(c);
    const std::string base = p.name + ".allreduce.";
    auto nm = [&](const std::string& what, std::int64_t r) {
      return at_rank(base + what, static_cast<int>(r));
    };
    auto dev = [&](std::int64_t r) { return device(p.stage, static_cast<int>(r)); };
    auto slice = [&](std::int64_t ch) { return "slice" + std::to_string(ch); };

    YAML::Node slice_attrs(YAML::NodeType::Map);
    slice_attrs["dim"] = "-1";
    slice_attrs["start"] = "0";
    slice_attrs["end"] = std::to_string(c);
    YAML::Node cat_attrs(YAML::NodeType::Map);
    cat_attrs["dim"] = "-1";
    const YAML::Node none;
    const YAML::Node t_slice = make_node("", "slice", {""}, slice_attrs, chunk, prec, "");
    const YAML::Node t_add = make_node("", "add", {"", ""}, none, YAML::Clone(chunk), prec, "");
    const YAML::Node t_fwd = make_node("", "contiguous", {""}, none, YAML::Clone(chunk), prec, "");
    const YAML::Node t_cat =
        make_node("", "cat", std::vector<std::string>(static_cast<std::size_t>(t)), cat_attrs,
                  YAML::Clone(full), prec, "");

    for (int r = 0; r < t; ++r)
      for (int ch = 0; ch < t; ++ch) {
        YAML::Node y = instantiate(t_slice, nm(slice(ch), r), {at_rank(p.name, r)}, dev(r));
        YAML::Node a = y["attrs"];
        a["start"] = std::to_string(ch * c);
        a["end"] = std::to_string((ch + 1) * c);
      }
    std::vector<std::vector<std::string>> cat_in(static_cast<std::size_t>(t));
    if (spec_.algorithm == "ring") {
      // Reduce-scatter: at step k rank r sends its running partial of chunk (r-k) mod t to
      // rank r+1, which adds its own slice. Afterwards rank r holds chunk (r+1) mod t.
      for (int k = 0; k + 1 < t; ++k)
        for (int r = 0; r < t; ++r) {
          const int q = (r + 1) % t;
          const std::int64_t ch = mod(r - k, t);
          const std::string src = k == 0 ? nm(slice(ch), r) : nm("rs" + std::to_string(k - 1), r);
          instantiate(t_add, nm("rs" + std::to_string(k), q), {src, nm(slice(ch), q)}, dev(q));
        }
      auto owned = [&](std::int64_t r) { return nm("rs" + std::to_string(t - 2), r); };
      // All-gather: each full chunk travels once around the ring, one hop per step; after
      // step k rank q holds chunk (q-k) mod t in ag<k>.
      for (int k = 0; k + 1 < t; ++k)
        for (int r = 0; r < t; ++r) {
          const int q = (r + 1) % t;
          const std::string src = k == 0 ? owned(r) : nm("ag" + std::to_string(k - 1), r);
          instantiate(t_fwd, nm("ag" + std::to_string(k), q), {src}, dev(q));
        }
      for (int q = 0; q < t; ++q)
        for (int ch = 0; ch < t; ++ch)
          cat_in[static_cast<std::size_t>(q)].push_back(
              ch == (q + 1) % t ? owned(q) : nm("ag" + std::to_string(mod(q - ch, t)), q));
    } else {
      // Direct: rank ch owns chunk ch and sums the t slices with a chain of adds; every
      // rank's cat takes the full chunks from their owners.
      for (int ch = 0; ch < t; ++ch) {
        std::string acc = nm(slice(ch), ch);
        for (int j = 1; j < t; ++j) {
          const std::string name = nm("rs" + std::to_string(j - 1), ch);
          instantiate(t_add, name, {acc, nm(slice(ch), (ch + j) % t)}, dev(ch));
          acc = name;
        }
      }
      for (int q = 0; q < t; ++q)
        for (int ch = 0; ch < t; ++ch)
          cat_in[static_cast<std::size_t>(q)].push_back(nm("rs" + std::to_string(t - 2), ch));
    }
    for (int q = 0; q < t; ++q)
      instantiate(t_cat, nm("cat", q), cat_in[static_cast<std::size_t>(q)], dev(q));
  }

  YAML::Node emit() {
    // The result is laid out first (keys in the input's order) and nodes are appended to its
    // own `nodes` list: yaml-cpp merges a node's memory into the tree it is added to, so
    // attaching a finished list of ~10^6 YAML nodes to a new root would copy them all once
    // more.
    YAML::Node out(YAML::NodeType::Map);
    for (const auto& kv : root_) {
      const std::string key = kv.first.as<std::string>();
      if (key == "nodes" || key == "outputs")
        out[key] = YAML::Node(YAML::NodeType::Sequence);
      else
        out[key] = YAML::Clone(kv.second);
    }
    out_nodes_ = out["nodes"];
    for (int i : topo_) {
      const Node& n = nd(i);
      const bool gather = n.role == Role::Row && t_ > 1 && spec_.gather_rows;
      if (gather) emit_row_gather(i, true);
      for (int g = 0; g < t_; ++g) out_nodes_.push_back(copy_node(i, g));
      if (n.role == Role::Row && t_ > 1) {
        if (gather)
          emit_row_gather(i, false);
        else
          emit_all_reduce(i);
        AllReduceInfo info;
        info.name = n.name;
        for (int g = 0; g < t_; ++g) info.devices.push_back(device(n.stage, g));
        std::int64_t e = 1;
        for (auto x : n.outs[0]) e = checked_mul(e, x, n.name);
        info.tensor_bytes_expr_elems = e;
        info.stage = n.stage;
        info.layer = blocks_[static_cast<std::size_t>(n.block)].layer;
        rep_.all_reduces.push_back(std::move(info));
      }
      if (n.role == Role::Head && t_ > 1) {
        std::vector<std::string> in;
        for (int g = 0; g < t_; ++g) in.push_back(at_rank(n.name, g));
        YAML::Node attrs(YAML::NodeType::Map);
        attrs["dim"] = "-1";
        const YAML::Node res = n.y["results"][n.out_keys[0]];
        out_nodes_.push_back(make_node(at_rank(n.name + ".cat", 0), "cat", in, attrs,
                                       YAML::Clone(res["shape"]), res["precision"],
                                       device(last_stage_, 0)));
      }
    }
    if (t_ > 1) {
      note(
          "embeddings, layer norms, residual adds and dropouts outside the sharded regions "
          "are replicated on every rank; graph inputs reach every rank that consumes them");
    }
    YAML::Node o = out["outputs"];
    for (const Ref& r : outputs_)
      o.push_back(r.node < 0 ? r.text : ref_text(r, 0, nd(r.node).stage));
    return out;
  }
};

}  // namespace

YAML::Node tensor_parallel_graph(const YAML::Node& root, const std::string& file,
                                 const TensorParallelSpec& spec, TensorParallelReport* report) {
  TensorParallelReport local;
  TensorParallelReport& rep = report ? *report : local;
  rep = TensorParallelReport{};
  Rewriter rw(root, file, spec, rep);
  return rw.run();
}

}  // namespace masesim
