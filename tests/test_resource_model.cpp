// Calibrated resource model (models/resource_model.*): hand-computed values, monotonicity,
// block formats, and the held-out error against MASE's HLS synthesis data
// (shared/calibration/mase-hls-u250; skipped when that directory is not beside the repo).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "models/hls_blocks.hpp"
#include "models/op_cost.hpp"
#include "models/resource_model.hpp"
#include "workloads/graph.hpp"

using namespace masesim;

namespace {

Precision fx(int w) {
  return fixed_precision(w, 0);
}
Precision block_fp(int w, int e, int bs) {
  Precision p;
  p.kind = PrecisionKind::BlockFp;
  p.width = w;
  p.exponent_width = e;
  p.block_size = bs;
  return p;
}
Precision mxint(int w, int bs) {
  Precision p;
  p.kind = PrecisionKind::MxInt;
  p.width = w;
  p.block_size = bs;
  return p;
}
Precision mxfp(int e, int m, int bs) {
  Precision p;
  p.kind = PrecisionKind::MxFp;
  p.exponent_width = e;
  p.mantissa_width = m;
  p.block_size = bs;
  return p;
}
Precision minifloat(int w, int e) {
  Precision p;
  p.kind = PrecisionKind::Minifloat;
  p.width = w;
  p.exponent_width = e;
  p.exponent_bias = (1 << (e - 1)) - 1;
  return p;
}
LinearShape lin(std::int64_t k, std::int64_t n, std::int64_t rows, const Precision& x,
                const Precision& w, std::int64_t k_depth = 8) {
  LinearShape s;
  s.k_par = k;
  s.n_par = n;
  s.row_par = rows;
  s.k_depth = k_depth;
  s.x = x;
  s.w = w;
  return s;
}

}  // namespace

TEST(ResourceModel, Int8LinearPacksTwoMacsPerDsp) {
  // 16 reduction lanes × 16 output lanes = 256 int8 MACs, the x operand shared by pairs
  // of outputs: 128 DSP48E2 (WP487).
  EXPECT_DOUBLE_EQ(linear_dsp(lin(16, 16, 1, fx(8), fx(8))), 128.0);
  EXPECT_DOUBLE_EQ(linear_resources(lin(16, 16, 1, fx(8), fx(8)))[Res::dsp], 128.0);
  // One output: nothing to share, one DSP per MAC.
  EXPECT_DOUBLE_EQ(linear_dsp(lin(16, 1, 1, fx(8), fx(8))), 16.0);
  // Odd output tile: ceil(3/2) = 2 DSPs per reduction lane.
  EXPECT_DOUBLE_EQ(linear_dsp(lin(4, 3, 1, fx(8), fx(8))), 8.0);
  // ≤4-bit products in LUTs; 16×16 one DSP per MAC; 32×32 tiles 27×18: 2×2.
  EXPECT_DOUBLE_EQ(linear_dsp(lin(16, 16, 1, fx(4), fx(4))), 0.0);
  EXPECT_DOUBLE_EQ(linear_dsp(lin(4, 4, 1, fx(16), fx(16))), 16.0);
  EXPECT_DOUBLE_EQ(linear_dsp(lin(1, 1, 1, fx(32), fx(32))), 4.0);
}

TEST(ResourceModel, HandComputedFormulas) {
  // Linear, HLS mapping, int8 x int8, 4×4×4 (P = 64, O = 16), K = 4·8 = 32 → acc = 21:
  // DSP = 0.6872·64 + 0.2483·16 = 47.954
  // LUT = 344.7 + 0.5914 + 15.89·64 + 2.611·64·16 + 1.62·16·21
  // FF  = 40.47 + 125.4 + 17.3·64 + 0.4691·64·16 + 0.5852·16·21 + 1.601·(16·8 + 16·8)
  ResourceOptions hls;
  hls.dsp = DspMapping::HlsDefault;
  const Resources l = linear_resources(lin(4, 4, 4, fx(8), fx(8)), hls);
  EXPECT_NEAR(l[Res::dsp], 0.6872 * 64 + 0.2483 * 16, 1e-9);
  EXPECT_NEAR(l[Res::lut], 344.7 + 0.5914 + 15.89 * 64 + 2.611 * 64 * 16 + 1.62 * 16 * 21, 1e-9);
  EXPECT_NEAR(l[Res::ff],
              40.47 + 125.4 + 17.3 * 64 + 0.4691 * 64 * 16 + 0.5852 * 16 * 21 + 1.601 * 256, 1e-9);
  // Fork: 82 + 9·n LUT, 10 FF (exact on all 5120 rows).
  const Resources f = fork_resources(4);
  EXPECT_DOUBLE_EQ(f[Res::lut], 118);
  EXPECT_DOUBLE_EQ(f[Res::ff], 10);
  // int_add: FF = 12 + L·(1 + max(a, b)) (exact).
  EXPECT_DOUBLE_EQ(elementwise_resources(EltwiseKind::AddSub, 16, fx(8), fx(6))[Res::ff],
                   12 + 16 * 9);
  // Storage: 64 KiB in BRAM36 (15 blocks of 36 Kb), one bit more → URAM (2 × 288 Kb).
  EXPECT_DOUBLE_EQ(buffer_resources(8.0 * 64 * 1024)[Res::bram36], 15);
  EXPECT_DOUBLE_EQ(buffer_resources(8.0 * 64 * 1024)[Res::uram], 0);
  EXPECT_DOUBLE_EQ(buffer_resources(8.0 * 64 * 1024 + 1)[Res::uram], 2);
  EXPECT_DOUBLE_EQ(buffer_resources(8.0 * 64 * 1024 + 1)[Res::bram36], 0);
}

TEST(ResourceModel, MoreLanesNeverCheaper) {
  for (auto m : {DspMapping::Packed, DspMapping::HlsDefault}) {
    ResourceOptions o;
    o.dsp = m;
    for (int w : {2, 4, 8, 16}) {
      Resources prev;
      for (std::int64_t k : {1, 2, 4, 8, 16, 32}) {
        for (std::int64_t n : {1, 2, 3, 4, 8, 16}) {
          const Resources r = linear_resources(lin(k, n, 1, fx(w), fx(w)), o);
          const Resources rk = linear_resources(lin(k * 2, n, 1, fx(w), fx(w)), o);
          const Resources rn = linear_resources(lin(k, n + 1, 1, fx(w), fx(w)), o);
          EXPECT_GE(rk[Res::lut], r[Res::lut]);
          EXPECT_GE(rk[Res::ff], r[Res::ff]);
          EXPECT_GE(rk[Res::dsp], r[Res::dsp]);
          EXPECT_GE(rn[Res::lut], r[Res::lut]);
          EXPECT_GE(rn[Res::ff], r[Res::ff]);
          EXPECT_GE(rn[Res::dsp], r[Res::dsp]);
        }
      }
      (void)prev;
    }
  }
  for (EltwiseKind op : {EltwiseKind::SignTest, EltwiseKind::AddSub, EltwiseKind::Mul,
                         EltwiseKind::Div, EltwiseKind::Activation, EltwiseKind::Affine})
    for (std::int64_t l = 1; l < 64; l *= 2) {
      const Resources a = elementwise_resources(op, l, fx(8), fx(8));
      const Resources b = elementwise_resources(op, l * 2, fx(8), fx(8));
      EXPECT_GE(b[Res::lut], a[Res::lut]) << static_cast<int>(op);
      EXPECT_GE(b[Res::ff], a[Res::ff]) << static_cast<int>(op);
      EXPECT_GE(b[Res::dsp], a[Res::dsp]) << static_cast<int>(op);
    }
  for (std::int64_t r = 1; r <= 8; ++r)
    for (std::int64_t c = 1; c <= 8; ++c) {
      const TileShape t{r, c, 8, 8}, tr{r + 1, c, 8, 8}, tc{r, c + 1, 8, 8};
      for (auto fn : {&layernorm_resources, &softmax_resources, &transpose_resources}) {
        EXPECT_GE(fn(tr, fx(8))[Res::lut], fn(t, fx(8))[Res::lut]);
        EXPECT_GE(fn(tc, fx(8))[Res::lut], fn(t, fx(8))[Res::lut]);
        EXPECT_GE(fn(tr, fx(8))[Res::dsp], fn(t, fx(8))[Res::dsp]);
      }
    }
}

TEST(ResourceModel, WiderElementsNeverCheaper) {
  for (int w = 2; w < 32; ++w) {
    const Resources a = linear_resources(lin(8, 8, 1, fx(w), fx(w)));
    const Resources b = linear_resources(lin(8, 8, 1, fx(w + 1), fx(w + 1)));
    EXPECT_GE(lut_equivalent(b), lut_equivalent(a)) << w;
    EXPECT_GE(b[Res::dsp], a[Res::dsp]) << w;
  }
}

TEST(ResourceModel, BlockFormatsCheaperPerMacThanInt8) {
  // Same lanes (16 × 16), per-MAC cost as U250 LUT-equivalents.
  const double int8 = lut_equivalent(linear_resources(lin(16, 16, 1, fx(8), fx(8))));
  const double mxint4 =
      lut_equivalent(linear_resources(lin(16, 16, 1, mxint(4, 32), mxint(4, 32))));
  const double mxfp4 =
      lut_equivalent(linear_resources(lin(16, 16, 1, mxfp(2, 1, 32), mxfp(2, 1, 32))));
  const double bfp4 =
      lut_equivalent(linear_resources(lin(16, 16, 1, block_fp(4, 8, 16), block_fp(4, 8, 16))));
  const double bfp6 =
      lut_equivalent(linear_resources(lin(16, 16, 1, block_fp(6, 8, 16), block_fp(6, 8, 16))));
  EXPECT_LT(mxint4, int8);
  EXPECT_LT(mxfp4, int8);
  EXPECT_LT(bfp4, int8);
  EXPECT_LT(bfp6, int8);
  // Same mantissa width as int8: the shared exponent costs little (amortised per output).
  const double bfp8 =
      lut_equivalent(linear_resources(lin(16, 16, 1, block_fp(8, 8, 16), block_fp(8, 8, 16))));
  EXPECT_GT(bfp8, int8);
  EXPECT_LT(bfp8, 1.10 * int8);
  // A block format is far cheaper than a per-element float format of the same width.
  const double mf8 =
      lut_equivalent(linear_resources(lin(16, 16, 1, minifloat(8, 4), minifloat(8, 4))));
  EXPECT_LT(bfp6, mf8);
  // Blocks smaller than the reduction tile need partial-sum alignment: more logic.
  EXPECT_GT(linear_resources(lin(16, 16, 1, block_fp(6, 8, 4), block_fp(6, 8, 4)))[Res::lut],
            linear_resources(lin(16, 16, 1, block_fp(6, 8, 16), block_fp(6, 8, 16)))[Res::lut]);
}

TEST(ResourceModel, NodeEntryPointMatchesBlockFunctions) {
  const std::string text =
      "format: mase-graph\nversion: 1\ninputs: [{name: x, shape: [4, 64], precision: {type: fixed, "
      "width: 8}}]\n"
      "nodes:\n  - name: fc\n    op: linear\n    args: {data_in_0: x}\n"
      "    params: {weight: {shape: [32, 64], precision: {type: fixed, width: 8}}}\n"
      "    results: {data_out_0: {shape: [4, 32], precision: {type: fixed, width: 8}}}\n"
      "  - name: act\n    op: relu\n    args: {data_in_0: fc}\n"
      "    results: {data_out_0: {shape: [4, 32], precision: {type: fixed, width: 8}}}\n"
      "  - name: tr\n    op: transpose\n    args: {data_in_0: act}\n    attrs: {dim0: 0, dim1: 1}\n"
      "    results: {data_out_0: {shape: [32, 4], precision: {type: fixed, width: 8}}}\n"
      "outputs: [tr]\n";
  const Graph g = load_graph_text(text, "res.yaml");
  NodeHw hw;
  hw.in.push_back(tile_port(g.inputs[0].tensor.shape, {16}));
  hw.out = tile_port(g.nodes[0].results[0].shape, {16});
  const OpTiming t = op_timing(g, g.nodes[0], hw);
  const Resources r = node_resources(g, g.nodes[0], hw, t);
  // int_linear2d, k_par 16, n_par 16, depths 4 × 2 (hls_default binding).
  HlsLinearParams q;
  q.k_par = 16, q.n_par = 16, q.row_par = 1, q.k_depth = 4, q.n_depth = 2, q.bias = false;
  const Resources logic = hls_linear(q).res;
  EXPECT_DOUBLE_EQ(r[Res::dsp], logic[Res::dsp]);
  EXPECT_DOUBLE_EQ(r[Res::lut], logic[Res::lut]);
  EXPECT_DOUBLE_EQ(r[Res::bram36], 0);  // 256 weight arrays of 8 entries: LUTRAM
  EXPECT_DOUBLE_EQ(r[Res::uram], 0);

  NodeHw hr;
  hr.in.push_back(tile_port(g.nodes[0].results[0].shape, {16}));
  hr.out = hr.in[0];
  const Resources rr = node_resources(g, g.nodes[1], hr, op_timing(g, g.nodes[1], hr));
  EXPECT_DOUBLE_EQ(rr[Res::lut], hls_activation(HlsActivation::Relu, 16, fx(8)).res[Res::lut]);

  NodeHw ht;
  ht.in.push_back(tile_port(g.nodes[1].results[0].shape, {16}));
  ht.out = tile_port(g.nodes[2].results[0].shape, {4});
  const Resources rt = node_resources(g, g.nodes[2], ht, op_timing(g, g.nodes[2], ht));
  // MASE's buffer: 16 lanes × 8 tiles of the 32 × 4 tensor (LUTRAM).
  EXPECT_DOUBLE_EQ(rt[Res::lut], hls_buffer(16, 8, fx(8)).res[Res::lut]);
  EXPECT_DOUBLE_EQ(rt[Res::bram36], 0);
}

// ---------------------------------------------------------------------------------------
// Held-out error against the published HLS points.
namespace {

struct Row {
  std::map<std::string, double> v;
  double operator[](const std::string& k) const { return v.at(k); }
};

[[maybe_unused]] bool read_csv(const std::string& path, std::vector<Row>& rows) {
  std::ifstream in(path);
  if (!in) return false;
  std::string line;
  std::getline(in, line);
  std::vector<std::string> cols;
  {
    std::stringstream ss(line);
    std::string c;
    while (std::getline(ss, c, ',')) cols.push_back(c);
  }
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::stringstream ss(line);
    std::string c;
    Row r;
    for (std::size_t i = 0; i < cols.size() && std::getline(ss, c, ','); ++i)
      if (!cols[i].empty() && !c.empty()) r.v[cols[i]] = std::stod(c);
    rows.push_back(std::move(r));
  }
  return true;
}

struct Bound {
  const char* res;
  double held_mean_pct;  ///< asserted bound on the held-out mean abs % error
};

struct ErrStat {
  double sum = 0, max = 0;
  int n = 0;
  void add(double pred, double y) {
    const double e = std::fabs(pred - y) / std::max(y, 1.0) * 100.0;
    sum += e;
    max = std::max(max, e);
    ++n;
  }
  double mean() const { return n ? sum / n : 0; }
};

void check_csv(const std::string& file, const std::function<Resources(const Row&)>& model,
               const std::vector<Bound>& bounds) {
#ifndef MASESIM_CALIBRATION_DIR
  (void)file, (void)model, (void)bounds, (void)&read_csv;
  GTEST_SKIP() << "MASESIM_CALIBRATION_DIR not defined";
#else
  std::vector<Row> rows;
  if (!read_csv(std::string(MASESIM_CALIBRATION_DIR) + "/" + file, rows))
    GTEST_SKIP() << "calibration data not found: " << MASESIM_CALIBRATION_DIR;
  ASSERT_GT(rows.size(), 100u);
  for (const Bound& b : bounds) {
    ErrStat fit, held;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const Resources r = model(rows[i]);
      const std::string k = b.res;
      Res kind = Res::lut;
      ASSERT_TRUE(resource_kind_by_name(k, kind)) << k;
      const double pred = r[kind];
      (i % 5 == 4 ? held : fit).add(pred, rows[i][k]);
    }
    std::printf(
        "%-20s %-4s fit %6.2f%% (max %5.1f%%)  held-out %6.2f%% (max %5.1f%%) [bound %.1f%%]\n",
        file.c_str(), b.res, fit.mean(), fit.max, held.mean(), held.max, b.held_mean_pct);
    EXPECT_LT(held.mean(), b.held_mean_pct) << file << " " << b.res;
  }
  // BRAM/URAM: all published rows report 0 (buffers of at most 64 tiles stay in fabric).
  for (const auto& r : rows) {
    EXPECT_EQ(r["bram"], 0);
    EXPECT_EQ(r["uram"], 0);
  }
#endif
}

Precision fx1(double w) {
  return fixed_precision(static_cast<int>(w), 1);
}
TileShape tile(const Row& r) {
  return TileShape{static_cast<std::int64_t>(r["x_row"]), static_cast<std::int64_t>(r["x_col"]),
                   static_cast<std::int64_t>(r["x_row_depth"]),
                   static_cast<std::int64_t>(r["x_col_depth"])};
}
std::int64_t lanes(const Row& r) {
  return static_cast<std::int64_t>(r["x_row"] * r["x_col"]);
}

}  // namespace

TEST(ResourceModelCalibration, Linear2d) {
  check_csv("int_linear2d.csv",
            [](const Row& r) {
              ResourceOptions o;
              o.dsp = DspMapping::HlsDefault;
              return linear_resources(
                  lin(static_cast<std::int64_t>(r["x_row"]), static_cast<std::int64_t>(r["w_row"]),
                      static_cast<std::int64_t>(r["x_col"]), fx1(r["x_width"]), fx1(r["w_width"]),
                      static_cast<std::int64_t>(r["x_row_depth"])),
                  o);
            },
            {{"lut", 11}, {"ff", 19}, {"dsp", 13}});
}
TEST(ResourceModelCalibration, Relu) {
  check_csv("int_relu.csv",
            [](const Row& r) {
              return elementwise_resources(EltwiseKind::SignTest, lanes(r), fx1(r["x_width"]),
                                           fx1(r["x_width"]));
            },
            {{"lut", 7}, {"ff", 4}, {"dsp", 0.01}});
}
TEST(ResourceModelCalibration, Add) {
  check_csv("int_add.csv",
            [](const Row& r) {
              return elementwise_resources(EltwiseKind::AddSub, lanes(r), fx1(r["x_width"]),
                                           fx1(r["w_width"]));
            },
            {{"lut", 4}, {"ff", 0.5}, {"dsp", 0.01}});
}
TEST(ResourceModelCalibration, Mult) {
  check_csv("int_mult.csv",
            [](const Row& r) {
              return elementwise_resources(EltwiseKind::Mul, lanes(r), fx1(r["x_width"]),
                                           fx1(r["w_width"]));
            },
            {{"lut", 20}, {"ff", 17}, {"dsp", 0.01}});
}
TEST(ResourceModelCalibration, Softmax) {
  check_csv("int_softmax.csv",
            [](const Row& r) { return softmax_resources(tile(r), fx1(r["x_width"])); },
            {{"lut", 12}, {"ff", 13}, {"dsp", 0.01}});
}
TEST(ResourceModelCalibration, LayerNorm) {
  check_csv("int_layernorm.csv",
            [](const Row& r) { return layernorm_resources(tile(r), fx1(r["x_width"])); },
            {{"lut", 14}, {"ff", 15}, {"dsp", 6}});
}
TEST(ResourceModelCalibration, Transpose) {
  check_csv("int_transpose.csv",
            [](const Row& r) { return transpose_resources(tile(r), fx1(r["x_width"])); },
            {{"lut", 2}, {"ff", 11}, {"dsp", 0.01}});
}
TEST(ResourceModelCalibration, Buffer) {
  check_csv("buffer.csv",
            [](const Row& r) { return transpose_resources(tile(r), fx1(r["x_width"])); },
            {{"lut", 2}, {"ff", 11}, {"dsp", 0.01}});
}
TEST(ResourceModelCalibration, Fork) {
  check_csv("fork.csv",
            [](const Row& r) { return fork_resources(static_cast<std::int64_t>(r["fork_num"])); },
            {{"lut", 0.01}, {"ff", 0.01}, {"dsp", 0.01}});
}
