// Simulated time in integer picoseconds. Devices convert with their clock period.
#pragma once
#include <cstdint>

namespace masesim {

using time_ps = std::uint64_t;
constexpr time_ps kNever = ~time_ps{0};

/// Clock period in whole picoseconds for a clock in MHz (250 MHz -> 4000 ps). The
/// rounding error (300 MHz -> 3333 ps, 0.01 %) is reported as the effective clock.
constexpr time_ps period_ps_for_mhz(double mhz) {
  return static_cast<time_ps>(1e6 / mhz + 0.5);
}

}  // namespace masesim
