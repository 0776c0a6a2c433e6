#include "sim/mapping/engines.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>

#include "models/ops/registry.hpp"
#include "models/resource_model.hpp"
#include "sim/config/device_types.hpp"
#include "workloads/error.hpp"
#include "workloads/yaml_util.hpp"

namespace masesim {

namespace {

std::int64_t positive(const std::string& f, const YAML::Node& n, const std::string& ctx,
                      std::int64_t lo, std::int64_t hi) {
  const std::int64_t v = yaml::as_int(f, n, ctx);
  if (v < lo || v > hi)
    throw InputError(yaml::where(f, n) + ": " + ctx + ": " + std::to_string(v) +
                     " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return v;
}

engine::CoreConfig core_config(const std::string& f, const YAML::Node& e, const std::string& ctx) {
  engine::CoreConfig c;
  yaml::check_keys(f, e, ctx,
                   {"name", "device", "slr", "memory", "gemm", "alu", "buffers",
                    "load_bytes_per_cycle", "store_bytes_per_cycle", "fuse"});
  if (const YAML::Node gm = e["gemm"]) {
    const std::string k = ctx + ".gemm";
    yaml::check_keys(
        f, gm, k, {"rows", "cols", "macs_per_pe", "dataflow", "format", "extra_pipeline_cycles"});
    if (gm["format"]) {
      const std::string fm = yaml::as_string(f, gm["format"], k + ".format");
      if (fm != "int" && fm != "fp16")
        throw InputError(yaml::where(f, gm["format"]) + ": " + k + ".format: '" + fm +
                         "' is not int or fp16" + did_you_mean(fm, {"int", "fp16"}));
      c.fp16 = fm == "fp16";
    }
    c.gemm_rows = positive(f, yaml::require(f, gm, k, "rows"), k + ".rows", 1, 256);
    c.gemm_cols = positive(f, yaml::require(f, gm, k, "cols"), k + ".cols", 1, 256);
    // Packed PEs (W4A8: two int4 weights share one DSP with one int8 activation): each PE
    // column computes macs_per_pe output columns, so the array times and costs as
    // rows x (cols x macs_per_pe) MACs.
    if (gm["macs_per_pe"]) {
      c.macs_per_pe = positive(f, gm["macs_per_pe"], k + ".macs_per_pe", 1, 2);
      c.gemm_cols *= c.macs_per_pe;
    }
    if (gm["dataflow"]) {
      const std::string df = yaml::as_string(f, gm["dataflow"], k + ".dataflow");
      if (df != "weight_stationary" && df != "output_stationary" && df != "dot_product")
        throw InputError(
            yaml::where(f, gm["dataflow"]) + ": " + k + ".dataflow: '" + df +
            "' is not weight_stationary, output_stationary or dot_product" +
            did_you_mean(df, {"weight_stationary", "output_stationary", "dot_product"}));
      c.weight_stationary = df == "weight_stationary";
      c.dot_product = df == "dot_product";
    }
    if (gm["extra_pipeline_cycles"])
      c.extra_pipeline_cycles =
          positive(f, gm["extra_pipeline_cycles"], k + ".extra_pipeline_cycles", 0, 1 << 20);
  }
  if (const YAML::Node al = e["alu"]) {
    const std::string k = ctx + ".alu";
    yaml::check_keys(f, al, k, {"lanes", "pipeline_cycles", "ops"});
    c.alu_lanes = positive(f, yaml::require(f, al, k, "lanes"), k + ".lanes", 1, 4096);
    if (al["pipeline_cycles"])
      c.alu_pipeline_cycles =
          positive(f, al["pipeline_cycles"], k + ".pipeline_cycles", 0, 1 << 20);
    const YAML::Node ops_n = yaml::require(f, al, k, "ops");
    if (!ops_n.IsSequence() || ops_n.size() == 0)
      throw InputError(yaml::where(f, ops_n) + ": " + k + ".ops: expected a list of op kinds");
    for (std::size_t i = 0; i < ops_n.size(); ++i) {
      const std::string op = yaml::scalar_string(f, ops_n[i], k + ".ops");
      if (!ops::find(op)) {
        std::vector<std::string> names;
        for (const auto& d : ops::all()) names.push_back(d.name);
        throw InputError(yaml::where(f, ops_n[i]) + ": " + k + ".ops: unknown op '" + op + "'" +
                         did_you_mean(op, names));
      }
      c.alu_ops.push_back(op);
    }
  }
  if (!c.has_gemm() && !c.has_alu())
    throw InputError(yaml::where(f, e) + ": " + ctx + ": an engine needs a gemm or an alu unit");
  const std::string k = ctx + ".buffers";
  const YAML::Node b = yaml::require(f, e, ctx, "buffers");
  yaml::check_keys(f, b, k,
                   {"input_bytes", "weight_bytes", "acc_bytes", "acc_elem_bytes", "double_buffer"});
  const std::int64_t big = std::int64_t{1} << 40;
  c.acc_buffer_bytes = positive(f, yaml::require(f, b, k, "acc_bytes"), k + ".acc_bytes", 1, big);
  if (c.has_gemm()) {
    c.input_buffer_bytes =
        positive(f, yaml::require(f, b, k, "input_bytes"), k + ".input_bytes", 1, big);
    c.weight_buffer_bytes =
        positive(f, yaml::require(f, b, k, "weight_bytes"), k + ".weight_bytes", 1, big);
  }
  if (b["acc_elem_bytes"])
    c.acc_elem_bytes = positive(f, b["acc_elem_bytes"], k + ".acc_elem_bytes", 1, 16);
  if (b["double_buffer"])
    c.double_buffer = yaml::as_bool(f, b["double_buffer"], k + ".double_buffer");
  if (e["load_bytes_per_cycle"])
    c.load_bytes_per_cycle =
        positive(f, e["load_bytes_per_cycle"], ctx + ".load_bytes_per_cycle", 1, 1 << 16);
  if (e["store_bytes_per_cycle"])
    c.store_bytes_per_cycle =
        positive(f, e["store_bytes_per_cycle"], ctx + ".store_bytes_per_cycle", 1, 1 << 16);
  if (e["fuse"]) c.fuse = yaml::as_bool(f, e["fuse"], ctx + ".fuse");
  return c;
}

std::vector<std::string> string_list(const std::string& f, const YAML::Node& n,
                                     const std::string& ctx) {
  std::vector<std::string> v;
  if (n.IsScalar()) return {yaml::scalar_string(f, n, ctx)};
  if (!n.IsSequence()) throw InputError(yaml::where(f, n) + ": " + ctx + ": expected a list");
  for (std::size_t i = 0; i < n.size(); ++i) v.push_back(yaml::scalar_string(f, n[i], ctx));
  return v;
}

}  // namespace

std::vector<EngineSpec> load_engine_specs(const Config& cfg,
                                          const std::vector<DeviceInstance>& devices) {
  const std::string& f = cfg.file();
  std::vector<EngineSpec> out;
  const YAML::Node list = cfg.get_node("system.engines");
  if (!list.IsNull() && !list.IsSequence() && !(list.IsMap() && list.size() == 0))
    throw InputError(f + ": system.engines: expected a list of engines");
  for (std::size_t i = 0; list.IsSequence() && i < list.size(); ++i) {
    const YAML::Node e = list[i];
    const std::string ctx = "system.engines[" + std::to_string(i) + "]";
    if (!e.IsMap()) throw InputError(f + ": " + ctx + ": expected a mapping");
    EngineSpec s;
    s.name = yaml::scalar_string(f, yaml::require(f, e, ctx, "name"), ctx + ".name");
    const std::string dev =
        yaml::scalar_string(f, yaml::require(f, e, ctx, "device"), ctx + ".device");
    s.device = -1;
    std::vector<std::string> names;
    for (std::size_t d = 0; d < devices.size(); ++d) {
      names.push_back(devices[d].name);
      if (devices[d].name == dev) s.device = static_cast<int>(d);
    }
    if (s.device < 0)
      throw InputError(f + ": " + ctx + ".device: '" + dev + "' is not in system.devices" +
                       did_you_mean(dev, names));
    for (const auto& o : out)
      if (o.name == s.name)
        throw InputError(f + ": " + ctx + ".name: engine '" + s.name + "' is declared twice");
    const DeviceInstance& di = devices[static_cast<std::size_t>(s.device)];
    if (di.type.is_host())
      throw InputError(f + ": " + ctx + ".device: '" + dev +
                       "' is a host: its CPU is an engine of its own, named '" + dev +
                       "' (assign nodes to it with mapping.engines." + dev +
                       " or place them on it); declare engines on accelerator devices");
    if (const YAML::Node mem = e["memory"]) {
      const std::string md = yaml::scalar_string(f, mem, ctx + ".memory");
      for (std::size_t d = 0; d < devices.size(); ++d)
        if (devices[d].name == md) s.memory_device = static_cast<int>(d);
      if (s.memory_device < 0)
        throw InputError(yaml::where(f, mem) + ": " + ctx + ".memory: '" + md +
                         "' is not in system.devices" + did_you_mean(md, names));
      if (s.memory_device == s.device) {
        s.memory_device = -1;
      } else if (!devices[static_cast<std::size_t>(s.memory_device)].type.is_host()) {
        throw InputError(yaml::where(f, mem) + ": " + ctx + ".memory: '" + md +
                         "' is not a host: an engine uses its own device's memory or a "
                         "host's over PCIe");
      }
    }
    if (const YAML::Node sl = e["slr"]) {
      const std::string name = yaml::scalar_string(f, sl, ctx + ".slr");
      const Slr& found = find_slr(di.type, name, yaml::where(f, sl) + ": " + ctx + ".slr");
      s.slr = static_cast<int>(&found - di.type.slr_list.data());
    }
    s.core = core_config(f, e, ctx);
    out.push_back(std::move(s));
  }
  for (std::size_t d = 0; d < devices.size(); ++d) {
    if (!devices[d].type.is_host()) continue;
    for (const auto& o : out)
      if (o.name == devices[d].name)
        throw InputError(f + ": system.engines: engine '" + o.name +
                         "' has the name of host device '" + o.name +
                         "', whose CPU is an engine of that name");
    EngineSpec s;
    s.name = devices[d].name;
    s.device = static_cast<int>(d);
    s.core.cpu = true;
    s.core.cpu_cost = devices[d].type.cpu;
    out.push_back(std::move(s));
  }
  std::vector<std::string> names;
  for (const auto& e : out) names.push_back(e.name);
  auto engine_named = [&](const std::string& key, const std::string& name) -> EngineSpec& {
    for (auto& e : out)
      if (e.name == name) return e;
    throw InputError(f + ": " + key + ": no engine '" + name + "' in system.engines" +
                     did_you_mean(name, names));
  };
  for (const char* key : {"mapping.engines", "mapping.engine_order"}) {
    const YAML::Node m = cfg.get_node(key);
    if (m.IsNull() || (m.IsSequence() && m.size() == 0)) continue;
    if (!m.IsMap()) throw InputError(f + ": " + key + ": expected a mapping {engine: [names]}");
    for (const auto& kv : m) {
      const std::string name = yaml::key_string(f, kv.first, key);
      const std::string ctx = std::string(key) + "." + name;
      EngineSpec& e = engine_named(ctx, name);
      (std::string(key) == "mapping.engines" ? e.globs : e.order) = string_list(f, kv.second, ctx);
    }
  }
  return out;
}

namespace {

bool glob_match(const std::string& glob, const std::string& name) {
  return fnmatch(glob.c_str(), name.c_str(), 0) == 0;
}

}  // namespace

namespace {

/// `t`'s lowering on `es` for node `n` of `g`: tiles (GEMM) or chunk (vector), or a host
/// CPU's time. InputError starting with `what` when the engine cannot run it.
void lower_task(const Graph& g, const Node& n, const EngineSpec& es, EngineTask& t,
                const std::string& what) {
  t.low = engine::lower(g, n);
  t.macs = node_macs(g, n);
  if (es.core.cpu) {  // a host CPU runs every op that has a cost, one node after another
    try {
      t.cpu_ps = engine::cpu_node_ps(g, n, es.core.cpu_cost);
    } catch (const std::invalid_argument& x) {
      throw InputError(what + "the host CPU has no cost for it (" + x.what() + ")");
    }
    return;
  }
  switch (t.low.kind) {
    case engine::Lowering::Kind::None:
      throw InputError(what + "cannot run on a shared engine (" + t.low.why + ")");
    case engine::Lowering::Kind::Gemm:
      if (!es.core.has_gemm()) throw InputError(what + "the engine has no GEMM core");
      try {
        t.plan = engine::plan_gemm(t.low.gemm, es.core);
      } catch (const std::invalid_argument& x) {
        throw InputError(what + x.what());
      }
      break;
    case engine::Lowering::Kind::Vector:
      if (!es.core.alu_runs(n.op))
        throw InputError(what + (es.core.has_alu() ? "the engine's ALU does not run '" + n.op +
                                                         "' (system.engines alu.ops)"
                                                   : std::string("the engine has no ALU")));
      try {
        t.chunk = engine::vector_chunk_elems(t.low.vec, es.core);
      } catch (const std::invalid_argument& x) {
        throw InputError(what + x.what());
      }
      break;
    case engine::Lowering::Kind::Free:
      break;
  }
}

}  // namespace

EngineTask engine_task_at(const Graph& gv, const EngineTask& t, const EngineSpec& es,
                          const std::string& what) {
  EngineTask v = t;
  const Node& n = gv.nodes[static_cast<std::size_t>(t.node)];
  lower_task(gv, n, es, v,
             what + "node '" + n.name + "' (" + n.op + ") on engine '" + es.name + "': ");
  if (!t.fused.empty() && v.low.kind == engine::Lowering::Kind::Gemm)
    v.low.gemm.out_elem_bytes =
        gv.nodes[static_cast<std::size_t>(t.fused.back())].results[0].precision.bits_per_element() /
        8.0;
  return v;
}

EngineAssignment assign_engines(const Graph& g, const std::vector<EngineSpec>& engines,
                                const std::string& file, const std::vector<int>& default_engine) {
  EngineAssignment a;
  a.engine_of.assign(g.nodes.size(), -1);
  if (engines.empty()) return a;
  a.plans.resize(engines.size());
  for (std::size_t e = 0; e < engines.size(); ++e) {
    for (const auto& glob : engines[e].globs) {
      bool any = false;
      for (std::size_t i = 0; i < g.nodes.size(); ++i) {
        if (!glob_match(glob, g.nodes[i].name)) continue;
        any = true;
        const int prev = a.engine_of[i];
        if (prev >= 0 && prev != static_cast<int>(e))
          throw InputError(file + ": mapping.engines: node '" + g.nodes[i].name +
                           "' is assigned to engine '" +
                           engines[static_cast<std::size_t>(prev)].name + "' and to engine '" +
                           engines[e].name + "' (glob '" + glob + "')");
        a.engine_of[i] = static_cast<int>(e);
      }
      if (!any)
        throw InputError(file + ": mapping.engines." + engines[e].name + ": glob '" + glob +
                         "' matches no node of the graph");
    }
  }
  for (std::size_t i = 0; i < default_engine.size() && i < g.nodes.size(); ++i)
    if (a.engine_of[i] < 0 && default_engine[i] >= 0) a.engine_of[i] = default_engine[i];
  // Every node's ancestors (the graph's nodes are in topological order).
  std::vector<std::vector<bool>> ancestors(g.nodes.size(),
                                           std::vector<bool>(g.nodes.size(), false));
  for (std::size_t i = 0; i < g.nodes.size(); ++i)
    for (const auto& arg : g.nodes[i].args) {
      const auto it = g.node_index.find(arg.node);
      if (it == g.node_index.end()) continue;
      const std::size_t p = it->second;
      ancestors[i][p] = true;
      for (std::size_t q = 0; q < g.nodes.size(); ++q)
        if (ancestors[p][q]) ancestors[i][q] = true;
    }
  for (std::size_t e = 0; e < engines.size(); ++e) {
    const EngineSpec& es = engines[e];
    const std::string who = "engine '" + es.name + "'";
    // Execution order: the given names, else topological (the graph's node order).
    std::vector<int> order;
    if (!es.order.empty()) {
      std::set<int> seen;
      for (const auto& name : es.order) {
        const auto it = g.node_index.find(name);
        if (it == g.node_index.end() || a.engine_of[it->second] != static_cast<int>(e))
          throw InputError(
              file + ": mapping.engine_order." + es.name + ": node '" + name + "' " +
              (it == g.node_index.end() ? "is not in the graph" : "does not run on this engine"));
        if (!seen.insert(static_cast<int>(it->second)).second)
          throw InputError(file + ": mapping.engine_order." + es.name + ": node '" + name +
                           "' is listed twice");
        order.push_back(static_cast<int>(it->second));
      }
      for (std::size_t i = 0; i < g.nodes.size(); ++i)
        if (a.engine_of[i] == static_cast<int>(e) && !seen.count(static_cast<int>(i)))
          throw InputError(file + ": mapping.engine_order." + es.name + ": node '" +
                           g.nodes[i].name + "' runs on the engine but is not in its order");
    } else {
      for (std::size_t i = 0; i < g.nodes.size(); ++i)
        if (a.engine_of[i] == static_cast<int>(e)) order.push_back(static_cast<int>(i));
    }
    // A node must come after every node it depends on, directly or through other blocks
    // (else the engine would wait for itself: a circular token wait).
    for (std::size_t k = 0; k < order.size(); ++k) {
      const auto& anc = ancestors[static_cast<std::size_t>(order[k])];
      for (std::size_t l = k + 1; l < order.size(); ++l)
        if (anc[static_cast<std::size_t>(order[l])])
          throw InputError(file + ": mapping.engine_order." + es.name + ": node '" +
                           g.nodes[static_cast<std::size_t>(order[k])].name + "' runs before '" +
                           g.nodes[static_cast<std::size_t>(order[l])].name +
                           "', whose output it depends on: the engine would wait for itself");
    }
    EnginePlan& plan = a.plans[e];
    for (const int i : order) {
      const Node& n = g.nodes[static_cast<std::size_t>(i)];
      EngineTask t;
      t.node = i;
      const std::string what = file + ": node '" + n.name + "' (" + n.op + ") on " + who + ": ";
      lower_task(g, n, es, t, what);
      if (es.core.cpu) {
        plan.tasks.push_back(std::move(t));
        continue;
      }
      // Fusion: a one-input element-wise node right after a GEMM (or its last fused node) in the
      // order, reading only that output, which nobody else reads, runs on its accumulator.
      // Only element-wise nodes: a pool's window spans accumulator tiles.
      if (es.core.fuse && t.low.kind == engine::Lowering::Kind::Vector && n.args.size() == 1 &&
          ops::of(n).cls == OpClass::Elementwise && !plan.tasks.empty()) {
        std::size_t gi = plan.tasks.size() - 1;
        if (plan.tasks[gi].fused_into >= 0)
          gi = static_cast<std::size_t>(plan.tasks[gi].fused_into);
        EngineTask& gemm = plan.tasks[gi];
        const int last = gemm.fused.empty() ? gemm.node : gemm.fused.back();
        const std::string& last_name = g.nodes[static_cast<std::size_t>(last)].name;
        const bool feeds = gemm.low.kind == engine::Lowering::Kind::Gemm &&
                           plan.tasks.back().node == last && n.args[0].node == last_name &&
                           g.consumers_of(PortRef{last_name, 0}).size() == 1;
        if (feeds) {
          t.fused_into = static_cast<int>(gi);
          gemm.fused.push_back(i);
          gemm.fused_ops += t.low.vec.ops_per_elem;
          // The GEMM now stores the fused node's output.
          gemm.low.gemm.out_elem_bytes = n.results[0].precision.bits_per_element() / 8.0;
        }
      }
      plan.tasks.push_back(std::move(t));
    }
  }
  return a;
}

Resources engine_resources(const EngineSpec& e, const DeviceType& type) {
  Resources r;
  if (e.core.cpu) return r;  // a host's CPU uses no fabric
  const engine::CoreConfig& c = e.core;
  if (c.has_gemm()) {
    LinearShape s;
    s.k_par = c.gemm_rows;
    s.n_par = c.gemm_cols;
    r += linear_resources(s);
    if (c.fp16) {
      // FP16 units as DFX builds them (../shared/designs section 4): a multiplier is 1 DSP,
      // an adder 2 DSPs; per output column a rows-wide multiply stage and rows adders (the
      // reduction tree's rows - 1 and the accumulator). LUT and FF stay the integer
      // datapath's (the FP16 units' LUT/FF are not modelled; docs/engines.md).
      r[Res::dsp] = static_cast<double>(c.gemm_cols * c.gemm_rows * (1 + 2));
    }
  }
  if (c.has_alu())
    r += elementwise_resources(EltwiseKind::AddSub, c.alu_lanes,
                               fixed_precision(static_cast<int>(8 * c.acc_elem_bytes), 0),
                               fixed_precision(static_cast<int>(8 * c.acc_elem_bytes), 0));
  for (const std::int64_t bytes :
       {c.input_buffer_bytes, c.weight_buffer_bytes, c.acc_buffer_bytes}) {
    const double bits = 8.0 * static_cast<double>(bytes);
    if (type.capacity[Res::uram] > 0) {
      r += buffer_resources(bits);
    } else {  // no UltraRAM on the part: every buffer in BRAM
      Resources b;
      b[Res::bram36] = bram36_for_bits(bits);
      r += b;
    }
  }
  r += handshake_resources(c.load_bytes_per_cycle, 8);
  r += handshake_resources(c.store_bytes_per_cycle, 8);
  return r;
}

}  // namespace masesim
