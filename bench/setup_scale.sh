#!/usr/bin/env bash
# Set-up that scales: wall time and peak RSS of `simulate` for 256 and 1,024 devices in a
# ring, a 2-D torus and fully connected, on a workload that simulates almost nothing (two
# 16x16 int8 linears per device, seq 1, one inference), so the figures are the set-up:
# topology, routing, mapping, building the blocks, and tearing them down.
#   placed:   every node has hw.device (manual placement): one flow crosses each neighbouring
#             pair of devices, so every device, link and bridge is built
#   balanced: the same graph through mapping.partition: balanced (the partitioner's link model)
# Then the memory of two larger runs: OPT-125M at seq 2048 on one U250 (parallelism 32,
# oversubscribed, one inference) and the OPT-1.3B 16-U280 hybrid generate config (4 tokens).
#
# First, topology construction and routing alone (build/bench/topology_bench, if built:
# `cmake --build build --target topology_bench`).
#
# Usage: bench/setup_scale.sh [path/to/simulate] [path/to/baseline/simulate]
#   With a baseline binary, every case runs with both (baseline first) for a before/after
#   table. SETUP_SCALE_TIMEOUT (seconds, default 600) bounds each run; SETUP_SCALE_SKIP_LLM=1
#   skips the two large runs, SETUP_SCALE_SKIP_SETUP=1 the device-count cases.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sim=${1:-$here/../build/simulate}
base=${2:-}
limit=${SETUP_SCALE_TIMEOUT:-600}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

topo_bench=$(dirname "$sim")/bench/topology_bench
if [ -x "$topo_bench" ]; then
  echo "Topology construction and routing alone ($topo_bench):"
  "$topo_bench"
  echo
fi

# A U250 with enough QSFP28 cages for any of the topologies (torus: 4, fully connected: n - 1),
# in $tmp/new; a baseline binary gets the configs again in $tmp/base with the U250 of its own
# source tree (../configs/devices/u250.yaml from the binary's build folder) when there is one,
# since device-type keys differ between versions.
gen() {  # dir u250.yaml
  mkdir -p "$1"
  sed 's/^qsfp28_ports: .*/qsfp28_ports: 1023/; s/^name: .*/name: u250_many_ports/' "$2" \
    > "$1/u250_many_ports.yaml"
  /usr/bin/python3 - "$1" <<'PY'
import json, sys
tmp = sys.argv[1]
P = {"type": "fixed", "width": 8, "frac_width": 4}
for n in (256, 1024):
    for placed in (True, False):
        nodes, src = [], "x"
        for i in range(2 * n):
            node = {"name": f"fc{i}", "op": "linear", "args": {"data_in_0": src},
                    "params": {"weight": {"shape": [16, 16], "precision": P}},
                    "results": {"data_out_0": {"shape": [1, 16], "precision": P}},
                    "hw": {"parallelism": {"data_in_0": [16], "data_out_0": [16]}}}
            if placed:
                node["hw"]["device"] = f"fpga{i // 2}"
            nodes.append(node)
            src = f"fc{i}"
        g = {"format": "mase-graph", "version": 1, "name": f"linears_{2 * n}x16",
             "inputs": [{"name": "x", "shape": [1, 16], "precision": P}], "nodes": nodes,
             "outputs": [src]}
        kind = "placed" if placed else "balanced"
        json.dump(g, open(f"{tmp}/g{n}_{kind}.json", "w"))
        for topo in ("ring", "torus2d", "fully_connected"):
            side = 16 if n == 256 else 32
            with open(f"{tmp}/{topo}_{n}_{kind}.yaml", "w") as f:
                f.write(f"workload: {{graph: g{n}_{kind}.json, inferences: 1}}\n"
                        f"system:\n  devices: [{{count: {n}, type: {tmp}/u250_many_ports.yaml}}]\n"
                        f"  topology: {topo}\n  torus_rows: {side}\n  torus_cols: {side}\n"
                        f"mapping:\n  partition: {'manual' if placed else 'balanced'}\n")
PY
}
gen "$tmp/new" "$here/../configs/devices/u250.yaml"
if [ -n "$base" ]; then
  base_u250=$(dirname "$base")/../configs/devices/u250.yaml
  [ -f "$base_u250" ] || base_u250=$here/../configs/devices/u250.yaml
  gen "$tmp/base" "$base_u250"
fi

run() {  # label binary config [extra args...]: prints "wall s, peak RSS MiB" or the failure
  local label=$1 bin=$2 cfg=$3
  shift 3
  local out="$tmp/out_$RANDOM"
  if timeout "$limit" /usr/bin/time -v -o "$tmp/time.txt" "$bin" --config "$cfg" --out "$out" \
      --quiet --no-progress "$@" > /dev/null 2> "$tmp/err.txt"; then
    /usr/bin/python3 - "$tmp/time.txt" "$label" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
wall = t.split("Elapsed (wall clock) time (h:mm:ss or m:ss): ")[1].split()[0].split(":")
secs = sum(float(x) * 60 ** i for i, x in enumerate(reversed(wall)))
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1))
print(f"{sys.argv[2]}: wall {secs:.2f} s, peak RSS {rss / 1024:.0f} MiB")
PY
  else
    local rc=$?
    if [ "$rc" = 124 ]; then echo "$label: did not finish in $limit s"
    else echo "$label: exit $rc: $(head -c 300 "$tmp/err.txt")"; fi
  fi
  rm -rf "$out"
}

# For the baseline, a config under $tmp/new/ runs from $tmp/base/, and a shipped config from
# the baseline's own source tree when it has one.
base_root=
if [ -n "$base" ] && [ -d "$(dirname "$base")/../configs" ]; then
  base_root=$(cd "$(dirname "$base")/.." && pwd)
fi
both() {  # label config [extra args...]
  local label=$1 cfg=$2
  shift 2
  if [ -n "$base" ]; then
    local bcfg=${cfg/#$tmp\/new\//$tmp/base/}
    if [ -n "$base_root" ]; then bcfg=${bcfg/#$here\/..\/configs\//$base_root/configs/}; fi
    run "$label (baseline)" "$base" "$bcfg" "$@"
  fi
  run "$label" "$sim" "$cfg" "$@"
}

for n in 256 1024; do
  [ "${SETUP_SCALE_SKIP_SETUP:-0}" != 1 ] || break
  for topo in ring torus2d fully_connected; do
    for kind in placed balanced; do
      both "$topo $n devices, $kind" "$tmp/new/${topo}_${n}_${kind}.yaml"
    done
  done
done

if [ "${SETUP_SCALE_SKIP_LLM:-0}" != 1 ]; then
  # seq 2048 does not fit one U250 at the shipped parallelism 8 (and its LM head would
  # outlast simulation.max_sim_time_ms): parallelism 32, resources oversubscribed, 1 inference.
  both "OPT-125M seq 2048, 1 x U250" "$here/../configs/opt125m_u250.yaml" \
    --set workload.dims.seq=2048 --set mapping.default_parallelism=32 \
    --set mapping.oversubscribe=true --set workload.inferences=1
  # 4 new tokens instead of the config's 32: the shipped run takes over 2 minutes.
  both "OPT-1.3B generate, 16 x U280 hybrid, 4 tokens" \
    "$here/../configs/opt1.3b_generate_16xu280_hybrid.yaml" --set workload.gen_tokens=4
fi
