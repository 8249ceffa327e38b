#pragma once
// Ready trainers and utilities for data games.
//   logistic_trainer   L2 logistic regression (binary or multinomial) by damped Newton, warm-
//                      started from the full-data optimum: retraining on N \ {i} then takes a
//                      few Newton steps, which is what makes exact leave-one-out affordable.
//   accuracy           fraction of validation rows classified correctly
//   log_likelihood     mean log p(y | x) on the validation rows
//   correct_margin     mean margin of the correct class (TRAK's and datamodels' output function)
// Each utility gives trivial_value(y_val): its value for the uniform predictor (every class
// 1/K), the data game's value of a coalition with no (or too little) data.
#include <Eigen/Cholesky>
#include <algorithm>
#include <cmath>
#include <concepts>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>

#include "attrib/concepts/model.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"
#include "attrib/models/detail/checks.hpp"
#include "attrib/models/logistic_regression.hpp"
#include "attrib/models/standardizer.hpp"

namespace attrib {

namespace detail {
inline void require_classes(index classes, const char* who) {
  require(classes >= 2, std::string(who) + ": classes must be >= 2, got " + std::to_string(classes));
}

// The class index predicted for each row, and log p(y | x), from a model's predict() output:
// one column is P(y = 1) of a binary model, K columns are class probabilities.
template <model M>
matrix class_probabilities(const M& m, const matrix& inputs) {
  const matrix p = m.predict(inputs);
  if (p.cols() != 1) return p;
  matrix both(p.rows(), 2);
  both.col(0) = 1.0 - p.col(0).array();
  both.col(1) = p.col(0);
  return both;
}
}  // namespace detail

// Newton's method from a given start (zero, or the warm start).
template <class = void>  // compiled where it is called
newton_report newton_fit(logistic_regression& model, const matrix& inputs, const vector& labels,
                         newton_options options, const vector& start) {
  model.set_parameters(start);
  options.warm_start = true;
  return model.train(inputs, labels, options);
}

struct logistic_trainer {
  index inputs = 0;     // feature count
  index classes = 2;    // 2: binary (sigmoid); K > 2: multinomial (softmax)
  newton_options options{};
  standardizer scaling{};         // applied inside the model; identity by default
  std::optional<vector> start{};  // warm start; set by warm_start_on

  index outputs() const { return classes == 2 ? 1 : classes; }

  template <class Inputs = matrix>  // a template only so that training compiles where it happens
  logistic_regression operator()(const std::type_identity_t<Inputs>& x, const vector& y) const {
    logistic_regression model(positive_inputs(), outputs());
    model.set_standardizer(scaling);
    newton_fit(model, x, y, options, start ? *start : vector(vector::Zero(model.parameter_count())));
    return model;
  }

  void validate(const matrix& x, const vector& y, const std::string& name) const {
    detail::require_classes(classes, "logistic_trainer");
    detail::require(x.cols() == positive_inputs(), name + ": inputs have " + std::to_string(x.cols()) +
                                                       " columns, expected " + std::to_string(inputs));
    detail::require_labels(x, y, classes, name);
  }

  // The full-data optimum becomes every retraining's starting point.
  template <class Inputs = matrix>
  void warm_start_on(const std::type_identity_t<Inputs>& x, const vector& y) {
    logistic_trainer cold = *this;
    cold.start.reset();
    start = cold(x, y).parameters();
  }

 private:
  index positive_inputs() const {
    detail::require(inputs >= 1, "logistic_trainer: inputs must be >= 1, got " + std::to_string(inputs));
    return inputs;
  }
};

struct accuracy {
  index classes = 2;
  template <model M>
  double operator()(const M& m, const matrix& x, const vector& y) const {
    const matrix p = detail::class_probabilities(m, x);
    double correct = 0.0;
    for (index r = 0; r < p.rows(); ++r) {
      Eigen::Index best = 0;
      p.row(r).maxCoeff(&best);
      correct += static_cast<double>(best) == y(r) ? 1.0 : 0.0;
    }
    return correct / static_cast<double>(p.rows());
  }
  // A uniformly random guess is right with probability 1/K.
  double trivial_value(const vector&) const {
    detail::require_classes(classes, "accuracy");
    return 1.0 / static_cast<double>(classes);
  }
};

struct log_likelihood {
  index classes = 2;
  template <model M>
  double operator()(const M& m, const matrix& x, const vector& y) const {
    const matrix p = detail::class_probabilities(m, x);
    double total = 0.0;
    for (index r = 0; r < p.rows(); ++r)
      total += std::log(std::max(p(r, static_cast<index>(y(r))), std::numeric_limits<double>::min()));
    return total / static_cast<double>(p.rows());
  }
  double trivial_value(const vector&) const {
    detail::require_classes(classes, "log_likelihood");
    return -std::log(static_cast<double>(classes));
  }
};

// logit_y - log sum_{c != y} exp(logit_c), which is log(p / (1 - p)) for the correct class;
// for a binary model (one logit s) it is (2y - 1) s. Needs a model with logits().
struct correct_margin {
  index classes = 2;
  template <model M>
    requires requires(const M& m, const matrix& x) {
      { m.logits(x) } -> std::convertible_to<matrix>;
    }
  double operator()(const M& m, const matrix& x, const vector& y) const {
    const matrix s = m.logits(x);
    double total = 0.0;
    for (index r = 0; r < s.rows(); ++r) {
      const auto label = static_cast<index>(y(r));
      if (s.cols() == 1) {
        total += (label == 1 ? 1.0 : -1.0) * s(r, 0);
        continue;
      }
      double top = -std::numeric_limits<double>::infinity();
      for (index c = 0; c < s.cols(); ++c)
        if (c != label) top = std::max(top, s(r, c));
      double sum = 0.0;
      for (index c = 0; c < s.cols(); ++c)
        if (c != label) sum += std::exp(s(r, c) - top);
      total += s(r, label) - (top + std::log(sum));
    }
    return total / static_cast<double>(s.rows());
  }
  // Equal logits: 0 for a binary model, -log(K - 1) for K classes.
  double trivial_value(const vector&) const {
    detail::require_classes(classes, "correct_margin");
    return -std::log(static_cast<double>(classes - 1));
  }
};

}  // namespace attrib
