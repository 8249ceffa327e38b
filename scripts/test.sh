#!/usr/bin/env bash
# Builds everything with -Wall -Wextra -Wpedantic -Werror, checks that every public header compiles on
# its own, and runs every test (unit, compile-failure, consumer, fuzz replay).
# Usage, from anywhere: bash scripts/test.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/deps.sh
jobs=$(nproc)

cmake --preset werror
# The werror build preset builds `all` and `all_verify_interface_header_sets`.
cmake --build --preset werror -j "$jobs"
ctest --preset werror -j "$jobs"

# The umbrella headers are generated: every public header must be in one room.
umbrellas=$(mktemp -d)
bash scripts/umbrella.sh "$umbrellas"
for h in attrib io data graph transformer all; do
  if ! cmp -s "$umbrellas/attrib/$h.hpp" "include/attrib/$h.hpp"; then
    echo "test.sh: include/attrib/$h.hpp is out of date; run bash scripts/umbrella.sh" >&2
    exit 1
  fi
done
rm -rf "$umbrellas"

# The werror build uses GCC; the whole library must compile under clang as well.
echo '#include <attrib/all.hpp>' | clang++ -std=c++20 -fsyntax-only -Wall -Wextra -Wpedantic -Werror \
  -Iinclude -I/usr/include/eigen3 -x c++ -
echo "test.sh: attrib/all.hpp compiles under $(clang++ --version | head -1)"
