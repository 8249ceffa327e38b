#pragma once
// Seeded synthetic graphs with planted ground-truth explanations, as in GNNExplainer (Ying et
// al. 2019, BA-Shapes) and PGExplainer (Luo et al. 2020, BA-2Motifs): a Barabasi-Albert base
// with house or 5-cycle motifs attached by one edge; the motif nodes are the ground truth.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/random.hpp"
#include "attrib/graph/graph.hpp"

namespace attrib {

// Barabasi-Albert preferential attachment on `nodes` nodes, each new node linking to
// `edges_per_node` distinct earlier nodes chosen with probability proportional to degree
// (the first new node links to all of the initial edges_per_node nodes). Features: `features`
// constant entries 1.0 (the structure-only setting of both papers).
inline graph barabasi_albert(index nodes, index edges_per_node, rng& random, index features = 10) {
  detail::require(edges_per_node >= 1 && nodes > edges_per_node,
                  "barabasi_albert: need 1 <= edges_per_node < nodes, got nodes = " + std::to_string(nodes) +
                      ", edges_per_node = " + std::to_string(edges_per_node));
  graph g(static_cast<std::size_t>(nodes));
  for (index i = 0; i < nodes; ++i) g[static_cast<graph_node>(i)].features = vector::Ones(features);
  std::vector<index> repeated;  // each node once per incident edge end
  std::vector<index> targets;
  for (index i = 0; i < edges_per_node; ++i) targets.push_back(i);
  for (index source = edges_per_node; source < nodes; ++source) {
    for (index t : targets) {
      add_undirected_edge(g, static_cast<graph_node>(source), static_cast<graph_node>(t));
      repeated.push_back(t);
      repeated.push_back(source);
    }
    targets.clear();
    while (static_cast<index>(targets.size()) < edges_per_node && source + 1 < nodes) {
      const index pick = repeated[random.below(repeated.size())];
      if (std::find(targets.begin(), targets.end(), pick) == targets.end()) targets.push_back(pick);
    }
  }
  return g;
}

enum class motif { house, cycle5 };

namespace detail {
// Appends a motif, links its first node to `anchor`, labels its nodes and marks them as ground truth.
inline void attach_motif(labeled_graph& lg, motif kind, graph_node anchor, index features, bool role_labels) {
  graph& g = lg.structure;
  const auto base = static_cast<graph_node>(boost::num_vertices(g));
  for (int k = 0; k < 5; ++k) {
    const auto v = boost::add_vertex(g);
    g[v].features = vector::Ones(features);
    // BA-Shapes roles: 1 top of the roof, 2 middle, 3 bottom.
    g[v].label = role_labels ? (k == 0 ? 1 : (k <= 2 ? 2 : 3)) : 1;
    lg.ground_truth.push_back(1);
  }
  if (kind == motif::house) {  // roof 0; walls 1-2; floor 3-4: 0-1 0-2 1-2 1-3 2-4 3-4
    const int e[6][2] = {{0, 1}, {0, 2}, {1, 2}, {1, 3}, {2, 4}, {3, 4}};
    for (auto [a, b] : e) add_undirected_edge(g, base + a, base + b);
  } else {
    for (int k = 0; k < 5; ++k) add_undirected_edge(g, base + k, base + (k + 1) % 5);
  }
  add_undirected_edge(g, base, anchor);
}
}  // namespace detail

// BA-Shapes: a BA base (300 nodes, 5 edges per node), `houses` house motifs attached at random
// base nodes, then random extra edges, `noise` * (edges so far) of them. Node labels: 0 base,
// 1 roof, 2 middle, 3 bottom of a house (the node-classification target).
inline labeled_graph ba_shapes(std::uint64_t seed, index base_nodes = 300, index houses = 80, double noise = 0.1,
                               index features = 10) {
  detail::require(houses >= 0 && noise >= 0.0, "ba_shapes: houses and noise must be >= 0");
  rng random = rng::stream(seed, 0);
  labeled_graph lg;
  lg.structure = barabasi_albert(base_nodes, 5, random, features);
  lg.ground_truth.assign(static_cast<std::size_t>(base_nodes), 0);
  for (index h = 0; h < houses; ++h)
    detail::attach_motif(lg, motif::house, static_cast<graph_node>(random.below(static_cast<std::uint64_t>(base_nodes))),
                         features, true);
  const auto n = static_cast<std::uint64_t>(boost::num_vertices(lg.structure));
  const auto extra = static_cast<std::size_t>(noise * static_cast<double>(boost::num_edges(lg.structure)));
  for (std::size_t k = 0; k < extra; ++k)
    add_undirected_edge(lg.structure, static_cast<graph_node>(random.below(n)), static_cast<graph_node>(random.below(n)));
  return lg;
}

// BA-2Motifs: `count` graphs, each a BA base (`base_nodes`, 1 edge per node) with one motif
// attached: a house (class 0) or a 5-cycle (class 1), alternating so the classes balance.
inline std::vector<labeled_graph> ba_2motifs(std::uint64_t seed, index count = 1000, index base_nodes = 20,
                                             index features = 10) {
  detail::require(count >= 1, "ba_2motifs: count must be >= 1, got " + std::to_string(count));
  std::vector<labeled_graph> out;
  out.reserve(static_cast<std::size_t>(count));
  for (index k = 0; k < count; ++k) {
    rng random = rng::stream(seed, static_cast<std::uint64_t>(k));
    labeled_graph lg;
    lg.structure = barabasi_albert(base_nodes, 1, random, features);
    lg.ground_truth.assign(static_cast<std::size_t>(base_nodes), 0);
    lg.label = static_cast<int>(k % 2);
    detail::attach_motif(lg, lg.label == 0 ? motif::house : motif::cycle5,
                         static_cast<graph_node>(random.below(static_cast<std::uint64_t>(base_nodes))), features, false);
    out.push_back(std::move(lg));
  }
  return out;
}

}  // namespace attrib
