#pragma once
// A GNNExplainer-style edge mask for a predicted link (Ying et al. 2019, as PaGE-Link's
// HeteroGNNExplainer adapts it to links): a soft mask m = sigmoid(w) per edge of the link's
// computation graph multiplies the messages, and Adam minimises
//   pred(m) + size * sum(m) + entropy * mean(-m log m - (1 - m) log(1 - m)),
// pred = -log sigmoid(score) for a link predicted present (score > 0), +log sigmoid(score)
// otherwise. Defaults are PaGE-Link's baseline settings for its synthetic data (lr 0.001,
// 100 epochs, size 1e-5, entropy 0.1). Paths are extracted from the mask as PaGE-Link does,
// for comparison. The learning loop is shared with PaGE-Link.
#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>

#include "attrib/core/error.hpp"
#include "attrib/core/random.hpp"
#include "attrib/core/types.hpp"
#include "attrib/graph/hetero_graph.hpp"
#include "attrib/models/gnn/rgcn.hpp"
#include "attrib/methods/graph/link_explanation.hpp"
#include "attrib/optimizers/adam.hpp"

namespace attrib {

namespace detail {

struct link_mask_fit {
  vector mask;
  index epochs = 0;
};

// Adam on pred(sigmoid(w)) + regulariser(m), the model seeing edge weights m_e * weight_e, w_e ~ N(0, 2 / n) as PaGE-Link initialises
// (ReLU gain times sqrt(2 / (2 n)), n the graph's nodes). regulariser(m, dm) adds the gradient
// of the regularising terms in m to dm. With early_stop > 0 the loop stops, as PaGE-Link's does,
// before the update in which | ||m|| - ||m_previous|| | < early_stop (||m_-1|| = 0).
template <class Regulariser>
link_mask_fit learn_link_mask(const rgcn& model, const hetero_graph& g, index source, index target, bool present,
                              index epochs, double learning_rate, double early_stop, std::uint64_t seed,
                              Regulariser&& regulariser) {
  const index m_count = g.edge_count();
  rng random = rng::stream(seed, 0x11);
  const double std_dev = std::sqrt(2.0 / static_cast<double>(g.node_count()));
  vector w(m_count);
  for (index e = 0; e < m_count; ++e) w(e) = std_dev * random.normal();
  basic_adamw<vector> adam;
  const vector weights = g.weights();  // the mask scales the graph's own edge weights
  double previous_norm = 0.0;
  link_mask_fit fit;
  for (index epoch = 0; epoch < epochs; ++epoch) {
    const vector m = (1.0 + (-w.array()).exp()).inverse().matrix();
    if (early_stop > 0.0) {
      const double norm = m.norm();
      if (std::abs(norm - previous_norm) < early_stop) break;
      previous_norm = norm;
    }
    const auto grad = model.score_gradient(g, m.cwiseProduct(weights), source, target, false);
    const double p = 1.0 / (1.0 + std::exp(-grad.score));
    // d pred / d score: -(1 - p) for a present link, (1 - p) for an absent one.
    vector dm = (present ? -(1.0 - p) : (1.0 - p)) * grad.edge_weights.cwiseProduct(weights);
    regulariser(m, dm);
    const vector dw = dm.cwiseProduct(m.cwiseProduct((1.0 - m.array()).matrix()));
    adam.next_step();
    adam.update(0, w, dw, learning_rate);
    fit.epochs = epoch + 1;
  }
  fit.mask = (1.0 + (-w.array()).exp()).inverse().matrix();
  return fit;
}

inline void require_link_options(index epochs, double learning_rate, std::size_t paths, index max_path_length,
                                 const std::string& who) {
  detail::require(epochs >= 1 && learning_rate > 0.0 && std::isfinite(learning_rate),
                  who + ": need epochs >= 1 and a finite learning_rate > 0");
  detail::require(paths >= 1, who + ": need at least one output path (paths = 0)");
  detail::require(max_path_length >= 1, who + ": the path length bound max_path_length must be >= 1");
}

// Maps paths found in a subgraph to input-graph ids.
inline void rename_paths(std::vector<explanation_path>& paths, const std::vector<index>& nodes,
                         const std::vector<index>& edges) {
  for (auto& p : paths) {
    for (auto& v : p.nodes) v = nodes[static_cast<std::size_t>(v)];
    for (auto& e : p.edges) e = edges[static_cast<std::size_t>(e)];
  }
}

}  // namespace detail

struct link_edge_mask_explainer {
  index hops = 2;
  index epochs = 100;
  double learning_rate = 0.001;
  double size = 1e-5;
  double entropy = 0.1;
  std::size_t paths = 5;
  index max_path_length = 3;

  // A template (always on rgcn) so that the R-GCN's forward and backward passes compile only
  // where a link is explained.
  template <class Model = rgcn>
  link_explanation explain(const std::type_identity_t<Model>& model, const hetero_graph& g, index source,
                           index target, std::uint64_t seed = 0) const {
    detail::require_link_options(epochs, learning_rate, paths, max_path_length, "link_edge_mask_explainer");
    const link_computation_graph c = computation_graph_of(g, source, target, hops);
    detail::require(detail::joined(c.graph, c.source, c.target),
                    "link_edge_mask_explainer: no path joins nodes " + std::to_string(source) + " and " +
                        std::to_string(target) + " within " + std::to_string(hops) + " hops");
    link_explanation out = detail::begin_link_explanation(model, c, source, target);
    const auto fit = detail::learn_link_mask(
        model, c.graph, c.source, c.target, out.score > 0.0, epochs, learning_rate, 0.0, seed,
        [&](const vector& m, vector& dm) {
          const vector mc = m.array().min(1.0 - 1e-12).max(1e-12).matrix();
          dm.array() += size + entropy / static_cast<double>(m.size()) * ((1.0 - mc.array()) / mc.array()).log();
        });
    out.mask = fit.mask;
    out.epochs = fit.epochs;
    out.masked_score = model.score(c.graph, out.mask.cwiseProduct(c.graph.weights()), c.source, c.target);
    out.paths = mask_paths(c.graph, out.mask, c.source, c.target, paths, max_path_length);
    detail::rename_paths(out.paths, c.nodes, c.edges);
    return out;
  }
};

}  // namespace attrib
