#pragma once
// Banzhaf values: the uniform neighbourhood with squared error.
//   exact_banzhaf  all 2^n coalitions, closed form (n <= 30)
//   msr_banzhaf    maximum sample reuse estimator with standard errors
#include "attrib/concepts/local_approximation.hpp"
#include "attrib/losses/squared_error.hpp"
#include "attrib/neighborhoods/uniform_coalitions.hpp"
#include "attrib/solvers/exhaustive.hpp"
#include "attrib/solvers/maximum_sample_reuse.hpp"

namespace attrib {

using exact_banzhaf = local_approximation<uniform_coalitions, squared_error, exhaustive>;
using msr_banzhaf = local_approximation<uniform_coalitions, squared_error, maximum_sample_reuse>;

}  // namespace attrib
