// Sliding-window ops over NCHW activations: conv2d (grouped and depthwise through
// `groups`), max_pool2d, avg_pool2d.
#include "models/ops/registry.hpp"
#include "models/ops/shape_util.hpp"
#include "workloads/error.hpp"

namespace masesim::ops {
namespace {

std::vector<Shape> conv2d_shape(const Node& n, const std::vector<Shape>& in) {
  need_rank(in[0], 4, 4, "data_in_0");
  const Shape w = param_shape(n, "weight");
  if (w.size() != 4)
    fail_rule("weight must be [out, in/groups, kh, kw], got " + shape_to_string(w));
  const std::int64_t groups = n.attr_int("groups", 1);
  if (groups <= 0 || in[0][1] % groups != 0 || w[0] % groups != 0)
    fail_rule("groups = " + std::to_string(groups) + " must divide in and out channels");
  if (w[1] * groups != in[0][1])
    fail_rule("weight " + shape_to_string(w) + " expects " + std::to_string(w[1] * groups) +
              " input channels, data_in_0 " + shape_to_string(in[0]) + " has " +
              std::to_string(in[0][1]));
  check_bias(n, w[0]);
  const auto s = pair_attr(n, "stride", 1), p = pair_attr(n, "padding", 0),
             d = pair_attr(n, "dilation", 1);
  return {{in[0][0], w[0], window_out(in[0][2], w[2], s[0], p[0], d[0], "conv2d height"),
           window_out(in[0][3], w[3], s[1], p[1], d[1], "conv2d width")}};
}

std::vector<Shape> pool_shape(const Node& n, const std::vector<Shape>& in) {
  need_rank(in[0], 4, 4, "data_in_0");
  if (!n.has_attr("kernel_size")) fail_rule("attribute kernel_size is required");
  const auto k = pair_attr(n, "kernel_size", 1);
  const auto s = n.has_attr("stride") ? pair_attr(n, "stride", 1) : k;
  const auto p = pair_attr(n, "padding", 0);
  return {{in[0][0], in[0][1], window_out(in[0][2], k[0], s[0], p[0], 1, "pool height"),
           window_out(in[0][3], k[1], s[1], p[1], 1, "pool width")}};
}

/// Each output element sums in/groups × kh × kw products.
std::int64_t conv2d_macs(const Graph&, const Node& n) {
  const Shape& w = n.param("weight")->tensor.shape;
  const std::int64_t per_out = checked_mul(checked_mul(w[1], w[2], n.name), w[3], n.name);
  return checked_mul(shape_numel(n.results[0].shape, n.name), per_out, n.name + " MACs");
}

void conv2d_timing(const Graph& g, const Node& n, const NodeHw& hw, OpTiming& t) {
  window_timing(g, n, hw, t, n.param("weight")->tensor.shape[2], n.attr_ints("padding", {0})[0],
                true);
}

void pool_timing(const Graph& g, const Node& n, const NodeHw& hw, OpTiming& t) {
  window_timing(g, n, hw, t, n.attr_ints("kernel_size", {1})[0], n.attr_ints("padding", {0})[0],
                false);
}

/// Window compare/add: (kh·kw − 1) two-input ops per output lane, plus a line buffer.
Resources pool_resources(const Graph& g, const Node& n, const NodeHw& hw, const OpTiming& t,
                         const ResourceOptions&) {
  const Precision& pin = g.tensor_of(n.args[0]).precision;
  const auto ks = n.attr_ints("kernel_size", {1});
  const std::int64_t kh = ks[0], kw = ks.size() > 1 ? ks[1] : ks[0];
  const std::int64_t ops = std::max<std::int64_t>(1, kh * kw - 1);
  Resources r;
  r += elementwise_resources(EltwiseKind::AddSub, hw.out.elems_per_beat * ops, pin, pin);
  r += buffer_resources(static_cast<double>(t.preload_beats[0] + 1) * hw.in[0].elems_per_beat *
                        pin.bits_per_element());
  return r;
}

OpDescriptor pool_op(const char* name, const char* summary, bool is_max) {
  OpDescriptor d;
  d.name = name;
  d.summary = summary;
  d.cls = OpClass::Pool;
  d.attrs_allowed = {"kernel_size", "stride", "padding"};
  d.infer = pool_shape;
  d.macs = no_macs;
  d.timing = pool_timing;
  d.resources = pool_resources;
  d.kernel = [is_max](const KernelCall& c) { fn::pool(c.n, *c.in[0], c.y, is_max); };
  return d;
}

}  // namespace

void register_conv_ops(std::vector<OpDescriptor>& v) {
  OpDescriptor c;
  c.name = "conv2d";
  c.summary = "2-D convolution (groups: grouped/depthwise); line buffer of kh-1-pad rows";
  c.cls = OpClass::Conv;
  c.params_allowed = {"weight", "bias"};
  c.params_required = {"weight"};
  c.attrs_allowed = {"stride", "padding", "dilation", "groups"};
  c.infer = conv2d_shape;
  c.macs = conv2d_macs;
  c.timing = conv2d_timing;
  c.resources = [](const Graph& g, const Node& n, const NodeHw& hw, const OpTiming& t,
                   const ResourceOptions& o) { return mac_block_resources(g, n, hw, t, o, true); };
  c.kernel = [](const KernelCall& k) { fn::conv2d(k.g, k.n, *k.in[0], k.params, k.y); };
  c.weights_can_stream = true;
  v.push_back(c);
  v.push_back(pool_op("max_pool2d", "max over a kh x kw window", true));
  v.push_back(pool_op("avg_pool2d", "mean over a kh x kw window (count_include_pad)", false));
}

}  // namespace masesim::ops
