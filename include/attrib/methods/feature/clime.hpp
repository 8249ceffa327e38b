#pragma once
// C-LIME (continuous LIME): Gaussian offsets around x in input space, equally weighted, fitted
// by least squares. For a smooth model the slope tends to the gradient as sigma -> 0; for a
// linear model it is the weight vector for every sigma. Pair it with the additive_noise
// perturbation (see noisy_model).
#include "attrib/concepts/local_approximation.hpp"
#include "attrib/games/perturbed_model.hpp"
#include "attrib/losses/squared_error.hpp"
#include "attrib/neighborhoods/gaussian.hpp"
#include "attrib/perturbations/additive_noise.hpp"
#include "attrib/solvers/sampled_regression.hpp"

namespace attrib {

using clime = local_approximation<gaussian, squared_error, sampled_regression>;

// The model around x as a function of input-space offsets, one output picked.
template <class M>
auto noisy_model(M m, vector x, index output = 0) {
  const index d = x.size();
  return perturbed_model<M, additive_noise>(std::move(m), std::move(x), additive_noise(d), output);
}

}  // namespace attrib
