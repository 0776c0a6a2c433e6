#!/usr/bin/env bash
# CI step: builds masesim with AddressSanitizer + UBSan (-DMASESIM_SANITIZE=ON) into
# build-asan/ and runs the unit, simulation and CLI tests there (not python, not cosim).
# Any ASan/UBSan/LeakSanitizer report fails the run. docs/fuzzing.md.
#
# With -DMASESIM_RTL=OFF the default target is exactly the unit-test executables and the
# simulate binary (no Verilated RTL, no co-simulation; the python tests build nothing).
# Environment: ASAN_BUILD (build dir, default build-asan), ASAN_JOBS (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${ASAN_BUILD:-build-asan}
jobs=${ASAN_JOBS:-2}
start=$(date +%s)
mkdir -p "$build"
log="$build/configure.log"  # inside the (git-ignored) build dir

# -O1 -g1: ASan's recommended optimisation, line tables for the reports; compiles ~2x
# faster than the default RelWithDebInfo -O2 -g (93 s -> 42 s for sim/system/system.cpp).
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" \
  -DMASESIM_SANITIZE=ON -DMASESIM_RTL=OFF \
  > "$log" 2>&1 || { cat "$log"; exit 1; }
cmake --build "$build" -j"$jobs"
built=$(date +%s)

# detect_leaks: LeakSanitizer on; abort_on_error: a report is a failed test.
# scripts/lsan.supp (if present) holds leak suppressions for libsystemc only.
asan_opts="detect_leaks=1:abort_on_error=1"
[ -f scripts/lsan.supp ] && export LSAN_OPTIONS="suppressions=$(pwd)/scripts/lsan.supp:print_suppressions=0"
ASAN_OPTIONS="$asan_opts" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
  ctest --test-dir "$build" -L 'unit|sim|cli' -j"$jobs" --output-on-failure
end=$(date +%s)
echo "ci_sanitize: build $((built - start)) s, tests $((end - built)) s, total $((end - start)) s"
