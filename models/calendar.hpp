// Busy-interval calendar of a shared resource (a memory channel, a link direction).
// Contract: reserve(earliest, duration) returns the earliest start >= `earliest` at which
// the resource is free for `duration`, and books that interval. Requests may arrive in any
// order of their times (blocks run temporally decoupled): a request fills an idle gap
// before intervals booked earlier if the gap is long enough, otherwise it goes after them.
// Already booked intervals never move. Pure C++, O(log n) per request plus the gaps skipped.
#pragma once
#include <cstdint>
#include <iterator>
#include <map>

#include "models/time.hpp"

namespace masesim {

class BusyCalendar {
 public:
  time_ps reserve(time_ps earliest, time_ps duration) {
    if (duration == 0) return earliest;
    time_ps t = earliest;
    auto it = busy_.upper_bound(t);
    if (it != busy_.begin()) {
      auto prev = std::prev(it);
      if (prev->second > t) t = prev->second;  // inside a busy interval: wait for its end
    }
    while (it != busy_.end() && it->first < t + duration) {  // gap too short: skip past
      t = std::max(t, it->second);
      ++it;
    }
    // Book [t, t + duration), merging with touching neighbours to keep the map small.
    time_ps b = t, e = t + duration;
    auto next = busy_.lower_bound(b);
    if (next != busy_.begin()) {
      auto prev = std::prev(next);
      if (prev->second == b) {
        b = prev->first;
        busy_.erase(prev);
      }
    }
    next = busy_.lower_bound(e);
    if (next != busy_.end() && next->first == e) {
      e = next->second;
      busy_.erase(next);
    }
    busy_[b] = e;
    return t;
  }
  std::size_t intervals() const { return busy_.size(); }
  /// Forgets intervals that end at or before `h`: no later request starts before `h`
  /// (the caller's guarantee), and such intervals never affect one that does.
  void prune_before(time_ps h) {
    while (!busy_.empty() && busy_.begin()->second <= h) busy_.erase(busy_.begin());
  }

 private:
  std::map<time_ps, time_ps> busy_;  ///< start -> end, disjoint, sorted
};

}  // namespace masesim
