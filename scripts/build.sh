#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (scripts/setup.sh) and builds masesim into build/
# (Release, Ninja, -j2). Extra arguments go to CMake's configure step.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" > build.log 2>&1 || { cat build.log; exit 1; }
cmake --build build -j2
