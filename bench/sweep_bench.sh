#!/usr/bin/env bash
# Wall time of a shipped sweep run from scratch with the local backend and --jobs 2.
# Usage: bench/sweep_bench.sh [SPEC] [path/to/simulate]
#   SPEC defaults to configs/sweeps/mnist_parallelism.yaml (8 points, ~1 s);
#   configs/sweeps/opt125m_devices.yaml is the big one (42 points, ~2 minutes on 2 cores).
# Prints one line: spec, points, statuses, wall seconds, seconds per point.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
spec=${1:-$root/configs/sweeps/mnist_parallelism.yaml}
sim=${2:-${MASESIM_SIMULATE:-$root/build/simulate}}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

start=$(date +%s.%N)
rc=0
/usr/bin/python3 "$root/scripts/sweep.py" --spec "$spec" --out "$tmp/out" --simulate "$sim" \
  --jobs 2 --quiet || rc=$?
end=$(date +%s.%N)
/usr/bin/python3 - "$tmp/out/results.csv" "$start" "$end" "$spec" "$rc" <<'PY'
import collections, csv, os, sys
rows = list(csv.DictReader(open(sys.argv[1]))) if os.path.exists(sys.argv[1]) else []
wall = float(sys.argv[3]) - float(sys.argv[2])
st = collections.Counter(r["status"] for r in rows)
print(f"sweep {os.path.basename(sys.argv[4])}: {len(rows)} points "
      f"({', '.join(f'{v} {k}' for k, v in sorted(st.items())) or 'none'}), --jobs 2, "
      f"wall {wall:.2f} s, {wall / max(len(rows), 1):.3f} s/point, exit {sys.argv[5]}")
PY
exit "$rc"
