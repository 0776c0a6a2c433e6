// A device type (Alveo U250, U280, ...): resources, clock, off-chip memory, ports.
// Plain data; sim/device_types.cpp reads it from configs/devices/*.yaml.
#pragma once
#include <string>

#include "models/memory_timing.hpp"
#include "models/op_cost.hpp"

namespace masesim {

struct DeviceType {
  std::string name;
  std::string part;
  Resources capacity;  ///< LUT, FF, DSP, BRAM36, URAM available
  int slrs = 1;
  double clock_mhz = 250;
  std::string memory_kind = "ddr4";
  double memory_capacity_gbytes = 64;
  MemoryTiming memory;
  int qsfp28_ports = 2;
};

}  // namespace masesim
