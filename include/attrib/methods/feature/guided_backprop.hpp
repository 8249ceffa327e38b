#pragma once
// Guided backpropagation (Springenberg, Dosovitskiy, Brox and Riedmiller 2014, "Striving for
// Simplicity: The All Convolutional Net") for ReLU MLPs. The output gradient is propagated back as
// usual, except that at every ReLU the signal passes only where the forward pre-activation was
// positive (the true ReLU derivative) *and* the backward signal itself is positive:
//
//   R_l = [pre_l > 0] [R_{l+1} > 0] R_{l+1}
//
// where R_{l+1} is the signal arriving at the ReLU's output. The result is a modified backward pass,
// not the gradient of any function: it is not linear in the output cotangent and does not satisfy
// completeness.
//
// It is supplied at the level of the model: guided_backprop(m) is the mlp whose vjp_inputs runs the
// modified rule. perturbed_model turns any model into a differentiable game through vjp_inputs, so
// the existing compositions produce the guided variants unchanged:
//   vanilla_gradient{}.explain(noisy_model(guided_backprop(m), x, out))            guided backprop
//   gradient_x_input.explain(zero_baseline_model(guided_backprop(m), x, out))      guided grad x input
// (and smoothgrad / integrated_gradients on the same games give their guided versions). A game of
// its own would have to repeat perturbed_model's values, perturbations and checks for nothing.
#include <string>
#include <utility>
#include <vector>

#include "attrib/concepts/differentiable_model.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"
#include "attrib/models/activation.hpp"
#include "attrib/models/detail/checks.hpp"
#include "attrib/models/mlp.hpp"
#include "attrib/models/output_head.hpp"

namespace attrib {

// Thrown when guided backpropagation is asked of a network whose hidden layers are not all ReLU:
// the rule is defined at ReLUs, and silently applying it elsewhere would be a different method.
struct non_relu_activation_error : invalid_argument {
  using invalid_argument::invalid_argument;
};

namespace detail {

// Hidden layers must be ReLU; the last layer may be ReLU (the rule applies there too) or identity
// (logits), whose derivative is 1 and has nothing to clip.
template <class Matrix>
void require_guided_relu(const basic_mlp<Matrix>& m) {
  const auto& layers = m.layers();
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const activation a = layers[l].act;
    const bool last = l + 1 == layers.size();
    if (a == activation::relu || (last && a == activation::identity)) continue;
    throw non_relu_activation_error(
        "guided_backprop: layers[" + std::to_string(l) + "] has activation '" + std::string(activation_name(a)) +
        "'; guided backpropagation is defined for ReLU networks: every hidden layer must be relu" +
        (last ? " and the last layer relu or identity" : ""));
  }
}

}  // namespace detail

// Row r: the guided backpropagation of cotangent.row(r) from the outputs of m (through the head's
// true Jacobian) to the raw input inputs.row(r).
template <class Matrix>
matrix guided_backprop_vjp(const basic_mlp<Matrix>& m, const matrix& inputs, const matrix& cotangent) {
  detail::require_guided_relu(m);
  detail::require_input_columns(inputs, m.input_dim(), "guided_backprop");
  detail::require_cotangent_shape(inputs, cotangent, m.output_dim(), "guided_backprop");
  const auto& layers = m.layers();
  const std::size_t count = layers.size();
  std::vector<matrix> pre(count);
  matrix post = m.input_standardizer().transform(inputs);
  for (std::size_t l = 0; l < count; ++l) {
    pre[l] = (post * layers[l].weight.transpose()).rowwise() + layers[l].bias.transpose();
    post = activate(layers[l].act, pre[l]);
  }
  matrix signal = detail::head_jacobian_product(m.head(), detail::apply_head(m.head(), post), cotangent);
  for (std::size_t l = count; l-- > 0;) {
    if (layers[l].act == activation::relu)
      signal = signal.binaryExpr(pre[l], [](double s, double p) { return s > 0.0 && p > 0.0 ? s : 0.0; });
    signal = signal * layers[l].weight;
  }
  return m.input_standardizer().pull_back(signal);
}

// The mlp with guided backpropagation as its input vector-Jacobian product. predict, the parameters
// and the training-loss gradients are the mlp's own (the guided rule concerns input attributions
// only), so it is a differentiable_model and every gradient method accepts it. It holds a copy of
// the mlp.
template <class Matrix = matrix>
class basic_guided_mlp {
 public:
  explicit basic_guided_mlp(basic_mlp<Matrix> m) : model_(std::move(m)) { detail::require_guided_relu(model_); }

  index input_dim() const { return model_.input_dim(); }
  index output_dim() const { return model_.output_dim(); }
  matrix predict(const matrix& inputs) const { return model_.predict(inputs); }
  // The guided rule: not the Jacobian, and not linear in `output_cotangent`.
  matrix vjp_inputs(const matrix& inputs, const matrix& output_cotangent) const {
    return guided_backprop_vjp(model_, inputs, output_cotangent);
  }
  index parameter_count() const { return model_.parameter_count(); }
  vector parameters() const { return model_.parameters(); }
  matrix per_example_loss_gradients(const matrix& inputs, const vector& targets) const {
    return model_.per_example_loss_gradients(inputs, targets);
  }
  const basic_mlp<Matrix>& get_model() const { return model_; }

 private:
  basic_mlp<Matrix> model_;
};

using guided_mlp = basic_guided_mlp<>;

// guided_backprop(m): m with guided backpropagation as its input gradient; throws
// non_relu_activation_error unless every hidden layer is ReLU.
template <class Matrix>
basic_guided_mlp<Matrix> guided_backprop(basic_mlp<Matrix> m) {
  return basic_guided_mlp<Matrix>(std::move(m));
}

static_assert(differentiable_model<guided_mlp>);

}  // namespace attrib
