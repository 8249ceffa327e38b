#!/usr/bin/env bash
# Builds the Python module attrib (optimised) and installs it into the site-packages of Debian's
# python3, so that `python3 -c "import attrib"` works from anywhere. Installs missing packages
# with apt-get first (through scripts/deps.sh). Usage, from anywhere: bash scripts/install_python.sh
# Another interpreter: PYTHON=/path/to/python3 bash scripts/install_python.sh (it needs numpy).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/deps.sh
python=${PYTHON:-/usr/bin/python3}
cmake -S . -B build/python -G Ninja -DCMAKE_BUILD_TYPE=Release -DATTRIB_BUILD_PYTHON=ON -DATTRIB_BUILD_TESTS=OFF \
  -DATTRIB_BUILD_EXAMPLES=OFF -DATTRIB_BUILD_BENCHMARKS=OFF -DPython3_EXECUTABLE="$python"
cmake --build build/python --target attrib_python -j "$(nproc)"
cmake --install build/python --component python
"$python" -c 'import attrib, sys; sys.stdout.write("install_python.sh: attrib installed at " + attrib.__file__ + "\n")'
