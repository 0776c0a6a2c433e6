// Rotary position embedding (GPT-NeoX / HF LLaMA "rotate half" layout):
//   y = x·cos + rotate_half(x)·sin,  rotate_half(x) = cat(−x[D/2:], x[:D/2]) over the last dim,
// with cos and sin tables (graph inputs computed by the host, like position ids) of the
// trailing shape of x. Element i of a row pairs with element i ± D/2, so the block holds a
// whole row of D (MASE int_rope's column buffer) and runs on the Rows engine.
#include "models/ops/registry.hpp"
#include "models/ops/shape_util.hpp"

namespace masesim::ops {
namespace {

/// `t` without its leading 1s must be the trailing dims of x.
void check_table(const Shape& x, const Shape& t, const char* port) {
  std::size_t lead = 0;
  while (lead < t.size() && t[lead] == 1 && t.size() - lead > 1) ++lead;
  const std::size_t k = t.size() - lead;
  if (k > x.size() || !std::equal(t.begin() + static_cast<std::ptrdiff_t>(lead), t.end(),
                                  x.end() - static_cast<std::ptrdiff_t>(k)))
    fail_rule(std::string(port) + " " + shape_to_string(t) +
              " must be the trailing dims of data_in_0 " + shape_to_string(x) +
              " (leading 1s allowed)");
}

std::vector<Shape> rope_shape(const Node&, const std::vector<Shape>& in) {
  need_rank(in[0], 2, 8, "data_in_0");
  const std::int64_t D = in[0].back();
  if (D % 2 != 0) fail_rule("the last dim of data_in_0 (" + std::to_string(D) + ") must be even");
  if (in[1] != in[2])
    fail_rule("cos (data_in_1) " + shape_to_string(in[1]) + " and sin (data_in_2) " +
              shape_to_string(in[2]) + " differ");
  check_table(in[0], in[1], "cos (data_in_1)");
  return {in[0]};
}

std::int64_t head_dim(const Graph& g, const Node& n) {
  return g.tensor_of(n.args[0]).shape.back();
}

/// HLS latency of int_rope (/work/shared/calibration/mase-hls-u250/int_rope.csv): 100
/// cycles for operands of 1–3 bits, 102 for 4–8 bits (the lane multipliers in DSPs), for
/// every tile, for a tensor of 8 × 8 beats (x_row_depth 8, x_col_depth 8). The Rows
/// engine's own cycles for that tensor are 72: 8 rows of 8 beats read back to back, the
/// last row's 8 outputs after it. The rest is the pipeline depth.
std::int64_t rope_latency_cycles(const Precision& x) {
  return x.mac_operand_bits() >= 4 ? 102 - 72 : 100 - 72;
}

void rope_timing(const Graph& g, const Node& n, const NodeHw& hw, OpTiming& t) {
  row_reduce_timing(g, n, hw, t, head_dim(g, n));
  t.latency_cycles = rope_latency_cycles(g.tensor_of(n.args[0]).precision);
  // The tables are read whole before the first row when they are broadcast over heads or
  // batch (held in a table buffer), else streamed row by row with x.
  const std::int64_t out_numel = n.results[0].numel();
  for (std::size_t p = 1; p < hw.in.size(); ++p)
    if (g.tensor_of(n.args[p]).numel() < out_numel) t.preload_beats[p] = t.in_beats[p];
}

ResourceEstimate rope_resources(const Graph& g, const Node& n, const NodeHw& hw,
                                const OpTiming& t) {
  const Tensor& x = g.tensor_of(n.args[0]);
  ResourceEstimate r = rope_estimate(tile_of(x.shape, hw.in[0]), x.precision, hw);
  for (std::size_t p = 1; p < hw.in.size() && p < t.preload_beats.size(); ++p)
    if (t.preload_beats[p] > 0)
      r += flat_buffer(tensor_bits(g.tensor_of(n.args[p])), hw.uram_per_bram36);
  return r;
}

void rope_kernel(const KernelCall& c) {
  const fn::QTensor& x = *c.in[0];
  const fn::QTensor& cs = *c.in[1];
  const fn::QTensor& sn = *c.in[2];
  const std::size_t D = static_cast<std::size_t>(x.shape.back()), h = D / 2;
  const std::size_t period = cs.v.size();  // the tables repeat over the leading dims of x
  for (std::size_t r0 = 0; r0 < x.v.size(); r0 += D)
    for (std::size_t i = 0; i < D; ++i) {
      const double rot = i < h ? -x.v[r0 + i + h] : x.v[r0 + i - h];
      const std::size_t k = (r0 + i) % period;
      c.y.v[r0 + i] = x.v[r0 + i] * cs.v[k] + rot * sn.v[k];
    }
}

}  // namespace

void register_rope_ops(std::vector<OpDescriptor>& v) {
  OpDescriptor d;
  d.name = "rope";
  d.summary = "x·cos + rotate_half(x)·sin over the last dim (rotary position embedding)";
  d.cls = OpClass::RowReduce;
  d.min_inputs = d.max_inputs = 3;
  d.infer = rope_shape;
  d.macs = no_macs;
  d.timing = rope_timing;
  d.resources = rope_resources;
  d.kernel = rope_kernel;
  d.alu_ops_per_elem = 3;  // two multiplies and an add
  v.push_back(d);
}

}  // namespace masesim::ops
