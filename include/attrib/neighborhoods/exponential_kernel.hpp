#pragma once
// exponential_kernel: LIME's neighbourhood. Coalitions are drawn uniformly and weighted by
// exp(-D(z, 1)^2 / width^2), where D is the cosine distance (captum's default) or the
// Euclidean distance (lime's tabular default) between z and the all-present point.
#include <cmath>
#include <string>

#include "attrib/concepts/neighborhood.hpp"
#include "attrib/core/coalitions.hpp"

namespace attrib {

enum class coalition_distance { cosine, euclidean };

struct exponential_kernel {
  static constexpr bool binary = true;
  static constexpr bool constrained_endpoints = false;
  static constexpr const char* name = "exponential_kernel";
  coalition_distance distance = coalition_distance::cosine;
  double width = 0.0;  // 0 picks the default: 1 for cosine, 0.75 sqrt(n) for Euclidean

  double resolved_width(index n) const {
    detail::require(width >= 0.0 && std::isfinite(width),
                    "exponential_kernel: width must be finite and >= 0, got " + std::to_string(width));
    if (width > 0.0) return width;
    return distance == coalition_distance::cosine ? 1.0 : 0.75 * std::sqrt(static_cast<double>(n));
  }

  // Both distances depend on the coalition size s alone.
  double distance_of_size(index n, index s) const {
    if (distance == coalition_distance::euclidean) return std::sqrt(static_cast<double>(n - s));
    if (s == 0) return 1.0;  // cosine similarity with the zero vector taken as 0
    return 1.0 - std::sqrt(static_cast<double>(s) / static_cast<double>(n));
  }

  double kernel(index n, index s) const {
    const double d = distance_of_size(n, s);
    const double w = resolved_width(n);
    return std::exp(-d * d / (w * w));
  }

  // Weights are the kernel values themselves, as in lime, so a ridge or lasso alpha means what
  // it means there: a penalty relative to the summed kernel weight of the points.
  double size_weight(index n, index s) const { return kernel(n, s); }

  neighborhood_sample sample(index n, std::size_t budget, rng& random) const {
    detail::require(n >= 1, "exponential_kernel: the game has no players");
    neighborhood_sample out;
    const auto m = static_cast<index>(budget);
    out.points.resize(m, n);
    out.weights.resize(m);
    for (index r = 0; r < m; ++r) {
      index s = 0;
      for (index j = 0; j < n; ++j) {
        out.points(r, j) = static_cast<double>(random() >> 63);
        s += out.points(r, j) > 0.5;
      }
      out.weights(r) = kernel(n, s);
    }
    out.unit.resize(static_cast<std::size_t>(m));
    for (index r = 0; r < m; ++r) out.unit[static_cast<std::size_t>(r)] = r;
    out.draws.assign(static_cast<std::size_t>(m), 1.0);
    return out;
  }
};

static_assert(size_kernel_neighborhood<exponential_kernel>);

}  // namespace attrib
