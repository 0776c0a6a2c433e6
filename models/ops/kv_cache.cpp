// KV cache (LLM mode, sim/llm/llm.cpp): appends the step's keys or values to a cache and
// streams the whole context.
#include <cmath>

#include "models/ops/registry.hpp"
#include "models/ops/shape_util.hpp"

namespace masesim::ops {
namespace {

// data_in_0 holds the new keys or values (the step's tokens along `dim`); the result is
// the whole cache of the context (its `dim` is the context length, >= the new tokens),
// which the block reads back from on-chip or off-chip memory.
std::vector<Shape> kv_cache_shape(const Node& n, const std::vector<Shape>& in) {
  const std::size_t d =
      static_cast<std::size_t>(norm_dim(n.attr_int("dim", -1), in[0].size(), "dim"));
  if (n.results.empty() || n.results[0].shape.size() != in[0].size())
    fail_rule("the result must have the rank of data_in_0 " + shape_to_string(in[0]));
  Shape out = in[0];
  out[d] = n.results[0].shape[d];
  if (out[d] < in[0][d])
    fail_rule("the context " + std::to_string(out[d]) + " is shorter than the " +
              std::to_string(in[0][d]) + " new tokens of data_in_0");
  return {out};
}

/// The first `cached_out_beats` output beats are the context read back (no input);
/// off chip in 16 KiB TLM reads issued back to back, the new tokens appended with one
/// TLM write; on chip BRAM/URAM at one beat per cycle (2-cycle read latency).
void kv_cache_timing(const Graph& g, const Node& n, const NodeHw& hw, OpTiming& t) {
  const Tensor& in = g.tensor_of(n.args[0]);
  const Shape& x = in.shape;
  auto d = n.attr_int("dim", -1);
  if (d < 0) d += static_cast<std::int64_t>(x.size());
  const std::int64_t fresh = x[static_cast<std::size_t>(d)];
  const std::int64_t ctx = n.results[0].shape[static_cast<std::size_t>(d)];
  const auto token_bytes = static_cast<std::int64_t>(
      std::ceil(static_cast<double>(in.numel() / fresh) * in.precision.bits_per_element() / 8.0));
  streaming_timing(g, n, hw, t, 2, false);
  t.cached_out_beats = t.out_beats - ceil_div(t.out_beats * fresh, ctx);
  if (hw.kv_off_chip) {
    t.mem_read_bytes = (ctx - fresh) * token_bytes;
    t.mem_read_chunks = ceil_div(t.mem_read_bytes, 16384);
    t.mem_write_bytes = fresh * token_bytes;
  } else {
    t.kv_bytes_on_chip = hw.kv_capacity_bytes;
  }
}

/// Address generation and handshake; the cache in URAM/BRAM when on chip, else two
/// 16 KiB DMA chunk buffers.
ResourceEstimate kv_cache_resources(const Graph& g, const Node& n, const NodeHw& hw,
                                    const OpTiming&) {
  ResourceEstimate r = handshake_resources(hw.out.elems_per_beat,
                                           g.tensor_of(n.args[0]).precision.bits_per_element());
  r += flat_buffer(hw.kv_off_chip ? 2.0 * 16384 * 8 : 8.0 * hw.kv_capacity_bytes,
                   hw.uram_per_bram36);
  return r;
}

}  // namespace

void register_kv_cache_ops(std::vector<OpDescriptor>& v) {
  OpDescriptor d;
  d.name = "kv_cache";
  d.summary = "appends new keys/values along dim and streams the whole context (LLM mode)";
  d.cls = OpClass::KvCache;
  d.attrs_allowed = {"dim"};
  d.infer = kv_cache_shape;
  d.macs = no_macs;
  d.timing = kv_cache_timing;
  d.resources = kv_cache_resources;
  d.kernel = unsupported_kernel(
      "a KV cache has state across steps; functional mode runs one "
      "inference of a graph without LLM steps");
  d.has_functional_model = false;
  v.push_back(d);
}

}  // namespace masesim::ops
