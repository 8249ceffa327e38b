#pragma once
// Adam (Kingma and Ba, 2015) with decoupled weight decay (AdamW: Loshchilov and Hutter, 2019), the
// one optimizer every trainer in attrib uses: the MLP, the GNNs, the R-GCN, the transformer and
// the mask-learning explainers.
//
// Per entry, in double whatever the stored type: m <- b1 m + (1 - b1) g, v <- b2 v + (1 - b2) g^2,
// theta <- theta (1 - lr wd) - lr (m / c1) / (sqrt(v / c2) + eps) with c_i = 1 - b_i^t, as
// PyTorch's torch.optim.AdamW computes it. The decay shrinks the parameters directly instead of
// being added to the gradient, so it does not pass through Adam's per-coordinate scaling; it
// applies only to the blocks a trainer marks (wd = 0 gives plain Adam). An L2 penalty added to the
// gradient (Adam's "weight decay") is the caller's business: it is part of the loss.
//
// Parameter blocks are numbered slots. Moments are stored in `Tensor` (a plain Eigen type: float
// for the transformer, whose moments PyTorch also keeps in the parameters' type; double
// elsewhere) and created, zero, on a slot's first update.
#include <cmath>
#include <cstddef>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"

namespace attrib {

struct adamw_options {
  double beta1 = 0.9;         // decay of the first moment, in [0, 1)
  double beta2 = 0.999;       // decay of the second moment, in [0, 1)
  double epsilon = 1e-8;      // added to sqrt(v_hat); positive
  double weight_decay = 0.0;  // decoupled decay per unit learning rate; >= 0

  // Throws invalid_argument, naming `who`, when an option is out of range.
  void validate(const std::string& who) const {
    auto in_unit = [](double b) { return b >= 0.0 && b < 1.0; };
    if (!in_unit(beta1) || !in_unit(beta2))
      throw invalid_argument(who + ": beta1 " + std::to_string(beta1) + " and beta2 " + std::to_string(beta2) +
                             " must lie in [0, 1)");
    if (!(epsilon > 0.0) || !std::isfinite(epsilon))
      throw invalid_argument(who + ": epsilon must be positive and finite, got " + std::to_string(epsilon));
    if (!(weight_decay >= 0.0) || !std::isfinite(weight_decay))
      throw invalid_argument(who + ": weight_decay must be finite and >= 0, got " + std::to_string(weight_decay));
  }
};

// True for the blocks AdamW should decay: those with more than one row and column (weight
// matrices, embeddings). 1-row blocks (norm gains, biases) are left alone, because shrinking a
// gain towards 0 changes what a layer computes rather than regularising it.
inline std::vector<bool> decay_matrices(std::span<const float_matrix> tensors) {
  std::vector<bool> mask(tensors.size());
  for (std::size_t k = 0; k < tensors.size(); ++k) mask[k] = tensors[k].rows() > 1 && tensors[k].cols() > 1;
  return mask;
}

template <class Tensor>
class basic_adamw {
 public:
  using scalar = typename Tensor::Scalar;

  // Slots are created by update(); no block decays unless update() is told so.
  explicit basic_adamw(adamw_options options = {}) : options_(options) { options_.validate("adamw"); }

  // A fixed list of blocks for step(): `shapes` gives their shapes (values unused); decay[k] says
  // whether block k decays. Throws invalid_argument on options out of range or a mask of the
  // wrong length.
  basic_adamw(std::span<const Tensor> shapes, std::vector<bool> decay, adamw_options options = {})
      : basic_adamw(options) {
    if (decay.size() != shapes.size())
      throw invalid_argument("adamw: decay mask has " + std::to_string(decay.size()) + " entries for " +
                             std::to_string(shapes.size()) + " tensors");
    decay_ = std::move(decay);
    for (const auto& t : shapes) {
      m_.push_back(Tensor::Zero(t.rows(), t.cols()));
      v_.push_back(Tensor::Zero(t.rows(), t.cols()));
    }
  }

  // Adam steps taken so far.
  std::size_t steps() const { return steps_; }
  const adamw_options& options() const { return options_; }
  // First and second moment estimates of slot k (not bias-corrected).
  const Tensor& first_moment(std::size_t k) const { return m_.at(k); }
  const Tensor& second_moment(std::size_t k) const { return v_.at(k); }

  // Starts a step: the bias corrections move to step t + 1. Call once, then update() each slot.
  void next_step() {
    ++steps_;
    const double t = static_cast<double>(steps_);
    correction1_ = 1.0 - std::pow(options_.beta1, t);
    correction2_ = 1.0 - std::pow(options_.beta2, t);
  }

  // Updates one block from its gradient (an Eigen object of the block's shape and storage
  // order) at learning rate lr, decaying it when `decay`. Throws invalid_argument, changing
  // nothing, on a shape that differs from the slot's first update, a negative learning rate, a
  // non-finite gradient entry, or an update before next_step().
  template <class Parameter, class Gradient>
  void update(std::size_t slot, Eigen::DenseBase<Parameter>& parameter, const Eigen::DenseBase<Gradient>& gradient,
              double lr, bool decay = false) {
    const auto& g = gradient.derived().eval();  // a reference when the gradient is already stored
    static_assert(std::is_same_v<typename Parameter::Scalar, typename std::decay_t<decltype(g)>::Scalar>,
                  "adamw::update: parameter and gradient must have the same scalar type");
    static_assert(Parameter::IsVectorAtCompileTime ||
                      int(Parameter::IsRowMajor) == int(std::decay_t<decltype(g)>::IsRowMajor),
                  "adamw::update: parameter and gradient must have the same storage order");
    check_step(lr, "adamw::update");
    if (g.rows() != parameter.rows() || g.cols() != parameter.cols())
      throw invalid_argument("adamw::update: slot " + std::to_string(slot) + " has a " + shape(parameter) +
                             " parameter and a " + shape(g) + " gradient");
    if (slot >= m_.size()) {
      m_.resize(slot + 1);
      v_.resize(slot + 1);
    }
    if (m_[slot].size() == 0 && parameter.size() > 0) {
      m_[slot] = Tensor::Zero(parameter.rows(), parameter.cols());
      v_[slot] = Tensor::Zero(parameter.rows(), parameter.cols());
    }
    if (m_[slot].size() != parameter.size())
      throw invalid_argument("adamw::update: slot " + std::to_string(slot) + " changed size from " +
                             std::to_string(m_[slot].size()) + " to " + std::to_string(parameter.size()));
    require_finite(g, slot);
    apply(parameter.derived().data(), g.data(), slot, parameter.size(), lr, decay);
  }

  // One step over the constructor's list of blocks. Throws invalid_argument, changing nothing,
  // when the shapes differ from the constructor's, lr is negative, or a gradient entry is not
  // finite.
  void step(std::span<Tensor> params, std::span<const Tensor> grads, double lr) {
    check_step(lr, "adamw::step", /*started=*/false);
    if (params.size() != m_.size() || grads.size() != m_.size() || decay_.size() != m_.size())
      throw invalid_argument("adamw::step: " + std::to_string(params.size()) + " parameters and " +
                             std::to_string(grads.size()) + " gradients for an optimizer of " +
                             std::to_string(decay_.size()) + " tensors");
    for (std::size_t k = 0; k < m_.size(); ++k) {
      const auto shape_ok = [&](const Tensor& t) { return t.rows() == m_[k].rows() && t.cols() == m_[k].cols(); };
      if (!shape_ok(params[k]) || !shape_ok(grads[k]))
        throw invalid_argument("adamw::step: tensor " + std::to_string(k) +
                               " changed shape since the optimizer was made");
      require_finite(grads[k], k);
    }
    next_step();
    for (std::size_t k = 0; k < m_.size(); ++k)
      apply(params[k].data(), grads[k].data(), k, params[k].size(), lr, decay_[k]);
  }

 private:
  template <class T>
  static std::string shape(const T& t) {
    return std::to_string(t.rows()) + " x " + std::to_string(t.cols());
  }

  void check_step(double lr, const char* who, bool started = true) const {
    // 0 is allowed: a cosine schedule ends there.
    if (!(lr >= 0.0) || !std::isfinite(lr))
      throw invalid_argument(std::string(who) + ": learning rate must be finite and >= 0, got " + std::to_string(lr));
    if (started && steps_ == 0)
      throw invalid_argument(std::string(who) + ": call next_step() before the first update");
  }

  template <class T>
  static void require_finite(const T& g, std::size_t slot) {
    if (!g.allFinite())
      throw invalid_argument("adamw: gradient of tensor " + std::to_string(slot) + " has a non-finite entry");
  }

  template <class P, class G>
  void apply(P* p, const G* g, std::size_t slot, index size, double lr, bool decay) {
    const double b1 = options_.beta1, b2 = options_.beta2;
    const double shrink = decay ? 1.0 - lr * options_.weight_decay : 1.0;
    scalar* m = m_[slot].data();
    scalar* v = v_[slot].data();
    for (index i = 0; i < size; ++i) {
      const double gi = static_cast<double>(g[i]);
      const double mi = b1 * static_cast<double>(m[i]) + (1.0 - b1) * gi;
      const double vi = b2 * static_cast<double>(v[i]) + (1.0 - b2) * gi * gi;
      m[i] = static_cast<scalar>(mi);
      v[i] = static_cast<scalar>(vi);
      const double step = (mi / correction1_) / (std::sqrt(vi / correction2_) + options_.epsilon);
      p[i] = static_cast<P>(static_cast<double>(p[i]) * shrink - lr * step);
    }
  }

  adamw_options options_;
  std::vector<bool> decay_;
  std::vector<Tensor> m_;
  std::vector<Tensor> v_;
  std::size_t steps_ = 0;
  double correction1_ = 1.0, correction2_ = 1.0;
};

// The transformer's optimizer: float blocks and moments, arithmetic in double.
using adamw = basic_adamw<float_matrix>;

}  // namespace attrib
