// System configuration: every key declared once (type, default, unit, description),
// loaded from YAML and `--set key=value`, written back out as the effective config.
// Contract: after load, every declared key has a value of its type within its range;
// an unknown key is an InputError naming the file, the key and the nearest known key.
#pragma once
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace masesim {

enum class KeyType { Int, Double, Bool, String, Enum, Any };

struct KeyDecl {
  std::string key;  ///< dotted; a trailing ".*" declares a family (workload.dims.*)
  KeyType type;
  std::string default_yaml;  ///< default value as YAML text ("" = no default / optional)
  std::string unit;
  std::string description;
  std::vector<std::string> choices;  ///< Enum
  double min = -1e300, max = 1e300;  ///< Int/Double
};

/// The declared keys (the single list; docs/config.md and `simulate --list-keys` come from it).
const std::vector<KeyDecl>& config_keys();

class Config {
 public:
  /// Defaults only.
  Config();
  /// Loads `path`; relative paths in it resolve against its directory.
  static Config from_file(const std::string& path);
  static Config from_text(const std::string& text, const std::string& label,
                          const std::string& base_dir);

  /// Applies "a.b.c=value" (value parsed as YAML). InputError on unknown key or bad value.
  void set(const std::string& assignment);

  std::int64_t get_int(const std::string& key) const;
  double get_double(const std::string& key) const;
  bool get_bool(const std::string& key) const;
  std::string get_string(const std::string& key) const;
  YAML::Node get_node(const std::string& key) const;
  bool has(const std::string& key) const;
  /// Keys of a family, e.g. prefix "workload.dims." -> {"seq": 512}.
  std::map<std::string, std::int64_t> int_family(const std::string& prefix) const;

  const std::string& file() const { return file_; }
  const std::string& base_dir() const { return base_dir_; }
  /// resolve_path made absolute (against the working directory).
  std::string absolute_path(const std::string& p) const;
  /// The effective configuration as YAML: dump() with every path (keys of unit "path",
  /// device-type files in system.devices) absolute, so that it runs from any directory.
  std::string dump_effective() const;
  /// Resolves a path from the config against the config's directory.
  std::string resolve_path(const std::string& p) const;

  /// The effective configuration as nested YAML (every key with its value).
  std::string dump() const;

 private:
  void assign(const std::string& key, const YAML::Node& value, const std::string& where);
  void flatten(const YAML::Node& n, const std::string& prefix, const std::string& file);
  const KeyDecl* find_decl(const std::string& key) const;

  std::map<std::string, YAML::Node> values_;
  std::string file_ = "<defaults>";
  std::string base_dir_ = ".";
};

}  // namespace masesim
