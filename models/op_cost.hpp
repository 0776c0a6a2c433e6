// Cost models of the MASE op kinds: beats, cycles, MACs, weight traffic, resources.
// Pure functions of the graph node and its resolved hardware parameters; the SystemC
// blocks (models/node_block.cpp) and the mapper (sim/mapping/mapping.cpp) both call them.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "models/resources.hpp"
#include "models/time.hpp"
#include "workloads/graph.hpp"
#include "workloads/op_schema.hpp"

namespace masesim {

/// A port's tile: `tile` aligned to the tensor's last dims; one beat = one tile.
struct PortTiling {
  std::vector<std::int64_t> tile;
  std::int64_t elems_per_beat = 1;
  std::int64_t beats = 0;  ///< per inference
};

/// Tiles a tensor; `par` must divide the trailing dims (checked by the loader/mapper).
PortTiling tile_port(const Shape& shape, const std::vector<std::int64_t>& par);
/// Tiles a tensor whose trailing dims `par` need not divide: the last beat of a row is
/// partly filled (a decode step's context length against a fixed datapath width).
PortTiling tile_port_padded(const Shape& shape, const std::vector<std::int64_t>& par);

/// Largest divisor of `dim` that is <= `cap` (>= 1).
std::int64_t largest_divisor_at_most(std::int64_t dim, std::int64_t cap);

/// The tile of an [N, C, ...] activation streamed channel-parallel: `lanes` channels of
/// one pixel per beat, {lanes, 1, ...} aligned to dims 1.. (rank >= 2).
std::vector<std::int64_t> channel_tile(const Shape& s, std::int64_t lanes);
/// True when `tile` (aligned to the trailing dims of `s`) splits no dim but dim 1 (the
/// channels): every other entry is 1 (one element per beat is both kinds). Rank < 2: false.
bool is_channel_tile(const Shape& s, const std::vector<std::int64_t>& tile);

/// How a block's multipliers are bound (models/hls_blocks.hpp, docs/resource-model.md).
enum class MulBinding {
  DspPacked,   ///< two ≤8-bit MACs per DSP48E2 sharing an operand (WP487); else 27×18 tiles
  HlsDefault,  ///< what Vitis HLS binds by width in MASE's templates (fitted per block)
  Lut          ///< every multiplier in LUTs
};
/// "dsp_packed", "hls_default", "lut"; parse_mul_binding throws InputError naming `where`.
const char* mul_binding_name(MulBinding b);
MulBinding parse_mul_binding(const std::string& s, const std::string& where);

/// Hardware parameters of one node after mapping.
struct NodeHw {
  std::vector<PortTiling> in;  ///< per data_in port
  PortTiling out;              ///< data_out_0
  bool weights_off_chip = false;
  std::int64_t weight_block_rows = 64;  ///< rows sharing one off-chip weight pass
  /// conv2d: kernel-window positions computed side by side (MASE's UNROLL_KERNEL_OUT over
  /// the kh·kw window; a divisor of it), each with the P_in × P_out lanes (1: none).
  std::int64_t kernel_unroll = 1;
  // hw.impl: systolic — the node runs on the systolic GEMM core (models/systolic).
  bool systolic = false;
  std::int64_t systolic_rows = 16;
  std::int64_t systolic_cols = 16;
  bool weight_stationary = false;
  // kv_cache nodes: where the cache lives and how many bytes it holds (all sequences in
  // flight, at the longest context).
  bool kv_off_chip = false;
  std::int64_t kv_capacity_bytes = 0;
  MulBinding binding = MulBinding::HlsDefault;  ///< system.binding / mapping.binding
  /// The node's device: URAM blocks per BRAM36 block (array_storage's binding rule;
  /// 0: no URAM). Default: the xcu250's 1280 / 2688.
  double uram_per_bram36 = 1280.0 / 2688.0;
};

/// Timing of a node per inference (see models/node_block.hpp for how it is executed).
struct OpTiming {
  enum class Engine { Streaming, Rows, Systolic };
  Engine engine = Engine::Streaming;
  std::vector<std::int64_t> in_beats;       ///< per input port
  std::vector<std::int64_t> preload_beats;  ///< per input port, read before the first row
  std::int64_t out_beats = 0;
  std::int64_t rows = 1;                 ///< Rows engine: rows per inference
  std::int64_t row_cycles = 0;           ///< Rows: datapath cycles per row
  std::int64_t first_out_cycles = 0;     ///< Rows: cycles from row start to first output issue
  std::int64_t out_interval_cycles = 1;  ///< cycles between output issues
  std::int64_t latency_cycles = 0;       ///< pipeline depth added to every output
  std::int64_t macs = 0;                 ///< per inference
  std::int64_t macs_per_cycle = 0;       ///< peak
  // Off-chip weights (Rows engine): weights stream once per block of rows, one fetch
  // per output tile.
  std::int64_t weight_tiles = 0;  ///< fetches per pass (0: no off-chip weights)
  std::int64_t weight_tile_bytes = 0;
  std::int64_t weight_tile_cycles_per_row = 0;  ///< compute cycles of one tile for one row
  std::int64_t block_rows = 1;
  std::int64_t weight_bytes_per_inference = 0;
  bool weight_address_from_input = false;  ///< embedding: the row to fetch is the input token
  /// Off-chip weights with an explicit schedule (moe_experts): one pass per inference
  /// (block_rows = rows) over these tiles in fetch order. A tile's fetch is issued when the
  /// previous fetch was and its datapath's previous tile has begun (a double buffer per
  /// datapath); it computes on its datapath once it has arrived; every output is ready
  /// after the last tile. Empty: the uniform weight_tiles schedule above. When set,
  /// weight_tiles is its size and weight_tile_bytes its largest tile.
  struct WeightTile {
    std::int64_t bytes = 0;
    std::int64_t cycles = 0;    ///< compute cycles of the tile for the whole inference
    std::int64_t datapath = 0;  ///< 0 .. datapaths-1
    bool operator==(const WeightTile& o) const {
      return bytes == o.bytes && cycles == o.cycles && datapath == o.datapath;
    }
  };
  std::vector<WeightTile> weight_schedule;
  /// Compute cycles of the schedule's busiest datapath (0 without a schedule).
  std::int64_t schedule_busy_cycles() const;
  // KV cache (Streaming engine): the first `cached_out_beats` output beats are the context
  // read back from the cache and need no input; off-chip, they arrive in `mem_read_chunks`
  // TLM reads of mem_read_bytes in total, issued back to back when the block starts the
  // inference; the new tokens (the input) are appended with one TLM write of
  // mem_write_bytes. On chip both are BRAM/URAM accesses at one beat per cycle.
  std::int64_t cached_out_beats = 0;
  std::int64_t mem_read_bytes = 0, mem_read_chunks = 0, mem_write_bytes = 0;
  std::int64_t kv_bytes_on_chip = 0;  ///< cache capacity held in BRAM/URAM (resources)
  // Systolic: `gemm_batch` GEMMs of gemm_m x gemm_k x gemm_n per inference, each
  // `cycles_per_gemm` cycles on the array (models/systolic gemm_cycles, equal to the RTL).
  std::int64_t gemm_batch = 0, gemm_m = 0, gemm_k = 0, gemm_n = 0;
  std::int64_t cycles_per_gemm = 0;
  double systolic_utilisation = 0;

  /// Busy cycles of the datapath per inference if never stalled.
  std::int64_t ideal_cycles() const;
  /// Every field equal (per-step variants are stored once per distinct timing).
  bool operator==(const OpTiming& o) const {
    auto key = [](const OpTiming& t) {
      return std::tie(t.engine, t.in_beats, t.preload_beats, t.out_beats, t.rows, t.row_cycles,
                      t.first_out_cycles, t.out_interval_cycles, t.latency_cycles, t.macs,
                      t.macs_per_cycle, t.weight_tiles, t.weight_tile_bytes,
                      t.weight_tile_cycles_per_row, t.block_rows, t.weight_bytes_per_inference,
                      t.weight_address_from_input, t.weight_schedule, t.cached_out_beats,
                      t.mem_read_bytes, t.mem_read_chunks, t.mem_write_bytes, t.kv_bytes_on_chip,
                      t.gemm_batch, t.gemm_m, t.gemm_k, t.gemm_n, t.cycles_per_gemm,
                      t.systolic_utilisation);
    };
    return key(*this) == key(o);
  }
};

/// When the tiles of a weight schedule (OpTiming::weight_schedule) compute, given when the
/// inference's inputs are ready, the earliest issue of its first fetch (the prefetch slot
/// the previous inference left), the clock period and the memory (`fetch(issue, bytes)`:
/// the arrival time of a fetch; fetches are issued in the schedule's order at
/// non-decreasing times). Pure: NodeBlock runs it with its TLM memory.
struct WeightScheduleTimes {
  time_ps done = 0;        ///< the last datapath's compute end
  time_ps last_begin = 0;  ///< latest tile start: the next inference's prefetch slot
  time_ps stall_ps = 0;    ///< done − (ready + the busiest datapath's cycles)
  std::vector<std::pair<time_ps, time_ps>> waits;  ///< datapath 0's waits for weights
};
/// Compute cycles of a weight schedule's busiest datapath (0 for an empty schedule).
std::int64_t schedule_busy_cycles(const std::vector<OpTiming::WeightTile>& schedule);
WeightScheduleTimes weight_schedule_times(
    const std::vector<OpTiming::WeightTile>& schedule, time_ps ready, time_ps fetch_slot,
    time_ps period_ps, const std::function<time_ps(time_ps, std::int64_t)>& fetch);

/// The cost model of a node: the common beat counts, then its op descriptor's timing
/// (models/ops). Throws InputError for shapes the op cannot map.
OpTiming op_timing(const Graph& g, const Node& n, const NodeHw& hw);

// ---- The engines op descriptors build their timing from (t holds in/out beats, macs) ----
/// MASE fixed_linear datapath (Rows engine): K/K_PAR beats per row, N/N_PAR output tiles
/// of K/K_PAR cycles each; B operand buffered whole; off-chip weights per output tile.
void gemm_timing(const Graph& g, const Node& n, const NodeHw& hw, OpTiming& t);
/// The same GEMM on the systolic core (models/systolic gemm_cycles, equal to the RTL).
void systolic_gemm_timing(const Graph& g, const Node& n, const NodeHw& hw, OpTiming& t);
/// Sliding window over channel-tiled activations (conv, pool; MASE's convolution):
/// rows = N·OH, a line buffer of kh−1−pad input rows read before the first output row.
/// `mac_datapath`: a MAC array of P_in × P_out lanes (the input and output beats' channels)
/// that spends kh·kw·⌈(C_in/groups)/P_in⌉ cycles per output beat and ⌈C_out/P_out⌉ output
/// beats per pixel. Throws InputError if a port is not a channel tile.
void window_timing(const Graph& g, const Node& n, const NodeHw& hw, OpTiming& t, std::int64_t kh,
                   std::int64_t pad, bool mac_datapath);
/// A row of `row_elems` elements buffered whole, then normalised (softmax, norms).
void row_reduce_timing(const Graph& g, const Node& n, const NodeHw& hw, OpTiming& t,
                       std::int64_t row_elems);
/// Streaming engine with a pipeline of `latency_cycles`; operands smaller than the output
/// (broadcast) are read whole first when `preload_broadcast`.
void streaming_timing(const Graph& g, const Node& n, const NodeHw& hw, OpTiming& t,
                      std::int64_t latency_cycles, bool preload_broadcast = true);

/// MASE fixed_linear latency L = (IN/IN_PAR)·(OUT/OUT_PAR) + log2(IN_PAR) + 3, for one
/// input row (used in tests and docs; op_timing's linear reproduces it exactly).
std::int64_t mase_fixed_linear_latency(std::int64_t in, std::int64_t in_par, std::int64_t out,
                                       std::int64_t out_par);

std::int64_t ceil_log2(std::int64_t x);
std::int64_t ceil_div(std::int64_t a, std::int64_t b);

/// DSP48E2 slices for one multiplier of a×b bits; int8×int8 packs two MACs per DSP
/// when one operand is shared (UG579 / WP487), so it returns 0.5.
double dsp_per_mac(int a_bits, int b_bits);

/// A node's resources: its op's HLS block models with hw.binding plus its buffers
/// (models/resource_model.hpp node_estimate; the systolic core adds its A buffer).
/// estimate_node also says whether the estimate is extrapolated (models/hls_blocks.hpp).
struct ResourceEstimate;
ResourceEstimate estimate_node(const Graph& g, const Node& n, const NodeHw& hw, const OpTiming& t);
Resources estimate_resources(const Graph& g, const Node& n, const NodeHw& hw, const OpTiming& t);

/// BRAM36 blocks to hold `bits` (36 Kb each), URAM blocks (288 Kb each).
double bram36_for_bits(double bits);
double uram_for_bits(double bits);

}  // namespace masesim
