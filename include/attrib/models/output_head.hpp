#pragma once
// The last nonlinearity of a model and the training loss that goes with it. Each head is
// paired with its canonical loss (identity: squared error, sigmoid: binary cross-entropy,
// softmax: cross-entropy), so that the loss gradient with respect to the logits is simply
// prediction - target, and the loss Hessian with respect to the logits equals the head's
// Jacobian. Models use both facts for their gradients and exact Hessian-vector products.
#include <array>
#include <cmath>
#include <string>
#include <string_view>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"
#include "attrib/models/activation.hpp"
#include "attrib/models/detail/checks.hpp"

namespace attrib {

enum class output_head { identity, softmax, sigmoid };

namespace detail {
inline constexpr std::array<std::pair<output_head, std::string_view>, 3> output_head_names{{
    {output_head::identity, "identity"},
    {output_head::softmax, "softmax"},
    {output_head::sigmoid, "sigmoid"},
}};
}  // namespace detail

inline std::string_view output_head_name(output_head h) {
  for (const auto& [value, name] : detail::output_head_names)
    if (value == h) return name;
  return "unknown";
}

inline output_head parse_output_head(std::string_view name) {
  for (const auto& [value, known] : detail::output_head_names)
    if (known == name) return value;
  throw invalid_argument("output head: unknown name '" + std::string(name) +
                         "', expected one of identity, softmax, sigmoid");
}

namespace detail {

// Row-wise softmax, shifted by the row maximum so that exp cannot overflow.
template <class = void>
matrix softmax_rows(const matrix& logits) {
  matrix p(logits.rows(), logits.cols());
  for (index i = 0; i < logits.rows(); ++i) {
    const double top = logits.row(i).maxCoeff();
    p.row(i) = (logits.row(i).array() - top).exp();
    p.row(i) /= p.row(i).sum();
  }
  return p;
}

template <class = void>
matrix apply_head(output_head head, const matrix& logits) {
  switch (head) {
    case output_head::identity: return logits;
    case output_head::softmax: return softmax_rows(logits);
    case output_head::sigmoid: return logits.unaryExpr([](double s) { return logistic(s); });
  }
  return logits;
}

// The head's Jacobian applied to `direction`, row by row. Every head's Jacobian is symmetric,
// so this is also the vector-Jacobian product, and (see above) the loss Hessian-vector product
// with respect to the logits.
template <class = void>
matrix head_jacobian_product(output_head head, const matrix& prediction,
                             const matrix& direction) {
  switch (head) {
    case output_head::identity: return direction;
    case output_head::softmax: {
      const vector inner = (prediction.array() * direction.array()).rowwise().sum();
      return prediction.array() * (direction.colwise() - inner).array();
    }
    case output_head::sigmoid:
      return prediction.array() * (1.0 - prediction.array()) * direction.array();
  }
  return direction;
}

// Checks that `targets` suit the head's loss: class indices for softmax, 0/1 for sigmoid,
// finite reals for identity. Sigmoid and identity losses are defined for one output only.
inline void require_head_targets(output_head head, index outputs, const matrix& inputs,
                                 const vector& targets, const std::string& who) {
  switch (head) {
    case output_head::softmax: require_labels(inputs, targets, outputs, who); return;
    case output_head::sigmoid:
      require(outputs == 1,
              who + ": a sigmoid head's loss needs output_dim 1, got " + std::to_string(outputs));
      require_labels(inputs, targets, 2, who);
      return;
    case output_head::identity:
      require(outputs == 1,
              who + ": a squared-error loss needs output_dim 1, got " + std::to_string(outputs));
      require_targets(inputs, targets, who);
      return;
  }
}

// Per-example loss computed from the logits, in forms that stay finite for any logits.
template <class = void>
vector head_losses(output_head head, const matrix& logits, const vector& targets) {
  vector loss(logits.rows());
  for (index i = 0; i < logits.rows(); ++i) {
    switch (head) {
      case output_head::identity: {
        const double r = logits(i, 0) - targets[i];
        loss[i] = 0.5 * r * r;
        break;
      }
      case output_head::sigmoid: {
        // softplus(s) - y s, with softplus(s) = max(s, 0) + log1p(exp(-|s|)).
        const double s = logits(i, 0);
        loss[i] = std::max(s, 0.0) + std::log1p(std::exp(-std::abs(s))) - targets[i] * s;
        break;
      }
      case output_head::softmax: {
        const double top = logits.row(i).maxCoeff();
        const double lse = top + std::log((logits.row(i).array() - top).exp().sum());
        loss[i] = lse - logits(i, static_cast<index>(targets[i]));
        break;
      }
    }
  }
  return loss;
}

// d loss_i / d logits_i for every example: prediction - target (one-hot for softmax).
template <class = void>
matrix head_loss_gradient(output_head head, const matrix& prediction,
                           const vector& targets) {
  matrix residual = prediction;
  if (head == output_head::softmax) {
    for (index i = 0; i < residual.rows(); ++i) residual(i, static_cast<index>(targets[i])) -= 1.0;
  } else {
    residual.col(0) -= targets;
  }
  return residual;
}

}  // namespace detail
}  // namespace attrib
