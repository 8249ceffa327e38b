#pragma once
// COAR (Shah et al. 2024, "Decomposing and Editing Predictions by Modeling Model Computation"):
// component attribution by regression. The model's output under random ablations of a fixed
// fraction of its components is regressed on the ablation masks, and the linear coefficients are
// the components' attributions; the fit predicts the effect of ablating any set of components.
// On a component game (transformer_component_game) that is exactly a datamodel: the
// subset_fraction neighbourhood (coalitions keeping round(alpha n) players), a ridge (or lasso)
// loss and the sampled_regression solver - the same triple that attributes predictions to
// training data.
//
//   attrib::coar<>{.neighborhood = {.alpha = 0.9}, .solver = {.budget = 1000}}.explain(game)
//
// keeps 90% of the components in each sample (COAR ablates 2.5-10%); values are the
// coefficients, fit.intercept the constant, fit.r_squared the fit on the samples.
#include "attrib/methods/data/datamodels.hpp"

namespace attrib {

template <class Penalty = ridge>
using coar = datamodels<Penalty>;

}  // namespace attrib
