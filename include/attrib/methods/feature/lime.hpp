#pragma once
// LIME: uniform coalitions weighted by an exponential kernel of their distance to x, fitted by
// a penalised linear surrogate (ridge by default, as in lime; lasso for sparse explanations).
#include "attrib/concepts/local_approximation.hpp"
#include "attrib/losses/lasso.hpp"
#include "attrib/losses/ridge.hpp"
#include "attrib/neighborhoods/exponential_kernel.hpp"
#include "attrib/solvers/sampled_regression.hpp"

namespace attrib {

template <class Penalty = ridge>
using lime = local_approximation<exponential_kernel, Penalty, sampled_regression>;

}  // namespace attrib
