#pragma once
// FPGA resources as a keyed vector: one list of resource kinds (Res, kResourceKinds) and
// the arithmetic on amounts written once (sum, difference, scaling, element-wise max,
// "fits under a capacity", the first kinds over it, the largest utilisation).
//
// Adding a kind (SLR crossings, AI-engine tiles, ...) is one enumerator and one row of
// kResourceKinds; every report, ledger and fit check iterates the table. A device file
// that does not give the new kind's capacity is then an error naming the key
// (sim/config/device_types.cpp reads every kind of the table).
#include <array>
#include <cstddef>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

namespace masesim {

/// A resource kind; the enumerators index Resources and kResourceKinds in report order.
enum class Res : std::size_t { lut, ff, dsp, bram36, uram };

struct ResourceKind {
  Res kind;
  const char* name;         ///< key in YAML, stats.json and messages ("bram36")
  const char* label;        ///< for tables ("BRAM36")
  const char* description;  ///< for --list-keys ("block RAMs")
  bool may_be_zero;         ///< a device may lack it (DSP-less or URAM-less parts)
};

inline constexpr ResourceKind kResourceKinds[] = {
    {Res::lut, "lut", "LUT", "LUTs", false},
    {Res::ff, "ff", "FF", "flip-flops", false},
    {Res::dsp, "dsp", "DSP", "DSP slices", true},
    {Res::bram36, "bram36", "BRAM36", "36 Kb block RAMs", true},
    {Res::uram, "uram", "URAM", "288 Kb UltraRAMs", true}};
inline constexpr std::size_t kResourceKindCount = std::size(kResourceKinds);

constexpr bool resource_kinds_in_enum_order() {
  for (std::size_t i = 0; i < kResourceKindCount; ++i)
    if (static_cast<std::size_t>(kResourceKinds[i].kind) != i) return false;
  return true;
}
static_assert(resource_kinds_in_enum_order(), "kResourceKinds[i].kind must be Res(i)");

/// The kind named `name` ("lut" ...); false when no kind has that name.
bool resource_kind_by_name(const std::string& name, Res& kind);

/// An amount of every resource kind. Value type; the arithmetic is element-wise.
class Resources {
 public:
  Resources() = default;
  /// Keyed construction: Resources{{Res::lut, 120}, {Res::dsp, 2}}; other kinds 0.
  Resources(std::initializer_list<std::pair<Res, double>> amounts);

  double& operator[](Res k) { return v_[static_cast<std::size_t>(k)]; }
  double operator[](Res k) const { return v_[static_cast<std::size_t>(k)]; }

  Resources& operator+=(const Resources& o);
  Resources& operator-=(const Resources& o);
  Resources& operator*=(double f);
  friend Resources operator+(Resources a, const Resources& b) { return a += b; }
  friend Resources operator-(Resources a, const Resources& b) { return a -= b; }
  friend Resources operator*(Resources a, double f) { return a *= f; }
  friend Resources operator*(double f, Resources a) { return a *= f; }
  bool operator==(const Resources& o) const { return v_ == o.v_; }
  bool operator!=(const Resources& o) const { return v_ != o.v_; }

  /// Every kind at most `cap`'s.
  bool fits(const Resources& cap) const;
  /// The kinds above `cap`'s, in table order.
  std::vector<Res> overflows(const Resources& cap) const;
  /// Element-wise maximum.
  static Resources max(const Resources& a, const Resources& b);
  /// The largest used / available over `kinds` with a non-zero capacity (0 if none).
  double max_utilisation(const Resources& cap, std::initializer_list<Res> kinds) const;
  double max_utilisation(const Resources& cap) const;

 private:
  std::array<double, kResourceKindCount> v_{};
};

}  // namespace masesim
