#include "sim/system/system_impl.hpp"

namespace masesim {

Qsfp28Link* System::Impl::link(const interconnect::Hop& h) {
  auto& l = links[{h.from, h.to}];
  if (!l) {
    const std::string a = topo.name(h.from), b = topo.name(h.to);
    l = std::make_unique<Qsfp28Link>(("link_" + sc_safe_name(a) + "_to_" + sc_safe_name(b)).c_str(),
                                     framing, link_timing, a, b);
  }
  return l.get();
}

Stream* System::Impl::cross(Stream* leg, int pdev, int cdev, const PortTiling& tiling,
                            const Precision& prec, const std::string& what,
                            std::int64_t leg_inferences, const std::vector<std::int64_t>* var) {
  if (pdev == cdev) return leg;
  std::vector<interconnect::Hop> hops;
  try {
    hops = interconnect::route(topo, static_cast<std::uint32_t>(pdev),
                               static_cast<std::uint32_t>(cdev));
  } catch (const std::runtime_error& e) {
    throw InputError(spec.file + ": " + what + ": " + e.what());
  }
  std::vector<Qsfp28Link*> route;
  for (const auto& h : hops) route.push_back(link(h));
  FlowShape shape;
  shape.beats = tiling.beats;
  shape.beat_bits = static_cast<std::int64_t>(
      std::ceil(static_cast<double>(tiling.elems_per_beat) * prec.bits_per_element()));
  shape.inferences = leg_inferences;
  shape.framing = framing;
  if (var) {
    shape.variant_beats = beats_per_variant(var, tiling);
    shape.schedule = llm->schedule;
  }
  const std::uint64_t max_payload = std::max<std::uint64_t>(1, FramePlan(shape).max_payload);
  const std::uint64_t buffer = spec.link.rx_buffer_bytes;
  Stream* frames = new_stream(
      what + ".frames", static_cast<std::size_t>(std::max<std::uint64_t>(1, buffer / max_payload)));
  frames->set_credit_delay(route.back()->fixed_latency_ps());
  Stream* out = new_stream(what + ".rx", spec.simulation.stream_depth);
  const std::string base = sc_safe_name(what);
  auto& pd = *dev[static_cast<std::size_t>(pdev)];
  auto& cd = *dev[static_cast<std::size_t>(cdev)];
  sc_core::sc_get_curr_simcontext()->hierarchy_push(&pd);
  txs.push_back(std::make_unique<TxBridge>(("tx_" + base).c_str(), period_of(pdev), leg, frames,
                                           shape, route, spec.link.cut_through));
  sc_core::sc_get_curr_simcontext()->hierarchy_pop();
  tx_from.emplace_back(pdev, what);
  for (Qsfp28Link* l : route) txs.back()->net.bind(l->socket);
  sc_core::sc_get_curr_simcontext()->hierarchy_push(&cd);
  rxs.push_back(std::make_unique<RxBridge>(("rx_" + base).c_str(), period_of(cdev), frames, out,
                                           shape, route.back()));
  sc_core::sc_get_curr_simcontext()->hierarchy_pop();
  leg->set_ends(leg->producer(), txs.back().get());
  frames->set_ends(txs.back().get(), rxs.back().get());
  out->set_ends(rxs.back().get(), nullptr);
  return out;
}

void System::Impl::build_layer_reuse() {
  const int L = reuse.layers;
  std::vector<std::vector<TensorSignal*>> out_of(static_cast<std::size_t>(L));
  for (std::size_t i = 0; i < g.nodes.size(); ++i)
    if (reuse.io_from[i] >= 0)
      out_of[static_cast<std::size_t>(reuse.io_from[i])].push_back(node_signal[i]);
  for (int l = 0; l < L; ++l)
    if (out_of[static_cast<std::size_t>(l)].empty())
      throw InputError(spec.file + ": mapping.layer_reuse: layer " + std::to_string(l) +
                       " has no output that a later layer or node reads");
  auto done = [this, L, out_of](std::int64_t q, Block* who) {
    time_ps t = 0;
    for (TensorSignal* sgl : out_of[static_cast<std::size_t>(q % L)])
      t = std::max(t, sgl->wait(q / L, who));
    return t;
  };
  int io_device = 0;
  for (const auto& e : spec.engines)
    if (e.name == kLayerIoEngine) io_device = e.device;
  std::vector<std::int64_t> block_bytes;  // per layer-0 block with parameters
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    if (reuse.layer_of[i] != 0 || on_engine(i) || ops::of(g.nodes[i]).cls == OpClass::KvCache)
      continue;
    std::int64_t b = 0;
    for (const auto& p : g.nodes[i].params)
      if (p.shared_with.empty()) b += p.tensor.bytes();
    if (b > 0) block_bytes.push_back(b);
    reuse_weight_bytes += b;
  }
  reuse_weights = std::make_unique<TensorSignal>("parameters of the reused layer");
  auto& dm = *dev[static_cast<std::size_t>(io_device)];
  sc_core::sc_get_curr_simcontext()->hierarchy_push(&dm);
  reuse_fetch = std::make_unique<LayerFetchBlock>(
      "layer_reuse_fetch", period_of(io_device), inferences, L, reuse.weight_buffers, block_bytes,
      spec.mapping.reuse_port_bytes, std::uint64_t{1} << 38, done, reuse_weights.get());
  sc_core::sc_get_curr_simcontext()->hierarchy_pop();
  reuse_fetch->mem_socket.bind(dm.memory.socket);
  dm.memory.register_initiator(reuse_fetch.get());
  std::set<int> counted;  // the counters follow the first input of each layer
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    const int into = reuse.io_into[i];
    if (into < 0 || into >= L || !egress_of[i]) continue;
    const bool count = counted.insert(into).second;
    egress_of[i]->set_gate(
        [this, L, into, done, count](std::int64_t inf, time_ps ready, Block* who) {
          const std::int64_t q = inf * L + into;
          const time_ps free = q > 0 ? done(q - 1, who) : 0;
          const time_ps params = reuse_weights->wait(q, who);
          const time_ps data = std::max(ready, free);
          if (!count) return std::max(data, params);
          ++reuse_k.layer_starts;
          reuse_k.region_wait_ps += free > ready ? free - ready : 0;
          const time_ps exposed = params > data ? params - data : 0;
          reuse_k.exposed_fetch_ps += exposed;
          if (phases) {
            reuse_k.exposed_fetch_phase_ps.resize(phases->names.size(), 0);
            reuse_k.exposed_fetch_phase_ps[static_cast<std::size_t>(
                phases->of[static_cast<std::size_t>(inf)])] += exposed;
          }
          return std::max(data, params);
        });
  }
}

/// LLM mode: the graph at each step's dims, for every job's per-step shapes.
void System::Impl::engine_step_graphs() {
  step_graphs.clear();
  if (llm)
    for (std::size_t v = 0; v < llm->variant_seq.size(); ++v)
      step_graphs.push_back(
          rebind_dims(g, {{"seq", llm->variant_seq[v]}, {"ctx", llm->variant_ctx[v]}}));
}

/// Names step `v` in errors about an engine task at that step's shapes.
std::string System::Impl::step_what(std::size_t v) const {
  return spec.file + ": step " + std::to_string(v) + " (seq " +
         std::to_string(llm->variant_seq[v]) + ", ctx " + std::to_string(llm->variant_ctx[v]) +
         "): ";
}

/// The tensor each engine job's output is in memory as (a fused chain: its last node's).
void System::Impl::make_engine_signals() {
  const EngineAssignment& EA = m.engines;
  node_signal.assign(g.nodes.size(), nullptr);
  egress_of.assign(g.nodes.size(), nullptr);
  job_of.assign(g.nodes.size(), {-1, -1, -1});
  for (std::size_t e = 0; e < EA.plans.size(); ++e) {
    const auto& tasks = EA.plans[e].tasks;
    for (std::size_t k = 0; k < tasks.size(); ++k) {
      const EngineTask& t = tasks[k];
      if (t.fused_into >= 0) continue;
      const int last = t.fused.empty() ? t.node : t.fused.back();
      signals.push_back(
          std::make_unique<TensorSignal>(g.nodes[static_cast<std::size_t>(last)].name));
      node_signal[static_cast<std::size_t>(t.node)] = signals.back().get();
      for (const int f : t.fused) node_signal[static_cast<std::size_t>(f)] = signals.back().get();
    }
  }
}

/// The address of an activation of `bytes` in an engine's memory: after the weights
/// (addresses only spread the requests over the channels), 4 KiB aligned.
std::uint64_t System::Impl::next_engine_addr(std::int64_t bytes) {
  const std::uint64_t a = engine_act_addr;
  engine_act_addr += (static_cast<std::uint64_t>(bytes) + 4095) / 4096 * 4096;
  return a;
}

/// The inputs of engine job `j` (node t.node): a producer's tensor in the same memory, or
/// an ingress block writing a stream into the engine's memory.
void System::Impl::engine_job_inputs(std::size_t e, const EngineTask& t, EngineJob& j,
                                     std::vector<std::vector<Stream*>>& node_in) {
  const EngineSpec& es = spec.engines[e];
  const auto ni = static_cast<std::size_t>(t.node);
  const Node& n = g.nodes[ni];
  for (std::size_t p = 0; p < n.args.size(); ++p) {
    const auto it = g.node_index.find(n.args[p].node);
    const int pi = it == g.node_index.end() ? -1 : static_cast<int>(it->second);
    if (memory_edge(pi, t.node)) {
      j.inputs.push_back(node_signal[static_cast<std::size_t>(pi)]);
      continue;
    }
    Stream* in = node_in[ni][p];
    if (!in) throw std::logic_error("engine node without its input stream: " + n.name);
    signals.push_back(std::make_unique<TensorSignal>(n.name + ".data_in_" + std::to_string(p)));
    const std::int64_t bytes = g.tensor_of(n.args[p]).bytes();
    // A graph input of an engine whose tensors are in a host's memory is written there
    // by the host itself (no PCIe); any other stream enters through the engine's path.
    const bool host_side = pi < 0 && es.memory_device >= 0;
    const int side = host_side ? es.memory_device : es.device;
    sc_core::sc_get_curr_simcontext()->hierarchy_push(dev[static_cast<std::size_t>(side)].get());
    ingress.push_back(std::make_unique<IngressBlock>(
        ("ingress_" + sc_safe_name(n.name) + "_" + std::to_string(p)).c_str(), period_of(side), in,
        m.nodes[ni].hw.in[p].beats, bytes, inferences, signals.back().get(),
        next_engine_addr(bytes)));
    sc_core::sc_get_curr_simcontext()->hierarchy_pop();
    if (llm) {
      std::vector<std::int64_t> vbytes;
      for (const auto& gv : step_graphs)
        vbytes.push_back(gv.tensor_of(gv.nodes[ni].args[p]).bytes());
      ingress.back()->set_variants(llm->node_in_beats[ni][p], std::move(vbytes), llm->schedule);
    }
    if (host_side)
      ingress.back()->mem_socket.bind(dev[static_cast<std::size_t>(side)]->memory.socket);
    else
      ingress.back()->mem_socket.bind(engine_memory(e));
    register_engine_initiator(e, ingress.back().get());
    in->set_ends(in->producer(), ingress.back().get());
    j.inputs.push_back(signals.back().get());
  }
}

/// Egress: an engine node's output that a stream carries on.
void System::Impl::engine_egress(std::size_t e, const std::vector<EngineTask>& tasks,
                                 std::vector<Stream*>& node_out) {
  const EngineSpec& es = spec.engines[e];
  for (const auto& t : tasks) {
    const auto ni = static_cast<std::size_t>(t.node);
    if (!node_out[ni]) continue;
    const Tensor& out = g.nodes[ni].results[0];
    // A graph output read by the host from its own memory: no PCIe (as ingress).
    const bool host_side =
        es.memory_device >= 0 && dynamic_cast<SinkBlock*>(node_out[ni]->consumer()) != nullptr;
    const int side = host_side ? es.memory_device : es.device;
    sc_core::sc_get_curr_simcontext()->hierarchy_push(dev[static_cast<std::size_t>(side)].get());
    egress.push_back(std::make_unique<EgressBlock>(
        ("egress_" + sc_safe_name(g.nodes[ni].name)).c_str(), period_of(side), node_signal[ni],
        node_out[ni], m.nodes[ni].hw.out.beats, out.bytes(), inferences,
        next_engine_addr(out.bytes())));
    sc_core::sc_get_curr_simcontext()->hierarchy_pop();
    if (llm) {
      std::vector<std::int64_t> vbytes;
      for (const auto& gv : step_graphs) vbytes.push_back(gv.nodes[ni].results[0].bytes());
      egress.back()->set_variants(llm->node_out_beats[ni], std::move(vbytes), llm->schedule);
    }
    if (host_side)
      egress.back()->mem_socket.bind(dev[static_cast<std::size_t>(side)]->memory.socket);
    else
      egress.back()->mem_socket.bind(engine_memory(e));
    register_engine_initiator(e, egress.back().get());
    egress_of[ni] = egress.back().get();
    node_out[ni]->set_ends(egress.back().get(), node_out[ni]->consumer());
  }
}

/// Engine `e`'s GEMM core (the cycle model, or the Verilated RTL for --cosim <engine>) and
/// its jobs' never-stalled cycles.
void System::Impl::engine_core(std::size_t e, std::vector<EngineJob>& jobs, bool& vcd_taken) {
  const EngineSpec& es = spec.engines[e];
  const time_ps period = period_of(es.device);
  if (es.core.has_gemm() && cosim_match(es.name)) {
    RtlEngineOptions ro;
    ro.rows = es.core.gemm_rows;
    ro.cols = es.core.gemm_cols;
    ro.weight_stationary = es.core.weight_stationary;
    ro.node = es.name;
    ro.period_ps = period;
    if (!vcd_taken) ro.vcd_path = opts.vcd_path;
    vcd_taken = true;
    engine_gemms.push_back(make_rtl_engine(ro));
  } else {
    engine_gemms.push_back(std::make_unique<ShapeGemmEngine>(
        std::max<std::int64_t>(1, es.core.gemm_rows), std::max<std::int64_t>(1, es.core.gemm_cols),
        es.core.weight_stationary, es.core.dot_product));
  }
  ShapeGemmEngine model(std::max<std::int64_t>(1, es.core.gemm_rows),
                        std::max<std::int64_t>(1, es.core.gemm_cols), es.core.weight_stationary,
                        es.core.dot_product);
  auto ideal = [&](const engine::Lowering& low, const engine::TilePlan& plan, std::int64_t chunk,
                   std::int64_t fused_ops, time_ps cpu_ps) {
    if (es.core.cpu) return static_cast<std::int64_t>(cpu_ps / period);
    if (low.kind == engine::Lowering::Kind::Gemm)
      return engine::gemm_ideal_cycles(low.gemm, plan, fused_ops, es.core,
                                       [&](std::int64_t mm, std::int64_t kk, std::int64_t nn) {
                                         return model.run(mm, kk, nn, 0, nullptr, nullptr);
                                       });
    if (low.kind == engine::Lowering::Kind::Vector)
      return engine::vector_ideal_cycles(low.vec, chunk, es.core);
    return std::int64_t{0};
  };
  for (auto& j : jobs) {
    j.ideal_cycles = ideal(j.low, j.plan, j.chunk, j.fused_ops, j.cpu_ps);
    for (auto& v : j.variants)
      v.ideal_cycles = ideal(v.low, v.plan, v.chunk, j.fused_ops, v.cpu_ps);
  }
}

void System::Impl::build_engines(std::vector<std::vector<Stream*>>& node_in,
                                 std::vector<Stream*>& node_out, bool& vcd_taken) {
  const EngineAssignment& EA = m.engines;
  engine_step_graphs();
  make_engine_signals();
  for (std::size_t e = 0; e < EA.plans.size(); ++e) {
    const EngineSpec& es = spec.engines[e];
    auto& dm = *dev[static_cast<std::size_t>(es.device)];
    const time_ps period = period_of(es.device);
    std::vector<EngineJob> jobs;
    const auto& tasks = EA.plans[e].tasks;
    for (std::size_t k = 0; k < tasks.size(); ++k) {
      const EngineTask& t = tasks[k];
      const auto ni = static_cast<std::size_t>(t.node);
      if (t.fused_into >= 0) continue;
      const Node& n = g.nodes[ni];
      EngineJob j;
      j.name = n.name;
      j.low = t.low;
      j.plan = t.plan;
      j.chunk = t.chunk;
      j.fused_ops = t.fused_ops;
      j.macs = t.macs;
      j.cpu_ps = t.cpu_ps;
      j.nodes.push_back(t.node);
      for (const int f : t.fused) j.nodes.push_back(f);
      j.output = node_signal[ni];
      for (std::size_t v = 0; v < step_graphs.size(); ++v) {
        const EngineTask tv = engine_task_at(step_graphs[v], t, es, step_what(v));
        j.variants.push_back(JobShape{tv.low, tv.plan, tv.chunk, tv.macs, tv.cpu_ps, 0});
      }
      for (std::size_t s = 0; s < j.nodes.size(); ++s)
        job_of[static_cast<std::size_t>(j.nodes[s])] = {
            static_cast<int>(e), static_cast<int>(jobs.size()), static_cast<int>(s)};
      engine_job_inputs(e, t, j, node_in);
      jobs.push_back(std::move(j));
    }
    engine_egress(e, tasks, node_out);
    engine_core(e, jobs, vcd_taken);
    sc_core::sc_get_curr_simcontext()->hierarchy_push(&dm);
    engine_blocks.push_back(
        std::make_unique<EngineBlock>(("engine_" + sc_safe_name(es.name)).c_str(), es.core, period,
                                      std::move(jobs), inferences, engine_gemms.back().get()));
    sc_core::sc_get_curr_simcontext()->hierarchy_pop();
    if (llm) engine_blocks.back()->set_schedule(llm->schedule);
    engine_blocks.back()->mem_socket.bind(engine_memory(e));
    register_engine_initiator(e, engine_blocks.back()->load_id());
    register_engine_initiator(e, engine_blocks.back()->store_id());
  }
}

/// An adapter block re-tiling a stream from the producer's beats to the consumer's port.
Stream* System::Impl::adapt(Stream* leg, const PortTiling& tiling, const PortTiling& want,
                            const std::string& pname, const std::string& cname, int cdev, int ni,
                            int arg, std::int64_t leg_inferences,
                            const std::vector<std::int64_t>* var) {
  const std::size_t depth = spec.simulation.stream_depth;
  OpTiming t;
  t.engine = OpTiming::Engine::Streaming;
  t.in_beats = {tiling.beats};
  t.preload_beats = {0};
  t.out_beats = want.beats;
  Stream* adapted = new_stream(pname + "->" + cname + ".adapt", depth);
  adapters.push_back(std::make_unique<NodeBlock>(
      ("adapt_" + sc_safe_name(pname) + "_" + sc_safe_name(cname)).c_str(), t, period_of(cdev),
      std::vector<Stream*>{leg}, adapted, leg_inferences));
  if (var) {
    const auto& wv =
        llm->node_in_beats[static_cast<std::size_t>(ni)][static_cast<std::size_t>(arg)];
    std::vector<OpTiming> vt;
    std::vector<int> index;
    for (std::size_t v = 0; v < var->size(); ++v) {
      OpTiming tv = t;
      tv.in_beats = {(*var)[v]};
      tv.out_beats = wv[v];
      auto same = std::find(vt.begin(), vt.end(), tv);
      index.push_back(static_cast<int>(same - vt.begin()));
      if (same == vt.end()) vt.push_back(tv);
    }
    adapters.back()->set_variants(std::move(vt), std::move(index), llm->schedule);
  }
  leg->set_ends(leg->producer(), adapters.back().get());
  adapted->set_ends(adapters.back().get(), nullptr);
  adapters.back()->mem_socket.bind(dev[static_cast<std::size_t>(cdev)]->memory.socket);
  return adapted;
}

/// Wires a producer's output (a graph input or a node's port 0) to its consumers: one
/// stream per consumer (through a fork when several), bridges across devices, adapters
/// where the tilings differ, a sink per graph output and a drain for an unread output.
void System::Impl::wire_producer(const PortRef& ref, const PortTiling& tiling, int device,
                                 Stream** out_slot,
                                 const std::function<void(Stream*)>& make_producer,
                                 const std::vector<std::int64_t>* var, int producer_node,
                                 Wiring& w) {
  const std::size_t depth = spec.simulation.stream_depth;
  const std::int64_t fork_depth = spec.simulation.fork_depth;
  std::int64_t max_beats = tiling.beats;
  for (const auto b : beats_per_variant(var, tiling)) max_beats = std::max(max_beats, b);
  // Consumers that read the producer's output from the same device memory (shared
  // engines) get no stream; with no other consumer the producer has no stream at all.
  auto all_consumers = g.consumers_of(ref);
  std::vector<std::pair<int, int>> consumers;
  for (const auto& c : all_consumers)
    if (!memory_edge(producer_node, c.first)) consumers.push_back(c);
  if (consumers.empty() && !all_consumers.empty()) {
    *out_slot = nullptr;
    return;
  }
  const time_ps period = period_of(device);
  const std::string pname = ref.node;
  // mapping.replicate: a replica's inferences are its share; a stream from outside a
  // replicated stage into replica j carries only the inferences i % K == j (the fork
  // dispatches them round-robin), one from a replica carries all of the replica's.
  const std::int64_t p_inf =
      producer_node >= 0 ? node_inferences(static_cast<std::size_t>(producer_node)) : inferences;
  auto leg_phase = [&](int ni) -> std::pair<int, int> {
    if (is_replica(producer_node) || !is_replica(ni)) return {1, 0};
    const NodeMap& c = m.nodes[static_cast<std::size_t>(ni)];
    return {c.replica_ways, c.replica_index};
  };
  // Each consumer gets a stream carrying the producer's tiling; adapters convert.
  std::vector<Stream*> legs;
  std::vector<std::pair<int, int>> phases;
  for (const auto& [ni, arg] : consumers) {
    const std::string cname = ni < 0 ? "host" : g.nodes[static_cast<std::size_t>(ni)].name;
    const std::pair<int, int> phase = leg_phase(ni);
    const std::int64_t leg_inf = replica_inferences(p_inf, phase.first, phase.second);
    phases.push_back(phase);
    // A collect's inputs hold a whole tensor each (the replicas finish out of step).
    const std::size_t d =
        consumers.size() > 1
            ? static_cast<std::size_t>(fork_depth > 0 ? fork_depth
                                                      : std::max<std::int64_t>(max_beats, 1))
        : is_collect(ni) ? static_cast<std::size_t>(std::max<std::int64_t>(max_beats, 1))
                         : depth;
    // Between two SLRs of one device: registered crossings (slr_crossing_cycles), each
    // stage a two-entry register slice as PG373's SLR-crossing mode, so the crossing
    // adds its latency and two entries per stage and keeps the stream's rate.
    const std::int64_t x_cycles =
        ni >= 0 && producer_node >= 0 && m.nodes[static_cast<std::size_t>(ni)].device == device
            ? slr_crossing_cycles(devices[static_cast<std::size_t>(device)].type,
                                  m.nodes[static_cast<std::size_t>(producer_node)].slr,
                                  m.nodes[static_cast<std::size_t>(ni)].slr)
            : 0;
    Stream* leg =
        new_stream(pname + "->" + cname + (ni < 0 ? "" : ".data_in_" + std::to_string(arg)),
                   d + 2 * static_cast<std::size_t>(x_cycles));
    if (x_cycles > 0) leg->set_latency(static_cast<time_ps>(x_cycles) * period);
    legs.push_back(leg);
    if (ni < 0) {
      sinks.push_back(std::make_unique<SinkBlock>(("sink_" + sc_safe_name(pname)).c_str(), period,
                                                  leg, tiling.beats, leg_inf));
      if (var) sinks.back()->set_variants(beats_per_variant(var, tiling), llm->schedule);
      sink_output.push_back(arg);
      leg->set_ends(nullptr, sinks.back().get());
      continue;
    }
    const PortTiling& want =
        m.nodes[static_cast<std::size_t>(ni)].hw.in[static_cast<std::size_t>(arg)];
    const int cdev = m.nodes[static_cast<std::size_t>(ni)].device;
    leg = cross(leg, device, cdev, tiling, g.tensor_of(ref).precision,
                pname + "->" + cname + ".data_in_" + std::to_string(arg), leg_inf, var);

    if (want.elems_per_beat != tiling.elems_per_beat)
      leg = adapt(leg, tiling, want, pname, cname, cdev, ni, arg, leg_inf, var);
    w.in[static_cast<std::size_t>(ni)][static_cast<std::size_t>(arg)] = leg;
  }
  if (consumers.empty()) {  // an output nobody reads: drain it so the producer never blocks
    Stream* leg = new_stream(pname + "->drain", depth);
    sinks.push_back(std::make_unique<SinkBlock>(("drain_" + sc_safe_name(pname)).c_str(), period,
                                                leg, tiling.beats, p_inf));
    if (var) sinks.back()->set_variants(beats_per_variant(var, tiling), llm->schedule);
    sink_output.push_back(-1);
    leg->set_ends(nullptr, sinks.back().get());
    legs.push_back(leg);
    phases.emplace_back(1, 0);
  }
  Stream* head = legs[0];
  if (legs.size() > 1) {
    head = new_stream(pname + "->fork", depth);
    const std::int64_t total = var ? total_beats(var, tiling) : tiling.beats * p_inf;
    forks.push_back(std::make_unique<ForkBlock>(("fork_" + sc_safe_name(pname)).c_str(), period,
                                                head, legs, static_cast<std::uint64_t>(total)));
    if (std::any_of(phases.begin(), phases.end(), [](const auto& ph) { return ph.first > 1; }))
      forks.back()->set_dispatch(phases, tiling.beats);
    head->set_ends(nullptr, forks.back().get());
    for (Stream* l : legs) l->set_ends(forks.back().get(), l->consumer());
  }
  *out_slot = head;
  make_producer(head);
}

void System::Impl::build() {
  for (const auto& d : devices)
    dev.push_back(std::make_unique<DeviceModule>(sc_safe_name(d.name).c_str(), d.type));
  build_network();
  // Input streams of each node port, filled as producers are wired.
  Wiring w;
  w.in.resize(g.nodes.size());
  for (std::size_t i = 0; i < g.nodes.size(); ++i) w.in[i].assign(g.nodes[i].args.size(), nullptr);
  w.out.assign(g.nodes.size(), nullptr);
  wire_inputs(w);
  for (std::size_t i = 0; i < g.nodes.size(); ++i)
    wire_producer(
        PortRef{g.nodes[i].name, 0}, m.nodes[i].hw.out, m.nodes[i].device, &w.out[i],
        [](Stream*) {}, llm ? &llm->node_out_beats[i] : nullptr, static_cast<int>(i), w);
  nodes.resize(g.nodes.size());
  sys.resize(g.nodes.size());
  check_cosim_patterns();
  bool vcd_taken = false;
  build_spatial_blocks(w, vcd_taken);
  if (m.engines.any()) build_engines(w.in, w.out, vcd_taken);
  if (reuse.enabled()) build_layer_reuse();
  if (!opts.vcd_path.empty() && !vcd_taken)
    throw InputError("--vcd needs a co-simulated node (--cosim PATTERN)");
  collect_blocks();
  attach_trace();
  attach_functional();
  set_limits_and_completion();
}

/// A source block per graph input, fed by the host into the device of its first consumer;
/// in LLM mode each step's input waits for the step it depends on (the closed loop).
void System::Impl::wire_inputs(Wiring& w) {
  for (std::size_t i = 0; i < g.inputs.size(); ++i) {
    Stream* s = nullptr;
    // The host feeds each input over PCIe into the device of its first consumer.
    const auto consumers = g.consumers_of(PortRef{g.inputs[i].name, 0});
    const int home = consumers.empty() || consumers[0].first < 0
                         ? 0
                         : m.nodes[static_cast<std::size_t>(consumers[0].first)].device;
    wire_producer(
        PortRef{g.inputs[i].name, 0}, m.inputs[i], home, &s,
        [&](Stream* head) {
          sources.push_back(
              std::make_unique<SourceBlock>(("source_" + sc_safe_name(g.inputs[i].name)).c_str(),
                                            period_of(home), head, m.inputs[i].beats, inferences));
          source_input.push_back(i);
          head->set_ends(sources.back().get(), head->consumer());
          if (llm) {
            sources.back()->set_variants(beats_per_variant(&llm->input_beats[i], m.inputs[i]),
                                         llm->schedule);
            const auto turnaround = static_cast<time_ps>(llm->spec.turnaround_ns * 1e3);
            SourceBlock* src = sources.back().get();
            sources.back()->set_release([this, turnaround, src](std::int64_t k) -> time_ps {
              const std::int64_t dep = llm->depends_on[static_cast<std::size_t>(k)];
              if (dep < 0) return 0;
              while (completed[static_cast<std::size_t>(dep)] == kNever) {
                src->set_waiting_other(
                    "the closed loop: sequence " +
                    std::to_string(llm->sequence_of[static_cast<std::size_t>(k)]) +
                    "'s next step waits for inference " + std::to_string(dep) +
                    " to leave the system");
                sc_core::wait(completion_event);
              }
              src->set_waiting_other("");
              return completed[static_cast<std::size_t>(dep)] + turnaround;
            });
          }
        },
        llm ? &llm->input_beats[i] : nullptr, -1, w);
  }
}

/// Every --cosim pattern names a node on the systolic core or an engine with a GEMM core.
void System::Impl::check_cosim_patterns() const {
  for (const auto& p : opts.cosim) {
    bool any = false;
    for (const auto& es : spec.engines) {
      if (fnmatch(p.c_str(), es.name.c_str(), 0) != 0) continue;
      if (!es.core.has_gemm())
        throw InputError("--cosim " + p + ": engine '" + es.name + "' has no GEMM core");
      if (es.core.dot_product)
        throw InputError("--cosim " + p + ": engine '" + es.name +
                         "' is a dot-product matrix unit; the RTL is a systolic array");
      any = true;
    }
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
      if (fnmatch(p.c_str(), g.nodes[i].name.c_str(), 0) != 0) continue;
      any = true;
      if (on_engine(i))
        throw InputError("--cosim " + p + ": node '" + g.nodes[i].name +
                         "' runs on shared engine '" +
                         spec.engines[static_cast<std::size_t>(m.engines.engine_of[i])].name +
                         "': co-simulate the engine (--cosim " +
                         spec.engines[static_cast<std::size_t>(m.engines.engine_of[i])].name + ")");
      if (m.nodes[i].timing.engine != OpTiming::Engine::Systolic)
        throw InputError("--cosim " + p + ": node '" + g.nodes[i].name + "' (" + g.nodes[i].op +
                         ") does not run on the systolic core (set hw.impl: systolic)");
    }
    if (!any) throw InputError("--cosim " + p + ": matches no node or engine of the system");
  }
}

/// A block per spatial node (NodeBlock, or SystolicBlock on the cycle model or the RTL),
/// inside its device module; weights laid out one node after another in its memory.
void System::Impl::build_spatial_blocks(Wiring& w, bool& vcd_taken) {
  std::uint64_t addr = 0;
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    const auto& nm = m.nodes[i];
    auto& dm = *dev[static_cast<std::size_t>(nm.device)];
    const std::string bname = sc_safe_name(g.nodes[i].name);
    if (on_engine(i)) continue;  // build_engines
    // Create the block inside its device module so the hierarchy is device.node.
    sc_core::sc_get_curr_simcontext()->hierarchy_push(&dm);
    if (nm.timing.engine == OpTiming::Engine::Systolic) {
      if (llm)
        throw InputError("node '" + g.nodes[i].name +
                         "': hw.impl: systolic is not supported with workload.phase (the "
                         "systolic block has no per-step variants yet)");
      if (cosim_match(g.nodes[i].name)) {
        RtlEngineOptions ro;
        ro.rows = nm.hw.systolic_rows;
        ro.cols = nm.hw.systolic_cols;
        ro.weight_stationary = nm.hw.weight_stationary;
        ro.node = g.nodes[i].name;
        ro.period_ps = period_of(nm.device);
        if (!vcd_taken) ro.vcd_path = opts.vcd_path;
        vcd_taken = true;
        engines.push_back(make_rtl_engine(ro));
      } else {
        engines.push_back(std::make_unique<ModelGemmEngine>(nm.timing.cycles_per_gemm));
      }
      sys[i] =
          std::make_unique<SystolicBlock>(bname.c_str(), nm.timing, period_of(nm.device), w.in[i],
                                          w.out[i], node_inferences(i), engines.back().get());
      sys[i]->mem_socket.bind(dm.memory.socket);
    } else {
      nodes[i] = std::make_unique<NodeBlock>(bname.c_str(), nm.timing, period_of(nm.device),
                                             w.in[i], w.out[i], node_inferences(i), addr);
      nodes[i]->mem_socket.bind(dm.memory.socket);
      if (llm) nodes[i]->set_variants(llm->node_timing[i], llm->node_timing_of[i], llm->schedule);
      if (is_collect(static_cast<int>(i))) set_collect_ports(i);
      if (nodes[i]->uses_memory()) dm.memory.register_initiator(nodes[i].get());
    }
    sc_core::sc_get_curr_simcontext()->hierarchy_pop();
    addr += static_cast<std::uint64_t>(nm.timing.weight_bytes_per_inference);
    for (Stream* s : w.in[i]) s->set_ends(s->producer(), block_of(i));
    w.out[i]->set_ends(block_of(i), w.out[i]->consumer());
  }
}

/// A collect (mapping.replicate) reads inference i from data_in_(i mod K) only: K variants of
/// its timing, variant p with beats on port p alone, chosen per inference.
void System::Impl::set_collect_ports(std::size_t i) {
  const Node& n = g.nodes[i];
  const std::size_t K = n.args.size();
  for (std::size_t p = 0; p < K; ++p) {
    const auto it = g.node_index.find(n.args[p].node);
    if (it == g.node_index.end() || m.nodes[it->second].replica_ways != static_cast<int>(K) ||
        m.nodes[it->second].replica_index != static_cast<int>(p))
      throw std::logic_error("collect '" + n.name + "': data_in_" + std::to_string(p) +
                             " is not replica " + std::to_string(p));
  }
  std::vector<OpTiming> vt;
  std::vector<int> index;
  for (std::size_t p = 0; p < K; ++p) {
    OpTiming t = m.nodes[i].timing;
    for (std::size_t q = 0; q < K; ++q)
      if (q != p) t.in_beats[q] = t.preload_beats[q] = 0;
    vt.push_back(t);
    index.push_back(static_cast<int>(p));
  }
  auto sched = std::make_shared<Schedule>();
  for (std::int64_t k = 0; k < inferences; ++k)
    sched->variant.push_back(static_cast<int>(k % static_cast<std::int64_t>(K)));
  nodes[i]->set_variants(std::move(vt), std::move(index), std::move(sched));
}

/// The list of every block (for the deadlock report) and their per-phase counters.
void System::Impl::collect_blocks() {
  n_output_sinks = 0;
  for (const auto& s : sinks)
    if (std::string(s->basename()).rfind("sink_", 0) == 0) ++n_output_sinks;
  for (std::size_t i = 0; i < g.nodes.size(); ++i)
    if (block_of(i)) all_blocks.push_back(block_of(i));
  for (auto& b : engine_blocks) all_blocks.push_back(b.get());
  for (auto& b : ingress) all_blocks.push_back(b.get());
  for (auto& b : egress) all_blocks.push_back(b.get());
  if (reuse_fetch) all_blocks.push_back(reuse_fetch.get());
  for (auto& b : adapters) all_blocks.push_back(b.get());
  for (auto& b : forks) all_blocks.push_back(b.get());
  for (auto& b : sources) all_blocks.push_back(b.get());
  for (auto& b : sinks) all_blocks.push_back(b.get());
  for (auto& b : txs) all_blocks.push_back(b.get());
  for (auto& b : rxs) all_blocks.push_back(b.get());
  if (phases) {
    for (auto& b : nodes)
      if (b) b->set_phases(phases);
    for (auto& b : adapters) b->set_phases(phases);
    for (auto& b : engine_blocks) b->set_phases(phases);
    no_stats.act.set_phases(phases);  // fused engine nodes: zero counts, split like the rest
    for (auto& b : sources) b->set_phases(phases);
    for (auto& b : sinks) b->set_phases(phases);
  }
}

/// The simulated-time limit, the stream granularity, and what completes an inference
/// (progress callbacks; in LLM mode the release of the sequence's next step).
void System::Impl::set_limits_and_completion() {
  const auto limit = static_cast<time_ps>(spec.simulation.max_sim_time_ms * 1e9);
  block_time_limit() = limit;
  stream_granularity() =
      spec.simulation.burst && !functional ? Granularity::Burst : Granularity::Beat;
  for (auto& snk : sinks) snk->set_time_limit(limit);
  if (llm) {
    // Completion of an inference (all sinks) releases the next step of its sequence.
    const int n_sinks = static_cast<int>(sinks.size());
    auto cb = opts.on_inference;
    const std::int64_t total = inferences;
    for (auto& snk : sinks)
      snk->on_done([this, n_sinks, cb, total](std::int64_t i, time_ps t) {
        const auto k = static_cast<std::size_t>(i);
        partial_done[k] = std::max(partial_done[k], t);
        if (++sink_count[k] < n_sinks) return;
        completed[k] = partial_done[k];
        completion_event.notify(sc_core::SC_ZERO_TIME);
        if (cb) cb(i, total, t);
      });
  } else if (opts.on_inference) {
    // Progress: an inference is done when its last output (over all sinks) arrived.
    auto counts = std::make_shared<std::vector<int>>(static_cast<std::size_t>(inferences), 0);
    const int n_sinks = static_cast<int>(sinks.size());
    const std::int64_t total = inferences;
    auto cb = opts.on_inference;
    for (auto& snk : sinks)
      snk->on_done([counts, n_sinks, total, cb](std::int64_t i, time_ps t) {
        if (++(*counts)[static_cast<std::size_t>(i)] == n_sinks) cb(i, total, t);
      });
  }
}

}  // namespace masesim
