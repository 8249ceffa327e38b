#pragma once
// AdamW (Loshchilov and Hutter, "Decoupled Weight Decay Regularization", 2019) over a list of
// float tensors, as PyTorch's torch.optim.AdamW computes it: the decay shrinks the parameters
// directly, theta <- theta (1 - lr wd), instead of being added to the gradient, so it does not
// pass through Adam's per-coordinate scaling. Moments are bias-corrected. Decay applies to the
// tensors marked in the decay mask; the usual choice (decay_matrices) marks 2-D tensors - weight
// matrices and the embedding - and leaves 1-row tensors (norm gains, biases) undecayed, because
// shrinking a gain towards 0 changes what a layer computes rather than regularising it.
//
// Also here: global-norm gradient clipping as torch.nn.utils.clip_grad_norm_ does it, less its
// 1e-6 in the denominator, so that the clipped norm is max_norm exactly; and a learning rate
// schedule with linear warmup and cosine decay. Every sum runs in a fixed order in double,
// so results do not depend on threads or batch composition.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numbers>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"
#include "attrib/transformer/hooks.hpp"

namespace attrib {

struct adamw_options {
  double beta1 = 0.9;    // decay of the first moment, in [0, 1)
  double beta2 = 0.999;  // decay of the second moment, in [0, 1)
  double epsilon = 1e-8;      // added to sqrt(v_hat); positive
  double weight_decay = 0.0;  // decoupled decay per unit learning rate; >= 0
};

// True for the tensors AdamW should decay: those with more than one row and column.
inline std::vector<bool> decay_matrices(std::span<const float_matrix> tensors) {
  std::vector<bool> mask(tensors.size());
  for (std::size_t k = 0; k < tensors.size(); ++k)
    mask[k] = tensors[k].rows() > 1 && tensors[k].cols() > 1;
  return mask;
}

class adamw {
 public:
  // `shapes` gives the tensors' shapes (values unused); decay[k] says whether tensor k decays.
  // Throws invalid_argument on options out of range or a mask of the wrong length.
  adamw(std::span<const float_matrix> shapes, std::vector<bool> decay, adamw_options options = {})
      : options_(options), decay_(std::move(decay)) {
    auto in_unit = [](double b) { return b >= 0.0 && b < 1.0; };
    if (!in_unit(options_.beta1) || !in_unit(options_.beta2))
      throw invalid_argument("adamw: beta1 " + std::to_string(options_.beta1) + " and beta2 " +
                             std::to_string(options_.beta2) + " must lie in [0, 1)");
    if (!(options_.epsilon > 0.0) || !std::isfinite(options_.epsilon))
      throw invalid_argument("adamw: epsilon must be positive and finite, got " +
                             std::to_string(options_.epsilon));
    if (!(options_.weight_decay >= 0.0) || !std::isfinite(options_.weight_decay))
      throw invalid_argument("adamw: weight_decay must be finite and >= 0, got " +
                             std::to_string(options_.weight_decay));
    if (decay_.size() != shapes.size())
      throw invalid_argument("adamw: decay mask has " + std::to_string(decay_.size()) +
                             " entries for " + std::to_string(shapes.size()) + " tensors");
    for (const auto& t : shapes) {
      m_.push_back(float_matrix::Zero(t.rows(), t.cols()));
      v_.push_back(float_matrix::Zero(t.rows(), t.cols()));
    }
  }

  // Adam steps taken so far.
  std::size_t steps() const { return steps_; }
  const adamw_options& options() const { return options_; }
  // First and second moment estimates of tensor k (not bias-corrected).
  const float_matrix& first_moment(std::size_t k) const { return m_.at(k); }
  const float_matrix& second_moment(std::size_t k) const { return v_.at(k); }

  // One update of `params` from `grads` at learning rate `lr`. Throws invalid_argument, changing
  // nothing, when the shapes differ from the constructor's, lr is negative, or a gradient entry
  // is not finite.
  void step(std::span<float_matrix> params, std::span<const float_matrix> grads, double lr) {
    // 0 is allowed: a cosine schedule ends there.
    if (!(lr >= 0.0) || !std::isfinite(lr))
      throw invalid_argument("adamw::step: learning rate must be finite and >= 0, got " +
                             std::to_string(lr));
    if (params.size() != m_.size() || grads.size() != m_.size())
      throw invalid_argument("adamw::step: " + std::to_string(params.size()) + " parameters and " +
                             std::to_string(grads.size()) + " gradients for an optimizer of " +
                             std::to_string(m_.size()) + " tensors");
    for (std::size_t k = 0; k < m_.size(); ++k) {
      const auto shape_ok = [&](const float_matrix& t) {
        return t.rows() == m_[k].rows() && t.cols() == m_[k].cols();
      };
      if (!shape_ok(params[k]) || !shape_ok(grads[k]))
        throw invalid_argument("adamw::step: tensor " + std::to_string(k) +
                               " changed shape since the optimizer was made");
      if (!grads[k].allFinite())
        throw invalid_argument("adamw::step: gradient of tensor " + std::to_string(k) +
                               " has a non-finite entry");
    }
    ++steps_;
    const double t = static_cast<double>(steps_);
    const double b1 = options_.beta1;
    const double b2 = options_.beta2;
    const double correction1 = 1.0 - std::pow(b1, t);
    const double correction2 = 1.0 - std::pow(b2, t);
    for (std::size_t k = 0; k < m_.size(); ++k) {
      const double shrink = decay_[k] ? 1.0 - lr * options_.weight_decay : 1.0;
      float* p = params[k].data();
      const float* g = grads[k].data();
      float* m = m_[k].data();
      float* v = v_[k].data();
      for (index i = 0; i < params[k].size(); ++i) {
        const double gi = g[i];
        const double mi = b1 * m[i] + (1.0 - b1) * gi;
        const double vi = b2 * v[i] + (1.0 - b2) * gi * gi;
        m[i] = static_cast<float>(mi);
        v[i] = static_cast<float>(vi);
        const double update = (mi / correction1) / (std::sqrt(vi / correction2) + options_.epsilon);
        p[i] = static_cast<float>(static_cast<double>(p[i]) * shrink - lr * update);
      }
    }
  }

 private:
  adamw_options options_;
  std::vector<bool> decay_;
  std::vector<float_matrix> m_;
  std::vector<float_matrix> v_;
  std::size_t steps_ = 0;
};

// The Euclidean norm of all gradient entries together, summed in tensor and row-major order in
// double. Throws invalid_argument naming the first tensor with a non-finite entry.
inline double global_gradient_norm(std::span<const float_matrix> grads) {
  double sum = 0.0;
  for (std::size_t k = 0; k < grads.size(); ++k) {
    if (!grads[k].allFinite())
      throw invalid_argument("global_gradient_norm: gradient of tensor " + std::to_string(k) +
                             " has a non-finite entry");
    const float* g = grads[k].data();
    for (index i = 0; i < grads[k].size(); ++i) sum += static_cast<double>(g[i]) * g[i];
  }
  return std::sqrt(sum);
}

// Scales all gradients by max_norm / norm when their global norm exceeds max_norm, so that the
// clipped norm is max_norm; returns the norm before clipping. max_norm must be positive.
inline double clip_gradient_norm(std::span<float_matrix> grads, double max_norm) {
  if (!(max_norm > 0.0))
    throw invalid_argument("clip_gradient_norm: max_norm must be positive, got " +
                           std::to_string(max_norm));
  const double norm = global_gradient_norm(grads);
  if (norm > max_norm) {
    const double scale = max_norm / norm;
    for (auto& g : grads) {
      float* data = g.data();
      for (index i = 0; i < g.size(); ++i)
        data[i] = static_cast<float>(static_cast<double>(data[i]) * scale);
    }
  }
  return norm;
}

// Learning rate at step s (0-based) of `total_steps`: rising linearly to `peak` over the first
// `warmup_steps` steps (peak (s + 1) / warmup), then falling along half a cosine from peak to
// `final` at the last step.
struct warmup_cosine_schedule {
  double peak = 1e-3;
  double final = 0.0;
  std::size_t warmup_steps = 0;
  std::size_t total_steps = 1;

  void validate() const {
    if (!(peak > 0.0) || !std::isfinite(peak))
      throw invalid_argument("warmup_cosine_schedule: peak learning rate must be positive, got " +
                             std::to_string(peak));
    if (!(final >= 0.0) || final > peak)
      throw invalid_argument("warmup_cosine_schedule: final learning rate " +
                             std::to_string(final) + " must lie in [0, peak]");
    if (total_steps == 0 || warmup_steps > total_steps)
      throw invalid_argument("warmup_cosine_schedule: need 0 < total_steps (" +
                             std::to_string(total_steps) + ") and warmup_steps (" +
                             std::to_string(warmup_steps) + ") <= total_steps");
  }

  double operator()(std::size_t step) const {
    if (step < warmup_steps)
      return peak * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
    const std::size_t decay_steps = total_steps - warmup_steps;
    if (decay_steps <= 1) return peak;
    const double progress = std::min(1.0, static_cast<double>(step - warmup_steps) /
                                              static_cast<double>(decay_steps - 1));
    return final + 0.5 * (peak - final) * (1.0 + std::cos(std::numbers::pi * progress));
  }
};

}  // namespace attrib
