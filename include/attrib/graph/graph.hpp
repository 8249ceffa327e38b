#pragma once
// graph: the undirected attributed graph every graph explainer works on, a Boost.Graph
// adjacency_list whose nodes carry a feature vector and an integer label and whose edges carry
// a type (heterogeneous graphs, bond types) and a weight. Node descriptors are 0..n-1.
#include <boost/graph/adjacency_list.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"

namespace attrib {

struct node_properties {
  vector features;  // the node's input features (e.g. a one-hot atom type)
  int label = 0;    // a categorical node label (atom type, node type)
};

struct edge_properties {
  int type = 0;         // edge type or bond label
  double weight = 1.0;  // edge weight seen by weighted models
};

using graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::undirectedS, node_properties, edge_properties>;
using graph_node = boost::graph_traits<graph>::vertex_descriptor;

// A graph with a graph-level class label and, for synthetic data, the ground-truth explanation.
struct labeled_graph {
  graph structure;
  int label = 0;                   // class index in [0, classes)
  std::vector<char> ground_truth;  // one 0/1 flag per node (empty when unknown)
};

inline index node_count(const graph& g) { return static_cast<index>(boost::num_vertices(g)); }

// The node features stacked as rows (n x d); every node must have the same dimension.
inline matrix feature_matrix(const graph& g) {
  const index n = node_count(g);
  const index d = n > 0 ? g[0].features.size() : 0;
  matrix x(n, d);
  for (index i = 0; i < n; ++i) {
    const auto& f = g[static_cast<graph_node>(i)].features;
    detail::require(f.size() == d, "feature_matrix: node " + std::to_string(i) + " has " + std::to_string(f.size()) +
                                       " features, expected " + std::to_string(d));
    x.row(i) = f.transpose();
  }
  return x;
}

// Adds the edge {u, v} unless it is a self-loop or already present.
inline void add_undirected_edge(graph& g, graph_node u, graph_node v, edge_properties p = {}) {
  if (u == v || boost::edge(u, v, g).second) return;
  boost::add_edge(u, v, p, g);
}

// Neighbourhoods as bitmasks (bit j of masks[i] is set when {i, j} is an edge); n <= 64.
inline std::vector<std::uint64_t> neighbor_masks(const graph& g) {
  const index n = node_count(g);
  detail::require(n <= 64, "neighbor_masks: bitmask neighbourhoods need at most 64 nodes, got " + std::to_string(n));
  std::vector<std::uint64_t> masks(static_cast<std::size_t>(n), 0);
  for (auto [e, end] = boost::edges(g); e != end; ++e) {
    const auto u = boost::source(*e, g), v = boost::target(*e, g);
    if (u == v) continue;
    masks[u] |= std::uint64_t{1} << v;
    masks[v] |= std::uint64_t{1} << u;
  }
  return masks;
}

}  // namespace attrib
