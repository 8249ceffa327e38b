#pragma once
// Weighted least squares through its sufficient statistics. Every value-matching method ends
// here: the points may be sampled (KernelSHAP, LIME), enumerated (exact) or streamed in
// chunks, and only the Gram matrix and moment vector are kept.
#include <Eigen/Dense>
#include <cmath>
#include <optional>
#include <type_traits>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"

namespace attrib {

// Minimise sum_k w_k (y_k - beta . x_k)^2 (+ a loss's penalty) where x_k is the design row:
// [1, z_k] when the surrogate has an intercept, else z_k. With `coefficient_sum`, the
// non-intercept coefficients must add up to it (the efficiency constraint).
struct regression_problem {
  matrix gram;      // sum_k w_k x_k x_k^T
  vector moment;    // sum_k w_k y_k x_k
  double target_square = 0.0;  // sum_k w_k y_k^2
  double target_sum = 0.0;     // sum_k w_k y_k
  double weight_sum = 0.0;     // sum_k w_k
  bool intercept = true;
  std::optional<double> coefficient_sum;

  regression_problem(index players, bool with_intercept)
      : gram(matrix::Zero(players + with_intercept, players + with_intercept)),
        moment(vector::Zero(players + with_intercept)),
        intercept(with_intercept) {}

  index unknowns() const { return moment.size(); }
  index players() const { return unknowns() - (intercept ? 1 : 0); }

  // Adds the rows of `points` (players columns) with targets and weights.
  void add(const matrix& points, const vector& targets, const vector& weights) {
    const matrix design = design_matrix(points);
    const matrix weighted = weights.asDiagonal() * design;
    gram.noalias() += design.transpose() * weighted;
    moment.noalias() += weighted.transpose() * targets;
    target_square += (weights.array() * targets.array().square()).sum();
    target_sum += weights.dot(targets);
    weight_sum += weights.sum();
  }

  matrix design_matrix(const matrix& points) const {
    if (!intercept) return points;
    matrix design(points.rows(), points.cols() + 1);
    design.col(0).setOnes();
    design.rightCols(points.cols()) = points;
    return design;
  }

  // sum_k w_k (y_k - beta . x_k)^2 from the statistics alone.
  double residual_square(const vector& beta) const {
    return target_square - 2.0 * beta.dot(moment) + beta.dot(gram * beta);
  }

  // Weighted R^2 relative to the best constant (or zero, without intercept).
  double r_squared(const vector& beta) const {
    const double total = intercept ? target_square - target_sum * target_sum / weight_sum
                                   : target_square;
    if (!(total > 0.0)) return 1.0;
    return 1.0 - residual_square(beta) / total;
  }
};

namespace detail {

// Solves the quadratic problem  min 1/2 b^T H b - m^T b  (s.t. sum of non-intercept b = s)
// by its KKT system. H is symmetric positive semi-definite; a singular H (too few distinct
// points) falls back to the minimum-norm solution. A template (on the matrix type, always
// `matrix` in attrib) so that the decompositions are compiled only where a solver calls it: as
// an inline function it cost every translation unit that includes this header ~8 s of g++ time.
template <class Matrix = matrix>
vector solve_quadratic(const std::type_identity_t<Matrix>& hessian, const vector& moment, bool intercept,
                       const std::optional<double>& coefficient_sum) {
  const index p = moment.size();
  if (!coefficient_sum) {
    Eigen::LDLT<Matrix> ldlt(hessian);
    if (ldlt.info() == Eigen::Success && ldlt.isPositive()) {
      vector beta = ldlt.solve(moment);
      if (beta.allFinite() && (hessian * beta - moment).norm() <= 1e-8 * (1.0 + moment.norm()))
        return beta;
    }
    return Eigen::CompleteOrthogonalDecomposition<Matrix>(hessian).solve(moment);
  }
  Matrix kkt = Matrix::Zero(p + 1, p + 1);
  kkt.topLeftCorner(p, p) = hessian;
  const index first = intercept ? 1 : 0;
  kkt.block(p, first, 1, p - first).setOnes();
  kkt.block(first, p, p - first, 1).setOnes();
  vector rhs(p + 1);
  rhs.head(p) = moment;
  rhs(p) = *coefficient_sum;
  vector solution = Eigen::CompleteOrthogonalDecomposition<Matrix>(kkt).solve(rhs);
  return solution.head(p);
}

// The linear map from the moment vector to the solution (the derivative used by the sandwich
// variance): H^{-1}, projected onto the constraint when there is one. A template for the reason
// given at solve_quadratic.
template <class Matrix = matrix>
Matrix solution_sensitivity(const std::type_identity_t<Matrix>& hessian, bool intercept,
                            const std::optional<double>& coefficient_sum) {
  const index p = hessian.rows();
  // The pseudo-inverse a column at a time: the same vector solve as solve_quadratic's, so the
  // decomposition's matrix-right-hand-side code is never instantiated (a few seconds of compile
  // time in every program that runs a regression method).
  const Eigen::CompleteOrthogonalDecomposition<Matrix> decomposition(hessian);
  Matrix inverse(p, p);
  vector unit = vector::Zero(p);
  for (index j = 0; j < p; ++j) {
    unit(j) = 1.0;
    inverse.col(j) = decomposition.solve(unit);
    unit(j) = 0.0;
  }
  if (!coefficient_sum) return inverse;
  vector ones = vector::Ones(p);
  if (intercept) ones(0) = 0.0;
  const vector h1 = inverse * ones;
  const double denom = ones.dot(h1);
  if (!(std::abs(denom) > 0.0)) return inverse;
  return inverse - h1 * h1.transpose() / denom;
}

}  // namespace detail
}  // namespace attrib
