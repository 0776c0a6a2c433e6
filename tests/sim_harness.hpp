// Runs the `simulate` binary in a child process (one SystemC design per process) on
// files written to a fresh temporary directory, and reads back stats.csv.
#pragma once
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <string>

namespace masesim::test {

struct SimRun {
  int exit_code = -1;
  std::string stderr_text;
  std::string dir;
  std::map<std::string, std::string> stats;  ///< dotted key -> value text
  bool has(const std::string& k) const { return stats.count(k) != 0; }
  /// The statistic's number. A missing or non-numeric key fails the test and reads as NaN,
  /// which no comparison accepts.
  double num(const std::string& k) const {
    auto it = stats.find(k);
    if (it == stats.end()) {
      ADD_FAILURE() << "statistic '" << k << "' is missing from stats.csv";
      return std::numeric_limits<double>::quiet_NaN();
    }
    try {
      std::size_t used = 0;
      const double v = std::stod(it->second, &used);
      if (used == it->second.size()) return v;
    } catch (const std::exception&) {
    }
    ADD_FAILURE() << "statistic '" << k << "' is not a number: " << it->second;
    return std::numeric_limits<double>::quiet_NaN();
  }
  /// The statistic's text; a missing key fails the test.
  std::string str(const std::string& k) const {
    auto it = stats.find(k);
    if (it == stats.end()) {
      ADD_FAILURE() << "statistic '" << k << "' is missing from stats.csv";
      return "<missing " + k + ">";
    }
    std::string v = it->second;
    if (v.size() >= 2 && v.front() == '"') v = v.substr(1, v.size() - 2);
    return v;
  }
};

inline std::string make_temp_dir() {
  char tmpl[] = "/tmp/masesim_test_XXXXXX";
  const char* d = mkdtemp(tmpl);
  return d ? d : "/tmp";
}

inline void write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
}

inline std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

/// stats.json text without its "provenance" object (which names the config file's path
/// and hash, so two runs from different folders differ there and nowhere else).
inline std::string without_provenance(const std::string& json) {
  const std::string key = "\"provenance\": {";
  const auto at = json.find(key);
  if (at == std::string::npos) return json;
  int depth = 0;
  for (std::size_t i = at + key.size() - 1; i < json.size(); ++i) {
    if (json[i] == '{') ++depth;
    if (json[i] == '}' && --depth == 0) {
      std::size_t end = i + 1;
      if (end < json.size() && json[end] == ',') ++end;
      return json.substr(0, at) + json.substr(end);
    }
  }
  return json;
}

/// Writes `files` (name -> text) into a new directory and runs
/// `simulate --config <dir>/<config> --out <dir>/out --quiet <extra>`.
inline SimRun run_simulate(const std::map<std::string, std::string>& files,
                           const std::string& config, const std::string& extra = "") {
  SimRun r;
  r.dir = make_temp_dir();
  for (const auto& [name, text] : files) write_file(r.dir + "/" + name, text);
  const std::string cmd = std::string(SIMULATE_BIN) + " --config " + r.dir + "/" + config +
                          " --out " + r.dir + "/out --quiet " + extra + " 2> " + r.dir +
                          "/stderr.txt";
  const int status = std::system(cmd.c_str());
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.stderr_text = read_file(r.dir + "/stderr.txt");
  std::ifstream csv(r.dir + "/out/stats.csv");
  for (std::string line; std::getline(csv, line);) {
    // A string value is quoted and may hold commas; keys hold none.
    const auto quoted = line.find(",\"");
    const auto comma = quoted != std::string::npos ? quoted : line.rfind(',');
    if (comma != std::string::npos) r.stats[line.substr(0, comma)] = line.substr(comma + 1);
  }
  return r;
}

/// x [16, 64] int8 -> fc (linear 64 -> 64, no bias) -> r (relu) -> host: the node-split
/// and replication tests' graph (fc's cycle model: 16 · (64/8) · (64/8) = 1024 cycles at 8
/// lanes).
inline constexpr const char* kLinearReluGraph =
    "format: mase-graph\nversion: 1\n"
    "inputs: [{name: x, shape: [16, 64], precision: {type: fixed, width: 8}}]\n"
    "nodes:\n"
    "  - {name: fc, op: linear, args: {data_in_0: x},\n"
    "     params: {weight: {shape: [64, 64], precision: {type: fixed, width: 8}}},\n"
    "     results: {data_out_0: {shape: [16, 64], precision: {type: fixed, width: 8}}}}\n"
    "  - {name: r, op: relu, args: {data_in_0: fc},\n"
    "     results: {data_out_0: {shape: [16, 64], precision: {type: fixed, width: 8}}}}\n"
    "outputs: [r]\n";

}  // namespace masesim::test
