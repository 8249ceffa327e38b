#pragma once
// The point of a polyhedron {x : E x = e, G x >= h} closest in Euclidean distance to a target t:
// minimise |x - t|^2 / 2 by the dual active-set method of Goldfarb and Idnani (1983), here
// with the identity Hessian. It starts from the projection of t onto the equalities (the
// unconstrained optimum, dual feasible) and adds the most violated inequality until none is
// violated, dropping constraints whose multiplier would turn negative. Active normals stay
// linearly independent, so a polyhedron with many redundant rows (the 2^n coalition
// constraints of the least core) needs at most n of them at a time. attrib uses it for the
// tie-break of the core value; it reads all of G each iteration, so it suits few variables.
#include <Eigen/Cholesky>
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"
#include "attrib/core/validate.hpp"

namespace attrib {

struct polyhedron_projection_problem {
  vector target;              // t
  matrix equalities;          // E (rows may be zero)
  vector equality_bounds;     // e
  matrix inequalities;        // G
  vector inequality_bounds;   // h
};

struct polyhedron_projection_options {
  double tolerance = 1e-10;           // feasibility, relative to the scale of h, e and t
  std::size_t max_iterations = 100000;  // constraints added or dropped
};

struct polyhedron_projection_result {
  vector x;
  vector multipliers;          // one per inequality: x - t = E^T lambda + G^T multipliers, multipliers >= 0
  double max_violation = 0.0;  // max(0, max_k h_k - G_k x) at x
  std::size_t iterations = 0;
};

// A template only so that it (and its LDLT solves) compiles where it is called, not in every program
// that includes the umbrella header (docs/performance.md); calls are unchanged.
template <class = void>
polyhedron_projection_result project_onto_polyhedron(const polyhedron_projection_problem& p,
                                                     const polyhedron_projection_options& options = {}) {
  const index n = p.target.size(), me = p.equalities.rows(), mi = p.inequalities.rows();
  detail::require(n >= 1, "project_onto_polyhedron: target is empty; expected at least one variable");
  detail::require(me == 0 || p.equalities.cols() == n, "project_onto_polyhedron: equalities have " +
                                                           std::to_string(p.equalities.cols()) + " columns, expected " +
                                                           std::to_string(n));
  detail::require(mi == 0 || p.inequalities.cols() == n, "project_onto_polyhedron: inequalities have " +
                                                             std::to_string(p.inequalities.cols()) + " columns, expected " +
                                                             std::to_string(n));
  detail::require_size(p.equality_bounds.size(), me, "project_onto_polyhedron: equality_bounds");
  detail::require_size(p.inequality_bounds.size(), mi, "project_onto_polyhedron: inequality_bounds");
  detail::require(me <= n, "project_onto_polyhedron: " + std::to_string(me) + " equalities for " + std::to_string(n) +
                               " variables; expected at most as many equalities as variables");
  detail::require_finite(p.target, "project_onto_polyhedron: target");
  detail::require_finite(p.equalities, "project_onto_polyhedron: equalities");
  detail::require_finite(p.equality_bounds, "project_onto_polyhedron: equality_bounds");
  detail::require_finite(p.inequalities, "project_onto_polyhedron: inequalities");
  detail::require_finite(p.inequality_bounds, "project_onto_polyhedron: inequality_bounds");
  double scale = 1.0;
  if (me > 0) scale = std::max(scale, p.equality_bounds.cwiseAbs().maxCoeff());
  if (mi > 0) scale = std::max(scale, p.inequality_bounds.cwiseAbs().maxCoeff());
  scale = std::max(scale, p.target.cwiseAbs().maxCoeff());
  const double feasibility = options.tolerance * scale;
  const double tiny = 1e-12;

  // The active set: every equality (never dropped), then the active inequalities; u holds
  // their multipliers in the same order.
  std::vector<index> active;  // inequality indices
  vector u_eq = vector::Zero(me);
  std::vector<double> u;
  const auto normals = [&] {
    matrix nm(n, me + static_cast<index>(active.size()));
    if (me > 0) nm.leftCols(me) = p.equalities.transpose();
    for (std::size_t k = 0; k < active.size(); ++k) nm.col(me + static_cast<index>(k)) = p.inequalities.row(active[k]).transpose();
    return nm;
  };

  vector x = p.target;
  if (me > 0) {
    const matrix ee = p.equalities * p.equalities.transpose();
    const Eigen::LDLT<matrix> ldlt(ee);
    u_eq = ldlt.solve(p.equality_bounds - p.equalities * p.target);
    x = p.target + p.equalities.transpose() * u_eq;
    const double residual = (p.equalities * x - p.equality_bounds).cwiseAbs().maxCoeff();
    detail::require(ldlt.info() == Eigen::Success && residual <= 1e3 * feasibility,
                    "project_onto_polyhedron: the equalities are inconsistent or linearly dependent (residual " +
                        std::to_string(residual) + ")");
  }

  polyhedron_projection_result out;
  for (;;) {
    // The most violated inequality, lowest index on ties.
    index violated = -1;
    double worst = -feasibility;
    for (index k = 0; k < mi; ++k) {
      const double s = p.inequalities.row(k).dot(x) - p.inequality_bounds(k);
      if (s < worst) worst = s, violated = k;
    }
    if (violated < 0) break;
    const vector a = p.inequalities.row(violated).transpose();
    double u_new = 0.0;
    for (;;) {
      detail::require(out.iterations < options.max_iterations,
                      "project_onto_polyhedron: stopped after max_iterations = " +
                          std::to_string(options.max_iterations) + " active-set changes");
      ++out.iterations;
      const matrix nm = normals();
      vector r = vector::Zero(nm.cols());
      vector z = a;
      if (nm.cols() > 0) {
        r = (nm.transpose() * nm).ldlt().solve(nm.transpose() * a);
        z = a - nm * r;
      }
      const double slack = a.dot(x) - p.inequality_bounds(violated);
      const double za = z.dot(a);
      const double full_step = za > tiny * std::max(1.0, a.squaredNorm()) ? -slack / za
                                                                           : std::numeric_limits<double>::infinity();
      // The longest step that keeps the active inequalities' multipliers non-negative.
      double partial_step = std::numeric_limits<double>::infinity();
      index blocking = -1;
      for (std::size_t k = 0; k < active.size(); ++k) {
        const double rk = r(me + static_cast<index>(k));
        if (rk > tiny && u[k] / rk < partial_step) partial_step = u[k] / rk, blocking = static_cast<index>(k);
      }
      const double step = std::min(full_step, partial_step);
      detail::require(std::isfinite(step), "project_onto_polyhedron: the constraints are infeasible (inequality " +
                                               std::to_string(violated) + " cannot be satisfied with the active ones)");
      if (std::isfinite(full_step)) x += step * z;
      if (me > 0) u_eq -= step * r.head(me);
      for (std::size_t k = 0; k < active.size(); ++k) u[k] -= step * r(me + static_cast<index>(k));
      u_new += step;
      if (step == full_step) {
        active.push_back(violated);
        u.push_back(u_new);
        break;
      }
      active.erase(active.begin() + blocking);
      u.erase(u.begin() + blocking);
    }
  }
  out.x = x;
  out.multipliers = vector::Zero(mi);
  for (std::size_t k = 0; k < active.size(); ++k) out.multipliers(active[k]) = std::max(0.0, u[k]);
  for (index k = 0; k < mi; ++k)
    out.max_violation = std::max(out.max_violation, p.inequality_bounds(k) - p.inequalities.row(k).dot(x));
  return out;
}

}  // namespace attrib
