// GEMM 128x768x768 on a 16x16 systolic array, both dataflows:
//   - RTL: the Verilated core driven clock by clock (masesim::rtl::SystolicGemmRtl),
//   - cycle model: masesim::systolic::gemm_cycles(), what the TLM module charges per GEMM,
//   - functional reference: plain C++ int8 GEMM (what functional TLM mode computes).
// Prints wall times, cycle counts and the RTL / model wall-time ratio. Not a test: no
// timing assertions. Usage: gemm_bench [M K N]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "gemm_reference.hpp"
#include "systolic_cost.hpp"
#include "systolic_gemm_rtl.hpp"

namespace ms = masesim::systolic;

namespace {

template <typename F>
double seconds(F&& f, int repeat = 1) {
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < repeat; ++i) f();
  const auto t1 = std::chrono::steady_clock::now();
  return std::chrono::duration<double>(t1 - t0).count() / repeat;
}

}  // namespace

int main(int argc, char** argv) {
  ms::GemmShape shape{128, 768, 768};
  if (argc == 4) {
    shape = {std::strtoull(argv[1], nullptr, 10), std::strtoull(argv[2], nullptr, 10),
             std::strtoull(argv[3], nullptr, 10)};
  }
  const auto a = ms::random_int8(shape.m * shape.k, 1);
  const auto b = ms::random_int8(shape.k * shape.n, 2);

  std::vector<std::int32_t> ref;
  const double ref_s = seconds([&] { ref = ms::gemm_reference(shape, a, b); });

  std::printf("GEMM %llux%llux%llu on a 16x16 systolic array (int8 x int8 -> int32)\n",
              static_cast<unsigned long long>(shape.m), static_cast<unsigned long long>(shape.k),
              static_cast<unsigned long long>(shape.n));
  std::printf("C++ functional reference: %.4f s\n", ref_s);
  int status = 0;
  for (const auto df : {ms::Dataflow::OutputStationary, ms::Dataflow::WeightStationary}) {
    const ms::ArrayConfig array{16, 16, df, 32};
    masesim::rtl::SystolicGemmRtl rtl(array);
    masesim::rtl::GemmRunResult run;
    const double rtl_s = seconds([&] { run = rtl.run(shape, a, b); });
    ms::GemmCycles model;
    volatile std::uint64_t sink = 0;
    const int repeat = 1000;
    const double model_s = seconds(
        [&] {
          model = ms::gemm_cycles(shape, array);
          sink = sink + model.total_cycles;
        },
        repeat);
    const bool same_c = run.c == ref;
    const bool same_cycles = run.cycles == model.total_cycles;
    if (!same_c || !same_cycles) status = 1;
    std::printf("\n[%s]\n", ms::to_string(df));
    std::printf("  RTL (Verilator):   %10.4f s  %12llu cycles  %.2f Mcycles/s  C %s\n", rtl_s,
                static_cast<unsigned long long>(run.cycles), run.clock_ticks / rtl_s / 1e6,
                same_c ? "== reference" : "!= reference");
    std::printf("  cycle model:       %10.3g s  %12llu cycles  (tiles %llu, utilisation %.4f)\n",
                model_s, static_cast<unsigned long long>(model.total_cycles),
                static_cast<unsigned long long>(model.tiles), model.utilisation);
    std::printf("  cycles RTL - model: %lld\n",
                static_cast<long long>(run.cycles) - static_cast<long long>(model.total_cycles));
    std::printf("  wall-time ratio RTL / cycle model: %.3g   RTL / C++ reference: %.3g\n",
                rtl_s / model_s, rtl_s / ref_s);
  }
  return status;
}
