#pragma once
// shapley_kernel: coalitions weighted by (n-1) / (C(n,s) s (n-s)), the kernel under which the
// weighted least-squares linear fit is the Shapley value (Charnes et al. 1988; Lundberg and
// Lee 2017). The empty and full coalitions have infinite weight: the fit must pass through
// v(empty) and v(full), so the solvers impose them as constraints.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "attrib/concepts/neighborhood.hpp"
#include "attrib/core/coalitions.hpp"

namespace attrib {

struct shapley_kernel {
  static constexpr bool binary = true;
  static constexpr bool constrained_endpoints = true;
  static constexpr const char* name = "shapley_kernel";

  // Kernel weight of one coalition of size s (0 < s < n).
  double size_weight(index n, index s) const {
    return static_cast<double>(n - 1) /
           (detail::binomial(n, s) * static_cast<double>(s) * static_cast<double>(n - s));
  }

  // KernelSHAP's sampler: `budget` coalitions other than the empty and full ones. Sizes are
  // taken in pairs (s, n-s), smallest first; a pair is enumerated completely while the budget
  // covers its expected share, and the rest is sampled in complementary pairs, a repeated
  // pair adding to its weight instead of costing another evaluation.
  neighborhood_sample sample(index n, std::size_t budget, rng& random) const {
    detail::require(n >= 2, "shapley_kernel: sampling needs at least 2 players, got " + std::to_string(n));
    neighborhood_sample out;
    const double interior = n <= 62 ? std::ldexp(1.0, static_cast<int>(n)) - 2.0 : 1e300;
    if (static_cast<double>(budget) >= interior) return enumerate_all(n);

    std::vector<double> size_mass(static_cast<std::size_t>(n), 0.0);  // total kernel mass of size s
    for (index s = 1; s < n; ++s) size_mass[static_cast<std::size_t>(s)] = size_weight(n, s) * detail::binomial(n, s);
    const index half = n / 2;  // sizes 1..half, each standing for itself and n - s
    std::vector<double> pair_mass(static_cast<std::size_t>(half + 1), 0.0);
    for (index s = 1; s <= half; ++s)
      pair_mass[static_cast<std::size_t>(s)] =
          size_mass[static_cast<std::size_t>(s)] + (s != n - s ? size_mass[static_cast<std::size_t>(n - s)] : 0.0);

    std::vector<double> rows;  // n values per point, one flat array (no allocation per point)
    std::vector<double> weights;
    std::vector<std::ptrdiff_t> units;
    auto push = [&](std::span<const index> members, bool complement, double w, std::ptrdiff_t unit) {
      const std::size_t start = rows.size();
      rows.resize(start + static_cast<std::size_t>(n), complement ? 1.0 : 0.0);
      for (index m : members) rows[start + static_cast<std::size_t>(m)] = complement ? 0.0 : 1.0;
      weights.push_back(w);
      units.push_back(unit);
    };

    double remaining = static_cast<double>(budget);
    index first_sampled = 1;
    for (index s = 1; s <= half; ++s) {
      double mass_left = 0.0;
      for (index t = s; t <= half; ++t) mass_left += pair_mass[static_cast<std::size_t>(t)];
      const bool paired = s != n - s;
      const double count = detail::binomial(n, s) * (paired ? 2.0 : 1.0);
      if (remaining * pair_mass[static_cast<std::size_t>(s)] / mass_left + 1e-9 < count) break;
      const double w = size_weight(n, s);
      detail::for_each_subset_of_size(n, s, [&](const std::vector<index>& members) {
        push(members, false, w, -1);
        if (paired) push(members, true, w, -1);
      });
      remaining -= count;
      first_sampled = s + 1;
    }

    double sampled_mass = 0.0;
    for (index s = first_sampled; s <= half; ++s) sampled_mass += pair_mass[static_cast<std::size_t>(s)];
    if (first_sampled <= half && remaining >= 2.0) {
      std::vector<double> cumulative;
      for (index s = first_sampled; s <= half; ++s)
        cumulative.push_back((cumulative.empty() ? 0.0 : cumulative.back()) + pair_mass[static_cast<std::size_t>(s)]);
      std::unordered_map<std::string, std::size_t> seen;  // unit key -> unit index
      std::vector<index> unit_members, unit_starts{0};   // unit u: members [starts[u], starts[u + 1])
      std::vector<double> unit_draws;
      std::vector<index> scratch, members;
      std::string key;
      std::size_t distinct_points = 0;
      const auto wanted = static_cast<std::size_t>(remaining);
      const std::size_t max_draws = 20 * wanted + 100;
      std::size_t draws = 0;
      while (distinct_points + 2 <= wanted && draws < max_draws) {
        const double u = random.uniform() * cumulative.back();
        const auto pick = static_cast<index>(std::upper_bound(cumulative.begin(), cumulative.end(), u) - cumulative.begin());
        const index s = first_sampled + std::min(pick, static_cast<index>(cumulative.size()) - 1);
        const auto drawn = detail::random_subset(n, s, random, scratch);
        members.assign(drawn.begin(), drawn.end());
        std::sort(members.begin(), members.end());
        // A pair {z, complement} is keyed by the side that leaves out player n-1: the members'
        // bits, all flipped when n-1 is among them (the last member, as they are sorted).
        detail::coalition_key_of_members(members, n, members.back() == n - 1, key);
        ++draws;
        auto [it, inserted] = seen.emplace(key, unit_draws.size());
        if (inserted) {
          unit_members.insert(unit_members.end(), members.begin(), members.end());
          unit_starts.push_back(static_cast<index>(unit_members.size()));
          unit_draws.push_back(1.0);
          distinct_points += 2;
        } else {
          unit_draws[it->second] += 1.0;
        }
      }
      // Each draw carries sampled_mass / draws, split evenly between z and its complement.
      const double per_point = sampled_mass / static_cast<double>(draws) / 2.0;
      for (std::size_t u = 0; u < unit_draws.size(); ++u) {
        const double w = per_point * unit_draws[u];
        const std::span<const index> unit(unit_members.data() + unit_starts[u],
                                          static_cast<std::size_t>(unit_starts[u + 1] - unit_starts[u]));
        push(unit, false, w, static_cast<std::ptrdiff_t>(u));
        push(unit, true, w, static_cast<std::ptrdiff_t>(u));
      }
      out.draws = std::move(unit_draws);
    }

    out.points = Eigen::Map<const matrix>(rows.data(), static_cast<index>(weights.size()), n);
    out.weights = Eigen::Map<const vector>(weights.data(), static_cast<index>(weights.size()));
    out.unit = std::move(units);
    out.exhaustive = first_sampled > half;
    return out;
  }

 private:
  neighborhood_sample enumerate_all(index n) const {
    detail::require_enumerable(n, "shapley_kernel");
    neighborhood_sample out;
    const std::uint64_t total = (std::uint64_t{1} << n) - 2;
    out.points.resize(static_cast<index>(total), n);
    out.weights.resize(static_cast<index>(total));
    for (std::uint64_t mask = 1; mask <= total; ++mask) {
      const auto r = static_cast<index>(mask - 1);
      detail::mask_to_row(mask, out.points.row(r));
      out.weights(r) = size_weight(n, std::popcount(mask));
    }
    out.unit.assign(total, -1);
    out.exhaustive = true;
    return out;
  }
};

static_assert(size_kernel_neighborhood<shapley_kernel>);

}  // namespace attrib
