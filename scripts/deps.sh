#!/usr/bin/env bash
# Installs what attrib needs to build, test and fuzz on Debian 12, skipping packages already present.
# Extra package names may be given as arguments.  Usage: bash scripts/deps.sh [package...]
set -euo pipefail

packages=(
  build-essential cmake ninja-build clang libclang-rt-dev # libclang-rt-dev: libFuzzer for the fuzz preset
  libeigen3-dev nlohmann-json3-dev libboost-graph-dev doctest-dev libbenchmark-dev
  xtensor-dev xtl-dev # optional for users (attrib/core/interop.hpp only); the tests cover it
  libpcre2-dev # the tokenizers' regex engine (linked through attrib::attrib)
  librsvg2-bin # rsvg-convert: the CLI test renders the SVG charts the tool writes
  pybind11-dev python3-dev python3-numpy python3-pytest python3-matplotlib # the Python module and its tests
  libopenmpi-dev openmpi-bin # ATTRIB_WITH_MPI (attrib::mpi, attrib under mpirun; on in the werror preset)
  "$@"
)

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$package")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "deps.sh: all ${#packages[@]} packages already installed"
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  sudo=(sudo)
fi
echo "deps.sh: installing ${missing[*]}"
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
