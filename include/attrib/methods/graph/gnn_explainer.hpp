#pragma once
// GNNExplainer (Ying et al., NeurIPS 2019) for graph classification, with PyG's defaults: a soft
// mask m_e = sigmoid(w_e) on every edge multiplies that edge's weight, and Adam minimises
//   L(w) = -log p_c(G with weights A_e m_e) + size * sum_e m_e + entropy * mean_e H(m_e),
// H(m) = -m log m - (1 - m) log(1 - m), coefficients size 0.005 and entropy 1.0, w_e drawn from
// N(0, (sqrt(2) * sqrt(2 / (2n)))^2) (PyG's initialisation). GStarX runs it with lr 0.01 for
// 1000 epochs. Only the edges are masked (PyG's feature mask is off). Node scores, needed to
// compare with node values under H-fidelity, are the MEAN mask of each node's incident edges
// (0 for isolated nodes): the mean, not the sum, so that a hub is not ranked first for its
// degree alone. The mask enters the model's edge weights, so a normalised GCN renormalises
// with them (PyG instead scales the already normalised messages). Needs a model with
// edge_weight_gradient (gcn, gin).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "attrib/concepts/graph_model.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/random.hpp"
#include "attrib/core/types.hpp"
#include "attrib/core/graph_attribution.hpp"
#include "attrib/models/gnn/gnn_input.hpp"
#include "attrib/models/gnn/gnn_parameters.hpp"
#include "attrib/optimizers/adam.hpp"

namespace attrib {

struct gnn_explainer {
  index epochs = 100;            // PyG's default; GStarX uses 1000
  double learning_rate = 0.01;
  double size = 0.005;           // edge_size
  double entropy = 1.0;          // edge_ent

  // The edges GNNExplainer masks: every positive-weight pair u < v.
  static std::vector<std::pair<index, index>> edges_of(const gcn_input& in) {
    std::vector<std::pair<index, index>> edges;
    for (index u = 0; u < in.node_count(); ++u)
      for (index v = u + 1; v < in.node_count(); ++v)
        if (in.adjacency(u, v) > 0.0) edges.emplace_back(u, v);
    return edges;
  }

  // L(w) and dL/dw for mask logits w (one per edge of edges_of(in)).
  template <edge_differentiable_model Model>
  std::pair<double, vector> loss_and_gradient(const Model& model, const gcn_input& in, index target,
                                              const vector& logits) const {
    const auto edges = edges_of(in);
    detail::require(logits.size() == static_cast<index>(edges.size()),
                    "gnn_explainer: " + std::to_string(logits.size()) + " mask logits for " +
                        std::to_string(edges.size()) + " edges");
    return evaluate(model, in, target, edges, logits);
  }

  template <edge_differentiable_model Model>
  gnn_explainer_result explain(const Model& model, const gcn_input& in, index target, std::uint64_t seed = 0) const {
    const index n = in.node_count();
    detail::require(n >= 1, "gnn_explainer: the graph has no nodes");
    detail::require(epochs >= 0 && learning_rate > 0.0 && size >= 0.0 && entropy >= 0.0,
                    "gnn_explainer: need epochs >= 0, learning_rate > 0, size >= 0 and entropy >= 0");
    const vector p = model.probabilities(in, vector::Ones(n));  // validates the input against the model
    detail::require(target >= 0 && target < p.size(), "gnn_explainer: target class " + std::to_string(target) +
                                                          " outside 0.." + std::to_string(p.size() - 1));
    gnn_explainer_result result;
    result.edges = edges_of(in);
    const auto count = static_cast<index>(result.edges.size());
    rng random = rng::stream(seed, 0x3f);
    const double spread = std::sqrt(2.0) * std::sqrt(2.0 / (2.0 * static_cast<double>(n)));
    vector w(count);
    for (index e = 0; e < count; ++e) w(e) = spread * random.normal();
    basic_adamw<vector> adam;
    for (index epoch = 0; epoch <= epochs; ++epoch) {
      auto [loss, gradient] = evaluate(model, in, target, result.edges, w);
      if (epoch == 0) result.initial_loss = loss;
      result.final_loss = loss;
      if (epoch == epochs || count == 0) break;
      adam.next_step();
      adam.update(0, w, gradient, learning_rate);
    }
    result.edge_mask = sigmoid(w);
    result.scores = node_scores(n, result.edges, result.edge_mask);
    return result;
  }

  // Node i's score from an edge mask: the mean mask of its incident edges (0 when it has none).
  // Shared by the explainers that learn edge masks (pg_explainer.hpp).
  static vector node_scores(index nodes, const std::vector<std::pair<index, index>>& edges, const vector& mask) {
    vector scores = vector::Zero(nodes), degree = vector::Zero(nodes);
    for (std::size_t e = 0; e < edges.size(); ++e) {
      const auto [u, v] = edges[e];
      scores(u) += mask(static_cast<index>(e));
      scores(v) += mask(static_cast<index>(e));
      degree(u) += 1.0;
      degree(v) += 1.0;
    }
    for (index i = 0; i < nodes; ++i)
      if (degree(i) > 0) scores(i) /= degree(i);
    return scores;
  }

 private:
  static vector sigmoid(const vector& w) { return (1.0 + (-w.array()).exp()).inverse().matrix(); }

  template <edge_differentiable_model Model>
  std::pair<double, vector> evaluate(const Model& model, const gcn_input& in, index target,
                                     const std::vector<std::pair<index, index>>& edges, const vector& w) const {
    const index n = in.node_count();
    const auto count = static_cast<index>(edges.size());
    const vector m = sigmoid(w);
    gcn_input masked{in.adjacency, in.features};
    for (index e = 0; e < count; ++e) {
      const auto [u, v] = edges[static_cast<std::size_t>(e)];
      masked.adjacency(u, v) = masked.adjacency(v, u) = in.adjacency(u, v) * m(e);
    }
    const vector all = vector::Ones(n);
    const double p = model.probabilities(masked, all)(target);
    constexpr double tiny = 1e-15;  // PyG's EPS inside the logarithms
    double loss = -std::log(p + tiny) + size * m.sum();
    vector dm = vector::Constant(count, size);
    if (count > 0) {
      const auto ma = m.array();
      loss += entropy * (-ma * (ma + tiny).log() - (1.0 - ma) * (1.0 - ma + tiny).log()).mean();
      dm.array() += entropy / static_cast<double>(count) *
                    (-(ma + tiny).log() - ma / (ma + tiny) + (1.0 - ma + tiny).log() + (1.0 - ma) / (1.0 - ma + tiny));
      // d(-log(p + tiny)) = -(p / (p + tiny)) d log p
      const matrix g = model.edge_weight_gradient(masked, target, all);
      for (index e = 0; e < count; ++e) {
        const auto [u, v] = edges[static_cast<std::size_t>(e)];
        dm(e) -= p / (p + tiny) * g(u, v) * in.adjacency(u, v);
      }
    }
    return {loss, vector(dm.cwiseProduct(m.cwiseProduct(vector(1.0 - m.array()))))};
  }
};

}  // namespace attrib
