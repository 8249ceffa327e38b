#pragma once
// Exact second derivatives of an mlp's outputs with respect to its inputs, for Integrated Hessians
// (methods/feature/integrated_hessians.hpp). mlp.hpp differentiates twice with respect to the
// parameters (Pearlmutter's R-operator on the training loss); this header runs the same
// forward-over-reverse scheme along an *input* direction v: the forward pass carries R{pre}, the
// directional derivative of every pre-activation, and the backward pass for the input gradient is
// then differentiated, which is where each activation's second derivative and the head's
// curvature enter. One product costs about two gradient evaluations; a full d x d Hessian is d
// products, done as one batch.
//
// ReLU (and identity) layers have second derivative 0 wherever it exists, so a ReLU network with
// an identity head has input Hessian 0 almost everywhere: its curvature sits entirely in the kinks,
// as Dirac masses this pointwise Hessian cannot see. With a sigmoid or softmax head the head's own
// curvature is still there. See docs/methods/second-order-and-guided-gradients.md for what that
// does to Integrated Hessians.
#include <string>
#include <utility>
#include <vector>

#include "attrib/concepts/input_hessian_model.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"
#include "attrib/models/activation.hpp"
#include "attrib/models/detail/checks.hpp"
#include "attrib/models/mlp.hpp"
#include "attrib/models/output_head.hpp"

namespace attrib {

namespace detail {

// The head's vector-Jacobian product delta = J(s)^T c (J is symmetric for every head) and its
// directional derivative R{delta} along R{s}, given the prediction p = head(s).
//   identity: delta = c,                  R{delta} = 0
//   sigmoid:  delta = p(1-p) c,           R{delta} = p(1-p)(1-2p) R{s} c
//   softmax:  delta = p (c - p.c),        R{delta} = R{p} (c - p.c) - p (R{p}.c), R{p} = p (R{s} - p.R{s})
// A template only so that it compiles where it is called (docs/performance.md).
template <class = void>
std::pair<matrix, matrix> head_vjp_and_directional(output_head head, const matrix& prediction, const matrix& cotangent,
                                                   const matrix& r_logits) {
  const matrix delta = head_jacobian_product(head, prediction, cotangent);
  switch (head) {
    case output_head::identity: return {delta, matrix::Zero(delta.rows(), delta.cols())};
    case output_head::sigmoid: {
      const auto p = prediction.array();
      matrix r_delta = (p * (1.0 - p) * (1.0 - 2.0 * p) * r_logits.array() * cotangent.array()).matrix();
      return {delta, std::move(r_delta)};
    }
    case output_head::softmax: {
      const matrix r_p = head_jacobian_product(head, prediction, r_logits);
      const vector p_dot_c = (prediction.array() * cotangent.array()).rowwise().sum();
      const vector rp_dot_c = (r_p.array() * cotangent.array()).rowwise().sum();
      matrix r_delta = (r_p.array() * (cotangent.colwise() - p_dot_c).array()).matrix();
      r_delta -= (prediction.array().colwise() * rp_dot_c.array()).matrix();
      return {delta, std::move(r_delta)};
    }
  }
  return {delta, matrix::Zero(delta.rows(), delta.cols())};
}

}  // namespace detail

// Row r: the Hessian of cotangent.row(r) . m.predict(x) at x = inputs.row(r), times
// directions.row(r). Raw (unstandardised) inputs, as predict and vjp_inputs take them.
template <class Matrix>
matrix input_hessian_vector_products(const basic_mlp<Matrix>& m, const matrix& inputs, const matrix& cotangent,
                                     const matrix& directions) {
  detail::require_input_columns(inputs, m.input_dim(), "mlp input Hessian");
  detail::require_cotangent_shape(inputs, cotangent, m.output_dim(), "mlp input Hessian");
  detail::require(directions.rows() == inputs.rows() && directions.cols() == inputs.cols(),
                  "mlp input Hessian: directions are " + std::to_string(directions.rows()) + " x " +
                      std::to_string(directions.cols()) + ", expected " + std::to_string(inputs.rows()) + " x " +
                      std::to_string(inputs.cols()) + " (one direction per input row)");
  const auto& layers = m.layers();
  const standardizer& s = m.input_standardizer();
  const std::size_t count = layers.size();

  // Forward: pre-activations, and their directional derivatives along the standardised direction
  // (standardising is affine, so R{z} is the direction divided by the scale: pull_back's map).
  std::vector<matrix> pre(count), r_pre(count);
  matrix post = s.transform(inputs);
  matrix r_post = s.pull_back(directions);
  for (std::size_t l = 0; l < count; ++l) {
    const auto& layer = layers[l];
    pre[l] = (post * layer.weight.transpose()).rowwise() + layer.bias.transpose();
    r_pre[l] = r_post * layer.weight.transpose();
    post = activate(layer.act, pre[l]);
    r_post = r_pre[l].cwiseProduct(activation_derivative(layer.act, pre[l]));
  }

  // Backward, differentiated: delta is d s / d(layer output), e = delta * act'(pre).
  auto [delta, r_delta] =
      detail::head_vjp_and_directional(m.head(), detail::apply_head(m.head(), post), cotangent, r_post);
  for (std::size_t l = count; l-- > 0;) {
    const auto& layer = layers[l];
    const matrix d1 = activation_derivative(layer.act, pre[l]);
    const matrix e = delta.cwiseProduct(d1);
    matrix r_e = r_delta.cwiseProduct(d1);
    if (layer.act != activation::identity && layer.act != activation::relu)
      r_e += delta.cwiseProduct(activation_second_derivative(layer.act, pre[l])).cwiseProduct(r_pre[l]);
    delta = e * layer.weight;
    r_delta = r_e * layer.weight;
  }
  return s.pull_back(r_delta);
}

// The mlp with its input Hessian: an input_hessian_model for Integrated Hessians. It holds a copy of
// the mlp (its weights; cheap next to the O(d) passes a Hessian costs) and forwards predict and
// vjp_inputs to it.
template <class Matrix = matrix>
class basic_mlp_input_hessian {
 public:
  explicit basic_mlp_input_hessian(basic_mlp<Matrix> m) : model_(std::move(m)) {}

  index input_dim() const { return model_.input_dim(); }
  index output_dim() const { return model_.output_dim(); }
  matrix predict(const matrix& inputs) const { return model_.predict(inputs); }
  matrix vjp_inputs(const matrix& inputs, const matrix& cotangent) const {
    return model_.vjp_inputs(inputs, cotangent);
  }
  matrix input_hessian_vector_products(const matrix& inputs, const matrix& cotangent,
                                       const matrix& directions) const {
    return attrib::input_hessian_vector_products(model_, inputs, cotangent, directions);
  }
  const basic_mlp<Matrix>& get_model() const { return model_; }

 private:
  basic_mlp<Matrix> model_;
};

using mlp_input_hessian = basic_mlp_input_hessian<>;

// with_input_hessian(m): the mlp as an input_hessian_model.
template <class Matrix>
basic_mlp_input_hessian<Matrix> with_input_hessian(basic_mlp<Matrix> m) {
  return basic_mlp_input_hessian<Matrix>(std::move(m));
}

static_assert(input_hessian_model<mlp_input_hessian>);

}  // namespace attrib
