#pragma once
// layered_model: a twice_differentiable_model built from dense layers y = W a + b, which is what
// Kronecker-factored curvature (K-FAC, EK-FAC: solvers/ekfac.hpp) factors. Each layer's block of
// the Fisher is approximated by E[a a^T] (x) E[e e^T] with a the layer's input and e the loss
// gradient at its output, so the model must say where each layer's parameters are and what each
// layer's input is.
//
// attrib's mlp (every layer) and linear_regression and logistic_regression (one layer on the
// standardised inputs) model it.
#include <concepts>
#include <vector>

#include "attrib/concepts/trainable_model.hpp"
#include "attrib/core/types.hpp"
#include "attrib/models/output_head.hpp"

namespace attrib {

// One dense layer's place in parameters(): W (outputs x inputs, row-major) starting at `offset`,
// then its bias (outputs).
struct dense_block {
  index offset = 0;
  index inputs = 0;
  index outputs = 0;
};

// dense_blocks() lists every parameter, layer after layer; dense_block_inputs(X)[l] holds, per
// row of X, layer l's input a (inputs columns); head() names the output head, from which a sampled
// ("true") Fisher draws its labels.
template <class M>
concept layered_model =
    twice_differentiable_model<M> && requires(const M& m, const matrix& inputs) {
      { m.dense_blocks() } -> std::convertible_to<std::vector<dense_block>>;
      { m.dense_block_inputs(inputs) } -> std::convertible_to<std::vector<matrix>>;
      { m.head() } -> std::convertible_to<output_head>;
    };

namespace archetypes {
// The least a layered model provides: one dense layer f(x) = w x + b on one input, loss
// mean (f(x) - y)^2 / 2 + (l2 / 2) w^2, parameters (w, b).
struct layered_model {
  double w = 1.0, b = 0.0, penalty = 0.0;
  index input_dim() const { return 1; }
  index output_dim() const { return 1; }
  matrix predict(const matrix& x) const { return (w * x.col(0)).array() + b; }
  index parameter_count() const { return 2; }
  vector parameters() const {
    vector p(2);
    p << w, b;
    return p;
  }
  void set_parameters(const vector& p) {
    w = p(0);
    b = p(1);
  }
  double loss(const matrix& x, const vector& y) const {
    return 0.5 * (predict(x).col(0) - y).squaredNorm() / static_cast<double>(x.rows()) + 0.5 * penalty * w * w;
  }
  vector loss_gradient(const matrix& x, const vector& y) const {
    vector g = per_example_loss_gradients(x, y).colwise().mean().transpose();
    g(0) += penalty * w;
    return g;
  }
  matrix per_example_loss_gradients(const matrix& x, const vector& y) const {
    matrix g(x.rows(), 2);
    g.col(1) = predict(x).col(0) - y;
    g.col(0) = g.col(1).cwiseProduct(x.col(0));
    return g;
  }
  matrix hessian(const matrix& x, const vector&) const {
    const double n = static_cast<double>(x.rows());
    matrix h(2, 2);
    h(0, 0) = x.col(0).squaredNorm() / n + penalty;
    h(0, 1) = h(1, 0) = x.col(0).sum() / n;
    h(1, 1) = 1.0;
    return h;
  }
  vector hessian_vector_product(const matrix& x, const vector& y, const vector& v) const {
    return hessian(x, y) * v;
  }
  double l2() const { return penalty; }
  void set_l2(double l2) { penalty = l2; }
  std::vector<dense_block> dense_blocks() const { return {{0, 1, 1}}; }
  std::vector<matrix> dense_block_inputs(const matrix& x) const { return {x.leftCols(1)}; }
  output_head head() const { return output_head::identity; }
};
}  // namespace archetypes

static_assert(layered_model<archetypes::layered_model>);

}  // namespace attrib
