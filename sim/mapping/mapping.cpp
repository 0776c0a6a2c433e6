#include "sim/mapping/mapping.hpp"

#include "sim/mapping/layer_reuse.hpp"

#include <fnmatch.h>
#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include "interconnect/framing.hpp"
#include "interconnect/topology.hpp"
#include "models/ops/registry.hpp"
#include "models/time.hpp"
#include "sim/mapping/auto_map.hpp"
#include "sim/mapping/partition.hpp"
#include "workloads/error.hpp"
#include "workloads/yaml_util.hpp"

namespace masesim {

std::int64_t kv_port_lanes(const MappingSpec& ms, const Tensor& t) {
  const double bits = t.precision.bits_per_element();
  const auto lanes =
      static_cast<std::int64_t>(static_cast<double>(ms.kv_port_bytes) * 8.0 / std::max(1.0, bits));
  return std::max<std::int64_t>({1, lanes, ms.default_parallelism});
}

std::vector<std::int64_t> default_tile(const Shape& s, std::int64_t cap) {
  if (s.empty()) return {1};
  return {largest_divisor_at_most(s.back(), cap)};
}

std::vector<std::int64_t> default_channel_tile(const Shape& s, std::int64_t cap) {
  if (s.size() < 2) return default_tile(s, cap);
  return channel_tile(s, largest_divisor_at_most(s[1], cap));
}

namespace {
std::string fmt(double v) {
  std::ostringstream o;
  o << static_cast<long long>(std::ceil(v));
  return o.str();
}
}  // namespace

namespace {

/// URAM per BRAM36 block of a device (array_storage's rule; 0: no URAM).
double uram_per_bram36(const DeviceType& t) {
  if (t.capacity[Res::uram] <= 0) return 0;
  return t.capacity[Res::bram36] > 0 ? t.capacity[Res::uram] / t.capacity[Res::bram36] : 1e9;
}

/// The partitioner's view of an estimate's spill alternatives (fit usage: with the margin).
StorageAlt storage_alt(const ResourceEstimate& e, double margin) {
  const double f = e.extrapolated ? 1.0 + margin : 1.0;
  StorageAlt a;
  if (e.bram36_as_uram > 0)
    a.bram36_movable = f * e.res[Res::bram36], a.bram36_as_uram = f * e.bram36_as_uram;
  if (e.uram_as_bram36 > 0)
    a.uram_movable = f * e.res[Res::uram], a.uram_as_bram36 = f * e.uram_as_bram36;
  return a;
}

/// Fills node devices (and off-chip weights) with the balanced or greedy partitioner.
/// Weights fixed off chip stay there; the partitioner places the others.
void automatic_partition(const Graph& g, const SystemSpec& sys, Mapping& m,
                         const std::string& method) {
  const auto& devices = sys.devices;
  const time_ps period = period_ps_for_mhz(devices[0].type.clock_mhz);
  std::vector<PartNode> pn(g.nodes.size());
  std::vector<PartEdge> pe;
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    NodeMap on = m.nodes[i];
    on.hw.weights_off_chip = false;
    on.timing = op_timing(g, n, on.hw);
    const double margin = sys.mapping.extrapolation_margin;
    const ResourceEstimate e_on = estimate_node(g, n, on.hw, on.timing);
    pn[i].res_on = fit_resources(e_on.res, e_on.extrapolated, margin);
    pn[i].alt_on = storage_alt(e_on, margin);
    // A replica (hw.replica) runs one inference in K: time, weight reads and the bytes on its
    // edges per inference of the system are its share.
    const double share = 1.0 / n.hw.replica_ways;
    pn[i].time_on_ps =
        static_cast<double>(on.timing.ideal_cycles()) * static_cast<double>(period) * share;
    pn[i].name = n.name;
    // mapping.weights: on_chip pins every weight on chip, and weights fixed off chip stay
    // there; otherwise the partitioner may stream a node's weights from off-chip memory
    // to make a stage fit.
    pn[i].weights_fixed_off = m.nodes[i].weights_fixed_off;
    pn[i].has_weights = ops::streams_weights(n) && sys.mapping.weights != WeightPolicy::OnChip &&
                        !pn[i].weights_fixed_off;
    if (pn[i].has_weights || pn[i].weights_fixed_off) {
      NodeMap off = m.nodes[i];
      off.hw.weights_off_chip = true;
      off.timing = op_timing(g, n, off.hw);
      const ResourceEstimate e_off = estimate_node(g, n, off.hw, off.timing);
      pn[i].res_off = fit_resources(e_off.res, e_off.extrapolated, margin);
      pn[i].alt_off = storage_alt(e_off, margin);
      pn[i].weight_bytes = static_cast<double>(off.timing.weight_bytes_per_inference) * share;
    } else {
      pn[i].res_off = pn[i].res_on;
      pn[i].alt_off = pn[i].alt_on;
    }
    for (const auto& a : n.args) {
      const Node* p = g.find_node(a.node);
      if (!p) continue;
      const int from = static_cast<int>(p - g.nodes.data());
      const int ways = std::max(p->hw.replica_ways, n.hw.replica_ways);
      pe.push_back({from, static_cast<int>(i), static_cast<double>(g.tensor_of(a).bytes()) / ways});
    }
  }
  std::vector<PartDevice> pd;
  for (const auto& d : devices)
    pd.push_back(
        {d.type.capacity, d.type.memory.channels * d.type.memory.gbytes_per_s_per_channel * 1e-3});
  PartLinks links;
  links.bytes_per_ps = sys.link.goodput_bytes_per_ps();
  if (devices.size() > 1) {
    const auto topo = build_topology(sys);
    try {
      for (std::uint32_t k = 0; k + 1 < devices.size(); ++k)
        links.next_hops.push_back(static_cast<int>(interconnect::hop_count(topo, k, k + 1)));
    } catch (const std::runtime_error& e) {
      throw InputError(sys.file + ": system.topology " +
                       interconnect::to_string(sys.topology.kind) + ": " + e.what());
    }
  }
  const double cap = sys.mapping.utilisation_cap;
  const PartResult r = method == "balanced" ? partition_balanced(pn, pe, pd, links, cap)
                                            : partition_greedy(pn, pe, pd, links, cap);
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    NodeMap& nm = m.nodes[i];
    nm.device = r.device[i];
    const bool off = pn[i].weights_fixed_off || (r.weights_off[i] && pn[i].has_weights);
    const double ratio = uram_per_bram36(devices[static_cast<std::size_t>(nm.device)].type);
    if (off != nm.hw.weights_off_chip || ratio != nm.hw.uram_per_bram36) {
      nm.hw.weights_off_chip = off;
      nm.hw.uram_per_bram36 = ratio;
      nm.timing = op_timing(g, g.nodes[i], nm.hw);
      set_estimate(nm, estimate_node(g, g.nodes[i], nm.hw, nm.timing));
    }
  }
  m.estimated_bottleneck_ps = r.bottleneck_ps;
  m.estimated_bottleneck = r.bottleneck;
  // The host injects each graph input one beat per cycle (SourceBlock): a bound no stage
  // or split lowers.
  for (std::size_t k = 0; k < g.inputs.size(); ++k) {
    const double ps = static_cast<double>(m.inputs[k].beats) * static_cast<double>(period);
    if (ps > m.estimated_bottleneck_ps) {
      m.estimated_bottleneck_ps = ps;
      m.estimated_bottleneck = "host input '" + g.inputs[k].name + "' (" +
                               std::to_string(m.inputs[k].beats) +
                               " beats per inference, one per cycle)";
    }
  }
  m.notes = r.notes;
  m.idle_reason = r.idle_reason;
}

}  // namespace

std::vector<std::string> resource_overflows(const std::vector<DeviceInstance>& devices,
                                            const std::vector<Resources>& used,
                                            const std::string& note) {
  std::vector<std::string> v;
  for (std::size_t d = 0; d < devices.size(); ++d) {
    const auto& c = devices[d].type.capacity;
    const auto& u = used[d];
    for (Res k : u.overflows(c))
      v.push_back("device '" + devices[d].name + "' (" + devices[d].type.name +
                  "): " + kResourceKinds[static_cast<std::size_t>(k)].name + " needs " + fmt(u[k]) +
                  " but has " + fmt(c[k]) + note);
  }
  return v;
}

void set_estimate(NodeMap& nm, const ResourceEstimate& e) {
  nm.estimate = e;
  nm.resources = e.res;
  nm.storage_spill.clear();
}

Resources fit_resources(const Resources& r, bool extrapolated, double margin) {
  if (!extrapolated) return r;
  const double f = 1.0 + margin;
  return r * f;
}

namespace {
/// Engine resources per device (the engines' own datapaths and buffers).
std::vector<Resources> engine_usage(const SystemSpec& s, const Mapping& m) {
  std::vector<Resources> u(s.devices.size());
  for (std::size_t e = 0; e < m.engine_resources.size() && e < s.engines.size(); ++e)
    u[static_cast<std::size_t>(s.engines[e].device)] += m.engine_resources[e];
  return u;
}
}  // namespace

void refresh_usage(const SystemSpec& s, Mapping& m) {
  m.used = engine_usage(s, m);
  for (const auto& nm : m.nodes) m.used[static_cast<std::size_t>(nm.device)] += nm.resources;
}

Resources fit_usage(const SystemSpec& s, const Mapping& m, int device) {
  Resources u;
  for (std::size_t e = 0; e < m.engine_resources.size() && e < s.engines.size(); ++e)
    if (s.engines[e].device == device) u += m.engine_resources[e];
  const double margin = s.mapping.extrapolation_margin;
  for (const auto& nm : m.nodes)
    if (nm.device == device) u += fit_resources(nm.resources, nm.estimate.extrapolated, margin);
  return u;
}

std::vector<Resources> fit_usage(const SystemSpec& s, const Mapping& m) {
  std::vector<Resources> u = engine_usage(s, m);
  const double margin = s.mapping.extrapolation_margin;
  for (const auto& nm : m.nodes)
    u[static_cast<std::size_t>(nm.device)] +=
        fit_resources(nm.resources, nm.estimate.extrapolated, margin);
  return u;
}

namespace {
/// m.used of one device again (its engines and nodes).
void refresh_device_usage(const SystemSpec& s, Mapping& m, int device) {
  if (m.used.size() != s.devices.size()) {
    refresh_usage(s, m);
    return;
  }
  Resources u;
  for (std::size_t e = 0; e < m.engine_resources.size() && e < s.engines.size(); ++e)
    if (s.engines[e].device == device) u += m.engine_resources[e];
  for (const auto& nm : m.nodes)
    if (nm.device == device) u += nm.resources;
  m.used[static_cast<std::size_t>(device)] = u;
}
}  // namespace

void spill_storage(const SystemSpec& s, Mapping& m, int device) {
  // Capacity, or the partitioner's utilisation cap when it placed the nodes.
  Resources c = s.devices[static_cast<std::size_t>(device)].type.capacity;
  const double frac = m.partition != "manual" ? s.mapping.utilisation_cap : 1.0;
  c[Res::bram36] *= frac, c[Res::uram] *= frac;
  const double margin = s.mapping.extrapolation_margin;
  std::vector<std::size_t> on;
  for (std::size_t i = 0; i < m.nodes.size(); ++i)
    if (m.nodes[i].device == device) {
      m.nodes[i].resources = m.nodes[i].estimate.res;
      m.nodes[i].storage_spill.clear();
      on.push_back(i);
    }
  Resources u = fit_usage(s, m, device);
  const bool uram_over = u[Res::uram] > c[Res::uram], bram_over = u[Res::bram36] > c[Res::bram36];
  if (uram_over == bram_over) {  // both fit, or neither can take the other's arrays
    refresh_device_usage(s, m, device);
    return;
  }
  // Largest arrays of the kind that overflows first.
  std::stable_sort(on.begin(), on.end(), [&](std::size_t a, std::size_t b) {
    const auto& ra = m.nodes[a].estimate.res;
    const auto& rb = m.nodes[b].estimate.res;
    return uram_over ? ra[Res::uram] > rb[Res::uram] : ra[Res::bram36] > rb[Res::bram36];
  });
  for (const std::size_t i : on) {
    if (uram_over ? u[Res::uram] <= c[Res::uram] : u[Res::bram36] <= c[Res::bram36]) break;
    NodeMap& nm = m.nodes[i];
    const ResourceEstimate& e = nm.estimate;
    const double f = e.extrapolated ? 1.0 + margin : 1.0;
    // A memory may be split by address range: the last one moved moves only the share
    // (in whole blocks) that brings its kind within the limit.
    const double from = uram_over ? e.res[Res::uram] : e.res[Res::bram36];
    const double to = uram_over ? e.uram_as_bram36 : e.bram36_as_uram;
    if (from <= 0 || to <= 0) continue;
    const double excess = uram_over ? u[Res::uram] - c[Res::uram] : u[Res::bram36] - c[Res::bram36];
    const double room =
        (uram_over ? c[Res::bram36] - u[Res::bram36] : c[Res::uram] - u[Res::uram]) / f;
    const double freed = std::min(
        {from, std::ceil(excess / f - 1e-9), std::floor(std::max(0.0, room - 1) * from / to)});
    if (freed <= 0) continue;
    const double added = std::ceil(to * freed / from - 1e-9);
    if (uram_over) {
      u[Res::uram] -= f * freed, u[Res::bram36] += f * added;
      nm.resources[Res::uram] -= freed, nm.resources[Res::bram36] += added;
      nm.storage_spill = "uram_to_bram";
    } else {
      u[Res::bram36] -= f * freed, u[Res::uram] += f * added;
      nm.resources[Res::bram36] -= freed, nm.resources[Res::uram] += added;
      nm.storage_spill = "bram_to_uram";
    }
  }
  refresh_device_usage(s, m, device);
}

namespace {

/// mapping.auto's multiplier binding, per device: nodes whose binding mapping.binding
/// does not fix, largest DSP users first, each takes the binding (hls_default,
/// dsp_packed, lut, preferred in that order on ties) that minimises the device's larger
/// share of LUT and DSP (fit usage) given the others' choices.
void choose_bindings(const Graph& g, const SystemSpec& sys, Mapping& m) {
  const double margin = sys.mapping.extrapolation_margin;
  for (std::size_t d = 0; d < sys.devices.size(); ++d) {
    const auto& c = sys.devices[d].type.capacity;
    std::vector<std::size_t> cand;
    for (std::size_t i = 0; i < m.nodes.size(); ++i)
      if (m.nodes[i].device == static_cast<int>(d) && !m.nodes[i].binding_given &&
          m.engines.engine_of[i] < 0 && !m.nodes[i].hw.in.empty())
        cand.push_back(i);
    std::stable_sort(cand.begin(), cand.end(), [&](std::size_t a, std::size_t b) {
      return m.nodes[a].resources[Res::dsp] > m.nodes[b].resources[Res::dsp];
    });
    auto share = [&](const Resources& u) { return u.max_utilisation(c, {Res::lut, Res::dsp}); };
    for (const std::size_t i : cand) {
      NodeMap& nm = m.nodes[i];
      const Resources base =
          fit_resources(nm.resources, nm.estimate.extrapolated, margin);  // current choice
      Resources others = fit_usage(sys, m, static_cast<int>(d));
      others[Res::lut] -= base[Res::lut], others[Res::dsp] -= base[Res::dsp];
      MulBinding best = nm.hw.binding;
      double best_share = 0;
      ResourceEstimate best_e;
      bool first = true;
      for (const MulBinding b : {MulBinding::HlsDefault, MulBinding::DspPacked, MulBinding::Lut}) {
        NodeHw hw = nm.hw;
        hw.binding = b;
        const ResourceEstimate e = estimate_node(g, g.nodes[i], hw, nm.timing);
        Resources u = others;
        const Resources f = fit_resources(e.res, e.extrapolated, margin);
        u[Res::lut] += f[Res::lut], u[Res::dsp] += f[Res::dsp];
        const double sh = share(u);
        if (first || sh < best_share - 1e-12) {
          first = false;
          best = b;
          best_share = sh;
          best_e = e;
        }
      }
      if (best != nm.hw.binding)
        m.binding_notes.push_back("node '" + g.nodes[i].name + "': binding " +
                                  mul_binding_name(best) + " (was " +
                                  mul_binding_name(nm.hw.binding) + ")");
      nm.hw.binding = best;
      set_estimate(nm, best_e);
    }
  }
  refresh_usage(sys, m);
}

/// Off-chip bytes per device: weights streamed (and every shared-engine node's weights),
/// KV caches off chip, and the tensors shared engines keep in memory (each task's output
/// and each input that arrives by stream, as system.cpp allocates them).
std::vector<OffChipUse> offchip_usage(const Graph& g, const SystemSpec& sys, const Mapping& m) {
  std::vector<OffChipUse> u(sys.devices.size());
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    const NodeMap& nm = m.nodes[i];
    auto& d = u[static_cast<std::size_t>(nm.device)];
    const bool on_engine = m.engines.engine_of.size() > i && m.engines.engine_of[i] >= 0;
    if (nm.hw.weights_off_chip)
      d.weight_bytes += static_cast<double>(ops::streamed_weight_bytes(n));
    else if (const Param* w = n.param("weight"); w && on_engine)
      d.weight_bytes += static_cast<double>(w->tensor.bytes());
    if (nm.hw.kv_off_chip) d.kv_cache_bytes += static_cast<double>(nm.hw.kv_capacity_bytes);
  }
  for (std::size_t e = 0; e < m.engines.plans.size(); ++e) {
    auto& d = u[static_cast<std::size_t>(sys.engines[e].device)];
    for (const EngineTask& t : m.engines.plans[e].tasks) {
      if (t.fused_into >= 0) continue;
      const Node& n = g.nodes[static_cast<std::size_t>(t.node)];
      const int last = t.fused.empty() ? t.node : t.fused.back();
      d.activation_bytes +=
          static_cast<double>(g.nodes[static_cast<std::size_t>(last)].results[0].bytes());
      for (const auto& a : n.args) {
        const auto it = g.node_index.find(a.node);
        const bool from_engine = it != g.node_index.end() && m.engines.engine_of[it->second] >= 0;
        if (!from_engine) d.activation_bytes += static_cast<double>(g.tensor_of(a).bytes());
      }
    }
  }
  return u;
}

}  // namespace

void move_weights_off_chip(const Graph& g, const SystemSpec& sys, Mapping& m, int device) {
  const auto d = static_cast<std::size_t>(device);
  const auto& c = sys.devices[d].type.capacity;
  for (;;) {
    const Resources used = fit_usage(sys, m, device);
    if (used[Res::bram36] <= c[Res::bram36] && used[Res::uram] <= c[Res::uram]) return;
    std::size_t best = g.nodes.size();
    for (std::size_t j = 0; j < g.nodes.size(); ++j) {
      const auto& o = m.nodes[j];
      if (o.device != device || o.hw.weights_off_chip || !ops::streams_weights(g.nodes[j]) ||
          m.engines.engine_of[j] >= 0 || o.reuse_layer >= 0)
        continue;
      if (best == g.nodes.size() ||
          ops::streamed_weight_bytes(g.nodes[j]) > ops::streamed_weight_bytes(g.nodes[best]))
        best = j;
    }
    if (best == g.nodes.size()) return;
    auto& b = m.nodes[best];
    b.hw.weights_off_chip = true;
    b.timing = op_timing(g, g.nodes[best], b.hw);
    set_estimate(b, estimate_node(g, g.nodes[best], b.hw, b.timing));
    spill_storage(sys, m, device);
  }
}

namespace {
void place_slrs(const Graph& g, const SystemSpec& sys, Mapping& m);
std::vector<std::string> slr_overflows(const std::vector<DeviceInstance>& devices,
                                       const std::vector<SlrLedger>& slrs);
}  // namespace

void check_fit(const Graph& g, const SystemSpec& s, Mapping& m, const std::string& what,
               const std::string& hint) {
  std::size_t extrapolated = 0;
  for (const auto& nm : m.nodes) extrapolated += nm.estimate.extrapolated ? 1 : 0;
  const double margin = s.mapping.extrapolation_margin;
  std::string note;
  if (extrapolated > 0 && margin > 0) {
    std::ostringstream o;
    o << " (with a " << margin * 100 << " % margin on " << extrapolated
      << " extrapolated node estimates, mapping.extrapolation_margin)";
    note = o.str();
  }
  m.overflows = resource_overflows(s.devices, fit_usage(s, m), note);
  place_slrs(g, s, m);  // the SLR ledgers of the resources as they now are
  for (const auto& o : slr_overflows(s.devices, m.slrs)) m.overflows.push_back(o);
  m.offchip = offchip_usage(g, s, m);
  for (std::size_t d = 0; d < s.devices.size(); ++d) {
    const auto& dev = s.devices[d];
    const OffChipUse& o = m.offchip[d];
    const double cap = dev.type.memory_capacity_gbytes * 1e9;
    if (o.total() <= cap) continue;
    m.overflows.push_back("device '" + dev.name + "' (" + dev.type.name + "): off-chip memory " +
                          dev.type.memory_kind + " needs " + fmt(o.total()) + " bytes but has " +
                          fmt(cap) + " (weights " + fmt(o.weight_bytes) + ", KV caches " +
                          fmt(o.kv_cache_bytes) + ", activations " + fmt(o.activation_bytes) + ")");
  }
  if (m.overflows.empty() || s.mapping.oversubscribe) return;
  std::string msg = what + ": " + m.overflows[0];
  for (std::size_t i = 1; i < m.overflows.size(); ++i) msg += "; " + m.overflows[i];
  throw SimulationError(msg + " (" + hint + ")");
}

bool partition_fits(const Graph& g, const SystemSpec& sys, const Mapping& m) {
  Mapping copy = m;
  try {
    automatic_partition(g, sys, copy, "balanced");
  } catch (const SimulationError&) {
    return false;
  }
  return true;
}

std::int64_t slr_crossing_cycles(const DeviceType& t, int a, int b) {
  if (a < 0 || b < 0) return 0;
  return static_cast<std::int64_t>(std::abs(a - b)) * t.slr_crossing.latency_cycles;
}

namespace {

/// mapping.slr and the engines' SLRs: every node's SLR, then each device's ledger.
void place_slrs(const Graph& g, const SystemSpec& sys, Mapping& m) {
  const auto& devices = sys.devices;
  m.slrs.assign(devices.size(), SlrLedger{});
  for (std::size_t d = 0; d < devices.size(); ++d) {
    const auto n = devices[d].type.slr_list.size();
    m.slrs[d].used.assign(n, Resources{});
    m.slrs[d].boundary_bits.assign(n > 0 ? n - 1 : 0, 0);
  }
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    NodeMap& nm = m.nodes[i];
    const DeviceInstance& dev = devices[static_cast<std::size_t>(nm.device)];
    const int e = m.engines.any() ? m.engines.engine_of[i] : -1;
    const int engine_slr = e >= 0 ? sys.engines[static_cast<std::size_t>(e)].slr : -1;
    // A layer-reuse boundary (sim/mapping/layer_reuse.hpp) is a trip through memory on the region's
    // port, not a block: mapping.slr globs written for the layers' nodes do not place it.
    const bool layer_io = e >= 0 && sys.engines[static_cast<std::size_t>(e)].name == kLayerIoEngine;
    for (const auto& rule : sys.mapping.slr) {
      if (layer_io) break;
      if (fnmatch(rule.glob.c_str(), g.nodes[i].name.c_str(), 0) != 0) continue;
      const std::string where = sys.file + ": mapping.slr." + rule.glob + " (node '" +
                                g.nodes[i].name + "' on device '" + dev.name + "')";
      const Slr& s = find_slr(dev.type, rule.slr, where);
      nm.slr = static_cast<int>(&s - dev.type.slr_list.data());
      if (e >= 0 && nm.slr != engine_slr)
        throw InputError(where + ": the node runs on engine '" +
                         sys.engines[static_cast<std::size_t>(e)].name + "', which is in " +
                         (engine_slr < 0
                              ? std::string("no SLR (system.engines[].slr)")
                              : dev.type.slr_list[static_cast<std::size_t>(engine_slr)].name));
      break;
    }
    if (e >= 0) nm.slr = engine_slr;
    SlrLedger& L = m.slrs[static_cast<std::size_t>(nm.device)];
    if (nm.slr >= 0)
      L.used[static_cast<std::size_t>(nm.slr)] += nm.resources;
    else if (e < 0)
      ++L.unplaced_nodes;
  }
  for (std::size_t e = 0; e < sys.engines.size() && e < m.engine_resources.size(); ++e) {
    const EngineSpec& es = sys.engines[e];
    if (es.slr >= 0)
      m.slrs[static_cast<std::size_t>(es.device)].used[static_cast<std::size_t>(es.slr)] +=
          m.engine_resources[e];
  }
  // Streams between SLRs: each crosses every boundary between its two ends.
  for (std::size_t c = 0; c < g.nodes.size(); ++c) {
    for (const auto& arg : g.nodes[c].args) {
      const auto it = g.node_index.find(arg.node);
      if (it == g.node_index.end()) continue;
      const std::size_t p = it->second;
      const NodeMap &pm = m.nodes[p], &cm = m.nodes[c];
      if (pm.device != cm.device || pm.slr < 0 || cm.slr < 0 || pm.slr == cm.slr) continue;
      if (m.engines.any() && m.engines.engine_of[p] >= 0 && m.engines.engine_of[c] >= 0)
        continue;  // through memory, no stream
      SlrLedger& L = m.slrs[static_cast<std::size_t>(cm.device)];
      ++L.crossings;
      const Tensor& t = g.nodes[p].results[0];
      const auto bits = static_cast<std::int64_t>(std::ceil(
          static_cast<double>(pm.hw.out.elems_per_beat) * t.precision.bits_per_element()));
      for (int b = std::min(pm.slr, cm.slr); b < std::max(pm.slr, cm.slr); ++b)
        L.boundary_bits[static_cast<std::size_t>(b)] += bits;
    }
  }
}

/// "device 'x' (u280) SLR1: dsp needs 3100 but has 3008" per SLR and resource; the same for
/// stream bits across a boundary against its super long lines.
std::vector<std::string> slr_overflows(const std::vector<DeviceInstance>& devices,
                                       const std::vector<SlrLedger>& slrs) {
  std::vector<std::string> v;
  for (std::size_t d = 0; d < devices.size() && d < slrs.size(); ++d) {
    const DeviceType& t = devices[d].type;
    const std::string dev = "device '" + devices[d].name + "' (" + t.name + ") ";
    for (std::size_t k = 0; k < t.slr_list.size(); ++k) {
      const Resources& u = slrs[d].used[k];
      const Resources& c = t.slr_list[k].capacity;
      for (Res r : u.overflows(c))
        v.push_back(dev + t.slr_list[k].name + ": " +
                    kResourceKinds[static_cast<std::size_t>(r)].name + " needs " + fmt(u[r]) +
                    " but has " + fmt(c[r]));
    }
    for (std::size_t b = 0; b < slrs[d].boundary_bits.size(); ++b)
      if (slrs[d].boundary_bits[b] > t.slr_crossing.sll_bits_per_cycle)
        v.push_back(dev + t.slr_list[b].name + "/" + t.slr_list[b + 1].name +
                    " boundary: streams need " + std::to_string(slrs[d].boundary_bits[b]) +
                    " bits per cycle but its super long lines carry " +
                    std::to_string(t.slr_crossing.sll_bits_per_cycle));
  }
  return v;
}

}  // namespace

namespace {

/// Layer reuse (sim/mapping/layer_reuse.hpp): the region's blocks are layer 0's; every other
/// layer's blocks are the same hardware (no resources of their own), except the KV caches, which
/// are per layer. Layer 0's blocks hold resident_layers() layers of their parameters. The
/// parameters stay on chip (the region fetches them per layer), and the region lives on the
/// device of its off-chip port.
void apply_layer_reuse(const Graph& g, const SystemSpec& sys, Mapping& m) {
  const LayerReusePlan reuse = layer_reuse_plan(g, sys);
  if (!reuse.enabled()) return;
  int io_device = 0;
  for (const auto& e : sys.engines)
    if (e.name == kLayerIoEngine) io_device = e.device;
  const std::string key = sys.file + ": mapping.layer_reuse";
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    const int l = reuse.layer_of[i];
    if (l < 0 || m.engines.engine_of[i] >= 0) continue;
    const Node& n = g.nodes[i];
    NodeMap& nm = m.nodes[i];
    nm.reuse_layer = l;
    if (nm.device != io_device)
      throw InputError(
          key + ": node '" + n.name + "' of layer " + std::to_string(l) + " is placed on device '" +
          sys.devices[static_cast<std::size_t>(nm.device)].name + "', but the region lives on '" +
          sys.devices[static_cast<std::size_t>(io_device)].name + "'");
    if (nm.weights_fixed_off)
      throw InputError(key + ": node '" + n.name +
                       "' has its weights off chip (hw.weights or mapping.weights: off_chip), "
                       "but a reuse region holds each layer's parameters in its on-chip buffers "
                       "(mapping.layer_reuse.weight_buffers) and fetches them per layer");
    if (ops::of(n).cls == OpClass::KvCache) continue;
    if (l > 0) {
      set_estimate(nm, ResourceEstimate{});
      continue;
    }
    double bits = 0;
    for (const auto& p : n.params)
      if (p.shared_with.empty())
        bits += static_cast<double>(p.tensor.numel()) * p.tensor.precision.bits_per_element();
    if (bits > 0 && reuse.resident_layers() > 1) {
      ResourceEstimate e = nm.estimate;
      e += flat_buffer(bits * static_cast<double>(reuse.resident_layers() - 1),
                       nm.hw.uram_per_bram36);
      set_estimate(nm, e);
    }
  }
}

}  // namespace

using ProducerTiling = std::function<const PortTiling&(const PortRef&)>;

/// The device of node `n` from its hw.device and mapping.place (device_given); InputError
/// naming the node for a device that is not in system.devices.
void place_node(const Graph& g, const SystemSpec& sys, const Node& n, NodeMap& nm) {
  const auto& devices = sys.devices;
  const MappingSpec& ms = sys.mapping;
  const std::string at = g.file + ":" + std::to_string(n.line) + ": node '" + n.name + "'";
  if (!n.hw.device.empty()) {
    nm.device = -1;
    for (std::size_t d = 0; d < devices.size(); ++d)
      if (devices[d].name == n.hw.device) nm.device = static_cast<int>(d);
    if (nm.device < 0) {
      std::vector<std::string> names;
      for (const auto& d : devices) names.push_back(d.name);
      throw InputError(at + ": hw.device '" + n.hw.device + "' is not in system.devices" +
                       did_you_mean(n.hw.device, names));
    }
    nm.device_given = true;
  }
  for (const auto& rule : ms.place) {
    if (fnmatch(rule.glob.c_str(), n.name.c_str(), 0) != 0) continue;
    nm.device = rule.device;
    nm.device_given = true;
    break;
  }
}

/// The node's per-port lanes: mapping.lanes (first matching rule) over its hw.parallelism;
/// `from_config` gets the ports a rule set.
std::map<std::string, std::vector<std::int64_t>> node_lanes(const Graph& g, const SystemSpec& sys,
                                                            const Node& n,
                                                            std::set<std::string>& from_config) {
  const MappingSpec& ms = sys.mapping;
  const ops::OpDescriptor* rule = &ops::of(n);
  std::map<std::string, std::vector<std::int64_t>> par = n.hw.parallelism;
  for (const auto& lr : ms.lanes) {
    if (fnmatch(lr.glob.c_str(), n.name.c_str(), 0) != 0) continue;
    auto set = [&](const std::string& port, std::int64_t lanes) {
      const auto all = lr.ports.find("");
      const auto one = lr.ports.find(port);
      if (one != lr.ports.end())
        lanes = one->second;
      else if (all != lr.ports.end())
        lanes = all->second;
      else
        return;
      // Channel-tiled ops (conv, pool) take the lanes over their channels (dim 1).
      const Shape& ps = port == "data_out_0"
                            ? n.results[0].shape
                            : g.tensor_of(n.args.at(std::stoul(port.substr(8)))).shape;
      if (rule->channel_lanes && ps.size() >= 2) {
        if (ps[1] % lanes != 0)
          throw InputError(sys.file + ": mapping.lanes: node '" + n.name + "' " + port + ": " +
                           std::to_string(lanes) + " lanes do not divide its " +
                           std::to_string(ps[1]) + " channels");
        par[port] = channel_tile(ps, lanes);
        return;
      }
      par[port] = {1, lanes};
      from_config.insert(port);
    };
    for (std::size_t p = 0; p < n.args.size(); ++p) set("data_in_" + std::to_string(p), 0);
    set("data_out_0", 0);
    for (const auto& [port, lanes] : lr.ports)
      if (!port.empty() && port != "data_out_0" && std::stoul(port.substr(8)) >= n.args.size())
        throw InputError(sys.file + ": mapping.lanes." + lr.glob + "." + port + ": node '" +
                         n.name + "' has " + std::to_string(n.args.size()) + " data inputs");
    break;
  }
  // A width the config gives must divide a fixed last dim (a dim like seq or ctx pads).
  for (const auto& port : from_config) {
    const auto& tile = par.at(port);
    const Tensor& t =
        port == "data_out_0" ? n.results[0] : g.tensor_of(n.args.at(std::stoul(port.substr(8))));
    const bool symbolic = !t.shape_expr.empty() && !t.shape_expr.back().name.empty();
    // A GEMM's output columns may leave the last beat partly filled (an array of n
    // columns runs ceil(N / n) column blocks), as the LM head over a 50,257-token vocabulary.
    const bool padded_gemm_out = port == "data_out_0" && rule->cls == OpClass::Gemm;
    if (!symbolic && !padded_gemm_out && !t.shape.empty() && t.shape.back() % tile.back() != 0)
      throw InputError(sys.file + ": mapping.lanes: node '" + n.name + "' " + port + ": " +
                       std::to_string(tile.back()) + " lanes do not divide its last dim " +
                       std::to_string(t.shape.back()));
  }
  return par;
}

/// The tiling of the node's input ports (its producers' unless a lane rule or a channel
/// adapter says otherwise) and of its output.
void tile_ports(const Graph& g, const SystemSpec& sys, const Node& n,
                const std::map<std::string, std::vector<std::int64_t>>& par,
                const std::set<std::string>& from_config, const ProducerTiling& producer_tiling,
                NodeMap& nm) {
  const MappingSpec& ms = sys.mapping;
  const std::int64_t cap = ms.default_parallelism;
  const ops::OpDescriptor* rule = &ops::of(n);
  for (std::size_t p = 0; p < n.args.size(); ++p) {
    const Shape& s = g.tensor_of(n.args[p]).shape;
    auto it = par.find("data_in_" + std::to_string(p));
    if (it != par.end()) {
      nm.hw.in.push_back(tile_port(s, it->second));
    } else if (p == 0 && rule->channel_lanes &&
               !is_channel_tile(s, producer_tiling(n.args[p]).tile)) {
      nm.hw.in.push_back(tile_port(s, default_channel_tile(s, cap)));  // width adapter
    } else {
      nm.hw.in.push_back(producer_tiling(n.args[p]));
    }
  }
  const Shape& os = n.results[0].shape;
  auto it = par.find("data_out_0");
  if (it != par.end()) {
    nm.hw.out = from_config.count("data_out_0") ? tile_port_padded(os, it->second)
                                                : tile_port(os, it->second);
  } else if ((rule->cls == OpClass::Elementwise || rule->cls == OpClass::RowReduce ||
              rule->cls == OpClass::Wire) &&
             g.tensor_of(n.args[0]).shape == os) {
    nm.hw.out = tile_port(os, nm.hw.in[0].tile);
  } else if (rule->channel_lanes) {
    nm.hw.out = tile_port(os, default_channel_tile(os, cap));
  } else if (rule->cls == OpClass::KvCache) {
    nm.hw.out = tile_port(os, default_tile(os, kv_port_lanes(ms, n.results[0])));
  } else {
    nm.hw.out = tile_port(os, default_tile(os, cap));
  }
}

/// Node `n`'s default mapping: device, tiles, weight placement, systolic choice, binding,
/// timing and resource estimate.
NodeMap map_node(const Graph& g, const SystemSpec& sys, const Node& n,
                 const ProducerTiling& producer_tiling) {
  const auto& devices = sys.devices;
  const MappingSpec& ms = sys.mapping;
  const WeightPolicy weights = ms.weights;
  NodeMap nm;
  nm.replica_ways = n.hw.replica_ways;
  nm.replica_index = n.hw.replica_index;
  const std::string at = g.file + ":" + std::to_string(n.line) + ": node '" + n.name + "'";
  place_node(g, sys, n, nm);
  const ops::OpDescriptor* rule = &ops::of(n);
  std::set<std::string> from_config;
  const auto par = node_lanes(g, sys, n, from_config);
  tile_ports(g, sys, n, par, from_config, producer_tiling, nm);
  // An explicit off-chip placement (hw.weights or mapping.weights: off_chip) is kept by
  // every partitioner and by mapping.auto; mapping.weights: on_chip cannot keep it.
  bool off = n.hw.weights == WeightPlace::OffChip;
  if (n.hw.weights == WeightPlace::OffChip && !rule->weights_can_stream)
    throw InputError(at + ": hw.weights: off_chip, but op '" + n.op +
                     "' cannot stream weights from off-chip memory (only linear, conv, "
                     "embedding and moe_experts blocks can)");
  if (off && weights == WeightPolicy::OnChip && ops::streams_weights(n))
    throw InputError(at + ": hw.weights: off_chip conflicts with mapping.weights: on_chip in " +
                     sys.file + " (use mapping.weights: graph, auto or off_chip, or drop the " +
                     "node's hw.weights)");
  if (weights == WeightPolicy::OffChip) off = true;
  nm.hw.weights_off_chip = off && ops::streams_weights(n);
  nm.weights_fixed_off = nm.hw.weights_off_chip;
  nm.hw.weight_block_rows = ms.weight_block_rows;
  nm.hw.systolic = n.hw.impl == "systolic";
  for (const auto& glob : ms.systolic)
    if (fnmatch(glob.c_str(), n.name.c_str(), 0) == 0)
      nm.hw.systolic = rule->cls == OpClass::Gemm
                           ? true
                           : throw InputError(sys.file + ": mapping.systolic: node '" + n.name +
                                              "' (" + n.op + ") is not a linear, matmul or bmm");
  for (const auto& [glob, u] : ms.kernel_unroll) {
    if (fnmatch(glob.c_str(), n.name.c_str(), 0) != 0) continue;
    if (n.op != "conv2d")
      throw InputError(sys.file + ": mapping.kernel_unroll." + glob + ": node '" + n.name + "' (" +
                       n.op + ") is not a conv2d");
    const Param* w = n.param("weight");
    const std::int64_t window =
        w && w->tensor.shape.size() == 4 ? w->tensor.shape[2] * w->tensor.shape[3] : 1;
    if (window % u != 0)
      throw InputError(sys.file + ": mapping.kernel_unroll." + glob + ": " + std::to_string(u) +
                       " does not divide node '" + n.name + "''s " + std::to_string(window) +
                       "-position kernel window");
    nm.hw.kernel_unroll = u;
    nm.kernel_unroll_given = true;
    break;
  }
  nm.hw.binding = ms.binding;
  for (const auto& [glob, b] : ms.binding_rules) {
    if (fnmatch(glob.c_str(), n.name.c_str(), 0) != 0) continue;
    nm.hw.binding = b;
    nm.binding_given = true;
    break;
  }
  nm.hw.uram_per_bram36 = uram_per_bram36(devices[static_cast<std::size_t>(nm.device)].type);
  nm.hw.systolic_rows = sys.systolic.rows;
  nm.hw.systolic_cols = sys.systolic.cols;
  nm.hw.weight_stationary = sys.systolic.weight_stationary;
  try {
    nm.timing = op_timing(g, n, nm.hw);
  } catch (const InputError& e) {
    throw InputError(g.file + ":" + std::to_string(n.line) + ": " + e.what());
  }
  set_estimate(nm, estimate_node(g, n, nm.hw, nm.timing));
  return nm;
}

/// Shared engines: their nodes live on the engine's device and use the engine's resources.
void map_engines(const Graph& g, const SystemSpec& sys, Mapping& m) {
  const auto& devices = sys.devices;
  const MappingSpec& ms = sys.mapping;
  // Shared engines: their nodes live on the engine's device and use the engine's resources.
  // Nodes that no mapping.engines glob takes and that are placed on a host run on its CPU.
  std::vector<int> default_engine(g.nodes.size(), -1);
  for (std::size_t i = 0; i < g.nodes.size(); ++i)
    for (std::size_t e = 0; e < sys.engines.size(); ++e)
      if (sys.engines[e].core.cpu && sys.engines[e].device == m.nodes[i].device)
        default_engine[i] = static_cast<int>(e);
  m.engines = assign_engines(g, sys.engines, sys.file, default_engine);
  if (m.engines.any()) {
    if (ms.automatic || ms.partition != "manual")
      throw InputError(sys.file +
                       ": shared engines (mapping.engines, or a host device's CPU) need "
                       "mapping.partition: manual and mapping.auto: false (the partitioners "
                       "place spatial blocks only)");
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
      const int e = m.engines.engine_of[i];
      if (e < 0) continue;
      const EngineSpec& es = sys.engines[static_cast<std::size_t>(e)];
      NodeMap& nm = m.nodes[i];
      if (nm.device_given && nm.device != es.device)
        throw InputError(sys.file + ": node '" + g.nodes[i].name + "' is placed on device '" +
                         devices[static_cast<std::size_t>(nm.device)].name +
                         "' but runs on engine '" + es.name + "' of device '" +
                         devices[static_cast<std::size_t>(es.device)].name + "'");
      nm.device = es.device;
      nm.device_given = true;
      set_estimate(nm, ResourceEstimate{});
    }
    for (const auto& es : sys.engines) {
      m.engine_resources.push_back(
          engine_resources(es, devices[static_cast<std::size_t>(es.device)].type));
    }
  }
}

/// mapping.auto's tiles and the partition (manual, balanced or greedy) of every node.
void partition_nodes(const Graph& g, const SystemSpec& sys, Mapping& m) {
  const MappingSpec& ms = sys.mapping;
  std::string partition = ms.partition;
  if (ms.automatic) {
    // Every node placed (hw.device, e.g. by the tensor-parallel rewrite, or
    // mapping.place): the placement is kept and auto only sizes the tiles within each
    // device. No node placed: auto partitions with balanced. Some placed: an error, since
    // the balanced partitioner cannot keep a partial placement.
    std::size_t given = 0;
    const Node* unplaced = nullptr;
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
      if (m.nodes[i].device_given)
        ++given;
      else if (!unplaced)
        unplaced = &g.nodes[i];
    }
    const bool placed = !g.nodes.empty() && given == g.nodes.size();
    if (given > 0 && !placed)
      throw InputError(sys.file + ": mapping.auto partitions the graph itself, but " +
                       std::to_string(given) + " of its " + std::to_string(g.nodes.size()) +
                       " nodes have a device from mapping.place or hw.device and node '" +
                       unplaced->name +
                       "' has none: place every node (mapping.auto then only sizes the tiles) or "
                       "none");
    const AutoMapReport rep = auto_parallelism(g, sys, m, placed);
    m.automatic = true;
    m.auto_steps = rep.steps;
    m.auto_stop = rep.stop_reason;
    if (!placed) partition = "balanced";
  }
  if (!ms.automatic && partition != "manual" && !ms.place.empty())
    throw InputError(sys.file + ": mapping.place is kept only by mapping.partition: manual (or " +
                     "mapping.auto with every node placed); mapping.partition: " + partition +
                     " places every node itself");
  m.partition = partition;
  if (partition != "manual") automatic_partition(g, sys, m, partition);
}

Mapping map_graph(const Graph& g, const SystemSpec& sys) {
  Mapping m;
  const auto& devices = sys.devices;
  const MappingSpec& ms = sys.mapping;
  const std::int64_t cap = ms.default_parallelism;
  const WeightPolicy weights = ms.weights;
  m.used.assign(devices.size(), Resources{});
  // A graph input read by a conv or pooling node streams channel-parallel beats.
  auto channel_input = [&](const std::string& name) {
    for (const auto& n : g.nodes)
      if (!n.args.empty() && n.args[0].node == name && ops::of(n).channel_lanes) return true;
    return false;
  };
  for (const auto& in : g.inputs) {
    const Shape& s = in.tensor.shape;
    m.inputs.push_back(tile_port(s, s.size() >= 3 && channel_input(in.name)
                                        ? default_channel_tile(s, cap)
                                        : default_tile(s, cap)));
  }

  // Nodes are mapped in topological order, so a node's producers are mapped before it.
  const ProducerTiling producer_tiling = [&](const PortRef& r) -> const PortTiling& {
    for (std::size_t i = 0; i < g.inputs.size(); ++i)
      if (g.inputs[i].name == r.node) return m.inputs[i];
    const auto it = g.node_index.find(r.node);
    if (it != g.node_index.end() && it->second < m.nodes.size()) return m.nodes[it->second].hw.out;
    throw std::logic_error("producer not mapped: " + r.node);
  };

  for (const auto& n : g.nodes) m.nodes.push_back(map_node(g, sys, n, producer_tiling));

  map_engines(g, sys, m);
  apply_layer_reuse(g, sys, m);
  partition_nodes(g, sys, m);
  refresh_usage(sys, m);
  if (ms.automatic) choose_bindings(g, sys, m);
  for (std::size_t d = 0; d < devices.size(); ++d) spill_storage(sys, m, static_cast<int>(d));
  // mapping.weights: auto starts with every weight on chip and moves the largest ones
  // off chip until each device's BRAM and URAM fit (after spilling between the two).
  if (weights == WeightPolicy::Auto)
    for (std::size_t d = 0; d < devices.size(); ++d)
      move_weights_off_chip(g, sys, m, static_cast<int>(d));
  check_fit(g, sys, m, "the mapping does not fit",
            "set mapping.weights: auto or off_chip, lower the parallelism, or "
            "mapping.oversubscribe: true");
  return m;
}

}  // namespace masesim
