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
