#pragma once
// ACDC, automatic circuit discovery (Conmy et al. 2023), on an edge_game: starting from
// the whole graph, visit the receivers from the logits back to the first block and, for each, its
// incoming edges from the latest sender back; remove an edge for good when removing it moves the
// game's value away from the full model's by less than `threshold` more than the circuit already
// does. With the kl_to_clean metric that distance is the KL divergence ACDC uses; with the others
// it is |v(circuit) - v(all)|. The circuit comes back as a Boost.Graph over the nodes it keeps.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include <boost/graph/adjacency_list.hpp>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"
#include "attrib/games/edge_game.hpp"

namespace attrib {

struct circuit_edge_score {
  double increase = 0.0;  // how far removing the edge moved the value when ACDC tried it
};

// Nodes carry their circuit_node; edges how much they matter.
using circuit_graph =
    boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS, circuit_node, circuit_edge_score>;

struct acdc_options {
  double threshold = 0.01;  // the largest increase of the distance an edge may cause and be removed
};

struct acdc_result {
  vector kept;                // per edge of the game: 1 in the circuit, 0 removed
  vector increase;            // per edge: the distance's increase when its removal was tried
  double full_value = 0.0;    // v(all edges)
  double circuit_value = 0.0; // v(the circuit)
  std::size_t evaluations = 0;
  circuit_graph circuit;      // the kept edges between the nodes they join
};

// `game` is one prompt's transformer_edge_game, or a mean_game of them: the circuit of a dataset.
template <edge_game G>
acdc_result acdc(const G& game, const acdc_options& options = {}) {
  detail::require(options.threshold >= 0.0 && std::isfinite(options.threshold),
                  "acdc: threshold must be finite and >= 0, got " + std::to_string(options.threshold));
  const auto& edges = game.edges();
  const index n = game.player_count();
  const index layers = game.model().config().n_layers;
  acdc_result out;
  matrix z = matrix::Ones(1, n);
  out.full_value = game.values(z)(0);
  out.evaluations = 1;
  double current = 0.0;  // distance of the circuit so far from the full model
  out.increase = vector::Zero(n);
  // Receivers from the logits back; within one, senders from the latest back.
  std::vector<index> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), index{0});
  std::stable_sort(order.begin(), order.end(), [&](index a, index b) {
    const auto& ea = edges[static_cast<std::size_t>(a)];
    const auto& eb = edges[static_cast<std::size_t>(b)];
    const index ra = detail::forward_rank(ea.receiver, layers), rb = detail::forward_rank(eb.receiver, layers);
    if (ra != rb) return ra > rb;
    return detail::forward_rank(ea.sender, layers) > detail::forward_rank(eb.sender, layers);
  });
  for (const index j : order) {
    z(0, j) = 0.0;
    const double distance = std::abs(game.values(z)(0) - out.full_value);
    ++out.evaluations;
    out.increase(j) = distance - current;
    if (distance - current < options.threshold)
      current = distance;
    else
      z(0, j) = 1.0;
  }
  out.kept = z.row(0).transpose();
  out.circuit_value = game.values(z)(0);
  ++out.evaluations;
  std::map<circuit_node, circuit_graph::vertex_descriptor> vertex;
  auto vertex_of = [&](const circuit_node& node) {
    const auto it = vertex.find(node);
    if (it != vertex.end()) return it->second;
    // add_vertex(g) and then the bundle, not add_vertex(node, g): that overload's named-graph
    // lookup trips a false -Wuninitialized inside Boost (GCC, -O2, the -Werror build).
    const auto v = boost::add_vertex(out.circuit);
    out.circuit[v] = node;
    return vertex[node] = v;
  };
  for (index j = 0; j < n; ++j)
    if (out.kept(j) == 1.0) {
      const auto& e = edges[static_cast<std::size_t>(j)];
      boost::add_edge(vertex_of(e.sender), vertex_of(e.receiver), circuit_edge_score{out.increase(j)}, out.circuit);
    }
  return out;
}

}  // namespace attrib
