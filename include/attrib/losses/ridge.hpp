#pragma once
// ridge: squared error plus alpha * ||phi||^2 (LIME's default surrogate; the intercept is free).
#include <string>

#include "attrib/core/error.hpp"
#include "attrib/concepts/loss.hpp"
#include "attrib/core/regression_problem.hpp"
#include "attrib/solvers/least_squares.hpp"

namespace attrib {

struct ridge {
  static constexpr bool matches_values = true;
  static constexpr bool quadratic = true;
  static constexpr const char* name = "ridge";
  double alpha = 1.0;

  double objective(const vector& targets, const vector& fitted, const vector& weights,
                   const vector& coefficients) const {
    return (weights.array() * (targets - fitted).array().square()).sum() +
           alpha * coefficients.squaredNorm();
  }
  matrix penalty_hessian(index unknowns, bool intercept) const {
    detail::require(alpha >= 0.0, "ridge: alpha must be >= 0, got " + std::to_string(alpha));
    matrix h = matrix::Identity(unknowns, unknowns) * alpha;
    if (intercept) h(0, 0) = 0.0;
    return h;
  }
  // A template only so that the decompositions behind solve_quadratic compile where a fit
  // happens, not in every file that includes this header.
  template <class Problem = regression_problem>
  vector solve(const Problem& problem) const {
    return detail::solve_quadratic(
        problem.gram + penalty_hessian(problem.unknowns(), problem.intercept), problem.moment,
        problem.intercept, problem.coefficient_sum);
  }
};

static_assert(quadratic_loss<ridge>);

}  // namespace attrib
