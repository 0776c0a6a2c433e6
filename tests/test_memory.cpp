#include <gtest/gtest.h>

#include "models/memory_timing.hpp"
#include "models/time.hpp"

using namespace masesim;

TEST(Memory, TransferNeverFasterThanTheRate) {
  EXPECT_EQ(transfer_ps(1000, 1.0), 1000000u);  // 1 GB/s = 1 byte/ns
  EXPECT_EQ(transfer_ps(1, 3.0), 334u);         // rounded up
  EXPECT_EQ(period_ps_for_mhz(250), 4000u);
  EXPECT_EQ(period_ps_for_mhz(300), 3333u);
}

TEST(Memory, ChannelsInterleaveAndQueue) {
  MemoryTiming t;
  t.channels = 2;
  t.gbytes_per_s_per_channel = 10.0;  // 10 bytes/ns per channel
  t.latency_ps = 50000;
  MemoryChannels ch(t);
  // 2000 bytes over 2 channels: 1000 each = 100 ns, + 50 ns latency.
  EXPECT_EQ(ch.serve(0, 2000), 150000u);
  // A second request at t=0 queues behind the first on both channels.
  EXPECT_EQ(ch.serve(0, 2000), 250000u);
  // One that starts after the channels are free is not delayed.
  EXPECT_EQ(ch.serve(1000000, 20), 1000000u + 1000u + 50000u);
  EXPECT_EQ(ch.bytes(), 4020u);
  EXPECT_EQ(ch.requests(), 3u);
}

// A request longer than 4 GiB, whole and in the parts timed_read sends: 5 GiB over two
// 10 GB/s channels is 2684354560 bytes = 268435456 ns per channel, + 50 ns latency once.
TEST(Memory, RequestAbove4GiBWholeAndInPartsAgree) {
  MemoryTiming t;
  t.channels = 2;
  t.gbytes_per_s_per_channel = 10.0;
  t.latency_ps = 50000;
  const std::uint64_t bytes = 5ull << 30;
  MemoryChannels whole(t), parts(t);
  EXPECT_EQ(whole.serve(0, bytes), 268435456000ull + 50000ull);
  time_ps at = 0;
  for (std::uint64_t off = 0; off < bytes; off += 1ull << 31) {
    const std::uint64_t len = std::min<std::uint64_t>(bytes - off, 1ull << 31);
    at = parts.serve_part(at, off, len, off + len == bytes);
    if (off + len < bytes) {
      EXPECT_EQ(at, (off + len) / 2 * 100);  // transfer end, no latency
    }
  }
  EXPECT_EQ(at, 268435456000ull + 50000ull);
  EXPECT_EQ(parts.busy_ps(), whole.busy_ps());
  EXPECT_EQ(parts.busy_ps(), 2 * 268435456000ull);
  EXPECT_EQ(parts.bytes(), bytes);
  EXPECT_EQ(parts.requests(), 1u);
  // An odd tail: 4 GiB + 3 bytes in parts (2 GiB, 2 GiB, 3): the last part holds the
  // channels for the busiest share's growth, 2 bytes = 200 ps.
  MemoryChannels odd(t);
  time_ps a = odd.serve_part(0, 0, 1ull << 31, false);
  a = odd.serve_part(a, 1ull << 31, 1ull << 31, false);
  EXPECT_EQ(a, 214748364800ull);
  EXPECT_EQ(odd.serve_part(a, 1ull << 32, 3, true), 214748364800ull + 200 + 50000);
  EXPECT_EQ(odd.busy_ps(), 2 * 214748364800ull + 200 + 100);  // channels hold 2 and 1 bytes
}
