#pragma once
// Elementwise activation functions with their first and second derivatives. The second
// derivative is what makes exact Hessian-vector products through a network possible.
#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"
#include "attrib/models/detail/tanh_avx2.hpp"

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

namespace detail {
// Batch activations. std::tanh costs ~15 ns an element here; exp ~3.5 ns (glibc picks an FMA
// version at run time), so tanh and the logistic go through exp. Eigen's vectorised exp beats
// glibc's only when it is compiled for AVX2 and FMA (2 ns against 6 ns with SSE2 alone): then
// the kernels run on blocks of 256 doubles held on the stack, else element by element. Either way
// a batch costs no allocation beyond its result.
#if defined(EIGEN_VECTORIZE_AVX2) && defined(EIGEN_VECTORIZE_FMA)
inline constexpr bool vector_exp_pays = true;
#else
inline constexpr bool vector_exp_pays = false;
#endif
using block_array = Eigen::Array<double, Eigen::Dynamic, 1, Eigen::ColMajor, 256, 1>;

// For |x| >= 0.1, (1 - e) / (1 + e) with e = exp(-2|x|) loses at most ~3 ulp to the cancellation
// in 1 - e; below, the odd Taylor series to x^15 is exact to rounding (the first dropped term is
// 3e-17 relative).
template <class T>
T tanh_series(const T& x, const T& z) {
  return x * (1.0 + z * (-1.0 / 3 + z * (2.0 / 15 + z * (-17.0 / 315 + z * (62.0 / 2835 +
             z * (-1382.0 / 155925 + z * (21844.0 / 6081075 + z * (-929569.0 / 638512875))))))));
}

inline double tanh_of(double x) {
  const double a = std::abs(x);
  if (a < 0.1) return tanh_series(x, x * x);
  const double e = std::exp(-2.0 * a);
  return std::copysign((1.0 - e) / (1.0 + e), x);
}

template <class = void>
block_array tanh_of(const block_array& x) {
  const block_array e = (-2.0 * x.abs()).exp();
  const block_array large = (1.0 - e) / (1.0 + e);
  const block_array series = tanh_series<block_array>(x, x.square());
  return (x.abs() < 0.1).select(series, (x < 0).select(-large, large));
}

// exp(-x) may overflow to inf, which gives the right limit 0.
inline double logistic_of(double x) { return 1.0 / (1.0 + std::exp(-x)); }
template <class = void>
block_array logistic_of(const block_array& x) { return 1.0 / (1.0 + (-x).exp()); }

// out[i] = kernel(in[i]) for i < n; in and out may be the same array. `kernel` takes and returns
// a double or a block_array.
template <class Kernel>
void elementwise(const double* in, double* out, index n, Kernel&& kernel) {
  if constexpr (vector_exp_pays) {
    for (index at = 0; at < n; at += 256) {
      const index len = std::min<index>(256, n - at);
      const block_array x = Eigen::Map<const Eigen::ArrayXd>(in + at, len);
      Eigen::Map<Eigen::ArrayXd>(out + at, len) = kernel(x);
    }
  } else {
    for (index i = 0; i < n; ++i) out[i] = kernel(in[i]);
  }
}

template <class Kernel>
matrix elementwise(const matrix& pre, Kernel&& kernel) {
  matrix out(pre.rows(), pre.cols());
  elementwise(pre.data(), out.data(), pre.size(), std::forward<Kernel>(kernel));
  return out;
}

// The kernels, each for a double and for a block.
inline constexpr auto tanh_value = [](const auto& x) -> std::decay_t<decltype(x)> { return tanh_of(x); };
inline constexpr auto logistic_value = [](const auto& x) -> std::decay_t<decltype(x)> {
  return logistic_of(x);
};
inline constexpr auto logistic_first = [](const auto& x) -> std::decay_t<decltype(x)> {
  const auto s = logistic_of(x);
  return s * (1.0 - s);
};
inline constexpr auto logistic_second = [](const auto& x) -> std::decay_t<decltype(x)> {
  const auto s = logistic_of(x);
  return s * (1.0 - s) * (1.0 - 2.0 * s);
};

// tanh of n doubles, in and out possibly the same: four at a time with AVX2 and FMA where the
// processor has them (models/detail/tanh_avx2.hpp), else through exp as above. Every batch path of
// the tanh activation and its derivatives goes through here, so a model's forward pass, its
// trace for gradients and its derivatives see the same bits.
inline void tanh_batch(const double* in, double* out, index n) {
#ifdef ATTRIB_X86_DISPATCH
  if (has_avx2_fma()) return tanh_array_avx2(in, out, n);
#endif
  elementwise(in, out, n, tanh_value);
}

inline matrix tanh_batch(const matrix& pre) {
  matrix out(pre.rows(), pre.cols());
  tanh_batch(pre.data(), out.data(), pre.size());
  return out;
}
}  // namespace detail

// Applies the activation to data[0 .. n) in place, as activate(a, matrix) below.
template <class = void>
void activate_in_place(activation a, double* data, index n) {
  switch (a) {
    case activation::identity: return;
    case activation::tanh: return detail::tanh_batch(data, data, n);
    case activation::sigmoid: return detail::elementwise(data, data, n, detail::logistic_value);
    case activation::relu:
      Eigen::Map<Eigen::ArrayXd>(data, n) = Eigen::Map<Eigen::ArrayXd>(data, n).max(0.0);
      return;
    case activation::gelu:
      for (index i = 0; i < n; ++i) data[i] = activate(a, data[i]);
      return;
  }
}

// The activation applied to every element of a batch (see detail:: above for how); equal to
// activate() element by element within a few ulp.
template <class = void>
matrix activate(activation a, const matrix& pre) {
  matrix out = pre;
  activate_in_place(a, out.data(), out.size());
  return out;
}

// activation_derivative() of every element.
template <class = void>
matrix activation_derivative(activation a, const matrix& pre) {
  switch (a) {
    case activation::identity: return matrix::Ones(pre.rows(), pre.cols());
    case activation::tanh: {
      matrix t = detail::tanh_batch(pre);
      t.array() = 1.0 - t.array().square();
      return t;
    }
    case activation::sigmoid: return detail::elementwise(pre, detail::logistic_first);
    case activation::relu:
    case activation::gelu: break;
  }
  return pre.unaryExpr([a](double x) { return activation_derivative(a, x); });
}

// activation_second_derivative() of every element.
template <class = void>
matrix activation_second_derivative(activation a, const matrix& pre) {
  switch (a) {
    case activation::identity:
    case activation::relu: return matrix::Zero(pre.rows(), pre.cols());
    case activation::tanh: {
      matrix t = detail::tanh_batch(pre);
      t.array() = -2.0 * t.array() * (1.0 - t.array().square());
      return t;
    }
    case activation::sigmoid: return detail::elementwise(pre, detail::logistic_second);
    case activation::gelu: break;
  }
  return pre.unaryExpr([a](double x) { return activation_second_derivative(a, x); });
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
