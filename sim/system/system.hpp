// Elaborates a mapped graph into SystemC blocks and runs it.
// Contract: one System per process (SystemC elaborates once). run() returns when every
// sink has received every inference; otherwise it throws SimulationError describing the
// deadlock (which blocks wait on which streams) or the simulated-time limit.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <tlm_utils/simple_initiator_socket.h>

#include "models/memory.hpp"
#include "models/node_block.hpp"
#include "models/systolic_block.hpp"
#include "sim/config/system_spec.hpp"
#include "sim/mapping/mapping.hpp"
#include "sim/system/stats.hpp"
#include "workloads/graph.hpp"

namespace masesim {

class DeviceModule : public sc_core::sc_module {
 public:
  OffChipMemory memory;
  /// The host's DMA path into the device memory (PCIe); always bound, so a device that
  /// holds no node still elaborates.
  tlm_utils::simple_initiator_socket<DeviceModule> host;
  DeviceModule(const sc_core::sc_module_name& name, const DeviceType& type);
  const DeviceType& type() const { return type_; }

 private:
  DeviceType type_;
};

struct RunSummary {
  std::int64_t inferences = 0;
  time_ps latency_ps = 0;
  time_ps total_ps = 0;
  double throughput_per_s = 0;
  double clock_mhz = 0;
  std::string bottleneck;
};

struct LlmPlan;

/// Per-run options that are not part of the configuration.
struct SimOptions {
  /// LLM mode (sim/llm/llm.hpp): per-step variants, closed-loop injection, LLM metrics.
  const LlmPlan* llm = nullptr;
  std::vector<std::string> cosim;  ///< globs of systolic nodes to run on the Verilated RTL
  std::string vcd_path;            ///< waveform of the first co-simulated GEMM
  bool trace = false;              ///< record a timeline (trace())
  double trace_begin_us = 0, trace_end_us = 1e18;  ///< simulated-time window of the timeline
  std::uint64_t trace_max_events = 350000;         ///< about 45 MB of JSON (<= 130 bytes an event)
  /// Called when inference i (of n) completed at simulated time t (progress display).
  std::function<void(std::int64_t, std::int64_t, time_ps)> on_inference;
  /// Called when a node finished one inference: `done` of `total` simulated work (each
  /// node-inference weighted by its ideal cycles x clock period), at simulated time t.
  std::function<void(double done, double total, time_ps t)> on_progress;
};

class System {
 public:
  /// `g`, `m` and `spec` must outlive the System.
  System(const Graph& g, const Mapping& m, const SystemSpec& spec, const SimOptions& opts = {});
  ~System();
  /// Runs to completion. SimulationError on deadlock or time limit.
  void run();
  /// Fills the stats tree (call after run()).
  RunSummary report(StatsTree& root) const;
  /// Functional mode: compares every node's first-inference output with the reference in
  /// the data folder; fills nodes.<n>.check and reference_check; returns failing nodes.
  std::int64_t check_reference(StatsTree& root, double tolerance) const;
  /// Functional mode: writes every graph output's tensors, one row per inference, to
  /// `dir`/outputs/<output>.npy (shape [inferences, ...]).
  void write_outputs(const std::string& dir) const;
  /// The timeline, when SimOptions::trace was set (else null).
  const TraceRecorder* trace() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Human-readable summary of a finished run.
std::string format_summary(const StatsTree& s);

}  // namespace masesim
