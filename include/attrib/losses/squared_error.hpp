#pragma once
// squared_error: g must match the game's values, sum_k pi(z_k) (f(z_k) - g(z_k))^2.
#include "attrib/concepts/loss.hpp"
#include "attrib/core/regression_problem.hpp"
#include "attrib/solvers/least_squares.hpp"

namespace attrib {

struct squared_error {
  static constexpr bool matches_values = true;
  static constexpr bool quadratic = true;  // closed-form solution and sandwich standard errors
  static constexpr const char* name = "squared_error";

  double objective(const vector& targets, const vector& fitted, const vector& weights,
                   const vector&) const {
    return (weights.array() * (targets - fitted).array().square()).sum();
  }
  matrix penalty_hessian(index unknowns, bool) const { return matrix::Zero(unknowns, unknowns); }
  // A template only so that the decompositions behind solve_quadratic compile where a fit
  // happens, not in every file that includes this header.
  template <class Problem = regression_problem>
  vector solve(const Problem& problem) const {
    return detail::solve_quadratic(problem.gram, problem.moment, problem.intercept,
                                   problem.coefficient_sum);
  }
};

static_assert(quadratic_loss<squared_error>);

}  // namespace attrib
