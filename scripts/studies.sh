#!/usr/bin/env bash
# The miniature reproduction of "How Post-Training Reshapes LLMs" (docs/studies-miniature.md):
#   1. trains the world-of-facts BASE / SFT / INSTRUCT trio (examples/world_trio.cpp), or reuses it
#      when OUT/trio/TRIO.md exists (RETRAIN=1 trains it again);
#   2. runs every study on the trio (attrib llm study all), tracing the world's cities and training
#      the truth probes on the other two relations;
#   3. runs every study on stories260K and the shipped stories260K-instruct;
#   4. prints the paper's conclusions as checked on each (OUT/*/conclusions.md).
# Usage, from anywhere: bash scripts/studies.sh [OUT] [seed] [threads]
#   defaults build/studies 1 2; about ten minutes on two cores. Same seed, same numbers, on any
#   thread count.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out=${1:-build/studies}
seed=${2:-1}
threads=${3:-2}
if [ ! -d build/release ]; then
  cmake --preset release
fi
cmake --build --preset release --target world_trio attrib_cli -j "$threads"
bin="$root/build/release/examples"

trio="$out/trio"
if [ ! -f "$trio/TRIO.md" ] || [ "${RETRAIN:-0}" = 1 ]; then
  "$bin/world_trio" "$trio" data "$seed" "$threads"
fi
cat "$trio/TRIO.md"

d="$trio/data"
"$bin/attrib" llm study all --base "$trio/base" --sft "$trio/sft" --post "$trio/instruct" \
  --base-name base --sft-name sft --post-name instruct --tokenizer "$trio/tokenizer.bin" \
  --data "$d/located_in.csv" --train "$d/lives_in.csv,$d/has_pet.csv" --test "$d/located_in.csv" \
  --seed "$seed" --threads "$threads" --out "$out/world"

stories=data/models/stories260K
"$bin/attrib" llm study all --base "$stories/stories260K.bin" --tokenizer "$stories/tok512.bin" \
  --post data/models/stories260K-instruct --base-name stories260K --post-name stories260K-instruct \
  --seed "$seed" --threads "$threads" --out "$out/stories260K"

for study in world stories260K; do
  echo
  echo "== $study: the paper's conclusions ($out/$study/conclusions.md)"
  cat "$out/$study/conclusions.md"
done
