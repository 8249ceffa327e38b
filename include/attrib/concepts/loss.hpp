#pragma once
// loss: what "g approximates f" means on one neighbourhood point.
#include <concepts>

#include "attrib/core/types.hpp"
#include "attrib/solvers/regression_problem.hpp"

namespace attrib {

// A loss scores a fitted linear surrogate: l.objective(targets, fitted, weights, coefficients)
// is the quantity the solver minimises, and L::name names it in results.
template <class L>
concept loss = requires(const L& l, const vector& targets, const vector& fitted,
                        const vector& weights, const vector& coefficients) {
  { L::name } -> std::convertible_to<const char*>;
  { l.objective(targets, fitted, weights, coefficients) } -> std::convertible_to<double>;
};

// A loss on game values (squared error, possibly penalised), minimised from the sufficient
// statistics of the weighted regression: l.solve(problem) returns the coefficients
// (intercept first when the problem has one). L::quadratic says whether the objective is
// quadratic, which gives sandwich standard errors through l.penalty_hessian.
template <class L>
concept value_matching_loss = loss<L> && requires(const L& l, const regression_problem& problem) {
  requires L::matches_values;
  { L::quadratic } -> std::convertible_to<bool>;
  { l.solve(problem) } -> std::convertible_to<vector>;
};

template <class L>
concept quadratic_loss = value_matching_loss<L> && L::quadratic && requires(const L& l, index n, bool intercept) {
  { l.penalty_hessian(n, intercept) } -> std::convertible_to<matrix>;
};

namespace archetypes {
// Plain least squares, written out: the least a value-matching loss needs.
struct loss {
  static constexpr bool matches_values = true;
  static constexpr bool quadratic = true;
  static constexpr const char* name = "archetype_loss";
  double objective(const vector& t, const vector& f, const vector& w, const vector&) const {
    return (w.array() * (t - f).array().square()).sum();
  }
  matrix penalty_hessian(index n, bool) const { return matrix::Zero(n, n); }
  // A template only so that the decompositions behind solve_quadratic compile where a fit
  // happens, not in every file that includes this header.
  template <class Problem = regression_problem>
  vector solve(const Problem& p) const {
    return detail::solve_quadratic(p.gram, p.moment, p.intercept, p.coefficient_sum);
  }
};
}  // namespace archetypes

static_assert(quadratic_loss<archetypes::loss>);

}  // namespace attrib
