// simulate: runs a masesim system configuration (see sim/cli/simulate.cpp).
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
  return masesim::simulate_main(argc, argv, std::cout, std::cerr);
}
