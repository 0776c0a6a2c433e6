// Off-chip memory timing: the pure part of models/memory.hpp (no SystemC).
#pragma once
#include <cstdint>
#include <vector>

#include "models/calendar.hpp"
#include "models/time.hpp"

namespace masesim {

struct MemoryTiming {
  int channels = 4;
  double gbytes_per_s_per_channel = 19.2;  ///< GB/s (1e9 bytes/s) per channel
  time_ps latency_ps = 100000;             ///< access latency added once per request
};

/// Picoseconds to move `bytes` at `gbytes_per_s` (rounded up: never faster than the rate).
time_ps transfer_ps(std::uint64_t bytes, double gbytes_per_s);

/// Channel occupancy: the pure part of the memory model.
class MemoryChannels {
 public:
  explicit MemoryChannels(const MemoryTiming& t) : timing_(t) {}
  /// Completion time of a request of `bytes` issued at `start`: its share of the bytes on
  /// every channel (byte interleaving, so the channels are busy in lockstep and share one
  /// calendar; a request holds them for its largest share) in the first idle gap at or
  /// after `start` (requests may arrive out of time order), plus the access latency.
  time_ps serve(time_ps start, std::uint64_t bytes) { return serve_part(start, 0, bytes, true); }
  /// One part of a request that is split into several transactions: its bytes
  /// [offset, offset + bytes) in the request's interleaving. The part holds the channels
  /// for the growth of the busiest channel's share, T(⌈(offset+bytes)/n⌉) − T(⌈offset/n⌉),
  /// in the first idle gap at or after `start` (for the next part: this part's return
  /// value), so the parts of a request sum to the duration serve() books for it whole.
  /// The access latency is added, and the request counted, on the `last` part only; a
  /// part that is not last returns the end of its transfer.
  time_ps serve_part(time_ps start, std::uint64_t offset, std::uint64_t bytes, bool last);
  /// Forgets bookings that end before `h` (no request will start earlier).
  void prune_before(time_ps h) { all_.prune_before(h); }
  std::uint64_t bytes() const { return bytes_; }
  std::uint64_t requests() const { return requests_; }
  time_ps busy_ps() const { return busy_ps_; }

 private:
  MemoryTiming timing_;
  BusyCalendar all_;  ///< the channels, busy in lockstep (byte interleaving)
  std::uint64_t bytes_ = 0;
  std::uint64_t requests_ = 0;
  time_ps busy_ps_ = 0;  ///< summed over channels
};

}  // namespace masesim
