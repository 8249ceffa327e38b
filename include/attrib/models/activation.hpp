#pragma once
// Elementwise activation functions with their first and second derivatives. The second
// derivative is what makes exact Hessian-vector products through a network possible.
#include <array>
#include <cmath>
#include <numbers>
#include <string>
#include <string_view>

#include "attrib/core/error.hpp"

namespace attrib {

enum class activation { identity, tanh, relu, gelu, sigmoid };

namespace detail {
inline constexpr std::array<std::pair<activation, std::string_view>, 5> activation_names{{
    {activation::identity, "identity"},
    {activation::tanh, "tanh"},
    {activation::relu, "relu"},
    {activation::gelu, "gelu"},
    {activation::sigmoid, "sigmoid"},
}};

// The logistic function, evaluated so that neither branch overflows exp.
inline double logistic(double x) {
  if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1.0 + e);
}

inline double standard_normal_pdf(double x) {
  return std::exp(-0.5 * x * x) * (std::numbers::inv_sqrtpi / std::numbers::sqrt2);
}

// erfc keeps the tail accurate for large negative x, where 1 + erf(x / sqrt 2) cancels.
inline double standard_normal_cdf(double x) { return 0.5 * std::erfc(-x / std::numbers::sqrt2); }
}  // namespace detail

// The activation's value at x. gelu is the exact form x * Phi(x), not the tanh approximation.
inline double activate(activation a, double x) {
  switch (a) {
    case activation::identity: return x;
    case activation::tanh: return std::tanh(x);
    case activation::relu: return x > 0 ? x : 0.0;
    case activation::gelu: return x * detail::standard_normal_cdf(x);
    case activation::sigmoid: return detail::logistic(x);
  }
  return x;
}

// d/dx. relu's derivative at 0 is taken to be 0, as PyTorch does.
inline double activation_derivative(activation a, double x) {
  switch (a) {
    case activation::identity: return 1.0;
    case activation::tanh: {
      const double t = std::tanh(x);
      return 1.0 - t * t;
    }
    case activation::relu: return x > 0 ? 1.0 : 0.0;
    case activation::gelu:
      return detail::standard_normal_cdf(x) + x * detail::standard_normal_pdf(x);
    case activation::sigmoid: {
      const double s = detail::logistic(x);
      return s * (1.0 - s);
    }
  }
  return 1.0;
}

// d^2/dx^2. relu's is 0 everywhere (its kink is a measure-zero set).
inline double activation_second_derivative(activation a, double x) {
  switch (a) {
    case activation::identity: return 0.0;
    case activation::tanh: {
      const double t = std::tanh(x);
      return -2.0 * t * (1.0 - t * t);
    }
    case activation::relu: return 0.0;
    case activation::gelu: return detail::standard_normal_pdf(x) * (2.0 - x * x);
    case activation::sigmoid: {
      const double s = detail::logistic(x);
      return s * (1.0 - s) * (1.0 - 2.0 * s);
    }
  }
  return 0.0;
}

inline std::string_view activation_name(activation a) {
  for (const auto& [value, name] : detail::activation_names)
    if (value == a) return name;
  return "unknown";
}

// The activation called `name`; throws invalid_argument listing the accepted names otherwise.
inline activation parse_activation(std::string_view name) {
  for (const auto& [value, known] : detail::activation_names)
    if (known == name) return value;
  std::string accepted;
  for (const auto& entry : detail::activation_names)
    accepted += (accepted.empty() ? "" : ", ") + std::string(entry.second);
  throw invalid_argument("activation: unknown name '" + std::string(name) + "', expected one of " +
                         accepted);
}

}  // namespace attrib
