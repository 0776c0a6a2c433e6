// Timeline recorder: Chrome/Perfetto trace-event JSON (chrome://tracing, ui.perfetto.dev).
//
// Contract:
// * Blocks call complete()/instant() with simulated times in ps on a track they were given
//   (track()); counters (counter()) take amounts spread over intervals (add()).
// * Truthful rendering: write() never puts two overlapping complete ("X") events on one
//   viewer thread. Each kind of slice of a track (its name: "inference", "wait weights",
//   "frame", ...) gets its own thread, and slices of one kind that overlap (inferences in
//   flight at once) go to further threads ("slot 2", "slot 3", ...; lowest free slot first).
// * Aggregation: slices of a kind declared with merge() that start at most `gap_ps` after
//   the previous one of the same track and kind ended become one slice whose args say how
//   many were merged ("n"), the time they covered ("busy_us") and the sum of their args
//   ("sum"). Counters are sampled in equal time buckets counted from the window's start
//   (the bucket doubles when the run outgrows it), so their size is bounded whatever the
//   run's length.
// * Window: events outside [begin_ps, end_ps) are dropped, slices are clipped to it.
// * Budget: at most max_events events are written (counter samples included). When more
//   arrive, the latest-starting ones are dropped, so the file holds every event that
//   starts before a cut-off time and none after it (cut_ps()); dropped() and
//   drop_summary() say how many of which kind.
// * write() emits the events sorted by (track, time): the same run gives the same file.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "models/time.hpp"

namespace masesim {

class TraceRecorder {
 public:
  TraceRecorder(time_ps begin_ps, time_ps end_ps, std::uint64_t max_events)
      : begin_(begin_ps), end_(end_ps), cut_(end_ps), max_(max_events) {}

  /// A track (one row, or several for overlapping slices, in the viewer): `group` is the
  /// process (a device, "links", "host"), `name` the thread (a node, a link direction).
  int track(const std::string& group, const std::string& name);
  /// Slices of `kind` on `track` separated by at most `gap_ps` are merged (see above).
  void merge(int track, const std::string& kind, time_ps gap_ps);
  /// A counter track `name` in `group`; a sample is (sum of add() amounts in the bucket)
  /// * `scale` / (bucket length in ps), e.g. busy ps * 100 -> percent, bytes * 1000 -> GB/s.
  int counter(const std::string& group, const std::string& name, double scale);
  /// Every complete() on `track` also adds its duration to `counter` (busy time).
  void count_busy(int track, int counter);
  /// Adds `amount` to `counter`, spread evenly over [begin, end) (all at begin if empty).
  void add(int counter, time_ps begin, time_ps end, double amount);

  /// Called for every complete() (before the window and the budget), e.g. for progress.
  using Observer = std::function<void(int track, const char* name, time_ps end, std::int64_t arg)>;
  void observe(Observer f) { observer_ = std::move(f); }
  /// false: record nothing (only the observer sees the slices).
  void set_recording(bool on) { recording_ = on; }

  void complete(int track, const char* name, time_ps begin, time_ps end, std::int64_t arg = -1);
  void instant(int track, const std::string& name, time_ps at);
  /// Closes the open merged slices and bounds the counters at `end_ps` (the end of the
  /// simulation); call once after the run, before write().
  void finish(time_ps end_ps);
  void write(std::ostream& os) const;

  std::uint64_t kept() const;  ///< events write() emits (after finish())
  std::uint64_t dropped() const { return dropped_total_; }
  /// Events dropped by the budget start at or after this time (kNever: none dropped).
  time_ps cut_ps() const { return cut_ < end_ ? cut_ : kNever; }
  /// "" when nothing was dropped, else e.g. "1234 events starting after 56.7 us (frame
  /// 1200, inference 34)".
  std::string drop_summary() const;
  /// Slices absorbed into merged ones (not counted as events).
  std::uint64_t merged() const { return merged_; }

 private:
  struct Event {
    time_ps begin, end;
    std::int64_t arg;  ///< -1: none
    std::int64_t n;    ///< slices merged into this one (1: a plain slice; 0: an instant)
    std::int64_t sum;  ///< merged: sum of the args; busy_ps for merged slices in `busy`
    time_ps busy;      ///< merged: time covered by the merged slices
    std::int32_t track;
    std::uint32_t name;  ///< interned
  };
  struct Track {
    std::string group, name;
    int pid;
    int busy_counter = -1;
  };
  struct Counter {
    std::string group, name;
    int pid;
    double scale;
    std::vector<double> bucket;
  };
  /// A viewer thread: its process, id and name.
  struct ThreadName {
    int pid, tid;
    std::string name;
  };
  static bool by_begin(const Event& a, const Event& b);
  /// Viewer threads for the sorted events `all`: per track, per kind of slice, per slot of
  /// overlapping slices; `tid_of[k]` gets event k's thread.
  std::vector<ThreadName> assign_threads(const std::vector<Event>& all,
                                         std::vector<int>& tid_of) const;
  /// The counters' samples (one per bucket whose value changed), each after `sep()`.
  void write_counters(std::ostream& os, const std::function<void()>& sep) const;
  std::uint32_t intern(const std::string& s);
  int pid_of(const std::string& group);
  void insert(const Event& e);
  void add_clipped(Counter& c, time_ps b, time_ps e, double amount);
  void grow_buckets(std::size_t need);
  std::size_t counter_cap();
  std::uint64_t counter_samples() const;

  time_ps begin_, end_, cut_;
  std::uint64_t max_;
  time_ps sim_end_ = kNever;
  Observer observer_;
  bool recording_ = true;
  std::vector<Event> heap_;  ///< max-heap on begin: the latest-starting event is evicted first
  std::vector<Track> tracks_;
  std::vector<Counter> counters_;
  std::vector<std::string> groups_;
  std::vector<std::string> names_;
  std::map<std::string, std::uint32_t> name_ids_;
  std::map<std::pair<int, std::uint32_t>, time_ps> merge_gap_;
  std::map<std::pair<int, std::uint32_t>, Event> open_;  ///< merged slices being extended
  std::map<std::uint32_t, std::uint64_t> dropped_;       ///< by name
  std::uint64_t dropped_total_ = 0;
  std::uint64_t merged_ = 0;
  time_ps bucket_ps_ = 1000;  ///< counter bucket length
  std::size_t cap_ = 0;       ///< counter buckets per counter (0: not fixed yet)
};

}  // namespace masesim
