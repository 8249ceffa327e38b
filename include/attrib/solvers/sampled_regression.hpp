#pragma once
// sampled_regression: draw a budget of points from the neighbourhood, evaluate the game there
// and fit g by the loss (KernelSHAP, LIME, C-LIME). Coalition neighbourhoods with constrained
// endpoints (the Shapley kernel) fit through v(empty) and v(full) exactly. With a target
// standard error the budget doubles until every value's standard error reaches it. A
// coalition drawn twice (in one round or across rounds) is evaluated once.
#include <algorithm>
#include <string>
#include <unordered_map>

#include "attrib/concepts/local_approximation.hpp"
#include "attrib/core/coalitions.hpp"
#include "attrib/solvers/evaluate_points.hpp"
#include "attrib/solvers/fit_surrogate.hpp"

namespace attrib {

struct sampled_regression {
  static constexpr const char* name = "sampled_regression";
  std::size_t budget = 0;              // game evaluations; 0 means 2n + 2048 (shap's default)
  double target_standard_error = 0.0;  // > 0: stop early once every standard error is below it
  std::size_t initial_budget = 0;      // first round when stopping early; 0 means max(4n, 64)
};

namespace detail {

template <class N>
constexpr bool constrained_endpoints_v = requires { requires N::constrained_endpoints; };
template <class N>
constexpr bool binary_v = requires { requires N::binary; };

}  // namespace detail

template <neighborhood N, value_matching_loss L>
  requires(!detail::constrained_endpoints_v<N> || quadratic_loss<L>)
struct approximation_solver<N, L, sampled_regression> {
  template <game G>
  static attribution solve(const N& nb, const L& loss, const sampled_regression& solver, const G& g,
                           const run_settings& settings) {
    const index n = detail::require_players(g, N::name);
    constexpr bool constrained = detail::constrained_endpoints_v<N>;
    constexpr bool binary = detail::binary_v<N>;
    const std::size_t budget = solver.budget != 0 ? solver.budget : static_cast<std::size_t>(2 * n + 2048);
    // Unknowns: n - 1 with the efficiency constraint, n + 1 with a free intercept.
    const std::size_t needed = constrained ? static_cast<std::size_t>(std::max<index>(n - 1, 2))
                                           : static_cast<std::size_t>(n + 1);
    detail::require(budget >= needed, std::string(N::name) + ": budget " + std::to_string(budget) +
                                          " is too small for " + std::to_string(n) +
                                          " players; expected at least " + std::to_string(needed));
    detail::require(solver.target_standard_error >= 0.0, "target_standard_error must be >= 0");

    attribution a;
    a.method = std::string(N::name) + "+" + L::name;
    double empty_value = 0.0, full_value = 0.0;
    if constexpr (binary) {
      std::tie(empty_value, full_value) = detail::endpoint_values(g);
    } else {
      const vector centre = g.values(matrix::Zero(1, n));
      detail::require(centre.size() == 1 && std::isfinite(centre(0)), "game value at the point must be finite");
      full_value = centre(0);
    }
    std::size_t evaluations = binary ? 2 : 1;
    std::unordered_map<std::string, double> cache;  // coalition values already paid for
    // A round's new points and where their values go, kept across rounds (which grow).
    std::vector<index> fresh;
    std::vector<double*> slots;
    matrix fresh_points;

    std::size_t round_budget = budget;
    if (solver.target_standard_error > 0.0)
      round_budget = std::min(budget, solver.initial_budget != 0
                                          ? std::max(solver.initial_budget, needed)
                                          : std::max<std::size_t>({static_cast<std::size_t>(4 * n), 64, needed}));
    for (;;) {
      rng random(settings.seed);
      const neighborhood_sample sample = nb.sample(n, round_budget, random);
      vector targets(sample.points.rows());
      if constexpr (binary) {
        // Evaluate only the coalitions not seen in an earlier round. Each point keeps a pointer
        // to its value in the cache (stable while the map grows), so every key is hashed once.
        fresh.clear();
        slots.resize(static_cast<std::size_t>(sample.points.rows()));
        cache.reserve(cache.size() + slots.size());
        for (index r = 0; r < sample.points.rows(); ++r) {
          // Reserve the key now so a repeat later in this round is not evaluated again.
          auto [it, inserted] = cache.emplace(detail::coalition_key(sample.points.row(r)), 0.0);
          slots[static_cast<std::size_t>(r)] = &it->second;
          if (inserted) fresh.push_back(r);
        }
        evaluations += fresh.size();
        if (static_cast<index>(fresh.size()) == sample.points.rows()) {
          // Every point is new (the usual first round): evaluated in place, without a copy.
          targets = detail::evaluate_points(g, sample.points, settings);
          for (index r = 0; r < targets.size(); ++r) *slots[static_cast<std::size_t>(r)] = targets(r);
        } else {
          fresh_points.resize(static_cast<index>(fresh.size()), n);
          for (std::size_t i = 0; i < fresh.size(); ++i)
            fresh_points.row(static_cast<index>(i)) = sample.points.row(fresh[i]);
          const vector fresh_values = detail::evaluate_points(g, fresh_points, settings);
          for (std::size_t i = 0; i < fresh.size(); ++i)
            *slots[static_cast<std::size_t>(fresh[i])] = fresh_values(static_cast<index>(i));
          for (index r = 0; r < sample.points.rows(); ++r) targets(r) = *slots[static_cast<std::size_t>(r)];
        }
      } else {
        targets = detail::evaluate_points(g, sample.points, settings);
        evaluations += static_cast<std::size_t>(sample.points.rows());
      }

      detail::surrogate_fit fit;
      if constexpr (constrained)
        fit = detail::fit_surrogate(loss, sample, (targets.array() - empty_value).matrix(), false,
                                    full_value - empty_value, empty_value);
      else
        fit = detail::fit_surrogate(loss, sample, targets, true, std::nullopt);

      a.values = fit.coefficients;
      a.standard_errors = fit.standard_errors;
      a.fit = fit.diagnostics;
      const bool reached = solver.target_standard_error <= 0.0 || sample.exhaustive ||
                           (a.has_standard_errors() && a.standard_errors.maxCoeff() <= solver.target_standard_error);
      if (reached || round_budget >= budget) {
        a.fit.converged = reached;
        break;
      }
      round_budget = std::min(budget, 2 * round_budget);
    }
    a.base_value = binary ? empty_value : a.fit.intercept;
    a.prediction = full_value;
    a.game_evaluations = evaluations;
    a.model_evaluations = evaluations * static_cast<std::size_t>(model_evaluations_per_value(g));
    return a;
  }
};

}  // namespace attrib
