#include "sim/device_types.hpp"

#include <sys/stat.h>
#include <cstdlib>
#include <set>

#include "workloads/error.hpp"
#include "workloads/yaml_util.hpp"

namespace masesim {

namespace {
bool is_file(const std::string& p) {
  struct stat st {};
  return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}
double positive(const std::string& file, const YAML::Node& map, const std::string& key,
                bool allow_zero = false) {
  const YAML::Node n = yaml::require(file, map, "device", key);
  const double v = yaml::as_double(file, n, key);
  if (v < 0 || (!allow_zero && v == 0))
    throw InputError(yaml::where(file, n) + ": " + key + " = " + n.Scalar() + " must be " +
                     (allow_zero ? "non-negative" : "positive"));
  return v;
}
}  // namespace

DeviceType load_device_type(const std::string& path) {
  const YAML::Node y = yaml::load_file(path);
  yaml::check_keys(path, y, "device type",
                   {"name", "part", "lut", "ff", "dsp", "bram36", "uram", "slrs", "clock_mhz",
                    "memory", "qsfp28_ports"});
  DeviceType d;
  d.name = yaml::as_string(path, yaml::require(path, y, "device type", "name"), "name");
  if (y["part"]) d.part = yaml::as_string(path, y["part"], "part");
  d.capacity.lut = positive(path, y, "lut");
  d.capacity.ff = positive(path, y, "ff");
  d.capacity.dsp = positive(path, y, "dsp", true);
  d.capacity.bram36 = positive(path, y, "bram36", true);
  d.capacity.uram = positive(path, y, "uram", true);
  d.slrs = static_cast<int>(positive(path, y, "slrs"));
  d.clock_mhz = positive(path, y, "clock_mhz");
  if (d.clock_mhz > 2000)
    throw InputError(path + ": clock_mhz = " + std::to_string(d.clock_mhz) +
                     " is out of range (0..2000]");
  d.qsfp28_ports = static_cast<int>(positive(path, y, "qsfp28_ports", true));
  const YAML::Node m = yaml::require(path, y, "device type", "memory");
  yaml::check_keys(path, m, "memory",
                   {"kind", "channels", "gbytes_per_s", "latency_ns", "capacity_gbytes"});
  d.memory_kind = yaml::as_string(path, yaml::require(path, m, "memory", "kind"), "memory.kind");
  const double ch = positive(path, m, "channels");
  if (ch != static_cast<int>(ch) || ch > 1024)
    throw InputError(yaml::where(path, m["channels"]) +
                     ": memory.channels must be an integer 1..1024");
  d.memory.channels = static_cast<int>(ch);
  d.memory.gbytes_per_s_per_channel = positive(path, m, "gbytes_per_s") / ch;
  d.memory.latency_ps = static_cast<time_ps>(positive(path, m, "latency_ns", true) * 1000.0);
  d.memory_capacity_gbytes = positive(path, m, "capacity_gbytes");
  return d;
}

std::string find_device_type_file(const Config& cfg, const std::string& type) {
  if (type.size() > 5 && type.compare(type.size() - 5, 5, ".yaml") == 0) {
    const std::string p = cfg.resolve_path(type);
    if (!is_file(p))
      throw InputError(cfg.file() + ": system.devices: device type file '" + p + "' not found");
    return p;
  }
  std::vector<std::string> dirs = {cfg.base_dir() + "/devices"};
  if (const char* d = std::getenv("MASESIM_DATA_DIR"))
    dirs.push_back(std::string(d) + "/configs/devices");
  dirs.push_back(std::string(MASESIM_SOURCE_DIR) + "/configs/devices");
  for (const auto& d : dirs)
    if (is_file(d + "/" + type + ".yaml")) return d + "/" + type + ".yaml";
  throw InputError(cfg.file() + ": system.devices: unknown device type '" + type +
                   "' (looked for " + type + ".yaml in " + dirs[0] + " and " + dirs.back() + ")" +
                   did_you_mean(type, {"u250", "u280"}));
}

std::vector<DeviceInstance> load_system_devices(const Config& cfg) {
  const YAML::Node list = cfg.get_node("system.devices");
  const std::string f = cfg.file();
  if (!list.IsSequence() || list.size() == 0)
    throw InputError(f + ": system.devices: expected a non-empty list");
  std::vector<DeviceInstance> out;
  std::set<std::string> names;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const YAML::Node e = list[i];
    const std::string ctx = "system.devices[" + std::to_string(i) + "]";
    yaml::check_keys(f, e, ctx, {"name", "type", "count", "prefix"});
    const std::string type = yaml::as_string(f, yaml::require(f, e, ctx, "type"), ctx + ".type");
    const DeviceType dt = load_device_type(find_device_type_file(cfg, type));
    std::int64_t count = 1;
    if (e["count"]) {
      count = yaml::as_int(f, e["count"], ctx + ".count");
      if (count < 1 || count > 4096)
        throw InputError(yaml::where(f, e["count"]) + ": " + ctx +
                         ".count = " + std::to_string(count) + " must be 1..4096");
      if (e["name"])
        throw InputError(yaml::where(f, e) + ": " + ctx + ": give either name or count, not both");
    }
    const std::string prefix =
        e["prefix"] ? yaml::as_string(f, e["prefix"], ctx + ".prefix") : "fpga";
    for (std::int64_t k = 0; k < count; ++k) {
      DeviceInstance d;
      d.name = e["name"] ? yaml::as_string(f, e["name"], ctx + ".name")
                         : prefix + std::to_string(out.size());
      d.type = dt;
      if (cfg.get_double("system.clock_mhz") > 0)
        d.type.clock_mhz = cfg.get_double("system.clock_mhz");
      if (!names.insert(d.name).second)
        throw InputError(yaml::where(f, e) + ": " + ctx + ": duplicate device name '" + d.name +
                         "'");
      out.push_back(d);
    }
  }
  return out;
}

}  // namespace masesim
