#include "sim/simulate.hpp"

#include <systemc>

#include <boost/program_options.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "sim/config.hpp"
#include "sim/device_types.hpp"
#include "sim/mapping.hpp"
#include "sim/stats.hpp"
#include "sim/system.hpp"
#include "workloads/error.hpp"
#include "workloads/graph.hpp"

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

}  // namespace

int simulate_main(int argc, char* argv[], std::ostream& out, std::ostream& err) {
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
  po::options_description desc(
      "simulate: SystemC/TLM-2.0 simulation of a MASE graph on FPGA devices\n\n"
      "Usage: simulate --config FILE [--set KEY=VALUE ...] [--out DIR]\n\n"
      "Exit codes: 0 ok, 1 bad input, 2 simulation failure (deadlock, resources, time limit), 3 internal error.\n\n"
      "Options");
  std::vector<std::string> sets;
  SimOptions sim_opts;
  desc.add_options()("help,h", "show this help")("config,c", po::value<std::string>(), "system configuration (YAML)")(
      "set,s", po::value<std::vector<std::string>>(&sets)->composing(), "override a config key: KEY=VALUE (repeatable)")(
      "out,o", po::value<std::string>(), "write DIR/stats.json, DIR/stats.csv and DIR/config.yaml (whole or not at all)")(
      "dump-config", "print the effective configuration and exit")("summary", "print the workload summary without simulating")(
      "list-keys", "list every configuration key with its default and description")("quiet,q", "print nothing on success")(
      "cosim", po::value<std::vector<std::string>>(&sim_opts.cosim)->composing(),
      "run the systolic nodes matching this glob on the Verilated RTL core (repeatable)")(
      "vcd", po::value<std::string>(&sim_opts.vcd_path), "write a VCD waveform of the first co-simulated GEMM (4x4 cores)");
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
  if (vm.count("list-keys")) {
    for (const auto& k : config_keys()) {
      out << k.key << " (" << (k.unit.empty() ? "" : k.unit + ", ") << "default " << (k.default_yaml.empty() ? "none" : k.default_yaml)
          << ")";
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
  try {
    Config cfg = Config::from_file(vm["config"].as<std::string>());
    for (const auto& s : sets) cfg.set(s);
    if (!cfg.has("workload.graph") || cfg.get_string("workload.graph").empty())
      throw InputError(cfg.file() + ": missing required key 'workload.graph'");
    const std::string graph_path = absolute(cfg.resolve_path(cfg.get_string("workload.graph")));
    cfg.set("workload.graph=" + graph_path);
    if (vm.count("dump-config")) {
      out << cfg.dump();
      return 0;
    }
    const Graph g = load_graph(graph_path, cfg.int_family("workload.dims."));
    const auto devices = load_system_devices(cfg);
    StatsTree stats;
    workload_stats(stats, g, devices);
    if (vm.count("summary")) {
      const auto w = summarize(g);
      out << "workload " << g.name << " (" << g.file << ")\n"
          << "  nodes         " << w.nodes << "\n  parameters    " << w.parameters << "\n  macs          " << w.macs
          << "\n  weight_bytes  " << w.weight_bytes << "\n";
      return 0;
    }
    const Mapping mapping = map_graph(g, devices, cfg);
    System system(g, devices, mapping, cfg, sim_opts);
    system.run();
    system.report(stats);
    if (vm.count("out")) {
      std::ostringstream js, csv;
      stats.write_json(js);
      js << "\n";
      stats.write_csv(csv);
      write_files_atomically(vm["out"].as<std::string>(),
                             {{"stats.json", js.str()}, {"stats.csv", csv.str()}, {"config.yaml", cfg.dump()}});
    }
    if (!vm.count("quiet")) out << format_summary(stats);
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
