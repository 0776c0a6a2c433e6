#include "models/op_cost.hpp"

#include <algorithm>
#include <cmath>

#include "models/ops/registry.hpp"
#include "models/resource_model.hpp"
#include "systolic_cost.hpp"
#include "workloads/error.hpp"

namespace masesim {

std::int64_t ceil_log2(std::int64_t x) {
  std::int64_t r = 0;
  while ((std::int64_t{1} << r) < x) ++r;
  return r;
}

std::int64_t ceil_div(std::int64_t a, std::int64_t b) {
  return (a + b - 1) / b;
}

std::int64_t largest_divisor_at_most(std::int64_t dim, std::int64_t cap) {
  for (std::int64_t d = std::min(dim, cap); d > 1; --d)
    if (dim % d == 0) return d;
  return 1;
}

std::vector<std::int64_t> channel_tile(const Shape& s, std::int64_t lanes) {
  std::vector<std::int64_t> t(s.size() >= 2 ? s.size() - 1 : 1, 1);
  t[0] = lanes;
  return t;
}

bool is_channel_tile(const Shape& s, const std::vector<std::int64_t>& tile) {
  if (s.size() < 2 || tile.size() > s.size()) return false;
  const std::size_t first = s.size() - tile.size();  // dim of tile[0]
  for (std::size_t i = 0; i < tile.size(); ++i)
    if (first + i != 1 && tile[i] != 1) return false;
  return true;
}

PortTiling tile_port(const Shape& shape, const std::vector<std::int64_t>& par) {
  PortTiling t;
  t.tile = par;
  t.elems_per_beat = 1;
  for (auto p : par) t.elems_per_beat = checked_mul(t.elems_per_beat, p, "tile");
  t.beats = shape_numel(shape) / t.elems_per_beat;
  return t;
}

PortTiling tile_port_padded(const Shape& shape, const std::vector<std::int64_t>& par) {
  PortTiling t;
  t.tile = par;
  t.elems_per_beat = 1;
  for (auto p : par) t.elems_per_beat = checked_mul(t.elems_per_beat, p, "tile");
  std::int64_t beats = 1;
  const std::size_t r = shape.size(), k = std::min(par.size(), r);
  for (std::size_t i = 0; i < r; ++i) {
    const std::size_t j = i + k >= r ? i + k - r : par.size();  // par index of dim i
    const std::int64_t d = j < par.size() ? (shape[i] + par[j] - 1) / par[j] : shape[i];
    beats = checked_mul(beats, d, "tile");
  }
  t.beats = beats;
  return t;
}

std::int64_t OpTiming::ideal_cycles() const {
  if (engine == Engine::Systolic) return gemm_batch * cycles_per_gemm;
  if (engine == Engine::Rows) return rows * row_cycles;
  std::int64_t c = out_beats;
  for (auto b : in_beats) c = std::max(c, b);
  return c;
}

std::int64_t schedule_busy_cycles(const std::vector<OpTiming::WeightTile>& schedule) {
  std::vector<std::int64_t> busy;
  for (const auto& w : schedule) {
    if (w.datapath >= static_cast<std::int64_t>(busy.size()))
      busy.resize(static_cast<std::size_t>(w.datapath) + 1, 0);
    busy[static_cast<std::size_t>(w.datapath)] += w.cycles;
  }
  return busy.empty() ? 0 : *std::max_element(busy.begin(), busy.end());
}

std::int64_t OpTiming::schedule_busy_cycles() const {
  return masesim::schedule_busy_cycles(weight_schedule);
}

WeightScheduleTimes weight_schedule_times(
    const std::vector<OpTiming::WeightTile>& schedule, time_ps ready, time_ps fetch_slot,
    time_ps period_ps, const std::function<time_ps(time_ps, std::int64_t)>& fetch) {
  std::size_t paths = 1;
  for (const auto& w : schedule) paths = std::max(paths, static_cast<std::size_t>(w.datapath) + 1);
  std::vector<time_ps> free_at(paths, ready);           // datapath's compute free
  std::vector<time_ps> buffer_free(paths, fetch_slot);  // its other tile buffer free
  WeightScheduleTimes r;
  time_ps issue = fetch_slot;
  r.last_begin = fetch_slot;
  for (const auto& w : schedule) {
    const auto p = static_cast<std::size_t>(w.datapath);
    issue = std::max(issue, buffer_free[p]);
    const time_ps arrived = fetch(issue, w.bytes);
    const time_ps begin = std::max(free_at[p], arrived);
    if (p == 0 && begin > free_at[p]) r.waits.emplace_back(free_at[p], begin);
    buffer_free[p] = begin;
    r.last_begin = std::max(r.last_begin, begin);
    free_at[p] = begin + static_cast<time_ps>(w.cycles) * period_ps;
  }
  r.done = *std::max_element(free_at.begin(), free_at.end());
  const time_ps ideal = ready + static_cast<time_ps>(schedule_busy_cycles(schedule)) * period_ps;
  r.stall_ps = r.done - std::min(r.done, ideal);
  return r;
}

std::int64_t mase_fixed_linear_latency(std::int64_t in, std::int64_t in_par, std::int64_t out,
                                       std::int64_t out_par) {
  return (in / in_par) * (out / out_par) + ceil_log2(in_par) + 3;
}

namespace {

[[noreturn]] void fail(const Node& n, const std::string& msg) {
  throw InputError("node '" + n.name + "' (" + n.op + "): " + msg);
}

}  // namespace

void gemm_timing(const Graph& g, const Node& n, const NodeHw& hw, OpTiming& t) {
  const Shape& a = g.tensor_of(n.args[0]).shape;
  const std::int64_t K = a.back();
  const std::int64_t N = n.results[0].shape.back();
  const std::int64_t k_par = hw.in[0].tile.back();
  const std::int64_t n_par = hw.out.tile.back();
  const std::int64_t row_par_in = hw.in[0].elems_per_beat / k_par;
  const std::int64_t row_par_out = hw.out.elems_per_beat / n_par;
  if (row_par_in != row_par_out)
    fail(n, "row parallelism of data_in_0 (" + std::to_string(row_par_in) + ") and data_out_0 (" +
                std::to_string(row_par_out) + ") must be equal");
  const std::int64_t k_beats = ceil_div(K, k_par);  // padded: a decode step's context
  const std::int64_t n_beats = ceil_div(N, n_par);
  t.engine = OpTiming::Engine::Rows;
  t.rows = shape_numel(a) / (K * row_par_in);
  t.row_cycles = checked_mul(k_beats, n_beats, n.name);
  t.first_out_cycles = k_beats;
  t.out_interval_cycles = k_beats;
  t.latency_cycles = ceil_log2(k_par) + 3;
  t.macs_per_cycle = row_par_in * k_par * n_par;
  if (n.args.size() == 2) t.preload_beats[1] = t.in_beats[1];  // B operand buffered whole
  if (hw.weights_off_chip) {
    const Param* w = n.param("weight");
    if (!w) fail(n, "weights off chip, but the node has no weight parameter");
    t.weight_tiles = n_beats;
    t.weight_tile_bytes = static_cast<std::int64_t>(
        std::ceil(static_cast<double>(K * n_par) * w->tensor.precision.bits_per_element() / 8.0));
    t.weight_tile_cycles_per_row = k_beats;
    t.block_rows = std::max<std::int64_t>(1, std::min(t.rows, hw.weight_block_rows));
  }
}

void systolic_gemm_timing(const Graph& g, const Node& n, const NodeHw& hw, OpTiming& t) {
  const Shape& a = g.tensor_of(n.args[0]).shape;
  const std::int64_t K = a.back();
  const std::int64_t N = n.results[0].shape.back();
  std::int64_t M = shape_numel(a) / K;
  std::int64_t batch = 1;
  if (n.args.size() == 2 && a.size() >= 3) {  // batched: one GEMM per leading index
    M = a[a.size() - 2];
    batch = shape_numel(a) / (M * K);
  }
  if (M > 65535 || K > 65535 || N > 65535)
    fail(n, "GEMM " + std::to_string(M) + "x" + std::to_string(K) + "x" + std::to_string(N) +
                " exceeds the systolic core's 16-bit dimension registers");
  systolic::ArrayConfig arr;
  arr.rows = static_cast<std::uint32_t>(hw.systolic_rows);
  arr.cols = static_cast<std::uint32_t>(hw.systolic_cols);
  arr.dataflow = hw.weight_stationary ? systolic::Dataflow::WeightStationary
                                      : systolic::Dataflow::OutputStationary;
  const auto c = systolic::gemm_cycles(
      {static_cast<std::uint64_t>(M), static_cast<std::uint64_t>(K), static_cast<std::uint64_t>(N)},
      arr);
  t.engine = OpTiming::Engine::Systolic;
  t.gemm_batch = batch;
  t.gemm_m = M;
  t.gemm_k = K;
  t.gemm_n = N;
  t.cycles_per_gemm = static_cast<std::int64_t>(c.total_cycles);
  t.systolic_utilisation = c.utilisation;
  t.macs_per_cycle = hw.systolic_rows * hw.systolic_cols;
  t.latency_cycles = 0;
  if (n.args.size() == 2) t.preload_beats[1] = t.in_beats[1];
  if (hw.weights_off_chip) {
    const Param* w = n.param("weight");
    if (!w) fail(n, "weights off chip, but the node has no weight parameter");
    t.weight_tiles = 1;  // weights stream in once per inference, ahead of the GEMM
    t.weight_tile_bytes = w->tensor.bytes();
    t.block_rows = 1;
  }
}

namespace {
std::string tile_str(const std::vector<std::int64_t>& t) {
  std::string s = "[";
  for (std::size_t i = 0; i < t.size(); ++i) s += (i ? ", " : "") + std::to_string(t[i]);
  return s + "]";
}
void need_channel_tile(const Node& n, const Shape& s, const PortTiling& p, const char* port) {
  if (is_channel_tile(s, p.tile)) return;
  if (s.size() < 2) fail(n, std::string(port) + " must be [N, C, ...]");
  fail(n, std::string(port) + " tile " + tile_str(p.tile) + " of " + shape_to_string(s) +
              " is not a channel tile: conv and pooling ports stream channel-parallel beats "
              "(hw.parallelism " +
              tile_str(channel_tile(s, largest_divisor_at_most(s[1], 8))) +
              ": that many channels of one pixel per beat)");
}
}  // namespace

void window_timing(const Graph& g, const Node& n, const NodeHw& hw, OpTiming& t, std::int64_t kh,
                   std::int64_t pad, bool mac_datapath) {
  const Shape& x = g.tensor_of(n.args[0]).shape;
  const Shape& y = n.results[0].shape;
  need_channel_tile(n, x, hw.in[0], "data_in_0");
  need_channel_tile(n, y, hw.out, "data_out_0");
  t.engine = OpTiming::Engine::Rows;
  t.rows = y[0] * y[2];
  const std::int64_t in_per_row = ceil_div(t.in_beats[0], t.rows);
  const std::int64_t out_per_row = ceil_div(t.out_beats, t.rows);
  // Line buffer: the first output row needs kh-1-pad input rows beyond its own.
  const std::int64_t in_row_beats = t.in_beats[0] / (x[0] * x[2]);
  t.preload_beats[0] =
      std::min(t.in_beats[0], std::max<std::int64_t>(0, kh - 1 - pad) * in_row_beats);
  if (mac_datapath) {
    // MASE's convolution: the sliding window hands the compute core a kernel window of
    // P_in-channel beats; each group of P_out output channels of a pixel accumulates
    // kh·kw·(C_in/groups)/P_in dot products of P_in lanes (dp_acc's ACC_DEPTH with
    // UNROLL_KERNEL_OUT = UNROLL_IN_C), then the next group (OUT_CHANNELS_DEPTH repeats).
    const Shape& w = n.param("weight")->tensor.shape;
    const std::int64_t cg = w[1];  // input channels per group
    const std::int64_t window = shape_numel(w) / (w[0] * w[1]);
    const std::int64_t p_in = std::min(hw.in[0].elems_per_beat, cg);
    const std::int64_t p_out = hw.out.elems_per_beat;
    // Kernel unroll U: U window positions' dot products side by side (an adder tree of
    // U·P_in products), so a window takes window/U accumulation steps.
    const std::int64_t u = hw.kernel_unroll;
    if (u < 1 || window % u != 0)
      fail(n, "kernel_unroll " + std::to_string(u) + " does not divide the " +
                  std::to_string(window) + "-position kernel window");
    const std::int64_t acc_cycles = window / u * ceil_div(cg, p_in);
    const std::int64_t pixel_cycles = acc_cycles * ceil_div(y[1], p_out);
    const std::int64_t row_pixels = y.size() > 3 ? y[3] : 1;
    t.macs_per_cycle = p_in * p_out * u;
    t.row_cycles = std::max({row_pixels * pixel_cycles, in_per_row, out_per_row});
    t.latency_cycles = ceil_log2(p_in * u) + 3;
  } else {
    t.row_cycles = std::max(in_per_row, out_per_row);
    t.latency_cycles = 2;
  }
  t.out_interval_cycles =
      std::max<std::int64_t>(1, t.row_cycles / std::max<std::int64_t>(1, out_per_row));
  t.first_out_cycles = t.out_interval_cycles;
  if (mac_datapath && hw.weights_off_chip) {
    const Param* w = n.param("weight");
    if (!w) fail(n, "weights off chip, but the node has no weight parameter");
    t.weight_tiles = 1;
    t.weight_tile_bytes = w->tensor.bytes();
    t.weight_tile_cycles_per_row = t.row_cycles;
    t.block_rows = t.rows;
  }
}

void row_reduce_timing(const Graph& g, const Node& n, const NodeHw& hw, OpTiming& t,
                       std::int64_t row_elems) {
  const Shape& x = g.tensor_of(n.args[0]).shape;
  const std::int64_t D = row_elems;
  const std::int64_t p = hw.in[0].elems_per_beat;
  t.engine = OpTiming::Engine::Rows;
  t.rows = shape_numel(x) / D;
  // A row takes ceil(D / p) passes (the last one partly filled when p does not divide D).
  t.row_cycles = std::max(ceil_div(D, p), ceil_div(t.out_beats, t.rows));
  t.first_out_cycles = 0;
  t.out_interval_cycles = std::max<std::int64_t>(1, t.row_cycles / ceil_div(t.out_beats, t.rows));
  t.latency_cycles = ceil_log2(p) + 8;  // reduction tree + normalise (exp/div or rsqrt)
}

void streaming_timing(const Graph& g, const Node& n, const NodeHw& hw, OpTiming& t,
                      std::int64_t latency_cycles, bool preload_broadcast) {
  t.engine = OpTiming::Engine::Streaming;
  t.latency_cycles = latency_cycles;
  if (!preload_broadcast) return;
  for (std::size_t p = 0; p < hw.in.size(); ++p) {
    const std::int64_t in_numel = g.tensor_of(n.args[p]).numel();
    if (in_numel < n.results[0].numel()) t.preload_beats[p] = t.in_beats[p];  // broadcast operand
  }
}

OpTiming op_timing(const Graph& g, const Node& n, const NodeHw& hw) {
  const ops::OpDescriptor& d = ops::of(n);
  OpTiming t;
  for (const auto& p : hw.in) t.in_beats.push_back(p.beats);
  t.preload_beats.assign(hw.in.size(), 0);
  t.out_beats = hw.out.beats;
  t.macs = d.macs(g, n);
  if (hw.systolic && d.cls != OpClass::Gemm)
    fail(n, "hw.impl: systolic needs a linear, matmul or bmm node");
  if (hw.weights_off_chip && !d.weights_can_stream)
    fail(n, "op '" + n.op + "' cannot stream weights from off-chip memory");
  d.timing(g, n, hw, t);
  if (!t.weight_schedule.empty()) {
    t.weight_tiles = static_cast<std::int64_t>(t.weight_schedule.size());
    t.block_rows = t.rows;
    t.weight_tile_bytes = 0;
    for (const auto& w : t.weight_schedule) {
      t.weight_tile_bytes = std::max(t.weight_tile_bytes, w.bytes);
      t.weight_bytes_per_inference += w.bytes;
    }
  } else if (t.weight_tiles > 0) {
    t.weight_bytes_per_inference =
        t.engine == OpTiming::Engine::Systolic
            ? t.weight_tile_bytes
            : ceil_div(t.rows, t.block_rows) * t.weight_tiles * t.weight_tile_bytes;
  }
  return t;
}

// ---------------------------------------------------------------------------------------
double bram36_for_bits(double bits) {
  return bits <= 0 ? 0 : std::ceil(bits / 36864.0);
}

double uram_for_bits(double bits) {
  return bits <= 0 ? 0 : std::ceil(bits / 294912.0);
}

double dsp_per_mac(int a_bits, int b_bits) {
  const int lo = std::min(a_bits, b_bits), hi = std::max(a_bits, b_bits);
  if (hi <= 4) return 0;    // 4-bit products map to LUTs
  if (hi <= 8) return 0.5;  // two int8 MACs per DSP48E2 with a shared operand
  if (lo <= 18 && hi <= 27) return 1;
  return std::ceil(lo / 18.0) * std::ceil(hi / 27.0);
}

Resources estimate_resources(const Graph& g, const Node& n, const NodeHw& hw, const OpTiming& t) {
  return estimate_node(g, n, hw, t).res;
}

ResourceEstimate estimate_node(const Graph& g, const Node& n, const NodeHw& hw, const OpTiming& t) {
  if (!hw.systolic) return node_estimate(g, n, hw, t);
  // The systolic core: rows x cols MAC lanes (A lanes x C lanes), plus the A buffer.
  NodeHw core = hw;
  core.in[0] = tile_port(g.tensor_of(n.args[0]).shape, {1});
  core.in[0].tile = {hw.systolic_rows};
  core.in[0].elems_per_beat = hw.systolic_rows;
  core.out.tile = {hw.systolic_cols};
  core.out.elems_per_beat = hw.systolic_cols;
  ResourceEstimate r = node_estimate(g, n, core, t);
  const auto& ta = g.tensor_of(n.args[0]);
  r += flat_buffer(2.0 * static_cast<double>(ta.numel()) * ta.precision.bits_per_element(),
                   hw.uram_per_bram36);
  return r;
}

}  // namespace masesim
