#pragma once
// What linear and logistic regression share: logits = standardize(x) W^T + b, a canonical
// output head, and an L2 penalty on W (never on b). Parameters are flattened as W row by row,
// then b.
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "attrib/concepts/layered_model.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"
#include "attrib/core/validate.hpp"
#include "attrib/models/detail/checks.hpp"
#include "attrib/models/output_head.hpp"
#include "attrib/models/standardizer.hpp"

namespace attrib::detail {

// A class template (always linear_model_base<matrix>) only so that each member compiles where it
// is called: as a plain class, every file that included a linear model paid for all of them.
template <class Matrix = matrix>
class linear_model_base {
 public:
  index input_dim() const { return weight_.cols(); }

  // outputs x inputs; acts on standardised inputs.
  const matrix& weight() const { return weight_; }
  const vector& bias() const { return bias_; }

  const standardizer& input_standardizer() const { return standardizer_; }
  void set_standardizer(standardizer s) {
    require(s.is_identity() || s.dim() == input_dim(), who_ + ": standardizer has dimension " +
                                                           std::to_string(s.dim()) + ", expected " +
                                                           std::to_string(input_dim()));
    standardizer_ = std::move(s);
  }

  // Strength of the L2 penalty (l2 / 2) * ||W||^2 in the training objective; used by the loss,
  // gradient and Hessian functions below. train() sets it.
  double l2() const { return l2_; }
  void set_l2(double l2) {
    require(std::isfinite(l2) && l2 >= 0, who_ + ": l2 must be finite and non-negative");
    l2_ = l2;
  }

  // The affine part, before the output head.
  matrix logits(const matrix& inputs) const {
    require_input_columns(inputs, input_dim(), who_);
    return (standardizer_.transform(inputs) * weight_.transpose()).rowwise() + bias_.transpose();
  }

  index parameter_count() const { return weight_.size() + bias_.size(); }
  output_head head() const { return head_; }

  // One dense layer on the standardised inputs (concepts/layered_model.hpp).
  std::vector<dense_block> dense_blocks() const { return {{0, weight_.cols(), weight_.rows()}}; }
  std::vector<matrix> dense_block_inputs(const matrix& inputs) const {
    require_input_columns(inputs, input_dim(), who_);
    return {standardizer_.transform(inputs)};
  }

  vector parameters() const {
    vector theta(parameter_count());
    theta.head(weight_.size()) = Eigen::Map<const vector>(weight_.data(), weight_.size());
    theta.tail(bias_.size()) = bias_;
    return theta;
  }

  void set_parameters(const vector& theta) {
    require_size(theta.size(), parameter_count(), who_ + ": parameters");
    require_finite(theta, who_ + ": parameters");
    Eigen::Map<vector>(weight_.data(), weight_.size()) = theta.head(weight_.size());
    bias_ = theta.tail(bias_.size());
  }

  // Mean per-example loss plus (l2 / 2) ||W||^2.
  double loss(const matrix& inputs, const vector& targets) const {
    check_training(inputs, targets);
    return head_losses(head_, logits(inputs), targets).mean() + 0.5 * l2_ * weight_.squaredNorm();
  }

  // Gradient of loss() with respect to parameters().
  vector loss_gradient(const matrix& inputs, const vector& targets) const {
    check_training(inputs, targets);
    const matrix z = standardizer_.transform(inputs);
    const matrix residual = residuals(z, targets);
    const double n = static_cast<double>(inputs.rows());
    return flatten(residual.transpose() * z / n + l2_ * weight_,
                   residual.colwise().sum().transpose() / n);
  }

  // Row i: gradient of example i's loss (without the penalty) with respect to parameters().
  // Their mean plus the penalty's gradient is loss_gradient().
  matrix per_example_loss_gradients(const matrix& inputs, const vector& targets) const {
    check_training(inputs, targets);
    matrix grads = standardized_rows_in_gradient_layout(inputs);
    scale_gradient_rows(grads, residuals(grads.leftCols(input_dim()), targets));
    return grads;
  }

  // Row i: the gradient with respect to parameters() of sum_c cotangent(i, c) logit_c(x_i).
  matrix per_example_logit_gradients(const matrix& inputs, const matrix& cotangent) const {
    require_input_columns(inputs, input_dim(), who_);
    require(cotangent.rows() == inputs.rows() && cotangent.cols() == bias_.size(),
            who_ + ": logit cotangent is " + std::to_string(cotangent.rows()) + " x " +
                std::to_string(cotangent.cols()) + ", expected " + std::to_string(inputs.rows()) + " x " +
                std::to_string(bias_.size()) + " (inputs x outputs)");
    matrix grads = standardized_rows_in_gradient_layout(inputs);
    scale_gradient_rows(grads, cotangent);
    return grads;
  }

  // Hessian of loss() times `direction`, exactly: the logits are linear in the parameters, so
  // H v = Z^T J_head (Z V^T + v_b) / n + l2 V.
  vector hessian_vector_product(const matrix& inputs, const vector& targets,
                                const vector& direction) const {
    check_training(inputs, targets);
    require_size(direction.size(), parameter_count(), who_ + ": direction");
    const matrix z = standardizer_.transform(inputs);
    return hvp_standardized(z, head_prediction(z), direction);
  }

  // The exact p x p Hessian of loss(). The logits are linear in the parameters, so block
  // (c, c') is Z~^T diag(J[c, c']) Z~ / n with Z~ = [z, 1] and J the head's per-row Jacobian:
  // k (k + 1) / 2 weighted GEMMs instead of p Hessian-vector products.
  matrix hessian(const matrix& inputs, const vector& targets) const {
    check_training(inputs, targets);
    const index n = inputs.rows(), d = input_dim(), k = bias_.size(), weights = k * d;
    matrix augmented(n, d + 1);
    standardizer_.transform_into(inputs, augmented.leftCols(d));
    augmented.col(d).setOnes();
    const matrix prediction = head_prediction(augmented.leftCols(d));
    matrix h = matrix::Zero(parameter_count(), parameter_count());
    for (index c2 = 0; c2 < k; ++c2) {
      matrix unit = matrix::Zero(n, k);
      unit.col(c2).setOnes();
      const matrix jacobian_column = head_jacobian_product(head_, prediction, unit);  // row i: J_i e_c2
      for (index c = 0; c <= c2; ++c) {
        const matrix block = augmented.transpose() * jacobian_column.col(c).asDiagonal() * augmented /
                             static_cast<double>(n);
        h.block(c * d, c2 * d, d, d) = block.topLeftCorner(d, d);
        h.block(c * d, weights + c2, d, 1) = block.topRightCorner(d, 1);
        h.block(weights + c, c2 * d, 1, d) = block.bottomLeftCorner(1, d);
        h(weights + c, weights + c2) = block(d, d);
        if (c != c2) {  // the Hessian is symmetric: mirror the block
          h.block(c2 * d, c * d, d, d) = block.topLeftCorner(d, d).transpose();
          h.block(weights + c2, c * d, 1, d) = block.topRightCorner(d, 1).transpose();
          h.block(c2 * d, weights + c, d, 1) = block.bottomLeftCorner(1, d).transpose();
          h(weights + c2, weights + c) = block(d, d);
        }
      }
    }
    h.topLeftCorner(weights, weights).diagonal().array() += l2_;
    return h;
  }

 protected:
  linear_model_base(matrix weight, vector bias, output_head head, std::string who)
      : weight_(std::move(weight)), bias_(std::move(bias)), head_(head), who_(std::move(who)) {
    require(weight_.rows() > 0 && weight_.cols() > 0,
            who_ + ": weight must be non-empty (outputs x inputs)");
    require_size(bias_.size(), weight_.rows(), who_ + ": bias");
    require_finite(weight_, who_ + ": weight");
    require_finite(bias_, who_ + ": bias");
  }

  const std::string& who() const { return who_; }

  void check_training(const matrix& inputs, const vector& targets) const {
    require_training_inputs(inputs, input_dim(), who_);
    require_head_targets(head_, bias_.size(), inputs, targets, who_);
  }

  template <class Standardized>
  matrix head_prediction(const Eigen::MatrixBase<Standardized>& standardized) const {
    return apply_head(head_, (standardized * weight_.transpose()).rowwise() + bias_.transpose());
  }

  vector flatten(const matrix& weight_part, const vector& bias_part) const {
    vector theta(parameter_count());
    // matrix is row-major, so its storage order is the parameter order.
    theta.head(weight_part.size()) =
        Eigen::Map<const vector>(weight_part.data(), weight_part.size());
    theta.tail(bias_part.size()) = bias_part;
    return theta;
  }

 private:
  // A gradient matrix whose first input_dim() columns hold the standardised inputs: the per-example
  // gradients are built over them in place (scale_gradient_rows), without a second n x d matrix.
  matrix standardized_rows_in_gradient_layout(const matrix& inputs) const {
    matrix grads(inputs.rows(), parameter_count());
    standardizer_.transform_into(inputs, grads.leftCols(input_dim()));
    return grads;
  }

  // The logits are z W^T + b, so example i's gradient is cotangent(i, c) z_i for the weight row c
  // and cotangent(i, c) for bias c. z_i sits in the row's first segment, so class 0 is written last.
  void scale_gradient_rows(matrix& grads, const matrix& cotangent) const {
    const index d = input_dim();
    const index k = bias_.size();
    for (index i = 0; i < grads.rows(); ++i) {
      for (index c = k - 1; c >= 0; --c)
        grads.row(i).segment(c * d, d) = cotangent(i, c) * grads.row(i).head(d);
      grads.row(i).tail(k) = cotangent.row(i);
    }
  }

  template <class Standardized>
  matrix residuals(const Eigen::MatrixBase<Standardized>& standardized, const vector& targets) const {
    return head_loss_gradient(head_, head_prediction(standardized), targets);
  }

  vector hvp_standardized(const matrix& z, const matrix& prediction,
                          const vector& direction) const {
    const index k = bias_.size();
    const index d = input_dim();
    const matrix v = Eigen::Map<const matrix>(direction.data(), k, d);
    const vector vb = direction.tail(k);
    const matrix dlogits = (z * v.transpose()).rowwise() + vb.transpose();
    const matrix dresidual = head_jacobian_product(head_, prediction, dlogits);
    const double n = static_cast<double>(z.rows());
    return flatten(dresidual.transpose() * z / n + l2_ * v,
                   dresidual.colwise().sum().transpose() / n);
  }

  matrix weight_;
  vector bias_;
  output_head head_;
  std::string who_;
  standardizer standardizer_;
  double l2_ = 0.0;
};

}  // namespace attrib::detail
