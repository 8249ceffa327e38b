"""The pictures users expect of an explanation, drawn with matplotlib: bar, waterfall, beeswarm, and
a heatmap of pair interactions.

Each function draws on `ax` (a new figure when None) and returns the Axes, so that callers can
save, restyle or combine them. matplotlib is imported on first use only.
"""
import numpy as np


def _axes(ax, height):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt
    _, ax = plt.subplots(figsize=(7, height))
    return ax


def _order(importance, max_display):
    return np.argsort(-importance, kind="stable")[:max_display]


def bar(explanation, max_display=10, ax=None):
    """One row: its attributions; many rows: the mean |attribution| of each player. Largest on top."""
    values = explanation.values
    many = values.ndim == 2
    shown = np.abs(values).mean(axis=0) if many else values
    order = _order(np.abs(shown), max_display)
    ax = _axes(ax, 0.4 * len(order) + 1)
    positions = np.arange(len(order))[::-1]
    colours = ["#1f77b4" if many or shown[i] >= 0 else "#d62728" for i in order]
    ax.barh(positions, shown[order], color=colours)
    ax.set_yticks(positions, [explanation.feature_names[i] for i in order])
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(f"mean |{explanation.method}|" if many else explanation.method)
    return ax


def waterfall(explanation, max_display=10, ax=None):
    """One row: from the base value, each player's attribution stacked in turn to the prediction.

    Players beyond max_display are summed into one bar, so the last bar always ends at
    base_value + sum(values).
    """
    values = explanation.values
    if values.ndim != 1:
        raise ValueError("waterfall draws one row; pick one with explanation[i]")
    base = float(explanation.base_values)
    if not np.isfinite(base):
        raise ValueError(f"{explanation.method} has no base value (an input-space method); use bar()")
    order = list(_order(np.abs(values), max_display))
    labels = [explanation.feature_names[i] for i in order]
    steps = [float(values[i]) for i in order]
    rest = [i for i in range(len(values)) if i not in order]
    if rest:
        labels.append(f"{len(rest)} other players")
        steps.append(float(values[rest].sum()))
    ax = _axes(ax, 0.4 * len(steps) + 1.5)
    start = base
    for k, step in enumerate(steps):
        y = len(steps) - 1 - k
        ax.barh(y, step, left=start, color="#d62728" if step < 0 else "#2ca02c")
        start += step
    ax.set_yticks(np.arange(len(steps))[::-1], labels)
    ax.axvline(base, color="grey", linestyle=":", linewidth=0.8)
    ax.axvline(start, color="black", linestyle="--", linewidth=0.8)
    ax.set_xlabel(f"output: base {base:.4g} -> {start:.4g}")
    return ax


def beeswarm(explanation, max_display=10, ax=None, seed=0):
    """Many rows: each row's attribution of each player as a dot, coloured by the feature's value
    (low blue, high red, for single-feature players), players ordered by mean |attribution|."""
    values = explanation.values
    if values.ndim != 2:
        raise ValueError("beeswarm draws many rows; pass a many-row Explanation")
    order = _order(np.abs(values).mean(axis=0), max_display)
    ax = _axes(ax, 0.5 * len(order) + 1)
    jitter = np.random.default_rng(seed).uniform(-0.3, 0.3, size=values.shape[0])
    groups = explanation.groups
    for k, p in enumerate(order):
        y = len(order) - 1 - k
        features = groups[p] if groups is not None else [p]
        colour = None
        if len(features) == 1 and explanation.data.shape[1] > features[0]:
            column = explanation.data[:, features[0]]
            span = column.max() - column.min()
            colour = (column - column.min()) / span if span > 0 else np.full(column.shape, 0.5)
        ax.scatter(values[:, p], y + jitter, s=10, c=colour, cmap="coolwarm", vmin=0, vmax=1)
    ax.set_yticks(np.arange(len(order))[::-1], [explanation.feature_names[p] for p in order])
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(explanation.method)
    return ax


def heatmap(interactions, ax=None):
    """One row of Interactions: the n x n matrix, diverging colours centred on zero."""
    values = interactions.values
    if values.ndim != 2:
        raise ValueError("heatmap draws one row; pick one with interactions[i]")
    n = values.shape[0]
    ax = _axes(ax, 0.35 * n + 2)
    limit = float(np.abs(values).max()) or 1.0
    image = ax.imshow(values, cmap="coolwarm", vmin=-limit, vmax=limit)
    ax.set_xticks(np.arange(n), interactions.feature_names, rotation=90)
    ax.set_yticks(np.arange(n), interactions.feature_names)
    ax.figure.colorbar(image, ax=ax, label=f"{interactions.method} (diagonal: {interactions.diagonal})")
    return ax
