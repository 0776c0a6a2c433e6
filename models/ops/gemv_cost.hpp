// A matrix–vector datapath shared by the ops that run small GEMMs per token inside one
// block (moe_experts' experts, lstm/gru cells): MASE fixed_linear's loop for one row.
#pragma once
#include <algorithm>
#include <cstdint>

#include "models/hls_blocks.hpp"
#include "models/op_cost.hpp"

namespace masesim::ops {

/// Cycles of one row (one token) through a K → N GEMV on k_par × n_par lanes: K/k_par
/// beats per output tile, N/n_par output tiles (gemm_timing's row_cycles).
inline std::int64_t gemv_cycles(std::int64_t K, std::int64_t N, std::int64_t k_par,
                                std::int64_t n_par) {
  return ceil_div(K, std::max<std::int64_t>(1, k_par)) *
         ceil_div(N, std::max<std::int64_t>(1, n_par));
}

/// The GEMV's MAC array (int_linear2d / int_matmul without weight arrays: the caller adds
/// the weight storage, which may hold several matrices).
inline HlsLinearParams gemv_params(std::int64_t K, std::int64_t N, std::int64_t k_par,
                                   std::int64_t n_par, const Precision& x, const Precision& w,
                                   MulBinding binding) {
  HlsLinearParams q;
  q.k_par = std::max<std::int64_t>(1, k_par);
  q.n_par = std::max<std::int64_t>(1, n_par);
  q.row_par = 1;
  q.k_depth = std::max<std::int64_t>(1, K / q.k_par);
  q.n_depth = std::max<std::int64_t>(1, N / q.n_par);
  q.x = x;
  q.w = w;
  q.binding = binding;
  q.bias = false;
  q.weights_on_chip = false;
  return q;
}

}  // namespace masesim::ops
