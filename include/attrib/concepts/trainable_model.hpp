#pragma once
// trainable_model and its refinements: what data attribution needs from a model. Feature
// attribution asks a model for outputs (model) and input gradients (differentiable_model); data
// attribution asks for its parameters, its training loss and derivatives of that loss with
// respect to the parameters:
//
//   trainable_model            parameters, set_parameters, loss, its gradient, per-example gradients
//   ├─ twice_differentiable_model   + Hessian-vector products, the Hessian, the L2 penalty
//   └─ logit_model                  + logits and per-example parameter gradients of any logit
//                                     combination (TRAK's margins)
//
// attrib's linear_regression, logistic_regression and mlp model all three.
#include <concepts>

#include "attrib/concepts/model.hpp"
#include "attrib/core/types.hpp"

namespace attrib {

// The training loss is the mean per-example loss plus a penalty on the parameters; the per-example
// rows leave the penalty out, so that their mean plus the penalty's gradient is loss_gradient().
// Parameters are one flat vector of parameter_count() entries. Copies are independent models (the
// data methods retrain copies).
template <class M>
concept trainable_model =
    model<M> && std::copy_constructible<M> &&
    requires(const M& m, M& w, const matrix& inputs, const vector& targets, const vector& theta) {
      { m.parameter_count() } -> std::convertible_to<index>;
      { m.parameters() } -> std::convertible_to<vector>;
      w.set_parameters(theta);
      { m.loss(inputs, targets) } -> std::convertible_to<double>;
      { m.loss_gradient(inputs, targets) } -> std::convertible_to<vector>;
      { m.per_example_loss_gradients(inputs, targets) } -> std::convertible_to<matrix>;
    };

// Second derivatives of loss() with respect to the parameters, and the L2 penalty's strength
// (l2 / 2) ||W||^2, which influence functions separate from the data term.
template <class M>
concept twice_differentiable_model =
    trainable_model<M> &&
    requires(const M& m, M& w, const matrix& inputs, const vector& targets, const vector& direction, double l2) {
      { m.hessian_vector_product(inputs, targets, direction) } -> std::convertible_to<vector>;
      { m.hessian(inputs, targets) } -> std::convertible_to<matrix>;
      { m.l2() } -> std::convertible_to<double>;
      w.set_l2(l2);
    };

// A classifier read through its logits (the scores before the sigmoid or softmax head):
// per_example_logit_gradients(X, C) has one row per example, the gradient with respect to the
// parameters of sum_c C(i, c) logit_c(x_i). TRAK's margins and any other function of the logits
// are differentiated through it.
template <class M>
concept logit_model = trainable_model<M> && requires(const M& m, const matrix& inputs, const matrix& cotangent) {
  { m.logits(inputs) } -> std::convertible_to<matrix>;
  { m.per_example_logit_gradients(inputs, cotangent) } -> std::convertible_to<matrix>;
};

namespace archetypes {
// The least a type must provide to be a trainable model: f(x) = theta x with one input and one
// parameter, loss mean (theta x - y)^2 / 2.
struct trainable_model {
  double theta = 1.0;
  index input_dim() const { return 1; }
  index output_dim() const { return 1; }
  matrix predict(const matrix& inputs) const { return theta * inputs.col(0); }
  index parameter_count() const { return 1; }
  vector parameters() const { return vector::Constant(1, theta); }
  void set_parameters(const vector& p) { theta = p(0); }
  double loss(const matrix& x, const vector& y) const {
    return 0.5 * (theta * x.col(0) - y).squaredNorm() / static_cast<double>(x.rows());
  }
  vector loss_gradient(const matrix& x, const vector& y) const {
    return per_example_loss_gradients(x, y).colwise().mean().transpose();
  }
  matrix per_example_loss_gradients(const matrix& x, const vector& y) const {
    return (theta * x.col(0) - y).cwiseProduct(x.col(0));
  }
};

// ... with second derivatives: H = mean x^2, no penalty term of its own (l2 is stored only).
struct twice_differentiable_model : trainable_model {
  double penalty = 0.0;
  vector hessian_vector_product(const matrix& x, const vector& y, const vector& v) const {
    return hessian(x, y) * v;
  }
  matrix hessian(const matrix& x, const vector&) const {
    return matrix::Constant(1, 1, x.col(0).squaredNorm() / static_cast<double>(x.rows()));
  }
  double l2() const { return penalty; }
  void set_l2(double l2) { penalty = l2; }
};

// ... read through its logit theta x.
struct logit_model : trainable_model {
  matrix logits(const matrix& x) const { return theta * x.col(0); }
  matrix per_example_logit_gradients(const matrix& x, const matrix& cotangent) const {
    return cotangent.col(0).cwiseProduct(x.col(0));
  }
};
}  // namespace archetypes

static_assert(trainable_model<archetypes::trainable_model>);
static_assert(twice_differentiable_model<archetypes::twice_differentiable_model>);
static_assert(logit_model<archetypes::logit_model>);

}  // namespace attrib
