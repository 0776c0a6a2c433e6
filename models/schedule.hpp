// Per-inference variants of a run (kernel-free, so the mapper and the LLM planner can
// use it without SystemC).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

namespace masesim {

/// Per-inference variants (LLM mode: the prefill and every decode step have their own
/// shapes and costs): inference i runs variant `variant[i]`; empty: always variant 0.
struct Schedule {
  std::vector<int> variant;
  int of(std::int64_t i) const {
    return variant.empty() ? 0 : variant[static_cast<std::size_t>(i)];
  }
};
using SchedulePtr = std::shared_ptr<const Schedule>;

}  // namespace masesim
