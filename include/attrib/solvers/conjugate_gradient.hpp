#pragma once
// Inverse-Hessian-vector products by conjugate gradient: only Hessian-vector products, no p x p
// matrix. Converges for a positive definite H + damping I; on an indefinite operator it stops
// when it meets a direction of non-positive curvature and says so.
#include <cmath>
#include <string>

#include "attrib/concepts/inverse_hessian.hpp"
#include "attrib/core/error.hpp"

namespace attrib {

struct conjugate_gradient_options {
  double damping = 0.0;
  double tolerance = 1e-10;   // stop when ||r|| / ||v|| falls below this
  index max_iterations = 0;   // 0: 2 * dim
};

template <hessian_operator H>
class conjugate_gradient_inverse_hessian {
 public:
  explicit conjugate_gradient_inverse_hessian(const H& hessian, conjugate_gradient_options options = {})
      : h_(hessian), options_(options) {
    detail::require(std::isfinite(options_.damping) && options_.damping >= 0,
                    "conjugate_gradient: damping must be finite and non-negative");
    detail::require(options_.tolerance > 0, "conjugate_gradient: tolerance must be positive");
    detail::require(options_.max_iterations >= 0, "conjugate_gradient: max_iterations must be >= 0");
  }

  index dim() const { return h_.dim(); }

  ihvp_result solve(const vector& v) const {
    detail::require_rhs(v, dim(), "conjugate_gradient");
    const double lambda = options_.damping;
    const index limit = options_.max_iterations > 0 ? options_.max_iterations : 2 * dim();
    ihvp_result out;
    out.diagnostics.method = "conjugate_gradient";
    out.diagnostics.damping = lambda;
    vector x = vector::Zero(dim());
    vector r = v;
    vector d = r;
    double rr = r.squaredNorm();
    const double stop = options_.tolerance * options_.tolerance * rr;
    index it = 0;
    for (; it < limit && rr > stop; ++it) {
      const vector hd = h_.apply(d) + lambda * d;
      ++out.diagnostics.hvp_count;
      const double curvature = d.dot(hd);
      if (!(curvature > 0)) {
        out.diagnostics.message = "conjugate_gradient: non-positive curvature " + std::to_string(curvature) +
                                  " at iteration " + std::to_string(it) +
                                  "; H + damping I is not positive definite, increase damping";
        break;
      }
      const double alpha = rr / curvature;
      x += alpha * d;
      r -= alpha * hd;
      const double rr_next = r.squaredNorm();
      d = r + (rr_next / rr) * d;
      rr = rr_next;
    }
    out.diagnostics.iterations = it;
    if (out.diagnostics.message.empty() && rr > stop)
      out.diagnostics.message = "conjugate_gradient: stopped after " + std::to_string(it) +
                                " iterations before reaching the tolerance";
    // The recursively updated residual drifts from the true one; report the true one.
    out.diagnostics.relative_residual = detail::relative_residual(h_, lambda, x, v);
    ++out.diagnostics.hvp_count;
    out.solution = std::move(x);
    return out;
  }

 private:
  H h_;
  conjugate_gradient_options options_;
};

}  // namespace attrib
