#pragma once
// maximum_sample_reuse (MSR, Wang and Jia 2023): the Banzhaf value from uniform coalitions,
// every sample used for every player: phi_i = mean v(S) over samples with i minus the mean
// over samples without i. This is the least-squares slope under the uniform kernel
// estimated from one shared sample.
#include <cmath>
#include <string>

#include "attrib/concepts/local_approximation.hpp"
#include "attrib/losses/squared_error.hpp"
#include "attrib/neighborhoods/uniform_coalitions.hpp"
#include "attrib/solvers/evaluate_points.hpp"

namespace attrib {

struct maximum_sample_reuse {
  static constexpr const char* name = "maximum_sample_reuse";
  std::size_t budget = 0;  // game evaluations; 0 means 2n + 2048
};

namespace detail {
// Evaluates a game on the sampled coalitions, one value per row: here over threads
// (evaluate_points). attrib::mpi (explain_game.hpp) passes an evaluator that spreads the rows
// over ranks; a row's value depends on that row alone, so who computes it changes nothing.
struct local_evaluation {
  template <game G>
  vector operator()(const G& g, const matrix& points, const run_settings& settings) const {
    return evaluate_points(g, points, settings);
  }
};
}  // namespace detail

template <>
struct approximation_solver<uniform_coalitions, squared_error, maximum_sample_reuse> {
  template <game G, class Evaluate = detail::local_evaluation>
  static attribution solve(const uniform_coalitions& nb, const squared_error&, const maximum_sample_reuse& solver,
                           const G& g, const run_settings& settings, const Evaluate& evaluate = {}) {
    const index n = detail::require_players(g, "msr_banzhaf");
    const std::size_t budget = solver.budget != 0 ? solver.budget : static_cast<std::size_t>(2 * n + 2048);
    detail::require(budget >= 6, "msr_banzhaf: budget " + std::to_string(budget) +
                                     " is too small; expected at least 6 evaluations");
    rng random(settings.seed);
    const neighborhood_sample sample = nb.sample(n, budget - 2, random);
    const vector values = evaluate(g, sample.points, settings);
    detail::require(values.size() == sample.points.rows(), "msr_banzhaf: " + std::to_string(values.size()) +
                                                               " values for " + std::to_string(sample.points.rows()) +
                                                               " sampled coalitions");
    const auto [empty_value, full_value] = detail::endpoint_values(g);

    attribution a;
    a.method = "msr_banzhaf";
    a.values.resize(n);
    a.standard_errors.resize(n);
    const index m = sample.points.rows();
    for (index i = 0; i < n; ++i) {
      double sum_in = 0, sum_out = 0, sq_in = 0, sq_out = 0;
      index count_in = 0;
      for (index r = 0; r < m; ++r) {
        const double v = values(r);
        if (sample.points(r, i) > 0.5) {
          sum_in += v, sq_in += v * v, ++count_in;
        } else {
          sum_out += v, sq_out += v * v;
        }
      }
      const index count_out = m - count_in;
      detail::require(count_in >= 2 && count_out >= 2,
                      "msr_banzhaf: budget " + std::to_string(budget) + " left player " + std::to_string(i) +
                          " with fewer than 2 samples on one side; increase the budget");
      const double mean_in = sum_in / static_cast<double>(count_in);
      const double mean_out = sum_out / static_cast<double>(count_out);
      const double var_in = std::max(0.0, (sq_in - count_in * mean_in * mean_in) / static_cast<double>(count_in - 1));
      const double var_out = std::max(0.0, (sq_out - count_out * mean_out * mean_out) / static_cast<double>(count_out - 1));
      a.values(i) = mean_in - mean_out;
      a.standard_errors(i) = std::sqrt(var_in / static_cast<double>(count_in) + var_out / static_cast<double>(count_out));
    }
    a.base_value = empty_value;
    a.prediction = full_value;
    a.game_evaluations = static_cast<std::size_t>(m) + 2;
    a.model_evaluations = a.game_evaluations * static_cast<std::size_t>(model_evaluations_per_value(g));
    a.fit.distinct_points = static_cast<std::size_t>(m);
    a.fit.intercept = values.mean() - a.values.sum() / 2.0;
    return a;
  }
};

}  // namespace attrib
