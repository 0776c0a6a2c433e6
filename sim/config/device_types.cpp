#include "sim/config/device_types.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
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
                bool allow_zero = false, const std::string& ctx = "device") {
  const YAML::Node n = yaml::require(file, map, ctx, key);
  const double v = yaml::as_double(file, n, key);
  if (v < 0 || (!allow_zero && v == 0))
    throw InputError(yaml::where(file, n) + ": " + (ctx == "device" ? "" : ctx + ".") + key +
                     " = " + n.Scalar() + " must be " + (allow_zero ? "non-negative" : "positive"));
  return v;
}
std::int64_t int_in(const std::string& file, const YAML::Node& map, const std::string& ctx,
                    const std::string& key, std::int64_t lo, std::int64_t hi) {
  const YAML::Node n = yaml::require(file, map, ctx, key);
  const std::string full = ctx == "device" ? key : ctx + "." + key;
  const std::int64_t v = yaml::as_int(file, n, full);
  if (v < lo || v > hi)
    throw InputError(yaml::where(file, n) + ": " + full + " = " + n.Scalar() +
                     " is out of range (" + std::to_string(lo) + ".." + std::to_string(hi) + ")");
  return v;
}

/// The keys of device_type_keys() directly under `prefix` ("" = top level).
std::vector<std::string> keys_under(const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& k : device_type_keys()) {
    if (k.key.compare(0, prefix.size(), prefix) != 0) continue;
    std::string rest = k.key.substr(prefix.size());
    rest = rest.substr(0, rest.find('.'));
    if (rest.size() > 2 && rest.compare(rest.size() - 2, 2, "[]") == 0)
      rest.resize(rest.size() - 2);
    if (!rest.empty() && std::find(out.begin(), out.end(), rest) == out.end()) out.push_back(rest);
  }
  return out;
}

constexpr int kMaxSlrs = 16;

std::string number_text(double v) {
  std::string t = std::to_string(v);
  t.erase(t.find_last_not_of('0') + 1);
  if (!t.empty() && t.back() == '.') t.pop_back();
  return t;
}

/// slrs: N (N equal SLRs) or a list of {name, lut, ff, dsp, bram36, uram}; then the
/// crossing cost when there is more than one.
void load_slrs(const std::string& path, const YAML::Node& y, DeviceType& d) {
  const YAML::Node s = yaml::require(path, y, "device type", "slrs");
  if (s.IsScalar()) {
    const std::int64_t n = int_in(path, y, "device", "slrs", 1, kMaxSlrs);
    for (std::int64_t i = 0; i < n; ++i) {
      Slr slr;
      slr.name = "SLR" + std::to_string(i);
      for (const auto& f : kResourceKinds)
        slr.capacity[f.kind] = d.capacity[f.kind] / static_cast<double>(n);
      d.slr_list.push_back(slr);
    }
  } else if (s.IsSequence()) {
    if (s.size() == 0 || s.size() > static_cast<std::size_t>(kMaxSlrs))
      throw InputError(yaml::where(path, s) + ": slrs: expected 1.." + std::to_string(kMaxSlrs) +
                       " SLRs, found " + std::to_string(s.size()));
    std::set<std::string> names;
    for (std::size_t i = 0; i < s.size(); ++i) {
      const YAML::Node e = s[i];
      const std::string ctx = "slrs[" + std::to_string(i) + "]";
      if (!e.IsMap())
        throw InputError(yaml::where(path, e) + ": " + ctx +
                         ": expected a map {name, lut, ff, dsp, bram36, uram}");
      yaml::check_keys(path, e, ctx, keys_under("slrs[]."));
      Slr slr;
      slr.name = yaml::as_string(path, yaml::require(path, e, ctx, "name"), ctx + ".name");
      if (slr.name.empty() || !names.insert(slr.name).second)
        throw InputError(
            yaml::where(path, e["name"]) + ": " + ctx + ".name: " +
            (slr.name.empty() ? "empty SLR name" : "duplicate SLR name '" + slr.name + "'"));
      for (const auto& f : kResourceKinds)
        slr.capacity[f.kind] = positive(path, e, f.name, true, ctx);
      d.slr_list.push_back(slr);
    }
    for (const auto& f : kResourceKinds) {
      double sum = 0;
      for (const auto& slr : d.slr_list) sum += slr.capacity[f.kind];
      const double total = d.capacity[f.kind];
      if (std::fabs(sum - total) > 1e-9 * std::max(1.0, total))
        throw InputError(yaml::where(path, s) + ": slrs: the SLRs' " + f.name + " sum to " +
                         number_text(sum) + " but the device has " + f.name + " = " +
                         number_text(total) + " (the per-SLR figures must add up to the totals)");
    }
  } else {
    throw InputError(yaml::where(path, s) +
                     ": slrs: expected a count or a list of {name, lut, ff, dsp, bram36, uram}");
  }
  d.slrs = static_cast<int>(d.slr_list.size());

  const YAML::Node c = y["slr_crossing"];
  if (d.slrs == 1) {
    if (c)
      throw InputError(yaml::where(path, c) +
                       ": slr_crossing: the device has one SLR, so there is nothing to cross");
    return;
  }
  if (!c)
    throw InputError(path + ": slr_crossing: required for a device with " + std::to_string(d.slrs) +
                     " SLRs ({latency_cycles, sll_bits_per_cycle})");
  if (!c.IsMap())
    throw InputError(yaml::where(path, c) +
                     ": slr_crossing: expected a map {latency_cycles, sll_bits_per_cycle}");
  yaml::check_keys(path, c, "slr_crossing", keys_under("slr_crossing."));
  d.slr_crossing.latency_cycles =
      static_cast<int>(int_in(path, c, "slr_crossing", "latency_cycles", 0, 1000));
  d.slr_crossing.sll_bits_per_cycle =
      static_cast<int>(int_in(path, c, "slr_crossing", "sll_bits_per_cycle", 1, 1000000));
}
}  // namespace

const std::vector<DeviceKeyDecl>& device_type_keys() {
  static const std::vector<DeviceKeyDecl> keys = [] {
    std::vector<DeviceKeyDecl> k = {
        {"name", "", "device type name (as system.devices[].type refers to it)"},
        {"kind", "",
         "fpga (an accelerator card, the default) or host (a CPU running the nodes placed on it; "
         "no fabric keys)"},
        {"part", "", "the FPGA part or the CPU model (informational)"},
        {"slrs", "",
         "the SLRs: a count (that many equal SLRs, each 1/N of the totals) or a list "
         "of per-SLR resources summing to the totals"},
        {"slrs[].name", "", "SLR name (SLR0 at the bottom of the stack)"},
        {"slr_crossing.latency_cycles", "cycles",
         "cycles a registered crossing of one SLR boundary adds (required with more than one SLR)"},
        {"slr_crossing.sll_bits_per_cycle", "bits/cycle",
         "super long lines across one boundary, both directions together (required with more "
         "than one SLR)"},
        {"clock_mhz", "MHz",
         "default fabric clock (system.clock_mhz overrides it); a host's core clock (its cycle "
         "statistics)"},
        {"qsfp28_ports", "ports", "QSFP28 cages (0: the device has no network links)"},
        {"memory.kind", "", "off-chip memory: ddr3, ddr4 or hbm2"},
        {"memory.channels", "channels", "independent memory channels (1..1024)"},
        {"memory.gbytes_per_s", "GB/s", "peak bandwidth of all channels together"},
        {"memory.latency_ns", "ns", "access latency of one request"},
        {"memory.capacity_gbytes", "GB", "memory capacity"},
        {"cpu.gemm_gmacs_per_s", "GMAC/s",
         "host: MACs per second of linear, matmul and conv nodes (required for a host)"},
        {"cpu.vector_gelems_per_s", "Gelem/s",
         "host: output elements per second of element-wise, pool and norm nodes (times their "
         "ops per element; required for a host)"},
        {"cpu.memory_gbytes_per_s", "GB/s",
         "host: bandwidth a node's operands stream at (required for a host)"},
        {"cpu.op_overhead_ns", "ns", "host: dispatch time added to every node (required)"},
        {"pcie.generation", "", "host: PCIe generation of the link to each card, 1..5 (default 3)"},
        {"pcie.lanes", "lanes", "host: lanes of the link, 1/2/4/8/16 (default 16)"},
        {"pcie.max_payload_bytes", "bytes", "host: TLP max payload size (default 256)"},
        {"pcie.tlp_overhead_bytes", "bytes",
         "host: header, sequence, LCRC and framing bytes per TLP (default 24)"},
        {"pcie.latency_ns", "ns", "host: latency of one DMA transfer (default 1000)"},
    };
    // One key per resource kind, on the device and on each SLR (after "part").
    std::vector<DeviceKeyDecl> res, slr;
    for (const auto& r : kResourceKinds) {
      res.push_back({r.name, r.label, std::string(r.description) + " of the device"});
      slr.push_back(
          {std::string("slrs[].") + r.name, r.label, std::string(r.description) + " in this SLR"});
    }
    k.insert(k.begin() + 3, res.begin(), res.end());
    k.insert(k.begin() + 3 + static_cast<std::ptrdiff_t>(res.size()) + 2, slr.begin(), slr.end());
    return k;
  }();
  return keys;
}

const std::vector<std::string>& memory_kinds() {
  static const std::vector<std::string> kinds = {"ddr3", "ddr4", "hbm2"};
  return kinds;
}

namespace {
/// kind: host: a CPU with memory and PCIe, no fabric.
void load_host(const std::string& path, const YAML::Node& y, DeviceType& d) {
  for (const char* k :
       {"lut", "ff", "dsp", "bram36", "uram", "slrs", "slr_crossing", "qsfp28_ports"})
    if (y[k])
      throw InputError(yaml::where(path, y[k]) + ": " + k +
                       ": a device of kind host has no FPGA fabric or QSFP28 cages");
  d.slrs = 1;
  d.slr_list = {Slr{"SLR0", Resources{}}};
  d.qsfp28_ports = 0;
  const YAML::Node c = yaml::require(path, y, "device type", "cpu");
  yaml::check_keys(path, c, "cpu", keys_under("cpu."));
  d.cpu.gemm_macs_per_s = positive(path, c, "gemm_gmacs_per_s", false, "cpu") * 1e9;
  d.cpu.vector_elems_per_s = positive(path, c, "vector_gelems_per_s", false, "cpu") * 1e9;
  d.cpu.bytes_per_s = positive(path, c, "memory_gbytes_per_s", false, "cpu") * 1e9;
  d.cpu.op_overhead_ns = positive(path, c, "op_overhead_ns", true, "cpu");
  if (const YAML::Node p = y["pcie"]) {
    yaml::check_keys(path, p, "pcie", keys_under("pcie."));
    auto get_int = [&](const char* key, int& v) {
      if (p[key]) v = static_cast<int>(int_in(path, p, "pcie", key, 0, 1 << 20));
    };
    get_int("generation", d.pcie.generation);
    get_int("lanes", d.pcie.lanes);
    get_int("max_payload_bytes", d.pcie.max_payload_bytes);
    get_int("tlp_overhead_bytes", d.pcie.tlp_overhead_bytes);
    if (p["latency_ns"]) d.pcie.latency_ns = positive(path, p, "latency_ns", true, "pcie");
    const std::string bad = interconnect::pcie_check(d.pcie);
    if (!bad.empty()) throw InputError(yaml::where(path, p) + ": " + bad);
  }
}
}  // namespace

DeviceType load_device_type(const std::string& path) {
  const YAML::Node y = yaml::load_file(path);
  yaml::check_keys(path, y, "device type", keys_under(""));
  DeviceType d;
  d.name = yaml::as_string(path, yaml::require(path, y, "device type", "name"), "name");
  if (y["part"]) d.part = yaml::as_string(path, y["part"], "part");
  if (y["kind"]) {
    d.kind = yaml::as_string(path, y["kind"], "kind");
    if (d.kind != "fpga" && d.kind != "host")
      throw InputError(yaml::where(path, y["kind"]) + ": kind = '" + d.kind +
                       "' is not fpga or host" + did_you_mean(d.kind, {"fpga", "host"}));
  }
  if (d.is_host()) {
    load_host(path, y, d);
  } else {
    for (const char* k : {"cpu", "pcie"})
      if (y[k])
        throw InputError(yaml::where(path, y[k]) + ": " + k +
                         ": only a device of kind host has this section");
    for (const auto& k : kResourceKinds)
      d.capacity[k.kind] = positive(path, y, k.name, k.may_be_zero);
    load_slrs(path, y, d);
    d.qsfp28_ports = static_cast<int>(positive(path, y, "qsfp28_ports", true));
  }
  d.clock_mhz = positive(path, y, "clock_mhz");
  const double max_mhz = d.is_host() ? 10000 : 2000;
  if (d.clock_mhz > max_mhz)
    throw InputError(path + ": clock_mhz = " + std::to_string(d.clock_mhz) +
                     " is out of range (0.." + std::to_string(static_cast<int>(max_mhz)) + "]");
  const YAML::Node m = yaml::require(path, y, "device type", "memory");
  yaml::check_keys(path, m, "memory", keys_under("memory."));
  const YAML::Node kind = yaml::require(path, m, "memory", "kind");
  d.memory_kind = yaml::as_string(path, kind, "memory.kind");
  const auto& kinds = memory_kinds();
  if (std::find(kinds.begin(), kinds.end(), d.memory_kind) == kinds.end())
    throw InputError(yaml::where(path, kind) + ": memory.kind = '" + d.memory_kind +
                     "' is not one of ddr3, ddr4, hbm2" + did_you_mean(d.memory_kind, kinds));
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

const Slr& find_slr(const DeviceType& d, const std::string& name, const std::string& where) {
  std::vector<std::string> names;
  for (const auto& s : d.slr_list) {
    if (s.name == name) return s;
    names.push_back(s.name);
  }
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  throw InputError(where + ": device type '" + d.name + "' has no SLR '" + name +
                   "' (SLRs: " + list + ")" + did_you_mean(name, names));
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
                   did_you_mean(type, {"u250", "u280", "pynq_z1", "host_x86"}));
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
      if (cfg.get_double("system.clock_mhz") > 0 && !dt.is_host())
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
