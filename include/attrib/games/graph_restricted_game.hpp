#pragma once
// graph_restricted_game: Myerson's (1977) restriction of a game to a communication graph,
//   v/G(S) = sum of v(C) over the connected components C of the subgraph induced by S,
// so players cooperate only through paths inside the coalition. Its Shapley value is the
// Myerson value; it is the P of GStarX's HN recursion H = P M P. Graphs of <= 64 nodes.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "attrib/concepts/game.hpp"
#include "attrib/core/error.hpp"
#include "attrib/graph/components.hpp"

namespace attrib {

template <game G>
class graph_restricted_game {
 public:
  // `neighbors[i]` is the bitmask of node i's neighbours (see neighbor_masks).
  graph_restricted_game(G inner, std::vector<std::uint64_t> neighbors)
      : inner_(std::move(inner)), neighbors_(std::move(neighbors)) {
    const index n = inner_.player_count();
    detail::require(n >= 1 && n <= 64,
                    "graph_restricted_game: the game must have 1..64 players, got " + std::to_string(n));
    detail::require(static_cast<index>(neighbors_.size()) == n,
                    "graph_restricted_game: neighbors has " + std::to_string(neighbors_.size()) +
                        " entries, expected one per player (" + std::to_string(n) + ")");
    const std::uint64_t all = n == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << n) - 1;
    for (std::size_t i = 0; i < neighbors_.size(); ++i) {
      detail::require((neighbors_[i] & ~all) == 0, "graph_restricted_game: neighbors[" + std::to_string(i) +
                                                       "] names a node outside 0.." + std::to_string(n - 1));
      neighbors_[i] &= ~(std::uint64_t{1} << i);
    }
    for (std::size_t i = 0; i < neighbors_.size(); ++i)
      for (std::uint64_t m = neighbors_[i]; m != 0; m &= m - 1)
        detail::require((neighbors_[static_cast<std::size_t>(std::countr_zero(m))] >> i) & 1u,
                        "graph_restricted_game: neighbors is not symmetric at node " + std::to_string(i));
  }

  index player_count() const { return inner_.player_count(); }
  index model_evaluations_per_value() const { return attrib::model_evaluations_per_value(inner_); }
  const G& inner() const { return inner_; }
  const std::vector<std::uint64_t>& neighbors() const { return neighbors_; }

  // One batched call of the inner game for all components of all rows.
  vector values(const matrix& points) const {
    const index n = player_count();
    std::vector<std::uint64_t> components;
    std::vector<index> owner;
    for (index r = 0; r < points.rows(); ++r) {
      std::uint64_t mask = 0;
      for (index j = 0; j < n; ++j)
        if (points(r, j) > 0.5) mask |= std::uint64_t{1} << j;
      for_each_component(neighbors_, mask, [&](std::uint64_t c) {
        components.push_back(c);
        owner.push_back(r);
      });
    }
    vector out = vector::Zero(points.rows());
    if (components.empty()) return out;
    vector inner_values(static_cast<index>(components.size()));
    if constexpr (bitmask_game<G>) {
      for (std::size_t k = 0; k < components.size(); ++k)
        inner_values(static_cast<index>(k)) = static_cast<double>(inner_.value(components[k]));
    } else {
      matrix rows = matrix::Zero(static_cast<index>(components.size()), n);
      for (std::size_t k = 0; k < components.size(); ++k)
        for (std::uint64_t m = components[k]; m != 0; m &= m - 1) rows(static_cast<index>(k), std::countr_zero(m)) = 1.0;
      inner_values = inner_.values(rows);
    }
    for (std::size_t k = 0; k < components.size(); ++k) out(owner[k]) += inner_values(static_cast<index>(k));
    return out;
  }

  double value(std::uint64_t mask) const
    requires bitmask_game<G>
  {
    double total = 0.0;
    for_each_component(neighbors_, mask, [&](std::uint64_t c) { total += static_cast<double>(inner_.value(c)); });
    return total;
  }

 private:
  G inner_;
  std::vector<std::uint64_t> neighbors_;
};

}  // namespace attrib
