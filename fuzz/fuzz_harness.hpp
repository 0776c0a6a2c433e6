// One-input harnesses shared by the libFuzzer targets (fuzz/fuzz_*.cpp, clang) and the
// always-built regression test (tests/fuzz_regressions.cpp, any compiler).
// Contract under test: on any input, the graph and config loaders either succeed or throw
// masesim::InputError. Anything else escaping (another exception type, a crash, a hang, a
// sanitizer report) is a bug. Invariant violations throw FuzzInvariantError, which is
// deliberately not an InputError so that the fuzzer and the test both report it.
#pragma once
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <cstdlib>
#include <map>
#include <set>
#include <stdexcept>
#include <string>

#include "sim/config/config.hpp"
#include "sim/config/device_types.hpp"
#include "workloads/error.hpp"
#include "workloads/graph.hpp"

namespace masesim::fuzz {

struct FuzzInvariantError : std::logic_error {
  explicit FuzzInvariantError(const std::string& w) : std::logic_error("fuzz invariant violated: " + w) {}
};

/// Input shapes of bugs already reported (fuzz/regressions/KNOWN_FAILING): a mapping key
/// that is not a scalar, or a key repeated in one mapping. With MASESIM_FUZZ_SKIP_KNOWN=1
/// in the environment the fuzz targets skip such inputs so that a long run can find
/// something new instead of the same two bugs again (docs/fuzzing.md).
inline bool has_known_bug_shape(const YAML::Node& n, int depth = 0) {
  if (depth > 64) return false;
  if (n.IsSequence()) {
    for (const auto& e : n)
      if (has_known_bug_shape(e, depth + 1)) return true;
  } else if (n.IsMap()) {
    std::set<std::string> keys;
    for (const auto& kv : n) {
      if (!kv.first.IsScalar() || !keys.insert(kv.first.Scalar()).second) return true;
      if (has_known_bug_shape(kv.second, depth + 1)) return true;
    }
  }
  return false;
}
inline bool skip_known_bug_input(const std::string& text) {
  static const bool enabled = [] {
    const char* e = std::getenv("MASESIM_FUZZ_SKIP_KNOWN");
    return e && std::string(e) == "1";
  }();
  if (!enabled) return false;
  try {
    return has_known_bug_shape(YAML::Load(text));
  } catch (...) {
    return false;  // the loaders report malformed text themselves
  }
}

/// Graph text: load as is; if that succeeds, summarize, then reload with every declared
/// dim overridden to a small value (1..4, derived from the input so the fuzzer can steer
/// it) and summarize again. InputError propagates to the caller.
inline void run_graph_input(const std::string& text) {
  const Graph g = load_graph_text(text, "fuzz-graph");
  (void)summarize(g);
  std::map<std::string, std::int64_t> dims;
  std::size_t salt = text.size();
  for (const auto& [name, value] : g.dims) {
    (void)value;
    dims[name] = static_cast<std::int64_t>(1 + (salt++ % 4));
  }
  if (dims.empty()) return;
  const Graph small = load_graph_text(text, "fuzz-graph", dims);
  (void)summarize(small);
}

/// Config text: load; dump; the dump must reload (it is a valid config) and give the same
/// dump; every declared key must read back with its getter; load_system_devices may only
/// throw InputError. Device types resolve against `base_dir` (give configs/ so that
/// u250/u280 are found). InputError from the first load or from load_system_devices
/// propagates to the caller.
inline void run_config_input(const std::string& text, const std::string& base_dir) {
  const Config c = Config::from_text(text, "fuzz-config", base_dir);
  const std::string d1 = c.dump();
  std::string d2;
  try {
    d2 = Config::from_text(d1, "fuzz-config-dump", base_dir).dump();
  } catch (const InputError& e) {
    throw FuzzInvariantError("the dump of a valid config does not reload: " + std::string(e.what()) +
                             "\n--- dump ---\n" + d1);
  }
  if (d1 != d2)
    throw FuzzInvariantError("dump(reload(dump)) != dump\n--- first ---\n" + d1 + "--- second ---\n" + d2);
  // Contract (sim/config/config.hpp): after load, every declared key has a value of its type.
  try {
    for (const auto& k : config_keys()) {
      if (k.key.back() == '*') continue;
      switch (k.type) {
        case KeyType::Int: (void)c.get_int(k.key); break;
        case KeyType::Double: (void)c.get_double(k.key); break;
        case KeyType::Bool: (void)c.get_bool(k.key); break;
        case KeyType::String:
        case KeyType::Enum:
          if (c.has(k.key)) (void)c.get_string(k.key);
          break;
        case KeyType::Any:
          if (c.has(k.key)) (void)c.get_node(k.key);
          break;
      }
    }
    (void)c.int_family("workload.dims.");
  } catch (const InputError& e) {
    throw FuzzInvariantError("a loaded config does not read back with its typed getters: " + std::string(e.what()));
  }
  (void)load_system_devices(c);
}

}  // namespace masesim::fuzz
