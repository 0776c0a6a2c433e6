// Helpers for reading YAML/JSON with yaml-cpp and reporting errors as
// "file:line: key: message". Used by the graph loader and sim/ config loaders.
#pragma once
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>
#include <vector>

namespace masesim::yaml {

/// "file:line" of a node (line 1-based), or "file" when the node has no mark.
std::string where(const std::string& file, const YAML::Node& n);

/// Parses a file; InputError for a missing file, a directory, or a syntax error.
YAML::Node load_file(const std::string& path);
YAML::Node load_text(const std::string& text, const std::string& label);

/// A mapping key as text; InputError when the key is not a scalar (e.g. `[a]: 1`).
std::string key_string(const std::string& file, const YAML::Node& key, const std::string& ctx);
/// A scalar as text; InputError naming `ctx` otherwise (null, list or map).
std::string scalar_string(const std::string& file, const YAML::Node& n, const std::string& ctx);

/// Throws InputError when `map` has a key not in `known` (naming the nearest known), a
/// non-scalar key, or the same key twice.
void check_keys(const std::string& file, const YAML::Node& map, const std::string& ctx,
                const std::vector<std::string>& known);

const YAML::Node require(const std::string& file, const YAML::Node& map, const std::string& ctx,
                         const std::string& key);

std::int64_t as_int(const std::string& file, const YAML::Node& n, const std::string& ctx);
double as_double(const std::string& file, const YAML::Node& n, const std::string& ctx);
std::string as_string(const std::string& file, const YAML::Node& n, const std::string& ctx);
bool as_bool(const std::string& file, const YAML::Node& n, const std::string& ctx);

}  // namespace masesim::yaml
