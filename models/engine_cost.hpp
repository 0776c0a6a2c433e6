// Shared engines: a VTA-style core (load unit, GEMM core, vector ALU, store unit, on-chip
// input/weight/accumulator buffers) that executes many graph nodes one after another, and a
// host CPU that executes nodes with a per-op-class cost. Pure functions and a pure timeline,
// no SystemC: the SystemC engine (models/engine_block.hpp) drives CoreTimeline with the
// TLM-2.0 memory's completion times; the unit tests drive it with a fixed-rate memory.
//
// Lowering (lower()): a linear, matmul or bmm node is `groups` GEMMs of M×K·K×N; a conv is
// im2col-lowered (M = batch·output positions, K = in_channels/groups · kernel elements,
// N = out_channels/groups) — the lowering loads the im2col rows of each tile, an upper
// bound of VTA's windowed loads (docs/engines.md); element-wise, pool and row-reduce
// nodes are vector work for the ALU (out elements × ops per element); wire ops (view,
// flatten, dropout) cost nothing on an engine, nor does a KV cache (the cache is memory:
// its producer's store appends to it, its consumers load the context from it).
//
// Tiling (plan_gemm): tiles are multiples of the array (k of rows, n of cols) that fit the
// buffers with `slots` tiles each (2: double buffering, so the load of tile i+1 overlaps the
// compute of tile i); k grows first (a full reduction keeps the accumulator resident), then
// n, then m. Tiles run n-block outer, m-block inner, k innermost; a tile whose A or B block is
// the one already in its buffer is not loaded again.
//
// Timeline (CoreTimeline): VTA's dependency tokens as times. A load waits for the load unit
// (in program order) and for the buffer slot it fills to be released by the compute that
// last read it (WAR); a compute waits for the compute unit, for its tiles' loads (RAW) and
// for its accumulator slot to be released by the store of its previous use (WAR); a store
// waits for the store unit and for its compute (RAW). Every wait of the compute unit is
// attributed to load, store or input (the producer's data not yet in memory).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "models/time.hpp"
#include "workloads/graph.hpp"

namespace masesim::engine {

/// A host CPU's per-op-class cost (devices of kind host): a node takes
/// overhead + max(MACs / macs_per_s, bytes moved / bytes_per_s).
struct CpuConfig {
  double gemm_macs_per_s = 0;     ///< linear, matmul, conv (an optimised BLAS/oneDNN loop)
  double vector_elems_per_s = 0;  ///< element-wise, pool, norms: output elements per second
  double bytes_per_s = 0;         ///< memory bandwidth a node's operands stream at
  double op_overhead_ns = 0;      ///< dispatch of one op (framework overhead)
};

/// A shared core's structure (system.engines; docs/engines.md), or a host CPU (cpu = true:
/// every node takes cpu_node_ps on the compute unit, no tiles, no DMA).
struct CoreConfig {
  bool cpu = false;
  CpuConfig cpu_cost;
  // GEMM core: a systolic array of gemm_rows × gemm_cols PEs (models/systolic; none if 0).
  std::int64_t gemm_rows = 0, gemm_cols = 0;  ///< gemm_cols: MAC columns (PE cols x macs_per_pe)
  std::int64_t macs_per_pe = 1;               ///< 2: packed PEs (W4A8, two int4 weights per DSP)
  bool weight_stationary = true;
  std::int64_t extra_pipeline_cycles = 0;  ///< added to every GEMM tile (deeper pipeline)
  // Vector ALU (none if 0 lanes): `alu_ops` lists the op kinds it executes.
  std::int64_t alu_lanes = 0;
  std::int64_t alu_pipeline_cycles = 0;  ///< per ALU pass (one pass per tile or chunk)
  std::vector<std::string> alu_ops;
  // On-chip buffers (bytes) and the accumulator's element width.
  std::int64_t input_buffer_bytes = 0, weight_buffer_bytes = 0, acc_buffer_bytes = 0;
  std::int64_t acc_elem_bytes = 4;
  // Load and store units: bytes per cycle of their DMA port (the memory adds its own time).
  std::int64_t load_bytes_per_cycle = 8, store_bytes_per_cycle = 8;
  bool double_buffer = true;  ///< 2 tiles per buffer (else 1)
  bool fuse = true;           ///< unary vector nodes after a GEMM run on its accumulator tile
  std::int64_t slots() const { return double_buffer ? 2 : 1; }
  bool has_gemm() const { return gemm_rows > 0 && gemm_cols > 0; }
  bool has_alu() const { return alu_lanes > 0; }
  bool alu_runs(const std::string& op) const;
};

struct GemmWork {
  std::int64_t groups = 1, m = 0, k = 0, n = 0;
  double a_elem_bytes = 1, b_elem_bytes = 1, out_elem_bytes = 1;
  bool b_is_param = true;  ///< B is the node's weight (else its data_in_1)
  std::int64_t macs() const { return groups * m * k * n; }
};

struct VectorWork {
  std::int64_t out_elems = 0;
  std::int64_t ops_per_elem = 1;
  std::int64_t in_elems = 0;  ///< all data inputs
  double in_bytes = 0;
  double out_bytes = 0;
};

struct Lowering {
  enum class Kind { None, Gemm, Vector, Free };
  Kind kind = Kind::None;
  GemmWork gemm;
  VectorWork vec;
  std::string why;  ///< Kind::None: why no engine can run it
};

/// How node `n` runs on a shared engine (see the file comment).
Lowering lower(const Graph& g, const Node& n);

/// Tiles of one GEMM group on a core.
struct TilePlan {
  std::int64_t m_t = 0, k_t = 0, n_t = 0;
  std::int64_t tiles_m = 0, tiles_k = 0, tiles_n = 0;
  std::int64_t a_tile_bytes = 0, b_tile_bytes = 0, acc_tile_bytes = 0;  ///< full tiles
  std::int64_t tiles() const { return tiles_m * tiles_k * tiles_n; }
};

/// The tiling of `w` on `c` (file comment). Throws std::invalid_argument saying which
/// buffer cannot hold the smallest tile (the caller names node and engine).
TilePlan plan_gemm(const GemmWork& w, const CoreConfig& c);

/// Elements of one vector chunk: as many output elements as one slot of the accumulator
/// buffer holds together with their inputs (acc_elem_bytes each); throws
/// std::invalid_argument when not even one fits.
std::int64_t vector_chunk_elems(const VectorWork& w, const CoreConfig& c);

/// ALU cycles of `elems` output elements at `ops` ops per element: one pass.
std::int64_t alu_cycles(std::int64_t elems, std::int64_t ops, const CoreConfig& c);

/// Compute-unit cycles of one GEMM node if never stalled: every tile's array cycles (edge
/// tiles at their own size) plus the core's extra pipeline and the fused ALU passes.
std::int64_t gemm_ideal_cycles(
    const GemmWork& w, const TilePlan& p, std::int64_t fused_ops, const CoreConfig& c,
    const std::function<std::uint64_t(std::int64_t, std::int64_t, std::int64_t)>& tile_cycles);
/// ALU cycles of one vector node in chunks of `chunk` outputs, if never stalled.
std::int64_t vector_ideal_cycles(const VectorWork& w, std::int64_t chunk, const CoreConfig& c);

/// Host CPU time of a node in ps (see CpuConfig).
time_ps cpu_node_ps(const Lowering& l, std::int64_t macs, double bytes, const CpuConfig& c);
/// The same for graph node `n`: bytes are its data inputs, parameters and output; throws
/// std::invalid_argument when the node does not lower (no CPU cost for its op class).
time_ps cpu_node_ps(const Graph& g, const Node& n, const CpuConfig& c);

/// Counted by the timeline (ps; cycles are these over the clock period).
struct CoreCounters {
  time_ps compute_busy_ps = 0, wait_load_ps = 0, wait_store_ps = 0, wait_input_ps = 0;
  time_ps load_busy_ps = 0, store_busy_ps = 0;
  std::uint64_t gemm_tiles = 0, alu_passes = 0, loads = 0, stores = 0;
  std::uint64_t bytes_loaded = 0, bytes_stored = 0, macs = 0;
  std::int64_t peak_input_bytes = 0, peak_weight_bytes = 0, peak_acc_bytes = 0;
};

/// The LD → EX → ST pipeline of one core as times (file comment). Memory accesses go
/// through `mem(issue_ps, bytes, write)`, which returns the completion time (the SystemC
/// engine passes the TLM-2.0 memory; tests a fixed rate). Calls are in program order.
class CoreTimeline {
 public:
  using MemFn = std::function<time_ps(time_ps issue, std::uint64_t bytes, bool write)>;
  /// Called for each unit activity (for the trace): unit 0 compute, 1 load, 2 store.
  using TraceFn = std::function<void(int unit, const char* what, time_ps b, time_ps e)>;
  CoreTimeline(const CoreConfig& c, time_ps period_ps, MemFn mem, TraceFn trace = nullptr);

  /// One GEMM node: every tile of every group, its A operand in memory from `a_ready`, B
  /// (when data) from `b_ready`; `tile_cycles(m, k, n)` is the array's count for one
  /// tile (the cycle model or the RTL); `fused_ops` ALU ops per output element run on
  /// each finished accumulator tile before its store. Returns the last store's end.
  time_ps gemm(
      const GemmWork& w, const TilePlan& p, time_ps a_ready, time_ps b_ready,
      std::int64_t fused_ops,
      const std::function<std::uint64_t(std::int64_t, std::int64_t, std::int64_t)>& tile_cycles);
  /// One vector node on the ALU: chunks of `chunk` output elements, inputs in memory from
  /// `ready`. Returns the last store's end.
  time_ps vector(const VectorWork& w, std::int64_t chunk, time_ps ready);
  /// One node on a host CPU: `duration` on the compute unit once its inputs are ready.
  time_ps cpu(time_ps duration, time_ps ready);

  const CoreCounters& counters() const { return k_; }
  time_ps compute_free() const { return ex_free_; }

 private:
  struct Ring {
    std::vector<time_ps> release;  ///< per slot: when its last reader let it go
    std::size_t next = 0;
    std::int64_t resident = -1;  ///< id of the block in the slot last filled
    std::size_t last = 0;        ///< that slot
    time_ps resident_ready = 0;  ///< when that block was in the buffer
  };
  void note_bytes(const Ring& r, std::size_t slot, std::int64_t bytes);
  /// Loads `bytes` into the next slot of `r` (unless block `id` is resident there); returns
  /// when the data is in the buffer, sets `slot`.
  time_ps load(Ring& r, std::int64_t id, std::uint64_t bytes, time_ps ready, std::size_t& slot);
  time_ps store(std::uint64_t bytes, time_ps ready);
  /// Starts a compute of `cycles` after `deps` (loads) and `acc_free`; attributes the wait.
  time_ps compute(time_ps loads_done, time_ps acc_free, time_ps input_ready, std::int64_t cycles,
                  const char* what);
  CoreConfig c_;
  time_ps period_;
  MemFn mem_;
  TraceFn trace_;
  time_ps ld_free_ = 0, ex_free_ = 0, st_free_ = 0;
  Ring in_, w_, acc_;
  std::int64_t next_id_ = 0;  ///< block ids (resident checks never match across nodes)
  CoreCounters k_;
  std::vector<std::vector<std::int64_t>> slot_bytes_;  ///< per buffer, per slot: bytes held
};

}  // namespace masesim::engine
