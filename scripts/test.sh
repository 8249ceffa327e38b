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

# The werror build uses GCC; the whole library must compile under clang as well.
echo '#include <attrib/attrib.hpp>' | clang++ -std=c++20 -fsyntax-only -Wall -Wextra -Wpedantic -Werror \
  -Iinclude -I/usr/include/eigen3 -x c++ -
echo "test.sh: attrib/attrib.hpp compiles under $(clang++ --version | head -1)"
