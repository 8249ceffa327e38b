#pragma once
// The sample mean of m draws and its standard error, from the running sum and sum of squares the
// sampled estimators keep per value (solvers/mask_weighted_mean.hpp, the sampled interaction
// indices of methods/feature/interactions.hpp). One finish for all of them, so they report the
// same statistic: the standard error sqrt(s^2 / m), s^2 the unbiased sample variance
// (sum of squares - m mean^2) / (m - 1), clamped at 0 where rounding makes it negative.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>

#include "attrib/core/error.hpp"

namespace attrib::detail {

struct mean_and_error {
  double mean = 0.0;
  double standard_error = 0.0;
};

// Sums over `draws` >= 2 draws (the variance needs two).
inline mean_and_error sample_mean_and_error(double sum, double square_sum, std::size_t draws) {
  require(draws >= 2, "sample_mean_and_error: " + std::to_string(draws) +
                          " draws; expected at least 2 for a standard error");
  const auto m = static_cast<double>(draws);
  const double mean = sum / m;
  const double variance = std::max(0.0, (square_sum - m * mean * mean) / (m - 1.0));
  return {mean, std::sqrt(variance / m)};
}

}  // namespace attrib::detail
