// Channel-parallel tiling of conv activations (MASE's convolution template: a beat is
// P channels of one pixel, pixels in raster order): the tile helpers, conv2d's cycle
// model at two parallelisms, grouped convolution, the mapper's defaults and adapters, a
// small conv stack end to end, the MNIST CNN and ResNet-18 on one U250.
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "models/hls_blocks.hpp"
#include "models/op_cost.hpp"
#include "models/resource_model.hpp"
#include "sim_harness.hpp"
#include "workloads/error.hpp"
#include "workloads/graph.hpp"

using masesim::test::read_file;
using masesim::test::run_simulate;
using namespace masesim;

namespace {
const std::string kSrc = MASESIM_SOURCE_DIR;
const std::string kP = "precision: {type: fixed, width: 8}";

std::string s(std::int64_t v) {
  return std::to_string(v);
}

/// x [1, c, h, h] -> conv2d `a` (k x k, padding pad, `co` outputs, groups) with `hw`.
std::string conv_graph(std::int64_t c, std::int64_t h, std::int64_t co, std::int64_t k,
                       std::int64_t pad, std::int64_t groups = 1, const std::string& hw = "") {
  const std::int64_t oh = h + 2 * pad - k + 1;
  return "format: mase-graph\nversion: 1\ninputs: [{name: x, shape: [1, " + s(c) + ", " + s(h) +
         ", " + s(h) + "], " + kP + "}]\nnodes:\n  - {name: a, op: conv2d, args: {data_in_0: x}, " +
         "attrs: {padding: " + s(pad) + ", groups: " + s(groups) + "}, params: {weight: {shape: [" +
         s(co) + ", " + s(c / groups) + ", " + s(k) + ", " + s(k) + "], " + kP +
         "}}, results: {data_out_0: {shape: [1, " + s(co) + ", " + s(oh) + ", " + s(oh) + "], " +
         kP + "}}" + (hw.empty() ? "" : ", hw: " + hw) + "}\noutputs: [a]\n";
}

/// x [1, 4, h, h] -> conv c1 (8 out, 3x3, pad 1) -> relu r1 -> conv c2 (8 out, 3x3, pad 1)
/// -> max_pool2d p (2x2) -> flatten f -> linear fc (10 out).
std::string conv_stack(std::int64_t h) {
  const std::string t8 = "[1, 8, " + s(h) + ", " + s(h) + "]";
  const std::int64_t q = h / 2;
  return "format: mase-graph\nversion: 1\ninputs: [{name: x, shape: [1, 4, " + s(h) + ", " + s(h) +
         "], " + kP + "}]\nnodes:\n" +
         "  - {name: c1, op: conv2d, args: {data_in_0: x}, attrs: {padding: 1}, params: {weight: "
         "{shape: [8, 4, 3, 3], " +
         kP + "}}, results: {data_out_0: {shape: " + t8 + ", " + kP + "}}}\n" +
         "  - {name: r1, op: relu, args: {data_in_0: c1}, results: {data_out_0: {shape: " + t8 +
         ", " + kP + "}}}\n" +
         "  - {name: c2, op: conv2d, args: {data_in_0: r1}, attrs: {padding: 1}, params: {weight: "
         "{shape: [8, 8, 3, 3], " +
         kP + "}}, results: {data_out_0: {shape: " + t8 + ", " + kP + "}}}\n" +
         "  - {name: p, op: max_pool2d, args: {data_in_0: c2}, attrs: {kernel_size: 2}, results: "
         "{data_out_0: {shape: [1, 8, " +
         s(q) + ", " + s(q) + "], " + kP + "}}}\n" +
         "  - {name: f, op: flatten, args: {data_in_0: p}, attrs: {start_dim: 1}, results: "
         "{data_out_0: {shape: [1, " +
         s(8 * q * q) + "], " + kP + "}}}\n" +
         "  - {name: fc, op: linear, args: {data_in_0: f}, params: {weight: {shape: [10, " +
         s(8 * q * q) + "], " + kP + "}}, results: {data_out_0: {shape: [1, 10], " + kP +
         "}}}\noutputs: [fc]\n";
}

std::string config(int inferences, const std::string& extra = "") {
  return "workload:\n  graph: g.yaml\n  inferences: " + s(inferences) + "\n" + extra;
}

NodeHw channel_hw(const Graph& g, std::int64_t p_in, std::int64_t p_out) {
  NodeHw hw;
  hw.in.push_back(
      tile_port(g.inputs[0].tensor.shape, channel_tile(g.inputs[0].tensor.shape, p_in)));
  const Shape& y = g.nodes[0].results[0].shape;
  hw.out = tile_port(y, channel_tile(y, p_out));
  return hw;
}
}  // namespace

TEST(ConvTiling, ChannelTiles) {
  const Shape x = {1, 16, 28, 28};
  EXPECT_EQ(channel_tile(x, 8), (std::vector<std::int64_t>{8, 1, 1}));
  EXPECT_TRUE(is_channel_tile(x, {8, 1, 1}));
  EXPECT_TRUE(is_channel_tile(x, {1, 8, 1, 1}));  // the batch dim written out
  EXPECT_FALSE(is_channel_tile(x, {28}));         // a row of one channel
  EXPECT_FALSE(is_channel_tile(x, {8, 1, 2}));
  EXPECT_FALSE(is_channel_tile(x, {2, 8, 1, 1}));
  EXPECT_FALSE(is_channel_tile(x, {1, 1, 1, 1, 1}));   // longer than the rank
  EXPECT_TRUE(is_channel_tile(x, {1}));                // one element a beat: either kind
  EXPECT_TRUE(is_channel_tile({1, 16, 100}, {4, 1}));  // conv1d [N, C, L]
  EXPECT_TRUE(is_channel_tile({1, 512}, {8}));         // [N, C]: channels are the last dim
  // 8 channels per beat: a beat is one pixel's 8 channels, so x takes 2·28·28 beats.
  EXPECT_EQ(tile_port(x, channel_tile(x, 8)).beats, 2 * 28 * 28);
}

// conv2d x [1, 16, 8, 8] * w [32, 16, 3, 3], padding 1 (output [1, 32, 8, 8], 294,912 MACs).
// Rows = N·OH = 8. P_in = 4, P_out = 8: a group of 8 output channels accumulates
// 3·3·16/4 = 36 dot products of 4 lanes (one output beat per 36 cycles), a pixel has
// 32/8 = 4 groups = 144 cycles, a row 8 pixels = 1152, the inference 8·1152 = 9216 =
// 294,912 / (4·8). P_in = 16, P_out = 32: 9 cycles a beat and a pixel, 72 a row, 576.
// The line buffer holds kh−1−pad = 1 input row before the first output row: 8 pixels of
// 16/P_in beats.
TEST(ConvTiling, Conv2dCyclesAtTwoParallelisms) {
  const Graph g = load_graph_text(conv_graph(16, 8, 32, 3, 1), "c.yaml");
  const OpTiming a = op_timing(g, g.nodes[0], channel_hw(g, 4, 8));
  EXPECT_EQ(a.macs, 294912);
  EXPECT_EQ(a.rows, 8);
  EXPECT_EQ(a.row_cycles, 1152);
  EXPECT_EQ(a.ideal_cycles(), 9216);
  EXPECT_EQ(a.macs_per_cycle, 32);
  EXPECT_EQ(a.out_interval_cycles, 36);
  EXPECT_EQ(a.first_out_cycles, 36);
  EXPECT_EQ(a.latency_cycles, 2 + 3);  // log2(4) + 3, as MASE's fixed_linear
  EXPECT_EQ(a.in_beats[0], 4 * 64);
  EXPECT_EQ(a.out_beats, 4 * 64);
  EXPECT_EQ(a.preload_beats[0], 8 * 4);
  const OpTiming b = op_timing(g, g.nodes[0], channel_hw(g, 16, 32));
  EXPECT_EQ(b.row_cycles, 72);
  EXPECT_EQ(b.ideal_cycles(), 576);
  EXPECT_EQ(b.out_interval_cycles, 9);
  EXPECT_EQ(b.preload_beats[0], 8);
  // A tile over the image width is not the hardware's: an error naming node and port.
  NodeHw w;
  w.in.push_back(tile_port(g.inputs[0].tensor.shape, {8}));
  w.out = tile_port(g.nodes[0].results[0].shape, {8});
  try {
    (void)op_timing(g, g.nodes[0], w);
    ADD_FAILURE() << "a width tile was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("node 'a' (conv2d): data_in_0 tile [8] of [1, 16, 8, 8] "
                                         "is not a channel tile"),
              std::string::npos)
        << e.what();
  }
}

// Depthwise 3x3 on [1, 16, 8, 8] (groups 16, 9,216 MACs): each output channel reads one
// input channel, so of an 8-channel input beat one lane serves each output lane: 3·3·1
// = 9 cycles per output beat, 16/8 = 2 beats a pixel, 8·18 = 144 a row, 1152 in all =
// 9216 / (1·8).
TEST(ConvTiling, DepthwiseUsesOneInputLanePerGroup) {
  const Graph g = load_graph_text(conv_graph(16, 8, 16, 3, 1, 16), "c.yaml");
  const OpTiming t = op_timing(g, g.nodes[0], channel_hw(g, 8, 8));
  EXPECT_EQ(t.macs, 9216);
  EXPECT_EQ(t.row_cycles, 144);
  EXPECT_EQ(t.ideal_cycles(), 1152);
  EXPECT_EQ(t.macs_per_cycle, 8);
}

// The conv's MAC array is MASE int_linear2d's with the channel lanes: at P_in x P_out =
// 4 x 8 the weights are 3·3·16/4 = 36 deep per lane pair and 32/8 = 4 output groups
// (k_depth 36, n_depth 4: 32·16·9 weights in all); at 16 x 32, 9 and 1. Its DSPs and
// LUTs are that block's (the line buffer adds BRAM only), so they grow with P_in·P_out.
TEST(ConvTiling, ConvResourcesCountChannelLanes) {
  const Graph g = load_graph_text(conv_graph(16, 8, 32, 3, 1), "c.yaml");
  auto block = [&](std::int64_t k_par, std::int64_t n_par, std::int64_t k_depth,
                   std::int64_t n_depth) {
    HlsLinearParams q;
    q.k_par = k_par, q.n_par = n_par, q.row_par = 1, q.k_depth = k_depth, q.n_depth = n_depth;
    q.x = g.inputs[0].tensor.precision;
    q.w = g.nodes[0].param("weight")->tensor.precision;
    q.bias = false;
    return hls_linear(q).res;
  };
  for (const auto& [p_in, p_out, kd, nd] :
       std::vector<std::array<std::int64_t, 4>>{{4, 8, 36, 4}, {16, 32, 9, 1}}) {
    const NodeHw hw = channel_hw(g, p_in, p_out);
    const Resources r = estimate_resources(g, g.nodes[0], hw, op_timing(g, g.nodes[0], hw));
    const Resources want = block(p_in, p_out, kd, nd);
    EXPECT_EQ(r[Res::dsp], want[Res::dsp]) << p_in << "x" << p_out;
    EXPECT_EQ(r[Res::lut], want[Res::lut]) << p_in << "x" << p_out;
    EXPECT_GT(want[Res::dsp], 0) << p_in << "x" << p_out;
  }
  EXPECT_GT(block(16, 32, 9, 1)[Res::dsp], 8 * block(4, 8, 36, 4)[Res::dsp]);  // 16x the lanes
}

// One conv (x [1, 4, 8, 8], 8 outputs, 3x3, padding 1; 18,432 MACs) with the default
// tiling (mapping.default_parallelism 8): x and the conv's input take 4 channels a beat
// (the largest divisor of 4), its output 8. 9 cycles per output beat (3·3·4/4), one beat
// a pixel, 72 a row, 576 an inference = 18,432 / (4·8).
// Latency: the host sends a beat a cycle from 0; the line buffer takes 1 row (8 beats,
// 0..7), row 0 reads 7 beats (the 56 after the line buffer over 8 rows; 8..14) and starts
// at 8; row r starts at 8 + 72r; row 7's first output issues 9 cycles after its start
// (at 521), its 8th 7·9 later (584), offered log2(4) + 3 = 5 cycles later: 589.
// hw.parallelism data_out_0 [4, 1, 1]: 2 beats a pixel, 144 a row, 1152 in all; row 7
// starts at 8 + 7·144 = 1016, its 16th output issues at 1016 + 9 + 15·9 = 1160: 1165.
TEST(ConvTiling, SingleConvCyclesAndLatency) {
  const auto a =
      run_simulate({{"g.yaml", conv_graph(4, 8, 8, 3, 1)}, {"c.yaml", config(1)}}, "c.yaml");
  ASSERT_EQ(a.exit_code, 0) << a.stderr_text;
  EXPECT_EQ(a.num("nodes.a.busy_cycles"), 576);
  EXPECT_EQ(a.num("nodes.a.analytic_busy_cycles"), 576);
  EXPECT_EQ(a.num("nodes.a.beats_in"), 64);
  EXPECT_EQ(a.num("nodes.a.beats_out"), 64);
  EXPECT_EQ(a.num("nodes.a.macs"), 18432);
  EXPECT_EQ(a.num("latency_cycles"), 589);
  const auto b = run_simulate(
      {{"g.yaml", conv_graph(4, 8, 8, 3, 1, 1, "{parallelism: {data_out_0: [4, 1, 1]}}")},
       {"c.yaml", config(1)}},
      "c.yaml");
  ASSERT_EQ(b.exit_code, 0) << b.stderr_text;
  EXPECT_EQ(b.num("nodes.a.busy_cycles"), 1152);
  EXPECT_EQ(b.num("nodes.a.beats_out"), 128);
  EXPECT_EQ(b.num("latency_cycles"), 1165);
}

// A width tile on a conv port is an input error naming the file, line and node.
TEST(ConvTiling, WidthTileOnConvIsAnError) {
  const auto r =
      run_simulate({{"g.yaml", conv_graph(4, 8, 8, 3, 1, 1, "{parallelism: {data_out_0: [8]}}")},
                    {"c.yaml", config(1)}},
                   "c.yaml");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.stderr_text.find("g.yaml:5: node 'a' (conv2d): data_out_0 tile [8] of [1, 8, 8, 8] "
                               "is not a channel tile"),
            std::string::npos)
      << r.stderr_text;
}

// The conv stack at 8² and 16² input, default tiling (8 lanes): c1 takes 4-channel beats
// (x has 4 channels), everything else 8. Per inference at h²: c1 and c2 spend 9 cycles a
// pixel (3·3·4/4 · 8/8 and 3·3·8/8 · 8/8), h rows of h pixels: 9·h² (576, 2304); the pool
// reads 2 input rows of h one-pixel beats per output row (2h per row, h/2 rows: h², 64 and
// 256); the flatten passes the pool's 8-channel beats on as 8-wide beats (h²/4); fc
// (K = 2h², 8 lanes in; 10 outputs, 5 lanes out: 2 tiles of 2h²/8 cycles) h²/2 (32,
// 128). Every count grows with the pixels: 4x from 8² to 16², as the MACs
// (c1 36·h²·8, c2 72·h²·8, fc 20·h²). c1 and c2 tie; the first in graph order is named.
TEST(ConvTiling, ConvStackScalesWithPixels) {
  for (const std::int64_t h : {8, 16}) {
    const auto r = run_simulate({{"g.yaml", conv_stack(h)}, {"c.yaml", config(2)}}, "c.yaml");
    ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
    const double px = static_cast<double>(h * h);
    EXPECT_EQ(r.num("nodes.c1.analytic_busy_cycles"), 2 * 9 * px) << h;
    EXPECT_EQ(r.num("nodes.c2.analytic_busy_cycles"), 2 * 9 * px) << h;
    EXPECT_EQ(r.num("nodes.c1.busy_cycles"), 2 * 9 * px) << h;
    EXPECT_EQ(r.num("nodes.c2.busy_cycles"), 2 * 9 * px) << h;
    EXPECT_EQ(r.num("nodes.p.analytic_busy_cycles"), 2 * px) << h;
    EXPECT_EQ(r.num("nodes.fc.analytic_busy_cycles"), 2 * px / 2) << h;
    EXPECT_EQ(r.num("nodes.f.beats_out"), 2 * px / 4) << h;
    EXPECT_EQ(r.num("workload.macs"), 36 * px * 8 + 72 * px * 8 + 20 * px) << h;
    EXPECT_EQ(r.str("bottleneck.node"), "c1") << h;
  }
}

// The shipped spatial ResNet-18 (224², int8, one U250, mapping.auto). The stem conv1
// (3 -> 64 channels, 7x7, stride 2, output 112²) can use at most 3 input lanes, so
// mapping.auto unrolls its kernel window (mapping.kernel_unroll's knob): all 49 positions
// side by side with 8 output lanes, (49/49)·⌈3/3⌉·⌈64/8⌉ = 8 cycles an output pixel,
// 112·112·8 = 100,352 an inference. The slowest node is then layer1.1.conv2 (64 -> 64,
// 3x3, output 56²) at 9 positions × 8 input × 8 output lanes: (9/9)·⌈64/8⌉·⌈64/8⌉ = 64
// cycles a pixel, 56·56·64 = 200,704 an inference, and growing it further does not fit
// (auto stops there). 3 inferences; steady state 250 MHz / 200,704.
TEST(ConvTiling, Resnet18OnOneU250) {
  const auto r =
      run_simulate({{"c.yaml", read_file(kSrc + "/configs/resnet18_u250.yaml")}}, "c.yaml",
                   "--set workload.graph=" + kSrc + "/workloads/graphs/resnet18_int8.json");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_EQ(r.num("nodes.conv1.kernel_unroll"), 49);
  EXPECT_EQ(r.str("nodes.conv1.out_tile"), "8x1x1");
  EXPECT_EQ(r.num("nodes.conv1.analytic_busy_cycles"), 3 * 112 * 112 * 8);
  EXPECT_EQ(r.num("nodes.conv1.busy_cycles"), 3 * 112 * 112 * 8);
  EXPECT_EQ(r.num("nodes.layer1.1.conv2.kernel_unroll"), 9);
  EXPECT_EQ(r.num("nodes.layer1.1.conv2.macs_per_cycle"), 9 * 8 * 8);
  EXPECT_EQ(r.num("nodes.layer1.1.conv2.busy_cycles"), 3 * 56 * 56 * 64);
  EXPECT_EQ(r.str("bottleneck.node"), "layer1.1.conv2");
  EXPECT_EQ(r.str("mapping.auto_stop"),
            "slowest node 'layer1.1.conv2' cannot grow within the resources");
  EXPECT_NEAR(r.num("throughput_inferences_per_s"), 250e6 / 200704.0, 250e6 / 200704.0 * 1e-6);
  EXPECT_EQ(r.num("workload.macs"), 1814073344);
  // The last stage (7x7 pixels) is no slower per MAC than the first: layer4.1.conv2
  // (512 -> 512, 3x3) does 7·7·512·512·9 MACs per inference at its lanes' rate.
  const double macs = 7.0 * 7 * 512 * 512 * 9;
  EXPECT_EQ(r.num("nodes.layer4.1.conv2.macs"), 3 * macs);
}

// The README's default system keeps its shape: 16 inferences of the MNIST CNN, the
// convs bound it at 28·28·9 = 7056 cycles an inference (test Sim.PipelinedMnistThroughput
// has the derivation), the flatten passes pool's 32-channel beats on as 32-wide rows.
TEST(ConvTiling, MnistDefaultSystem) {
  const auto r =
      run_simulate({{"c.yaml", read_file(kSrc + "/configs/mnist_cnn_u250.yaml")}}, "c.yaml",
                   "--set workload.graph=" + kSrc + "/workloads/graphs/mnist_cnn.yaml");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_EQ(r.num("nodes.conv1.busy_cycles"), 16 * 7056);
  EXPECT_EQ(r.num("nodes.pool.beats_in"), 16 * 28 * 28);  // one 32-channel beat a pixel
  EXPECT_EQ(r.num("nodes.pool.beats_out"), 16 * 14 * 14);
  EXPECT_EQ(r.num("nodes.flatten.beats_out"), 16 * 6272 / 32);
  EXPECT_EQ(r.str("bottleneck.node"), "conv1");
}

// mapping.kernel_unroll: the same conv (x [1, 4, 8, 8], 3x3, 8 outputs; 4 input and 8
// output lanes) with U = 3 window positions side by side: (9/3)·⌈4/4⌉·⌈8/8⌉ = 3 cycles a
// pixel, 192 an inference (= 18,432 MACs / (3·4·8) lanes), against 576 without; U = 9: 1
// cycle a pixel, but the block then waits on its input (one 4-channel beat a pixel, one a
// cycle): 64 busy cycles. The MAC array grows with U (the resource model's k_par = U·P_in).
TEST(ConvTiling, KernelUnrollDividesTheWindowSteps) {
  auto run = [](const std::string& unroll) {
    return run_simulate({{"g.yaml", conv_graph(4, 8, 8, 3, 1)},
                         {"c.yaml", config(1, "mapping:\n  kernel_unroll: " + unroll + "\n")}},
                        "c.yaml");
  };
  const auto one = run("{}");
  const auto three = run("{a: 3}");
  const auto nine = run("{\"*\": 9}");
  ASSERT_EQ(three.exit_code, 0) << three.stderr_text;
  ASSERT_EQ(nine.exit_code, 0) << nine.stderr_text;
  EXPECT_EQ(one.num("nodes.a.busy_cycles"), 576);
  EXPECT_EQ(one.num("nodes.a.kernel_unroll"), 1);
  EXPECT_EQ(three.num("nodes.a.busy_cycles"), 192);
  EXPECT_EQ(three.num("nodes.a.kernel_unroll"), 3);
  EXPECT_EQ(three.num("nodes.a.macs_per_cycle"), 3 * 4 * 8);
  EXPECT_EQ(three.num("nodes.a.macs"), 18432);
  EXPECT_EQ(nine.num("nodes.a.busy_cycles"), 64);
  EXPECT_GT(three.num("nodes.a.resources.lut") + 100 * three.num("nodes.a.resources.dsp"),
            one.num("nodes.a.resources.lut") + 100 * one.num("nodes.a.resources.dsp"));
  const std::pair<std::string, std::string> bad[] = {
      {"{a: 2}", "mapping.kernel_unroll.a: 2 does not divide node 'a''s 9-position kernel window"},
      {"[3]", "mapping.kernel_unroll: expected a mapping {conv node-name glob: U}"},
      {"{a: 0}", "mapping.kernel_unroll.a: 0 is outside 1..1024"},
  };
  for (const auto& [u, message] : bad) {
    const auto r = run(u);
    EXPECT_EQ(r.exit_code, 1) << u;
    EXPECT_NE(r.stderr_text.find(message), std::string::npos) << u << ": " << r.stderr_text;
  }
}
