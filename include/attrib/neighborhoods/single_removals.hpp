#pragma once
// single_removals: the full coalition and every coalition missing one player, equally
// weighted. Fitting a linear g through these n + 1 points interpolates them, so
// phi_i = v(N) - v(N \ {i}): occlusion (feature ablation) is this neighbourhood.
#include "attrib/concepts/neighborhood.hpp"
#include "attrib/core/error.hpp"

namespace attrib {

struct single_removals {
  static constexpr bool binary = true;
  static constexpr bool constrained_endpoints = false;
  static constexpr bool finite = true;
  static constexpr const char* name = "single_removals";

  neighborhood_sample enumerate(index n) const {
    detail::require(n >= 1, "single_removals: the game has no players");
    neighborhood_sample out;
    out.points = matrix::Ones(n + 1, n);
    for (index i = 0; i < n; ++i) out.points(i + 1, i) = 0.0;
    out.weights = vector::Ones(n + 1);
    out.unit.assign(static_cast<std::size_t>(n + 1), -1);
    out.exhaustive = true;
    return out;
  }
  neighborhood_sample sample(index n, std::size_t, rng&) const { return enumerate(n); }
};

static_assert(neighborhood<single_removals>);

}  // namespace attrib
