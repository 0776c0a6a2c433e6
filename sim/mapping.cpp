#include "sim/mapping.hpp"

#include <fnmatch.h>
#include <cmath>
#include <sstream>

#include "interconnect/framing.hpp"
#include "interconnect/topology.hpp"
#include "models/ops/registry.hpp"
#include "models/time.hpp"
#include "sim/auto_map.hpp"
#include "sim/partition.hpp"
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

namespace {
std::string fmt(double v) {
  std::ostringstream o;
  o << static_cast<long long>(std::ceil(v));
  return o.str();
}
}  // namespace

namespace {

/// True when a node's weights can stream from off-chip memory.
bool streams_weights(const Node& n) {
  return n.param("weight") != nullptr && ops::of(n).weights_can_stream;
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
    pn[i].res_on = estimate_resources(g, n, on.hw, on.timing);
    pn[i].time_on_ps = static_cast<double>(on.timing.ideal_cycles()) * static_cast<double>(period);
    pn[i].name = n.name;
    // mapping.weights: on_chip pins every weight on chip, and weights fixed off chip stay
    // there; otherwise the partitioner may stream a node's weights from off-chip memory
    // to make a stage fit.
    pn[i].weights_fixed_off = m.nodes[i].weights_fixed_off;
    pn[i].has_weights = streams_weights(n) && sys.mapping.weights != WeightPolicy::OnChip &&
                        !pn[i].weights_fixed_off;
    if (pn[i].has_weights || pn[i].weights_fixed_off) {
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

bool partition_fits(const Graph& g, const SystemSpec& sys, const Mapping& m) {
  Mapping copy = m;
  try {
    automatic_partition(g, sys, copy, "balanced");
  } catch (const SimulationError&) {
    return false;
  }
  return true;
}

Mapping map_graph(const Graph& g, const SystemSpec& sys) {
  Mapping m;
  const auto& devices = sys.devices;
  const MappingSpec& ms = sys.mapping;
  const std::int64_t cap = ms.default_parallelism;
  const WeightPolicy weights = ms.weights;
  m.used.assign(devices.size(), Resources{});
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
      nm.device_given = true;
    }
    for (const auto& rule : ms.place) {
      if (fnmatch(rule.glob.c_str(), n.name.c_str(), 0) != 0) continue;
      nm.device = rule.device;
      nm.device_given = true;
      break;
    }
    const ops::OpDescriptor* rule = &ops::of(n);
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
    } else if (rule->cls == OpClass::KvCache) {
      nm.hw.out = tile_port(os, default_tile(os, kv_port_lanes(ms, n.results[0])));
    } else {
      nm.hw.out = tile_port(os, default_tile(os, cap));
    }
    // An explicit off-chip placement (hw.weights or mapping.weights: off_chip) is kept by
    // every partitioner and by mapping.auto; mapping.weights: on_chip cannot keep it.
    bool off = n.hw.weights == WeightPlace::OffChip;
    if (n.hw.weights == WeightPlace::OffChip && !rule->weights_can_stream)
      throw InputError(at + ": hw.weights: off_chip, but op '" + n.op +
                       "' cannot stream weights from off-chip memory (only linear, conv and "
                       "embedding blocks can)");
    if (off && weights == WeightPolicy::OnChip && n.param("weight"))
      throw InputError(at + ": hw.weights: off_chip conflicts with mapping.weights: on_chip in " +
                       sys.file + " (use mapping.weights: graph, auto or off_chip, or drop the " +
                       "node's hw.weights)");
    if (weights == WeightPolicy::OffChip) off = true;
    nm.hw.weights_off_chip = off && streams_weights(n);
    nm.weights_fixed_off = nm.hw.weights_off_chip;
    nm.hw.weight_block_rows = ms.weight_block_rows;
    nm.hw.systolic = n.hw.impl == "systolic";
    for (const auto& glob : ms.systolic)
      if (fnmatch(glob.c_str(), n.name.c_str(), 0) == 0)
        nm.hw.systolic = rule->cls == OpClass::Gemm
                             ? true
                             : throw InputError(sys.file + ": mapping.systolic: node '" + n.name +
                                                "' (" + n.op + ") is not a linear, matmul or bmm");
    nm.hw.systolic_rows = sys.systolic.rows;
    nm.hw.systolic_cols = sys.systolic.cols;
    nm.hw.weight_stationary = sys.systolic.weight_stationary;
    try {
      nm.timing = op_timing(g, n, nm.hw);
    } catch (const InputError& e) {
      throw InputError(g.file + ":" + std::to_string(n.line) + ": " + e.what());
    }
    nm.resources = estimate_resources(g, n, nm.hw, nm.timing);
    m.nodes.push_back(nm);
  }

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
      nm.resources = Resources{};
    }
    for (const auto& es : sys.engines) {
      m.engine_resources.push_back(
          engine_resources(es, devices[static_cast<std::size_t>(es.device)].type));
      m.used[static_cast<std::size_t>(es.device)] += m.engine_resources.back();
    }
  }
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
  for (const auto& nm : m.nodes) m.used[static_cast<std::size_t>(nm.device)] += nm.resources;
  // mapping.weights: auto starts with every weight on chip and moves the largest ones
  // off chip until each device's BRAM and URAM fit.
  if (weights == WeightPolicy::Auto) {
    for (std::size_t d = 0; d < devices.size(); ++d) {
      const auto& c = devices[d].type.capacity;
      auto& used = m.used[d];
      while (used.bram36 > c.bram36 || used.uram > c.uram) {
        std::size_t best = g.nodes.size();
        for (std::size_t j = 0; j < g.nodes.size(); ++j) {
          const auto& o = m.nodes[j];
          // Only blocks that can stream their weights (linear, conv, embedding) move.
          if (o.device != static_cast<int>(d) || o.hw.weights_off_chip ||
              !streams_weights(g.nodes[j]) || m.engines.engine_of[j] >= 0)
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
  if (!m.overflows.empty() && !ms.oversubscribe) {
    std::string msg = "the mapping does not fit: " + m.overflows[0];
    for (std::size_t i = 1; i < m.overflows.size(); ++i) msg += "; " + m.overflows[i];
    throw SimulationError(msg +
                          " (set mapping.weights: auto or off_chip, lower the parallelism, or "
                          "mapping.oversubscribe: true)");
  }
  return m;
}

}  // namespace masesim
