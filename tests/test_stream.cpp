// Stream: FIFO times of a valid/ready stage and the lazy ring behind them (one SystemC
// design per process: gtest_discover_tests runs each TEST alone).
#include <gtest/gtest.h>

#include <systemc>

#include <functional>
#include <memory>
#include <vector>

#include "models/stream.hpp"

using masesim::BeatValue;
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

int sc_main(int argc, char* argv[]) {
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
