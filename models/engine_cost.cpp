#include "models/engine_cost.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "models/ops/registry.hpp"
#include "workloads/op_schema.hpp"

namespace masesim::engine {

bool CoreConfig::alu_runs(const std::string& op) const {
  return has_alu() && std::find(alu_ops.begin(), alu_ops.end(), op) != alu_ops.end();
}

namespace {

std::int64_t cdiv(std::int64_t a, std::int64_t b) {
  return (a + b - 1) / b;
}

double data_bytes(const Graph& g, const Node& n) {
  double b = 0;
  for (const auto& a : n.args) b += static_cast<double>(g.tensor_of(a).bytes());
  return b;
}

}  // namespace

Lowering lower(const Graph& g, const Node& n) {
  const ops::OpDescriptor& d = ops::of(n);
  Lowering l;
  const Tensor& out = n.results[0];
  const double out_bpe = out.precision.bits_per_element() / 8.0;
  switch (d.cls) {
    case OpClass::Gemm: {
      const Tensor& a = g.tensor_of(n.args[0]);
      GemmWork& w = l.gemm;
      w.k = a.shape.back();
      w.n = out.shape.back();
      w.a_elem_bytes = a.precision.bits_per_element() / 8.0;
      w.out_elem_bytes = out_bpe;
      if (const Param* p = n.param("weight")) {  // linear: B is the weight
        w.m = a.numel() / w.k;
        w.b_elem_bytes = p->tensor.precision.bits_per_element() / 8.0;
        w.b_is_param = true;
      } else {  // matmul / bmm: B is data_in_1, one GEMM per batch index
        w.m = a.shape.size() >= 2 ? a.shape[a.shape.size() - 2] : 1;
        w.groups = out.numel() / (w.m * w.n);
        w.b_elem_bytes = g.tensor_of(n.args[1]).precision.bits_per_element() / 8.0;
        w.b_is_param = false;
      }
      l.kind = Lowering::Kind::Gemm;
      return l;
    }
    case OpClass::Conv: {  // im2col: [batch·positions] × [cin/groups·kernel] · [.. × cout/groups]
      const Param* p = n.param("weight");
      if (!p) break;
      const Shape& ws = p->tensor.shape;
      const std::int64_t cout = ws[0];
      GemmWork& w = l.gemm;
      w.groups = n.attr_int("groups", 1);
      w.k = shape_numel(ws) / cout;
      w.n = cout / w.groups;
      w.m = out.numel() / cout;
      w.a_elem_bytes = g.tensor_of(n.args[0]).precision.bits_per_element() / 8.0;
      w.b_elem_bytes = p->tensor.precision.bits_per_element() / 8.0;
      w.out_elem_bytes = out_bpe;
      w.b_is_param = true;
      l.kind = Lowering::Kind::Gemm;
      return l;
    }
    case OpClass::Elementwise:
    case OpClass::Pool:
    case OpClass::RowReduce:
    case OpClass::Reorder: {
      VectorWork& v = l.vec;
      v.out_elems = out.numel();
      v.in_bytes = data_bytes(g, n);
      for (const auto& a : n.args) v.in_elems += g.tensor_of(a).numel();
      v.out_bytes = static_cast<double>(out.bytes());
      v.ops_per_elem = d.alu_ops_per_elem;
      if (d.cls == OpClass::Pool) {
        // One ALU op per window element: kernel_size when given, else the reduction ratio.
        if (n.has_attr("kernel_size")) {
          std::int64_t k = 1;
          for (const auto x : n.attr_ints("kernel_size", {1})) k *= x;
          if (n.attr_ints("kernel_size", {1}).size() == 1) k *= k;  // square kernel
          v.ops_per_elem = k;
        } else {
          v.ops_per_elem =
              cdiv(g.tensor_of(n.args[0]).numel(), std::max<std::int64_t>(1, v.out_elems));
        }
      }
      l.kind = Lowering::Kind::Vector;
      return l;
    }
    case OpClass::Wire:
    // A KV cache on an engine is a region of the memory: the producer's store of the step's
    // keys/values is the append, and consumers load the context from there.
    case OpClass::KvCache:
      l.kind = Lowering::Kind::Free;
      return l;
    default:
      break;
  }
  l.kind = Lowering::Kind::None;
  l.why = std::string("op class ") + op_class_name(d.cls) + " has no lowering onto a shared engine";
  return l;
}

TilePlan plan_gemm(const GemmWork& w, const CoreConfig& c) {
  if (!c.has_gemm()) throw std::invalid_argument("the engine has no GEMM core");
  const std::int64_t R = c.gemm_rows, C = c.gemm_cols, S = c.slots();
  auto bytes = [](std::int64_t a, std::int64_t b, double per) {
    return static_cast<std::int64_t>(
        std::ceil(static_cast<double>(a) * static_cast<double>(b) * per));
  };
  const std::int64_t ib = c.input_buffer_bytes / S, wb = c.weight_buffer_bytes / S,
                     ab = c.acc_buffer_bytes / S;
  auto a_fits = [&](std::int64_t m, std::int64_t k) { return bytes(m, k, w.a_elem_bytes) <= ib; };
  auto b_fits = [&](std::int64_t k, std::int64_t n) { return bytes(k, n, w.b_elem_bytes) <= wb; };
  auto acc_fits = [&](std::int64_t m, std::int64_t n) {
    return bytes(m, n, static_cast<double>(c.acc_elem_bytes)) <= ab;
  };
  const std::string slots = S == 2 ? " (two tiles: double buffering)" : " (one tile)";
  auto too_small = [&](const char* buf, std::int64_t have, std::int64_t need, const char* tile) {
    throw std::invalid_argument(std::string(buf) + " buffer of " + std::to_string(have * S) +
                                " bytes cannot hold the smallest " + tile + " tile of " +
                                std::to_string(need) + " bytes" + slots);
  };
  const std::int64_t k0 = std::min(R, w.k), n0 = std::min(C, w.n);
  if (!a_fits(1, k0)) too_small("input", ib, bytes(1, k0, w.a_elem_bytes), "1xK");
  if (!b_fits(k0, n0)) too_small("weight", wb, bytes(k0, n0, w.b_elem_bytes), "KxN");
  if (!acc_fits(1, n0))
    too_small("accumulator", ab, bytes(1, n0, static_cast<double>(c.acc_elem_bytes)), "1xN");
  TilePlan p;
  const std::int64_t Kp = cdiv(w.k, R) * R, Np = cdiv(w.n, C) * C;
  p.k_t = R;
  while (p.k_t + R <= Kp && a_fits(1, p.k_t + R) && b_fits(p.k_t + R, n0)) p.k_t += R;
  p.k_t = std::min(p.k_t, w.k);
  p.n_t = C;
  while (p.n_t + C <= Np && b_fits(p.k_t, p.n_t + C) && acc_fits(1, p.n_t + C)) p.n_t += C;
  p.n_t = std::min(p.n_t, w.n);
  // m: the largest that fits both, found by division (bytes are linear in m).
  const double a_row = static_cast<double>(p.k_t) * w.a_elem_bytes;
  const double acc_row = static_cast<double>(p.n_t) * static_cast<double>(c.acc_elem_bytes);
  const auto m_a = static_cast<std::int64_t>(std::floor(static_cast<double>(ib) / a_row));
  const auto m_acc = static_cast<std::int64_t>(std::floor(static_cast<double>(ab) / acc_row));
  p.m_t = std::max<std::int64_t>(1, std::min({w.m, m_a, m_acc}));
  p.tiles_m = cdiv(w.m, p.m_t);
  p.tiles_k = cdiv(w.k, p.k_t);
  p.tiles_n = cdiv(w.n, p.n_t);
  p.a_tile_bytes = bytes(p.m_t, p.k_t, w.a_elem_bytes);
  p.b_tile_bytes = bytes(p.k_t, p.n_t, w.b_elem_bytes);
  p.acc_tile_bytes = bytes(p.m_t, p.n_t, static_cast<double>(c.acc_elem_bytes));
  return p;
}

std::int64_t vector_chunk_elems(const VectorWork& w, const CoreConfig& c) {
  if (!c.has_alu()) throw std::invalid_argument("the engine has no vector ALU");
  const std::int64_t out = std::max<std::int64_t>(1, w.out_elems);
  const std::int64_t per_out = cdiv(w.in_elems, out) + 1;  // inputs of one output, and it
  const std::int64_t chunk = c.acc_buffer_bytes / c.slots() / (per_out * c.acc_elem_bytes);
  if (chunk < 1)
    throw std::invalid_argument("accumulator buffer of " + std::to_string(c.acc_buffer_bytes) +
                                " bytes cannot hold one output element with its " +
                                std::to_string(per_out - 1) + " input elements");
  return std::min(chunk, out);
}

std::int64_t alu_cycles(std::int64_t elems, std::int64_t ops, const CoreConfig& c) {
  return cdiv(elems * ops, c.alu_lanes) + c.alu_pipeline_cycles;
}

std::int64_t gemm_ideal_cycles(
    const GemmWork& w, const TilePlan& p, std::int64_t fused_ops, const CoreConfig& c,
    const std::function<std::uint64_t(std::int64_t, std::int64_t, std::int64_t)>& tile_cycles) {
  std::int64_t sum = 0;
  for (std::int64_t nb = 0; nb < p.tiles_n; ++nb) {
    const std::int64_t n = std::min(p.n_t, w.n - nb * p.n_t);
    for (std::int64_t mb = 0; mb < p.tiles_m; ++mb) {
      const std::int64_t m = std::min(p.m_t, w.m - mb * p.m_t);
      for (std::int64_t kb = 0; kb < p.tiles_k; ++kb) {
        const std::int64_t k = std::min(p.k_t, w.k - kb * p.k_t);
        sum += static_cast<std::int64_t>(tile_cycles(m, k, n)) + c.extra_pipeline_cycles;
      }
      if (fused_ops > 0) sum += alu_cycles(m * n, fused_ops, c);
    }
  }
  return sum * w.groups;
}

std::int64_t vector_ideal_cycles(const VectorWork& w, std::int64_t chunk, const CoreConfig& c) {
  std::int64_t sum = 0;
  for (std::int64_t c0 = 0; c0 < w.out_elems; c0 += chunk)
    sum += alu_cycles(std::min(chunk, w.out_elems - c0), w.ops_per_elem, c);
  return sum;
}

time_ps cpu_node_ps(const Lowering& l, std::int64_t macs, double bytes, const CpuConfig& c) {
  if (l.kind == Lowering::Kind::Free) return 0;
  double compute_s = 0;
  if (l.kind == Lowering::Kind::Gemm)
    compute_s = static_cast<double>(macs) / c.gemm_macs_per_s;
  else if (l.kind == Lowering::Kind::Vector)
    compute_s = static_cast<double>(l.vec.out_elems * l.vec.ops_per_elem) / c.vector_elems_per_s;
  const double mem_s = bytes / c.bytes_per_s;
  return static_cast<time_ps>(
      std::llround((std::max(compute_s, mem_s) * 1e12) + c.op_overhead_ns * 1e3));
}

time_ps cpu_node_ps(const Graph& g, const Node& n, const CpuConfig& c) {
  const Lowering l = lower(g, n);
  if (l.kind == Lowering::Kind::None) throw std::invalid_argument(l.why);
  double bytes = data_bytes(g, n) + static_cast<double>(n.results[0].bytes());
  for (const auto& p : n.params) bytes += static_cast<double>(p.tensor.bytes());
  return cpu_node_ps(l, l.kind == Lowering::Kind::Gemm ? l.gemm.macs() : 0, bytes, c);
}

// ---------------------------------------------------------------------------------------
CoreTimeline::CoreTimeline(const CoreConfig& c, time_ps period_ps, MemFn mem, TraceFn trace)
    : c_(c), period_(period_ps), mem_(std::move(mem)), trace_(std::move(trace)) {
  const auto S = static_cast<std::size_t>(c.slots());
  for (Ring* r : {&in_, &w_, &acc_}) r->release.assign(S, 0);
  slot_bytes_.assign(3, std::vector<std::int64_t>(S, 0));
}

time_ps CoreTimeline::load(Ring& r, std::int64_t id, std::uint64_t bytes, time_ps ready,
                           std::size_t& slot) {
  if (id == r.resident) {
    slot = r.last;
    return r.resident_ready;
  }
  slot = r.next;
  r.next = (r.next + 1) % r.release.size();
  const time_ps issue = std::max({ld_free_, r.release[slot], ready});
  const time_ps unit =
      static_cast<time_ps>(cdiv(static_cast<std::int64_t>(bytes), c_.load_bytes_per_cycle)) *
      period_;
  const time_ps done = std::max(mem_(issue, bytes, false), issue + unit);
  ld_free_ = done;
  k_.load_busy_ps += done - issue;
  ++k_.loads;
  k_.bytes_loaded += bytes;
  if (trace_) trace_(1, "load", issue, done);
  r.resident = id;
  r.last = slot;
  r.resident_ready = done;
  note_bytes(r, slot, static_cast<std::int64_t>(bytes));
  return done;
}

void CoreTimeline::note_bytes(const Ring& r, std::size_t slot, std::int64_t bytes) {
  const std::size_t which = &r == &in_ ? 0 : &r == &w_ ? 1 : 2;
  auto& v = slot_bytes_[which];
  v[slot] = bytes;
  std::int64_t sum = 0;
  for (const auto b : v) sum += b;
  std::int64_t& peak = which == 0   ? k_.peak_input_bytes
                       : which == 1 ? k_.peak_weight_bytes
                                    : k_.peak_acc_bytes;
  peak = std::max(peak, sum);
}

time_ps CoreTimeline::store(std::uint64_t bytes, time_ps ready) {
  const time_ps issue = std::max(st_free_, ready);
  const time_ps unit =
      static_cast<time_ps>(cdiv(static_cast<std::int64_t>(bytes), c_.store_bytes_per_cycle)) *
      period_;
  const time_ps done = std::max(mem_(issue, bytes, true), issue + unit);
  st_free_ = done;
  k_.store_busy_ps += done - issue;
  ++k_.stores;
  k_.bytes_stored += bytes;
  if (trace_) trace_(2, "store", issue, done);
  return done;
}

time_ps CoreTimeline::compute(time_ps loads_done, time_ps acc_free, time_ps input_ready,
                              std::int64_t cycles, const char* what) {
  const time_ps t0 = ex_free_;
  const time_ps start = std::max({t0, loads_done, acc_free});
  // Until the loads are in: waiting for the input (the producer's data not yet in memory),
  // then for the load unit; after that, for the accumulator slot's store.
  const time_ps ld_end = std::min(start, std::max(t0, loads_done));
  const time_ps input = std::min(ld_end, std::max(t0, input_ready)) - t0;
  k_.wait_input_ps += input;
  k_.wait_load_ps += ld_end - t0 - input;
  k_.wait_store_ps += start - ld_end;
  const time_ps end = start + static_cast<time_ps>(cycles) * period_;
  k_.compute_busy_ps += end - start;
  ex_free_ = end;
  if (trace_) trace_(0, what, start, end);
  return end;
}

time_ps CoreTimeline::gemm(
    const GemmWork& w, const TilePlan& p, time_ps a_ready, time_ps b_ready, std::int64_t fused_ops,
    const std::function<std::uint64_t(std::int64_t, std::int64_t, std::int64_t)>& tile_cycles) {
  time_ps last = 0;
  auto bytes = [](std::int64_t a, std::int64_t b, double per) {
    return static_cast<std::uint64_t>(
        std::ceil(static_cast<double>(a) * static_cast<double>(b) * per));
  };
  for (std::int64_t g = 0; g < w.groups; ++g) {
    const std::int64_t base_a = next_id_, base_b = next_id_ + p.tiles_m * p.tiles_k;
    next_id_ += p.tiles_m * p.tiles_k + p.tiles_n * p.tiles_k;
    for (std::int64_t nb = 0; nb < p.tiles_n; ++nb) {
      const std::int64_t n = std::min(p.n_t, w.n - nb * p.n_t);
      for (std::int64_t mb = 0; mb < p.tiles_m; ++mb) {
        const std::int64_t m = std::min(p.m_t, w.m - mb * p.m_t);
        const std::size_t s_acc = acc_.next;
        acc_.next = (acc_.next + 1) % acc_.release.size();
        acc_.resident = -1;
        note_bytes(acc_, s_acc,
                   static_cast<std::int64_t>(bytes(m, n, static_cast<double>(c_.acc_elem_bytes))));
        time_ps end = 0;
        for (std::int64_t kb = 0; kb < p.tiles_k; ++kb) {
          const std::int64_t k = std::min(p.k_t, w.k - kb * p.k_t);
          std::size_t sb = 0, sa = 0;
          const time_ps b_in = w.b_is_param ? 0 : b_ready;
          const time_ps b_done =
              load(w_, base_b + nb * p.tiles_k + kb, bytes(k, n, w.b_elem_bytes), b_in, sb);
          const time_ps a_done =
              load(in_, base_a + mb * p.tiles_k + kb, bytes(m, k, w.a_elem_bytes), a_ready, sa);
          std::int64_t cycles =
              static_cast<std::int64_t>(tile_cycles(m, k, n)) + c_.extra_pipeline_cycles;
          const bool last_k = kb + 1 == p.tiles_k;
          if (last_k && fused_ops > 0) {
            cycles += alu_cycles(m * n, fused_ops, c_);
            ++k_.alu_passes;
          }
          end = compute(std::max(a_done, b_done), kb == 0 ? acc_.release[s_acc] : 0,
                        std::max(a_ready, b_in), cycles, "gemm");
          ++k_.gemm_tiles;
          k_.macs += static_cast<std::uint64_t>(m * k * n);
          in_.release[sa] = end;
          w_.release[sb] = end;
        }
        last = store(bytes(m, n, w.out_elem_bytes), end);
        acc_.release[s_acc] = last;
      }
    }
  }
  return last;
}

time_ps CoreTimeline::vector(const VectorWork& w, std::int64_t chunk, time_ps ready) {
  time_ps last = 0;
  const double in_per = w.in_bytes / static_cast<double>(std::max<std::int64_t>(1, w.out_elems));
  const double out_per = w.out_bytes / static_cast<double>(std::max<std::int64_t>(1, w.out_elems));
  for (std::int64_t c0 = 0; c0 < w.out_elems; c0 += chunk) {
    const std::int64_t n = std::min(chunk, w.out_elems - c0);
    std::size_t slot = 0;
    const auto in_bytes = static_cast<std::uint64_t>(std::ceil(in_per * static_cast<double>(n)));
    const time_ps loaded = load(acc_, next_id_++, in_bytes, ready, slot);
    const time_ps end = compute(loaded, 0, ready, alu_cycles(n, w.ops_per_elem, c_), "alu");
    ++k_.alu_passes;
    last = store(static_cast<std::uint64_t>(std::ceil(out_per * static_cast<double>(n))), end);
    acc_.release[slot] = last;
    acc_.resident = -1;
  }
  return last;
}

time_ps CoreTimeline::cpu(time_ps duration, time_ps ready) {
  const time_ps start = std::max(ex_free_, ready);
  k_.wait_input_ps += start - ex_free_;
  k_.compute_busy_ps += duration;
  ex_free_ = start + duration;
  if (trace_ && duration > 0) trace_(0, "cpu", start, ex_free_);
  return ex_free_;
}

}  // namespace masesim::engine
