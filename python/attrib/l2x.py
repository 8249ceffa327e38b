"""L2X: an explainer network that picks the k features of each row that keep the model's prediction."""
import numpy as np

from . import _attrib
from .explanation import _as_rows, _feature_names


class Selection:
    """The features L2X selects for each row.

    scores: (rows, features) the explainer's selector scores (larger: more likely selected).
    selected: (rows, features) booleans, True on the k selected features of each row.
    predictions: the model's output at each row; selected_predictions: the same output with only
        the selected features kept and the others at the baseline; base_values: at the baseline.
    """

    def __init__(self, scores, selected, predictions, selected_predictions, base_values, feature_names, outputs):
        self.scores = scores
        self.selected = selected
        self.predictions = predictions
        self.selected_predictions = selected_predictions
        self.base_values = base_values
        self.feature_names = list(feature_names)
        self.outputs = outputs

    def selected_names(self, row):
        """The names of row `row`'s selected features, by falling score."""
        chosen = np.flatnonzero(self.selected[row])
        return [self.feature_names[i] for i in chosen[np.argsort(-self.scores[row, chosen], kind="stable")]]

    def __repr__(self):
        k = int(self.selected[0].sum()) if len(self.selected) else 0
        return f"attrib.Selection(l2x, {self.scores.shape[0]} rows, k = {k})"


def explain_l2x(model, X, baseline, *, data=None, output=0, feature_names=None, seed=0, threads=1, **options):
    """Trains L2X's explainer on the rows of `data` (default: X) through an attrib.Model's input
    gradients, then selects the k features of each row of X. baseline: the one reference row
    unselected features take. options: k (default 1), epochs (20), hidden (the explainer's ReLU
    widths, default [100, 100]), temperature (0.1), learning_rate (1e-3), batch_size (64), loss
    ("cross-entropy" when the model outputs probabilities, else "squared-error")."""
    rows, _ = _as_rows(X)
    r = _attrib.explain_l2x(model, rows, baseline, data, output, seed, threads, options)
    return Selection(r["scores"], r["selected"] > 0.5, r["predictions"], r["selected_predictions"],
                     r["base_values"], _feature_names(model, rows.shape[1], feature_names), np.asarray(r["outputs"]))
