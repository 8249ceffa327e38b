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
