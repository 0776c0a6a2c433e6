#!/usr/bin/env bash
# Multi-device simulation speed: wall time of the 4-device OPT-125M configuration and of a
# 64-device chain of a synthetic deep model (128 int8 linears 512x512, seq 32, two per
# device). Usage: bench/multi_device_bench.sh [path/to/simulate]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sim=${1:-$here/../build/simulate}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 - "$tmp/deep.json" <<'PY'
import json, sys
P = {"type": "fixed", "width": 8, "frac_width": 4}
nodes, src = [], "x"
for i in range(128):
    name = f"d{i // 2:02d}_fc{i}"
    nodes.append({"name": name, "op": "linear", "args": {"data_in_0": src},
                  "params": {"weight": {"shape": [512, 512], "precision": P}},
                  "results": {"data_out_0": {"shape": ["seq", 512], "precision": P}},
                  "hw": {"parallelism": {"data_in_0": [32], "data_out_0": [16]}}})
    src = name
g = {"format": "mase-graph", "version": 1, "name": "deep_linear_128x512", "dims": {"seq": 32},
     "inputs": [{"name": "x", "shape": ["seq", 512], "precision": P}], "nodes": nodes, "outputs": [src]}
json.dump(g, open(sys.argv[1], "w"))
PY
{
  printf 'workload: {graph: %s, inferences: 8}\nsystem:\n  devices: [{count: 64, type: u250}]\n  topology: chain\nmapping:\n  place:\n' "$tmp/deep.json"
  for d in $(seq 0 63); do printf '    "d%02d_*": fpga%d\n' "$d" "$d"; done
} > "$tmp/chain64.yaml"
measure() {  # name config
  local s e
  s=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$tmp/mem" "$sim" --config "$2" --out "$tmp/$1" --quiet --no-progress
  e=$(date +%s.%N)
  /usr/bin/python3 - "$tmp/$1/stats.json" "$s" "$e" "$(cat "$tmp/mem")" "$1" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
wall = float(sys.argv[3]) - float(sys.argv[2])
beats = sum(v["beats"] for v in s["streams"].values())
frames = sum(v["frames"] for v in s.get("links", {}).values())
print(f"{sys.argv[5]}: {s['system']['devices']} devices, {s['inferences']} inferences, throughput "
      f"{s['throughput_inferences_per_s']:.4g}/s, {beats} beats, {frames} frames, wall {wall:.2f} s, "
      f"peak RSS {int(sys.argv[4]) // 1024} MiB")
PY
}
measure opt125m_4xu250_ring "$here/../configs/opt125m_4xu250_ring.yaml"
measure chain64 "$tmp/chain64.yaml"
