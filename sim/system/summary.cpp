#include "sim/system/system_impl.hpp"

namespace masesim {

std::string format_summary(const StatsTree& s) {
  std::ostringstream o;
  o << "masesim: " << s.get("workload.name") << " on " << s.get("system.devices") << " device(s), "
    << s.get("inferences") << " inference(s)\n";
  if (!s.get("workload.macs").empty())
    o << "  workload     " << s.get("workload.nodes") << " nodes, " << s.get("workload.parameters")
      << " parameters, " << s.get("workload.macs") << " MACs/inference, "
      << s.get("workload.weight_bytes") << " weight bytes\n";
  o << "  latency      " << s.get("latency_cycles") << " cycles = " << s.get("latency_us")
    << " us @ " << s.get("clock_mhz") << " MHz\n";
  o << "  throughput   " << s.get("throughput_inferences_per_s") << " inferences/s\n";
  o << "  total        " << s.get("total_cycles") << " cycles\n";
  if (!s.get("mapping.extrapolated_nodes").empty())
    o << "  resources    " << s.get("mapping.extrapolated_nodes") << " of "
      << s.get("workload.nodes") << " node estimates extrapolated (fit margin "
      << s.get("mapping.extrapolation_margin") << "; stats: nodes.*.resources.extrapolation)\n";
  if (s.get("bottleneck.kind") == "host_input")
    o << "  bottleneck   host input " << s.get("bottleneck.name")
      << " (the host injects one beat per cycle; slowest block " << s.get("bottleneck.node")
      << ")\n";
  else if (s.get("bottleneck.kind") == "link")
    o << "  bottleneck   link " << s.get("bottleneck.name") << " (link-bound, utilisation "
      << s.get("bottleneck.busiest_link_utilisation") << "); slowest block "
      << s.get("bottleneck.node") << "\n";
  else
    o << "  bottleneck   " << s.get("bottleneck.node") << " (" << s.get("bottleneck.bound")
      << "-bound, " << s.get("bottleneck.busy_cycles") << " busy cycles)\n";
  if (!s.get("mapping.splits").empty()) o << "  splits       " << s.get("mapping.splits") << "\n";
  if (!s.get("mapping.replicas").empty())
    o << "  replicas     " << s.get("mapping.replicas") << "\n";
  if (!s.get("mapping.scale_bound").empty())
    o << "  scaling      bound: " << s.get("mapping.scale_bound") << "\n";
  if (!s.get("mapping.idle_devices_reason").empty())
    o << "  devices      " << s.get("mapping.idle_devices_reason") << "\n";
  if (const StatsTree* E = s.find_child("engines"))
    for (const auto& name : E->child_names()) {
      const StatsTree& e = *E->find_child(name);
      if (e.get("kind") == "host_cpu") {
        o << "  host cpu     " << name << ": " << e.get("nodes") << " nodes, busy "
          << e.get("busy_cycles") << " cycles, waits for input " << e.get("wait_input_cycles")
          << "; all on the host: " << e.get("all_on_host_latency_us") << " us";
        if (!e.get("offload_speedup").empty())
          o << " (this run " << s.get("latency_us") << " us: " << e.get("offload_speedup") << "x)";
        o << "\n";
        continue;
      }
      o << "  engine       " << name << " on " << e.get("device") << ": " << e.get("nodes")
        << " nodes, busy " << e.get("busy_cycles") << " cycles, waits load "
        << e.get("wait_load_cycles") << " / store " << e.get("wait_store_cycles") << " / input "
        << e.get("wait_input_cycles") << ", utilisation " << e.get("utilisation") << "\n";
    }
  if (!s.get("reference_check.nodes").empty())
    o << "  reference    " << s.get("reference_check.nodes") << " nodes checked, "
      << s.get("reference_check.failing_nodes") << " beyond tolerance "
      << s.get("reference_check.tolerance") << ", " << s.get("reference_check.mismatches") << " of "
      << s.get("reference_check.elements") << " elements differ\n";
  if (const StatsTree* L = s.find_child("llm")) {
    o << "  LLM          " << L->get("phase") << ": prompt " << L->get("prompt_len") << ", "
      << L->get("gen_tokens") << " new token(s), batch " << L->get("batch") << ", "
      << L->get("parallelism") << "\n";
    if (!s.get("ttft_us").empty())
      o << "  TTFT         " << s.get("ttft_us") << " us (p99 " << s.get("ttft_p99_us") << ")\n";
    if (!s.get("tpot_us").empty())
      o << "  TPOT         " << s.get("tpot_us") << " us (p99 " << s.get("tpot_p99_us") << ")\n";
    o << "  tokens/s     " << s.get("tokens_per_s") << " over the run";
    if (!s.get("decode_tokens_per_s").empty())
      o << ", " << s.get("decode_tokens_per_s") << " while decoding";
    o << "\n";
    o << "  KV cache     " << s.get("kv_cache_bytes_per_sequence") << " bytes per sequence\n";
    for (const char* ph : {"prefill", "decode"}) {
      const std::string p = std::string("phases.") + ph + ".";
      if (L->get(p + "simulated_us").empty()) continue;
      o << "  " << ph << (std::string(ph) == "decode" ? " " : "") << "      simulated "
        << L->get(p + "simulated_us") << " us, analytic bound " << L->get(p + "bound_us") << " us ("
        << L->get(p + "bound") << "); limited by " << L->get(p + "limited_by") << "\n";
      const std::string bp = std::string("bottleneck.phases.") + ph + ".";
      if (!s.get(bp + "node").empty())
        o << "               busiest node " << s.get(bp + "node") << " ("
          << s.get(bp + "busy_cycles") << " busy cycles)\n";
    }
  }
  if (!s.get("bottleneck.busiest_link").empty())
    o << "  busiest link " << s.get("bottleneck.busiest_link") << " (utilisation "
      << s.get("bottleneck.busiest_link_utilisation") << ")\n";
  return o.str();
}

}  // namespace masesim
