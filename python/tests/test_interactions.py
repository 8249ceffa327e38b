"""attrib.explain_interactions against the definitions by brute force and the completeness axioms."""
import itertools
import math

import numpy as np
import pytest

import attrib

# Only +, - and * (exact IEEE operations): numpy's vectorised transcendentals (np.sin) may round
# a row differently by its place in the batch and the buffer's alignment, which would make
# "identical results on 1 and 2 threads" a property of numpy rather than of attrib.
f = lambda Z: Z[:, 0] * Z[:, 1] + (Z[:, 2] - Z[:, 2] * Z[:, 2] * Z[:, 2] / 6) * Z[:, 3] * Z[:, 4] + Z[:, 1] * Z[:, 1]
x, baseline = np.array([1.0, 2.0, -0.5, 3.0, 0.7]), np.array([0.2, -1.0, 0.4, 0.0, 1.0])


def value(S):
    mask = np.isin(np.arange(5), list(S))
    return float(f(np.where(mask, x, baseline)[None, :])[0])


def pair_delta(i, j, S):
    return value(S + (i, j)) - value(S + (i,)) - value(S + (j,)) + value(S)


def brute_force(weight):
    n = 5
    out = np.zeros((n, n))
    for i, j in itertools.combinations(range(n), 2):
        others = [k for k in range(n) if k not in (i, j)]
        out[i, j] = out[j, i] = sum(weight(len(S), n) * pair_delta(i, j, S)
                                    for size in range(n - 1) for S in itertools.combinations(others, size))
    return out


def test_shapley_taylor_pairs_match_the_definition():
    e = attrib.explain_interactions(f, x, baseline, method="shapley-taylor")
    # Order 2: (2/n) * sum over S of Delta_ij(S) / C(n-1, |S|); the diagonal is v({i}) - v(empty).
    expected = brute_force(lambda s, n: 2 / n / math.comb(n - 1, s))
    off = ~np.eye(5, dtype=bool)
    np.testing.assert_allclose(e.values[off], expected[off], atol=1e-12)
    np.testing.assert_allclose(np.diag(e.values), [value((i,)) - value(()) for i in range(5)], atol=1e-12)
    upper = e.values[np.triu_indices(5, 1)].sum()
    assert np.diag(e.values).sum() + upper == pytest.approx(e.predictions - e.base_values, abs=1e-12)
    assert e.diagonal == "singleton_effect" and e.standard_errors is None


def test_banzhaf_interactions_match_the_definition():
    e = attrib.explain_interactions(f, x, baseline, method="banzhaf-interactions")
    expected = brute_force(lambda s, n: 1 / 2 ** (n - 2))
    off = ~np.eye(5, dtype=bool)
    np.testing.assert_allclose(e.values[off], expected[off], atol=1e-12)
    banzhaf = attrib.explain(f, x, baseline, method="exact-banzhaf").values
    np.testing.assert_allclose(np.diag(e.values), banzhaf, atol=1e-12)


def test_higher_order_terms_sum_to_the_prediction_gap():
    terms = attrib.explain_interactions(f, x, baseline, method="shapley-taylor", order=3)
    assert max(len(players) for players in terms) == 3
    assert sum(terms.values()) == pytest.approx(value(tuple(range(5))) - value(()), abs=1e-12)


def test_sampled_indices_are_seeded_with_standard_errors():
    a = attrib.explain_interactions(f, np.stack([x, x + 1]), baseline, method="permutation-shapley-taylor",
                                    samples=600, seed=4)
    b = attrib.explain_interactions(f, np.stack([x, x + 1]), baseline, method="permutation-shapley-taylor",
                                    samples=600, seed=4, threads=2)
    np.testing.assert_array_equal(a.values, b.values)
    assert a.standard_errors.shape == (2, 5, 5) and len(a) == 2
    exact = attrib.explain_interactions(f, x, baseline, method="shapley-taylor")
    assert np.abs(a[0].values - exact.values).max() < 6 * a[0].standard_errors.max() + 1e-9


def test_integrated_hessians_rows_sum_to_integrated_gradients(wine_mlp, wine):
    X, _ = wine
    base = X.mean(axis=0)
    ih = attrib.explain_interactions(wine_mlp, X[:2], base, method="integrated-hessians", output=1, steps=24)
    ig = attrib.explain(wine_mlp, X[:2], base, method="integrated-gradients", output=1, steps=64)
    np.testing.assert_allclose(ih.values.sum(axis=2), ih.row_totals, atol=1e-10)
    np.testing.assert_allclose(ih.row_totals, ig.values, atol=2e-3 * np.abs(ig.values).max())
    assert ih.diagonal == "self_interaction"
    with pytest.raises(ValueError, match="integrated-hessians needs the input Hessian of an MLP"):
        attrib.explain_interactions(f, x, baseline, method="integrated-hessians")


def test_bad_requests_are_refused():
    with pytest.raises(ValueError, match="unknown interaction method 'lime'"):
        attrib.explain_interactions(f, x, baseline, method="lime")
    with pytest.raises(ValueError, match="order applies to shapley-taylor only"):
        attrib.explain_interactions(f, x, baseline, method="banzhaf-interactions", order=3)
    with pytest.raises(ValueError, match="at most 24 players"):
        attrib.explain_interactions(lambda Z: Z.sum(axis=1), np.ones(25), np.zeros(25))
