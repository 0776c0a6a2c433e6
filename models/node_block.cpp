#include "models/node_block.hpp"

#include <algorithm>

#include "models/memory.hpp"
#include "workloads/error.hpp"

namespace masesim {

namespace {
/// Beats of part r when `total` beats are spread over `parts` as evenly as possible.
std::int64_t share(std::int64_t total, std::int64_t parts, std::int64_t r) {
  return total * (r + 1) / parts - total * r / parts;
}
}  // namespace

std::string& block_failure() {
  static std::string failure;
  return failure;
}

time_ps& block_time_limit() {
  static time_ps limit = kNever;
  return limit;
}

void time_limit_reached(time_ps at, const std::string& node) {
  throw SimulationError("simulated-time limit of " +
                        std::to_string(static_cast<double>(block_time_limit()) / 1e9) +
                        " ms (simulation.max_sim_time_ms) reached at " +
                        std::to_string(static_cast<double>(at) / 1e9) + " ms" +
                        (node.empty() ? "" : " on node '" + node + "'") +
                        " with inferences still in flight; no throughput is reported");
}

BeatValue evaluate_node(const FunctionalNode& f, const std::vector<BeatValue>& inputs) {
  if (!f.node) return inputs.empty() ? nullptr : inputs[0];  // adapter: same tensor, new tiling
  std::vector<const TensorData*> in;
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    if (!inputs[k])
      throw SimulationError("functional mode: node '" + f.node->name +
                            "' must emit an output before any beat of data_in_" +
                            std::to_string(k) + " arrived");
    in.push_back(inputs[k].get());
  }
  return std::make_shared<const TensorData>(
      fn::eval_node(*f.graph, *f.node, in, *f.params, f.rounding));
}

NodeBlock::NodeBlock(const sc_core::sc_module_name& name, const OpTiming& timing, time_ps period_ps,
                     std::vector<Stream*> inputs, Stream* output, std::int64_t inferences,
                     std::uint64_t weight_base)
    : Block(name),
      mem_socket("mem_socket"),
      t_(timing),
      period_(period_ps),
      in_(std::move(inputs)),
      out_(output),
      inferences_(inferences),
      weight_base_(weight_base),
      t_read_(in_.size(), 0) {
  SC_THREAD(run);
}

void NodeBlock::begin_inference(std::int64_t inf) {
  st_.act.begin(inf);
  if (!functional_) return;
  in_vals_.assign(in_.size(), nullptr);
  out_val_.reset();
}

time_ps NodeBlock::read(std::size_t port, time_ps t) {
  const time_ps want = std::max(t, t_read_[port]);
  BeatValue v;
  const time_ps got = in_[port]->pop(want, this, functional_ ? &v : nullptr);
  if (v && !in_vals_[port]) in_vals_[port] = std::move(v);
  Activity& a = st_.act.now();
  a.stall_in_ps += got - want;
  ++a.beats_in;
  t_read_[port] = got + period_;
  st_.first_active_ps = std::min(st_.first_active_ps, got);
  return got;
}

time_ps NodeBlock::write(time_ps offered) {
  if (functional_ && !out_val_) {
    out_val_ = evaluate_node(fn_, in_vals_);
    if (!first_out_) first_out_ = out_val_;
  }
  offered = std::max(offered, last_write_);  // a stream's beats leave in order
  if (offered > block_time_limit()) time_limit_reached(offered);
  const time_ps got = out_->push(offered, this, out_val_);
  Activity& a = st_.act.now();
  a.stall_out_ps += got - offered;
  ++a.beats_out;
  st_.last_active_ps = std::max(st_.last_active_ps, got);
  last_write_ = got;
  return got;
}

RunResult NodeBlock::read_run(std::size_t port, std::int64_t n, time_ps t, time_ps* times,
                              RunListener* pass) {
  if (n <= 0) return {};
  const time_ps want = std::max(t, t_read_[port]);
  BeatValue v;
  const RunResult r = in_[port]->pop_run(static_cast<std::uint64_t>(n), want, period_, this,
                                         functional_ ? &v : nullptr, times, pass);
  if (v && !in_vals_[port]) in_vals_[port] = std::move(v);
  Activity& a = st_.act.now();
  a.stall_in_ps += r.stall_ps;
  a.beats_in += r.beats;
  t_read_[port] = r.last + period_;
  st_.first_active_ps = std::min(st_.first_active_ps, r.first);
  return r;
}

RunResult NodeBlock::write_run(std::int64_t n, time_ps offered, time_ps interval,
                               const time_ps* ready) {
  if (n <= 0) return {};
  if (functional_ && !out_val_) {
    out_val_ = evaluate_node(fn_, in_vals_);
    if (!first_out_) first_out_ = out_val_;
  }
  offered = std::max(offered, last_write_);  // a stream's beats leave in order
  const RunResult r = out_->push_run(static_cast<std::uint64_t>(n), offered, interval, this,
                                     block_time_limit(), out_val_, ready);
  Activity& a = st_.act.now();
  a.stall_out_ps += r.stall_ps;
  a.beats_out += r.beats;
  if (r.beats > 0) {
    st_.last_active_ps = std::max(st_.last_active_ps, r.last);
    last_write_ = r.last;
  }
  if (r.over != kNever) time_limit_reached(r.over);
  return r;
}

time_ps NodeBlock::fetch(time_ps t, std::uint64_t bytes, std::uint64_t addr) {
  // The request carries its time; the memory fits it into its channels' idle gaps.
  st_.weight_bytes += bytes;
  mem_t_ = std::max(mem_t_, t);
  return timed_read(*mem_socket.operator->(), mem_t_, bytes, weight_base_ + addr, false, this);
}

void NodeBlock::run() {
  try {
    if (t_.engine == OpTiming::Engine::Streaming)
      run_streaming();
    else
      run_rows();
  } catch (const std::exception& e) {
    if (block_failure().empty()) block_failure() = std::string(name()) + ": " + e.what();
    sc_core::sc_stop();
    return;
  }
  if (uses_memory()) timed_read(*mem_socket.operator->(), 0, 0, 0, false, this, true);  // retire
  set_finished();
}

void NodeBlock::run_streaming() {
  const std::size_t np = in_.size();
  std::vector<std::int64_t> streamed(np);
  time_ps issue = 0;
  std::vector<time_ps> chunk_done;
  for (std::int64_t inf = 0; inf < inferences_; ++inf) {
    const OpTiming& t = timing_of(inf);
    const time_ps ii = static_cast<time_ps>(t.out_interval_cycles) * period_;
    const time_ps lat = static_cast<time_ps>(t.latency_cycles) * period_;
    begin_inference(inf);
    // Busy: its issue slots (out_interval per output beat) or the beats its busiest input
    // port took (one per cycle), whichever is more: reads and issues overlap.
    std::int64_t issue_cycles = 0;
    time_ps ready = 0;
    time_ps first_in = kNever, last_out = 0;
    for (std::size_t p = 0; p < np; ++p) {
      if (t.preload_beats[p] > 0) ready = std::max(ready, read_run(p, t.preload_beats[p], 0).last);
      streamed[p] = t.in_beats[p] - t.preload_beats[p];
    }
    // KV cache: the context's beats come from memory and need no input; off chip they
    // arrive in chunks read back to back from when the block starts the inference.
    const std::int64_t lead = std::min(t.cached_out_beats, t.out_beats);
    chunk_done.clear();
    if (t.mem_read_bytes > 0 && t.mem_read_chunks > 0) {
      const time_ps start = std::max(issue, ready);
      for (std::int64_t c = 0; c < t.mem_read_chunks; ++c) {
        const std::int64_t bytes = share(t.mem_read_bytes, t.mem_read_chunks, c);
        mem_t_ = std::max(mem_t_, start);
        chunk_done.push_back(timed_read(*mem_socket.operator->(), mem_t_,
                                        static_cast<std::uint64_t>(bytes), weight_base_ + kv_addr_,
                                        false, this));
        kv_addr_ += static_cast<std::uint64_t>(bytes);
      }
      st_.kv_read_bytes += static_cast<std::uint64_t>(t.mem_read_bytes);
    }
    std::vector<std::int64_t> got(np, 0);
    // The beats from the KV cache: one run per memory chunk (their readiness is that of
    // the chunk, then one issue per out_interval).
    for (std::int64_t j = 0; j < lead;) {
      std::int64_t end = lead;
      if (!chunk_done.empty()) {
        const std::int64_t c = j * t.mem_read_chunks / lead;
        end = std::min(lead, ((c + 1) * lead + t.mem_read_chunks - 1) / t.mem_read_chunks);
        const time_ps arrived = chunk_done[static_cast<std::size_t>(c)];
        if (arrived > std::max(issue, ready))
          st_.act.now().stall_mem_ps += arrived - std::max(issue, ready);
        ready = std::max(ready, arrived);
      }
      issue_cycles += t.out_interval_cycles * (end - j);
      issue = std::max(issue, ready);
      if (j == 0) first_in = std::min(ready, issue);
      const RunResult r = write_run(end - j, issue + lat, ii);
      last_out = r.last;
      issue = r.last - lat + ii;
      j = end;
    }
    for (std::int64_t j = lead; j < t.out_beats; ++j) {
      if (!functional_) {
        const std::int64_t m =
            streaming_burst(t, j, lead, streamed, got, ready, issue, first_in, last_out);
        if (m > 0) {
          issue_cycles += t.out_interval_cycles * m;
          j += m - 1;
          continue;
        }
      }
      const std::int64_t outs = t.out_beats - lead, k = j - lead;
      for (std::size_t p = 0; p < np; ++p) {
        const std::int64_t need = (streamed[p] * (k + 1) + outs - 1) / outs;
        while (got[p] < need) {
          ready = std::max(ready, read(p, 0));
          ++got[p];
        }
      }
      issue_cycles += t.out_interval_cycles;
      issue = std::max(issue, ready);
      if (j == 0) first_in = std::min(ready, issue);
      const time_ps offered = issue + lat;
      const time_ps accepted = write(offered);
      last_out = accepted;
      issue = accepted - lat + ii;
    }
    if (t.mem_write_bytes > 0) {  // append the new tokens (a posted write)
      mem_t_ = std::max(mem_t_, ready);
      timed_read(*mem_socket.operator->(), mem_t_, static_cast<std::uint64_t>(t.mem_write_bytes),
                 weight_base_ + kv_addr_, true, this);
      kv_addr_ += static_cast<std::uint64_t>(t.mem_write_bytes);
      st_.kv_write_bytes += static_cast<std::uint64_t>(t.mem_write_bytes);
    }
    std::int64_t busy = issue_cycles;
    for (std::size_t p = 0; p < np; ++p) busy = std::max(busy, t.preload_beats[p] + got[p]);
    Activity& a = st_.act.now();
    a.busy_cycles += static_cast<std::uint64_t>(busy);
    a.macs += static_cast<std::uint64_t>(t.macs);
    if (first_in != kNever) trace("inference", first_in, last_out, inf);
    ++done_;
  }
}

std::int64_t NodeBlock::streaming_burst(const OpTiming& t, std::int64_t j, std::int64_t lead,
                                        const std::vector<std::int64_t>& streamed,
                                        std::vector<std::int64_t>& got, time_ps& ready,
                                        time_ps& issue, time_ps& first_in, time_ps& last_out) {
  constexpr std::int64_t kMaxBurst = 1 << 14;
  const std::int64_t outs = t.out_beats - lead, k0 = j - lead;
  std::int64_t m = std::min<std::int64_t>(
      {t.out_beats - j, kMaxBurst,
       static_cast<std::int64_t>(std::min<std::uint64_t>(out_->pushable(), kMaxBurst))});
  // Output k needs the first ceil(streamed (k + 1) / outs) beats of each streamed port:
  // with `have` beats there, outputs k < floor(have · outs / streamed) can issue.
  for (std::size_t p = 0; p < in_.size() && m > 0; ++p) {
    if (streamed[p] <= 0) continue;
    const std::int64_t have =
        got[p] + static_cast<std::int64_t>(std::min<std::uint64_t>(
                     in_[p]->poppable(), static_cast<std::uint64_t>(streamed[p] - got[p])));
    m = std::min(m, have * outs / streamed[p] - k0);
  }
  if (m <= 0) return 0;
  // The beats' readiness: the latest input they need (reads are in order, so the last).
  burst_ready_.assign(static_cast<std::size_t>(m), ready);
  for (std::size_t p = 0; p < in_.size(); ++p) {
    if (streamed[p] <= 0) continue;
    const std::int64_t before = got[p];
    const std::int64_t upto = (streamed[p] * (k0 + m) + outs - 1) / outs;
    if (upto <= before) continue;
    burst_times_.resize(static_cast<std::size_t>(upto - before));
    read_run(p, upto - before, 0, burst_times_.data());
    got[p] = upto;
    if (streamed[p] == outs) {  // one input per output
      for (std::int64_t i = 0; i < m; ++i) {
        time_ps& r = burst_ready_[static_cast<std::size_t>(i)];
        r = std::max(r, burst_times_[static_cast<std::size_t>(k0 + i - before)]);
      }
      continue;
    }
    for (std::int64_t i = 0; i < m; ++i) {
      const std::int64_t need = (streamed[p] * (k0 + i + 1) + outs - 1) / outs;
      if (need > before) {
        time_ps& r = burst_ready_[static_cast<std::size_t>(i)];
        r = std::max(r, burst_times_[static_cast<std::size_t>(need - before - 1)]);
      }
    }
  }
  for (std::size_t i = 1; i < burst_ready_.size(); ++i)
    burst_ready_[i] = std::max(burst_ready_[i], burst_ready_[i - 1]);
  ready = burst_ready_.back();
  if (j == 0) first_in = burst_ready_[0];
  // Issue of beat i: max(issue of beat i-1 shifted by its accept + out_interval, ready i).
  const time_ps lat = static_cast<time_ps>(t.latency_cycles) * period_;
  const time_ps ii = static_cast<time_ps>(t.out_interval_cycles) * period_;
  issue = std::max(issue, burst_ready_[0]);
  for (time_ps& r : burst_ready_) r += lat;
  const RunResult r = write_run(m, issue + lat, ii, burst_ready_.data());
  last_out = r.last;
  issue = r.last - lat + ii;
  release_burst_buffers();
  return m;
}

std::int64_t NodeBlock::streaming_pass(const OpTiming& t, std::int64_t j, std::int64_t lead,
                                       const std::vector<std::int64_t>& streamed,
                                       std::vector<std::int64_t>& got, time_ps& ready,
                                       time_ps& issue, time_ps& first_in, time_ps& last_out) {
  std::size_t port = in_.size();
  for (std::size_t p = 0; p < in_.size(); ++p)
    if (streamed[p] > 0) {
      if (port != in_.size()) return 0;  // several streamed ports: beat by beat
      port = p;
    }
  if (port == in_.size()) return 0;
  constexpr std::int64_t kMaxBurst = 1 << 14;
  const std::int64_t k = std::min<std::int64_t>(
      {t.out_beats - j, kMaxBurst,
       static_cast<std::int64_t>(std::min<std::uint64_t>(out_->pushable(), kMaxBurst))});
  if (k <= 0) return 0;
  const std::int64_t outs = t.out_beats - lead, n = streamed[port];
  pass_ = Pass{j,
               j - lead,
               outs,
               n,
               got[port],
               0,
               k,
               static_cast<time_ps>(t.latency_cycles) * period_,
               static_cast<time_ps>(t.out_interval_cycles) * period_,
               kNever,
               &ready,
               &issue,
               &first_in,
               &last_out};
  const std::int64_t inputs = (n * (j - lead + k) + outs - 1) / outs - got[port];
  read_run(port, inputs, 0, nullptr, this);
  got[port] = pass_.got;
  if (pass_.over != kNever) time_limit_reached(pass_.over);
  return pass_.done;
}

bool NodeBlock::taken(time_ps at) {
  Pass& s = pass_;
  ++s.got;
  *s.ready = std::max(*s.ready, at);
  // The outputs whose inputs are all in now (output k needs ceil(streamed (k + 1) / outs)).
  while (s.done < s.todo && (s.streamed * (s.k0 + s.done + 1) + s.outs - 1) / s.outs <= s.got) {
    if (out_->pushable() == 0) return false;  // a slot reserved is gone: beat by beat
    *s.issue = std::max(*s.issue, *s.ready);
    if (s.j0 + s.done == 0) *s.first_in = *s.ready;
    const time_ps offered = std::max(*s.issue + s.lat, last_write_);
    if (offered > block_time_limit()) {
      s.over = offered;
      return false;
    }
    const time_ps a = out_->push(offered, this);
    Activity& act = st_.act.now();
    act.stall_out_ps += a - offered;
    ++act.beats_out;
    st_.last_active_ps = std::max(st_.last_active_ps, a);
    last_write_ = a;
    *s.last_out = a;
    *s.issue = a - s.lat + s.ii;
    ++s.done;
  }
  return true;
}

void NodeBlock::run_rows() {
  const std::size_t np = in_.size();
  time_ps free_at = 0;     // datapath free
  time_ps prev_start = 0;  // start of the previous row (input double buffer)
  time_ps fetch_slot = 0;  // earliest issue of the next weight fetch (two tile buffers)
  std::uint64_t fetch_addr = 0;
  for (std::int64_t inf = 0; inf < inferences_; ++inf) {
    const OpTiming& t_ = timing_of(inf);
    const time_ps lat = static_cast<time_ps>(t_.latency_cycles) * period_;
    const time_ps interval = static_cast<time_ps>(t_.out_interval_cycles) * period_;
    const std::int64_t block = t_.weight_tiles > 0 ? t_.block_rows : 1;
    begin_inference(inf);
    time_ps preload_done = 0;
    time_ps inf_first = kNever, inf_last = 0;
    for (std::size_t p = 0; p < np; ++p)
      if (t_.preload_beats[p] > 0)
        preload_done = std::max(preload_done, read_run(p, t_.preload_beats[p], 0).last);
    for (std::int64_t r0 = 0; r0 < t_.rows; r0 += block) {
      const std::int64_t nrows = std::min(block, t_.rows - r0);
      // Read the block's input rows.
      time_ps first = kNever, last = preload_done;
      for (std::int64_t r = r0; r < r0 + nrows; ++r)
        for (std::size_t p = 0; p < np; ++p) {
          const std::int64_t n = share(t_.in_beats[p] - t_.preload_beats[p], t_.rows, r);
          if (n <= 0) continue;
          const RunResult got = read_run(p, n, prev_start);
          first = std::min(first, got.first);
          last = std::max(last, got.last);
        }
      if (first == kNever) first = last;
      const time_ps start = std::max(free_at, first);
      inf_first = std::min(inf_first, start);
      prev_start = start;
      std::int64_t nout = 0;
      for (std::int64_t r = r0; r < r0 + nrows; ++r) nout += share(t_.out_beats, t_.rows, r);
      // Busy: the datapath's cycles for these rows (back-pressure and weight waits are
      // counted as stalls); MACs: the rows' share of the inference's.
      {
        Activity& a = st_.act.now();
        a.busy_cycles += static_cast<std::uint64_t>(t_.weight_tiles == 0 ? t_.row_cycles * nrows
                                                    : !t_.weight_schedule.empty()
                                                        ? t_.schedule_busy_cycles()
                                                        : t_.weight_tile_cycles_per_row * nrows *
                                                              t_.weight_tiles);
        a.macs +=
            static_cast<std::uint64_t>(t_.macs * (r0 + nrows) / t_.rows - t_.macs * r0 / t_.rows);
      }
      if (t_.weight_tiles == 0) {
        // Streaming datapath (MASE dataflow): outputs follow the row's passes.
        time_ps issue =
            std::max(start + static_cast<time_ps>(t_.first_out_cycles) * period_, last + period_);
        // Beat j > 0 is offered `interval` after beat j-1 was accepted; the back-pressure
        // delays (shift) are the run's stalls plus beat 0's wait for the previous beat.
        time_ps shift = 0;
        if (nout > 0) {
          const time_ps behind = std::max(issue + lat, last_write_) - (issue + lat);
          const RunResult r = write_run(nout, issue + lat, interval);
          inf_last = std::max(inf_last, r.last);
          shift = r.stall_ps + behind;
          issue = r.last - lat;
        }
        free_at = std::max(start + static_cast<time_ps>(t_.row_cycles * nrows) * period_ + shift,
                           issue + interval - static_cast<time_ps>(t_.first_out_cycles) * period_);
      } else if (!t_.weight_schedule.empty()) {
        // Off-chip weights with a schedule (one block: the whole inference).
        const time_ps done =
            run_weight_schedule(t_, std::max(start, last + period_), fetch_slot, fetch_addr);
        if (nout > 0) inf_last = std::max(inf_last, write_run(nout, done + lat, period_).last);
        free_at = done;
      } else {
        // Off-chip weights: tile i of the block computes when its fetch completed.
        const time_ps tile_ps =
            static_cast<time_ps>(t_.weight_tile_cycles_per_row * nrows) * period_;
        const time_ps ready0 = std::max(start, last + period_);
        time_ps compute = ready0;
        // Weights do not depend on the data, so the fetch of the next tile is issued as soon
        // as a tile buffer frees (prefetch across blocks); an embedding row needs its token.
        time_ps issue_fetch =
            t_.weight_address_from_input ? std::max(fetch_slot, last) : fetch_slot;
        std::vector<time_ps> tile_done(static_cast<std::size_t>(t_.weight_tiles));
        for (std::int64_t i = 0; i < t_.weight_tiles; ++i) {
          const time_ps arrived =
              fetch(issue_fetch, static_cast<std::uint64_t>(t_.weight_tile_bytes), fetch_addr);
          fetch_addr += static_cast<std::uint64_t>(t_.weight_tile_bytes);
          const time_ps begin = std::max(compute, arrived);
          st_.act.now().stall_mem_ps += begin - compute;
          if (begin > compute) trace("wait weights", compute, begin);
          issue_fetch = begin;  // double buffer: next fetch may start when this tile computes
          fetch_slot = begin;
          compute = begin + tile_ps;
          tile_done[static_cast<std::size_t>(i)] = compute;
        }
        // Outputs leave row-major; beat j of a row belongs to tile j*tiles/per_row.
        // Beat j is offered a cycle after beat j-1 was accepted, not before its tile's
        // compute is done (plus the pipeline latency): one run with that readiness.
        const std::int64_t per_row = std::max<std::int64_t>(1, nout / nrows);
        std::vector<time_ps>& ready = burst_ready_;
        ready.resize(static_cast<std::size_t>(nout));
        for (std::int64_t j = 0; j < nout; ++j) {
          const std::int64_t tile = std::min<std::int64_t>(
              t_.weight_tiles - 1, (j % per_row) * t_.weight_tiles / per_row);
          ready[static_cast<std::size_t>(j)] = tile_done[static_cast<std::size_t>(tile)] + lat;
        }
        if (nout > 0) {
          const RunResult r = write_run(nout, ready[0], period_, ready.data());
          inf_last = std::max(inf_last, r.last);
        }
        release_burst_buffers();
        // The outputs drain from a double-buffered reorder buffer while the next block computes.
        free_at = compute;
      }
    }
    if (inf_first != kNever) trace("inference", inf_first, inf_last, inf);
    ++done_;
  }
}

time_ps NodeBlock::run_weight_schedule(const OpTiming& t, time_ps ready, time_ps& fetch_slot,
                                       std::uint64_t& fetch_addr) {
  const WeightScheduleTimes w = weight_schedule_times(
      t.weight_schedule, ready, fetch_slot, period_, [&](time_ps issue, std::int64_t bytes) {
        const time_ps at = fetch(issue, static_cast<std::uint64_t>(bytes), fetch_addr);
        fetch_addr += static_cast<std::uint64_t>(bytes);
        return at;
      });
  for (const auto& [from, to] : w.waits) trace("wait weights", from, to);
  st_.act.now().stall_mem_ps += w.stall_ps;
  fetch_slot = w.last_begin;
  return w.done;
}

// ---------------------------------------------------------------------------------------
ForkBlock::ForkBlock(const sc_core::sc_module_name& name, time_ps period_ps, Stream* input,
                     std::vector<Stream*> outputs, std::uint64_t beats_total)
    : Block(name),
      period_(period_ps),
      in_(input),
      out_(std::move(outputs)),
      beats_total_(beats_total) {
  SC_THREAD(run);
}

void ForkBlock::run() {
  time_ps t = 0;
  std::int64_t inf = 0, beat_of_inf = 0;  // dispatch: the inference of the current beat
  for (std::uint64_t b = 0; b < beats_total_; ++b) {
    const time_ps want = t;
    BeatValue v;
    t = in_->pop(t, this, &v);
    Activity& act = st_.act.now();
    act.stall_in_ps += t - want;
    ++act.beats_in;
    ++act.busy_cycles;  // one beat per cycle
    time_ps accepted = t;
    if (dispatch_.empty()) {
      for (Stream* o : out_) accepted = std::max(accepted, o->push(t, this, v));
      act.beats_out += out_.size();
    } else {
      for (std::size_t l = 0; l < out_.size(); ++l) {
        if (inf % dispatch_[l].first != dispatch_[l].second) continue;
        accepted = std::max(accepted, out_[l]->push(t, this, v));
        ++act.beats_out;
      }
      if (++beat_of_inf == beats_per_inference_) beat_of_inf = 0, ++inf;
    }
    act.stall_out_ps += accepted - t;  // the beat waits for its slowest leg
    t = accepted + period_;
  }
  set_finished();
}

SourceBlock::SourceBlock(const sc_core::sc_module_name& name, time_ps period_ps, Stream* output,
                         std::int64_t beats_per_inference, std::int64_t inferences)
    : Block(name),
      period_(period_ps),
      out_(output),
      beats_(beats_per_inference),
      inferences_(inferences) {
  SC_THREAD(run);
}

void SourceBlock::run() {
  time_ps t = 0;
  for (std::int64_t i = 0; i < inferences_; ++i) {
    if (release_) t = std::max(t, release_(i));
    st_.act.begin(i);
    Activity& a = st_.act.now();
    const std::int64_t nb = beats_of(i);
    if (nb <= 0) continue;
    // One beat per cycle: beat k > 0 is offered a cycle after beat k-1 was accepted.
    const RunResult r =
        out_->push_run(static_cast<std::uint64_t>(nb), t, period_, this, kNever,
                       values_.empty() ? nullptr : values_[static_cast<std::size_t>(i)]);
    a.stall_out_ps += r.stall_ps;
    a.beats_out += r.beats;
    a.busy_cycles += r.beats;
    first_in_.push_back(r.first);
    trace_instant("inference " + std::to_string(i) + " in", r.first);
    t = r.last + period_;
  }
  set_finished();
}

SinkBlock::SinkBlock(const sc_core::sc_module_name& name, time_ps period_ps, Stream* input,
                     std::int64_t beats_per_inference, std::int64_t inferences)
    : Block(name),
      period_(period_ps),
      in_(input),
      beats_(beats_per_inference),
      inferences_(inferences) {
  SC_THREAD(run);
}

void SinkBlock::run() {
  time_ps t = 0;
  for (std::int64_t i = 0; i < inferences_; ++i) {
    st_.act.begin(i);
    Activity& a = st_.act.now();
    const std::int64_t nb = beats_of(i);
    if (nb > 0) {
      BeatValue v;
      const RunResult r = in_->pop_run(static_cast<std::uint64_t>(nb), t, period_, this, &v);
      a.stall_in_ps += r.stall_ps;
      a.beats_in += r.beats;
      a.busy_cycles += r.beats;
      first_out_.push_back(r.first);
      values_.push_back(v);
      t = r.last + period_;
    }
    last_out_.push_back(t - period_);
    trace_instant("inference " + std::to_string(i) + " out", t - period_);
    if (on_done_) on_done_(i, t - period_);
    if (t - period_ > limit_) {
      if (block_failure().empty())
        block_failure() =
            "simulated-time limit of " + std::to_string(static_cast<double>(limit_) / 1e9) +
            " ms (simulation.max_sim_time_ms) passed when inference " + std::to_string(i) + " of " +
            std::to_string(inferences_) + " completed; no throughput is reported";
      sc_core::sc_stop();
      return;
    }
  }
  set_finished();
}

}  // namespace masesim
