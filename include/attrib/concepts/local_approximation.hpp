#pragma once
// local_approximation: the one framework. An explanation is the linear surrogate g that
// minimises E_{z ~ neighbourhood}[ loss(f, g, z) ]; a method is a (neighbourhood, loss, solver)
// composition over a game, and the solver says how the minimiser is computed (exact
// enumeration, sampled regression, permutation sampling, ...). A new method is a new
// specialisation of approximation_solver, not a new code path.
#include <concepts>

#include "attrib/concepts/game.hpp"
#include "attrib/concepts/loss.hpp"
#include "attrib/concepts/neighborhood.hpp"
#include "attrib/core/attribution.hpp"
#include "attrib/core/run_settings.hpp"

namespace attrib {

// Specialise with a static member
//   template <game G> static attribution solve(const N&, const L&, const S&, const G&, const run_settings&);
// for every (neighbourhood, loss, solver) combination the solver can compute.
template <class Neighborhood, class Loss, class Solver>
struct approximation_solver {};

namespace detail {
// The least game a loss can work with: value-matching losses need values, gradient-matching
// losses need gradients too (a loss names it as `using game_archetype = ...`).
template <class L>
struct game_archetype_of {
  using type = archetypes::game;
};
template <class L>
  requires requires { typename L::game_archetype; }
struct game_archetype_of<L> {
  using type = typename L::game_archetype;
};
}  // namespace detail

template <class S, class N, class L>
concept solver_for = neighborhood<N> && loss<L> &&
    requires(const N& nb, const L& l, const S& s, const typename detail::game_archetype_of<L>::type& g,
             const run_settings& r) {
      { approximation_solver<N, L, S>::solve(nb, l, s, g, r) } -> std::same_as<attribution>;
    };

template <neighborhood N, loss L, class S>
  requires solver_for<S, N, L>
struct local_approximation {
  N neighborhood{};
  L loss{};
  S solver{};

  template <game G>
  attribution explain(const G& g, const run_settings& settings = {}) const {
    return approximation_solver<N, L, S>::solve(neighborhood, loss, solver, g, settings);
  }
};

}  // namespace attrib
