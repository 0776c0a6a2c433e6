// Element-wise ops: one output beat per input beat on the streaming engine.
// Unary activations, binary arithmetic (two inputs, a constant operand `other`, or an
// attribute `scalar`), and batch_norm's per-channel affine.
#include <cmath>

#include "models/ops/registry.hpp"
#include "models/ops/shape_util.hpp"

namespace masesim::ops {
namespace {

std::vector<Shape> binary_shape(const Node& n, const std::vector<Shape>& in) {
  const Param* other = n.param("other");
  if (in.size() == 2) {
    if (n.has_attr("scalar") || other)
      fail_rule("with two inputs, neither attribute scalar nor param other is allowed");
    return {broadcast(in[0], in[1])};
  }
  if (other && n.has_attr("scalar")) fail_rule("give either attribute scalar or param other");
  if (other) return {broadcast(in[0], other->tensor.shape)};
  if (!n.has_attr("scalar"))
    fail_rule("one input given: attribute scalar or param other is required");
  return {in[0]};
}

std::vector<Shape> batch_norm_shape(const Node& n, const std::vector<Shape>& in) {
  need_rank(in[0], 2, 5, "data_in_0");
  for (const auto& p : n.params)
    if (p.tensor.shape != Shape{in[0][1]})
      fail_rule(p.name + " " + shape_to_string(p.tensor.shape) + " must be [" +
                std::to_string(in[0][1]) + "] (channels)");
  return {in[0]};
}

/// A streaming element-wise op of pipeline depth `latency_cycles` (MASE's element-wise
/// blocks: relu/add 1 cycle, mult 2 in the HLS data — 64 beats in 66–67 cycles).
OpDescriptor eltwise(const char* name, const char* summary, EltwiseKind kind,
                     std::int64_t latency_cycles) {
  OpDescriptor d;
  d.name = name;
  d.summary = summary;
  d.cls = OpClass::Elementwise;
  d.macs = no_macs;
  d.timing = [latency_cycles](const Graph& g, const Node& n, const NodeHw& hw, OpTiming& t) {
    streaming_timing(g, n, hw, t, latency_cycles);
  };
  d.resources = [kind](const Graph& g, const Node& n, const NodeHw& hw, const OpTiming& t) {
    return elementwise_block_resources(g, n, hw, t, kind);
  };
  d.tp = TpShard::Pointwise;
  return d;
}

/// y = f(x). Activations are piecewise/LUT approximations in hardware: 4-cycle pipeline.
OpDescriptor unary(const char* name, const char* summary, EltwiseKind kind,
                   std::int64_t latency_cycles, double (*f)(double)) {
  OpDescriptor d = eltwise(name, summary, kind, latency_cycles);
  d.infer = same_shape;
  d.attrs_allowed = {"inplace"};
  d.kernel = [f](const KernelCall& c) { fn::map_unary(*c.in[0], c.y, f); };
  return d;
}

OpDescriptor binary(const char* name, const char* summary, EltwiseKind kind,
                    std::int64_t latency_cycles, double (*f)(double, double)) {
  OpDescriptor d = eltwise(name, summary, kind, latency_cycles);
  d.max_inputs = 2;
  d.params_allowed = {"other"};
  d.attrs_allowed = {"scalar"};
  d.infer = binary_shape;
  d.kernel = [f](const KernelCall& c) { fn::map_binary(c.n, c.in, c.params, c.y, f); };
  return d;
}

}  // namespace

void register_elementwise_ops(std::vector<OpDescriptor>& v) {
  using K = EltwiseKind;
  v.push_back(unary("relu", "max(x, 0)", K::SignTest, 1, [](double x) { return x > 0 ? x : 0.0; }));

  OpDescriptor gelu =
      unary("gelu", "x·Φ(x) (approximate: 'tanh' for the tanh form)", K::Activation, 4, nullptr);
  gelu.attrs_allowed = {"inplace", "approximate"};
  gelu.kernel = [](const KernelCall& c) {
    bool tanh_form = false;
    if (auto it = c.n.attrs.find("approximate"); it != c.n.attrs.end())
      tanh_form = it->second.kind == AttrValue::Kind::String && it->second.str == "tanh";
    fn::map_unary(*c.in[0], c.y, [tanh_form](double x) { return fn::gelu(x, tanh_form); });
  };
  v.push_back(gelu);
  v.push_back(unary("silu", "x·sigmoid(x)", K::Activation, 4,
                    [](double x) { return x / (1.0 + std::exp(-x)); }));
  v.push_back(unary("tanh", "tanh(x)", K::Activation, 4, [](double x) { return std::tanh(x); }));
  v.push_back(unary("exp", "e^x (fixed-point exponential)", K::Activation, 4,
                    [](double x) { return std::exp(x); }));
  OpDescriptor ht =
      unary("hardtanh", "clamp(x, min_val, max_val) (ReLU6, Clip)", K::AddSub, 1, nullptr);
  ht.attrs_allowed = {"inplace", "min_val", "max_val"};
  ht.infer = [](const Node& n, const std::vector<Shape>& in) {
    if (n.attr_number("min_val", -1.0) > n.attr_number("max_val", 1.0))
      fail_rule("min_val is above max_val");
    return std::vector<Shape>{in[0]};
  };
  ht.kernel = [](const KernelCall& c) {
    const double lo = c.n.attr_number("min_val", -1.0), hi = c.n.attr_number("max_val", 1.0);
    fn::map_unary(*c.in[0], c.y, [lo, hi](double x) { return x < lo ? lo : x > hi ? hi : x; });
  };
  v.push_back(ht);
  v.push_back(unary("hardswish", "x·relu6(x + 3)/6", K::Mul, 3, [](double x) {
    const double r = x + 3.0 < 0 ? 0.0 : x + 3.0 > 6.0 ? 6.0 : x + 3.0;
    return x * r / 6.0;
  }));
  OpDescriptor sp = unary("softplus", "log(1 + e^(beta·x))/beta; x above threshold/beta: x",
                          K::Activation, 4, nullptr);
  sp.attrs_allowed = {"beta", "threshold"};
  sp.infer = [](const Node& n, const std::vector<Shape>& in) {
    if (!(n.attr_number("beta", 1.0) > 0)) fail_rule("attribute beta must be positive");
    n.attr_number("threshold", 20.0);
    return std::vector<Shape>{in[0]};
  };
  sp.kernel = [](const KernelCall& c) {
    const double beta = c.n.attr_number("beta", 1.0), th = c.n.attr_number("threshold", 20.0);
    fn::map_unary(*c.in[0], c.y, [beta, th](double x) {
      return beta * x > th ? x : std::log1p(std::exp(beta * x)) / beta;
    });
  };
  v.push_back(sp);
  v.push_back(
      unary("erf", "error function", K::Activation, 4, [](double x) { return std::erf(x); }));
  v.push_back(unary("sqrt", "square root (digit-recurrence unit)", K::Div, 8,
                    [](double x) { return std::sqrt(x); }));
  v.push_back(unary("rsqrt", "1/sqrt(x) (digit-recurrence unit)", K::Div, 8,
                    [](double x) { return 1.0 / std::sqrt(x); }));
  // pow with a constant exponent `scalar`: x² (the RMSNorm pattern) is one multiplier;
  // any other exponent goes through exp/log like an activation.
  OpDescriptor pw =
      unary("pow", "x^scalar (scalar 2: a multiplier; else exp/log)", K::Activation, 4, nullptr);
  pw.attrs_allowed = {"scalar"};
  pw.infer = [](const Node& n, const std::vector<Shape>& in) {
    if (!n.has_attr("scalar")) fail_rule("attribute scalar (the exponent) is required");
    n.attr_number("scalar", 0);
    return std::vector<Shape>{in[0]};
  };
  auto square = [](const Node& n) { return n.attr_number("scalar", 0) == 2.0; };
  pw.timing = [square](const Graph& g, const Node& n, const NodeHw& hw, OpTiming& t) {
    streaming_timing(g, n, hw, t, square(n) ? 2 : 4);
  };
  pw.resources = [square](const Graph& g, const Node& n, const NodeHw& hw, const OpTiming& t) {
    return elementwise_block_resources(g, n, hw, t, square(n) ? K::Mul : K::Activation);
  };
  pw.kernel = [](const KernelCall& c) {
    const double e = c.n.attr_number("scalar", 1.0);
    fn::map_unary(*c.in[0], c.y, [e](double x) { return std::pow(x, e); });
  };
  v.push_back(pw);
  v.push_back(unary("sigmoid", "1 / (1 + e^-x)", K::Activation, 4,
                    [](double x) { return 1.0 / (1.0 + std::exp(-x)); }));

  OpDescriptor add =
      binary("add", "a + b (broadcast)", K::AddSub, 1, [](double a, double b) { return a + b; });
  add.tp = TpShard::ResidualAdd;
  v.push_back(add);
  v.push_back(
      binary("sub", "a - b (broadcast)", K::AddSub, 1, [](double a, double b) { return a - b; }));
  v.push_back(
      binary("mul", "a · b (broadcast)", K::Mul, 2, [](double a, double b) { return a * b; }));
  v.push_back(binary("div", "a / b (broadcast); array divider", K::Div, 8,
                     [](double a, double b) { return a / b; }));

  OpDescriptor bn =
      eltwise("batch_norm", "(x − running_mean)/sqrt(var + eps)·w + b per channel", K::Affine, 3);
  bn.params_allowed = {"weight", "bias", "running_mean", "running_var"};
  bn.attrs_allowed = {"eps", "momentum"};
  bn.params_buffers = {"running_mean", "running_var"};
  bn.infer = batch_norm_shape;
  bn.kernel = [](const KernelCall& c) { fn::batch_norm(c.n, *c.in[0], c.params, c.y); };
  bn.tp = TpShard::None;
  bn.alu_ops_per_elem = 2;  // folded into a per-channel scale and shift: multiply, add
  v.push_back(bn);
}

}  // namespace masesim::ops
