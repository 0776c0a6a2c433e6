#include "models/systolic_block.hpp"

#include <algorithm>
#include <cmath>

#include "models/memory.hpp"

namespace masesim {

SystolicBlock::SystolicBlock(const sc_core::sc_module_name& name, const OpTiming& timing,
                             time_ps period_ps, std::vector<Stream*> inputs, Stream* output,
                             std::int64_t inferences, GemmEngine* engine)
    : Block(name),
      mem_socket("mem_socket"),
      t_(timing),
      period_(period_ps),
      in_(std::move(inputs)),
      out_(output),
      inferences_(inferences),
      engine_(engine) {
  SC_THREAD(run);
}

namespace {
/// x · 2^frac as an int8 when the value is exactly representable, else false.
bool to_int8(double x, int frac, std::int8_t& out) {
  const double q = std::ldexp(x, frac);
  if (q != std::nearbyint(q) || q < -128 || q > 127) return false;
  out = static_cast<std::int8_t>(q);
  return true;
}
}  // namespace

bool SystolicBlock::int8_operands(const std::vector<BeatValue>& vals, std::int64_t batch,
                                  std::vector<std::int8_t>& a, std::vector<std::int8_t>& b) const {
  const Node& n = *fn_.node;
  const Precision& pa = fn_.graph->tensor_of(n.args[0]).precision;
  const bool linear = n.args.size() == 1;
  const TensorData* bt = nullptr;
  Precision pb;
  if (linear) {
    auto it = fn_.params->find(n.name + ".weight");
    if (it == fn_.params->end()) return false;
    bt = &it->second;
    pb = n.param("weight")->tensor.precision;
  } else {
    bt = vals[1].get();
    pb = fn_.graph->tensor_of(n.args[1]).precision;
  }
  if (!vals[0] || !bt || pa.kind != PrecisionKind::Fixed || pb.kind != PrecisionKind::Fixed ||
      pa.width > 8 || pb.width > 8)
    return false;
  const std::int64_t M = t_.gemm_m, K = t_.gemm_k, N = t_.gemm_n;
  a.resize(static_cast<std::size_t>(M * K));
  b.resize(static_cast<std::size_t>(K * N));
  const std::size_t a0 = static_cast<std::size_t>(batch * M * K);
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!to_int8(vals[0]->v[a0 + i], pa.frac_width, a[i])) return false;
  // linear: weight [N, K] -> B[k][n] = W[n][k]; matmul/bmm: B is the [K, N] slice.
  const std::size_t b0 = linear ? 0 : static_cast<std::size_t>(batch * K * N);
  if (!linear && bt->v.size() < b0 + b.size()) return false;  // broadcast B: not handled here
  for (std::int64_t k = 0; k < K; ++k)
    for (std::int64_t j = 0; j < N; ++j) {
      const double w = linear ? bt->v[static_cast<std::size_t>(j * K + k)]
                              : bt->v[b0 + static_cast<std::size_t>(k * N + j)];
      if (!to_int8(w, pb.frac_width, b[static_cast<std::size_t>(k * N + j)])) return false;
    }
  return true;
}

void SystolicBlock::run() {
  std::vector<time_ps> t_read(in_.size(), 0);
  std::vector<BeatValue> vals(in_.size());
  // n reads of port p, the first not before `not_before`, then one per cycle; the last's time.
  auto read = [&](std::size_t p, std::int64_t n, time_ps not_before) {
    const time_ps want = std::max(t_read[p], not_before);
    BeatValue v;
    const RunResult r = in_[p]->pop_run(static_cast<std::uint64_t>(n), want, period_, this,
                                        functional_ ? &v : nullptr);
    if (v && !vals[p]) vals[p] = std::move(v);
    Activity& a = st_.act.now();
    a.stall_in_ps += r.stall_ps;
    a.beats_in += r.beats;
    t_read[p] = r.last + period_;
    return r.last;
  };
  time_ps free_at = 0, prev_start = 0;
  std::uint64_t gemm_index = 0;
  for (std::int64_t inf = 0; inf < inferences_; ++inf) {
    std::fill(vals.begin(), vals.end(), nullptr);
    st_.act.begin(inf);
    time_ps ready = 0;
    // Operands: B whole (matmul/bmm), then A; loading may overlap the previous GEMM.
    for (std::size_t p = in_.size(); p-- > 0;) {
      const std::int64_t n = p == 0 ? t_.in_beats[0] : t_.preload_beats[p];
      if (n > 0) ready = std::max(ready, read(p, n, prev_start));
    }
    time_ps start = std::max(free_at, ready + period_);
    if (t_.weight_tiles > 0) {
      // Weights from off-chip memory (the request carries its time).
      const time_ps arrived =
          timed_read(mem_socket, start, static_cast<std::uint64_t>(t_.weight_tile_bytes), 0);
      st_.weight_bytes += static_cast<std::uint64_t>(t_.weight_tile_bytes);
      if (arrived > start) {
        st_.act.now().stall_mem_ps += arrived - start;
        start = arrived;
      }
    }
    prev_start = start;
    std::uint64_t cycles = 0;
    std::vector<std::int8_t> qa, qb;
    for (std::int64_t b = 0; b < t_.gemm_batch; ++b) {
      const bool real = functional_ && int8_operands(vals, b, qa, qb);
      engine_->start_at(start + static_cast<time_ps>(cycles) * period_);
      cycles += engine_->run(t_.gemm_m, t_.gemm_k, t_.gemm_n, gemm_index++, real ? &qa : nullptr,
                             real ? &qb : nullptr);
      real_gemms_ += real ? 1 : 0;
    }
    engine_cycles_ += cycles;
    st_.act.now().busy_cycles += cycles;  // the array's cycles, as its engine counted them
    st_.act.now().macs += static_cast<std::uint64_t>(t_.macs);
    const time_ps end = start + static_cast<time_ps>(cycles) * period_;
    trace("gemm", start, end, static_cast<std::int64_t>(cycles));
    st_.first_active_ps = std::min(st_.first_active_ps, start);
    free_at = end;
    time_ps t = end;
    BeatValue out_val;
    if (functional_) {
      try {
        out_val = evaluate_node(fn_, vals);
      } catch (const std::exception& e) {
        if (block_failure().empty()) block_failure() = std::string(name()) + ": " + e.what();
        sc_core::sc_stop();
        return;
      }
      if (!first_out_) first_out_ = out_val;
    }
    if (t_.out_beats > 0) {  // one beat per cycle
      const RunResult r = out_->push_run(static_cast<std::uint64_t>(t_.out_beats), t, period_, this,
                                         kNever, out_val);
      Activity& a = st_.act.now();
      a.stall_out_ps += r.stall_ps;
      a.beats_out += r.beats;
      t = r.last + period_;
    }
    st_.last_active_ps = std::max(st_.last_active_ps, t);
  }
  set_finished();
}

}  // namespace masesim
