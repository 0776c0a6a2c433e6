// libFuzzer target: bytes -> masesim::Config::from_text, dump/reload invariant, typed
// getters, load_system_devices. Only masesim::InputError may escape; invariant violations
// (FuzzInvariantError) and any other exception abort the run.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz/fuzz_harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (masesim::fuzz::skip_known_bug_input(text)) return 0;  // MASESIM_FUZZ_SKIP_KNOWN=1
  try {
    masesim::fuzz::run_config_input(text, MASESIM_SOURCE_DIR "/configs");
  } catch (const masesim::InputError&) {
    // Expected for bad input.
  }
  return 0;
}
