#include "sim/system/system.hpp"

#include <sys/stat.h>
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <functional>
#include <iomanip>
#include <map>
#include <set>
#include <sstream>

#include <fnmatch.h>

#include "interconnect/bridge.hpp"
#include "interconnect/pcie_link.hpp"
#include "interconnect/topology.hpp"
#include "models/engine_block.hpp"
#include "models/functional/check.hpp"
#include "models/functional/run.hpp"
#include "models/ops/registry.hpp"
#include "sim/mapping/layer_reuse.hpp"
#include "sim/llm/llm.hpp"
#include "sim/system/rtl_engine.hpp"
#include "workloads/error.hpp"
#include "workloads/yaml_util.hpp"

namespace masesim {

DeviceModule::DeviceModule(const sc_core::sc_module_name& name, const DeviceType& type)
    : sc_core::sc_module(name), memory("memory", type.memory), host("host"), type_(type) {
  host.bind(memory.socket);
}

namespace {
std::string sanitize(const std::string& s) {
  std::string r;
  for (char c : s) r += (std::isalnum(static_cast<unsigned char>(c)) || c == '_') ? c : '_';
  return r.empty() ? "_" : r;
}
}  // namespace

struct System::Impl {
  const Graph& g;
  const SystemSpec& spec;
  const std::vector<DeviceInstance>& devices;
  const Mapping& m;
  SimOptions opts;
  std::int64_t inferences;
  std::vector<std::unique_ptr<DeviceModule>> dev;
  std::vector<std::unique_ptr<Stream>> streams;
  std::vector<std::unique_ptr<NodeBlock>> nodes;    ///< indexed like graph nodes (null: systolic)
  std::vector<std::unique_ptr<SystolicBlock>> sys;  ///< indexed like graph nodes (null: dataflow)
  std::vector<std::unique_ptr<GemmEngine>> engines;
  std::vector<std::unique_ptr<NodeBlock>> adapters;
  std::vector<std::unique_ptr<ForkBlock>> forks;
  std::vector<std::unique_ptr<SourceBlock>> sources;
  std::vector<std::unique_ptr<SinkBlock>> sinks;  ///< graph outputs first, then drains
  std::size_t n_output_sinks = 0;
  std::vector<Block*> all_blocks;
  // Network (multi-device systems).
  interconnect::Topology topo;
  interconnect::FramingConfig framing;
  interconnect::LinkTiming link_timing;
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::unique_ptr<Qsfp28Link>> links;
  std::vector<std::unique_ptr<TxBridge>> txs;
  std::vector<std::pair<int, std::string>>
      tx_from;  ///< per TX bridge: device, "producer->consumer"
  std::vector<std::unique_ptr<RxBridge>> rxs;
  std::unique_ptr<TraceRecorder> rec;
  // Shared engines (sim/mapping/engines.hpp): per engine its block; per engine node the tensor its
  // output is in memory as; ingress/egress blocks between streams and memory.
  std::vector<std::unique_ptr<TensorSignal>> signals;
  std::vector<TensorSignal*> node_signal;  ///< per graph node (engine nodes), else null
  std::vector<std::unique_ptr<EngineBlock>> engine_blocks;  ///< per engine
  std::vector<std::unique_ptr<GemmEngine>> engine_gemms;
  std::vector<std::unique_ptr<IngressBlock>> ingress;
  std::vector<std::unique_ptr<EgressBlock>> egress;
  std::vector<EgressBlock*> egress_of;  ///< per graph node: its output's egress block, or null
  // Layer reuse (sim/mapping/layer_reuse.hpp): the plan, the region's parameter fetch and what the
  // layer starts waited for.
  LayerReusePlan reuse;
  std::int64_t reuse_weight_bytes = 0;  ///< parameters of one layer's blocks
  std::unique_ptr<TensorSignal> reuse_weights;
  std::unique_ptr<LayerFetchBlock> reuse_fetch;
  struct ReuseCounters {
    std::uint64_t layer_starts = 0;
    time_ps exposed_fetch_ps = 0;  ///< layer starts waiting for their parameters
    time_ps region_wait_ps = 0;    ///< layer inputs in memory, the previous layer not done
    std::vector<time_ps> exposed_fetch_phase_ps;  ///< LLM mode: per phase (phases->names)
  } reuse_k;
  /// Per graph node on an engine: (engine, job, stage in the job's fused chain).
  std::vector<std::array<int, 3>> job_of;
  BlockStats no_stats;  ///< a fused engine node's (its GEMM's job counts its work)
  bool on_engine(std::size_t i) const { return m.engines.any() && m.engines.engine_of[i] >= 0; }
  /// PCIe links from a card to a host's memory (engines with system.engines[].memory).
  std::map<std::pair<int, int>, std::unique_ptr<PcieLink>> pcie;  ///< (card, host) -> link
  /// The device whose memory holds engine node `i`'s tensors.
  int memory_of(std::size_t i) const {
    const EngineSpec& es = spec.engines[static_cast<std::size_t>(m.engines.engine_of[i])];
    return es.memory_device >= 0 ? es.memory_device : es.device;
  }
  /// Consumer `c` reads producer node `p`'s output from the same memory (both on engines
  /// whose tensors live in one device's memory): no stream between them.
  bool memory_edge(int p, int c) const {
    return p >= 0 && c >= 0 && on_engine(static_cast<std::size_t>(p)) &&
           on_engine(static_cast<std::size_t>(c)) &&
           memory_of(static_cast<std::size_t>(p)) == memory_of(static_cast<std::size_t>(c));
  }
  /// Where engine `e`'s DMA (and its ingress/egress blocks) send their requests: its
  /// device's memory, or the PCIe link to the host's.
  tlm::tlm_base_target_socket_b<32, tlm::tlm_fw_transport_if<>, tlm::tlm_bw_transport_if<>>&
  engine_memory(std::size_t e) {
    const EngineSpec& es = spec.engines[e];
    if (es.memory_device < 0) return dev[static_cast<std::size_t>(es.device)]->memory.socket;
    auto& link = pcie[{es.device, es.memory_device}];
    if (!link) {
      const auto& host = devices[static_cast<std::size_t>(es.memory_device)];
      const auto& card = devices[static_cast<std::size_t>(es.device)];
      link = std::make_unique<PcieLink>(
          ("pcie_" + sanitize(card.name) + "_" + sanitize(host.name)).c_str(), host.type.pcie,
          host.name, card.name);
      link->host_memory.bind(dev[static_cast<std::size_t>(es.memory_device)]->memory.socket);
    }
    return link->socket;
  }
  /// Registers an initiator with the memory that serves engine `e`'s requests.
  void register_engine_initiator(std::size_t e, const void* who) {
    const EngineSpec& es = spec.engines[e];
    dev[static_cast<std::size_t>(es.memory_device >= 0 ? es.memory_device : es.device)]
        ->memory.register_initiator(who);
  }
  const EngineJob* job_ptr(std::size_t i) const {
    if (!on_engine(i) || job_of.empty() || job_of[i][0] < 0) return nullptr;
    return &engine_blocks[static_cast<std::size_t>(job_of[i][0])]
                ->jobs()[static_cast<std::size_t>(job_of[i][1])];
  }
  // Functional mode.
  bool functional = false;
  std::string data_dir;
  fn::Rounding rounding = fn::Rounding::HalfEven;
  std::map<std::string, TensorData> params;

  void attach_functional() {
    functional = spec.simulation.functional;
    if (!functional) return;
    rounding = spec.simulation.truncate ? fn::Rounding::Truncate : fn::Rounding::HalfEven;
    const std::string& given = spec.simulation.data_dir;
    data_dir = given.empty() ? default_data_dir(g.file) : given;
    params = fn::load_params(g, data_dir, rounding);
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
      FunctionalNode f{&g, &g.nodes[i], &params, rounding};
      if (nodes[i])
        nodes[i]->set_functional(f);
      else if (sys[i])
        sys[i]->set_functional(f);
    }
    for (auto& eb : engine_blocks) {
      eb->set_functional();
      for (auto& j : eb->jobs()) {
        j.fn.clear();
        for (const int n : j.nodes)
          j.fn.push_back(
              FunctionalNode{&g, &g.nodes[static_cast<std::size_t>(n)], &params, rounding});
      }
    }
    for (auto& a : adapters) a->set_functional(FunctionalNode{});
    for (std::size_t k = 0; k < sources.size(); ++k) {
      std::vector<BeatValue> v;
      for (std::int64_t inf = 0; inf < inferences; ++inf)
        v.push_back(std::make_shared<const TensorData>(
            fn::load_input(g, data_dir, g.inputs[source_input[k]].name, inf, rounding)));
      sources[k]->set_values(std::move(v));
    }
  }
  std::vector<std::size_t> source_input;  ///< graph input of each source
  std::vector<int> sink_output;           ///< graph output of each sink (-1: a drain)

  void attach_trace() {
    if (!opts.trace && !opts.on_progress) return;
    rec = std::make_unique<TraceRecorder>(
        static_cast<time_ps>(opts.trace_begin_us * 1e6),
        opts.trace_end_us >= 1e17 ? kNever : static_cast<time_ps>(opts.trace_end_us * 1e6),
        opts.trace_max_events);
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
      const int d = m.nodes[i].device;
      const int tr = rec->track(devices[static_cast<std::size_t>(d)].name, g.nodes[i].name);
      if (on_engine(i)) {  // the engine records the node's slices on its node track
        if (job_of[i][0] >= 0 && job_of[i][2] == 0)
          engine_blocks[static_cast<std::size_t>(job_of[i][0])]
              ->jobs()[static_cast<std::size_t>(job_of[i][1])]
              .track = tr;
        continue;
      }
      block_of(i)->set_trace(rec.get(), tr);
      // Weight waits one tile's compute apart are one stall on the weight stream.
      time_ps tile_ps = 0;
      auto widest = [&](const OpTiming& t) {
        tile_ps = std::max(tile_ps, static_cast<time_ps>(t.weight_tile_cycles_per_row *
                                                         std::max<std::int64_t>(1, t.block_rows)) *
                                        period_of(d));
      };
      widest(m.nodes[i].timing);
      if (llm)
        for (const auto& t : llm->node_timing[i]) widest(t);
      rec->merge(tr, "wait weights", tile_ps);
    }
    for (std::size_t e = 0; e < engine_blocks.size(); ++e) {
      const std::string dev_name = devices[static_cast<std::size_t>(spec.engines[e].device)].name;
      const std::string en = "engine " + spec.engines[e].name;
      engine_blocks[e]->set_unit_tracks(rec.get(), rec->track(dev_name, en + " compute"),
                                        rec->track(dev_name, en + " load"),
                                        rec->track(dev_name, en + " store"));
    }
    for (auto& b : ingress) b->set_trace(rec.get(), rec->track("dma", b->basename()));
    for (auto& b : egress) b->set_trace(rec.get(), rec->track("dma", b->basename()));
    for (auto& b : sources) b->set_trace(rec.get(), rec->track("host", b->basename()));
    for (auto& b : sinks) b->set_trace(rec.get(), rec->track("host", b->basename()));
    for (auto& [key, l] : links) {
      const std::string name = l->from() + "->" + l->to();
      const int tr = rec->track("links", name);
      l->set_trace(rec.get(), tr);
      rec->merge(tr, "frame", 0);  // back-to-back frames: one busy period
      rec->count_busy(tr, rec->counter("links", name + " utilisation %", 100.0));
    }
    attach_progress();
    if (!opts.trace) return rec->set_recording(false);
    for (std::size_t d = 0; d < dev.size(); ++d)
      dev[d]->memory.set_trace(rec.get(),
                               rec->counter(devices[d].name, "off-chip memory GB/s", 1000.0));
    // Occupancy of the deep buffers (fork legs, link receive buffers, any stream deeper
    // than two entries), on the device of the block that drains them; at most
    // kOccupancyCounters of them (in build order), so that the link and memory counters
    // keep their resolution.
    constexpr std::size_t kOccupancyCounters = 256;
    std::size_t occupancy = 0;
    for (auto& s : streams) {
      if (s->depth() <= 2 || occupancy == kOccupancyCounters) continue;
      std::string group = "host";
      const sc_core::sc_object* parent =
          s->consumer() ? s->consumer()->get_parent_object() : nullptr;
      for (std::size_t d = 0; d < dev.size(); ++d)
        if (parent == dev[d].get()) group = devices[d].name;
      s->set_trace(
          rec.get(),
          rec->counter(group, s->name() + " occupancy (depth " + std::to_string(s->depth()) + ")",
                       1.0));
      ++occupancy;
    }
  }
  // Progress: node-inferences finished, weighted by their ideal time (the node tracks are
  // the first g.nodes.size() tracks of the recorder).
  void attach_progress() {
    if (!opts.on_progress) return;
    auto work = std::make_shared<std::vector<std::vector<double>>>(g.nodes.size());
    double total = 0;
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
      const double per = static_cast<double>(period_of(m.nodes[i].device));
      auto& w = (*work)[i];
      for (std::int64_t inf = 0; inf < inferences; ++inf) {
        const OpTiming& t =
            llm ? llm->node_timing[i][static_cast<std::size_t>(
                      llm->node_timing_of[i][static_cast<std::size_t>(llm->schedule->of(inf))])]
                : m.nodes[i].timing;
        w.push_back(per * static_cast<double>(std::max<std::int64_t>(1, t.ideal_cycles())));
        total += w.back();
      }
    }
    auto gemms = std::make_shared<std::vector<std::int64_t>>(g.nodes.size(), 0);
    auto done = std::make_shared<double>(0);
    const std::size_t n_nodes = g.nodes.size();
    auto cb = opts.on_progress;
    rec->observe([=](int tr, const char* name, time_ps end, std::int64_t arg) {
      const auto i = static_cast<std::size_t>(tr);
      if (i >= n_nodes) return;
      std::int64_t inf = -1;
      if (std::strcmp(name, "inference") == 0)
        inf = arg;
      else if (std::strcmp(name, "gemm") == 0)
        inf = (*gemms)[i]++;
      if (inf < 0 || inf >= static_cast<std::int64_t>((*work)[i].size())) return;
      *done += (*work)[i][static_cast<std::size_t>(inf)];
      cb(*done, total, end);
    });
  }
  void finish_trace() {
    if (!rec) return;
    time_ps end = 0;
    for (const auto& s : sinks)
      if (!s->last_out().empty()) end = std::max(end, s->last_out().back());
    rec->finish(end);
  }

  Impl(const Graph& g_, const Mapping& m_, const SystemSpec& s_, const SimOptions& o)
      : g(g_),
        spec(s_),
        devices(s_.devices),
        m(m_),
        opts(o),
        inferences(o.llm ? o.llm->inferences : s_.workload.inferences),
        reuse(layer_reuse_plan(g_, s_)) {
    if (o.llm) {
      llm = o.llm;
      completed.assign(static_cast<std::size_t>(inferences), kNever);
      sink_count.assign(static_cast<std::size_t>(inferences), 0);
      partial_done.assign(static_cast<std::size_t>(inferences), 0);
      phases = llm_phases(*llm);
    }
  }
  /// LLM mode: the phase (prefill, decode) of every inference, for the blocks' counters.
  PhaseMapPtr phases;
  static PhaseMapPtr llm_phases(const LlmPlan& P) {
    auto pm = std::make_shared<PhaseMap>();
    auto index = [&](const std::string& name) {
      for (std::size_t k = 0; k < pm->names.size(); ++k)
        if (pm->names[k] == name) return static_cast<int>(k);
      pm->names.push_back(name);
      return static_cast<int>(pm->names.size() - 1);
    };
    for (const std::int64_t step : P.step_of)
      pm->of.push_back(index(P.spec.phase != "decode" && step == 0 ? "prefill" : "decode"));
    return pm;
  }
  // LLM mode: completion of each inference (its last output over all sinks) releases the
  // same sequence's next step.
  const LlmPlan* llm = nullptr;
  std::vector<time_ps> completed;
  std::vector<int> sink_count;
  std::vector<time_ps> partial_done;
  sc_core::sc_event completion_event;

  void llm_report(StatsTree& root) const;

  /// Beats of one inference in every variant (LLM) or the tiling's own.
  std::vector<std::int64_t> beats_per_variant(const std::vector<std::int64_t>* v,
                                              const PortTiling& t) const {
    return v ? *v : std::vector<std::int64_t>{t.beats};
  }
  std::int64_t total_beats(const std::vector<std::int64_t>* v, const PortTiling& t) const {
    if (!v) return t.beats * inferences;
    std::int64_t sum = 0;
    for (std::int64_t i = 0; i < inferences; ++i)
      sum += (*v)[static_cast<std::size_t>(llm->schedule->of(i))];
    return sum;
  }

  /// The block of a spatial node (null for a node on a shared engine).
  Block* block_of(std::size_t i) const {
    return nodes[i] ? static_cast<Block*>(nodes[i].get()) : sys[i].get();
  }
  const BlockStats& stats_of(std::size_t i) const {
    if (on_engine(i)) {
      const EngineJob* j = job_ptr(i);
      return j && job_of[i][2] == 0 ? j->stats : no_stats;
    }
    return nodes[i] ? nodes[i]->stats() : sys[i]->stats();
  }
  template <typename Tree>
  void write_block_stats(std::size_t i, Tree& t) const {
    if (on_engine(i))
      stats_of(i).act.write(t, period_of(m.nodes[i].device));
    else if (nodes[i])
      nodes[i]->write_stats(t);
    else
      sys[i]->write_stats(t);
  }
  /// The cost model's figures of node i over the run (each inference at its own
  /// variant's timing, never stalled): per phase, then the whole run.
  struct Analytic {
    std::int64_t busy_cycles = 0, macs = 0;
  };
  std::vector<Analytic> analytic_of(std::size_t i) const {
    const std::size_t np = phases ? phases->names.size() : 0;
    std::vector<Analytic> a(np + 1);
    if (on_engine(i)) {  // the job's tiles if never stalled (fused nodes: in their GEMM)
      const EngineJob* j = job_ptr(i);
      if (j && job_of[i][2] == 0) {
        a[np].busy_cycles = j->ideal_cycles * inferences;
        a[np].macs = j->macs * inferences;
      }
      return a;
    }
    for (std::int64_t inf = 0; inf < inferences; ++inf) {
      const OpTiming& t = nodes[i] ? nodes[i]->timing_of(inf) : m.nodes[i].timing;
      a[np].busy_cycles += t.ideal_cycles();
      a[np].macs += t.macs;
      if (!phases) continue;
      Analytic& ph = a[static_cast<std::size_t>(phases->of[static_cast<std::size_t>(inf)])];
      ph.busy_cycles += t.ideal_cycles();
      ph.macs += t.macs;
    }
    return a;
  }

  bool cosim_match(const std::string& name) const {
    for (const auto& p : opts.cosim)
      if (fnmatch(p.c_str(), name.c_str(), 0) == 0) return true;
    return false;
  }

  time_ps period_of(int d) const {
    return period_ps_for_mhz(devices[static_cast<std::size_t>(d)].type.clock_mhz);
  }

  Stream* new_stream(const std::string& name, std::size_t depth) {
    streams.push_back(std::make_unique<Stream>(name, depth));
    return streams.back().get();
  }

  void build_network() {
    if (devices.size() < 2) return;
    topo = build_topology(spec);
    framing = spec.link.framing;
    link_timing = spec.link.timing;
  }

  /// The link of a channel, made when a route first uses it (an unbound TLM socket is
  /// an elaboration error, so unused channels get no module).
  Qsfp28Link* link(const interconnect::Hop& h) {
    auto& l = links[{h.from, h.to}];
    if (!l) {
      const std::string a = topo.name(h.from), b = topo.name(h.to);
      l = std::make_unique<Qsfp28Link>(("link_" + sanitize(a) + "_to_" + sanitize(b)).c_str(),
                                       framing, link_timing, a, b);
    }
    return l.get();
  }

  /// Carries a producer-side stream to device `cdev` (TX bridge, links, RX bridge);
  /// returns the stream on the consumer's side (the same stream when on one device).
  Stream* cross(Stream* leg, int pdev, int cdev, const PortTiling& tiling, const Precision& prec,
                const std::string& what, const std::vector<std::int64_t>* var = nullptr) {
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
    shape.inferences = inferences;
    shape.framing = framing;
    if (var) {
      shape.variant_beats = beats_per_variant(var, tiling);
      shape.schedule = llm->schedule;
    }
    const std::uint64_t max_payload = std::max<std::uint64_t>(1, FramePlan(shape).max_payload);
    const std::uint64_t buffer = spec.link.rx_buffer_bytes;
    Stream* frames =
        new_stream(what + ".frames",
                   static_cast<std::size_t>(std::max<std::uint64_t>(1, buffer / max_payload)));
    frames->set_credit_delay(route.back()->fixed_latency_ps());
    Stream* out = new_stream(what + ".rx", spec.simulation.stream_depth);
    const std::string base = sanitize(what);
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

  /// Layer reuse (sim/mapping/layer_reuse.hpp): pair q = inference x layers + layer; done(q) is when
  /// pair q's outputs are in memory (the layer_io nodes that carry its layer's output), the
  /// parameter fetch fills a buffer once the pair that last used it is done, and the read of
  /// each layer's inputs waits until the previous pair is done and the layer's parameters
  /// are in.
  void build_layer_reuse() {
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

  /// The shared engines: one EngineBlock per engine with a job per node (a GEMM with the
  /// vector nodes fused into it is one job), ingress blocks where a stream enters an engine
  /// node, egress blocks where an engine node's output leaves as a stream.
  void build_engines(std::vector<std::vector<Stream*>>& node_in, std::vector<Stream*>& node_out,
                     bool& vcd_taken) {
    const EngineAssignment& EA = m.engines;
    // LLM mode: the graph at each step's dims, for every job's per-step shapes.
    std::vector<Graph> step_graphs;
    if (llm)
      for (std::size_t v = 0; v < llm->variant_seq.size(); ++v)
        step_graphs.push_back(
            rebind_dims(g, {{"seq", llm->variant_seq[v]}, {"ctx", llm->variant_ctx[v]}}));
    auto step_what = [&](std::size_t v) {
      return spec.file + ": step " + std::to_string(v) + " (seq " +
             std::to_string(llm->variant_seq[v]) + ", ctx " + std::to_string(llm->variant_ctx[v]) +
             "): ";
    };
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
    // Activations in memory: after the weights (addresses only spread the channels).
    std::uint64_t act_addr = std::uint64_t{1} << 36;
    auto next_addr = [&](std::int64_t bytes) {
      const std::uint64_t a = act_addr;
      act_addr += (static_cast<std::uint64_t>(bytes) + 4095) / 4096 * 4096;
      return a;
    };
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
        for (std::size_t p = 0; p < n.args.size(); ++p) {
          const auto it = g.node_index.find(n.args[p].node);
          const int pi = it == g.node_index.end() ? -1 : static_cast<int>(it->second);
          if (memory_edge(pi, t.node)) {
            j.inputs.push_back(node_signal[static_cast<std::size_t>(pi)]);
            continue;
          }
          Stream* in = node_in[ni][p];
          if (!in) throw std::logic_error("engine node without its input stream: " + n.name);
          signals.push_back(
              std::make_unique<TensorSignal>(n.name + ".data_in_" + std::to_string(p)));
          const std::int64_t bytes = g.tensor_of(n.args[p]).bytes();
          // A graph input of an engine whose tensors are in a host's memory is written there
          // by the host itself (no PCIe); any other stream enters through the engine's path.
          const bool host_side = pi < 0 && es.memory_device >= 0;
          const int side = host_side ? es.memory_device : es.device;
          sc_core::sc_get_curr_simcontext()->hierarchy_push(
              dev[static_cast<std::size_t>(side)].get());
          ingress.push_back(std::make_unique<IngressBlock>(
              ("ingress_" + sanitize(n.name) + "_" + std::to_string(p)).c_str(), period_of(side),
              in, m.nodes[ni].hw.in[p].beats, bytes, inferences, signals.back().get(),
              next_addr(bytes)));
          sc_core::sc_get_curr_simcontext()->hierarchy_pop();
          if (llm) {
            std::vector<std::int64_t> vbytes;
            for (const auto& gv : step_graphs)
              vbytes.push_back(gv.tensor_of(gv.nodes[ni].args[p]).bytes());
            ingress.back()->set_variants(llm->node_in_beats[ni][p], std::move(vbytes),
                                         llm->schedule);
          }
          if (host_side)
            ingress.back()->mem_socket.bind(dev[static_cast<std::size_t>(side)]->memory.socket);
          else
            ingress.back()->mem_socket.bind(engine_memory(e));
          register_engine_initiator(e, ingress.back().get());
          in->set_ends(in->producer(), ingress.back().get());
          j.inputs.push_back(signals.back().get());
        }
        jobs.push_back(std::move(j));
      }
      // Egress: an engine node's output that a stream carries on.
      for (const auto& t : tasks) {
        const auto ni = static_cast<std::size_t>(t.node);
        if (!node_out[ni]) continue;
        const Tensor& out = g.nodes[ni].results[0];
        // A graph output read by the host from its own memory: no PCIe (as ingress).
        const bool host_side =
            es.memory_device >= 0 && dynamic_cast<SinkBlock*>(node_out[ni]->consumer()) != nullptr;
        const int side = host_side ? es.memory_device : es.device;
        sc_core::sc_get_curr_simcontext()->hierarchy_push(
            dev[static_cast<std::size_t>(side)].get());
        egress.push_back(std::make_unique<EgressBlock>(
            ("egress_" + sanitize(g.nodes[ni].name)).c_str(), period_of(side), node_signal[ni],
            node_out[ni], m.nodes[ni].hw.out.beats, out.bytes(), inferences,
            next_addr(out.bytes())));
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
      // The GEMM core: the cycle model, or the Verilated RTL for --cosim <engine>.
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
        engine_gemms.push_back(
            std::make_unique<ShapeGemmEngine>(std::max<std::int64_t>(1, es.core.gemm_rows),
                                              std::max<std::int64_t>(1, es.core.gemm_cols),
                                              es.core.weight_stationary, es.core.dot_product));
      }
      ShapeGemmEngine model(std::max<std::int64_t>(1, es.core.gemm_rows),
                            std::max<std::int64_t>(1, es.core.gemm_cols), es.core.weight_stationary,
                            es.core.dot_product);
      auto ideal = [&](const engine::Lowering& low, const engine::TilePlan& plan,
                       std::int64_t chunk, std::int64_t fused_ops, time_ps cpu_ps) {
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
      sc_core::sc_get_curr_simcontext()->hierarchy_push(&dm);
      engine_blocks.push_back(std::make_unique<EngineBlock>(("engine_" + sanitize(es.name)).c_str(),
                                                            es.core, period, std::move(jobs),
                                                            inferences, engine_gemms.back().get()));
      sc_core::sc_get_curr_simcontext()->hierarchy_pop();
      if (llm) engine_blocks.back()->set_schedule(llm->schedule);
      engine_blocks.back()->mem_socket.bind(engine_memory(e));
      register_engine_initiator(e, engine_blocks.back()->load_id());
      register_engine_initiator(e, engine_blocks.back()->store_id());
    }
  }

  void build() {
    for (const auto& d : devices)
      dev.push_back(std::make_unique<DeviceModule>(sanitize(d.name).c_str(), d.type));
    build_network();
    const std::size_t depth = spec.simulation.stream_depth;
    const std::int64_t fork_depth = spec.simulation.fork_depth;

    // Input streams of each node port, filled as producers are wired.
    std::vector<std::vector<Stream*>> node_in(g.nodes.size());
    for (std::size_t i = 0; i < g.nodes.size(); ++i)
      node_in[i].assign(g.nodes[i].args.size(), nullptr);
    std::vector<Stream*> node_out(g.nodes.size(), nullptr);
    std::vector<std::function<void()>> make_later;

    auto wire_producer = [&](const PortRef& ref, const PortTiling& tiling, int device,
                             Stream** out_slot, const std::function<void(Stream*)>& make_producer,
                             const std::vector<std::int64_t>* var, int producer_node) {
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
      // Each consumer gets a stream carrying the producer's tiling; adapters convert.
      std::vector<Stream*> legs;
      for (const auto& [ni, arg] : consumers) {
        const std::string cname = ni < 0 ? "host" : g.nodes[static_cast<std::size_t>(ni)].name;
        const std::size_t d =
            consumers.size() > 1
                ? static_cast<std::size_t>(fork_depth > 0 ? fork_depth
                                                          : std::max<std::int64_t>(max_beats, 1))
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
          sinks.push_back(std::make_unique<SinkBlock>(("sink_" + sanitize(pname)).c_str(), period,
                                                      leg, tiling.beats, inferences));
          if (var) sinks.back()->set_variants(beats_per_variant(var, tiling), llm->schedule);
          sink_output.push_back(arg);
          leg->set_ends(nullptr, sinks.back().get());
          continue;
        }
        const PortTiling& want =
            m.nodes[static_cast<std::size_t>(ni)].hw.in[static_cast<std::size_t>(arg)];
        const int cdev = m.nodes[static_cast<std::size_t>(ni)].device;
        leg = cross(leg, device, cdev, tiling, g.tensor_of(ref).precision,
                    pname + "->" + cname + ".data_in_" + std::to_string(arg), var);

        if (want.elems_per_beat != tiling.elems_per_beat) {
          OpTiming t;
          t.engine = OpTiming::Engine::Streaming;
          t.in_beats = {tiling.beats};
          t.preload_beats = {0};
          t.out_beats = want.beats;
          Stream* adapted = new_stream(pname + "->" + cname + ".adapt", depth);
          adapters.push_back(std::make_unique<NodeBlock>(
              ("adapt_" + sanitize(pname) + "_" + sanitize(cname)).c_str(), t, period_of(cdev),
              std::vector<Stream*>{leg}, adapted, inferences));
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
          leg = adapted;
        }
        node_in[static_cast<std::size_t>(ni)][static_cast<std::size_t>(arg)] = leg;
      }
      if (consumers.empty()) {  // an output nobody reads: drain it so the producer never blocks
        Stream* leg = new_stream(pname + "->drain", depth);
        sinks.push_back(std::make_unique<SinkBlock>(("drain_" + sanitize(pname)).c_str(), period,
                                                    leg, tiling.beats, inferences));
        if (var) sinks.back()->set_variants(beats_per_variant(var, tiling), llm->schedule);
        sink_output.push_back(-1);
        leg->set_ends(nullptr, sinks.back().get());
        legs.push_back(leg);
      }
      Stream* head = legs[0];
      if (legs.size() > 1) {
        head = new_stream(pname + "->fork", depth);
        forks.push_back(
            std::make_unique<ForkBlock>(("fork_" + sanitize(pname)).c_str(), period, head, legs,
                                        static_cast<std::uint64_t>(total_beats(var, tiling))));
        head->set_ends(nullptr, forks.back().get());
        for (Stream* l : legs) l->set_ends(forks.back().get(), l->consumer());
      }
      *out_slot = head;
      make_producer(head);
    };

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
            sources.push_back(std::make_unique<SourceBlock>(
                ("source_" + sanitize(g.inputs[i].name)).c_str(), period_of(home), head,
                m.inputs[i].beats, inferences));
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
          llm ? &llm->input_beats[i] : nullptr, -1);
    }
    for (std::size_t i = 0; i < g.nodes.size(); ++i)
      wire_producer(
          PortRef{g.nodes[i].name, 0}, m.nodes[i].hw.out, m.nodes[i].device, &node_out[i],
          [](Stream*) {}, llm ? &llm->node_out_beats[i] : nullptr, static_cast<int>(i));
    nodes.resize(g.nodes.size());
    sys.resize(g.nodes.size());
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
          throw InputError(
              "--cosim " + p + ": node '" + g.nodes[i].name + "' runs on shared engine '" +
              spec.engines[static_cast<std::size_t>(m.engines.engine_of[i])].name +
              "': co-simulate the engine (--cosim " +
              spec.engines[static_cast<std::size_t>(m.engines.engine_of[i])].name + ")");
        if (m.nodes[i].timing.engine != OpTiming::Engine::Systolic)
          throw InputError("--cosim " + p + ": node '" + g.nodes[i].name + "' (" + g.nodes[i].op +
                           ") does not run on the systolic core (set hw.impl: systolic)");
      }
      if (!any) throw InputError("--cosim " + p + ": matches no node or engine of the system");
    }
    std::uint64_t addr = 0;
    bool vcd_taken = false;
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
      const auto& nm = m.nodes[i];
      auto& dm = *dev[static_cast<std::size_t>(nm.device)];
      const std::string bname = sanitize(g.nodes[i].name);
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
        sys[i] = std::make_unique<SystolicBlock>(bname.c_str(), nm.timing, period_of(nm.device),
                                                 node_in[i], node_out[i], inferences,
                                                 engines.back().get());
        sys[i]->mem_socket.bind(dm.memory.socket);
      } else {
        nodes[i] = std::make_unique<NodeBlock>(bname.c_str(), nm.timing, period_of(nm.device),
                                               node_in[i], node_out[i], inferences, addr);
        nodes[i]->mem_socket.bind(dm.memory.socket);
        if (llm) nodes[i]->set_variants(llm->node_timing[i], llm->node_timing_of[i], llm->schedule);
        if (nodes[i]->uses_memory()) dm.memory.register_initiator(nodes[i].get());
      }
      sc_core::sc_get_curr_simcontext()->hierarchy_pop();
      addr += static_cast<std::uint64_t>(nm.timing.weight_bytes_per_inference);
      for (Stream* s : node_in[i]) s->set_ends(s->producer(), block_of(i));
      node_out[i]->set_ends(block_of(i), node_out[i]->consumer());
    }
    if (m.engines.any()) build_engines(node_in, node_out, vcd_taken);
    if (reuse.enabled()) build_layer_reuse();
    if (!opts.vcd_path.empty() && !vcd_taken)
      throw InputError("--vcd needs a co-simulated node (--cosim PATTERN)");
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
    attach_trace();
    attach_functional();
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
};

System::System(const Graph& g, const Mapping& m, const SystemSpec& spec, const SimOptions& opts)
    : impl_(std::make_unique<Impl>(g, m, spec, opts)) {
  impl_->build();
}

System::~System() = default;

const TraceRecorder* System::trace() const {
  return impl_->opts.trace ? impl_->rec.get() : nullptr;
}

void System::write_outputs(const std::string& dir) const {
  const Impl& I = *impl_;
  if (!I.functional) return;
  mkdir((dir + "/outputs").c_str(), 0777);
  for (std::size_t k = 0; k < I.sinks.size(); ++k) {
    if (I.sink_output[k] < 0) continue;
    const std::size_t o = static_cast<std::size_t>(I.sink_output[k]);
    const auto& vals = I.sinks[k]->values();
    TensorData all;
    all.shape = {static_cast<std::int64_t>(vals.size())};
    for (const auto& v : vals) {
      if (!v) return;
      if (all.shape.size() == 1)
        all.shape.insert(all.shape.end(), v->shape.begin(), v->shape.end());
      all.v.insert(all.v.end(), v->v.begin(), v->v.end());
    }
    std::string name = I.g.outputs[o].node;
    for (char& c : name)
      if (c == '/') c = '_';
    const std::string path = dir + "/outputs/" + name + ".npy";
    write_npy(path + ".tmp", all);
    if (std::rename((path + ".tmp").c_str(), path.c_str()) != 0)
      throw InputError("--out " + dir + ": cannot write " + path);
  }
}

std::int64_t System::check_reference(StatsTree& root, double tolerance) const {
  const Impl& I = *impl_;
  if (!I.functional) throw InputError("--check-reference needs simulation.mode: functional");
  std::int64_t failing = 0, checked = 0, elements = 0, mismatches = 0;
  std::string first_failure;
  auto& nodes = root.child("nodes");
  for (std::size_t i = 0; i < I.g.nodes.size(); ++i) {
    const Node& n = I.g.nodes[i];
    static const BeatValue none;
    const EngineJob* job = I.job_ptr(i);
    const BeatValue& got = I.on_engine(i)
                               ? (job && !job->first_out.empty()
                                      ? job->first_out[static_cast<std::size_t>(I.job_of[i][2])]
                                      : none)
                           : I.nodes[i] ? I.nodes[i]->first_output()
                                        : I.sys[i]->first_output();
    const TensorData ref = fn::load_reference(I.g, I.data_dir, n.name);
    auto& c = nodes.child(n.name).child("check");
    if (!got) throw SimulationError("functional mode: node '" + n.name + "' produced no output");
    const fn::CheckReport r = fn::compare(*got, ref, tolerance);
    ++checked;
    elements += r.elements;
    mismatches += r.mismatches;
    c.set("elements", r.elements);
    c.set("mismatches", r.mismatches);
    c.set("max_abs_error", r.max_abs_error);
    if (!r.ok()) {
      c.set("first_mismatch", r.summary(ref.shape));
      if (failing++ == 0) first_failure = n.name + ": " + r.summary(ref.shape);
    }
  }
  auto& rc = root.child("reference_check");
  rc.set("nodes", checked);
  rc.set("failing_nodes", failing);
  rc.set("elements", elements);
  rc.set("mismatches", mismatches);
  rc.set("tolerance", tolerance);
  if (!first_failure.empty()) rc.set("first_failure", first_failure);
  return failing;
}

void System::run() {
  const double limit_ms = impl_->spec.simulation.max_sim_time_ms;
  sc_core::sc_start(sc_core::sc_time(limit_ms, sc_core::SC_MS));
  if (!block_failure().empty()) throw SimulationError(block_failure());
  bool done = true;
  for (const auto& s : impl_->sinks) done = done && s->inferences_done() == impl_->inferences;
  if (done) return impl_->finish_trace();
  std::int64_t min_done = impl_->inferences;
  for (const auto& s : impl_->sinks) min_done = std::min(min_done, s->inferences_done());
  if (sc_core::sc_pending_activity())
    throw SimulationError("simulated-time limit of " + format_double(limit_ms) +
                          " ms (simulation.max_sim_time_ms) reached with " +
                          std::to_string(impl_->inferences - min_done) + " of " +
                          std::to_string(impl_->inferences) +
                          " inferences still in flight; no throughput is reported");
  std::ostringstream os;
  os << "deadlock: no block can make progress with " << (impl_->inferences - min_done) << " of "
     << impl_->inferences << " inferences outstanding. Waiting blocks:";
  for (const Block* b : impl_->all_blocks)
    if (!b->finished() && !b->waiting_on().empty())
      os << "\n  " << b->name() << " waits: " << b->waiting_on();
  os << "\n(a reconvergent path with too little buffering, or simulation.fork_depth too small)";
  throw SimulationError(os.str());
}

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

  // Analytic bounds of one sequence-step per phase, next to the simulated figure.
  auto bounds = [&](std::size_t v) {
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
    if (!engine_blocks.empty()) {
      double eng = 0;
      for (const auto& eb : engine_blocks) {
        double sum = 0;
        for (const auto& j : eb->jobs())
          sum +=
              static_cast<double>(j.variants.empty() ? j.ideal_cycles : j.variants[v].ideal_cycles);
        eng = std::max(eng, sum * static_cast<double>(eb->period_ps()));
      }
      b["engine"] = eng;
    }
    // A layer-reuse region runs its layers one after another: each layer takes at least
    // its slowest block's never-stalled cycles and, unless every layer stays resident, its
    // largest block's parameter fetch over its port.
    if (reuse.enabled()) {
      double layer = 0, fetch = 0;
      for (std::size_t i = 0; i < g.nodes.size(); ++i) {
        if (reuse.layer_of[i] != 0 || on_engine(i)) continue;
        const OpTiming& t =
            llm->node_timing[i][static_cast<std::size_t>(llm->node_timing_of[i][v])];
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
    return b;
  };
  // A layer-reuse region bounds a phase through its parameter fetch when the phase's steps
  // spent over half their time waiting for parameters (measured), else through its layers
  // running one after another.
  auto reuse_label = [&](const std::string& name, double simulated_us) {
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
  };
  auto phase = [&](const std::string& name, std::size_t v0, std::size_t v1, double simulated_us,
                   double scale) {
    std::map<std::string, double> avg;
    for (std::size_t v = v0; v < v1; ++v)
      for (const auto& [k, x] : bounds(v)) avg[k] += x / static_cast<double>(v1 - v0);
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
                              : worst == "layer_reuse" ? reuse_label(name, simulated_us)
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
  };
  if (S.phase != "decode") phase("prefill", 0, 1, at(0, 0), 1.0);
  if (S.phase != "prefill") {
    const std::size_t v0 = S.phase == "generate" ? 1 : 0;
    if (static_cast<std::int64_t>(v0) < steps) {
      std::vector<double> dec(tpot.begin(), tpot.end());
      // A sequence's token interval covers one step of each of the B sequences.
      phase("decode", v0, static_cast<std::size_t>(steps), mean_of(dec), static_cast<double>(B));
    }
  }
}

RunSummary System::report(StatsTree& root) const {
  const Impl& I = *impl_;
  RunSummary r;
  r.inferences = I.inferences;
  const time_ps period0 = I.period_of(0);
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

  // Nodes.
  auto& nodes = root.child("nodes");
  double worst = -1;
  // Per phase (LLM): the node busiest in that phase, measured like the run's bottleneck.
  const std::size_t n_phases = I.phases ? I.phases->names.size() : 0;
  std::vector<double> phase_worst(n_phases, -1);
  std::vector<std::string> phase_node(n_phases);
  std::vector<std::uint64_t> phase_busy(n_phases, 0);
  for (std::size_t i = 0; i < I.g.nodes.size(); ++i) {
    const Node& n = I.g.nodes[i];
    const NodeMap& nm = I.m.nodes[i];
    const time_ps p = I.period_of(nm.device);
    const BlockStats& st = I.stats_of(i);
    const Activity act = st.act.total();
    auto& t = nodes.child(n.name);
    t.set("op", n.op);
    t.set("device", I.devices[static_cast<std::size_t>(nm.device)].name);
    t.set("impl", I.sys[i] ? I.sys[i]->engine().impl() : "tlm");
    if (I.on_engine(i)) {
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
          fused +=
              (fused.empty() ? "" : "+") + I.g.nodes[static_cast<std::size_t>(job->nodes[f])].name;
        if (!fused.empty()) en.set("fused", fused);
      }
    }
    if (I.sys[i]) {
      auto& sy = t.child("systolic");
      sy.set("array",
             std::to_string(nm.hw.systolic_rows) + "x" + std::to_string(nm.hw.systolic_cols));
      sy.set("dataflow", nm.hw.weight_stationary ? "weight_stationary" : "output_stationary");
      sy.set("gemm", std::to_string(nm.timing.gemm_m) + "x" + std::to_string(nm.timing.gemm_k) +
                         "x" + std::to_string(nm.timing.gemm_n));
      sy.set("gemms", nm.timing.gemm_batch * N);
      sy.set("model_cycles", nm.timing.cycles_per_gemm * nm.timing.gemm_batch * N);
      sy.set("utilisation", nm.timing.systolic_utilisation);
      if (I.sys[i]->engine().impl() == "rtl") {
        t.set("rtl_cycles", I.sys[i]->engine_cycles());
        t.set("rtl_mismatches", rtl_mismatches(I.sys[i]->engine()));
        t.set("rtl_real_operand_gemms", I.sys[i]->real_operand_gemms());
      }
    }
    // Measured by the block; the cost model's figures beside them under their own names.
    I.write_block_stats(i, t);
    const auto analytic = I.analytic_of(i);
    t.set("analytic_busy_cycles", analytic[n_phases].busy_cycles);
    t.set("analytic_macs", analytic[n_phases].macs);
    for (std::size_t k = 0; k < n_phases; ++k) {
      auto& ph = t.child("phases").child(I.phases->names[k]);
      ph.set("analytic_busy_cycles", analytic[k].busy_cycles);
      ph.set("analytic_macs", analytic[k].macs);
      const Activity& pa = st.act.by_phase()[k];
      const double occ =
          static_cast<double>(static_cast<time_ps>(pa.busy_cycles) * p + pa.stall_mem_ps);
      if (occ > phase_worst[k]) {
        phase_worst[k] = occ;
        phase_node[k] = n.name;
        phase_busy[k] = pa.busy_cycles;
      }
    }
    t.set("macs_per_cycle", nm.timing.macs_per_cycle);
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
    if (occupancy > worst && !I.on_engine(i)) {  // an engine's nodes: the engine, below
      worst = occupancy;
      r.bottleneck = n.name;
    }
  }
  // Shared engines: what each unit did, measured by the engine's timeline. An engine is
  // occupied while it computes or waits for its loads and stores (not while it waits for
  // its input to exist); the busiest engine bounds the run if it beats every block.
  std::string engine_bound, engine_kind;
  std::int64_t engine_busy = 0;
  if (!I.engine_blocks.empty()) {
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
      t.set("memory", I.devices[static_cast<std::size_t>(
                                    spec.memory_device >= 0 ? spec.memory_device : spec.device)]
                          .name);
      t.set("impl", c.cpu ? "cost_model" : I.engine_gemms[e]->impl());
      if (c.cpu) {
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
          t.set("offload_speedup",
                r.latency_ps > 0 ? static_cast<double>(all) / static_cast<double>(r.latency_ps)
                                 : 0.0);
        } else {
          t.set("all_on_host_latency_us", "n/a (" + why + ")");
        }
      }
      if (c.has_gemm())
        t.set("gemm",
              std::to_string(c.gemm_rows) + "x" + std::to_string(c.gemm_cols / c.macs_per_pe) +
                  (c.macs_per_pe > 1 ? " x" + std::to_string(c.macs_per_pe) + " MACs/PE" : "") +
                  " " +
                  (c.dot_product         ? "dot_product"
                   : c.weight_stationary ? "weight_stationary"
                                         : "output_stationary") +
                  (c.fp16 ? " fp16" : ""));
      if (c.has_alu()) t.set("alu_lanes", c.alu_lanes);
      t.set("nodes", static_cast<std::int64_t>(I.m.engines.plans[e].tasks.size()));
      const std::int64_t total = cyc(r.total_ps);
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
      const double peak =
          static_cast<double>(c.gemm_rows * c.gemm_cols) * static_cast<double>(total);
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
      if (occupancy > worst) {
        worst = occupancy;
        r.bottleneck = "engine " + spec.name;
        engine_bound = t.get("bound");
        engine_busy = busy;
        engine_kind = spec.name;
      }
    }
  }
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
  auto& bn = root.child("bottleneck");
  bn.set("node", r.bottleneck);
  if (!engine_kind.empty()) {
    bn.set("engine", engine_kind);
    bn.set("bound", engine_bound);
    bn.set("busy_cycles", engine_busy);
  } else if (!r.bottleneck.empty()) {
    const auto* t = nodes.find_child(r.bottleneck);
    bn.set("bound", t->get("bound"));
    bn.set("busy_cycles", static_cast<std::int64_t>(std::stoll(t->get("busy_cycles"))));
  }
  for (std::size_t k = 0; k < n_phases; ++k) {
    if (phase_node[k].empty()) continue;
    auto& ph = bn.child("phases").child(I.phases->names[k]);
    ph.set("node", phase_node[k]);
    ph.set("busy_cycles", phase_busy[k]);
  }

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
           I.m.estimated_bottleneck_ps / static_cast<double>(period0));
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
  if (!I.m.scale_bound.empty()) mp.set("scale_bound", I.m.scale_bound);
  std::int64_t n_extrapolated = 0;
  for (const auto& nm : I.m.nodes) n_extrapolated += nm.estimate.extrapolated ? 1 : 0;
  mp.set("extrapolated_nodes", n_extrapolated);
  mp.set("extrapolation_margin", I.spec.mapping.extrapolation_margin);
  mp.set("oversubscribed", static_cast<std::int64_t>(I.m.overflows.size()));

  // Layer reuse: the region's layers, its parameter fetch and what the layer starts waited for.
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
    t.set("exposed_fetch_share", r.total_ps > 0 ? static_cast<double>(I.reuse_k.exposed_fetch_ps) /
                                                      static_cast<double>(r.total_ps)
                                                : 0.0);
    if (I.phases)
      for (std::size_t k = 0; k < I.phases->names.size(); ++k)
        t.set("phases." + I.phases->names[k] + ".exposed_fetch_us",
              k < I.reuse_k.exposed_fetch_phase_ps.size()
                  ? static_cast<double>(I.reuse_k.exposed_fetch_phase_ps[k]) / 1e6
                  : 0.0);
  }
  // Devices.
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
    mt.set("bandwidth_utilisation", r.total_ps
                                        ? static_cast<double>(mem.busy_ps()) /
                                              (static_cast<double>(r.total_ps) * ty.memory.channels)
                                        : 0.0);
  }
  // Payload each device sends over the network; collective flows (from or to a node of an
  // all-reduce or all-gather, named <linear>.allreduce.*) separately.
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
        r.total_ps ? static_cast<double>(st.busy_ps) / static_cast<double>(r.total_ps) : 0.0;
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
  if (worst_link_ps > worst) {
    bn.set("kind", "link");
    bn.set("name", worst_link);
    r.bottleneck = worst_link;
  } else {
    bn.set("kind", "node");
    bn.set("name", r.bottleneck);
  }
  // Blocks that are not graph nodes: forks, width adapters, the host's sources and sinks,
  // the links' TX and RX bridges.
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
    t.set("full_cycles", static_cast<std::int64_t>(s->full_ps() / period0));
    t.set("empty_cycles", static_cast<std::int64_t>(s->empty_ps() / period0));
  }
  if (I.llm) I.llm_report(root);
  return r;
}

std::string format_summary(const StatsTree& s) {
  std::ostringstream o;
  o << "masesim: " << s.get("workload.name") << " on " << s.get("system.devices") << " device(s), "
    << s.get("inferences") << " inference(s)\n";
  if (!s.get("workload.macs").empty())
    o << "  workload     " << s.get("workload.nodes") << " nodes, " << s.get("workload.parameters")
      << " parameters, " << s.get("workload.macs") << " MACs/inference, "
      << s.get("workload.weight_bytes") << " weight bytes\n";
  o << "  latency      " << s.get("latency_cycles") << " cycles = " << s.get("latency_us")
    << " us @ " << s.get("clock_mhz") << " MHz\n";
  o << "  throughput   " << s.get("throughput_inferences_per_s") << " inferences/s\n";
  o << "  total        " << s.get("total_cycles") << " cycles\n";
  if (!s.get("mapping.extrapolated_nodes").empty())
    o << "  resources    " << s.get("mapping.extrapolated_nodes") << " of "
      << s.get("workload.nodes") << " node estimates extrapolated (fit margin "
      << s.get("mapping.extrapolation_margin") << "; stats: nodes.*.resources.extrapolation)\n";
  if (s.get("bottleneck.kind") == "link")
    o << "  bottleneck   link " << s.get("bottleneck.name") << " (link-bound, utilisation "
      << s.get("bottleneck.busiest_link_utilisation") << "); slowest block "
      << s.get("bottleneck.node") << "\n";
  else
    o << "  bottleneck   " << s.get("bottleneck.node") << " (" << s.get("bottleneck.bound")
      << "-bound, " << s.get("bottleneck.busy_cycles") << " busy cycles)\n";
  if (!s.get("mapping.splits").empty()) o << "  splits       " << s.get("mapping.splits") << "\n";
  if (!s.get("mapping.scale_bound").empty())
    o << "  scaling      bound: " << s.get("mapping.scale_bound") << "\n";
  if (!s.get("mapping.idle_devices_reason").empty())
    o << "  devices      " << s.get("mapping.idle_devices_reason") << "\n";
  if (const StatsTree* E = s.find_child("engines"))
    for (const auto& name : E->child_names()) {
      const StatsTree& e = *E->find_child(name);
      if (e.get("kind") == "host_cpu") {
        o << "  host cpu     " << name << ": " << e.get("nodes") << " nodes, busy "
          << e.get("busy_cycles") << " cycles, waits for input " << e.get("wait_input_cycles")
          << "; all on the host: " << e.get("all_on_host_latency_us") << " us";
        if (!e.get("offload_speedup").empty())
          o << " (this run " << s.get("latency_us") << " us: " << e.get("offload_speedup") << "x)";
        o << "\n";
        continue;
      }
      o << "  engine       " << name << " on " << e.get("device") << ": " << e.get("nodes")
        << " nodes, busy " << e.get("busy_cycles") << " cycles, waits load "
        << e.get("wait_load_cycles") << " / store " << e.get("wait_store_cycles") << " / input "
        << e.get("wait_input_cycles") << ", utilisation " << e.get("utilisation") << "\n";
    }
  if (!s.get("reference_check.nodes").empty())
    o << "  reference    " << s.get("reference_check.nodes") << " nodes checked, "
      << s.get("reference_check.failing_nodes") << " beyond tolerance "
      << s.get("reference_check.tolerance") << ", " << s.get("reference_check.mismatches") << " of "
      << s.get("reference_check.elements") << " elements differ\n";
  if (const StatsTree* L = s.find_child("llm")) {
    o << "  LLM          " << L->get("phase") << ": prompt " << L->get("prompt_len") << ", "
      << L->get("gen_tokens") << " new token(s), batch " << L->get("batch") << ", "
      << L->get("parallelism") << "\n";
    if (!s.get("ttft_us").empty())
      o << "  TTFT         " << s.get("ttft_us") << " us (p99 " << s.get("ttft_p99_us") << ")\n";
    if (!s.get("tpot_us").empty())
      o << "  TPOT         " << s.get("tpot_us") << " us (p99 " << s.get("tpot_p99_us") << ")\n";
    o << "  tokens/s     " << s.get("tokens_per_s") << " over the run";
    if (!s.get("decode_tokens_per_s").empty())
      o << ", " << s.get("decode_tokens_per_s") << " while decoding";
    o << "\n";
    o << "  KV cache     " << s.get("kv_cache_bytes_per_sequence") << " bytes per sequence\n";
    for (const char* ph : {"prefill", "decode"}) {
      const std::string p = std::string("phases.") + ph + ".";
      if (L->get(p + "simulated_us").empty()) continue;
      o << "  " << ph << (std::string(ph) == "decode" ? " " : "") << "      simulated "
        << L->get(p + "simulated_us") << " us, analytic bound " << L->get(p + "bound_us") << " us ("
        << L->get(p + "bound") << "); limited by " << L->get(p + "limited_by") << "\n";
      const std::string bp = std::string("bottleneck.phases.") + ph + ".";
      if (!s.get(bp + "node").empty())
        o << "               busiest node " << s.get(bp + "node") << " ("
          << s.get(bp + "busy_cycles") << " busy cycles)\n";
    }
  }
  if (!s.get("bottleneck.busiest_link").empty())
    o << "  busiest link " << s.get("bottleneck.busiest_link") << " (utilisation "
      << s.get("bottleneck.busiest_link_utilisation") << ")\n";
  return o.str();
}

}  // namespace masesim
