// One descriptor per op kind: everything the simulator asks about an op, in one place.
// Contract: every registered descriptor has every part (shape rule, MAC count, timing,
// resources, functional kernel); the registry checks this when it is first used and
// throws std::logic_error (exit 3) naming the op and the missing part — a half-added op
// never runs with a default. An op without a functional model says so with an explicit
// kernel that throws (unsupported_kernel). The SystemC blocks, the mapper, the resource
// model, functional mode and the tensor-parallel rewrite all ask the descriptor.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "models/functional/kernels.hpp"
#include "models/op_cost.hpp"
#include "models/resource_model.hpp"
#include "workloads/op_schema.hpp"

namespace masesim::ops {

/// How a node's output follows a sharded input in a tensor-parallel region
/// (sim/llm/tensor_parallel.cpp).
enum class TpShard {
  None,           ///< not allowed inside a tensor-parallel region
  Pointwise,      ///< element-wise: the output is sharded like its operands
  Identity,       ///< dropout, contiguous: pointwise, and transparent before a residual add
  ResidualAdd,    ///< add: pointwise; joins a row-parallel linear's output to the residual
  RowReduce,      ///< softmax: pointwise unless it reduces over the sharded dim
  Reshape,        ///< view, reshape: the sharded dim is found in the new shape (attrs.shape)
  Flatten,        ///< flatten: as Reshape, without an attrs.shape to rewrite
  Transpose,      ///< swaps dim0/dim1
  Permute,        ///< follows attrs.dims
  BatchedMatmul,  ///< matmul/bmm with both operands sharded on the same batch (head) dim
  Linear,         ///< column- or row-parallel linear (the region's ends)
  Norm,           ///< layer_norm: a transformer block starts at its consumers
};

/// The functional evaluation of one node (models/functional/kernels.hpp: eval_node).
struct KernelCall {
  const Graph& g;
  const Node& n;
  const std::vector<const fn::QTensor*>& in;  ///< one per arg, of the arg's shape
  const std::map<std::string, fn::QTensor>& params;
  fn::QTensor& y;  ///< data_out_0, shaped and zeroed; quantised by the caller
};

struct OpDescriptor : OpSchema {
  std::string summary;  ///< one line for --list-ops
  /// Fills `t` (whose in_beats, preload_beats, out_beats and macs are set from the
  /// tiling) with the op's cycle model: models/op_cost.hpp's engines.
  std::function<void(const Graph&, const Node&, const NodeHw&, OpTiming&)> timing;
  /// LUT/FF/DSP/BRAM/URAM of the node's block with hw.binding, and whether the estimate
  /// is extrapolated (models/resource_model.hpp, models/hls_blocks.hpp).
  std::function<ResourceEstimate(const Graph&, const Node&, const NodeHw&, const OpTiming&)>
      resources;
  /// Value-level evaluation with the hardware's arithmetic (functional mode).
  std::function<void(const KernelCall&)> kernel;
  bool has_functional_model = true;  ///< false: `kernel` throws naming the op
  /// The node's weight parameters (`streamed_params`) may live off chip and stream through
  /// the block (linear, conv, embedding, moe_experts); otherwise weights are on-chip
  /// constants.
  bool weights_can_stream = false;
  std::vector<std::string> streamed_params{"weight"};
  /// data_in_0 and data_out_0 are [N, C, ...] activations streamed channel-parallel: a beat
  /// is `c` channels of one pixel, pixels in raster order (MASE's convolution template:
  /// data_in_0[UNROLL_IN_C], sliding_window's row-then-channel order). The mapper tiles
  /// them with channel_tile (models/op_cost.hpp); other tiles are an error.
  bool channel_lanes = false;
  TpShard tp = TpShard::None;
  /// ALU operations per output element when the node runs on a shared engine's vector
  /// unit (models/engine_cost.hpp): one for element-wise ops; a pool counts its window,
  /// a row reduction its passes; batch_norm is a multiply and an add.
  std::int64_t alu_ops_per_elem = 1;
};

/// A kernel for an op without a functional model: throws InputError naming node and op.
std::function<void(const KernelCall&)> unsupported_kernel(const std::string& why);
/// MAC count of ops without multipliers.
std::int64_t no_macs(const Graph&, const Node&);

}  // namespace masesim::ops
