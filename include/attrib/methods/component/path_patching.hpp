#pragma once
// Path patching (Wang et al. 2022, the IOI circuit): how much a sender changes the output through
// its direct paths into chosen receivers alone. Wang et al. run the clean prompt with the sender
// patched from the corrupted run and every other block frozen at its clean output, record what the
// receivers read, and run the clean prompt again with only those inputs replaced. What a receiver
// reads in that run is its clean input with the sender's clean output swapped for the corrupted
// one - exactly a cut edge (sender -> receiver) of transformer_edge_game with patch ablation. So a
// path's effect is the edge game's v(all) - v(all but those edges), for any ablation kind. (When
// one receiver reads another's output, the two differ: Wang et al. replay the later receiver's
// recorded input, which misses the earlier receiver's change; the edge game passes it on.)
#include <algorithm>
#include <string>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"
#include "attrib/games/edge_game.hpp"

namespace attrib {

// v(all) - v(all but the edges from `sender` to each of `receivers`); throws invalid_argument when
// an edge is not among the game's players. On a mean_game of edge games it is the effect averaged
// over their prompts.
template <edge_game G>
double path_patching(const G& game, const circuit_node& sender, const std::vector<circuit_node>& receivers) {
  const auto& edges = game.edges();
  matrix z = matrix::Ones(2, game.player_count());
  for (const auto& r : receivers) {
    const circuit_edge wanted{sender, r};
    const auto it = std::find(edges.begin(), edges.end(), wanted);
    detail::require(it != edges.end(), "path_patching: the edge " + to_string(wanted) + " is not a player of the game");
    z(1, static_cast<index>(it - edges.begin())) = 0.0;
  }
  const vector v = game.values(z);
  return v(0) - v(1);
}

}  // namespace attrib
