// Activity counters of a hardware block, counted by the block as it works.
// Contract: a block calls begin(i) when it starts on inference i and adds to now() a few
// integer operations per beat or per row, never per cycle; write() registers the counts
// into a stats tree (any type with child(name) and set(key, int64), e.g. sim/system/stats
// StatsTree; models/ does not depend on sim/).
#pragma once
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/time.hpp"

namespace masesim {

/// What a block did, counted by the block as it does it (a few integer operations per
/// beat or per row, never per cycle).
struct Activity {
  std::uint64_t busy_cycles = 0;  ///< cycles its datapath worked (stalls excluded)
  std::uint64_t beats_in = 0, beats_out = 0;
  std::uint64_t macs = 0;
  time_ps stall_in_ps = 0;   ///< waiting for input beats
  time_ps stall_out_ps = 0;  ///< waiting for downstream space
  time_ps stall_mem_ps = 0;  ///< waiting for off-chip memory (weights, KV cache)
  Activity& operator+=(const Activity& o) {
    busy_cycles += o.busy_cycles;
    beats_in += o.beats_in;
    beats_out += o.beats_out;
    macs += o.macs;
    stall_in_ps += o.stall_in_ps;
    stall_out_ps += o.stall_out_ps;
    stall_mem_ps += o.stall_mem_ps;
    return *this;
  }
};

/// The phases a run's statistics are split by (LLM: prefill, decode): inference i is in
/// phase `of[i]`, named `names[of[i]]`.
struct PhaseMap {
  std::vector<std::string> names;
  std::vector<int> of;
};
using PhaseMapPtr = std::shared_ptr<const PhaseMap>;

/// A block's activity counters, one set per phase; the block selects the phase of the
/// inference it works on (begin()) and counts into now().
class ActivityCounters {
 public:
  /// Splits the counts by `p`'s phases (call before the run; null: one set).
  void set_phases(PhaseMapPtr p) {
    phases_ = std::move(p);
    by_phase_.assign(phases_ ? std::max<std::size_t>(1, phases_->names.size()) : 1, Activity{});
    cur_ = 0;
  }
  /// Counts inference `inf`'s work from here on.
  void begin(std::int64_t inf) {
    if (phases_) cur_ = static_cast<std::size_t>(phases_->of[static_cast<std::size_t>(inf)]);
  }
  Activity& now() { return by_phase_[cur_]; }
  Activity total() const {
    Activity a;
    for (const auto& p : by_phase_) a += p;
    return a;
  }
  const std::vector<Activity>& by_phase() const { return by_phase_; }
  const PhaseMap* phases() const { return phases_.get(); }
  /// Registers the counters into `t` (a StatsTree: child(name), set(key, int64)) in cycles
  /// of `period_ps`: busy_cycles, stall_in/out/mem_cycles, beats_in/out, macs, and the same
  /// under phases.<name> when split by phase.
  template <typename Tree>
  void write(Tree& t, time_ps period_ps) const {
    write_one(t, total(), period_ps);
    if (!phases_) return;
    for (std::size_t k = 0; k < by_phase_.size(); ++k)
      write_one(t.child("phases").child(phases_->names[k]), by_phase_[k], period_ps);
  }
  template <typename Tree>
  static void write_one(Tree& t, const Activity& a, time_ps period_ps) {
    auto cycles = [&](time_ps ps) { return static_cast<std::int64_t>(ps / period_ps); };
    t.set("busy_cycles", static_cast<std::int64_t>(a.busy_cycles));
    t.set("stall_in_cycles", cycles(a.stall_in_ps));
    t.set("stall_out_cycles", cycles(a.stall_out_ps));
    t.set("stall_mem_cycles", cycles(a.stall_mem_ps));
    t.set("beats_in", static_cast<std::int64_t>(a.beats_in));
    t.set("beats_out", static_cast<std::int64_t>(a.beats_out));
    t.set("macs", static_cast<std::int64_t>(a.macs));
  }

 private:
  PhaseMapPtr phases_;
  std::vector<Activity> by_phase_{1};
  std::size_t cur_ = 0;
};

}  // namespace masesim
