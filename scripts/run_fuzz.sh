#!/usr/bin/env bash
# Builds the libFuzzer targets (clang-14, -DMASESIM_FUZZ=ON) and runs them for a bounded
# time. docs/fuzzing.md.
#
#   scripts/run_fuzz.sh [graph|config|all] [seconds per target]      (default: all 300)
#
# Environment: FUZZ_BUILD (build dir, default /tmp/masesim-fuzz-build), FUZZ_WORK (working
# corpora, crash artifacts and logs, default /tmp/masesim-fuzz-work), FUZZ_JOBS (build -j,
# default 2), CXX (default clang++-14), FUZZ_FORK (1 = default: libFuzzer fork mode that
# keeps going after a crash/timeout/OOM and saves every one under FUZZ_WORK/artifacts-*;
# 0 = stop at the first finding). With "all" the targets run in parallel (one core each).
# The seed corpora in fuzz/corpus/ are only read; new inputs go to FUZZ_WORK.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
which=${1:-all}
secs=${2:-300}
build=${FUZZ_BUILD:-/tmp/masesim-fuzz-build}
work=${FUZZ_WORK:-/tmp/masesim-fuzz-work}
cxx=${CXX:-clang++-14}
case "$which" in graph|config) targets=("$which") ;; all) targets=(graph config) ;;
  *) echo "usage: $0 [graph|config|all] [seconds]" >&2; exit 2 ;; esac

mkdir -p "$build"
command -v "$cxx" >/dev/null || { echo "$cxx not found: apt-get install -y clang-14 libfuzzer-14-dev" >&2; exit 1; }
cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$cxx" \
  -DMASESIM_FUZZ=ON -DMASESIM_RTL=OFF -DMASESIM_BUILD_TESTS=OFF > "$build/configure.log" 2>&1 \
  || { cat "$build/configure.log"; exit 1; }
cmake --build "$build" -j"${FUZZ_JOBS:-2}" --target fuzzers

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fork=()
[ "${FUZZ_FORK:-1}" = 1 ] && fork=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
pids=()
for t in "${targets[@]}"; do
  mkdir -p "$work/corpus-$t" "$work/artifacts-$t"
  cp -n "$src/fuzz/corpus/$t/"* "$work/corpus-$t/" 2>/dev/null || true
  echo "fuzz_$t: ${secs}s, corpus $work/corpus-$t, log $work/fuzz_$t.log"
  "$build/fuzz/fuzz_$t" "$work/corpus-$t" -max_len=4096 -timeout=5 -rss_limit_mb=2048 \
    -max_total_time="$secs" -print_final_stats=1 "${fork[@]}" -artifact_prefix="$work/artifacts-$t/" \
    > "$work/fuzz_$t.log" 2>&1 &
  pids+=($!)
done
rc=0
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || { rc=1; echo "fuzz_${targets[$i]}: FOUND A PROBLEM (see $work/fuzz_${targets[$i]}.log)"; }
done
for t in "${targets[@]}"; do
  echo "== fuzz_$t"
  grep -E '^(#[0-9]+.*(DONE|pulse)|stat::|#[0-9]+: cov)' "$work/fuzz_$t.log" | tail -4 || true
  echo "corpus: $(ls "$work/corpus-$t" | wc -l) files; artifacts: $(ls "$work/artifacts-$t" | wc -l)"
done
exit $rc
