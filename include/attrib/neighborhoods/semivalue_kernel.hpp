#pragma once
// semivalue_kernel<Weights>: the distribution of the coalitions S on which a player i's
// marginal contribution v(S + i) - v(S) is averaged. A semivalue (Dubey, Neyman and Weber
// 1981) is
//     phi_i = sum_{s=0}^{n-1} q(s) * mean_{S subset of N \ {i}, |S| = s} [v(S + i) - v(S)],
// with q a probability distribution over the size s of S. The weights type gives q:
//   shapley_weights  q(s) = 1/n                                    (Shapley)
//   banzhaf_weights  q(s) = C(n-1, s) / 2^(n-1)                    (Banzhaf)
//   beta_weights     q(s) = BetaBinomial(s; n-1, beta, alpha)      (Beta Shapley, Kwon & Zou 2022)
// Beta(alpha, beta) with alpha > beta favours small coalitions (Beta(16, 1) is the paper's
// choice for finding mislabelled points); Beta(1, 1) is the Shapley value.
// Semivalues other than Shapley and Banzhaf are not least-squares fits, so this neighbourhood
// is solved by exact enumeration or weighted permutation sampling, never by sampled
// regression (that combination is rejected at compile time).
#include <cmath>
#include <concepts>
#include <numbers>
#include <string>
#include <vector>

#include "attrib/concepts/neighborhood.hpp"
#include "attrib/concepts/semivalue_weights.hpp"
#include "attrib/core/coalitions.hpp"
#include "attrib/core/error.hpp"

namespace attrib {

struct shapley_weights {
  static constexpr const char* name = "shapley";
  double size_probability(index n, index) const { return 1.0 / static_cast<double>(n); }
};

struct banzhaf_weights {
  static constexpr const char* name = "banzhaf";
  // C(n - 1, s) / 2^(n - 1): exactly while the binomial fits a double, in logarithms beyond
  // (C(1000, 500) is 2.7e299; C(1030, 515) overflows).
  double size_probability(index n, index s) const {
    if (n <= 1000) return detail::binomial(n - 1, s) * std::ldexp(1.0, -static_cast<int>(n - 1));
    if (s < 0 || s > n - 1) return 0.0;
    const auto log_binomial = std::lgamma(static_cast<double>(n)) - std::lgamma(static_cast<double>(s + 1)) -
                              std::lgamma(static_cast<double>(n - s));
    return std::exp(log_binomial - static_cast<double>(n - 1) * std::numbers::ln2);
  }
};

struct beta_weights {
  static constexpr const char* name = "beta_shapley";
  double alpha = 16.0;
  double beta = 1.0;

  // C(n-1, s) B(s + beta, n-1-s + alpha) / B(alpha, beta), in logarithms so that it neither
  // overflows nor underflows for large n.
  double size_probability(index n, index s) const {
    detail::require(std::isfinite(alpha) && std::isfinite(beta) && alpha > 0.0 && beta > 0.0,
                    "beta_weights: alpha and beta must be finite and positive, got alpha = " +
                        std::to_string(alpha) + ", beta = " + std::to_string(beta));
    if (s < 0 || s > n - 1) return 0.0;
    const auto m = static_cast<double>(n - 1), k = static_cast<double>(s);
    const double log_choose = std::lgamma(m + 1.0) - std::lgamma(k + 1.0) - std::lgamma(m - k + 1.0);
    const double log_beta_num = std::lgamma(k + beta) + std::lgamma(m - k + alpha) - std::lgamma(m + alpha + beta);
    const double log_beta_den = std::lgamma(alpha) + std::lgamma(beta) - std::lgamma(alpha + beta);
    return std::exp(log_choose + log_beta_num - log_beta_den);
  }
};

static_assert(semivalue_weights<shapley_weights> && semivalue_weights<banzhaf_weights> &&
              semivalue_weights<beta_weights>);

template <semivalue_weights W>
struct semivalue_kernel {
  static constexpr bool binary = true;
  static constexpr bool constrained_endpoints = false;
  static constexpr const char* name = W::name;
  W weights{};

  // q(0..n-1), checked to be a probability distribution.
  std::vector<double> size_distribution(index n) const {
    detail::require(n >= 1, std::string(name) + ": the game has no players");
    std::vector<double> q(static_cast<std::size_t>(n));
    double total = 0.0;
    for (index s = 0; s < n; ++s) {
      const double p = static_cast<double>(weights.size_probability(n, s));
      detail::require(std::isfinite(p) && p >= 0.0, std::string(name) + ": size probability q(" +
                                                        std::to_string(s) + ") is " + std::to_string(p) +
                                                        ", expected a finite non-negative number");
      q[static_cast<std::size_t>(s)] = p;
      total += p;
    }
    detail::require(std::abs(total - 1.0) <= 1e-9, std::string(name) + ": size probabilities sum to " +
                                                      std::to_string(total) + ", expected 1");
    return q;
  }

  // `budget` coalitions S, |S| = s with probability q(s), uniform given the size; equal weights.
  neighborhood_sample sample(index n, std::size_t budget, rng& random) const {
    const std::vector<double> q = size_distribution(n);
    neighborhood_sample out;
    const auto m = static_cast<index>(budget);
    out.points = matrix::Zero(m, n);
    std::vector<index> scratch;
    for (index r = 0; r < m; ++r) {
      double u = random.uniform();
      index s = 0;
      while (s + 1 < n && u >= q[static_cast<std::size_t>(s)]) u -= q[static_cast<std::size_t>(s++)];
      for (index member : detail::random_subset(n, s, random, scratch)) out.points(r, member) = 1.0;
    }
    out.weights = vector::Constant(m, 1.0 / static_cast<double>(std::max<index>(m, 1)));
    out.unit.resize(static_cast<std::size_t>(m));
    for (index r = 0; r < m; ++r) out.unit[static_cast<std::size_t>(r)] = r;
    out.draws.assign(static_cast<std::size_t>(m), 1.0);
    return out;
  }
};

static_assert(neighborhood<semivalue_kernel<beta_weights>>);

}  // namespace attrib
