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
      for (std::int64_t k = 0; k < t.preload_beats[p]; ++k) ready = std::max(ready, read(p, 0));
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
    for (std::int64_t j = 0; j < t.out_beats; ++j) {
      if (j >= lead) {
        const std::int64_t outs = t.out_beats - lead, k = j - lead;
        for (std::size_t p = 0; p < np; ++p) {
          const std::int64_t need = (streamed[p] * (k + 1) + outs - 1) / outs;
          while (got[p] < need) {
            ready = std::max(ready, read(p, 0));
            ++got[p];
          }
        }
      } else if (!chunk_done.empty()) {
        const time_ps arrived = chunk_done[static_cast<std::size_t>(
            j * t.mem_read_chunks / std::max<std::int64_t>(1, lead))];
        if (arrived > std::max(issue, ready))
          st_.act.now().stall_mem_ps += arrived - std::max(issue, ready);
        ready = std::max(ready, arrived);
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
      for (std::int64_t k = 0; k < t_.preload_beats[p]; ++k)
        preload_done = std::max(preload_done, read(p, 0));
    for (std::int64_t r0 = 0; r0 < t_.rows; r0 += block) {
      const std::int64_t nrows = std::min(block, t_.rows - r0);
      // Read the block's input rows.
      time_ps first = kNever, last = preload_done;
      for (std::int64_t r = r0; r < r0 + nrows; ++r)
        for (std::size_t p = 0; p < np; ++p) {
          const std::int64_t n = share(t_.in_beats[p] - t_.preload_beats[p], t_.rows, r);
          for (std::int64_t k = 0; k < n; ++k) {
            const time_ps got = read(p, prev_start);
            first = std::min(first, got);
            last = std::max(last, got);
          }
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
        a.busy_cycles += static_cast<std::uint64_t>(
            t_.weight_tiles == 0 ? t_.row_cycles * nrows
                                 : t_.weight_tile_cycles_per_row * nrows * t_.weight_tiles);
        a.macs +=
            static_cast<std::uint64_t>(t_.macs * (r0 + nrows) / t_.rows - t_.macs * r0 / t_.rows);
      }
      if (t_.weight_tiles == 0) {
        // Streaming datapath (MASE dataflow): outputs follow the row's passes.
        time_ps issue =
            std::max(start + static_cast<time_ps>(t_.first_out_cycles) * period_, last + period_);
        time_ps shift = 0;
        for (std::int64_t j = 0; j < nout; ++j) {
          if (j > 0) issue += interval;
          const time_ps accepted = write(issue + lat);
          inf_last = std::max(inf_last, accepted);
          if (accepted > issue + lat) {
            shift += accepted - (issue + lat);
            issue = accepted - lat;
          }
        }
        free_at = std::max(start + static_cast<time_ps>(t_.row_cycles * nrows) * period_ + shift,
                           issue + interval - static_cast<time_ps>(t_.first_out_cycles) * period_);
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
        const std::int64_t per_row = std::max<std::int64_t>(1, nout / nrows);
        time_ps issue = 0;
        for (std::int64_t j = 0; j < nout; ++j) {
          const std::int64_t tile = std::min<std::int64_t>(
              t_.weight_tiles - 1, (j % per_row) * t_.weight_tiles / per_row);
          issue = std::max(j ? issue + period_ : 0, tile_done[static_cast<std::size_t>(tile)]);
          const time_ps accepted = write(issue + lat);
          inf_last = std::max(inf_last, accepted);
          if (accepted > issue + lat) issue = accepted - lat;
        }
        // The outputs drain from a double-buffered reorder buffer while the next block computes.
        free_at = compute;
      }
    }
    if (inf_first != kNever) trace("inference", inf_first, inf_last, inf);
    ++done_;
  }
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
  for (std::uint64_t b = 0; b < beats_total_; ++b) {
    const time_ps want = t;
    BeatValue v;
    t = in_->pop(t, this, &v);
    Activity& act = st_.act.now();
    act.stall_in_ps += t - want;
    ++act.beats_in;
    ++act.busy_cycles;  // one beat per cycle
    time_ps accepted = t;
    for (Stream* o : out_) accepted = std::max(accepted, o->push(t, this, v));
    act.stall_out_ps += accepted - t;  // the beat waits for its slowest leg
    act.beats_out += out_.size();
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
    for (std::int64_t b = 0, nb = beats_of(i); b < nb; ++b) {
      const time_ps offered = t;
      t = out_->push(t, this, values_.empty() ? nullptr : values_[static_cast<std::size_t>(i)]);
      a.stall_out_ps += t - offered;
      ++a.beats_out;
      ++a.busy_cycles;
      if (b == 0) {
        first_in_.push_back(t);
        trace_instant("inference " + std::to_string(i) + " in", t);
      }
      t += period_;
    }
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
    for (std::int64_t b = 0, nb = beats_of(i); b < nb; ++b) {
      BeatValue v;
      const time_ps want = t;
      t = in_->pop(t, this, &v);
      a.stall_in_ps += t - want;
      ++a.beats_in;
      ++a.busy_cycles;
      if (b == 0) {
        first_out_.push_back(t);
        values_.push_back(v);
      }
      t += period_;
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
