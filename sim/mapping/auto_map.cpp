#include "sim/mapping/auto_map.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>

#include "models/ops/registry.hpp"
#include "sim/mapping/mapping.hpp"
#include "sim/mapping/replicate.hpp"
#include "sim/mapping/split.hpp"
#include "workloads/error.hpp"

namespace masesim {

std::int64_t next_divisor(std::int64_t dim, std::int64_t p) {
  std::int64_t best = 0;
  for (std::int64_t d = p + 1; d <= dim; ++d)
    if (dim % d == 0) {
      if (best == 0) best = d;
      if (d >= 2 * p) return d;
    }
  return best;
}

namespace {

struct Knobs {
  std::int64_t in = 1;      ///< lanes of every data input (along its lane dim)
  std::int64_t out = 1;     ///< lanes of the output
  std::int64_t unroll = 1;  ///< conv2d: kernel-window positions side by side
};

/// The extent of a port's lane dim: the channels (dim 1) of an activation streamed
/// channel-parallel (conv, pooling and the element-wise ops between them), else the last.
std::int64_t lane_extent(const Shape& s, bool channels) {
  if (s.empty()) return 1;
  return channels && s.size() >= 3 ? s[1] : s.back();
}

std::vector<std::int64_t> lane_tile(const Shape& s, bool channels, std::int64_t lanes) {
  if (channels && s.size() >= 3) return channel_tile(s, lanes);
  return {lanes};
}

/// Which knobs a node has: `coupled` ops keep input and output lanes equal.
bool coupled(const Graph& g, const Node& n) {
  const OpClass c = ops::of(n).cls;
  if (c == OpClass::Elementwise || c == OpClass::RowReduce) return true;
  return c == OpClass::Wire && g.tensor_of(n.args[0]).shape.back() == n.results[0].shape.back();
}

/// Tiles for the knobs; false if a lane count does not divide a dim it must.
bool apply(const MappingSpec& ms, const Graph& g, const Node& n, const Knobs& k, bool channels,
           NodeHw& hw) {
  hw.in.clear();
  for (const auto& a : n.args) {
    const Shape& s = g.tensor_of(a).shape;
    // A KV cache feeds its context at its read port's width (the consumer buffers it whole).
    const Node* p = g.find_node(a.node);
    if (p && p->op == "kv_cache") {
      hw.in.push_back(tile_port(s, default_tile(s, kv_port_lanes(ms, p->results[0]))));
      continue;
    }
    const std::int64_t lanes = lane_extent(s, channels) % k.in == 0 ? k.in : 1;  // broadcast
    hw.in.push_back(tile_port(s, lane_tile(s, channels, lanes)));
  }
  const Shape& os = n.results[0].shape;
  if (lane_extent(os, channels) % k.out != 0) return false;
  hw.out = tile_port(os, lane_tile(os, channels, k.out));
  hw.kernel_unroll = k.unroll;
  return true;
}

/// The kernel window (kh·kw positions) of a conv2d whose unroll mapping.auto may grow (not
/// given by mapping.kernel_unroll); 0 otherwise.
std::int64_t unrollable_window(const Node& n, const NodeMap& nm) {
  const Param* w = n.op == "conv2d" ? n.param("weight") : nullptr;
  if (!w || nm.kernel_unroll_given || w->tensor.shape.size() != 4) return 0;
  return w->tensor.shape[2] * w->tensor.shape[3];
}

struct Eval {
  double cycles = 0;
  Resources res;
  bool ok = false;
};

Eval evaluate(const MappingSpec& ms, const Graph& g, const Node& n, NodeMap nm, const Knobs& k,
              bool channels) {
  Eval e;
  if (!apply(ms, g, n, k, channels, nm.hw)) return e;
  try {
    nm.hw.weights_off_chip = false;
    const OpTiming t = op_timing(g, n, nm.hw);
    // A replica (hw.replica) runs one inference in K: its share of the cycles.
    e.cycles = static_cast<double>(t.ideal_cycles()) / n.hw.replica_ways;
    // The fit check's view: extrapolated estimates carry mapping.extrapolation_margin.
    const double margin = ms.extrapolation_margin;
    const ResourceEstimate est = estimate_node(g, n, nm.hw, t);
    e.res = fit_resources(est.res, est.extrapolated, margin);
    if (ops::streams_weights(n)) {
      // Weights may go off chip: count only the non-weight storage against the budget.
      NodeHw off = nm.hw;
      off.weights_off_chip = true;
      const OpTiming to = op_timing(g, n, off);
      const ResourceEstimate eo = estimate_node(g, n, off, to);
      const Resources ro = fit_resources(eo.res, eo.extrapolated, margin);
      e.res[Res::bram36] = ro[Res::bram36];
      e.res[Res::uram] = ro[Res::uram];
      if (nm.weights_fixed_off) e.res = ro;  // they never come on chip
    }
    e.ok = true;
  } catch (const InputError&) {
    e.ok = false;
  }
  return e;
}

/// Channel lanes: conv and pooling, and the element-wise ops that follow them (the nodes
/// are in topological order).
std::vector<bool> channel_nodes(const Graph& g) {
  const std::size_t n = g.nodes.size();
  std::vector<bool> channels(n, false);
  for (std::size_t i = 0; i < n; ++i) {
    const Node& nd = g.nodes[i];
    const auto p = g.node_index.find(nd.args[0].node);
    channels[i] =
        ops::of(nd).channel_lanes || (coupled(g, nd) && g.tensor_of(nd.args[0]).shape.size() >= 3 &&
                                      p != g.node_index.end() && channels[p->second]);
  }
  return channels;
}

/// The default lanes (mapping.default_parallelism) as each node's first knobs, so that
/// nodes that never become the bottleneck do not stream one element per beat.
std::vector<Knobs> start_knobs(const Graph& g, const MappingSpec& ms,
                               const std::vector<bool>& channels) {
  const std::size_t n = g.nodes.size();
  const std::int64_t start_lanes = ms.default_parallelism;
  std::vector<Knobs> knobs(n);
  for (std::size_t i = 0; i < n; ++i) {
    const Node& nd = g.nodes[i];
    const std::int64_t in_dim = lane_extent(g.tensor_of(nd.args[0]).shape, channels[i]);
    const std::int64_t out_dim = lane_extent(nd.results[0].shape, channels[i]);
    knobs[i].out = largest_divisor_at_most(out_dim, ops::of(nd).cls == OpClass::KvCache
                                                        ? kv_port_lanes(ms, nd.results[0])
                                                        : start_lanes);
    knobs[i].in = coupled(g, nd) ? knobs[i].out : largest_divisor_at_most(in_dim, start_lanes);
    if (coupled(g, nd) && (in_dim % knobs[i].in != 0 && in_dim != 1)) knobs[i] = Knobs{};
  }
  return knobs;
}

/// One growth step of node `nd` from `k`: the next divisor of its input or output lanes
/// (both together for coupled ops).
std::vector<Knobs> growth_candidates(const Graph& g, const Node& nd, std::int64_t in_dim,
                                     std::int64_t out_dim, std::int64_t window, const Knobs& k) {
  std::vector<Knobs> cand;
  if (window > 0)
    if (const std::int64_t u = next_divisor(window, k.unroll)) cand.push_back({k.in, k.out, u});
  if (coupled(g, nd)) {
    const std::int64_t p =
        next_divisor(std::min(in_dim, out_dim) == in_dim ? in_dim : out_dim, k.out);
    if (p) cand.push_back({p, p, k.unroll});
  } else {
    if (const std::int64_t p = next_divisor(in_dim, k.in)) cand.push_back({p, k.out, k.unroll});
    if (const std::int64_t p = next_divisor(out_dim, k.out)) cand.push_back({k.in, p, k.unroll});
  }
  return cand;
}

/// Applies `knobs` with the last steps of `history` undone, as many as the partitioner
/// needs to place the graph (binary search; none with fixed devices).
void undo_until_placed(const Graph& g, const SystemSpec& sys, Mapping& m, bool fixed_devices,
                       const std::vector<bool>& channels, const std::vector<Knobs>& knobs,
                       const std::vector<std::pair<std::size_t, Knobs>>& history,
                       AutoMapReport& rep) {
  const MappingSpec& ms = sys.mapping;
  const std::size_t n = g.nodes.size();
  // Apply the knobs, then find the longest history prefix the partitioner can place.
  auto set_all = [&](const std::vector<Knobs>& ks) {
    for (std::size_t i = 0; i < n; ++i) {
      NodeMap& nm = m.nodes[i];
      apply(ms, g, g.nodes[i], ks[i], channels[i], nm.hw);
      nm.hw.weights_off_chip = nm.weights_fixed_off;
      nm.timing = op_timing(g, g.nodes[i], nm.hw);
      set_estimate(nm, estimate_node(g, g.nodes[i], nm.hw, nm.timing));
    }
  };
  auto knobs_at = [&](std::size_t steps) {
    std::vector<Knobs> ks = knobs;
    for (std::size_t s = history.size(); s-- > steps;) ks[history[s].first] = history[s].second;
    return ks;
  };
  std::size_t lo = 0, hi = history.size();  // lo: known to place (or 0), hi: candidate
  set_all(knobs_at(hi));
  rep.steps = static_cast<int>(hi);
  if (fixed_devices || partition_fits(g, sys, m)) return;
  while (hi - lo > 1) {
    const std::size_t mid = (lo + hi) / 2;
    set_all(knobs_at(mid));
    if (partition_fits(g, sys, m))
      lo = mid;
    else
      hi = mid;
  }
  set_all(knobs_at(lo));
  rep.steps = static_cast<int>(lo);
  rep.steps_undone = static_cast<int>(history.size() - lo);
  rep.stop_reason +=
      "; " + std::to_string(rep.steps_undone) + " steps undone so that the partition fits";
}

}  // namespace

AutoMapReport auto_parallelism(const Graph& g, const SystemSpec& sys, Mapping& m,
                               bool fixed_devices) {
  AutoMapReport rep;
  const auto& devices = sys.devices;
  const MappingSpec& ms = sys.mapping;
  const double cap = ms.utilisation_cap;
  Resources budget,
      one_device;  // all devices together; the largest single device (a node cannot span devices)
  for (const auto& d : devices) {
    one_device = Resources::max(one_device, d.type.capacity * cap);
    budget += d.type.capacity * cap;
  }
  const std::size_t n = g.nodes.size();
  const std::vector<bool> channels = channel_nodes(g);
  auto in_extent = [&](std::size_t i) {
    return lane_extent(g.tensor_of(g.nodes[i].args[0]).shape, channels[i]);
  };
  auto out_extent = [&](std::size_t i) {
    return lane_extent(g.nodes[i].results[0].shape, channels[i]);
  };
  std::vector<Knobs> knobs = start_knobs(g, ms, channels);
  for (std::size_t i = 0; i < n; ++i) knobs[i].unroll = m.nodes[i].hw.kernel_unroll;
  std::vector<Eval> ev(n);
  Resources used;
  // Fixed placement: each device's own budget (weights may stream, as below).
  std::vector<Resources> dev_used(devices.size()), dev_cap(devices.size());
  for (std::size_t d = 0; d < devices.size(); ++d) {
    const auto& c = devices[d].type.capacity;
    dev_cap[d] = c * cap;
  }
  auto dev_of = [&](std::size_t i) { return static_cast<std::size_t>(m.nodes[i].device); };
  for (std::size_t i = 0; i < n; ++i) {
    ev[i] = evaluate(ms, g, g.nodes[i], m.nodes[i], knobs[i], channels[i]);
    if (!ev[i].ok)
      throw InputError(g.file + ": node '" + g.nodes[i].name + "': no valid tiling with one lane");
    used += ev[i].res;
    dev_used[dev_of(i)] += ev[i].res;
  }
  std::vector<std::pair<std::size_t, Knobs>> history;  // (node, knobs before the step)
  std::vector<bool> saturated(n, false);
  for (;;) {
    std::size_t worst = n;
    for (std::size_t i = 0; i < n; ++i)
      if (worst == n || ev[i].cycles > ev[worst].cycles) worst = i;
    if (saturated[worst]) {
      rep.stop_reason = "slowest node '" + g.nodes[worst].name + "' cannot grow further";
      break;
    }
    const Node& nd = g.nodes[worst];
    const std::int64_t in_dim = in_extent(worst), out_dim = out_extent(worst);
    const std::vector<Knobs> cand = growth_candidates(
        g, nd, in_dim, out_dim, unrollable_window(nd, m.nodes[worst]), knobs[worst]);
    Eval best;
    Knobs best_k;
    for (const auto& k : cand) {
      const Eval e = evaluate(ms, g, nd, m.nodes[worst], k, channels[worst]);
      if (!e.ok || !e.res.fits(one_device) || !(used - ev[worst].res + e.res).fits(budget))
        continue;
      if (fixed_devices &&
          !(dev_used[dev_of(worst)] - ev[worst].res + e.res).fits(dev_cap[dev_of(worst)]))
        continue;
      const double cost = e.res[Res::lut] + 100 * e.res[Res::dsp];
      const double best_cost = best.res[Res::lut] + 100 * best.res[Res::dsp];
      if (!best.ok || e.cycles < best.cycles || (e.cycles == best.cycles && cost < best_cost)) {
        best = e;
        best_k = k;
      }
    }
    if (!best.ok || best.cycles >= ev[worst].cycles) {
      saturated[worst] = true;
      rep.stop_reason = "slowest node '" + g.nodes[worst].name +
                        (cand.empty() ? "' cannot grow further (its lanes span its dims)"
                                      : "' cannot grow within the resources");
      break;
    }
    history.emplace_back(worst, knobs[worst]);
    used -= ev[worst].res;
    used += best.res;
    dev_used[dev_of(worst)] -= ev[worst].res;
    dev_used[dev_of(worst)] += best.res;
    knobs[worst] = best_k;
    ev[worst] = best;
  }

  undo_until_placed(g, sys, m, fixed_devices, channels, knobs, history, rep);
  return rep;
}

}  // namespace masesim

namespace masesim {

namespace {

/// The node a graph node of a split graph came from: `<name>@s<j>` -> name.
std::string split_origin(const std::string& name) {
  const auto at = name.rfind("@s");
  if (at == std::string::npos || at + 2 >= name.size() ||
      name.find_first_not_of("0123456789", at + 2) != std::string::npos)
    return name;
  std::string base = name.substr(0, at);
  for (const char* tag : {".rows", ".cols"}) {
    const std::string t = tag;
    if (base.size() > t.size() && base.compare(base.size() - t.size(), t.size(), t) == 0)
      return base.substr(0, base.size() - t.size());
  }
  return base;
}

/// The rule of `reps` whose stage holds replica `b` (its name without "@r<j>"), else -1.
int replica_rule_of(const std::vector<ReplicateRule>& reps, const Node& b) {
  if (b.hw.replica_ways <= 1 && b.op != "collect") return -1;
  std::string origin = b.name;
  const auto at = origin.rfind("@r");
  if (b.hw.replica_ways > 1 && at != std::string::npos) origin = origin.substr(0, at);
  for (std::size_t k = 0; k < reps.size(); ++k)
    for (const auto& gl : reps[k].globs)
      if (fnmatch(gl.c_str(), origin.c_str(), 0) == 0) return static_cast<int>(k);
  return -1;
}

/// mapping.auto's replication step for bottleneck `b`: one more replica of the stage that
/// holds it (a replica or a collect), or a new 2-way stage of `b` alone or, when `b` is a
/// piece, slice or gather of a split, of that whole split (its nodes by name). Empty when
/// the ways would exceed `max_ways`.
std::vector<ReplicateRule> replica_candidate(const Graph& g, const SplitReport& splits,
                                             const Node& b, const std::vector<ReplicateRule>& reps,
                                             int max_ways) {
  std::vector<ReplicateRule> more = reps;
  if (b.hw.replica_ways > 1 || b.op == "collect") {
    const int k = replica_rule_of(reps, b);
    if (k < 0 || more[static_cast<std::size_t>(k)].ways + 1 > max_ways) return {};
    ++more[static_cast<std::size_t>(k)].ways;
    return more;
  }
  ReplicateRule r;
  r.ways = 2;
  if (r.ways > max_ways) return {};
  auto in_split = [](const SplitInfo& sp, const std::string& n) {
    auto piece_of = [&](const std::string& base) {
      for (const char* tag : {"@s", ".rows@s", ".cols@s"})
        if (n.rfind(base + tag, 0) == 0) return true;
      return false;
    };
    if (n == sp.gather || piece_of(sp.node)) return true;
    for (const auto& f : sp.absorbed)
      if (n.rfind(f + "@s", 0) == 0) return true;
    return false;
  };
  for (const SplitInfo& sp : splits.splits) {  // the outermost split holding b
    if (!in_split(sp, b.name)) continue;
    for (const Node& n : g.nodes)
      if (in_split(sp, n.name)) r.globs.push_back(n.name);
    r.glob = sp.node + " (split, " + std::to_string(r.globs.size()) + " nodes)";
    break;
  }
  if (r.globs.empty()) {
    r.globs.push_back(b.name);
    r.glob = b.name;
  }
  more.push_back(r);
  return more;
}

std::string ps_text(double ps) {
  char b[64];
  std::snprintf(b, sizeof b, "%.4g us per inference", ps * 1e-6);
  return b;
}

struct Outcome {
  double ps = std::numeric_limits<double>::infinity();
  std::string bottleneck;  ///< "node 'x' (op)" or "link a->b"
  std::string node;        ///< the bottleneck node's name ("" for a link)
  std::string tiles;       ///< why the tile growth stopped
  Graph g;                 ///< the split (and replicated) graph
  SplitReport splits;
};

/// The graph with `rules` and `reps` applied, mapped: the partitioner's time per inference
/// and its bottleneck. A candidate that does not fit (or cannot be replicated) gets an
/// infinite time and says why; the graph as it is must map.
Outcome evaluate_splits(const SystemSpec& s, const std::vector<SplitRule>& rules,
                        const std::vector<ReplicateRule>& reps) {
  Outcome o;
  try {
    o.g = load_replicated_graph(s, rules, reps, &o.splits, nullptr);
    const Mapping m = map_graph(o.g, s);
    o.ps = m.estimated_bottleneck_ps;
    o.bottleneck = m.estimated_bottleneck;
    o.tiles = m.auto_stop;
    if (o.bottleneck.rfind("node ", 0) == 0) {
      const Node& b = o.g.nodes[static_cast<std::size_t>(std::stoi(o.bottleneck.substr(5)))];
      o.node = b.name;
      o.bottleneck = "node '" + b.name + "' (" + b.op + ")";
    }
  } catch (const SimulationError& e) {
    if (rules.empty() && reps.empty()) throw;
    o.bottleneck = std::string("does not fit: ") + e.what();
  } catch (const InputError& e) {
    if (reps.empty()) throw;  // a stage that cannot be replicated (not contiguous)
    o.bottleneck = std::string("cannot replicate: ") + e.what();
  }
  return o;
}

bool splittable(const Node* n) {
  return n && (n->op == "linear" || n->op == "matmul" || n->op == "bmm" || n->op == "conv2d");
}

/// The output dim a rule `by` divides on node `n`.
std::int64_t split_dim(const Node& n, SplitBy by) {
  const Shape& os = n.results[0].shape;
  if (n.op == "conv2d") return by == SplitBy::Columns ? os[1] : 0;
  if (by == SplitBy::Rows) return os.size() >= 2 ? os[os.size() - 2] : 0;
  return os.back();
}

struct Cand {
  std::vector<SplitRule> rules;
  std::size_t changed = 0;  ///< the rule this candidate adds or grows
  std::int64_t dim = 0;     ///< the dimension it divides
};

/// (a) More ways for a rule whose piece or gather the bottleneck `b` is, or whose piece
/// holds it (outer splits of nested ones); for each name the last rule matching it (rules
/// apply in order).
void grow_candidates(const Graph& g, const Node& b, const std::vector<SplitRule>& rules,
                     int max_ways, std::vector<Cand>& cands) {
  std::set<std::size_t> grown;
  for (std::string from = b.op == "cat" ? b.name : split_origin(b.name);;) {
    for (std::size_t r = rules.size(); r-- > 0;) {
      if (fnmatch(rules[r].glob.c_str(), from.c_str(), 0) != 0) continue;
      const Node* p0 = g.find_node(from + "@s0");
      if (!p0 || !grown.insert(r).second) break;
      // The piece's own dim (a nested split's gather keeps the piece's shape).
      const std::int64_t dim = split_dim(*p0, rules[r].by) * rules[r].ways;
      const std::int64_t d = next_divisor(dim, rules[r].ways);
      if (d > 0 && d <= max_ways) {
        std::vector<SplitRule> t = rules;
        t[r].ways = static_cast<int>(d);
        cands.push_back({t, r, dim});
      }
      break;
    }
    const std::string up = split_origin(from);
    if (up == from) break;
    from = up;
  }
}

/// (b) Split the bottleneck node `b` (with the pieces beside it: every "@s<j>" of its name
/// generalised) two or more ways, by columns or by rows.
void new_split_candidates(const Node& b, const std::vector<SplitRule>& rules, int max_ways,
                          std::vector<Cand>& cands) {
  if (!splittable(&b)) return;
  std::string glob;
  for (std::size_t i = 0; i < b.name.size(); ++i) {
    glob += b.name[i];
    if (b.name.compare(i, 2, "@s") == 0 && i + 2 < b.name.size() &&
        std::isdigit(static_cast<unsigned char>(b.name[i + 2]))) {
      glob += "s*";
      i += 2;
      while (i + 1 < b.name.size() && std::isdigit(static_cast<unsigned char>(b.name[i + 1]))) ++i;
    }
  }
  for (const SplitBy by : {SplitBy::Columns, SplitBy::Rows}) {
    const std::int64_t dim = split_dim(b, by), d = next_divisor(dim, 1);
    if (d > 0 && d <= max_ways) {
      std::vector<SplitRule> t = rules;
      t.push_back(SplitRule{glob, static_cast<int>(d), by});
      cands.push_back({t, rules.size(), dim});
    }
  }
}

}  // namespace

AutoSplitReport auto_splits(const SystemSpec& s) {
  AutoSplitReport rep;
  const int max_ways = static_cast<int>(std::min<std::size_t>(64, s.devices.size()));
  std::vector<SplitRule> rules;
  std::vector<ReplicateRule> reps;
  Outcome best = evaluate_splits(s, rules, reps);
  for (int iter = 0; iter < 64; ++iter) {
    if (best.node.empty()) {
      rep.bound = best.bottleneck + " (" + ps_text(best.ps) + ")";
      break;
    }
    const Node* b = best.g.find_node(best.node);
    // A replica or a collect: only more replicas (c) can help.
    const bool replicated = b->hw.replica_ways > 1 || b->op == "collect";
    std::vector<Cand> cands;
    if (!replicated) grow_candidates(best.g, *b, rules, max_ways, cands);
    if (!replicated) new_split_candidates(*b, rules, max_ways, cands);
    Outcome chosen;
    std::vector<SplitRule> chosen_rules;
    auto try_cand = [&](const Cand& c) {
      Outcome o = evaluate_splits(s, c.rules, reps);
      std::string desc;
      for (const auto& r : c.rules)
        desc += (desc.empty() ? "" : ", ") + r.glob + " " + std::to_string(r.ways) + " " +
                to_string(r.by);
      rep.steps.push_back("[" + desc + "]: " + ps_text(o.ps) + ", bottleneck " + o.bottleneck);
      if (o.ps < chosen.ps) chosen = std::move(o), chosen_rules = c.rules;
    };
    for (const Cand& c : cands) try_cand(c);
    // One step of look-ahead: more ways can help where the next step did not (more pieces
    // take more of the shared resource budget before they take more devices).
    if (!(chosen.ps < best.ps))
      for (Cand c : cands) {
        const std::int64_t d = next_divisor(c.dim, c.rules[c.changed].ways);
        if (d <= 0 || d > max_ways) continue;
        c.rules[c.changed].ways = static_cast<int>(d);
        try_cand(c);
      }
    if (cands.empty() || !(chosen.ps < best.ps)) {
      // (c) No split helps: replicate the bottleneck's stage (the node, or the whole split it
      // is a piece or the gather of), or give its stage one more replica.
      std::vector<ReplicateRule> more = replica_candidate(best.g, best.splits, *b, reps, max_ways);
      if (!more.empty()) {
        Outcome o = evaluate_splits(s, rules, more);
        const ReplicateRule& r = more.size() > reps.size()
                                     ? more.back()
                                     : more[static_cast<std::size_t>(replica_rule_of(reps, *b))];
        rep.steps.push_back("replicate [" + r.glob + "] " + std::to_string(r.ways) +
                            " ways: " + ps_text(o.ps) + ", bottleneck " + o.bottleneck);
        if (o.ps < best.ps) {
          best = std::move(o);
          reps = std::move(more);
          rep.replicas = reps;
          continue;
        }
      }
      rep.bound =
          best.bottleneck + " (" + ps_text(best.ps) + "; tiles: " + best.tiles + "); " +
          (cands.empty() && more.empty() ? "it does not split or replicate (further) within " +
                                               std::to_string(max_ways) + " ways"
                                         : "splitting or replicating it further does not help");
      break;
    }
    best = std::move(chosen);
    rules = chosen_rules;
    rep.rules = rules;
  }
  if (rep.bound.empty())
    rep.bound = best.bottleneck + " (" + ps_text(best.ps) + "); the search stopped after 64 splits";
  return rep;
}

}  // namespace masesim
