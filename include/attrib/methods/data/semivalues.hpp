#pragma once
// Data valuation as semivalues of a data game (players = training points):
//   leave_one_out        occlusion: v(N) - v(N \ {i}), each by exact (warm-started) retraining
//   exact_shapley        Data Shapley by all 2^n coalitions (n <= 30; tests use n <= 16)
//   tmc_shapley          Truncated Monte Carlo Shapley (Ghorbani and Zou 2019)
//   exact_banzhaf        Data Banzhaf by all 2^n coalitions
//   msr_banzhaf          Data Banzhaf by maximum sample reuse (Wang and Jia 2023)
//   exact_semivalue<W>   any semivalue by enumeration, e.g. exact_beta_shapley
//   sampled_semivalue<W> any semivalue by weighted permutation sampling, e.g. beta_shapley
// Each is a (neighbourhood, loss, solver) triple; explain(data_game) runs it.
#include "attrib/concepts/local_approximation.hpp"
#include "attrib/losses/squared_error.hpp"
#include "attrib/methods/feature/banzhaf.hpp"
#include "attrib/methods/feature/occlusion.hpp"
#include "attrib/methods/feature/shapley.hpp"
#include "attrib/neighborhoods/semivalue_kernel.hpp"
#include "attrib/solvers/exhaustive_semivalue.hpp"
#include "attrib/solvers/truncated_permutation_sampling.hpp"

namespace attrib {

using leave_one_out = occlusion;
using tmc_shapley = local_approximation<shapley_kernel, squared_error, truncated_permutation_sampling>;

template <semivalue_weights W>
using exact_semivalue = local_approximation<semivalue_kernel<W>, squared_error, exhaustive>;
template <semivalue_weights W>
using sampled_semivalue = local_approximation<semivalue_kernel<W>, squared_error, weighted_permutation_sampling>;
template <semivalue_weights W>
using truncated_semivalue = local_approximation<semivalue_kernel<W>, squared_error, truncated_permutation_sampling>;

// Beta(alpha, beta) Shapley (Kwon and Zou 2022); Beta(16, 1) by default.
using exact_beta_shapley = exact_semivalue<beta_weights>;
using beta_shapley = sampled_semivalue<beta_weights>;

}  // namespace attrib
