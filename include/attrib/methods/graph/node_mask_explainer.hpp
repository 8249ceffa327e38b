#pragma once
// A GNNExplainer-style mask-learning baseline (Ying et al. 2019) for node scores: a soft mask
// m = sigmoid(w), one entry per node, scales each node's features, and Adam minimises
//   -log p_c(diag(m) X) + size * sum(m) + entropy * mean(-m log m - (1 - m) log(1 - m)),
// GNNExplainer's objective with its default coefficients (size 0.005, entropy 1.0) moved from
// edges to nodes, so its scores are comparable with node values in H-fidelity. The scores are
// the learned m. Needs a model with feature_gradient (d log p_c / d X), e.g. gcn or gin.
// gnn_explainer.hpp is GNNExplainer proper (edge masks); this node variant is kept because it
// scores nodes directly and works without edges.
#include <cmath>
#include <cstdint>
#include <string>

#include "attrib/core/graph_attribution.hpp"
#include "attrib/concepts/graph_model.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/random.hpp"
#include "attrib/models/gnn/gnn_input.hpp"
#include "attrib/models/gnn/gnn_parameters.hpp"
#include "attrib/optimizers/adam.hpp"

namespace attrib {

struct node_mask_explainer {
  index epochs = 100;
  double learning_rate = 0.01;
  double size = 0.005;
  double entropy = 1.0;

  template <feature_differentiable_model Model>
  node_mask_result explain(const Model& model, const gcn_input& in, index target, std::uint64_t seed = 0) const {
    const index n = in.node_count();
    detail::require(n >= 1, "node_mask_explainer: the graph is empty");
    detail::require(epochs >= 1 && learning_rate > 0.0, "node_mask_explainer: need epochs >= 1 and learning_rate > 0");
    rng random = rng::stream(seed, 0x3e);
    vector w(n);
    for (index i = 0; i < n; ++i) w(i) = 1.0 + 0.1 * random.normal();
    node_mask_result result;
    basic_adamw<vector> adam;
    for (index epoch = 0; epoch <= epochs; ++epoch) {
      const vector m = (1.0 + (-w.array()).exp()).inverse().matrix();
      gcn_input masked{in.adjacency, m.asDiagonal() * in.features};
      const double p = model.probabilities(masked, vector::Ones(n))(target);
      const vector mc = m.array().min(1.0 - 1e-12).max(1e-12).matrix();
      const double ent = (-(mc.array() * mc.array().log()) - (1.0 - mc.array()) * (1.0 - mc.array()).log()).mean();
      const double loss = -std::log(std::max(p, 1e-300)) + size * m.sum() + entropy * ent;
      if (epoch == 0) result.initial_loss = loss;
      result.final_loss = loss;
      if (epoch == epochs) {
        result.scores = m;
        break;
      }
      const matrix g = model.feature_gradient(masked, target);  // d log p / d (m_i x_i)
      vector dm = -(g.cwiseProduct(in.features)).rowwise().sum();
      dm.array() += size + entropy / static_cast<double>(n) * ((1.0 - mc.array()) / mc.array()).log();
      const vector dw = dm.cwiseProduct(m.cwiseProduct((1.0 - m.array()).matrix()));
      adam.next_step();
      adam.update(0, w, dw, learning_rate);
    }
    return result;
  }
};

}  // namespace attrib
