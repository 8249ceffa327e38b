#pragma once
// PaGE-Link (Zhang et al. 2023): a path explanation of a predicted link (source, target).
//  1. Search space: the computation graph of the link (nodes within `hops` of either endpoint),
//     pruned to its k-core with both endpoints kept (link_search_space); if pruning cuts every
//     path between the endpoints the unpruned graph is used, as PaGE-Link does when no k-core
//     edges remain.
//  2. An edge mask m = sigmoid(w) on the pruned graph's edges, learned by Adam on
//       pred(m) + alpha * (-mean of m over the edges of the current paths)
//               + beta  * (mean of m over the other edges),
//     pred as in link_edge_mask.hpp; "current paths" are the `loss_paths` shortest paths under
//     the cost log in-degree(v) - log m(e) recomputed every epoch (edges counted once per path
//     they lie on, as in PaGE-Link's get_eids_on_paths). Early stop when the mask norm changes
//     by less than 1e-3.
//  3. Output: the `paths` cheapest paths of at most `max_path_length` edges under that cost.
// Defaults are PaGE-Link's for its synthetic data (config.yaml): 2 hops, 2-core, 20 epochs,
// lr 0.01, alpha = beta = 1, 5 loss paths; output paths of at most 3 edges (its explain()).
#include <algorithm>
#include <cstdint>
#include <numeric>
#include <string>
#include <type_traits>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"
#include "attrib/graph/hetero_graph.hpp"
#include "attrib/models/gnn/rgcn.hpp"
#include "attrib/graph/search_space.hpp"
#include "attrib/methods/graph/link_edge_mask.hpp"
#include "attrib/methods/graph/link_explanation.hpp"

namespace attrib {

struct page_link {
  index hops = 2;
  index k_core = 2;
  index epochs = 20;
  double learning_rate = 0.01;
  double alpha = 1.0;  // weight of the on-path term
  double beta = 1.0;   // weight of the off-path term
  std::size_t loss_paths = 5;
  std::size_t paths = 5;
  index max_path_length = 3;
  double early_stop = 1e-3;

  // A template (always on rgcn) so that the R-GCN's forward and backward passes compile only
  // where a link is explained.
  template <class Model = rgcn>
  link_explanation explain(const std::type_identity_t<Model>& model, const hetero_graph& g, index source,
                           index target, std::uint64_t seed = 0) const {
    detail::require_link_options(epochs, learning_rate, paths, max_path_length, "page_link");
    detail::require(k_core >= 0 && loss_paths >= 1 && alpha >= 0.0 && beta >= 0.0 && early_stop >= 0.0,
                    "page_link: need k_core >= 0, loss_paths >= 1 and alpha, beta, early_stop >= 0");
    const link_computation_graph c = computation_graph_of(g, source, target, hops);
    detail::require(detail::joined(c.graph, c.source, c.target),
                    "page_link: no path joins nodes " + std::to_string(source) + " and " + std::to_string(target) +
                        " within " + std::to_string(hops) + " hops, so the link is on no path to explain it");
    // The pruned search space; nodes/edges map its ids to the computation graph's.
    std::vector<index> nodes, edges;
    hetero_graph pruned =
        c.graph.induced_subgraph(link_search_space(c.graph.structure(), c.source, c.target, hops, k_core), nodes, edges);
    const auto find = [&](index v) {
      return static_cast<index>(std::find(nodes.begin(), nodes.end(), v) - nodes.begin());
    };
    index s = find(c.source), t = find(c.target);
    if (!detail::joined(pruned, s, t)) {
      pruned = c.graph;
      nodes.resize(static_cast<std::size_t>(c.graph.node_count()));
      edges.resize(static_cast<std::size_t>(c.graph.edge_count()));
      std::iota(nodes.begin(), nodes.end(), index{0});
      std::iota(edges.begin(), edges.end(), index{0});
      s = c.source;
      t = c.target;
    }
    link_explanation out = detail::begin_link_explanation(model, c, source, target);
    const auto fit = detail::learn_link_mask(
        model, pruned, s, t, out.score > 0.0, epochs, learning_rate, early_stop, seed,
        [&](const vector& m, vector& dm) { add_path_loss_gradient(pruned, m, s, t, dm); });
    out.mask = vector::Zero(c.graph.edge_count());
    for (std::size_t e = 0; e < edges.size(); ++e) out.mask(edges[e]) = fit.mask(static_cast<index>(e));
    out.epochs = fit.epochs;
    out.masked_score = model.score(pruned, fit.mask.cwiseProduct(pruned.weights()), s, t);
    out.paths = mask_paths(pruned, fit.mask, s, t, paths, max_path_length);
    // pruned ids -> computation-graph ids -> input-graph ids
    detail::rename_paths(out.paths, nodes, edges);
    detail::rename_paths(out.paths, c.nodes, c.edges);
    return out;
  }

  // The gradient in m of the path loss -alpha mean(m on paths) + beta mean(m off paths).
  void add_path_loss_gradient(const hetero_graph& g, const vector& m, index s, index t, vector& dm) const {
    const auto found = mask_paths(g, m, s, t, loss_paths, g.node_count());
    std::vector<index> count(static_cast<std::size_t>(m.size()), 0);
    index on = 0;
    for (const auto& p : found)
      for (index e : p.edges) {
        ++count[static_cast<std::size_t>(e)];
        ++on;
      }
    index off = 0;
    for (index c : count) off += c == 0;
    for (index e = 0; e < m.size(); ++e) {
      const index k = count[static_cast<std::size_t>(e)];
      if (k > 0) dm(e) -= alpha * static_cast<double>(k) / static_cast<double>(on);
      else dm(e) += beta / static_cast<double>(off);
    }
  }
};

}  // namespace attrib
