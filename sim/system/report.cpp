#include "sim/system/system_impl.hpp"

namespace masesim {

namespace {
double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto k = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, k == 0 ? 0 : k - 1)];  // nearest rank
}
double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0 : s / static_cast<double>(v.size());
}
}  // namespace

/// A shared engine runs its nodes one after another: the sum of their never-stalled
/// compute times bounds its step (the busiest engine's, ps).
double System::Impl::engine_bound_ps(std::size_t v) const {
  double eng = 0;
  for (const auto& eb : engine_blocks) {
    double sum = 0;
    for (const auto& j : eb->jobs())
      sum += static_cast<double>(j.variants.empty() ? j.ideal_cycles : j.variants[v].ideal_cycles);
    eng = std::max(eng, sum * static_cast<double>(eb->period_ps()));
  }
  return eng;
}

/// A layer-reuse region runs its layers one after another: each layer takes at least
/// its slowest block's never-stalled cycles and, unless every layer stays resident, its
/// largest block's parameter fetch over its port.
void System::Impl::add_layer_reuse_bounds(std::size_t v, double per0,
                                          std::map<std::string, double>& b) const {
  double layer = 0, fetch = 0;
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    if (reuse.layer_of[i] != 0 || on_engine(i)) continue;
    const OpTiming& t = llm->node_timing[i][static_cast<std::size_t>(llm->node_timing_of[i][v])];
    layer = std::max(layer, static_cast<double>(t.ideal_cycles()) * per0);
    std::int64_t bytes = 0;
    for (const auto& p : g.nodes[i].params)
      if (p.shared_with.empty()) bytes += p.tensor.bytes();
    if (reuse.weight_buffers < reuse.layers)
      fetch = std::max(fetch, static_cast<double>((bytes + spec.mapping.reuse_port_bytes - 1) /
                                                  spec.mapping.reuse_port_bytes) *
                                  per0);
  }
  b["layer_reuse"] = static_cast<double>(reuse.layers) * std::max(layer, fetch);
  b["layer_reuse_compute"] = static_cast<double>(reuse.layers) * layer;
  b["layer_reuse_fetch"] = static_cast<double>(reuse.layers) * fetch;
}

/// Analytic bounds (ps) of one sequence-step of LLM variant `v`: compute, on-chip and
/// off-chip bandwidth, links, shared engines, a layer-reuse region.
std::map<std::string, double> System::Impl::llm_step_bounds(std::size_t v) const {
  const LlmPlan& P = *llm;
  const VariantCost& c = P.cost[v];
  std::map<std::string, double> b;  // ps
  double mac_peak = 0, off = 0;
  for (std::size_t d = 0; d < devices.size(); ++d) {
    const double per = static_cast<double>(period_of(static_cast<int>(d)));
    if (P.mac_lanes[d] > 0) mac_peak = std::max(mac_peak, c.macs[d] / P.mac_lanes[d] * per);
    const auto& mt = devices[d].type.memory;
    const double bytes_per_ps = mt.channels * mt.gbytes_per_s_per_channel * 1e-3;
    if (bytes_per_ps > 0) off = std::max(off, c.off_chip_bytes[d] / bytes_per_ps);
  }
  const double per0 = static_cast<double>(period_of(0));
  b["compute"] = std::max(mac_peak, static_cast<double>(c.slowest_mac_cycles) * per0);
  b["mac_peak"] = mac_peak;
  b["on_chip"] = static_cast<double>(c.slowest_other_cycles) * per0;
  b["off_chip"] = std::max(off, c.slowest_fetch_ps);
  b["off_chip_device"] = off;                // bytes / the memory's bandwidth
  b["off_chip_block"] = c.slowest_fetch_ps;  // one block's two-deep weight prefetch
  std::map<std::pair<std::uint32_t, std::uint32_t>, double> link_ps;
  for (const auto& [fd, bytes] : c.transfer_bytes) {
    const auto hops = interconnect::route(topo, static_cast<std::uint32_t>(fd.first),
                                          static_cast<std::uint32_t>(fd.second));
    for (const auto& h : hops)
      link_ps[{h.from, h.to}] += static_cast<double>(interconnect::serialization_ps(
          interconnect::transfer_wire_bytes(bytes, framing), framing.line_rate));
  }
  double link = 0;
  for (const auto& kv : link_ps) link = std::max(link, kv.second);
  b["link"] = link;
  // A shared engine runs its nodes one after another: the sum of their never-stalled
  // compute times bounds its step.
  if (!engine_blocks.empty()) b["engine"] = engine_bound_ps(v);
  // A layer-reuse region runs its layers one after another: each layer takes at least
  // its slowest block's never-stalled cycles and, unless every layer stays resident, its
  // largest block's parameter fetch over its port.
  if (reuse.enabled()) add_layer_reuse_bounds(v, per0, b);
  return b;
}

/// A layer-reuse region bounds a phase through its parameter fetch when the phase's steps
/// spent over half their time waiting for parameters (measured), else through its layers
/// running one after another.
std::string System::Impl::reuse_bound_label(const std::string& name, double simulated_us) const {
  std::size_t k = 0, n = 0;
  while (k < phases->names.size() && phases->names[k] != name) ++k;
  for (const int p : phases->of) n += static_cast<std::size_t>(p) == k ? 1 : 0;
  const double exposed_us =
      k < reuse_k.exposed_fetch_phase_ps.size() && n > 0
          ? static_cast<double>(reuse_k.exposed_fetch_phase_ps[k]) / 1e6 / static_cast<double>(n)
          : 0.0;
  std::ostringstream o;
  o << (exposed_us > 0.5 * simulated_us ? "layer reuse: parameter fetch"
                                        : "layer reuse: the layers one after another")
    << " (" << std::setprecision(3) << (simulated_us > 0 ? 100 * exposed_us / simulated_us : 0.0)
    << " % of a step waiting for parameters)";
  return o.str();
}

/// An LLM phase's entry: its bounds averaged over variants v0..v1 (times `scale`), the
/// simulated time, the largest bound and what limits the phase.
void System::Impl::llm_phase_report(StatsTree& L, const std::string& name, std::size_t v0,
                                    std::size_t v1, double simulated_us, double scale) const {
  const LlmPlan& P = *llm;
  std::map<std::string, double> avg;
  for (std::size_t v = v0; v < v1; ++v)
    for (const auto& [k, x] : llm_step_bounds(v)) avg[k] += x / static_cast<double>(v1 - v0);
  auto& ph = L.child("phases").child(name);
  std::string worst = "compute";
  for (const char* k : {"compute", "on_chip", "off_chip", "link", "engine", "layer_reuse"})
    if (avg.count(k) && avg[k] > avg[worst]) worst = k;
  for (const auto& [k, x] : avg) ph.set(k + "_bound_us", x * scale / 1e6);
  ph.set("simulated_us", simulated_us);
  const double bound_us = avg[worst] * scale / 1e6;
  const std::string label = worst == "on_chip"       ? "on-chip bandwidth"
                            : worst == "off_chip"    ? "off-chip bandwidth"
                            : worst == "engine"      ? "shared engine"
                            : worst == "layer_reuse" ? reuse_bound_label(name, simulated_us)
                                                     : worst;
  ph.set("bound_us", bound_us);
  ph.set("bound", label);
  ph.set("bound_fraction", simulated_us > 0 ? bound_us / simulated_us : 0);
  // Reaching half of the largest resource bound, that resource limits the phase; below,
  // a step's dependency chain does (the dataflow pipeline is not full).
  ph.set("limited_by", simulated_us <= 2.0 * bound_us
                           ? label
                           : std::string("latency (dependency chain of one step; more "
                                         "sequences in flight fill the pipeline)"));
  const VariantCost& c = P.cost[v0];
  ph.set("slowest_mac_node", c.slowest_mac_node);
  ph.set("slowest_other_node", c.slowest_other_node);
  if (!c.slowest_fetch_node.empty()) ph.set("slowest_fetch_node", c.slowest_fetch_node);
}

void System::Impl::llm_report(StatsTree& root) const {
  const LlmPlan& P = *llm;
  const LlmSpec& S = P.spec;
  const std::int64_t B = S.batch, steps = S.steps();
  auto at = [&](std::int64_t k, std::int64_t s) {
    return static_cast<double>(completed[static_cast<std::size_t>(k * B + s)]) / 1e6;  // us
  };
  std::vector<double> ttft, tpot;
  double makespan = 0;
  for (std::int64_t s = 0; s < B; ++s) {
    if (S.phase != "decode") ttft.push_back(at(0, s));
    for (std::int64_t k = 0; k < steps; ++k) {
      makespan = std::max(makespan, at(k, s));
      if (k > 0)
        tpot.push_back(at(k, s) - at(k - 1, s));
      else if (S.phase == "decode")
        tpot.push_back(at(0, s));  // the first step starts at 0 on the prompt's cache
    }
  }
  auto& L = root.child("llm");
  L.set("phase", S.phase);
  L.set("prompt_len", S.prompt_len);
  L.set("gen_tokens", S.phase == "prefill" ? 1 : S.gen_tokens);
  L.set("batch", B);
  L.set("parallelism", S.parallelism);
  const std::int64_t tokens = B * steps;
  L.set("tokens", tokens);
  L.set("makespan_us", makespan);
  if (!ttft.empty()) {
    root.set("ttft_us", mean_of(ttft));
    root.set("ttft_p99_us", percentile(ttft, 0.99));
  }
  if (!tpot.empty()) {
    root.set("tpot_us", mean_of(tpot));
    root.set("tpot_p99_us", percentile(tpot, 0.99));
    // Generation rate once every sequence decodes: tokens completed after the last first
    // token (generate) or over the run (decode), over that time.
    double from = 0;
    for (double x : ttft) from = std::max(from, x);
    std::int64_t n = 0;
    for (std::int64_t s = 0; s < B; ++s)
      for (std::int64_t k = S.phase == "decode" ? 0 : 1; k < steps; ++k) n += at(k, s) > from;
    if (n > 0 && makespan > from)
      root.set("decode_tokens_per_s", static_cast<double>(n) * 1e6 / (makespan - from));
  }
  root.set("tokens_per_s", makespan > 0 ? static_cast<double>(tokens) * 1e6 / makespan : 0);
  root.set("kv_cache_bytes_per_sequence", P.kv_bytes_per_sequence);
  auto& devs = root.child("devices");
  for (std::size_t d = 0; d < devices.size(); ++d) {
    devs.child(devices[d].name).set("kv_cache_bytes", P.kv_bytes[d]);
    devs.child(devices[d].name).set("kv_cache_on_chip_bytes", P.kv_bytes_on_chip[d]);
    devs.child(devices[d].name).set("peak_macs_per_cycle", P.mac_lanes[d]);
  }

  if (S.phase != "decode") llm_phase_report(L, "prefill", 0, 1, at(0, 0), 1.0);
  if (S.phase != "prefill") {
    const std::size_t v0 = S.phase == "generate" ? 1 : 0;
    if (static_cast<std::int64_t>(v0) < steps) {
      std::vector<double> dec(tpot.begin(), tpot.end());
      // A sequence's token interval covers one step of each of the B sequences.
      llm_phase_report(L, "decode", v0, static_cast<std::size_t>(steps), mean_of(dec),
                       static_cast<double>(B));
    }
  }
}

/// Latency, throughput and total time of the run: from the sources' first input beats and
/// the sinks' last output beats.
void System::Impl::report_timing(StatsTree& root, ReportState& S) const {
  const Impl& I = *this;
  RunSummary& r = S.r;
  r.inferences = I.inferences;
  const time_ps period0 = S.period0;
  r.clock_mhz = I.devices[0].type.clock_mhz;
  std::vector<time_ps> start(static_cast<std::size_t>(I.inferences), kNever),
      done(static_cast<std::size_t>(I.inferences), 0);
  for (const auto& s : I.sources)
    for (std::size_t k = 0; k < s->first_in().size(); ++k)
      start[k] = std::min(start[k], s->first_in()[k]);
  for (std::size_t si = 0; si < I.sinks.size(); ++si)
    for (std::size_t k = 0; k < I.sinks[si]->last_out().size(); ++k)
      done[k] = std::max(done[k], I.sinks[si]->last_out()[k]);
  r.latency_ps = done[0] - start[0];  // first input beat to last output beat (as MASE counts)
  r.total_ps = done.back() + period0;
  const std::int64_t N = I.inferences;
  r.throughput_per_s =
      N >= 2 ? static_cast<double>(N - 1) * 1e12 / static_cast<double>(done.back() - done.front())
             : 1e12 / static_cast<double>(r.latency_ps);

  root.set("latency_cycles", static_cast<std::int64_t>(r.latency_ps / period0));
  root.set("latency_us", static_cast<double>(r.latency_ps) / 1e6);
  root.set("throughput_inferences_per_s", r.throughput_per_s);
  root.set("total_cycles", static_cast<std::int64_t>(r.total_ps / period0));
  root.set("total_us", static_cast<double>(r.total_ps) / 1e6);
  root.set("inferences", N);
  root.set("clock_mhz", r.clock_mhz);
  auto& per = root.child("inference_done_cycles");
  for (std::size_t k = 0; k < done.size(); ++k)
    per.set(std::to_string(k), static_cast<std::int64_t>((done[k] + period0) / period0));
}

/// A graph node's entry: placement, its engine or systolic array, the block's measured
/// counters beside the cost model's, weights, KV cache, bound and resources.
void System::Impl::report_node(std::size_t i, StatsTree& nodes, ReportState& S) const {
  const Impl& I = *this;
  const Node& n = I.g.nodes[i];
  const NodeMap& nm = I.m.nodes[i];
  const time_ps p = I.period_of(nm.device);
  const BlockStats& st = I.stats_of(i);
  const Activity act = st.act.total();
  auto& t = nodes.child(n.name);
  t.set("op", n.op);
  t.set("device", I.devices[static_cast<std::size_t>(nm.device)].name);
  t.set("impl", I.sys[i] ? I.sys[i]->engine().impl() : "tlm");
  if (nm.replica_ways > 1) {  // mapping.replicate: the share of the inferences it ran
    t.set("replica", std::to_string(nm.replica_index) + " of " + std::to_string(nm.replica_ways));
    t.set("inferences", node_inferences(i));
  }
  if (I.on_engine(i)) report_node_engine(i, t);
  if (I.sys[i]) report_node_systolic(i, t);
  // Measured by the block; the cost model's figures beside them under their own names.
  I.write_block_stats(i, t);
  const auto analytic = I.analytic_of(i);
  t.set("analytic_busy_cycles", analytic[S.n_phases].busy_cycles);
  t.set("analytic_macs", analytic[S.n_phases].macs);
  for (std::size_t k = 0; k < S.n_phases; ++k) {
    auto& ph = t.child("phases").child(I.phases->names[k]);
    ph.set("analytic_busy_cycles", analytic[k].busy_cycles);
    ph.set("analytic_macs", analytic[k].macs);
    const Activity& pa = st.act.by_phase()[k];
    const double occ =
        static_cast<double>(static_cast<time_ps>(pa.busy_cycles) * p + pa.stall_mem_ps);
    if (occ > S.phase_worst[k]) {
      S.phase_worst[k] = occ;
      S.phase_node[k] = n.name;
      S.phase_busy[k] = pa.busy_cycles;
    }
  }
  t.set("macs_per_cycle", nm.timing.macs_per_cycle);
  if (n.op == "conv2d") t.set("kernel_unroll", nm.hw.kernel_unroll);
  t.set("latency_cycles", nm.timing.latency_cycles);
  t.set("weights", nm.hw.weights_off_chip ? "off_chip" : "on_chip");
  t.set("weight_bytes_read", st.weight_bytes);
  if (ops::of(n).cls == OpClass::KvCache) {
    t.set("kv_cache", nm.hw.kv_off_chip ? "off_chip" : "on_chip");
    t.set("kv_cache_bytes", nm.hw.kv_capacity_bytes);
    t.set("kv_read_bytes", st.kv_read_bytes);
    t.set("kv_write_bytes", st.kv_write_bytes);
  }
  const time_ps busy_ps = static_cast<time_ps>(act.busy_cycles) * p;
  const bool mem_bound = act.stall_mem_ps > busy_ps / 2;
  t.set("bound", mem_bound ? "memory" : "compute");
  std::string tile;
  for (auto x : nm.hw.out.tile) tile += (tile.empty() ? "" : "x") + std::to_string(x);
  t.set("out_tile", tile);
  auto& res = t.child("resources");
  set_amounts(res, nm.resources);
  res.set("binding", mul_binding_name(nm.hw.binding));
  res.set_bool("extrapolated", nm.estimate.extrapolated);
  if (nm.estimate.extrapolated) res.set("extrapolation", nm.estimate.reason);
  if (!nm.storage_spill.empty()) res.set("storage_spill", nm.storage_spill);
  const double occupancy = static_cast<double>(busy_ps + act.stall_mem_ps);
  if (occupancy > S.worst && !I.on_engine(i)) {  // an engine's nodes: the engine, below
    S.worst = occupancy;
    S.r.bottleneck = n.name;
  }
}

/// A node on a shared engine: its engine, lowering, GEMM shape and tiles, fused nodes.
void System::Impl::report_node_engine(std::size_t i, StatsTree& t) const {
  const Impl& I = *this;
  const auto e = static_cast<std::size_t>(I.m.engines.engine_of[i]);
  const EngineJob* job = I.job_ptr(i);
  auto& en = t.child("engine");
  en.set("name", I.spec.engines[e].name);
  t.set("impl", I.engine_gemms[e]->impl());
  if (job && I.job_of[i][2] > 0) {
    en.set("fused_into", job->name);  // runs on the accumulator tiles of that GEMM
  } else if (job) {
    en.set("lowering", job->low.kind == engine::Lowering::Kind::Gemm     ? "gemm"
                       : job->low.kind == engine::Lowering::Kind::Vector ? "vector"
                                                                         : "free");
    if (job->low.kind == engine::Lowering::Kind::Gemm) {
      const auto& w = job->low.gemm;
      en.set("gemm", std::to_string(w.groups) + "x" + std::to_string(w.m) + "x" +
                         std::to_string(w.k) + "x" + std::to_string(w.n));
      en.set("tile", std::to_string(job->plan.m_t) + "x" + std::to_string(job->plan.k_t) + "x" +
                         std::to_string(job->plan.n_t));
    }
    en.set("tiles", static_cast<std::int64_t>(job->tiles));
    std::string fused;
    for (std::size_t f = 1; f < job->nodes.size(); ++f)
      fused += (fused.empty() ? "" : "+") + I.g.nodes[static_cast<std::size_t>(job->nodes[f])].name;
    if (!fused.empty()) en.set("fused", fused);
  }
}

/// A node on the systolic core: array, dataflow, GEMM shape, model (or RTL) cycles.
void System::Impl::report_node_systolic(std::size_t i, StatsTree& t) const {
  const Impl& I = *this;
  const NodeMap& nm = I.m.nodes[i];
  const std::int64_t N = node_inferences(i);
  auto& sy = t.child("systolic");
  sy.set("array", std::to_string(nm.hw.systolic_rows) + "x" + std::to_string(nm.hw.systolic_cols));
  sy.set("dataflow", nm.hw.weight_stationary ? "weight_stationary" : "output_stationary");
  sy.set("gemm", std::to_string(nm.timing.gemm_m) + "x" + std::to_string(nm.timing.gemm_k) + "x" +
                     std::to_string(nm.timing.gemm_n));
  sy.set("gemms", nm.timing.gemm_batch * N);
  sy.set("model_cycles", nm.timing.cycles_per_gemm * nm.timing.gemm_batch * N);
  sy.set("utilisation", nm.timing.systolic_utilisation);
  if (I.sys[i]->engine().impl() == "rtl") {
    t.set("rtl_cycles", I.sys[i]->engine_cycles());
    t.set("rtl_mismatches", rtl_mismatches(I.sys[i]->engine()));
    t.set("rtl_real_operand_gemms", I.sys[i]->real_operand_gemms());
  }
}

/// Shared engines: what each unit did, measured by the engine's timeline. An engine is
/// occupied while it computes or waits for its loads and stores (not while it waits for
/// its input to exist); the busiest engine bounds the run if it beats every block.
void System::Impl::report_engines(StatsTree& root, ReportState& S) const {
  const Impl& I = *this;
  if (I.engine_blocks.empty()) return;
  auto& es = root.child("engines");
  for (std::size_t e = 0; e < I.engine_blocks.size(); ++e) {
    const EngineBlock& eb = *I.engine_blocks[e];
    const EngineSpec& spec = I.spec.engines[e];
    const engine::CoreCounters& k = eb.counters();
    const engine::CoreConfig& c = eb.core();
    const time_ps p = eb.period_ps();
    auto cyc = [&](time_ps ps) { return static_cast<std::int64_t>(ps / p); };
    auto& t = es.child(spec.name);
    t.set("device", I.devices[static_cast<std::size_t>(spec.device)].name);
    t.set("kind", c.cpu ? "host_cpu" : "core");
    t.set("memory", I.devices[static_cast<std::size_t>(spec.memory_device >= 0 ? spec.memory_device
                                                                               : spec.device)]
                        .name);
    t.set("impl", c.cpu ? "cost_model" : I.engine_gemms[e]->impl());
    if (c.cpu) report_host_cpu(c, t, S);
    if (c.has_gemm())
      t.set("gemm",
            std::to_string(c.gemm_rows) + "x" + std::to_string(c.gemm_cols / c.macs_per_pe) +
                (c.macs_per_pe > 1 ? " x" + std::to_string(c.macs_per_pe) + " MACs/PE" : "") + " " +
                (c.dot_product         ? "dot_product"
                 : c.weight_stationary ? "weight_stationary"
                                       : "output_stationary") +
                (c.fp16 ? " fp16" : ""));
    if (c.has_alu()) t.set("alu_lanes", c.alu_lanes);
    t.set("nodes", static_cast<std::int64_t>(I.m.engines.plans[e].tasks.size()));
    const std::int64_t total = cyc(S.r.total_ps);
    const std::int64_t busy = cyc(k.compute_busy_ps), wl = cyc(k.wait_load_ps),
                       ws = cyc(k.wait_store_ps), wi = cyc(k.wait_input_ps);
    t.set("busy_cycles", busy);
    t.set("wait_load_cycles", wl);
    t.set("wait_store_cycles", ws);
    t.set("wait_input_cycles", wi);
    t.set("idle_cycles", std::max<std::int64_t>(0, total - busy - wl - ws));
    t.set("load_busy_cycles", cyc(k.load_busy_ps));
    t.set("store_busy_cycles", cyc(k.store_busy_ps));
    t.set("gemm_tiles", static_cast<std::int64_t>(k.gemm_tiles));
    t.set("alu_passes", static_cast<std::int64_t>(k.alu_passes));
    t.set("loads", static_cast<std::int64_t>(k.loads));
    t.set("stores", static_cast<std::int64_t>(k.stores));
    t.set("bytes_loaded", static_cast<std::int64_t>(k.bytes_loaded));
    t.set("bytes_stored", static_cast<std::int64_t>(k.bytes_stored));
    t.set("macs", static_cast<std::int64_t>(k.macs));
    const double peak = static_cast<double>(c.gemm_rows * c.gemm_cols) * static_cast<double>(total);
    if (c.cpu)  // a host CPU: the share of the run it computed
      t.set("utilisation",
            total > 0 ? static_cast<double>(busy) / static_cast<double>(total) : 0.0);
    else
      t.set("utilisation", peak > 0 ? static_cast<double>(k.macs) / peak : 0.0);
    auto& bu = t.child("buffers");
    bu.set("input_bytes", c.input_buffer_bytes);
    bu.set("weight_bytes", c.weight_buffer_bytes);
    bu.set("acc_bytes", c.acc_buffer_bytes);
    bu.set("peak_input_bytes", k.peak_input_bytes);
    bu.set("peak_weight_bytes", k.peak_weight_bytes);
    bu.set("peak_acc_bytes", k.peak_acc_bytes);
    const Resources& er = I.m.engine_resources[e];
    auto& res = t.child("resources");
    set_amounts(res, er);
    if (I.engine_gemms[e]->impl() == "rtl")
      t.set("rtl_mismatches", rtl_mismatches(*I.engine_gemms[e]));
    const double occupancy =
        static_cast<double>(k.compute_busy_ps + k.wait_load_ps + k.wait_store_ps);
    t.set("bound", k.wait_load_ps + k.wait_store_ps > k.compute_busy_ps ? "memory" : "compute");
    if (occupancy > S.worst) {
      S.worst = occupancy;
      S.r.bottleneck = "engine " + spec.name;
      S.engine_bound = t.get("bound");
      S.engine_busy = busy;
      S.engine_kind = spec.name;
    }
  }
}

/// A host CPU engine: the latency of the same host running every node itself.
void System::Impl::report_host_cpu(const engine::CoreConfig& c, StatsTree& t,
                                   const ReportState& S) const {
  const Impl& I = *this;
  // The same host running every node of the graph itself, one after another.
  time_ps all = 0;
  std::string why;
  for (const auto& n : I.g.nodes) {
    try {
      all += engine::cpu_node_ps(I.g, n, c.cpu_cost);
    } catch (const std::invalid_argument& x) {
      if (why.empty()) why = "node '" + n.name + "': " + x.what();
    }
  }
  if (why.empty()) {
    t.set("all_on_host_latency_us", static_cast<double>(all) / 1e6);
    t.set("offload_speedup", S.r.latency_ps > 0
                                 ? static_cast<double>(all) / static_cast<double>(S.r.latency_ps)
                                 : 0.0);
  } else {
    t.set("all_on_host_latency_us", "n/a (" + why + ")");
  }
}

/// PCIe links between cards and hosts.
void System::Impl::report_pcie(StatsTree& root) const {
  const Impl& I = *this;
  if (!I.pcie.empty()) {
    auto& ps = root.child("pcie");
    for (const auto& [key, link] : I.pcie) {
      auto& t = ps.child(link->card() + "-" + link->host());
      const PcieStats& st = link->stats();
      const auto& pp = link->params();
      t.set("generation", static_cast<std::int64_t>(pp.generation));
      t.set("lanes", static_cast<std::int64_t>(pp.lanes));
      t.set("payload_gbytes_per_s", interconnect::pcie_payload_bytes_per_s(pp) / 1e9);
      t.set("latency_ns", pp.latency_ns);
      t.set("transfers", static_cast<std::int64_t>(st.transfers));
      t.set("h2d_bytes", static_cast<std::int64_t>(st.h2d_bytes));
      t.set("d2h_bytes", static_cast<std::int64_t>(st.d2h_bytes));
      t.set("h2d_busy_ns", static_cast<double>(st.h2d_busy_ps) / 1e3);
      t.set("d2h_busy_ns", static_cast<double>(st.d2h_busy_ps) / 1e3);
      t.set("wait_ns", static_cast<double>(st.wait_ps) / 1e3);
    }
  }
}

/// The bottleneck node or engine, overall and per LLM phase.
StatsTree& System::Impl::report_bottleneck(StatsTree& root, const StatsTree& nodes,
                                           const ReportState& S) const {
  const Impl& I = *this;
  auto& bn = root.child("bottleneck");
  bn.set("node", S.r.bottleneck);
  if (!S.engine_kind.empty()) {
    bn.set("engine", S.engine_kind);
    bn.set("bound", S.engine_bound);
    bn.set("busy_cycles", S.engine_busy);
  } else if (!S.r.bottleneck.empty()) {
    const auto* t = nodes.find_child(S.r.bottleneck);
    bn.set("bound", t->get("bound"));
    bn.set("busy_cycles", static_cast<std::int64_t>(std::stoll(t->get("busy_cycles"))));
  }
  for (std::size_t k = 0; k < S.n_phases; ++k) {
    if (S.phase_node[k].empty()) continue;
    auto& ph = bn.child("phases").child(I.phases->names[k]);
    ph.set("node", S.phase_node[k]);
    ph.set("busy_cycles", S.phase_busy[k]);
  }
  return bn;
}

/// How the graph was mapped: partition, auto steps, estimates, devices used, splits.
void System::Impl::report_mapping(StatsTree& root, const ReportState& S) const {
  const Impl& I = *this;
  auto& mp = root.child("mapping");
  mp.set("partition", I.m.partition);
  mp.set_bool("auto", I.m.automatic);
  if (I.m.automatic) {
    mp.set("auto_steps", I.m.auto_steps);
    mp.set("auto_stop", I.m.auto_stop);
  }
  if (I.m.estimated_bottleneck_ps > 0) {
    mp.set("estimated_bottleneck", I.m.estimated_bottleneck);
    mp.set("estimated_bottleneck_cycles",
           I.m.estimated_bottleneck_ps / static_cast<double>(S.period0));
    mp.set("estimated_throughput_inferences_per_s", 1e12 / I.m.estimated_bottleneck_ps);
  }
  std::set<int> used_devices;
  for (const auto& nm : I.m.nodes) used_devices.insert(nm.device);
  mp.set("devices_used", static_cast<std::int64_t>(used_devices.size()));
  if (!I.m.idle_reason.empty()) mp.set("idle_devices_reason", I.m.idle_reason);
  mp.set("split_nodes", static_cast<std::int64_t>(I.m.splits.size()));
  if (!I.m.splits.empty()) {
    std::string list;
    for (const auto& sp : I.m.splits) list += (list.empty() ? "" : "; ") + sp;
    mp.set("splits", list);
  }
  mp.set("replicated_stages", static_cast<std::int64_t>(I.m.replicas.size()));
  if (!I.m.replicas.empty()) {
    std::string list;
    for (const auto& r : I.m.replicas) list += (list.empty() ? "" : "; ") + r;
    mp.set("replicas", list);
  }
  if (!I.m.scale_bound.empty()) mp.set("scale_bound", I.m.scale_bound);
  std::int64_t n_extrapolated = 0;
  for (const auto& nm : I.m.nodes) n_extrapolated += nm.estimate.extrapolated ? 1 : 0;
  mp.set("extrapolated_nodes", n_extrapolated);
  mp.set("extrapolation_margin", I.spec.mapping.extrapolation_margin);
  mp.set("oversubscribed", static_cast<std::int64_t>(I.m.overflows.size()));
}

/// Layer reuse: the region's layers, its parameter fetch and what the layer starts waited for.
void System::Impl::report_layer_reuse(StatsTree& root, const ReportState& S) const {
  const Impl& I = *this;
  if (I.reuse.enabled()) {
    auto& t = root.child("layer_reuse");
    t.set("layers", static_cast<std::int64_t>(I.reuse.layers));
    t.set("weight_buffers", I.reuse.weight_buffers);
    t.set("weight_bytes_per_layer", I.reuse_weight_bytes);
    t.set("layer_runs", static_cast<std::int64_t>(I.reuse_k.layer_starts));
    t.set("weight_fetches", static_cast<std::int64_t>(I.reuse_fetch->fetches()));
    t.set("weight_bytes_fetched", static_cast<std::int64_t>(I.reuse_fetch->bytes_fetched()));
    t.set("weight_fetch_busy_us", static_cast<double>(I.reuse_fetch->busy_ps()) / 1e6);
    t.set("exposed_fetch_us", static_cast<double>(I.reuse_k.exposed_fetch_ps) / 1e6);
    t.set("region_wait_us", static_cast<double>(I.reuse_k.region_wait_ps) / 1e6);
    t.set("exposed_fetch_share",
          S.r.total_ps > 0
              ? static_cast<double>(I.reuse_k.exposed_fetch_ps) / static_cast<double>(S.r.total_ps)
              : 0.0);
    if (I.phases)
      for (std::size_t k = 0; k < I.phases->names.size(); ++k)
        t.set("phases." + I.phases->names[k] + ".exposed_fetch_us",
              k < I.reuse_k.exposed_fetch_phase_ps.size()
                  ? static_cast<double>(I.reuse_k.exposed_fetch_phase_ps[k]) / 1e6
                  : 0.0);
  }
}

/// Devices: resources against capacity (per SLR too), off-chip memory use and traffic;
/// payload each device sends over the network, collective flows (from or to a node of an
/// all-reduce or all-gather, named <linear>.allreduce.*) separately.
void System::Impl::report_devices(StatsTree& root, const ReportState& S) const {
  const Impl& I = *this;
  auto& devs = root.child("devices");
  for (std::size_t d = 0; d < I.devices.size(); ++d) {
    auto& t = devs.child(I.devices[d].name);
    const auto& ty = I.devices[d].type;
    t.set("type", ty.name);
    t.set("clock_mhz", ty.clock_mhz);
    auto& res = t.child("resources");
    const auto& u = I.m.used[d];
    set_utilisation(res, u, ty.capacity);
    if (ty.slr_list.size() > 1 && d < I.m.slrs.size()) {  // the per-SLR ledger
      const SlrLedger& L = I.m.slrs[d];
      auto& sl = t.child("slrs");
      for (std::size_t k = 0; k < ty.slr_list.size(); ++k) {
        auto& st = sl.child(ty.slr_list[k].name);
        const Resources& su = L.used[k];
        const Resources& sc = ty.slr_list[k].capacity;
        set_utilisation(st, su, sc);
        if (k + 1 < ty.slr_list.size()) st.set("boundary_bits_per_cycle", L.boundary_bits[k]);
      }
      t.set("slr_crossings", L.crossings);
      t.set("slr_unplaced_nodes", L.unplaced_nodes);
    }
    const auto& mem = I.dev[d]->memory.channels();
    auto& mt = t.child("memory");
    mt.set("kind", ty.memory_kind);
    mt.set("capacity_bytes", ty.memory_capacity_gbytes * 1e9);
    if (d < I.m.offchip.size()) {
      const OffChipUse& oc = I.m.offchip[d];
      mt.set("allocated_bytes", oc.total());
      mt.set("allocated_weight_bytes", oc.weight_bytes);
      mt.set("allocated_kv_cache_bytes", oc.kv_cache_bytes);
      mt.set("allocated_activation_bytes", oc.activation_bytes);
    }
    mt.set("bytes_read", mem.bytes());
    mt.set("requests", mem.requests());
    mt.set("busy_ns", static_cast<double>(mem.busy_ps()) / 1e3 / ty.memory.channels);
    mt.set("bandwidth_utilisation",
           S.r.total_ps ? static_cast<double>(mem.busy_ps()) /
                              (static_cast<double>(S.r.total_ps) * ty.memory.channels)
                        : 0.0);
  }
  if (!I.txs.empty()) {
    std::vector<std::uint64_t> tx(I.devices.size(), 0), ar(I.devices.size(), 0);
    for (std::size_t k = 0; k < I.txs.size(); ++k) {
      const auto d = static_cast<std::size_t>(I.tx_from[k].first);
      tx[d] += I.txs[k]->bytes_sent();
      if (I.tx_from[k].second.find(".allreduce.") != std::string::npos)
        ar[d] += I.txs[k]->bytes_sent();
    }
    auto& dv = root.child("devices");
    for (std::size_t d = 0; d < I.devices.size(); ++d) {
      dv.child(I.devices[d].name).set("tx_bytes", tx[d]);
      dv.child(I.devices[d].name).set("allreduce_tx_bytes", ar[d]);
    }
  }
}

/// Links: traffic and utilisation; the system's bottleneck is the block or link busy longest.
void System::Impl::report_links(StatsTree& root, StatsTree& bn, ReportState& S) const {
  const Impl& I = *this;
  auto& ls = root.child("links");
  double worst_util = -1;
  std::string worst_link;
  for (const auto& [key, l] : I.links) {
    const LinkStats& st = l->stats();
    if (st.frames == 0) continue;
    const std::string name = l->from() + "->" + l->to();
    auto& t = ls.child(name);
    t.set("bytes", st.payload_bytes);
    t.set("wire_bytes", st.wire_bytes);
    t.set("frames", st.frames);
    t.set("busy_ns", static_cast<double>(st.busy_ps) / 1e3);
    const double util =
        S.r.total_ps ? static_cast<double>(st.busy_ps) / static_cast<double>(S.r.total_ps) : 0.0;
    t.set("utilisation", util);
    t.set("max_buffer_bytes", st.max_buffer_bytes);
    t.set("contention_ns", static_cast<double>(st.contention_ps) / 1e3);
    t.set("credit_stall_ns", static_cast<double>(st.credit_stall_ps) / 1e3);
    t.set("goodput_gbps",
          st.busy_ps ? static_cast<double>(st.payload_bytes) * 8e3 / static_cast<double>(st.busy_ps)
                     : 0.0);
    if (util > worst_util) {
      worst_util = util;
      worst_link = name;
    }
  }
  if (!worst_link.empty()) {
    bn.set("busiest_link", worst_link);
    bn.set("busiest_link_utilisation", worst_util);
  }
  // The system's bottleneck: the block or link that is busy for the longest time.
  double worst_link_ps = 0;
  for (const auto& [key, l] : I.links)
    worst_link_ps = std::max(worst_link_ps, static_cast<double>(l->stats().busy_ps));
  // The host's injection: a source puts one beat per cycle of its device on the stream.
  double worst_source_ps = 0;
  std::string worst_source;
  for (std::size_t k = 0; k < I.sources.size(); ++k) {
    const auto& in = I.g.inputs[I.source_input[k]];
    const double ps = static_cast<double>(I.sources[k]->stats().act.total().busy_cycles) *
                      static_cast<double>(I.sources[k]->period_ps());
    if (ps > worst_source_ps) worst_source_ps = ps, worst_source = in.name;
  }
  if (worst_source_ps > S.worst && worst_source_ps > worst_link_ps) {
    bn.set("kind", "host_input");
    bn.set("name", worst_source);
    S.r.bottleneck = "host input " + worst_source;
  } else if (worst_link_ps > S.worst) {
    bn.set("kind", "link");
    bn.set("name", worst_link);
    S.r.bottleneck = worst_link;
  } else {
    bn.set("kind", "node");
    bn.set("name", S.r.bottleneck);
  }
}

/// Blocks that are not graph nodes (forks, width adapters, the host's sources and sinks,
/// the links' TX and RX bridges) and every stream.
void System::Impl::report_blocks(StatsTree& root, const ReportState& S) const {
  const Impl& I = *this;
  auto& bl = root.child("blocks");
  for (const auto& b : I.forks) b->write_stats(bl.child(b->basename()));
  for (const auto& b : I.adapters) b->write_stats(bl.child(b->basename()));
  for (const auto& b : I.sources) b->write_stats(bl.child(b->basename()));
  for (const auto& b : I.sinks) b->write_stats(bl.child(b->basename()));
  for (const auto& b : I.txs) b->write_stats(bl.child(b->basename()));
  for (const auto& b : I.rxs) b->write_stats(bl.child(b->basename()));
  auto& ss = root.child("streams");
  for (const auto& s : I.streams) {
    auto& t = ss.child(s->name());
    t.set("depth", static_cast<std::int64_t>(s->depth()));
    t.set("beats", s->beats());
    t.set("full_cycles", static_cast<std::int64_t>(s->full_ps() / S.period0));
    t.set("empty_cycles", static_cast<std::int64_t>(s->empty_ps() / S.period0));
  }
}

RunSummary System::report(StatsTree& root) const {
  const Impl& I = *impl_;
  Impl::ReportState S;
  S.period0 = I.period_of(0);
  S.n_phases = I.phases ? I.phases->names.size() : 0;
  S.phase_worst.assign(S.n_phases, -1);
  S.phase_node.assign(S.n_phases, "");
  S.phase_busy.assign(S.n_phases, 0);
  I.report_timing(root, S);
  auto& nodes = root.child("nodes");
  for (std::size_t i = 0; i < I.g.nodes.size(); ++i) I.report_node(i, nodes, S);
  I.report_engines(root, S);
  I.report_pcie(root);
  StatsTree& bn = I.report_bottleneck(root, nodes, S);
  I.report_mapping(root, S);
  I.report_layer_reuse(root, S);
  I.report_devices(root, S);
  I.report_links(root, bn, S);
  I.report_blocks(root, S);
  if (I.llm) I.llm_report(root);
  return S.r;
}
}  // namespace masesim
