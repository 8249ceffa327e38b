#pragma once
// A learning rate schedule with linear warmup and cosine decay, as GPT-style training uses.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numbers>
#include <string>

#include "attrib/core/error.hpp"

namespace attrib {

// Learning rate at step s (0-based) of `total_steps`: rising linearly to `peak` over the first
// `warmup_steps` steps (peak (s + 1) / warmup), then falling along half a cosine from peak to
// `final` at the last step.
struct warmup_cosine_schedule {
  double peak = 1e-3;
  double final = 0.0;
  std::size_t warmup_steps = 0;
  std::size_t total_steps = 1;

  void validate() const {
    if (!(peak > 0.0) || !std::isfinite(peak))
      throw invalid_argument("warmup_cosine_schedule: peak learning rate must be positive, got " +
                             std::to_string(peak));
    if (!(final >= 0.0) || final > peak)
      throw invalid_argument("warmup_cosine_schedule: final learning rate " +
                             std::to_string(final) + " must lie in [0, peak]");
    if (total_steps == 0 || warmup_steps > total_steps)
      throw invalid_argument("warmup_cosine_schedule: need 0 < total_steps (" +
                             std::to_string(total_steps) + ") and warmup_steps (" +
                             std::to_string(warmup_steps) + ") <= total_steps");
  }

  double operator()(std::size_t step) const {
    if (step < warmup_steps)
      return peak * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
    const std::size_t decay_steps = total_steps - warmup_steps;
    if (decay_steps <= 1) return peak;
    const double progress = std::min(1.0, static_cast<double>(step - warmup_steps) /
                                              static_cast<double>(decay_steps - 1));
    return final + 0.5 * (peak - final) * (1.0 + std::cos(std::numbers::pi * progress));
  }
};

}  // namespace attrib
