#include "sim/config/config.hpp"

#include <unistd.h>
#include <cmath>
#include <sstream>

#include "workloads/error.hpp"
#include "workloads/yaml_util.hpp"

namespace masesim {

namespace {

// The key declarations, one function per part of the file (in --list-keys order).

void add_workload_keys(std::vector<KeyDecl>& k) {
  k.insert(k.end(),
           {
               {"workload.graph",
                KeyType::String,
                "",
                "path",
                "mase-graph file (JSON/YAML), relative to the config file",
                {}},
               {"workload.dims.*",
                KeyType::Int,
                "",
                "",
                "override of a graph dim, e.g. workload.dims.seq: 512",
                {},
                1,
                1e12},
               {"workload.moe_routing",
                KeyType::Any,
                "{}",
                "",
                "routing of moe_experts nodes, replacing the graph's: {node-name glob: {routing: "
                "balanced | load | seeded, expert_load: [one weight per expert], routing_seed: N}} "
                "(expert_load alone means load, routing_seed alone seeded; docs/workloads.md)",
                {}},
               {"workload.inferences",
                KeyType::Int,
                "4",
                "",
                "inferences injected back to back",
                {},
                1,
                1e7},
               {"workload.phase",
                KeyType::Enum,
                "none",
                "",
                "LLM inference (docs/llm.md): prefill (the prompt, time to first token), decode "
                "(gen_tokens steps on a cache holding the prompt), generate (prefill then decode); "
                "none: "
                "inferences of the graph as it is",
                {"none", "prefill", "decode", "generate"}},
               {"workload.prompt_len", KeyType::Int, "128", "tokens", "prompt length", {}, 1, 1e6},
               {"workload.gen_tokens",
                KeyType::Int,
                "128",
                "tokens",
                "new tokens per sequence (generate: the first comes from the prefill)",
                {},
                1,
                1e6},
               {"workload.batch",
                KeyType::Int,
                "1",
                "sequences",
                "sequences in flight (each its own KV cache; they fill a pipeline)",
                {},
                1,
                4096},
               {"workload.token_turnaround_ns",
                KeyType::Double,
                "0",
                "ns",
                "time from a token's last logit to the injection of the next step (sampling, host)",
                {},
                0,
                1e9},
           });
}

void add_system_keys(std::vector<KeyDecl>& k) {
  k.insert(
      k.end(),
      {
          {"system.devices",
           KeyType::Any,
           "[{name: fpga0, type: u250}]",
           "",
           "list of {name, type} or {count, type[, prefix]}; type names "
           "configs/devices/<type>.yaml or "
           "a path",
           {}},
          {"system.binding",
           KeyType::Enum,
           "hls_default",
           "",
           "how the blocks' multipliers are bound (docs/resource-model.md): hls_default (as Vitis "
           "HLS binds MASE's templates), dsp_packed (two int8 MACs per DSP48E2), lut (no DSPs)",
           {"hls_default", "dsp_packed", "lut"}},
          {"system.engines",
           KeyType::Any,
           "[]",
           "",
           "shared engines: list of {name, device, slr (an SLR of the device), memory (a host "
           "whose "
           "memory holds the engine's tensors, over PCIe), gemm: {rows, cols, macs_per_pe, "
           "dataflow "
           "(weight_stationary, output_stationary, dot_product), format (int, fp16), "
           "extra_pipeline_cycles}, alu: {lanes, pipeline_cycles, ops}, buffers: {input_bytes, "
           "weight_bytes, acc_bytes, acc_elem_bytes, double_buffer}, load_bytes_per_cycle, "
           "store_bytes_per_cycle, fuse} (docs/engines.md)",
           {}},
          {"system.clock_mhz",
           KeyType::Double,
           "0",
           "MHz",
           "kernel clock for every device (0: the device type's)",
           {},
           0,
           2000},
          {"system.topology",
           KeyType::Enum,
           "chain",
           "",
           "QSFP28 cabling: chain, ring (= ring_bi), ring_uni, torus2d, fully_connected, explicit "
           "(system.links), switch",
           {"chain", "ring", "ring_bi", "ring_uni", "torus2d", "fully_connected", "explicit",
            "switch"}},
          {"system.torus_rows",
           KeyType::Int,
           "0",
           "devices",
           "torus2d: rows (rows x cols = devices)",
           {},
           0,
           4096},
          {"system.torus_cols", KeyType::Int, "0", "devices", "torus2d: columns", {}, 0, 4096},
          {"system.links",
           KeyType::Any,
           "[]",
           "",
           "explicit: list of cables [device_a, device_b]",
           {}},
          {"system.allow_switch",
           KeyType::Bool,
           "false",
           "",
           "connect every device to one switch when the topology needs more QSFP28 ports than a "
           "device "
           "has",
           {}},
      });
}

void add_link_keys(std::vector<KeyDecl>& k) {
  k.insert(
      k.end(),
      {
          {"link.framing",
           KeyType::Enum,
           "ethernet",
           "",
           "frame format on the links",
           {"ethernet", "aurora_framing", "aurora_streaming"}},
          {"link.mtu_bytes",
           KeyType::Int,
           "1500",
           "bytes",
           "largest frame payload (Ethernet 46..9000)",
           {},
           1,
           1 << 30},
          {"link.tx_latency_ns",
           KeyType::Double,
           "-1",
           "ns",
           "MAC/PCS transmit latency (-1: the framing's default, docs/interconnect.md)",
           {},
           -1,
           1e6},
          {"link.rx_latency_ns",
           KeyType::Double,
           "-1",
           "ns",
           "MAC/PCS receive latency (-1: the framing's default)",
           {},
           -1,
           1e6},
          {"link.cable_m", KeyType::Double, "1", "m", "cable length (5 ns per metre)", {}, 0, 1e5},
          {"link.rx_buffer_bytes",
           KeyType::Int,
           "65536",
           "bytes",
           "receive buffer per flow; credits stop the sender before it overflows (at least one "
           "frame)",
           {},
           1,
           1e12},
          {"link.forwarding",
           KeyType::Enum,
           "store_and_forward",
           "",
           "forwarding at intermediate devices",
           {"store_and_forward", "cut_through"}},
      });
}

void add_mapping_placement_keys(std::vector<KeyDecl>& k) {
  k.insert(
      k.end(),
      {
          {"mapping.partition",
           KeyType::Enum,
           "manual",
           "",
           "manual: hw.device from the graph or mapping.place, else the first device; balanced: "
           "contiguous stages "
           "minimising the slowest stage or link (docs/partitioning.md); greedy: MASE's "
           "fill-to-75%-LUT baseline",
           {"manual", "balanced", "greedy"}},
          {"mapping.auto",
           KeyType::Bool,
           "false",
           "",
           "choose every node's parallelism (and a balanced partition) to maximise throughput "
           "within "
           "the resources",
           {}},
          {"mapping.utilisation_cap",
           KeyType::Double,
           "0.8",
           "fraction",
           "balanced/greedy: largest share of each resource a device may use",
           {},
           0.01,
           1.0},
          {"mapping.place",
           KeyType::Any,
           "{}",
           "",
           "manual placement overrides: {node-name glob: device name}",
           {}},
          {"mapping.split",
           KeyType::Any,
           "[]",
           "",
           "node splitting: list of {node: GLOB, ways: K (2..64, at most the devices), by: columns "
           "(output columns/channels, gathered by a cat) | rows (the input's rows, weights on "
           "every "
           "piece)}; linear, matmul, bmm and conv2d nodes and the element-wise nodes that follow "
           "them alone (docs/partitioning.md)",
           {}},
          {"mapping.replicate",
           KeyType::Any,
           "[]",
           "",
           "stage replication (data parallel): list of {nodes: GLOB or [GLOB, ...], ways: K "
           "(2..64), "
           "devices: [one "
           "device per replica]}; inferences round-robin over the replicas, a collect node per "
           "stage output restores their order (docs/partitioning.md)",
           {}},
          {"mapping.auto_split",
           KeyType::Bool,
           "true",
           "",
           "mapping.auto: split the bottleneck node over idle devices while that raises the "
           "partitioner's throughput (docs/partitioning.md)",
           {}},
          {"mapping.slr",
           KeyType::Any,
           "{}",
           "",
           "SLR placement: {node-name glob: SLR name of the node's device}; the per-SLR ledger and "
           "fit check count the placed nodes, streams between SLRs pay the crossing latency "
           "(docs/devices.md)",
           {}},
          {"mapping.kernel_unroll",
           KeyType::Any,
           "{}",
           "",
           "conv2d kernel-window unroll: {node-name glob: U} (U window positions computed side by "
           "side, a divisor of kh·kw; MASE's UNROLL_KERNEL_OUT); mapping.auto grows it where the "
           "input lanes cannot (docs/architecture.md)",
           {}},
          {"mapping.lanes",
           KeyType::Any,
           "{}",
           "elements",
           "per-node stream widths: {node-name glob: N} (every data port N elements per beat on "
           "the "
           "last dim) or {glob: {data_in_0: N, data_out_0: M, ...}}; overrides the graph's "
           "hw.parallelism (first match wins)",
           {}},
          {"mapping.engines",
           KeyType::Any,
           "{}",
           "",
           "shared engines: {engine name: [node-name globs]}; a node matched runs on that engine, "
           "the others stay spatial blocks, or run on the CPU of the host they are placed on (an "
           "engine named after the host device; docs/engines.md)",
           {}},
          {"mapping.engine_order",
           KeyType::Any,
           "{}",
           "",
           "execution order on an engine: {engine name: [node names]} (default: topological)",
           {}},
          {"mapping.systolic",
           KeyType::Any,
           "[]",
           "",
           "node-name globs of linear/matmul/bmm nodes to run on the systolic GEMM core (as "
           "hw.impl: "
           "systolic)",
           {}},
      });
}

void add_mapping_parallelism_keys(std::vector<KeyDecl>& k) {
  k.insert(
      k.end(),
      {
          {"mapping.default_parallelism",
           KeyType::Int,
           "8",
           "elements",
           "largest last-dim tile for ports without hw.parallelism",
           {},
           1,
           4096},
          {"mapping.weights",
           KeyType::Enum,
           "graph",
           "",
           "weight placement: graph (hw.weights), on_chip, off_chip, auto (on chip while BRAM/URAM "
           "last)",
           {"graph", "on_chip", "off_chip", "auto"}},
          {"mapping.kv_cache",
           KeyType::Enum,
           "auto",
           "",
           "KV-cache placement: on_chip (BRAM/URAM), off_chip (DDR/HBM through the memory target), "
           "auto (on chip while BRAM/URAM last, last layers move off first)",
           {"auto", "on_chip", "off_chip"}},
          {"mapping.kv_port_bytes",
           KeyType::Int,
           "64",
           "bytes",
           "width of a KV-cache read port per cycle (8 URAM columns of 72 bits hold 64 bytes); "
           "kv_cache nodes without hw.parallelism stream this many bytes per beat",
           {},
           1,
           4096},
          {"mapping.parallelism",
           KeyType::Enum,
           "pipeline",
           "",
           "LLM across devices: pipeline (contiguous layers per device, mapping.partition balanced "
           "unless given), tensor (heads and FFN columns split over all devices, all-reduce over "
           "the "
           "links), hybrid (tensor groups of mapping.tensor_parallel devices inside pipeline "
           "stages)",
           {"pipeline", "tensor", "hybrid"}},
          {"mapping.tensor_parallel",
           KeyType::Int,
           "0",
           "devices",
           "hybrid: devices per tensor-parallel group (0: all devices)",
           {},
           0,
           1024},
          {"mapping.allreduce",
           KeyType::Enum,
           "ring",
           "",
           "tensor parallelism: all-reduce algorithm, ring (reduce-scatter + all-gather to the "
           "ring "
           "neighbour) or direct (each rank owns a chunk)",
           {"ring", "direct"}},
          {"mapping.tp_sync",
           KeyType::Enum,
           "all_reduce",
           "",
           "tensor parallelism: how a row-parallel linear synchronises, all_reduce (Megatron: its "
           "input stays sharded, the partial sums are all-reduced: 2 syncs per transformer layer) "
           "or all_gather (DFX: its input is all-gathered, the linear splits by output columns and "
           "its output is all-gathered: 4 syncs per layer)",
           {"all_reduce", "all_gather"}},
      });
}

void add_mapping_memory_keys(std::vector<KeyDecl>& k) {
  k.insert(
      k.end(),
      {
          {"mapping.weight_block_rows",
           KeyType::Int,
           "64",
           "rows",
           "rows that share one pass of off-chip weights (input/output buffers sized by it)",
           {},
           1,
           1e6},
          {"mapping.oversubscribe",
           KeyType::Bool,
           "false",
           "",
           "report resources over capacity (on-chip and off-chip memory bytes) instead of failing",
           {}},
          {"mapping.binding",
           KeyType::Any,
           "{}",
           "",
           "per-node multiplier binding overrides: {node-name glob: dsp_packed | hls_default | "
           "lut} "
           "(first match wins; mapping.auto keeps them and chooses the others, "
           "docs/resource-model.md)",
           {}},
          {"mapping.extrapolation_margin",
           KeyType::Double,
           "0.15",
           "fraction",
           "fit check: an extrapolated resource estimate (parameters outside its block model's "
           "synthesis data) counts as (1 + margin) x its value against the capacity",
           {},
           0,
           10},
          {"mapping.layer_reuse.layers",
           KeyType::String,
           "\"\"",
           "",
           "layer-reuse region: a node-name pattern with {i} for the layer index (e.g. "
           "\"transformer.h.{i}.*\"); the matching layers must be identical and run one after "
           "another on one set of blocks, each layer's input read from off-chip memory and its "
           "output written back (docs/published-designs.md); empty: every node is its own hardware",
           {}},
          {"mapping.layer_reuse.weight_buffers",
           KeyType::Int,
           "2",
           "layers",
           "layer reuse: layers of parameters the region's on-chip buffers hold (2: the next "
           "layer's are fetched from off-chip memory while the current one computes; 1: after it; "
           ">= the layer count: all stay resident after their first load)",
           {},
           1,
           1024},
          {"mapping.layer_reuse.port_bytes_per_cycle",
           KeyType::Int,
           "64",
           "bytes",
           "layer reuse: width of the region's off-chip port that fetches the parameters (one AXI "
           "port of 512 bits)",
           {},
           1,
           4096},
      });
}

void add_simulation_keys(std::vector<KeyDecl>& k) {
  k.insert(
      k.end(),
      {
          {"systolic.rows",
           KeyType::Int,
           "16",
           "PEs",
           "rows of the systolic GEMM core (nodes with hw.impl: systolic)",
           {},
           1,
           256},
          {"systolic.cols",
           KeyType::Int,
           "16",
           "PEs",
           "columns of the systolic GEMM core",
           {},
           1,
           256},
          {"systolic.dataflow",
           KeyType::Enum,
           "output_stationary",
           "",
           "systolic core dataflow",
           {"output_stationary", "weight_stationary"}},
          {"simulation.mode",
           KeyType::Enum,
           "timing",
           "",
           "timing: beats carry no values; functional: beats carry their tensors' values, computed "
           "with the hardware arithmetic",
           {"timing", "functional"}},
          {"simulation.rounding",
           KeyType::Enum,
           "half_even",
           "",
           "functional mode: fixed-point rounding",
           {"half_even", "truncate"}},
          {"simulation.check_tolerance",
           KeyType::Double,
           "0",
           "",
           "--check-reference: largest absolute error allowed per element",
           {},
           0,
           1e300},
          {"workload.data",
           KeyType::String,
           "\"\"",
           "path",
           "functional mode: tensor data folder (params/, inputs/, reference/; default "
           "<graph>.data)",
           {}},
          {"simulation.stream_depth",
           KeyType::Int,
           "2",
           "beats",
           "FIFO depth of every stream between blocks",
           {},
           1,
           1 << 24},
          {"simulation.fork_depth",
           KeyType::Int,
           "0",
           "beats",
           "FIFO depth on fork outputs (0: the whole tensor, so reconvergent paths never deadlock)",
           {},
           0,
           1e9},
          {"simulation.granularity",
           KeyType::Enum,
           "burst",
           "",
           "how streams move beats: burst (runs of beats that follow one law move as one "
           "transaction, their times solved in closed form) or beat (one push and pop per beat, "
           "the reference of the stream algebra): the same cycle counts, except where several "
           "blocks' requests overlap on one off-chip memory or link, whose arbitration follows "
           "execution order (docs/architecture.md); functional mode always runs beat by beat",
           {"beat", "burst"}},
          {"simulation.cosim",
           KeyType::Any,
           "[]",
           "",
           "node-name globs of systolic nodes run on the Verilated RTL core (--cosim adds to it)",
           {}},
          {"simulation.check_reference",
           KeyType::Bool,
           "false",
           "",
           "functional mode: compare every node's output with the reference data "
           "(--check-reference "
           "sets it)",
           {}},
          {"simulation.max_sim_time_ms",
           KeyType::Double,
           "10000",
           "ms",
           "simulated-time limit (exit 2 when reached)",
           {},
           1e-6,
           1e9},
      });
}

}  // namespace

const std::vector<KeyDecl>& config_keys() {
  static const std::vector<KeyDecl> keys = [] {
    std::vector<KeyDecl> k;
    add_workload_keys(k);
    add_system_keys(k);
    add_link_keys(k);
    add_mapping_placement_keys(k);
    add_mapping_parallelism_keys(k);
    add_mapping_memory_keys(k);
    add_simulation_keys(k);
    return k;
  }();
  return keys;
}

namespace {
std::string dirname_of(const std::string& p) {
  const auto s = p.rfind('/');
  return s == std::string::npos ? "." : (s == 0 ? "/" : p.substr(0, s));
}
std::vector<std::string> known_keys() {
  std::vector<std::string> v;
  for (const auto& d : config_keys()) v.push_back(d.key);
  return v;
}
}  // namespace

Config::Config() {
  for (const auto& d : config_keys())
    if (!d.default_yaml.empty() && d.key.back() != '*') values_[d.key] = YAML::Load(d.default_yaml);
}

const KeyDecl* Config::find_decl(const std::string& key) const {
  for (const auto& d : config_keys()) {
    if (d.key == key) return &d;
    if (d.key.size() > 2 && d.key.compare(d.key.size() - 2, 2, ".*") == 0 &&
        key.compare(0, d.key.size() - 1, d.key, 0, d.key.size() - 1) == 0 &&
        key.size() > d.key.size() - 1 && key.find('.', d.key.size() - 1) == std::string::npos)
      return &d;
  }
  return nullptr;
}

void Config::assign(const std::string& key, const YAML::Node& value, const std::string& where) {
  const KeyDecl* d = find_decl(key);
  if (!d) throw InputError(where + ": unknown key '" + key + "'" + did_you_mean(key, known_keys()));
  const std::string ctx = where + ": " + key;
  switch (d->type) {
    case KeyType::Int: {
      const auto v = yaml::as_int(file_, value, key);
      if (v < d->min || v > d->max)
        throw InputError(ctx + " = " + std::to_string(v) + " is out of range (" +
                         std::to_string(static_cast<long long>(d->min)) + ".." +
                         std::to_string(static_cast<long long>(d->max)) + ")");
      break;
    }
    case KeyType::Double: {
      if (!value.IsScalar()) throw InputError(ctx + ": expected a number");
      char* end = nullptr;
      const double v = std::strtod(value.Scalar().c_str(), &end);
      if (value.Scalar().empty() || *end != '\0' || !std::isfinite(v))
        throw InputError(ctx + ": expected a finite number, got '" + value.Scalar() + "'");
      if (v < d->min || v > d->max)
        throw InputError(ctx + " = " + value.Scalar() + " is out of range");
      break;
    }
    case KeyType::Bool:
      yaml::as_bool(file_, value, key);
      break;
    case KeyType::String:
      if (!value.IsScalar()) throw InputError(ctx + ": expected a string");
      break;
    case KeyType::Enum: {
      if (!value.IsScalar()) throw InputError(ctx + ": expected one of the choices");
      bool ok = false;
      for (const auto& c : d->choices) ok = ok || c == value.Scalar();
      if (!ok) {
        std::string list;
        for (const auto& c : d->choices) list += (list.empty() ? "" : ", ") + c;
        throw InputError(ctx + ": '" + value.Scalar() + "' is not one of " + list +
                         did_you_mean(value.Scalar(), d->choices));
      }
      break;
    }
    case KeyType::Any:
      break;
  }
  values_[key] = YAML::Clone(value);
}

void Config::flatten(const YAML::Node& n, const std::string& prefix, const std::string& file) {
  for (const auto& kv : n) {
    const std::string part = yaml::key_string(file, kv.first, prefix.empty() ? "config" : prefix);
    const std::string key = prefix.empty() ? part : prefix + "." + part;
    const KeyDecl* d = find_decl(key);
    if (!d && kv.second.IsMap()) {
      bool is_prefix = false;
      for (const auto& k : config_keys()) is_prefix = is_prefix || k.key.rfind(key + ".", 0) == 0;
      if (is_prefix) {
        flatten(kv.second, key, file);
        continue;
      }
    }
    assign(key, kv.second, yaml::where(file, kv.first));
  }
}

Config Config::from_file(const std::string& path) {
  Config c;
  c.file_ = path;
  c.base_dir_ = dirname_of(path);
  const YAML::Node root = yaml::load_file(path);
  if (root.IsNull()) return c;
  if (!root.IsMap()) throw InputError(path + ": expected a mapping at the top level");
  c.flatten(root, "", path);
  return c;
}

Config Config::from_text(const std::string& text, const std::string& label,
                         const std::string& base_dir) {
  Config c;
  c.file_ = label;
  c.base_dir_ = base_dir;
  const YAML::Node root = yaml::load_text(text, label);
  if (root.IsNull()) return c;
  if (!root.IsMap()) throw InputError(label + ": expected a mapping at the top level");
  c.flatten(root, "", label);
  return c;
}

void Config::set(const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw InputError("--set '" + assignment + "': expected KEY=VALUE");
  const std::string key = assignment.substr(0, eq);
  const YAML::Node v = yaml::load_text(assignment.substr(eq + 1), "--set " + key);
  assign(key, v.IsNull() ? YAML::Node(std::string()) : v, "--set");
}

bool Config::has(const std::string& key) const {
  return values_.count(key) != 0;
}

YAML::Node Config::get_node(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) throw InputError(file_ + ": missing required key '" + key + "'");
  return it->second;
}

std::int64_t Config::get_int(const std::string& key) const {
  return yaml::as_int(file_, get_node(key), key);
}
double Config::get_double(const std::string& key) const {
  return yaml::as_double(file_, get_node(key), key);
}
bool Config::get_bool(const std::string& key) const {
  return yaml::as_bool(file_, get_node(key), key);
}
std::string Config::get_string(const std::string& key) const {
  return get_node(key).Scalar();
}

std::map<std::string, std::int64_t> Config::int_family(const std::string& prefix) const {
  std::map<std::string, std::int64_t> m;
  for (const auto& [k, v] : values_)
    if (k.rfind(prefix, 0) == 0) m[k.substr(prefix.size())] = yaml::as_int(file_, v, k);
  return m;
}

std::string Config::resolve_path(const std::string& p) const {
  if (p.empty() || p[0] == '/') return p;
  return base_dir_ + "/" + p;
}

namespace {
struct DumpTree {
  std::map<std::string, DumpTree> children;
  YAML::Node value;
  bool leaf = false;
};
void emit(YAML::Emitter& out, const DumpTree& t) {
  out << YAML::BeginMap;
  for (const auto& [k, c] : t.children) {
    out << YAML::Key << k << YAML::Value;
    if (c.leaf)
      out << c.value;
    else
      emit(out, c);
  }
  out << YAML::EndMap;
}
}  // namespace

std::string Config::absolute_path(const std::string& p) const {
  const std::string r = resolve_path(p);
  if (r.empty() || r[0] == '/') return r;
  char buf[4096];
  if (!getcwd(buf, sizeof buf)) return r;
  return std::string(buf) + "/" + r;
}

std::string Config::dump_effective() const {
  Config c = *this;
  for (auto& [k, v] : c.values_) {
    const KeyDecl* d = find_decl(k);
    if (d && d->unit == "path" && v.IsScalar() && !v.Scalar().empty())
      v = YAML::Node(absolute_path(v.Scalar()));
  }
  auto it = c.values_.find("system.devices");
  if (it != c.values_.end() && it->second.IsSequence()) {
    YAML::Node list = YAML::Clone(it->second);
    for (auto e : list) {
      if (!e.IsMap() || !e["type"] || !e["type"].IsScalar()) continue;
      const std::string t = e["type"].Scalar();
      if (t.size() > 5 && t.compare(t.size() - 5, 5, ".yaml") == 0) e["type"] = absolute_path(t);
    }
    it->second = list;
  }
  return c.dump();
}

std::string Config::dump() const {
  DumpTree root;
  for (const auto& [k, v] : values_) {
    DumpTree* t = &root;
    std::stringstream ss(k);
    for (std::string part; std::getline(ss, part, '.');) t = &t->children[part];
    t->leaf = true;
    t->value = v;
  }
  YAML::Emitter out;
  emit(out, root);
  return std::string(out.c_str()) + "\n";
}

}  // namespace masesim
