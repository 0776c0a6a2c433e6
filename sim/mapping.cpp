#include "sim/mapping.hpp"

#include <fnmatch.h>
#include <cmath>
#include <sstream>

#include "interconnect/framing.hpp"
#include "interconnect/topology.hpp"
#include "models/time.hpp"
#include "sim/auto_map.hpp"
#include "sim/partition.hpp"
#include "workloads/error.hpp"
#include "workloads/op_rules.hpp"
#include "workloads/yaml_util.hpp"

namespace masesim {

std::int64_t kv_port_lanes(const Config& cfg, const Tensor& t) {
  const double bits = t.precision.bits_per_element();
  const auto lanes = static_cast<std::int64_t>(
      static_cast<double>(cfg.get_int("mapping.kv_port_bytes")) * 8.0 / std::max(1.0, bits));
  return std::max<std::int64_t>({1, lanes, cfg.get_int("mapping.default_parallelism")});
}

std::vector<std::int64_t> default_tile(const Shape& s, std::int64_t cap) {
  if (s.empty()) return {1};
  return {largest_divisor_at_most(s.back(), cap)};
}

namespace {
std::string fmt(double v) {
  std::ostringstream o;
  o << static_cast<long long>(std::ceil(v));
  return o.str();
}
}  // namespace

namespace {

/// Fills node devices (and off-chip weights) with the balanced or greedy partitioner.
void automatic_partition(const Graph& g, const std::vector<DeviceInstance>& devices,
                         const Config& cfg, Mapping& m, const std::string& method) {
  const time_ps period = period_ps_for_mhz(devices[0].type.clock_mhz);
  std::vector<PartNode> pn(g.nodes.size());
  std::vector<PartEdge> pe;
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    NodeMap on = m.nodes[i];
    on.hw.weights_off_chip = false;
    on.timing = op_timing(g, n, on.hw);
    pn[i].res_on = estimate_resources(g, n, on.hw, on.timing);
    pn[i].time_on_ps = static_cast<double>(on.timing.ideal_cycles()) * static_cast<double>(period);
    pn[i].name = n.name;
    // mapping.weights: on_chip pins every weight on chip; otherwise the partitioner may
    // stream a node's weights from off-chip memory to make a stage fit.
    pn[i].has_weights = n.param("weight") != nullptr &&
                        find_op_rule(n.op)->cls != OpClass::RowReduce &&
                        find_op_rule(n.op)->cls != OpClass::Elementwise &&
                        cfg.get_string("mapping.weights") != "on_chip";
    if (pn[i].has_weights) {
      NodeMap off = m.nodes[i];
      off.hw.weights_off_chip = true;
      off.timing = op_timing(g, n, off.hw);
      pn[i].res_off = estimate_resources(g, n, off.hw, off.timing);
      pn[i].weight_bytes = static_cast<double>(off.timing.weight_bytes_per_inference);
    } else {
      pn[i].res_off = pn[i].res_on;
    }
    for (const auto& a : n.args) {
      const Node* p = g.find_node(a.node);
      if (!p) continue;
      const int from = static_cast<int>(p - g.nodes.data());
      pe.push_back({from, static_cast<int>(i), static_cast<double>(g.tensor_of(a).bytes())});
    }
  }
  std::vector<PartDevice> pd;
  for (const auto& d : devices)
    pd.push_back(
        {d.type.capacity, d.type.memory.channels * d.type.memory.gbytes_per_s_per_channel * 1e-3});
  PartLinks links;
  interconnect::FramingConfig f;
  f.kind = interconnect::parse_framing_kind(cfg.get_string("link.framing"));
  f.mtu_bytes = static_cast<std::uint64_t>(cfg.get_int("link.mtu_bytes"));
  links.bytes_per_ps = interconnect::goodput_gbps(f.mtu_bytes, f) / 8.0 * 1e-3;
  if (devices.size() > 1) {
    interconnect::TopologyParams tp;
    for (const auto& d : devices)
      tp.ports_per_device.push_back(static_cast<std::uint32_t>(d.type.qsfp28_ports));
    tp.rows = static_cast<std::uint32_t>(cfg.get_int("system.torus_rows"));
    tp.cols = static_cast<std::uint32_t>(cfg.get_int("system.torus_cols"));
    tp.allow_switch = cfg.get_bool("system.allow_switch");
    try {
      const auto topo = interconnect::make_topology(
          interconnect::parse_topology_kind(cfg.get_string("system.topology")),
          static_cast<std::uint32_t>(devices.size()), tp);
      for (std::uint32_t k = 0; k + 1 < devices.size(); ++k)
        links.next_hops.push_back(static_cast<int>(interconnect::hop_count(topo, k, k + 1)));
    } catch (const std::runtime_error& e) {
      throw InputError(cfg.file() + ": " + e.what());
    }
  }
  const double cap = cfg.get_double("mapping.utilisation_cap");
  const PartResult r = method == "balanced" ? partition_balanced(pn, pe, pd, links, cap)
                                            : partition_greedy(pn, pe, pd, links, cap);
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    NodeMap& nm = m.nodes[i];
    nm.device = r.device[i];
    const bool off = r.weights_off[i] && pn[i].has_weights;
    if (off != nm.hw.weights_off_chip) {
      nm.hw.weights_off_chip = off;
      nm.timing = op_timing(g, g.nodes[i], nm.hw);
      nm.resources = estimate_resources(g, g.nodes[i], nm.hw, nm.timing);
    }
  }
  m.estimated_bottleneck_ps = r.bottleneck_ps;
  m.estimated_bottleneck = r.bottleneck;
  m.notes = r.notes;
}

}  // namespace

std::vector<std::string> resource_overflows(const std::vector<DeviceInstance>& devices,
                                            const std::vector<Resources>& used) {
  std::vector<std::string> v;
  for (std::size_t d = 0; d < devices.size(); ++d) {
    const auto& c = devices[d].type.capacity;
    const auto& u = used[d];
    const std::pair<const char*, std::pair<double, double>> rs[] = {
        {"lut", {u.lut, c.lut}},
        {"ff", {u.ff, c.ff}},
        {"dsp", {u.dsp, c.dsp}},
        {"bram36", {u.bram36, c.bram36}},
        {"uram", {u.uram, c.uram}}};
    for (const auto& [name, uc] : rs)
      if (uc.first > uc.second)
        v.push_back("device '" + devices[d].name + "' (" + devices[d].type.name + "): " + name +
                    " needs " + fmt(uc.first) + " but has " + fmt(uc.second));
  }
  return v;
}

bool partition_fits(const Graph& g, const std::vector<DeviceInstance>& devices, const Config& cfg,
                    const Mapping& m) {
  Mapping copy = m;
  try {
    automatic_partition(g, devices, cfg, copy, "balanced");
  } catch (const SimulationError&) {
    return false;
  }
  return true;
}

Mapping map_graph(const Graph& g, const std::vector<DeviceInstance>& devices, const Config& cfg) {
  Mapping m;
  const std::int64_t cap = cfg.get_int("mapping.default_parallelism");
  const std::string weights = cfg.get_string("mapping.weights");
  const std::int64_t block_rows = cfg.get_int("mapping.weight_block_rows");
  m.used.assign(devices.size(), Resources{});
  const YAML::Node place = cfg.get_node("mapping.place");
  const YAML::Node systolic_globs = cfg.get_node("mapping.systolic");
  if (!place.IsMap() && !(place.IsSequence() && place.size() == 0))
    throw InputError(cfg.file() + ": mapping.place: expected a mapping {node-name glob: device}");
  for (const auto& in : g.inputs)
    m.inputs.push_back(tile_port(in.tensor.shape, default_tile(in.tensor.shape, cap)));

  auto producer_tiling = [&](const PortRef& r) -> const PortTiling& {
    for (std::size_t i = 0; i < g.inputs.size(); ++i)
      if (g.inputs[i].name == r.node) return m.inputs[i];
    for (std::size_t i = 0; i < m.nodes.size(); ++i)
      if (g.nodes[i].name == r.node) return m.nodes[i].hw.out;
    throw std::logic_error("producer not mapped: " + r.node);
  };

  for (const auto& n : g.nodes) {
    NodeMap nm;
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
    }
    for (const auto& kv : place) {
      const std::string glob = yaml::key_string(cfg.file(), kv.first, "mapping.place");
      if (fnmatch(glob.c_str(), n.name.c_str(), 0) != 0) continue;
      const std::string dev = yaml::scalar_string(cfg.file(), kv.second, "mapping.place." + glob);
      nm.device = -1;
      for (std::size_t d = 0; d < devices.size(); ++d)
        if (devices[d].name == dev) nm.device = static_cast<int>(d);
      if (nm.device < 0)
        throw InputError(cfg.file() + ": mapping.place." + glob + ": device '" + dev +
                         "' is not in system.devices");
      break;
    }
    const OpRule* rule = find_op_rule(n.op);
    for (std::size_t p = 0; p < n.args.size(); ++p) {
      const Shape& s = g.tensor_of(n.args[p]).shape;
      auto it = n.hw.parallelism.find("data_in_" + std::to_string(p));
      nm.hw.in.push_back(it != n.hw.parallelism.end() ? tile_port(s, it->second)
                                                      : producer_tiling(n.args[p]));
    }
    const Shape& os = n.results[0].shape;
    auto it = n.hw.parallelism.find("data_out_0");
    if (it != n.hw.parallelism.end()) {
      nm.hw.out = tile_port(os, it->second);
    } else if ((rule->cls == OpClass::Elementwise || rule->cls == OpClass::RowReduce ||
                rule->cls == OpClass::Wire) &&
               g.tensor_of(n.args[0]).shape == os) {
      nm.hw.out = tile_port(os, nm.hw.in[0].tile);
    } else if (n.op == "kv_cache") {
      nm.hw.out = tile_port(os, default_tile(os, kv_port_lanes(cfg, n.results[0])));
    } else {
      nm.hw.out = tile_port(os, default_tile(os, cap));
    }
    bool off = n.hw.weights == WeightPlace::OffChip;
    if (weights == "on_chip" || weights == "auto") off = false;
    if (weights == "off_chip") off = true;
    nm.hw.weights_off_chip = off && n.param("weight") != nullptr;
    nm.hw.weight_block_rows = block_rows;
    nm.hw.systolic = n.hw.impl == "systolic";
    for (std::size_t k = 0; systolic_globs.IsSequence() && k < systolic_globs.size(); ++k)
      if (fnmatch(yaml::scalar_string(cfg.file(), systolic_globs[k], "mapping.systolic").c_str(),
                  n.name.c_str(), 0) == 0)
        nm.hw.systolic = find_op_rule(n.op)->cls == OpClass::Gemm
                             ? true
                             : throw InputError(cfg.file() + ": mapping.systolic: node '" + n.name +
                                                "' (" + n.op + ") is not a linear, matmul or bmm");
    nm.hw.systolic_rows = cfg.get_int("systolic.rows");
    nm.hw.systolic_cols = cfg.get_int("systolic.cols");
    nm.hw.weight_stationary = cfg.get_string("systolic.dataflow") == "weight_stationary";
    try {
      nm.timing = op_timing(g, n, nm.hw);
    } catch (const InputError& e) {
      throw InputError(g.file + ":" + std::to_string(n.line) + ": " + e.what());
    }
    nm.resources = estimate_resources(g, n, nm.hw, nm.timing);
    m.nodes.push_back(nm);
  }

  std::string partition = cfg.get_string("mapping.partition");
  if (cfg.get_bool("mapping.auto")) {
    // A graph that places every node itself (hw.device: tensor-parallel rewrites) keeps
    // its placement; auto then only sizes the tiles within each device.
    bool placed = !g.nodes.empty();
    for (const auto& n : g.nodes) placed = placed && !n.hw.device.empty();
    const AutoMapReport rep = auto_parallelism(g, devices, cfg, m, placed);
    m.automatic = true;
    m.auto_steps = rep.steps;
    m.auto_stop = rep.stop_reason;
    if (!placed) partition = "balanced";
  }
  m.partition = partition;
  if (partition != "manual") automatic_partition(g, devices, cfg, m, partition);
  for (const auto& nm : m.nodes) m.used[static_cast<std::size_t>(nm.device)] += nm.resources;
  // mapping.weights: auto starts with every weight on chip and moves the largest ones
  // off chip until each device's BRAM and URAM fit.
  if (weights == "auto") {
    for (std::size_t d = 0; d < devices.size(); ++d) {
      const auto& c = devices[d].type.capacity;
      auto& used = m.used[d];
      while (used.bram36 > c.bram36 || used.uram > c.uram) {
        std::size_t best = g.nodes.size();
        for (std::size_t j = 0; j < g.nodes.size(); ++j) {
          const auto& o = m.nodes[j];
          if (o.device != static_cast<int>(d) || o.hw.weights_off_chip ||
              !g.nodes[j].param("weight"))
            continue;
          if (best == g.nodes.size() || g.nodes[j].param("weight")->tensor.bytes() >
                                            g.nodes[best].param("weight")->tensor.bytes())
            best = j;
        }
        if (best == g.nodes.size()) break;
        auto& b = m.nodes[best];
        used.lut -= b.resources.lut, used.ff -= b.resources.ff, used.dsp -= b.resources.dsp;
        used.bram36 -= b.resources.bram36, used.uram -= b.resources.uram;
        b.hw.weights_off_chip = true;
        b.timing = op_timing(g, g.nodes[best], b.hw);
        b.resources = estimate_resources(g, g.nodes[best], b.hw, b.timing);
        used += b.resources;
      }
    }
  }

  m.overflows = resource_overflows(devices, m.used);
  if (!m.overflows.empty() && !cfg.get_bool("mapping.oversubscribe")) {
    std::string msg = "the mapping does not fit: " + m.overflows[0];
    for (std::size_t i = 1; i < m.overflows.size(); ++i) msg += "; " + m.overflows[i];
    throw SimulationError(msg +
                          " (set mapping.weights: auto or off_chip, lower the parallelism, or "
                          "mapping.oversubscribe: true)");
  }
  return m;
}

}  // namespace masesim
