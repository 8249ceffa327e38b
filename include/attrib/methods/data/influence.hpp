#pragma once
// Influence functions (Koh and Liang 2017) on any inverse_hessian_product, and the explicit
// solver they are checked against.
//
//   influence(i, test) = - grad L_test^T (H + damping I)^-1 grad L_i      (I_up,loss)
//
// with H the Hessian of the MEAN regularised training loss and grad L_i the gradient of example
// i's unregularised loss. Up-weighting example i by eps in the mean loss changes the test loss by
// eps * influence; removing it is eps = -1/n, so the first-order leave-one-out change of the test
// loss is -influence / n (loo_loss_change), and of the parameters (1/n) H^-1 grad L_i.
// newton_step_loo takes one exact Newton step on each leave-one-out objective instead.
#include <Eigen/Cholesky>
#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cstdio>
#include <cmath>
#include <string>
#include <utility>

#include "attrib/concepts/inverse_hessian.hpp"
#include "attrib/concepts/trainable_model.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/parallel.hpp"
#include "attrib/core/types.hpp"
#include "attrib/core/validate.hpp"
#include "attrib/methods/data/grad_similarity.hpp"

namespace attrib {

struct explicit_hessian_options {
  double damping = 0.0;
  // When H + damping I is singular or indefinite, add |smallest eigenvalue| + floor * largest
  // eigenvalue more, and say so in the diagnostics; when false, throw instead.
  bool auto_damping = true;
  double floor = 1e-8;
};

// (H + damping I)^-1 v by an LDLT factorisation of the dense Hessian. A class template (always
// on `matrix`, spelled explicit_inverse_hessian) so that the factorisations compile only where
// it is used.
template <class Matrix = matrix>
class basic_explicit_inverse_hessian {
 public:
  explicit basic_explicit_inverse_hessian(Matrix hessian, explicit_hessian_options options = {})
      : h_(std::move(hessian)), damping_(options.damping) {
    detail::require(h_.rows() > 0 && h_.rows() == h_.cols(),
                    "explicit_inverse_hessian: hessian must be square and non-empty, got " +
                        std::to_string(h_.rows()) + " x " + std::to_string(h_.cols()));
    detail::require_finite(h_, "explicit_inverse_hessian: hessian");
    detail::require(std::isfinite(options.damping) && options.damping >= 0,
                    "explicit_inverse_hessian: damping must be finite and non-negative");
    const matrix symmetric = 0.5 * (h_ + h_.transpose());
    h_ = symmetric;
    Eigen::MatrixXd damped = symmetric;
    damped.diagonal().array() += damping_;
    ldlt_.compute(damped);
    // LDLT pivots are not eigenvalues; the reciprocal condition estimate catches near-singular
    // matrices whose pivots look harmless.
    const bool bad = ldlt_.info() != Eigen::Success || !(ldlt_.vectorD().minCoeff() > 0) || !(ldlt_.rcond() > 1e-12);
    if (bad) {
      Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(damped, Eigen::EigenvaluesOnly);
      const double lo = eig.eigenvalues().minCoeff();
      const double hi = std::max(std::abs(eig.eigenvalues().maxCoeff()), std::abs(lo));
      // Rounding makes an exactly singular H look slightly indefinite.
      const std::string what = lo < -1e-10 * hi ? "indefinite" : "singular";
      if (!options.auto_damping)
        detail::fail("explicit_inverse_hessian: H + damping I is " + what + " (smallest eigenvalue " +
                     std::to_string(lo) + "); increase damping or enable auto_damping");
      const double extra = std::max(0.0, -lo) + options.floor * std::max(hi, 1.0);
      damping_ += extra;
      damped.diagonal().array() += extra;
      ldlt_.compute(damped);
      message_ = "explicit_inverse_hessian: the Hessian is " + what + " (smallest eigenvalue of H + damping I " +
                 number(lo) + ", largest " + number(hi) + "); added damping " + number(extra) + ", total damping " +
                 number(damping_);
    }
  }

  index dim() const { return h_.rows(); }
  double damping() const { return damping_; }
  const std::string& message() const { return message_; }
  const matrix& hessian() const { return h_; }

  ihvp_result solve(const vector& v) const {
    detail::require_rhs(v, dim(), "explicit_inverse_hessian");
    ihvp_result out;
    out.solution = ldlt_.solve(v);
    out.diagnostics.method = "explicit";
    out.diagnostics.damping = damping_;
    out.diagnostics.message = message_;
    const double vn = v.norm();
    const vector r = h_ * out.solution + damping_ * out.solution - v;
    out.diagnostics.relative_residual = vn > 0 ? r.norm() / vn : r.norm();
    return out;
  }

 private:
  static std::string number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g", v);
    return buf;
  }

  matrix h_;
  double damping_;
  Eigen::LDLT<Eigen::MatrixXd> ldlt_;
  std::string message_;
};

using explicit_inverse_hessian = basic_explicit_inverse_hessian<>;

static_assert(inverse_hessian_product<explicit_inverse_hessian>);

// influence(i, j) = - g_test_j^T (H + damping I)^-1 g_train_i, with diagnostics per test point.
template <inverse_hessian_product S>
data_attribution influence(const S& solver, const matrix& train_gradients, const matrix& test_gradients) {
  detail::require(train_gradients.cols() == solver.dim(),
                  "influence: train_gradients have " + std::to_string(train_gradients.cols()) +
                      " columns, expected the parameter count " + std::to_string(solver.dim()));
  data_attribution out = inner_product_attribution("influence", train_gradients, test_gradients,
                                                   inverse_hessian_transform<S>(solver), -1.0);
  if (!out.diagnostics.empty()) out.method = "influence/" + out.diagnostics.front().method;
  return out;
}

// Self-influence g_i^T (H + damping I)^-1 g_i: large for points the model fits against the rest
// (mislabelled points).
template <inverse_hessian_product S>
vector self_influence(const S& solver, const matrix& train_gradients) {
  detail::require(train_gradients.rows() > 0, "self_influence: the training set must not be empty");
  detail::require_size(train_gradients.cols(), solver.dim(), "self_influence: gradient length");
  detail::require_finite(train_gradients, "self_influence: train_gradients");
  vector out(train_gradients.rows());
  for (index i = 0; i < out.size(); ++i) {
    const vector g = train_gradients.row(i).transpose();
    out[i] = g.dot(solver.solve(g).solution);
  }
  return out;
}

// First-order change of the test loss when training point i is removed, ignoring the penalty:
// -influence / n.
inline matrix loo_loss_change(const data_attribution& influence_scores, index training_size) {
  detail::require(training_size > 0, "loo_loss_change: training_size must be positive");
  return -influence_scores.scores / static_cast<double>(training_size);
}

// The penalty's gradient r at the model's parameters: loss_gradient minus the mean per-example
// gradient (l2 * W for the linear models, zero on biases).
template <trainable_model M>
vector penalty_gradient(const M& model, const matrix& x, const vector& y) {
  return model.loss_gradient(x, y) - model.per_example_loss_gradients(x, y).colwise().mean().transpose();
}

// First-order change of the test loss when training point i is removed from the regularised
// MEAN objective (the other n - 1 points keep weight 1/(n-1), the penalty stays):
//   delta L_test(i) = g_test^T H^-1 (g_i + r) / (n - 1).
// The r term is the same for every i, but it shifts each test point's column, so pooled
// correlations over several test points need it. n x n_test.
template <inverse_hessian_product S>
matrix loo_loss_change(const S& solver, const matrix& train_gradients, const matrix& test_gradients,
                       const vector& penalty) {
  detail::require_features(train_gradients, test_gradients, "loo_loss_change");
  detail::require(train_gradients.rows() > 1, "loo_loss_change: need at least two training points");
  detail::require_size(penalty.size(), train_gradients.cols(), "loo_loss_change: penalty gradient");
  const double n1 = static_cast<double>(train_gradients.rows() - 1);
  matrix out(train_gradients.rows(), test_gradients.rows());
  for (index j = 0; j < test_gradients.rows(); ++j) {
    const vector s = solver.solve(test_gradients.row(j).transpose()).solution;
    out.col(j) = ((train_gradients * s).array() + penalty.dot(s)).matrix() / n1;
  }
  return out;
}

// One exact Newton step on every leave-one-out objective (mean loss over the other n - 1 points
// plus the same penalty), from the trained parameters theta. Row i is the predicted
// theta_{-i} - theta:
//   H_{-i} = n/(n-1) (H - R) + R - H_i/(n-1),   step = H_{-i}^-1 (g_i + r) / (n-1),
// where R and r are the penalty's Hessian and gradient at theta, H_i example i's Hessian. Exact
// to second order; costs one p x p factorisation per point, so it is a ground truth for small p.
// The terms every point shares are computed once; rows(first, last) then gives any run of points,
// each row the same bits however the points are split (over processes). x and y must outlive it.
template <twice_differentiable_model M>
class newton_loo_steps {
 public:
  newton_loo_steps(const M& model, const matrix& x, const vector& y)
      : x_(checked(x, y)), y_(y), data_only_(model), h_(model.hessian(x, y)),
        grads_(model.per_example_loss_gradients(x, y)) {
    r_ = model.loss_gradient(x, y) - grads_.colwise().mean().transpose();
    data_only_.set_l2(0.0);
    penalty_hessian_ = h_ - data_only_.hessian(x, y);
  }

  // Rows first .. last-1 of the steps: (last - first) x p.
  matrix rows(index first, index last, std::size_t threads = 1) const {
    const index n = x_.rows();
    detail::require(first >= 0 && first <= last && last <= n,
                    "newton_step_loo: rows [" + std::to_string(first) + ", " + std::to_string(last) +
                        ") are not a range of the " + std::to_string(n) + " training points");
    const double nd = static_cast<double>(n);
    matrix steps(last - first, h_.rows());
    parallel_for(static_cast<std::size_t>(last - first), threads, [&](std::size_t c) {
      const index i = first + static_cast<index>(c);
      const matrix hi = data_only_.hessian(x_.row(i), y_.segment(i, 1));
      Eigen::MatrixXd h_loo = nd / (nd - 1) * (h_ - penalty_hessian_) + penalty_hessian_ - hi / (nd - 1);
      const vector rhs = (grads_.row(i).transpose() + r_) / (nd - 1);
      steps.row(i - first) = Eigen::LDLT<Eigen::MatrixXd>(h_loo).solve(rhs).transpose();
    });
    return steps;
  }

 private:
  static const matrix& checked(const matrix& x, const vector& y) {
    detail::require(x.rows() > 1, "newton_step_loo: need at least two training points");
    detail::require_size(y.size(), x.rows(), "newton_step_loo: targets");
    return x;
  }
  const matrix& x_;
  const vector& y_;
  M data_only_;  // the model without its penalty: each point's own Hessian
  matrix h_, grads_, penalty_hessian_;
  vector r_;
};

template <twice_differentiable_model M>
matrix newton_step_loo(const M& model, const matrix& x, const vector& y, std::size_t threads = 1) {
  return newton_loo_steps<M>(model, x, y).rows(0, x.rows(), threads);
}

}  // namespace attrib
