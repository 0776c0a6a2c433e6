#include "models/engine_block.hpp"

#include <limits>

#include <algorithm>

#include "models/memory.hpp"
#include "models/systolic/systolic_cost.hpp"
#include "workloads/error.hpp"

namespace masesim {

time_ps TensorSignal::wait(std::int64_t inf, Block* who, BeatValue* v) {
  while (static_cast<std::int64_t>(ready_.size()) <= inf) {
    who->set_waiting_other("tensor '" + name_ + "' of inference " + std::to_string(inf) +
                           " in memory");
    sc_core::wait(ev_);
  }
  who->set_waiting_other("");
  if (v) *v = values_[static_cast<std::size_t>(inf)];
  return ready_[static_cast<std::size_t>(inf)];
}

void TensorSignal::publish(std::int64_t inf, time_ps t, BeatValue v) {
  if (inf != static_cast<std::int64_t>(ready_.size()))
    throw SimulationError("tensor '" + name_ + "': inference " + std::to_string(inf) +
                          " published out of order");
  ready_.push_back(t);
  values_.push_back(std::move(v));
  ev_.notify(sc_core::SC_ZERO_TIME);
}

std::uint64_t ShapeGemmEngine::run(std::int64_t m, std::int64_t k, std::int64_t n, std::uint64_t,
                                   const std::vector<std::int8_t>*,
                                   const std::vector<std::int8_t>*) {
  const auto key = std::make_tuple(m, k, n);
  const auto it = cache_.find(key);
  if (it != cache_.end()) return it->second;
  if (dot_) {
    const auto c = static_cast<std::uint64_t>(engine::dot_product_cycles(m, k, n, rows_, cols_));
    cache_[key] = c;
    return c;
  }
  systolic::ArrayConfig a;
  a.rows = static_cast<std::uint32_t>(rows_);
  a.cols = static_cast<std::uint32_t>(cols_);
  a.dataflow = ws_ ? systolic::Dataflow::WeightStationary : systolic::Dataflow::OutputStationary;
  const auto c = systolic::gemm_cycles(
      {static_cast<std::uint64_t>(m), static_cast<std::uint64_t>(k), static_cast<std::uint64_t>(n)},
      a);
  cache_[key] = c.total_cycles;
  return c.total_cycles;
}

EngineBlock::EngineBlock(const sc_core::sc_module_name& name, const engine::CoreConfig& core,
                         time_ps period_ps, std::vector<EngineJob> jobs, std::int64_t inferences,
                         GemmEngine* gemm)
    : Block(name),
      mem_socket("mem_socket"),
      core_(core),
      period_(period_ps),
      jobs_(std::move(jobs)),
      inferences_(inferences),
      gemm_(gemm),
      tl_(
          core, period_ps,
          [this](time_ps issue, std::uint64_t bytes, bool write) {
            // The DMA issues a transfer as AXI bursts of at most kDmaBurstBytes, all at once;
            // the memory serves each in its first free gap (so the bursts of a long load
            // interleave with the other unit's), and the transfer is done with its last.
            const void* who = write ? static_cast<const void*>(&store_tag_) : &load_tag_;
            time_ps done = issue;
            for (std::uint64_t off = 0; off < bytes; off += kDmaBurstBytes)
              done = std::max(done, timed_read(*mem_socket.operator->(), issue,
                                               std::min<std::uint64_t>(kDmaBurstBytes, bytes - off),
                                               off, write, who, false));
            last_ps_ = std::max(last_ps_, done);
            return done;
          },
          [this](int unit, const char* what, time_ps b, time_ps e) {
            if (rec_ && unit_track_[unit] >= 0) rec_->complete(unit_track_[unit], what, b, e);
          }) {
  SC_THREAD(run);
}

void EngineBlock::run() {
  try {
    for (std::int64_t inf = 0; inf < inferences_; ++inf) {
      for (auto& j : jobs_) {
        j.stats.act.begin(inf);
        const JobShape* v =
            j.variants.empty()
                ? nullptr
                : &j.variants[static_cast<std::size_t>(schedule_ ? schedule_->of(inf) : 0)];
        const engine::Lowering& low = v ? v->low : j.low;
        const engine::TilePlan& plan = v ? v->plan : j.plan;
        const std::int64_t chunk = v ? v->chunk : j.chunk;
        const std::int64_t macs = v ? v->macs : j.macs;
        const time_ps cpu_ps = v ? v->cpu_ps : j.cpu_ps;
        std::vector<BeatValue> vals(j.inputs.size());
        std::vector<time_ps> ready(j.inputs.size(), 0);
        for (std::size_t p = 0; p < j.inputs.size(); ++p)
          ready[p] = j.inputs[p]->wait(inf, this, functional_ ? &vals[p] : nullptr);
        const time_ps all = ready.empty() ? 0 : *std::max_element(ready.begin(), ready.end());
        const engine::CoreCounters before = tl_.counters();
        time_ps done = all;
        if (core_.cpu) {
          done = tl_.cpu(cpu_ps, all);
        } else {
          switch (low.kind) {
            case engine::Lowering::Kind::Gemm:
              done = tl_.gemm(low.gemm, plan, ready[0], ready.size() > 1 ? ready[1] : 0,
                              j.fused_ops, [&](std::int64_t m, std::int64_t k, std::int64_t n) {
                                return gemm_->run(m, k, n, tiles_run_++);
                              });
              break;
            case engine::Lowering::Kind::Vector:
              done = tl_.vector(low.vec, chunk, all);
              break;
            case engine::Lowering::Kind::Free:
            case engine::Lowering::Kind::None:
              break;
          }
        }
        const engine::CoreCounters& after = tl_.counters();
        Activity& a = j.stats.act.now();
        a.busy_cycles +=
            static_cast<std::uint64_t>((after.compute_busy_ps - before.compute_busy_ps) / period_);
        a.macs += static_cast<std::uint64_t>(macs);
        a.stall_in_ps += after.wait_input_ps - before.wait_input_ps;
        a.stall_mem_ps += (after.wait_load_ps - before.wait_load_ps) +
                          (after.wait_store_ps - before.wait_store_ps);
        j.tiles +=
            (after.gemm_tiles - before.gemm_tiles) +
            (low.kind == engine::Lowering::Kind::Vector ? after.alu_passes - before.alu_passes : 0);
        j.stats.weight_bytes += after.bytes_loaded - before.bytes_loaded;
        if (done > all || low.kind != engine::Lowering::Kind::Free) {
          j.stats.first_active_ps = std::min(j.stats.first_active_ps, all);
          j.stats.last_active_ps = std::max(j.stats.last_active_ps, done);
        }
        if (done > block_time_limit()) time_limit_reached(done, j.name);
        BeatValue out;
        if (functional_) {
          j.first_out.resize(j.fn.size());
          out = evaluate_node(j.fn[0], vals);
          if (!j.first_out[0]) j.first_out[0] = out;
          for (std::size_t f = 1; f < j.fn.size(); ++f) {
            out = evaluate_node(j.fn[f], {out});
            if (!j.first_out[f]) j.first_out[f] = out;
          }
        }
        if (rec_ && j.track >= 0) rec_->complete(j.track, "inference", all, done, inf);
        j.output->publish(inf, done, std::move(out));
      }
    }
  } catch (const std::exception& e) {
    if (block_failure().empty()) block_failure() = std::string(name()) + ": " + e.what();
    sc_core::sc_stop();
    return;
  }
  timed_read(*mem_socket.operator->(), 0, 0, 0, false, &load_tag_, true);
  timed_read(*mem_socket.operator->(), 0, 0, 0, true, &store_tag_, true);
  set_finished();
}

// ---------------------------------------------------------------------------------------
IngressBlock::IngressBlock(const sc_core::sc_module_name& name, time_ps period_ps, Stream* in,
                           std::int64_t beats, std::int64_t bytes, std::int64_t inferences,
                           TensorSignal* out, std::uint64_t addr)
    : Block(name),
      mem_socket("mem_socket"),
      period_(period_ps),
      in_(in),
      beats_(beats),
      bytes_(bytes),
      inferences_(inferences),
      out_(out),
      addr_(addr) {
  SC_THREAD(run);
}

void IngressBlock::run() {
  time_ps t = 0, mem_t = 0;
  for (std::int64_t inf = 0; inf < inferences_; ++inf) {
    st_.act.begin(inf);
    const auto var = static_cast<std::size_t>(schedule_ ? schedule_->of(inf) : 0);
    const std::int64_t nbeats = var_beats_.empty() ? beats_ : var_beats_[var];
    const std::int64_t nbytes = var_bytes_.empty() ? bytes_ : var_bytes_[var];
    BeatValue v, first;
    std::int64_t written = 0;
    time_ps ready = 0;
    for (std::int64_t b = 0; b < nbeats;) {
      // The beats up to the one completing the next DMA burst, read one per cycle.
      std::int64_t e = b;
      while (e + 1 < nbeats && nbytes * (e + 1) / nbeats - written < kDmaBurstBytes) ++e;
      BeatValue got;
      const RunResult r =
          in_->pop_run(static_cast<std::uint64_t>(e + 1 - b), t, period_, this, &got);
      if (got && !first) first = std::move(got);
      Activity& a = st_.act.now();
      a.stall_in_ps += r.stall_ps;
      a.beats_in += r.beats;
      a.busy_cycles += r.beats;
      t = r.last;
      const std::int64_t have = nbytes * (e + 1) / nbeats;
      mem_t = std::max(mem_t, t);
      ready = std::max(ready, timed_read(*mem_socket.operator->(), mem_t,
                                         static_cast<std::uint64_t>(have - written),
                                         addr_ + static_cast<std::uint64_t>(written), true, this));
      written = have;
      t += period_;
      b = e + 1;
    }
    st_.first_active_ps = std::min(st_.first_active_ps, t);
    st_.last_active_ps = std::max(st_.last_active_ps, ready);
    out_->publish(inf, ready, first);
  }
  timed_read(*mem_socket.operator->(), 0, 0, 0, true, this, true);
  set_finished();
}

EgressBlock::EgressBlock(const sc_core::sc_module_name& name, time_ps period_ps, TensorSignal* in,
                         Stream* out, std::int64_t beats, std::int64_t bytes,
                         std::int64_t inferences, std::uint64_t addr)
    : Block(name),
      mem_socket("mem_socket"),
      period_(period_ps),
      in_(in),
      out_(out),
      beats_(beats),
      bytes_(bytes),
      inferences_(inferences),
      addr_(addr) {
  SC_THREAD(run);
}

void EgressBlock::run() {
  time_ps t = 0, mem_t = 0;
  try {
    for (std::int64_t inf = 0; inf < inferences_; ++inf) {
      st_.act.begin(inf);
      const auto var = static_cast<std::size_t>(schedule_ ? schedule_->of(inf) : 0);
      const std::int64_t nbeats = var_beats_.empty() ? beats_ : var_beats_[var];
      const std::int64_t nbytes = var_bytes_.empty() ? bytes_ : var_bytes_[var];
      BeatValue v;
      const time_ps ready = in_->wait(inf, this, &v);
      mem_t = std::max(mem_t, gate_ ? std::max(ready, gate_(inf, ready, this)) : ready);
      // Bursts are requested back to back from when the tensor is complete; beat b leaves
      // once the burst holding it has arrived.
      std::vector<time_ps> burst_done;
      for (std::int64_t off = 0; off < nbytes; off += kDmaBurstBytes)
        burst_done.push_back(timed_read(
            *mem_socket.operator->(), mem_t,
            static_cast<std::uint64_t>(std::min<std::int64_t>(kDmaBurstBytes, nbytes - off)),
            addr_ + static_cast<std::uint64_t>(off), false, this));
      // The beats of one DMA burst leave one per cycle once it has arrived.
      auto burst_of = [&](std::int64_t beat) {
        const std::int64_t end_byte = std::max<std::int64_t>(1, nbytes * (beat + 1) / nbeats);
        return std::min(static_cast<std::size_t>((end_byte - 1) / kDmaBurstBytes),
                        burst_done.empty() ? 0 : burst_done.size() - 1);
      };
      for (std::int64_t b = 0; b < nbeats;) {
        const std::size_t k = burst_of(b);
        std::int64_t e = b + 1;
        while (e < nbeats && burst_of(e) == k) ++e;
        const time_ps avail = burst_done.empty() ? ready : burst_done[k];
        const RunResult r = out_->push_run(static_cast<std::uint64_t>(e - b), std::max(t, avail),
                                           period_, this, block_time_limit(), v);
        Activity& a = st_.act.now();
        a.stall_out_ps += r.stall_ps;
        a.beats_out += r.beats;
        a.busy_cycles += r.beats;
        if (r.over != kNever) time_limit_reached(r.over, name());
        st_.first_active_ps = std::min(st_.first_active_ps, r.first);
        st_.last_active_ps = std::max(st_.last_active_ps, r.last);
        t = r.last + period_;
        b = e;
      }
    }
  } catch (const std::exception& e) {
    if (block_failure().empty()) block_failure() = std::string(name()) + ": " + e.what();
    sc_core::sc_stop();
    return;
  }
  timed_read(*mem_socket.operator->(), 0, 0, 0, false, this, true);
  set_finished();
}

// ---------------------------------------------------------------------------------------
LayerFetchBlock::LayerFetchBlock(const sc_core::sc_module_name& name, time_ps period_ps,
                                 std::int64_t inferences, int layers, std::int64_t buffers,
                                 std::vector<std::int64_t> bytes, std::int64_t port_bytes_per_cycle,
                                 std::uint64_t addr, DoneFn done, TensorSignal* out)
    : Block(name),
      mem_socket("mem_socket"),
      period_(period_ps),
      inferences_(inferences),
      layers_(layers),
      buffers_(buffers),
      bytes_(std::move(bytes)),
      port_(port_bytes_per_cycle),
      addr_(addr),
      done_(std::move(done)),
      out_(out) {
  SC_THREAD(run);
}

void LayerFetchBlock::run() {
  try {
    std::int64_t layer_bytes = 0;
    for (const auto b : bytes_) layer_bytes += b;
    std::vector<time_ps> port_free(bytes_.size(), 0);
    time_ps mem_t = 0;
    const std::int64_t pairs = inferences_ * layers_;
    for (std::int64_t q = 0; q < pairs; ++q) {
      if (buffers_ >= layers_ && q >= layers_) {  // resident since its first fetch
        out_->publish(q, 0, BeatValue{});
        continue;
      }
      const time_ps free = q >= buffers_ ? done_(q - buffers_, this) : 0;
      mem_t = std::max(mem_t, free);
      std::uint64_t base =
          addr_ + static_cast<std::uint64_t>(q % layers_) * static_cast<std::uint64_t>(layer_bytes);
      time_ps in = mem_t, start = std::numeric_limits<time_ps>::max();
      for (std::size_t b = 0; b < bytes_.size(); ++b) {
        const time_ps issue = std::max(mem_t, port_free[b]);
        start = std::min(start, issue);
        time_ps got = issue;
        for (std::int64_t off = 0; off < bytes_[b]; off += kDmaBurstBytes)
          got = std::max(got, timed_read(*mem_socket.operator->(), issue,
                                         static_cast<std::uint64_t>(std::min<std::int64_t>(
                                             kDmaBurstBytes, bytes_[b] - off)),
                                         base + static_cast<std::uint64_t>(off), false, this));
        // The block's port moves port_ bytes per cycle: never faster than that.
        got =
            std::max(got, issue + static_cast<time_ps>((bytes_[b] + port_ - 1) / port_) * period_);
        port_free[b] = got;
        in = std::max(in, got);
        base += static_cast<std::uint64_t>(bytes_[b]);
      }
      if (in > block_time_limit()) time_limit_reached(in, name());
      busy_ps_ += bytes_.empty() ? 0 : in - start;
      ++fetches_;
      bytes_fetched_ += static_cast<std::uint64_t>(layer_bytes);
      out_->publish(q, in, BeatValue{});
    }
  } catch (const std::exception& e) {
    if (block_failure().empty()) block_failure() = std::string(name()) + ": " + e.what();
    sc_core::sc_stop();
    return;
  }
  timed_read(*mem_socket.operator->(), 0, 0, 0, false, this, true);
  set_finished();
}

}  // namespace masesim
