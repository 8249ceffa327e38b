#pragma once
// The sufficient statistics of a weighted least-squares fit. Every value-matching method ends
// here: the points may be sampled (KernelSHAP, LIME), enumerated (exact) or streamed in
// chunks, and only the Gram matrix and moment vector are kept. The solve is in
// solvers/least_squares.hpp; a loss (concepts/loss.hpp) says how to solve it.
#include <Eigen/Core>
#include <optional>

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
    if (intercept)
      add_design_rows(design_matrix(points), targets, weights);
    else
      add_design_rows(points, targets, weights);  // the points are the design rows: no copy
  }

  // Adds design rows x_k (unknowns() columns) with targets and weights.
  void add_design_rows(const matrix& design, const vector& targets, const vector& weights) {
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

}  // namespace attrib
