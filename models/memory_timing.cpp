#include "models/memory_timing.hpp"

#include <algorithm>
#include <cmath>

namespace masesim {

time_ps transfer_ps(std::uint64_t bytes, double gbytes_per_s) {
  // 1 GB/s = 1e-3 bytes per ps.
  return static_cast<time_ps>(std::ceil(static_cast<double>(bytes) * 1000.0 / gbytes_per_s - 1e-9));
}

time_ps MemoryChannels::serve(time_ps start, std::uint64_t bytes) {
  // Every request is interleaved over all channels, so they are busy in lockstep: one
  // calendar, each request holding the channels for its largest share.
  const std::uint64_t n = timing_.channels > 0 ? static_cast<std::uint64_t>(timing_.channels) : 1;
  const std::uint64_t lo = bytes / n, extra = bytes % n;
  const time_ps xfer_hi = transfer_ps(lo + (extra ? 1 : 0), timing_.gbytes_per_s_per_channel);
  const time_ps xfer_lo = lo ? transfer_ps(lo, timing_.gbytes_per_s_per_channel) : 0;
  time_ps done = start;
  if (bytes > 0) {
    const time_ps begin = all_.reserve(start, xfer_hi);
    done = begin + xfer_hi;
    busy_ps_ += extra * xfer_hi + (n - extra) * xfer_lo;
  }
  bytes_ += bytes;
  ++requests_;
  return done + timing_.latency_ps;
}

}  // namespace masesim
