#!/bin/sh
# Published FPGA LLM accelerators as masesim systems (docs/published-designs.md): per config
# and prompt:output length, TTFT, decode tokens/s, total latency, per-SLR resources of the
# first device, the time share of all-reduce synchronisation, and the wall time of each run.
# usage: bench/published_designs.sh [build dir] [lengths] [configs]  (from the repository root)
#   lengths default "32:32 64:64 128:128 256:256"; configs default: the five shipped ones.
# All-reduce share: on rank 0's engine, the cycles its all-reduce nodes computed or waited
# for their input (the other ranks' partial sums over the links) / the run's cycles.
set -e
B=${1:-build}
LENGTHS=${2:-"32:32 64:64 128:128 256:256"}
CONFIGS=${3:-"configs/gpt2_medium_spatial_u280.yaml configs/gpt2_medium_engines_u280.yaml configs/gpt2_dfx_1xu280.yaml configs/gpt2_dfx_2xu280.yaml configs/gpt2_dfx_4xu280.yaml configs/gpt2_dfx_1.5b_4xu280.yaml"}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
get() { grep "^$1," "$T/o/stats.csv" | cut -d, -f2 | tr -d '"'; }
for c in $CONFIGS; do
  for L in $LENGTHS; do
    p=${L%%:*}
    n=${L##*:}
    s=$(date +%s.%N)
    "$B/simulate" --config "$c" --set workload.prompt_len="$p" --set workload.gen_tokens="$n" \
      --quiet --out "$T/o" > /dev/null
    e=$(date +%s.%N)
    # Resources of fpga0: per SLR when its nodes are placed in SLRs, else the device's.
    slr=" fpga0:lut=$(get devices.fpga0.resources.lut.utilisation | cut -c1-5),dsp=$(get devices.fpga0.resources.dsp.utilisation | cut -c1-5)"
    placed=$(awk -F, '/^devices\.fpga0\.slrs\.[^,]*\.lut\.used,/ { s += $2 } END { print (s > 0) ? 1 : 0 }' "$T/o/stats.csv")
    if [ "$placed" = 1 ]; then
      for k in SLR0 SLR1 SLR2; do
        slr="$slr $k:lut=$(get devices.fpga0.slrs.$k.lut.utilisation | cut -c1-5),dsp=$(get devices.fpga0.slrs.$k.dsp.utilisation | cut -c1-5)"
      done
    fi
    ar=$(awk -F, -v tot="$(get total_cycles)" '
      /^nodes\.[^,]*\.allreduce\.[^,]*@r0\.(busy_cycles|stall_in_cycles),/ { s += $2 }
      END { printf "%.3f", (tot > 0) ? (s / tot) : 0 }' "$T/o/stats.csv")
    # Time shares over the run (definitions in docs/published-designs.md "Reporting"):
    # a layer-reuse region: waiting for parameters, KV-cache blocks streaming or waiting
    # for memory (all layers); a shared-engine design: rank 0's core computing, waiting for
    # its loads (weights and KV cache), waiting for its inputs (on several cards: the other
    # ranks' shards over the links, the synchronisation).
    shares=$(awk -F, -v tot="$(get total_cycles)" '
      /^layer_reuse\.exposed_fetch_share,/ { fetch = $2; reuse = 1 }
      /^nodes\.[^,]*\.kv_cache\.(busy_cycles|stall_mem_cycles),/ { kv += $2 }
      /^engines\.[^,]*0\.busy_cycles,/ { busy = $2; eng = 1 }
      /^engines\.[^,]*0\.wait_load_cycles,/ { load = $2 }
      /^engines\.[^,]*0\.wait_input_cycles,/ { sync = $2 }
      END {
        if (reuse) printf " fetch_wait_share %.3f kv_share %.3f", fetch, (tot > 0) ? kv / tot : 0
        if (eng) printf " compute_share %.3f load_wait_share %.3f input_wait_share %.3f", busy / tot, load / tot, sync / tot
      }' "$T/o/stats.csv")
    printf '%s %s:%s ttft_us %s decode_tokens_per_s %s total_us %s allreduce_share %s%s prefill_limited_by "%s" decode_limited_by "%s"%s wall %s s\n' \
      "$(basename "$c" .yaml)" "$p" "$n" "$(get ttft_us)" "$(get decode_tokens_per_s)" \
      "$(get total_us)" "$ar" "$shares" "$(get llm.phases.prefill.limited_by)" \
      "$(get llm.phases.decode.limited_by)" "$slr" "$(awk "BEGIN{printf \"%.1f\", $e - $s}")"
  done
done
