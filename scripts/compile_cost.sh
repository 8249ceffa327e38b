#!/usr/bin/env bash
# Compile cost, measured one translation unit at a time (issue #10's budget, docs/performance.md):
#   - the README example through the umbrella header at -O2: user CPU seconds and peak memory;
#   - each umbrella header (attrib.hpp, the rooms, all.hpp) with -fsyntax-only;
#   - every public header alone with -fsyntax-only: user CPU seconds;
#   - optionally (--cli BUILD_DIR) the `attrib` command line tool from scratch with -j2: wall seconds.
# Usage: bash scripts/compile_cost.sh [--headers] [--cli] [--jobs N]
# Prints a Markdown table; run it on an otherwise idle machine, the numbers are CPU time.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

headers=0 cli=0 jobs=2
while (($#)); do
  case $1 in
    --headers) headers=1 ;;
    --cli) cli=1 ;;
    --jobs) jobs=$2; shift ;;
    *) echo "usage: $0 [--headers] [--cli] [--jobs N]" >&2; exit 2 ;;
  esac
  shift
done

cxx=${CXX:-g++}
flags=(-std=c++20 -Iinclude -I/usr/include/eigen3)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# measure NAME CXX-ARGS...: prints "NAME|user seconds|peak MiB"
measure() {
  local name=$1; shift
  local log
  log=$(mktemp -p "$work")
  if ! /usr/bin/time -f '%U %M' -o "$log" "$cxx" "${flags[@]}" "$@" >"$log.err" 2>&1; then
    echo "compile failed: $name" >&2
    cat "$log.err" >&2
    return 1
  fi
  read -r user kib <"$log"
  printf '%s|%s|%d\n' "$name" "$user" $((kib / 1024))
}

echo "| translation unit | user CPU s | peak MiB |"
echo "| --- | ---: | ---: |"
# The README's "Library at a glance" example, verbatim between its ```cpp fence and the next fence.
{
  awk '/^```cpp$/ {on = 1; next} on && /^```$/ {exit} on' README.md | sed -n '1p'
  echo 'int main() {'
  awk '/^```cpp$/ {on = 1; next} on && /^```$/ {exit} on' README.md | sed -n '2,$p'
  echo '  return 0;'
  echo '}'
} >"$work/readme_example.cpp"
measure "README example, -O2" -O2 -c "$work/readme_example.cpp" -o "$work/readme_example.o" |
  awk -F'|' '{printf "| %s | %s | %s |\n", $1, $2, $3}'

# The umbrella headers alone: the framework (attrib.hpp), each room, and everything (all.hpp).
for umbrella in attrib io data graph transformer components studies all; do
  printf '#include <attrib/%s.hpp>\n' "$umbrella" >"$work/umbrella_$umbrella.cpp"
  measure "attrib/$umbrella.hpp" -fsyntax-only "$work/umbrella_$umbrella.cpp" |
    awk -F'|' '{printf "| `%s`, -fsyntax-only | %s | %s |\n", $1, $2, $3}'
done

if ((headers)); then
  export -f measure
  export cxx work
  export flags_string="${flags[*]}"
  find include/attrib -name '*.hpp' | sort | sed 's|^include/||' | grep -v -x -E 'attrib/(attrib|io|data|graph|transformer|components|studies|all)\.hpp' |
    xargs -P "$jobs" -I{} bash -c '
      flags=($flags_string)
      printf "#include <%s>\n" "{}" >"$work/$(echo {} | tr / _).cpp"
      measure "{}" -fsyntax-only "$work/$(echo {} | tr / _).cpp"' |
    sort -t'|' -k2 -rn | awk -F'|' '{printf "| `%s`, -fsyntax-only | %s | %s |\n", $1, $2, $3}'
fi

if ((cli)); then
  build=$work/cli-build
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DATTRIB_BUILD_TESTS=OFF \
    -DATTRIB_BUILD_BENCHMARKS=OFF -DATTRIB_INSTALL=OFF >/dev/null
  start=$SECONDS
  cmake --build "$build" --target attrib_cli -j "$jobs" >/dev/null
  printf '| the `attrib` CLI from scratch, -j%d | %d (wall) | |\n' "$jobs" $((SECONDS - start))
fi
