"""Guided backpropagation and L2X on attrib.Model: the command-line tool's numbers, and L2X finding
the one feature a model reads."""
import subprocess

import numpy as np
import pytest

import attrib


@pytest.fixture(scope="module")
def relu_mlp(wine):
    X, y = wine
    return attrib.Model.fit(X, y, model_type="mlp", hidden=[12], activation="relu", epochs=20, seed=1)


def cli_table(cli, *args):
    out = subprocess.run([cli, "explain", *args, "--quiet"], capture_output=True, text=True, check=True).stdout
    header, *rows = out.strip().split("\n")
    return header.split(","), np.array([[float(v) for v in row.split(",")] for row in rows])


def test_guided_backprop_equals_the_command_line_tool(cli, relu_mlp, wine, tmp_path):
    X, _ = wine
    relu_mlp.save(str(tmp_path / "m.json"))
    np.savetxt(tmp_path / "x.csv", X[:4], delimiter=",", fmt="%.17g")
    columns, table = cli_table(cli, "--model", str(tmp_path / "m.json"), "--data", str(tmp_path / "x.csv"), "--header",
                               "no", "--method", "guided-backprop", "--output", "2")
    e = attrib.explain(relu_mlp, X[:4], None, method="guided-backprop", output=2)
    first = columns.index("prediction") + 1
    np.testing.assert_allclose(table[:, first:first + 13], e.values, rtol=1e-12, atol=1e-15)
    assert np.all(np.isnan(e.base_values))


def test_guided_backprop_refuses_what_it_is_not_defined_for(wine_mlp, wine):
    X, _ = wine
    with pytest.raises(ValueError, match="defined for ReLU networks"):
        attrib.explain(wine_mlp, X[:1], None, method="guided-backprop")
    with pytest.raises(ValueError, match="guided-backprop needs an attrib.Model"):
        attrib.explain(lambda Z: Z.sum(axis=1), X[:1], None, method="guided-backprop")


def test_l2x_selects_the_feature_the_model_reads():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 6))
    model = attrib.Model.fit(X, 5.0 * X[:, 2] + 0.01 * X[:, 0], model_type="linear_regression", l2=0.0)
    s = attrib.explain_l2x(model, X[:20], np.zeros(6), data=X, k=1, epochs=30, seed=3)
    assert s.selected.shape == (20, 6) and np.all(s.selected.sum(axis=1) == 1)
    assert np.all(s.selected[:, 2]), s.selected.sum(axis=0)
    np.testing.assert_allclose(s.selected_predictions, s.predictions, atol=0.05 * np.abs(s.predictions).max())
    assert s.selected_names(0) == ["x2"]


def test_l2x_equals_the_command_line_tool(cli, relu_mlp, wine, tmp_path):
    X, _ = wine
    relu_mlp.save(str(tmp_path / "m.json"))
    np.savetxt(tmp_path / "x.csv", X, delimiter=",", fmt="%.17g")
    columns, table = cli_table(cli, "--model", str(tmp_path / "m.json"), "--data", str(tmp_path / "x.csv"), "--header",
                               "no", "--method", "l2x", "--k", "2", "--epochs", "3", "--seed", "4", "--rows", "0-4",
                               "--loss", "cross-entropy")
    s = attrib.explain_l2x(relu_mlp, X[:5], X.mean(axis=0), data=X, k=2, epochs=3, seed=4, loss="cross-entropy")
    first = columns.index("selected_prediction") + 1
    np.testing.assert_allclose(table[:, first:first + 13], s.scores, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(table[:, first + 13:first + 26] > 0.5, s.selected)
    np.testing.assert_allclose(table[:, columns.index("selected_prediction")], s.selected_predictions, rtol=1e-12)


def test_l2x_needs_an_attrib_model():
    with pytest.raises(ValueError, match="must be an attrib.Model"):
        attrib.explain_l2x(lambda Z: Z.sum(axis=1), np.ones((3, 4)), np.zeros(4))
