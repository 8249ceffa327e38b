#pragma once
// A small dense linear-program solver: minimise c^T x subject to rows a_i^T x (<=, =, >=) b_i
// and x >= 0, by the two-phase tableau simplex with Bland's rule (no cycling on the heavily
// degenerate programs of cooperative games). attrib needs it for the least core, whose
// dual has n + 1 rows and 2^n columns: a dense tableau of that shape is small for n up to
// about 14, and no LP library is among attrib's dependencies. Not meant for large sparse LPs.
// Infeasible and unbounded programs throw attrib::invalid_argument saying which.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"
#include "attrib/core/validate.hpp"

namespace attrib {

enum class constraint_sense { less_equal, equal, greater_equal };

struct linear_program {
  vector objective;                     // c, one entry per variable; variables are >= 0
  matrix constraints;                   // A, one row per constraint
  std::vector<constraint_sense> senses;  // one per row
  vector bounds;                        // b, one per row
};

struct linear_program_options {
  double tolerance = 1e-9;          // pivots, reduced costs and phase-one feasibility, relative to the data's scale
  std::size_t max_pivots = 1000000;  // a guard; Bland's rule always terminates
};

struct linear_program_solution {
  vector x;                // an optimal vertex
  double objective = 0.0;  // c^T x
  // Shadow prices y = d objective / d b: A^T y <= c, b^T y = c^T x, y_i >= 0 on >= rows,
  // y_i <= 0 on <= rows, free on = rows.
  vector duals;
  std::size_t pivots = 0;  // both phases
};

namespace detail {

// A class template (always simplex_tableau<matrix>) only so that its row operations compile where
// solve_linear_program is called, not in every program that includes the umbrella header
// (docs/performance.md).
template <class Matrix = matrix>
class simplex_tableau {
 public:
  // Rows: constraints then the objective; columns: variables, slacks, artificials, right side.
  simplex_tableau(const linear_program& lp, double tolerance)
      : rows_(lp.constraints.rows()), variables_(lp.constraints.cols()), tolerance_(tolerance) {
    for (auto s : lp.senses)
      if (s != constraint_sense::equal) ++slacks_;
    artificial_begin_ = variables_ + slacks_;
    columns_ = artificial_begin_ + rows_;
    table_ = Matrix::Zero(rows_ + 1, columns_ + 1);
    sign_.resize(rows_);
    basis_.resize(static_cast<std::size_t>(rows_));
    index slack = variables_;
    for (index i = 0; i < rows_; ++i) {
      // Rows with a negative right side are negated so the artificial basis starts feasible.
      sign_(i) = lp.bounds(i) < 0 ? -1.0 : 1.0;
      table_.row(i).head(variables_) = sign_(i) * lp.constraints.row(i);
      const auto sense = lp.senses[static_cast<std::size_t>(i)];
      if (sense != constraint_sense::equal)
        table_(i, slack++) = sign_(i) * (sense == constraint_sense::less_equal ? 1.0 : -1.0);
      table_(i, artificial_begin_ + i) = 1.0;
      table_(i, columns_) = sign_(i) * lp.bounds(i);
      basis_[static_cast<std::size_t>(i)] = artificial_begin_ + i;
    }
  }

  // Phase one: minimise the sum of the artificials. Returns their least sum.
  double phase_one(std::size_t max_pivots) {
    table_.row(rows_).setZero();
    for (index i = 0; i < rows_; ++i) {
      table_.row(rows_).head(artificial_begin_) -= table_.row(i).head(artificial_begin_);
      table_(rows_, columns_) -= table_(i, columns_);
    }
    run(artificial_begin_, max_pivots);
    const double infeasibility = -table_(rows_, columns_);
    // Artificials left in the basis at level zero are pivoted out where the row allows; a row
    // that allows none is a redundant equation and its artificial stays at zero for good.
    for (index i = 0; i < rows_; ++i) {
      if (basis_[static_cast<std::size_t>(i)] < artificial_begin_) continue;
      for (index j = 0; j < artificial_begin_; ++j)
        if (std::abs(table_(i, j)) > tolerance_) {
          pivot(i, j);
          break;
        }
    }
    return infeasibility;
  }

  // Phase two: minimise c^T x from the feasible basis. Returns false when unbounded.
  bool phase_two(const vector& cost, std::size_t max_pivots) {
    table_.row(rows_).setZero();
    table_.row(rows_).head(variables_) = cost.transpose();
    for (index i = 0; i < rows_; ++i) {
      const index b = basis_[static_cast<std::size_t>(i)];
      const double cb = b < variables_ ? cost(b) : 0.0;
      if (cb != 0.0) table_.row(rows_) -= cb * table_.row(i);
    }
    return run(artificial_begin_, max_pivots);
  }

  std::size_t pivots() const { return pivots_; }
  vector solution() const {
    vector x = vector::Zero(variables_);
    for (index i = 0; i < rows_; ++i) {
      const index b = basis_[static_cast<std::size_t>(i)];
      if (b < variables_) x(b) = table_(i, columns_);
    }
    return x;
  }
  // The reduced cost of artificial i is -pi_i, pi the multipliers of the (sign-adjusted) rows.
  vector duals() const {
    vector y(rows_);
    for (index i = 0; i < rows_; ++i) y(i) = -sign_(i) * table_(rows_, artificial_begin_ + i);
    return y;
  }
  bool hit_pivot_limit() const { return limit_hit_; }

 private:
  // Bland's rule over the columns [0, entering_end): the lowest-numbered improving column
  // enters, the lowest-numbered basic variable among the tied ratios leaves. Returns false
  // when a column can improve without bound.
  bool run(index entering_end, std::size_t max_pivots) {
    const double cost_tolerance = tolerance_ * std::max(1.0, table_.row(rows_).head(entering_end).cwiseAbs().maxCoeff());
    for (;;) {
      index entering = -1;
      for (index j = 0; j < entering_end; ++j)
        if (table_(rows_, j) < -cost_tolerance) {
          entering = j;
          break;
        }
      if (entering < 0) return true;
      index leaving = -1;
      double best = 0.0;
      for (index i = 0; i < rows_; ++i) {
        const double a = table_(i, entering);
        if (a <= tolerance_) continue;
        const double ratio = table_(i, columns_) / a;
        if (leaving < 0 || ratio < best - tolerance_) {
          best = ratio;
          leaving = i;
        } else if (ratio <= best + tolerance_ &&
                   basis_[static_cast<std::size_t>(i)] < basis_[static_cast<std::size_t>(leaving)]) {
          leaving = i;
        }
      }
      if (leaving < 0) return false;
      if (pivots_ >= max_pivots) {
        limit_hit_ = true;
        return true;
      }
      pivot(leaving, entering);
    }
  }

  void pivot(index row, index column) {
    table_.row(row) /= table_(row, column);
    for (index i = 0; i <= rows_; ++i) {
      if (i == row) continue;
      const double f = table_(i, column);
      if (f != 0.0) table_.row(i) -= f * table_.row(row);
    }
    basis_[static_cast<std::size_t>(row)] = column;
    ++pivots_;
  }

  index rows_, variables_, slacks_ = 0, artificial_begin_ = 0, columns_ = 0;
  double tolerance_;
  Matrix table_;
  vector sign_;
  std::vector<index> basis_;
  std::size_t pivots_ = 0;
  bool limit_hit_ = false;
};

}  // namespace detail

// A template only so that it compiles where it is called (docs/performance.md); calls are unchanged.
template <class = void>
linear_program_solution solve_linear_program(const linear_program& lp, const linear_program_options& options = {}) {
  const index n = lp.objective.size(), m = lp.constraints.rows();
  detail::require(n >= 1, "solve_linear_program: objective is empty; expected at least one variable");
  detail::require_size(lp.constraints.cols(), n, "solve_linear_program: constraints (columns)");
  detail::require_size(lp.bounds.size(), m, "solve_linear_program: bounds");
  detail::require_size(static_cast<index>(lp.senses.size()), m, "solve_linear_program: senses");
  detail::require_finite(lp.objective, "solve_linear_program: objective");
  detail::require_finite(lp.constraints, "solve_linear_program: constraints");
  detail::require_finite(lp.bounds, "solve_linear_program: bounds");
  detail::require(std::isfinite(options.tolerance) && options.tolerance > 0.0 && options.tolerance < 1e-2,
                  "solve_linear_program: tolerance must be in (0, 0.01), got " + std::to_string(options.tolerance));
  // Tolerances are relative to the largest constraint entry and right side.
  const double scale = std::max({1.0, m > 0 ? lp.constraints.cwiseAbs().maxCoeff() : 0.0,
                                 m > 0 ? lp.bounds.cwiseAbs().maxCoeff() : 0.0});
  detail::simplex_tableau<> tableau(lp, options.tolerance);
  const double infeasibility = tableau.phase_one(options.max_pivots);
  detail::require(!tableau.hit_pivot_limit(), "solve_linear_program: phase one stopped after max_pivots = " +
                                                  std::to_string(options.max_pivots) + " pivots");
  detail::require(infeasibility <= options.tolerance * scale * static_cast<double>(std::max<index>(m, 1)),
                  "solve_linear_program: the constraints are infeasible (phase one left a total violation of " +
                      std::to_string(infeasibility) + ")");
  const bool bounded = tableau.phase_two(lp.objective, options.max_pivots);
  detail::require(bounded, "solve_linear_program: the objective is unbounded below on the feasible set");
  detail::require(!tableau.hit_pivot_limit(), "solve_linear_program: phase two stopped after max_pivots = " +
                                                  std::to_string(options.max_pivots) + " pivots");
  linear_program_solution s;
  s.x = tableau.solution();
  s.objective = lp.objective.dot(s.x);
  s.duals = tableau.duals();
  s.pivots = tableau.pivots();
  return s;
}

}  // namespace attrib
