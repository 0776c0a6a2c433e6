#!/bin/sh
# Channel-parallel conv tiling: ResNet-18 at 64² and 224² input (spatial, one U250, with
# and without mapping.auto) and the MNIST CNN default system; simulated figures and wall
# time of each run. The 64² graph is exported from torchvision's resnet18 architecture
# (no weights) with scripts/export_graph.py --module (python3-torch, ~25 s).
# usage: bench/conv_tiling.sh [build dir]   (run from the repository root)
set -e
B=${1:-build}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
printf 'import torchvision\n\n\ndef make():\n    return torchvision.models.resnet18()\n' > "$T/r18.py"
/usr/bin/python3 scripts/export_graph.py --module "$T/r18.py:make" --input x:batch,3,64,64 \
  --dims batch=1 --quant-preset int8 --name resnet-18-64 --out "$T/resnet18_64_int8.json"
run() {  # label, config, extra --set arguments
  label=$1 c=$2
  shift 2
  s=$(date +%s.%N)
  "$B/simulate" --config "$c" --quiet --out "$T/o" "$@" > /dev/null
  e=$(date +%s.%N)
  printf '%-34s MACs %-11s latency_us %-12s inferences/s %-12s bottleneck %-16s wall %.2f s\n' \
    "$label" "$(grep '^workload.macs,' "$T/o/stats.csv" | cut -d, -f2)" \
    "$(grep '^latency_us,' "$T/o/stats.csv" | cut -d, -f2)" \
    "$(grep '^throughput_inferences_per_s,' "$T/o/stats.csv" | cut -d, -f2)" \
    "$(grep '^bottleneck.node,' "$T/o/stats.csv" | cut -d, -f2 | tr -d '"')" \
    "$(echo "$e - $s" | bc)"
}
R=configs/resnet18_u250.yaml
run "resnet18 224 auto" $R
run "resnet18 64 auto" $R --set workload.graph="$T/resnet18_64_int8.json"
run "resnet18 224 default_parallelism 8" $R --set mapping.auto=false
run "resnet18 64 default_parallelism 8" $R --set mapping.auto=false \
  --set workload.graph="$T/resnet18_64_int8.json"
run "mnist_cnn_u250 (16 inferences)" configs/mnist_cnn_u250.yaml
