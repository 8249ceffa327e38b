#pragma once
// mean_game: one game over the players of several, whose value is the mean of theirs,
//   v(z) = (1/m) sum_i v_i(z).
// Circuit discovery runs on a dataset of prompts, not on one: ACDC (Conmy et al. 2023) and edge
// attribution patching (Syed et al. 2023) score a circuit by the metric averaged over prompt pairs,
// and one circuit comes out. With one game per prompt pair (the same players in each), the mean
// game is that dataset: every method written against a game runs on it unchanged. It is
// differentiable when its parts are (the gradient of a mean is the mean of the gradients), and it
// passes on the parts' graph (edges(), model()) when they have one, so the edge methods take it too.
#include <concepts>
#include <cstddef>
#include <span>
#include <string>

#include "attrib/concepts/game.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"

namespace attrib {

template <game G>
class mean_game {
 public:
  // Holds a view of `parts`, which must outlive the game. Throws invalid_argument when there are no
  // parts, when their player counts differ, and, for games over a graph, when their edges or their
  // models differ (the players would not be the same).
  explicit mean_game(std::span<const G> parts) : parts_(parts) {
    detail::require(!parts_.empty(), "mean_game: no games to average");
    for (std::size_t i = 1; i < parts_.size(); ++i) {
      detail::require(parts_[i].player_count() == parts_[0].player_count(),
                      "mean_game: game " + std::to_string(i) + " has " + std::to_string(parts_[i].player_count()) +
                          " players, game 0 has " + std::to_string(parts_[0].player_count()));
      if constexpr (requires(const G& g) { g.edges(); })
        detail::require(parts_[i].edges() == parts_[0].edges(), "mean_game: game " + std::to_string(i) + "'s edges differ from game 0's");
      if constexpr (requires(const G& g) { g.model(); })
        detail::require(&parts_[i].model() == &parts_[0].model(),
                        "mean_game: game " + std::to_string(i) + " runs another model than game 0");
    }
  }

  index player_count() const { return parts_[0].player_count(); }
  std::span<const G> parts() const { return parts_; }

  vector values(const matrix& points) const {
    vector sum = parts_[0].values(points);
    for (std::size_t i = 1; i < parts_.size(); ++i) sum += parts_[i].values(points);
    return sum / static_cast<double>(parts_.size());
  }

  matrix gradients(const matrix& points) const
    requires differentiable_game<G>
  {
    matrix sum = parts_[0].gradients(points);
    for (std::size_t i = 1; i < parts_.size(); ++i) sum += parts_[i].gradients(points);
    return sum / static_cast<double>(parts_.size());
  }

  // A value costs every part's rows.
  index model_evaluations_per_value() const {
    index rows = 0;
    for (const auto& g : parts_) rows += attrib::model_evaluations_per_value(g);
    return rows;
  }

  // The graph the parts share (checked by the constructor).
  decltype(auto) edges() const
    requires requires(const G& g) { g.edges(); }
  {
    return parts_[0].edges();
  }
  decltype(auto) model() const
    requires requires(const G& g) { g.model(); }
  {
    return parts_[0].model();
  }

 private:
  std::span<const G> parts_;
};

static_assert(differentiable_game<mean_game<archetypes::differentiable_game>>);
static_assert(costed_game<mean_game<archetypes::game>> && !differentiable_game<mean_game<archetypes::game>>);

}  // namespace attrib
