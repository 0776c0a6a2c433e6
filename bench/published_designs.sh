#!/bin/sh
# Published FPGA LLM accelerators as masesim systems (docs/published-designs.md): per config
# and prompt:output length, TTFT, decode tokens/s, total latency, per-SLR resources and the
# time share of all-reduce synchronisation, and the wall time of each run.
# usage: bench/published_designs.sh [build dir] [lengths]   (run from the repository root)
#   lengths default "32:32 64:64 128:128 256:256"
set -e
B=${1:-build}
LENGTHS=${2:-"32:32 64:64 128:128 256:256"}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
get() { grep "^$1," "$T/o/stats.csv" | cut -d, -f2 | tr -d '"'; }
for c in configs/gpt2_medium_spatial_u280.yaml; do
  for L in $LENGTHS; do
    p=${L%%:*}
    n=${L##*:}
    s=$(date +%s.%N)
    "$B/simulate" --config "$c" --set workload.prompt_len="$p" --set workload.gen_tokens="$n" \
      --quiet --out "$T/o" > /dev/null
    e=$(date +%s.%N)
    slr=""
    for k in SLR0 SLR1 SLR2; do
      slr="$slr $k:lut=$(get devices.fpga0.slrs.$k.lut.utilisation | cut -c1-5),dsp=$(get devices.fpga0.slrs.$k.dsp.utilisation | cut -c1-5)"
    done
    ar=$(get devices.fpga0.allreduce_tx_bytes)
    printf '%s %s:%s ttft_us %s decode_tokens_per_s %s total_us %s allreduce_share %s%s wall %.1f s\n' \
      "$(basename "$c" .yaml)" "$p" "$n" "$(get ttft_us)" "$(get decode_tokens_per_s)" \
      "$(get total_us)" "${ar:-0 (one device)}" "$slr" "$(awk "BEGIN{print $e - $s}")"
  done
done
