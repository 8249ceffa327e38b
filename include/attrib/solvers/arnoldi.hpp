#pragma once
// Low-rank inverse-Hessian products from the top eigenpairs of H (Schioppa et al. 2022). H is
// symmetric, so the Arnoldi iteration is the Lanczos iteration; it is run with full
// reorthogonalisation from a seeded Gaussian start, the Ritz pairs with the largest eigenvalues
// are kept, and (H + damping I)^-1 v ~= U diag(1 / (lambda + damping)) U^T v on their span.
// Directions outside the span are dropped, so the solve is only as good as the spectrum it keeps:
// spectrum_coverage = sum of kept eigenvalues / trace(H), the trace estimated by Hutchinson's
// estimator with seeded Rademacher probes (exact when probes >= dim: unit vectors are used).
#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "attrib/concepts/inverse_hessian.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/random.hpp"

namespace attrib {

struct arnoldi_options {
  index iterations = 100;    // Krylov dimension (Hessian-vector products)
  index top_k = 50;          // eigenpairs kept
  double damping = 0.0;
  index trace_probes = 30;   // Hutchinson probes for the coverage; >= dim: exact trace
  std::uint64_t seed = 0;
};

template <hessian_operator H>
class arnoldi_inverse_hessian {
 public:
  explicit arnoldi_inverse_hessian(const H& hessian, arnoldi_options options = {})
      : h_(hessian), options_(options) {
    detail::require(options_.iterations > 0 && options_.top_k > 0,
                    "arnoldi: iterations and top_k must be positive");
    detail::require(options_.top_k <= options_.iterations, "arnoldi: top_k must not exceed iterations");
    detail::require(std::isfinite(options_.damping) && options_.damping >= 0,
                    "arnoldi: damping must be finite and non-negative");
    build();
  }

  index dim() const { return h_.dim(); }
  const vector& eigenvalues() const { return values_; }  // kept, descending
  const matrix& eigenvectors() const { return vectors_; }  // p x k, column-major meaning
  double spectrum_coverage() const { return coverage_; }
  double trace_estimate() const { return trace_; }
  index construction_hvps() const { return construction_hvps_; }

  ihvp_result solve(const vector& v) const {
    detail::require_rhs(v, dim(), "arnoldi");
    ihvp_result out;
    out.diagnostics.method = "arnoldi";
    out.diagnostics.damping = options_.damping;
    out.diagnostics.spectrum_coverage = coverage_;
    out.diagnostics.message = message_;
    const vector coefficients = vectors_.transpose() * v;
    out.solution = vectors_ * (coefficients.array() / (values_.array() + options_.damping)).matrix();
    out.diagnostics.relative_residual = detail::relative_residual(h_, options_.damping, out.solution, v);
    out.diagnostics.hvp_count = 1;
    return out;
  }

 private:
  void build() {
    const index p = dim();
    const index m = std::min(options_.iterations, p);
    Eigen::MatrixXd q(p, m + 1);
    vector alpha = vector::Zero(m), beta = vector::Zero(m);
    rng gen = rng::stream(options_.seed, 0);
    vector start(p);
    for (index i = 0; i < p; ++i) start[i] = gen.normal();
    q.col(0) = start.normalized();
    index steps = 0;
    for (index j = 0; j < m; ++j) {
      vector w = h_.apply(q.col(j));
      ++construction_hvps_;
      alpha[j] = q.col(j).dot(w);
      // Full reorthogonalisation, twice: Lanczos loses orthogonality exactly when it matters.
      for (int pass = 0; pass < 2; ++pass)
        w -= q.leftCols(j + 1) * (q.leftCols(j + 1).transpose() * w);
      steps = j + 1;
      const double b = w.norm();
      beta[j] = b;
      if (b <= 1e-12 * std::max(1.0, std::abs(alpha[j]))) break;  // invariant subspace found
      q.col(j + 1) = w / b;
    }
    Eigen::MatrixXd t = Eigen::MatrixXd::Zero(steps, steps);
    for (index j = 0; j < steps; ++j) {
      t(j, j) = alpha[j];
      if (j + 1 < steps) t(j, j + 1) = t(j + 1, j) = beta[j];
    }
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(t);
    const index k = std::min(options_.top_k, steps);
    values_ = eig.eigenvalues().tail(k).reverse();
    const Eigen::MatrixXd ritz = q.leftCols(steps) * eig.eigenvectors().rightCols(k).rowwise().reverse();
    vectors_ = ritz;
    for (index i = 0; i < k; ++i) {
      if (values_[i] + options_.damping <= 0) {
        message_ = "arnoldi: kept eigenvalue " + std::to_string(values_[i]) +
                   " is not positive after damping; H is indefinite, increase damping";
        break;
      }
    }
    // Trace of H for the coverage.
    if (options_.trace_probes >= p) {
      trace_ = 0;
      vector e = vector::Zero(p);
      for (index i = 0; i < p; ++i) {
        e[i] = 1;
        trace_ += h_.apply(e)[i];
        e[i] = 0;
      }
      construction_hvps_ += p;
    } else if (options_.trace_probes > 0) {
      double sum = 0;
      for (index s = 0; s < options_.trace_probes; ++s) {
        rng probe_gen = rng::stream(options_.seed, static_cast<std::uint64_t>(s + 1));
        vector z(p);
        for (index i = 0; i < p; ++i) z[i] = probe_gen.rademacher();
        sum += z.dot(h_.apply(z));
      }
      construction_hvps_ += options_.trace_probes;
      trace_ = sum / static_cast<double>(options_.trace_probes);
    }
    coverage_ = options_.trace_probes > 0 && trace_ > 0 ? values_.sum() / trace_
                                                        : std::numeric_limits<double>::quiet_NaN();
  }

  H h_;
  arnoldi_options options_;
  vector values_;
  matrix vectors_;
  double coverage_ = std::numeric_limits<double>::quiet_NaN();
  double trace_ = std::numeric_limits<double>::quiet_NaN();
  index construction_hvps_ = 0;
  std::string message_;
};

}  // namespace attrib
