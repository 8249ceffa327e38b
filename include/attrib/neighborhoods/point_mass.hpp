#pragma once
// point_mass: the whole neighbourhood is one point, z = at * 1. Gradient matching there gives
// the gradient itself: the vanilla gradient at z = 0 (input space, the sigma -> 0 limit of
// the Gaussian), gradient x input at z = 1 (masking space with a zero baseline).
#include "attrib/concepts/neighborhood.hpp"
#include "attrib/core/error.hpp"

namespace attrib {

struct point_mass {
  static constexpr bool binary = false;
  static constexpr bool constrained_endpoints = false;
  static constexpr const char* name = "point_mass";
  double at = 0.0;

  neighborhood_sample enumerate(index n) const {
    detail::require(n >= 1, "point_mass: the game has no players");
    neighborhood_sample out;
    out.points = matrix::Constant(1, n, at);
    out.weights = vector::Ones(1);
    out.unit = {-1};
    out.exhaustive = true;
    return out;
  }
  neighborhood_sample sample(index n, std::size_t, rng&) const { return enumerate(n); }
};

static_assert(neighborhood<point_mass>);

}  // namespace attrib
