"""attrib.data_attribution: solvers against each other, first-order influence against retraining,
and the command-line tool on the same data."""
import subprocess
import warnings

import numpy as np
import pytest

import attrib


@pytest.fixture(scope="module")
def split(breast_cancer):
    X, y = breast_cancer
    return X[:300], y[:300], X[300:306], y[300:306]


def test_inverse_hessian_solvers_agree(split):
    explicit = attrib.data_attribution(*split, method="influence", l2=1e-2)
    assert explicit.scores.shape == (300, 6) and explicit.training_gradient_norm < 1e-8
    for solver, options in (("cg", {}), ("arnoldi", {"iterations": 31, "top_k": 31})):
        other = attrib.data_attribution(*split, method="influence", solver=solver, l2=1e-2, model=explicit.model,
                                        **options)
        scale = np.abs(explicit.scores).max()
        assert np.abs(other.scores - explicit.scores).max() < 1e-6 * scale, solver


def test_influence_predicts_leave_one_out_retraining(split):
    influence = attrib.data_attribution(*split, method="influence", l2=1e-2)
    newton = attrib.data_attribution(*split, method="newton-loo", model=influence.model)
    loo = attrib.data_attribution(*split, method="loo", model=influence.model)
    for t in range(6):
        # Removing a point changes a test loss by about minus its up-weighting influence (over n):
        # a first-order estimate, so the agreement is good but not exact ...
        assert np.corrcoef(influence.scores[:, t], loo.scores[:, t])[0, 1] < -0.9, t
        # ... while one Newton step from the full optimum lands close to the retrained one.
        assert np.corrcoef(newton.scores[:, t], loo.scores[:, t])[0, 1] > 0.98, t


def test_tmc_shapley_reports_standard_errors_and_is_seeded(breast_cancer):
    X, y = breast_cancer
    args = (X[:40], y[:40], X[300:330], y[300:330])
    a = attrib.data_attribution(*args, method="tmc-shapley", budget=120, l2=1e-2, seed=3)
    b = attrib.data_attribution(*args, method="tmc-shapley", budget=120, l2=1e-2, seed=3, threads=2)
    assert a.scores.shape == (40,) and a.standard_errors.shape == (40,)
    np.testing.assert_array_equal(a.scores, b.scores)


def test_a_model_off_its_optimum_is_warned_about(split):
    X, y, tX, ty = split
    off = attrib.Model.fit(X[:100], y[:100], l2=1e-2)
    with pytest.warns(UserWarning, match="not at an optimum"):
        attrib.data_attribution(X, y, tX, ty, method="grad-dot", model=off)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fitted = attrib.Model.fit(X, y, l2=1e-3)
        attrib.data_attribution(X, y, tX, ty, method="grad-dot", model=fitted)


def test_the_command_line_tool_gives_the_same_scores(cli, split, tmp_path):
    X, y, tX, ty = split
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    np.savetxt(train, np.column_stack([X, y]), delimiter=",", fmt="%.17g")
    np.savetxt(test, np.column_stack([tX, ty]), delimiter=",", fmt="%.17g")
    for method in ("influence", "tracin", "knn-shapley"):
        out = subprocess.run([cli, "data", "--train", str(train), "--test", str(test), "--data-format", "csv",
                              "--header", "no", "--method", method, "--l2", "0.01", "--quiet"],
                             capture_output=True, text=True, check=True).stdout
        table = np.array([[float(v) for v in row.split(",")] for row in out.strip().split("\n")[1:]])
        r = attrib.data_attribution(X, y, tX, ty, method=method, l2=1e-2)
        np.testing.assert_allclose(table[:, 1:], r.scores, rtol=1e-12, atol=1e-15)


def _spearman(a, b):
    """Spearman's rho by ranks (no ties in these continuous values)."""
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return np.corrcoef(ra, rb)[0, 1]


def test_linear_datamodeling_score_against_numpy_least_squares(wine):
    # Ordinary least squares (l2 = 0): each subset's retrained model is numpy's lstsq on the kept
    # rows, whatever the standardisation, so the retraining outputs can be recomputed outside attrib.
    X, y = wine
    Xtr, ytr, Xte, yte = X[:60], y[:60], X[150:154], y[150:154]
    loo = attrib.data_attribution(Xtr, ytr, Xte, yte, method="loo", model_type="linear_regression", l2=0)
    lds = loo.lds(Xtr, ytr, Xte, yte, subsets=24, alpha=0.5, seed=7)
    masks, outputs = lds["masks"], lds["outputs"]
    assert masks.shape == (24, 60) and set(np.unique(masks)) == {0.0, 1.0} and np.all(masks.sum(axis=1) == 30)
    design = np.hstack([Xtr, np.ones((60, 1))])
    for s in range(24):
        keep = masks[s] == 1
        w = np.linalg.lstsq(design[keep], ytr[keep], rcond=None)[0]
        predicted = np.hstack([Xte, np.ones((4, 1))]) @ w
        np.testing.assert_allclose(outputs[s], -0.5 * (predicted - yte) ** 2, rtol=1e-6, atol=1e-9)
    per_test = [_spearman(masks @ loo.scores[:, j], outputs[:, j]) for j in range(4)]
    np.testing.assert_allclose(lds["per_test"], per_test, atol=1e-12)
    assert lds["mean"] == pytest.approx(np.mean(per_test))
    # The same subsets for the same seed, another for another; exact LOO predicts retraining well.
    np.testing.assert_array_equal(loo.lds(Xtr, ytr, Xte, yte, subsets=24, seed=7)["masks"], masks)
    assert lds["mean"] > 0.3


def test_lds_orients_influence_and_refuses_what_it_cannot_score(split, wine_mlp, wine):
    X, y, tX, ty = split
    influence = attrib.data_attribution(X, y, tX, ty, method="influence", l2=1e-2)
    loo = attrib.data_attribution(X, y, tX, ty, method="loo", model=influence.model)
    # Up-weighting influence is negated, so both rank helpful points first and agree in sign.
    a = influence.lds(X, y, tX, ty, subsets=16, seed=1)["mean"]
    b = loo.lds(X, y, tX, ty, subsets=16, seed=1)["mean"]
    assert a > 0.2 and b > 0.2
    Xw, yw = wine
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the MLP was fitted to all of wine, not to these 40 rows
        mlp_scores = attrib.data_attribution(Xw[:40], yw[:40], Xw[100:102], yw[100:102], method="grad-dot",
                                             model=wine_mlp)
    with pytest.raises(ValueError, match="logistic_regression or linear_regression"):
        mlp_scores.lds(Xw[:40], yw[:40], Xw[100:102], yw[100:102])
    shapley = attrib.data_attribution(X[:20], y[:20], tX, ty, method="tmc-shapley", budget=63, l2=1e-2)
    with pytest.raises(ValueError, match="one value per training point"):
        shapley.lds(X[:20], y[:20], tX, ty)
    with pytest.raises(ValueError, match="alpha"):
        loo.lds(X, y, tX, ty, alpha=1.0)
    with pytest.raises(ValueError, match="scores are"):
        loo.lds(X, y, tX[:3], ty[:3])
