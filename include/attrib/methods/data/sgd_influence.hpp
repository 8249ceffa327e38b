#pragma once
// SGD-Influence (Hara, Nitanda and Maehara 2019, "Data cleansing for models trained with SGD"):
// the effect of removing training point j on a model trained by SGD, read off the recorded
// trajectory instead of an optimum, so it needs neither convexity nor convergence.
//
// The counterfactual run (the paper's definition, and its authors' code) uses the same batches
// with j left out of the sum but the batch size unchanged; the penalty stays:
//   theta'_{t+1} = theta'_t - eta_t ( (1/|B_t|) sum_{i in B_t \ {j}} grad l_i(theta'_t) + grad R(theta'_t) ).
// Linearised around the recorded theta_t, u_t = theta'_t - theta_t follows
//   u_{t+1} = (I - eta_t H_{B_t}(theta_t)) u_t + (eta_t / |B_t|) [j in B_t] grad l_j(theta_t),  u_0 = 0,
// with H_{B_t} the Hessian of the batch's mean loss plus penalty. The score of j on a test point
// is grad L_test(theta_T) . u_T: the predicted change of the test loss when j is removed
// (positive: j helped). The backward form propagates the test gradient instead,
//   lambda_T = grad L_test,  score_j += (eta_t/|B_t|) grad l_j(theta_t) . lambda_{t+1} for j in B_t,
//   lambda_t = (I - eta_t H_{B_t}) lambda_{t+1},
// and scores every j with one Hessian-vector product per step.
//
// Composition: each step adds an inner product (per-example gradient, transformed test gradient)
// as inner_product_attribution does, but the transform is the adjoint state lambda_{t+1}, which
// the previous step's Hessian-vector product produced; a recursion, not one fixed transform, so
// it is written as the sweep it is.
#include <cstddef>
#include <string>
#include <vector>

#include "attrib/concepts/trainable_model.hpp"
#include "attrib/core/data_attribution.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/parallel.hpp"
#include "attrib/core/types.hpp"
#include "attrib/core/validate.hpp"
#include "attrib/methods/data/evaluation.hpp"  // detail::select_rows
#include "attrib/methods/data/sgd_trajectory.hpp"

namespace attrib {

// Which linearisation of the counterfactual run the forward form follows.
//   first_order: the paper's; the whole batch's Hessian for every j. It is what the backward form
//     computes for all j at once.
//   exact_batch: j's own Hessian is left out of the batches that contain it, as the counterfactual
//     run leaves it out. For a model whose gradient is affine in the parameters (linear regression)
//     this reproduces the counterfactual run exactly; it differs from first_order only from j's
//     second appearance on (before that u_t = 0), by O(eta^2 / |B|^2).
enum class sgd_linearization { first_order, exact_batch };

namespace detail {
template <trainable_model M>
void require_test_set(const M& model, const matrix& test_x, const vector& test_y, const std::string& who) {
  require(test_x.rows() > 0, who + ": test_x must have at least one row");
  require(test_x.cols() == model.input_dim(), who + ": test_x has " + std::to_string(test_x.cols()) +
                                                  " columns, expected the model's " +
                                                  std::to_string(model.input_dim()));
  require_size(test_y.size(), test_x.rows(), who + ": test_y");
  require_finite(test_x, who + ": test_x");
  require_finite(test_y, who + ": test_y");
}

template <trainable_model M>
void require_training_set(const M& model, const matrix& train_x, const vector& train_y, const std::string& who) {
  require(train_x.rows() > 0, who + ": train_x must have at least one row");
  require(train_x.cols() == model.input_dim(), who + ": train_x has " + std::to_string(train_x.cols()) +
                                                   " columns, expected the model's " +
                                                   std::to_string(model.input_dim()));
  require_size(train_y.size(), train_x.rows(), who + ": train_y");
  require_finite(train_x, who + ": train_x");
  require_finite(train_y, who + ": train_y");
}
}  // namespace detail

// Forward form for one removed point: the predicted theta'_T - theta_T. `model` gives the
// architecture and penalty; its parameters are ignored (the trajectory's are used).
template <twice_differentiable_model M>
vector sgd_influence_parameter_change(const M& model, const sgd_trajectory& trajectory, const matrix& train_x,
                                      const vector& train_y, index removed,
                                      sgd_linearization linearization = sgd_linearization::first_order) {
  const std::string who = "sgd_influence_parameter_change";
  detail::require_training_set(model, train_x, train_y, who);
  detail::require_trajectory(trajectory, model.parameter_count(), train_x.rows(), who);
  detail::require(removed >= 0 && removed < train_x.rows(), who + ": removed is " + std::to_string(removed) +
                                                                ", expected a training row in [0, " +
                                                                std::to_string(train_x.rows()) + ")");
  M m = model;
  M data_only = model;  // j's own Hessian, without the penalty (the penalty is nobody's to remove)
  data_only.set_l2(0.0);
  const matrix xj = train_x.row(removed);
  const vector yj = train_y.segment(removed, 1);
  vector u = vector::Zero(model.parameter_count());
  for (index t = 0; t < trajectory.steps(); ++t) {
    const auto& batch = trajectory.batches[static_cast<std::size_t>(t)];
    const double eta = trajectory.learning_rates[static_cast<std::size_t>(t)];
    const double per_member = eta / static_cast<double>(batch.size());
    double copies = 0;
    for (const index i : batch) copies += i == removed ? 1.0 : 0.0;
    m.set_parameters(trajectory.at(t));
    vector next = u;
    if (u.squaredNorm() > 0)
      next -= eta * m.hessian_vector_product(detail::select_rows(train_x, batch),
                                             detail::select_rows(train_y, batch), u);
    if (copies > 0) {
      next += per_member * copies * m.per_example_loss_gradients(xj, yj).row(0).transpose();
      if (linearization == sgd_linearization::exact_batch && u.squaredNorm() > 0) {
        data_only.set_parameters(trajectory.at(t));
        next += per_member * copies * data_only.hessian_vector_product(xj, yj, u);
      }
    }
    u = std::move(next);
  }
  return u;
}

// Backward form: scores(j, k) = grad L_k(theta_T) . u_T(j) for every training point j and test
// point k, the first_order linearisation, one Hessian-vector product per step and test point.
// Test points are independent adjoint sweeps, split over `threads` (results do not depend on it).
template <twice_differentiable_model M>
data_attribution sgd_influence(const M& model, const sgd_trajectory& trajectory, const matrix& train_x,
                               const vector& train_y, const matrix& test_x, const vector& test_y,
                               std::size_t threads = 1) {
  const std::string who = "sgd_influence";
  detail::require_training_set(model, train_x, train_y, who);
  detail::require_test_set(model, test_x, test_y, who);
  detail::require_trajectory(trajectory, model.parameter_count(), train_x.rows(), who);
  M m = model;
  m.set_parameters(trajectory.final_parameters());
  matrix adjoint = m.per_example_loss_gradients(test_x, test_y);  // row k: lambda for test point k
  matrix scores = matrix::Zero(train_x.rows(), test_x.rows());
  for (index t = trajectory.steps() - 1; t >= 0; --t) {
    const auto& batch = trajectory.batches[static_cast<std::size_t>(t)];
    const double eta = trajectory.learning_rates[static_cast<std::size_t>(t)];
    m.set_parameters(trajectory.at(t));
    const matrix xb = detail::select_rows(train_x, batch);
    const vector yb = detail::select_rows(train_y, batch);
    const matrix contribution =
        (eta / static_cast<double>(batch.size())) * (m.per_example_loss_gradients(xb, yb) * adjoint.transpose());
    for (std::size_t r = 0; r < batch.size(); ++r) scores.row(batch[r]) += contribution.row(static_cast<index>(r));
    parallel_for(static_cast<std::size_t>(adjoint.rows()), threads, [&](std::size_t c) {
      const auto k = static_cast<index>(c);
      const vector lambda = adjoint.row(k).transpose();
      adjoint.row(k) -= eta * m.hessian_vector_product(xb, yb, lambda).transpose();
    });
  }
  detail::require(scores.allFinite(), who + ": the scores are not finite (did the adjoint sweep diverge? "
                                            "the steps may be too large for the batches' curvature)");
  return {"sgd_influence", std::move(scores), {}};
}

}  // namespace attrib
