#include "workloads/yaml_util.hpp"

#include <sys/stat.h>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "workloads/error.hpp"

namespace masesim::yaml {

std::string where(const std::string& file, const YAML::Node& n) {
  const auto m = n.Mark();
  if (m.line < 0) return file;
  return file + ":" + std::to_string(m.line + 1);
}

YAML::Node load_text(const std::string& text, const std::string& label) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw InputError(label + ":" + std::to_string(e.mark.line + 1) +
                     ": malformed YAML/JSON: " + e.msg);
  }
}

YAML::Node load_file(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) throw InputError(path + ": cannot open: file not found");
  if (S_ISDIR(st.st_mode)) throw InputError(path + ": is a directory, expected a file");
  std::ifstream in(path);
  if (!in) throw InputError(path + ": cannot open for reading");
  std::stringstream ss;
  ss << in.rdbuf();
  return load_text(ss.str(), path);
}

std::string key_string(const std::string& file, const YAML::Node& key, const std::string& ctx) {
  if (!key.IsScalar())
    throw InputError(where(file, key) + ": " + ctx +
                     ": a key must be a plain name, not a list or mapping");
  return key.Scalar();
}

std::string scalar_string(const std::string& file, const YAML::Node& n, const std::string& ctx) {
  if (!n || !n.IsScalar())
    throw InputError((n ? where(file, n) : file) + ": " + ctx + ": expected a single value");
  return n.Scalar();
}

void check_keys(const std::string& file, const YAML::Node& map, const std::string& ctx,
                const std::vector<std::string>& known) {
  if (!map.IsMap()) throw InputError(where(file, map) + ": " + ctx + ": expected a mapping");
  std::vector<std::string> seen;
  for (const auto& kv : map) {
    const std::string k = key_string(file, kv.first, ctx);
    for (const auto& x : seen)
      if (x == k)
        throw InputError(where(file, kv.first) + ": " + ctx + ": key '" + k + "' appears twice");
    seen.push_back(k);
    bool ok = false;
    for (const auto& c : known) ok = ok || c == k;
    if (!ok)
      throw InputError(where(file, kv.first) + ": " + ctx + ": unknown key '" + k + "'" +
                       did_you_mean(k, known));
  }
}

const YAML::Node require(const std::string& file, const YAML::Node& map, const std::string& ctx,
                         const std::string& key) {
  if (!map.IsMap()) throw InputError(where(file, map) + ": " + ctx + ": expected a mapping");
  const YAML::Node n = map[key];
  if (!n) throw InputError(where(file, map) + ": " + ctx + ": missing required key '" + key + "'");
  return n;
}

std::int64_t as_int(const std::string& file, const YAML::Node& n, const std::string& ctx) {
  const std::string s = n.IsScalar() ? n.Scalar() : "";
  if (!n.IsScalar() || s.empty())
    throw InputError(where(file, n) + ": " + ctx + ": expected an integer");
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno == ERANGE)
    throw InputError(where(file, n) + ": " + ctx + ": integer '" + s + "' does not fit in 64 bits");
  if (*end != '\0')
    throw InputError(where(file, n) + ": " + ctx + ": expected an integer, got '" + s + "'");
  return v;
}

double as_double(const std::string& file, const YAML::Node& n, const std::string& ctx) {
  const std::string s = n.IsScalar() ? n.Scalar() : "";
  if (!n.IsScalar() || s.empty())
    throw InputError(where(file, n) + ": " + ctx + ": expected a number");
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (*end != '\0' || !std::isfinite(v))
    throw InputError(where(file, n) + ": " + ctx + ": expected a finite number, got '" + s + "'");
  return v;
}

std::string as_string(const std::string& file, const YAML::Node& n, const std::string& ctx) {
  if (!n.IsScalar()) throw InputError(where(file, n) + ": " + ctx + ": expected a string");
  return n.Scalar();
}

bool as_bool(const std::string& file, const YAML::Node& n, const std::string& ctx) {
  const std::string s = n.IsScalar() ? n.Scalar() : "";
  if (s == "true" || s == "True" || s == "1" || s == "yes") return true;
  if (s == "false" || s == "False" || s == "0" || s == "no") return false;
  throw InputError(where(file, n) + ": " + ctx + ": expected true or false, got '" + s + "'");
}

}  // namespace masesim::yaml
