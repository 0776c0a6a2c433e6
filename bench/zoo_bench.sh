#!/usr/bin/env bash
# Zoo: export and simulate wall time for every model of scripts/masesim_models.py.
# Each model is exported at its default dims (batch 1, seq 128 where it has them), int8,
# then simulated for one inference on one U250 with mapping.weights: auto and
# mapping.oversubscribe: true (so that the models larger than a card run too) and a
# simulated-time limit of 100 s.
# Usage: bench/zoo_bench.sh [path/to/simulate] [model ...]. One line per model; a model
# that fails prints simulate's message and the script goes on (exit 1 at the end).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sim=${1:-$here/../build/simulate}
shift || true
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
models=("$@")
if [ ${#models[@]} -eq 0 ]; then
  mapfile -t models < <(cd "$here/../scripts" && /usr/bin/python3 -c \
    "import masesim_models as z; print('\n'.join(z.ZOO))")
fi
failed=0
for m in "${models[@]}"; do
  s=$(date +%s.%N)
  /usr/bin/python3 "$here/../scripts/export_graph.py" --model "$m" --quant-preset int8 \
    --out "$tmp/$m.json"
  e=$(date +%s.%N)
  printf 'workload:\n  graph: %s\n  inferences: 1\nmapping:\n  weights: auto\n  oversubscribe: true\nsimulation:\n  max_sim_time_ms: 100000\n' \
    "$tmp/$m.json" > "$tmp/$m.yaml"
  if ! "$sim" --config "$tmp/$m.yaml" --out "$tmp/o_$m" --quiet 2> "$tmp/$m.err"; then
    echo "$m: simulate failed: $(tail -1 "$tmp/$m.err")"
    failed=1
    continue
  fi
  f=$(date +%s.%N)
  /usr/bin/python3 - "$tmp/o_$m/stats.json" "$tmp/$m.json" "$m" "$s" "$e" "$f" <<'PY'
import json, sys
st = json.load(open(sys.argv[1]))
g = json.load(open(sys.argv[2]))
s, e, f = (float(x) for x in sys.argv[4:7])
print(f"{sys.argv[3]:18s} nodes {len(g['nodes']):4d}  export {e - s:6.2f} s  simulate "
      f"{f - e:7.2f} s  simulated {st['total_cycles']} cycles")
PY
done
exit $failed
