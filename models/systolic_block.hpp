// The SystemC block of a node on the systolic GEMM core.
//
// Contract: per inference it reads its B operand whole (matmul/bmm), then every A beat
// (the array needs the whole operand: A is buffered on chip), starts when the array is
// free and the last A beat is in, runs gemm_batch GEMMs back to back — each taking the
// cycles its GemmEngine reports — and then streams C out one beat per cycle. With off-chip
// weights (linear), the weights are read through the TLM-2.0 socket before the GEMM.
// The engine is the cycle model (TLM) or the Verilated RTL (co-simulation); both must
// give the same cycles, so a co-simulated run has the same timing as a TLM one.
#pragma once
#include <tlm_utils/simple_initiator_socket.h>
#include <systemc>
#include <tlm>

#include <cstdint>
#include <string>
#include <vector>

#include "models/node_block.hpp"

namespace masesim {

/// Runs one GEMM of a node and returns its cycles on the array.
class GemmEngine {
 public:
  virtual ~GemmEngine() = default;
  /// @param m,k,n  the GEMM; @param index  which GEMM of the run (seeds test data)
  /// @param a,b    functional mode: the int8 operands (A m×k, B k×n, row-major), else null
  virtual std::uint64_t run(std::int64_t m, std::int64_t k, std::int64_t n, std::uint64_t index,
                            const std::vector<std::int8_t>* a = nullptr,
                            const std::vector<std::int8_t>* b = nullptr) = 0;
  virtual std::string impl() const = 0;  ///< "tlm" or "rtl"
  /// The simulated time at which the next run()'s first cycle starts (waveforms).
  virtual void start_at(time_ps) {}
};

/// The transaction-level engine: the cycle model's count, computed once per shape.
class ModelGemmEngine : public GemmEngine {
 public:
  explicit ModelGemmEngine(std::int64_t cycles_per_gemm) : cycles_(cycles_per_gemm) {}
  std::uint64_t run(std::int64_t, std::int64_t, std::int64_t, std::uint64_t,
                    const std::vector<std::int8_t>*, const std::vector<std::int8_t>*) override {
    return static_cast<std::uint64_t>(cycles_);
  }
  std::string impl() const override { return "tlm"; }

 private:
  std::int64_t cycles_;
};

class SystolicBlock : public Block {
 public:
  SC_HAS_PROCESS(SystolicBlock);
  tlm_utils::simple_initiator_socket<SystolicBlock> mem_socket;

  /// @param timing  OpTiming with engine Systolic
  /// @param engine  cycle source (owned by the caller, outlives the block)
  SystolicBlock(const sc_core::sc_module_name& name, const OpTiming& timing, time_ps period_ps,
                std::vector<Stream*> inputs, Stream* output, std::int64_t inferences,
                GemmEngine* engine);

  const BlockStats& stats() const { return st_; }
  /// Registers its activity counters into `t` (ActivityCounters::write).
  template <typename Tree>
  void write_stats(Tree& t) const {
    st_.act.write(t, period_);
  }
  std::uint64_t engine_cycles() const { return engine_cycles_; }
  const GemmEngine& engine() const { return *engine_; }
  void set_functional(const FunctionalNode& f) {
    functional_ = true;
    fn_ = f;
  }
  const BeatValue& first_output() const { return first_out_; }
  /// GEMMs that ran on the engine with the node's real int8 operands (functional mode).
  std::uint64_t real_operand_gemms() const { return real_gemms_; }

 private:
  void run();
  OpTiming t_;
  time_ps period_;
  std::vector<Stream*> in_;
  Stream* out_;
  std::int64_t inferences_;
  GemmEngine* engine_;
  BlockStats st_;
  std::uint64_t engine_cycles_ = 0;
  bool functional_ = false;
  FunctionalNode fn_;
  BeatValue first_out_;
  std::uint64_t real_gemms_ = 0;
  bool int8_operands(const std::vector<BeatValue>& vals, std::int64_t batch,
                     std::vector<std::int8_t>& a, std::vector<std::int8_t>& b) const;
};

}  // namespace masesim
