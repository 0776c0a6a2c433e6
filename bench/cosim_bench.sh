#!/usr/bin/env bash
# Full-system TLM vs RTL co-simulation of one systolic GEMM node (128x768x768 on a 16x16
# output-stationary core): wall time of `simulate` with the node on the cycle model and
# with `--cosim`, their ratio, and both cycle counts. Usage: bench/cosim_bench.sh [simulate]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sim=${1:-$here/../build/simulate}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/g.yaml" <<'G'
format: mase-graph
version: 1
name: gemm_128x768x768
inputs: [{name: x, shape: [128, 768], precision: {type: fixed, width: 8}}]
nodes:
  - name: fc
    op: linear
    args: {data_in_0: x}
    params: {weight: {shape: [768, 768], precision: {type: fixed, width: 8}}}
    results: {data_out_0: {shape: [128, 768], precision: {type: fixed, width: 8}}}
    hw: {impl: systolic, parallelism: {data_in_0: [16], data_out_0: [16]}}
outputs: [fc]
G
printf 'workload: {graph: g.yaml, inferences: 1}\nsystolic: {rows: 16, cols: 16}\n' > "$tmp/c.yaml"
run() {  # prints wall seconds
  local s e; s=$(date +%s.%N); "$sim" --config "$tmp/c.yaml" --quiet --out "$tmp/$1" "${@:2}"; e=$(date +%s.%N)
  echo "$e - $s" | bc -l
}
tlm=$(run tlm); tlm2=$(run tlm2); rtl=$(run rtl --cosim fc)
/usr/bin/python3 - "$tmp" "$tlm" "$tlm2" "$rtl" <<'PY'
import json, sys
d = sys.argv[1]
t = min(float(sys.argv[2]), float(sys.argv[3])); r = float(sys.argv[4])
a = json.load(open(f"{d}/tlm/stats.json"))["nodes"]["fc"]; b = json.load(open(f"{d}/rtl/stats.json"))["nodes"]["fc"]
print(f"GEMM 128x768x768 on 16x16 OS: TLM simulate wall {t:.3f} s, RTL co-sim wall {r:.3f} s, ratio {r / t:.0f}x; "
      f"model cycles {a['systolic']['model_cycles']}, RTL cycles {b['rtl_cycles']}, mismatches {b['rtl_mismatches']}")
PY
