#pragma once
// permutation_sampling: the Shapley value as the mean marginal contribution over random
// orderings of the players. Each permutation is paired with its reverse (antithetic
// sampling: add the players in order, then remove them in the same order), which is exact for
// games with at most pairwise interactions and never worse than independent draws. Every
// sampled pair satisfies efficiency exactly.
#include <numeric>
#include <string>
#include <vector>

#include "attrib/concepts/local_approximation.hpp"
#include "attrib/losses/squared_error.hpp"
#include "attrib/neighborhoods/shapley_kernel.hpp"
#include "attrib/solvers/evaluate_points.hpp"

namespace attrib {

struct permutation_sampling {
  static constexpr const char* name = "permutation_sampling";
  std::size_t budget = 0;  // game evaluations; 0 means 20 antithetic pairs
};

template <>
struct approximation_solver<shapley_kernel, squared_error, permutation_sampling> {
  template <game G>
  static attribution solve(const shapley_kernel&, const squared_error&, const permutation_sampling& solver,
                           const G& g, const run_settings& settings) {
    const index n = detail::require_players(g, "permutation_shapley");
    const auto per_pair = static_cast<std::size_t>(2 * std::max<index>(n - 1, 0));
    const std::size_t budget = solver.budget != 0 ? solver.budget : 2 + 20 * per_pair;
    detail::require(budget >= 2 + per_pair, "permutation_shapley: budget " + std::to_string(budget) +
                                                " is too small; one antithetic pair of permutations of " +
                                                std::to_string(n) + " players needs " +
                                                std::to_string(2 + per_pair) + " evaluations");
    const auto endpoints = detail::endpoint_values(g);
    const double empty_value = endpoints.first, full_value = endpoints.second;
    attribution a;
    a.method = "permutation_shapley";
    a.base_value = empty_value;
    a.prediction = full_value;
    if (n == 1) {
      a.values = vector::Constant(1, full_value - empty_value);
      a.standard_errors = vector::Zero(1);
      a.game_evaluations = 2;
      a.model_evaluations = 2 * static_cast<std::size_t>(model_evaluations_per_value(g));
      return a;
    }
    const std::size_t pairs = (budget - 2) / per_pair;
    // Interior coalitions of pair k: rows [k * per_pair, (k+1) * per_pair): first the n - 1
    // growing prefixes of the permutation, then the n - 1 shrinking complements.
    std::vector<std::vector<index>> orders(pairs);
    matrix points(static_cast<index>(pairs * per_pair), n);
    for (std::size_t k = 0; k < pairs; ++k) {
      rng random = rng::stream(settings.seed, k);
      auto& order = orders[k];
      order.resize(static_cast<std::size_t>(n));
      std::iota(order.begin(), order.end(), index{0});
      random.shuffle(order.begin(), order.end());
      const auto base = static_cast<index>(k * per_pair);
      vector grow = vector::Zero(n);
      vector shrink = vector::Ones(n);
      for (index j = 0; j + 1 < n; ++j) {
        grow(order[static_cast<std::size_t>(j)]) = 1.0;
        shrink(order[static_cast<std::size_t>(j)]) = 0.0;
        points.row(base + j) = grow.transpose();
        points.row(base + (n - 1) + j) = shrink.transpose();
      }
    }
    const vector values = detail::evaluate_points(g, points, settings);

    matrix estimates(static_cast<index>(pairs), n);  // one antithetic estimate per pair
    for (std::size_t k = 0; k < pairs; ++k) {
      const auto base = static_cast<index>(k * per_pair);
      const auto& order = orders[k];
      auto grown = [&](index j) { return j == 0 ? empty_value : (j == n ? full_value : values(base + j - 1)); };
      auto shrunk = [&](index j) { return j == 0 ? full_value : (j == n ? empty_value : values(base + n - 1 + j - 1)); };
      for (index j = 0; j < n; ++j) {
        const index player = order[static_cast<std::size_t>(j)];
        const double forward = grown(j + 1) - grown(j);
        const double reverse = shrunk(j) - shrunk(j + 1);
        estimates(static_cast<index>(k), player) = 0.5 * (forward + reverse);
      }
    }
    a.values = estimates.colwise().mean().transpose();
    if (pairs >= 2) {
      const matrix centred = estimates.rowwise() - a.values.transpose();
      a.standard_errors = (centred.colwise().squaredNorm().transpose() /
                           static_cast<double>((pairs - 1) * pairs)).cwiseSqrt();
    } else {
      a.standard_errors = vector::Constant(n, std::numeric_limits<double>::infinity());
    }
    a.game_evaluations = 2 + pairs * per_pair;
    a.model_evaluations = a.game_evaluations * static_cast<std::size_t>(model_evaluations_per_value(g));
    a.fit.distinct_points = a.game_evaluations;
    a.fit.intercept = empty_value;
    return a;
  }
};

}  // namespace attrib
