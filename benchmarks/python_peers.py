"""attrib from Python, measured in one run on this machine against plain numpy implementations of
the same estimators (shap and captum are not packaged for Debian 12; a numpy version is what a
user without them would write). Prints times and ratios; docs/python.md quotes them.

1. Call overhead: exact Shapley of a Python callable that costs about 1 microsecond per row; the
   shares of the run taken by the estimator itself and by the crossing into Python (copies, the
   call, the GIL).
2. KernelSHAP, 2048 coalitions, 50 background rows, the wine MLP: numpy (shap's recipe: Shapley-
   kernel sampling, the efficiency-constrained least squares) against attrib on the same Python
   callable, and on attrib.Model (the forward pass in C++, the GIL released, 1 and 2 threads).
3. Integrated Gradients, 50 steps, a 13-16-16-3 tanh MLP, 100 rows: numpy (batched forward and
   backward of every path point) against attrib.Model.

Usage: PYTHONPATH=build/release/python /usr/bin/python3 benchmarks/python_peers.py [data dir]
"""
import pathlib
import sys
import time

import numpy as np

import attrib

DATA = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parents[1] / "data")


def best_of(repeats, run):
    """The fastest of `repeats` runs, in seconds, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


def call_overhead():
    rng = np.random.default_rng(0)
    d = 12
    hidden = 8
    W1, W2 = rng.normal(size=(d, hidden)), rng.normal(size=(hidden,))
    inside = [0.0]
    repeats = [0]

    def model(Z):
        start = time.perf_counter()
        out = np.tanh(Z @ W1) @ W2
        for _ in range(repeats[0]):
            out = out + 1e-9 * np.tanh(Z @ W1) @ W2
        inside[0] += time.perf_counter() - start
        return out

    # Calibrate the model to about 1 microsecond per row at the batch size attrib uses (4096).
    probe = rng.normal(size=(4096, d))
    while repeats[0] < 200:
        start = time.perf_counter()
        model(probe)
        if (time.perf_counter() - start) / 4096 >= 1e-6:
            break
        repeats[0] += 1
    X, baseline = rng.normal(size=(20, d)), np.zeros(d)
    explain = lambda f: attrib.explain(f, X, baseline, method="exact-shapley")
    inside[0] = 0.0
    t_model, e = best_of(1, lambda: explain(model))
    rows = int(e.model_evaluations.sum())
    # The estimator's own work (masking 4096-row batches, accumulating the Shapley sums), measured
    # with a C++ model whose forward pass costs next to nothing, and the same run through a Python
    # callable that does nothing: the difference is what crossing into Python costs.
    linear = attrib.Model.fit(rng.normal(size=(50, d)), rng.normal(size=50), model_type="linear_regression")
    t_engine, _ = best_of(5, lambda: explain(linear))
    t_noop, _ = best_of(5, lambda: explain(lambda Z: Z[:, 0].copy()))
    print(f"1. call overhead: exact Shapley, {d} features, 20 rows, {rows} model rows; the callable at "
          f"{inside[0] / rows * 1e6:.2f} us/row: {t_model * 1e3:.1f} ms in all, of which the estimator "
          f"{t_engine * 1e3:.1f} ms ({t_engine / t_model:.1%}) and the Python crossing "
          f"{(t_noop - t_engine) * 1e3:.2f} ms ({(t_noop - t_engine) / t_model:.1%})")


def numpy_kernel_shap(f, x, background, samples, rng):
    d = len(x)
    sizes = np.arange(1, d)
    weights = (d - 1) / (sizes * (d - sizes))
    size = rng.choice(sizes, size=samples, p=weights / weights.sum())
    ranks = rng.random((samples, d)).argsort(axis=1).argsort(axis=1)
    Z = (ranks < size[:, None]).astype(float)
    inputs = np.where(Z[:, None, :] > 0, x[None, None, :], background[None, :, :]).reshape(-1, d)
    y = f(inputs).reshape(samples, len(background)).mean(axis=1)
    f0, f1 = f(background).mean(), f(x[None, :])[0]
    A = Z[:, :-1] - Z[:, -1:]
    b = y - f0 - Z[:, -1] * (f1 - f0)
    rest = np.linalg.lstsq(A, b, rcond=None)[0]
    return np.append(rest, (f1 - f0) - rest.sum())


def kernel_shap(model, X):
    rows, background = X[:10], X[::4][:50]
    f = lambda Z: model.predict(Z)[:, 0]
    rng = np.random.default_rng(0)
    exact = attrib.explain(model, rows, background, method="exact-shapley").values
    t_numpy, numpy_values = best_of(3, lambda: np.array([numpy_kernel_shap(f, x, background, 2048, rng) for x in rows]))
    t_callable, from_callable = best_of(3, lambda: attrib.explain(f, rows, background, method="kernel-shap",
                                                                   samples=2048, seed=1))
    t_model, from_model = best_of(3, lambda: attrib.explain(model, rows, background, method="kernel-shap",
                                                             samples=2048, seed=1))
    t_model2, _ = best_of(3, lambda: attrib.explain(model, rows, background, method="kernel-shap", samples=2048,
                                                     seed=1, threads=2))
    error = lambda v: np.abs(v - exact).max()
    print(f"2. KernelSHAP, 2048 coalitions, 50 background rows, 10 wine rows (max error against exact Shapley):")
    print(f"   numpy, same model                 {t_numpy / 10 * 1e3:8.2f} ms/row  (error {error(numpy_values):.2e})")
    print(f"   attrib, Python callable           {t_callable / 10 * 1e3:8.2f} ms/row  "
          f"(error {error(from_callable.values):.2e})  {t_numpy / t_callable:5.2f}x numpy")
    print(f"   attrib.Model, 1 thread            {t_model / 10 * 1e3:8.2f} ms/row  "
          f"(error {error(from_model.values):.2e})  {t_numpy / t_model:5.2f}x numpy")
    print(f"   attrib.Model, 2 threads           {t_model2 / 10 * 1e3:8.2f} ms/row  {t_numpy / t_model2:5.2f}x numpy")


def numpy_integrated_gradients(layers, X, baseline, steps):
    """Gauss-Legendre IG of output 0 of a tanh MLP (last layer linear), all path points in one batch."""
    nodes, weights = np.polynomial.legendre.leggauss(steps)
    alphas, weights = (nodes + 1) / 2, weights / 2
    n, d = X.shape
    points = baseline[None, None, :] + alphas[None, :, None] * (X - baseline)[:, None, :]
    h = points.reshape(-1, d)
    activations = []
    for k, (W, b) in enumerate(layers):
        activations.append(h)
        h = h @ W + b
        if k + 1 < len(layers):
            h = np.tanh(h)
    grad = np.zeros_like(h)
    grad[:, 0] = 1.0
    for k in reversed(range(len(layers))):
        W, _ = layers[k]
        grad = grad @ W.T  # with respect to layer k's input, tanh of the layer before
        if k > 0:
            grad = grad * (1 - activations[k] ** 2)
    grad = grad.reshape(n, steps, d)
    return (X - baseline) * np.einsum("s,nsd->nd", weights, grad)


def integrated_gradients(wine):
    X, y = wine
    model = attrib.Model.fit(X, y, model_type="mlp", hidden=[16, 16], epochs=5, seed=0)
    rng = np.random.default_rng(0)
    layers = [(rng.normal(size=(13, 16)) / 4, rng.normal(size=16)), (rng.normal(size=(16, 16)) / 4, rng.normal(size=16)),
              (rng.normal(size=(16, 3)) / 4, rng.normal(size=3))]
    rows, baseline = X[:100], X.mean(axis=0)
    Xs = (rows - rows.mean(axis=0)) / rows.std(axis=0)
    t_numpy, values = best_of(3, lambda: numpy_integrated_gradients(layers, Xs, np.zeros(13), 50))
    t_model, e = best_of(3, lambda: attrib.explain(model, rows, baseline, method="integrated-gradients", steps=50))
    t_model2, _ = best_of(3, lambda: attrib.explain(model, rows, baseline, method="integrated-gradients", steps=50,
                                                     threads=2))
    print(f"3. Integrated Gradients, 50 Gauss-Legendre steps, 13-16-16-3 tanh MLP, 100 rows:")
    print(f"   numpy (batched forward + backward) {t_numpy / 100 * 1e6:8.1f} us/row")
    print(f"   attrib.Model, 1 thread             {t_model / 100 * 1e6:8.1f} us/row  {t_numpy / t_model:5.2f}x numpy "
          f"(completeness gap {np.abs(e.efficiency_gaps).max():.1e})")
    print(f"   attrib.Model, 2 threads            {t_model2 / 100 * 1e6:8.1f} us/row  {t_numpy / t_model2:5.2f}x numpy")


if __name__ == "__main__":
    table = np.loadtxt(DATA / "wine" / "wine_data.csv", delimiter=",", skiprows=1)
    wine = (table[:, :-1], table[:, -1])
    call_overhead()
    mlp = attrib.Model.fit(*wine, model_type="mlp", hidden=[16, 16], epochs=40, seed=0)
    kernel_shap(mlp, wine[0])
    integrated_gradients(wine)
