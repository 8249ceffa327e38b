#!/usr/bin/env bash
# The long fuzzing run documented in docs/robustness.md: every fuzzer for RUNS executions (default
# 10^6) under ASan+UBSan, inputs up to 1 MB, JSON targets with tests/fuzz/json.dict, two at a time
# (the first names first: give the slowest first). ATTRIB_FUZZ_LARGE_SEEDS=0 leaves out the
# near-1 MB seeds of tests/fuzz/large_seeds.sh, which slow the JSON targets tenfold.
# Prints one line per fuzzer (executions, seconds, corpus size, exit status); any finding fails
# the script and leaves the input in build/fuzz/artifacts/<name>/.
#
#   bash scripts/fuzz_long.sh [RUNS] [fuzzer names...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
runs=${1:-1000000}
shift || true
if [[ ! -d build/fuzz/fuzzers ]]; then
  cmake --preset fuzz >/dev/null
  cmake --build --preset fuzz -j "$(nproc)"
fi
names=("$@")
if ((${#names[@]} == 0)); then
  for source in tests/fuzz/fuzz_*.cpp; do
    target=$(basename "$source" .cpp)
    names+=("${target#fuzz_}")
  done
fi

run_one() {
  local name=$1 work=build/fuzz/corpus/$1 artifacts=build/fuzz/artifacts/$1/ seeds=() options=()
  mkdir -p "$work" "$artifacts"
  if [[ ${ATTRIB_FUZZ_LARGE_SEEDS:-1} != 0 ]]; then bash tests/fuzz/large_seeds.sh "$name" "$work"; fi
  [[ -d tests/fuzz/corpus/$name ]] && seeds=("tests/fuzz/corpus/$name")
  case $name in
    model_json | hf_config | tokenizer_json | safetensors | safetensors_index) options+=(-dict=tests/fuzz/json.dict) ;;
  esac
  local rc=0 start=$SECONDS
  "build/fuzz/fuzzers/fuzz_$name" -runs="$runs" -max_len=1048576 -print_final_stats=1 \
    -artifact_prefix="$artifacts" "${options[@]}" "$work" "${seeds[@]}" >"build/fuzz/$name.long.log" 2>&1 || rc=$?
  printf '%-18s %s executions in %4d s, corpus %s inputs, exit %d\n' "$name" \
    "$(grep -m1 -oE 'number_of_executed_units: [0-9]+' "build/fuzz/$name.long.log" | grep -oE '[0-9]+$')" \
    $((SECONDS - start)) "$(find "$work" -type f | wc -l)" "$rc"
  return "$rc"
}

export runs
export -f run_one
printf '%s\n' "${names[@]}" | xargs -P 2 -I{} bash -c 'run_one "$1"' _ {}
