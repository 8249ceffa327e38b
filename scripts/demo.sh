#!/usr/bin/env bash
# Builds the wine demo and runs it; it explains a model of the wine data set and draws the result.
# Usage, from anywhere: bash scripts/demo.sh   (writes ./wine_demo.svg in the current directory)
set -euo pipefail
here=$(pwd)
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

bash "$root/scripts/deps.sh"
cd "$root"
# Tests and benchmarks are not needed for the demo; leaving them out keeps this quick.
cmake --preset release -DATTRIB_BUILD_TESTS=OFF -DATTRIB_BUILD_BENCHMARKS=OFF
cmake --build --preset release --target wine_demo -j "$(nproc)"

svg="$here/wine_demo.svg"
"$root/build/release/examples/wine_demo" "$svg"
echo
echo "demo.sh: the figure is in $svg"
