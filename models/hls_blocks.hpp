// Resource models of MASE's HLS operator blocks (DeepWok/mase ba8c3896,
// mase_components/hls), docs/resource-model.md. Contract: pure functions (no SystemC, no
// state); each returns LUT/FF/DSP/BRAM36/URAM of one block, the block's range of
// validity (the lanes, widths, depths and formats of the synthesis data it was fitted on,
// shared/calibration/mase-hls-u250), and `extrapolated` = true with the reason when the
// query is outside it. A block is a sum of primitives (HLS processes, stream ports, adder
// bits, select bits, LUT-multiplier partial products, DSP multipliers, divider cells,
// exponential input bits, square-root units, shallow arrays) counted from the template's
// structure; constants per primitive are fitted by bench/resource_fit.py (one table per
// block family, plus a shared table for what a family's data does not cover: number
// formats other than fixed point, and blocks with no data such as SiLU).
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "models/op_cost.hpp"
#include "workloads/precision.hpp"

namespace masesim {

// MulBinding, mul_binding_name and parse_mul_binding: models/op_cost.hpp (a node's NodeHw
// carries its binding).

/// Block RAMs of one array of `depth` entries × `width` bits. BRAM36: the best RAMB36E2
/// aspect ratio (32K×1, 16K×2, 8K×4, 4K×9, 2K×18, 1K×36, 512×72; UG573), tiled over depth
/// and width; URAM: URAM288 blocks of 4K×72 (UG573), tiled likewise. The array is bound
/// to the kind of which it takes the smaller share of the device: URAM when
/// uram_blocks < `uram_per_bram36` × bram36_blocks, with `uram_per_bram36` the device's
/// URAM count over its BRAM36 count (0: no URAM; every array in BRAM36). `alt` is the
/// block count of the other kind (what a spill to it costs). = group_storage of one array.
struct ArrayStorage {
  double bram36 = 0, uram = 0;
  double alt = 0;  ///< URAM if bound to BRAM36, BRAM36 if bound to URAM
};
/// URAM / BRAM36 of the calibration part, xcu250 (DS962: 1280 URAM, 2688 BRAM36): the
/// binding the block functions report; nodes re-bind for their device.
constexpr double kU250UramPerBram36 = 1280.0 / 2688.0;
double bram36_blocks(double depth, double width);
double uram_blocks(double depth, double width);
ArrayStorage array_storage(double depth, double width, double uram_per_bram36 = kU250UramPerBram36);

/// `count` arrays of depth × width bits deeper than LUTRAM (a block's BRAM/URAM storage),
/// read at the same address in the same cycle (the lanes of one tile).
struct ArrayGroup {
  double count = 0, depth = 0, width = 0;
};
/// Binds a group: one memory per array (array_partition) or the arrays side by side in
/// one memory of count × width bits (array_reshape), each in BRAM36 or URAM; the option
/// that takes the smallest share of the device (BRAM36 blocks × uram_per_bram36 against
/// URAM blocks; ties: one memory per array, BRAM36). `alt`: the fewest blocks of the other
/// kind over both packings.
ArrayStorage group_storage(const ArrayGroup& a, double uram_per_bram36 = kU250UramPerBram36);

struct HlsBlockEstimate {
  Resources res;
  double uram_as_bram36 = 0;       ///< BRAM36 that res.uram's arrays take when spilled to BRAM
  double bram36_as_uram = 0;       ///< URAM that res.bram36's arrays take when spilled to URAM
  std::vector<ArrayGroup> arrays;  ///< the deep arrays in res (bound for the xcu250)
  bool extrapolated = false;
  std::string reason;    ///< why extrapolated ("" when inside the range)
  std::string validity;  ///< the block's range of validity, human-readable
};

/// Primitives, in the order of bench/resource_fit.py's PRIMS.
enum class Prim {
  Proc,
  Port,
  AddBits,
  SelBits,
  LmulPp,
  LmulIo,
  DspMul,
  DspTree,
  DivCells,
  ExpBits,
  SqrtUnits,
  RamBits,
  RamArrays,
  Count
};
using PrimCounts = std::array<double, static_cast<std::size_t>(Prim::Count)>;

/// Block families with calibration data (order of the fitted tables).
enum class HlsFamily { Add, Buffer, Fork, LayerNorm, Linear, Mult, Relu, RmsNorm, Rope, Softmax };

/// LUT, FF, DSP of primitive counts with a family's table (or the shared one).
Resources hls_prim_cost(const PrimCounts& p, HlsFamily f);
Resources hls_prim_cost_shared(const PrimCounts& p);

/// MASE int_linear2d / int_matmul / bfp_linear2d: per cycle k_par × n_par × row_par MACs.
struct HlsLinearParams {
  std::int64_t k_par = 1;    ///< reduction lanes per beat (x_row = w_col)
  std::int64_t row_par = 1;  ///< rows per beat (x_col)
  std::int64_t n_par = 1;    ///< output features per beat (w_row)
  std::int64_t k_depth = 8;  ///< K / k_par (x_row_depth)
  std::int64_t n_depth = 8;  ///< N / n_par (w_row_depth)
  Precision x = fixed_precision(8, 0);
  Precision w = fixed_precision(8, 0);
  MulBinding binding = MulBinding::HlsDefault;
  bool bias = true;  ///< false: MASE int_matmul (int_linear2d's loop without the bias add)
  /// false: no weight arrays (weights streamed from off chip, or a matmul's second operand,
  /// whose buffers the caller adds).
  bool weights_on_chip = true;
};
HlsBlockEstimate hls_linear(const HlsLinearParams& p);

/// Element-wise activations. Relu: sign gate. Silu (MASE int_silu): x / (1 + exp(−x)),
/// the exponential on ap_fixed<16,8> whatever the input width, then a divider.
/// Sigmoid = 1/(1+exp(−x)); Tanh = 2·sigmoid(2x) − 1; Gelu = x·sigmoid(1.702x);
/// Exp: the exponential alone at the input width (as in MASE's softmax).
enum class HlsActivation { Relu, Silu, Sigmoid, Tanh, Gelu, Exp };
HlsBlockEstimate hls_activation(HlsActivation kind, std::int64_t lanes, const Precision& x,
                                MulBinding binding = MulBinding::HlsDefault);

/// Element-wise two-operand blocks (MASE int_add / int_mult); Sub costs as Add.
enum class HlsBinary { Add, Sub, Mul };
HlsBlockEstimate hls_binary(HlsBinary op, std::int64_t lanes, const Precision& x,
                            const Precision& y, MulBinding binding = MulBinding::HlsDefault);

/// A row-wise block over tiles of `row_lanes` (x_row) × `rows` (x_col) elements,
/// `row_depth` (x_row_depth) × `col_depth` (x_col_depth) tiles per tensor.
struct HlsRowTile {
  std::int64_t row_lanes = 1, rows = 1;
  std::int64_t row_depth = 8, col_depth = 8;
};
enum class HlsNorm { LayerNorm, RmsNorm };
HlsBlockEstimate hls_norm(HlsNorm kind, const HlsRowTile& t, const Precision& x,
                          MulBinding binding = MulBinding::HlsDefault);
HlsBlockEstimate hls_softmax(const HlsRowTile& t, const Precision& x);
HlsBlockEstimate hls_rope(const HlsRowTile& t, const Precision& x,
                          MulBinding binding = MulBinding::HlsDefault);
/// MASE buffer / int_transpose: the whole tensor of `tiles` beats of `lanes` elements.
HlsBlockEstimate hls_buffer(std::int64_t lanes, std::int64_t tiles, const Precision& x);
/// MASE fork to `fork_num` consumers (handshakes only).
HlsBlockEstimate hls_fork(std::int64_t fork_num);

/// A node's resource estimate: the sum of its blocks and buffers, extrapolated when any
/// block is (reasons joined, each prefixed with the block's name), with the spill
/// alternatives of its storage (see HlsBlockEstimate).
struct ResourceEstimate {
  Resources res;
  double uram_as_bram36 = 0, bram36_as_uram = 0;
  bool extrapolated = false;
  std::string reason;
  ResourceEstimate() = default;
  ResourceEstimate(const Resources& r) : res(r) {}  // NOLINT: a plain estimate converts
  /// The block's estimate with its arrays re-bound for a device of `uram_per_bram36`.
  ResourceEstimate(const HlsBlockEstimate& e, const std::string& block, double uram_per_bram36);
  ResourceEstimate& operator+=(const ResourceEstimate& o);
  /// Marks the estimate extrapolated with `why` (prefixed by `block`).
  void extrapolate(const std::string& block, const std::string& why);
};
/// A flat buffer of `bits` (whole tensors, double buffers, caches) as one array 72 bits
/// wide (both RAMB36E2 512×72 and URAM288 4K×72 read 72-bit words), bound by
/// array_storage for a device of `uram_per_bram36`.
ResourceEstimate flat_buffer(double bits, double uram_per_bram36);

}  // namespace masesim
