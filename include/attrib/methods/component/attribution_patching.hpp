#pragma once
// Attribution patching (Nanda 2023; Syed et al. 2023; Kramar et al. 2024, AtP) is the gradient of
// a component game at the grand coalition. In transformer_component_game a player's slice a of its
// hook point becomes s + z (a - s), so dv/dz_j at z = 1 is the sum over the player's columns and
// ablated positions of dv/da . (a - s): the first-order estimate of its occlusion value
// v(N) - v(N \ {j}), for every player from one forward and one backward pass. It is the same
// local approximation as gradient x input (a point mass at z = 1, gradient matching, the
// gradient itself), applied to components instead of features.
//
//   attrib::attribution_patching.explain(game)                   every player's AtP estimate
//   attrib::integrated_gradients{...}.explain(game)              the path from the empty coalition
//                                                                (sums to v(N) - v(empty))
#include "attrib/methods/feature/gradients.hpp"

namespace attrib {

inline constexpr vanilla_gradient attribution_patching{.neighborhood = {.at = 1.0}};

}  // namespace attrib
