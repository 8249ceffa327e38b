#pragma once
// exhaustive: the neighbourhood is enumerated completely, so the result carries no sampling
// error. For the Shapley and uniform kernels the weighted least-squares minimiser has a
// closed form (the Shapley and Banzhaf values), computed in one pass over all 2^n coalitions,
// each evaluated once; other size-dependent kernels stream the normal equations; finite
// neighbourhoods (single removals) are fitted directly.
#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "attrib/concepts/local_approximation.hpp"
#include "attrib/core/coalitions.hpp"
#include "attrib/losses/squared_error.hpp"
#include "attrib/neighborhoods/shapley_kernel.hpp"
#include "attrib/neighborhoods/uniform_coalitions.hpp"
#include "attrib/solvers/evaluate_points.hpp"
#include "attrib/solvers/fit_surrogate.hpp"

namespace attrib {

struct exhaustive {
  static constexpr const char* name = "exhaustive";
};

namespace detail {

struct coalition_chunking {
  std::uint64_t chunk = 0;  // coalitions per chunk
  std::size_t chunks = 0;
};

// Fixed chunks (independent of the thread count), at most 65536 of them.
template <game G>
coalition_chunking chunk_coalitions(const G& g) {
  const std::uint64_t total = std::uint64_t{1} << g.player_count();
  coalition_chunking c;
  c.chunk = std::max<std::uint64_t>(static_cast<std::uint64_t>(chunk_points(g)), total >> 16);
  c.chunks = static_cast<std::size_t>((total + c.chunk - 1) / c.chunk);
  return c;
}

// Streams all 2^n coalitions chunk by chunk: `accumulate(chunk_index, points, values)` is
// called once per chunk; the caller keeps per-chunk partial sums and adds them in chunk
// order, which makes the result bit-identical on any thread count.
template <game G, class Accumulate>
void for_all_coalitions(const G& g, const coalition_chunking& chunking, const run_settings& settings,
                        Accumulate&& accumulate) {
  const index n = g.player_count();
  const std::uint64_t total = std::uint64_t{1} << n;
  progress_counter progress(settings, static_cast<std::size_t>(total));
  parallel_chunks(total, chunking.chunk, settings.threads, [&](std::size_t c, std::uint64_t begin, std::uint64_t end) {
    const auto len = static_cast<index>(end - begin);
    matrix points(len, n);
    // Each row's 0/1 values copied eight players at a time from a table of all bytes: what
    // mask_to_row computes, at a fraction of a shift, a mask and a conversion per player.
    static constexpr auto byte_rows = [] {
      std::array<std::array<double, 8>, 256> rows{};
      for (std::size_t b = 0; b < 256; ++b)
        for (std::size_t j = 0; j < 8; ++j) rows[b][j] = static_cast<double>((b >> j) & 1u);
      return rows;
    }();
    for (index r = 0; r < len; ++r) {
      const std::uint64_t mask = begin + static_cast<std::uint64_t>(r);
      double* row = points.data() + r * n;
      index j = 0;
      for (; j + 8 <= n; j += 8) std::memcpy(row + j, byte_rows[(mask >> j) & 255u].data(), sizeof(double) * 8);
      const double* tail = byte_rows[(mask >> j) & 255u].data();
      for (index k = 0; j + k < n; ++k) row[j + k] = tail[k];
    }
    accumulate(c, points, checked_values(g, points, begin, "coalition"));
    progress.add(static_cast<std::size_t>(len));
  });
}

// Calls visit(chunk_index, mask, value) for every coalition, chunk by chunk; bitmask games
// are read directly, bitmask-range games a chunk of masks at a time, others through batches of
// 0/1 rows.
template <game G, class Visit>
void for_each_coalition_value(const G& g, const coalition_chunking& chunking, const run_settings& settings,
                              Visit&& visit) {
  if constexpr (bitmask_range_game<G> || bitmask_game<G>) {
    const std::uint64_t total = std::uint64_t{1} << g.player_count();
    progress_counter progress(settings, static_cast<std::size_t>(total));
    const auto chunk = [&](std::size_t c, std::uint64_t begin, std::uint64_t end) {
      if constexpr (bitmask_range_game<G>) {
        const auto len = static_cast<index>(end - begin);
        const vector values = g.values_of_masks(begin, len);
        check_values(values, len, begin, "coalition");
        for (index r = 0; r < len; ++r) visit(c, begin + static_cast<std::uint64_t>(r), values(r));
      } else {
        for (std::uint64_t mask = begin; mask < end; ++mask) {
          const double v = static_cast<double>(g.value(mask));
          if (!std::isfinite(v))
            fail("game value of coalition " + std::to_string(mask) + " is not finite (" + std::to_string(v) +
                 ")");
          visit(c, mask, v);
        }
      }
      progress.add(static_cast<std::size_t>(end - begin));
    };
    parallel_chunks(total, chunking.chunk, settings.threads, chunk);
  } else {
    for_all_coalitions(g, chunking, settings, [&](std::size_t c, const matrix&, const vector& values) {
      const std::uint64_t begin = c * chunking.chunk;
      for (index r = 0; r < values.size(); ++r) visit(c, begin + static_cast<std::uint64_t>(r), values(r));
    });
  }
}

// phi_i = sum_{S contains i} v(S) inside[|S|] - sum_S v(S) outside[|S|]: every semivalue (and
// so the Shapley and Banzhaf values) in one pass over the coalitions, summed per chunk.
struct size_weighted_sums {
  vector phi;
  double outside_sum = 0.0;  // sum_S v(S) outside[|S|]
  double empty_value = 0.0;
  double full_value = 0.0;
};

template <game G>
size_weighted_sums size_weighted_sum(const G& g, const std::vector<double>& inside, const std::vector<double>& outside,
                                     const run_settings& settings) {
  const index n = g.player_count();
  const auto chunking = chunk_coalitions(g);
  const std::uint64_t full_mask = (std::uint64_t{1} << n) - 1;
  std::vector<vector> partial(chunking.chunks, vector::Zero(n));
  std::vector<double> partial_outside(chunking.chunks, 0.0);
  size_weighted_sums r;
  for_each_coalition_value(g, chunking, settings, [&](std::size_t c, std::uint64_t mask, double v) {
    const auto s = static_cast<std::size_t>(std::popcount(mask));
    partial_outside[c] += v * outside[s];
    const double weighted = v * inside[s];
    double* phi = partial[c].data();
    for (std::uint64_t m = mask; m != 0; m &= m - 1) phi[std::countr_zero(m)] += weighted;
    if (mask == 0) r.empty_value = v;
    if (mask == full_mask) r.full_value = v;
  });
  r.phi = vector::Zero(n);
  for (std::size_t c = 0; c < chunking.chunks; ++c) {
    r.phi += partial[c];
    r.outside_sum += partial_outside[c];
  }
  r.phi.array() -= r.outside_sum;
  return r;
}

template <game G>
attribution exact_from_coalitions(const G& g, const char* method) {
  attribution a;
  a.method = method;
  const index n = g.player_count();
  a.game_evaluations = std::size_t{1} << n;
  a.model_evaluations = a.game_evaluations * static_cast<std::size_t>(model_evaluations_per_value(g));
  a.fit.exhaustive = true;
  a.fit.distinct_points = a.game_evaluations;
  return a;
}

}  // namespace detail

// Exact Shapley value: phi_i = sum_{S contains i} v(S) (a_s + b_s) - sum_S v(S) b_s, with
// a_s = (s-1)!(n-s)!/n! and b_s = s!(n-s-1)!/n!, so one pass over the coalitions suffices.
template <>
struct approximation_solver<shapley_kernel, squared_error, exhaustive> {
  template <game G>
  static attribution solve(const shapley_kernel&, const squared_error&, const exhaustive&, const G& g,
                           const run_settings& settings) {
    const index n = detail::require_players(g, "exact_shapley");
    detail::require_enumerable(n, "exact_shapley");
    std::vector<double> inside(static_cast<std::size_t>(n + 1), 0.0), outside(inside);
    for (index s = 0; s <= n; ++s) {
      const double a = s >= 1 ? 1.0 / (static_cast<double>(n) * detail::binomial(n - 1, s - 1)) : 0.0;
      const double b = s <= n - 1 ? 1.0 / (static_cast<double>(n) * detail::binomial(n - 1, s)) : 0.0;
      inside[static_cast<std::size_t>(s)] = a + b;
      outside[static_cast<std::size_t>(s)] = b;
    }
    const auto sums = detail::size_weighted_sum(g, inside, outside, settings);
    attribution a = detail::exact_from_coalitions(g, "exact_shapley");
    a.values = sums.phi;
    a.base_value = sums.empty_value;
    a.prediction = sums.full_value;
    a.fit.intercept = sums.empty_value;
    return a;
  }
};

// Exact Banzhaf value: phi_i = (2 sum_{S contains i} v(S) - sum_S v(S)) / 2^(n-1).
template <>
struct approximation_solver<uniform_coalitions, squared_error, exhaustive> {
  template <game G>
  static attribution solve(const uniform_coalitions&, const squared_error&, const exhaustive&, const G& g,
                           const run_settings& settings) {
    const index n = detail::require_players(g, "exact_banzhaf");
    detail::require_enumerable(n, "exact_banzhaf");
    // phi_i = sum_{S contains i} v(S) 2^(1-n) 2 - sum_S v(S) 2^(1-n); powers of two keep it exact.
    const double unit = std::ldexp(1.0, static_cast<int>(1 - n));
    const std::vector<double> inside(static_cast<std::size_t>(n + 1), 2.0 * unit);
    const std::vector<double> outside(static_cast<std::size_t>(n + 1), unit);
    const auto sums = detail::size_weighted_sum(g, inside, outside, settings);
    attribution a = detail::exact_from_coalitions(g, "exact_banzhaf");
    a.values = sums.phi;
    a.base_value = sums.empty_value;
    a.prediction = sums.full_value;
    a.fit.intercept = sums.outside_sum / 2.0 - a.values.sum() / 2.0;
    return a;
  }
};

// Any other size-dependent kernel with a value-matching loss (e.g. LIME's exponential kernel
// with ridge): the normal equations are accumulated over all coalitions, chunk by chunk.
template <size_kernel_neighborhood N, value_matching_loss L>
  requires(!N::constrained_endpoints)
struct approximation_solver<N, L, exhaustive> {
  template <game G>
  static attribution solve(const N& nb, const L& loss, const exhaustive&, const G& g, const run_settings& settings) {
    const index n = detail::require_players(g, "exhaustive regression");
    detail::require_enumerable(n, "exhaustive regression");
    const auto chunking = detail::chunk_coalitions(g);
    const std::size_t chunks = chunking.chunks;
    std::vector<regression_problem> partial(chunks, regression_problem(n, true));
    double empty_value = 0.0, full_value = 0.0;
    detail::for_all_coalitions(g, chunking, settings, [&](std::size_t c, const matrix& points, const vector& values) {
      vector weights(values.size());
      for (index r = 0; r < values.size(); ++r)
        weights(r) = nb.size_weight(n, static_cast<index>(points.row(r).sum()));
      partial[c].add(points, values, weights);
      if (c == 0) empty_value = values(0);
      if (c + 1 == chunks) full_value = values(values.size() - 1);
    });
    regression_problem problem(n, true);
    for (const auto& p : partial) {
      problem.gram += p.gram;
      problem.moment += p.moment;
      problem.target_square += p.target_square;
      problem.target_sum += p.target_sum;
      problem.weight_sum += p.weight_sum;
    }
    const vector beta = loss.solve(problem);
    attribution a = detail::exact_from_coalitions(g, N::name);
    a.values = beta.tail(n);
    a.base_value = empty_value;
    a.prediction = full_value;
    a.fit.intercept = beta(0);
    a.fit.r_squared = problem.r_squared(beta);
    a.fit.weighted_rmse = std::sqrt(std::max(0.0, problem.residual_square(beta)) / problem.weight_sum);
    return a;
  }
};

// A finite neighbourhood (e.g. single removals: occlusion) is enumerated and fitted directly.
template <finite_neighborhood N, value_matching_loss L>
  requires(!size_kernel_neighborhood<N>)
struct approximation_solver<N, L, exhaustive> {
  template <game G>
  static attribution solve(const N& nb, const L& loss, const exhaustive&, const G& g, const run_settings& settings) {
    const index n = detail::require_players(g, N::name);
    const neighborhood_sample sample = nb.enumerate(n);
    // The empty coalition rides along with the neighbourhood's own points.
    matrix points(sample.points.rows() + 1, n);
    points.topRows(sample.points.rows()) = sample.points;
    points.bottomRows(1).setZero();
    const vector values = detail::evaluate_points(g, points, settings);
    const vector targets = values.head(sample.points.rows());
    const double empty_value = values(values.size() - 1);
    double full_value = std::numeric_limits<double>::quiet_NaN();
    for (index r = 0; r < sample.points.rows(); ++r)
      if (sample.points.row(r).minCoeff() == 1.0) full_value = targets(r);
    if (std::isnan(full_value)) full_value = detail::endpoint_values(g).second;
    const detail::surrogate_fit fit = detail::fit_surrogate(loss, sample, targets, true, std::nullopt);
    attribution a;
    a.method = N::name;
    a.values = fit.coefficients;
    a.base_value = empty_value;
    a.prediction = full_value;
    a.fit = fit.diagnostics;
    a.game_evaluations = static_cast<std::size_t>(points.rows());
    a.model_evaluations = a.game_evaluations * static_cast<std::size_t>(model_evaluations_per_value(g));
    return a;
  }
};

}  // namespace attrib
