// Cycle and beat model of the systolic GEMM core (rtl/systolic_gemm.sv).
//
// Contract: pure functions, no SystemC. gemm_cycles() returns the exact number of clock
// cycles the RTL core needs for one GEMM C[M][N] = A[M][K] * B[K][N], counted from the
// cycle of the first A or B beat handshake up to and including the cycle of the last
// C beat handshake, under the assumption that the A and B streams are always valid
// and the C stream is always ready (no back-pressure, no starvation). With stalls the
// RTL takes longer; the model is then a lower bound. The co-simulation regression
// (tests/cosim) checks exact equality for every tested shape.
//
// Beats (see docs/systolic.md):
//   output-stationary: A beat = one column of an A tile (rows lanes: A[m0+i][k]),
//                      B beat = one row of a B tile (cols lanes: B[k][n0+j]);
//                      A and B beats are consumed in pairs, K pairs per output tile.
//   weight-stationary: B beat = one row of a B tile (cols lanes: B[k0+r][n0+j]) loaded
//                      into the array; A beat = one row slice (rows lanes: A[m][k0+r]).
//   both:              C beat = one row of a C tile (cols lanes of int32: C[m][n0+j]).
//   Lanes beyond the matrix edge are "don't care" on input and zero on output.
#pragma once

#include <cstdint>
#include <string>

namespace masesim::systolic {

enum class Dataflow { OutputStationary, WeightStationary };

/// "output_stationary" / "weight_stationary".
const char* to_string(Dataflow dataflow);
/// Accepts "output_stationary", "os", "weight_stationary", "ws"; throws std::invalid_argument.
Dataflow dataflow_from_string(const std::string& name);

/// One GEMM: C[M][N] = A[M][K] * B[K][N]. All dimensions >= 1.
struct GemmShape {
  std::uint64_t m = 1;
  std::uint64_t k = 1;
  std::uint64_t n = 1;
};

/// The array: rows x cols processing elements and the dataflow.
struct ArrayConfig {
  std::uint32_t rows = 16;
  std::uint32_t cols = 16;
  Dataflow dataflow = Dataflow::OutputStationary;
  /// Weight-stationary only: depth (in C rows) of the partial-sum buffer below the
  /// array; M is processed in blocks of at most acc_rows rows. RTL parameter ACC_ROWS.
  std::uint32_t acc_rows = 32;
};

/// Cycle breakdown of one GEMM. total_cycles = non_overlapped_cycles - overlap_cycles,
/// non_overlapped_cycles = steady + fill + drain + stall (each summed over all tiles as if
/// every tile ran alone).
struct GemmCycles {
  std::uint64_t tiles = 0;           ///< array tiles (OS: output tiles; WS: weight tiles)
  std::uint64_t steady_cycles = 0;   ///< cycles in which a compute beat enters the array
  std::uint64_t fill_cycles = 0;     ///< per-tile pipeline latency, summed over tiles
  std::uint64_t drain_cycles = 0;    ///< per-tile result draining, summed over tiles
  std::uint64_t stall_cycles = 0;    ///< bubbles the core inserts between tiles
  std::uint64_t overlap_cycles = 0;  ///< fill/drain/load cycles hidden behind other tiles
  std::uint64_t total_cycles = 0;    ///< first input handshake .. last output handshake, inclusive
  double utilisation = 0.0;          ///< M*N*K / (total_cycles * rows * cols), in (0, 1]
};

/// Beats the core consumes (A, B) and produces (C) for one GEMM.
struct GemmBeats {
  std::uint64_t a_beats = 0;  ///< each `rows` int8 lanes
  std::uint64_t b_beats = 0;  ///< each `cols` int8 lanes
  std::uint64_t c_beats = 0;  ///< each `cols` int32 lanes
  std::uint32_t a_lanes = 0;
  std::uint32_t b_lanes = 0;
  std::uint32_t c_lanes = 0;
};

/// Exact cycle count of the RTL core (always-valid inputs, always-ready output).
/// Throws std::invalid_argument on a zero dimension or array size.
GemmCycles gemm_cycles(const GemmShape& shape, const ArrayConfig& array);

/// Number of A, B and C beats for one GEMM (independent of stalls).
GemmBeats gemm_beats(const GemmShape& shape, const ArrayConfig& array);

/// ceil(a / b) for b > 0.
constexpr std::uint64_t ceil_div(std::uint64_t a, std::uint64_t b) {
  return (a + b - 1) / b;
}

}  // namespace masesim::systolic
