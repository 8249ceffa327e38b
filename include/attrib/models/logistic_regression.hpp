#pragma once
// Binary and multinomial logistic regression, trained by Newton's method with an L2 penalty.
// With one output it predicts P(y = 1) through a sigmoid; with K >= 2 outputs it predicts the
// K softmax class probabilities.
#include <Eigen/Cholesky>
#include <algorithm>
#include <cmath>
#include <string>
#include <string_view>
#include <type_traits>

#include "attrib/concepts/model.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/training_report.hpp"
#include "attrib/core/types.hpp"
#include "attrib/models/detail/checks.hpp"
#include "attrib/models/detail/linear_model_base.hpp"
#include "attrib/models/output_head.hpp"

namespace attrib {

// What predict() returns: probabilities, or the logits before the sigmoid/softmax. Explaining
// logits keeps attributions additive on the scale the model is linear in.
enum class logistic_output { probability, logit };

inline std::string_view logistic_output_name(logistic_output o) {
  return o == logistic_output::probability ? "probability" : "logit";
}

inline logistic_output parse_logistic_output(std::string_view name) {
  if (name == "probability") return logistic_output::probability;
  if (name == "logit") return logistic_output::logit;
  throw invalid_argument("logistic output: unknown name '" + std::string(name) +
                         "', expected probability or logit");
}

struct newton_options {
  double l2 = 1e-3;          // penalty (l2 / 2) ||W||^2 added to the mean cross-entropy
  double tolerance = 1e-10;  // stop when the gradient's largest entry is below this
  int max_iterations = 100;
  bool warm_start = false;   // start from the current parameters instead of zero
};

class logistic_regression : public detail::linear_model_base<> {
 public:
  // All parameters zero; outputs == 1 for binary, K >= 2 for K classes.
  logistic_regression(index inputs, index outputs,
                      logistic_output output = logistic_output::probability)
      : logistic_regression(matrix::Zero(positive(outputs, "outputs"), positive(inputs, "inputs")),
                            vector::Zero(positive(outputs, "outputs")), output) {}

  // weight is outputs x inputs and acts on standardised inputs; bias has one entry per output.
  logistic_regression(matrix weight, vector bias,
                      logistic_output output = logistic_output::probability)
      : linear_model_base(weight, std::move(bias), head_for(weight.rows()), "logistic_regression"),
        output_(output) {}

  index output_dim() const { return bias().size(); }
  // The number of classes: 2 for a binary model.
  index classes() const { return std::max<index>(2, output_dim()); }

  logistic_output output() const { return output_; }
  void set_output(logistic_output output) { output_ = output; }

  matrix predict(const matrix& inputs) const {
    matrix s = logits(inputs);
    return output_ == logistic_output::logit ? s : detail::apply_head(head(), s);
  }

  // For each row i, output_cotangent.row(i) times the Jacobian of predict at inputs.row(i):
  // the gradient of <cotangent, predict(x)> with respect to the raw inputs.
  matrix vjp_inputs(const matrix& inputs, const matrix& output_cotangent) const {
    detail::require_input_columns(inputs, input_dim(), who());
    detail::require_cotangent_shape(inputs, output_cotangent, output_dim(), who());
    const matrix dlogits =
        output_ == logistic_output::logit
            ? output_cotangent
            : detail::head_jacobian_product(head(), detail::apply_head(head(), logits(inputs)),
                                            output_cotangent);
    return input_standardizer().pull_back(dlogits * weight());
  }

  // Minimises loss() by damped Newton steps with a backtracking line search, from zero
  // parameters (or the current ones with options.warm_start), and sets l2() to options.l2.
  // Labels are class indices (0/1 when binary).
  // A template only so that the Newton solver compiles where a model is trained.
  template <class Inputs = matrix>
  newton_report train(const std::type_identity_t<Inputs>& inputs, const vector& labels,
                      const newton_options& options = {}) {
    detail::require(options.tolerance > 0 && options.max_iterations >= 0,
                    "logistic_regression::train: tolerance must be positive and "
                    "max_iterations non-negative");
    check_training(inputs, labels);
    set_l2(options.l2);
    if (!options.warm_start) set_parameters(vector::Zero(parameter_count()));
    newton_report report;
    vector theta = parameters();
    report.loss = loss(inputs, labels);
    for (;;) {
      const vector gradient = loss_gradient(inputs, labels);
      report.gradient_norm = gradient.lpNorm<Eigen::Infinity>();
      if (report.gradient_norm <= options.tolerance) {
        report.converged = true;
        break;
      }
      if (report.iterations == options.max_iterations) break;
      ++report.iterations;
      matrix h = hessian(inputs, labels);
      // The softmax Hessian is singular along "add a constant to every class's bias" (and, with
      // l2 = 0, along the same shift of the weights). The gradient is orthogonal to that
      // direction, so a tiny ridge only selects the minimum-norm step.
      h.diagonal().array() += 1e-12 * (1.0 + h.diagonal().cwiseAbs().maxCoeff());
      const vector step = -h.ldlt().solve(gradient);
      const double slope = gradient.dot(step);
      double t = 1.0;
      double trial_loss = report.loss;
      for (; t > 1e-12; t *= 0.5) {
        set_parameters(theta + t * step);
        trial_loss = loss(inputs, labels);
        if (trial_loss <= report.loss + 1e-4 * t * slope) break;
      }
      if (t <= 1e-12) {  // no decrease possible: the objective is flat to rounding
        set_parameters(theta);
        break;
      }
      theta = parameters();
      report.loss = trial_loss;
    }
    return report;
  }

 private:
  static index positive(index count, const char* name) {
    detail::require(count > 0, std::string("logistic_regression: ") + name +
                                   " must be positive, got " + std::to_string(count));
    return count;
  }
  static output_head head_for(index outputs) {
    return outputs == 1 ? output_head::sigmoid : output_head::softmax;
  }

  logistic_output output_;
};

static_assert(model<logistic_regression>);

}  // namespace attrib
