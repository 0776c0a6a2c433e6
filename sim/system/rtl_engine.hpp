// The co-simulation engine: runs a systolic node's GEMMs on the Verilated RTL core
// (rtl/), with seeded random int8 operands in timing mode, and checks every result
// against the plain C++ reference. Only built when Verilator is available.
#pragma once
#include <memory>
#include <string>

#include "models/systolic_block.hpp"

namespace masesim {

struct RtlEngineOptions {
  std::int64_t rows = 16, cols = 16;
  bool weight_stationary = false;
  std::string node;          ///< for seeds and messages
  std::string vcd_path;      ///< "" = no waveform; else the first GEMM is traced
  time_ps period_ps = 4000;  ///< the device's clock period (the waveform's clock)
};

/// True when this build contains the Verilated core.
bool rtl_available();

/// Throws InputError when no Verilated instance matches the array, or when a waveform is
/// asked of an instance built without tracing (the message lists those with tracing).
std::unique_ptr<GemmEngine> make_rtl_engine(const RtlEngineOptions& o);

/// Result mismatches an RTL engine saw (0 for any other engine).
std::uint64_t rtl_mismatches(const GemmEngine& e);

}  // namespace masesim
