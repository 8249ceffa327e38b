#pragma once
// The results of graph explanations: node values (HN value), learned edge and node masks
// (GNNExplainer, node masks) and link explanations as paths (PaGE-Link). Plain data, so that a
// writer, a table or a binding can use them without the methods.
#include <cstddef>
#include <utility>
#include <vector>

#include "attrib/core/attribution.hpp"
#include "attrib/core/types.hpp"

namespace attrib {

// Diagnostics of one HN computation, beside the values.
struct hn_result {
  attribution values;
  std::size_t iterations = 0;        // applications of H (summed over samples when sampled)
  double last_change = 0.0;          // max |x_{k+1} - x_k| at the last iteration
  std::size_t connected_coalitions = 0;  // length of the iterated vector (per sample when sampled)
  std::size_t samples = 0;           // sampled subgraphs; 0 when exact
};

struct gnn_explainer_result {
  std::vector<std::pair<index, index>> edges;  // the masked edges (u < v), in row order
  vector edge_mask;                            // sigmoid(w_e) per edge, in (0, 1)
  vector scores;                               // per node: mean mask of its incident edges
  double initial_loss = 0.0;
  double final_loss = 0.0;
};

struct node_mask_result {
  vector scores;            // the learned mask, in (0, 1)
  double final_loss = 0.0;  // the objective at the last epoch
  double initial_loss = 0.0;
};

// A path from the link's source to its target; ids of the graph it was found in.
struct explanation_path {
  std::vector<index> nodes;  // source first, target last
  std::vector<index> edges;  // nodes.size() - 1 edge ids
  double cost = 0.0;         // sum of the edge costs; lower is a better explanation
};

struct link_explanation {
  index source = 0, target = 0;       // the explained link (ids of the input graph)
  std::vector<index> nodes;           // the computation graph's nodes (input-graph ids)
  std::vector<index> edges;           // the computation graph's edges (input-graph ids)
  vector mask;                        // learned mask per computation-graph edge, in [0, 1]; 0 = pruned
  std::vector<explanation_path> paths;  // best first, input-graph ids
  double score = 0.0;                 // model score of the link
  double masked_score = 0.0;          // model score with every edge weight scaled by its mask
  index epochs = 0;                   // mask-learning epochs run (early stopping may cut them)
};

}  // namespace attrib
