#pragma once
// The transform step of gradient-based data attribution: x = (H + damping I)^-1 v, together with
// a statement of how good x is. Every solver (explicit LDLT, conjugate gradient, LiSSA, Arnoldi,
// EK-FAC) models inverse_hessian_product, so an influence method is written once for all of them.
//
// A solver works on a hessian_operator: something that multiplies a vector by the Hessian of the
// mean regularised training loss. model_hessian<M> binds a model to its training data.
#include <algorithm>
#include <concepts>
#include <cstdint>
#include <limits>
#include <span>
#include <string>

#include "attrib/core/data_attribution.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"
#include "attrib/core/validate.hpp"

namespace attrib {

// h.dim() is the parameter count p; h.apply(v) returns H v for a p-vector v.
template <class H>
concept hessian_operator = requires(const H& h, const vector& v) {
  { h.dim() } -> std::convertible_to<index>;
  { h.apply(v) } -> std::convertible_to<vector>;
};

// A hessian_operator that can also multiply by the Hessian of a minibatch (the rows given), as
// stochastic solvers such as LiSSA need.
template <class H>
concept sampled_hessian_operator =
    hessian_operator<H> && requires(const H& h, const vector& v, std::span<const index> rows) {
      { h.apply_rows(v, rows) } -> std::convertible_to<vector>;
      { h.rows() } -> std::convertible_to<index>;
    };

// s.solve(v) returns an ihvp_result whose solution approximates (H + damping I)^-1 v.
template <class S>
concept inverse_hessian_product = requires(const S& s, const vector& v) {
  { s.dim() } -> std::convertible_to<index>;
  { s.solve(v) } -> std::convertible_to<ihvp_result>;
};

// A dense symmetric matrix as a hessian_operator (tests, and Hessians formed elsewhere).
struct dense_hessian {
  matrix h;
  index dim() const { return h.rows(); }
  vector apply(const vector& v) const { return h * v; }
};

namespace detail {
template <hessian_operator H>
double relative_residual(const H& h, double damping, const vector& x, const vector& v) {
  const double vn = v.norm();
  const vector r = h.apply(x) + damping * x - v;
  return vn > 0 ? r.norm() / vn : r.norm();
}

inline void require_rhs(const vector& v, index dim, const std::string& who) {
  require_size(v.size(), dim, who + ": right-hand side");
  require_finite(v, who + ": right-hand side");
}
}  // namespace detail

static_assert(hessian_operator<dense_hessian>);

}  // namespace attrib
