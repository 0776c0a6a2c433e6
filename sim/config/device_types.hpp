// Loads device types (configs/devices/<type>.yaml) and the system's device list.
// Contract: a loaded DeviceType has positive LUT/FF and clock, a known memory kind, and
// 1..16 SLRs whose resources sum to the device totals (a device with more than one SLR
// also has its SLR-crossing cost); anything else is an InputError naming the file, the
// line and the key.
#pragma once
#include <string>
#include <vector>

#include "models/device.hpp"
#include "sim/config/config.hpp"

namespace masesim {

/// One key of a device-type file (the single list: the loader's key check, docs/devices.md
/// and `simulate --list-keys` come from it). `key` is dotted; "slrs[]." marks the keys of
/// each entry of the SLR list.
struct DeviceKeyDecl {
  std::string key;
  std::string unit;
  std::string description;
};
const std::vector<DeviceKeyDecl>& device_type_keys();

/// The off-chip memory kinds a device file may name (memory.kind).
const std::vector<std::string>& memory_kinds();

/// Reads a device type file. InputError naming the file and key on bad input.
DeviceType load_device_type(const std::string& path);

/// The SLR called `name` of `d`; InputError naming `where`, the SLR and the nearest name.
const Slr& find_slr(const DeviceType& d, const std::string& name, const std::string& where);

/// Where `type` is found: a path to a .yaml file, or <config dir>/devices/<type>.yaml,
/// or $MASESIM_DATA_DIR/configs/devices/<type>.yaml, or the source tree's configs/devices.
std::string find_device_type_file(const Config& cfg, const std::string& type);

struct DeviceInstance {
  std::string name;
  DeviceType type;
};

/// Expands system.devices ({name,type} or {count,type[,prefix]}); names are unique.
std::vector<DeviceInstance> load_system_devices(const Config& cfg);

}  // namespace masesim
