#!/usr/bin/env bash
# Installs everything sdft needs from Debian's packages. Idempotent; needs root
# (uses sudo when not root). OpenBLAS matters: LibTorch calls the system BLAS,
# and the reference libblas is ~30x slower.
set -euo pipefail
PKGS=(
  cmake g++ make pkg-config
  libabsl-dev libre2-dev libtomlplusplus-dev nlohmann-json3-dev zlib1g-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libsentencepiece-dev sentencepiece
  libtorch-dev libopenblas0-pthread libgloo-dev
  time hunspell hunspell-en-us python3 python3-torch
)
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PKGS[@]} packages already installed"
  exit 0
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
