#include <gtest/gtest.h>

#include "sim/config/config.hpp"
#include "sim/config/device_types.hpp"
#include "workloads/error.hpp"

using namespace masesim;

namespace {
std::string error_of(const std::string& text) {
  try {
    Config::from_text(text, "c.yaml", ".");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Config, DefaultsAndOverrides) {
  Config c = Config::from_text("workload: {graph: g.json, dims: {seq: 512}}\n", "c.yaml", "/base");
  EXPECT_EQ(c.get_int("workload.inferences"), 4);
  EXPECT_EQ(c.get_int("simulation.stream_depth"), 2);
  EXPECT_EQ(c.int_family("workload.dims.").at("seq"), 512);
  EXPECT_EQ(c.resolve_path(c.get_string("workload.graph")), "/base/g.json");
  c.set("workload.inferences=9");
  c.set("workload.dims.batch=2");
  EXPECT_EQ(c.get_int("workload.inferences"), 9);
  EXPECT_EQ(c.int_family("workload.dims.").size(), 2u);
  const std::string dump = c.dump();
  EXPECT_NE(dump.find("inferences: 9"), std::string::npos) << dump;
  EXPECT_NE(dump.find("stream_depth: 2"), std::string::npos) << dump;
  // The dump reloads to the same configuration.
  Config again = Config::from_text(dump, "dump.yaml", "/base");
  EXPECT_EQ(again.dump(), dump);
}

TEST(Config, UnknownKeysAndBadValues) {
  EXPECT_EQ(error_of("workload:\n  inferencs: 3\n"),
            "c.yaml:2: unknown key 'workload.inferencs' (did you mean 'workload.inferences'?)");
  EXPECT_EQ(error_of("simulation: {stream_depth: -1}\n"),
            "c.yaml:1: simulation.stream_depth = -1 is out of range (1..16777216)");
  EXPECT_NE(error_of("mapping: {weights: maybe}\n")
                .find("'maybe' is not one of graph, on_chip, off_chip, auto"),
            std::string::npos);
  EXPECT_NE(error_of("system: {clock_mhz: .nan}\n").find("expected a finite number"),
            std::string::npos);
  Config c;
  EXPECT_THROW(c.set("nokey=1"), InputError);
  EXPECT_THROW(c.set("novalue"), InputError);
}

TEST(Config, DeviceTypesCarryDataSheetFigures) {
  const DeviceType u250 =
      load_device_type(std::string(MASESIM_SOURCE_DIR) + "/configs/devices/u250.yaml");
  EXPECT_EQ(u250.capacity[Res::dsp], 12288);
  EXPECT_EQ(u250.capacity[Res::bram36], 2688);
  EXPECT_EQ(u250.capacity[Res::uram], 1280);
  EXPECT_EQ(u250.memory.channels, 4);
  EXPECT_DOUBLE_EQ(u250.memory.gbytes_per_s_per_channel * 4, 77.0);
  const DeviceType u280 =
      load_device_type(std::string(MASESIM_SOURCE_DIR) + "/configs/devices/u280.yaml");
  EXPECT_EQ(u280.capacity[Res::dsp], 9024);
  EXPECT_DOUBLE_EQ(u280.memory.gbytes_per_s_per_channel * u280.memory.channels, 460.0);
  Config c = Config::from_text("system: {devices: [{count: 3, type: u280}]}\n", "c.yaml", ".");
  const auto devs = load_system_devices(c);
  ASSERT_EQ(devs.size(), 3u);
  EXPECT_EQ(devs[2].name, "fpga2");
}
