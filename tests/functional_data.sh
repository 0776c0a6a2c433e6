#!/bin/sh
# ctest fixture of test_functional: exports the test graphs and their tensor data
# (scripts/export_graph.py --data) into $3. Skips (exit 0, no data: the data-driven
# tests then skip) when the Python interpreter lacks torch/numpy.
# usage: functional_data.sh PYTHON SOURCE_DIR OUT_DIR
set -e
PY=$1; SRC=$2; OUT=$3
if ! "$PY" -c "import torch, numpy, yaml" 2>/dev/null; then
  echo "functional_data: $PY lacks torch/numpy/yaml; data-driven functional tests will skip"
  exit 0
fi
mkdir -p "$OUT"
gen() {  # model preset dims name [rounding]
  "$PY" "$SRC/scripts/export_graph.py" --model "$1" --quant-preset "$2" --dims "$3" \
      --out "$OUT/$4.json" --data "$OUT/$4.data" --seed 0 --rounding "${5:-half_even}"
}
gen mnist-cnn int8 batch=1 mnist_cnn_int8
gen opt-tiny int8 batch=1,seq=16 opt_tiny_int8
gen opt-tiny msfp12 batch=1,seq=16 opt_tiny_msfp12
gen opt-tiny mxint8 batch=1,seq=16 opt_tiny_mxint8
gen opt-tiny mxfp8 batch=1,seq=16 opt_tiny_mxfp8_truncate truncate
gen mnist-cnn int8 batch=1 mnist_cnn_int8_truncate truncate
gen mixtral-micro int8 batch=1,seq=6 mixtral_micro_int8
gen mamba-micro int8 batch=1,seq=6 mamba_micro_int8
gen rnn-micro int8 batch=2,seq=5 rnn_micro_int8
echo "functional_data: written to $OUT"
