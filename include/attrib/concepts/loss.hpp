#pragma once
// loss: what "g approximates f" means on one neighbourhood point.
#include <concepts>

#include "attrib/core/types.hpp"

namespace attrib {

// A loss scores a fitted linear surrogate: l.objective(targets, fitted, weights, coefficients)
// is the quantity the solver minimises. Losses that match game values (not gradients) opt in
// with `static constexpr bool matches_values = true`, which lets value-based solvers accept them.
template <class L>
concept loss = requires(const L& l, const vector& targets, const vector& fitted,
                        const vector& weights, const vector& coefficients) {
  { l.objective(targets, fitted, weights, coefficients) } -> std::convertible_to<double>;
};

template <class L>
concept value_matching_loss = loss<L> && requires {
  requires L::matches_values;
};

namespace archetypes {
struct loss {
  static constexpr bool matches_values = true;
  double objective(const vector&, const vector&, const vector&, const vector&) const { return 0; }
};
}  // namespace archetypes

static_assert(value_matching_loss<archetypes::loss>);

}  // namespace attrib
