// Observability: the timeline recorder (slots for overlapping slices, merged waits,
// counters, the event budget), the trace/VCD/--out files of the CLI, warnings and
// progress on stderr, and the provenance of stats.json.
#include <gtest/gtest.h>

#include <systemc>

#include <sys/stat.h>
#include <cctype>
#include <cmath>
#include <regex>
#include <set>
#include <sstream>

#include "json_lite.hpp"
#include "models/trace.hpp"
#include "sim/cli/sha256.hpp"
#include "sim_harness.hpp"

using masesim::TraceRecorder;
using masesim::test::Json;
using masesim::test::make_temp_dir;
using masesim::test::parse_json;
using masesim::test::read_file;
using masesim::test::run_simulate;
using masesim::test::write_file;

namespace {
const std::string kSrc = MASESIM_SOURCE_DIR;

std::int64_t ps(const Json& us) {
  return std::llround(us.num * 1e6);
}

struct Slice {
  std::string name;
  std::int64_t begin, end;
  const Json* ev;
};

// Complete events per viewer thread "pid/tid", the thread names, and the counters.
struct Timeline {
  Json doc;
  std::map<std::string, std::vector<Slice>> slices;
  std::map<std::string, std::string> thread_name;
  std::map<std::string, std::string> process_name;
  std::vector<const Json*> counters, instants;
  std::int64_t last_end = 0;
};

Timeline read_timeline(const std::string& text) {
  Timeline t;
  t.doc = parse_json(text);
  for (const Json& e : t.doc.at("traceEvents").items) {
    const std::string ph = e.at("ph").str;
    const std::string pid = std::to_string(static_cast<int>(e.at("pid").num));
    if (ph == "M") {
      if (e.at("name").str == "process_name") t.process_name[pid] = e.at("args").at("name").str;
      if (e.at("name").str == "thread_name")
        t.thread_name[pid + "/" + std::to_string(static_cast<int>(e.at("tid").num))] =
            e.at("args").at("name").str;
      continue;
    }
    if (ph == "C") {
      t.counters.push_back(&e);
      continue;
    }
    const std::string key = pid + "/" + std::to_string(static_cast<int>(e.at("tid").num));
    if (ph == "i") {
      t.instants.push_back(&e);
      continue;
    }
    EXPECT_EQ(ph, "X");
    const std::int64_t b = ps(e.at("ts")), d = ps(e.at("dur"));
    t.slices[key].push_back({e.at("name").str, b, b + d, &e});
    t.last_end = std::max(t.last_end, b + d);
  }
  return t;
}

// No two complete events of one viewer thread overlap (Perfetto needs them disjoint or
// nested; the recorder promises disjoint).
void expect_no_overlap(const Timeline& t) {
  for (const auto& [key, v] : t.slices) {
    std::vector<Slice> s = v;
    std::sort(s.begin(), s.end(), [](const Slice& a, const Slice& b) { return a.begin < b.begin; });
    for (std::size_t i = 1; i < s.size(); ++i)
      ASSERT_LE(s[i - 1].end, s[i].begin)
          << "overlap on " << t.thread_name.at(key) << ": " << s[i - 1].name << " ["
          << s[i - 1].begin << ", " << s[i - 1].end << ") and " << s[i].name << " [" << s[i].begin
          << ", " << s[i].end << ") ps";
  }
}

std::string write_to_string(const TraceRecorder& r) {
  std::ostringstream os;
  r.write(os);
  return os.str();
}

bool exists(const std::string& p) {
  struct stat st {};
  return stat(p.c_str(), &st) == 0;
}

// Runs simulate with exactly `args` (no --quiet, no --out unless given); returns exit code
// and stderr.
std::pair<int, std::string> run_raw(const std::string& dir, const std::string& args) {
  const std::string cmd = std::string(SIMULATE_BIN) + " " + args + " > " + dir + "/stdout.txt 2> " +
                          dir + "/stderr.txt";
  const int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_file(dir + "/stderr.txt")};
}

std::string bmm_graph(int b, int m, int k, int n) {
  const auto s = [](int v) { return std::to_string(v); };
  return "format: mase-graph\nversion: 1\ninputs:\n"
         "  - {name: a, shape: [" +
         s(b) + ", " + s(m) + ", " + s(k) +
         "], precision: {type: fixed, width: 8}}\n"
         "  - {name: w, shape: [" +
         s(b) + ", " + s(k) + ", " + s(n) +
         "], precision: {type: fixed, width: 8}}\n"
         "nodes:\n  - {name: mm, op: bmm, args: {data_in_0: a, data_in_1: w}, results: "
         "{data_out_0: {shape: [" +
         s(b) + ", " + s(m) + ", " + s(n) +
         "], precision: {type: fixed, width: 8}}}, hw: {impl: systolic}}\noutputs: [mm]\n";
}
}  // namespace

// ---------------------------------------------------------------------------------------
// The recorder on its own.

// Three inferences of one node, the second overlapping the first: the second goes to a
// second thread ("slot 2"), the third reuses the first thread once it is free.
TEST(TraceRecorder, OverlappingSlicesGetTheirOwnSlots) {
  TraceRecorder r(0, masesim::kNever, 1000);
  const int t = r.track("fpga0", "fc");
  r.complete(t, "inference", 0, 100000, 0);
  r.complete(t, "inference", 50000, 150000, 1);
  r.complete(t, "inference", 100000, 200000, 2);
  r.finish(200000);
  const Timeline tl = read_timeline(write_to_string(r));
  expect_no_overlap(tl);
  EXPECT_EQ(tl.thread_name.at("0/0"), "fc");
  EXPECT_EQ(tl.thread_name.at("0/1"), "fc [slot 2]");
  ASSERT_EQ(tl.slices.at("0/0").size(), 2u);
  EXPECT_EQ(tl.slices.at("0/0")[1].begin, 100000);
  ASSERT_EQ(tl.slices.at("0/1").size(), 1u);
  EXPECT_EQ(tl.slices.at("0/1")[0].ev->at("args").at("n").num, 1);
  EXPECT_EQ(r.kept(), 3u);
}

// Waits one tile's compute (10 ns) apart merge into one
// slice that says how many waits and how long they covered; a wait after a longer gap
// starts a new slice. Another kind of slice gets its own thread.
TEST(TraceRecorder, WaitsOneTileApartMergeIntoOneSlice) {
  TraceRecorder r(0, masesim::kNever, 1000);
  const int t = r.track("fpga0", "fc");
  r.merge(t, "wait weights", 10000);
  r.complete(t, "inference", 0, 200000, 0);
  r.complete(t, "wait weights", 0, 30000);
  r.complete(t, "wait weights", 40000, 70000);    // gap 10 ns: merged
  r.complete(t, "wait weights", 80000, 90000);    // gap 10 ns: merged
  r.complete(t, "wait weights", 100001, 110000);  // gap 10.001 ns: new slice
  r.finish(200000);
  EXPECT_EQ(r.merged(), 2u);
  EXPECT_EQ(r.kept(), 3u);
  const Timeline tl = read_timeline(write_to_string(r));
  expect_no_overlap(tl);
  EXPECT_EQ(tl.thread_name.at("0/1"), "fc: wait weights");
  const auto& w = tl.slices.at("0/1");
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0].begin, 0);
  EXPECT_EQ(w[0].end, 90000);
  EXPECT_EQ(w[0].ev->at("args").at("merged").num, 3);
  EXPECT_EQ(ps(w[0].ev->at("args").at("busy_us")), 30000 + 30000 + 10000);
  EXPECT_EQ(w[1].begin, 100001);
  EXPECT_FALSE(w[1].ev->has("args"));
}

// Over budget, the latest-starting events go: the file holds every event that starts
// before the cut and none after, and the summary names the kinds dropped.
TEST(TraceRecorder, BudgetKeepsTheEarliestAndSaysWhatWasDropped) {
  TraceRecorder r(0, masesim::kNever, 6);
  const int a = r.track("fpga0", "a"), h = r.track("host", "sink");
  for (int i : {5, 1, 7, 0, 3, 9, 2, 8, 4, 6})  // arrival order is not time order
    r.complete(a, "inference", i * 1000000, i * 1000000 + 500000, i);
  r.instant(h, "inference 3 out", 3500000);
  r.instant(h, "inference 8 out", 8500000);
  r.finish(10000000);
  EXPECT_EQ(r.kept(), 6u);
  EXPECT_EQ(r.dropped(), 6u);
  EXPECT_EQ(r.cut_ps(), 5000000);
  EXPECT_EQ(r.drop_summary(),
            "6 events starting at or after 5.000 us (inference 5, inference N out 1)");
  const Timeline tl = read_timeline(write_to_string(r));
  std::set<std::int64_t> begins;
  for (const auto& s : tl.slices.at("0/0")) begins.insert(s.begin);
  EXPECT_EQ(begins, (std::set<std::int64_t>{0, 1000000, 2000000, 3000000, 4000000}));
  ASSERT_EQ(tl.instants.size(), 1u);
  EXPECT_EQ(tl.instants[0]->at("name").str, "inference 3 out");
  EXPECT_EQ(tl.doc.at("otherData").at("dropped_events").num, 6);
}

// A link busy for 2 ns of a 4 ns run, on 1 ns buckets: 100 % then 0 %; a memory moving
// 64 bytes in 1 ns: 64 GB/s. Then a run 1000x longer than the buckets allow: the bucket
// doubles (to 2^14 ns for 100 samples) and the total busy time is kept.
TEST(TraceRecorder, CountersSampleBusyTimeAndBandwidth) {
  TraceRecorder r(0, masesim::kNever, 4000);
  const int link = r.track("links", "a->b");
  const int util = r.counter("links", "a->b utilisation %", 100.0);
  const int mem = r.counter("fpga0", "off-chip memory GB/s", 1000.0);
  r.count_busy(link, util);
  r.merge(link, "frame", 0);
  r.complete(link, "frame", 0, 1000, 64);
  r.complete(link, "frame", 1000, 2000, 64);  // back to back: one burst
  r.add(mem, 1000, 2000, 64);
  r.finish(4000);
  const Timeline tl = read_timeline(write_to_string(r));
  std::vector<std::pair<std::int64_t, double>> u, m;
  for (const Json* c : tl.counters)
    (c->at("name").str == "a->b utilisation %" ? u : m)
        .emplace_back(ps(c->at("ts")), c->at("args").at("value").num);
  EXPECT_EQ(u, (std::vector<std::pair<std::int64_t, double>>{{0, 100}, {2000, 0}}));
  EXPECT_EQ(m, (std::vector<std::pair<std::int64_t, double>>{{0, 0}, {1000, 64}, {2000, 0}}));
  const auto& f = tl.slices.at(tl.slices.begin()->first);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].ev->at("args").at("merged").num, 2);
  EXPECT_EQ(f[0].ev->at("args").at("sum").num, 128);

  TraceRecorder big(0, masesim::kNever, 400);  // 100 samples per counter
  const int c = big.counter("links", "x", 100.0);
  for (int i = 0; i < 1000; ++i) big.add(c, i * 1000000, i * 1000000 + 500000, 500000);
  big.finish(1000000000);
  const Timeline bt = read_timeline(write_to_string(big));
  ASSERT_FALSE(bt.counters.empty());
  EXPECT_LE(bt.counters.size(), 100u);
  // The step function integrates to the 1000 x 0.5 us of busy time; each bucket (2^14 ns,
  // ~16 periods) is within one period's share of 50 %.
  double busy_ps = 0;
  for (std::size_t i = 0; i + 1 < bt.counters.size(); ++i) {
    const double v = bt.counters[i]->at("args").at("value").num;
    busy_ps += v / 100 *
               static_cast<double>(ps(bt.counters[i + 1]->at("ts")) - ps(bt.counters[i]->at("ts")));
    if (i + 2 < bt.counters.size()) {  // the last bucket holds 0.076 of its 0.576 us busy
      EXPECT_NEAR(v, 50, 100.0 / 16);
    } else {
      EXPECT_NEAR(v, 100 * 0.076 / 0.576, 0.01);
    }
  }
  EXPECT_NEAR(busy_ps, 1000 * 500000.0, 1000 * 500000.0 * 1e-3);  // values have 4 digits
}

// Counter buckets count from the window's start: a 1 ns burst 1 ms into the run, in a
// window starting there, is sampled on 1 ns buckets (not on buckets of 1 ms / 100).
TEST(TraceRecorder, CountersOfALateWindowKeepTheirResolution) {
  const masesim::time_ps ms = 1000000000;
  TraceRecorder r(ms, masesim::kNever, 400);  // 100 samples per counter
  const int c = r.counter("links", "a->b utilisation %", 100.0);
  r.add(c, ms - 5000, ms + 1000, 6000);  // 1/6 of it inside the window: 1 ns busy
  r.add(c, ms + 2000, ms + 3000, 1000);
  r.finish(ms + 4000);
  const Timeline tl = read_timeline(write_to_string(r));
  std::vector<std::pair<std::int64_t, double>> v;
  for (const Json* e : tl.counters) v.emplace_back(ps(e->at("ts")), e->at("args").at("value").num);
  EXPECT_EQ(v, (std::vector<std::pair<std::int64_t, double>>{
                   {ms, 100}, {ms + 1000, 0}, {ms + 2000, 100}, {ms + 3000, 0}}));
  EXPECT_EQ(r.kept(), 4u);
}

// --trace-window clips slices to the window and drops what lies outside.
TEST(TraceRecorder, WindowClipsSlices) {
  TraceRecorder r(1000000, 2000000, 100);
  const int t = r.track("fpga0", "fc");
  r.complete(t, "inference", 0, 1500000, 0);
  r.complete(t, "inference", 1500000, 2500000, 1);
  r.complete(t, "inference", 2500000, 3000000, 2);
  r.instant(t, "early", 500000);
  r.finish(3000000);
  const Timeline tl = read_timeline(write_to_string(r));
  const auto& s = tl.slices.at("0/0");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].begin, 1000000);
  EXPECT_EQ(s[0].end, 1500000);
  EXPECT_EQ(s[1].begin, 1500000);
  EXPECT_EQ(s[1].end, 2000000);
  EXPECT_TRUE(tl.instants.empty());
  EXPECT_EQ(r.dropped(), 0u);  // the window is not the budget
}

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(masesim::sha256_hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(masesim::sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(masesim::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(masesim::sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// ---------------------------------------------------------------------------------------
// Through the CLI.

// Checks the rules every timeline keeps: no overlap on a thread, every event inside the
// simulated run [0, total_us], the event count that stats.json reports.
void expect_valid(const Timeline& tl, const masesim::test::SimRun& r) {
  expect_no_overlap(tl);
  const double total_ps = r.num("total_us") * 1e6 + 1;  // the run ends with its last output
  EXPECT_LE(static_cast<double>(tl.last_end), total_ps);
  for (const Json* e : tl.counters) EXPECT_LE(static_cast<double>(ps(e->at("ts"))), total_ps);
  for (const Json* e : tl.instants) EXPECT_LE(static_cast<double>(ps(e->at("ts"))), total_ps);
  for (const auto& [k, v] : tl.slices)
    for (const auto& s : v) ASSERT_GE(s.begin, 0);
  EXPECT_EQ(r.num("trace.dropped_events"), 0);
  std::size_t events = tl.counters.size() + tl.instants.size();
  for (const auto& [k, v] : tl.slices) events += v.size();
  EXPECT_EQ(static_cast<double>(events), r.num("trace.events"));
}

// OPT-125M (the shipped 4xU250 config, on one device at seq 16) pipelines its inferences:
// node slices overlap in time, so some node needs a second slot; memories have bandwidth
// counters. The shipped two-device link-bound config: its link has a utilisation counter
// and its back-to-back frames are merged.
TEST(TraceCli, PipelinedRunRendersWithoutOverlaps) {
  const std::string dir = make_temp_dir();
  const auto r =
      run_simulate({{"c.yaml", read_file(kSrc + "/configs/opt125m_4xu250_ring.yaml")}}, "c.yaml",
                   "--set workload.graph=" + kSrc +
                       "/workloads/graphs/opt125m_int8.json --set workload.dims.seq=16 "
                       "--set mapping.auto=false --trace " +
                       dir + "/t.json");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  const Timeline tl = read_timeline(read_file(dir + "/t.json"));
  expect_valid(tl, r);
  bool slot2 = false, mem = false;
  for (const auto& [k, n] : tl.thread_name)
    slot2 = slot2 || n.find("[slot 2]") != std::string::npos;
  for (const Json* c : tl.counters) mem = mem || c->at("name").str == "off-chip memory GB/s";
  EXPECT_TRUE(slot2) << "no node had overlapping inferences: the test checks nothing";
  EXPECT_TRUE(mem);

  const auto l =
      run_simulate({{"c.yaml", read_file(kSrc + "/configs/link_bound_2xu250.yaml")}}, "c.yaml",
                   "--set workload.graph=" + kSrc +
                       "/workloads/graphs/elementwise_chain.yaml --trace " + dir + "/l.json");
  ASSERT_EQ(l.exit_code, 0) << l.stderr_text;
  const Timeline lt = read_timeline(read_file(dir + "/l.json"));
  expect_valid(lt, l);
  double peak = 0;
  for (const Json* c : lt.counters)
    if (c->at("name").str == "fpga0->fpga1 utilisation %")
      peak = std::max(peak, c->at("args").at("value").num);
  EXPECT_GT(peak, 90);  // link-bound: busy nearly all the time
  EXPECT_LE(peak, 100);
  EXPECT_GT(l.num("trace.merged_slices"), 0);
}

// Buffer occupancy is a counter track of the device that drains the buffer. x (8 rows of
// one 2-element beat, one beat per 4 ns cycle from 0) forks to fc (a linear layer,
// 2 cycles a row) and r (relu, one beat a cycle). fc takes row 0 at 0, row 1 at 4 ns, and
// row k >= 2 no earlier than the start of row k-1 (its input double buffer), 8 (k-2) + 8
// ns; so beats 3..7 wait in the fork leg x->fc from 4k ns to 8 (k-1) ns: 1 beat from 12
// ns, 2 from 20, 3 from 28, 2 from 32, 1 from 40, none from 48 (1 ns buckets, averaged).
// r takes every beat when it arrives: its leg never holds one and has no track. With
// --trace-window 0.02:0.04 every slice, instant and sample lies in [20, 40] ns, the two
// inference slices are clipped to it, and the occupancy track ends at 40 ns.
TEST(TraceCli, ForkLegOccupancyIsACounterTrack) {
  const std::string dir = make_temp_dir();
  const std::string fx = "precision: {type: fixed, width: 8, frac_width: 4}";
  write_file(dir + "/g.yaml",
             "format: mase-graph\nversion: 1\ninputs: [{name: x, shape: [8, 2], " + fx +
                 "}]\nnodes:\n  - name: fc\n    op: linear\n    args: {data_in_0: x}\n"
                 "    params: {weight: {shape: [2, 2], " +
                 fx + "}}\n    results: {data_out_0: {shape: [8, 2], " + fx +
                 "}}\n    hw: {parallelism: {data_in_0: [1, 2], data_out_0: [1, 1]}}\n"
                 "  - name: r\n    op: relu\n    args: {data_in_0: x}\n    results: "
                 "{data_out_0: {shape: [8, 2], " +
                 fx +
                 "}}\n    hw: {parallelism: {data_in_0: [1, 2], data_out_0: [1, 2]}}\n"
                 "outputs: [fc, r]\n");
  write_file(dir + "/c.yaml", "workload: {graph: g.yaml, inferences: 1}\n");
  using Samples = std::vector<std::pair<std::int64_t, double>>;
  // Every event lies in [lo, hi] ps.
  auto occupancy = [&](const std::string& window, std::int64_t lo, std::int64_t hi) {
    const auto [code, err] =
        run_raw(dir, "--config " + dir + "/c.yaml --quiet --trace " + dir + "/t.json" + window);
    EXPECT_EQ(code, 0) << err;
    const Timeline tl = read_timeline(read_file(dir + "/t.json"));
    expect_no_overlap(tl);
    std::size_t slices = 0;
    for (const auto& [k, v] : tl.slices)
      for (const auto& sl : v) {
        EXPECT_GE(sl.begin, lo);
        EXPECT_LE(sl.end, hi);
        ++slices;
      }
    EXPECT_EQ(slices, 2u);  // fc's and r's inference
    for (const Json* e : tl.counters) {
      EXPECT_GE(ps(e->at("ts")), lo);
      EXPECT_LE(ps(e->at("ts")), hi);
    }
    for (const Json* e : tl.instants) {
      EXPECT_GE(ps(e->at("ts")), lo);
      EXPECT_LE(ps(e->at("ts")), hi);
    }
    std::map<std::string, Samples> by_name;
    for (const Json* e : tl.counters) {
      if (e->at("name").str.find("occupancy") == std::string::npos) continue;
      EXPECT_EQ(tl.process_name.at(std::to_string(static_cast<int>(e->at("pid").num))), "fpga0");
      by_name[e->at("name").str].emplace_back(ps(e->at("ts")), e->at("args").at("value").num);
    }
    return by_name;
  };
  const auto all = occupancy("", 0, 80000);  // the run ends at 80 ns
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all.begin()->first, "x->fc.data_in_0 occupancy (depth 8)");
  EXPECT_EQ(
      all.begin()->second,
      (Samples{{0, 0}, {12000, 1}, {20000, 2}, {28000, 3}, {32000, 2}, {40000, 1}, {48000, 0}}));
  const auto part = occupancy(" --trace-window 0.02:0.04", 20000, 40000);
  ASSERT_EQ(part.size(), 1u);
  EXPECT_EQ(part.begin()->second, (Samples{{20000, 2}, {28000, 3}, {32000, 2}, {40000, 0}}));
}

// The shipped OPT-125M generation config at a small size: weight waits are merged (far
// fewer slices than waits), the default budget keeps it small, and a tight
// --trace-max-events is respected with a warning that names what was dropped.
TEST(TraceCli, LlmTraceStaysWithinItsBudget) {
  const std::string dir = make_temp_dir();
  write_file(dir + "/c.yaml", read_file(kSrc + "/configs/opt125m_generate_u280.yaml"));
  const std::string common = "--config " + dir +
                             "/c.yaml --no-progress --set workload.graph=" + kSrc +
                             "/workloads/graphs/opt125m_int8.json --set workload.prompt_len=16 "
                             "--set workload.gen_tokens=8 ";
  const auto [code, err] = run_raw(dir, common + "--trace " + dir + "/a.json --out " + dir + "/a");
  ASSERT_EQ(code, 0) << err;
  const Json sa = parse_json(read_file(dir + "/a/stats.json"));
  EXPECT_GT(sa.at("trace").at("merged_slices").num, sa.at("trace").at("events").num);
  EXPECT_EQ(sa.at("trace").at("dropped_events").num, 0);
  EXPECT_LE(sa.at("trace").at("bytes").num, 50e6);
  const Timeline a = read_timeline(read_file(dir + "/a.json"));
  expect_no_overlap(a);

  const auto [bcode, berr] = run_raw(
      dir, common + "--trace " + dir + "/b.json --trace-max-events 2000 --out " + dir + "/b");
  ASSERT_EQ(bcode, 0) << berr;
  EXPECT_NE(berr.find("simulate: warning: --trace: dropped "), std::string::npos) << berr;
  EXPECT_NE(berr.find("to stay within --trace-max-events 2000"), std::string::npos) << berr;
  EXPECT_NE(berr.find("wait weights"), std::string::npos) << berr;
  const Timeline b = read_timeline(read_file(dir + "/b.json"));
  expect_no_overlap(b);
  std::size_t events = b.counters.size() + b.instants.size();
  for (const auto& [k, v] : b.slices) events += v.size();
  EXPECT_LE(events, 2000u);
  EXPECT_GT(events, 1000u);
  EXPECT_GT(b.doc.at("otherData").at("dropped_events").num, 0);
  const Json sb = parse_json(read_file(dir + "/b/stats.json"));
  EXPECT_EQ(sb.at("trace").at("events").num, static_cast<double>(events));
}

// A trace path that cannot be written fails before simulating (this config deadlocks:
// exit 2 if it were simulated), exit 1, naming the option and path, and nothing is
// written to --out.
TEST(TraceCli, BadOutputPathsFailBeforeSimulating) {
  const std::string dir = make_temp_dir();
  const std::string cfg = kSrc + "/tests/bad_inputs/c_deadlock.yaml";
  for (const std::string opt : {"--trace", "--vcd"}) {
    const auto [code, err] = run_raw(
        dir, "--config " + cfg + " " + opt + " /nonexistent_dir/x.out --out " + dir + "/out");
    EXPECT_EQ(code, 1) << err;
    EXPECT_NE(err.find(opt + " /nonexistent_dir/x.out: cannot create the file"), std::string::npos)
        << err;
    EXPECT_EQ(err.find("deadlock"), std::string::npos) << err;
    EXPECT_FALSE(exists(dir + "/out/stats.json"));
  }
  const auto [code, err] = run_raw(dir, "--config " + cfg + " --trace " + dir);
  EXPECT_EQ(code, 1);
  EXPECT_NE(err.find("--trace " + dir + ": is a directory"), std::string::npos) << err;
  struct stat st {};
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  EXPECT_FALSE(exists(dir + ".probe"));
}

// One output that fails to write at the end does not discard the others: --out is written
// even though --trace could not be renamed into place (a directory appeared there).
TEST(TraceCli, AFailedTraceWriteKeepsTheResults) {
  const std::string dir = make_temp_dir();
  write_file(dir + "/g.yaml",
             "format: mase-graph\nversion: 1\ninputs: [{name: x, shape: [1, 64], precision: "
             "{type: fixed, width: 8, frac_width: 4}}]\nnodes:\n  - name: fc\n    op: linear\n"
             "    args: {data_in_0: x}\n    params: {weight: {shape: [32, 64], precision: {type: "
             "fixed, width: 8, frac_width: 4}}}\n    results: {data_out_0: {shape: [1, 32], "
             "precision: {type: fixed, width: 8, frac_width: 4}}}\noutputs: [fc]\n");
  write_file(dir + "/c.yaml", "workload: {graph: g.yaml, inferences: 1}\n");
  // The .tmp name of the trace is a non-empty directory: the final write fails.
  mkdir((dir + "/t.json.tmp").c_str(), 0777);
  write_file(dir + "/t.json.tmp/keep", "x");
  const auto [code, err] = run_raw(
      dir, "--config " + dir + "/c.yaml --quiet --trace " + dir + "/t.json --out " + dir + "/out");
  EXPECT_EQ(code, 1) << err;
  EXPECT_NE(err.find("--trace " + dir + "/t.json: cannot write the file"), std::string::npos)
      << err;
  EXPECT_TRUE(exists(dir + "/out/stats.json"));
  EXPECT_TRUE(exists(dir + "/out/config.yaml"));
}

// Warnings of one kind are one line with a count; --quiet leaves one line with the number.
// A 6-device chain of tiny compute-bound stages: 5 idle links.
TEST(TraceCli, WarningsAreGroupedAndQuietCountsThem) {
  const std::string dir = make_temp_dir();
  std::string g =
      "format: mase-graph\nversion: 1\ninputs: [{name: x, shape: [1, 4096], precision: {type: "
      "fixed, width: 8, frac_width: 4}}]\nnodes:\n";
  std::string prev = "x";
  for (int i = 0; i < 6; ++i) {
    const std::string n = "fc" + std::to_string(i);
    g += "  - name: " + n + "\n    op: linear\n    args: {data_in_0: " + prev +
         "}\n    params: {weight: {shape: [4096, 4096], precision: {type: fixed, width: 8, "
         "frac_width: 4}}}\n    results: {data_out_0: {shape: [1, 4096], precision: {type: fixed, "
         "width: 8, frac_width: 4}}}\n    hw: {device: fpga" +
         std::to_string(i) + ", parallelism: {data_in_0: [1], data_out_0: [1]}}\n";
    prev = n;
  }
  g += "outputs: [" + prev + "]\n";
  write_file(dir + "/g.yaml", g);
  write_file(dir + "/c.yaml",
             "workload: {graph: g.yaml, inferences: 2}\nsystem: {devices: [{count: 6, type: "
             "u250}], topology: chain}\nmapping: {weights: off_chip}\n");
  const auto [code, err] = run_raw(dir, "--config " + dir + "/c.yaml --no-progress");
  ASSERT_EQ(code, 0) << err;
  EXPECT_NE(err.find("simulate: warning: 5 links between pipeline stages are under 5 % utilised: "
                     "fpga0->fpga1 "),
            std::string::npos)
      << err;
  EXPECT_NE(err.find(", ... (2 more): the cuts could move or the stages merge\n"),
            std::string::npos)
      << err;
  EXPECT_EQ(err.find("warning: link fpga"), std::string::npos) << err;
  const auto [qcode, qerr] = run_raw(dir, "--config " + dir + "/c.yaml --quiet");
  ASSERT_EQ(qcode, 0) << qerr;
  EXPECT_EQ(qerr, "simulate: 5 warnings (run without --quiet to see them)\n");
}

// The same on a 256-device chain (64-wide layers, 0.3 s): the 255 idle links are one line
// naming three of them, and --quiet leaves one line that counts all 255.
TEST(TraceCli, WarningsOfA256DeviceChainAreOneLine) {
  const std::string dir = make_temp_dir();
  const std::string fx = "precision: {type: fixed, width: 8, frac_width: 4}";
  std::string g =
      "format: mase-graph\nversion: 1\ninputs: [{name: x, shape: [1, 64], " + fx + "}]\nnodes:\n";
  std::string prev = "x";
  for (int i = 0; i < 256; ++i) {
    const std::string n = "fc" + std::to_string(i);
    g += "  - name: " + n + "\n    op: linear\n    args: {data_in_0: " + prev +
         "}\n    params: {weight: {shape: [64, 64], " + fx +
         "}}\n    results: {data_out_0: {shape: [1, 64], " + fx + "}}\n    hw: {device: fpga" +
         std::to_string(i) + ", parallelism: {data_in_0: [1], data_out_0: [1]}}\n";
    prev = n;
  }
  write_file(dir + "/g.yaml", g + "outputs: [" + prev + "]\n");
  write_file(dir + "/c.yaml",
             "workload: {graph: g.yaml, inferences: 2}\nsystem: {devices: [{count: 256, type: "
             "u250}], topology: chain}\n");
  const auto [code, err] = run_raw(dir, "--config " + dir + "/c.yaml --no-progress");
  ASSERT_EQ(code, 0) << err;
  EXPECT_EQ(err,
            "simulate: warning: 255 links between pipeline stages are under 5 % utilised: "
            "fpga0->fpga1 0.00038 %, fpga1->fpga2 0.00038 %, fpga2->fpga3 0.00038 %, ... (252 "
            "more): the cuts could move or the stages merge\n");
  const auto [qcode, qerr] = run_raw(dir, "--config " + dir + "/c.yaml --quiet");
  ASSERT_EQ(qcode, 0) << qerr;
  EXPECT_EQ(qerr, "simulate: 255 warnings (run without --quiet to see them)\n");
}

// Progress: nothing when stderr is not a terminal; --progress forces it, and the final
// line says 100 % and how many inferences finished.
TEST(TraceCli, ProgressOnlyOnATerminalOrWhenAsked) {
  const std::string dir = make_temp_dir();
  write_file(dir + "/c.yaml", read_file(kSrc + "/configs/opt125m_generate_u280.yaml"));
  const std::string common = "--config " + dir + "/c.yaml --set workload.graph=" + kSrc +
                             "/workloads/graphs/opt125m_int8.json --set workload.prompt_len=8 "
                             "--set workload.gen_tokens=3 ";
  const auto [code, err] = run_raw(dir, common);
  ASSERT_EQ(code, 0) << err;
  EXPECT_EQ(err.find("[simulate]"), std::string::npos) << err;
  const auto [pcode, perr] = run_raw(dir, common + "--progress");
  ASSERT_EQ(pcode, 0) << perr;
  EXPECT_NE(perr.find("\r[simulate] 100 %, 3/3 inferences, "), std::string::npos) << perr;
  EXPECT_EQ(perr.find("e+"), std::string::npos) << perr;  // three significant digits, no 1e+01
}

// Progress during a long prefill (one 256-token prompt, ~1 s of wall time): the
// percentage counts simulated work, so it rises while no inference has finished yet, and
// an ETA follows once half a second has passed; at most 4 lines a second.
TEST(TraceCli, ProgressCountsThePrefillAndGivesAnEta) {
  const std::string dir = make_temp_dir();
  write_file(dir + "/c.yaml", read_file(kSrc + "/configs/opt125m_generate_u280.yaml"));
  const auto [code, err] =
      run_raw(dir, "--config " + dir + "/c.yaml --progress --set workload.graph=" + kSrc +
                       "/workloads/graphs/opt125m_int8.json --set workload.prompt_len=256 --set "
                       "workload.gen_tokens=2");
  ASSERT_EQ(code, 0) << err;
  std::vector<double> pct;
  double elapsed_s = 0;
  bool prefill_eta = false;
  std::istringstream in(err);
  for (std::string line; std::getline(in, line, '\r');) {
    if (line.rfind("[simulate] ", 0) != 0) continue;
    pct.push_back(std::stod(line.substr(11)));
    const auto e = line.find(" s elapsed");
    ASSERT_NE(e, std::string::npos) << line;
    elapsed_s = std::stod(line.substr(line.rfind(", ", e) + 2));
    if (line.find(" %, 0/2 inferences, ") != std::string::npos && pct.back() > 0 &&
        pct.back() < 100 && line.find(" elapsed, ETA ") != std::string::npos)
      prefill_eta = true;
  }
  ASSERT_GE(pct.size(), 3u) << err;
  EXPECT_TRUE(prefill_eta) << err;
  EXPECT_TRUE(std::is_sorted(pct.begin(), pct.end())) << err;
  EXPECT_EQ(pct.back(), 100);
  EXPECT_LE(static_cast<double>(pct.size()), 4 * elapsed_s + 2) << err;
}

// stats.json says which schema it follows and what produced it; the hashes are those of
// the files read.
TEST(TraceCli, StatsCarrySchemaAndProvenance) {
  const std::string dir = make_temp_dir();
  write_file(dir + "/c.yaml", read_file(kSrc + "/configs/opt125m_4xu250_ring.yaml"));
  const std::string graph = kSrc + "/workloads/graphs/opt125m_int8.json";
  const auto [code, err] =
      run_raw(dir, "--config " + dir + "/c.yaml --quiet --set workload.graph=" + graph +
                       " --set workload.dims.seq=4 --set "
                       "workload.inferences=1 --out " +
                       dir + "/out");
  ASSERT_EQ(code, 0) << err;
  const Json s = parse_json(read_file(dir + "/out/stats.json"));
  EXPECT_EQ(s.at("schema_version").num, 1);
  const Json& p = s.at("provenance");
  EXPECT_EQ(p.at("graph_sha256").str, masesim::sha256_file(graph));
  EXPECT_EQ(p.at("config_sha256").str, masesim::sha256_file(dir + "/c.yaml"));
  EXPECT_EQ(p.at("device_types").at("u250").at("sha256").str,
            masesim::sha256_file(kSrc + "/configs/devices/u250.yaml"));
  EXPECT_EQ(p.at("simulator_version").str, "0.1");
  const std::string commit = p.at("git_commit").str;
  EXPECT_TRUE(commit == "unknown" || commit.size() == 40) << commit;
}

// The keys docs/stats.md documents, as patterns: a table row's first cell holds keys in
// backticks (`.x` after `a.b`: `a.x`), relative to its section's heading (`nodes.<node>`)
// unless they start with the heading's first component; `<name>` is any text (names
// hold dots), `<a|b>` one of the words.
std::vector<std::pair<std::string, std::regex>> documented_stats_keys(const std::string& md) {
  auto spans = [](const std::string& text) {
    std::vector<std::string> r;
    for (std::size_t a = text.find('`'); a != std::string::npos; a = text.find('`', a + 1)) {
      const std::size_t b = text.find('`', a + 1);
      if (b == std::string::npos) break;
      r.push_back(text.substr(a + 1, b - a - 1));
      a = b;
    }
    return r;
  };
  auto first = [](const std::string& k) { return k.substr(0, k.find('.')); };
  std::vector<std::pair<std::string, std::regex>> keys;
  std::vector<std::string> heads;
  std::istringstream in(md);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("## ", 0) == 0) {
      heads = spans(line.substr(0, std::min(line.find(" ("), line.find(" *("))));
      continue;
    }
    if (line.rfind("| `", 0) != 0) continue;
    std::string prev;
    for (std::string k : spans(line.substr(2, line.find(" | ") - 2))) {
      if (k[0] == '.' && !prev.empty()) k = prev.substr(0, prev.rfind('.')) + k;
      prev = k;
      bool full = heads.empty();
      for (const auto& h : heads) full = full || first(h) == first(k);
      const std::string key = full ? k : heads[0] + "." + k;
      std::string rx;
      for (std::size_t i = 0; i < key.size(); ++i) {
        if (key[i] == '<') {
          const std::size_t e = key.find('>', i);
          const std::string inner = key.substr(i + 1, e - i - 1);
          rx += inner.find('|') == std::string::npos ? ".+" : "(" + inner + ")";
          i = e;
        } else if (std::isalnum(static_cast<unsigned char>(key[i])) || key[i] == '_') {
          rx += key[i];
        } else {
          rx += std::string("\\") + key[i];
        }
      }
      keys.emplace_back(key, std::regex(rx));
    }
  }
  return keys;
}

// Every key stats.json holds is documented in docs/stats.md: VTA, a host with PCIe
// offload, a multi-device run with a trace, a balanced 4-device transformer, an LLM generation, a
// systolic node.
TEST(TraceCli, EveryStatisticIsDocumented) {
  const auto keys = documented_stats_keys(read_file(kSrc + "/docs/stats.md"));
  ASSERT_GT(keys.size(), 100u);
  const std::string graphs = kSrc + "/workloads/graphs/";
  const std::vector<masesim::test::SimRun> runs = {
      run_simulate(
          {{"c.yaml", read_file(kSrc + "/configs/vta_resnet18.yaml")}}, "c.yaml",
          "--set workload.graph=" + graphs + "resnet18_int8.json --set workload.inferences=1"),
      run_simulate({{"c.yaml", read_file(kSrc + "/configs/gemm_offload_mnist.yaml")}}, "c.yaml",
                   "--set workload.graph=" + graphs + "mnist_cnn.yaml --set workload.inferences=1"),
      run_simulate({{"c.yaml", read_file(kSrc + "/configs/link_bound_2xu250.yaml")}}, "c.yaml",
                   "--set workload.graph=" + graphs + "elementwise_chain.yaml --trace /dev/null"),
      run_simulate({{"c.yaml", read_file(kSrc + "/configs/opt125m_4xu250_ring.yaml")}}, "c.yaml",
                   "--set workload.graph=" + graphs +
                       "opt125m_int8.json --set workload.dims.seq=4 --set workload.inferences=1"),
      run_simulate({{"c.yaml", read_file(kSrc + "/configs/opt125m_generate_u280.yaml")}}, "c.yaml",
                   "--no-progress --set workload.graph=" + graphs +
                       "opt125m_int8.json --set workload.prompt_len=8 --set workload.gen_tokens=3"),
      run_simulate({{"g.yaml", bmm_graph(1, 4, 4, 4)},
                    {"c.yaml", "workload: {graph: g.yaml, inferences: 1}\n"}},
                   "c.yaml")};
  for (const auto& r : runs) {
    ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
    ASSERT_GT(r.stats.size(), 20u);
    std::vector<std::string> missing;
    for (const auto& [k, v] : r.stats) {
      bool found = false;
      const std::string top = k.substr(0, k.find('.'));
      for (const auto& [doc, rx] : keys)
        found = found || (doc.compare(0, doc.find('.'), top) == 0 && std::regex_match(k, rx));
      if (!found) missing.push_back(k);
    }
    EXPECT_TRUE(missing.empty()) << missing.size() << " keys of " << r.dir
                                 << "/out/stats.json not in docs/stats.md, e.g. " << missing[0];
  }
}

// ---------------------------------------------------------------------------------------
// Co-simulation outputs (only with the Verilated core in the build).

// The waveform's clock is the device's (250 MHz: a rising edge every 4000 ps, 1 ps
// resolution), and the GEMM's first counted cycle starts at its simulated start (the
// "gemm" slice of the timeline).
TEST(TraceCli, VcdClockIsTheDeviceClock) {
  const std::string dir = make_temp_dir();
  write_file(dir + "/g.yaml", bmm_graph(1, 4, 4, 4));
  write_file(dir + "/c.yaml",
             "workload: {graph: g.yaml, inferences: 1}\nsystolic: {rows: 4, cols: 4}\n");
  const auto [code, err] = run_raw(dir, "--config " + dir + "/c.yaml --quiet --cosim mm --vcd " +
                                            dir + "/w.vcd --trace " + dir + "/t.json");
  if (code == 1 && err.find("no Verilated RTL") != std::string::npos)
    GTEST_SKIP() << "built without the Verilated core";
  ASSERT_EQ(code, 0) << err;
  const std::string vcd = read_file(dir + "/w.vcd");
  const auto ts = vcd.find("$timescale");
  ASSERT_NE(ts, std::string::npos);
  std::string scale = vcd.substr(ts + 10, vcd.find("$end", ts) - ts - 10);
  scale.erase(std::remove_if(scale.begin(), scale.end(), ::isspace), scale.end());
  EXPECT_EQ(scale, "1ps");
  // The clock's id code, then its rising edges.
  const auto def = vcd.find(" clk $end");
  ASSERT_NE(def, std::string::npos) << vcd.substr(0, 2000);
  const auto id_end = def;
  const auto id_begin = vcd.rfind(' ', id_end - 1) + 1;
  const std::string id = vcd.substr(id_begin, id_end - id_begin);
  std::vector<std::int64_t> rises;
  std::int64_t now = 0;
  std::istringstream in(vcd.substr(vcd.find("$enddefinitions")));
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line[0] == '#') now = std::stoll(line.substr(1));
    if (line == "1" + id) rises.push_back(now);
  }
  ASSERT_GT(rises.size(), 10u);
  for (std::size_t i = 1; i < rises.size(); ++i) EXPECT_EQ(rises[i] - rises[i - 1], 4000);
  const Timeline tl = read_timeline(read_file(dir + "/t.json"));
  std::int64_t gemm_start = -1, gemm_end = -1;
  for (const auto& [k, v] : tl.slices)
    for (const auto& s : v)
      if (s.name == "gemm") gemm_start = s.begin, gemm_end = s.end;
  ASSERT_GT(gemm_start, 0);
  EXPECT_NE(std::find(rises.begin(), rises.end(), gemm_start), rises.end())
      << "no rising edge at the GEMM's simulated start " << gemm_start;
  EXPECT_NE(std::find(rises.begin(), rises.end(), gemm_end), rises.end());
  EXPECT_LT(rises.front(), gemm_start);  // reset and configuration come first
}

// A core size built without waveform support is bad input (exit 1) naming the sizes that
// have it, not an internal error.
TEST(TraceCli, VcdOfAnUntracedCoreIsBadInput) {
  const std::string dir = make_temp_dir();
  write_file(dir + "/g.yaml", bmm_graph(1, 4, 4, 4));
  write_file(dir + "/c.yaml",
             "workload: {graph: g.yaml, inferences: 1}\nsystolic: {rows: 16, cols: 16}\n");
  const auto [code, err] =
      run_raw(dir, "--config " + dir + "/c.yaml --quiet --cosim mm --vcd " + dir + "/w.vcd");
  if (code == 1 && err.find("no Verilated RTL") != std::string::npos)
    GTEST_SKIP() << "built without the Verilated core";
  EXPECT_EQ(code, 1) << err;
  EXPECT_NE(err.find("--vcd: node 'mm' runs on a 16x16 output_stationary core, built without "
                     "waveform support; cores with waveforms: 4x4"),
            std::string::npos)
      << err;
  EXPECT_FALSE(exists(dir + "/w.vcd"));
}

// config.yaml records --cosim: re-running it without the option gives the same run, on
// the RTL again.
TEST(TraceCli, ConfigYamlReproducesACosimRun) {
  const std::string dir = make_temp_dir();
  write_file(dir + "/g.yaml", bmm_graph(2, 8, 16, 8));
  write_file(dir + "/c.yaml",
             "workload: {graph: g.yaml, inferences: 2}\nsystolic: {rows: 4, cols: 4}\n");
  const auto [code, err] =
      run_raw(dir, "--config " + dir + "/c.yaml --quiet --cosim mm --out " + dir + "/a");
  if (code == 1 && err.find("no Verilated RTL") != std::string::npos)
    GTEST_SKIP() << "built without the Verilated core";
  ASSERT_EQ(code, 0) << err;
  EXPECT_NE(read_file(dir + "/a/config.yaml").find("cosim: [mm]"), std::string::npos)
      << read_file(dir + "/a/config.yaml");
  const auto [code2, err2] =
      run_raw(dir, "--config " + dir + "/a/config.yaml --quiet --out " + dir + "/b");
  ASSERT_EQ(code2, 0) << err2;
  const Json a = parse_json(read_file(dir + "/a/stats.json"));
  const Json b = parse_json(read_file(dir + "/b/stats.json"));
  EXPECT_EQ(a.at("nodes").at("mm").at("impl").str, "rtl");
  EXPECT_EQ(b.at("nodes").at("mm").at("impl").str, "rtl");
  // Everything but where the config came from is identical.
  auto strip = [](const std::string& csv) {
    std::istringstream in(csv);
    std::string out;
    for (std::string line; std::getline(in, line);)
      if (line.rfind("provenance.config", 0) != 0) out += line + "\n";
    return out;
  };
  EXPECT_EQ(strip(read_file(dir + "/a/stats.csv")), strip(read_file(dir + "/b/stats.csv")));
  EXPECT_GT(a.at("nodes").at("mm").at("rtl_cycles").num, 0);
}

// masesim_models links libsystemc, whose main() calls sc_main.
int sc_main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
