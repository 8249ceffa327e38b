"""Feature attributions of many rows: attrib.explain and the Explanation it returns."""
import numpy as np

from . import _attrib

# The methods whose players are input coordinates around x rather than features against a baseline.
_INPUT_SPACE = {"clime", "vanilla-gradient", "smoothgrad", "smoothgrad-squared", "vargrad", "guided-backprop"}


class _Rows:
    """What Explanation and Interactions share: the first axis of `values` is the explained rows;
    obj[i] is row i (values with one axis less), obj[a:b] or obj[[i, j]] a many-row object."""

    _row_ndim = 1  # values' dimensions for one row

    def _many(self):
        return self.values.ndim > self._row_ndim

    def __len__(self):
        if not self._many():
            raise TypeError(f"a one-row {type(self).__name__} has no len(); index the rows of a many-row one")
        return self.values.shape[0]

    def __getitem__(self, index):
        if not self._many():
            raise TypeError(f"this {type(self).__name__} holds one row; it cannot be indexed again")
        return self._rows(index, lambda a: None if a is None else a[index])


def _as_rows(X):
    """X as a float64 (rows, features) array, and whether it was one row (features,)."""
    rows = np.asarray(X, dtype=np.float64)
    one = rows.ndim == 1
    if one:
        rows = rows.reshape(1, -1)
    if rows.ndim != 2:
        raise ValueError(f"X has {rows.ndim} dimensions; expected (rows, features) or one row (features,)")
    return rows, one


def _player_names(model, d, feature_names, groups, members):
    """One name per player: the features' names (given, the model's, or x0, x1, ...), joined with
    '+' for groups."""
    names = _feature_names(model, d, feature_names)
    return names if groups is None else ["+".join(names[f] for f in group) for group in members]


class Explanation(_Rows):
    """Attributions of one or many rows, in the spirit of shap.Explanation.

    values: (rows, players) attributions, or (players,) for one row taken with [i].
    base_values: the model's output at the baseline (NaN for input-space methods, which have none).
    predictions: the model's output at each row; with an efficient method (Shapley, Integrated
        Gradients at many steps) values.sum(-1) == predictions - base_values.
    data: the explained rows. feature_names: one name per player (feature or group).
    standard_errors: like values where the method estimates by sampling, else None.
    outputs: the model output explained for each row. model_evaluations: rows passed to the
        model per explained row. fit: per-row diagnostics of the local fit (intercept,
        r_squared, weighted_rmse, exhaustive, converged). groups: the features of each player.
    """

    def __init__(self, values, base_values, predictions, data, feature_names, method, standard_errors=None,
                 outputs=None, model_evaluations=None, game_evaluations=None, fit=None, groups=None):
        self.values = values
        self.base_values = base_values
        self.predictions = predictions
        self.data = data
        self.feature_names = list(feature_names)
        self.method = method
        self.standard_errors = standard_errors
        self.outputs = outputs
        self.model_evaluations = model_evaluations
        self.game_evaluations = game_evaluations
        self.fit = fit if fit is not None else {}
        self.groups = groups

    @property
    def efficiency_gaps(self):
        """values.sum(-1) - (predictions - base_values): zero for efficient methods."""
        return self.values.sum(axis=-1) - (self.predictions - self.base_values)

    def _rows(self, index, pick):
        return Explanation(
            self.values[index], self.base_values[index], self.predictions[index], self.data[index],
            self.feature_names, self.method, pick(self.standard_errors), pick(self.outputs),
            pick(self.model_evaluations), pick(self.game_evaluations),
            {k: v[index] for k, v in self.fit.items()}, self.groups)

    def __repr__(self):
        shape = "x".join(str(s) for s in self.values.shape)
        errors = ", with standard errors" if self.standard_errors is not None else ""
        return f"attrib.Explanation({self.method}, values {shape}{errors})"


def _feature_names(model, d, given):
    if given is not None:
        names = [str(n) for n in given]
        if len(names) != d:
            raise ValueError(f"feature_names has {len(names)} names, expected one per feature ({d})")
        return names
    if isinstance(model, _attrib.Model) and model.feature_names:
        return list(model.feature_names)
    return [f"x{i}" for i in range(d)]


def explain(model, X, baseline=None, *, method="kernel-shap", output=0, groups=None, feature_names=None, seed=0,
            threads=1, **options):
    """Explains each row of X and returns an Explanation.

    model: an attrib.Model (every method, gradients included; the GIL is released), or any
        callable taking a float64 array of shape (batch, features) and returning (batch,) or
        (batch, outputs) numbers - a torch model wraps in one line:
        ``lambda X: net(torch.from_numpy(X)).detach().numpy()``. Callables receive batches of
        about 4096 rows (at most 4096 / background rows coalitions at a time).
    X: the rows to explain, (rows, features), or one row (features,).
    baseline: what an absent feature is replaced by - one reference row, or background rows
        whose outputs are averaged (shap's background data). Input-space methods (clime,
        vanilla-gradient, smoothgrad, smoothgrad-squared, vargrad, guided-backprop) take none.
    method: exact-shapley, kernel-shap, permutation-shapley, exact-banzhaf, msr-banzhaf, lime,
        lime-lasso, occlusion, rise, core-value, clime, and for attrib.Model also
        vanilla-gradient, gradient-x-input, smoothgrad, smoothgrad-squared, vargrad,
        integrated-gradients, expected-gradients, guided-backprop (ReLU MLPs). Pair
        interactions: attrib.explain_interactions; L2X: attrib.explain_l2x.
    output: the model output to explain, or "predicted" for each row's arg-max.
    groups: one integer label per feature; features with the same label are one player.
    seed, threads: same seed, same result, on any number of threads.
    options: as attrib explain's: samples, target_se, alpha, width, distance, sigma, steps,
        rule, keep_probability.
    """
    rows, one = _as_rows(X)
    r = _attrib.explain(model, rows, baseline, method, output, groups, seed, threads, options)
    names = _player_names(model, rows.shape[1], feature_names, groups, r["groups"])
    result = Explanation(r["values"], r["base_values"], r["predictions"], rows, names, method,
                         r["standard_errors"], r["outputs"], r["model_evaluations"], r["game_evaluations"],
                         r["fit"], r["groups"])
    if method in _INPUT_SPACE:
        result.base_values = np.full_like(result.base_values, np.nan)
    return result[0] if one else result
