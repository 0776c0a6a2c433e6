// Table lookup: embedding (one row of `weight` per input id).
#include <cmath>

#include "models/ops/registry.hpp"
#include "models/ops/shape_util.hpp"

namespace masesim::ops {
namespace {

std::vector<Shape> embedding_shape(const Node& n, const std::vector<Shape>& in) {
  const Shape w = param_shape(n, "weight");
  if (w.size() != 2) fail_rule("weight must be [num_embeddings, dim], got " + shape_to_string(w));
  Shape out = in[0];
  out.push_back(w[1]);
  return {out};
}

/// On chip: the table is a ROM read at one row per id (streaming, 2-cycle BRAM read).
/// Off chip: one TLM read of the id's row per input beat (the address comes from the id).
void embedding_timing(const Graph& g, const Node& n, const NodeHw& hw, OpTiming& t) {
  if (!hw.weights_off_chip) {
    streaming_timing(g, n, hw, t, 2, false);
    return;
  }
  const Param* w = n.param("weight");
  t.engine = OpTiming::Engine::Rows;
  t.rows = t.in_beats[0];
  const std::int64_t out_per_row = ceil_div(t.out_beats, t.rows);
  t.row_cycles = out_per_row;
  t.first_out_cycles = 0;
  t.out_interval_cycles = 1;
  t.latency_cycles = 2;
  t.weight_tiles = 1;
  t.weight_tile_bytes = static_cast<std::int64_t>(
      std::ceil(static_cast<double>(hw.in[0].elems_per_beat * w->tensor.shape[1]) *
                w->tensor.precision.bits_per_element() / 8.0));
  t.weight_tile_cycles_per_row = out_per_row;
  t.block_rows = 1;
  t.weight_address_from_input = true;
}

ResourceEstimate embedding_resources(const Graph&, const Node& n, const NodeHw& hw,
                                     const OpTiming&) {
  ResourceEstimate r =
      handshake_resources(hw.out.elems_per_beat, n.results[0].precision.bits_per_element());
  const Param* w = n.param("weight");
  if (w && !hw.weights_off_chip) r += flat_buffer(tensor_bits(w->tensor), hw.uram_per_bram36);
  return r;
}

}  // namespace

void register_embedding_ops(std::vector<OpDescriptor>& v) {
  OpDescriptor d;
  d.name = "embedding";
  d.summary = "rows of weight[num_embeddings, dim] selected by integer ids";
  d.cls = OpClass::Embedding;
  d.params_allowed = {"weight"};
  d.params_required = {"weight"};
  d.attrs_allowed = {"padding_idx"};
  d.infer = embedding_shape;
  d.macs = no_macs;
  d.timing = embedding_timing;
  d.resources = embedding_resources;
  d.kernel = [](const KernelCall& c) { fn::embedding(c.n, *c.in[0], c.params, c.y); };
  d.weights_can_stream = true;
  v.push_back(d);
}

}  // namespace masesim::ops
