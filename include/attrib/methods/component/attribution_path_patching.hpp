#pragma once
// Attribution path patching (Nanda 2023, "Attribution Patching: Activation Patching At Industrial
// Scale"): the first-order estimate of a path-patching effect from one forward and one backward
// pass. Path patching asks how much a sender changes the output through its direct paths into
// chosen receivers alone (path_patching.hpp: v(all) - v(all but those edges) on a
// transformer_edge_game). Along the direction that cuts those edges together, the derivative is
// the sum of each edge's derivative, and an edge's derivative is what edge attribution patching
// computes: g_r . (s_own - s_ref), with g_r the gradient of the metric with respect to what the
// receiver alone reads. So one backward pass prices every path of the graph; use the overload that
// takes an edge_attribution_patching_result to score many paths from it.
#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/games/edge_game.hpp"
#include "attrib/methods/component/edge_attribution_patching.hpp"

namespace attrib {

// The estimate of path_patching(game, sender, receivers) from the edges' EAP scores `eap`
// (computed on `game`). Throws invalid_argument when an edge is not a player of the game or the
// scores are of another game.
inline double attribution_path_patching(const transformer_edge_game& game, const edge_attribution_patching_result& eap,
                                        const circuit_node& sender, const std::vector<circuit_node>& receivers) {
  detail::require(eap.values.size() == game.player_count(),
                  "attribution_path_patching: the scores have " + std::to_string(eap.values.size()) +
                      " edges, the game " + std::to_string(game.player_count()));
  detail::require(!receivers.empty(), "attribution_path_patching: no receivers");
  const auto& edges = game.edges();
  double sum = 0.0;
  for (const auto& r : receivers) {
    const circuit_edge wanted{sender, r};
    const auto it = std::find(edges.begin(), edges.end(), wanted);
    detail::require(it != edges.end(),
                    "attribution_path_patching: the edge " + to_string(wanted) + " is not a player of the game");
    sum += eap.values(static_cast<index>(it - edges.begin()));
  }
  return sum;
}

template <class = void>  // the tape compiles where it is used
double attribution_path_patching(const transformer_edge_game& game, const circuit_node& sender,
                                 const std::vector<circuit_node>& receivers, std::size_t threads = 1) {
  return attribution_path_patching(game, edge_attribution_patching(game, threads), sender, receivers);
}

}  // namespace attrib
