// libFuzzer target: bytes -> masesim::load_graph_text (+ summarize, + small dim overrides).
// Only masesim::InputError may escape the loader; anything else aborts the run.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz/fuzz_harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (masesim::fuzz::skip_known_bug_input(text)) return 0;  // MASESIM_FUZZ_SKIP_KNOWN=1
  try {
    masesim::fuzz::run_graph_input(text);
  } catch (const masesim::InputError&) {
    // Expected for bad input.
  }
  return 0;
}
