#include "sim/system/system_impl.hpp"

namespace masesim {

DeviceModule::DeviceModule(const sc_core::sc_module_name& name, const DeviceType& type)
    : sc_core::sc_module(name), memory("memory", type.memory), host("host"), type_(type) {
  host.bind(memory.socket);
}

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

void System::Impl::attach_functional() {
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

void System::Impl::attach_trace() {
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
      std::int64_t cyc = t.weight_tile_cycles_per_row * std::max<std::int64_t>(1, t.block_rows);
      for (const auto& w : t.weight_schedule) cyc = std::max(cyc, w.cycles);
      tile_ps = std::max(tile_ps, static_cast<time_ps>(cyc) * period_of(d));
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
    const sc_core::sc_object* parent = s->consumer() ? s->consumer()->get_parent_object() : nullptr;
    for (std::size_t d = 0; d < dev.size(); ++d)
      if (parent == dev[d].get()) group = devices[d].name;
    s->set_trace(
        rec.get(),
        rec->counter(group, s->name() + " occupancy (depth " + std::to_string(s->depth()) + ")",
                     1.0));
    ++occupancy;
  }
}

void System::Impl::attach_progress() {
  if (!opts.on_progress) return;
  auto work = std::make_shared<std::vector<std::vector<double>>>(g.nodes.size());
  double total = 0;
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    const double per = static_cast<double>(period_of(m.nodes[i].device));
    auto& w = (*work)[i];
    for (std::int64_t inf = 0; inf < node_inferences(i); ++inf) {
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

void System::Impl::finish_trace() {
  if (!rec) return;
  time_ps end = 0;
  for (const auto& s : sinks)
    if (!s->last_out().empty()) end = std::max(end, s->last_out().back());
  rec->finish(end);
}

}  // namespace masesim
