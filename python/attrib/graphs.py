"""Graphs: build them (edge lists, networkx-like and PyG-like objects, TU datasets), train attrib's
GNNs, explain a graph's prediction node by node (HN value, Myerson value, node Shapley, occlusion,
GNNExplainer, Grad-CAM) and a predicted link by paths (PaGE-Link).

The node methods run the code of `attrib graph explain` with its option names, on an
attrib.GraphModel (the game GStarX explains: v(S) = p_c(G_S) - baseline) or on any Python value
function over node coalitions, so a torch_geometric model is explained through a few lines that
score the subgraph a 0/1 node mask keeps.
"""
import os

import numpy as np

from . import _attrib
from ._attrib import Graph, GraphModel, HeteroGraph, LinkModel

# The node methods that read a GraphModel's gradients, so a value function cannot use them.
_MODEL_ONLY = {"gnnexplainer", "grad-cam"}


def _attributes(nodes, n):
    """The attribute dict of node n: networkx's G.nodes[n], or a plain mapping's value."""
    try:
        data = nodes[n]
    except (TypeError, KeyError, IndexError):
        return {}
    return dict(data) if hasattr(data, "keys") else {}


def from_networkx(G, features="x", node_labels="label", weight="weight", label=None, positions="pos"):
    """An attrib.Graph from a networkx-like graph, without needing networkx.

    G needs `G.nodes` (iterable node ids; `G.nodes[n]` the node's attribute dict) and
    `G.edges(data=True)` (triples u, v, attribute dict), as networkx graphs have. Nodes are numbered
    in G.nodes order; `graph.node_ids` keeps the original ids. `features`, `node_labels`, `weight`
    and `positions` name node or edge attributes (absent: the defaults of attrib.Graph; positions,
    when every node has one, are kept as `graph.positions` for attrib.plots.graph).
    """
    ids = list(G.nodes)
    index = {node: i for i, node in enumerate(ids)}
    attrs = [_attributes(G.nodes, node) for node in ids]
    edges, weights = [], []
    for u, v, data in G.edges(data=True):
        edges.append((index[u], index[v]))
        weights.append(float((data or {}).get(weight, 1.0)))

    def column(key):
        if key is None or not ids or not all(key in a for a in attrs):
            return None
        return [a[key] for a in attrs]

    x = column(features)
    y = column(node_labels)
    graph = Graph(np.array(edges, dtype=np.int64).reshape(-1, 2), node_count=len(ids),
                  features=None if x is None else np.asarray(x, dtype=np.float64).reshape(len(ids), -1),
                  node_labels=None if y is None else np.asarray(y, dtype=np.int64),
                  edge_weights=np.array(weights), label=label)
    graph.node_ids = ids
    pos = column(positions)
    if pos is not None:
        graph.positions = np.asarray(pos, dtype=np.float64)
    return graph


def from_pyg(data):
    """An attrib.Graph from a torch_geometric Data-like object: edge_index (2, E) (both directions
    of an edge are one edge), x (n, d) when present, y (the graph's class) when it is one number,
    edge_weight when present. Tensors are read through numpy (CPU tensors)."""
    def array(name):
        value = getattr(data, name, None)
        if value is None:
            return None
        if hasattr(value, "detach"):
            value = value.detach().cpu().numpy()
        return np.asarray(value)

    edge_index = array("edge_index")
    if edge_index is None or edge_index.ndim != 2 or edge_index.shape[0] != 2:
        raise ValueError("data.edge_index must be a (2, E) array of node indices")
    x, y = array("x"), array("y")
    label = int(y.reshape(-1)[0]) if y is not None and y.size == 1 else None
    n = getattr(data, "num_nodes", None)
    return Graph(edge_index.T, node_count=None if x is not None or n is None else int(n),
                 features=None if x is None else x.astype(np.float64), edge_weights=array("edge_weight"), label=label)


class GraphDataset:
    """Labelled graphs, e.g. a TU dataset: graphs, labels (class indices 0..C-1), class_values
    (the file's label of each class) and node_label_values (the file's node label of each one-hot
    feature column)."""

    def __init__(self, graphs, class_values=None, node_label_values=None, name=""):
        self.graphs = list(graphs)
        self.labels = np.array([g.label if g.label is not None else -1 for g in self.graphs], dtype=np.int64)
        self.class_values = list(class_values or [])
        self.node_label_values = list(node_label_values or [])
        self.name = name

    def __len__(self):
        return len(self.graphs)

    def __getitem__(self, k):
        return self.graphs[k]

    def __iter__(self):
        return iter(self.graphs)

    def __repr__(self):
        return f"attrib.GraphDataset({self.name or 'graphs'}: {len(self.graphs)} graphs, {len(self.class_values)} classes)"


def load_tu_dataset(directory, name=None):
    """A TU-format dataset (NAME_A.txt, NAME_graph_indicator.txt, NAME_graph_labels.txt,
    NAME_node_labels.txt; e.g. data/graphs/MUTAG) as `attrib graph` reads it: node features are the
    one-hot node labels, graph labels are numbered 0..C-1 in ascending order. name defaults to
    the directory's name."""
    name = name or os.path.basename(os.path.normpath(str(directory)))
    r = _attrib.read_tu_dataset(directory, name)
    return GraphDataset(r["graphs"], r["class_values"], r["node_label_values"], name)


class GraphExplanation:
    """Node values of one graph.

    values: one score per node. graph: the explained attrib.Graph. method, target (the explained
    class of a GraphModel; None for a value function), probability (the explained score on the
    whole graph), baseline (subtracted from the probability in the game). fidelity: GStarX's
    H-fidelity of the top positive nodes at `sparsity` (harmonic, fidelity, inverse_fidelity, the
    realised sparsity and the selected nodes), computed on the probability - for a value
    function, on its own scores.
    """

    def __init__(self, r, graph):
        self.values = r["values"]
        self.graph = graph
        self.method = r["method"]
        self.target = r["target"]
        self.probability = r["probability"]
        self.baseline = r["baseline"]
        self.fidelity = dict(r["fidelity"])

    @property
    def h_fidelity(self):
        return self.fidelity["harmonic"]

    @property
    def selected(self):
        """The nodes the H-fidelity keeps: the top positive ones at the requested sparsity."""
        return self.fidelity["selected"]

    def top_nodes(self, k=5):
        """The k nodes of largest value, largest first."""
        return np.argsort(-self.values, kind="stable")[:k]

    def __repr__(self):
        target = "" if self.target is None else f", class {self.target}"
        return (f"attrib.GraphExplanation({self.method}{target}, {len(self.values)} nodes, "
                f"H-fidelity {self.h_fidelity:.4g})")


def explain_graph(model, graph, method="hn", *, target=None, baseline=None, seed=0, threads=1, **options):
    """Scores the nodes of `graph` and returns a GraphExplanation.

    model: an attrib.GraphModel - the game is GStarX's, v(S) = p_target(G_S) - baseline, nodes
        outside S removed with their edges (attrib graph explain) - or any callable from a float64
        array of 0/1 node masks, shape (batch, nodes), to one score per mask (batch,); it receives
        batches of coalitions, with the GIL taken only around the call.
    method: hn (GStarX's Hamiache-Navarro value), myerson, shapley (node Shapley), occlusion; for
        a GraphModel also gnnexplainer (mean mask of incident edges) and grad-cam.
    target: the class explained (default: the predicted one). baseline: a number, or graphs (a
        list or a GraphDataset) whose average target probability is subtracted - the command
        line uses the whole dataset. Neither applies to a value function.
    options: as attrib graph explain's: tau (hn), samples (myerson and shapley beyond 16 nodes),
        epochs (gnnexplainer), layer (grad-cam), sparsity (of the H-fidelity, default 0.5).
    seed, threads: same seed, same result, on any number of threads.
    """
    if not isinstance(graph, Graph):
        raise ValueError(f"graph is a {type(graph).__name__}; expected an attrib.Graph "
                         "(attrib.Graph(edges, ...), attrib.graphs.from_networkx or from_pyg)")
    if method in _MODEL_ONLY and not isinstance(model, GraphModel):
        raise ValueError(f"method {method} follows a model's gradients; it needs an attrib.GraphModel")
    if isinstance(baseline, GraphDataset):
        baseline = baseline.graphs
    r = _attrib.explain_graph(model, graph, method, target, baseline, seed, threads, options)
    return GraphExplanation(r, graph)


class LinkExplanation:
    """The explanation of one predicted link (source, target) of a heterogeneous graph.

    mask: the learned mask of each edge of the link's computation graph (`edges`, graph edge ids;
    `nodes` its nodes), 0 for pruned edges. paths: best first, each a dict of nodes, edges and
    cost (PaGE-Link's log in-degree - log mask). score: the model's score of the link;
    masked_score: with every edge scaled by its mask. metrics (given the planted paths):
    mask_auc (ROC-AUC of the mask against the planted edges), top_path_hit (the first path is a
    planted one), hit_at_5 / hit_at_10 (some planted path lies inside the top 5 / 10 edges).
    """

    def __init__(self, r):
        self.source, self.target = r["source"], r["target"]
        self.nodes, self.edges, self.mask = r["nodes"], r["edges"], r["mask"]
        self.paths = r["paths"]
        self.score, self.masked_score, self.epochs = r["score"], r["masked_score"], r["epochs"]
        self.metrics = r.get("metrics")

    @property
    def top_path(self):
        return list(self.paths[0]["nodes"]) if self.paths else None

    def __repr__(self):
        return f"attrib.LinkExplanation({self.source} -> {self.target}, {len(self.paths)} paths, top {self.top_path})"


def explain_links(model, graph, links, method="page-link", *, truth=None, seed=0, threads=1, **options):
    """Explains each (source, target) row of `links` with PaGE-Link ("page-link") or a
    GNNExplainer-style edge mask ("edge-mask") and returns LinkExplanations. truth: for each link
    its planted paths (lists of nodes), which adds metrics. Options: hops, epochs, learning_rate,
    paths, max_path_length, and k_core, alpha, beta, loss_paths, early_stop (page-link) or size,
    entropy (edge-mask). Link i is seeded by (seed, i): the same results on any number of threads.
    """
    pairs = np.asarray(links, dtype=np.int64).reshape(-1, 2)
    r = _attrib.explain_links(model, graph, pairs, method, truth, seed, threads, options)
    return [LinkExplanation(x) for x in r]


class LinkStudy:
    """What attrib.page_link ran: graph (HeteroGraph), model (LinkModel), links (the explained
    held-out links with their planted paths), explanations (one LinkExplanation each), held_out
    (how many links were held out) and summary (mean metrics over the explained links)."""

    def __init__(self, graph, model, links, explanations, held_out):
        self.graph, self.model, self.links, self.explanations = graph, model, links, explanations
        self.held_out = held_out
        metrics = [x.metrics for x in explanations]
        self.summary = {"explained": len(explanations), "held_out": held_out}
        for key in ("mask_auc", "top_path_hit", "hit_at_5", "hit_at_10"):
            values = np.array([m[key] for m in metrics], dtype=np.float64)
            self.summary[key] = float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")

    @property
    def masks(self):
        return [x.mask for x in self.explanations]

    @property
    def top_paths(self):
        return [x.top_path for x in self.explanations]

    def __repr__(self):
        s = self.summary
        return (f"attrib.LinkStudy({s['explained']} of {s['held_out']} held-out links explained, "
                f"mask AUC {s['mask_auc']:.3f}, top path hit {s['top_path_hit']:.3f})")


def page_link(*, users=80, items=60, attributes=20, buys_per_user=3, attributes_per_item=1, likes_per_user=3,
              feature_dim=0, seed=0, train_fraction=0.8, hidden=32, layers=2, epochs=200, learning_rate=0.01,
              method="page-link", threads=1, **explainer_options):
    """PaGE-Link on attrib's synthetic user-item-attribute graph with planted explanation paths.

    A seeded graph where a user likes an item because an item the user bought shares an
    attribute with it (paths user -buys- item -has- attribute -has- item); an R-GCN (DistMult
    scorer) is trained on train_fraction of the likes (split seeded by `seed`), and the held-out
    likes it predicts present (score > 0) are explained by `method` (page-link or edge-mask,
    options as explain_links) and scored against their planted paths. Returns a LinkStudy.
    """
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction is {train_fraction}; expected a fraction strictly between 0 and 1")
    data = _attrib.planted_link_graph(users, items, attributes, buys_per_user, attributes_per_item, likes_per_user,
                                      feature_dim, seed)
    graph, links = data["graph"], data["links"]
    if len(links) < 2:
        raise ValueError(f"the graph has {len(links)} planted links; need at least 2 (raise users or likes_per_user)")
    pairs = np.array([[link["source"], link["target"]] for link in links], dtype=np.int64)
    order = np.random.default_rng(seed).permutation(len(links))
    cut = min(max(int(len(links) * train_fraction), 1), len(links) - 1)
    train, test = order[:cut], order[cut:]
    model = LinkModel.fit(graph, pairs[train], hidden=hidden, layers=layers, epochs=epochs,
                          learning_rate=learning_rate, seed=seed)
    explained = test[model.score(graph, pairs[test]) > 0]
    explanations = explain_links(model, graph, pairs[explained], method,
                                 truth=[links[i]["paths"] for i in explained], seed=seed, threads=threads,
                                 **explainer_options)
    return LinkStudy(graph, model, [links[i] for i in explained], explanations, len(test))
