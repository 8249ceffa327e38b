#pragma once
// loss: what "g approximates f" means on one neighbourhood point.
#include <Eigen/Cholesky>
#include <Eigen/LU>
#include <concepts>

#include "attrib/core/types.hpp"
#include "attrib/core/regression_problem.hpp"

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
  // The closed form through the KKT system (a template, so the LU compiles only where used).
  template <class Problem = regression_problem>
  vector solve(const Problem& p) const {
    if (!p.coefficient_sum) return p.gram.ldlt().solve(p.moment);
    const index n = p.unknowns();
    matrix kkt = matrix::Zero(n + 1, n + 1);
    kkt.topLeftCorner(n, n) = p.gram;
    const index first = p.intercept ? 1 : 0;
    kkt.block(n, first, 1, n - first).setOnes();
    kkt.block(first, n, n - first, 1).setOnes();
    vector rhs(n + 1);
    rhs << p.moment, *p.coefficient_sum;
    return kkt.partialPivLu().solve(rhs).head(n);
  }
};
}  // namespace archetypes

static_assert(quadratic_loss<archetypes::loss>);

}  // namespace attrib
