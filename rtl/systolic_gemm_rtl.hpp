// Plain C++ driver of the Verilated systolic GEMM core (rtl/systolic_gemm.sv).
//
// Contract: no Verilator or SystemC headers leak from here (pimpl), so any translation
// unit, SystemC ones included, may use it. One object drives one verilated
// configuration (rows, cols, dataflow); available() lists those built into
// masesim_rtl_gemm. run() resets the core, sends the cfg beat, streams A and B with
// valid held high whenever a beat is left and C with ready always high (unless
// RunOptions asks for stalls), clocks the model until the beat with c_last has been
// taken, checks the beat order (C padding lanes zero, c_last on the last beat only) and
// returns C and the cycle count.
//
// Cycle count: cycles = (cycle of the last C handshake) - (cycle of the first A or B
// handshake) + 1, where "cycle of a handshake" is the clock cycle at whose closing rising
// edge valid && ready held. Reset and the cfg handshake are not counted. This is the
// quantity masesim::systolic::gemm_cycles() models.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "systolic_cost.hpp"

namespace masesim::rtl {

using systolic::ArrayConfig;
using systolic::Dataflow;
using systolic::GemmShape;

struct GemmRunResult {
  std::vector<std::int32_t> c;    ///< M x N, row-major
  std::uint64_t cycles = 0;       ///< see the header comment
  std::uint64_t a_beats = 0;      ///< A handshakes seen
  std::uint64_t b_beats = 0;      ///< B handshakes seen
  std::uint64_t c_beats = 0;      ///< C handshakes seen
  std::uint64_t clock_ticks = 0;  ///< all clock cycles simulated, reset and cfg included
  /// Time (RunOptions units) of the rising edge that opens the cycle of the first A or B
  /// handshake: the cycle the model counts as the GEMM's first.
  std::uint64_t first_cycle_time = 0;
};

/// Optional stimulus for run(): random starvation / back-pressure to check that the core
/// stays correct when the streams stall (the cycle count then exceeds the model's).
struct RunOptions {
  std::optional<std::string> vcd_path;  ///< write a VCD waveform (traced instances only)
  double a_idle = 0.0;  ///< probability that A valid stays low in a cycle before a beat
  double b_idle = 0.0;  ///< same for B
  double c_busy = 0.0;  ///< probability that C ready is low in a cycle
  std::uint64_t seed = 1;
  /// Waveform time: the clock period (high for period/2, low for the rest; >= 2) and the
  /// time of the first reset edge, in the VCD's unit (the model's time precision, 1 ps).
  std::uint64_t clock_period = 2;
  std::uint64_t time_origin = 0;
};

class SystolicGemmRtl {
 public:
  /// Throws std::invalid_argument if no verilated instance matches `array`
  /// (rows, cols, dataflow; acc_rows must equal the instance's ACC_ROWS for WS).
  explicit SystolicGemmRtl(const ArrayConfig& array);
  ~SystolicGemmRtl();
  SystolicGemmRtl(const SystolicGemmRtl&) = delete;
  SystolicGemmRtl& operator=(const SystolicGemmRtl&) = delete;

  /// A: M x K row-major int8, B: K x N row-major int8; 1 <= M, K, N <= 65535.
  /// vcd_path: write a VCD waveform of the run (only instances built with --trace;
  /// throws std::runtime_error otherwise, see has_trace()).
  /// Throws std::runtime_error if the core hangs (no C beat for a long time).
  GemmRunResult run(const GemmShape& shape, const std::vector<std::int8_t>& a,
                    const std::vector<std::int8_t>& b,
                    const std::optional<std::string>& vcd_path = std::nullopt);
  /// As above with stalls; with all probabilities 0 it equals run(shape, a, b, vcd_path).
  GemmRunResult run(const GemmShape& shape, const std::vector<std::int8_t>& a,
                    const std::vector<std::int8_t>& b, const RunOptions& options);

  const ArrayConfig& array() const { return array_; }
  bool has_trace() const;

  /// The configurations compiled into this build.
  static std::vector<ArrayConfig> available();
  static bool is_available(const ArrayConfig& array);
  /// Whether the instance matching `array` was built with waveform (VCD) support.
  static bool is_traced(const ArrayConfig& array);
  /// The configurations built with waveform support.
  static std::vector<ArrayConfig> available_traced();

  class Impl;  // defined in systolic_gemm_rtl.cpp

 private:
  ArrayConfig array_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace masesim::rtl
