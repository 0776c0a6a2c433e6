// OffChipMemory through TLM with requests longer than the generic payload's 32-bit
// length (one SystemC design, so one TEST). Shapes: 2 channels at 10 GB/s, 50 ns latency;
// a 5 GiB read at t = 0, then a 4 GiB + 3 byte write issued at its completion.
#include <gtest/gtest.h>
#include <tlm_utils/simple_initiator_socket.h>

#include "models/memory.hpp"

using namespace masesim;

namespace {

struct Issuer : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<Issuer> socket;
  time_ps first = 0, second = 0;
  SC_HAS_PROCESS(Issuer);
  explicit Issuer(const sc_core::sc_module_name& n) : sc_core::sc_module(n), socket("socket") {
    SC_THREAD(run);
  }
  void run() {
    first = timed_read(socket, 0, 5ull << 30, 0);
    second = timed_write(socket, first, (4ull << 30) + 3, 0);
  }
};

}  // namespace

TEST(MemoryTlm, RequestsAbove4GiBAreTimedWhole) {
  MemoryTiming t;
  t.channels = 2;
  t.gbytes_per_s_per_channel = 10.0;
  t.latency_ps = 50000;
  OffChipMemory mem("mem", t);
  Issuer issuer("issuer");
  issuer.socket.bind(mem.socket);
  sc_core::sc_start();
  // 5 GiB: 2684354560 bytes per channel at 10 bytes/ns = 268435456 ns, + 50 ns.
  EXPECT_EQ(issuer.first, 268435456000ull + 50000ull);
  // 4 GiB + 3: busiest channel 2147483650 bytes = 214748365 ns, + 50 ns, after the first.
  EXPECT_EQ(issuer.second, issuer.first + 214748365000ull + 50000ull);
  EXPECT_EQ(mem.channels().bytes(), (5ull << 30) + (4ull << 30) + 3);
  EXPECT_EQ(mem.channels().requests(), 2u);
}

int sc_main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
