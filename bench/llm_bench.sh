#!/usr/bin/env bash
# LLM inference figures of the shipped generate configs: TTFT, TPOT (mean/p99), tokens/s,
# the decode phase's analytic bound and what limits it, and the simulator's wall time and
# peak memory for each. Usage: bench/llm_bench.sh [path/to/simulate] [config ...]
# (default: every configs/*generate*.yaml). One line per config.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sim=${1:-$here/../build/simulate}
shift || true
configs=("$@")
[ ${#configs[@]} -eq 0 ] && configs=("$here"/../configs/*generate*.yaml)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for c in "${configs[@]}"; do
  name=$(basename "$c" .yaml)
  start=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$tmp/$name.mem" "$sim" --config "$c" --out "$tmp/$name" --quiet \
    2> "$tmp/$name.err" || { echo "$name: FAILED"; cat "$tmp/$name.err"; continue; }
  end=$(date +%s.%N)
  /usr/bin/python3 - "$tmp/$name/stats.json" "$name" "$start" "$end" "$tmp/$name.mem" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
L = s["llm"]
d = L["phases"].get("decode", {})
wall = float(sys.argv[4]) - float(sys.argv[3])
mem_mib = int(open(sys.argv[5]).read().split()[-1]) / 1024
print(f"{sys.argv[2]}: batch {L['batch']}, TTFT {s.get('ttft_us', 0)/1e3:.2f} ms, "
      f"TPOT {s.get('tpot_us', 0)/1e3:.3f} ms (p99 {s.get('tpot_p99_us', 0)/1e3:.3f}), "
      f"{s['tokens_per_s']:.1f} tokens/s over the run, "
      f"{s.get('decode_tokens_per_s', 0):.1f} while decoding; decode bound "
      f"{d.get('bound_us', 0)/1e3:.3f} ms ({d.get('bound', '-')}), limited by "
      f"{d.get('limited_by', '-').split(' (')[0]}; wall {wall:.1f} s, {mem_mib:.0f} MiB")
PY
done
