#include "models/memory_timing.hpp"

#include <algorithm>
#include <cmath>

namespace masesim {

time_ps transfer_ps(std::uint64_t bytes, double gbytes_per_s) {
  // 1 GB/s = 1e-3 bytes per ps.
  return static_cast<time_ps>(std::ceil(static_cast<double>(bytes) * 1000.0 / gbytes_per_s - 1e-9));
}

time_ps MemoryChannels::serve(time_ps start, std::uint64_t bytes) {
  const std::uint64_t n = channels_.size();
  time_ps done = start;
  for (std::uint64_t c = 0; c < n; ++c) {
    const std::uint64_t share = bytes / n + (c < bytes % n ? 1 : 0);
    if (share == 0) continue;
    const time_ps xfer = transfer_ps(share, timing_.gbytes_per_s_per_channel);
    const time_ps begin = channels_[c].reserve(start, xfer);
    busy_ps_ += xfer;
    done = std::max(done, begin + xfer);
  }
  bytes_ += bytes;
  ++requests_;
  return done + timing_.latency_ps;
}

}  // namespace masesim
