#pragma once
// The result of explaining one output at one point: the values and how far to trust them.
#include <cstddef>
#include <limits>
#include <string>

#include "attrib/core/types.hpp"

namespace attrib {

// How well the interpretable surrogate g fits the game on the neighbourhood it was fitted on.
struct fit_diagnostics {
  double intercept = std::numeric_limits<double>::quiet_NaN();  // g's constant term
  double r_squared = std::numeric_limits<double>::quiet_NaN();  // weighted R^2 on the fitted points
  double weighted_rmse = std::numeric_limits<double>::quiet_NaN();
  std::size_t distinct_points = 0;  // distinct neighbourhood points the fit used
  bool exhaustive = false;          // the whole neighbourhood was enumerated: no sampling error
  bool converged = true;            // false when a target standard error was asked for and not reached
};

struct attribution {
  std::string method;
  vector values;            // one value per player (feature or feature group)
  double base_value = 0.0;  // the game at the empty coalition: the model at the baseline
  double prediction = 0.0;  // the game at the full coalition: the model at the explained point
  // One standard error per value where the method estimates by sampling; empty when exact.
  vector standard_errors;
  std::size_t game_evaluations = 0;   // coalitions (or neighbourhood points) evaluated
  std::size_t model_evaluations = 0;  // rows passed to the model
  fit_diagnostics fit;

  // sum(values) - (prediction - base_value); zero for efficient methods such as Shapley.
  double efficiency_gap() const { return values.sum() - (prediction - base_value); }
  // The same quantity under the name gradient methods use (Integrated Gradients' completeness).
  double completeness_delta() const { return efficiency_gap(); }
  bool has_standard_errors() const { return standard_errors.size() == values.size(); }
};

}  // namespace attrib
