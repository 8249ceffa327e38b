#pragma once
// Graph classifiers as the graph explainers see them: probabilities under node masks, and the
// gradients that mask-learning explainers follow.
#include <concepts>

#include "attrib/core/types.hpp"
#include "attrib/models/gnn/gnn_input.hpp"

namespace attrib {

// m.probabilities(input, keep): class probabilities of the subgraph induced by the nodes with
// keep(i) > 0.5 (the others are removed with their edges). Every graph classifier in attrib
// (gnn_classifier: gcn, gin) models it; GStarX's node_removal_game needs nothing more.
template <class Model>
concept node_mask_model = requires(const Model& m, const gcn_input& in, const vector& keep) {
  { m.probabilities(in, keep) } -> std::convertible_to<vector>;
};

// ... with d log p_c / d w_uv for every undirected edge weight (an n x n symmetric matrix): what
// GNNExplainer's edge masks learn through.
template <class Model>
concept edge_differentiable_model =
    node_mask_model<Model> && requires(const Model& m, const gcn_input& in, index c, const vector& keep) {
      { m.edge_weight_gradient(in, c, keep) } -> std::convertible_to<matrix>;
    };

// ... with the node embeddings of the last message-passing layer (n x hidden) on the whole graph:
// what PGExplainer's mask network reads.
template <class Model>
concept embedding_model = edge_differentiable_model<Model> && requires(const Model& m, const gcn_input& in) {
  { m.node_embeddings(in) } -> std::convertible_to<matrix>;
};

// ... with d log p_c / d features (n x d): what node masks learn through.
template <class Model>
concept feature_differentiable_model = node_mask_model<Model> && requires(const Model& m, const gcn_input& in, index c) {
  { m.feature_gradient(in, c) } -> std::convertible_to<matrix>;
};

namespace archetypes {
// The least a graph classifier must be: two classes, p_1 the fraction of nodes kept.
struct node_mask_model {
  vector probabilities(const gcn_input&, const vector& keep) const {
    const double kept = keep.size() > 0 ? (keep.array() > 0.5).cast<double>().mean() : 0.0;
    vector p(2);
    p << 1.0 - kept, kept;
    return p;
  }
};
// ... whose probabilities do not depend on edge weights or features: zero gradients.
struct edge_differentiable_model : node_mask_model {
  matrix edge_weight_gradient(const gcn_input& in, index, const vector&) const {
    return matrix::Zero(in.node_count(), in.node_count());
  }
};
// ... with one-hot node embeddings of width 2 (a node's parity).
struct embedding_model : edge_differentiable_model {
  matrix node_embeddings(const gcn_input& in) const {
    matrix z = matrix::Zero(in.node_count(), 2);
    for (index i = 0; i < in.node_count(); ++i) z(i, i % 2) = 1.0;
    return z;
  }
};
struct feature_differentiable_model : node_mask_model {
  matrix feature_gradient(const gcn_input& in, index) const {
    return matrix::Zero(in.node_count(), in.features.cols());
  }
};
}  // namespace archetypes

static_assert(node_mask_model<archetypes::node_mask_model>);
static_assert(edge_differentiable_model<archetypes::edge_differentiable_model>);
static_assert(feature_differentiable_model<archetypes::feature_differentiable_model>);
static_assert(embedding_model<archetypes::embedding_model>);

}  // namespace attrib
