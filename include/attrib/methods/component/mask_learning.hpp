#pragma once
// Mask learning over the players of a differentiable game: differentiable subnetwork pruning
// (Csordas et al. 2021; Cao et al. 2021) and edge pruning (Bhaskar et al. 2024) on components,
// here for any differentiable_game (transformer_component_game's heads, neurons, blocks,
// positions). A continuous coalition z = sigmoid(theta) is trained by Adam to keep the game's
// value while keeping few players:
//   L(theta) = ((v(z) - v(N)) / (v(N) - v(empty)))^2 + sparsity * mean_j z_j,
// the first term the share of the full effect the mask loses (so `sparsity` does not depend on the
// metric's units), the second the fraction of the players kept. The circuit is the players whose
// mask ends above `threshold`, and its value v(circuit) is reported beside v(N) and v(empty).
// Deterministic: theta starts at `initial_logit` for every player and no step is random.
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "attrib/concepts/game.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"
#include "attrib/optimizers/adam.hpp"

namespace attrib {

struct mask_learning_options {
  double sparsity = 0.05;       // weight of the fraction of players kept; >= 0
  std::size_t steps = 200;      // Adam steps
  double learning_rate = 0.1;   // Adam's step size on theta
  double initial_logit = 3.0;   // theta at the start: z = sigmoid(3) = 0.95 for every player
  double threshold = 0.5;       // a player is in the circuit when its final mask exceeds it
};

struct mask_learning_result {
  vector mask;                 // the final z, one entry per player
  std::vector<index> circuit;  // players with mask > threshold, in increasing order
  double full_value = 0.0;     // v(N)
  double empty_value = 0.0;    // v(empty)
  double circuit_value = 0.0;  // v(circuit), the circuit as a 0/1 coalition
  std::vector<double> loss;    // L before each step
};

template <differentiable_game G>
mask_learning_result learn_mask(const G& game, const mask_learning_options& options = {}) {
  const std::string who = "learn_mask: ";
  detail::require(options.sparsity >= 0.0 && std::isfinite(options.sparsity), who + "sparsity must be finite and >= 0");
  detail::require(options.steps >= 1, who + "steps must be >= 1");
  detail::require(options.learning_rate > 0.0 && std::isfinite(options.learning_rate),
                  who + "learning_rate must be positive and finite");
  detail::require(std::isfinite(options.initial_logit), who + "initial_logit must be finite");
  const index n = game.player_count();
  detail::require(n >= 1, who + "the game has no players");
  matrix ends(2, n);
  ends.row(0).setOnes();
  ends.row(1).setZero();
  const vector v_ends = game.values(ends);
  mask_learning_result out;
  out.full_value = v_ends(0);
  out.empty_value = v_ends(1);
  const double range = out.full_value - out.empty_value;
  detail::require(range != 0.0 && std::isfinite(range),
                  who + "v(all) = v(none) = " + std::to_string(out.full_value) + "; there is no effect to keep");

  vector theta = vector::Constant(n, options.initial_logit);
  basic_adamw<vector> adam;
  matrix z(1, n);
  for (std::size_t step = 0; step < options.steps; ++step) {
    const vector mask = (1.0 + (-theta.array()).exp()).inverse().matrix();
    z.row(0) = mask.transpose();
    const double lost = (game.values(z)(0) - out.full_value) / range;
    out.loss.push_back(lost * lost + options.sparsity * mask.mean());
    const vector dv = game.gradients(z).row(0).transpose();
    const vector slope = mask.array() * (1.0 - mask.array());  // dz/dtheta
    const vector grad = ((2.0 * lost / range) * dv.array() + options.sparsity / static_cast<double>(n)) * slope.array();
    adam.next_step();
    adam.update(0, theta, grad, options.learning_rate);
  }
  out.mask = (1.0 + (-theta.array()).exp()).inverse().matrix();
  matrix circuit = matrix::Zero(1, n);
  for (index j = 0; j < n; ++j)
    if (out.mask(j) > options.threshold) {
      out.circuit.push_back(j);
      circuit(0, j) = 1.0;
    }
  out.circuit_value = game.values(circuit)(0);
  return out;
}

}  // namespace attrib
