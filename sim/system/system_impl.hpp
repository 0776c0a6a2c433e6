// The SystemC system's private state (System::Impl), shared by its translation units:
// system.cpp (construction, run, outputs, trace and functional attachment), build.cpp
// (elaboration: devices, streams, blocks, bridges, engines, layer reuse), report.cpp (the
// statistics tree) and summary.cpp (the terminal summary). Not part of the public API.
#pragma once
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
#include "sim/llm/llm.hpp"
#include "sim/mapping/layer_reuse.hpp"
#include "sim/mapping/replicate.hpp"
#include "sim/system/rtl_engine.hpp"
#include "workloads/error.hpp"
#include "workloads/yaml_util.hpp"

namespace masesim {

/// A SystemC-safe module name: letters, digits and '_' (anything else becomes '_').
inline std::string sc_safe_name(const std::string& s) {
  std::string r;
  for (char c : s) r += (std::isalnum(static_cast<unsigned char>(c)) || c == '_') ? c : '_';
  return r.empty() ? "_" : r;
}

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
          ("pcie_" + sc_safe_name(card.name) + "_" + sc_safe_name(host.name)).c_str(),
          host.type.pcie, host.name, card.name);
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

  void attach_functional();
  std::vector<std::size_t> source_input;  ///< graph input of each source
  std::vector<int> sink_output;           ///< graph output of each sink (-1: a drain)

  void attach_trace();
  // Progress: node-inferences finished, weighted by their ideal time (the node tracks are
  // the first g.nodes.size() tracks of the recorder).
  void attach_progress();
  void finish_trace();

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
  double engine_bound_ps(std::size_t v) const;
  void add_layer_reuse_bounds(std::size_t v, double per0, std::map<std::string, double>& b) const;
  std::map<std::string, double> llm_step_bounds(std::size_t v) const;
  std::string reuse_bound_label(const std::string& name, double simulated_us) const;
  void llm_phase_report(StatsTree& L, const std::string& name, std::size_t v0, std::size_t v1,
                        double simulated_us, double scale) const;
  /// What System::report carries from one part of the statistics tree to the next: the
  /// run's summary, the busiest node or engine so far (overall and per LLM phase).
  struct ReportState {
    RunSummary r;
    time_ps period0 = 0;
    double worst = -1;  ///< the bottleneck's occupancy (busy + memory stalls), ps
    std::size_t n_phases = 0;
    std::vector<double> phase_worst;
    std::vector<std::string> phase_node;
    std::vector<std::uint64_t> phase_busy;
    std::string engine_bound, engine_kind;
    std::int64_t engine_busy = 0;
  };
  void report_timing(StatsTree& root, ReportState& S) const;
  void report_node(std::size_t i, StatsTree& nodes, ReportState& S) const;
  void report_node_engine(std::size_t i, StatsTree& t) const;
  void report_node_systolic(std::size_t i, StatsTree& t) const;
  void report_engines(StatsTree& root, ReportState& S) const;
  void report_host_cpu(const engine::CoreConfig& c, StatsTree& t, const ReportState& S) const;
  void report_pcie(StatsTree& root) const;
  StatsTree& report_bottleneck(StatsTree& root, const StatsTree& nodes, const ReportState& S) const;
  void report_mapping(StatsTree& root, const ReportState& S) const;
  void report_layer_reuse(StatsTree& root, const ReportState& S) const;
  void report_devices(StatsTree& root, const ReportState& S) const;
  void report_links(StatsTree& root, StatsTree& bn, ReportState& S) const;
  void report_blocks(StatsTree& root, const ReportState& S) const;

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
    for (std::int64_t inf = 0; inf < node_inferences(i); ++inf) {
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
  Qsfp28Link* link(const interconnect::Hop& h);

  /// Carries a producer-side stream of `leg_inferences` inferences to device `cdev` (TX
  /// bridge, links, RX bridge); returns the stream on the consumer's side (the same stream
  /// when on one device).
  Stream* cross(Stream* leg, int pdev, int cdev, const PortTiling& tiling, const Precision& prec,
                const std::string& what, std::int64_t leg_inferences,
                const std::vector<std::int64_t>* var = nullptr);

  /// Layer reuse (sim/mapping/layer_reuse.hpp): pair q = inference x layers + layer; done(q) is
  /// when pair q's outputs are in memory (the layer_io nodes that carry its layer's output), the
  /// parameter fetch fills a buffer once the pair that last used it is done, and the read of
  /// each layer's inputs waits until the previous pair is done and the layer's parameters
  /// are in.
  void build_layer_reuse();

  /// The shared engines: one EngineBlock per engine with a job per node (a GEMM with the
  /// vector nodes fused into it is one job), ingress blocks where a stream enters an engine
  /// node, egress blocks where an engine node's output leaves as a stream.
  void build_engines(std::vector<std::vector<Stream*>>& node_in, std::vector<Stream*>& node_out,
                     bool& vcd_taken);
  std::vector<Graph> step_graphs;  ///< LLM mode: the graph at each step's dims (engines)
  std::uint64_t engine_act_addr = std::uint64_t{1} << 36;  ///< next activation address
  void engine_step_graphs();
  std::string step_what(std::size_t v) const;
  void make_engine_signals();
  std::uint64_t next_engine_addr(std::int64_t bytes);
  void engine_job_inputs(std::size_t e, const EngineTask& t, EngineJob& j,
                         std::vector<std::vector<Stream*>>& node_in);
  void engine_egress(std::size_t e, const std::vector<EngineTask>& tasks,
                     std::vector<Stream*>& node_out);
  void engine_core(std::size_t e, std::vector<EngineJob>& jobs, bool& vcd_taken);

  /// Streams into each node's ports and out of each node, filled as producers are wired.
  struct Wiring {
    std::vector<std::vector<Stream*>> in;
    std::vector<Stream*> out;
  };
  void build();
  void wire_inputs(Wiring& w);
  void wire_producer(const PortRef& ref, const PortTiling& tiling, int device, Stream** out_slot,
                     const std::function<void(Stream*)>& make_producer,
                     const std::vector<std::int64_t>* var, int producer_node, Wiring& w);
  Stream* adapt(Stream* leg, const PortTiling& tiling, const PortTiling& want,
                const std::string& pname, const std::string& cname, int cdev, int ni, int arg,
                std::int64_t leg_inferences, const std::vector<std::int64_t>* var);
  /// Inferences graph node `i` runs: all, or a replica's share (mapping.replicate).
  std::int64_t node_inferences(std::size_t i) const {
    return replica_inferences(inferences, m.nodes[i].replica_ways, m.nodes[i].replica_index);
  }
  bool is_replica(int i) const {
    return i >= 0 && m.nodes[static_cast<std::size_t>(i)].replica_ways > 1;
  }
  bool is_collect(int i) const {
    return i >= 0 && g.nodes[static_cast<std::size_t>(i)].op == "collect";
  }
  /// A collect's block reads inference i from data_in_(i mod K) only.
  void set_collect_ports(std::size_t i);
  void check_cosim_patterns() const;
  void build_spatial_blocks(Wiring& w, bool& vcd_taken);
  void collect_blocks();
  void set_limits_and_completion();
};

}  // namespace masesim
