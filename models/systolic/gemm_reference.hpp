// Plain C++ reference GEMM used by the RTL co-simulation and the functional TLM path.
// Contract: C[M][N] = A[M][K] * B[K][N], int8 x int8 products summed in int32 with
// two's-complement wrap-around (the RTL's ACC_W = 32 behaviour). Row-major storage.
#pragma once

#include <cstdint>
#include <vector>

#include "systolic_cost.hpp"

namespace masesim::systolic {

/// Throws std::invalid_argument when a or b does not hold M*K or K*N elements.
std::vector<std::int32_t> gemm_reference(const GemmShape& shape, const std::vector<std::int8_t>& a,
                                         const std::vector<std::int8_t>& b);

/// M*K (or K*N...) int8 values from a fixed-seed generator, uniform over [-128, 127].
std::vector<std::int8_t> random_int8(std::uint64_t count, std::uint64_t seed);

}  // namespace masesim::systolic
