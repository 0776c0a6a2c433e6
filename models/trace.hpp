// Timeline recorder: Chrome/Perfetto trace-event JSON (chrome://tracing, ui.perfetto.dev).
// Contract: blocks call complete()/instant() with simulated times in ps; events outside
// the window [begin_ps, end_ps) are dropped, and at most max_events are kept (later ones
// are counted as dropped), so the file size is bounded for long runs. write() emits the
// events sorted by (track, time): the same run gives the same file.
#pragma once
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "models/time.hpp"

namespace masesim {

class TraceRecorder {
 public:
  TraceRecorder(time_ps begin_ps, time_ps end_ps, std::uint64_t max_events)
      : begin_(begin_ps), end_(end_ps), max_(max_events) {}

  /// A track (one row in the viewer): `group` is the process (a device, "links", "host"),
  /// `name` the thread (a node, a link direction). Returns its id.
  int track(const std::string& group, const std::string& name);
  void complete(int track, const char* name, time_ps begin, time_ps end, std::int64_t arg = -1);
  void instant(int track, const std::string& name, time_ps at);
  void write(std::ostream& os) const;
  std::uint64_t kept() const { return events_.size(); }
  std::uint64_t dropped() const { return dropped_; }

 private:
  struct Event {
    int track;
    std::string name;
    time_ps begin, end;
    std::int64_t arg;
    bool instant;
  };
  struct Track {
    std::string group, name;
    int pid, tid;
  };
  bool keep(time_ps b, time_ps e);
  time_ps begin_, end_;
  std::uint64_t max_;
  std::uint64_t dropped_ = 0;
  std::vector<Event> events_;
  std::vector<Track> tracks_;
  std::vector<std::string> groups_;
};

}  // namespace masesim
