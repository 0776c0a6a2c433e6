#include "sim/system/rtl_engine.hpp"

#include <functional>

#include "workloads/error.hpp"

#ifdef MASESIM_HAVE_RTL
#include "gemm_reference.hpp"
#include "rtl/systolic_gemm_rtl.hpp"
#endif

namespace masesim {

#ifdef MASESIM_HAVE_RTL
namespace {
class RtlGemmEngine : public GemmEngine {
 public:
  explicit RtlGemmEngine(const RtlEngineOptions& o) : o_(o), rtl_(array_of(o)) {}
  std::uint64_t run(std::int64_t m, std::int64_t k, std::int64_t n, std::uint64_t index,
                    const std::vector<std::int8_t>* ra,
                    const std::vector<std::int8_t>* rb) override {
    const systolic::GemmShape shape{static_cast<std::uint64_t>(m), static_cast<std::uint64_t>(k),
                                    static_cast<std::uint64_t>(n)};
    const std::uint64_t seed = std::hash<std::string>{}(o_.node) ^ (index * 0x9e3779b97f4a7c15ull);
    // Functional mode hands in the node's real operands; timing mode uses seeded ones.
    const auto a = ra ? *ra : systolic::random_int8(shape.m * shape.k, seed);
    const auto b = rb ? *rb : systolic::random_int8(shape.k * shape.n, seed + 1);
    rtl::RunOptions ro;
    ro.clock_period = static_cast<std::uint64_t>(o_.period_ps);
    auto r = rtl_.run(shape, a, b, ro);
    if (!o_.vcd_path.empty() && index == 0) {
      // Again with the waveform, its clock placed so that the GEMM's first counted cycle
      // starts at its simulated start (reset and configuration come before it).
      const auto first = static_cast<std::uint64_t>(start_ps_);
      ro.time_origin = first >= r.first_cycle_time ? first - r.first_cycle_time : 0;
      ro.vcd_path = o_.vcd_path;
      r = rtl_.run(shape, a, b, ro);
    }
    const auto ref = systolic::gemm_reference(shape, a, b);
    for (std::size_t i = 0; i < ref.size(); ++i) mismatches_ += r.c[i] != ref[i] ? 1 : 0;
    return r.cycles;
  }
  std::string impl() const override { return "rtl"; }
  void start_at(time_ps t) override { start_ps_ = t; }
  std::uint64_t mismatches() const { return mismatches_; }

 private:
  static systolic::ArrayConfig array_of(const RtlEngineOptions& o) {
    systolic::ArrayConfig a;
    a.rows = static_cast<std::uint32_t>(o.rows);
    a.cols = static_cast<std::uint32_t>(o.cols);
    a.dataflow = o.weight_stationary ? systolic::Dataflow::WeightStationary
                                     : systolic::Dataflow::OutputStationary;
    if (!rtl::SystolicGemmRtl::is_available(a)) {
      std::string have;
      for (const auto& x : rtl::SystolicGemmRtl::available())
        have += (have.empty() ? "" : ", ") + std::to_string(x.rows) + "x" + std::to_string(x.cols) +
                " " + systolic::to_string(x.dataflow);
      throw InputError("--cosim " + o.node + ": no Verilated systolic core of " +
                       std::to_string(o.rows) + "x" + std::to_string(o.cols) + " " +
                       systolic::to_string(a.dataflow) + " in this build (built: " + have + ")");
    }
    if (!o.vcd_path.empty() && !rtl::SystolicGemmRtl::is_traced(a)) {
      std::string have;
      for (const auto& x : rtl::SystolicGemmRtl::available_traced())
        have += (have.empty() ? "" : ", ") + std::to_string(x.rows) + "x" + std::to_string(x.cols) +
                " " + systolic::to_string(x.dataflow);
      throw InputError("--vcd: node '" + o.node + "' runs on a " + std::to_string(o.rows) + "x" +
                       std::to_string(o.cols) + " " + systolic::to_string(a.dataflow) +
                       " core, built without waveform support; cores with waveforms: " +
                       (have.empty() ? "none" : have));
    }
    return a;
  }
  RtlEngineOptions o_;
  time_ps start_ps_ = 0;
  rtl::SystolicGemmRtl rtl_;
  std::uint64_t mismatches_ = 0;
};
}  // namespace

bool rtl_available() {
  return true;
}
std::unique_ptr<GemmEngine> make_rtl_engine(const RtlEngineOptions& o) {
  return std::make_unique<RtlGemmEngine>(o);
}
std::uint64_t rtl_mismatches(const GemmEngine& e) {
  const auto* r = dynamic_cast<const RtlGemmEngine*>(&e);
  return r ? r->mismatches() : 0;
}
#else
bool rtl_available() {
  return false;
}
std::unique_ptr<GemmEngine> make_rtl_engine(const RtlEngineOptions& o) {
  throw InputError(
      "--cosim " + o.node +
      ": this build has no Verilated RTL (configure with Verilator and MASESIM_RTL=ON)");
}
std::uint64_t rtl_mismatches(const GemmEngine&) {
  return 0;
}
#endif

}  // namespace masesim
