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

#include "models/op_cost.hpp"
#include "workloads/precision.hpp"

namespace masesim {

/// How multipliers are bound.
enum class MulBinding {
  DspPacked,   ///< two ≤8-bit MACs per DSP48E2 sharing an operand (WP487); else 27×18 tiles
  HlsDefault,  ///< what Vitis HLS binds by width in MASE's templates (fitted per block)
  Lut          ///< every multiplier in LUTs
};
/// "dsp_packed", "hls_default", "lut"; parse_mul_binding throws InputError naming `where`.
const char* mul_binding_name(MulBinding b);
MulBinding parse_mul_binding(const std::string& s, const std::string& where);

struct HlsBlockEstimate {
  Resources res;
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

}  // namespace masesim
