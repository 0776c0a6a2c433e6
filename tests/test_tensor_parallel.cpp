// Unit tests of the tensor-parallel graph rewrite (sim/llm/tensor_parallel.*).
#include "sim/llm/tensor_parallel.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "workloads/error.hpp"
#include "workloads/graph.hpp"
#include "workloads/yaml_util.hpp"

using namespace masesim;

namespace {

const std::string kGraphs = std::string(MASESIM_SOURCE_DIR) + "/workloads/graphs/";
const std::string kOpt125 = kGraphs + "opt125m_int8.json";
const std::string kOpt13b = kGraphs + "opt1.3b_int8.json";

std::vector<std::string> devs(int n) {
  std::vector<std::string> v;
  for (int i = 0; i < n; ++i) v.push_back("fpga" + std::to_string(i));
  return v;
}

TensorParallelSpec spec(int tp, int stages = 1, const std::string& algo = "ring") {
  TensorParallelSpec s;
  s.tp = tp;
  s.stages = stages;
  s.devices = devs(tp * stages);
  s.algorithm = algo;
  return s;
}

struct Edge {
  const Node* producer;
  const Node* consumer;
  std::int64_t bytes;  ///< the producer tensor's bytes per inference at the graph's dims
};

/// Every node-to-node edge whose ends sit on different devices.
std::vector<Edge> cross_edges(const Graph& g) {
  std::unordered_map<std::string, const Node*> by_name;
  for (const auto& n : g.nodes) by_name[n.name] = &n;
  std::vector<Edge> v;
  for (const auto& n : g.nodes)
    for (const auto& a : n.args) {
      auto it = by_name.find(a.node);
      if (it == by_name.end()) continue;  // graph input
      const Node* p = it->second;
      if (p->hw.device != n.hw.device)
        v.push_back({p, &n, p->results.at(static_cast<std::size_t>(a.index)).bytes()});
    }
  return v;
}

bool starts_with(const std::string& s, const std::string& p) {
  return s.compare(0, p.size(), p) == 0;
}

bool in_all_reduce(const Edge& e, const std::string& name) {
  const std::string pre = name + ".allreduce.";
  return starts_with(e.producer->name, pre) || starts_with(e.consumer->name, pre);
}

int rank_of(const std::vector<std::string>& group, const std::string& dev) {
  for (std::size_t i = 0; i < group.size(); ++i)
    if (group[i] == dev) return static_cast<int>(i);
  return -1;
}

const Node& node(const Graph& g, const std::string& name) {
  const Node* n = g.find_node(name);
  if (!n) throw std::runtime_error("no node " + name);
  return *n;
}

std::string message_of(const std::string& file, const TensorParallelSpec& s) {
  try {
    tensor_parallel_graph(yaml::load_file(file), file, s);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(TensorParallel, Opt125mTp4RingLoadsAndAllReducesRingTraffic) {
  const int t = 4;
  const Graph g0 = load_graph(kOpt125);
  const YAML::Node tree0 = yaml::load_file(kOpt125);
  const std::string before = YAML::Dump(tree0);
  TensorParallelReport rep;
  const YAML::Node tree = tensor_parallel_graph(tree0, kOpt125, spec(t), &rep);
  EXPECT_EQ(YAML::Dump(tree0), before) << "the input tree must not change";
  const Graph g = load_graph_yaml(tree, "opt125m_tp4");  // every shape rule holds

  EXPECT_EQ(rep.layers, 12);
  ASSERT_EQ(rep.all_reduces.size(), 24u);
  const std::vector<std::string> names = devs(t);
  const std::set<std::string> group(names.begin(), names.end());
  for (const auto& n : g.nodes) EXPECT_TRUE(group.count(n.hw.device)) << n.name;

  // Sharding of one layer.
  const Node& q = node(g, "model.decoder.layers.0.self_attn.q_proj@r1");
  EXPECT_EQ(q.param("weight")->tensor.shape, (Shape{192, 768}));
  EXPECT_EQ(q.param("bias")->tensor.shape, (Shape{192}));
  EXPECT_EQ(q.hw.device, "fpga1");
  const Node& view = node(g, "model.decoder.layers.0.self_attn.view@r2");
  EXPECT_EQ(view.results[0].shape, (Shape{1, 128, 3, 64}));
  EXPECT_EQ(view.results[0].shape_expr[1].name, "seq") << "dims stay symbolic";
  const Node& scores = node(g, "model.decoder.layers.0.self_attn.matmul@r0");
  EXPECT_EQ(scores.results[0].shape, (Shape{1, 3, 128, 128}));
  EXPECT_EQ(node(g, "model.decoder.layers.0.self_attn.reshape@r3").results[0].shape,
            (Shape{1, 128, 192}));
  EXPECT_EQ(node(g, "model.decoder.layers.0.fc1@r0").param("weight")->tensor.shape,
            (Shape{768, 768}));
  const Node& fc2 = node(g, "model.decoder.layers.0.fc2@r3");
  EXPECT_EQ(fc2.param("weight")->tensor.shape, (Shape{768, 768}));
  EXPECT_EQ(fc2.param("bias")->tensor.shape, (Shape{768}));
  EXPECT_EQ(fc2.results[0].shape, (Shape{1, 128, 768}));
  // The residual add takes the all-reduced tensor on its own rank.
  const Node& drop = node(g, "model.decoder.layers.0.dropout_1@r2");
  EXPECT_EQ(drop.args[0].node, "model.decoder.layers.0.fc2.allreduce.cat@r2");
  EXPECT_EQ(node(g, "lm_head@r1").param("weight")->tensor.shape, (Shape{50272 / 4, 768}));
  ASSERT_EQ(g.outputs.size(), 1u);
  EXPECT_EQ(g.outputs[0].node, "lm_head.cat@r0");
  EXPECT_EQ(g.tensor_of(g.outputs[0]).shape, (Shape{1, 128, 50272}));

  // Parameters: the original plus the replicas (by hand for OPT-125M: D 768, vocab 50272,
  // 2050 positions, 12 layers). The LM head's shards cannot stay tied to the embedding
  // table (the loader ties only parameters of the same shape), so they add vocab*D once.
  const std::int64_t D = 768, V = 50272, P = 2050, L = 12;
  const std::int64_t layer_norms = (2 * L + 1) * 2 * D, embeddings = (V + P) * D,
                     row_biases = 2 * L * D;
  EXPECT_EQ(summarize(g0).parameters, 125239296);
  EXPECT_EQ(summarize(g).parameters,
            summarize(g0).parameters + (t - 1) * (layer_norms + embeddings + row_biases) + V * D);

  // Traffic: every cross-device edge belongs to an all-reduce or to the logits gather (t-1
  // shards into rank 0); per all-reduce each rank sends 2(t-1) chunks, all to its ring
  // successor, 2(t-1)/t of the tensor per rank.
  const auto edges = cross_edges(g);
  EXPECT_EQ(edges.size(), static_cast<std::size_t>(24 * t * 2 * (t - 1) + (t - 1)));
  for (const auto& e : edges)
    if (e.consumer->name == "lm_head.cat@r0") {
      EXPECT_TRUE(starts_with(e.producer->name, "lm_head@r")) << e.producer->name;
      EXPECT_EQ(e.bytes, 128 * 50272 / t);
    }
  const std::int64_t tensor_bytes = node(g0, "model.decoder.layers.0.fc2").results[0].bytes();
  EXPECT_EQ(tensor_bytes, 128 * 768);
  for (const auto& ar : rep.all_reduces) {
    EXPECT_EQ(ar.devices, spec(t).devices);
    EXPECT_EQ(ar.tensor_bytes_expr_elems, 128 * 768);
    std::vector<int> sent(t, 0);
    std::int64_t bytes = 0;
    for (const auto& e : edges) {
      if (!in_all_reduce(e, ar.name)) continue;
      const int r = rank_of(ar.devices, e.producer->hw.device);
      const int c = rank_of(ar.devices, e.consumer->hw.device);
      ASSERT_GE(r, 0);
      EXPECT_EQ(c, (r + 1) % t) << e.producer->name << " -> " << e.consumer->name;
      ++sent[static_cast<std::size_t>(r)];
      bytes += e.bytes;
    }
    for (int r = 0; r < t; ++r)
      EXPECT_EQ(sent[static_cast<std::size_t>(r)], 2 * (t - 1)) << ar.name;
    EXPECT_EQ(bytes * t, 2 * (t - 1) * t * tensor_bytes) << ar.name;  // 2(t-1)/t · t · T
  }

  // Symbolic dims: the same tree binds to another sequence length.
  const Graph g512 = load_graph_yaml(tree, "opt125m_tp4", {{"seq", 512}});
  EXPECT_EQ(node(g512, "model.decoder.layers.3.self_attn.matmul@r1").results[0].shape,
            (Shape{1, 3, 512, 512}));
}

TEST(TensorParallel, DirectAllReduceSendsEachChunkToItsOwner) {
  const int t = 4;
  TensorParallelReport rep;
  const Graph g = load_graph_yaml(
      tensor_parallel_graph(yaml::load_file(kOpt125), kOpt125, spec(t, 1, "direct"), &rep),
      "opt125m_direct");
  ASSERT_EQ(rep.all_reduces.size(), 24u);
  const auto edges = cross_edges(g);
  EXPECT_EQ(edges.size(), static_cast<std::size_t>(24 * 2 * t * (t - 1) + (t - 1)));
  for (const auto& ar : rep.all_reduces) {
    int count = 0;
    std::int64_t bytes = 0;
    std::set<std::pair<int, int>> pairs;
    for (const auto& e : edges) {
      if (!in_all_reduce(e, ar.name)) continue;
      const int r = rank_of(ar.devices, e.producer->hw.device);
      const int c = rank_of(ar.devices, e.consumer->hw.device);
      ASSERT_GE(r, 0);
      ASSERT_GE(c, 0);
      EXPECT_NE(r, c);
      pairs.insert({r, c});
      ++count;
      bytes += e.bytes;
    }
    EXPECT_EQ(count, 2 * t * (t - 1)) << ar.name;
    EXPECT_EQ(pairs.size(), static_cast<std::size_t>(t * (t - 1))) << "every ordered pair";
    EXPECT_EQ(bytes, 2 * (t - 1) * 128 * 768) << ar.name;
  }
}

TEST(TensorParallel, HybridTwoStagesOfTwo) {
  const int t = 2;
  TensorParallelReport rep;
  const Graph g = load_graph_yaml(
      tensor_parallel_graph(yaml::load_file(kOpt125), kOpt125, spec(t, 2), &rep), "hybrid");
  EXPECT_EQ(rep.layers, 12);
  EXPECT_EQ(rep.layer_stage, (std::vector<int>{0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1}));
  ASSERT_EQ(rep.all_reduces.size(), 24u);
  const std::string pre = "model.decoder.layers.";
  for (const auto& n : g.nodes) {
    if (n.name.find(".to_stage") != std::string::npos) continue;  // pipeline receivers
    if (starts_with(n.name, pre)) {
      const int layer = std::stoi(n.name.substr(pre.size()));
      const std::set<std::string> want = layer < 6 ? std::set<std::string>{"fpga0", "fpga1"}
                                                   : std::set<std::string>{"fpga2", "fpga3"};
      EXPECT_TRUE(want.count(n.hw.device)) << n.name << " on " << n.hw.device;
    }
    if (starts_with(n.name, "model.decoder.embed")) {
      EXPECT_TRUE(n.hw.device == "fpga0" || n.hw.device == "fpga1") << n.name;
    }
  }
  EXPECT_EQ(node(g, "model.decoder.embed_tokens@r1").hw.device, "fpga1");
  EXPECT_EQ(node(g, "lm_head.cat@r0").hw.device, "fpga2");
  EXPECT_EQ(node(g, "lm_head@r1").hw.device, "fpga3");
  EXPECT_EQ(node(g, "model.decoder.final_layer_norm@r1").hw.device, "fpga3");
  ASSERT_EQ(g.outputs.size(), 1u);
  EXPECT_EQ(g.outputs[0].node, "lm_head.cat@r0");
  for (const auto& ar : rep.all_reduces)
    EXPECT_EQ(ar.devices, ar.layer < 6 ? (std::vector<std::string>{"fpga0", "fpga1"})
                                       : (std::vector<std::string>{"fpga2", "fpga3"}));
  // Between the stages: one point-to-point flow per rank, rank r -> rank r.
  auto stage = [](const std::string& d) { return d == "fpga0" || d == "fpga1" ? 0 : 1; };
  std::vector<std::pair<std::string, std::string>> between;
  for (const auto& e : cross_edges(g))
    if (stage(e.producer->hw.device) != stage(e.consumer->hw.device))
      between.emplace_back(e.producer->hw.device, e.consumer->hw.device);
  std::sort(between.begin(), between.end());
  EXPECT_EQ(between, (std::vector<std::pair<std::string, std::string>>{{"fpga0", "fpga2"},
                                                                       {"fpga1", "fpga3"}}));
}

TEST(TensorParallel, Tp1IsTheOriginalGraphOnOneDevice) {
  const Graph g0 = load_graph(kOpt125);
  TensorParallelReport rep;
  const Graph g = load_graph_yaml(
      tensor_parallel_graph(yaml::load_file(kOpt125), kOpt125, spec(1), &rep), "tp1");
  EXPECT_EQ(g.nodes.size(), g0.nodes.size());
  EXPECT_TRUE(rep.all_reduces.empty());
  EXPECT_EQ(rep.layers, 12);
  for (const auto& n : g.nodes) EXPECT_EQ(n.hw.device, "fpga0") << n.name;
  EXPECT_EQ(summarize(g).parameters, summarize(g0).parameters) << "the LM head stays tied";
  EXPECT_EQ(summarize(g).macs, summarize(g0).macs);
  EXPECT_EQ(node(g, "lm_head@r0").param("weight")->shared_with,
            "model.decoder.embed_tokens@r0.weight");
  EXPECT_TRUE(cross_edges(g).empty());
}

TEST(TensorParallel, ShardingKeepsMacs) {
  // Column/row sharding splits every GEMM exactly; only the replicated LM head is gathered.
  const Graph g0 = load_graph(kOpt125);
  const Graph g =
      load_graph_yaml(tensor_parallel_graph(yaml::load_file(kOpt125), kOpt125, spec(2)), "tp2");
  EXPECT_EQ(summarize(g).macs, summarize(g0).macs);
}

TEST(TensorParallel, BadInputsAreInputErrors) {
  const std::string heads = message_of(kOpt125, spec(5));
  EXPECT_NE(heads.find("12 attention heads"), std::string::npos) << heads;
  EXPECT_NE(heads.find("tp=5"), std::string::npos) << heads;
  EXPECT_NE(heads.find(kOpt125), std::string::npos) << heads;
  EXPECT_NE(heads.find("model.decoder.layers.0.self_attn.view"), std::string::npos) << heads;
  const std::string heads8 = message_of(kOpt125, spec(8));
  EXPECT_NE(heads8.find("12 attention heads"), std::string::npos) << heads8;

  TensorParallelSpec s = spec(4);
  s.devices.pop_back();
  const std::string count = message_of(kOpt125, s);
  EXPECT_NE(count.find("3 devices given"), std::string::npos) << count;
  s = spec(2);
  s.devices[1] = s.devices[0];
  EXPECT_NE(message_of(kOpt125, s).find("listed twice"), std::string::npos);
  EXPECT_NE(message_of(kOpt125, spec(2, 1, "rings")).find("did you mean"), std::string::npos);
  EXPECT_NE(message_of(kOpt125, spec(1, 13)).find("only 12 transformer layers"), std::string::npos);

  const std::string mnist = kGraphs + "mnist_cnn.yaml";
  const std::string none = message_of(mnist, spec(2));
  EXPECT_NE(none.find(mnist), std::string::npos) << none;
  EXPECT_NE(none.find("no transformer layer"), std::string::npos) << none;

  // A layer that does not fit: an op the region cannot shard (layer_norm inside it).
  YAML::Node tree = yaml::load_file(kOpt125);
  for (auto n : tree["nodes"])
    if (n["name"].as<std::string>() == "model.decoder.layers.4.relu") n["op"] = "layer_norm";
  try {
    tensor_parallel_graph(tree, "edited.json", spec(2));
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("edited.json"), std::string::npos) << m;
    EXPECT_NE(m.find("model.decoder.layers.4.relu"), std::string::npos) << m;
    EXPECT_NE(m.find("not supported inside a tensor-parallel region"), std::string::npos) << m;
  }
}

TEST(TensorParallel, Opt13bTp8Loads) {
  TensorParallelReport rep;
  const Graph g = load_graph_yaml(
      tensor_parallel_graph(yaml::load_file(kOpt13b), kOpt13b, spec(8), &rep), "opt13b_tp8");
  EXPECT_EQ(rep.layers, 24);
  EXPECT_EQ(rep.all_reduces.size(), 48u);
  EXPECT_EQ(node(g, "model.decoder.layers.23.self_attn.q_proj@r7").param("weight")->tensor.shape,
            (Shape{256, 2048}));
  EXPECT_EQ(node(g, "model.decoder.layers.23.self_attn.view@r7").results[0].shape,
            (Shape{1, 128, 4, 64}));
  EXPECT_EQ(node(g, "model.decoder.layers.23.fc2@r7").param("weight")->tensor.shape,
            (Shape{2048, 1024}));
}

// OPT-1.3B at tp=4 and tp=16: the rewrite's node counts (the time it takes is measured
// in bench/, not asserted here).
TEST(TensorParallel, Opt13bNodeCounts) {
  const YAML::Node tree = yaml::load_file(kOpt13b);
  EXPECT_EQ(tensor_parallel_graph(tree, kOpt13b, spec(4))["nodes"].size(), 4825u);
  EXPECT_EQ(tensor_parallel_graph(tree, kOpt13b, spec(16))["nodes"].size(), 46945u);
}

// GPT-2's vocabulary (50,257) is prime to 2 and 4: the LM head splits unevenly, the first
// 50,257 % t ranks holding one row more, and the gathered logits are the whole vocabulary.
TEST(TensorParallel, Gpt2LmHeadSplitsUnevenly) {
  const std::string gpt2 = kGraphs + "gpt2_int8.json";
  const Graph g0 = load_graph(gpt2);
  const Node* head0 = nullptr;
  for (const auto& n : g0.nodes)
    if (n.op == "linear" && n.results[0].shape.back() == 50257) head0 = &n;
  ASSERT_NE(head0, nullptr);
  for (const int tp : {2, 4}) {
    const Graph g = load_graph_yaml(tensor_parallel_graph(yaml::load_file(gpt2), gpt2, spec(tp)),
                                    "tp" + std::to_string(tp));
    std::int64_t rows = 0;
    for (int r = 0; r < tp; ++r) {
      const Node& h = node(g, head0->name + "@r" + std::to_string(r));
      const std::int64_t want = 50257 / tp + (r < 50257 % tp ? 1 : 0);
      EXPECT_EQ(h.results[0].shape.back(), want) << "tp " << tp << " rank " << r;
      EXPECT_EQ(h.param("weight")->tensor.shape[0], want);
      rows += h.param("weight")->tensor.shape[0];
    }
    EXPECT_EQ(rows, 50257);
    EXPECT_EQ(node(g, head0->name + ".cat@r0").results[0].shape.back(), 50257);
    EXPECT_EQ(summarize(g).macs, summarize(g0).macs) << "tp " << tp;
  }
}
