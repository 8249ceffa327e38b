#pragma once
// gradient_matching: g must match the game's gradients, sum_k pi(z_k) ||grad v(z_k) - phi||^2.
// For a linear g the minimiser is the pi-weighted mean gradient over the neighbourhood.
#include "attrib/concepts/game.hpp"
#include "attrib/concepts/loss.hpp"

namespace attrib {

struct gradient_matching {
  static constexpr bool matches_gradients = true;
  static constexpr const char* name = "gradient_matching";
  using game_archetype = archetypes::differentiable_game;

  // targets and fitted hold gradients stacked row after row (points x players, flattened).
  double objective(const vector& targets, const vector& fitted, const vector& weights, const vector&) const {
    const index players = weights.size() == 0 ? 0 : targets.size() / weights.size();
    double total = 0.0;
    for (index k = 0; k < weights.size(); ++k)
      total += weights(k) * (targets.segment(k * players, players) - fitted.segment(k * players, players)).squaredNorm();
    return total;
  }
};

static_assert(loss<gradient_matching> && !value_matching_loss<gradient_matching>);

}  // namespace attrib
