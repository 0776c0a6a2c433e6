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
  time_ps wait_for_slot(time_ps t, Block* who);
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
