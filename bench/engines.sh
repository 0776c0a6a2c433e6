#!/bin/sh
# Shared engines vs spatial designs: simulated figures and wall time of each run.
# usage: bench/engines.sh [build dir]   (run from the repository root)
set -e
B=${1:-build}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cat > "$T/mnist_shared.yaml" <<EOC
workload: {graph: $(pwd)/workloads/graphs/mnist_cnn.yaml, inferences: 16}
system:
  devices: [{name: fpga0, type: u250}]
  engines:
    - {name: core, device: fpga0, gemm: {rows: 16, cols: 16}, alu: {lanes: 16, pipeline_cycles: 4,
       ops: [relu, max_pool2d]}, buffers: {input_bytes: 32768, weight_bytes: 262144, acc_bytes: 131072}}
mapping: {engines: {core: ["*"]}}
EOC
cat > "$T/resnet18_spatial.yaml" <<EOC
workload: {graph: $(pwd)/workloads/graphs/resnet18_int8.json, inferences: 2}
system: {devices: [{name: fpga0, type: u250}]}
mapping: {weights: auto}
EOC
for c in configs/mnist_cnn_u250.yaml "$T/mnist_shared.yaml" configs/gemm_offload_mnist.yaml \
         configs/vta_resnet18.yaml \
         "$T/resnet18_spatial.yaml"; do
  s=$(date +%s.%N)
  "$B/simulate" --config "$c" --quiet --out "$T/o" > /dev/null
  e=$(date +%s.%N)
  printf '%-28s latency_us %-14s inferences/s %-14s bottleneck %-18s wall %.2f s\n' \
    "$(basename "$c")" "$(grep '^latency_us,' "$T/o/stats.csv" | cut -d, -f2)" \
    "$(grep '^throughput_inferences_per_s,' "$T/o/stats.csv" | cut -d, -f2)" \
    "$(grep '^bottleneck.node,' "$T/o/stats.csv" | cut -d, -f2 | tr -d '"' | tr ' ' _)" \
    "$(echo "$e - $s" | bc)"
done
