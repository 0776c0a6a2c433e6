// A device type (Alveo U250, U280, ...): resources, clock, off-chip memory, ports.
// Plain data; sim/config/device_types.cpp reads it from configs/devices/*.yaml.
#pragma once
#include <string>
#include <vector>

#include "interconnect/pcie.hpp"
#include "models/engine_cost.hpp"
#include "models/memory_timing.hpp"
#include "models/op_cost.hpp"

namespace masesim {

/// One super logic region (a die slice of a stacked-silicon device) and its resources.
struct Slr {
  std::string name;    ///< "SLR0", "SLR1", ... (SLR0 at the bottom of the stack)
  Resources capacity;  ///< LUT, FF, DSP, BRAM36, URAM in this SLR
};

/// The boundary between SLR i and SLR i+1 (stacked in one column: SLR0 ... SLRn-1).
struct SlrCrossing {
  int latency_cycles = 0;      ///< fabric cycles a registered crossing adds to a signal
  int sll_bits_per_cycle = 0;  ///< super long lines across one boundary (1 bit/cycle each),
                               ///< shared by both directions
};

struct DeviceType {
  std::string name;
  /// "fpga" (an accelerator card: fabric resources, QSFP28 cages, PCIe endpoint) or "host"
  /// (a CPU that runs the nodes placed on it with `cpu` costs; its memory is reached from
  /// cards over `pcie`).
  std::string kind = "fpga";
  bool is_host() const { return kind == "host"; }
  engine::CpuConfig cpu;          ///< host: per-op-class costs
  interconnect::PcieParams pcie;  ///< host: the link to each card (root port)
  std::string part;
  Resources capacity;         ///< LUT, FF, DSP, BRAM36, URAM available
  int slrs = 1;               ///< slr_list.size()
  std::vector<Slr> slr_list;  ///< per-SLR resources; they sum to `capacity`
  SlrCrossing slr_crossing;   ///< zero when slrs == 1
  double clock_mhz = 250;
  std::string memory_kind = "ddr4";
  double memory_capacity_gbytes = 64;
  MemoryTiming memory;
  int qsfp28_ports = 2;
};

}  // namespace masesim
