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
// The paper's multi-armed-bandit stage finds the k players with the largest values and stops
// sampling each player once its confidence interval settles which side of the top-k boundary it
// is on (solvers/bandit_permutation_sampling.hpp):
//
//   attrib::neuron_shapley_top_k{.solver = {.top_k = 5}}.explain(game, {.seed = 1})
#include "attrib/concepts/local_approximation.hpp"
#include "attrib/losses/squared_error.hpp"
#include "attrib/methods/data/semivalues.hpp"
#include "attrib/neighborhoods/shapley_kernel.hpp"
#include "attrib/solvers/bandit_permutation_sampling.hpp"

namespace attrib {

using neuron_shapley = tmc_shapley;
using neuron_shapley_top_k = local_approximation<shapley_kernel, squared_error, bandit_permutation_sampling>;

}  // namespace attrib
