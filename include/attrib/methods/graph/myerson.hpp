#pragma once
// The Myerson value (Myerson 1977): the Shapley value of the graph-restricted game v/G,
// computed exactly by the exhaustive Shapley solver (bitmask fast path when v has one).
#include <cstdint>
#include <vector>

#include "attrib/games/graph_restricted_game.hpp"
#include "attrib/methods/feature/shapley.hpp"

namespace attrib {

struct myerson_value {
  template <game G>
  attribution explain(const G& g, const std::vector<std::uint64_t>& neighbors, const run_settings& settings = {}) const {
    attribution a = exact_shapley{}.explain(graph_restricted_game<const G&>(g, neighbors), settings);
    a.method = "myerson";
    return a;
  }
};

}  // namespace attrib
