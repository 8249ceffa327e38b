#pragma once
// mask_weighted_mean: the RISE estimator (Petsiuk et al. 2018). Over random masks M whose
// entries have mean p, saliency_i = E[v(M) M_i] / p, estimated by the sample mean of
// v(M_k) M_ki / p. For 0/1 masks this is E[v(S) | i in S], and it is also the least-squares
// coefficient of the one-player surrogate g(z) = c_i z_i under Bernoulli(p) coalitions
// (c_i = E[v z_i] / E[z_i^2] = E[v z_i] / p), which is why the triple's loss is squared_error.
// Each value carries the standard error of its sample mean.
#include <cmath>
#include <concepts>
#include <string>

#include "attrib/concepts/local_approximation.hpp"
#include "attrib/core/detail/sample_mean.hpp"
#include "attrib/losses/squared_error.hpp"
#include "attrib/solvers/evaluate_points.hpp"

namespace attrib {

struct mask_weighted_mean {
  static constexpr const char* name = "mask_weighted_mean";
  std::size_t budget = 0;  // masks drawn (game evaluations, besides v(empty) and v(full)); 0 means 4000
};

// A neighbourhood of random masks whose entries have mean `keep_probability`.
template <class N>
concept keep_probability_neighborhood = neighborhood<N> && requires(const N& nb) {
  { nb.keep_probability } -> std::convertible_to<double>;
};

template <keep_probability_neighborhood N>
struct approximation_solver<N, squared_error, mask_weighted_mean> {
  template <game G>
  static attribution solve(const N& nb, const squared_error&, const mask_weighted_mean& solver, const G& g,
                           const run_settings& settings) {
    const index n = detail::require_players(g, "rise");
    const double p = nb.keep_probability;
    detail::require(std::isfinite(p) && p > 0.0 && p < 1.0,
                    "rise: keep_probability must be in (0, 1), got " + std::to_string(p));
    const std::size_t budget = solver.budget != 0 ? solver.budget : std::size_t{4000};
    detail::require(budget >= 2, "rise: budget " + std::to_string(budget) + " is too small; expected at least 2 masks");
    detail::require(budget <= (std::size_t{1} << 28),
                    "rise: budget " + std::to_string(budget) + " is too large; expected at most 2^28 masks");
    rng random(settings.seed);
    const neighborhood_sample sample = nb.sample(n, budget, random);
    const vector values = detail::evaluate_points(g, sample.points, settings);
    const auto [empty_value, full_value] = detail::endpoint_values(g);

    // q_ki = v(M_k) M_ki / p; the saliency is its mean over k, the standard error its standard
    // deviation over sqrt(m). The sums run in row order, so the result does not depend on the
    // thread count.
    const index m = sample.points.rows();
    vector sum = vector::Zero(n), square = vector::Zero(n);
    for (index r = 0; r < m; ++r) {
      const double v = values(r) / p;
      for (index i = 0; i < n; ++i) {
        const double q = v * sample.points(r, i);
        sum(i) += q;
        square(i) += q * q;
      }
    }
    attribution a;
    a.method = "rise";
    a.values.resize(n);
    a.standard_errors.resize(n);
    for (index i = 0; i < n; ++i) {
      const detail::mean_and_error e = detail::sample_mean_and_error(sum(i), square(i), static_cast<std::size_t>(m));
      a.values(i) = e.mean;
      a.standard_errors(i) = e.standard_error;
    }
    a.base_value = empty_value;
    a.prediction = full_value;
    a.game_evaluations = static_cast<std::size_t>(m) + 2;
    a.model_evaluations = a.game_evaluations * static_cast<std::size_t>(model_evaluations_per_value(g));
    a.fit.distinct_points = static_cast<std::size_t>(m);
    return a;
  }
};

}  // namespace attrib
