#pragma once
// The HN value by its matrix definition, as GStarX computes it: dense (2^n - 1) x (2^n - 1)
// matrices P (graph restriction) and M (association with surplus tau over all j not in S),
// H = P M P, then H is squared until ||H^2 - H||_F < threshold or max_squarings is reached,
// and phi_i = (H^K v)({i}). The reference the tests and benchmarks check hn_value against, not a
// public header: memory is 8 (2^n - 1)^2 bytes per matrix (n <= 12).
#include <Eigen/Dense>
#include <bit>
#include <cstdint>
#include <string>
#include <vector>

#include "attrib/concepts/game.hpp"
#include "attrib/core/error.hpp"
#include "attrib/graph/components.hpp"

namespace attrib {

struct hn_matrix_power {
  double tau = 0.01;
  // Rounding makes the unit eigenvalues 1 + O(1e-16); H^(2^k) amplifies that by 2^k, so the
  // squaring stops at 2^40 at most.
  int max_squarings = 40;    // GStarX: 7 (H^128)
  double threshold = 1e-11;  // GStarX: 1e-3

  struct result {
    vector values;
    int squarings = 0;
  };

  // `table[mask]` is v(mask) for all 2^n masks (table[0] is ignored).
  result run(const std::vector<double>& table, const std::vector<std::uint64_t>& neighbors) const {
    const auto n = static_cast<index>(neighbors.size());
    detail::require(n >= 1 && n <= 12, "hn_matrix_power: n must be in [1, 12], got " + std::to_string(n));
    detail::require(table.size() == (std::size_t{1} << n), "hn_matrix_power: table must have 2^n entries");
    const index size = (index{1} << n) - 1;  // row r is coalition mask r + 1
    using dense = Eigen::MatrixXd;
    dense p = dense::Zero(size, size), m = dense::Zero(size, size);
    for (index r = 0; r < size; ++r) {
      const auto s = static_cast<std::uint64_t>(r + 1);
      for_each_component(neighbors, s, [&](std::uint64_t c) { p(r, static_cast<index>(c) - 1) += 1.0; });
      m(r, r) += 1.0 - static_cast<double>(n - std::popcount(s)) * tau;
      for (index j = 0; j < n; ++j) {
        const std::uint64_t bit = std::uint64_t{1} << j;
        if (s & bit) continue;
        m(r, static_cast<index>(s | bit) - 1) += tau;
        m(r, static_cast<index>(bit) - 1) -= tau;
      }
    }
    dense h = p * m * p;
    result out;
    for (; out.squarings < max_squarings; ++out.squarings) {
      dense h2 = h * h;
      const double gap = (h2 - h).norm();
      h.swap(h2);
      if (gap < threshold) {
        ++out.squarings;
        break;
      }
    }
    vector v(size);
    for (index r = 0; r < size; ++r) v(r) = table[static_cast<std::size_t>(r + 1)];
    const vector limit = h * v;
    out.values.resize(n);
    for (index j = 0; j < n; ++j) out.values(j) = limit((index{1} << j) - 1);
    return out;
  }

  template <bitmask_game G>
  result run(const G& g, const std::vector<std::uint64_t>& neighbors) const {
    std::vector<double> table(std::size_t{1} << g.player_count());
    for (std::size_t s = 0; s < table.size(); ++s) table[s] = static_cast<double>(g.value(s));
    return run(table, neighbors);
  }
};

}  // namespace attrib
