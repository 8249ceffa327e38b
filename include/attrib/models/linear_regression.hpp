#pragma once
// Linear regression with one output, fitted in closed form (ridge when l2 > 0).
#include <Eigen/QR>
#include <string>
#include <type_traits>

#include "attrib/concepts/model.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"
#include "attrib/models/detail/checks.hpp"
#include "attrib/models/detail/linear_model_base.hpp"
#include "attrib/models/output_head.hpp"

namespace attrib {

class linear_regression : public detail::linear_model_base<> {
 public:
  // All parameters zero.
  explicit linear_regression(index inputs)
      : linear_regression(matrix::Zero(1, positive(inputs)), vector::Zero(1)) {}

  // weight is 1 x inputs and acts on standardised inputs; bias has one entry.
  linear_regression(matrix weight, vector bias)
      : linear_model_base(std::move(weight), std::move(bias), output_head::identity,
                          "linear_regression") {
    detail::require(output_dim() == 1, "linear_regression: weight must have exactly one row");
  }

  index output_dim() const { return bias().size(); }

  matrix predict(const matrix& inputs) const { return logits(inputs); }

  // For each row i, output_cotangent(i, 0) times the gradient of predict at inputs.row(i).
  matrix vjp_inputs(const matrix& inputs, const matrix& output_cotangent) const {
    detail::require_input_columns(inputs, input_dim(), who());
    detail::require_cotangent_shape(inputs, output_cotangent, output_dim(), who());
    return input_standardizer().pull_back(output_cotangent * weight());
  }

  // The exact minimiser of loss() = mean (f(x) - y)^2 / 2 + (l2 / 2) ||w||^2, and sets l2().
  // Centring leaves the unpenalised bias out of the linear system. With l2 = 0 and collinear
  // features the minimum-norm solution is returned.
  // A template only so that the decomposition compiles where a model is trained.
  template <class Inputs = matrix>
  void train(const std::type_identity_t<Inputs>& inputs, const vector& targets, double l2 = 0.0) {
    check_training(inputs, targets);
    set_l2(l2);
    const matrix z = input_standardizer().transform(inputs);
    const Eigen::RowVectorXd z_mean = z.colwise().mean();
    const matrix centred = z.rowwise() - z_mean;
    const double y_mean = targets.mean();
    const double n = static_cast<double>(inputs.rows());
    Eigen::MatrixXd gram = centred.transpose() * centred / n;
    gram.diagonal().array() += l2;
    const vector rhs = centred.transpose() * (targets.array() - y_mean).matrix() / n;
    const vector w = gram.completeOrthogonalDecomposition().solve(rhs);
    vector theta(parameter_count());
    theta.head(w.size()) = w;
    theta[w.size()] = y_mean - z_mean.dot(w);
    set_parameters(theta);
  }

 private:
  static index positive(index inputs) {
    detail::require(inputs > 0,
                    "linear_regression: inputs must be positive, got " + std::to_string(inputs));
    return inputs;
  }
};

static_assert(model<linear_regression>);

}  // namespace attrib
