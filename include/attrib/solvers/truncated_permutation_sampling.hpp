#pragma once
// truncated_permutation_sampling: Truncated Monte Carlo (TMC) Shapley (Ghorbani and Zou 2019).
// Players are added in a random order and each gets its marginal contribution, as in plain
// permutation sampling; once the running value comes within `tolerance` of the full value,
// the remaining players' contributions are taken as 0 and their coalitions are not evaluated.
// For data games the late, large coalitions barely move the utility, so truncation saves most
// of the retrainings at the price of a small bias (none when tolerance = 0).
//
// The same engine serves any semivalue: with a semivalue_kernel the marginal contribution of
// the player at position s (s players before it) is weighted by n q(s), since in a uniformly
// random order s is uniform on {0..n-1} and the players before form a uniform subset of that
// size. With tolerance 0 this is weighted_permutation_sampling.
//
// Permutations run in waves whose size depends only on the budget left, one permutation per
// task and each from rng::stream(seed, k), so results do not depend on the thread count.
// Standard errors are those of the mean of the per-permutation estimates (they do not include
// the truncation bias).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "attrib/concepts/local_approximation.hpp"
#include "attrib/core/parallel.hpp"
#include "attrib/losses/squared_error.hpp"
#include "attrib/neighborhoods/semivalue_kernel.hpp"
#include "attrib/neighborhoods/shapley_kernel.hpp"
#include "attrib/solvers/evaluate_points.hpp"

namespace attrib {

struct truncated_permutation_sampling {
  static constexpr const char* name = "truncated_permutation_sampling";
  std::size_t budget = 0;  // game evaluations; 0 means 100 permutations' worth, 100 (n - 1) + 2
  // Truncate once |v(prefix) - v(N)| <= tolerance * |v(N) - v(empty)| for `patience`
  // consecutive prefixes. Ghorbani and Zou's code uses a relative tolerance and patience 5.
  double tolerance = 0.01;
  index patience = 1;
};

// Permutation sampling without truncation, for any semivalue: every marginal contribution is
// weighted by n q(position).
struct weighted_permutation_sampling {
  static constexpr const char* name = "weighted_permutation_sampling";
  std::size_t budget = 0;  // game evaluations; 0 means 100 (n - 1) + 2
};

namespace detail {

struct permutation_plan {
  std::size_t budget = 0;
  double tolerance = 0.0;
  index patience = 1;
};

// The estimate of one permutation: one weighted marginal contribution per player. Players at
// positions >= `sampled` were not reached (a scan told to stop early); the others either have
// their contribution or, past a truncation, a contribution of 0 that counts as sampled.
struct permutation_estimate {
  vector values;
  std::size_t evaluations = 0;
  index sampled = 0;
};

// Permutation k of n players, from rng::stream(seed, k), into `order` (its capacity is reused:
// the bandit keeps one buffer per slot of a wave and reads each order again after the scan).
inline void random_order(std::vector<index>& order, index n, std::uint64_t seed, std::size_t k) {
  rng random = rng::stream(seed, k);
  order.resize(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), index{0});
  random.shuffle(order.begin(), order.end());
}

inline std::vector<index> random_order(index n, std::uint64_t seed, std::size_t k) {
  std::vector<index> order;
  random_order(order, n, seed, k);
  return order;
}

struct scan_limits {
  double empty_value = 0.0;
  double full_value = 0.0;
  double threshold = 0.0;  // truncation: |v(prefix) - v(N)| <= threshold for plan.patience prefixes
  permutation_plan plan;
  // When set, the scan stops after the last position whose player is marked (the bandit's
  // active players): later players' contributions are not needed.
  const std::vector<char>* wanted = nullptr;
};

// Adds the players of `order` one by one and records each one's weighted marginal contribution.
template <game G>
permutation_estimate scan_permutation(const G& g, const std::vector<index>& order, const scan_limits& limits,
                                      const std::vector<double>& position_weight, const std::string& method) {
  const auto n = static_cast<index>(order.size());
  index stop = n;
  if (limits.wanted != nullptr) {
    stop = 0;
    for (index j = 0; j < n; ++j)
      if ((*limits.wanted)[static_cast<std::size_t>(order[static_cast<std::size_t>(j)])]) stop = j + 1;
  }
  permutation_estimate e;
  e.values = vector::Zero(n);
  e.sampled = stop;
  matrix prefix = matrix::Zero(1, n);
  double previous = limits.empty_value;
  index calm = 0;  // consecutive prefixes within the threshold
  for (index j = 0; j < stop; ++j) {
    const index player = order[static_cast<std::size_t>(j)];
    prefix(0, player) = 1.0;
    double current = limits.full_value;
    if (j + 1 < n) {
      const vector v = g.values(prefix);
      require(v.size() == 1 && std::isfinite(v(0)), method + ": game value of a prefix is not finite");
      current = v(0);
      ++e.evaluations;
    }
    e.values(player) = position_weight[static_cast<std::size_t>(j)] * (current - previous);
    previous = current;
    if (limits.plan.tolerance > 0.0 && j + 1 < n) {
      calm = std::abs(current - limits.full_value) <= limits.threshold ? calm + 1 : 0;
      if (calm >= limits.plan.patience) {  // later players get 0, unevaluated
        e.sampled = n;
        break;
      }
    }
  }
  return e;
}

// Runs the permutations [first, first + count) of a wave and returns their estimates in order:
// here over threads. attrib::mpi (explain_game.hpp) passes a runner that spreads a wave over
// ranks; each permutation is computed by run_one(k) alone, so who computes it changes nothing.
struct local_permutations {
  template <class RunOne>
  std::vector<permutation_estimate> operator()(std::size_t first, std::size_t count, index /*players*/,
                                               std::size_t threads, const RunOne& run_one) const {
    std::vector<permutation_estimate> out(count);
    parallel_for(count, threads, [&](std::size_t w) { out[w] = run_one(first + w); });
    return out;
  }
};

// position_weight[s]: the multiplier of a marginal contribution with s players before it.
template <game G, class Waves = local_permutations>
attribution permutation_marginals(const G& g, const run_settings& settings, const permutation_plan& plan,
                                  const std::vector<double>& position_weight, const std::string& method,
                                  const Waves& waves = {}) {
  const index n = require_players(g, method);
  require(std::isfinite(plan.tolerance) && plan.tolerance >= 0.0,
          method + ": tolerance must be finite and >= 0, got " + std::to_string(plan.tolerance));
  require(plan.patience >= 1, method + ": patience must be >= 1, got " + std::to_string(plan.patience));
  const auto per_permutation = static_cast<std::size_t>(std::max<index>(n - 1, 1));
  const std::size_t budget = plan.budget != 0 ? plan.budget : 2 + 100 * per_permutation;
  require(budget >= 2 + per_permutation,
          method + ": budget " + std::to_string(budget) + " is too small; one permutation of " +
              std::to_string(n) + " players needs " + std::to_string(2 + per_permutation) + " evaluations");
  // Plain variables, not a structured binding: clang 14 cannot capture bindings in a lambda.
  const auto endpoints = endpoint_values(g);
  const double empty_value = endpoints.first;
  const double full_value = endpoints.second;
  const double threshold = plan.tolerance * std::abs(full_value - empty_value);

  progress_counter progress(settings, budget);
  auto run_one = [&](std::size_t k) {
    permutation_estimate e = scan_permutation(g, random_order(n, settings.seed, k),
                                              {empty_value, full_value, threshold, plan}, position_weight, method);
    progress.add(e.evaluations);
    return e;
  };

  // Whole permutations while the budget covers one without truncation; waves depend only on
  // the budget left, so the permutations run do not depend on the thread count.
  std::vector<permutation_estimate> done;
  std::size_t spent = 2;
  while (budget - spent >= per_permutation) {
    const std::size_t wave = std::min<std::size_t>((budget - spent) / per_permutation, 64);
    std::vector<permutation_estimate> results = waves(done.size(), wave, n, settings.threads, run_one);
    require(results.size() == wave, method + ": a wave of " + std::to_string(wave) + " permutations returned " +
                                        std::to_string(results.size()) + " estimates");
    for (auto& r : results) {
      spent += r.evaluations;
      done.push_back(std::move(r));
    }
  }
  const auto m = static_cast<index>(done.size());
  matrix estimates(m, n);
  for (index k = 0; k < m; ++k) estimates.row(k) = done[static_cast<std::size_t>(k)].values.transpose();
  attribution a;
  a.method = method;
  a.values = estimates.colwise().mean().transpose();
  if (m >= 2) {
    const matrix centred = estimates.rowwise() - a.values.transpose();
    a.standard_errors =
        (centred.colwise().squaredNorm().transpose() / static_cast<double>((m - 1) * m)).cwiseSqrt();
  } else {
    a.standard_errors = vector::Constant(n, std::numeric_limits<double>::infinity());
  }
  a.base_value = empty_value;
  a.prediction = full_value;
  a.game_evaluations = spent;
  a.model_evaluations = spent * static_cast<std::size_t>(model_evaluations_per_value(g));
  a.fit.intercept = empty_value;
  a.fit.distinct_points = spent;
  return a;
}

// n q(s) for s = 0..n-1.
template <semivalue_weights W>
std::vector<double> position_weights(const semivalue_kernel<W>& nb, index n) {
  std::vector<double> w = nb.size_distribution(n);
  for (double& x : w) x *= static_cast<double>(n);
  return w;
}

}  // namespace detail

template <>
struct approximation_solver<shapley_kernel, squared_error, truncated_permutation_sampling> {
  // waves: who runs each wave of permutations (detail::local_permutations: this process).
  template <game G, class Waves = detail::local_permutations>
  static attribution solve(const shapley_kernel&, const squared_error&, const truncated_permutation_sampling& s,
                           const G& g, const run_settings& settings, const Waves& waves = {}) {
    const index n = detail::require_players(g, "tmc_shapley");
    return detail::permutation_marginals(g, settings, {s.budget, s.tolerance, s.patience},
                                         std::vector<double>(static_cast<std::size_t>(n), 1.0), "tmc_shapley", waves);
  }
};

template <semivalue_weights W>
struct approximation_solver<semivalue_kernel<W>, squared_error, truncated_permutation_sampling> {
  template <game G, class Waves = detail::local_permutations>
  static attribution solve(const semivalue_kernel<W>& nb, const squared_error&, const truncated_permutation_sampling& s,
                           const G& g, const run_settings& settings, const Waves& waves = {}) {
    const index n = detail::require_players(g, std::string("truncated ") + W::name);
    return detail::permutation_marginals(g, settings, {s.budget, s.tolerance, s.patience},
                                         detail::position_weights(nb, n), std::string("truncated_") + W::name, waves);
  }
};

template <semivalue_weights W>
struct approximation_solver<semivalue_kernel<W>, squared_error, weighted_permutation_sampling> {
  template <game G, class Waves = detail::local_permutations>
  static attribution solve(const semivalue_kernel<W>& nb, const squared_error&, const weighted_permutation_sampling& s,
                           const G& g, const run_settings& settings, const Waves& waves = {}) {
    const index n = detail::require_players(g, W::name);
    return detail::permutation_marginals(g, settings, {s.budget, 0.0, 1}, detail::position_weights(nb, n),
                                         std::string("sampled_") + W::name, waves);
  }
};

}  // namespace attrib
