// The `simulate` command line (kept out of main.cpp so tests can drive it in-process).
#pragma once
#include <ostream>

namespace masesim {

/// Runs the CLI; returns the process exit code (0 ok, 1 bad input, 2 simulation failure,
/// 3 internal error). Simulates at most once per process (SystemC elaborates once).
int simulate_main(int argc, char* argv[], std::ostream& out, std::ostream& err);

}  // namespace masesim
