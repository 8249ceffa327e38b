#pragma once
// Neuron Shapley (Ghorbani and Zou 2020): Shapley values of a network's neurons (or heads, or any
// components) for a metric of its output, estimated by truncated Monte Carlo permutation sampling:
// players join in random orders and, once the running coalition's value comes within `tolerance`
// of the full model's, the rest of a permutation counts as contributing nothing. On a component
// game (transformer_component_game over every_neuron or every_head) that is TMC Shapley, the data
// valuation estimator, unchanged:
//
//   attrib::neuron_shapley{.solver = {.budget = 20000, .tolerance = 0.01}}.explain(game, {.seed = 1})
//
// The paper's multi-armed-bandit stage, which stops sampling the players that are clearly outside
// the top k, is not part of it (issue #13).
#include "attrib/methods/data/semivalues.hpp"

namespace attrib {

using neuron_shapley = tmc_shapley;

}  // namespace attrib
