#!/usr/bin/env bash
# The larger data-attribution run (issue 4): Fashion-MNIST from Debian's dataset-fashion-mnist,
# multinomial logistic regression, LDS and noisy-label AUC; writes docs/fashion-mnist-results.md.
# Usage, from anywhere: bash scripts/fashion_mnist.sh [train] [test] [subsets]
#   defaults 3000 500 16; about four minutes on two cores.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src=/usr/share/datasets/fashion-mnist
files=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)

if [ ! -f "$src/${files[0]}.gz" ]; then
  echo "fashion_mnist.sh: installing dataset-fashion-mnist" >&2
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update
  "${sudo_cmd[@]}" apt-get install -y dataset-fashion-mnist
fi

data="$root/build/fashion-mnist"
mkdir -p "$data"
for f in "${files[@]}"; do
  if [ ! -f "$data/$f" ]; then
    gunzip -c "$src/$f.gz" > "$data/$f.tmp"
    mv "$data/$f.tmp" "$data/$f"
  fi
done

cd "$root"
if [ ! -d build/release ]; then
  cmake --preset release
fi
cmake --build --preset release --target fashion_mnist_attribution -j "$(nproc)"
"$root/build/release/examples/fashion_mnist_attribution" docs/fashion-mnist-results.md build/fashion-mnist \
  "${1:-3000}" "${2:-500}" "${3:-16}"
