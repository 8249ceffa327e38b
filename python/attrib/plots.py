"""The pictures users expect of an explanation, drawn with matplotlib: bar, waterfall, beeswarm, a
heatmap of pair interactions, activation patching as a heatmap of layers x tokens, and graph
explanations drawn on the graph (nodes coloured by value).

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


def patching(sweep, method="exact", ax=None):
    """A PatchingSweep as layers x tokens, diverging colours centred on zero.

    Each cell is F(patched) - F(corrupted); tokens where the prompts differ read "clean / corrupted".
    """
    values = getattr(sweep, method, None)
    if values is None:
        raise ValueError(f"this sweep has no {method} cells; run it with method='{method}' or 'both'")
    labels = sweep.token_labels
    ax = _axes(ax, 0.35 * len(sweep.layers) + 2)
    ax.figure.set_figwidth(max(6.0, 0.45 * len(labels) + 2))
    limit = float(np.abs(values).max()) or 1.0
    image = ax.imshow(values, cmap="coolwarm", vmin=-limit, vmax=limit, aspect="auto")
    ax.set_xticks(np.arange(len(labels)), labels, rotation=90)
    ax.set_yticks(np.arange(len(sweep.layers)), [f"{sweep.point}.{layer}" for layer in sweep.layers])
    title = "activation patching (exact)" if method == "exact" else "attribution patching (first-order estimate)"
    ax.set_title(title)
    ax.figure.colorbar(image, ax=ax, label="F(patched) - F(corrupted)")
    return ax


def _layout(n, edges, seed, iterations=200):
    """A deterministic force-directed layout (Fruchterman-Reingold) from a seeded start, in numpy,
    scaled into [-1, 1]^2: the same picture for the same graph and seed, without networkx."""
    if n == 1:
        return np.zeros((1, 2))
    pos = np.random.default_rng(seed).uniform(-1.0, 1.0, size=(n, 2))
    k = 1.0 / np.sqrt(n)
    step = 0.1
    for _ in range(iterations):
        delta = pos[:, None, :] - pos[None, :, :]
        distance = np.maximum(np.linalg.norm(delta, axis=-1), 1e-3)
        displacement = (delta * (k * k / distance ** 2)[..., None]).sum(axis=1)  # repulsion k^2 / d
        if len(edges):
            d = pos[edges[:, 0]] - pos[edges[:, 1]]
            pull = d * (np.linalg.norm(d, axis=1) / k)[:, None]  # attraction d^2 / k along the edge
            np.add.at(displacement, edges[:, 0], -pull)
            np.add.at(displacement, edges[:, 1], pull)
        length = np.maximum(np.linalg.norm(displacement, axis=1), 1e-12)
        pos += displacement / length[:, None] * np.minimum(length, step)[:, None]
        step = max(step * 0.98, 1e-3)  # cooling
    pos -= pos.mean(axis=0)
    return pos / max(float(np.abs(pos).max()), 1e-12)


def graph(explanation, values=None, pos=None, node_names=None, ring=None, seed=0, ax=None):
    """A graph explanation drawn on the graph: nodes coloured by value (diverging, centred on 0),
    the explanation's selected nodes (the top positive ones its H-fidelity keeps) ringed.

    explanation: an attrib.GraphExplanation, or an attrib.Graph with `values` (one per node).
    pos: node positions, an (n, 2) array or a dict node -> (x, y); default: graph.positions when
    the graph has them (attrib.graphs.from_networkx keeps a "pos" attribute), else a seeded
    force-directed layout. node_names: one label per node (default: the node labels). ring: the
    nodes to ring (default: the explanation's selected nodes).
    """
    from matplotlib.collections import LineCollection

    g = getattr(explanation, "graph", explanation)
    shown = np.asarray(explanation.values if values is None else values, dtype=np.float64)
    n = g.node_count
    if shown.shape != (n,):
        raise ValueError(f"values has shape {shown.shape}; expected one value per node ({n},)")
    edges = g.edges
    if pos is None:
        pos = getattr(g, "positions", None)
    if pos is None:
        xy = _layout(n, edges, seed)
    elif isinstance(pos, dict):
        xy = np.array([pos[i] for i in range(n)], dtype=np.float64)
    else:
        xy = np.asarray(pos, dtype=np.float64)
    if xy.shape != (n, 2):
        raise ValueError(f"pos has shape {xy.shape}; expected (n, 2) = ({n}, 2)")
    if ring is None:
        ring = getattr(explanation, "selected", [])
    ring = np.asarray(ring, dtype=np.int64)
    ax = _axes(ax, 6)
    ax.add_collection(LineCollection(xy[edges] if len(edges) else np.zeros((0, 2, 2)), colors="#999999",
                                     linewidths=1.5, zorder=1))
    limit = float(np.abs(shown).max()) or 1.0
    nodes = ax.scatter(xy[:, 0], xy[:, 1], c=shown, cmap="coolwarm", vmin=-limit, vmax=limit, s=320,
                       edgecolors="black", linewidths=0.8, zorder=2)
    if len(ring):
        ax.scatter(xy[ring, 0], xy[ring, 1], s=620, facecolors="none", edgecolors="#2ca02c", linewidths=2.5, zorder=3)
    names = node_names if node_names is not None else [str(label) for label in g.node_labels]
    for i in range(n):
        ax.annotate(str(names[i]), xy[i], ha="center", va="center", fontsize=8, zorder=4)
    ax.figure.colorbar(nodes, ax=ax, label=getattr(explanation, "method", "value"))
    ax.set_aspect("equal")
    ax.autoscale_view()
    ax.margins(0.1)
    ax.set_axis_off()
    return ax
