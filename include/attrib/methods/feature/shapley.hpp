#pragma once
// Shapley values: the Shapley-kernel neighbourhood with squared error, computed three ways.
//   exact_shapley        all 2^n coalitions, closed form, multithreaded (n <= 30)
//   kernel_shap          sampled regression: paired sampling, whole-size enumeration,
//                        deduplication, exact efficiency, standard errors, early stopping
//   permutation_shapley  antithetic permutation sampling
#include "attrib/concepts/local_approximation.hpp"
#include "attrib/losses/squared_error.hpp"
#include "attrib/neighborhoods/shapley_kernel.hpp"
#include "attrib/solvers/exhaustive.hpp"
#include "attrib/solvers/permutation_sampling.hpp"
#include "attrib/solvers/sampled_regression.hpp"

namespace attrib {

using exact_shapley = local_approximation<shapley_kernel, squared_error, exhaustive>;
using kernel_shap = local_approximation<shapley_kernel, squared_error, sampled_regression>;
using permutation_shapley = local_approximation<shapley_kernel, squared_error, permutation_sampling>;

}  // namespace attrib
