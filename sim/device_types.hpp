// Loads device types (configs/devices/<type>.yaml) and the system's device list.
#pragma once
#include <string>
#include <vector>

#include "models/device.hpp"
#include "sim/config.hpp"

namespace masesim {

/// Reads a device type file. InputError naming the file and key on bad input.
DeviceType load_device_type(const std::string& path);

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
