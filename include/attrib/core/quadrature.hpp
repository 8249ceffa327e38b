#pragma once
// Quadrature rules on [0, 1]: nodes and weights that sum to one, for path integrals such as
// Integrated Gradients. The trapezoid rule puts its n nodes on both end points with halved end
// weights (captum's version spreads weights 1/n over those nodes, so they sum to (n-1)/n).
#include <cmath>
#include <map>
#include <mutex>
#include <numbers>
#include <string>
#include <vector>

#include "attrib/core/error.hpp"

namespace attrib {

enum class quadrature_rule { riemann_left, riemann_right, riemann_midpoint, trapezoid, gauss_legendre };

struct quadrature {
  std::vector<double> nodes;
  std::vector<double> weights;
};

namespace detail {

// Gauss-Legendre nodes on [-1, 1] by Newton's method on P_n, from Tricomi's initial guesses.
inline quadrature gauss_legendre_unit(int n) {
  quadrature q;
  q.nodes.resize(static_cast<std::size_t>(n));
  q.weights.resize(static_cast<std::size_t>(n));
  for (int i = 0; i < (n + 1) / 2; ++i) {
    double x = std::cos(std::numbers::pi * (i + 0.75) / (n + 0.5));
    double derivative = 0.0;
    for (int iter = 0; iter < 100; ++iter) {
      double p0 = 1.0, p1 = x;
      for (int k = 2; k <= n; ++k) {
        const double p2 = ((2.0 * k - 1.0) * x * p1 - (k - 1.0) * p0) / k;
        p0 = p1;
        p1 = p2;
      }
      // Now p1 = P_n(x) and p0 = P_{n-1}(x).
      derivative = n * (x * p1 - p0) / (x * x - 1.0);
      const double step = p1 / derivative;
      x -= step;
      // Newton converges quadratically: once the step is at rounding level, stop.
      if (std::abs(step) <= 1e-15) break;
    }
    const double w = 2.0 / ((1.0 - x * x) * derivative * derivative);
    q.nodes[static_cast<std::size_t>(i)] = -x;
    q.nodes[static_cast<std::size_t>(n - 1 - i)] = x;
    q.weights[static_cast<std::size_t>(i)] = w;
    q.weights[static_cast<std::size_t>(n - 1 - i)] = w;
  }
  return q;
}

}  // namespace detail

inline quadrature make_quadrature(quadrature_rule rule, int steps) {
  if (steps < 1) detail::fail("quadrature: steps must be >= 1, got " + std::to_string(steps));
  detail::require(rule != quadrature_rule::trapezoid || steps >= 2, "quadrature: the trapezoid rule needs steps >= 2");
  quadrature q;
  const double n = steps;
  for (int k = 0; k < steps; ++k) {
    switch (rule) {
      case quadrature_rule::riemann_left: q.nodes.push_back(k / n); q.weights.push_back(1.0 / n); break;
      case quadrature_rule::riemann_right: q.nodes.push_back((k + 1) / n); q.weights.push_back(1.0 / n); break;
      case quadrature_rule::riemann_midpoint: q.nodes.push_back((k + 0.5) / n); q.weights.push_back(1.0 / n); break;
      case quadrature_rule::trapezoid:
        q.nodes.push_back(k / (n - 1));
        q.weights.push_back((k == 0 || k == steps - 1 ? 0.5 : 1.0) / (n - 1));
        break;
      case quadrature_rule::gauss_legendre: break;
    }
  }
  if (rule == quadrature_rule::gauss_legendre) {
    // Newton's iterations cost more than a small model's gradients: compute each size once.
    static std::mutex cache_mutex;
    static std::map<int, quadrature> cache;
    std::lock_guard lock(cache_mutex);
    auto it = cache.find(steps);
    if (it != cache.end()) return it->second;
    q = detail::gauss_legendre_unit(steps);
    for (std::size_t i = 0; i < q.nodes.size(); ++i) {
      q.nodes[i] = 0.5 * (q.nodes[i] + 1.0);
      q.weights[i] *= 0.5;
    }
    cache.emplace(steps, q);
  }
  return q;
}

inline quadrature_rule parse_quadrature_rule(const std::string& name) {
  if (name == "riemann_left") return quadrature_rule::riemann_left;
  if (name == "riemann_right") return quadrature_rule::riemann_right;
  if (name == "riemann_midpoint") return quadrature_rule::riemann_midpoint;
  if (name == "trapezoid") return quadrature_rule::trapezoid;
  if (name == "gauss_legendre") return quadrature_rule::gauss_legendre;
  throw invalid_argument("unknown quadrature rule '" + name +
                         "'; expected riemann_left, riemann_right, riemann_midpoint, trapezoid or gauss_legendre");
}

}  // namespace attrib
