#!/usr/bin/env bash
# Builds everything with -Wall -Wextra -Wpedantic -Werror, checks that every public header compiles on
# its own, and runs every test (unit, compile-failure, consumer, fuzz replay).
# Usage, from anywhere: bash scripts/test.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/deps.sh
jobs=$(nproc)

# A build tree made by another generator (Makefiles, before 2026-12) cannot be reused.
if [[ -f build/werror/CMakeCache.txt ]] && ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' build/werror/CMakeCache.txt; then
  rm -rf build/werror
fi
# CI (.ci/run) runs every fuzzer on its corpus after this script, under all of UBSan: there the
# GCC-built replays of the same corpus add nothing but 80 s of compile time.
replays=ON
if [[ "${CI:-}" == true ]]; then
  replays=OFF
fi
cmake --preset werror -DATTRIB_FUZZ_REPLAYS=$replays
# The werror build preset builds `all` and `attrib_header_check` (each public header alone).
cmake --build --preset werror -j "$jobs"
# Where the build's time went: its slowest steps, from ninja's log (times in milliseconds; the
# last entry of each output counts).
steps=$(awk -F'\t' 'NR > 1 { t[$4] = ($2 - $1) / 1000 }
  END { for (k in t) printf "%8.1f s  %s\n", t[k], k }' build/werror/.ninja_log | sort -rn)
echo "test.sh: $(awk '{ s += $1 } END { printf "%.0f", s }' <<<"$steps") s in build steps; the slowest:"
sed -n 1,12p <<<"$steps"
ctest --preset werror -j "$jobs"

# The umbrella headers are generated: every public header must be in one room.
umbrellas=$(mktemp -d)
bash scripts/umbrella.sh "$umbrellas"
for h in attrib io data graph transformer components studies all; do
  if ! cmp -s "$umbrellas/attrib/$h.hpp" "include/attrib/$h.hpp"; then
    echo "test.sh: include/attrib/$h.hpp is out of date; run bash scripts/umbrella.sh" >&2
    exit 1
  fi
done
rm -rf "$umbrellas"

