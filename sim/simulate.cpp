#include "sim/simulate.hpp"

#include "models/ops/registry.hpp"

#include <systemc>

#include <unistd.h>
#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "sim/config.hpp"
#include "sim/device_types.hpp"
#include "sim/llm.hpp"
#include "sim/mapping.hpp"
#include "sim/stats.hpp"
#include "sim/system.hpp"
#include "workloads/error.hpp"
#include "workloads/graph.hpp"

namespace po = boost::program_options;

namespace masesim {

namespace {

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

}  // namespace

int simulate_main(int argc, char* argv[], std::ostream& out, std::ostream& err) {
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
  sc_core::sc_report_handler::set_actions(sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
  po::options_description desc(
      "simulate: SystemC/TLM-2.0 simulation of a MASE graph on FPGA devices\n\n"
      "Usage: simulate --config FILE [--set KEY=VALUE ...] [--out DIR]\n\n"
      "Exit codes: 0 ok, 1 bad input, 2 simulation failure (deadlock, resources, time limit), 3 "
      "internal error.\n\n"
      "Options");
  std::vector<std::string> sets;
  SimOptions sim_opts;
  desc.add_options()("help,h", "show this help")("config,c", po::value<std::string>(),
                                                 "system configuration (YAML)")(
      "set,s", po::value<std::vector<std::string>>(&sets)->composing(),
      "override a config key: KEY=VALUE (repeatable)")(
      "out,o", po::value<std::string>(),
      "write DIR/stats.json, DIR/stats.csv and DIR/config.yaml (whole or not at all)")(
      "dump-config", "print the effective configuration and exit")(
      "summary", "print the workload summary without simulating")(
      "list-keys", "list every configuration key with its default and description")(
      "list-ops", po::value<std::string>()->implicit_value("text"),
      "list every op kind with its ports, params, attributes and models (text|json)")(
      "quiet,q", "print nothing on success")(
      "cosim", po::value<std::vector<std::string>>(&sim_opts.cosim)->composing(),
      "run the systolic nodes matching this glob on the Verilated RTL core (repeatable)")(
      "vcd", po::value<std::string>(&sim_opts.vcd_path),
      "write a VCD waveform of the first co-simulated GEMM (4x4 cores)")(
      "trace", po::value<std::string>(),
      "write a Chrome/Perfetto trace-event timeline (JSON) of the run")(
      "trace-window", po::value<std::string>(),
      "only record the timeline in BEGIN_US:END_US of simulated time")(
      "trace-max-events", po::value<std::uint64_t>(&sim_opts.trace_max_events),
      "most timeline events kept (default 2000000)")(
      "log-level", po::value<std::vector<std::string>>()->composing(),
      "error|warn|info|debug, or MODULE=LEVEL for mapping, system (repeatable; default warn)")(
      "check-reference",
      "functional mode: compare every node's output with the reference data; exit 2 above the "
      "tolerance")("progress", "show progress on stderr even when it is not a terminal")(
      "no-progress", "never show progress");
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
  if (vm.count("list-ops")) {
    const std::string fmt = vm["list-ops"].as<std::string>();
    if (fmt != "text" && fmt != "json") {
      err << "simulate: --list-ops: unknown format '" << fmt << "' (expected text or json)\n";
      return 1;
    }
    out << (fmt == "json" ? ops::list_json() : ops::list_text());
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
  if (!vm.count("config")) {
    err << "simulate: --config FILE is required (see --help)\n";
    return 1;
  }
  // Logging: a global level and per-module overrides.
  std::map<std::string, int> level{{"*", 1}};
  const std::vector<std::string> names = {"error", "warn", "info", "debug"};
  if (vm.count("log-level"))
    for (const auto& spec : vm["log-level"].as<std::vector<std::string>>()) {
      const auto eq = spec.find('=');
      const std::string mod = eq == std::string::npos ? "*" : spec.substr(0, eq);
      const std::string lv = eq == std::string::npos ? spec : spec.substr(eq + 1);
      const auto it = std::find(names.begin(), names.end(), lv);
      if (it == names.end() || (mod != "*" && mod != "mapping" && mod != "system")) {
        err << "simulate: --log-level " << spec
            << ": expected error|warn|info|debug or mapping=LEVEL, system=LEVEL\n";
        return 1;
      }
      level[mod] = static_cast<int>(it - names.begin());
    }
  auto logs = [&](const std::string& mod, int lv) {
    auto it = level.find(mod);
    return (it != level.end() ? it->second : level["*"]) >= lv;
  };
  if (vm.count("trace")) {
    sim_opts.trace = true;
    if (vm.count("trace-window")) {
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
        err << "simulate: --trace-window " << w
            << ": expected BEGIN_US:END_US with 0 <= BEGIN < END\n";
        return 1;
      }
    }
  }
  const bool progress =
      !vm.count("quiet") && !vm.count("no-progress") && (vm.count("progress") || isatty(2));
  auto wall0 = std::chrono::steady_clock::now();
  auto last_print = wall0;
  if (progress)
    sim_opts.on_inference = [&](std::int64_t i, std::int64_t n, time_ps t) {
      const auto now = std::chrono::steady_clock::now();
      if (i + 1 < n && now - last_print < std::chrono::milliseconds(200)) return;
      last_print = now;
      const double wall = std::chrono::duration<double>(now - wall0).count();
      err << "\r[simulate] " << (i + 1) << "/" << n << " inferences, simulated "
          << format_double(static_cast<double>(t) / 1e6) << " us, wall " << format_double(wall)
          << " s, " << format_double((i + 1) / std::max(wall, 1e-9)) << " inferences/s wall"
          << (i + 1 == n ? "\n" : "") << std::flush;
    };
  try {
    Config cfg = Config::from_file(vm["config"].as<std::string>());
    for (const auto& s : sets) cfg.set(s);
    if (!cfg.has("workload.graph") || cfg.get_string("workload.graph").empty())
      throw InputError(cfg.file() + ": missing required key 'workload.graph'");
    if (vm.count("dump-config")) {
      out << cfg.dump_effective();
      return 0;
    }
    const SystemSpec spec = load_system_spec(cfg);  // the last read of the configuration
    const LlmSpec& llm = spec.llm;
    const auto& devices = spec.devices;
    const Graph g = llm.enabled() ? load_llm_graph(spec)
                                  : load_graph(spec.workload.graph_path, spec.workload.dims);
    StatsTree stats;
    workload_stats(stats, g, devices);
    if (vm.count("summary")) {
      const auto w = summarize(g);
      out << "workload " << g.name << " (" << g.file << ")\n"
          << "  nodes         " << w.nodes << "\n  parameters    " << w.parameters
          << "\n  macs          " << w.macs << "\n  weight_bytes  " << w.weight_bytes << "\n";
      return 0;
    }
    if (vm.count("out")) {  // fail before simulating when the results could not be written
      const std::string dir = vm["out"].as<std::string>();
      write_files_atomically(dir, {{".probe", ""}});
      std::remove((dir + "/.probe").c_str());
    }
    Mapping mapping = map_graph(g, spec);
    std::unique_ptr<LlmPlan> plan;
    if (llm.enabled()) {
      plan = std::make_unique<LlmPlan>(plan_llm(g, spec, mapping));
      sim_opts.llm = plan.get();
    }
    if (logs("mapping", 2)) {
      err << "simulate: info: mapping: partition " << mapping.partition
          << (mapping.automatic ? ", auto parallelism (" + std::to_string(mapping.auto_steps) +
                                      " steps: " + mapping.auto_stop + ")"
                                : "")
          << "\n";
      for (const auto& note : mapping.notes) err << "simulate: info: mapping: " << note << "\n";
    }
    if (logs("mapping", 3))
      for (std::size_t i = 0; i < g.nodes.size(); ++i)
        err << "simulate: debug: mapping: " << g.nodes[i].name << " -> "
            << devices[static_cast<std::size_t>(mapping.nodes[i].device)].name << ", "
            << mapping.nodes[i].timing.ideal_cycles() << " cycles/inference, weights "
            << (mapping.nodes[i].hw.weights_off_chip ? "off" : "on") << " chip\n";
    System system(g, mapping, spec, sim_opts);
    wall0 = std::chrono::steady_clock::now();
    system.run();
    system.report(stats);
    if (logs("system", 1)) {
      // Odd but legal: resources nearly full, links on the pipeline that are almost idle.
      if (const StatsTree* devs = stats.find_child("devices"))
        for (const auto& d : devices)
          for (const char* r : {"lut", "ff", "dsp", "bram36", "uram"}) {
            const std::string u = devs->get(d.name + ".resources." + r + ".utilisation");
            if (!u.empty() && std::stod(u) > 0.9)
              err << "simulate: warning: device '" << d.name << "' uses "
                  << format_double(100 * std::stod(u)) << " % of its " << r
                  << " (routing congestion and timing closure get hard above ~80-90 %)\n";
          }
      if (const StatsTree* ls = stats.find_child("links");
          ls && !(llm.enabled() && llm.parallelism != "pipeline"))
        for (std::size_t a = 0; a + 1 < devices.size(); ++a) {
          const std::string u =
              ls->get(devices[a].name + "->" + devices[a + 1].name + ".utilisation");
          if (!u.empty() && std::stod(u) < 0.05)
            err << "simulate: warning: link " << devices[a].name << "->" << devices[a + 1].name
                << " between pipeline stages is " << format_double(100 * std::stod(u))
                << " % utilised: the cut could move or the stages merge\n";
        }
    }
    std::int64_t failing = 0;
    if (vm.count("check-reference"))
      failing = system.check_reference(stats, spec.simulation.check_tolerance);
    if (system.trace()) {
      std::ostringstream tr;
      system.trace()->write(tr);
      const std::string path = vm["trace"].as<std::string>();
      const std::string tmp = path + ".tmp";
      std::ofstream f(tmp);
      f << tr.str();
      f.close();
      if (!f || std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::remove(tmp.c_str());
        throw InputError("--trace " + path + ": cannot write the file");
      }
      stats.child("trace").set("events", system.trace()->kept());
      stats.child("trace").set("dropped_events", system.trace()->dropped());
    }
    if (vm.count("out")) {
      std::ostringstream js, csv;
      stats.write_json(js);
      js << "\n";
      stats.write_csv(csv);
      system.write_outputs(vm["out"].as<std::string>());
      write_files_atomically(vm["out"].as<std::string>(), {{"stats.json", js.str()},
                                                           {"stats.csv", csv.str()},
                                                           {"config.yaml", cfg.dump_effective()}});
    }
    if (!vm.count("quiet")) out << format_summary(stats);
    if (failing > 0) {
      err << "simulate: reference check failed: " << failing << " node(s) beyond tolerance "
          << format_double(spec.simulation.check_tolerance)
          << "; first: " << stats.get("reference_check.first_failure") << "\n";
      return 2;
    }
    return 0;
  } catch (const InputError& e) {
    err << "simulate: error: " << e.what() << "\n";
    return 1;
  } catch (const SimulationError& e) {
    err << "simulate: simulation failed: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    err << "simulate: internal error: " << e.what() << "\n";
    return 3;
  }
}

}  // namespace masesim
