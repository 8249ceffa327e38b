#pragma once
// Group attribution (GGDA, Ley et al. 2024): scores for groups of training points from summed
// group gradients. For inner-product methods this equals summing the members' scores (linearity),
// but costs k instead of n transformed inner products. Groups come from seeded k-means++.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "attrib/core/data_attribution.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/random.hpp"
#include "attrib/core/types.hpp"
#include "attrib/core/validate.hpp"

namespace attrib {

// Lloyd's algorithm from a k-means++ start drawn from rng(seed).
inline kmeans_result kmeans(const matrix& x, index k, std::uint64_t seed, index max_iterations = 100) {
  detail::require(x.rows() > 0, "kmeans: the data must not be empty");
  detail::require(k > 0 && k <= x.rows(), "kmeans: k must lie in [1, rows], got " + std::to_string(k));
  detail::require_finite(x, "kmeans: data");
  const index n = x.rows();
  rng gen(seed);
  kmeans_result r{std::vector<index>(static_cast<std::size_t>(n), 0), matrix(k, x.cols()), 0, 0};
  r.centers.row(0) = x.row(static_cast<index>(gen.below(static_cast<std::uint64_t>(n))));
  vector dist = (x.rowwise() - r.centers.row(0)).rowwise().squaredNorm();
  for (index c = 1; c < k; ++c) {
    const double total = dist.sum();
    index pick = n - 1;
    if (total > 0) {
      double u = gen.uniform() * total;
      for (index i = 0; i < n; ++i) {
        u -= dist[i];
        if (u < 0) { pick = i; break; }
      }
    } else {
      pick = static_cast<index>(gen.below(static_cast<std::uint64_t>(n)));
    }
    r.centers.row(c) = x.row(pick);
    dist = dist.cwiseMin((x.rowwise() - r.centers.row(c)).rowwise().squaredNorm());
  }
  for (; r.iterations < max_iterations; ++r.iterations) {
    bool changed = r.iterations == 0;
    r.inertia = 0;
    for (index i = 0; i < n; ++i) {
      index best = 0;
      double bd = std::numeric_limits<double>::infinity();
      for (index c = 0; c < k; ++c) {
        const double d = (x.row(i) - r.centers.row(c)).squaredNorm();
        if (d < bd) { bd = d; best = c; }
      }
      if (r.assignment[static_cast<std::size_t>(i)] != best) changed = true;
      r.assignment[static_cast<std::size_t>(i)] = best;
      r.inertia += bd;
    }
    if (!changed) break;
    matrix sums = matrix::Zero(k, x.cols());
    vector counts = vector::Zero(k);
    for (index i = 0; i < n; ++i) {
      sums.row(r.assignment[static_cast<std::size_t>(i)]) += x.row(i);
      counts[r.assignment[static_cast<std::size_t>(i)]] += 1;
    }
    for (index c = 0; c < k; ++c)
      if (counts[c] > 0) r.centers.row(c) = sums.row(c) / counts[c];  // an empty cluster keeps its centre
  }
  return r;
}

// Row g: the sum of the rows of `gradients` assigned to group g.
inline matrix group_gradients(const matrix& gradients, const std::vector<index>& assignment, index groups) {
  detail::require(static_cast<index>(assignment.size()) == gradients.rows(),
                  "group_gradients: assignment has " + std::to_string(assignment.size()) + " entries, expected " +
                      std::to_string(gradients.rows()));
  detail::require(groups > 0, "group_gradients: groups must be positive");
  matrix out = matrix::Zero(groups, gradients.cols());
  for (index i = 0; i < gradients.rows(); ++i) {
    const index g = assignment[static_cast<std::size_t>(i)];
    detail::require(g >= 0 && g < groups, "group_gradients: assignment[" + std::to_string(i) + "] is " +
                                              std::to_string(g) + ", expected [0, " + std::to_string(groups) + ")");
    out.row(g) += gradients.row(i);
  }
  return out;
}

}  // namespace attrib
