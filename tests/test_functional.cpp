// Functional model without SystemC: quantisers, .npy files, checker, kernels, and whole
// graphs against the PyTorch emulation (scripts/quant_emulation.py) written by the
// functional_data fixture (tests/functional_data.sh). docs/functional.md.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <optional>
#include <set>

#include "models/functional/check.hpp"
#include "models/functional/kernels.hpp"
#include "models/functional/quant.hpp"
#include "models/functional/run.hpp"
#include "workloads/error.hpp"
#include "workloads/tensor_file.hpp"

using namespace masesim;
using namespace masesim::fn;

namespace {

Precision prec(PrecisionKind k, int width, int frac = 0, int ew = 0, int mw = 0, int bs = 1,
               int bias = 0) {
  Precision p;
  p.kind = k;
  p.width = width;
  p.frac_width = frac;
  p.exponent_width = ew;
  p.mantissa_width = mw;
  p.block_size = bs;
  p.exponent_bias = bias;
  return p;
}

std::vector<double> q(std::vector<double> v, const Precision& p, Rounding r = Rounding::HalfEven,
                      Shape shape = {}) {
  if (shape.empty()) shape = {static_cast<std::int64_t>(v.size())};
  quantize(v, shape, p, r);
  return v;
}

// ------------------------------------------------------------------- formats
TEST(Quant, FixedHalfEvenSaturates) {
  const auto p = fixed_precision(8, 4);
  EXPECT_EQ(q({0.03125, 0.09375, -0.09375, 0.1, 7.96875, 100, -9, -8.03}, p),
            (std::vector<double>{0, 0.125, -0.125, 0.125, 7.9375, 7.9375, -8, -8}));
}

TEST(Quant, FixedTruncateIsFloor) {
  const auto p = fixed_precision(8, 4);
  EXPECT_EQ(q({-0.01, 0.06, 0.1249, -7.99}, p, Rounding::Truncate),
            (std::vector<double>{-0.0625, 0, 0.0625, -8}));
}

TEST(Quant, BlockFpSharedExponentAndSaturation) {
  const auto p = prec(PrecisionKind::BlockFp, 4, 0, 8, 0, 4);
  // block 1: max 1.0 -> E = 1, LSB 0.25; block 2 (tail, padded): max 0.97 -> E = 0,
  // LSB 0.125, 0.97/0.125 = 7.76 -> 8 saturates to 7.
  EXPECT_EQ(q({1.0, 0.3, -0.2, 0.0, 0.97, 0.1}, p),
            (std::vector<double>{1.0, 0.25, -0.25, 0.0, 0.875, 0.125}));
  // blocks run along the last dim only: two rows of 2 are separate blocks
  EXPECT_EQ(q({4.0, 0.3, 0.3, 0.0}, p, Rounding::HalfEven, {2, 2}),
            (std::vector<double>{4.0, 0.0, 0.3125, 0.0}));
  // truncation toward zero (sign-magnitude)
  EXPECT_EQ(q({1.0, -0.49, 0.49, 0.0}, p, Rounding::Truncate),
            (std::vector<double>{1.0, -0.25, 0.25, 0.0}));
  // exponent field clamp: 2-bit exponent, bias 1: E in [-1, 2]; max 100 -> E = 2 -> saturate
  const auto small = prec(PrecisionKind::BlockFp, 4, 0, 2, 0, 2);
  EXPECT_EQ(q({100, 1}, small), (std::vector<double>{3.5, 1.0}));
  EXPECT_EQ(q({0.01, 0.0}, small), (std::vector<double>{0.0, 0.0}));  // E = -1: LSB 1/16
}

TEST(Quant, MxInt8) {
  const auto p = prec(PrecisionKind::MxInt, 8, 0, 0, 0, 2);
  // X = floor(log2 max) = 0; elements 1.6 two's complement: LSB 1/64
  EXPECT_EQ(q({1.5, 0.01}, p), (std::vector<double>{1.5, 0.015625}));
  EXPECT_EQ(q({3.0, -2.999}, p), (std::vector<double>{3.0, -3.0}));
  EXPECT_EQ(q({1.999, 0}, p), (std::vector<double>{1.984375, 0}));  // 128/64 saturates
}

TEST(Quant, MxFp8E4M3AndMxFp4) {
  const auto e4m3 = prec(PrecisionKind::MxFp, 8, 0, 4, 3, 2);
  // X = floor(log2 1000) - emax(8) = 1; 1000/2 = 500 > 448 saturates
  EXPECT_EQ(q({1000, 1}, e4m3), (std::vector<double>{896, 1}));
  const auto e2m1 = prec(PrecisionKind::MxFp, 4, 0, 2, 1, 4);
  EXPECT_EQ(q({6, 0.7, 0.25, 5}, e2m1), (std::vector<double>{6, 0.5, 0, 4}));
  // E5M2 element max 57344
  const auto e5m2 = prec(PrecisionKind::MxFp, 8, 0, 5, 2, 1);
  EXPECT_EQ(q({57344}, e5m2), (std::vector<double>{57344}));
}

TEST(Quant, MinifloatSubnormalsAndSaturation) {
  const auto p = prec(PrecisionKind::Minifloat, 8, 0, 4, 0, 1, 7);  // E4M3 bias 7: max 480
  EXPECT_EQ(q({1000, -1000, std::ldexp(1.0, -9), 1.5 * std::ldexp(1.0, -10), std::ldexp(1.0, -11),
               1.0625},
              p),
            (std::vector<double>{480, -480, std::ldexp(1.0, -9), std::ldexp(1.0, -9), 0, 1.0}));
  EXPECT_EQ(max_finite(p), 480);
}

TEST(Quant, FloatIeee) {
  const auto h = prec(PrecisionKind::Float, 16);
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(q({65519, 65520, 1 + std::ldexp(1.0, -11), 1 + 3 * std::ldexp(1.0, -11),
               std::ldexp(1.0, -25), std::ldexp(1.0, -24)},
              h),
            (std::vector<double>{65504, inf, 1, 1 + std::ldexp(1.0, -9), 0, std::ldexp(1.0, -24)}));
  EXPECT_EQ(q({1e6}, h, Rounding::Truncate), (std::vector<double>{65504}));
  const auto f = prec(PrecisionKind::Float, 32);
  std::vector<double> v;
  for (int i = 0; i < 2000; ++i)
    v.push_back(std::ldexp(std::sin(i * 1.7) * 1.2345678901, (i % 80) - 40));
  v.push_back(1e-45);
  v.push_back(3.5e38);
  const auto got = q(v, f);
  for (std::size_t i = 0; i < v.size(); ++i)
    EXPECT_EQ(got[i], static_cast<double>(static_cast<float>(v[i]))) << v[i];
}

TEST(Quant, IdempotentAndQuantum) {
  const std::vector<Precision> ps = {
      fixed_precision(8, 4), prec(PrecisionKind::BlockFp, 4, 0, 8, 0, 16),
      prec(PrecisionKind::MxInt, 8, 0, 0, 0, 32), prec(PrecisionKind::MxFp, 8, 0, 4, 3, 32),
      prec(PrecisionKind::Minifloat, 8, 0, 4, 0, 1, 7)};
  std::vector<double> v;
  for (int i = 0; i < 96; ++i) v.push_back(std::sin(i * 0.37) * std::exp((i % 7) - 3.0));
  for (const auto& p : ps) {
    const auto once = q(v, p, Rounding::HalfEven, {3, 32});
    EXPECT_EQ(q(once, p, Rounding::HalfEven, {3, 32}), once) << p.to_string();
    const auto lsb = quantum_of(once, {3, 32}, p);
    for (std::size_t i = 0; i < v.size(); ++i) {
      EXPECT_GT(lsb[i], 0) << p.to_string();
      EXPECT_EQ(std::fmod(once[i], lsb[i]), 0.0) << p.to_string() << " " << once[i];
    }
  }
  EXPECT_EQ(parse_rounding("truncate"), Rounding::Truncate);
  EXPECT_THROW(parse_rounding("nearest"), InputError);
}

// ------------------------------------------------------------------ npy files
std::string npy_header(const std::string& dict, int major = 1) {
  std::string h = dict;
  const std::size_t pre = major == 1 ? 10 : 12;
  h.append((64 - (pre + h.size() + 1) % 64) % 64, ' ');
  h += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += '\0';
  const std::size_t n = h.size();
  out += static_cast<char>(n & 0xff);
  out += static_cast<char>((n >> 8) & 0xff);
  if (major != 1) out += std::string(2, '\0');
  return out + h;
}

TEST(Npy, RoundTripAndDtypes) {
  TensorData t{{2, 3}, {1, -2.5, 3, 0.0625, -8, 1e-300}};
  const std::string path = ::testing::TempDir() + "/fn_rt.npy";
  write_npy(path, t);
  const TensorData r = read_npy(path);
  EXPECT_EQ(r.shape, t.shape);
  EXPECT_EQ(r.v, t.v);
  std::string i2 = npy_header("{'descr': '<i2', 'fortran_order': False, 'shape': (3,), }");
  i2 += std::string("\x01\x00\xff\xff\x00\x80", 6);
  EXPECT_EQ(parse_npy(i2, "i2").v, (std::vector<double>{1, -1, -32768}));
  std::string u1 = npy_header("{'descr': '|u1', 'fortran_order': False, 'shape': (1, 2), }", 2);
  u1 += "\xff\x07";
  const auto ru = parse_npy(u1, "u1");
  EXPECT_EQ(ru.shape, (Shape{1, 2}));
  EXPECT_EQ(ru.v, (std::vector<double>{255, 7}));
  std::string f4 = npy_header("{'descr': '<f4', 'fortran_order': False, 'shape': (), }");
  f4 += std::string("\x00\x00\xc0\x3f", 4);  // 1.5f
  EXPECT_EQ(parse_npy(f4, "f4").v, (std::vector<double>{1.5}));
}

void expect_error(const std::string& bytes, const std::string& needle) {
  try {
    parse_npy(bytes, "some/file.npy");
    ADD_FAILURE() << "no error for " << needle;
  } catch (const InputError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("some/file.npy"), std::string::npos) << m;
    EXPECT_NE(m.find(needle), std::string::npos) << m;
  }
}

TEST(Npy, MalformedFilesNameTheFile) {
  const std::string ok = npy_header("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }");
  expect_error("hello", "magic");
  expect_error(ok + std::string(8, '\0'), "truncated");
  expect_error(ok + std::string(24, '\0'), "trailing");
  expect_error(npy_header("{'descr': '>f8', 'fortran_order': False, 'shape': (1,), }") +
                   std::string(8, '\0'),
               "big-endian");
  expect_error(npy_header("{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }"), "dtype");
  expect_error(
      npy_header("{'descr': '<f8', 'fortran_order': True, 'shape': (1,), }") + std::string(8, '\0'),
      "Fortran");
  expect_error(npy_header("{'descr': '<f8', 'fortran_order': False}"), "shape");
  expect_error(ok.substr(0, 20), "truncated");
  const std::string path = ::testing::TempDir() + "/fn_shape.npy";
  write_npy(path, TensorData{{4}, {1, 2, 3, 4}});
  try {
    read_npy_shaped(path, {2, 2}, "weight");
    ADD_FAILURE();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("expected [2, 2]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_npy(::testing::TempDir() + "/does_not_exist.npy"), InputError);
  EXPECT_EQ(default_data_dir("a/b/mnist.json"), "a/b/mnist.data");
}

// ------------------------------------------------------------------- checker
TEST(Check, ReportsFirstMismatch) {
  QTensor a{{2, 2}, {1, 2, 3, 4}}, b{{2, 2}, {1, 2.5, 3, 5}};
  auto r = compare(a, b, 0.0);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.mismatches, 2);
  EXPECT_EQ(r.max_abs_error, 1.0);
  EXPECT_EQ(r.first_index, 1);
  EXPECT_EQ(r.first_expected, 2.5);
  EXPECT_EQ(r.first_got, 2);
  EXPECT_NE(r.summary(a.shape).find("[0, 1]"), std::string::npos) << r.summary(a.shape);
  EXPECT_TRUE(compare(a, b, 1.0).ok());
  EXPECT_EQ(compare(a, b, std::vector<double>{0, 0.5, 0, 1}).mismatches, 0);
  EXPECT_FALSE(compare(a, QTensor{{4}, {1, 2, 3, 4}}, 0).ok());
}

// ------------------------------------------------------------------- kernels
TEST(Kernels, LinearRoundsOnceAtTheOutput) {
  const Graph g = load_graph_text(R"({"format": "mase-graph", "version": 1, "name": "t", "dims": {},
    "inputs": [{"name": "x", "shape": [1, 2], "precision": {"type": "fixed", "width": 8, "frac_width": 4}}],
    "nodes": [{"name": "fc", "op": "linear", "args": {"data_in_0": "x"},
      "params": {"weight": {"shape": [2, 2], "precision": {"type": "fixed", "width": 8, "frac_width": 4}},
                 "bias": {"shape": [2], "precision": {"type": "fixed", "width": 8, "frac_width": 4}}},
      "results": {"data_out_0": {"shape": [1, 2], "precision": {"type": "fixed", "width": 8, "frac_width": 2}}}}],
    "outputs": ["fc"]})",
                                  "t.json");
  // x = [0.5625, 0.3125], W = [[0.5625, 0.1875], [7, 7]], b = [0.0625, 0]
  // y0 = 0.31640625 + 0.05859375 + 0.0625 = 0.4375 -> LSB 0.25: 1.75 -> 2 -> 0.5 (half-even)
  // y1 = 6.125 -> 24.5 -> 24 (half-even) -> 6.0; saturates at 31.75 otherwise
  std::map<std::string, QTensor> params{{"weight", {{2, 2}, {0.5625, 0.1875, 7, 7}}},
                                        {"bias", {{2}, {0.0625, 0}}}};
  QTensor x{{1, 2}, {0.5625, 0.3125}};
  auto y = eval_node(g, g.nodes[0], {&x}, params, Rounding::HalfEven);
  EXPECT_EQ(y.v, (std::vector<double>{0.5, 6.0}));
  y = eval_node(g, g.nodes[0], {&x}, params, Rounding::Truncate);
  EXPECT_EQ(y.v, (std::vector<double>{0.25, 6.0}));
  params.erase("bias");
  EXPECT_THROW(eval_node(g, g.nodes[0], {&x}, params, Rounding::HalfEven), InputError);
  EXPECT_EQ(accumulator_bits(fixed_precision(8, 4), fixed_precision(8, 4), 6272, nullptr), 29);
  const Graph g2 =
      load_graph_text(R"({"format": "mase-graph", "version": 1, "name": "t", "dims": {},
    "inputs": [{"name": "a", "shape": [2, 4], "precision": {"type": "fixed", "width": 30, "frac_width": 0}},
               {"name": "b", "shape": [4, 2], "precision": {"type": "fixed", "width": 30, "frac_width": 0}}],
    "nodes": [{"name": "mm", "op": "matmul", "args": {"data_in_0": "a", "data_in_1": "b"},
      "results": {"data_out_0": {"shape": [2, 2], "precision": {"type": "fixed", "width": 32, "frac_width": 0}}}}],
    "outputs": ["mm"]})",
                      "t2.json");
  QTensor a{{2, 4}, std::vector<double>(8, 1)}, b{{4, 2}, std::vector<double>(8, 1)};
  const std::vector<const QTensor*> ab{&a, &b};
  EXPECT_THROW(eval_node(g2, g2.nodes[0], ab, {}, Rounding::HalfEven),
               SimulationError);  // 62-bit accumulator
}

// ------------------------------------------------------------- whole graphs
struct Loaded {
  Graph g;
  std::string dir;
  std::map<std::string, QTensor> params, inputs;
  Rounding rounding = Rounding::HalfEven;
};

std::optional<Loaded> load(const std::string& name, Rounding rounding = Rounding::HalfEven) {
  const std::string json = std::string(MASESIM_FN_DATA) + "/" + name + ".json";
  if (!file_exists(json)) return std::nullopt;
  Loaded l;
  l.g = load_graph(json);
  l.dir = default_data_dir(json);
  l.rounding = rounding;
  l.params = load_params(l.g, l.dir, rounding);
  for (const auto& in : l.g.inputs)
    l.inputs[in.name] = load_input(l.g, l.dir, in.name, 0, rounding);
  return l;
}

#define LOAD_OR_SKIP(var, name, rounding)                                                   \
  auto var##_opt = load(name, rounding);                                                    \
  if (!var##_opt) GTEST_SKIP() << "no data for " name " (functional_data fixture skipped)"; \
  Loaded& var = *var##_opt

/// Node arguments from the references of their producers (graph inputs: the inputs).
ArgSource teacher(const Loaded& l, std::map<std::string, QTensor>& cache) {
  return [&l, &cache](const Node& n, int arg) -> const QTensor* {
    const std::string& src = n.args[arg].node;
    if (l.inputs.count(src)) return &l.inputs.at(src);
    auto it = cache.find(src);
    if (it == cache.end()) it = cache.emplace(src, load_reference(l.g, l.dir, src)).first;
    return &it->second;
  };
}

// Nodes whose arithmetic is exact up to the one output rounding (both sides compute
// the same double): must match bit for bit.
const std::set<std::string> kExactOps = {
    "linear", "matmul",  "bmm",       "conv2d",     "relu",       "add",
    "sub",    "mul",     "embedding", "max_pool2d", "avg_pool2d", "flatten",
    "view",   "reshape", "dropout",   "contiguous", "permute",    "transpose"};

TEST(FunctionalGraph, MnistCnnInt8BitExactEndToEnd) {
  LOAD_OR_SKIP(l, "mnist_cnn_int8", Rounding::HalfEven);
  const auto out = run_graph(l.g, l.params, l.inputs, Rounding::HalfEven);  // free-running
  for (const Node& n : l.g.nodes) {
    const auto r = compare(out.at(n.name), load_reference(l.g, l.dir, n.name), 0.0);
    EXPECT_TRUE(r.ok()) << n.name << ": " << r.summary(n.results[0].shape);
  }
  // the input file holds several inferences; the second one runs too
  EXPECT_GE(input_inferences(l.dir, l.g.inputs[0]), 2);
  std::map<std::string, QTensor> in2{{"x", load_input(l.g, l.dir, "x", 1, Rounding::HalfEven)}};
  EXPECT_NE(run_graph(l.g, l.params, in2, Rounding::HalfEven).at("fc2").v, out.at("fc2").v);
}

/// Per node with reference inputs: exact ops bit-exact; others within `quanta` LSBs of the
/// reference's format (docs/functional.md derives 1 for fixed point, 3 for block_fp).
void check_per_node(const Loaded& l, double quanta, std::int64_t* inexact_elems) {
  std::map<std::string, QTensor> cache;
  const auto out = run_graph(l.g, l.params, l.inputs, l.rounding, teacher(l, cache));
  for (const Node& n : l.g.nodes) {
    const QTensor ref = load_reference(l.g, l.dir, n.name);
    const QTensor& got = out.at(n.name);
    if (kExactOps.count(n.op)) {
      const auto r = compare(got, ref, 0.0);
      EXPECT_TRUE(r.ok()) << n.name << " (" << n.op << "): " << r.summary(ref.shape);
      continue;
    }
    auto tol = quantum_of(ref.v, ref.shape, n.results[0].precision);
    for (double& t : tol) t *= quanta;
    const auto r = compare(got, ref, tol);
    EXPECT_TRUE(r.ok()) << n.name << " (" << n.op << "): " << r.summary(ref.shape);
    *inexact_elems += compare(got, ref, 0.0).mismatches;
  }
}

void report_free_running(const Loaded& l) {
  const auto out = run_graph(l.g, l.params, l.inputs, l.rounding);
  std::int64_t bad = 0, total = 0;
  for (const Node& n : l.g.nodes) {
    const auto r = compare(out.at(n.name), load_reference(l.g, l.dir, n.name), 0.0);
    bad += r.mismatches;
    total += r.elements;
  }
  const auto& o = l.g.outputs[0].node;
  const auto r = compare(out.at(o), load_reference(l.g, l.dir, o), 0.0);
  std::printf("[ free-run ] %s: %lld/%lld node-output elements differ; output %s: %s\n",
              l.g.name.c_str(), static_cast<long long>(bad), static_cast<long long>(total),
              o.c_str(), r.summary().c_str());
}

TEST(FunctionalGraph, OptTinyInt8PerNode) {
  LOAD_OR_SKIP(l, "opt_tiny_int8", Rounding::HalfEven);
  std::int64_t inexact = 0;
  check_per_node(l, 1.0, &inexact);
  std::printf("[ per-node ] non-linear node elements not bit-exact: %lld\n",
              static_cast<long long>(inexact));
  report_free_running(l);
}

TEST(FunctionalGraph, OptTinyMsfp12PerNode) {
  LOAD_OR_SKIP(l, "opt_tiny_msfp12", Rounding::HalfEven);
  std::int64_t inexact = 0;
  check_per_node(l, 3.0, &inexact);
  std::printf("[ per-node ] non-linear node elements not bit-exact: %lld\n",
              static_cast<long long>(inexact));
  report_free_running(l);
}

TEST(FunctionalGraph, MnistCnnInt8TruncateBitExactEndToEnd) {
  LOAD_OR_SKIP(l, "mnist_cnn_int8_truncate", Rounding::Truncate);
  const auto out = run_graph(l.g, l.params, l.inputs, Rounding::Truncate);
  for (const Node& n : l.g.nodes) {
    const auto r = compare(out.at(n.name), load_reference(l.g, l.dir, n.name), 0.0);
    EXPECT_TRUE(r.ok()) << n.name << ": " << r.summary(n.results[0].shape);
  }
}

TEST(FunctionalGraph, OptTinyMxInt8PerNode) {
  LOAD_OR_SKIP(l, "opt_tiny_mxint8", Rounding::HalfEven);
  std::int64_t inexact = 0;
  check_per_node(l, 3.0, &inexact);
  report_free_running(l);
}

TEST(FunctionalGraph, OptTinyMxFp8TruncatePerNode) {
  LOAD_OR_SKIP(l, "opt_tiny_mxfp8_truncate", Rounding::Truncate);
  std::int64_t inexact = 0;
  check_per_node(l, 3.0, &inexact);
  report_free_running(l);
}

}  // namespace

// The new op families (rope, topk_gate, moe_experts, causal_conv1d, selective_scan, lstm,
// gru) against scripts/quant_emulation.py, node by node with reference inputs.
TEST(FunctionalGraph, MixtralMicroInt8PerNode) {
  LOAD_OR_SKIP(l, "mixtral_micro_int8", Rounding::HalfEven);
  std::int64_t inexact = 0;
  check_per_node(l, 1.0, &inexact);
  report_free_running(l);
}

TEST(FunctionalGraph, MambaMicroInt8PerNode) {
  LOAD_OR_SKIP(l, "mamba_micro_int8", Rounding::HalfEven);
  std::int64_t inexact = 0;
  check_per_node(l, 1.0, &inexact);
  report_free_running(l);
}

TEST(FunctionalGraph, RnnMicroInt8PerNode) {
  LOAD_OR_SKIP(l, "rnn_micro_int8", Rounding::HalfEven);
  std::int64_t inexact = 0;
  check_per_node(l, 1.0, &inexact);
  report_free_running(l);
}
