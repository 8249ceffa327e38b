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

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"
#include "attrib/core/validate.hpp"

namespace attrib {

// What a solve reports beside its solution. Fields a solver cannot measure stay NaN.
struct ihvp_diagnostics {
  std::string method;
  // ||(H + damping I) x - v|| / ||v||, with H the exact operator the solver was given (one extra
  // Hessian-vector product per solve). NaN when the solver has no operator to check against.
  double relative_residual = std::numeric_limits<double>::quiet_NaN();
  // Low-rank solvers: sum of the kept eigenvalues / trace(H) (estimated when marked so).
  double spectrum_coverage = std::numeric_limits<double>::quiet_NaN();
  double damping = 0.0;     // the damping actually added to H
  index hvp_count = 0;      // Hessian-vector products spent on this solve
  index iterations = 0;     // CG iterations / LiSSA recursion steps
  std::string message;      // e.g. why damping was added; empty when there is nothing to say
};

struct ihvp_result {
  vector solution;
  ihvp_diagnostics diagnostics;
};

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

// The Hessian of m's mean regularised training loss on (inputs, targets), through
// m.hessian_vector_product. Holds references: the model and data must outlive it.
template <class M>
  requires requires(const M& m, const matrix& x, const vector& y, const vector& v) {
    { m.hessian_vector_product(x, y, v) } -> std::convertible_to<vector>;
    { m.parameter_count() } -> std::convertible_to<index>;
  }
class model_hessian {
 public:
  model_hessian(const M& model, const matrix& inputs, const vector& targets)
      : model_(&model), inputs_(&inputs), targets_(&targets) {
    detail::require(inputs.rows() > 0, "model_hessian: the training set must not be empty");
    detail::require_size(targets.size(), inputs.rows(), "model_hessian: targets");
  }
  index dim() const { return model_->parameter_count(); }
  index rows() const { return inputs_->rows(); }
  vector apply(const vector& v) const { return model_->hessian_vector_product(*inputs_, *targets_, v); }
  vector apply_rows(const vector& v, std::span<const index> rows) const {
    matrix x(static_cast<index>(rows.size()), inputs_->cols());
    vector y(static_cast<index>(rows.size()));
    for (std::size_t r = 0; r < rows.size(); ++r) {
      x.row(static_cast<index>(r)) = inputs_->row(rows[r]);
      y[static_cast<index>(r)] = (*targets_)[rows[r]];
    }
    return model_->hessian_vector_product(x, y, v);
  }

 private:
  const M* model_;
  const matrix* inputs_;
  const vector* targets_;
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
