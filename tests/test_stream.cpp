// Stream: FIFO times of a valid/ready stage and the lazy ring behind them (one SystemC
// design per process: gtest_discover_tests runs each TEST alone).
#include <gtest/gtest.h>

#define SC_INCLUDE_DYNAMIC_PROCESSES
#include <systemc>

#include <functional>
#include <memory>
#include <random>
#include <vector>

#include "models/stream.hpp"

using masesim::BeatValue;
using masesim::RunResult;
using masesim::Stream;
using masesim::time_ps;

namespace {

/// Runs `producer` and `consumer` as two SystemC threads until both are done.
struct TwoThreads : sc_core::sc_module {
  std::function<void()> producer, consumer;
  SC_HAS_PROCESS(TwoThreads);
  TwoThreads(std::function<void()> p, std::function<void()> c)
      : sc_core::sc_module("two_threads"), producer(std::move(p)), consumer(std::move(c)) {
    SC_THREAD(run_producer);
    SC_THREAD(run_consumer);
  }
  void run_producer() { producer(); }
  void run_consumer() { consumer(); }
};

void run(std::function<void()> producer, std::function<void()> consumer) {
  TwoThreads t(std::move(producer), std::move(consumer));
  sc_core::sc_start();
}

}  // namespace

// Depth 2, producer offers a beat 10 ps after the last was accepted, consumer takes one
// 100 ps after the last. By hand: push i is accepted at max(offer, pop of beat i - 2),
// pop j at max(consumer time, push j):
//   push 0, 10, 20, max(30, pop1 = 100), max(110, pop2 = 200), max(210, pop3 = 300)
//   pop  0, 100, 200, 300, 400, 500.
TEST(Stream, PushAndPopTimesOfADepthTwoFifo) {
  Stream s("p->c", 2);
  std::vector<time_ps> pushed, popped;
  run(
      [&] {
        time_ps t = 0;
        for (int i = 0; i < 6; ++i) pushed.push_back(t = s.push(t, nullptr)), t += 10;
      },
      [&] {
        time_ps t = 0;
        for (int j = 0; j < 6; ++j) popped.push_back(t = s.pop(t, nullptr)), t += 100;
      });
  EXPECT_EQ(pushed, (std::vector<time_ps>{0, 10, 20, 100, 200, 300}));
  EXPECT_EQ(popped, (std::vector<time_ps>{0, 100, 200, 300, 400, 500}));
  EXPECT_EQ(s.full_ps(), 70u + 90u + 90u);  // offers 30, 110, 210 waited for pops 1..3
  EXPECT_EQ(s.empty_ps(), 0u);
  EXPECT_EQ(s.capacity(), 2u);
}

// Depth 1,024 but never more than one beat in flight (the producer yields after each
// push, the consumer keeps pace): the ring holds 2 entries, not 1,024, and the times are
// those of the FIFO (push i and pop i both at 10 i).
TEST(Stream, LazyRingGrowsOnlyWithBeatsInFlight) {
  Stream s("p->c", 1024);
  EXPECT_EQ(s.capacity(), 0u);
  std::vector<time_ps> pushed, popped;
  run(
      [&] {
        for (time_ps i = 0; i < 3000; ++i) {
          pushed.push_back(s.push(10 * i, nullptr));
          sc_core::wait(sc_core::SC_ZERO_TIME);
        }
      },
      [&] {
        time_ps t = 0;
        for (int j = 0; j < 3000; ++j) popped.push_back(t = s.pop(t, nullptr)), t += 10;
      });
  for (time_ps i = 0; i < 3000; ++i) {
    ASSERT_EQ(pushed[i], 10 * i);
    ASSERT_EQ(popped[i], 10 * i);
  }
  EXPECT_EQ(s.capacity(), 2u);
  EXPECT_EQ(s.depth(), 1024u);
  EXPECT_EQ(s.beats(), 3000u);
}

// A consumer that runs ahead in simulated time: its pop times (10,000 + 10 j) are later
// than the producer's offers, so they delay the pushes that reuse their slots (push i >= 4
// at 10,000 + 10 (i - 4)); the ring keeps them, depth 4 entries and no more.
TEST(Stream, PopTimesThatCanStillDelayAPushAreKept) {
  Stream s("p->c", 4);
  std::vector<time_ps> pushed, popped;
  std::size_t most = 0;
  run(
      [&] {
        time_ps t = 0;
        for (int i = 0; i < 12; ++i) {
          pushed.push_back(t = s.push(t, nullptr));
          t += 10;
          most = std::max(most, s.capacity());
          sc_core::wait(sc_core::SC_ZERO_TIME);
        }
      },
      [&] {
        time_ps t = 10000;
        for (int j = 0; j < 12; ++j) popped.push_back(t = s.pop(t, nullptr)), t += 10;
      });
  std::vector<time_ps> want_push{0, 10, 20, 30}, want_pop;
  for (time_ps i = 4; i < 12; ++i) want_push.push_back(10000 + 10 * (i - 4));
  for (time_ps j = 0; j < 12; ++j) want_pop.push_back(10000 + 10 * j);
  EXPECT_EQ(pushed, want_push);
  EXPECT_EQ(popped, want_pop);
  EXPECT_EQ(most, 4u);
}

// A credit delay: a freed slot is usable `credit` after the pop (depth 1: push i waits
// for pop i - 1 plus 5 ps).
TEST(Stream, CreditDelayAfterPop) {
  Stream s("p->c", 1);
  s.set_credit_delay(5);
  std::vector<time_ps> pushed;
  run(
      [&] {
        time_ps t = 0;
        for (int i = 0; i < 3; ++i) pushed.push_back(t = s.push(t, nullptr)), t += 1;
      },
      [&] {
        time_ps t = 0;
        for (int j = 0; j < 3; ++j) t = s.pop(t, nullptr) + 20;
      });
  // push 0 at 0, pop 0 at 0; push 1 at max(1, 0 + 5) = 5, pop 1 at max(20, 5) = 20;
  // push 2 at max(6, 20 + 5) = 25.
  EXPECT_EQ(pushed, (std::vector<time_ps>{0, 5, 25}));
}

// Functional mode: values travel with their beats, also when the first beats carried none.
TEST(Stream, ValuesFollowTheirBeats) {
  Stream s("p->c", 3);
  auto tensor = [](double v) {
    auto t = std::make_shared<masesim::TensorData>();
    t->v = {v};
    return BeatValue(t);
  };
  std::vector<BeatValue> sent{nullptr, nullptr, tensor(1), tensor(2), nullptr, tensor(3)};
  std::vector<BeatValue> got;
  run(
      [&] {
        for (const auto& v : sent) s.push(0, nullptr, v);
      },
      [&] {
        for (std::size_t j = 0; j < sent.size(); ++j) {
          BeatValue v;
          s.pop(0, nullptr, &v);
          got.push_back(v);
        }
      });
  ASSERT_EQ(got.size(), sent.size());
  for (std::size_t j = 0; j < sent.size(); ++j) EXPECT_EQ(got[j], sent[j]) << "beat " << j;
}

// ---------------------------------------------------------------------------------------
// Burst granularity: runs against the beat-by-beat FIFO.

namespace {

/// One step of a producer or consumer: a run of n beats (beat 0 at `gap` after the end's
/// previous beat, beat k > 0 `interval` after beat k-1), or, when `single`, n beats done
/// one push()/pop() at a time with the same law. `ready` (producer) / `times` (consumer)
/// exercise the per-beat readiness and the recorded times. `yield` waits before the step
/// so that the two ends interleave differently from seed to seed.
struct Step {
  std::uint64_t n = 1;
  time_ps gap = 0, interval = 1;
  bool single = false, with_ready = false, with_times = false;
  int yield = 0;  ///< 0: none, 1: a delta cycle, 2: 1 ps of kernel time
  std::vector<time_ps> ready;
};

std::vector<Step> random_steps(std::mt19937_64& rng, std::uint64_t beats, bool producer) {
  std::vector<Step> steps;
  std::uniform_int_distribution<int> pct(0, 99);
  // Intervals from a small set so that producer and consumer are often in a steady state.
  const time_ps intervals[] = {1, 2, 3, 4, 7, 10};
  while (beats > 0) {
    Step s;
    const int kind = pct(rng);
    s.n = std::min<std::uint64_t>(beats, kind < 15 ? 1 + rng() % 3 : 1 + rng() % 400);
    s.gap = pct(rng) < 70 ? 0 : rng() % 50;
    s.interval = intervals[rng() % 6];
    s.single = pct(rng) < 15;
    s.yield = static_cast<int>(rng() % 3);
    if (producer && pct(rng) < 25) {
      s.with_ready = true;  // readiness: an arithmetic pattern with occasional jumps
      const time_ps step = intervals[rng() % 6];
      time_ps t = 0;
      for (std::uint64_t k = 0; k < s.n; ++k) s.ready.push_back(t += (pct(rng) < 5 ? 40 : step));
    }
    if (!producer) s.with_times = pct(rng) < 25;
    beats -= s.n;
    steps.push_back(std::move(s));
  }
  return steps;
}

void do_yield(int y) {
  if (y == 1) sc_core::wait(sc_core::SC_ZERO_TIME);
  if (y == 2) sc_core::wait(1, sc_core::SC_PS);
}

/// What one end saw: per step its RunResult, per beat its time.
struct Seen {
  std::vector<RunResult> runs;
  std::vector<time_ps> beats;
};

/// Producer. `runs`: push_run per step (else one push() per beat, the reference). Readiness
/// times count from the step's first offer.
void produce(Stream& s, const std::vector<Step>& steps, bool runs, Seen& seen) {
  time_ps t = 0;
  for (const Step& st : steps) {
    do_yield(st.yield);
    const time_ps offer = t + st.gap;
    std::vector<time_ps> ready;
    for (const time_ps r : st.ready) ready.push_back(offer + r);
    RunResult r;
    if (runs && !st.single) {
      r = s.push_run(st.n, offer, st.interval, nullptr, masesim::kNever, nullptr,
                     st.with_ready ? ready.data() : nullptr);
    } else {
      time_ps o = offer;
      for (std::uint64_t k = 0; k < st.n; ++k) {
        if (st.with_ready) o = std::max(o, ready[k]);
        const time_ps a = s.push(o, nullptr);
        if (k == 0) r.first = a;
        r.last = a;
        r.stall_ps += a - o;
        ++r.beats;
        o = a + st.interval;
      }
    }
    seen.runs.push_back(r);
    t = r.last;
  }
}

void consume(Stream& s, const std::vector<Step>& steps, bool runs, Seen& seen) {
  time_ps t = 0;
  for (const Step& st : steps) {
    do_yield(st.yield);
    const time_ps want = t + st.gap;
    RunResult r;
    if (runs && !st.single) {
      std::vector<time_ps> times(st.n);
      r = s.pop_run(st.n, want, st.interval, nullptr, nullptr,
                    st.with_times ? times.data() : nullptr);
      if (st.with_times) seen.beats.insert(seen.beats.end(), times.begin(), times.end());
    } else {
      time_ps w = want;
      for (std::uint64_t k = 0; k < st.n; ++k) {
        const time_ps p = s.pop(w, nullptr);
        if (k == 0) r.first = p;
        r.last = p;
        r.stall_ps += p - w;
        ++r.beats;
        if (st.with_times) seen.beats.push_back(p);
        w = p + st.interval;
      }
    }
    seen.runs.push_back(r);
    t = r.last;
  }
}

/// Several producer/consumer pairs as SystemC threads, each pair a stream run twice: with
/// runs and beat by beat.
struct Pairs : sc_core::sc_module {
  std::vector<std::function<void()>> bodies;
  SC_HAS_PROCESS(Pairs);
  Pairs(const sc_core::sc_module_name& n, std::vector<std::function<void()>> b)
      : sc_core::sc_module(n), bodies(std::move(b)) {
    for (std::size_t i = 0; i < bodies.size(); ++i) sc_core::sc_spawn([this, i] { bodies[i](); });
  }
};

void expect_same(const Seen& a, const Seen& b, const std::string& what) {
  ASSERT_EQ(a.runs.size(), b.runs.size()) << what;
  for (std::size_t i = 0; i < a.runs.size(); ++i) {
    EXPECT_EQ(a.runs[i].first, b.runs[i].first) << what << " step " << i;
    EXPECT_EQ(a.runs[i].last, b.runs[i].last) << what << " step " << i;
    EXPECT_EQ(a.runs[i].stall_ps, b.runs[i].stall_ps) << what << " step " << i;
    EXPECT_EQ(a.runs[i].beats, b.runs[i].beats) << what << " step " << i;
  }
  EXPECT_EQ(a.beats, b.beats) << what;
}

}  // namespace

// 60 seeded random producer/consumer patterns (depth 1-6, credit delay and latency 0-9 ps,
// 600-1,500 beats): runs at both ends, runs at one end and single beats at the other, with
// and without per-beat readiness and recorded times, give every run the first and last
// times, stall sum and beat count — and every recorded beat the time — that the same
// laws give beat by beat; the streams' full/empty totals match too. The steady-state
// extrapolation is exercised (closed_form_beats > 0 on some streams).
TEST(Stream, RunsEqualBeatByBeatOnRandomPatterns) {
  masesim::stream_granularity() = masesim::Granularity::Burst;
  constexpr int kSeeds = 60;
  struct Case {
    std::unique_ptr<Stream> run, ref;
    std::vector<Step> prod, cons;
    Seen run_p, run_c, ref_p, ref_c;
  };
  std::vector<Case> cases(kSeeds);
  std::vector<std::function<void()>> bodies;
  for (int seed = 0; seed < kSeeds; ++seed) {
    std::mt19937_64 rng(static_cast<std::uint64_t>(seed) * 7919 + 1);
    Case& c = cases[static_cast<std::size_t>(seed)];
    const std::size_t depth = 1 + rng() % 6;
    const time_ps credit = rng() % 3 == 0 ? rng() % 10 : 0;
    const time_ps latency = rng() % 3 == 0 ? rng() % 10 : 0;
    c.run = std::make_unique<Stream>("run" + std::to_string(seed), depth);
    c.ref = std::make_unique<Stream>("ref" + std::to_string(seed), depth);
    for (Stream* s : {c.run.get(), c.ref.get()}) {
      if (latency) s->set_latency(latency);
      if (credit) s->set_credit_delay(credit);
    }
    const std::uint64_t beats = 600 + rng() % 900;
    c.prod = random_steps(rng, beats, true);
    c.cons = random_steps(rng, beats, false);
    bodies.push_back([&c] { produce(*c.run, c.prod, true, c.run_p); });
    bodies.push_back([&c] { consume(*c.run, c.cons, true, c.run_c); });
    bodies.push_back([&c] { produce(*c.ref, c.prod, false, c.ref_p); });
    bodies.push_back([&c] { consume(*c.ref, c.cons, false, c.ref_c); });
  }
  Pairs pairs("pairs", std::move(bodies));
  sc_core::sc_start();
  std::uint64_t closed = 0;
  for (int seed = 0; seed < kSeeds; ++seed) {
    const Case& c = cases[static_cast<std::size_t>(seed)];
    const std::string what = "seed " + std::to_string(seed);
    expect_same(c.run_p, c.ref_p, what + " producer");
    expect_same(c.run_c, c.ref_c, what + " consumer");
    EXPECT_EQ(c.run->beats(), c.ref->beats()) << what;
    EXPECT_EQ(c.run->full_ps(), c.ref->full_ps()) << what;
    EXPECT_EQ(c.run->empty_ps(), c.ref->empty_ps()) << what;
    closed += c.run->closed_form_beats();
  }
  EXPECT_GT(closed, 0u);
}

// A steady state solved in closed form, by hand: depth 2, the producer offers a beat every
// 3 ps, the consumer takes one every 5 ps (1,000 beats as one run at each end). The
// consumer bounds the rate: pop j at 5 j; push i waits for pop i - 2, so push i is at
// max(3 i, 5 (i - 2)) = 5 i - 10 for i >= 5 (3 i before). Last push 4,985, last pop
// 4,995; producer stall: beat i >= 6 offered at (5 (i-1) - 10) + 3, accepted 2 ps later:
// 2 x 994 = 1,988 ps; consumer never waits. All but the first periods are extrapolated.
TEST(Stream, SteadyStateRunInClosedForm) {
  masesim::stream_granularity() = masesim::Granularity::Burst;
  Stream s("p->c", 2);
  RunResult p, c;
  run([&] { p = s.push_run(1000, 0, 3, nullptr); }, [&] { c = s.pop_run(1000, 0, 5, nullptr); });
  EXPECT_EQ(p.first, 0u);
  EXPECT_EQ(p.last, 4985u);
  EXPECT_EQ(p.stall_ps, 1988u);
  EXPECT_EQ(c.first, 0u);
  EXPECT_EQ(c.last, 4995u);
  EXPECT_EQ(c.stall_ps, 0u);
  EXPECT_EQ(p.beats, 1000u);
  EXPECT_EQ(c.beats, 1000u);
  EXPECT_GT(s.closed_form_beats(), 900u);
}

// A push run stops before the first beat offered past its limit: depth 4, beats offered
// every 10 ps from 0, limit 35: beats at 0, 10, 20, 30 pushed, the one at 40 reported.
TEST(Stream, PushRunStopsAtItsLimit) {
  masesim::stream_granularity() = masesim::Granularity::Burst;
  Stream s("p->c", 4);
  RunResult p;
  run([&] { p = s.push_run(10, 0, 10, nullptr, 35); }, [&] { s.pop_run(4, 0, 1, nullptr); });
  EXPECT_EQ(p.beats, 4u);
  EXPECT_EQ(p.last, 30u);
  EXPECT_EQ(p.over, 40u);
}

int sc_main(int argc, char* argv[]) {
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
