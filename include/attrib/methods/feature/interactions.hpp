#pragma once
// Pairwise interaction indices: how much two players' joint effect differs from the sum of
// their separate effects, delta_ij(S) = v(S u ij) - v(S u i) - v(S u j) + v(S), averaged over
// the coalitions S of the other players.
//   shapley_taylor_interactions  Shapley-Taylor index of order 2 (Sundararajan, Dhamdhere and
//                                Agarwal 2020): I_ij = (2/n) sum_S delta_ij(S) / C(n-1, |S|);
//                                diagonal I_ii = v({i}) - v(empty). The diagonal plus the pairs
//                                i < j sum to v(N) - v(empty).
//   shapley_taylor_terms         the same index for any order k, every term |T| <= k
//   banzhaf_interactions         Banzhaf interaction index (Grabisch and Roubens 1999):
//                                I_ij = 2^-(n-2) sum_S delta_ij(S); diagonal the Banzhaf value
//   msr_banzhaf_interactions     the Banzhaf index estimated from one sample of uniform
//                                coalitions, every sample used for every pair, with standard errors
//   permutation_shapley_taylor_interactions
//                                the Shapley-Taylor index of order 2 estimated from random orders:
//                                I_ij = E_pi[delta_ij(players before both i and j)], with standard errors
// The local_approximation framework returns one value per player; these return a matrix (or a
// list of sets), so they are functions over the same parts instead: the coalition streaming of
// solvers/exhaustive.hpp (with its bitmask fast path), uniform_coalitions and evaluate_points.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "attrib/concepts/game.hpp"
#include "attrib/core/coalitions.hpp"
#include "attrib/core/detail/sample_mean.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/interaction_attribution.hpp"
#include "attrib/core/random.hpp"
#include "attrib/core/run_settings.hpp"
#include "attrib/neighborhoods/uniform_coalitions.hpp"
#include "attrib/solvers/detail/coalition_value_table.hpp"
#include "attrib/solvers/evaluate_points.hpp"
#include "attrib/solvers/exhaustive.hpp"

namespace attrib {

inline constexpr index max_pairwise_interaction_players = 24;
inline constexpr index max_shapley_taylor_terms_players = 16;

namespace detail {

// I_ij = sum_{S subset N \ ij} weight[|S|] delta_ij(S) for every pair, in one pass over the
// coalitions U: v(U) enters pair ij's sum with weight[|U|-2] when both are in U, with
// -weight[|U|-1] when one is, and with weight[|U|] when neither is. So
//   I_ij = P_ij + q_i + q_j + r,  P = sum v(U) alpha_u z z^T, q = sum v(U) beta_u z, r = sum v(U) gamma_u,
// with alpha = A - 2B + C, beta = B - C, gamma = C. The same pass collects sum_{U contains i} v(U)
// and sum_U v(U) (for the Banzhaf value) and the singletons' values.
struct pair_sums {
  matrix pairs;          // I_ij off the diagonal, zero on it
  vector contains_sum;   // sum_{U contains i} v(U)
  double total_sum = 0;  // sum_U v(U)
  vector singletons;     // v({i})
  double empty_value = 0, full_value = 0;
};

template <game G>
pair_sums pairwise_sums(const G& g, const std::vector<double>& weight, const run_settings& settings) {
  const index n = g.player_count();
  const auto size = [&](index s) { return s >= 0 && s <= n - 2 ? weight[static_cast<std::size_t>(s)] : 0.0; };
  std::vector<double> alpha(static_cast<std::size_t>(n + 1)), beta(alpha), gamma(alpha);
  for (index u = 0; u <= n; ++u) {
    const double a = size(u - 2), b = -size(u - 1), c = size(u);
    alpha[static_cast<std::size_t>(u)] = a - 2 * b + c;
    beta[static_cast<std::size_t>(u)] = b - c;
    gamma[static_cast<std::size_t>(u)] = c;
  }
  // At most 1024 chunks: each keeps an n x n partial sum, added in chunk order afterwards.
  const std::uint64_t total = std::uint64_t{1} << n;
  coalition_chunking chunking;
  chunking.chunk = std::max<std::uint64_t>(static_cast<std::uint64_t>(chunk_points(g)), total >> 10);
  chunking.chunks = static_cast<std::size_t>((total + chunking.chunk - 1) / chunking.chunk);
  struct partial {
    matrix p;
    vector q, contains;
    double r = 0, total = 0;
  };
  std::vector<partial> parts(chunking.chunks);
  for (auto& part : parts) {
    part.p = matrix::Zero(n, n);
    part.q = vector::Zero(n);
    part.contains = vector::Zero(n);
  }
  pair_sums out;
  out.singletons = vector::Zero(n);
  const std::uint64_t full_mask = total - 1;
  for_each_coalition_value(g, chunking, settings, [&](std::size_t c, std::uint64_t mask, double v) {
    partial& part = parts[c];
    const auto u = static_cast<std::size_t>(std::popcount(mask));
    const double va = v * alpha[u], vb = v * beta[u];
    part.r += v * gamma[u];
    part.total += v;
    for (std::uint64_t m = mask; m != 0; m &= m - 1) {
      const int i = std::countr_zero(m);
      part.q(i) += vb;
      part.contains(i) += v;
      if (va != 0.0)
        for (std::uint64_t rest = m & (m - 1); rest != 0; rest &= rest - 1) part.p(i, std::countr_zero(rest)) += va;
    }
    if (mask == 0) out.empty_value = v;
    if (mask == full_mask) out.full_value = v;
    if (u == 1) out.singletons(std::countr_zero(mask)) = v;
  });
  matrix p = matrix::Zero(n, n);
  vector q = vector::Zero(n);
  out.contains_sum = vector::Zero(n);
  double r = 0;
  for (const auto& part : parts) {
    p += part.p;
    q += part.q;
    out.contains_sum += part.contains;
    r += part.r;
    out.total_sum += part.total;
  }
  out.pairs = matrix::Zero(n, n);
  for (index i = 0; i < n; ++i)
    for (index j = i + 1; j < n; ++j) out.pairs(i, j) = out.pairs(j, i) = p(i, j) + q(i) + q(j) + r;
  return out;
}

template <game G>
index require_pairwise_players(const G& g, const std::string& method) {
  const index n = g.player_count();
  require(n >= 2, method + ": the game has " + std::to_string(n) + " players; expected at least 2");
  require(n <= max_pairwise_interaction_players,
          method + ": exact enumeration of 2^n coalitions needs n <= " +
              std::to_string(max_pairwise_interaction_players) + ", got n = " + std::to_string(n) +
              "; use msr_banzhaf_interactions instead");
  return n;
}

// Entries (i, j) and (j, i) of a sampled index: the mean of `draws` draws of the pair's term
// and its standard error, from their sum and sum of squares.
inline void set_symmetric_estimate(interaction_attribution& out, index i, index j, double sum, double square_sum,
                                   index draws) {
  const mean_and_error e = sample_mean_and_error(sum, square_sum, static_cast<std::size_t>(draws));
  out.values(i, j) = out.values(j, i) = e.mean;
  out.standard_errors(i, j) = out.standard_errors(j, i) = e.standard_error;
}

template <game G>
void count_evaluations(interaction_attribution& out, const G& g, std::size_t evaluations) {
  out.game_evaluations = evaluations;
  out.model_evaluations = evaluations * static_cast<std::size_t>(model_evaluations_per_value(g));
}

}  // namespace detail

// Shapley-Taylor interaction index of order 2; exact, 2^n game evaluations (n <= 24).
template <game G>
interaction_attribution shapley_taylor_interactions(const G& g, const run_settings& settings = {}) {
  const index n = detail::require_pairwise_players(g, "shapley_taylor_interactions");
  std::vector<double> weight(static_cast<std::size_t>(n - 1));
  for (index s = 0; s <= n - 2; ++s)
    weight[static_cast<std::size_t>(s)] = 2.0 / (static_cast<double>(n) * detail::binomial(n - 1, s));
  const detail::pair_sums sums = detail::pairwise_sums(g, weight, settings);
  interaction_attribution out;
  out.method = "shapley_taylor_interactions";
  out.diagonal = interaction_diagonal::singleton_effect;
  out.values = sums.pairs;
  out.values.diagonal() = sums.singletons.array() - sums.empty_value;
  out.base_value = sums.empty_value;
  out.prediction = sums.full_value;
  detail::count_evaluations(out, g, std::size_t{1} << n);
  return out;
}

// Banzhaf interaction index; exact, 2^n game evaluations (n <= 24). Diagonal: Banzhaf value.
template <game G>
interaction_attribution banzhaf_interactions(const G& g, const run_settings& settings = {}) {
  const index n = detail::require_pairwise_players(g, "banzhaf_interactions");
  const std::vector<double> weight(static_cast<std::size_t>(n - 1), std::ldexp(1.0, -static_cast<int>(n - 2)));
  const detail::pair_sums sums = detail::pairwise_sums(g, weight, settings);
  interaction_attribution out;
  out.method = "banzhaf_interactions";
  out.diagonal = interaction_diagonal::banzhaf_value;
  out.values = sums.pairs;
  // phi_i = (2 sum_{U contains i} v(U) - sum_U v(U)) / 2^(n-1)
  out.values.diagonal() = (2.0 * sums.contains_sum.array() - sums.total_sum) * std::ldexp(1.0, -static_cast<int>(n - 1));
  out.base_value = sums.empty_value;
  out.prediction = sums.full_value;
  detail::count_evaluations(out, g, std::size_t{1} << n);
  return out;
}

// Shapley-Taylor index of any order k >= 1: I_T = delta_T(empty) = sum_{L subset T} (-1)^(|T|-|L|) v(L)
// for |T| < k, and I_T = (k/n) sum_{S subset N \ T} delta_T(S) / C(n-1, |S|) for |T| = k. Returns
// every non-empty T with |T| <= k, ordered by size, then lexicographically; the values sum to
// v(N) - v(empty). Reads all 2^n values once (n <= 16) and then costs C(n, k) 2^n additions.
template <game G>
std::vector<interaction_term> shapley_taylor_terms(const G& g, index order, const run_settings& settings = {}) {
  const index n = g.player_count();
  detail::require(n >= 1 && n <= max_shapley_taylor_terms_players,
                  "shapley_taylor_terms: the game has " + std::to_string(n) + " players; expected 1 <= n <= " +
                      std::to_string(max_shapley_taylor_terms_players));
  detail::require(order >= 1 && order <= n, "shapley_taylor_terms: order must be in [1, " + std::to_string(n) +
                                                "] (the player count), got " + std::to_string(order));
  const std::uint64_t total = std::uint64_t{1} << n;
  const std::vector<double> table = detail::coalition_value_table(g, settings, "shapley_taylor_terms");
  const auto delta = [&](std::uint64_t t, std::uint64_t s) {  // sum_{L subset T} (-1)^(|T|-|L|) v(S u L)
    const int k = std::popcount(t);
    double sum = 0.0;
    for (std::uint64_t l = t;; l = (l - 1) & t) {
      sum += ((k - std::popcount(l)) % 2 == 0 ? 1.0 : -1.0) * table[s | l];
      if (l == 0) break;
    }
    return sum;
  };
  std::vector<interaction_term> terms;
  for (index size = 1; size <= order; ++size)
    detail::for_each_subset_of_size(n, size, [&](const std::vector<index>& members) {
      std::uint64_t t = 0;
      for (index p : members) t |= std::uint64_t{1} << p;
      double value = 0.0;
      if (size < order) {
        value = delta(t, 0);
      } else {
        const std::uint64_t others = (total - 1) & ~t;
        for (std::uint64_t s = others;; s = (s - 1) & others) {
          value += delta(t, s) / detail::binomial(n - 1, std::popcount(s));
          if (s == 0) break;
        }
        value *= static_cast<double>(order) / static_cast<double>(n);
      }
      terms.push_back({members, value});
    });
  return terms;
}

struct msr_interaction_options {
  std::size_t budget = 0;  // game evaluations; 0 means 4096
};

// The Banzhaf interaction index from uniform coalitions U: with s_i = 2 [i in U] - 1,
// I_ij = 4 E[v(U) s_i s_j] and the Banzhaf value phi_i = 2 E[v(U) s_i]; v is centred on
// (v(empty) + v(N)) / 2, a constant, which leaves the expectations unchanged and lowers the
// variance. Standard errors are those of the sample means.
template <game G>
interaction_attribution msr_banzhaf_interactions(const G& g, const msr_interaction_options& options = {},
                                            const run_settings& settings = {}) {
  const index n = g.player_count();
  detail::require(n >= 2, "msr_banzhaf_interactions: the game has " + std::to_string(n) +
                              " players; expected at least 2");
  const std::size_t budget = options.budget != 0 ? options.budget : std::size_t{4096};
  detail::require(budget >= 4 && budget <= (std::size_t{1} << 28),
                  "msr_banzhaf_interactions: budget must be in [4, 2^28] evaluations, got " + std::to_string(budget));
  rng random(settings.seed);
  const neighborhood_sample sample = uniform_coalitions{}.sample(n, budget - 2, random);
  const vector values = detail::evaluate_points(g, sample.points, settings);
  const auto [empty_value, full_value] = detail::endpoint_values(g);
  const double centre = (empty_value + full_value) / 2.0;
  const index m = sample.points.rows();
  matrix sum = matrix::Zero(n, n), square = matrix::Zero(n, n);
  vector s(n);
  for (index r = 0; r < m; ++r) {
    const double v = values(r) - centre;
    for (index i = 0; i < n; ++i) s(i) = sample.points(r, i) > 0.5 ? 1.0 : -1.0;
    for (index i = 0; i < n; ++i) {
      const double d = 2.0 * v * s(i);
      sum(i, i) += d;
      square(i, i) += d * d;
      for (index j = i + 1; j < n; ++j) {
        const double q = 4.0 * v * s(i) * s(j);
        sum(i, j) += q;
        square(i, j) += q * q;
      }
    }
  }
  interaction_attribution out;
  out.method = "msr_banzhaf_interactions";
  out.diagonal = interaction_diagonal::banzhaf_value;
  out.values = matrix::Zero(n, n);
  out.standard_errors = matrix::Zero(n, n);
  for (index i = 0; i < n; ++i)
    for (index j = i; j < n; ++j) detail::set_symmetric_estimate(out, i, j, sum(i, j), square(i, j), m);
  out.base_value = empty_value;
  out.prediction = full_value;
  detail::count_evaluations(out, g, static_cast<std::size_t>(m) + 2);
  return out;
}

struct permutation_interaction_options {
  std::size_t permutations = 0;  // random orders; 0 means 1000. Each costs 1 + n + n(n-1)/2 evaluations
};

// Shapley-Taylor of order 2 by permutation sampling (Sundararajan et al. 2020, section 3): in
// a uniformly random order, the players before the first of i and j form the set S with
// probability (2/n) / C(n-1, |S|), so I_ij = E[delta_ij(S)]. One order serves every pair: with
// P_p the first p players of the order, pair (pi_p, pi_q), p < q, needs v(P_p), v(P_{p+1}),
// v(P_p u pi_q) and v(P_{p+1} u pi_q). Order k comes from rng::stream(seed, k), so results do not
// depend on the thread count. The diagonal v({i}) - v(empty) is evaluated exactly.
template <game G>
interaction_attribution permutation_shapley_taylor_interactions(const G& g, const permutation_interaction_options& options = {},
                                                           const run_settings& settings = {}) {
  const index n = g.player_count();
  detail::require(n >= 2 && n <= 4096, "permutation_shapley_taylor_interactions: the game has " + std::to_string(n) +
                                           " players; expected 2 <= n <= 4096");
  const std::size_t permutations = options.permutations != 0 ? options.permutations : std::size_t{1000};
  detail::require(permutations >= 2, "permutation_shapley_taylor_interactions: permutations must be at least 2, got " +
                                         std::to_string(permutations));
  // Rows per order: the prefixes P_0..P_n, then P_p u pi_q for p < q.
  const index per_order = (n + 1) + n * (n - 1) / 2;
  detail::require(static_cast<double>(permutations) * static_cast<double>(per_order) * static_cast<double>(n) <= 268435456.0,
                  "permutation_shapley_taylor_interactions: " + std::to_string(permutations) + " orders of " +
                      std::to_string(n) + " players need more than 2^28 matrix entries; lower permutations");
  const auto pair_row = [n](index p, index q) {  // row of P_p u pi_q, p < q, after the prefixes
    return (n + 1) + p * (2 * n - p - 1) / 2 + (q - p - 1);
  };
  const auto m = static_cast<index>(permutations);
  std::vector<std::vector<index>> orders(permutations);
  matrix points = matrix::Zero(m * per_order + n + 1, n);
  const std::uint64_t seed = rng(settings.seed)();
  for (index k = 0; k < m; ++k) {
    auto& order = orders[static_cast<std::size_t>(k)];
    order.resize(static_cast<std::size_t>(n));
    for (index j = 0; j < n; ++j) order[static_cast<std::size_t>(j)] = j;
    rng stream = rng::stream(seed, static_cast<std::uint64_t>(k));
    stream.shuffle(order.begin(), order.end());
    const index base = k * per_order;
    for (index p = 1; p <= n; ++p) {
      points.row(base + p) = points.row(base + p - 1);
      points(base + p, order[static_cast<std::size_t>(p - 1)]) = 1.0;
    }
    for (index p = 0; p < n; ++p)
      for (index q = p + 1; q < n; ++q) {
        const index r = base + pair_row(p, q);
        points.row(r) = points.row(base + p);
        points(r, order[static_cast<std::size_t>(q)]) = 1.0;
      }
  }
  // The singletons (and the empty coalition) for the exact diagonal.
  const index singles = m * per_order;
  for (index i = 0; i < n; ++i) points(singles + 1 + i, i) = 1.0;
  const vector values = detail::evaluate_points(g, points, settings);

  matrix sum = matrix::Zero(n, n), square = matrix::Zero(n, n);
  for (index k = 0; k < m; ++k) {
    const auto& order = orders[static_cast<std::size_t>(k)];
    const index base = k * per_order;
    const auto prefix = [&](index p) { return values(base + p); };
    const auto with = [&](index p, index q) { return q == p ? prefix(p + 1) : values(base + pair_row(p, q)); };
    for (index p = 0; p < n; ++p)
      for (index q = p + 1; q < n; ++q) {
        const double delta = with(p + 1, q) - prefix(p + 1) - with(p, q) + prefix(p);
        index i = order[static_cast<std::size_t>(p)], j = order[static_cast<std::size_t>(q)];
        if (i > j) std::swap(i, j);
        sum(i, j) += delta;
        square(i, j) += delta * delta;
      }
  }
  interaction_attribution out;
  out.method = "permutation_shapley_taylor_interactions";
  out.diagonal = interaction_diagonal::singleton_effect;
  out.values = matrix::Zero(n, n);
  out.standard_errors = matrix::Zero(n, n);
  for (index i = 0; i < n; ++i)
    for (index j = i + 1; j < n; ++j) detail::set_symmetric_estimate(out, i, j, sum(i, j), square(i, j), m);
  const double empty_value = values(singles);
  for (index i = 0; i < n; ++i) out.values(i, i) = values(singles + 1 + i) - empty_value;
  out.base_value = empty_value;
  out.prediction = values(n);  // the full prefix of the first order
  detail::count_evaluations(out, g, static_cast<std::size_t>(points.rows()));
  return out;
}

}  // namespace attrib
