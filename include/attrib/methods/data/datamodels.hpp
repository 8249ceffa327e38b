#pragma once
// Datamodels (Ilyas et al. 2022): a penalised linear regression of a model output (e.g. one
// test point's correct-class margin, the data game's value with correct_margin as utility) on
// the training masks of random alpha-fraction subsets. It is a local approximation like LIME:
// neighbourhood subset_fraction{alpha}, loss ridge or lasso (the paper's choice), solver
// sampled_regression (each distinct mask retrained once; sandwich standard errors for ridge).
//   datamodels<lasso>{.neighborhood = {.alpha = 0.5}, .loss = {.alpha = 1e-3},
//                     .solver = {.budget = 2000}}.explain(game)
#include "attrib/concepts/local_approximation.hpp"
#include "attrib/losses/lasso.hpp"
#include "attrib/losses/ridge.hpp"
#include "attrib/neighborhoods/subset_fraction.hpp"
#include "attrib/solvers/sampled_regression.hpp"

namespace attrib {

template <class Penalty = ridge>
using datamodels = local_approximation<subset_fraction, Penalty, sampled_regression>;

}  // namespace attrib
