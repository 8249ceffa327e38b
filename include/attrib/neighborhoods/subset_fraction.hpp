#pragma once
// subset_fraction: uniformly random subsets of round(alpha n) of the n players, equally
// weighted: the training masks of datamodels (Ilyas et al. 2022) and of the linear
// datamodeling score. A linear fit of the game on these masks is a datamodel.
//
// Every mask has the same size k, so sum_j z_j = k on every point and the fit cannot tell the
// intercept from a common shift of all coefficients: only differences between coefficients
// (and their sums over same-size sets) are identified, and a penalty picks one solution (ridge:
// the one with the smallest norm). With fixed_size = false each player is included
// independently with probability alpha instead, which identifies every coefficient.
#include <cmath>
#include <string>

#include "attrib/concepts/neighborhood.hpp"
#include "attrib/core/coalitions.hpp"
#include "attrib/core/error.hpp"

namespace attrib {

struct subset_fraction {
  static constexpr bool binary = true;
  static constexpr bool constrained_endpoints = false;
  static constexpr const char* name = "subset_fraction";
  double alpha = 0.5;       // the fraction of players in each subset
  bool fixed_size = true;   // false: Bernoulli(alpha) inclusion

  // round(alpha n), the size of every subset when fixed_size.
  index subset_size(index n) const {
    check(n);
    return static_cast<index>(std::llround(alpha * static_cast<double>(n)));
  }

  neighborhood_sample sample(index n, std::size_t budget, rng& random) const {
    check(n);
    neighborhood_sample out;
    const auto m = static_cast<index>(budget);
    out.points = matrix::Zero(m, n);
    const index k = subset_size(n);
    std::vector<index> scratch;
    for (index r = 0; r < m; ++r) {
      if (fixed_size) {
        for (index member : detail::random_subset(n, k, random, scratch)) out.points(r, member) = 1.0;
      } else {
        for (index j = 0; j < n; ++j) out.points(r, j) = random.uniform() < alpha ? 1.0 : 0.0;
      }
    }
    out.weights = vector::Constant(m, 1.0 / static_cast<double>(std::max<index>(m, 1)));
    out.unit.resize(static_cast<std::size_t>(m));
    for (index r = 0; r < m; ++r) out.unit[static_cast<std::size_t>(r)] = r;
    out.draws.assign(static_cast<std::size_t>(m), 1.0);
    return out;
  }

 private:
  void check(index n) const {
    detail::require(n >= 1, "subset_fraction: the game has no players");
    detail::require(std::isfinite(alpha) && alpha > 0.0 && alpha < 1.0,
                    "subset_fraction: alpha must be in (0, 1), got " + std::to_string(alpha));
  }
};

static_assert(neighborhood<subset_fraction>);

}  // namespace attrib
