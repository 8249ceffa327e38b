#pragma once
// Exact semivalues by one pass over all 2^n coalitions, each evaluated once. With
// p(s) = q(s) / C(n-1, s), the weight of each single coalition of size s not containing i,
//     phi_i = sum_{S contains i} v(S) (p(s-1) + p(s)) - sum_S v(S) p(s),
// (p(n) = 0), the same streaming form as exact Shapley and Banzhaf; chunked partial sums added
// in chunk order make it bit-identical on any thread count. It is the reference the Monte
// Carlo semivalue estimators are checked against (n <= 16 in the tests).
//
// Semivalues are not least-squares fits, so a semivalue_kernel with sampled_regression is
// rejected at compile time.
#include <bit>
#include <cstdint>
#include <string>
#include <vector>

#include "attrib/concepts/local_approximation.hpp"
#include "attrib/core/coalitions.hpp"
#include "attrib/losses/squared_error.hpp"
#include "attrib/neighborhoods/semivalue_kernel.hpp"
#include "attrib/solvers/exhaustive.hpp"
#include "attrib/solvers/sampled_regression.hpp"

namespace attrib {

template <semivalue_weights W>
struct approximation_solver<semivalue_kernel<W>, squared_error, exhaustive> {
  template <game G>
  static attribution solve(const semivalue_kernel<W>& nb, const squared_error&, const exhaustive&, const G& g,
                           const run_settings& settings) {
    const std::string method = std::string("exact_") + W::name;
    const index n = detail::require_players(g, method);
    detail::require_enumerable(n, method);
    const std::vector<double> q = nb.size_distribution(n);
    std::vector<double> per(static_cast<std::size_t>(n + 1), 0.0);  // p(s), p(n) = 0
    for (index s = 0; s < n; ++s) per[static_cast<std::size_t>(s)] = q[static_cast<std::size_t>(s)] / detail::binomial(n - 1, s);
    std::vector<double> inside(static_cast<std::size_t>(n + 1), 0.0);
    for (index s = 1; s <= n; ++s)
      inside[static_cast<std::size_t>(s)] = per[static_cast<std::size_t>(s - 1)] + per[static_cast<std::size_t>(s)];

    const auto sums = detail::size_weighted_sum(g, inside, per, settings);
    attribution a = detail::exact_from_coalitions(g, "");
    a.method = method;
    a.values = sums.phi;
    a.base_value = sums.empty_value;
    a.prediction = sums.full_value;
    a.fit.intercept = sums.empty_value;
    return a;
  }
};

// No solve(): sampled regression would fit a surrogate that is not the semivalue.
template <semivalue_weights W, value_matching_loss L>
struct approximation_solver<semivalue_kernel<W>, L, sampled_regression> {};

static_assert(solver_for<exhaustive, semivalue_kernel<beta_weights>, squared_error>);
static_assert(!solver_for<sampled_regression, semivalue_kernel<beta_weights>, squared_error>);

}  // namespace attrib
