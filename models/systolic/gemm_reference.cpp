#include "gemm_reference.hpp"

#include <random>
#include <stdexcept>
#include <string>

namespace masesim::systolic {

std::vector<std::int32_t> gemm_reference(const GemmShape& s, const std::vector<std::int8_t>& a,
                                         const std::vector<std::int8_t>& b) {
  if (a.size() != s.m * s.k || b.size() != s.k * s.n) {
    throw std::invalid_argument("gemm_reference: A has " + std::to_string(a.size()) +
                                " elements (expected M*K=" + std::to_string(s.m * s.k) +
                                "), B has " + std::to_string(b.size()) +
                                " (expected K*N=" + std::to_string(s.k * s.n) + ")");
  }
  std::vector<std::uint32_t> acc(s.m * s.n, 0);  // unsigned: defined wrap-around
  for (std::uint64_t i = 0; i < s.m; ++i) {
    std::uint32_t* crow = &acc[i * s.n];
    for (std::uint64_t k = 0; k < s.k; ++k) {
      const std::int32_t av = a[i * s.k + k];
      if (av == 0) continue;
      const std::int8_t* brow = &b[k * s.n];
      for (std::uint64_t j = 0; j < s.n; ++j) {
        crow[j] += static_cast<std::uint32_t>(av * static_cast<std::int32_t>(brow[j]));
      }
    }
  }
  return std::vector<std::int32_t>(acc.begin(), acc.end());
}

std::vector<std::int8_t> random_int8(std::uint64_t count, std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::vector<std::int8_t> v(count);
  // Take the low byte of each draw: portable, unlike uniform_int_distribution<int8_t>.
  for (auto& x : v) x = static_cast<std::int8_t>(static_cast<std::uint8_t>(gen() & 0xFFu));
  return v;
}

}  // namespace masesim::systolic
