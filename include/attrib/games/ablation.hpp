#pragma once
// How a component game removes an absent player: the value its activation takes instead. Shared
// by the games over a transformer's internals (transformer_ablation.hpp) and over an MLP's units
// (mlp_component_game.hpp), so a user names the same four kinds for either model.
//   zero      s = 0
//   mean      s = the activation averaged over reference inputs
//   resample  s = a reference input's activation, the value averaged over every reference
//   patch     s = the activation on one reference input (of this model or another of its shape)
namespace attrib {

enum class ablation_kind { zero, mean, resample, patch };

}  // namespace attrib
