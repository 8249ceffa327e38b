#pragma once
// straight_path: the diagonal z = alpha * 1, alpha in [0, 1], weighted by a quadrature rule.
// In the masking space this is the straight line from the baseline (alpha = 0) to x
// (alpha = 1); gradient matching on it gives Integrated Gradients (Sundararajan et al. 2017),
// and with a background set of baselines, expected gradients (Erion et al. 2021).
#include <string>

#include "attrib/concepts/neighborhood.hpp"
#include "attrib/core/quadrature.hpp"

namespace attrib {

struct straight_path {
  static constexpr bool binary = false;
  static constexpr bool constrained_endpoints = false;
  static constexpr const char* name = "straight_path";
  quadrature_rule rule = quadrature_rule::gauss_legendre;
  int steps = 50;

  neighborhood_sample enumerate(index n) const {
    detail::require(n >= 1, "straight_path: the game has no players");
    if (steps < 1) detail::fail("straight_path: steps must be >= 1, got " + std::to_string(steps));
    const quadrature q = make_quadrature(rule, steps);
    neighborhood_sample out;
    const auto m = static_cast<index>(q.nodes.size());
    out.points.resize(m, n);
    out.weights.resize(m);
    for (index k = 0; k < m; ++k) {
      out.points.row(k).setConstant(q.nodes[static_cast<std::size_t>(k)]);
      out.weights(k) = q.weights[static_cast<std::size_t>(k)];
    }
    out.unit.assign(static_cast<std::size_t>(m), -1);
    out.exhaustive = true;
    return out;
  }
  neighborhood_sample sample(index n, std::size_t, rng&) const { return enumerate(n); }
};

static_assert(neighborhood<straight_path>);

}  // namespace attrib
