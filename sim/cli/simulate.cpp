#include "sim/cli/simulate.hpp"

#include "models/ops/registry.hpp"
#include "models/resources.hpp"

#include <systemc>

#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "sim/cli/sha256.hpp"
#include "sim/config/config.hpp"
#include "sim/config/device_types.hpp"
#include "sim/llm/llm.hpp"
#include "sim/mapping/auto_map.hpp"
#include "sim/mapping/layer_reuse.hpp"
#include "sim/mapping/mapping.hpp"
#include "sim/mapping/replicate.hpp"
#include "sim/mapping/split.hpp"
#include "sim/system/stats.hpp"
#include "sim/system/system.hpp"
#include "workloads/error.hpp"
#include "workloads/graph.hpp"
#include "workloads/yaml_util.hpp"

namespace po = boost::program_options;

namespace masesim {

namespace {

std::string absolute(const std::string& p) {
  if (p.empty() || p[0] == '/') return p;
  char buf[4096];
  if (!getcwd(buf, sizeof buf)) return p;
  return std::string(buf) + "/" + p;
}

void workload_stats(StatsTree& root, const Graph& g, const std::vector<DeviceInstance>& devices) {
  const WorkloadSummary w = summarize(g);
  auto& t = root.child("workload");
  t.set("name", g.name);
  t.set("graph", g.file);
  t.set("nodes", w.nodes);
  t.set("parameters", w.parameters);
  t.set("macs", w.macs);
  t.set("weight_bytes", w.weight_bytes);
  auto& d = t.child("dims");
  for (const auto& [k, v] : g.dims) d.set(k, v);
  root.child("system").set("devices", static_cast<std::int64_t>(devices.size()));
}

// Warnings of one kind (e.g. the idle links of a long chain) print as one line with a
// count; --quiet prints only how many there were.
class Warnings {
 public:
  /// `kind` groups warnings; `alone` is printed when it is the only one of its kind, else
  /// "<count> <plural> <items...><tail>".
  void add(const std::string& kind, std::string alone, std::string item, std::string plural,
           std::string tail) {
    auto& g = groups_[kind];
    if (g.items.empty()) {
      order_.push_back(kind);
      g.alone = std::move(alone);
      g.plural = std::move(plural);
      g.tail = std::move(tail);
    }
    g.items.push_back(std::move(item));
    ++count_;
  }
  void print(std::ostream& err, bool quiet) const {
    if (count_ == 0) return;
    if (quiet) {
      err << "simulate: " << count_ << " warning" << (count_ == 1 ? "" : "s")
          << " (run without --quiet to see them)\n";
      return;
    }
    for (const auto& kind : order_) {
      const Group& g = groups_.at(kind);
      if (g.items.size() == 1) {
        err << "simulate: warning: " << g.alone << "\n";
        continue;
      }
      err << "simulate: warning: " << g.items.size() << " " << g.plural << " ";
      const std::size_t shown = std::min<std::size_t>(g.items.size(), 3);
      for (std::size_t i = 0; i < shown; ++i) err << (i ? ", " : "") << g.items[i];
      if (shown < g.items.size()) err << ", ... (" << g.items.size() - shown << " more)";
      err << g.tail << "\n";
    }
  }

 private:
  struct Group {
    std::string alone, plural, tail;
    std::vector<std::string> items;
  };
  std::map<std::string, Group> groups_;
  std::vector<std::string> order_;
  std::size_t count_ = 0;
};

// Fails (InputError naming the option) unless `path` can be created as a regular file; the
// probe leaves nothing behind.
void check_writable_file(const std::string& option, const std::string& path) {
  struct stat st {};
  if (path.empty()) throw InputError(option + ": empty path");
  if (stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    throw InputError(option + " " + path + ": is a directory (expected a file name)");
  const std::string probe = path + ".probe";
  std::ofstream f(probe);
  const bool ok = static_cast<bool>(f);
  f.close();
  std::remove(probe.c_str());
  if (!ok)
    throw InputError(option + " " + path + ": cannot create the file (" +
                     "missing directory or no permission)");
}

// Three significant digits, for the progress line.
std::string sig3(double v) {
  char b[32];
  std::snprintf(b, sizeof b, v >= 999.5 ? "%.0f" : "%.3g", v);
  return b;
}
std::string duration_text(double s) {
  if (s < 60) return sig3(s) + " s";
  const auto t = static_cast<long long>(s + 0.5);
  char b[48];
  if (t < 3600)
    std::snprintf(b, sizeof b, "%lldm%02llds", t / 60, t % 60);
  else
    std::snprintf(b, sizeof b, "%lldh%02lldm", t / 3600, (t / 60) % 60);
  return b;
}

#ifndef MASESIM_VERSION
#define MASESIM_VERSION "unknown"
#define MASESIM_GIT_COMMIT "unknown"
#define MASESIM_GIT_DIRTY "unknown"
#endif

// What produced the results: the simulator's version and commit (at configure time) and
// the hashes of the files the run read.
void provenance_stats(StatsTree& root, const Config& cfg, const std::string& config_path,
                      const std::string& graph_path) {
  auto& p = root.child("provenance");
  p.set("simulator_version", MASESIM_VERSION);
  p.set("git_commit", MASESIM_GIT_COMMIT);
  p.set("git_dirty", MASESIM_GIT_DIRTY);
  p.set("config", absolute(config_path));
  p.set("config_sha256", sha256_file(config_path));
  p.set("graph", graph_path);
  p.set("graph_sha256", sha256_file(graph_path));
  auto& d = p.child("device_types");
  const YAML::Node list = cfg.get_node("system.devices");
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string type = list[i]["type"].as<std::string>();
    std::string key = type;
    for (char& c : key)
      if (c == '.' || c == '/') c = '_';
    if (d.find_child(key)) continue;
    const std::string file = absolute(find_device_type_file(cfg, type));
    auto& t = d.child(key);
    t.set("file", file);
    t.set("sha256", sha256_file(file));
  }
}

}  // namespace

namespace {

po::options_description cli_options(std::vector<std::string>& sets, SimOptions& sim_opts) {
  po::options_description desc(
      "simulate: SystemC/TLM-2.0 simulation of a MASE graph on FPGA devices\n\n"
      "Usage: simulate --config FILE [--set KEY=VALUE ...] [--out DIR]\n\n"
      "Exit codes: 0 ok, 1 bad input, 2 simulation failure (deadlock, resources, time limit), 3 "
      "internal error.\n\n"
      "Options");
  desc.add_options()("help,h", "show this help")("config,c", po::value<std::string>(),
                                                 "system configuration (YAML)")(
      "set,s", po::value<std::vector<std::string>>(&sets)->composing(),
      "override a config key: KEY=VALUE (repeatable)")(
      "out,o", po::value<std::string>(),
      "write DIR/stats.json, DIR/stats.csv and DIR/config.yaml (whole or not at all)")(
      "dump-config", "print the effective configuration and exit")(
      "summary", "print the workload summary without simulating")(
      "list-keys", "list every configuration key with its default and description")(
      "list-device-keys", "list every key of a device type file (configs/devices/*.yaml)")(
      "list-ops", po::value<std::string>()->implicit_value("text"),
      "list every op kind with its ports, params, attributes and models (text|json)")(
      "quiet,q", "print no summary, no progress, and instead of warnings only their count")(
      "cosim", po::value<std::vector<std::string>>(&sim_opts.cosim)->composing(),
      "run the systolic nodes matching this glob on the Verilated RTL core (repeatable)")(
      "vcd", po::value<std::string>(&sim_opts.vcd_path),
      "write a VCD waveform of the first co-simulated GEMM (1 ps resolution, the device's "
      "clock period, times from the GEMM's simulated start; cores built with tracing only)")(
      "trace", po::value<std::string>(),
      "write a Chrome/Perfetto trace-event timeline (JSON) of the run")(
      "trace-window", po::value<std::string>(),
      "only record the timeline in BEGIN_US:END_US of simulated time")(
      "trace-max-events", po::value<std::uint64_t>(&sim_opts.trace_max_events),
      "most timeline events written, counter samples included (default 350000, about 45 MB); "
      "beyond it the latest-starting events are dropped with a warning")(
      "log-level", po::value<std::vector<std::string>>()->composing(),
      "error|warn|info|debug, or MODULE=LEVEL for mapping, system (repeatable; default warn)")(
      "check-reference",
      "functional mode: compare every node's output with the reference data; exit 2 above the "
      "tolerance")("progress", "show progress on stderr even when it is not a terminal")(
      "no-progress", "never show progress");
  return desc;
}

// The listing options (--list-ops, --list-device-keys, --list-keys): the exit code when one
// was given, else -1.
int print_listing(const po::variables_map& vm, std::ostream& out, std::ostream& err) {
  if (vm.count("list-ops")) {
    const std::string fmt = vm["list-ops"].as<std::string>();
    if (fmt != "text" && fmt != "json") {
      err << "simulate: --list-ops: unknown format '" << fmt << "' (expected text or json)\n";
      return 1;
    }
    out << (fmt == "json" ? ops::list_json() : ops::list_text());
    return 0;
  }
  if (vm.count("list-device-keys")) {
    for (const auto& k : device_type_keys())
      out << k.key << (k.unit.empty() ? "" : " (" + k.unit + ")") << "\n    " << k.description
          << "\n";
    return 0;
  }
  if (vm.count("list-keys")) {
    for (const auto& k : config_keys()) {
      out << k.key << " (" << (k.unit.empty() ? "" : k.unit + ", ") << "default "
          << (k.default_yaml.empty() ? "none" : k.default_yaml) << ")";
      if (!k.choices.empty()) {
        out << " one of:";
        for (const auto& c : k.choices) out << " " << c;
      }
      out << "\n    " << k.description << "\n";
    }
    return 0;
  }
  return -1;
}

// --log-level: a global level and per-module overrides (mapping, system).
class LogLevels {
 public:
  /// Empty on success, else the option's error message.
  std::string parse(const po::variables_map& vm) {
    if (!vm.count("log-level")) return "";
    const std::vector<std::string> names = {"error", "warn", "info", "debug"};
    for (const auto& spec : vm["log-level"].as<std::vector<std::string>>()) {
      const auto eq = spec.find('=');
      const std::string mod = eq == std::string::npos ? "*" : spec.substr(0, eq);
      const std::string lv = eq == std::string::npos ? spec : spec.substr(eq + 1);
      const auto it = std::find(names.begin(), names.end(), lv);
      if (it == names.end() || (mod != "*" && mod != "mapping" && mod != "system"))
        return "--log-level " + spec +
               ": expected error|warn|info|debug or mapping=LEVEL, system=LEVEL";
      level_[mod] = static_cast<int>(it - names.begin());
    }
    return "";
  }
  /// Whether module `mod` logs at level `lv` (0 error ... 3 debug).
  bool logs(const std::string& mod, int lv) const {
    const auto it = level_.find(mod);
    return (it != level_.end() ? it->second : level_.at("*")) >= lv;
  }

 private:
  std::map<std::string, int> level_{{"*", 1}};
};

// --trace and --trace-window into the simulation options; false on a malformed window.
bool parse_trace_options(const po::variables_map& vm, SimOptions& sim_opts, std::ostream& err) {
  if (!vm.count("trace")) return true;
  sim_opts.trace = true;
  if (!vm.count("trace-window")) return true;
  const std::string w = vm["trace-window"].as<std::string>();
  const auto colon = w.find(':');
  char* e1 = nullptr;
  char* e2 = nullptr;
  const std::string a = colon == std::string::npos ? "" : w.substr(0, colon);
  const std::string b = colon == std::string::npos ? "" : w.substr(colon + 1);
  if (colon != std::string::npos) {
    sim_opts.trace_begin_us = std::strtod(a.c_str(), &e1);
    sim_opts.trace_end_us = std::strtod(b.c_str(), &e2);
  }
  if (colon == std::string::npos || a.empty() || b.empty() || *e1 || *e2 ||
      !(sim_opts.trace_begin_us >= 0) || !(sim_opts.trace_end_us > sim_opts.trace_begin_us)) {
    err << "simulate: --trace-window " << w << ": expected BEGIN_US:END_US with 0 <= BEGIN < END\n";
    return false;
  }
  return true;
}

// The progress line: simulated work done (node-inferences weighted by their ideal time,
// prefill included), inferences finished, rate and ETA; at most 4 lines a second.
class Progress {
 public:
  explicit Progress(std::ostream& err) : err_(err) {}
  // attach() hands `this` to the simulation's callbacks: not copyable or movable.
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  /// Hooks the line into the simulation's callbacks.
  void attach(SimOptions& sim_opts) {
    sim_opts.on_inference = [this](std::int64_t, std::int64_t n, time_ps) {
      ++inf_done_;
      inf_total_ = n;
      show(false);
    };
    sim_opts.on_progress = [this](double done, double total, time_ps) {
      work_fraction_ = total > 0 ? std::min(1.0, done / total) : 0;
      show(false);
    };
  }
  /// The run starts now, with `inferences` to do.
  void start(std::int64_t inferences) {
    wall0_ = std::chrono::steady_clock::now();
    inf_total_ = inferences;
  }
  void finish() {
    work_fraction_ = 1;
    show(true);
  }
  /// Ends a progress line left open (before an error message).
  void end_line() {
    if (line_width_ > 0 && !done_) err_ << "\n";
  }

 private:
  void show(bool final_line) {
    const auto now = std::chrono::steady_clock::now();
    if (!final_line && now - last_print_ < std::chrono::milliseconds(250)) return;
    last_print_ = now;
    const double wall = std::chrono::duration<double>(now - wall0_).count();
    std::string line = "[simulate] " + sig3(100 * work_fraction_) + " %, " +
                       std::to_string(inf_done_) + "/" + std::to_string(inf_total_) +
                       " inferences, " + duration_text(wall) + " elapsed";
    if (inf_done_ > 0) line += ", " + sig3(inf_done_ / std::max(wall, 1e-9)) + " inferences/s";
    if (!final_line && work_fraction_ > 0.001 && wall > 0.5)
      line += ", ETA " + duration_text(wall * (1 - work_fraction_) / work_fraction_);
    const std::size_t w = line.size();
    if (w < line_width_) line += std::string(line_width_ - w, ' ');
    line_width_ = w;
    err_ << "\r" << line << (final_line ? "\n" : "") << std::flush;
    done_ = final_line;
  }

  std::ostream& err_;
  std::chrono::steady_clock::time_point wall0_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_print_ = wall0_ - std::chrono::seconds(1);
  std::int64_t inf_done_ = 0, inf_total_ = 0;
  double work_fraction_ = 0;
  std::size_t line_width_ = 0;
  bool done_ = false;
};

// Run-affecting options go into the configuration, so that config.yaml re-runs the same
// simulation: --cosim adds to simulation.cosim, --check-reference sets its key.
void record_cli_in_config(Config& cfg, SimOptions& sim_opts, bool check_reference) {
  const YAML::Node listed = cfg.get_node("simulation.cosim");
  if (!listed.IsSequence())
    throw InputError(cfg.file() + ": simulation.cosim: expected a list of node-name globs");
  std::vector<std::string> globs;
  for (const auto& n : listed)
    globs.push_back(yaml::scalar_string(cfg.file(), n, "simulation.cosim"));
  for (const auto& c : sim_opts.cosim)
    if (std::find(globs.begin(), globs.end(), c) == globs.end()) globs.push_back(c);
  sim_opts.cosim = globs;
  YAML::Node seq(YAML::NodeType::Sequence);
  for (const auto& c : globs) seq.push_back(c);
  YAML::Emitter em;
  em << YAML::Flow << seq;
  cfg.set("simulation.cosim=" + std::string(em.c_str()));
  if (check_reference) cfg.set("simulation.check_reference=true");
}

// The graph to simulate: the LLM steps' graph, or the workload graph with mapping.split's
// splits (given, or chosen by mapping.auto's split search), with the layer-reuse I/O.
struct Workload {
  Graph graph;
  bool searched_splits = false;
  AutoSplitReport auto_split;
  SplitReport split_report;
  ReplicateReport replicate_report;
};

Workload load_workload(const SystemSpec& spec) {
  Workload w;
  const LlmSpec& llm = spec.llm;
  w.searched_splits = !llm.enabled() && spec.mapping.automatic && spec.mapping.auto_split &&
                      spec.mapping.split.empty() && spec.mapping.place.empty() &&
                      spec.mapping.replicate.empty() && spec.devices.size() > 1 &&
                      spec.engines.empty() && !spec.simulation.functional;
  if (w.searched_splits) w.auto_split = auto_splits(spec);
  const std::vector<SplitRule>& split_rules =
      w.searched_splits ? w.auto_split.rules : spec.mapping.split;
  if (llm.enabled()) {
    w.graph = insert_layer_io(load_llm_graph(spec), spec);
    return w;
  }
  const std::vector<ReplicateRule>& replicate_rules =
      w.searched_splits ? w.auto_split.replicas : spec.mapping.replicate;
  w.graph = insert_layer_io(load_replicated_graph(spec, split_rules, replicate_rules,
                                                  &w.split_report, &w.replicate_report),
                            spec);
  return w;
}

// --summary: the workload's totals and the mapping's resource estimates (which are
// extrapolated outside their block model's synthesis data, and whether the mapping fits).
void print_workload_summary(std::ostream& out, const Graph& g, const SystemSpec& spec) {
  const auto w = summarize(g);
  out << "workload " << g.name << " (" << g.file << ")\n"
      << "  nodes         " << w.nodes << "\n  parameters    " << w.parameters
      << "\n  macs          " << w.macs << "\n  weight_bytes  " << w.weight_bytes << "\n";
  try {
    Mapping mp = map_graph(g, spec);
    if (spec.llm.enabled()) plan_llm(g, spec, mp);
    std::size_t n_ext = 0;
    for (const auto& nm : mp.nodes) n_ext += nm.estimate.extrapolated ? 1 : 0;
    out << "  resources     " << n_ext << " of " << mp.nodes.size()
        << " node estimates extrapolated (fit margin " << spec.mapping.extrapolation_margin * 100
        << " %)\n";
    for (std::size_t i = 0; i < mp.nodes.size(); ++i)
      if (mp.nodes[i].estimate.extrapolated)
        out << "    extrapolated  " << g.nodes[i].name << ": " << mp.nodes[i].estimate.reason
            << "\n";
    for (const auto& o : mp.overflows) out << "  oversubscribed " << o << "\n";
  } catch (const SimulationError& e) {
    out << "  mapping       does not fit: " << e.what() << "\n";
  }
}

// The mapping with the splits' notes and the split search's bound.
Mapping map_workload(const Workload& w, const SystemSpec& spec) {
  Mapping mapping = map_graph(w.graph, spec);
  for (const auto& sp : w.split_report.splits)
    mapping.splits.push_back(sp.node + ": " + std::to_string(sp.ways) + " ways by " +
                             to_string(sp.by));
  for (const auto& note : w.split_report.notes) mapping.notes.push_back("split: " + note);
  check_split_routes(w.graph, spec, mapping, w.split_report);
  check_replica_devices(w.graph, spec, w.replicate_report, mapping);
  for (const auto& grp : w.replicate_report.groups) {
    std::string exits;
    for (const auto& e : grp.exits) exits += (exits.empty() ? "" : ", ") + e;
    mapping.replicas.push_back(grp.glob + ": " + std::to_string(grp.ways) + " replicas of " +
                               std::to_string(grp.members.size()) + " node(s), collected at " +
                               exits);
  }
  if (w.searched_splits) {
    mapping.scale_bound = w.auto_split.bound;
    for (const auto& step : w.auto_split.steps) mapping.notes.push_back("auto split: " + step);
  }
  return mapping;
}

void log_mapping(std::ostream& err, const LogLevels& log, const Graph& g, const Mapping& mapping,
                 const std::vector<DeviceInstance>& devices) {
  if (log.logs("mapping", 2)) {
    err << "simulate: info: mapping: partition " << mapping.partition
        << (mapping.automatic ? ", auto parallelism (" + std::to_string(mapping.auto_steps) +
                                    " steps: " + mapping.auto_stop + ")"
                              : "")
        << "\n";
    for (const auto& note : mapping.notes) err << "simulate: info: mapping: " << note << "\n";
  }
  if (log.logs("mapping", 3))
    for (std::size_t i = 0; i < g.nodes.size(); ++i)
      err << "simulate: debug: mapping: " << g.nodes[i].name << " -> "
          << devices[static_cast<std::size_t>(mapping.nodes[i].device)].name << ", "
          << mapping.nodes[i].timing.ideal_cycles() << " cycles/inference, weights "
          << (mapping.nodes[i].hw.weights_off_chip ? "off" : "on") << " chip\n";
}

// Odd but legal: resources nearly full, links on the pipeline that are almost idle.
void design_warnings(Warnings& warnings, const StatsTree& stats, const SystemSpec& spec) {
  const auto& devices = spec.devices;
  if (const StatsTree* devs = stats.find_child("devices"))
    for (const auto& d : devices)
      for (const auto& kind : kResourceKinds) {
        const std::string r = kind.name;
        const std::string u = devs->get(d.name + ".resources." + r + ".utilisation");
        if (!u.empty() && std::stod(u) > 0.9) {
          const std::string pct = sig3(100 * std::stod(u)) + " %";
          warnings.add("resource " + r,
                       "device '" + d.name + "' uses " + pct + " of its " + r +
                           " (routing congestion and timing closure get hard above ~80-90 %)",
                       d.name + " " + pct, "devices use over 90 % of their " + r + ":",
                       " (routing congestion and timing closure get hard above ~80-90 %)");
        }
      }
  const StatsTree* ls = stats.find_child("links");
  // Not pipeline cuts: tensor-parallel ranks, and replicas taking one inference in K.
  if (!ls || (spec.llm.enabled() && spec.llm.parallelism != "pipeline") ||
      stats.get("mapping.replicated_stages") != "0")
    return;
  for (std::size_t a = 0; a + 1 < devices.size(); ++a) {
    const std::string u = ls->get(devices[a].name + "->" + devices[a + 1].name + ".utilisation");
    if (!u.empty() && std::stod(u) < 0.05) {
      const std::string link = devices[a].name + "->" + devices[a + 1].name;
      const std::string pct = sig3(100 * std::stod(u)) + " %";
      warnings.add("idle link",
                   "link " + link + " between pipeline stages is " + pct +
                       " utilised: the cut could move or the stages merge",
                   link + " " + pct, "links between pipeline stages are under 5 % utilised:",
                   ": the cuts could move or the stages merge");
    }
  }
}

// The trace's text, with its counts in the statistics and a warning when events were
// dropped; empty without --trace.
std::string trace_text(const System& system, StatsTree& stats, Warnings& warnings,
                       const SimOptions& sim_opts) {
  const TraceRecorder* rec = system.trace();
  if (!rec) return "";
  std::ostringstream tr;
  rec->write(tr);
  std::string text = tr.str();
  stats.child("trace").set("events", rec->kept());
  stats.child("trace").set("dropped_events", rec->dropped());
  stats.child("trace").set("merged_slices", rec->merged());
  stats.child("trace").set("bytes", static_cast<std::uint64_t>(text.size()));
  if (rec->dropped() > 0)
    warnings.add("trace",
                 "--trace: dropped " + rec->drop_summary() + " to stay within --trace-max-events " +
                     std::to_string(sim_opts.trace_max_events) +
                     "; choose a part of the run with --trace-window BEGIN_US:END_US",
                 "", "", "");
  return text;
}

// Writes every output asked for; a failure to write one does not discard the others.
// Returns the write errors.
std::vector<std::string> write_run_outputs(const po::variables_map& vm, const System& system,
                                           const StatsTree& stats, const Config& cfg,
                                           const std::string& trace) {
  std::vector<std::string> write_errors;
  if (vm.count("trace")) {
    const std::string path = vm["trace"].as<std::string>();
    const std::string tmp = path + ".tmp";
    std::ofstream f(tmp);
    f << trace;
    f.close();
    if (!f || std::rename(tmp.c_str(), path.c_str()) != 0) {
      std::remove(tmp.c_str());
      write_errors.push_back("--trace " + path + ": cannot write the file");
    }
  }
  if (vm.count("out")) {
    try {
      std::ostringstream js, csv;
      stats.write_json(js);
      js << "\n";
      stats.write_csv(csv);
      system.write_outputs(vm["out"].as<std::string>());
      write_files_atomically(vm["out"].as<std::string>(), {{"stats.json", js.str()},
                                                           {"stats.csv", csv.str()},
                                                           {"config.yaml", cfg.dump_effective()}});
    } catch (const InputError& e) {
      write_errors.push_back(e.what());
    }
  }
  return write_errors;
}

// Fails before simulating when an output could not be written (no partial output).
void check_outputs_writable(const po::variables_map& vm, const SimOptions& sim_opts) {
  if (vm.count("out")) {
    const std::string dir = vm["out"].as<std::string>();
    write_files_atomically(dir, {{".probe", ""}});
    std::remove((dir + "/.probe").c_str());
  }
  if (vm.count("trace")) check_writable_file("--trace", vm["trace"].as<std::string>());
  if (!sim_opts.vcd_path.empty()) check_writable_file("--vcd", sim_opts.vcd_path);
}

// Loads, maps, simulates and reports one configuration; throws InputError or
// SimulationError.
int simulate_config(const po::variables_map& vm, const std::vector<std::string>& sets,
                    SimOptions& sim_opts, const LogLevels& log, Progress* progress,
                    std::ostream& out, std::ostream& err) {
  Config cfg = Config::from_file(vm["config"].as<std::string>());
  for (const auto& s : sets) cfg.set(s);
  if (!cfg.has("workload.graph") || cfg.get_string("workload.graph").empty())
    throw InputError(cfg.file() + ": missing required key 'workload.graph'");
  if (vm.count("dump-config")) {
    out << cfg.dump_effective();
    return 0;
  }
  record_cli_in_config(cfg, sim_opts, vm.count("check-reference") > 0);
  const bool check_reference = cfg.get_bool("simulation.check_reference");
  const SystemSpec spec = load_system_spec(cfg);  // the last read of the configuration
  const Workload w = load_workload(spec);
  const Graph& g = w.graph;
  StatsTree stats;
  stats.set("schema_version", kStatsSchemaVersion);
  provenance_stats(stats, cfg, vm["config"].as<std::string>(), spec.workload.graph_path);
  workload_stats(stats, g, spec.devices);
  if (vm.count("summary")) {
    print_workload_summary(out, g, spec);
    return 0;
  }
  check_outputs_writable(vm, sim_opts);
  Mapping mapping = map_workload(w, spec);
  std::unique_ptr<LlmPlan> plan;
  if (spec.llm.enabled()) {
    plan = std::make_unique<LlmPlan>(plan_llm(g, spec, mapping));
    sim_opts.llm = plan.get();
  }
  log_mapping(err, log, g, mapping, spec.devices);
  System system(g, mapping, spec, sim_opts);
  if (progress) progress->start(spec.llm.enabled() ? plan->inferences : spec.workload.inferences);
  system.run();
  if (progress) progress->finish();
  system.report(stats);
  Warnings warnings;
  if (log.logs("system", 1)) design_warnings(warnings, stats, spec);
  std::int64_t failing = 0;
  if (check_reference) failing = system.check_reference(stats, spec.simulation.check_tolerance);
  const std::string trace = trace_text(system, stats, warnings, sim_opts);
  const std::vector<std::string> write_errors = write_run_outputs(vm, system, stats, cfg, trace);
  warnings.print(err, vm.count("quiet") > 0);
  if (!vm.count("quiet")) out << format_summary(stats);
  if (!write_errors.empty()) {
    for (const auto& e : write_errors) err << "simulate: error: " << e << "\n";
    return 1;
  }
  if (failing > 0) {
    err << "simulate: reference check failed: " << failing << " node(s) beyond tolerance "
        << format_double(spec.simulation.check_tolerance)
        << "; first: " << stats.get("reference_check.first_failure") << "\n";
    return 2;
  }
  return 0;
}

}  // namespace

int simulate_main(int argc, char* argv[], std::ostream& out, std::ostream& err) {
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
  sc_core::sc_report_handler::set_actions(sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
  std::vector<std::string> sets;
  SimOptions sim_opts;
  const po::options_description desc = cli_options(sets, sim_opts);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(desc).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    err << "simulate: " << e.what() << " (see --help)\n";
    return 1;
  }
  if (vm.count("help")) {
    out << desc << "\n";
    return 0;
  }
  if (const int rc = print_listing(vm, out, err); rc >= 0) return rc;
  if (!vm.count("config")) {
    err << "simulate: --config FILE is required (see --help)\n";
    return 1;
  }
  LogLevels log;
  if (const std::string e = log.parse(vm); !e.empty()) {
    err << "simulate: " << e << "\n";
    return 1;
  }
  if (!parse_trace_options(vm, sim_opts, err)) return 1;
  const bool show_progress =
      !vm.count("quiet") && !vm.count("no-progress") && (vm.count("progress") || isatty(2));
  Progress progress(err);
  if (show_progress) progress.attach(sim_opts);
  try {
    return simulate_config(vm, sets, sim_opts, log, show_progress ? &progress : nullptr, out, err);
  } catch (const InputError& e) {
    progress.end_line();
    err << "simulate: error: " << e.what() << "\n";
    return 1;
  } catch (const SimulationError& e) {
    progress.end_line();
    err << "simulate: simulation failed: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    progress.end_line();
    err << "simulate: internal error: " << e.what() << "\n";
    return 3;
  }
}

}  // namespace masesim
