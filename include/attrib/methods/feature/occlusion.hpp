#pragma once
// Occlusion (feature ablation): phi_i = v(N) - v(N \ {i}), the exact linear fit through the
// full coalition and each single removal. With feature groups a player is a whole group.
#include "attrib/concepts/local_approximation.hpp"
#include "attrib/losses/squared_error.hpp"
#include "attrib/neighborhoods/single_removals.hpp"
#include "attrib/solvers/exhaustive.hpp"

namespace attrib {

using occlusion = local_approximation<single_removals, squared_error, exhaustive>;

}  // namespace attrib
