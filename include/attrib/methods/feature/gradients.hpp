#pragma once
// Gradient methods as gradient-matching local approximations (the linear g must match the
// model's gradients on a neighbourhood):
//   vanilla_gradient       point mass at x, input space               (the sigma -> 0 limit)
//   gradient_x_input       point mass at z = 1, masking space, zero baseline
//   smoothgrad             Gaussian offsets in input space; statistic mean (SmoothGrad),
//                          mean_square (SmoothGrad-squared) or variance (VarGrad)
//   integrated_gradients   the straight path from the baseline, by a quadrature rule
//   expected gradients     integrated_gradients on a game with a background set of baselines
#include "attrib/concepts/local_approximation.hpp"
#include "attrib/games/perturbed_model.hpp"
#include "attrib/losses/gradient_matching.hpp"
#include "attrib/methods/feature/clime.hpp"
#include "attrib/neighborhoods/gaussian.hpp"
#include "attrib/neighborhoods/point_mass.hpp"
#include "attrib/neighborhoods/straight_path.hpp"
#include "attrib/solvers/gradient_average.hpp"

namespace attrib {

using vanilla_gradient = local_approximation<point_mass, gradient_matching, gradient_average>;
using smoothgrad = local_approximation<gaussian, gradient_matching, gradient_average>;
using integrated_gradients = local_approximation<straight_path, gradient_matching, gradient_average>;

// Gradient x input is the same triple as the vanilla gradient, taken at the explained point in
// masking space against a zero baseline: d f(b + z (x - b)) / dz at z = 1 is x * grad f(x)
// when b = 0. Use it on zero_baseline_model(m, x).
inline constexpr vanilla_gradient gradient_x_input{.neighborhood = {.at = 1.0}};

// The model at x with the zero vector as baseline, for gradient_x_input.
template <class M>
auto zero_baseline_model(M m, vector x, index output = 0) {
  const index d = x.size();
  return masked_model(std::move(m), std::move(x), matrix::Zero(1, d), output);
}

}  // namespace attrib
