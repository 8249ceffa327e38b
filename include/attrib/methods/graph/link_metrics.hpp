#pragma once
// How link explanations are scored against planted ground truth, as PaGE-Link's evaluation
// (utils.py) defines it:
//   link_mask_auc       ROC-AUC of the mask over the computation graph's edges against the
//                       ground-truth edges (eval_edge_mask_auc); pruned edges score 0
//   top_edges_path_hit  1 when the edges whose mask is at least the k-th largest value contain
//                       every edge of some ground-truth path (eval_edge_mask_topk_path_hit)
//   top_path_hit        1 when the first returned path is a ground-truth path
#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"
#include "attrib/graph/hetero_graph.hpp"
#include "attrib/methods/graph/fidelity.hpp"
#include "attrib/methods/graph/link_explanation.hpp"

namespace attrib {

// The edge ids of node paths in g; throws when consecutive nodes are not joined.
inline std::vector<std::vector<index>> path_edge_ids(const hetero_graph& g, const std::vector<std::vector<index>>& paths) {
  std::vector<std::vector<index>> out;
  for (const auto& p : paths) {
    std::vector<index> edges;
    for (std::size_t i = 0; i + 1 < p.size(); ++i) {
      const index e = g.edge_between(p[i], p[i + 1]);
      detail::require(e >= 0, "path_edge_ids: nodes " + std::to_string(p[i]) + " and " + std::to_string(p[i + 1]) +
                                  " are not joined");
      edges.push_back(e);
    }
    out.push_back(std::move(edges));
  }
  return out;
}

inline double link_mask_auc(const link_explanation& x, const std::vector<index>& truth_edges) {
  detail::require(x.mask.size() == static_cast<index>(x.edges.size()), "link_mask_auc: mask and edges differ in length");
  std::vector<char> truth(x.edges.size(), 0);
  for (std::size_t e = 0; e < x.edges.size(); ++e)
    truth[e] = std::find(truth_edges.begin(), truth_edges.end(), x.edges[e]) != truth_edges.end();
  return roc_auc(x.mask, truth);
}

inline bool top_edges_path_hit(const link_explanation& x, const std::vector<std::vector<index>>& truth_path_edges,
                               index k) {
  detail::require(k >= 1, "top_edges_path_hit: k must be >= 1");
  detail::require(x.mask.size() == static_cast<index>(x.edges.size()),
                  "top_edges_path_hit: mask and edges differ in length");
  if (x.edges.empty()) return false;
  std::vector<double> sorted(x.mask.data(), x.mask.data() + x.mask.size());
  const auto kth = static_cast<std::size_t>(std::min<index>(k, x.mask.size()) - 1);
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(kth), sorted.end(), std::greater<>());
  const double threshold = sorted[kth];
  const auto selected = [&](index edge) {
    for (std::size_t e = 0; e < x.edges.size(); ++e)
      if (x.edges[e] == edge) return x.mask(static_cast<index>(e)) >= threshold;
    return false;
  };
  for (const auto& path : truth_path_edges)
    if (std::all_of(path.begin(), path.end(), selected)) return true;
  return false;
}

inline bool top_path_hit(const link_explanation& x, const std::vector<std::vector<index>>& truth_paths) {
  if (x.paths.empty()) return false;
  return std::find(truth_paths.begin(), truth_paths.end(), x.paths.front().nodes) != truth_paths.end();
}

}  // namespace attrib
