// Co-simulation regression of the systolic GEMM core (rtl/systolic_gemm.sv, Verilated)
// against the C++ reference GEMM (bit for bit) and the cycle model (cycle for cycle).
//
// Covers: both dataflows on 4x4 and 8x8 arrays x 32 shapes: squares, sizes that are not
// multiples of the array, M = 1, tall-skinny, K = 1, N = 1, several WS M blocks, and the
// OPT-125M attention projection / FFN shapes at M = 4 (4x768x768, 4x768x3072, 4x3072x768).
// Inputs are uniform random int8 from a seed derived from the shape. The streams are
// always valid / always ready, the condition under which the model is exact; a few
// extra tests add random stalls (functional check only) and write a VCD.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <ostream>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "gemm_reference.hpp"
#include "systolic_cost.hpp"
#include "systolic_gemm_rtl.hpp"

namespace masesim::systolic {
// Readable test parameters in gtest output.
void PrintTo(const GemmShape& s, std::ostream* os) {
  *os << "M=" << s.m << " K=" << s.k << " N=" << s.n;
}
void PrintTo(const ArrayConfig& a, std::ostream* os) {
  *os << to_string(a.dataflow) << " " << a.rows << "x" << a.cols;
}
}  // namespace masesim::systolic

namespace ms = masesim::systolic;
using masesim::rtl::RunOptions;
using masesim::rtl::SystolicGemmRtl;
using ms::ArrayConfig;
using ms::Dataflow;
using ms::GemmShape;

namespace {

std::string describe(const GemmShape& s, const ArrayConfig& a) {
  std::ostringstream o;
  o << "GEMM M=" << s.m << " K=" << s.k << " N=" << s.n << ", " << ms::to_string(a.dataflow)
    << ", array " << a.rows << "x" << a.cols;
  return o.str();
}

// Empty string when equal, otherwise the first differing element.
std::string first_difference(const GemmShape& s, const std::vector<std::int32_t>& expected,
                             const std::vector<std::int32_t>& got) {
  if (expected.size() != got.size()) {
    return "size " + std::to_string(got.size()) + ", expected " + std::to_string(expected.size());
  }
  std::uint64_t diffs = 0, first = 0;
  for (std::uint64_t i = 0; i < expected.size(); ++i) {
    if (expected[i] != got[i] && diffs++ == 0) first = i;
  }
  if (diffs == 0) return {};
  std::ostringstream o;
  o << "first differing element C[" << first / s.n << "][" << first % s.n << "] (index " << first
    << "): expected " << expected[first] << ", got " << got[first] << " (" << diffs << " of "
    << expected.size() << " elements differ)";
  return o.str();
}

std::uint64_t seed_of(const GemmShape& s) {
  return s.m * 1000003u + s.k * 7919u + s.n;
}

const std::vector<GemmShape> kShapes = {
    // squares
    {1, 1, 1},
    {4, 4, 4},
    {8, 8, 8},
    {16, 16, 16},
    {32, 32, 32},
    {64, 64, 64},
    // not multiples of the array
    {3, 5, 7},
    {5, 3, 6},
    {7, 9, 11},
    {13, 17, 19},
    {17, 33, 9},
    {31, 29, 37},
    {9, 8, 15},
    {12, 10, 20},
    // M = 1
    {1, 64, 64},
    {1, 100, 37},
    {1, 768, 96},
    // tall-skinny
    {128, 8, 4},
    {200, 16, 3},
    {96, 5, 2},
    {257, 3, 5},
    // K = 1, N = 1, wide
    {8, 1, 8},
    {13, 1, 29},
    {1, 1, 50},
    {40, 1, 1},
    {33, 20, 1},
    {4, 16, 130},
    // several weight-stationary M blocks (acc_rows = 32)
    {70, 12, 10},
    {65, 40, 9},
    // OPT-125M at M = 4: q/k/v/out projection, FFN up, FFN down
    {4, 768, 768},
    {4, 768, 3072},
    {4, 3072, 768},
};

std::vector<ArrayConfig> arrays() {
  return {{4, 4, Dataflow::OutputStationary, 32},
          {4, 4, Dataflow::WeightStationary, 32},
          {8, 8, Dataflow::OutputStationary, 32},
          {8, 8, Dataflow::WeightStationary, 32}};
}

class SystolicGemmCosim : public ::testing::TestWithParam<std::tuple<ArrayConfig, GemmShape>> {};

TEST_P(SystolicGemmCosim, MatchesReferenceAndCycleModel) {
  const auto& [array, shape] = GetParam();
  const std::string what = describe(shape, array);
  const auto a = ms::random_int8(shape.m * shape.k, seed_of(shape));
  const auto b = ms::random_int8(shape.k * shape.n, seed_of(shape) ^ 0x9e3779b97f4a7c15ull);
  const auto expected = ms::gemm_reference(shape, a, b);

  SystolicGemmRtl rtl(array);
  const auto run = rtl.run(shape, a, b);

  const std::string diff = first_difference(shape, expected, run.c);
  EXPECT_TRUE(diff.empty()) << what << ": RTL output differs from the reference: " << diff;

  const auto model = ms::gemm_cycles(shape, array);
  EXPECT_EQ(run.cycles, model.total_cycles)
      << what << ": RTL took " << run.cycles << " cycles, model says " << model.total_cycles
      << " (difference " << static_cast<std::int64_t>(run.cycles - model.total_cycles) << ")";

  const auto beats = ms::gemm_beats(shape, array);
  EXPECT_EQ(run.a_beats, beats.a_beats) << what << ": A beats";
  EXPECT_EQ(run.b_beats, beats.b_beats) << what << ": B beats";
  EXPECT_EQ(run.c_beats, beats.c_beats) << what << ": C beats";
}

std::string param_name(const ::testing::TestParamInfo<std::tuple<ArrayConfig, GemmShape>>& p) {
  const auto& [a, s] = p.param;
  std::ostringstream o;
  o << (a.dataflow == Dataflow::OutputStationary ? "os" : "ws") << a.rows << "x" << a.cols << "_M"
    << s.m << "_K" << s.k << "_N" << s.n;
  return o.str();
}

INSTANTIATE_TEST_SUITE_P(Shapes, SystolicGemmCosim,
                         ::testing::Combine(::testing::ValuesIn(arrays()),
                                            ::testing::ValuesIn(kShapes)),
                         param_name);

// Random starvation on A/B and back-pressure on C: results must stay exact, cycles can
// only grow.
class SystolicGemmStalls : public ::testing::TestWithParam<ArrayConfig> {};

TEST_P(SystolicGemmStalls, ExactUnderRandomStalls) {
  const ArrayConfig array = GetParam();
  for (const GemmShape shape :
       {GemmShape{13, 17, 19}, GemmShape{70, 3, 10}, GemmShape{5, 40, 6}, GemmShape{1, 9, 1}}) {
    const std::string what = describe(shape, array);
    const auto a = ms::random_int8(shape.m * shape.k, seed_of(shape) + 1);
    const auto b = ms::random_int8(shape.k * shape.n, seed_of(shape) + 2);
    const auto expected = ms::gemm_reference(shape, a, b);
    SystolicGemmRtl rtl(array);
    for (const double p : {0.1, 0.5}) {
      RunOptions opt;
      opt.a_idle = p;
      opt.b_idle = p / 2;
      opt.c_busy = p;
      opt.seed = 42;
      const auto run = rtl.run(shape, a, b, opt);
      const std::string diff = first_difference(shape, expected, run.c);
      EXPECT_TRUE(diff.empty()) << what << " with stall probability " << p << ": " << diff;
      EXPECT_GE(run.cycles, ms::gemm_cycles(shape, array).total_cycles) << what;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Arrays, SystolicGemmStalls, ::testing::ValuesIn(arrays()),
                         [](const ::testing::TestParamInfo<ArrayConfig>& p) {
                           return std::string(p.param.dataflow == Dataflow::OutputStationary
                                                  ? "os"
                                                  : "ws") +
                                  std::to_string(p.param.rows) + "x" + std::to_string(p.param.cols);
                         });

TEST(SystolicGemmRtlWrapper, WritesVcdOnTracedInstance) {
  for (const auto df : {Dataflow::OutputStationary, Dataflow::WeightStationary}) {
    const ArrayConfig array{4, 4, df, 32};
    SystolicGemmRtl rtl(array);
    ASSERT_TRUE(rtl.has_trace());
    const auto path = std::filesystem::temp_directory_path() /
                      ("systolic_gemm_cosim_" + std::string(ms::to_string(df)) + ".vcd");
    const GemmShape shape{5, 6, 7};
    const auto a = ms::random_int8(shape.m * shape.k, 3);
    const auto b = ms::random_int8(shape.k * shape.n, 4);
    const auto run = rtl.run(shape, a, b, path.string());
    EXPECT_TRUE(first_difference(shape, ms::gemm_reference(shape, a, b), run.c).empty());
    ASSERT_TRUE(std::filesystem::exists(path));
    EXPECT_GT(std::filesystem::file_size(path), 1000u);
    std::filesystem::remove(path);
  }
}

TEST(SystolicGemmRtlWrapper, RejectsUnbuiltConfigurationAndBadInput) {
  EXPECT_THROW(SystolicGemmRtl({3, 5, Dataflow::OutputStationary, 32}), std::invalid_argument);
  SystolicGemmRtl rtl({4, 4, Dataflow::OutputStationary, 32});
  EXPECT_THROW(rtl.run({2, 2, 2}, {1, 2, 3}, {1, 2, 3, 4}), std::invalid_argument);
  EXPECT_FALSE(SystolicGemmRtl::available().empty());
  EXPECT_TRUE(SystolicGemmRtl::is_available({16, 16, Dataflow::WeightStationary, 32}));
}

}  // namespace
