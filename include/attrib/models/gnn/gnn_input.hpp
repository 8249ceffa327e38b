#pragma once
// gcn_input: a graph as the graph neural networks (gcn, gin) see it, a dense symmetric weighted
// adjacency without self-loops and one feature row per node. The edge weights are inputs too:
// the models are differentiable in them, which is what edge-mask explainers (GNNExplainer) need.
#include <cmath>
#include <string>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"
#include "attrib/graph/graph.hpp"

namespace attrib {

struct gcn_input {
  matrix adjacency;  // n x n, symmetric, zero diagonal, finite non-negative weights
  matrix features;   // n x d
  index node_count() const { return features.rows(); }
};

inline gcn_input make_gcn_input(const graph& g) {
  gcn_input in;
  in.features = feature_matrix(g);
  const index n = node_count(g);
  in.adjacency = matrix::Zero(n, n);
  for (auto [e, end] = boost::edges(g); e != end; ++e) {
    const auto u = static_cast<index>(boost::source(*e, g)), v = static_cast<index>(boost::target(*e, g));
    if (u == v) continue;
    in.adjacency(u, v) = in.adjacency(v, u) = g[*e].weight;
  }
  return in;
}

namespace detail {

// The checks every model forward pass makes; `who` names the model in the message.
inline void check_gnn_input(const gcn_input& in, index inputs, index keep_size, const std::string& who) {
  const index n = in.node_count();
  require(n >= 1, who + ": the graph has no nodes");
  require(in.features.cols() == inputs, who + ": input has " + std::to_string(in.features.cols()) +
                                            " features per node, the model expects " + std::to_string(inputs));
  require(in.adjacency.rows() == n && in.adjacency.cols() == n,
          who + ": adjacency is " + std::to_string(in.adjacency.rows()) + " x " + std::to_string(in.adjacency.cols()) +
              ", expected " + std::to_string(n) + " x " + std::to_string(n) + " (one row per node)");
  require(keep_size == n, who + ": keep mask has " + std::to_string(keep_size) + " entries, expected " + std::to_string(n));
  require(in.features.allFinite(), who + ": node features are not all finite");
  for (index i = 0; i < n; ++i) {
    require(in.adjacency(i, i) == 0.0, who + ": adjacency has a self-loop at node " + std::to_string(i) +
                                           " (the models add their own)");
    for (index j = 0; j < i; ++j) {
      const double w = in.adjacency(i, j);
      require(std::isfinite(w) && w >= 0.0 && w == in.adjacency(j, i),
              who + ": edge weight (" + std::to_string(i) + ", " + std::to_string(j) +
                  ") must be finite, non-negative and symmetric");
    }
  }
}

}  // namespace detail

}  // namespace attrib
