#!/usr/bin/env bash
# Behaviour check for refactors: runs every shipped config (LLM ones at short lengths) with a
# given simulate binary and writes each stats.json with its provenance block removed, so two
# builds can be compared byte for byte (values and key order).
#
#   bench/compare_stats.sh run SIMULATE OUTDIR     # e.g. a copy of build/simulate from before
#   bench/compare_stats.sh diff DIR_A DIR_B        # exit 1 and name the files that differ
set -euo pipefail
cd "$(dirname "$0")/.."

# Short lengths keep the whole set under a minute; a refactor that changes behaviour changes
# these runs as well.
short_llm=(--set workload.prompt_len=16 --set workload.gen_tokens=4)

run() {
  local sim=$1 out=$2
  mkdir -p "$out"
  for c in configs/*.yaml; do
    local name extra=()
    name=$(basename "$c" .yaml)
    if grep -q '^ *phase: *\(generate\|prefill\|decode\)' "$c"; then extra=("${short_llm[@]}"); fi
    if ! "$sim" --config "$c" -q "${extra[@]}" --out "$out/$name.d" > "$out/$name.log" 2>&1; then
      echo "compare_stats: $c failed (see $out/$name.log)" >&2
      exit 1
    fi
    /usr/bin/python3 - "$out/$name.d/stats.json" "$out/$name.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d.pop("provenance", None)
json.dump(d, open(sys.argv[2], "w"), indent=1)
EOF
    cp "$out/$name.d/stats.csv" "$out/$name.csv"
    sed -i '/^provenance/d' "$out/$name.csv"
    rm -rf "$out/$name.d"
  done
  echo "compare_stats: $(ls "$out"/*.json | wc -l) configs written to $out"
}

case ${1:-} in
  run) run "$2" "$3" ;;
  diff)
    if diff -rq "$2" "$3" --exclude='*.log'; then
      echo "compare_stats: identical ($(ls "$2"/*.json | wc -l) configs)"
    else
      exit 1
    fi
    ;;
  *)
    echo "usage: $0 run SIMULATE OUTDIR | diff DIR_A DIR_B" >&2
    exit 1
    ;;
esac
