#pragma once
// Solving the quadratic problem behind every value-matching fit (core/regression_problem.hpp),
// and its derivative for sandwich standard errors.
//
// The only decompositions are Eigen's pivoted LDLT and LLT. A singular Gram matrix (too few
// distinct points) gets the minimum-norm solution from the LDLT's nonzero pivots; the efficiency
// constraint is eliminated through an orthonormal basis of its null space, so the constrained
// problem is again positive semi-definite. A complete orthogonal decomposition or a symmetric
// eigensolver would do the same job at ~300 MB and ~5 s more compile time in every program that
// fits a surrogate (issue #10).
#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <type_traits>
#include <vector>

#include "attrib/core/types.hpp"

namespace attrib::detail {

// A symmetric positive semi-definite H written as C D C^T with C (n x r) of full column rank and
// D (r) positive: Eigen's pivoted LDLT, H = P^T L D L^T P, keeping the columns of P^T L whose
// pivots exceed a relative tolerance. Then pinv(H) = C+^T D^-1 C+ with C+ = (C^T C)^-1 C^T.
template <class Matrix>
class semidefinite_factors {
 public:
  explicit semidefinite_factors(const Eigen::LDLT<Matrix>& ldlt) {
    const index n = ldlt.rows();
    const vector pivots = ldlt.vectorD();
    const double top = n > 0 ? pivots.cwiseAbs().maxCoeff() : 0.0;
    // Pivots of an exactly singular H come out at rounding level, about eps ||H|| per step.
    const double tolerance = 64.0 * static_cast<double>(n) * std::numeric_limits<double>::epsilon() * top;
    std::vector<index> kept;
    for (index i = 0; i < n; ++i)
      if (pivots(i) > tolerance) kept.push_back(i);
    const Matrix lower = ldlt.matrixL();
    const Matrix permuted = ldlt.transpositionsP().transpose() * lower;
    columns_.resize(n, static_cast<index>(kept.size()));
    pivots_.resize(static_cast<index>(kept.size()));
    for (std::size_t k = 0; k < kept.size(); ++k) {
      columns_.col(static_cast<index>(k)) = permuted.col(kept[k]);
      pivots_(static_cast<index>(k)) = pivots(kept[k]);
    }
    gram_.compute(columns_.transpose() * columns_);
  }

  // pinv(H) v: the minimum-norm minimiser of 1/2 b^T H b - v^T b.
  vector solve(const vector& v) const {
    if (pivots_.size() == 0) return vector::Zero(v.size());
    vector t = gram_.solve(columns_.transpose() * v);
    t.array() /= pivots_.array();
    return columns_ * gram_.solve(t);
  }

  Matrix pseudo_inverse() const {
    const index n = columns_.rows();
    if (pivots_.size() == 0) return Matrix::Zero(n, n);
    const Matrix left = gram_.solve(columns_.transpose());  // C+, r x n
    return left.transpose() * pivots_.cwiseInverse().asDiagonal() * left;
  }

 private:
  Matrix columns_;
  vector pivots_;
  Eigen::LLT<Matrix> gram_;
};

// The minimiser of 1/2 b^T H b - m^T b for symmetric positive semi-definite H; the minimum-norm
// one when H is singular.
template <class Matrix>
vector semidefinite_solve(const Matrix& hessian, const vector& moment) {
  const Eigen::LDLT<Matrix> ldlt(hessian);
  if (ldlt.info() == Eigen::Success && ldlt.isPositive()) {
    vector beta = ldlt.solve(moment);
    if (beta.allFinite() && (hessian * beta - moment).norm() <= 1e-8 * (1.0 + moment.norm()))
      return beta;
  }
  return semidefinite_factors<Matrix>(ldlt).solve(moment);
}

// The efficiency constraint sum_{i >= first} b_i = s as b = offset + basis c: `basis` (p x
// p-1) has orthonormal columns spanning the constraint's null space (the intercept's axis and
// a Householder reflection's columns orthogonal to the all-ones direction of the players), and
// `offset` = s / k on each of the k players is orthogonal to it, so the minimum-norm c gives the
// minimum-norm b.
template <class Matrix>
struct constraint_space {
  Matrix basis;
  vector offset;

  constraint_space(index p, bool intercept, double sum) {
    const index first = intercept ? 1 : 0;
    const index k = p - first;
    Matrix reflection = Matrix::Identity(k, k);
    // The reflection swaps the last player's axis with u = (1, ..., 1) / sqrt(k).
    vector w = vector::Constant(k, 1.0 / std::sqrt(static_cast<double>(k)));
    w(k - 1) -= 1.0;
    const double w2 = w.squaredNorm();
    if (w2 > 0.0) reflection -= (2.0 / w2) * w * w.transpose();
    basis = Matrix::Zero(p, p - 1);
    if (intercept) basis(0, 0) = 1.0;
    basis.block(first, first, k, k - 1) = reflection.leftCols(k - 1);
    offset = vector::Zero(p);
    offset.tail(k).setConstant(sum / static_cast<double>(k));
  }
};

// Solves the quadratic problem  min 1/2 b^T H b - m^T b  (s.t. sum of non-intercept b = s).
// H is symmetric positive semi-definite; when the minimiser is not unique, the minimum-norm one.
// A template (on the matrix type, always `matrix` in attrib) so that the decompositions are
// compiled only where a solver calls it: as an inline function it cost every translation unit
// that includes this header ~8 s of g++ time.
template <class Matrix = matrix>
vector solve_quadratic(const std::type_identity_t<Matrix>& hessian, const vector& moment,
                       bool intercept, const std::optional<double>& coefficient_sum) {
  const index p = moment.size();
  const index players = p - (intercept ? 1 : 0);
  if (!coefficient_sum || players < 1) return semidefinite_solve<Matrix>(hessian, moment);
  const constraint_space<Matrix> space(p, intercept, *coefficient_sum);
  const Matrix reduced = space.basis.transpose() * hessian * space.basis;
  const vector c = semidefinite_solve<Matrix>(
      reduced, vector(space.basis.transpose() * (moment - hessian * space.offset)));
  return space.offset + space.basis * c;
}

// The linear map from the moment vector to the solution (the derivative used by the sandwich
// variance): pinv(H), or with the constraint basis N, N pinv(N^T H N) N^T. A template for the
// reason given at solve_quadratic.
template <class Matrix = matrix>
Matrix solution_sensitivity(const std::type_identity_t<Matrix>& hessian, bool intercept,
                            const std::optional<double>& coefficient_sum) {
  const index p = hessian.rows();
  const index players = p - (intercept ? 1 : 0);
  if (!coefficient_sum || players < 1)
    return semidefinite_factors<Matrix>(Eigen::LDLT<Matrix>(hessian)).pseudo_inverse();
  const constraint_space<Matrix> space(p, intercept, *coefficient_sum);
  const Matrix reduced = space.basis.transpose() * hessian * space.basis;
  return space.basis * semidefinite_factors<Matrix>(Eigen::LDLT<Matrix>(reduced)).pseudo_inverse() *
         space.basis.transpose();
}

}  // namespace attrib::detail
