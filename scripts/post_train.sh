#!/usr/bin/env bash
# Post-trains stories260K on attrib's generated instruction corpus (issue 6, item 7) and compares
# the base and post-trained models on held-out items. Writes data/models/stories260K-instruct/
# (model.safetensors, config.json, SOURCE.md) and prints the comparison table.
# Usage, from anywhere: bash scripts/post_train.sh [steps] [seed] [threads]
#   defaults 1500 1 2; a few minutes on two cores. Same seed, same bytes, on any thread count.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if [ ! -d build/release ]; then
  cmake --preset release
fi
cmake --build --preset release --target post_train -j "$(nproc)"
"$root/build/release/examples/post_train" data/models/stories260K-instruct data \
  "${1:-1500}" "${2:-1}" "${3:-2}"
