// Replays the fuzz seed corpora (fuzz/corpus/{graph,config}) and the minimized fuzzer
// findings (fuzz/regressions/{graph,config}) through the same harness as the libFuzzer
// targets (fuzz/fuzz_harness.hpp): each file must load or fail with masesim::InputError;
// anything else (another exception type, a violated invariant) fails the test, and a
// crash or hang fails it as a process (one ctest per file). Built with the normal
// compiler; no libFuzzer needed. docs/fuzzing.md.
//
// fuzz/regressions/KNOWN_FAILING lists reproducers of bugs not fixed yet (paths relative
// to fuzz/, one a line, '#' comments): those are skipped, not run. Remove a line once
// the bug is fixed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "fuzz/fuzz_harness.hpp"

namespace fs = std::filesystem;

namespace {

const std::string kFuzzDir = std::string(MASESIM_SOURCE_DIR) + "/fuzz";

struct Case {
  std::string kind;  ///< graph | config
  std::string rel;   ///< path relative to fuzz/
  std::string name;  ///< test name
};

// gtest prints the parameter of a failing test: show the file, not the struct's bytes.
void PrintTo(const Case& c, std::ostream* os) { *os << c.rel; }

std::set<std::string> known_failing() {
  std::set<std::string> s;
  std::ifstream in(kFuzzDir + "/regressions/KNOWN_FAILING");
  for (std::string line; std::getline(in, line);) {
    const auto hash = line.find('#');
    if (hash != std::string::npos) line.erase(hash);
    line.erase(0, line.find_first_not_of(" \t\r"));
    const auto end = line.find_last_not_of(" \t\r");
    line.erase(end == std::string::npos ? 0 : end + 1);
    if (!line.empty()) s.insert(line);
  }
  return s;
}

std::vector<Case> cases() {
  std::vector<Case> v;
  std::set<std::string> names;
  for (const std::string top : {"regressions", "corpus"})
    for (const std::string kind : {"graph", "config"}) {
      const fs::path dir = fs::path(kFuzzDir) / top / kind;
      if (!fs::is_directory(dir)) continue;
      std::vector<std::string> files;
      for (const auto& e : fs::directory_iterator(dir))
        if (e.is_regular_file()) files.push_back(e.path().filename().string());
      std::sort(files.begin(), files.end());
      for (const auto& f : files) {
        std::string n = top + "_" + kind + "_" + f;
        for (auto& ch : n)
          if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
        std::string unique = n;
        for (int k = 2; !names.insert(unique).second; ++k) unique = n + "_" + std::to_string(k);
        v.push_back({kind, top + "/" + kind + "/" + f, unique});
      }
    }
  if (v.empty()) v.push_back({"none", "", "no_files"});
  return v;
}

class FuzzRegression : public ::testing::TestWithParam<Case> {};

TEST_P(FuzzRegression, OnlyInputErrorOrSuccess) {
  const Case& c = GetParam();
  if (c.kind == "none") GTEST_SKIP() << "no files under " << kFuzzDir;
  if (known_failing().count(c.rel)) GTEST_SKIP() << c.rel << " is listed in fuzz/regressions/KNOWN_FAILING";
  std::ifstream in(kFuzzDir + "/" + c.rel, std::ios::binary);
  ASSERT_TRUE(in) << "cannot read " << c.rel;
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    if (c.kind == "graph")
      masesim::fuzz::run_graph_input(ss.str());
    else
      masesim::fuzz::run_config_input(ss.str(), std::string(MASESIM_SOURCE_DIR) + "/configs");
  } catch (const masesim::InputError&) {
    // Bad input reported properly.
  } catch (const std::exception& e) {
    ADD_FAILURE() << c.rel << ": non-InputError exception escaped: " << e.what();
  } catch (...) {
    ADD_FAILURE() << c.rel << ": non-std exception escaped";
  }
}

INSTANTIATE_TEST_SUITE_P(Files, FuzzRegression, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& i) { return i.param.name; });

}  // namespace
