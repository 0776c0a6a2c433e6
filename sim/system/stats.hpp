// One tree of named statistics; JSON, CSV and the terminal summary all come from it.
// Keys keep insertion order; numbers are 64-bit integers or doubles.
#pragma once
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "models/resources.hpp"

namespace masesim {

/// Version of the stats.json layout (docs/stats.md); raised when a key changes meaning or
/// is removed (adding keys keeps it).
constexpr int kStatsSchemaVersion = 1;

class StatsTree {
 public:
  StatsTree& child(const std::string& name);
  void set(const std::string& key, std::int64_t v);
  void set(const std::string& key, std::uint64_t v) { set(key, static_cast<std::int64_t>(v)); }
  void set(const std::string& key, int v) { set(key, static_cast<std::int64_t>(v)); }
  void set(const std::string& key, double v);
  void set(const std::string& key, const std::string& v);
  void set(const std::string& key, const char* v) { set(key, std::string(v)); }
  void set_bool(const std::string& key, bool v);

  /// Value at a dotted path as text ("" when absent); for tests and the summary.
  std::string get(const std::string& dotted) const;
  const StatsTree* find_child(const std::string& name) const;
  /// Names of the sub-trees, in insertion order.
  std::vector<std::string> child_names() const;

  void write_json(std::ostream& os, int indent = 0) const;
  /// "dotted.key,value" rows.
  void write_csv(std::ostream& os, const std::string& prefix = "") const;

 private:
  struct Entry {
    std::string key;
    enum class Kind { Int, Double, String, Bool, Tree } kind;
    std::int64_t i = 0;
    double d = 0;
    std::string s;
    std::unique_ptr<StatsTree> tree;
  };
  Entry& slot(const std::string& key);
  std::vector<Entry> entries_;
};

std::string json_escape(const std::string& s);
/// Shortest round-trip text of a double, JSON-safe (NaN/inf -> null).
std::string format_double(double v);

/// Writes files whole or not at all: each goes to a temporary name, then all are renamed.
/// InputError naming the directory when it cannot be created or written.
void write_files_atomically(const std::string& dir,
                            const std::vector<std::pair<std::string, std::string>>& files);

/// One key per resource kind (kResourceKinds) holding the amount.
void set_amounts(StatsTree& t, const Resources& r);
/// One child per resource kind with used (rounded up to whole blocks), available and
/// utilisation (0 where nothing is available).
void set_utilisation(StatsTree& t, const Resources& used, const Resources& available);

}  // namespace masesim
