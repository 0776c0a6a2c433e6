// Unit tests (kernel-free) of the LLM additions: the slice / cat / kv_cache op rules,
// padded tiling and the kv_cache / slice cost models, the llm_graph rewrite of a decoder
// graph, rebind_dims, BusyCalendar::prune_before and MemoryChannels::serve.
// Every expected value is worked out by hand in the comment next to it.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "models/calendar.hpp"
#include "models/memory_timing.hpp"
#include "models/op_cost.hpp"
#include "models/ops/registry.hpp"
#include "sim/llm/llm.hpp"
#include "workloads/error.hpp"
#include "workloads/graph.hpp"
#include "workloads/yaml_util.hpp"

using namespace masesim;

namespace {

const std::string kGraphs = std::string(MASESIM_SOURCE_DIR) + "/workloads/graphs/";
const std::string kOpt125 = kGraphs + "opt125m_int8.json";
const std::string kMnist = kGraphs + "mnist_cnn.yaml";

const std::string kL0 = "model.decoder.layers.0.self_attn.";

AttrValue num(double v) {
  AttrValue a;
  a.kind = AttrValue::Kind::Number;
  a.number = v;
  return a;
}

Node make_node(const std::string& op, const std::map<std::string, double>& attrs) {
  Node n;
  n.name = "n";
  n.op = op;
  for (const auto& [k, v] : attrs) n.attrs[k] = num(v);
  return n;
}

std::vector<Shape> infer(const Node& n, const std::vector<Shape>& in) {
  const OpSchema* r = find_op_schema(n.op);
  if (!r) throw std::logic_error("no op rule " + n.op);
  return r->infer(n, in);
}

/// The InputError message of `f`, or "<no throw>".
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "<no throw>";
}

const Node& node(const Graph& g, const std::string& name) {
  const Node* n = g.find_node(name);
  if (!n) throw std::logic_error("no node " + name);
  return *n;
}

const std::string kP = "{type: fixed, width: 8, frac_width: 4}";

// x [1, seq, 64] int8 -> kv_cache (dim 1) -> [1, ctx, 64].
const std::string kKvGraph = R"(format: mase-graph
version: 1
name: kv
dims: {seq: 1, ctx: 1}
inputs:
  - {name: x, shape: [1, seq, 64], precision: )" +
                             kP + R"(}
nodes:
  - {name: kv, op: kv_cache, args: {data_in_0: x}, attrs: {dim: 1},
     results: {data_out_0: {shape: [1, ctx, 64], precision: )" +
                             kP + R"(}}}
outputs: [kv]
)";

// x [1, 128, 64] int8 -> slice (dim, start, end) -> out_shape.
std::string slice_graph(int dim, int start, int end, const std::string& out_shape) {
  return R"(format: mase-graph
version: 1
name: sl
inputs:
  - {name: x, shape: [1, 128, 64], precision: )" +
         kP + R"(}
nodes:
  - {name: s, op: slice, args: {data_in_0: x}, attrs: {dim: )" +
         std::to_string(dim) + ", start: " + std::to_string(start) +
         ", end: " + std::to_string(end) + R"(},
     results: {data_out_0: {shape: )" +
         out_shape + ", precision: " + kP + R"(}}}
outputs: [s]
)";
}

// One linear on a graph with a seq dim but no attention.
const std::string kTinyLinear = R"(format: mase-graph
version: 1
name: tiny
dims: {seq: 4}
inputs:
  - {name: x, shape: [1, seq, 16], precision: )" +
                                kP + R"(}
nodes:
  - name: fc
    op: linear
    args: {data_in_0: x}
    params: {weight: {shape: [8, 16], precision: )" +
                                kP + R"(}}
    results: {data_out_0: {shape: [1, seq, 8], precision: )" +
                                kP + R"(}}
outputs: [fc]
)";

/// NodeHw of a one-input node with tile {8} on both ports.
NodeHw hw8(const Graph& g, const Node& n) {
  NodeHw hw;
  hw.in = {tile_port(g.tensor_of(n.args[0]).shape, {8})};
  hw.out = tile_port(n.results[0].shape, {8});
  return hw;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// 1. Op rules: slice, cat, kv_cache

TEST(LlmUnit, SliceRuleRegistered) {
  const OpSchema* r = find_op_schema("slice");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->cls, OpClass::Wire);
  EXPECT_EQ(r->min_inputs, 1);
  EXPECT_EQ(r->max_inputs, 1);
  EXPECT_EQ(r->attrs_allowed, (std::vector<std::string>{"dim", "start", "end"}));
}

TEST(LlmUnit, SliceShapes) {
  const Shape x{1, 128, 64};
  // dim -2 = dim 1 (size 128); start -1 -> 127, end defaults to 128: one token.
  EXPECT_EQ(infer(make_node("slice", {{"dim", -2}, {"start", -1}}), {x})[0], (Shape{1, 1, 64}));
  // dim 1, [10, -10) -> [10, 118): 108 rows.
  EXPECT_EQ(infer(make_node("slice", {{"dim", 1}, {"start", 10}, {"end", -10}}), {x})[0],
            (Shape{1, 108, 64}));
  // dim defaults to -1 (size 64): [0, 32) -> 32.
  EXPECT_EQ(infer(make_node("slice", {{"end", 32}}), {x})[0], (Shape{1, 128, 32}));
  // No start/end: the whole dim.
  EXPECT_EQ(infer(make_node("slice", {{"dim", 0}}), {x})[0], x);
  // start -128 -> 0, end -64 -> 64 on dim 1: 64 rows.
  EXPECT_EQ(infer(make_node("slice", {{"dim", 1}, {"start", -128}, {"end", -64}}), {x})[0],
            (Shape{1, 64, 64}));
}

TEST(LlmUnit, SliceRejectsEmptyOrOutOfRange) {
  const Shape x{1, 128, 64};
  using M = std::map<std::string, double>;
  for (const M& a : {M{{"dim", 1}, {"start", 5}, {"end", 5}},      // empty [5, 5)
                     M{{"dim", 1}, {"start", 10}, {"end", 5}},     // reversed
                     M{{"dim", 1}, {"start", 0}, {"end", 129}},    // end past 128
                     M{{"dim", 1}, {"start", -129}},               // -129 + 128 = -1 < 0
                     M{{"dim", 1}, {"start", 128}},                // [128, 128) empty
                     M{{"dim", 1}, {"start", -1}, {"end", -1}},    // [127, 127) empty
                     M{{"dim", 3}, {"start", 0}, {"end", 1}},      // dim 3 of rank 3
                     M{{"dim", -4}, {"start", 0}, {"end", 1}}}) {  // dim -4 of rank 3
    const Node n = make_node("slice", a);
    EXPECT_THROW(infer(n, {x}), InputError)
        << "start " << n.attr_int("start", 0) << " end " << n.attr_int("end", 0) << " dim "
        << n.attr_int("dim", 0);
  }
  EXPECT_NE(error_of([&] {
              infer(make_node("slice", {{"dim", 1}, {"start", 5}, {"end", 5}}), {x});
            }).find("empty or outside dim 1 of size 128"),
            std::string::npos);
}

TEST(LlmUnit, CatRuleArityAndShapes) {
  const OpSchema* r = find_op_schema("cat");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->cls, OpClass::Wire);
  EXPECT_EQ(r->min_inputs, 1);  // one input needs a constant operand (param other)
  EXPECT_EQ(r->max_inputs, 64);
  EXPECT_THROW(infer(make_node("cat", {{"dim", 1}}), {{1, 3, 8}}), InputError);
  // dim 1: 3 + 5 + 2 = 10.
  EXPECT_EQ(infer(make_node("cat", {{"dim", 1}}), {{1, 3, 8}, {1, 5, 8}, {1, 2, 8}})[0],
            (Shape{1, 10, 8}));
  // dim defaults to -1: 3 + 4 = 7.
  EXPECT_EQ(infer(make_node("cat", {}), {{2, 3}, {2, 4}})[0], (Shape{2, 7}));
  // dim -3 of rank 3 is dim 0: 1 + 2 = 3.
  EXPECT_EQ(infer(make_node("cat", {{"dim", -3}}), {{1, 3, 8}, {2, 3, 8}})[0], (Shape{3, 3, 8}));
  // 64 inputs of [1, 1] along dim 0: [64, 1].
  EXPECT_EQ(infer(make_node("cat", {{"dim", 0}}), std::vector<Shape>(64, Shape{1, 1}))[0],
            (Shape{64, 1}));
}

TEST(LlmUnit, CatRejectsMismatches) {
  // Ranks 3 and 2.
  EXPECT_THROW(infer(make_node("cat", {{"dim", 1}}), {{1, 3, 8}, {3, 8}}), InputError);
  // Last dims 8 and 9 differ outside the cat dim 1.
  EXPECT_NE(error_of([] {
              infer(make_node("cat", {{"dim", 1}}), {{1, 3, 8}, {1, 3, 9}});
            }).find("outside dim 1"),
            std::string::npos);
  // The third input differs in dim 0.
  EXPECT_THROW(infer(make_node("cat", {{"dim", 2}}), {{1, 3, 8}, {1, 3, 8}, {2, 3, 8}}),
               InputError);
  // dim 3 of rank 3.
  EXPECT_THROW(infer(make_node("cat", {{"dim", 3}}), {{1, 3, 8}, {1, 3, 8}}), InputError);
}

TEST(LlmUnit, CatArityEnforcedByLoader) {
  // The loader enforces 2..64 arguments from the rule: 1 and 65 are errors, 64 loads.
  auto graph = [](int inputs) {
    std::string t =
        "format: mase-graph\nversion: 1\nname: c\ninputs:\n  - {name: x, shape: [1, 4], "
        "precision: " +
        kP + "}\nnodes:\n  - {name: c, op: cat, attrs: {dim: 0}, args: {";
    for (int i = 0; i < inputs; ++i)
      t += (i ? ", " : "") + std::string("data_in_") + std::to_string(i) + ": x";
    t += "}, results: {data_out_0: {shape: [" + std::to_string(inputs) + ", 4], precision: " + kP +
         "}}}\noutputs: [c]\n";
    return t;
  };
  EXPECT_NO_THROW(load_graph_text(graph(64), "cat64.yaml"));
  EXPECT_NO_THROW(load_graph_text(graph(2), "cat2.yaml"));
  EXPECT_THROW(load_graph_text(graph(1), "cat1.yaml"), InputError);
  EXPECT_THROW(load_graph_text(graph(65), "cat65.yaml"), InputError);
}

TEST(LlmUnit, KvCacheRuleShape) {
  const OpSchema* r = find_op_schema("kv_cache");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->cls, OpClass::KvCache);
  EXPECT_EQ(r->min_inputs, 1);
  EXPECT_EQ(r->max_inputs, 1);
  Node n = make_node("kv_cache", {{"dim", 2}});
  n.results.resize(1);
  // Only dim 2 comes from the result (the context, 100); the rest from data_in_0.
  n.results[0].shape = {1, 7, 100, 64};
  EXPECT_EQ(infer(n, {{1, 12, 1, 64}})[0], (Shape{1, 12, 100, 64}));
  // dim -2 is the same axis.
  n.attrs["dim"] = num(-2);
  EXPECT_EQ(infer(n, {{1, 12, 1, 64}})[0], (Shape{1, 12, 100, 64}));
  // Prefill: context == new tokens.
  n.results[0].shape = {1, 12, 5, 64};
  EXPECT_EQ(infer(n, {{1, 12, 5, 64}})[0], (Shape{1, 12, 5, 64}));
}

TEST(LlmUnit, KvCacheRuleRejects) {
  Node n = make_node("kv_cache", {{"dim", 2}});
  // No result to take the context from.
  EXPECT_THROW(infer(n, {{1, 12, 1, 64}}), InputError);
  n.results.resize(1);
  // Rank 3 result for a rank 4 input.
  n.results[0].shape = {1, 12, 100};
  EXPECT_THROW(infer(n, {{1, 12, 1, 64}}), InputError);
  // Context 4 shorter than 5 new tokens.
  n.results[0].shape = {1, 12, 4, 64};
  EXPECT_NE(error_of([&] {
              infer(n, {{1, 12, 5, 64}});
            }).find("the context 4 is shorter than the 5 new tokens"),
            std::string::npos);
  // dim out of range.
  n.attrs["dim"] = num(4);
  n.results[0].shape = {1, 12, 100, 64};
  EXPECT_THROW(infer(n, {{1, 12, 1, 64}}), InputError);
}

TEST(LlmUnit, KvCacheContextShorterThanSeqRejectedByLoader) {
  EXPECT_NO_THROW(load_graph_text(kKvGraph, "kv.yaml", {{"seq", 5}, {"ctx", 5}}));
  EXPECT_NE(error_of([] {
              load_graph_text(kKvGraph, "kv.yaml", {{"seq", 5}, {"ctx", 4}});
            }).find("shorter"),
            std::string::npos);
}

// ---------------------------------------------------------------------------------------
// 2. Padded tiling and the kv_cache / slice cost models

TEST(LlmUnit, TilePortPadded) {
  // [1,12,1,129] by 8: ceil(129/8) = 17 beats per row, 1*12*1 = 12 rows -> 204 beats.
  const PortTiling t = tile_port_padded({1, 12, 1, 129}, {8});
  EXPECT_EQ(t.elems_per_beat, 8);
  EXPECT_EQ(t.beats, 204);
  EXPECT_EQ(t.tile, (std::vector<std::int64_t>{8}));
  // Two tiled dims: [4,10,6] by [4,4]: 4 * ceil(10/4)=3 * ceil(6/4)=2 = 24 beats of 16.
  const PortTiling t2 = tile_port_padded({4, 10, 6}, {4, 4});
  EXPECT_EQ(t2.elems_per_beat, 16);
  EXPECT_EQ(t2.beats, 24);
  // Where the tile divides, the same as tile_port: [1,12,1,128]/8 = 1536/8 = 192;
  // [2,8,12]/[4,4] = 192/16 = 12.
  for (const auto& [shape, par] : std::vector<std::pair<Shape, std::vector<std::int64_t>>>{
           {{1, 12, 1, 128}, {8}}, {{2, 8, 12}, {4, 4}}, {{3, 5}, {1}}}) {
    const PortTiling a = tile_port(shape, par), b = tile_port_padded(shape, par);
    EXPECT_EQ(a.beats, b.beats) << shape_to_string(shape);
    EXPECT_EQ(a.elems_per_beat, b.elems_per_beat) << shape_to_string(shape);
  }
  EXPECT_EQ(tile_port_padded({1, 12, 1, 128}, {8}).beats, 192);
  EXPECT_EQ(tile_port_padded({2, 8, 12}, {4, 4}).beats, 12);
  // A tile wider than the dim: [5, 3] by 8 -> 5 * ceil(3/8)=1 = 5 beats.
  EXPECT_EQ(tile_port_padded({5, 3}, {8}).beats, 5);
}

TEST(LlmUnit, KvCacheTimingDecodeOnChip) {
  const Graph g = load_graph_text(kKvGraph, "test.yaml", {{"seq", 1}, {"ctx", 100}});
  const Node& n = node(g, "kv");
  NodeHw hw = hw8(g, n);
  ASSERT_EQ(hw.in[0].beats, 8);  // [1,1,64] / 8
  ASSERT_EQ(hw.out.beats, 800);  // [1,100,64] / 8
  hw.kv_off_chip = false;
  hw.kv_capacity_bytes = 6400;
  const OpTiming t = op_timing(g, n, hw);
  EXPECT_EQ(t.engine, OpTiming::Engine::Streaming);
  EXPECT_EQ(t.in_beats, (std::vector<std::int64_t>{8}));
  EXPECT_EQ(t.out_beats, 800);
  // 800 - ceil(800 * 1 / 100) = 800 - 8 = 792 beats come from the cache.
  EXPECT_EQ(t.cached_out_beats, 792);
  EXPECT_EQ(t.mem_read_bytes, 0);
  EXPECT_EQ(t.mem_read_chunks, 0);
  EXPECT_EQ(t.mem_write_bytes, 0);
  EXPECT_EQ(t.kv_bytes_on_chip, 6400);
  EXPECT_EQ(t.ideal_cycles(), 800);  // max(out 800, in 8)
}

TEST(LlmUnit, KvCacheTimingDecodeOffChip) {
  const Graph g = load_graph_text(kKvGraph, "test.yaml", {{"seq", 1}, {"ctx", 100}});
  const Node& n = node(g, "kv");
  NodeHw hw = hw8(g, n);
  hw.kv_off_chip = true;
  hw.kv_capacity_bytes = 6400;
  const OpTiming t = op_timing(g, n, hw);
  EXPECT_EQ(t.engine, OpTiming::Engine::Streaming);
  EXPECT_EQ(t.out_beats, 800);
  EXPECT_EQ(t.cached_out_beats, 792);
  // A token is 64 int8 = 64 bytes: read the 99 old ones, write the new one.
  EXPECT_EQ(t.mem_read_bytes, 99 * 64);  // 6336
  EXPECT_EQ(t.mem_read_chunks, 1);       // ceil(6336 / 16384)
  EXPECT_EQ(t.mem_write_bytes, 64);
  EXPECT_EQ(t.kv_bytes_on_chip, 0);
}

TEST(LlmUnit, KvCacheTimingOffChipSeveralChunks) {
  // ctx 300: read 299 * 64 = 19136 bytes in ceil(19136 / 16384) = 2 chunks; out beats
  // 300*64/8 = 2400, cached 2400 - ceil(2400 / 300) = 2392.
  const Graph g = load_graph_text(kKvGraph, "test.yaml", {{"seq", 1}, {"ctx", 300}});
  const Node& n = node(g, "kv");
  NodeHw hw = hw8(g, n);
  hw.kv_off_chip = true;
  const OpTiming t = op_timing(g, n, hw);
  EXPECT_EQ(t.out_beats, 2400);
  EXPECT_EQ(t.cached_out_beats, 2392);
  EXPECT_EQ(t.mem_read_bytes, 19136);
  EXPECT_EQ(t.mem_read_chunks, 2);
  EXPECT_EQ(t.mem_write_bytes, 64);
}

TEST(LlmUnit, KvCacheTimingPrefill) {
  const Graph g = load_graph_text(kKvGraph, "test.yaml", {{"seq", 100}, {"ctx", 100}});
  const Node& n = node(g, "kv");
  NodeHw hw = hw8(g, n);
  ASSERT_EQ(hw.in[0].beats, 800);
  hw.kv_off_chip = true;
  hw.kv_capacity_bytes = 6400;
  const OpTiming off = op_timing(g, n, hw);
  // Every output beat is a new token: 800 - ceil(800 * 100 / 100) = 0 cached.
  EXPECT_EQ(off.cached_out_beats, 0);
  EXPECT_EQ(off.mem_write_bytes, 6400);  // 100 tokens x 64 bytes
  EXPECT_EQ(off.mem_read_bytes, 0);
  EXPECT_EQ(off.mem_read_chunks, 0);
  hw.kv_off_chip = false;
  const OpTiming on = op_timing(g, n, hw);
  EXPECT_EQ(on.cached_out_beats, 0);
  EXPECT_EQ(on.mem_write_bytes, 0);
  EXPECT_EQ(on.kv_bytes_on_chip, 6400);
}

TEST(LlmUnit, SliceTimingLastToken) {
  const Graph g = load_graph_text(slice_graph(-2, -1, 128, "[1, 1, 64]"), "slice.yaml");
  const Node& n = node(g, "s");
  const NodeHw hw = hw8(g, n);
  const OpTiming t = op_timing(g, n, hw);
  EXPECT_EQ(t.engine, OpTiming::Engine::Streaming);
  EXPECT_EQ(t.in_beats, (std::vector<std::int64_t>{1024}));  // 128*64 / 8
  EXPECT_EQ(t.out_beats, 8);                                 // 64 / 8
  // The 127 rows before the last are read before the first output: 1024 * 127 / 128.
  EXPECT_EQ(t.preload_beats, (std::vector<std::int64_t>{1016}));
  EXPECT_EQ(t.latency_cycles, 0);
}

TEST(LlmUnit, SliceTimingOtherRanges) {
  // Rows [32, 96) of dim 1: 1024 * 32 / 128 = 256 beats before the first output.
  {
    const Graph g = load_graph_text(slice_graph(1, 32, 96, "[1, 64, 64]"), "slice.yaml");
    const OpTiming t = op_timing(g, node(g, "s"), hw8(g, node(g, "s")));
    EXPECT_EQ(t.preload_beats, (std::vector<std::int64_t>{256}));
    EXPECT_EQ(t.out_beats, 512);  // 64*64 / 8
  }
  // A slice of the last dim keeps every row: streams in proportion, no preload.
  {
    const Graph g = load_graph_text(slice_graph(-1, 32, 64, "[1, 128, 32]"), "slice.yaml");
    const OpTiming t = op_timing(g, node(g, "s"), hw8(g, node(g, "s")));
    EXPECT_EQ(t.preload_beats, (std::vector<std::int64_t>{0}));
    EXPECT_EQ(t.out_beats, 512);  // 128*32 / 8
  }
}

// ---------------------------------------------------------------------------------------
// 3. llm_graph on OPT-125M

namespace {

struct Opt125 {
  YAML::Node tree;
  std::size_t nodes_before = 0;
  YAML::Node rewritten;
  LlmGraphInfo info;
};

const Opt125& opt125() {
  static const Opt125 o = [] {
    Opt125 r;
    r.tree = yaml::load_file(kOpt125);
    r.nodes_before = r.tree["nodes"].size();
    r.rewritten = llm_graph(r.tree, kOpt125, &r.info);
    return r;
  }();
  return o;
}

}  // namespace

TEST(LlmUnit, LlmGraphInsertsKvCachesAndSlice) {
  const Opt125& o = opt125();
  // Two attention matmuls (scores Q.K^T, then P.V) per layer, 12 layers.
  ASSERT_EQ(o.info.kv_nodes.size(), 24u);
  EXPECT_EQ(o.info.kv_nodes[0], kL0 + "matmul.kv_cache");
  EXPECT_EQ(o.info.kv_nodes[1], kL0 + "matmul_1.kv_cache");
  // The slice is named after the producer of lm_head's input.
  EXPECT_EQ(o.info.last_token_slice, "model.decoder.final_layer_norm.last_token");
  // The input tree is untouched (342 nodes); the result has 24 + 1 more.
  EXPECT_EQ(o.nodes_before, 342u);
  EXPECT_EQ(o.tree["nodes"].size(), o.nodes_before);
  EXPECT_FALSE(o.tree["dims"]["ctx"]);
  EXPECT_EQ(o.rewritten["nodes"].size(), o.nodes_before + 25);
  EXPECT_TRUE(o.rewritten["dims"]["ctx"]);
}

TEST(LlmUnit, LlmGraphDecodeShapes) {
  const Opt125& o = opt125();
  const Graph g = load_graph_yaml(o.rewritten, kOpt125, {{"seq", 1}, {"ctx", 300}});
  EXPECT_EQ(node(g, kL0 + "matmul").results[0].shape, (Shape{1, 12, 1, 300}));
  EXPECT_EQ(node(g, kL0 + "softmax").results[0].shape, (Shape{1, 12, 1, 300}));
  EXPECT_EQ(node(g, kL0 + "dropout").results[0].shape, (Shape{1, 12, 1, 300}));
  EXPECT_EQ(node(g, kL0 + "matmul_1").results[0].shape, (Shape{1, 12, 1, 64}));
  EXPECT_EQ(node(g, "lm_head").results[0].shape, (Shape{1, 1, 50272}));
  // K^T cache [1,12,64,ctx] on dim 3, V cache [1,12,ctx,64] on dim 2.
  const Node& k = node(g, kL0 + "matmul.kv_cache");
  EXPECT_EQ(k.op, "kv_cache");
  EXPECT_EQ(k.attr_int("dim", -99), 3);
  EXPECT_EQ(k.results[0].shape, (Shape{1, 12, 64, 300}));
  EXPECT_EQ(g.tensor_of(k.args[0]).shape, (Shape{1, 12, 64, 1}));
  const Node& v = node(g, kL0 + "matmul_1.kv_cache");
  EXPECT_EQ(v.attr_int("dim", -99), 2);
  EXPECT_EQ(v.results[0].shape, (Shape{1, 12, 300, 64}));
  EXPECT_EQ(node(g, kL0 + "matmul").args[1].node, k.name);
  EXPECT_EQ(node(g, kL0 + "matmul_1").args[1].node, v.name);
  // lm_head reads the last-token slice [1,1,768].
  const Node& s = node(g, "model.decoder.final_layer_norm.last_token");
  EXPECT_EQ(s.op, "slice");
  EXPECT_EQ(s.results[0].shape, (Shape{1, 1, 768}));
  EXPECT_EQ(node(g, "lm_head").args[0].node, s.name);
  int kv = 0;
  for (const auto& n : g.nodes) kv += n.op == "kv_cache";
  EXPECT_EQ(kv, 24);
  EXPECT_EQ(g.nodes.size(), 367u);  // 342 + 24 + 1
}

TEST(LlmUnit, LlmGraphRebindToPrefill) {
  const Opt125& o = opt125();
  const Graph g1 = load_graph_yaml(o.rewritten, kOpt125, {{"seq", 1}, {"ctx", 300}});
  const Graph g = rebind_dims(g1, {{"seq", 128}, {"ctx", 128}});
  EXPECT_EQ(g.dims.at("seq"), 128);
  EXPECT_EQ(g.dims.at("ctx"), 128);
  EXPECT_EQ(node(g, kL0 + "matmul").results[0].shape, (Shape{1, 12, 128, 128}));
  EXPECT_EQ(node(g, kL0 + "softmax").results[0].shape, (Shape{1, 12, 128, 128}));
  EXPECT_EQ(node(g, kL0 + "matmul_1").results[0].shape, (Shape{1, 12, 128, 64}));
  EXPECT_EQ(node(g, "lm_head").results[0].shape, (Shape{1, 1, 50272}));
  EXPECT_EQ(node(g, "model.decoder.final_layer_norm").results[0].shape, (Shape{1, 128, 768}));
  // View attrs (shape [batch, seq, 12, 64]) are re-resolved too.
  EXPECT_EQ(node(g, kL0 + "view").results[0].shape, (Shape{1, 128, 12, 64}));
  // The source graph keeps its dims.
  EXPECT_EQ(node(g1, kL0 + "matmul").results[0].shape, (Shape{1, 12, 1, 300}));
}

TEST(LlmUnit, LlmGraphKvBytesPerToken) {
  // OPT-125M int8: K and V of 12 heads x 64 = 768 values of 1 byte per layer each:
  // 2 x 12 layers x 768 x 1 = 18432 bytes per token. The same at seq 1 and seq 128.
  const Opt125& o = opt125();
  for (const std::int64_t seq : {1, 128}) {
    const Graph g = load_graph_yaml(o.rewritten, kOpt125, {{"seq", seq}, {"ctx", 300}});
    std::int64_t bytes = 0;
    int kv = 0;
    for (const auto& n : g.nodes) {
      if (n.op != "kv_cache") continue;
      ++kv;
      const Tensor& in = g.tensor_of(n.args[0]);
      EXPECT_EQ(in.precision.bits_per_element(), 8.0) << n.name;
      bytes += in.numel() / g.dims.at("seq") *
               static_cast<std::int64_t>(in.precision.bits_per_element() / 8);
    }
    EXPECT_EQ(kv, 24);
    EXPECT_EQ(bytes, 18432) << "seq " << seq;
  }
}

TEST(LlmUnit, LlmGraphNeedsSeqDim) {
  const YAML::Node tree = yaml::load_file(kMnist);
  const std::string msg = error_of([&] { llm_graph(tree, kMnist); });
  EXPECT_NE(msg.find(kMnist), std::string::npos) << msg;
  EXPECT_NE(msg.find("seq"), std::string::npos) << msg;
}

TEST(LlmUnit, LlmGraphNeedsAttention) {
  // The graph itself is valid.
  ASSERT_NO_THROW(load_graph_text(kTinyLinear, "tiny.yaml"));
  const YAML::Node tree = yaml::load_text(kTinyLinear, "tiny.yaml");
  LlmGraphInfo info;
  const std::string msg = error_of([&] { llm_graph(tree, "tiny.yaml", &info); });
  EXPECT_NE(msg.find("tiny.yaml"), std::string::npos) << msg;
  EXPECT_NE(msg.find("attention"), std::string::npos) << msg;
}

// ---------------------------------------------------------------------------------------
// 4. rebind_dims errors

TEST(LlmUnit, RebindDimsErrors) {
  const Graph g = load_graph_text(kKvGraph, "kv.yaml", {{"seq", 1}, {"ctx", 100}});
  const std::string unknown = error_of([&] { rebind_dims(g, {{"tokens", 4}}); });
  EXPECT_NE(unknown.find("tokens"), std::string::npos) << unknown;
  const std::string zero = error_of([&] { rebind_dims(g, {{"seq", 0}}); });
  EXPECT_NE(zero.find("positive"), std::string::npos) << zero;
  EXPECT_THROW(rebind_dims(g, {{"ctx", -3}}), InputError);
  // Valid values that break a shape rule: ctx 4 < seq 5.
  EXPECT_THROW(rebind_dims(g, {{"seq", 5}, {"ctx", 4}}), InputError);
  // And a valid rebind: [1,5,64] -> [1,9,64].
  const Graph r = rebind_dims(g, {{"seq", 5}, {"ctx", 9}});
  EXPECT_EQ(node(r, "kv").results[0].shape, (Shape{1, 9, 64}));
  EXPECT_EQ(r.find_input("x")->tensor.shape, (Shape{1, 5, 64}));
}

// ---------------------------------------------------------------------------------------
// 5. BusyCalendar::prune_before

TEST(LlmUnit, CalendarPruneBefore) {
  auto booked = [] {
    BusyCalendar c;
    EXPECT_EQ(c.reserve(0, 10), 0u);
    EXPECT_EQ(c.reserve(20, 10), 20u);
    EXPECT_EQ(c.reserve(40, 10), 40u);
    EXPECT_EQ(c.intervals(), 3u);
    return c;
  };
  {
    BusyCalendar c = booked();
    // [0,10) and [20,30) end at or before 30; [40,50) stays.
    c.prune_before(30);
    EXPECT_EQ(c.intervals(), 1u);
    // [35,40) fits the gap before 40.
    EXPECT_EQ(c.reserve(35, 5), 35u);
  }
  {
    BusyCalendar c = booked();
    c.prune_before(30);
    // 10 ps do not fit in [35,40): after 50.
    EXPECT_EQ(c.reserve(35, 10), 50u);
  }
  {
    BusyCalendar c = booked();
    c.prune_before(30);
    EXPECT_EQ(c.reserve(35, 5), 35u);   // [35,40) merges with [40,50)
    EXPECT_EQ(c.intervals(), 1u);       // [35,50)
    EXPECT_EQ(c.reserve(35, 10), 50u);  // busy until 50
  }
  {
    // An interval that ends after h is kept: [20,30) survives prune_before(25).
    BusyCalendar c = booked();
    c.prune_before(25);
    EXPECT_EQ(c.intervals(), 2u);
    EXPECT_EQ(c.reserve(25, 5), 30u);
  }
  {
    // The pruned intervals are forgotten (a request before h, which the caller promises
    // never to make, would no longer see them): reserve(0, 10) lands at 0, not at 50.
    BusyCalendar c = booked();
    c.prune_before(30);
    EXPECT_EQ(c.reserve(0, 10), 0u);
  }
}

// ---------------------------------------------------------------------------------------
// 6. MemoryChannels::serve

TEST(LlmUnit, MemoryChannelsServe) {
  MemoryTiming mt;
  mt.channels = 4;
  mt.gbytes_per_s_per_channel = 1.0;  // 1 byte per ns = 1000 ps per byte
  mt.latency_ps = 0;
  MemoryChannels m(mt);
  // 10 bytes over 4 channels: 3,3,2,2 -> the largest share 3 bytes = 3000 ps.
  EXPECT_EQ(m.serve(0, 10), 3000u);
  // 8 bytes: 2 each = 2000 ps, queued after the first: 3000 + 2000.
  EXPECT_EQ(m.serve(0, 8), 5000u);
  // Busy summed over channels: (3+3+2+2) * 1000 + (2*4) * 1000.
  EXPECT_EQ(m.busy_ps(), 10u * 1000 + 8u * 1000);
  EXPECT_EQ(m.bytes(), 18u);
  EXPECT_EQ(m.requests(), 2u);
}

TEST(LlmUnit, MemoryChannelsLatencyAndGaps) {
  MemoryTiming mt;
  mt.channels = 4;
  mt.gbytes_per_s_per_channel = 1.0;
  mt.latency_ps = 100;
  MemoryChannels m(mt);
  // 4 bytes at 10000: 1 byte each, [10000, 11000) + 100 latency.
  EXPECT_EQ(m.serve(10000, 4), 11100u);
  // 8 bytes at 0: 2000 ps fit before 10000 -> [0, 2000) + 100.
  EXPECT_EQ(m.serve(0, 8), 2100u);
  // 40 bytes at 0: 10000 ps do not fit in [2000, 10000): after 11000 -> 21000 + 100.
  EXPECT_EQ(m.serve(0, 40), 21100u);
  // Zero bytes: just the latency.
  EXPECT_EQ(m.serve(500, 0), 600u);
  EXPECT_EQ(m.busy_ps(), (4u + 8u + 40u) * 1000);
}
