#pragma once
// uniform_coalitions: every coalition equally likely (each player present with probability
// 1/2). The least-squares linear fit under it gives the Banzhaf value (Hammer and Holzman
// 1992), since the indicators are independent with variance 1/4.
#include <cmath>

#include "attrib/concepts/neighborhood.hpp"
#include "attrib/core/coalitions.hpp"

namespace attrib {

struct uniform_coalitions {
  static constexpr bool binary = true;
  static constexpr bool constrained_endpoints = false;
  static constexpr const char* name = "uniform_coalitions";

  double size_weight(index n, index) const { return std::ldexp(1.0, -static_cast<int>(n)); }

  neighborhood_sample sample(index n, std::size_t budget, rng& random) const {
    detail::require(n >= 1, "uniform_coalitions: the game has no players");
    neighborhood_sample out;
    const auto m = static_cast<index>(budget);
    out.points.resize(m, n);
    for (index r = 0; r < m; ++r)
      for (index j = 0; j < n; ++j) out.points(r, j) = static_cast<double>(random() >> 63);
    out.weights = vector::Constant(m, 1.0 / static_cast<double>(std::max<index>(m, 1)));
    out.unit.resize(static_cast<std::size_t>(m));
    for (index r = 0; r < m; ++r) out.unit[static_cast<std::size_t>(r)] = r;
    out.draws.assign(static_cast<std::size_t>(m), 1.0);
    return out;
  }
};

static_assert(size_kernel_neighborhood<uniform_coalitions>);

}  // namespace attrib
