#pragma once
// game: a batched function of interpretable points. When the points are coalition
// indicators (0/1 rows) it is a cooperative game, the object every Shapley-family method
// explains; when they are real vectors (C-LIME, SmoothGrad) it is the model seen from x.
#include <concepts>
#include <cstdint>

#include "attrib/core/types.hpp"

namespace attrib {

// values(points) returns one value per row of `points` (a batch x player_count() matrix).
// values is const and must be safe to call from several threads at once.
template <class G>
concept game = requires(const G& g, const matrix& points) {
  { g.player_count() } -> std::convertible_to<index>;
  { g.values(points) } -> std::convertible_to<vector>;
};

// Opt-in cost accounting: how many model rows one game value costs (e.g. the background size).
template <class G>
concept costed_game = game<G> && requires(const G& g) {
  { g.model_evaluations_per_value() } -> std::convertible_to<index>;
};

// Opt-in fast path: a game over at most 64 players whose value can be read from the
// coalition's bitmask directly; exact enumeration then skips building 0/1 rows.
template <class G>
concept bitmask_game = game<G> && requires(const G& g, std::uint64_t mask) {
  { g.value(mask) } -> std::convertible_to<double>;
};

// Opt-in fast path: the values of the consecutive coalitions first, ..., first + count - 1
// (bitmasks) in one call, equal to values() of their 0/1 rows; exact enumeration then hands
// over ranges of masks instead of building 0/1 rows.
template <class G>
concept bitmask_range_game = game<G> && requires(const G& g, std::uint64_t first, index count) {
  { g.values_of_masks(first, count) } -> std::convertible_to<vector>;
};

template <game G>
index model_evaluations_per_value(const G& g) {
  if constexpr (costed_game<G>)
    return g.model_evaluations_per_value();
  else
    return 1;
}

// A game that also gives the gradient of its value with respect to the interpretable point:
// gradients(points) has one row per point. Gradient-matching methods need it.
template <class G>
concept differentiable_game = game<G> && requires(const G& g, const matrix& points) {
  { g.gradients(points) } -> std::convertible_to<matrix>;
};

namespace archetypes {
// The least a type must provide to be a game.
struct game {
  index player_count() const { return 1; }
  vector values(const matrix& points) const { return vector::Zero(points.rows()); }
};
// A game that states its cost in model rows per value.
struct costed_game : game {
  index model_evaluations_per_value() const { return 1; }
};
// A differentiable game: v(z) = sum(z).
struct differentiable_game {
  index player_count() const { return 1; }
  vector values(const matrix& points) const { return points.rowwise().sum(); }
  matrix gradients(const matrix& points) const { return matrix::Ones(points.rows(), points.cols()); }
};
}  // namespace archetypes

static_assert(game<archetypes::game>);
static_assert(differentiable_game<archetypes::differentiable_game>);
static_assert(!differentiable_game<archetypes::game>);
static_assert(costed_game<archetypes::costed_game>);

}  // namespace attrib
