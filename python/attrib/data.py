"""Training-data attribution: attrib.data_attribution and the DataAttribution it returns."""
import warnings

import numpy as np

from . import _attrib


class DataAttribution:
    """Scores of every training point for every test row.

    scores: (train rows, test rows) - for influence-style methods the change of the test loss
        when the training point is up-weighted or removed (see docs/methods for each method's
        sign); for tmc-shapley and data-banzhaf one value per training point (train rows,) of
        the whole test set's utility, with standard_errors beside it.
    model: the attrib.Model the scores are about (fitted here unless one was given).
    training_gradient_norm: max-norm of the training-loss gradient at the model; the methods
        assume it is near zero.
    """

    def __init__(self, method, scores, model, training_gradient_norm, standard_errors=None):
        self.method = method
        self.scores = scores
        self.model = model
        self.training_gradient_norm = training_gradient_norm
        self.standard_errors = standard_errors

    def top(self, test_row=None, k=5):
        """Indices of the k training points with the largest scores (for test_row, if given)."""
        column = self.scores if self.scores.ndim == 1 else self.scores[:, 0 if test_row is None else test_row]
        return np.argsort(-column, kind="stable")[:k]

    # Methods whose score is the change of the test loss per unit up-weighting: negative helps.
    _LOSS_PER_UPWEIGHT = ("influence", "relatif", "fastif")

    def lds(self, X_train, y_train, X_test, y_test, subsets=64, alpha=0.5, seed=0, threads=1):
        """The linear datamodeling score (Park et al. 2023) of these scores.

        The model is retrained (warm-started Newton) on `subsets` random alpha-fractions of the
        training set, drawn from `seed`; for each test row, the Spearman correlation across subsets
        between the summed helpfulness of the kept points and the retrained model's log-likelihood
        of that row. Scores are oriented first so that positive means "helps the test row" (the
        influence-style methods are negated). Returns a dict: mean, per_test, and the masks
        (subsets x train) and outputs (subsets x test) the correlation was computed from.
        Logistic and linear regression models only.
        """
        if self.scores.ndim != 2:
            raise ValueError(f"{self.method} gives one value per training point for the whole test set; "
                             "the linear datamodeling score needs a score per (training point, test row)")
        helpful = -self.scores if self.method in self._LOSS_PER_UPWEIGHT else self.scores
        return _attrib.linear_datamodeling_score(self.model, helpful, np.asarray(X_train, dtype=np.float64),
                                                 np.asarray(y_train, dtype=np.float64),
                                                 np.asarray(X_test, dtype=np.float64),
                                                 np.asarray(y_test, dtype=np.float64), subsets, alpha, seed, threads)

    def __repr__(self):
        shape = "x".join(str(s) for s in self.scores.shape)
        return f"attrib.DataAttribution({self.method}, scores {shape})"


def data_attribution(X_train, y_train, X_test, y_test, *, method="influence", model=None,
                     model_type="logistic_regression", seed=0, threads=1, **options):
    """Scores every training point for every test row and returns a DataAttribution.

    method: influence (solver = explicit, cg, lissa, arnoldi or ekfac), relatif, fastif,
        sgd-influence, source, newton-loo, grad-dot, grad-cos, loo, tracin, trak, knn-shapley,
        tmc-shapley, data-banzhaf - the methods of attrib data.
    model: an attrib.Model already fitted to (X_train, y_train), or None to fit one of
        model_type (logistic_regression, mlp, linear_regression) here.
    options: as attrib data's: l2, hidden, activation, epochs, learning_rate, batch_size, solver,
        damping, max_iterations, depth, scale, iterations, top_k, checkpoints,
        checkpoint_every, projection_dim, k, budget, utility, relative, sgd_epochs,
        sgd_batch_size, segments.
    """
    r = _attrib.data_attribution(np.asarray(X_train, dtype=np.float64), np.asarray(y_train, dtype=np.float64),
                                 np.asarray(X_test, dtype=np.float64), np.asarray(y_test, dtype=np.float64),
                                 method, model, model_type, seed, threads, options)
    if model is not None and r["training_gradient_norm"] > 1e-4:
        warnings.warn(f"the training-loss gradient of the given model has max-norm {r['training_gradient_norm']:.3g}: "
                      "it is not at an optimum of (X_train, y_train), which every data-attribution method assumes",
                      stacklevel=2)
    scores, errors = r["scores"], None
    if r["columns"]:  # tmc-shapley, data-banzhaf: a value and its standard error per training point
        scores, errors = scores[:, 0].copy(), scores[:, 1].copy()
    return DataAttribution(method, scores, r["model"], r["training_gradient_norm"], errors)
