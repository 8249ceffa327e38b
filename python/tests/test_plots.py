"""The plots draw what they claim: bar lengths, the waterfall's end at the prediction, a dot per row."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

import attrib


@pytest.fixture()
def explanation():
    w = np.array([3.0, -1.0, 0.5, 2.0, -4.0])
    X = np.random.default_rng(1).normal(size=(8, 5))
    return attrib.explain(lambda Z: Z @ w + 1.0, X, np.zeros(5), method="exact-shapley")


def bar_widths(ax):
    return np.array([p.get_width() for p in ax.patches])


def test_bar_of_one_row_shows_its_largest_values_in_order(explanation):
    ax = attrib.plots.bar(explanation[0], max_display=3)
    values = explanation[0].values
    top = values[np.argsort(-np.abs(values))[:3]]
    np.testing.assert_allclose(bar_widths(ax), top)
    plt.close("all")


def test_bar_of_many_rows_shows_mean_absolute_values(explanation):
    ax = attrib.plots.bar(explanation)
    np.testing.assert_allclose(np.sort(bar_widths(ax)), np.sort(np.abs(explanation.values).mean(axis=0)))
    plt.close("all")


def test_waterfall_walks_from_the_base_value_to_the_prediction(explanation):
    row = explanation[2]
    ax = attrib.plots.waterfall(row, max_display=2)  # two players and "3 other players"
    lefts = [p.get_x() for p in ax.patches]
    widths = bar_widths(ax)
    assert len(widths) == 3 and lefts[0] == pytest.approx(row.base_values)
    assert lefts[-1] + widths[-1] == pytest.approx(row.predictions)
    with pytest.raises(ValueError, match="one row"):
        attrib.plots.waterfall(explanation)
    plt.close("all")


def test_beeswarm_draws_a_dot_per_row_and_player(explanation):
    ax = attrib.plots.beeswarm(explanation, max_display=4)
    offsets = [c.get_offsets() for c in ax.collections]
    assert len(offsets) == 4 and all(len(o) == 8 for o in offsets)
    firsts = sorted(o[:, 0].tolist() for o in offsets)
    top = np.argsort(-np.abs(explanation.values).mean(axis=0))[:4]
    assert firsts == sorted(explanation.values[:, p].tolist() for p in top)
    plt.close("all")


def test_heatmap_shows_the_interaction_matrix():
    f = lambda Z: Z[:, 0] * Z[:, 1] + Z[:, 2]
    pairs = attrib.explain_interactions(f, np.array([1.0, 2.0, 3.0]), np.zeros(3))
    ax = attrib.plots.heatmap(pairs)
    np.testing.assert_allclose(ax.images[0].get_array(), pairs.values)
    plt.close("all")
