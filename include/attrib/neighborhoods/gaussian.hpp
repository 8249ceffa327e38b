#pragma once
// gaussian: real-valued offsets z ~ N(0, sigma^2 I) added to the input (C-LIME; SmoothGrad's
// neighbourhood). Its points are not coalitions: pair it with the additive_noise perturbation.
#include <cmath>
#include <string>

#include "attrib/concepts/neighborhood.hpp"
#include "attrib/core/error.hpp"

namespace attrib {

struct gaussian {
  static constexpr bool binary = false;
  static constexpr bool constrained_endpoints = false;
  static constexpr const char* name = "gaussian";
  double sigma = 0.1;

  neighborhood_sample sample(index n, std::size_t budget, rng& random) const {
    if (!(sigma > 0.0 && std::isfinite(sigma)))
      detail::fail("gaussian: sigma must be finite and > 0, got " + std::to_string(sigma));
    detail::require(n >= 1, "gaussian: the input has no features");
    neighborhood_sample out;
    const auto m = static_cast<index>(budget);
    out.points.resize(m, n);
    random.fill_normal(out.points.data(), static_cast<std::size_t>(m * n), sigma);  // row-major: row by row
    out.weights = vector::Constant(m, 1.0 / static_cast<double>(std::max<index>(m, 1)));
    out.unit.resize(static_cast<std::size_t>(m));
    for (index r = 0; r < m; ++r) out.unit[static_cast<std::size_t>(r)] = r;
    out.draws.assign(static_cast<std::size_t>(m), 1.0);
    return out;
  }
};

static_assert(neighborhood<gaussian>);

}  // namespace attrib
