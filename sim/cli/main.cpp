// simulate: runs a masesim system configuration (see sim/cli/simulate.cpp).
#include <malloc.h>
#include <systemc>

#include <cstdlib>
#include <iostream>

#include "sim/cli/simulate.hpp"

namespace {
// The kernel prints its banner at the first elaboration unless this is set.
const int kQuietBanner = setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
}  // namespace

int sc_main(int argc, char* argv[]) {
  (void)kQuietBanner;
  // Blocks free their large burst buffers after each run (NodeBlock::release_burst_buffers)
  // and allocate them again for the next: served from the heap's free lists rather than a
  // fresh mmap/munmap pair each time (glibc's default threshold is 128 KiB), they cost no
  // system call, and the peak holds only the buffers in use.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  return masesim::simulate_main(argc, argv, std::cout, std::cerr);
}
