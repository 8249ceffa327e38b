#pragma once
// differentiable_model: a model that also gives batched vector-Jacobian products with respect
// to its inputs and per-example gradients of its training loss with respect to its parameters.
#include <concepts>

#include "attrib/concepts/model.hpp"

namespace attrib {

// m.vjp_inputs(X, C) returns, for every row r, C.row(r) * d predict(X).row(r) / d X.row(r): an
// n x input_dim() matrix. m.per_example_loss_gradients(X, y) returns one row per example: the
// gradient of that example's training loss with respect to the flat parameter vector.
//
// input_differentiable_model is the input half alone: what explainers that never touch the
// parameters need (gradient methods through a game, L2X, Integrated Hessians).
template <class M>
concept input_differentiable_model = model<M> && requires(const M& m, const matrix& inputs, const matrix& cotangent) {
  { m.vjp_inputs(inputs, cotangent) } -> std::convertible_to<matrix>;
};

template <class M>
concept differentiable_model = input_differentiable_model<M> && requires(const M& m, const matrix& inputs,
                                                                         const vector& targets) {
  { m.parameter_count() } -> std::convertible_to<index>;
  { m.parameters() } -> std::convertible_to<vector>;
  { m.per_example_loss_gradients(inputs, targets) } -> std::convertible_to<matrix>;
};

namespace archetypes {
// The least a type must provide to be a differentiable model: f(x) = sum(x), one output, no
// parameters.
struct differentiable_model {
  index input_dim() const { return 1; }
  index output_dim() const { return 1; }
  matrix predict(const matrix& inputs) const { return inputs.rowwise().sum(); }
  matrix vjp_inputs(const matrix& inputs, const matrix& cotangent) const {
    return cotangent.col(0).replicate(1, inputs.cols());
  }
  index parameter_count() const { return 0; }
  vector parameters() const { return {}; }
  matrix per_example_loss_gradients(const matrix& inputs, const vector&) const { return matrix(inputs.rows(), 0); }
};
}  // namespace archetypes

static_assert(differentiable_model<archetypes::differentiable_model>);
static_assert(input_differentiable_model<archetypes::differentiable_model>);

}  // namespace attrib
