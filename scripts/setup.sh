#!/usr/bin/env bash
# Installs masesim's Debian 12 build and test dependencies. Idempotent.
# Uses sudo when not root. Set MASESIM_SETUP_PYTHON=0 to skip the Python packages
# (the exporter and sweep scripts need them; the C++ build does not).
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
PKGS=(build-essential cmake ninja-build pkg-config
      libsystemc-dev libyaml-cpp-dev libboost-program-options-dev
      libgtest-dev googletest verilator)
if [ "${MASESIM_SETUP_PYTHON:-1}" = "1" ]; then
  PKGS+=(python3 python3-yaml python3-numpy python3-torch python3-torchvision python3-onnx
        python3-matplotlib python3-tqdm python3-distributed)
fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all Debian packages present"
fi
