#pragma once
// lasso: squared error plus alpha * ||phi||_1, solved by cyclic coordinate descent on the
// Gram matrix (so it streams like the quadratic losses). It has no efficiency constraint:
// a neighbourhood whose kernel forces one (the Shapley kernel) rejects it at compile time.
#include <cmath>
#include <string>

#include "attrib/core/error.hpp"
#include "attrib/concepts/loss.hpp"
#include "attrib/core/regression_problem.hpp"

namespace attrib {

struct lasso {
  static constexpr bool matches_values = true;
  static constexpr bool quadratic = false;
  static constexpr const char* name = "lasso";
  double alpha = 0.01;
  int max_iterations = 10000;
  double tolerance = 1e-10;

  double objective(const vector& targets, const vector& fitted, const vector& weights,
                   const vector& coefficients) const {
    return (weights.array() * (targets - fitted).array().square()).sum() +
           alpha * coefficients.lpNorm<1>();
  }

  // Minimises sum w (y - b.x)^2 + alpha |b|_1 over b (the intercept, if any, unpenalised).
  vector solve(const regression_problem& problem) const {
    detail::require(alpha >= 0.0, "lasso: alpha must be >= 0, got " + std::to_string(alpha));
    detail::require(!problem.coefficient_sum,
                    "lasso: an efficiency constraint is not supported with an L1 penalty");
    const matrix& g = problem.gram;
    const vector& m = problem.moment;
    const index p = m.size();
    vector beta = vector::Zero(p);
    vector gb = vector::Zero(p);  // g * beta, kept up to date
    for (int iter = 0; iter < max_iterations; ++iter) {
      double largest_step = 0.0;
      for (index j = 0; j < p; ++j) {
        if (!(g(j, j) > 0.0)) continue;
        const double rho = m(j) - (gb(j) - g(j, j) * beta(j));
        const bool penalised = !(problem.intercept && j == 0);
        // Objective in b_j: g_jj b_j^2 - 2 rho b_j + alpha |b_j|.
        double next = rho / g(j, j);
        if (penalised) {
          const double shrink = alpha / 2.0;
          next = rho > shrink ? (rho - shrink) / g(j, j)
                              : (rho < -shrink ? (rho + shrink) / g(j, j) : 0.0);
        }
        const double step = next - beta(j);
        if (step != 0.0) {
          gb += g.col(j) * step;
          beta(j) = next;
          largest_step = std::max(largest_step, std::abs(step));
        }
      }
      if (largest_step <= tolerance * (1.0 + beta.cwiseAbs().maxCoeff())) break;
    }
    return beta;
  }
};

static_assert(value_matching_loss<lasso>);

}  // namespace attrib
