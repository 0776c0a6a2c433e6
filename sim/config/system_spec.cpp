#include "sim/config/system_spec.hpp"
#include <algorithm>

#include "sim/mapping/layer_reuse.hpp"

#include "sim/llm/llm.hpp"
#include "workloads/error.hpp"
#include "workloads/yaml_util.hpp"

namespace masesim {

double LinkSpec::goodput_bytes_per_ps() const {
  return interconnect::goodput_gbps(framing.mtu_bytes, framing) / 8.0 * 1e-3;
}

int device_index(const SystemSpec& s, const std::string& name) {
  for (std::size_t d = 0; d < s.devices.size(); ++d)
    if (s.devices[d].name == name) return static_cast<int>(d);
  return -1;
}

namespace {

TopologySpec topology_spec(const Config& cfg, const SystemSpec& s) {
  TopologySpec t;
  const std::string& f = cfg.file();
  try {
    t.kind = interconnect::parse_topology_kind(cfg.get_string("system.topology"));
  } catch (const std::runtime_error& e) {
    throw InputError(f + ": system.topology: " + e.what());
  }
  t.rows = static_cast<std::uint32_t>(cfg.get_int("system.torus_rows"));
  t.cols = static_cast<std::uint32_t>(cfg.get_int("system.torus_cols"));
  t.allow_switch = cfg.get_bool("system.allow_switch");
  const YAML::Node cables = cfg.get_node("system.links");
  if (!cables.IsSequence() && !(cables.IsMap() && cables.size() == 0) && !cables.IsNull())
    throw InputError(f + ": system.links: expected a list of [device_a, device_b]");
  auto index_of = [&](const YAML::Node& n) -> std::uint32_t {
    const std::string name = yaml::scalar_string(f, n, "system.links");
    const int d = device_index(s, name);
    if (d < 0) throw InputError(f + ": system.links: unknown device '" + name + "'");
    return static_cast<std::uint32_t>(d);
  };
  if (cables.IsSequence())
    for (std::size_t i = 0; i < cables.size(); ++i) {
      if (!cables[i].IsSequence() || cables[i].size() != 2)
        throw InputError(f + ": system.links[" + std::to_string(i) +
                         "]: expected [device_a, device_b]");
      t.cables.emplace_back(index_of(cables[i][0]), index_of(cables[i][1]));
      for (const auto d : {t.cables.back().first, t.cables.back().second})
        if (s.devices[d].type.is_host())
          throw InputError(f + ": system.links[" + std::to_string(i) + "]: device '" +
                           s.devices[d].name +
                           "' is a host: hosts have no QSFP28 cages (cards reach them over PCIe)");
    }
  // Hosts are not in the QSFP28 network: with a host, the cards are cabled as a chain in
  // their order (the default topology) or by explicit system.links.
  std::vector<std::uint32_t> cards;
  for (std::size_t d = 0; d < s.devices.size(); ++d)
    if (!s.devices[d].type.is_host()) cards.push_back(static_cast<std::uint32_t>(d));
  if (cards.size() != s.devices.size()) {
    if (t.kind == interconnect::TopologyKind::chain) {
      t.kind = interconnect::TopologyKind::explicit_links;
      for (std::size_t k = 1; k < cards.size(); ++k) t.cables.emplace_back(cards[k - 1], cards[k]);
    } else if (t.kind != interconnect::TopologyKind::explicit_links) {
      throw InputError(f + ": system.topology: " + interconnect::to_string(t.kind) +
                       " with a host device: hosts have no QSFP28 cages; cable the cards with "
                       "system.topology: explicit and system.links (or the default chain)");
    }
  }
  return t;
}

LinkSpec link_spec(const Config& cfg, std::size_t n_devices) {
  LinkSpec l;
  try {
    l.framing.kind = interconnect::parse_framing_kind(cfg.get_string("link.framing"));
    l.framing.mtu_bytes = static_cast<std::uint64_t>(cfg.get_int("link.mtu_bytes"));
    if (n_devices > 1) interconnect::validate(l.framing);
  } catch (const std::runtime_error& e) {
    throw InputError(cfg.file() + ": " + e.what());
  }
  l.timing = l.framing.kind == interconnect::FramingKind::ethernet
                 ? interconnect::ethernet_link_timing()
                 : interconnect::aurora_link_timing();
  if (cfg.get_double("link.tx_latency_ns") >= 0)
    l.timing.mac_pcs_tx_ns = cfg.get_double("link.tx_latency_ns");
  if (cfg.get_double("link.rx_latency_ns") >= 0)
    l.timing.mac_pcs_rx_ns = cfg.get_double("link.rx_latency_ns");
  l.timing.cable_m = cfg.get_double("link.cable_m");
  l.rx_buffer_bytes = static_cast<std::uint64_t>(cfg.get_int("link.rx_buffer_bytes"));
  l.cut_through = cfg.get_string("link.forwarding") == "cut_through";
  return l;
}

/// mapping.place, mapping.slr and mapping.lanes: {node-name glob: ...} rules, in order.
void placement_rules(const Config& cfg, const SystemSpec& s, MappingSpec& m) {
  const std::string& f = cfg.file();
  const YAML::Node place = cfg.get_node("mapping.place");
  if (!place.IsMap() && !(place.IsSequence() && place.size() == 0))
    throw InputError(f + ": mapping.place: expected a mapping {node-name glob: device}");
  for (const auto& kv : place) {
    PlaceRule r;
    r.glob = yaml::key_string(f, kv.first, "mapping.place");
    const std::string dev = yaml::scalar_string(f, kv.second, "mapping.place." + r.glob);
    r.device = device_index(s, dev);
    if (r.device < 0)
      throw InputError(f + ": mapping.place." + r.glob + ": device '" + dev +
                       "' is not in system.devices");
    m.place.push_back(r);
  }
  const YAML::Node slr = cfg.get_node("mapping.slr");
  if (!slr.IsMap() && !(slr.IsSequence() && slr.size() == 0))
    throw InputError(f + ": mapping.slr: expected a mapping {node-name glob: SLR name}");
  for (const auto& kv : slr) {
    SlrRule r;
    r.glob = yaml::key_string(f, kv.first, "mapping.slr");
    r.slr = yaml::scalar_string(f, kv.second, "mapping.slr." + r.glob);
    m.slr.push_back(r);
  }
  const YAML::Node lanes = cfg.get_node("mapping.lanes");
  if (!lanes.IsMap() && !(lanes.IsSequence() && lanes.size() == 0))
    throw InputError(f + ": mapping.lanes: expected a mapping {node-name glob: lanes}");
  for (const auto& kv : lanes) {
    LaneRule r;
    r.glob = yaml::key_string(f, kv.first, "mapping.lanes");
    const std::string where = "mapping.lanes." + r.glob;
    auto lanes_of = [&](const YAML::Node& v, const std::string& w) {
      const std::int64_t n = yaml::as_int(f, v, w);
      if (n < 1 || n > 65536)
        throw InputError(f + ": " + w + ": " + std::to_string(n) + " lanes is outside 1..65536");
      return n;
    };
    if (kv.second.IsMap()) {
      for (const auto& pv : kv.second) {
        const std::string port = yaml::key_string(f, pv.first, where);
        if (port.rfind("data_in_", 0) != 0 && port != "data_out_0")
          throw InputError(f + ": " + where + "." + port +
                           ": not a data port (data_in_K or data_out_0)");
        r.ports[port] = lanes_of(pv.second, where + "." + port);
      }
    } else {
      r.ports[""] = lanes_of(kv.second, where);
    }
    m.lanes.push_back(r);
  }
}

/// mapping.split: [{node: GLOB, ways: K, by: columns|rows}] (sim/mapping/split.hpp).
std::vector<SplitRule> split_rules(const Config& cfg, const SystemSpec& s) {
  const std::string& f = cfg.file();
  std::vector<SplitRule> rules;
  const YAML::Node split = cfg.get_node("mapping.split");
  if (!split.IsSequence() && !(split.IsMap() && split.size() == 0))
    throw InputError(f +
                     ": mapping.split: expected a list of {node: GLOB, ways: K, by: "
                     "columns|rows}");
  for (std::size_t k = 0; split.IsSequence() && k < split.size(); ++k) {
    const std::string at = "mapping.split[" + std::to_string(k) + "]";
    const YAML::Node r = split[k];
    if (!r.IsMap()) throw InputError(f + ": " + at + ": expected {node: GLOB, ways: K, by: ...}");
    yaml::check_keys(f, r, at, {"node", "ways", "by"});
    SplitRule rule;
    rule.glob = yaml::as_string(f, yaml::require(f, r, at, "node"), at + ".node");
    const std::int64_t ways = yaml::as_int(f, yaml::require(f, r, at, "ways"), at + ".ways");
    if (ways < 2 || ways > 64)
      throw InputError(f + ": " + at + ".ways: " + std::to_string(ways) + " (node '" + rule.glob +
                       "'): expected 2..64 (a gather takes at most 64 inputs)");
    if (ways > static_cast<std::int64_t>(s.devices.size()))
      throw InputError(f + ": " + at + ".ways: node '" + rule.glob + "' split " +
                       std::to_string(ways) + " ways, but system.devices has only " +
                       std::to_string(s.devices.size()) + " device(s)");
    rule.ways = static_cast<int>(ways);
    const std::string by = r["by"] ? yaml::as_string(f, r["by"], at + ".by") : "columns";
    if (by != "columns" && by != "rows")
      throw InputError(f + ": " + at + ".by: '" + by + "' (node '" + rule.glob +
                       "'): expected columns or rows" + did_you_mean(by, {"columns", "rows"}));
    rule.by = by == "rows" ? SplitBy::Rows : SplitBy::Columns;
    rules.push_back(rule);
  }
  if (!rules.empty() && s.llm.enabled())
    throw InputError(f +
                     ": mapping.split: node splitting is for graphs run as inferences; an "
                     "LLM run (workload.phase) splits its layers with mapping.parallelism: "
                     "tensor (docs/llm.md)");
  return rules;
}

MappingSpec mapping_spec(const Config& cfg, const SystemSpec& s) {
  MappingSpec m;
  const std::string& f = cfg.file();
  m.partition = cfg.get_string("mapping.partition");
  m.automatic = cfg.get_bool("mapping.auto");
  m.utilisation_cap = cfg.get_double("mapping.utilisation_cap");
  placement_rules(cfg, s, m);
  const YAML::Node globs = cfg.get_node("mapping.systolic");
  for (std::size_t k = 0; globs.IsSequence() && k < globs.size(); ++k)
    m.systolic.push_back(yaml::scalar_string(f, globs[k], "mapping.systolic"));
  m.default_parallelism = cfg.get_int("mapping.default_parallelism");
  const std::string w = cfg.get_string("mapping.weights");
  m.weights = w == "on_chip"    ? WeightPolicy::OnChip
              : w == "off_chip" ? WeightPolicy::OffChip
              : w == "auto"     ? WeightPolicy::Auto
                                : WeightPolicy::Graph;
  m.kv_port_bytes = cfg.get_int("mapping.kv_port_bytes");
  m.weight_block_rows = cfg.get_int("mapping.weight_block_rows");
  m.oversubscribe = cfg.get_bool("mapping.oversubscribe");
  m.binding = parse_mul_binding(cfg.get_string("system.binding"), f + ": system.binding");
  const YAML::Node binding = cfg.get_node("mapping.binding");
  if (!binding.IsMap() && !(binding.IsSequence() && binding.size() == 0))
    throw InputError(f + ": mapping.binding: expected a mapping {node-name glob: binding}");
  for (const auto& kv : binding) {
    const std::string glob = yaml::key_string(f, kv.first, "mapping.binding");
    const std::string where = "mapping.binding." + glob;
    m.binding_rules.emplace_back(
        glob, parse_mul_binding(yaml::scalar_string(f, kv.second, where), f + ": " + where));
  }
  const YAML::Node unroll = cfg.get_node("mapping.kernel_unroll");
  if (!unroll.IsMap() && !(unroll.IsSequence() && unroll.size() == 0))
    throw InputError(f + ": mapping.kernel_unroll: expected a mapping {conv node-name glob: U}");
  for (const auto& kv : unroll) {
    const std::string glob = yaml::key_string(f, kv.first, "mapping.kernel_unroll");
    const std::int64_t u = yaml::as_int(f, kv.second, "mapping.kernel_unroll." + glob);
    if (u < 1 || u > 1024)
      throw InputError(f + ": mapping.kernel_unroll." + glob + ": " + std::to_string(u) +
                       " is outside 1..1024");
    m.kernel_unroll.emplace_back(glob, u);
  }
  m.extrapolation_margin = cfg.get_double("mapping.extrapolation_margin");
  m.reuse_layers = cfg.get_string("mapping.layer_reuse.layers");
  m.reuse_weight_buffers = cfg.get_int("mapping.layer_reuse.weight_buffers");
  m.reuse_port_bytes = cfg.get_int("mapping.layer_reuse.port_bytes_per_cycle");
  if (!m.reuse_layers.empty() && m.reuse_layers.find("{i}") == std::string::npos)
    throw InputError(f + ": mapping.layer_reuse.layers: '" + m.reuse_layers +
                     "' has no {i} (the place of the layer index in the node names)");
  m.split = split_rules(cfg, s);
  m.auto_split = cfg.get_bool("mapping.auto_split");
  // An LLM pipeline over several devices without a placement is partitioned into
  // contiguous layers (docs/llm.md).
  if (s.llm.enabled() && s.llm.parallelism == "pipeline" && s.devices.size() > 1 &&
      m.partition == "manual" && m.place.empty() && !m.automatic)
    m.partition = "balanced";
  return m;
}

/// mapping.replicate: [{nodes: GLOB, ways: K, devices: [NAME, ...]}] (sim/mapping/replicate.hpp).
std::vector<ReplicateRule> replicate_rules(const Config& cfg, const SystemSpec& s) {
  const std::string& f = cfg.file();
  const YAML::Node list = cfg.get_node("mapping.replicate");
  const char* form =
      ": mapping.replicate: expected a list of {nodes: GLOB or [GLOB, ...], ways: K, devices: "
      "[DEVICE, ...]}";
  if (!list.IsSequence() && !(list.IsMap() && list.size() == 0)) throw InputError(f + form);
  std::vector<ReplicateRule> rules;
  for (std::size_t k = 0; list.IsSequence() && k < list.size(); ++k) {
    const std::string at = "mapping.replicate[" + std::to_string(k) + "]";
    const YAML::Node r = list[k];
    if (!r.IsMap()) throw InputError(f + ": " + at + ": expected {nodes: GLOB, ways: K, ...}");
    yaml::check_keys(f, r, at, {"nodes", "ways", "devices"});
    ReplicateRule rule;
    const YAML::Node nodes = yaml::require(f, r, at, "nodes");
    if (nodes.IsSequence()) {
      if (nodes.size() == 0) throw InputError(f + ": " + at + ".nodes: an empty list");
      for (std::size_t j = 0; j < nodes.size(); ++j)
        rule.globs.push_back(
            yaml::as_string(f, nodes[j], at + ".nodes[" + std::to_string(j) + "]"));
    } else {
      rule.globs.push_back(yaml::as_string(f, nodes, at + ".nodes"));
    }
    for (const auto& gl : rule.globs) rule.glob += (rule.glob.empty() ? "" : ", ") + gl;
    const std::int64_t ways = yaml::as_int(f, yaml::require(f, r, at, "ways"), at + ".ways");
    if (ways < 2 || ways > 64)
      throw InputError(f + ": " + at + ".ways: " + std::to_string(ways) + " (nodes '" + rule.glob +
                       "'): expected 2..64 (a collect takes at most 64 inputs)");
    rule.ways = static_cast<int>(ways);
    if (const YAML::Node d = r["devices"]) {
      if (!d.IsSequence() || d.size() != static_cast<std::size_t>(ways))
        throw InputError(f + ": " + at + ".devices: expected a list of " + std::to_string(ways) +
                         " device names (one per replica)");
      for (std::size_t j = 0; j < d.size(); ++j) {
        const std::string name =
            yaml::scalar_string(f, d[j], at + ".devices[" + std::to_string(j) + "]");
        const int idx = device_index(s, name);
        if (idx < 0)
          throw InputError(f + ": " + at + ".devices[" + std::to_string(j) + "]: device '" + name +
                           "' is not in system.devices");
        rule.devices.push_back(idx);
        rule.device_names.push_back(name);
      }
    }
    rules.push_back(rule);
  }
  if (rules.empty()) return rules;
  const MappingSpec& m = s.mapping;
  if (s.llm.enabled())
    throw InputError(f +
                     ": mapping.replicate: replication round-robins independent inferences; an "
                     "LLM run's steps depend on each other (use mapping.parallelism, docs/llm.md)");
  const bool placed = std::any_of(rules.begin(), rules.end(),
                                  [](const ReplicateRule& r) { return !r.devices.empty(); });
  if (placed && (m.automatic || m.partition != "manual"))
    throw InputError(
        f + ": mapping.replicate[].devices places the replicas, but " +
        (m.automatic ? std::string("mapping.auto") : "mapping.partition: " + m.partition) +
        " places every node itself (drop devices:, or use mapping.partition: "
        "manual)");
  if (!m.reuse_layers.empty())
    throw InputError(f +
                     ": mapping.replicate with mapping.layer_reuse: a layer-reuse region "
                     "cannot be replicated");
  return rules;
}

/// workload.moe_routing: {glob: {routing, expert_load, routing_seed}}.
std::vector<MoeRoutingRule> moe_routing_rules(const Config& cfg) {
  const std::string& f = cfg.file();
  const YAML::Node m = cfg.get_node("workload.moe_routing");
  if (!m.IsMap() && !(m.IsSequence() && m.size() == 0))
    throw InputError(f +
                     ": workload.moe_routing: expected a mapping {node-name glob: {routing: "
                     "..., expert_load: [...], routing_seed: N}}");
  std::vector<MoeRoutingRule> rules;
  for (const auto& kv : m) {
    MoeRoutingRule r;
    r.glob = yaml::key_string(f, kv.first, "workload.moe_routing");
    const std::string at = "workload.moe_routing." + r.glob;
    const YAML::Node v = kv.second;
    if (!v.IsMap())
      throw InputError(f + ": " + at +
                       ": expected {routing: ..., expert_load: [...], "
                       "routing_seed: N}");
    yaml::check_keys(f, v, at, {"routing", "expert_load", "routing_seed"});
    if (v["expert_load"]) {
      const YAML::Node l = v["expert_load"];
      if (!l.IsSequence() || l.size() == 0)
        throw InputError(f + ": " + at +
                         ".expert_load: expected a list of weights, one per expert");
      for (std::size_t k = 0; k < l.size(); ++k) {
        const std::int64_t w =
            yaml::as_int(f, l[k], at + ".expert_load[" + std::to_string(k) + "]");
        if (w < 0)
          throw InputError(f + ": " + at + ".expert_load[" + std::to_string(k) +
                           "]: " + std::to_string(w) + " is negative");
        r.expert_load.push_back(w);
      }
    }
    if (v["routing_seed"]) {
      r.routing_seed = yaml::as_int(f, v["routing_seed"], at + ".routing_seed");
      if (r.routing_seed < 0)
        throw InputError(f + ": " + at + ".routing_seed: " + std::to_string(r.routing_seed) +
                         " is negative");
    }
    r.routing = v["routing"]        ? yaml::as_string(f, v["routing"], at + ".routing")
                : v["expert_load"]  ? "load"
                : v["routing_seed"] ? "seeded"
                                    : "";
    const std::vector<std::string> kinds = {"balanced", "load", "seeded"};
    if (r.routing.empty())
      throw InputError(f + ": " + at +
                       ": give routing (balanced, load or seeded), expert_load or "
                       "routing_seed");
    if (std::find(kinds.begin(), kinds.end(), r.routing) == kinds.end())
      throw InputError(f + ": " + at + ".routing: '" + r.routing +
                       "' is not one of balanced, load, seeded" + did_you_mean(r.routing, kinds));
    if (r.routing == "load" && r.expert_load.empty())
      throw InputError(f + ": " + at + ": routing: load needs expert_load");
    if ((r.routing != "load" && v["expert_load"]) || (r.routing != "seeded" && v["routing_seed"]))
      throw InputError(f + ": " + at +
                       ": expert_load goes with routing: load, routing_seed with "
                       "routing: seeded");
    rules.push_back(r);
  }
  return rules;
}

}  // namespace

SystemSpec load_system_spec(const Config& cfg) {
  SystemSpec s;
  s.file = cfg.file();
  if (!cfg.has("workload.graph") || cfg.get_string("workload.graph").empty())
    throw InputError(cfg.file() + ": missing required key 'workload.graph'");
  s.workload.graph_path = cfg.absolute_path(cfg.get_string("workload.graph"));
  s.workload.dims = cfg.int_family("workload.dims.");
  s.workload.inferences = cfg.get_int("workload.inferences");
  s.workload.moe_routing = moe_routing_rules(cfg);
  s.llm = llm_spec(cfg);
  s.devices = load_system_devices(cfg);
  s.topology = topology_spec(cfg, s);
  s.link = link_spec(cfg, s.devices.size());
  s.mapping = mapping_spec(cfg, s);
  s.engines = load_engine_specs(cfg, s.devices);
  s.mapping.replicate = replicate_rules(cfg, s);
  if (!s.mapping.replicate.empty() && !s.engines.empty())
    throw InputError(s.file +
                     ": mapping.replicate with system.engines: nodes on shared engines "
                     "cannot be replicated (replicate a spatial design)");
  if (!s.mapping.reuse_layers.empty()) {
    // The layer-reuse region's off-chip port (sim/mapping/layer_reuse.hpp): runs the layer_io
    // nodes.
    for (const auto& e : s.engines)
      if (e.name == kLayerIoEngine)
        throw InputError(s.file + ": system.engines: the name '" + e.name +
                         "' is reserved for mapping.layer_reuse's off-chip port");
    EngineSpec io;
    io.name = kLayerIoEngine;
    io.device = 0;
    io.core.load_bytes_per_cycle = io.core.store_bytes_per_cycle = s.mapping.reuse_port_bytes;
    io.globs = {std::string(kLayerIoEngine) + ".*"};
    s.engines.push_back(io);
  }
  s.systolic.rows = cfg.get_int("systolic.rows");
  s.systolic.cols = cfg.get_int("systolic.cols");
  s.systolic.weight_stationary = cfg.get_string("systolic.dataflow") == "weight_stationary";
  auto& sim = s.simulation;
  sim.functional = cfg.get_string("simulation.mode") == "functional";
  sim.truncate = cfg.get_string("simulation.rounding") == "truncate";
  sim.check_tolerance = cfg.get_double("simulation.check_tolerance");
  const std::string data = cfg.get_string("workload.data");
  sim.data_dir = data.empty() ? "" : cfg.resolve_path(data);
  sim.stream_depth = static_cast<std::size_t>(cfg.get_int("simulation.stream_depth"));
  sim.fork_depth = cfg.get_int("simulation.fork_depth");
  sim.max_sim_time_ms = cfg.get_double("simulation.max_sim_time_ms");
  sim.burst = cfg.get_string("simulation.granularity") == "burst";
  return s;
}

interconnect::Topology build_topology(const SystemSpec& s) {
  interconnect::TopologyParams tp;
  for (const auto& d : s.devices) {
    tp.names.push_back(d.name);
    tp.ports_per_device.push_back(static_cast<std::uint32_t>(d.type.qsfp28_ports));
  }
  tp.rows = s.topology.rows;
  tp.cols = s.topology.cols;
  tp.allow_switch = s.topology.allow_switch;
  tp.links = s.topology.cables;
  try {
    return interconnect::make_topology(s.topology.kind,
                                       static_cast<std::uint32_t>(s.devices.size()), tp);
  } catch (const std::runtime_error& e) {
    throw InputError(s.file + ": " + e.what());
  }
}

}  // namespace masesim
