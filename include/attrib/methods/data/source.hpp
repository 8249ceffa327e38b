#pragma once
// SOURCE (Bae, Lin, Lorraine and Grosse 2024, "Training data attribution via approximate
// unrolling"): unrolled differentiation through a recorded training run, made cheap by cutting the
// run into L segments and treating each segment as if its Hessian and gradients were constant.
//
// Removing point j (down-weighting it by 1/N in the mean loss) changes the final parameters, to
// first order, by
//   delta theta_T(j) = (1/N) sum_l S_L ... S_{l+1} r_l(j)
// where segment l has K_l steps of mean size eta_l, H_l is the mean over its checkpoints of the
// full training Hessian (penalty included) and g_l(j) the mean of grad l_j there, and
//   exponential (the paper's SOURCE):  S_l = exp(-eta_l K_l H_l),
//                                      r_l = (I - exp(-eta_l K_l H_l)) H_l^-1 g_l(j)
//   discrete (before the paper's last   S_l = (I - eta_l H_l)^K_l,
//   step, exact for constant H, g):      r_l = (I - (I - eta_l H_l)^K_l) H_l^-1 g_l(j)
// (r_l sums the segment's K_l steps of eta_l g_l, each propagated by the steps after it). The
// score of j on a test point is grad L_test(theta_T) . delta theta_T(j), the predicted change of
// the test loss when j is removed, the orientation of SGD-Influence. Both factors are functions of
// H_l, computed from its eigendecomposition (explicit p x p Hessians: small models); a zero
// eigenvalue takes the limit eta_l K_l.
//
// Limits: one segment at a stationary point with eta K -> infinity gives (1/N) g_test^T H^-1 g_j,
// the influence function's leave-one-out prediction (-influence / N); L = T segments of one
// full-batch step, discrete form, give the exact unrolled first-order answer (SGD-Influence).
//
// Composition: representation -> transform -> inner product, summed over segments as TracIn sums
// over checkpoints: segment l's training features are the mean gradients g_l, the test side is
// mapped by the p x p matrix S_L ... S_{l+1} F_l (F_l = the r_l factor), scale 1/N.
#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "attrib/concepts/trainable_model.hpp"
#include "attrib/core/data_attribution.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/parallel.hpp"
#include "attrib/core/types.hpp"
#include "attrib/core/validate.hpp"
#include "attrib/methods/data/grad_similarity.hpp"
#include "attrib/methods/data/sgd_influence.hpp"
#include "attrib/methods/data/sgd_trajectory.hpp"

namespace attrib {

enum class source_unroll { exponential, discrete };

struct source_options {
  index segments = 1;                 // L, 1 <= L <= steps
  index checkpoints_per_segment = 0;  // evenly spaced steps averaged per segment; 0: every step
  source_unroll unroll = source_unroll::exponential;
  std::size_t threads = 1;  // segments are averaged in parallel; results do not depend on it
};

namespace detail {
// Test rows mapped by a fixed matrix (row phi -> phi M), training rows untouched.
struct linear_map_transform {
  matrix map;
  transformed_features train(const matrix& phi) const { return {phi, {}}; }
  transformed_features test(const matrix& phi) const { return {phi * map, {}}; }
};

// The two spectral factors of one segment with total step eta K, for eigenvalue lambda:
// propagation s(lambda) and accumulation f(lambda) = (1 - s(lambda)) / lambda.
struct source_factors {
  double propagation;
  double accumulation;
};

inline source_factors source_spectrum(double lambda, double eta, index steps, source_unroll unroll) {
  const double k = static_cast<double>(steps);
  if (lambda == 0.0) return {1.0, eta * k};
  if (unroll == source_unroll::exponential) {
    const double e = std::expm1(-eta * k * lambda);  // exp(-eta K lambda) - 1, accurate near 0
    return {1.0 + e, -e / lambda};
  }
  const double x = eta * lambda;
  if (x < 1.0) {  // (1 - x)^K through log1p keeps 1 - (1 - x)^K accurate when x is tiny
    const double e = std::expm1(k * std::log1p(-x));
    return {1.0 + e, -e / lambda};
  }
  const double s = std::pow(1.0 - x, k);
  return {s, (1.0 - s) / lambda};
}

struct source_segment {
  matrix gradients;    // n x p, mean over the checkpoints of the per-example gradients
  matrix propagation;  // S_l
  matrix accumulation; // F_l
};
}  // namespace detail

template <twice_differentiable_model M>
data_attribution source(const M& model, const sgd_trajectory& trajectory, const matrix& train_x,
                        const vector& train_y, const matrix& test_x, const vector& test_y,
                        const source_options& options = {}) {
  const std::string who = "source";
  detail::require_training_set(model, train_x, train_y, who);
  detail::require_test_set(model, test_x, test_y, who);
  detail::require_trajectory(trajectory, model.parameter_count(), train_x.rows(), who);
  const index steps = trajectory.steps();
  detail::require(options.segments >= 1 && options.segments <= steps,
                  who + ": segments is " + std::to_string(options.segments) +
                      ", expected between 1 and the trajectory's steps (" + std::to_string(steps) + ")");
  detail::require(options.checkpoints_per_segment >= 0,
                  who + ": checkpoints_per_segment must be >= 0 (0: every step), got " +
                      std::to_string(options.checkpoints_per_segment));
  const index segments = options.segments;
  const index p = model.parameter_count();
  const auto boundary = [&](index l) { return l * steps / segments; };  // exact in integers; steps <= 2^40

  std::vector<detail::source_segment> parts(static_cast<std::size_t>(segments));
  parallel_for(static_cast<std::size_t>(segments), options.threads, [&](std::size_t c) {
    const auto l = static_cast<index>(c);
    const index begin = boundary(l), count = boundary(l + 1) - begin;
    const index used = options.checkpoints_per_segment == 0 ? count : std::min(count, options.checkpoints_per_segment);
    M local = model;
    matrix hessian = matrix::Zero(p, p);
    matrix gradients = matrix::Zero(train_x.rows(), p);
    for (index i = 0; i < used; ++i) {
      // Evenly spaced: the middle step of each of `used` equal parts of the segment.
      const index t = begin + (2 * i + 1) * count / (2 * used);
      local.set_parameters(trajectory.at(t));
      hessian += local.hessian(train_x, train_y);
      gradients += local.per_example_loss_gradients(train_x, train_y);
    }
    hessian /= static_cast<double>(used);
    gradients /= static_cast<double>(used);
    double eta = 0;
    for (index t = begin; t < begin + count; ++t) eta += trajectory.learning_rates[static_cast<std::size_t>(t)];
    eta /= static_cast<double>(count);
    const Eigen::MatrixXd symmetric = 0.5 * (hessian + hessian.transpose());
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(symmetric);
    detail::require(eig.info() == Eigen::Success,
                    who + ": the eigendecomposition of segment " + std::to_string(l) + "'s mean Hessian failed");
    vector s(p), f(p);
    for (index k = 0; k < p; ++k) {
      const detail::source_factors factors = detail::source_spectrum(eig.eigenvalues()[k], eta, count, options.unroll);
      s[k] = factors.propagation;
      f[k] = factors.accumulation;
    }
    const Eigen::MatrixXd& q = eig.eigenvectors();
    auto& part = parts[c];
    part.gradients = std::move(gradients);
    part.propagation = q * s.asDiagonal() * q.transpose();
    part.accumulation = q * f.asDiagonal() * q.transpose();
  });

  M last = model;
  last.set_parameters(trajectory.final_parameters());
  const matrix test_gradients = last.per_example_loss_gradients(test_x, test_y);
  const double scale = 1.0 / static_cast<double>(train_x.rows());
  data_attribution out{"source", matrix::Zero(train_x.rows(), test_x.rows()), {}};
  matrix later = matrix::Identity(p, p);  // S_L ... S_{l+1}
  for (index l = segments - 1; l >= 0; --l) {
    const auto& part = parts[static_cast<std::size_t>(l)];
    // score(j, k) = g_k^T S_L ... S_{l+1} F_l g_l(j): the test row g_k^T is mapped by S_L ... S_{l+1} F_l.
    const detail::linear_map_transform transform{later * part.accumulation};
    out.scores += inner_product_attribution(who, part.gradients, test_gradients, transform, scale).scores;
    later = later * part.propagation;
  }
  return out;
}

}  // namespace attrib
