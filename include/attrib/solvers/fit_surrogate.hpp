#pragma once
// Fitting the linear surrogate g on a neighbourhood sample, with its diagnostics: weighted
// R^2, and sandwich (linearisation) standard errors from the sampled units, so that exactly
// enumerated points contribute no error and a repeated pair counts as one unit.
#include <cmath>
#include <optional>

#include "attrib/concepts/loss.hpp"
#include "attrib/concepts/neighborhood.hpp"
#include "attrib/core/attribution.hpp"
#include "attrib/core/regression_problem.hpp"
#include "attrib/solvers/least_squares.hpp"

namespace attrib::detail {

struct surrogate_fit {
  vector coefficients;     // player coefficients (the intercept removed)
  double intercept = 0.0;  // g's constant term (v(empty) when it is constrained)
  vector standard_errors;  // empty when the fit has no sampling error or no linearisation
  fit_diagnostics diagnostics;
};

template <class Loss>
surrogate_fit fit_surrogate(const Loss& loss, const neighborhood_sample& sample, const vector& targets,
                            bool intercept, std::optional<double> coefficient_sum, double offset = 0.0) {
  const index players = sample.points.cols();
  regression_problem problem(players, intercept);
  problem.coefficient_sum = coefficient_sum;
  problem.add(sample.points, targets, sample.weights);
  const vector beta = loss.solve(problem);

  surrogate_fit fit;
  fit.coefficients = intercept ? vector(beta.tail(players)) : beta;
  fit.intercept = (intercept ? beta(0) : 0.0) + offset;
  fit.diagnostics.intercept = fit.intercept;
  fit.diagnostics.r_squared = problem.r_squared(beta);
  fit.diagnostics.weighted_rmse =
      std::sqrt(std::max(0.0, problem.residual_square(beta)) / problem.weight_sum);
  fit.diagnostics.distinct_points = static_cast<std::size_t>(sample.points.rows());
  fit.diagnostics.exhaustive = sample.exhaustive;

  if constexpr (quadratic_loss<Loss>) {
    if (sample.exhaustive || sample.draws.empty()) return fit;
    const matrix with_intercept = intercept ? problem.design_matrix(sample.points) : matrix();
    const matrix& design = intercept ? with_intercept : sample.points;  // no copy without one
    const vector residuals = targets - design * beta;
    const index p = beta.size();
    // Per-unit score: sum over the unit's points of (weight per draw) * x * r.
    matrix scores = matrix::Zero(static_cast<index>(sample.draws.size()), p);
    for (index k = 0; k < sample.points.rows(); ++k) {
      const auto u = sample.unit[static_cast<std::size_t>(k)];
      if (u < 0) continue;
      const double per_draw = sample.weights(k) / sample.draws[static_cast<std::size_t>(u)];
      scores.row(u) += per_draw * residuals(k) * design.row(k);
    }
    const Eigen::Map<const vector> draws(sample.draws.data(), static_cast<index>(sample.draws.size()));
    const double total_draws = draws.sum();
    if (total_draws < 2.0) return fit;
    const vector total_score = scores.transpose() * draws;
    matrix meat = scores.transpose() * draws.asDiagonal() * scores;
    meat -= total_score * total_score.transpose() / total_draws;
    // Unbiased for the variance of a sum of iid draws.
    meat *= total_draws / (total_draws - 1.0);
    const matrix hessian = problem.gram + loss.penalty_hessian(p, intercept);
    const matrix sensitivity = solution_sensitivity(hessian, intercept, coefficient_sum);
    const matrix covariance = sensitivity * meat * sensitivity.transpose();
    const vector variances = covariance.diagonal().tail(players);
    fit.standard_errors = variances.cwiseMax(0.0).cwiseSqrt();
  }
  return fit;
}

}  // namespace attrib::detail
