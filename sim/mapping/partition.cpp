#include "sim/mapping/partition.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <limits>
#include <stdexcept>

#include "workloads/error.hpp"

namespace masesim {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
// The resource kinds (kResourceKinds, indexed by Res), then the storage spill
// alternatives (StorageAlt; no limit). BRAM36 and URAM are the storage kinds that may
// trade blocks; every other kind is a hard limit.
constexpr int idx(Res r) {
  return static_cast<int>(r);
}
constexpr int kLut = idx(Res::lut), kBram = idx(Res::bram36), kUram = idx(Res::uram);
constexpr int kKinds = static_cast<int>(kResourceKindCount);
constexpr int kBramMov = kKinds, kBramAsUram = kKinds + 1, kUramMov = kKinds + 2,
              kUramAsBram = kKinds + 3, kNumRes = kKinds + 4;
constexpr bool is_storage(int k) {
  return k == kBram || k == kUram;
}
const char* res_name(int k) {
  return kResourceKinds[k].name;
}

using Vec = std::array<double, kNumRes>;

Vec to_array(const Resources& r, const StorageAlt& a = {}) {
  Vec v{};
  for (const auto& k : kResourceKinds) v[static_cast<std::size_t>(k.kind)] = r[k.kind];
  v[kBramMov] = a.bram36_movable, v[kBramAsUram] = a.bram36_as_uram;
  v[kUramMov] = a.uram_movable, v[kUramAsBram] = a.uram_as_bram36;
  return v;
}
Vec on_array(const PartNode& nd) {
  return nd.weights_fixed_off ? to_array(nd.res_off, nd.alt_off) : to_array(nd.res_on, nd.alt_on);
}
Vec off_array(const PartNode& nd) {
  return to_array(nd.res_off, nd.alt_off);
}
Vec plain_on_array(const PartNode& nd) {
  return to_array(nd.res_on, nd.alt_on);
}

/// Absolute per-resource limits of one device.
struct Limits {
  Vec limit{};
  Vec capacity{};
  Vec fraction{};
};

Limits make_limits(const PartDevice& d, double utilisation_cap, double lut_fraction) {
  Limits l;
  l.capacity = to_array(d.capacity);
  l.fraction.fill(utilisation_cap);
  l.fraction[kLut] = lut_fraction;
  for (int k = 0; k < kNumRes; ++k) l.limit[k] = k >= kKinds ? kInf : l.capacity[k] * l.fraction[k];
  return l;
}

/// The storage kind over its limit that moving part of its movable blocks to the other
/// kind cannot bring back (a continuous relaxation of mapping.cpp's spill_storage), or -1.
int storage_over(const Vec& use, const Limits& l) {
  const double b = use[kBram], u = use[kUram], lb = l.limit[kBram], lu = l.limit[kUram];
  if (b <= lb && u <= lu) return -1;
  if (b > lb && u > lu) return kBram;
  if (b > lb) {
    const double x = use[kBramMov] > 0 ? (b - lb) / use[kBramMov] : kInf;
    return x <= 1 && u + x * use[kBramAsUram] <= lu ? -1 : kBram;
  }
  const double y = use[kUramMov] > 0 ? (u - lu) / use[kUramMov] : kInf;
  return y <= 1 && b + y * use[kUramAsBram] <= lb ? -1 : kUram;
}

int first_over(const Vec& use, const Limits& l) {
  for (int k = 0; k < kKinds; ++k)
    if (!is_storage(k) && use[k] > l.limit[k]) return k;
  return storage_over(use, l);
}

std::string num(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

std::string node_label(const std::vector<PartNode>& nodes, int i) {
  std::string s = "node " + std::to_string(i);
  if (!nodes[static_cast<std::size_t>(i)].name.empty())
    s += " '" + nodes[static_cast<std::size_t>(i)].name + "'";
  return s;
}

/// Spill candidates of [i, j): nodes with weights, largest weight_bytes first (ties: lower
/// index first).
bool spill_before(const std::pair<double, int>& a, const std::pair<double, int>& b) {
  return a.first != b.first ? a.first > b.first : a.second < b.second;
}

struct StageEval {
  bool fits = false;
  double time_ps = kInf;
  int slowest = -1;       ///< node index with the largest time
  std::vector<bool> off;  ///< per node of the stage
  int fail_res = -1;      ///< first resource over its limit (when !fits)
  double fail_need = 0;
};

/// The placement and time of the stage [i, j) on a device (the model of
/// docs/partitioning.md). The DP's incremental table (build_row) must give bit-identical
/// times: same summation order, same formulas.
StageEval eval_stage(const std::vector<PartNode>& nodes, int i, int j, const PartDevice& dev,
                     const Limits& lim) {
  StageEval e;
  e.off.assign(static_cast<std::size_t>(j - i), false);
  Vec cur{};
  std::vector<std::pair<double, int>> cand;
  std::size_t fixed_off = 0;
  for (int n = i; n < j; ++n) {
    const auto& nd = nodes[static_cast<std::size_t>(n)];
    const Vec r = on_array(nd);
    for (int k = 0; k < kNumRes; ++k) cur[k] += r[k];
    if (nd.weights_fixed_off) {
      e.off[static_cast<std::size_t>(n - i)] = true;
      ++fixed_off;
    } else if (nd.has_weights) {
      cand.emplace_back(nd.weight_bytes, n);
    }
  }
  std::sort(cand.begin(), cand.end(), spill_before);
  const bool can_spill = dev.mem_bytes_per_ps > 0;
  std::size_t p = 0;
  auto spill = [&] {
    const auto& nd = nodes[static_cast<std::size_t>(cand[p].second)];
    const Vec on = plain_on_array(nd), off = off_array(nd);
    for (int k = 0; k < kNumRes; ++k) cur[k] += off[k] - on[k];
    e.off[static_cast<std::size_t>(cand[p].second - i)] = true;
    ++p;
  };
  while (can_spill && p < cand.size() && storage_over(cur, lim) >= 0) spill();
  while (can_spill && p < cand.size() && first_over(cur, lim) >= 0) spill();
  e.fail_res = first_over(cur, lim);
  if (e.fail_res >= 0) {
    e.fail_need = cur[static_cast<std::size_t>(e.fail_res)];
    return e;
  }
  e.fits = true;
  e.time_ps = 0;
  const double n_off = static_cast<double>(p + fixed_off);
  for (int n = i; n < j; ++n) {
    const auto& nd = nodes[static_cast<std::size_t>(n)];
    double t = nd.time_on_ps;
    if (e.off[static_cast<std::size_t>(n - i)])
      t = std::max(t, nd.weight_bytes * n_off / dev.mem_bytes_per_ps);
    if (e.slowest < 0 || t > e.time_ps) e.time_ps = t, e.slowest = n;
  }
  return e;
}

std::string does_not_fit(const std::vector<PartNode>& nodes, int n, int d, const StageEval& e,
                         const Limits& lim, const PartDevice& dev) {
  const auto r = static_cast<std::size_t>(e.fail_res);
  std::string msg = node_label(nodes, n) + " does not fit device " + std::to_string(d);
  if (nodes[static_cast<std::size_t>(n)].weights_fixed_off)
    msg += " with its weights off chip (as configured)";
  else if (nodes[static_cast<std::size_t>(n)].has_weights)
    msg += dev.mem_bytes_per_ps > 0 ? " even with its weights off chip"
                                    : " (the device has no off-chip memory for its weights)";
  return msg + ": " + res_name(r) + " needs " + num(e.fail_need) + " but " + num(lim.limit[r]) +
         " are usable (" + num(lim.fraction[r]) + " x " + num(lim.capacity[r]) + ")";
}

void check_input(const std::vector<PartNode>& nodes, const std::vector<PartEdge>& edges,
                 const std::vector<PartDevice>& devices, const PartLinks& links) {
  const int n = static_cast<int>(nodes.size());
  for (const auto& e : edges)
    if (e.from < 0 || e.to >= n || e.from >= e.to || !(e.bytes >= 0))
      throw std::invalid_argument("partition: edge " + std::to_string(e.from) + "->" +
                                  std::to_string(e.to) + " must go forward between nodes 0.." +
                                  std::to_string(n - 1) + " with bytes >= 0");
  if (!links.next_hops.empty() && links.next_hops.size() + 1 != devices.size())
    throw std::invalid_argument("partition: links.next_hops must be empty or have " +
                                std::to_string(devices.empty() ? 0 : devices.size() - 1) +
                                " entries (one per device but the last), found " +
                                std::to_string(links.next_hops.size()));
  if (devices.empty() && !nodes.empty())
    throw SimulationError("partition: no devices to place " + std::to_string(n) + " nodes on");
}

double link_time(double bytes, double bytes_per_ps) {
  if (bytes <= 0) return 0;
  return bytes_per_ps > 0 ? bytes / bytes_per_ps : kInf;
}

/// Evaluates a non-decreasing assignment with per-device limits `lim_of(d)`.
template <class LimitsOf>
PartResult finish(const std::vector<PartNode>& nodes, const std::vector<PartEdge>& edges,
                  const std::vector<PartDevice>& devices, const PartLinks& links,
                  const std::vector<int>& device, LimitsOf lim_of) {
  PartResult r;
  const int n = static_cast<int>(nodes.size());
  if (static_cast<int>(device.size()) != n)
    throw std::invalid_argument("partition: one device per node expected");
  const int num_dev = static_cast<int>(devices.size());
  for (int i = 0; i < n; ++i) {
    const int d = device[static_cast<std::size_t>(i)];
    if (d < 0 || d >= num_dev || (i > 0 && d < device[static_cast<std::size_t>(i - 1)]))
      throw std::invalid_argument("partition: node " + std::to_string(i) + " has device " +
                                  std::to_string(d) + "; devices must be in 0.." +
                                  std::to_string(num_dev - 1) +
                                  " and non-decreasing along the nodes");
  }
  r.device = device;
  r.weights_off.assign(static_cast<std::size_t>(n), false);
  if (n == 0) return r;
  const int last = device.back();
  // Link k->k+1 carries every edge with device[from] <= k < device[to] (the chain).
  std::vector<double> load(static_cast<std::size_t>(std::max(last, 0)), 0.0);
  for (const auto& e : edges)
    for (int k = device[static_cast<std::size_t>(e.from)];
         k < device[static_cast<std::size_t>(e.to)]; ++k)
      load[static_cast<std::size_t>(k)] += e.bytes;

  int used = 0;
  r.bottleneck_ps = -1;
  int i = 0;
  for (int k = 0; k <= last; ++k) {
    int j = i;
    while (j < n && device[static_cast<std::size_t>(j)] == k) ++j;
    if (j > i) {
      ++used;
      const Limits lim = lim_of(k);
      const StageEval e = eval_stage(nodes, i, j, devices[static_cast<std::size_t>(k)], lim);
      if (!e.fits) {
        const auto res = static_cast<std::size_t>(e.fail_res);
        throw SimulationError("partition: nodes " + std::to_string(i) + ".." +
                              std::to_string(j - 1) + " do not fit device " + std::to_string(k) +
                              ": " + res_name(res) + " needs " + num(e.fail_need) + " but " +
                              num(lim.limit[res]) + " are usable");
      }
      std::string note = "stage " + std::to_string(used - 1) + ": nodes " + std::to_string(i) +
                         ".." + std::to_string(j - 1) + " on device " + std::to_string(k) + ", " +
                         num(e.time_ps) + " ps (node " + std::to_string(e.slowest) + ")";
      std::string off;
      for (int m = i; m < j; ++m)
        if (e.off[static_cast<std::size_t>(m - i)]) {
          r.weights_off[static_cast<std::size_t>(m)] = true;
          off += " " + std::to_string(m);
        }
      if (!off.empty()) note += ", weights off chip:" + off;
      r.notes.push_back(note);
      if (e.time_ps > r.bottleneck_ps)
        r.bottleneck_ps = e.time_ps, r.bottleneck = "node " + std::to_string(e.slowest);
    }
    i = j;
    if (k < last) {
      const double b = load[static_cast<std::size_t>(k)];
      const double t = link_time(b, links.bytes_per_ps);
      const std::string name = "link " + std::to_string(k) + "->" + std::to_string(k + 1);
      r.notes.push_back(name + ": " + num(b) + " bytes, " + num(t) + " ps");
      if (!links.next_hops.empty()) {
        const int h = links.next_hops[static_cast<std::size_t>(k)];
        if (h != 1)
          r.notes.push_back("warning: devices " + std::to_string(k) + " and " +
                            std::to_string(k + 1) + " are " + std::to_string(h) +
                            " hops apart; the link time assumes neighbours");
      }
      if (t > r.bottleneck_ps) r.bottleneck_ps = t, r.bottleneck = name;
    }
  }
  r.notes.insert(r.notes.begin(), "uses " + std::to_string(used) + " of " +
                                      std::to_string(num_dev) + " devices; bottleneck " +
                                      r.bottleneck + ", " + num(r.bottleneck_ps) +
                                      " ps per inference");
  return r;
}

/// Times of the stages [i, j) for j = i+1 .. (the last j that can fit), +inf where the
/// greedy spill does not fit. Incremental: O(len) per j. Stops at the first j whose lower
/// bound (every node at min(on, off) resources) exceeds a limit: no longer stage fits.
std::vector<double> build_row(const std::vector<PartNode>& nodes, int i, const PartDevice& dev,
                              const Limits& lim) {
  std::vector<double> row;
  const int n = static_cast<int>(nodes.size());
  const bool can_spill = dev.mem_bytes_per_ps > 0;
  Vec sum_on{}, sum_min{};
  std::vector<std::pair<double, int>> cand;
  double max_t = 0;
  std::size_t fixed_off = 0;   // nodes whose weights stay off chip
  double fixed_max_bytes = 0;  // the largest of their weights
  for (int j = i + 1; j <= n; ++j) {
    const auto& nd = nodes[static_cast<std::size_t>(j - 1)];
    const Vec on = on_array(nd), off = off_array(nd);
    const bool may_spill = can_spill && nd.has_weights && !nd.weights_fixed_off;
    for (int k = 0; k < kNumRes; ++k) {
      sum_on[k] += on[k];
      sum_min[k] += may_spill ? std::min(on[k], off[k]) : on[k];
    }
    if (nd.weights_fixed_off) {
      ++fixed_off;
      fixed_max_bytes = std::max(fixed_max_bytes, nd.weight_bytes);
    }
    // Lower bound: a logic resource over, or both storage kinds over (no spill helps).
    bool over = sum_min[kBram] > lim.limit[kBram] && sum_min[kUram] > lim.limit[kUram];
    for (int k = 0; k < kKinds; ++k) over = over || (!is_storage(k) && sum_min[k] > lim.limit[k]);
    if (over) break;
    if (nd.has_weights && !nd.weights_fixed_off) {
      const std::pair<double, int> c{nd.weight_bytes, j - 1};
      cand.insert(std::upper_bound(cand.begin(), cand.end(), c, spill_before), c);
    }
    max_t = j - 1 == i ? nd.time_on_ps : std::max(max_t, nd.time_on_ps);
    Vec cur = sum_on;
    std::size_t p = 0;
    auto spill = [&] {
      const auto& sn = nodes[static_cast<std::size_t>(cand[p].second)];
      const Vec son = plain_on_array(sn), soff = off_array(sn);
      for (int k = 0; k < kNumRes; ++k) cur[k] += soff[k] - son[k];
      ++p;
    };
    while (can_spill && p < cand.size() && storage_over(cur, lim) >= 0) spill();
    while (can_spill && p < cand.size() && first_over(cur, lim) >= 0) spill();
    if (first_over(cur, lim) >= 0) {
      row.push_back(kInf);
      continue;
    }
    double t = max_t;
    if (p + fixed_off > 0) {
      // The largest off-chip weights (spilled ones are the largest candidates) set the
      // memory time; the same product as eval_stage's, so the times are bit-identical.
      const double largest = std::max(p > 0 ? cand[0].first : 0.0, fixed_max_bytes);
      t = std::max(t, largest * static_cast<double>(p + fixed_off) / dev.mem_bytes_per_ps);
    }
    row.push_back(t);
  }
  return row;
}

bool same_device(const PartDevice& a, const PartDevice& b) {
  return to_array(a.capacity) == to_array(b.capacity) && a.mem_bytes_per_ps == b.mem_bytes_per_ps;
}

}  // namespace

std::vector<double> cut_bytes(const std::vector<PartEdge>& edges, int n) {
  std::vector<double> cb(static_cast<std::size_t>(std::max(n, 0) + 1), 0.0);
  for (const auto& e : edges)
    for (int c = std::max(e.from + 1, 0); c <= e.to && c <= n; ++c)
      cb[static_cast<std::size_t>(c)] += e.bytes;
  return cb;
}

double stage_time_ps(const std::vector<PartNode>& nodes, int begin, int end, const PartDevice& dev,
                     double utilisation_cap, std::vector<bool>* weights_off) {
  if (begin < 0 || end > static_cast<int>(nodes.size()) || begin >= end)
    throw std::invalid_argument("stage_time_ps: empty or out-of-range stage");
  const StageEval e =
      eval_stage(nodes, begin, end, dev, make_limits(dev, utilisation_cap, utilisation_cap));
  if (weights_off) *weights_off = e.off;
  return e.fits ? e.time_ps : kInf;
}

PartResult partition_evaluate(const std::vector<PartNode>& nodes,
                              const std::vector<PartEdge>& edges,
                              const std::vector<PartDevice>& devices, const PartLinks& links,
                              double utilisation_cap, const std::vector<int>& device) {
  check_input(nodes, edges, devices, links);
  return finish(nodes, edges, devices, links, device, [&](int d) {
    return make_limits(devices[static_cast<std::size_t>(d)], utilisation_cap, utilisation_cap);
  });
}

PartResult partition_balanced(const std::vector<PartNode>& nodes,
                              const std::vector<PartEdge>& edges,
                              const std::vector<PartDevice>& devices, const PartLinks& links,
                              double utilisation_cap) {
  check_input(nodes, edges, devices, links);
  const int n = static_cast<int>(nodes.size());
  const int num_dev = static_cast<int>(devices.size());
  auto lim_of = [&](int d) {
    return make_limits(devices[static_cast<std::size_t>(d)], utilisation_cap, utilisation_cap);
  };
  if (n == 0) return finish(nodes, edges, devices, links, {}, lim_of);

  // Every node must fit some device on its own.
  for (int v = 0; v < n; ++v) {
    bool fits = false;
    for (int d = 0; d < num_dev && !fits; ++d)
      fits = eval_stage(nodes, v, v + 1, devices[static_cast<std::size_t>(d)], lim_of(d)).fits;
    if (!fits) {
      const StageEval e = eval_stage(nodes, v, v + 1, devices[0], lim_of(0));
      std::string msg = "partition: " + does_not_fit(nodes, v, 0, e, lim_of(0), devices[0]);
      if (num_dev > 1) msg += " (nor any of the other " + std::to_string(num_dev - 1) + " devices)";
      throw SimulationError(msg);
    }
  }

  // Stage-time tables, one per distinct device (identical devices share one).
  std::vector<int> cls(static_cast<std::size_t>(num_dev));
  for (int d = 0; d < num_dev; ++d) {
    cls[static_cast<std::size_t>(d)] = d;
    for (int e = 0; e < d; ++e)
      if (same_device(devices[static_cast<std::size_t>(e)], devices[static_cast<std::size_t>(d)])) {
        cls[static_cast<std::size_t>(d)] = cls[static_cast<std::size_t>(e)];
        break;
      }
  }
  std::vector<std::vector<std::vector<double>>> table(static_cast<std::size_t>(num_dev));
  auto table_of = [&](int d) -> const std::vector<std::vector<double>>& {
    auto& t = table[static_cast<std::size_t>(cls[static_cast<std::size_t>(d)])];
    if (t.empty())
      for (int i = 0; i < n; ++i)
        t.push_back(build_row(nodes, i, devices[static_cast<std::size_t>(d)], lim_of(d)));
    return t;
  };

  const std::vector<double> cb = cut_bytes(edges, n);
  std::vector<double> lt(static_cast<std::size_t>(n + 1), 0.0);
  for (int c = 1; c < n; ++c)
    lt[static_cast<std::size_t>(c)] =
        link_time(cb[static_cast<std::size_t>(c)], links.bytes_per_ps);

  // f[k][j]: the smallest bottleneck of nodes [0, j) on devices 0..k-1, each non-empty.
  const int max_stages = std::min(num_dev, n);
  std::vector<double> prev(static_cast<std::size_t>(n + 1), kInf),
      cur(static_cast<std::size_t>(n + 1));
  prev[0] = 0;
  std::vector<std::vector<int>> parent(static_cast<std::size_t>(max_stages + 1),
                                       std::vector<int>(static_cast<std::size_t>(n + 1), -1));
  double best = kInf;
  int best_k = 0;
  for (int k = 1; k <= max_stages; ++k) {
    const auto& t = table_of(k - 1);
    std::fill(cur.begin(), cur.end(), kInf);
    for (int j = k; j <= n; ++j) {
      for (int i = j - 1; i >= k - 1; --i) {
        const double before = prev[static_cast<std::size_t>(i)];
        const auto& row = t[static_cast<std::size_t>(i)];
        if (before == kInf || static_cast<int>(row.size()) < j - i) continue;
        const double v = std::max(
            {before, lt[static_cast<std::size_t>(i)], row[static_cast<std::size_t>(j - i - 1)]});
        if (v < cur[static_cast<std::size_t>(j)]) {
          cur[static_cast<std::size_t>(j)] = v;
          parent[static_cast<std::size_t>(k)][static_cast<std::size_t>(j)] = i;
        }
      }
    }
    if (cur[static_cast<std::size_t>(n)] < best)
      best = cur[static_cast<std::size_t>(n)], best_k = k;
    std::swap(prev, cur);
  }
  if (best_k == 0)
    throw SimulationError("partition: the " + std::to_string(n) + " nodes do not fit on " +
                          std::to_string(num_dev) + (num_dev == 1 ? " device" : " devices") +
                          " (utilisation cap " + num(utilisation_cap) +
                          "); more devices are needed" +
                          (links.bytes_per_ps > 0 ? "" : " or links with a bandwidth"));

  std::vector<int> device(static_cast<std::size_t>(n));
  int j = n;
  for (int k = best_k; k >= 1; --k) {
    const int i = parent[static_cast<std::size_t>(k)][static_cast<std::size_t>(j)];
    for (int v = i; v < j; ++v) device[static_cast<std::size_t>(v)] = k - 1;
    j = i;
  }
  PartResult r = finish(nodes, edges, devices, links, device, lim_of);
  if (r.bottleneck_ps != best)
    throw std::logic_error("partition: DP and evaluation disagree (" + num(best) + " vs " +
                           num(r.bottleneck_ps) + ")");
  if (best_k < num_dev) {
    // More stages cannot lower a bottleneck that is one node (a stage of one node at
    // least) or the traffic of one cut; say which, so the user can split or replicate it.
    std::string what = r.bottleneck;
    if (r.bottleneck.rfind("node ", 0) == 0) {
      const int v = std::stoi(r.bottleneck.substr(5));
      what = node_label(nodes, v) +
             ", one node that one device runs (split it: mapping.split, or replicate it: "
             "mapping.replicate)";
    } else {
      what += " (the bytes crossing that cut)";
    }
    r.idle_reason = std::to_string(num_dev - best_k) + " of " + std::to_string(num_dev) +
                    " devices idle: more pipeline stages would not lower the bottleneck " +
                    num(best) + " ps per inference, set by " + what;
    r.notes.push_back(r.idle_reason);
  }
  return r;
}

PartResult partition_greedy(const std::vector<PartNode>& nodes, const std::vector<PartEdge>& edges,
                            const std::vector<PartDevice>& devices, const PartLinks& links,
                            double utilisation_cap, double lut_fill) {
  check_input(nodes, edges, devices, links);
  const int n = static_cast<int>(nodes.size());
  const int num_dev = static_cast<int>(devices.size());
  auto lim_of = [&](int d) {
    return make_limits(devices[static_cast<std::size_t>(d)], utilisation_cap, lut_fill);
  };
  std::vector<int> device(static_cast<std::size_t>(n));
  int d = 0, start = 0;
  for (int v = 0; v < n; ++v) {
    for (;;) {
      const StageEval e =
          eval_stage(nodes, start, v + 1, devices[static_cast<std::size_t>(d)], lim_of(d));
      if (e.fits) break;
      if (start == v)
        throw SimulationError(
            "greedy partition: " +
            does_not_fit(nodes, v, d, e, lim_of(d), devices[static_cast<std::size_t>(d)]));
      if (++d == num_dev)
        throw SimulationError("greedy partition: out of devices at " + node_label(nodes, v) +
                              ": nodes 0.." + std::to_string(v - 1) + " fill all " +
                              std::to_string(num_dev) + " devices (LUT fill " + num(lut_fill) +
                              ")");
      start = v;
    }
    device[static_cast<std::size_t>(v)] = d;
  }
  return finish(nodes, edges, devices, links, device, lim_of);
}

}  // namespace masesim
