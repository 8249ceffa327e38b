#pragma once
// RelatIF (Barshan et al. 2020): influence relative to a training point's global effect.
//
//   theta-relative(i, test) = - g_test^T H^-1 g_i / || H^-1 g_i ||
//   l-relative(i, test)     = - g_test^T H^-1 g_i / sqrt( g_i^T H^-1 g_i )
//
// with H + damping I in place of H, as in influence.hpp. Plain influence is large for points
// whose up-weighting moves the parameters a lot (H^-1 g_i is long): outliers and high-leverage
// points top every test point's list. Dividing by how far point i moves the parameters
// (theta-relative), or by its self-influence, the change of its own loss (l-relative), keeps
// only how well that move is aligned with the test point. Both are invariant to scaling g_i by
// any c > 0.
//
// Composition: representation (per-example loss gradients) -> transform -> inner product, as
// every method in grad_similarity.hpp, with the inverse-Hessian product on the TRAINING side:
// relative_influence_transform maps row g_i to H^-1 g_i / norm_i, and the inner product with the
// untransformed test gradient, scaled by -1, is the score. This costs n solves (one per training
// point) instead of influence()'s n_test; with explicit_inverse_hessian the Hessian is factorised
// once, in its constructor, and each solve is two triangular substitutions.
#include <cmath>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "attrib/concepts/inverse_hessian.hpp"
#include "attrib/core/data_attribution.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/parallel.hpp"
#include "attrib/core/types.hpp"
#include "attrib/core/validate.hpp"
#include "attrib/methods/data/grad_similarity.hpp"

namespace attrib {

// What a training point's influence is divided by.
enum class relatif_normalization {
  theta,  // || H^-1 g_i ||: the length of the parameter change it causes
  loss,   // sqrt(g_i^T H^-1 g_i): the square root of its self-influence
};

struct relatif_options {
  std::size_t threads = 1;  // training points run in parallel; results do not depend on it (0: all cores)
};

// Both variants and plain influence from the same n solves; every matrix is n x n_test in
// influence()'s sign convention (I_up,loss: supporting points are negative).
struct relatif_result {
  data_attribution theta_relative;
  data_attribution loss_relative;
  data_attribution influence;                 // - g_test^T H^-1 g_i, from the training-side solves
  vector solution_norms;                      // || H^-1 g_i ||
  vector self_influence;                      // g_i^T H^-1 g_i
  std::vector<ihvp_diagnostics> diagnostics;  // one per TRAINING point (the solves are on that side)
};

namespace detail {

struct training_side_solves {
  matrix solutions;  // row i: (H + damping I)^-1 g_i
  vector norms;
  vector self;
  std::vector<ihvp_diagnostics> diagnostics;
};

template <inverse_hessian_product S>
training_side_solves solve_training_rows(const S& solver, const matrix& gradients, std::size_t threads,
                                         const std::string& who) {
  require(gradients.rows() > 0, who + ": the training set must not be empty");
  require(gradients.cols() == solver.dim(), who + ": train_gradients have " + std::to_string(gradients.cols()) +
                                                " columns, expected the parameter count " +
                                                std::to_string(solver.dim()));
  require_finite(gradients, who + ": train_gradients");
  const index n = gradients.rows();
  training_side_solves out{matrix(n, gradients.cols()), vector(n), vector(n),
                           std::vector<ihvp_diagnostics>(static_cast<std::size_t>(n))};
  parallel_for(static_cast<std::size_t>(n), threads, [&](std::size_t t) {
    const auto i = static_cast<index>(t);
    const vector g = gradients.row(i).transpose();
    ihvp_result r = solver.solve(g);
    require(r.solution.size() == gradients.cols() && r.solution.allFinite(),
            who + ": the inverse-Hessian solve of training point " + std::to_string(i) + " is not finite" +
                (r.diagnostics.message.empty() ? std::string(" (did it diverge?)") : " (" + r.diagnostics.message + ")"));
    const double self = g.dot(r.solution);
    // A nonzero gradient with g^T (H + damping I)^-1 g <= 0 means the operator is not positive
    // definite: neither normalisation is defined.
    require(g.squaredNorm() == 0.0 || self > 0.0,
            who + ": training point " + std::to_string(i) + " has g^T (H + damping I)^-1 g = " + std::to_string(self) +
                " <= 0; H + damping I is not positive definite, increase damping" +
                (r.diagnostics.message.empty() ? std::string() : " (" + r.diagnostics.message + ")"));
    out.solutions.row(i) = r.solution.transpose();
    out.norms[i] = r.solution.norm();
    out.self[i] = self;
    out.diagnostics[t] = std::move(r.diagnostics);
  });
  return out;
}

// Rows of the solutions divided by the chosen normalisation; a zero gradient (no influence at
// all) stays a zero row rather than 0 / 0.
inline matrix relative_rows(const training_side_solves& s, relatif_normalization normalization) {
  matrix out = s.solutions;
  for (index i = 0; i < out.rows(); ++i) {
    const double d = normalization == relatif_normalization::theta ? s.norms[i] : std::sqrt(s.self[i]);
    if (d > 0)
      out.row(i) /= d;
    else
      out.row(i).setZero();
  }
  return out;
}

}  // namespace detail

// RelatIF's transform: training rows g_i -> H^-1 g_i / norm_i, test rows untouched. Through
// inner_product_attribution with scale -1 it gives one RelatIF variant.
template <inverse_hessian_product S>
struct relative_influence_transform {
  const S* solver;
  relatif_normalization normalization = relatif_normalization::theta;
  std::size_t threads = 1;

  relative_influence_transform(const S& s, relatif_normalization kind, std::size_t thread_count = 1)
      : solver(&s), normalization(kind), threads(thread_count) {}

  transformed_features train(const matrix& phi) const {
    detail::training_side_solves s = detail::solve_training_rows(*solver, phi, threads, "relative_influence_transform");
    return {detail::relative_rows(s, normalization), std::move(s.diagnostics)};
  }
  transformed_features test(const matrix& phi) const { return {phi, {}}; }
};

// Theta- and l-relative influence of every training point (rows of train_gradients, n x p) on
// every test point (rows of test_gradients, n_test x p).
template <inverse_hessian_product S>
relatif_result relatif(const S& solver, const matrix& train_gradients, const matrix& test_gradients,
                       const relatif_options& options = {}) {
  detail::require_features(train_gradients, test_gradients, "relatif");
  detail::training_side_solves s = detail::solve_training_rows(solver, train_gradients, options.threads, "relatif");
  const std::string suffix = s.diagnostics.empty() ? std::string() : "/" + s.diagnostics.front().method;
  relatif_result out;
  out.theta_relative = inner_product_attribution("relatif/theta" + suffix,
                                                 detail::relative_rows(s, relatif_normalization::theta),
                                                 test_gradients, identity_transform{}, -1.0);
  out.loss_relative = inner_product_attribution("relatif/loss" + suffix,
                                                detail::relative_rows(s, relatif_normalization::loss), test_gradients,
                                                identity_transform{}, -1.0);
  out.influence = inner_product_attribution("influence" + suffix, s.solutions, test_gradients, identity_transform{}, -1.0);
  out.solution_norms = std::move(s.norms);
  out.self_influence = std::move(s.self);
  out.diagnostics = std::move(s.diagnostics);
  return out;
}

}  // namespace attrib
