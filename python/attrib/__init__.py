"""attrib: explain a model's outputs in terms of its input features and its training data.

The C++ library's methods, called on numpy arrays. Feature attribution works on any Python
callable from a batch of rows to outputs (the perturbation methods) and on attrib's own models
(every method, gradients included); data attribution scores every training point for every test
row; transformers run with hooks, activation patching and the LLM studies. See docs/python.md for
a ten-minute tour.
"""
from ._attrib import FormatError, Model
from .data import DataAttribution, data_attribution
from .explanation import Explanation, explain
from .graphs import (Graph, GraphDataset, GraphExplanation, GraphModel, HeteroGraph, LinkExplanation, LinkModel,
                     LinkStudy, explain_graph, explain_links, load_tu_dataset, page_link)
from . import graphs
from .interactions import Interactions, explain_interactions
from .l2x import Selection, explain_l2x
from .transformer import Gradients, Hooks, PatchingSweep, Transformer, llm_study
from . import plots

__all__ = ["DataAttribution", "Explanation", "FormatError", "Gradients", "Hooks", "Interactions", "Model", "PatchingSweep",
           "Selection", "Transformer", "data_attribution",
           "explain", "explain_interactions", "explain_l2x", "llm_study", "plots",
           # graphs
           "Graph", "GraphDataset", "GraphExplanation", "GraphModel", "HeteroGraph", "LinkExplanation", "LinkModel",
           "LinkStudy", "explain_graph", "explain_links", "graphs", "load_tu_dataset", "page_link"]
