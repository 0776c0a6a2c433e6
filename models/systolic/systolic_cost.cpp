#include "systolic_cost.hpp"

#include <algorithm>
#include <map>
#include <stdexcept>
#include <tuple>

namespace masesim::systolic {

const char* to_string(Dataflow dataflow) {
  return dataflow == Dataflow::OutputStationary ? "output_stationary" : "weight_stationary";
}

Dataflow dataflow_from_string(const std::string& name) {
  if (name == "output_stationary" || name == "os") return Dataflow::OutputStationary;
  if (name == "weight_stationary" || name == "ws") return Dataflow::WeightStationary;
  throw std::invalid_argument("systolic dataflow: found '" + name +
                              "', expected output_stationary|os|weight_stationary|ws");
}

namespace {

void check(const GemmShape& s, const ArrayConfig& a) {
  if (s.m == 0 || s.k == 0 || s.n == 0) {
    throw std::invalid_argument(
        "systolic gemm: M, K and N must be >= 1 (got M=" + std::to_string(s.m) +
        " K=" + std::to_string(s.k) + " N=" + std::to_string(s.n) + ")");
  }
  if (a.rows == 0 || a.cols == 0 || (a.dataflow == Dataflow::WeightStationary && a.acc_rows == 0)) {
    throw std::invalid_argument(
        "systolic gemm: rows, cols (and acc_rows for weight "
        "stationary) must be >= 1");
  }
}

void finish(GemmCycles& c, const GemmShape& s, const ArrayConfig& a) {
  const std::uint64_t non_overlapped =
      c.steady_cycles + c.fill_cycles + c.drain_cycles + c.stall_cycles;
  c.overlap_cycles = non_overlapped - c.total_cycles;
  c.utilisation = static_cast<double>(s.m) * static_cast<double>(s.n) * static_cast<double>(s.k) /
                  (static_cast<double>(c.total_cycles) * a.rows * a.cols);
}

// Output stationary: tile t takes K waves, tiles start S = max(K, rows, cols) slots apart;
// the last row of the last tile leaves (rm_last - 1) + cols + 2 cycles after the last wave.
GemmCycles os_cycles(const GemmShape& s, const ArrayConfig& a) {
  const std::uint64_t r = a.rows, cl = a.cols;
  const std::uint64_t mt = ceil_div(s.m, r), nt = ceil_div(s.n, cl);
  const std::uint64_t tiles = mt * nt;
  const std::uint64_t span = std::max({s.k, r, cl});
  const std::uint64_t rm_last = s.m - (mt - 1) * r;
  GemmCycles c;
  c.tiles = tiles;
  c.steady_cycles = tiles * s.k;
  c.fill_cycles = tiles * (cl + 1);
  c.drain_cycles = s.m * nt;  // one cycle per C row
  c.stall_cycles = (tiles - 1) * (span - s.k);
  c.total_cycles = (tiles - 1) * span + s.k + rm_last + cl + 1;
  finish(c, s, a);
  return c;
}

// Weight stationary. Per weight tile t (rk_t B rows, mb_t A rows), with cycle numbers
// relative to the first B handshake:
//   LS(t) = max(LE(t-1), FE(t-2))   load start: previous load done, bank freed by t-2
//   LE(t) = LS(t) + rk_t
//   FS(t) = max(LE(t), FE(t-1))     feed start: weights in, previous tile fed
//   FE(t) = FS(t) + mb_t
//   total = FE(T-1) + rows + cols + 1
// The recurrence is shift invariant, so one (n0, m0) block of K tiles is evaluated once
// per distinct entry state and reused.
struct WsState {
  std::uint64_t le_minus_fe;       // FE(t) - LE(t)
  std::uint64_t fe_prev_minus_fe;  // FE(t) - FE(t-1)
  bool operator<(const WsState& o) const {
    return std::tie(le_minus_fe, fe_prev_minus_fe) < std::tie(o.le_minus_fe, o.fe_prev_minus_fe);
  }
};

GemmCycles ws_cycles(const GemmShape& s, const ArrayConfig& a) {
  const std::uint64_t r = a.rows, cl = a.cols, ar = a.acc_rows;
  const std::uint64_t kt = ceil_div(s.k, r), nt = ceil_div(s.n, cl), mbt = ceil_div(s.m, ar);
  const std::uint64_t rk_last = s.k - (kt - 1) * r;

  // One block: kt tiles with rk = r (last: rk_last), all with mb A rows.
  struct BlockResult {
    WsState out;
    std::uint64_t fe_advance;
    std::uint64_t first_le;  // LE of the block's first tile relative to the entry FE
  };
  std::map<std::pair<WsState, std::uint64_t>, BlockResult> cache;
  auto run_block = [&](const WsState& in, std::uint64_t mb) {
    auto key = std::make_pair(in, mb);
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
    // Absolute values relative to the entry: x = FE(t-1) = base.
    const std::int64_t base = static_cast<std::int64_t>(in.fe_prev_minus_fe) + 1;  // keep > 0
    std::int64_t fe = base;
    std::int64_t le = base - static_cast<std::int64_t>(in.le_minus_fe);
    std::int64_t fe_prev = base - static_cast<std::int64_t>(in.fe_prev_minus_fe);
    std::int64_t first_le = 0;
    for (std::uint64_t k = 0; k < kt; ++k) {
      const std::int64_t rk = static_cast<std::int64_t>(k + 1 == kt ? rk_last : r);
      const std::int64_t ls = std::max(le, fe_prev);
      const std::int64_t le_new = ls + rk;
      const std::int64_t fs = std::max(le_new, fe);
      const std::int64_t fe_new = fs + static_cast<std::int64_t>(mb);
      if (k == 0) first_le = le_new - base;
      fe_prev = fe;
      fe = fe_new;
      le = le_new;
    }
    BlockResult res{
        WsState{static_cast<std::uint64_t>(fe - le), static_cast<std::uint64_t>(fe - fe_prev)},
        static_cast<std::uint64_t>(fe - base), static_cast<std::uint64_t>(first_le)};
    cache.emplace(key, res);
    return res;
  };

  WsState state{0, 0};  // FE(-1) = LE(-1) = FE(-2) = 0
  std::uint64_t fe_abs = 0;
  std::uint64_t le0 = 0;
  for (std::uint64_t n = 0; n < nt; ++n) {
    for (std::uint64_t mbi = 0; mbi < mbt; ++mbi) {
      const std::uint64_t mb = std::min(ar, s.m - mbi * ar);
      const BlockResult b = run_block(state, mb);
      if (n == 0 && mbi == 0) le0 = fe_abs + b.first_le;
      fe_abs += b.fe_advance;
      state = b.out;
    }
  }

  GemmCycles c;
  c.tiles = nt * mbt * kt;
  c.steady_cycles = nt * kt * s.m;          // one A beat per cycle
  c.fill_cycles = nt * mbt * s.k;           // weight rows loaded, one B beat per cycle
  c.drain_cycles = c.tiles * (r + cl + 1);  // last partial sum through array, deskew, output
  c.stall_cycles = fe_abs - le0 - c.steady_cycles;
  c.total_cycles = fe_abs + r + cl + 1;
  finish(c, s, a);
  return c;
}

}  // namespace

GemmCycles gemm_cycles(const GemmShape& shape, const ArrayConfig& array) {
  check(shape, array);
  return array.dataflow == Dataflow::OutputStationary ? os_cycles(shape, array)
                                                      : ws_cycles(shape, array);
}

GemmBeats gemm_beats(const GemmShape& s, const ArrayConfig& a) {
  check(s, a);
  GemmBeats b;
  b.a_lanes = a.rows;
  b.b_lanes = a.cols;
  b.c_lanes = a.cols;
  const std::uint64_t mt = ceil_div(s.m, a.rows), nt = ceil_div(s.n, a.cols);
  if (a.dataflow == Dataflow::OutputStationary) {
    b.a_beats = mt * nt * s.k;
    b.b_beats = mt * nt * s.k;
  } else {
    const std::uint64_t kt = ceil_div(s.k, a.rows), mbt = ceil_div(s.m, a.acc_rows);
    b.a_beats = nt * kt * s.m;
    b.b_beats = nt * mbt * s.k;
  }
  b.c_beats = s.m * nt;
  return b;
}

}  // namespace masesim::systolic
