"""attrib.explain against closed forms, axioms, finite differences and the command-line tool."""
import itertools
import math
import subprocess

import numpy as np
import pytest

import attrib


def brute_force_shapley(f, x, baseline):
    """Shapley values by the definition: weighted marginal contributions over every coalition."""
    d = len(x)
    value = lambda s: float(f(np.where(np.isin(np.arange(d), s), x, baseline)[None, :])[0])
    phi = np.zeros(d)
    for i in range(d):
        others = [j for j in range(d) if j != i]
        for size in range(d):
            weight = math.factorial(size) * math.factorial(d - size - 1) / math.factorial(d)
            for s in itertools.combinations(others, size):
                phi[i] += weight * (value(list(s) + [i]) - value(list(s)))
    return phi


def test_linear_model_shapley_is_weight_times_offset_from_background_mean():
    rng = np.random.default_rng(0)
    w = rng.normal(size=6)
    X, background = rng.normal(size=(4, 6)), rng.normal(size=(20, 6))
    e = attrib.explain(lambda Z: Z @ w + 1.5, X, background, method="exact-shapley")
    np.testing.assert_allclose(e.values, w * (X - background.mean(axis=0)), atol=1e-12)
    np.testing.assert_allclose(e.base_values, background.mean(axis=0) @ w + 1.5, atol=1e-12)
    np.testing.assert_allclose(e.predictions, X @ w + 1.5, atol=1e-12)
    assert e.standard_errors is None and e.values.shape == (4, 6)


def test_interactions_match_the_definition_by_brute_force():
    f = lambda Z: Z[:, 0] * Z[:, 1] + np.sin(Z[:, 2]) * Z[:, 3] + Z[:, 4] ** 2
    x, baseline = np.array([1.0, 2.0, -0.5, 3.0, 0.7]), np.array([0.2, -1.0, 0.4, 0.0, 1.0])
    e = attrib.explain(f, x, baseline, method="exact-shapley")
    np.testing.assert_allclose(e.values, brute_force_shapley(f, x, baseline), atol=1e-12)
    assert abs(e.efficiency_gaps) < 1e-12


def test_sampled_methods_are_seeded_and_thread_count_free(wine_mlp, wine):
    X, _ = wine
    runs = [attrib.explain(wine_mlp, X[:4], X[:30], method="kernel-shap", samples=300, seed=7, threads=t)
            for t in (1, 2, 1)]
    assert all(np.array_equal(runs[0].values, r.values) for r in runs[1:])
    assert runs[0].standard_errors.shape == (4, 13) and np.all(runs[0].standard_errors > 0)
    other = attrib.explain(wine_mlp, X[:4], X[:30], method="kernel-shap", samples=300, seed=8)
    assert not np.array_equal(runs[0].values, other.values)


def test_callable_and_model_give_the_same_bits(wine_mlp, wine):
    X, _ = wine
    for method in ("exact-banzhaf", "permutation-shapley", "lime"):
        a = attrib.explain(wine_mlp, X[:3], X[:10], method=method, output=2, seed=1)
        b = attrib.explain(wine_mlp.predict, X[:3], X[:10], method=method, output=2, seed=1, threads=2)
        assert np.array_equal(a.values, b.values), method


def test_integrated_gradients_completeness_and_gradient_by_finite_differences(wine_mlp, wine):
    X, _ = wine
    baseline = X.mean(axis=0)
    ig = attrib.explain(wine_mlp, X[:5], baseline, method="integrated-gradients", output="predicted", steps=64)
    assert np.max(np.abs(ig.efficiency_gaps)) < 1e-6
    exact = attrib.explain(wine_mlp, X[:5], baseline, method="exact-shapley", output="predicted")
    np.testing.assert_array_equal(ig.outputs, exact.outputs)
    np.testing.assert_allclose(ig.predictions, exact.predictions, atol=1e-12)

    grad = attrib.explain(wine_mlp, X[:2], None, method="vanilla-gradient", output=1)
    assert np.all(np.isnan(grad.base_values))
    for row in range(2):
        for j in range(13):
            h = 1e-5 * max(1.0, abs(X[row, j]))
            up, down = X[row].copy(), X[row].copy()
            up[j] += h
            down[j] -= h
            numeric = (wine_mlp.predict(up)[0, 1] - wine_mlp.predict(down)[0, 1]) / (2 * h)
            assert abs(grad.values[row, j] - numeric) <= 1e-6 + 1e-4 * abs(numeric)


def test_groups_are_players():
    w = np.arange(1.0, 7.0)
    e = attrib.explain(lambda Z: Z @ w, np.ones(6), np.zeros(6), method="exact-shapley", groups=[0, 0, 1, 2, 2, 2],
                       feature_names=list("abcdef"))
    assert e.feature_names == ["a+b", "c", "d+e+f"]
    np.testing.assert_allclose(e.values, [3.0, 3.0, 15.0], atol=1e-12)


def test_rows_slice_like_shap(wine_mlp, wine):
    X, _ = wine
    e = attrib.explain(wine_mlp, X[:4], X.mean(axis=0), method="occlusion")
    assert len(e) == 4 and e[1].values.shape == (13,) and len(e[1:3]) == 2
    np.testing.assert_array_equal(e[2].values, e.values[2])
    with pytest.raises(TypeError):
        len(e[0])


def test_the_command_line_tool_gives_the_same_numbers(cli, wine_mlp, wine, tmp_path):
    X, _ = wine
    model_file, data_file, background_file = tmp_path / "m.json", tmp_path / "x.csv", tmp_path / "bg.csv"
    wine_mlp.save(str(model_file))
    np.savetxt(data_file, X[:3], delimiter=",", fmt="%.17g")
    np.savetxt(background_file, X[:25], delimiter=",", fmt="%.17g")
    for method, extra in (("exact-shapley", []), ("kernel-shap", ["--samples", "200", "--seed", "5"]),
                          ("integrated-gradients", ["--steps", "16"])):
        out = subprocess.run([cli, "explain", "--model", str(model_file), "--data", str(data_file), "--header", "no",
                              "--baseline", str(background_file), "--baseline-format", "csv", "--method", method,
                              "--output", "1", "--quiet", *extra], capture_output=True, text=True, check=True).stdout
        header, *rows = out.strip().split("\n")
        columns = header.split(",")
        table = np.array([[float(v) for v in row.split(",")] for row in rows])
        first = columns.index("base_value") + 2  # base_value, prediction, then the features
        options = {"samples": 200, "seed": 5} if method == "kernel-shap" else {"steps": 16} if extra else {}
        e = attrib.explain(wine_mlp, X[:3], X[:25], method=method, output=1, **options)
        np.testing.assert_allclose(table[:, first:first + 13], e.values, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(table[:, columns.index("base_value")], e.base_values, rtol=1e-12)
