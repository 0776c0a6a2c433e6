#include "sim/llm/llm.hpp"

#include "sim/mapping/graph_rewrite.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <unordered_map>

#include "models/memory_timing.hpp"
#include "models/ops/registry.hpp"
#include "sim/llm/tensor_parallel.hpp"
#include "workloads/error.hpp"
#include "workloads/yaml_util.hpp"

namespace masesim {

std::int64_t LlmSpec::steps() const {
  if (phase == "prefill") return 1;
  return gen_tokens;
}

std::int64_t LlmSpec::context_of_step(std::int64_t k) const {
  if (phase == "decode") return prompt_len + k + 1;
  return prompt_len + k;  // prefill/generate: step 0 is the prompt, step k appends token k
}

LlmSpec llm_spec(const Config& cfg) {
  LlmSpec s;
  const std::string phase = cfg.get_string("workload.phase");
  if (phase == "none") return s;
  s.phase = phase;
  s.prompt_len = cfg.get_int("workload.prompt_len");
  s.gen_tokens = cfg.get_int("workload.gen_tokens");
  s.batch = cfg.get_int("workload.batch");
  s.turnaround_ns = cfg.get_double("workload.token_turnaround_ns");
  s.kv_cache = cfg.get_string("mapping.kv_cache");
  s.parallelism = cfg.get_string("mapping.parallelism");
  s.tensor_parallel = cfg.get_int("mapping.tensor_parallel");
  s.allreduce = cfg.get_string("mapping.allreduce");
  s.tp_sync = cfg.get_string("mapping.tp_sync");
  if (s.steps() * s.batch > 10000000)
    throw InputError(cfg.file() + ": workload.gen_tokens x workload.batch = " +
                     std::to_string(s.steps() * s.batch) + " token steps exceed 10^7");
  if (cfg.get_string("simulation.mode") == "functional")
    throw InputError(cfg.file() +
                     ": workload.phase: LLM phases run in timing mode only (simulation.mode: "
                     "functional is not supported with a KV cache)");
  return s;
}

// ---------------------------------------------------------------------------------------
namespace {

std::string producer_of(const std::string& ref) {
  const auto dot = ref.rfind(".data_out_");
  return dot == std::string::npos ? ref : ref.substr(0, dot);
}

bool is_seq(const YAML::Node& d) {
  return d.IsScalar() && d.Scalar() == "seq";
}

/// The LLM rewrite of a decoder graph's tree (llm_graph): KV caches before the attention
/// matmuls, the scores' last dim as ctx, the LM head on the last token.
class LlmRewrite {
 public:
  LlmRewrite(YAML::Node root, const std::string& file, LlmGraphInfo* info)
      : root_(std::move(root)), nodes(root_["nodes"]), file(file), info(info) {
    if (!nodes || !nodes.IsSequence()) throw InputError(file + ": nodes: expected a list");
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      if (!nodes[i].IsMap() || !nodes[i]["name"] || !nodes[i]["name"].IsScalar())
        throw InputError(file + ": nodes[" + std::to_string(i) + "]: expected a named node");
      index[nodes[i]["name"].Scalar()] = i;
      names.insert(nodes[i]["name"].Scalar());
    }
  }

  YAML::Node run() {
    add_kv_caches();
    tag_scores();
    slice_heads();
    for (auto& a : added) nodes.push_back(a);
    return root_;
  }

 private:
  YAML::Node root_;
  YAML::Node nodes;
  const std::string& file;
  LlmGraphInfo* info;
  std::unordered_map<std::string, std::size_t> index;
  std::set<std::string> names;
  std::vector<YAML::Node> added;
  std::set<std::string> tagged;  // results whose last dim became ctx

  YAML::Node result_shape(const std::string& node) const {
    auto it = index.find(node);
    if (it == index.end()) return YAML::Node();
    YAML::Node r = nodes[it->second]["results"];
    return r && r["data_out_0"] ? r["data_out_0"]["shape"] : YAML::Node();
  }

  /// A new node reading `ref`: the producer's result shape with entry `axis` replaced by
  /// `dim`, its precision, and its device (tensor-parallel graphs place every node).
  YAML::Node derived_node(std::string name, const std::string& op, const std::string& ref,
                          std::size_t axis, const std::string& dim) {
    while (names.count(name)) name += "_";
    names.insert(name);
    const YAML::Node prod = nodes[index[producer_of(ref)]];
    YAML::Node x;
    x["name"] = name;
    x["op"] = op;
    x["args"]["data_in_0"] = ref;
    YAML::Node shape = YAML::Clone(prod["results"]["data_out_0"]["shape"]);
    shape[axis] = dim == "1" ? YAML::Node(1) : YAML::Node(dim);
    x["results"]["data_out_0"]["shape"] = shape;
    x["results"]["data_out_0"]["precision"] =
        YAML::Clone(prod["results"]["data_out_0"]["precision"]);
    if (const YAML::Node ph = prod["hw"]; ph && ph["device"])
      x["hw"]["device"] = YAML::Clone(ph["device"]);
    return x;
  }

  /// A kv_cache node in front of each attention matmul's activation operand (the key axis
  /// becomes ctx); the scores' last dim becomes ctx.
  void add_kv_caches() {
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      YAML::Node n = nodes[i];
      const std::string op = n["op"] && n["op"].IsScalar() ? n["op"].Scalar() : "";
      if (op != "matmul" && op != "bmm") continue;
      YAML::Node args = n["args"];
      if (!args || !args["data_in_0"] || !args["data_in_1"] || !args["data_in_1"].IsScalar())
        continue;
      const std::string bref = args["data_in_1"].Scalar();
      const std::string bnode = producer_of(bref);
      const YAML::Node bshape = result_shape(bnode);
      if (!bshape || !bshape.IsSequence()) continue;  // a graph input or a parameter-like operand
      int axis = -1, seqs = 0;
      for (std::size_t k = 0; k < bshape.size(); ++k)
        if (is_seq(bshape[k])) axis = static_cast<int>(k), ++seqs;
      if (seqs == 0) continue;
      const std::string mname = n["name"].Scalar();
      if (seqs > 1)
        throw InputError(file + ": node '" + mname +
                         "': cannot tell the key axis of data_in_1 (several 'seq' dims)");
      YAML::Node k = derived_node(mname + ".kv_cache", "kv_cache", bref,
                                  static_cast<std::size_t>(axis), "ctx");
      k["attrs"]["dim"] = axis;
      const std::string kv = k["name"].Scalar();
      added.push_back(k);
      args["data_in_1"] = kv;
      if (info) info->kv_nodes.push_back(kv);
      if (static_cast<std::size_t>(axis) + 1 == bshape.size()) {  // B's last dim: the scores'
        YAML::Node s = n["results"]["data_out_0"]["shape"];
        if (s && s.IsSequence() && s.size() > 0 && is_seq(s[s.size() - 1])) {
          s[s.size() - 1] = "ctx";
          tagged.insert(mname);
        }
      }
    }
    if (added.empty())
      throw InputError(file +
                       ": workload.phase needs attention (a matmul whose data_in_1 is an "
                       "activation with a 'seq' dim); this graph has none");
  }

  /// Scores flow through softmax, dropout, masks, ... (last dim seq -> ctx) until the next
  /// matmul, which reduces over ctx.
  void tag_scores() {
    for (bool changed = true; changed;) {
      changed = false;
      for (std::size_t i = 0; i < nodes.size(); ++i) {
        YAML::Node n = nodes[i];
        const std::string name = n["name"].Scalar();
        const std::string op = n["op"] && n["op"].IsScalar() ? n["op"].Scalar() : "";
        if (tagged.count(name) || op == "matmul" || op == "bmm" || op == "linear") continue;
        bool feeds = false;
        if (n["args"] && n["args"].IsMap())
          for (const auto& a : n["args"])
            if (a.second.IsScalar() && tagged.count(producer_of(a.second.Scalar()))) feeds = true;
        if (!feeds) continue;
        YAML::Node s = n["results"]["data_out_0"]["shape"];
        if (s && s.IsSequence() && s.size() > 0 && is_seq(s[s.size() - 1])) {
          s[s.size() - 1] = "ctx";
          tagged.insert(name);
          changed = true;
        }
      }
    }
  }

  /// The LM head needs only the last position's hidden state: the head linear(s) behind
  /// each graph output (through a tensor-parallel gather: cat/contiguous/dropout) read a
  /// slice of the last token.
  void slice_heads() {
    std::vector<std::size_t> heads, passes;
    std::set<std::size_t> seen;
    std::vector<std::string> stack;
    if (YAML::Node outs = root_["outputs"]; outs && outs.IsSequence())
      for (std::size_t o = 0; o < outs.size(); ++o)
        if (outs[o].IsScalar()) stack.push_back(producer_of(outs[o].Scalar()));
    while (!stack.empty()) {
      auto it = index.find(stack.back());
      stack.pop_back();
      if (it == index.end() || !seen.insert(it->second).second) continue;
      YAML::Node n = nodes[it->second];
      const std::string op = n["op"] && n["op"].IsScalar() ? n["op"].Scalar() : "";
      if (op == "linear") {
        heads.push_back(it->second);
      } else if (op == "cat" || op == "contiguous" || op == "dropout") {
        passes.push_back(it->second);
        if (n["args"] && n["args"].IsMap())
          for (const auto& a : n["args"])
            if (a.second.IsScalar()) stack.push_back(producer_of(a.second.Scalar()));
      }
    }
    std::map<std::string, std::string> slice_of;  // hidden-state ref -> its last-token slice
    bool sliced = false;
    for (const auto h : heads) {
      YAML::Node head = nodes[h];
      if (!head["args"] || !head["args"]["data_in_0"]) continue;
      const std::string xref = head["args"]["data_in_0"].Scalar();
      const YAML::Node xs = result_shape(producer_of(xref));
      YAML::Node hs = head["results"]["data_out_0"]["shape"];
      if (!xs || xs.size() < 2 || !is_seq(xs[xs.size() - 2]) || !hs || hs.size() < 2 ||
          !is_seq(hs[hs.size() - 2]))
        continue;
      if (!slice_of.count(xref)) {
        YAML::Node s =
            derived_node(producer_of(xref) + ".last_token", "slice", xref, xs.size() - 2, "1");
        s["attrs"]["dim"] = -2;
        s["attrs"]["start"] = -1;
        const std::string sl = s["name"].Scalar();
        added.push_back(s);
        slice_of[xref] = sl;
        if (info) info->last_token_slice = sl;
      }
      head["args"]["data_in_0"] = slice_of[xref];
      hs[hs.size() - 2] = 1;
      sliced = true;
    }
    if (sliced)
      for (const auto p : passes) {
        YAML::Node s = nodes[p]["results"]["data_out_0"]["shape"];
        if (s && s.IsSequence() && s.size() >= 2 && is_seq(s[s.size() - 2])) s[s.size() - 2] = 1;
      }
  }
};

}  // namespace

YAML::Node llm_graph(const YAML::Node& root0, const std::string& file, LlmGraphInfo* info) {
  YAML::Node root = YAML::Clone(root0);
  YAML::Node dims = root["dims"];
  if (!dims || !dims.IsMap() || !dims["seq"])
    throw InputError(file +
                     ": workload.phase needs a decoder graph with a symbolic dim 'seq' (the "
                     "token axis); this graph has none");
  if (dims["ctx"]) throw InputError(file + ": the graph already has a dim 'ctx'");
  dims["ctx"] = dims["seq"];
  return LlmRewrite(root, file, info).run();
}

Graph load_llm_graph(const SystemSpec& sys) {
  const std::string& path = sys.workload.graph_path;
  const LlmSpec& spec = sys.llm;
  const auto& devices = sys.devices;
  std::map<std::string, std::int64_t> dims = sys.workload.dims;
  if (dims.count("seq") || dims.count("ctx"))
    throw InputError(sys.file +
                     ": workload.dims.seq/ctx are set by workload.phase (use "
                     "workload.prompt_len and workload.gen_tokens)");
  YAML::Node tree = rewrite::workload_tree(sys);
  if (spec.parallelism != "pipeline") {
    const auto n = static_cast<std::int64_t>(devices.size());
    const std::int64_t t =
        spec.parallelism == "tensor" || spec.tensor_parallel == 0 ? n : spec.tensor_parallel;
    if (t > n || n % t != 0)
      throw InputError(sys.file + ": mapping.tensor_parallel = " + std::to_string(t) +
                       " must divide the " + std::to_string(n) + " devices");
    if (sys.mapping.partition != "manual")
      throw InputError(sys.file + ": mapping.parallelism: " + spec.parallelism +
                       " places every node itself; mapping.partition must be manual");
    TensorParallelSpec tp;
    tp.tp = static_cast<int>(t);
    tp.stages = static_cast<int>(n / t);
    for (const auto& d : devices) tp.devices.push_back(d.name);
    tp.algorithm = spec.allreduce;
    tp.gather_rows = spec.tp_sync == "all_gather";
    tree = tensor_parallel_graph(tree, path, tp);
  }
  tree = llm_graph(tree, path);
  dims["seq"] = spec.phase == "prefill" ? spec.prompt_len : 1;
  dims["ctx"] = spec.prompt_len;
  return rewrite::load_workload_yaml(tree, sys, dims);
}

// ---------------------------------------------------------------------------------------
namespace {

std::int64_t token_bytes_of(const Graph& g, const Node& n) {
  const Tensor& in = g.tensor_of(n.args[0]);
  auto d = n.attr_int("dim", -1);
  if (d < 0) d += static_cast<std::int64_t>(in.shape.size());
  const std::int64_t fresh = in.shape[static_cast<std::size_t>(d)];
  return static_cast<std::int64_t>(
      std::ceil(static_cast<double>(in.numel() / fresh) * in.precision.bits_per_element() / 8.0));
}

/// (datapath cycles, cycles reading buffered operands first) of one inference.
std::pair<std::int64_t, std::int64_t> occupancy_cycles(const OpTiming& t) {
  std::int64_t pre = 0, streamed = 0;
  for (std::size_t p = 0; p < t.in_beats.size(); ++p) {
    pre = std::max(pre, t.preload_beats[p]);
    streamed = std::max(streamed, t.in_beats[p] - t.preload_beats[p]);
  }
  if (t.engine == OpTiming::Engine::Rows) return {std::max(t.rows * t.row_cycles, streamed), pre};
  if (t.engine == OpTiming::Engine::Streaming)
    return {std::max({t.out_beats * t.out_interval_cycles, streamed}), pre};
  return {t.ideal_cycles(), 0};
}

/// KV-cache placement: capacity for every sequence in flight at the longest context, on
/// or off chip by mapping.kv_cache; then the fit check.
void place_kv_caches(const Graph& g, const SystemSpec& sys, Mapping& m, LlmPlan& p) {
  const auto& devices = sys.devices;
  const LlmSpec& spec = sys.llm;
  const std::size_t nd = devices.size();
  std::vector<std::size_t> kv;
  for (std::size_t i = 0; i < g.nodes.size(); ++i)
    if (ops::of(g.nodes[i]).cls == OpClass::KvCache) kv.push_back(i);
  for (auto i : kv) {
    const std::int64_t per_seq = token_bytes_of(g, g.nodes[i]) * spec.max_context();
    p.kv_bytes_per_sequence += per_seq;
    auto& nm = m.nodes[i];
    if (m.engines.any() && m.engines.engine_of[i] >= 0) {  // in the engine's memory
      nm.hw.kv_capacity_bytes = per_seq * spec.batch;
      nm.hw.kv_off_chip = true;
      continue;
    }
    nm.hw.kv_capacity_bytes = per_seq * spec.batch;
    nm.hw.kv_off_chip = spec.kv_cache == "off_chip";
    nm.timing = op_timing(g, g.nodes[i], nm.hw);
    set_estimate(nm, estimate_node(g, g.nodes[i], nm.hw, nm.timing));
  }
  for (std::size_t d = 0; d < nd; ++d) spill_storage(sys, m, static_cast<int>(d));
  if (spec.kv_cache == "auto")  // move caches off chip, last layer first, until BRAM/URAM fit
    for (std::size_t d = 0; d < nd; ++d) {
      const auto& c = devices[d].type.capacity;
      for (auto it = kv.rbegin(); it != kv.rend(); ++it) {
        const Resources u = fit_usage(sys, m, static_cast<int>(d));
        if (u[Res::bram36] <= c[Res::bram36] && u[Res::uram] <= c[Res::uram]) break;
        auto& nm = m.nodes[*it];
        if (nm.device != static_cast<int>(d) || (m.engines.any() && m.engines.engine_of[*it] >= 0))
          continue;
        nm.hw.kv_off_chip = true;
        nm.timing = op_timing(g, g.nodes[*it], nm.hw);
        set_estimate(nm, estimate_node(g, g.nodes[*it], nm.hw, nm.timing));
        spill_storage(sys, m, static_cast<int>(d));
      }
    }
  // The caches' own buffers may leave too little room for the weights mapping.weights:
  // auto kept on chip: move more of them off chip.
  if (sys.mapping.weights == WeightPolicy::Auto)
    for (std::size_t d = 0; d < nd; ++d) move_weights_off_chip(g, sys, m, static_cast<int>(d));
  for (auto i : kv) {
    const auto d = static_cast<std::size_t>(m.nodes[i].device);
    p.kv_bytes[d] += m.nodes[i].hw.kv_capacity_bytes;
    if (!m.nodes[i].hw.kv_off_chip) p.kv_bytes_on_chip[d] += m.nodes[i].hw.kv_capacity_bytes;
  }
  check_fit(g, sys, m,
            "the mapping does not fit with a KV cache of " +
                std::to_string(p.kv_bytes_per_sequence) + " bytes per sequence x " +
                std::to_string(spec.batch) + " sequences",
            "set mapping.kv_cache: auto or off_chip, lower workload.batch or the context, or "
            "mapping.oversubscribe: true");
}

/// The schedule: inference i = step·batch + sequence; a decode step waits for the same
/// sequence's previous token.
void plan_schedule(const LlmSpec& spec, LlmPlan& p) {
  const std::int64_t steps = spec.steps(), B = spec.batch;
  p.inferences = steps * B;
  auto sched = std::make_shared<Schedule>();
  for (std::int64_t k = 0; k < steps; ++k)
    for (std::int64_t s = 0; s < B; ++s) {
      sched->variant.push_back(static_cast<int>(k));
      p.step_of.push_back(k);
      p.sequence_of.push_back(s);
      p.depends_on.push_back(k == 0 ? -1 : (k - 1) * B + s);
    }
  p.schedule = sched;
}

/// The off-chip weight fetches of one step of a block with streamed weights (tile i+1's fetch
/// is issued when tile i starts computing, so consecutive tiles start at least one fetch
/// apart; the first may have been prefetched).
void count_weight_fetch(const OpTiming& t, const MemoryTiming& mt, const std::string& node,
                        VariantCost& vc) {
  const std::int64_t passes =
      t.engine == OpTiming::Engine::Rows ? ceil_div(t.rows, t.block_rows) : 1;
  const double gbps = mt.channels * mt.gbytes_per_s_per_channel;
  auto one_fetch_ps = [&](std::int64_t bytes) {
    return static_cast<double>(mt.latency_ps) +
           static_cast<double>(transfer_ps(static_cast<std::uint64_t>(bytes), gbps));
  };
  // Tile i+1's fetch is issued when tile i starts computing, so consecutive tiles
  // start at least one fetch apart (the first may have been prefetched).
  double fetch_ps = static_cast<double>(std::max<std::int64_t>(0, passes * t.weight_tiles - 1)) *
                    one_fetch_ps(t.weight_tile_bytes);
  if (!t.weight_schedule.empty()) {  // one pass of tiles of their own sizes
    fetch_ps = 0;
    for (std::size_t j = 1; j < t.weight_schedule.size(); ++j)
      fetch_ps += one_fetch_ps(t.weight_schedule[j].bytes);
  }
  if (fetch_ps > vc.slowest_fetch_ps) vc.slowest_fetch_ps = fetch_ps, vc.slowest_fetch_node = node;
}

/// Bytes of one step that node `i`'s inputs bring from other devices.
void count_transfers(const Graph& gv, std::size_t i, const Mapping& m, VariantCost& vc) {
  const Node& n = gv.nodes[i];
  const NodeMap& nm = m.nodes[i];
  for (std::size_t a = 0; a < n.args.size(); ++a) {
    const Node* prod = gv.find_node(n.args[a].node);
    int pd = 0;
    if (prod) {
      pd = m.nodes[static_cast<std::size_t>(prod - gv.nodes.data())].device;
    } else {  // a graph input enters on its first consumer's device
      const auto cons = gv.consumers_of(n.args[a]);
      pd = cons.empty() || cons[0].first < 0
               ? 0
               : m.nodes[static_cast<std::size_t>(cons[0].first)].device;
    }
    if (pd != nm.device)
      vc.transfer_bytes[{pd, nm.device}] +=
          static_cast<std::uint64_t>(gv.tensor_of(n.args[a]).bytes());
  }
}

/// Node `i`'s timing at the next step: an index into its distinct timings.
void store_timing(LlmPlan& p, std::size_t i, OpTiming t) {
  auto& uniq = p.node_timing[i];
  auto same = std::find(uniq.begin(), uniq.end(), t);
  p.node_timing_of[i].push_back(static_cast<int>(same - uniq.begin()));
  if (same == uniq.end()) uniq.push_back(std::move(t));
}

/// Node `i` at step `k` (graph `gv`, the step's dims): its per-step beats and timing (each
/// distinct timing stored once), and its share of the step's cost.
void cost_node_step(const Graph& g, const Graph& gv, std::size_t i, std::int64_t k,
                    const SystemSpec& sys, const Mapping& m, LlmPlan& p, VariantCost& vc) {
  const auto& devices = sys.devices;
  const std::int64_t seq = p.variant_seq[static_cast<std::size_t>(k)];
  const std::int64_t ctx = p.variant_ctx[static_cast<std::size_t>(k)];
  const bool on_engine = m.engines.any() && m.engines.engine_of[i] >= 0;
  const Node& n = gv.nodes[i];
  const NodeMap& nm = m.nodes[i];
  NodeHw hw = nm.hw;
  for (std::size_t a = 0; a < n.args.size(); ++a) {
    hw.in[a] = tile_port_padded(gv.tensor_of(n.args[a]).shape, nm.hw.in[a].tile);
    p.node_in_beats[i][a].push_back(hw.in[a].beats);
  }
  hw.out = tile_port_padded(n.results[0].shape, nm.hw.out.tile);
  p.node_out_beats[i].push_back(hw.out.beats);
  OpTiming t;
  try {
    t = op_timing(gv, n, hw);
  } catch (const InputError& e) {
    throw InputError(g.file + ":" + std::to_string(n.line) + ": step " + std::to_string(k) +
                     " (seq " + std::to_string(seq) + ", ctx " + std::to_string(ctx) +
                     "): " + e.what());
  }
  const auto d = static_cast<std::size_t>(nm.device);
  vc.macs[d] += static_cast<double>(t.macs);
  vc.off_chip_bytes[d] +=
      static_cast<double>(t.weight_bytes_per_inference + t.mem_read_bytes + t.mem_write_bytes);
  if (ops::of(n).cls == OpClass::KvCache && !hw.kv_off_chip) vc.kv_on_chip_beats[d] += t.out_beats;
  // A block's occupancy per step: what it reads before it can compute (a buffered
  // operand: on-chip bandwidth) plus its datapath time; MAC blocks whose compute
  // dominates count as compute, everything else as on-chip streaming.
  if (on_engine) {  // MACs and transfers count; block bounds do not apply
    store_timing(p, i, std::move(t));
    return;
  }
  if (t.weight_tiles > 0)
    count_weight_fetch(t, devices[static_cast<std::size_t>(nm.device)].type.memory, n.name, vc);
  const auto [compute_cyc, read_cyc] = occupancy_cycles(t);
  const std::int64_t cyc = compute_cyc + read_cyc;
  if (t.macs > 0 && compute_cyc >= read_cyc) {
    if (cyc > vc.slowest_mac_cycles) vc.slowest_mac_cycles = cyc, vc.slowest_mac_node = n.name;
  } else if (cyc > vc.slowest_other_cycles) {
    vc.slowest_other_cycles = cyc, vc.slowest_other_node = n.name;
  }
  count_transfers(gv, i, m, vc);
  store_timing(p, i, std::move(t));
}

}  // namespace

LlmPlan plan_llm(const Graph& g, const SystemSpec& sys, Mapping& m) {
  const auto& devices = sys.devices;
  const LlmSpec& spec = sys.llm;
  LlmPlan p;
  p.spec = spec;
  const std::size_t nd = devices.size();
  p.kv_bytes.assign(nd, 0);
  p.kv_bytes_on_chip.assign(nd, 0);
  p.mac_lanes.assign(nd, 0);

  place_kv_caches(g, sys, m, p);
  plan_schedule(spec, p);
  const std::int64_t steps = spec.steps();
  // Variants: the graph at each step's dims, tiled like the mapping (padded).
  // Nodes on shared engines are not blocks: their cost is the engine's (the system's
  // report bounds an engine by its nodes' compute times), not the blocks' bounds here.
  auto on_engine = [&](std::size_t i) { return m.engines.any() && m.engines.engine_of[i] >= 0; };
  for (std::size_t i = 0; i < g.nodes.size(); ++i)
    if (!on_engine(i))
      p.mac_lanes[static_cast<std::size_t>(m.nodes[i].device)] +=
          static_cast<double>(m.nodes[i].timing.macs_per_cycle);
  p.node_timing.assign(g.nodes.size(), {});
  p.node_timing_of.assign(g.nodes.size(), {});
  p.node_out_beats.assign(g.nodes.size(), {});
  p.node_in_beats.assign(g.nodes.size(), {});
  for (std::size_t i = 0; i < g.nodes.size(); ++i)
    p.node_in_beats[i].assign(g.nodes[i].args.size(), {});
  p.input_beats.assign(g.inputs.size(), {});
  for (std::int64_t k = 0; k < steps; ++k) {
    const bool prompt = spec.phase != "decode" && k == 0;
    const std::int64_t seq = prompt ? spec.prompt_len : 1;
    const std::int64_t ctx = spec.context_of_step(k);
    p.variant_seq.push_back(seq);
    p.variant_ctx.push_back(ctx);
    const Graph gv = rebind_dims(g, {{"seq", seq}, {"ctx", ctx}});
    for (std::size_t in = 0; in < g.inputs.size(); ++in)
      p.input_beats[in].push_back(
          tile_port_padded(gv.inputs[in].tensor.shape, m.inputs[in].tile).beats);
    VariantCost vc;
    vc.macs.assign(nd, 0);
    vc.off_chip_bytes.assign(nd, 0);
    vc.kv_on_chip_beats.assign(nd, 0);
    for (std::size_t i = 0; i < g.nodes.size(); ++i) cost_node_step(g, gv, i, k, sys, m, p, vc);
    p.cost.push_back(std::move(vc));
  }
  return p;
}

}  // namespace masesim
