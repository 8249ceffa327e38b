#pragma once
// RISE (Petsiuk et al. 2018): saliency_i = E[v(M) M_i] / p over random masks M with keep
// probability p, the game's value on a masked input weighting the players the mask kept.
//   rise            hard Bernoulli(p) masks over the game's players; with a masked_model over
//                   feature_groups (one group per grid cell) a player is a cell
//   rise_soft_grid  RISE's own masks: a coarse Bernoulli grid upsampled bilinearly with a
//                   random shift, over height x width pixel players
// Both are the mask_weighted_mean solver on a neighbourhood of masks; values carry standard
// errors. rise_saliency_map spreads per-group values back onto the features (pixels).
#include <string>

#include "attrib/concepts/local_approximation.hpp"
#include "attrib/core/attribution.hpp"
#include "attrib/core/feature_groups.hpp"
#include "attrib/losses/squared_error.hpp"
#include "attrib/neighborhoods/bernoulli_coalitions.hpp"
#include "attrib/neighborhoods/rise_grid_masks.hpp"
#include "attrib/solvers/mask_weighted_mean.hpp"

namespace attrib {

using rise = local_approximation<bernoulli_coalitions, squared_error, mask_weighted_mean>;
using rise_soft_grid = local_approximation<rise_grid_masks, squared_error, mask_weighted_mean>;

// One saliency per feature: every feature gets the value of the group (player) it belongs to.
// A template only so that it compiles where it is called (docs/performance.md).
template <class = void>
vector rise_saliency_map(const attribution& a, const feature_groups& groups) {
  detail::require(a.values.size() == groups.player_count(),
                  "rise_saliency_map: the attribution has " + std::to_string(a.values.size()) +
                      " values but the feature groups have " + std::to_string(groups.player_count()) + " players");
  const auto& owner = groups.player_of_features();
  vector map(groups.feature_count());
  for (index f = 0; f < map.size(); ++f) map(f) = a.values(owner[static_cast<std::size_t>(f)]);
  return map;
}

}  // namespace attrib
