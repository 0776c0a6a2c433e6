// Handshake stream between two blocks, modelled at beat granularity with
// timestamps (loosely timed, temporally decoupled).
//
// Contract: one producer thread calls push(), one consumer thread calls pop(). A beat
// pushed at producer time t is visible to the consumer at t (a registered valid/ready
// FIFO stage of `depth` entries). push() of beat i blocks (in wall order) until beat
// i-depth has been popped and returns the time the slot became free at or after the
// producer's time: max(t, pop time of beat i-depth). pop() blocks until beat j exists
// and returns max(t, push time of beat j). Beats are offered in order: an offer earlier
// than the previous beat's offer counts from that offer. The resulting
// times are exactly those of a depth-entry valid/ready FIFO, independent of the order in
// which the SystemC kernel runs the two threads. Beats carry no values in timing mode.
// Memory grows with the beats in flight, not with `depth`: the stream holds a time for
// each beat pushed and not yet popped, and for each popped beat whose slot may still delay
// a later offer (pop time plus credit delay after the last offer), never more than depth.
//
// Runs (simulation.granularity: burst): push_run()/pop_run() move n beats whose times
// follow a self-timed law (beat 0 at a given time, beat k `interval` after beat k-1 was
// accepted / taken). While a law is registered, the other end's pushes and pops resolve
// its beats without a thread switch; with laws at both ends the stream solves the FIFO's
// max-plus recurrence in a tight loop and, once the state repeats shifted by a constant
// (a steady state), extrapolates whole periods in closed form. Every beat gets the time
// the beat-by-beat FIFO gives it (test Stream.RunsEqualBeatByBeat*). In beat granularity,
// or on a stream that carries values or records a trace, a run is a loop of push()/pop().
#pragma once
#include <systemc>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/schedule.hpp"
#include "models/time.hpp"
#include "models/trace.hpp"
#include "workloads/tensor_file.hpp"

namespace masesim {

class Block;

/// How streams move beats: `Beat` (one push/pop per beat) or `Burst` (runs of beats).
enum class Granularity { Beat, Burst };
/// The process-wide granularity (simulation.granularity), set before elaboration.
Granularity& stream_granularity();

/// Told of each beat a pop_run takes, in the producer's thread when the producer's push
/// resolved it: a consumer that forwards beats (a streaming block) pushes its outputs from
/// here, so they leave as soon as beat-by-beat execution would have pushed them.
class RunListener {
 public:
  /// Beat taken at `at`; false ends the run after this beat.
  virtual bool taken(time_ps at) = 0;

 protected:
  ~RunListener() = default;
};

/// What a run of beats came to.
struct RunResult {
  time_ps first = 0;           ///< time beat 0 was accepted (push) / taken (pop)
  time_ps last = 0;            ///< time the last beat was accepted / taken
  std::uint64_t stall_ps = 0;  ///< sum over beats of (accepted - offered) / (taken - wanted)
  std::uint64_t beats = 0;     ///< beats moved (< n only when a push run hit its limit)
  time_ps over = kNever;       ///< push run: the first offer past `limit` (not pushed)
};

/// Functional mode: a beat refers to its producer's whole output tensor of that inference
/// (its tile is the beat's slice of it); null in timing mode.
using BeatValue = std::shared_ptr<const TensorData>;

class Stream {
 public:
  /// @param name   stream name (producer->consumer), used in stats and deadlock reports
  /// @param depth  FIFO entries (>= 1)
  Stream(std::string name, std::size_t depth);

  /// Producer side. `t` is the time the producer offers the beat; returns the time the
  /// beat is accepted (>= t). Blocks the calling SystemC thread while the FIFO is full.
  time_ps push(time_ps t, Block* who, BeatValue v = nullptr);
  /// Producer side, for transfers whose beat becomes visible later than it is accepted
  /// (a frame reserves a receive-buffer slot, then crosses links): `visible_at(accepted)`
  /// gives the time the consumer may take it. Credits return `credit_delay_ps` after the
  /// consumer frees a slot.
  template <typename F>
  time_ps push_deferred(time_ps t, Block* who, F visible_at, BeatValue v = nullptr);
  /// Consumer side. Returns the time the beat is taken (>= t and >= its push time);
  /// `v`, if given, receives the beat's value.
  time_ps pop(time_ps t, Block* who, BeatValue* v = nullptr);
  /// Producer side: pushes `n` beats, beat 0 offered at `offer`, beat k > 0 offered
  /// `interval` after beat k-1 was accepted. A beat whose offer would pass `limit` is not
  /// pushed: the run stops there and reports it in `over`. Blocks until every beat is in.
  /// Every beat carries `v` (functional mode: the run is then pushed beat by beat).
  /// `ready`, if given, holds n times: beat k is not offered before ready[k].
  RunResult push_run(std::uint64_t n, time_ps offer, time_ps interval, Block* who,
                     time_ps limit = kNever, const BeatValue& v = nullptr,
                     const time_ps* ready = nullptr);
  /// Consumer side: pops `n` beats, beat 0 wanted at `want`, beat k > 0 wanted `interval`
  /// after beat k-1 was taken. Blocks until every beat is taken. `v`, if given, receives
  /// the first value the run's beats carry (unchanged if none does).
  /// `times`, if given, receives the n times the beats were taken.
  /// `pass`, if given, is told of each beat as it is taken (and may end the run early).
  RunResult pop_run(std::uint64_t n, time_ps want, time_ps interval, Block* who,
                    BeatValue* v = nullptr, time_ps* times = nullptr, RunListener* pass = nullptr);
  /// Burst granularity: beats a pop_run could take now without waiting (those in the
  /// FIFO and those of the producer's registered run); 0 in beat granularity.
  std::uint64_t poppable() const { return runs_ok() ? pushed_ - popped_ + plaw_.left : 0; }
  /// Burst granularity: beats a push_run could place now without waiting (free slots and
  /// the beats the consumer's registered run will take); 0 in beat granularity.
  std::uint64_t pushable() const {
    return runs_ok() ? depth_ - (pushed_ - popped_) + claw_.left : 0;
  }
  /// Beats moved in runs at both ends solved in closed form (periods extrapolated).
  std::uint64_t closed_form_beats() const { return closed_form_beats_; }
  /// Entries pushed but not yet popped whose visible time is <= t (time-accurate
  /// occupancy seen by the consumer at t, for buffer statistics).
  std::uint64_t visible_occupancy(time_ps t) const;
  void set_credit_delay(time_ps d) { credit_delay_ps_ = d; }
  /// A registered path of `d` between the ends (an SLR crossing): a beat is visible `d`
  /// after it is accepted and its slot's credit returns `d` after it is taken.
  void set_latency(time_ps d) {
    latency_ps_ = d;
    credit_delay_ps_ = d;
  }
  time_ps latency_ps() const { return latency_ps_; }
  /// Records the occupancy on `counter` of `rec`: each popped beat adds the time it spent
  /// in the FIFO (from visible to taken), so a counter sample is the time-averaged number
  /// of entries over its bucket (scale 1).
  void set_trace(TraceRecorder* rec, int counter) {
    trace_ = rec;
    counter_ = counter;
  }

  const std::string& name() const { return name_; }
  std::size_t depth() const { return depth_; }
  /// Beat times the stream holds room for now (grows with the beats in flight; <= 2 x depth).
  std::size_t capacity() const { return times_.capacity(); }
  std::uint64_t beats() const { return pushed_; }
  std::uint64_t occupancy() const { return pushed_ - popped_; }
  /// Total ps the producer waited on a full FIFO / the consumer on an empty one.
  std::uint64_t full_ps() const { return full_ps_; }
  std::uint64_t empty_ps() const { return empty_ps_; }
  Block* producer() const { return producer_; }
  Block* consumer() const { return consumer_; }
  void set_ends(Block* producer, Block* consumer) {
    producer_ = producer;
    consumer_ = consumer;
  }

 private:
  /// Per-beat entries addressed by beat index (a power-of-two ring that grows on demand).
  template <typename T>
  class BeatRing {
   public:
    T& operator[](std::uint64_t beat) { return buf_[beat & (buf_.size() - 1)]; }
    const T& operator[](std::uint64_t beat) const { return buf_[beat & (buf_.size() - 1)]; }
    std::size_t capacity() const { return buf_.size(); }
    /// Makes room for beat `end` while keeping the entries of beats [lo, end).
    void make_room(std::uint64_t lo, std::uint64_t end) {
      if (end - lo < buf_.size()) return;
      std::size_t n = buf_.empty() ? 2 : buf_.size() * 2;
      while (n <= end - lo) n *= 2;
      std::vector<T> next(n);
      for (std::uint64_t k = lo; k < end; ++k) next[k & (n - 1)] = std::move((*this)[k]);
      buf_.swap(next);
    }

   private:
    std::vector<T> buf_;
  };
  std::string name_;
  std::size_t depth_;
  /// Beats [base_, pushed_): the push (visible) time of each beat not yet popped, the pop
  /// time of each popped one that may still delay a push.
  BeatRing<time_ps> times_;
  std::uint64_t base_ = 0;
  time_ps last_offer_ = 0;  ///< offer time of the last push (offers never go back)
  /// Values of beats [max(popped_, values_from_), pushed_), once a value was pushed.
  BeatRing<BeatValue> values_;
  bool has_values_ = false;
  std::uint64_t values_from_ = 0;
  std::uint64_t pushed_ = 0;
  std::uint64_t popped_ = 0;
  std::uint64_t full_ps_ = 0;
  std::uint64_t empty_ps_ = 0;
  sc_core::sc_event pushed_ev_;
  sc_core::sc_event popped_ev_;
  Block* producer_ = nullptr;
  Block* consumer_ = nullptr;
  bool consumer_waits_ = false;
  bool producer_waits_ = false;
  time_ps credit_delay_ps_ = 0;
  time_ps latency_ps_ = 0;
  TraceRecorder* trace_ = nullptr;
  int counter_ = -1;
  /// A registered run (law) at one end: beats left, the next beat's offer / want.
  struct Law {
    std::uint64_t left = 0;
    time_ps next = 0;
    time_ps interval = 0;
    time_ps limit = kNever;
    bool waits = false;              ///< its owner waits for the run to finish
    const time_ps* ready = nullptr;  ///< producer: per-beat readiness (from beat 0 of the run)
    time_ps* times = nullptr;        ///< consumer: per-beat times taken (from beat 0)
    RunListener* pass = nullptr;     ///< consumer: told of each beat taken
    RunResult r;
  };
  Law plaw_, claw_;
  std::uint64_t closed_form_beats_ = 0;
  /// Steady-state check with laws at both ends: from one drained FIFO to the next the
  /// stream moves one period of `depth` beats; its pop times (jcur_), and those of the
  /// period before with the laws' next times and the stall sums then (jprev_, prev_*).
  std::vector<time_ps> jcur_, jprev_;
  time_ps prev_pnext_ = 0, prev_cnext_ = 0;
  std::uint64_t prev_pstall_ = 0, prev_cstall_ = 0, prev_full_ = 0, prev_empty_ = 0;
  bool runs_ok() const {
    return stream_granularity() == Granularity::Burst && !has_values_ && !trace_;
  }
  time_ps wait_for_slot(time_ps t, Block* who);
  time_ps accept_now(time_ps t);              ///< push-side times of the next beat (slot free)
  time_ps take_now(time_ps t, BeatValue* v);  ///< pop-side times of the next beat (one there)
  void law_push_one();
  void law_pop_one();
  void resolve();       ///< advances the registered laws as far as they go
  void steady_check();  ///< both laws, FIFO just drained: closed form over whole periods
  void commit(time_ps visible, BeatValue v);
  void forget_popped();  ///< drops leading popped beats that can no longer delay a push
};

template <typename F>
time_ps Stream::push_deferred(time_ps t, Block* who, F visible_at, BeatValue v) {
  const time_ps accepted = wait_for_slot(t, who);
  commit(visible_at(accepted), std::move(v));
  return accepted;
}

/// Base of every hardware block: a SystemC module with one thread, local time, and a
/// record of what it is waiting on (for deadlock reports).
class Block : public sc_core::sc_module {
 public:
  explicit Block(const sc_core::sc_module_name& n) : sc_core::sc_module(n) {}
  /// What the block is blocked on right now ("" when running or done).
  std::string waiting_on() const;
  /// Records a wait on `s` (push: the stream is full; else it is empty); null clears it.
  void set_waiting(const Stream* s, bool push) {
    wait_stream_ = s;
    wait_push_ = push;
  }
  /// Records a wait that is not on a stream ("" clears it), e.g. the closed loop of decode.
  void set_waiting_other(std::string what) { wait_other_ = std::move(what); }
  bool finished() const { return finished_; }
  /// Records this block's activity on `track` of `rec` (null: no trace).
  void set_trace(TraceRecorder* rec, int track) {
    trace_ = rec;
    track_ = track;
  }

 protected:
  /// Marks the block done and parks its thread for good (call it last in the thread): a
  /// SystemC thread that returns is unlinked from the kernel's process list by a linear
  /// search, quadratic over thousands of blocks; a parked thread costs nothing more.
  void set_finished();
  void trace(const char* what, time_ps b, time_ps e, std::int64_t arg = -1) {
    if (trace_) trace_->complete(track_, what, b, e, arg);
  }
  void trace_instant(const std::string& what, time_ps at) {
    if (trace_) trace_->instant(track_, what, at);
  }

 private:
  const Stream* wait_stream_ = nullptr;
  bool wait_push_ = false;
  std::string wait_other_;  ///< a wait that is not on a stream
  bool finished_ = false;
  TraceRecorder* trace_ = nullptr;
  int track_ = -1;
};

}  // namespace masesim
