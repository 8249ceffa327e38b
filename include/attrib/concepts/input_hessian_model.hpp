#pragma once
// input_hessian_model: a model that gives second derivatives of its outputs with respect to its
// inputs, as batched Hessian-vector products. Integrated Hessians (feature interactions) needs
// them; everything else in feature attribution needs only first derivatives (vjp_inputs).
//
// It refines input_differentiable_model, not differentiable_model: that concept also asks for
// parameters and training-loss gradients, which an interaction method never touches, and a
// closed-form test model should not have to invent them.
#include <concepts>

#include "attrib/concepts/differentiable_model.hpp"
#include "attrib/core/types.hpp"

namespace attrib {

// For every row r, with s_r(x) = cotangent.row(r) . predict(x):
//   m.vjp_inputs(X, C).row(r)                        = grad s_r at X.row(r)              (n x input_dim())
//   m.input_hessian_vector_products(X, C, V).row(r)  = Hess s_r at X.row(r) times V.row(r) (n x input_dim())
// Both are linear in the cotangent, and the Hessian is symmetric, so rows of it are products with
// unit vectors.
template <class M>
concept input_hessian_model = input_differentiable_model<M> &&
    requires(const M& m, const matrix& inputs, const matrix& cotangent, const matrix& directions) {
      { m.input_hessian_vector_products(inputs, cotangent, directions) } -> std::convertible_to<matrix>;
    };

namespace archetypes {
// The least a type must provide to be an input_hessian_model: f(x) = (sum x)^2 / 2, one output,
// whose Hessian is the all-ones matrix (not zero, so that a method that ignores it is caught).
struct input_hessian_model {
  index input_dim() const { return 1; }
  index output_dim() const { return 1; }
  matrix predict(const matrix& inputs) const { return 0.5 * inputs.rowwise().sum().array().square().matrix(); }
  matrix vjp_inputs(const matrix& inputs, const matrix& cotangent) const {
    return (cotangent.col(0).cwiseProduct(inputs.rowwise().sum())).replicate(1, inputs.cols());
  }
  matrix input_hessian_vector_products(const matrix& inputs, const matrix& cotangent,
                                       const matrix& directions) const {
    return (cotangent.col(0).cwiseProduct(directions.rowwise().sum())).replicate(1, inputs.cols());
  }
};
}  // namespace archetypes

static_assert(input_hessian_model<archetypes::input_hessian_model>);
static_assert(!input_hessian_model<archetypes::model>);

}  // namespace attrib
