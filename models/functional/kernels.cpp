#include "models/functional/kernels.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "models/ops/registry.hpp"
#include "workloads/error.hpp"

namespace masesim::fn {
namespace {

using I = std::int64_t;

[[noreturn]] void fail(const Node& n, const std::string& msg) {
  throw InputError("node '" + n.name + "' (" + n.op + "): " + msg);
}

std::vector<I> strides_of(const Shape& s) {
  std::vector<I> st(s.size(), 1);
  for (std::size_t i = s.size(); i-- > 1;) st[i - 1] = st[i] * s[i];
  return st;
}

I numel(const Shape& s) {
  return shape_numel(s);
}

/// Strides of `in` (right-aligned) indexed by the dims of `out`; 0 where broadcast.
std::vector<I> bcast_strides(const Shape& in, const Shape& out) {
  const auto st = strides_of(in);
  std::vector<I> r(out.size(), 0);
  const std::size_t off = out.size() - in.size();
  for (std::size_t i = 0; i < in.size(); ++i) r[off + i] = in[i] == 1 ? 0 : st[i];
  return r;
}

/// Calls f(out_index, offset_a, offset_b) for every element of `out`, with offsets into
/// tensors of strides sa, sb (one per out dim, already broadcast).
template <typename F>
void walk(const Shape& out, const std::vector<I>& sa, const std::vector<I>& sb, F&& f) {
  const I n = numel(out);
  std::vector<I> idx(out.size(), 0);
  I oa = 0, ob = 0;
  for (I i = 0; i < n; ++i) {
    f(i, oa, ob);
    for (std::size_t d = out.size(); d-- > 0;) {
      ++idx[d];
      oa += sa[d];
      ob += sb[d];
      if (idx[d] < out[d]) break;
      oa -= sa[d] * out[d];
      ob -= sb[d] * out[d];
      idx[d] = 0;
    }
  }
}

int ceil_log2(I k) {
  int b = 0;
  while ((I{1} << b) < k) ++b;
  return b;
}

}  // namespace

const QTensor* param_data(const Node& n, const std::map<std::string, QTensor>& params,
                          const std::string& name, bool required) {
  const Param* decl = n.param(name);
  if (!decl) {
    if (required) fail(n, "the graph declares no parameter '" + name + "'");
    return nullptr;
  }
  auto it = params.find(name);
  if (it == params.end()) it = params.find(n.name + "." + name);
  if (it == params.end()) fail(n, "no data for parameter '" + name + "'");
  if (it->second.shape != decl->tensor.shape)
    fail(n, "parameter '" + name + "' data has shape " + shape_to_string(it->second.shape) +
                ", the graph declares " + shape_to_string(decl->tensor.shape));
  return &it->second;
}

namespace {

void check_acc(const Node& n, const Precision& a, const Precision& b, I K, const Precision* bias) {
  const int bits = accumulator_bits(a, b, K, bias);
  if (bits > 53)
    throw SimulationError(
        "node '" + n.name + "' (" + n.op + "): the fixed-point accumulator needs " +
        std::to_string(bits) + " bits (" + a.to_string() + " x " + b.to_string() +
        ", K = " + std::to_string(K) +
        "), more than the 53 bits the functional model computes exactly in double");
}

const Precision* bias_prec(const Node& n) {
  const Param* b = n.param("bias");
  return b ? &b->tensor.precision : nullptr;
}

}  // namespace

// ------------------------------------------------------------------- GEMM / conv
void linear(const Graph& g, const Node& n, const QTensor& x,
            const std::map<std::string, QTensor>& params, QTensor& y) {
  const QTensor* w = param_data(n, params, "weight", true);
  const QTensor* b = param_data(n, params, "bias", false);
  const I K = x.shape.back(), O = w->shape[0], R = numel(x.shape) / K;
  check_acc(n, g.tensor_of(n.args[0]).precision, n.param("weight")->tensor.precision, K,
            bias_prec(n));
  for (I r = 0; r < R; ++r) {
    const double* xr = x.v.data() + r * K;
    for (I o = 0; o < O; ++o) {
      const double* wr = w->v.data() + o * K;
      double s = 0;
      for (I k = 0; k < K; ++k) s += xr[k] * wr[k];
      if (b) s += b->v[o];
      y.v[r * O + o] = s;
    }
  }
}

void matmul(const Graph& g, const Node& n, const QTensor& a, const QTensor& b, QTensor& y) {
  const I M = a.shape[a.shape.size() - 2], K = a.shape.back(), N = b.shape.back();
  check_acc(n, g.tensor_of(n.args[0]).precision, g.tensor_of(n.args[1]).precision, K, nullptr);
  const Shape ob(y.shape.begin(), y.shape.end() - 2);
  const Shape ab(a.shape.begin(), a.shape.end() - 2), bb(b.shape.begin(), b.shape.end() - 2);
  auto sa = bcast_strides(ab, ob), sb = bcast_strides(bb, ob);
  for (auto& s : sa) s *= M * K;
  for (auto& s : sb) s *= K * N;
  walk(ob, sa, sb, [&](I i, I oa, I obb) {
    const double* A = a.v.data() + oa;
    const double* B = b.v.data() + obb;
    double* Y = y.v.data() + i * M * N;
    for (I m = 0; m < M; ++m)
      for (I j = 0; j < N; ++j) {
        double s = 0;
        for (I k = 0; k < K; ++k) s += A[m * K + k] * B[k * N + j];
        Y[m * N + j] = s;
      }
  });
}

static std::vector<I> pair(const Node& n, const char* a, I dflt) {
  auto v = n.attr_ints(a, {dflt, dflt});
  if (v.size() == 1) v.push_back(v[0]);
  return v;
}

void conv2d(const Graph& g, const Node& n, const QTensor& x,
            const std::map<std::string, QTensor>& params, QTensor& y) {
  const QTensor* w = param_data(n, params, "weight", true);
  const QTensor* b = param_data(n, params, "bias", false);
  const I N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3];
  const I O = w->shape[0], CG = w->shape[1], KH = w->shape[2], KW = w->shape[3];
  const I OH = y.shape[2], OW = y.shape[3];
  const I groups = n.attr_int("groups", 1), OG = O / groups;
  const auto s = pair(n, "stride", 1), p = pair(n, "padding", 0), d = pair(n, "dilation", 1);
  check_acc(n, g.tensor_of(n.args[0]).precision, n.param("weight")->tensor.precision, CG * KH * KW,
            bias_prec(n));
  for (I nb = 0; nb < N; ++nb)
    for (I o = 0; o < O; ++o) {
      const I c0 = (o / OG) * CG;
      for (I oh = 0; oh < OH; ++oh)
        for (I ow = 0; ow < OW; ++ow) {
          double acc = 0;
          for (I c = 0; c < CG; ++c)
            for (I kh = 0; kh < KH; ++kh) {
              const I ih = oh * s[0] - p[0] + kh * d[0];
              if (ih < 0 || ih >= H) continue;
              for (I kw = 0; kw < KW; ++kw) {
                const I iw = ow * s[1] - p[1] + kw * d[1];
                if (iw < 0 || iw >= W) continue;
                acc += x.v[((nb * C + c0 + c) * H + ih) * W + iw] *
                       w->v[((o * CG + c) * KH + kh) * KW + kw];
              }
            }
          if (b) acc += b->v[o];
          y.v[((nb * O + o) * OH + oh) * OW + ow] = acc;
        }
    }
}

void pool(const Node& n, const QTensor& x, QTensor& y, bool is_max) {
  const I N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3];
  const I OH = y.shape[2], OW = y.shape[3];
  const auto k = pair(n, "kernel_size", 1);
  const auto s = n.has_attr("stride") ? pair(n, "stride", 1) : k;
  const auto p = pair(n, "padding", 0);
  for (I nc = 0; nc < N * C; ++nc)
    for (I oh = 0; oh < OH; ++oh)
      for (I ow = 0; ow < OW; ++ow) {
        double acc = is_max ? -std::numeric_limits<double>::infinity() : 0.0;
        for (I kh = 0; kh < k[0]; ++kh) {
          const I ih = oh * s[0] - p[0] + kh;
          if (ih < 0 || ih >= H) continue;
          for (I kw = 0; kw < k[1]; ++kw) {
            const I iw = ow * s[1] - p[1] + kw;
            if (iw < 0 || iw >= W) continue;
            const double v = x.v[(nc * H + ih) * W + iw];
            acc = is_max ? std::max(acc, v) : acc + v;
          }
        }
        // avg_pool2d: count_include_pad = True (PyTorch's default): divide by kh*kw.
        y.v[(nc * OH + oh) * OW + ow] = is_max ? acc : acc / static_cast<double>(k[0] * k[1]);
      }
}

// ------------------------------------------------------------------ element-wise
constexpr double kSqrt1_2 = 0.7071067811865476;      // 1/sqrt(2), same double as Python's
constexpr double kSqrt2OverPi = 0.7978845608028654;  // sqrt(2/pi)

void map_unary(const QTensor& x, QTensor& y, const std::function<double(double)>& f) {
  for (std::size_t i = 0; i < y.v.size(); ++i) y.v[i] = f(x.v[i]);
}

double gelu(double x, bool tanh_approximation) {
  if (tanh_approximation)
    return 0.5 * x * (1.0 + std::tanh(kSqrt2OverPi * (x + 0.044715 * x * x * x)));
  return 0.5 * x * (1.0 + std::erf(x * kSqrt1_2));
}

void map_binary(const Node& n, const std::vector<const QTensor*>& in,
                const std::map<std::string, QTensor>& params, QTensor& y,
                double (*f)(double, double)) {
  if (in.size() == 2) {
    walk(y.shape, bcast_strides(in[0]->shape, y.shape), bcast_strides(in[1]->shape, y.shape),
         [&](I i, I oa, I ob) { y.v[i] = f(in[0]->v[oa], in[1]->v[ob]); });
    return;
  }
  if (n.param("other")) {  // a constant tensor operand, broadcast against the input
    const QTensor* c = param_data(n, params, "other", true);
    walk(y.shape, bcast_strides(in[0]->shape, y.shape), bcast_strides(c->shape, y.shape),
         [&](I i, I oa, I ob) { y.v[i] = f(in[0]->v[oa], c->v[ob]); });
    return;
  }
  const double s = n.attrs.at("scalar").number;  // the constant is not quantised
  for (std::size_t i = 0; i < y.v.size(); ++i) y.v[i] = f(in[0]->v[i], s);
}

// -------------------------------------------------------------- row reductions
static I norm_axis(I d, std::size_t rank) {
  return d < 0 ? d + static_cast<I>(rank) : d;
}

void softmax(const Node& n, const QTensor& x, QTensor& y) {
  const I d = norm_axis(n.attr_int("dim", -1), x.shape.size());
  I outer = 1, inner = 1;
  for (I i = 0; i < d; ++i) outer *= x.shape[i];
  for (std::size_t i = d + 1; i < x.shape.size(); ++i) inner *= x.shape[i];
  const I L = x.shape[d];
  std::vector<double> e(L);
  for (I o = 0; o < outer; ++o)
    for (I j = 0; j < inner; ++j) {
      const I base = o * L * inner + j;
      double m = -std::numeric_limits<double>::infinity();
      for (I i = 0; i < L; ++i) m = std::max(m, x.v[base + i * inner]);
      double s = 0;
      for (I i = 0; i < L; ++i) {
        e[i] = std::exp(x.v[base + i * inner] - m);
        s += e[i];
      }
      for (I i = 0; i < L; ++i) y.v[base + i * inner] = e[i] / s;
    }
}

void layer_norm(const Node& n, const QTensor& x, const std::map<std::string, QTensor>& params,
                QTensor& y) {
  const QTensor* w = param_data(n, params, "weight", false);
  const QTensor* b = param_data(n, params, "bias", false);
  I len = x.shape.back();
  if (n.has_attr("normalized_shape")) {
    len = 1;
    for (I v : n.attr_ints("normalized_shape", {})) len *= v;
  } else if (w) {
    len = numel(w->shape);
  }
  double eps = 1e-5;
  if (n.has_attr("eps")) eps = n.attrs.at("eps").number;
  const I rows = numel(x.shape) / len;
  for (I r = 0; r < rows; ++r) {
    const double* xr = x.v.data() + r * len;
    double* yr = y.v.data() + r * len;
    double s = 0;
    for (I i = 0; i < len; ++i) s += xr[i];
    const double mean = s / static_cast<double>(len);
    double q = 0;
    for (I i = 0; i < len; ++i) {
      const double dv = xr[i] - mean;
      q += dv * dv;
    }
    const double den = std::sqrt(q / static_cast<double>(len) + eps);
    for (I i = 0; i < len; ++i) {
      double v = (xr[i] - mean) / den;
      if (w) v = v * w->v[i];
      if (b) v = v + b->v[i];
      yr[i] = v;
    }
  }
}

void batch_norm(const Node& n, const QTensor& x, const std::map<std::string, QTensor>& params,
                QTensor& y) {
  const QTensor* w = param_data(n, params, "weight", false);
  const QTensor* b = param_data(n, params, "bias", false);
  const QTensor* rm = param_data(n, params, "running_mean", true);
  const QTensor* rv = param_data(n, params, "running_var", true);
  double eps = 1e-5;
  if (n.has_attr("eps")) eps = n.attrs.at("eps").number;
  const I N = x.shape[0], C = x.shape[1], inner = numel(x.shape) / (N * C);
  for (I nb = 0; nb < N; ++nb)
    for (I c = 0; c < C; ++c) {
      const double den = std::sqrt(rv->v[c] + eps);
      for (I i = 0; i < inner; ++i) {
        const I at = (nb * C + c) * inner + i;
        double v = (x.v[at] - rm->v[c]) / den;
        if (w) v = v * w->v[c];
        if (b) v = v + b->v[c];
        y.v[at] = v;
      }
    }
}

void embedding(const Node& n, const QTensor& ids, const std::map<std::string, QTensor>& params,
               QTensor& y) {
  const QTensor* w = param_data(n, params, "weight", true);
  const I V = w->shape[0], D = w->shape[1];
  for (std::size_t i = 0; i < ids.v.size(); ++i) {
    const double id = ids.v[i];
    if (!(id >= 0 && id < static_cast<double>(V)) || id != std::floor(id))
      fail(n, "index " + std::to_string(id) + " at element " + std::to_string(i) +
                  " is not an integer in [0, " + std::to_string(V) + ")");
    std::copy_n(w->v.begin() + static_cast<I>(id) * D, D, y.v.begin() + static_cast<I>(i) * D);
  }
}

void permute(const QTensor& x, const std::vector<I>& dims, QTensor& y) {
  const auto st = strides_of(x.shape);
  std::vector<I> sa(dims.size());
  for (std::size_t i = 0; i < dims.size(); ++i) sa[i] = st[norm_axis(dims[i], dims.size())];
  walk(y.shape, sa, std::vector<I>(dims.size(), 0), [&](I i, I oa, I) { y.v[i] = x.v[oa]; });
}

int accumulator_bits(const Precision& a, const Precision& b, std::int64_t K,
                     const Precision* bias) {
  if (a.kind != PrecisionKind::Fixed || b.kind != PrecisionKind::Fixed) return 0;
  int bits = a.width + b.width + ceil_log2(K);
  if (bias && bias->kind == PrecisionKind::Fixed) {
    const int F = a.frac_width + b.frac_width;
    // The bias is aligned to the accumulator (widened when it has more fraction bits)
    // and may need one more integer bit than the products' sum.
    bits =
        std::max(bits, bias->width - bias->frac_width + F) + std::max(0, bias->frac_width - F) + 1;
  }
  return bits;
}

QTensor eval_node(const Graph& g, const Node& n, const std::vector<const QTensor*>& inputs,
                  const std::map<std::string, QTensor>& params, Rounding r) {
  if (inputs.size() != n.args.size())
    fail(n, std::to_string(inputs.size()) + " inputs given, the node has " +
                std::to_string(n.args.size()));
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Shape& want = g.tensor_of(n.args[i]).shape;
    if (!inputs[i] || inputs[i]->shape != want)
      fail(n, "data_in_" + std::to_string(i) + " has shape " +
                  (inputs[i] ? shape_to_string(inputs[i]->shape) : std::string("(null)")) +
                  ", expected " + shape_to_string(want));
    if (inputs[i]->v.size() != static_cast<std::size_t>(numel(want)))
      fail(n, "data_in_" + std::to_string(i) + " holds " + std::to_string(inputs[i]->v.size()) +
                  " values");
  }
  if (n.results.empty()) fail(n, "node has no result");
  const Tensor& out = n.results[0];
  QTensor y;
  y.shape = out.shape;
  y.v.assign(static_cast<std::size_t>(numel(out.shape)), 0.0);
  ops::of(n).kernel(ops::KernelCall{g, n, inputs, params, y});
  quantize(y.v, y.shape, out.precision, r);
  return y;
}

}  // namespace masesim::fn
