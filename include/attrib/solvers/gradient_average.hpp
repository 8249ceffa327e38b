#pragma once
// gradient_average: the minimiser of the gradient-matching loss, the weighted mean gradient
// over the neighbourhood. Finite neighbourhoods (a point, a quadrature path) are enumerated
// exactly; sampled ones (Gaussian: SmoothGrad) report standard errors. SmoothGrad-squared and
// VarGrad are the second moment and the variance of the same gradient sample: not
// minimisers, but read off the same neighbourhood, so they live here as statistics.
#include <cmath>
#include <limits>
#include <type_traits>
#include <string>

#include "attrib/concepts/local_approximation.hpp"
#include "attrib/losses/gradient_matching.hpp"
#include "attrib/solvers/evaluate_points.hpp"

namespace attrib {

enum class gradient_statistic { mean, mean_square, variance };

struct gradient_average {
  static constexpr const char* name = "gradient_average";
  std::size_t budget = 0;  // gradient evaluations for sampled neighbourhoods; 0 means 50
  gradient_statistic statistic = gradient_statistic::mean;
};

namespace detail {

// Gradients of a differentiable game at many points, in fixed chunks over threads.
template <differentiable_game G>
matrix evaluate_gradients(const G& g, const matrix& points, const run_settings& settings) {
  const index n = points.rows();
  if (n <= chunk_points(g)) {  // one chunk (an IG path, a SmoothGrad sample): no copies in or out
    matrix grads = g.gradients(points);
    require(grads.rows() == n && grads.cols() == points.cols(), "game returned gradients of the wrong shape");
    return grads;
  }
  matrix out(n, points.cols());
  parallel_chunks(static_cast<std::uint64_t>(n), static_cast<std::uint64_t>(chunk_points(g)), settings.threads,
                  [&](std::size_t, std::uint64_t first, std::uint64_t end) {
    const auto begin = static_cast<index>(first), len = static_cast<index>(end - first);
    const matrix block = points.middleRows(begin, len);
    const matrix grads = g.gradients(block);
    require(grads.rows() == len && grads.cols() == points.cols(), "game returned gradients of the wrong shape");
    out.middleRows(begin, len) = grads;
  });
  return out;
}

// Games whose interpretable point is an offset added to x (additive noise), not a fraction of
// the way from a baseline to x.
template <class G>
constexpr bool offsets_in_input_space = requires(const G& g) {
  requires std::remove_cvref_t<decltype(g.perturbation())>::offsets_in_input_space;
};

}  // namespace detail

template <neighborhood N>
struct approximation_solver<N, gradient_matching, gradient_average> {
  template <game G>
  static attribution solve(const N& nb, const gradient_matching&, const gradient_average& solver, const G& g,
                           const run_settings& settings)
    requires differentiable_game<G>
  {
    const index n = detail::require_players(g, N::name);
    const std::size_t budget = solver.budget != 0 ? solver.budget : 50;
    rng random(settings.seed);
    const neighborhood_sample sample = nb.sample(n, budget, random);
    const matrix grads = detail::evaluate_gradients(g, sample.points, settings);
    const double total_weight = sample.weights.sum();
    detail::require(total_weight > 0.0, std::string(N::name) + ": neighbourhood weights sum to zero");
    const vector w = sample.weights / total_weight;
    const vector mean = grads.transpose() * w;
    // Deviations from the mean, materialised only where a statistic or a standard error needs
    // them (an exhaustive path's mean needs only their weighted sum of squares, below).
    const index m = sample.points.rows();
    const bool sampled = !sample.exhaustive && m >= 2;
    matrix centred;
    if (sampled || solver.statistic == gradient_statistic::variance)
      centred = grads.rowwise() - mean.transpose();

    attribution a;
    a.method = std::string(N::name) + "+gradient_matching";
    switch (solver.statistic) {
      case gradient_statistic::mean: a.values = mean; break;
      case gradient_statistic::mean_square: a.values = grads.array().square().matrix().transpose() * w; break;
      case gradient_statistic::variance: a.values = centred.array().square().matrix().transpose() * w; break;
    }
    if (sampled) {
      // Standard error of a weighted mean of iid draws (equal weights here).
      // For the mean the deviations are `centred` itself (values = mean): no copies.
      matrix deviations;
      switch (solver.statistic) {
        case gradient_statistic::mean: break;
        case gradient_statistic::mean_square:
          deviations = grads.array().square().matrix().rowwise() - a.values.transpose();
          break;
        case gradient_statistic::variance:
          deviations = centred.array().square().matrix().rowwise() - a.values.transpose();
          break;
      }
      const matrix& d = solver.statistic == gradient_statistic::mean ? centred : deviations;
      a.standard_errors =
          (d.colwise().squaredNorm().transpose() / static_cast<double>(m * (m - 1))).cwiseSqrt();
    }
    // In masking space v(0) is the baseline and v(1) the explained point, which frames the
    // completeness check sum(values) = v(1) - v(0); in input space z = 0 is x itself and there
    // is no baseline.
    matrix ends(2, n);
    ends.row(0).setZero();
    ends.row(1).setOnes();
    const vector v = g.values(ends);
    if constexpr (detail::offsets_in_input_space<G>) {
      a.base_value = std::numeric_limits<double>::quiet_NaN();
      a.prediction = v(0);
    } else {
      a.base_value = v(0);
      a.prediction = v(1);
    }
    a.fit.exhaustive = sample.exhaustive;
    a.fit.distinct_points = static_cast<std::size_t>(m);
    double weighted_square = 0.0;
    for (index i = 0; i < m; ++i)
      weighted_square += w(i) * (centred.size() != 0 ? centred.row(i).squaredNorm()
                                                     : (grads.row(i) - mean.transpose()).squaredNorm());
    a.fit.weighted_rmse = std::sqrt(weighted_square);
    a.game_evaluations = static_cast<std::size_t>(m) + 2;
    a.model_evaluations = a.game_evaluations * static_cast<std::size_t>(model_evaluations_per_value(g));
    return a;
  }
};

}  // namespace attrib
