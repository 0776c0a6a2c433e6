// Error types shared by every layer. Exit codes (README): 1 bad input, 2 simulation
// failure, 3 internal error.
#pragma once
#include <stdexcept>
#include <string>
#include <vector>

namespace masesim {

/// Bad input: a file, key, node or value that is malformed or impossible. Exit code 1.
class InputError : public std::runtime_error {
 public:
  explicit InputError(const std::string& what) : std::runtime_error(what) {}
};

/// The simulation itself failed: deadlock, resources that do not fit, time limit. Exit 2.
class SimulationError : public std::runtime_error {
 public:
  explicit SimulationError(const std::string& what) : std::runtime_error(what) {}
};

/// Levenshtein distance; used to suggest the nearest known key or name.
std::size_t edit_distance(const std::string& a, const std::string& b);

/// " (did you mean 'x'?)" for the nearest candidate within a sensible distance, else "".
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

/// Multiplies with a check for 64-bit overflow; throws InputError naming `what`.
std::int64_t checked_mul(std::int64_t a, std::int64_t b, const std::string& what);
std::int64_t checked_add(std::int64_t a, std::int64_t b, const std::string& what);

}  // namespace masesim
