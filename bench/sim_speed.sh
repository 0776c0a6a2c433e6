#!/usr/bin/env bash
# Simulation speed: simulated stream beats per wall-clock second, for the MNIST CNN and
# for a 12-layer stack of 768x768 linears (seq 128, int8, 16x16 tiles, on chip).
# Usage: bench/sim_speed.sh [path/to/simulate]. Prints one line per workload.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sim=${1:-$here/../build/simulate}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

/usr/bin/python3 - "$tmp/stack.json" <<'PY'
import json, sys
P = {"type": "fixed", "width": 8, "frac_width": 4}
nodes, src = [], "x"
for i in range(12):
    nodes.append({"name": f"fc{i}", "op": "linear", "args": {"data_in_0": src},
                  "params": {"weight": {"shape": [768, 768], "precision": P}},
                  "results": {"data_out_0": {"shape": ["seq", 768], "precision": P}},
                  "hw": {"parallelism": {"data_in_0": [16], "data_out_0": [16]}}})
    src = f"fc{i}"
g = {"format": "mase-graph", "version": 1, "name": "linear_stack_12x768", "dims": {"seq": 128},
     "inputs": [{"name": "x", "shape": ["seq", 768], "precision": P}], "nodes": nodes, "outputs": [src]}
json.dump(g, open(sys.argv[1], "w"))
PY
printf 'workload:\n  graph: %s\n  inferences: 64\n' "$here/../workloads/graphs/mnist_cnn.yaml" > "$tmp/mnist.yaml"
printf 'workload:\n  graph: %s\n  inferences: 8\nmapping:\n  default_parallelism: 16\n' "$tmp/stack.json" > "$tmp/stack.yaml"

for w in mnist stack; do
  start=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$tmp/$w.mem" "$sim" --config "$tmp/$w.yaml" --out "$tmp/$w" --quiet
  end=$(date +%s.%N)
  /usr/bin/python3 - "$tmp/$w/stats.json" "$start" "$end" "$(cat "$tmp/$w.mem")" "$w" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
wall = float(sys.argv[3]) - float(sys.argv[2])
beats = sum(v["beats"] for v in s["streams"].values())
print(f"{sys.argv[5]:6s} {s['workload']['name']}: {s['inferences']} inferences, {beats} beats, "
      f"{s['total_cycles']} simulated cycles, wall {wall:.3f} s, {beats / wall / 1e6:.2f} M beats/s, "
      f"{s['total_cycles'] / wall / 1e6:.2f} M cycles/s, peak RSS {int(sys.argv[4]) // 1024} MiB")
PY
done
