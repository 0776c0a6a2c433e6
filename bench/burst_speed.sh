#!/usr/bin/env bash
# Burst vs beat granularity (simulation.granularity): wall time, beats/s and whether the
# two give the same statistics, per configuration. Each config runs once per granularity
# (`/usr/bin/time`, wall and peak RSS); "equal" compares stats.json without provenance.
# Usage: bench/burst_speed.sh [path/to/simulate] [name ...]   (default: the LLM set below)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sim=${1:-$here/../build/simulate}
shift || true
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cfg=$here/../configs

# name|config|overrides
cases=(
  "opt125m_4xu250_ring|opt125m_4xu250_ring|"
  "opt125m_generate_u280|opt125m_generate_u280|"
  "opt1.3b_16xu280_hybrid_g8|opt1.3b_generate_16xu280_hybrid|--set workload.gen_tokens=8"
  "gpt2_dfx_4xu280_32:32|gpt2_dfx_4xu280|"
  "opt125m_generate_4xu250_pipeline|opt125m_generate_4xu250_pipeline|"
)
want=("$@")
for c in "${cases[@]}"; do
  IFS='|' read -r name file over <<<"$c"
  if [ ${#want[@]} -gt 0 ] && [[ ! " ${want[*]} " == *" $name "* ]]; then continue; fi
  for g in beat burst; do
    # shellcheck disable=SC2086
    /usr/bin/time -f "%e %M" -o "$tmp/$g.time" "$sim" --config "$cfg/$file.yaml" $over \
      --set simulation.granularity=$g --out "$tmp/$g" --quiet
  done
  /usr/bin/python3 - "$tmp" "$name" <<'PY'
import json, sys
tmp, name = sys.argv[1], sys.argv[2]
res = {}
for g in ("beat", "burst"):
    s = json.load(open(f"{tmp}/{g}/stats.json"))
    s.pop("provenance", None)
    wall, rss = open(f"{tmp}/{g}.time").read().split()
    res[g] = (s, float(wall), int(rss) // 1024)
beats = sum(v["beats"] for v in res["beat"][0]["streams"].values())
equal = res["beat"][0] == res["burst"][0]
tc = (res["beat"][0]["total_cycles"], res["burst"][0]["total_cycles"])
print(f"{name}: {beats} beats, total_cycles beat {tc[0]} burst {tc[1]} "
      f"({'equal stats' if equal else 'stats differ'}); "
      f"beat {res['beat'][1]:.2f} s ({beats / res['beat'][1] / 1e6:.1f} M beats/s, {res['beat'][2]} MiB), "
      f"burst {res['burst'][1]:.2f} s ({beats / res['burst'][1] / 1e6:.1f} M beats/s, {res['burst'][2]} MiB), "
      f"speed-up {res['beat'][1] / res['burst'][1]:.2f}x")
PY
done
