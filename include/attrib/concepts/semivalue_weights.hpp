#pragma once
// semivalue_weights: the size distribution that defines a semivalue (Shapley, Banzhaf,
// Beta Shapley, ...): the probability q(s) that the coalition before a player has s members.
#include <concepts>

#include "attrib/core/types.hpp"

namespace attrib {

// w.size_probability(n, s): q(s), the probability that the coalition before player i has s
// members (0 <= s <= n - 1); the q(s) sum to 1.
template <class W>
concept semivalue_weights = requires(const W& w, index n, index s) {
  { W::name } -> std::convertible_to<const char*>;
  { w.size_probability(n, s) } -> std::convertible_to<double>;
};

namespace archetypes {
// The least a weight family must be: every coalition size equally likely (the Shapley value).
struct semivalue_weights {
  static constexpr const char* name = "uniform sizes";
  double size_probability(index n, index) const { return 1.0 / static_cast<double>(n); }
};
}  // namespace archetypes

static_assert(semivalue_weights<archetypes::semivalue_weights>);

}  // namespace attrib
