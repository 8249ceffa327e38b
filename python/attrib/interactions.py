"""Pairwise interactions: attrib.explain_interactions and the Interactions it returns."""
import numpy as np

from . import _attrib
from .explanation import _Rows, _as_rows, _player_names


class Interactions(_Rows):
    """One n x n matrix of pair interactions per explained row.

    values: (rows, n, n), or (n, n) for one row taken with [i]; values[..., i, j] for i != j is
        the interaction of players i and j. The diagonal depends on the method (`diagonal`):
        "singleton_effect" (Shapley-Taylor: v({i}) - v(empty)), "banzhaf_value" (Banzhaf
        interaction index) or "self_interaction" (Integrated Hessians, whose rows sum to
        Integrated Gradients: `row_totals`).
    standard_errors: like values where sampled, else None. base_values, predictions: the model at
        the baseline and at each row. feature_names: one per player.
    """

    _row_ndim = 2

    def __init__(self, method, values, standard_errors, base_values, predictions, row_totals, diagonal, feature_names,
                 outputs, model_evaluations):
        self.method = method
        self.values = values
        self.standard_errors = standard_errors
        self.base_values = base_values
        self.predictions = predictions
        self.row_totals = row_totals
        self.diagonal = diagonal
        self.feature_names = list(feature_names)
        self.outputs = outputs
        self.model_evaluations = model_evaluations

    def _rows(self, index, pick):
        return Interactions(self.method, self.values[index], pick(self.standard_errors), self.base_values[index],
                            self.predictions[index], pick(self.row_totals), self.diagonal, self.feature_names,
                            self.outputs[index], self.model_evaluations[index])

    def strongest_pairs(self, k=5):
        """One row: the k pairs (name_i, name_j, value) with the largest |interaction|, i < j."""
        if self.values.ndim != 2:
            raise ValueError("strongest_pairs reads one row; pick one with interactions[i]")
        n = self.values.shape[0]
        pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
        pairs.sort(key=lambda p: -abs(self.values[p]))
        return [(self.feature_names[i], self.feature_names[j], float(self.values[i, j])) for i, j in pairs[:k]]

    def __repr__(self):
        shape = "x".join(str(s) for s in self.values.shape)
        return f"attrib.Interactions({self.method}, values {shape}, diagonal {self.diagonal})"


def explain_interactions(model, X, baseline, *, method="shapley-taylor", output=0, groups=None, feature_names=None,
                         order=2, seed=0, threads=1, **options):
    """Pairwise interactions of each row of X: an Interactions object.

    method: shapley-taylor (exact, at most 24 players), permutation-shapley-taylor (sampled),
        banzhaf-interactions (exact), msr-banzhaf-interactions (sampled), integrated-hessians
        (an attrib.Model of type mlp). model, baseline, output, groups, seed and threads as for
        attrib.explain; options: samples, steps, rule.
    order: Shapley-Taylor of another order K (at most 16 players) returns, instead, for each row a
        dict from a tuple of at most K players to its term.
    """
    rows, one = _as_rows(X)
    r = _attrib.explain_interactions(model, rows, baseline, method, output, groups, order, seed, threads, options)
    if order != 2:
        return r["terms"][0] if one else r["terms"]
    names = _player_names(model, rows.shape[1], feature_names, groups, r["groups"])
    result = Interactions(method, r["values"], r["standard_errors"], r["base_values"], r["predictions"],
                          r["row_totals"], r["diagonal"], names, np.asarray(r["outputs"]), r["model_evaluations"])
    return result[0] if one else result
