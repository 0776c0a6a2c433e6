// The SystemC block of a dataflow node: executes an OpTiming beat by beat.
//
// Streaming engine: output beat j needs, on each streamed input port p, the first
// ceil((j+1)·in_p/out) beats; it issues at most one output per out_interval cycles and
// offers it `latency` cycles after issue; back-pressure delays issue (the pipeline stalls).
// Rows engine: per row, the row's input beats are read (one per cycle per port; a row
// may start loading while the previous row computes), the datapath starts when free,
// the first output issues first_out cycles after start and not before the last row
// input, then one every out_interval cycles; the datapath is busy row_cycles per row.
// Off-chip weights (Rows): rows are processed in blocks of block_rows; per block every
// weight tile is fetched through the TLM-2.0 initiator socket (double-buffered: the
// fetch of tile i+1 overlaps the compute of tile i) and tile i's compute for the block
// starts only when its fetch completed. With an explicit schedule (moe_experts'
// experts, OpTiming::weight_schedule) the block is the whole inference, the tiles run on
// their datapaths and every output is ready after the last.
// Preloaded ports are read whole before the first row of every inference.
// Statistics: every block counts its own activity (Activity, per phase when split) as it
// works, a few integer operations per beat or row; see docs/architecture.md.
#pragma once
#include <tlm_utils/simple_initiator_socket.h>
#include <systemc>
#include <tlm>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "models/activity.hpp"
#include "models/functional/kernels.hpp"
#include "models/op_cost.hpp"
#include "models/stream.hpp"

namespace masesim {

/// Functional mode of a node block: the node, its parameters and the rounding mode; a
/// null node passes values through (width adapters).
struct FunctionalNode {
  const Graph* graph = nullptr;
  const Node* node = nullptr;
  const std::map<std::string, TensorData>* params = nullptr;
  fn::Rounding rounding = fn::Rounding::HalfEven;
};

/// Computes a node's output tensor from its input beats' values (functional mode).
/// Throws SimulationError if an input has delivered no value yet.
BeatValue evaluate_node(const FunctionalNode& f, const std::vector<BeatValue>& inputs);

/// The first error raised inside a SystemC thread (the kernel then stops); "" if none.
std::string& block_failure();
/// Simulated-time limit: a block that would emit a beat later stops the run (kNever: none).
time_ps& block_time_limit();
/// Throws the SimulationError of a block (working on `node`, if given) reaching the limit
/// at `at`.
[[noreturn]] void time_limit_reached(time_ps at, const std::string& node = "");

struct BlockStats {
  ActivityCounters act;
  std::uint64_t weight_bytes = 0;
  std::uint64_t kv_read_bytes = 0, kv_write_bytes = 0;  ///< off-chip KV-cache traffic
  time_ps first_active_ps = kNever, last_active_ps = 0;
};

class NodeBlock : public Block, private RunListener {
 public:
  SC_HAS_PROCESS(NodeBlock);
  tlm_utils::simple_initiator_socket<NodeBlock> mem_socket;

  /// @param name        SystemC name (the graph node name, sanitised)
  /// @param timing      the node's cost model
  /// @param period_ps   its device's clock period
  /// @param inputs      one stream per data_in port
  /// @param output      data_out_0 stream
  /// @param inferences  how many inferences to process
  /// @param weight_base address of its weights in off-chip memory
  NodeBlock(const sc_core::sc_module_name& name, const OpTiming& timing, time_ps period_ps,
            std::vector<Stream*> inputs, Stream* output, std::int64_t inferences,
            std::uint64_t weight_base = 0);

  const OpTiming& timing() const { return t_; }
  /// Per-inference costs (LLM mode): inference i runs timings[index[schedule->of(i)]]
  /// (each distinct timing stored once).
  void set_variants(std::vector<OpTiming> timings, std::vector<int> index, SchedulePtr schedule) {
    var_ = std::move(timings);
    var_index_ = std::move(index);
    sched_ = std::move(schedule);
  }
  /// True when some inference reads or writes off-chip memory (weights or KV cache).
  bool uses_memory() const {
    auto uses = [](const OpTiming& t) {
      return t.weight_tiles > 0 || t.mem_read_bytes > 0 || t.mem_write_bytes > 0;
    };
    if (!sched_) return uses(t_);
    for (const auto& t : var_)
      if (uses(t)) return true;
    return false;
  }
  const OpTiming& timing_of(std::int64_t inf) const {
    return sched_ ? var_[static_cast<std::size_t>(
                        var_index_[static_cast<std::size_t>(sched_->of(inf))])]
                  : t_;
  }
  const BlockStats& stats() const { return st_; }
  /// Splits its counters by phase (LLM mode).
  void set_phases(PhaseMapPtr p) { st_.act.set_phases(std::move(p)); }
  /// Registers its activity counters into `t` (ActivityCounters::write).
  template <typename Tree>
  void write_stats(Tree& t) const {
    st_.act.write(t, period_);
  }
  time_ps period_ps() const { return period_; }
  std::int64_t inferences_done() const { return done_; }
  /// Functional mode: beats carry values and this block computes its outputs.
  void set_functional(const FunctionalNode& f) {
    functional_ = true;
    fn_ = f;
  }
  /// Output tensor of the first inference (functional mode), else null.
  const BeatValue& first_output() const { return first_out_; }

 private:
  void begin_inference(std::int64_t inf);
  void run();
  void run_streaming();
  void run_rows();
  /// One inference's off-chip weight schedule (OpTiming::weight_schedule) from `ready`:
  /// returns when the last tile has computed; updates the prefetch slot and address.
  time_ps run_weight_schedule(const OpTiming& t, time_ps ready, time_ps& fetch_slot,
                              std::uint64_t& fetch_addr);
  time_ps read(std::size_t port, time_ps t);
  time_ps write(time_ps offered);
  /// `n` reads of `port`, the first not before `t`, then one per cycle (Stream::pop_run).
  RunResult read_run(std::size_t port, std::int64_t n, time_ps t, time_ps* times = nullptr,
                     RunListener* pass = nullptr);
  /// `n` writes, the first offered at `offered`, beat k > 0 `interval` after beat k-1 was
  /// accepted (Stream::push_run).
  RunResult write_run(std::int64_t n, time_ps offered, time_ps interval,
                      const time_ps* ready = nullptr);
  /// Streaming engine, burst granularity: output beats [j, j + m) in one run, for the
  /// largest m whose inputs can be read and whose outputs placed without waiting; 0 when
  /// none can (then the beat is done beat by beat).
  std::int64_t streaming_burst(const OpTiming& t, std::int64_t j, std::int64_t lead,
                               const std::vector<std::int64_t>& streamed,
                               std::vector<std::int64_t>& got, time_ps& ready, time_ps& issue,
                               time_ps& first_in, time_ps& last_out);
  /// Streaming engine, burst granularity, one streamed port whose beats are not there yet:
  /// reads the inputs of the next outputs as one run and pushes each output from taken()
  /// as soon as its inputs are in (output slots reserved, so no push waits). Returns the
  /// outputs done (their inputs are counted in `got`).
  std::int64_t streaming_pass(const OpTiming& t, std::int64_t j, std::int64_t lead,
                              const std::vector<std::int64_t>& streamed,
                              std::vector<std::int64_t>& got, time_ps& ready, time_ps& issue,
                              time_ps& first_in, time_ps& last_out);
  bool taken(time_ps at) override;
  /// The run streaming_pass has under way.
  struct Pass {
    std::int64_t j0 = 0;                          ///< first output
    std::int64_t k0 = 0, outs = 0, streamed = 0;  ///< first output (from lead), outputs, inputs
    std::int64_t got = 0;                         ///< inputs taken so far this inference
    std::int64_t done = 0, todo = 0;              ///< outputs pushed / reserved
    time_ps lat = 0, ii = 0, over = kNever;
    time_ps *ready = nullptr, *issue = nullptr, *first_in = nullptr, *last_out = nullptr;
  } pass_;
  time_ps fetch(time_ps t, std::uint64_t bytes, std::uint64_t addr);

  OpTiming t_;
  std::vector<OpTiming> var_;
  std::vector<int> var_index_;
  SchedulePtr sched_;
  std::uint64_t kv_addr_ = 0;
  time_ps mem_t_ = 0;  ///< latest memory request: requests stay in time order
  time_ps period_;
  std::vector<Stream*> in_;
  Stream* out_;
  std::int64_t inferences_;
  std::uint64_t weight_base_;
  BlockStats st_;
  std::int64_t done_ = 0;
  std::vector<time_ps> t_read_;                     ///< per port: earliest next read
  std::vector<time_ps> burst_ready_, burst_times_;  ///< streaming_burst's buffers
  /// The run is over (push_run returns when every beat was taken): large buffers are
  /// freed so that thousands of idle blocks do not each keep one (peak memory).
  void release_burst_buffers() {
    constexpr std::size_t kKeep = 4096;
    if (burst_ready_.capacity() > kKeep) std::vector<time_ps>().swap(burst_ready_);
    if (burst_times_.capacity() > kKeep) std::vector<time_ps>().swap(burst_times_);
  }
  time_ps last_write_ = 0;
  bool functional_ = false;
  FunctionalNode fn_;
  std::vector<BeatValue> in_vals_;
  BeatValue out_val_, first_out_;
};

/// Duplicates a stream to several consumers (MASE fork); one beat per cycle.
class ForkBlock : public Block {
 public:
  SC_HAS_PROCESS(ForkBlock);
  ForkBlock(const sc_core::sc_module_name& name, time_ps period_ps, Stream* input,
            std::vector<Stream*> outputs, std::uint64_t beats_total);
  const BlockStats& stats() const { return st_; }
  template <typename Tree>
  void write_stats(Tree& t) const {
    st_.act.write(t, period_);
  }
  /// Round-robin dispatch (mapping.replicate): output l takes inference t (of
  /// `beats_per_inference` beats) only when t % legs[l].first == legs[l].second.
  void set_dispatch(std::vector<std::pair<int, int>> legs, std::int64_t beats_per_inference) {
    dispatch_ = std::move(legs);
    beats_per_inference_ = beats_per_inference;
  }

 private:
  void run();
  time_ps period_;
  Stream* in_;
  std::vector<Stream*> out_;
  std::uint64_t beats_total_;
  std::vector<std::pair<int, int>> dispatch_;
  std::int64_t beats_per_inference_ = 0;
  BlockStats st_;
};

/// Host source: injects `inferences` inputs back to back, one beat per cycle.
class SourceBlock : public Block {
 public:
  SC_HAS_PROCESS(SourceBlock);
  SourceBlock(const sc_core::sc_module_name& name, time_ps period_ps, Stream* output,
              std::int64_t beats_per_inference, std::int64_t inferences);
  const std::vector<time_ps>& first_in() const { return first_in_; }
  const BlockStats& stats() const { return st_; }
  time_ps period_ps() const { return period_; }
  void set_phases(PhaseMapPtr p) { st_.act.set_phases(std::move(p)); }
  template <typename Tree>
  void write_stats(Tree& t) const {
    st_.act.write(t, period_);
  }
  /// Functional mode: the input tensor of each inference.
  void set_values(std::vector<BeatValue> v) { values_ = std::move(v); }
  /// Per-variant beats of an inference (LLM mode).
  void set_variants(std::vector<std::int64_t> beats, SchedulePtr schedule) {
    var_beats_ = std::move(beats);
    sched_ = std::move(schedule);
  }
  /// Closed loop (autoregressive decode): inference i is not injected before `release(i)`,
  /// which may block the thread until the inference it depends on has completed.
  void set_release(std::function<time_ps(std::int64_t)> f) { release_ = std::move(f); }

 private:
  void run();
  std::int64_t beats_of(std::int64_t i) const {
    return sched_ ? var_beats_[static_cast<std::size_t>(sched_->of(i))] : beats_;
  }
  time_ps period_;
  Stream* out_;
  std::int64_t beats_;
  std::vector<std::int64_t> var_beats_;
  SchedulePtr sched_;
  std::function<time_ps(std::int64_t)> release_;
  std::int64_t inferences_;
  std::vector<time_ps> first_in_;
  std::vector<BeatValue> values_;
  BlockStats st_;
};

/// Host sink: consumes an output tensor and timestamps the last beat of each inference.
class SinkBlock : public Block {
 public:
  SC_HAS_PROCESS(SinkBlock);
  SinkBlock(const sc_core::sc_module_name& name, time_ps period_ps, Stream* input,
            std::int64_t beats_per_inference, std::int64_t inferences);
  const std::vector<time_ps>& first_out() const { return first_out_; }
  const std::vector<time_ps>& last_out() const { return last_out_; }
  std::int64_t inferences_done() const { return static_cast<std::int64_t>(last_out_.size()); }
  const BlockStats& stats() const { return st_; }
  void set_phases(PhaseMapPtr p) { st_.act.set_phases(std::move(p)); }
  template <typename Tree>
  void write_stats(Tree& t) const {
    st_.act.write(t, period_);
  }
  /// Stops the simulation (block_failure) when an inference completes after `limit`.
  void set_time_limit(time_ps limit) { limit_ = limit; }
  /// Functional mode: the tensor received for each inference.
  const std::vector<BeatValue>& values() const { return values_; }
  /// Called (in execution order) when an inference's last beat arrived.
  void on_done(std::function<void(std::int64_t, time_ps)> f) { on_done_ = std::move(f); }
  /// Per-variant beats of an inference (LLM mode).
  void set_variants(std::vector<std::int64_t> beats, SchedulePtr schedule) {
    var_beats_ = std::move(beats);
    sched_ = std::move(schedule);
  }

 private:
  void run();
  std::int64_t beats_of(std::int64_t i) const {
    return sched_ ? var_beats_[static_cast<std::size_t>(sched_->of(i))] : beats_;
  }
  time_ps period_;
  Stream* in_;
  std::int64_t beats_;
  std::vector<std::int64_t> var_beats_;
  SchedulePtr sched_;
  std::int64_t inferences_;
  std::vector<time_ps> first_out_, last_out_;
  std::function<void(std::int64_t, time_ps)> on_done_;
  std::vector<BeatValue> values_;
  time_ps limit_ = kNever;
  BlockStats st_;
};

}  // namespace masesim
