// Sliding-window ops over NCHW activations: conv2d (grouped and depthwise through
// `groups`), conv1d, max_pool2d, avg_pool2d, adaptive_avg_pool2d. Their ports stream
// channel-parallel beats (channel_lanes; window_timing in models/op_cost.cpp).
#include <algorithm>

#include "models/ops/registry.hpp"
#include "models/ops/shape_util.hpp"
#include "workloads/error.hpp"

namespace masesim::ops {
namespace {

/// Grouped channels: groups divides both channel counts, weight [out, in/groups, ...]
/// matches data_in_0's channels (dim 1), and the bias is [out].
void check_channels(const Node& n, const Shape& x, const Shape& w) {
  const std::int64_t groups = n.attr_int("groups", 1);
  if (groups <= 0 || x[1] % groups != 0 || w[0] % groups != 0)
    fail_rule("groups = " + std::to_string(groups) + " must divide in and out channels");
  if (w[1] * groups != x[1])
    fail_rule("weight " + shape_to_string(w) + " expects " + std::to_string(w[1] * groups) +
              " input channels, data_in_0 " + shape_to_string(x) + " has " + std::to_string(x[1]));
  check_bias(n, w[0]);
}

std::vector<Shape> conv2d_shape(const Node& n, const std::vector<Shape>& in) {
  need_rank(in[0], 4, 4, "data_in_0");
  const Shape w = param_shape(n, "weight");
  if (w.size() != 4)
    fail_rule("weight must be [out, in/groups, kh, kw], got " + shape_to_string(w));
  check_channels(n, in[0], w);
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

std::vector<Shape> conv1d_shape(const Node& n, const std::vector<Shape>& in) {
  need_rank(in[0], 3, 3, "data_in_0");
  const Shape w = param_shape(n, "weight");
  if (w.size() != 3) fail_rule("weight must be [out, in/groups, k], got " + shape_to_string(w));
  check_channels(n, in[0], w);
  return {{in[0][0], w[0],
           window_out(in[0][2], w[2], n.attr_int("stride", 1), n.attr_int("padding", 0),
                      n.attr_int("dilation", 1), "conv1d length")}};
}

/// Adaptive pooling windows of output index i: [floor(i·in/out), ceil((i+1)·in/out)).
std::int64_t adaptive_start(std::int64_t i, std::int64_t in, std::int64_t out) {
  return i * in / out;
}
std::int64_t adaptive_end(std::int64_t i, std::int64_t in, std::int64_t out) {
  return ((i + 1) * in + out - 1) / out;
}
/// The largest window along a dim (the line buffer and the adder count follow it).
std::int64_t adaptive_max_window(std::int64_t in, std::int64_t out) {
  std::int64_t m = 0;
  for (std::int64_t i = 0; i < out; ++i)
    m = std::max(m, adaptive_end(i, in, out) - adaptive_start(i, in, out));
  return m;
}

std::vector<std::int64_t> output_size(const Node& n) {
  if (!n.has_attr("output_size")) fail_rule("attribute output_size is required");
  const auto o = pair_attr(n, "output_size", 1);
  if (o[0] <= 0 || o[1] <= 0) fail_rule("output_size must be positive");
  return o;
}

std::vector<Shape> adaptive_pool_shape(const Node& n, const std::vector<Shape>& in) {
  need_rank(in[0], 4, 4, "data_in_0");
  const auto o = output_size(n);
  if (o[0] > in[0][2] || o[1] > in[0][3])
    fail_rule("output_size [" + std::to_string(o[0]) + ", " + std::to_string(o[1]) +
              "] is larger than the input's " + std::to_string(in[0][2]) + " x " +
              std::to_string(in[0][3]));
  return {{in[0][0], in[0][1], o[0], o[1]}};
}

void adaptive_pool_kernel(const KernelCall& c) {
  const Shape& x = c.in[0]->shape;
  const std::int64_t NC = x[0] * x[1], H = x[2], W = x[3];
  const std::int64_t OH = c.y.shape[2], OW = c.y.shape[3];
  for (std::int64_t nc = 0; nc < NC; ++nc)
    for (std::int64_t oh = 0; oh < OH; ++oh)
      for (std::int64_t ow = 0; ow < OW; ++ow) {
        const std::int64_t h0 = adaptive_start(oh, H, OH), h1 = adaptive_end(oh, H, OH);
        const std::int64_t w0 = adaptive_start(ow, W, OW), w1 = adaptive_end(ow, W, OW);
        double s = 0;
        for (std::int64_t h = h0; h < h1; ++h)
          for (std::int64_t w = w0; w < w1; ++w)
            s += c.in[0]->v[static_cast<std::size_t>((nc * H + h) * W + w)];
        c.y.v[static_cast<std::size_t>((nc * OH + oh) * OW + ow)] =
            s / static_cast<double>((h1 - h0) * (w1 - w0));
      }
}

void conv1d_kernel(const KernelCall& c) {
  const fn::QTensor* w = fn::param_data(c.n, c.params, "weight", true);
  const fn::QTensor* b = fn::param_data(c.n, c.params, "bias", false);
  const Shape& x = c.in[0]->shape;
  const std::int64_t N = x[0], C = x[1], L = x[2];
  const std::int64_t O = w->shape[0], CG = w->shape[1], K = w->shape[2], OL = c.y.shape[2];
  const std::int64_t groups = c.n.attr_int("groups", 1), OG = O / groups;
  const std::int64_t s = c.n.attr_int("stride", 1), p = c.n.attr_int("padding", 0),
                     d = c.n.attr_int("dilation", 1);
  for (std::int64_t nb = 0; nb < N; ++nb)
    for (std::int64_t o = 0; o < O; ++o) {
      const std::int64_t c0 = (o / OG) * CG;
      for (std::int64_t ol = 0; ol < OL; ++ol) {
        double acc = 0;
        for (std::int64_t ci = 0; ci < CG; ++ci)
          for (std::int64_t k = 0; k < K; ++k) {
            const std::int64_t il = ol * s - p + k * d;
            if (il < 0 || il >= L) continue;
            acc += c.in[0]->v[static_cast<std::size_t>((nb * C + c0 + ci) * L + il)] *
                   w->v[static_cast<std::size_t>((o * CG + ci) * K + k)];
          }
        if (b) acc += b->v[static_cast<std::size_t>(o)];
        c.y.v[static_cast<std::size_t>((nb * O + o) * OL + ol)] = acc;
      }
    }
}

/// Each output element sums in/groups × k products (conv1d).
std::int64_t conv1d_macs(const Graph&, const Node& n) {
  const Shape& w = n.param("weight")->tensor.shape;
  return checked_mul(shape_numel(n.results[0].shape, n.name), checked_mul(w[1], w[2], n.name),
                     n.name + " MACs");
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
Resources pool_resources(const Graph& g, const Node& n, const NodeHw& hw, const OpTiming& t) {
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

/// Window compare/add over the largest adaptive window, plus its line buffer.
Resources adaptive_pool_resources(const Graph& g, const Node& n, const NodeHw& hw,
                                  const OpTiming& t) {
  const Tensor& x = g.tensor_of(n.args[0]);
  const auto& y = n.results[0].shape;
  const std::int64_t ops = std::max<std::int64_t>(
      1, adaptive_max_window(x.shape[2], y[2]) * adaptive_max_window(x.shape[3], y[3]) - 1);
  Resources r;
  r += elementwise_resources(EltwiseKind::AddSub, hw.out.elems_per_beat * ops, x.precision,
                             x.precision);
  r += buffer_resources(static_cast<double>(t.preload_beats[0] + 1) * hw.in[0].elems_per_beat *
                        x.precision.bits_per_element());
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
  d.channel_lanes = true;
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
  c.resources = [](const Graph& g, const Node& n, const NodeHw& hw, const OpTiming& t) {
    return mac_block_resources(g, n, hw, t, true);
  };
  c.kernel = [](const KernelCall& k) { fn::conv2d(k.g, k.n, *k.in[0], k.params, k.y); };
  c.weights_can_stream = true;
  c.channel_lanes = true;
  v.push_back(c);
  OpDescriptor c1 = c;
  c1.name = "conv1d";
  c1.summary = "1-D convolution over [N, C, L] (groups: grouped/depthwise)";
  c1.infer = conv1d_shape;
  c1.macs = conv1d_macs;
  c1.timing = [](const Graph& g, const Node& n, const NodeHw& hw, OpTiming& t) {
    window_timing(g, n, hw, t, n.param("weight")->tensor.shape[2], n.attr_int("padding", 0), true);
  };
  c1.kernel = conv1d_kernel;
  v.push_back(c1);
  OpDescriptor ap =
      pool_op("adaptive_avg_pool2d",
              "mean over adaptive windows to output_size (global pooling: [1, 1])", false);
  ap.attrs_allowed = {"output_size"};
  ap.infer = adaptive_pool_shape;
  ap.timing = [](const Graph& g, const Node& n, const NodeHw& hw, OpTiming& t) {
    const Shape& x = g.tensor_of(n.args[0]).shape;
    window_timing(g, n, hw, t, adaptive_max_window(x[2], n.results[0].shape[2]), 0, false);
  };
  ap.resources = adaptive_pool_resources;
  ap.kernel = adaptive_pool_kernel;
  v.push_back(ap);
  v.push_back(pool_op("max_pool2d", "max over a kh x kw window", true));
  v.push_back(pool_op("avg_pool2d", "mean over a kh x kw window (count_include_pad)", false));
}

}  // namespace masesim::ops
