// Calibrated resource model of MASE's streaming operator blocks (docs/resource-model.md).
// Pure functions: LUT/FF/DSP/BRAM36/URAM of one block from its parallelism (tile) and
// widths, in the parameterisation of MASE's HLS synthesis data
// (shared/calibration/mase-hls-u250: x_row = lanes along the last dim, x_col = rows per
// beat, *_depth = tiles per dim). Fixed-point logic is fitted to that data (refit with
// bench/resource_fit.py); DSP packing, block formats, minifloat/float, and BRAM/URAM
// storage are first-principles formulas (UG579, WP487, UG573), documented as such.
#pragma once
#include <cstdint>
#include <string>

#include "models/hls_blocks.hpp"
#include "models/op_cost.hpp"
#include "workloads/graph.hpp"
#include "workloads/precision.hpp"

namespace masesim {

/// How multipliers map to DSP48E2 slices.
enum class DspMapping {
  Packed,     ///< the masesim default: two ≤8-bit MACs per DSP48E2 when one operand is
              ///< shared (WP487), ≤4-bit products in LUTs, 27×18 tiling above (UG579)
  HlsDefault  ///< what Vitis HLS does with MASE's templates (no packing; fitted)
};

struct ResourceOptions {
  DspMapping dsp = DspMapping::Packed;
};

/// A streamed tile in the HLS data's terms: `row` × `col` elements per beat
/// (x_row: along the last dim, x_col: rows), `row_depth` × `col_depth` beats per tensor.
struct TileShape {
  std::int64_t row = 1, col = 1;
  std::int64_t row_depth = 1, col_depth = 1;
  std::int64_t lanes() const { return row * col; }
  std::int64_t elems() const { return row * col * row_depth * col_depth; }
};

/// A linear (MASE fixed_linear / int_linear2d): per cycle k_par × n_par × row_par MACs.
struct LinearShape {
  std::int64_t k_par = 1;    ///< reduction lanes per beat (x_row == w_col)
  std::int64_t n_par = 1;    ///< output features per beat (w_row)
  std::int64_t row_par = 1;  ///< rows per beat (x_col)
  std::int64_t k_depth = 1;  ///< K / k_par (x_row_depth == w_col_depth)
  Precision x = fixed_precision(8, 0);
  Precision w = fixed_precision(8, 0);
  std::int64_t macs_per_cycle() const { return k_par * n_par * row_par; }
  std::int64_t outputs_per_beat() const { return n_par * row_par; }
};

// ---- per-block formulas (logic only; storage is added by the *_storage / buffer calls) --

/// MAC array + adder tree + accumulators of a linear/matmul/conv datapath.
Resources linear_resources(const LinearShape& s, const ResourceOptions& o = {});
/// DSP48E2 slices of a linear's MAC array (the DSP part of linear_resources).
double linear_dsp(const LinearShape& s, DspMapping m = DspMapping::Packed);

/// The datapath of an element-wise lane, as the op descriptors declare it.
enum class EltwiseKind {
  SignTest,    ///< relu: a sign test and a mux
  AddSub,      ///< add, sub: an adder (+ alignment for float and block formats)
  Mul,         ///< mul: a multiplier (+ exponent add for float and block formats)
  Div,         ///< div: a pipelined array divider
  Affine,      ///< batch_norm, a norm's weight and bias: multiply and add
  Activation,  ///< gelu, silu, tanh, sigmoid, exp, ...: LUT ROM or piecewise-linear
};

/// Element-wise block with `lanes` lanes of `kind`; `y` is the second operand (or = x).
Resources elementwise_resources(EltwiseKind kind, std::int64_t lanes, const Precision& x,
                                const Precision& y);
/// layer_norm over tile.row lanes of each of tile.col rows (logic; the row buffer is separate).
Resources layernorm_resources(const TileShape& t, const Precision& x);
Resources softmax_resources(const TileShape& t, const Precision& x);
/// MASE's transpose / buffer block: logic fitted on 8×8-tile tensors, plus storage of the
/// whole tensor (double-buffered) placed by buffer_resources.
Resources transpose_resources(const TileShape& t, const Precision& x);
/// A fork to `fork_num` consumers (handshake only; the data path is wires), plus its skew
/// buffers of `buffer_bits` in total (0: none), placed by buffer_resources.
Resources fork_resources(std::int64_t fork_num, double buffer_bits = 0);

/// On-chip storage of `bits`: URAM (288 Kb blocks) above 64 KiB, else BRAM36 (36 Kb),
/// as in op_cost.cpp's placement (UG573: RAMB36E2 = 36 Kb, URAM288 = 288 Kb).
Resources buffer_resources(double bits);

/// Extra logic of number formats over the fixed-point datapath of the same multiplier
/// width, per MAC lane: shared/per-element exponent add, alignment shifters, normalise.
/// `reduce_lanes` is the number of products summed per cycle into one output
/// (k_par for a linear); `outputs` accumulators. First principles, not fitted.
Resources format_overhead(const Precision& x, const Precision& w, std::int64_t reduce_lanes,
                          std::int64_t outputs);

/// A single scalar for comparing designs: the resources as LUT equivalents by U250 share
/// (1 DSP = 1728000/12288 LUT, 1 FF = 0.5 LUT, BRAM36 = 1728000/2688, URAM = 1728000/1280).
double lut_equivalent(const Resources& r);

/// A streamed tensor's tile in the HLS data's terms (x_row lanes along the last dim).
TileShape tile_of(const Shape& shape, const PortTiling& pt);
/// Storage bits of a tensor at its precision.
double tensor_bits(const Tensor& t);
/// Address generation and handshake of a block that moves `lanes` elements of `bits`
/// per beat without arithmetic (embedding lookup, KV-cache port): fork.csv's constants.
Resources handshake_resources(std::int64_t lanes, double bits);

// ---- per-node compositions the op descriptors use (HLS blocks + the node's storage) ----
// Each is the node's block from models/hls_blocks with hw.binding, plus its flat buffers
// (flat_buffer: whole tensors, double buffers); extrapolated when a block is.
/// A MAC block (linear/matmul/bmm when !conv; conv otherwise): int_linear2d's MAC array
/// and weight arrays (weights on chip), or the streamed tile buffers, a buffered B operand,
/// a conv's line buffer.
ResourceEstimate mac_block_resources(const Graph& g, const Node& n, const NodeHw& hw,
                                     const OpTiming& t, bool conv);
/// A row-reduce block: `logic` plus its double-buffered row and an affine weight/bias.
ResourceEstimate row_reduce_block_resources(const Graph& g, const Node& n, const NodeHw& hw,
                                            const OpTiming& t, const ResourceEstimate& logic);
/// An element-wise block: int_relu / int_add / int_mult / the activations, buffered
/// broadcast operands, and its params (per-channel constants or a constant operand).
ResourceEstimate elementwise_block_resources(const Graph& g, const Node& n, const NodeHw& hw,
                                             const OpTiming& t, EltwiseKind kind);
/// Row-reduce logic from the HLS blocks (int_layernorm, int_rmsnorm, int_softmax).
/// (hw: the node's binding and storage rule.)
ResourceEstimate layernorm_estimate(const TileShape& t, const Precision& x, const NodeHw& hw);
ResourceEstimate rmsnorm_estimate(const TileShape& t, const Precision& x, const NodeHw& hw);
ResourceEstimate softmax_estimate(const TileShape& t, const Precision& x, const NodeHw& hw);
/// MASE int_rope (hls_rope, fitted on int_rope.csv): its column buffer holds the row.
ResourceEstimate rope_estimate(const TileShape& t, const Precision& x, const NodeHw& hw);
/// MASE int_transpose / buffer: the whole tensor, once (as the template).
ResourceEstimate transpose_estimate(const TileShape& t, const Precision& x, const NodeHw& hw);

/// DSP48E2 tiles of one unpacked a×b multiplier (27×18, UG579).
double dsp_tiles(int a, int b);
/// Exponent bits per element (IEEE float, minifloat, MX-FP elements); 0 when none.
int float_exp_bits(const Precision& p);
/// Bits of a shared block exponent (block_fp; MXINT/MXFP: the E8M0 scale); 0 when none.
int shared_exp_bits(const Precision& p);

/// The model for one graph node (its op descriptor's resources: the HLS block models
/// with hw.binding), with the extrapolation flag; node_resources is its Resources.
ResourceEstimate node_estimate(const Graph& g, const Node& n, const NodeHw& hw, const OpTiming& t);
Resources node_resources(const Graph& g, const Node& n, const NodeHw& hw, const OpTiming& t);

}  // namespace masesim
