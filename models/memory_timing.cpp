#include "models/memory_timing.hpp"

#include <algorithm>
#include <cmath>

namespace masesim {

time_ps transfer_ps(std::uint64_t bytes, double gbytes_per_s) {
  // 1 GB/s = 1e-3 bytes per ps.
  return static_cast<time_ps>(std::ceil(static_cast<double>(bytes) * 1000.0 / gbytes_per_s - 1e-9));
}

namespace {

/// Bytes of the busiest channel among the first `m` bytes of a request interleaved
/// byte-wise over `n` channels.
std::uint64_t busiest_share(std::uint64_t m, std::uint64_t n) {
  return m / n + (m % n ? 1 : 0);
}

/// Channel-picoseconds (summed over the channels) of the first `m` bytes of a request.
time_ps channel_busy_ps(std::uint64_t m, std::uint64_t n, double gbytes_per_s) {
  const std::uint64_t lo = m / n, extra = m % n;
  const time_ps t_lo = lo ? transfer_ps(lo, gbytes_per_s) : 0;
  return extra * transfer_ps(lo + 1, gbytes_per_s) + (n - extra) * t_lo;
}

}  // namespace

time_ps MemoryChannels::serve_part(time_ps start, std::uint64_t offset, std::uint64_t bytes,
                                   bool last) {
  // Every request is interleaved over all channels, so they are busy in lockstep: one
  // calendar, each request holding the channels for its largest share.
  const std::uint64_t n = timing_.channels > 0 ? static_cast<std::uint64_t>(timing_.channels) : 1;
  const double rate = timing_.gbytes_per_s_per_channel;
  time_ps done = start;
  if (bytes > 0) {
    const std::uint64_t hi0 = busiest_share(offset, n), hi1 = busiest_share(offset + bytes, n);
    const time_ps xfer = transfer_ps(hi1, rate) - (hi0 ? transfer_ps(hi0, rate) : 0);
    done = all_.reserve(start, xfer) + xfer;
    busy_ps_ += channel_busy_ps(offset + bytes, n, rate) - channel_busy_ps(offset, n, rate);
  }
  bytes_ += bytes;
  if (!last) return done;
  ++requests_;
  return done + timing_.latency_ps;
}

}  // namespace masesim
