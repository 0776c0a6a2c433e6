// Device type files: per-SLR resources, the SLR-crossing cost, memory kinds, and the
// errors of bad device files (exact messages). Figures: configs/devices/*.yaml and
// docs/devices.md.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "sim/config/device_types.hpp"
#include "workloads/error.hpp"

using namespace masesim;

namespace {
const std::string kDevices = std::string(MASESIM_SOURCE_DIR) + "/configs/devices/";

/// A device file with two SLRs; `slrs` and `extra` replace the SLR part.
std::string device_text(const std::string& slrs, const std::string& extra) {
  return "name: two\nlut: 1000\nff: 2000\ndsp: 10\nbram36: 4\nuram: 2\n" + slrs + extra +
         "clock_mhz: 200\nqsfp28_ports: 0\n"
         "memory: {kind: ddr4, channels: 1, gbytes_per_s: 10, latency_ns: 100, "
         "capacity_gbytes: 1}\n";
}
const std::string kTwoSlrs =
    "slrs:\n"
    "  - {name: SLR0, lut: 600, ff: 1000, dsp: 5, bram36: 2, uram: 2}\n"
    "  - {name: SLR1, lut: 400, ff: 1000, dsp: 5, bram36: 2, uram: 0}\n";
const std::string kCrossing = "slr_crossing: {latency_cycles: 2, sll_bits_per_cycle: 64}\n";

std::string write_file(const std::string& text) {
  const std::string path = testing::TempDir() + "/masesim_device_" +
                           testing::UnitTest::GetInstance()->current_test_info()->name() + ".yaml";
  std::ofstream(path) << text;
  return path;
}

/// load_device_type's error with the file name cut to "d.yaml".
std::string error_of(const std::string& text) {
  const std::string path = write_file(text);
  try {
    load_device_type(path);
  } catch (const InputError& e) {
    std::string m = e.what();
    if (m.compare(0, path.size(), path) == 0) m = "d.yaml" + m.substr(path.size());
    return m;
  }
  return "";
}
}  // namespace

TEST(DeviceTypes, U250HasFourEqualSlrsAndTheirCrossingCost) {
  const DeviceType d = load_device_type(kDevices + "u250.yaml");
  ASSERT_EQ(d.slrs, 4);
  ASSERT_EQ(d.slr_list.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    const Slr& s = d.slr_list[static_cast<std::size_t>(i)];
    EXPECT_EQ(s.name, "SLR" + std::to_string(i));
    EXPECT_EQ(s.capacity[Res::lut], 432000);
    EXPECT_EQ(s.capacity[Res::ff], 864000);
    EXPECT_EQ(s.capacity[Res::dsp], 3072);
    EXPECT_EQ(s.capacity[Res::bram36], 672);
    EXPECT_EQ(s.capacity[Res::uram], 320);
  }
  EXPECT_EQ(d.capacity[Res::lut], 1728000);
  EXPECT_EQ(d.slr_crossing.latency_cycles, 3);
  EXPECT_EQ(d.slr_crossing.sll_bits_per_cycle, 23040);
}

TEST(DeviceTypes, U280HasThreeSlrsSummingToTheDie) {
  const DeviceType d = load_device_type(kDevices + "u280.yaml");
  ASSERT_EQ(d.slrs, 3);
  Resources sum;
  for (const Slr& s : d.slr_list) {
    EXPECT_EQ(s.capacity[Res::lut], 434560);
    EXPECT_EQ(s.capacity[Res::dsp], 3008);
    sum += s.capacity;
  }
  // 162,960 CLBs x 8 LUTs / x 16 FFs (DS890, XCVU37P)
  EXPECT_EQ(d.capacity[Res::lut], 1303680);
  EXPECT_EQ(d.capacity[Res::ff], 2607360);
  EXPECT_EQ(sum[Res::lut], d.capacity[Res::lut]);
  EXPECT_EQ(sum[Res::ff], d.capacity[Res::ff]);
  EXPECT_EQ(sum[Res::dsp], 9024);
  EXPECT_EQ(sum[Res::bram36], 2016);
  EXPECT_EQ(sum[Res::uram], 960);
  EXPECT_EQ(d.slr_crossing.latency_cycles, 3);
  EXPECT_EQ(d.slr_crossing.sll_bits_per_cycle, 23040);
  EXPECT_EQ(d.memory_kind, "hbm2");
}

TEST(DeviceTypes, PynqZ1IsOneSlrWithDdr3AndNoPorts) {
  const DeviceType d = load_device_type(kDevices + "pynq_z1.yaml");
  EXPECT_EQ(d.name, "pynq_z1");
  EXPECT_EQ(d.capacity[Res::lut], 53200);
  EXPECT_EQ(d.capacity[Res::ff], 106400);
  EXPECT_EQ(d.capacity[Res::dsp], 220);
  EXPECT_EQ(d.capacity[Res::bram36], 140);
  EXPECT_EQ(d.capacity[Res::uram], 0);
  ASSERT_EQ(d.slrs, 1);
  EXPECT_EQ(d.slr_list[0].name, "SLR0");
  EXPECT_EQ(d.slr_list[0].capacity[Res::lut], 53200);
  EXPECT_EQ(d.slr_list[0].capacity[Res::bram36], 140);
  EXPECT_EQ(d.slr_crossing.latency_cycles, 0);
  EXPECT_EQ(d.slr_crossing.sll_bits_per_cycle, 0);
  EXPECT_EQ(d.clock_mhz, 100);
  EXPECT_EQ(d.qsfp28_ports, 0);
  EXPECT_EQ(d.memory_kind, "ddr3");
  EXPECT_EQ(d.memory.channels, 1);
  // 16 pins x 1,050 Mb/s / 8 = 2.1 GB/s
  EXPECT_DOUBLE_EQ(d.memory.gbytes_per_s_per_channel, 2.1);
  EXPECT_EQ(d.memory.latency_ps, 120000);
  EXPECT_DOUBLE_EQ(d.memory_capacity_gbytes, 0.5);
}

TEST(DeviceTypes, ListedSlrsAndACountBothLoad) {
  const DeviceType d = load_device_type(write_file(device_text(kTwoSlrs, kCrossing)));
  ASSERT_EQ(d.slrs, 2);
  EXPECT_EQ(d.slr_list[1].name, "SLR1");
  EXPECT_EQ(d.slr_list[1].capacity[Res::lut], 400);
  EXPECT_EQ(d.slr_list[1].capacity[Res::uram], 0);
  EXPECT_EQ(d.slr_crossing.latency_cycles, 2);
  EXPECT_EQ(d.slr_crossing.sll_bits_per_cycle, 64);
  // slrs: N -> N equal SLRs, each 1/N of the totals
  const DeviceType e = load_device_type(write_file(device_text("slrs: 2\n", kCrossing)));
  ASSERT_EQ(e.slrs, 2);
  EXPECT_EQ(e.slr_list[0].name, "SLR0");
  EXPECT_EQ(e.slr_list[1].capacity[Res::lut], 500);
  EXPECT_EQ(e.slr_list[1].capacity[Res::uram], 1);
}

TEST(DeviceTypes, BadSlrDataNamesTheFileAndKey) {
  EXPECT_EQ(error_of(device_text(
                "slrs:\n  - {name: SLR0, lut: 600, ff: 1000, dsp: 5, bram36: 2, uram: 2}\n"
                "  - {name: SLR1, lut: 399, ff: 1000, dsp: 5, bram36: 2, uram: 0}\n",
                kCrossing)),
            "d.yaml:8: slrs: the SLRs' lut sum to 999 but the device has lut = 1000 (the "
            "per-SLR figures must add up to the totals)");
  EXPECT_EQ(error_of(device_text(kTwoSlrs, "")),
            "d.yaml: slr_crossing: required for a device with 2 SLRs ({latency_cycles, "
            "sll_bits_per_cycle})");
  EXPECT_EQ(error_of(device_text("slrs: 1\n", kCrossing)),
            "d.yaml:8: slr_crossing: the device has one SLR, so there is nothing to cross");
  EXPECT_EQ(error_of(device_text(
                "slrs:\n  - {name: SLR0, lut: 600, ff: 1000, dsp: 5, bram36: 2, uram: 2}\n"
                "  - {name: SLR0, lut: 400, ff: 1000, dsp: 5, bram36: 2, uram: 0}\n",
                kCrossing)),
            "d.yaml:9: slrs[1].name: duplicate SLR name 'SLR0'");
  EXPECT_EQ(
      error_of(device_text(
          "slrs:\n  - {name: SLR0, lut: 1000, ff: 2000, dsp: 10, bram36: 4, urams: 2}\n", "")),
      "d.yaml:8: slrs[0]: unknown key 'urams' (did you mean 'uram'?)");
  EXPECT_EQ(error_of(device_text(
                "slrs:\n  - {name: SLR0, lut: 1000, ff: 2000, dsp: 10, bram36: 4}\n", "")),
            "d.yaml:8: slrs[0]: missing required key 'uram'");
  EXPECT_EQ(error_of(device_text("slrs: 0\n", "")), "d.yaml:7: slrs = 0 is out of range (1..16)");
  EXPECT_EQ(error_of(device_text(kTwoSlrs, "slr_crossing: {latency_cycles: 2, sll_bits: 64}\n")),
            "d.yaml:10: slr_crossing: unknown key 'sll_bits'");
  EXPECT_EQ(error_of(device_text(kTwoSlrs,
                                 "slr_crossing: {latency_cycles: -1, sll_bits_per_cycle: 64}\n")),
            "d.yaml:10: slr_crossing.latency_cycles = -1 is out of range (0..1000)");
}

TEST(DeviceTypes, UnknownMemoryKindNamesTheNearest) {
  std::string t = device_text("slrs: 1\n", "");
  t.replace(t.find("kind: ddr4"), 10, "kind: ddr5");
  EXPECT_EQ(error_of(t),
            "d.yaml:10: memory.kind = 'ddr5' is not one of ddr3, ddr4, hbm2 (did you mean "
            "'ddr3'?)");
}

TEST(DeviceTypes, FindSlrGivesTheNearestName) {
  const DeviceType d = load_device_type(kDevices + "u280.yaml");
  EXPECT_EQ(find_slr(d, "SLR2", "c.yaml").capacity[Res::dsp], 3008);
  try {
    find_slr(d, "SLR3", "c.yaml:4: mapping.slr");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()),
              "c.yaml:4: mapping.slr: device type 'u280' has no SLR 'SLR3' (SLRs: SLR0, SLR1, "
              "SLR2) (did you mean 'SLR0'?)");
  }
}

TEST(DeviceTypes, KeyListCoversEveryKeyTheLoaderReads) {
  std::vector<std::string> keys;
  for (const auto& k : device_type_keys()) keys.push_back(k.key);
  for (const char* k :
       {"slrs", "slrs[].name", "slrs[].lut", "slrs[].uram", "slr_crossing.latency_cycles",
        "slr_crossing.sll_bits_per_cycle", "memory.kind", "qsfp28_ports"})
    EXPECT_NE(std::find(keys.begin(), keys.end(), k), keys.end()) << k;
  EXPECT_EQ(memory_kinds(), (std::vector<std::string>{"ddr3", "ddr4", "hbm2"}));
}
