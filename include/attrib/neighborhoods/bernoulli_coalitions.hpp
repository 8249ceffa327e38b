#pragma once
// bernoulli_coalitions: every player present independently with probability p, the random
// masks of RISE (Petsiuk et al. 2018). With p = 1/2 it is uniform_coalitions; other p move the
// mass towards small (p < 1/2) or large (p > 1/2) coalitions. Exact enumeration weighs a
// coalition of size s by p^s (1 - p)^(n - s).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "attrib/concepts/neighborhood.hpp"
#include "attrib/core/error.hpp"

namespace attrib {

struct bernoulli_coalitions {
  static constexpr bool binary = true;
  static constexpr bool constrained_endpoints = false;
  static constexpr const char* name = "bernoulli_coalitions";

  double keep_probability = 0.5;  // p: the chance that a player is present in a sampled coalition

  void validate() const {
    detail::require(std::isfinite(keep_probability) && keep_probability > 0.0 && keep_probability < 1.0,
                    "bernoulli_coalitions: keep_probability must be in (0, 1), got " +
                        std::to_string(keep_probability));
  }

  double size_weight(index n, index s) const {
    validate();
    return std::pow(keep_probability, static_cast<double>(s)) *
           std::pow(1.0 - keep_probability, static_cast<double>(n - s));
  }

  // Row r of the sample comes from rng::stream(seed, r) where seed is the first draw of
  // `random`: a row does not depend on how many rows come before it, so a larger budget
  // extends a smaller one's sample rather than replacing it.
  neighborhood_sample sample(index n, std::size_t budget, rng& random) const {
    validate();
    detail::require(n >= 1, "bernoulli_coalitions: the game has no players");
    // A player is present when a 53-bit uniform draw falls below p; comparing integers keeps
    // the draw exact for every p.
    const auto threshold = static_cast<std::uint64_t>(std::ldexp(keep_probability, 53));
    const std::uint64_t seed = random();
    neighborhood_sample out;
    const auto m = static_cast<index>(budget);
    out.points.resize(m, n);
    for (index r = 0; r < m; ++r) {
      rng row = rng::stream(seed, static_cast<std::uint64_t>(r));
      for (index j = 0; j < n; ++j) out.points(r, j) = (row() >> 11) < threshold ? 1.0 : 0.0;
    }
    out.weights = vector::Constant(m, 1.0 / static_cast<double>(std::max<index>(m, 1)));
    out.unit.resize(static_cast<std::size_t>(m));
    for (index r = 0; r < m; ++r) out.unit[static_cast<std::size_t>(r)] = r;
    out.draws.assign(static_cast<std::size_t>(m), 1.0);
    return out;
  }
};

static_assert(size_kernel_neighborhood<bernoulli_coalitions>);

}  // namespace attrib
