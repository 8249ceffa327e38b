#!/usr/bin/env bash
# Same-run comparisons with the tools users would otherwise pick, on this machine:
#   1. exact Shapley of the 13-16-16-3 wine-shaped MLP (class-0 logit, zero baseline): a plain
#      vectorised numpy brute force (all 8192 coalitions as one batch) against attrib's
#      BM_exact_shapley_wine_logit, microseconds per instance;
#   2. stories260K greedy decoding, 256 tokens from BOS: llama2.c's run.c built with -Ofast against
#      attrib's BM_threads/0/0 (1 and 2 threads), tokens per second;
#   3. influence of all 455 training points on all 114 test points of breast cancer's logistic
#      regression (p = 31): numpy's explicit-Hessian recipe (per-example gradients, Hessian, one
#      solve, one product) against attrib's BM_influence_all_pairs, microseconds per call.
# Nothing third-party is kept in this repository: numpy comes from Debian (python3-numpy), and
# run.c from a llama2.c checkout you name. Each part is skipped, with a message, when what it needs
# is absent.
#
# Usage: bash benchmarks/baselines.sh [build-dir]     (default build/release, built with its
#        benchmarks); LLAMA2C_RUN_C=/path/to/llama2.c/run.c for part 2.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${1:-build/release}
for b in bench_feature_attribution bench_transformer bench_data_influence; do
  if [[ ! -x $build/benchmarks/$b ]]; then
    echo "baselines.sh: $build/benchmarks/$b is missing; build it first (cmake --preset release &&" \
      "cmake --build --preset release --target $b)" >&2
    exit 1
  fi
done

# A counter of a benchmark from Google Benchmark's JSON output (its first run).
counter() {  # counter <json> <benchmark name> <counter>
  python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
print(next(b[sys.argv[3]] for b in d["benchmarks"] if b["name"].startswith(sys.argv[2])))' "$@"
}
# The largest value of a counter over a benchmark's repetitions: "best of N", as for run.c.
best_counter() {  # best_counter <json> <benchmark name> <counter>
  python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
print(max(b[sys.argv[3]] for b in d["benchmarks"]
          if b["name"].startswith(sys.argv[2]) and b.get("run_type") == "iteration"))' "$@"
}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== 1. exact Shapley, 13-16-16-3 MLP, per instance"
"$build/benchmarks/bench_feature_attribution" --benchmark_filter=BM_exact_shapley_wine_logit \
  --benchmark_format=json >"$work/shapley.json" 2>/dev/null
attrib_1=$(counter "$work/shapley.json" BM_exact_shapley_wine_logit/threads:1 us_per_instance)
attrib_2=$(counter "$work/shapley.json" BM_exact_shapley_wine_logit/threads:2 us_per_instance)
echo "attrib: ${attrib_1} us (1 thread), ${attrib_2} us (2 threads)"
numpy_python=
for candidate in python3 /usr/bin/python3; do
  if "$candidate" -c 'import numpy' 2>/dev/null; then numpy_python=$candidate && break; fi
done
if [[ -n $numpy_python ]]; then
  numpy_us=$("$numpy_python" - <<'PY'
import math
import time
import numpy as np
rng = np.random.default_rng(11)
shapes = [(13, 16), (16, 16), (16, 3)]
W = [rng.standard_normal((o, i)) * np.sqrt(1.0 / i) for i, o in shapes]
b = [np.zeros(o) for _, o in shapes]
n = 13
masks = ((np.arange(1 << n)[:, None] >> np.arange(n)) & 1).astype(np.float64)
size = masks.sum(1).astype(int)
fact = np.array([math.factorial(k) for k in range(n + 1)], dtype=float)
# phi = v @ C with C[S, i] = |S-1|! (n-|S|)! / n! when i is in S, else -|S|! (n-|S|-1)! / n!: the
# whole Shapley sum as one product, precomputed once (the fastest numpy formulation we found).
inside = fact[np.maximum(size - 1, 0)] * fact[n - size] / fact[n]
outside = fact[size] * fact[np.maximum(n - size - 1, 0)] / fact[n]
C = np.where(masks == 1, inside[:, None], -outside[:, None])

def shapley(x):
    h = masks * x  # zero baseline: absent features are 0
    h = np.tanh(h @ W[0].T + b[0])
    h = np.tanh(h @ W[1].T + b[1])
    v = h @ W[2][0] + b[2][0]
    return v @ C

xs = rng.standard_normal((20, n))
shapley(xs[0])
best = float("inf")
for _ in range(5):
    start = time.perf_counter()
    for x in xs:
        shapley(x)
    best = min(best, (time.perf_counter() - start) / len(xs))
print(f"{best * 1e6:.1f}")
PY
)
  echo "numpy brute force: ${numpy_us} us"
  python3 -c "import sys; a,b,n=map(float,sys.argv[1:]); print(f'attrib is {n/a:.1f}x faster than numpy on 1 thread, {n/b:.1f}x on 2')" \
    "$attrib_1" "$attrib_2" "$numpy_us"
else
  echo "numpy brute force: skipped (python3-numpy is not installed: apt-get install python3-numpy)"
fi

echo "== 2. stories260K, greedy decoding of 256 tokens from BOS"
# Best of 5 repetitions, as run.c is measured below: this machine's speed drifts by 20-30%.
"$build/benchmarks/bench_transformer" --benchmark_filter='BM_threads/0/0' --benchmark_format=json \
  --benchmark_repetitions=5 >"$work/decode.json" 2>/dev/null
decode_1=$(best_counter "$work/decode.json" BM_threads/0/0 tokens_per_s_1_thread)
decode_2=$(best_counter "$work/decode.json" BM_threads/0/0 tokens_per_s_2_threads)
echo "attrib: ${decode_1} tokens/s (1 thread), ${decode_2} tokens/s (2 threads), best of 5"
run_c=${LLAMA2C_RUN_C:-}
if [[ -n $run_c && -f $run_c ]] && command -v cc >/dev/null; then
  cc -Ofast -o "$work/run" "$run_c" -lm
  model=data/models/stories260K
  best=0
  for _ in 1 2 3 4 5; do
    rate=$("$work/run" "$model/stories260K.bin" -z "$model/tok512.bin" -t 0 -n 256 2>&1 >/dev/null |
      sed -n 's/^achieved tok\/s: //p')
    best=$(python3 -c "import sys; print(max(float(sys.argv[1]), float(sys.argv[2])))" "$best" "${rate:-0}")
  done
  echo "llama2.c run.c -Ofast: ${best} tokens/s (best of 5)"
  python3 -c "import sys; a,b,r=map(float,sys.argv[1:]); print(f'attrib / run.c: {a/r:.2f} on 1 thread, {b/r:.2f} on 2; attrib 2 threads / 1 thread: {b/a:.2f}')" \
    "$decode_1" "$decode_2" "$best"
else
  echo "llama2.c run.c: skipped (set LLAMA2C_RUN_C to llama2.c's run.c; needs a C compiler)"
fi

echo "== 3. influence of all 455 training points on all 114 test points (breast cancer)"
"$build/benchmarks/bench_data_influence" --benchmark_filter=BM_influence_all_pairs \
  --benchmark_format=json >"$work/influence.json" 2>/dev/null
influence_us=$(counter "$work/influence.json" BM_influence_all_pairs us_per_call)
echo "attrib: ${influence_us} us"
if [[ -n $numpy_python ]]; then
  numpy_influence_us=$("$numpy_python" - <<'PY'
import time
import numpy as np
data = np.loadtxt("data/breast_cancer/breast_cancer.csv", delimiter=",", skiprows=1)
x, y = data[:, :30], data[:, 30]
x = (x - x.mean(0)) / x.std(0)
ones = np.ones((len(x), 1))
train, test = np.hstack([x[:455], ones[:455]]), np.hstack([x[455:569], ones[455:569]])
y_train, y_test = y[:455], y[455:569]
w = np.random.default_rng(1).standard_normal(31) * 0.1
l2 = 0.1

def influence():
    p = 1.0 / (1.0 + np.exp(-train @ w))
    g_train = (p - y_train)[:, None] * train
    h = (train.T * (p * (1.0 - p))) @ train / len(train) + l2 * np.eye(31)
    q = 1.0 / (1.0 + np.exp(-test @ w))
    g_test = (q - y_test)[:, None] * test
    return -g_train @ np.linalg.solve(h, g_test.T) / len(train)

influence()
best = float("inf")
for _ in range(5):
    start = time.perf_counter()
    for _ in range(50):
        influence()
    best = min(best, (time.perf_counter() - start) / 50)
print(f"{best * 1e6:.1f}")
PY
)
  echo "numpy explicit Hessian: ${numpy_influence_us} us"
  python3 -c "import sys; a,n=map(float,sys.argv[1:]); print(f'attrib is {n/a:.1f}x faster than numpy')" \
    "$influence_us" "$numpy_influence_us"
else
  echo "numpy explicit Hessian: skipped (python3-numpy is not installed)"
fi
