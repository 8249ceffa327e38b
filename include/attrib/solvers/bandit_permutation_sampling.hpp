#pragma once
// bandit_permutation_sampling: the multi-armed-bandit stage of Neuron Shapley (Ghorbani and Zou
// 2020, "Truncated Multi-Armed Bandit Shapley"). When the question is which k players matter most
// (the neurons whose removal breaks the model), exact values of the others are wasted work. Each
// player is an arm with a confidence interval around its running mean of marginal contributions;
// once the interval lies wholly above or below the boundary between the k-th and (k+1)-th largest
// means, the player is settled and no longer needs samples. A permutation is scanned only up to its
// last unsettled player (the later prefixes are not evaluated), and TMC truncation applies as in
// truncated_permutation_sampling.
//
// Determinism: permutations run in waves of `wave` (fixed, not the thread count), permutation k
// from rng::stream(seed, k), and the settled set changes only between waves, so the result is the
// same on any number of threads. The confidence interval is mean +- z * s / sqrt(m) with s the
// sample standard deviation over a player's m samples (the paper uses empirical Bernstein bounds;
// the normal interval is narrower at equal z and is stated as such). Players are settled only
// after `min_permutations` samples each.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "attrib/concepts/local_approximation.hpp"
#include "attrib/core/parallel.hpp"
#include "attrib/losses/squared_error.hpp"
#include "attrib/neighborhoods/shapley_kernel.hpp"
#include "attrib/solvers/truncated_permutation_sampling.hpp"

namespace attrib {

struct bandit_permutation_sampling {
  static constexpr const char* name = "bandit_permutation_sampling";
  index top_k = 10;            // the size of the set to identify, in [1, n - 1]
  double z = 3.0;              // interval half-width in standard errors
  index min_permutations = 20;  // samples every player has before it can be settled
  std::size_t budget = 0;      // game evaluations at most; 0 means 1000 permutations' worth
  double tolerance = 0.01;     // TMC truncation, as truncated_permutation_sampling
  index patience = 1;
  index wave = 16;             // permutations between updates of the settled set
};

template <>
struct approximation_solver<shapley_kernel, squared_error, bandit_permutation_sampling> {
  template <game G>
  static attribution solve(const shapley_kernel&, const squared_error&, const bandit_permutation_sampling& s,
                           const G& g, const run_settings& settings) {
    const std::string method = "bandit_shapley";
    const index n = detail::require_players(g, method);
    detail::require(s.top_k >= 1 && s.top_k < n, method + ": top_k must be in [1, " + std::to_string(n - 1) +
                                                     "] for " + std::to_string(n) + " players, got " +
                                                     std::to_string(s.top_k));
    detail::require(std::isfinite(s.z) && s.z > 0, method + ": z must be positive and finite");
    detail::require(s.min_permutations >= 2, method + ": min_permutations must be >= 2");
    detail::require(s.wave >= 1 && s.wave <= 4096, method + ": wave must be in [1, 4096]");
    detail::require(std::isfinite(s.tolerance) && s.tolerance >= 0.0, method + ": tolerance must be finite and >= 0");
    detail::require(s.patience >= 1, method + ": patience must be >= 1");
    const auto per_permutation = static_cast<std::size_t>(std::max<index>(n - 1, 1));
    const std::size_t budget = s.budget != 0 ? s.budget : 2 + 1000 * per_permutation;
    detail::require(budget >= 2 + per_permutation, method + ": budget " + std::to_string(budget) +
                                                       " is too small; one permutation needs " +
                                                       std::to_string(2 + per_permutation) + " evaluations");
    const auto endpoints = detail::endpoint_values(g);
    detail::scan_limits limits{endpoints.first, endpoints.second,
                               s.tolerance * std::abs(endpoints.second - endpoints.first),
                               {0, s.tolerance, s.patience}, nullptr};
    const std::vector<double> unit(static_cast<std::size_t>(n), 1.0);

    std::vector<char> active(static_cast<std::size_t>(n), 1);
    vector sum = vector::Zero(n), squares = vector::Zero(n), count = vector::Zero(n);
    std::size_t spent = 2, permutations = 0;
    const index k = s.top_k;
    detail::progress_counter progress(settings, budget);
    // Per slot of a wave: the order drawn for the scan, kept for the accumulation that follows it
    // (each permutation is drawn once), and the scan's estimate. Reused from wave to wave.
    std::vector<std::vector<index>> orders(static_cast<std::size_t>(s.wave));
    std::vector<detail::permutation_estimate> results(static_cast<std::size_t>(s.wave));
    while (budget - spent >= per_permutation && std::find(active.begin(), active.end(), 1) != active.end()) {
      const std::size_t wave =
          std::min<std::size_t>((budget - spent) / per_permutation, static_cast<std::size_t>(s.wave));
      limits.wanted = &active;
      parallel_for(wave, settings.threads, [&](std::size_t w) {
        detail::random_order(orders[w], n, settings.seed, permutations + w);
        results[w] = detail::scan_permutation(g, orders[w], limits, unit, method);
        progress.add(results[w].evaluations);
      });
      for (std::size_t w = 0; w < wave; ++w) {
        const auto& order = orders[w];
        const auto& r = results[w];
        for (index j = 0; j < r.sampled; ++j) {
          const index p = order[static_cast<std::size_t>(j)];
          // A settled player's estimate is frozen: it is reached only when it comes before the
          // last unsettled player, so later samples would favour small coalitions.
          if (!active[static_cast<std::size_t>(p)]) continue;
          sum(p) += r.values(p);
          squares(p) += r.values(p) * r.values(p);
          count(p) += 1.0;
        }
        spent += r.evaluations;
      }
      permutations += wave;
      // Settle the players whose interval clears the boundary between the k-th and (k+1)-th means.
      const vector mean = sum.cwiseQuotient(count.cwiseMax(1.0));
      std::vector<double> sorted(mean.data(), mean.data() + n);
      std::nth_element(sorted.begin(), sorted.begin() + (k - 1), sorted.end(), std::greater<>());
      const double kth = sorted[static_cast<std::size_t>(k - 1)];
      const double next = *std::max_element(sorted.begin() + k, sorted.end());
      const double boundary = 0.5 * (kth + next);
      for (index p = 0; p < n; ++p) {
        const double m = count(p);
        if (!active[static_cast<std::size_t>(p)] || m < static_cast<double>(s.min_permutations)) continue;
        const double variance = std::max(0.0, (squares(p) - sum(p) * sum(p) / m) / (m - 1.0));
        const double half = s.z * std::sqrt(variance / m);
        if (mean(p) - half > boundary || mean(p) + half < boundary) active[static_cast<std::size_t>(p)] = 0;
      }
    }
    attribution a;
    a.method = method;
    a.values = sum.cwiseQuotient(count.cwiseMax(1.0));
    a.standard_errors.resize(n);
    for (index p = 0; p < n; ++p) {
      const double m = count(p);
      a.standard_errors(p) = m >= 2 ? std::sqrt(std::max(0.0, (squares(p) - sum(p) * sum(p) / m) / (m - 1.0)) / m)
                                    : std::numeric_limits<double>::infinity();
    }
    a.base_value = endpoints.first;
    a.prediction = endpoints.second;
    a.game_evaluations = spent;
    a.model_evaluations = spent * static_cast<std::size_t>(model_evaluations_per_value(g));
    a.fit.intercept = endpoints.first;
    a.fit.distinct_points = spent;
    // Converged: every player settled before the budget ran out.
    a.fit.converged = std::find(active.begin(), active.end(), 1) == active.end();
    return a;
  }
};

}  // namespace attrib
