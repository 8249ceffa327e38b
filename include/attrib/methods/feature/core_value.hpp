#pragma once
// The core value (Yan and Procaccia 2021, "If You Like Shapley Then You'll Love the Core"):
// the least core, then one point of it.
//   1. e* = min e  s.t.  x(S) + e >= v(S) for every proper non-empty S,  x(N) = v(N)
//      (the least subsidy that makes no coalition want to leave; e* <= 0 exactly when the
//      core is non-empty), a linear program solved through its dual, which has n + 1 rows
//      and one column per coalition (solvers/linear_program.hpp);
//   2. among the least-core points, the one closest in L2 to a tie-break target: the origin
//      by default, the paper's choice (the least-core vector of minimal L2 norm, pyDVL's
//      "egalitarian least core"), which is the one closest to the equal split v(N)/n; a
//      projection onto the least-core polytope (solvers/polyhedron_projection.hpp).
// The game is taken from v(empty) (v - v(empty)), so the values sum to v(N) - v(empty) as
// Shapley values do. This is an optimisation over all 2^n coalition constraints, not a local approximation, so
// it is a function over the game rather than a (neighbourhood, loss, solver) triple; it reads
// the game through the coalition streaming of solvers/exhaustive.hpp (bitmask fast path).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "attrib/concepts/game.hpp"
#include "attrib/core/attribution.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/run_settings.hpp"
#include "attrib/core/validate.hpp"
#include "attrib/solvers/evaluate_points.hpp"
#include "attrib/solvers/detail/coalition_value_table.hpp"
#include "attrib/solvers/linear_program.hpp"
#include "attrib/solvers/polyhedron_projection.hpp"

namespace attrib {

inline constexpr index max_core_value_players = 16;

struct core_value_options {
  vector tie_break;         // the target of step 2; empty means the origin (minimal L2 norm)
  double tolerance = 1e-9;  // of the simplex and of the projection, relative to the game's scale
};

struct core_value_result {
  // values: the core value x of v - v(empty) (sums to v(N) - v(empty)); base_value v(empty),
  // prediction v(N);
  // 2^n game evaluations; exact (fit.exhaustive).
  attribution allocation;
  double least_core_excess = 0.0;  // e*; <= 0 when the core is non-empty
  // max over proper non-empty S of v(S) - x(S) - e*: how far x is from the least core
  // (rounding only, about tolerance times the game's scale).
  double least_core_violation = 0.0;
  std::size_t simplex_pivots = 0;
  std::size_t projection_iterations = 0;
};

template <game G>
core_value_result core_value(const G& g, const core_value_options& options = {}, const run_settings& settings = {}) {
  const index n = g.player_count();
  detail::require(n >= 2 && n <= max_core_value_players,
                  "core_value: the game has " + std::to_string(n) + " players; expected 2 <= n <= " +
                      std::to_string(max_core_value_players) + " (the least core has 2^n constraints)");
  detail::require(options.tie_break.size() == 0 || options.tie_break.size() == n,
                  "core_value: tie_break has size " + std::to_string(options.tie_break.size()) +
                      ", expected 0 (the origin) or " + std::to_string(n));
  detail::require_finite(options.tie_break, "core_value: tie_break");
  detail::require(std::isfinite(options.tolerance) && options.tolerance > 0.0 && options.tolerance < 1e-3,
                  "core_value: tolerance must be in (0, 0.001), got " + std::to_string(options.tolerance));

  const std::uint64_t total = std::uint64_t{1} << n, full = total - 1;
  std::vector<double> table = detail::coalition_value_table(g, settings, "core_value");
  // The core divides v(N) - v(empty) among the players, as every attribution of the game does
  // (a masked model's v(empty) is the model at the baseline): the game is taken from v(empty).
  const double empty_value = table[0];
  for (double& v : table) v -= empty_value;
  const double grand = table[full];
  const auto coalitions = static_cast<index>(total - 2);  // S = 1 .. 2^n - 2

  // The dual: max sum_S y_S v(S) + w v(N)  s.t.  sum_{S contains j} y_S + w = 0 (each j),
  // sum_S y_S = 1, y >= 0, w free (w = w+ - w-). Its multipliers are (-x, -e), and its optimum
  // is -e*.
  linear_program lp;
  lp.objective.resize(coalitions + 2);
  lp.constraints = matrix::Zero(n + 1, coalitions + 2);
  for (index c = 0; c < coalitions; ++c) {
    const auto mask = static_cast<std::uint64_t>(c + 1);
    lp.objective(c) = -table[mask];
    for (index j = 0; j < n; ++j)
      if ((mask >> j) & 1u) lp.constraints(j, c) = 1.0;
    lp.constraints(n, c) = 1.0;
  }
  lp.objective(coalitions) = -grand;
  lp.objective(coalitions + 1) = grand;
  lp.constraints.block(0, coalitions, n, 1).setOnes();
  lp.constraints.block(0, coalitions + 1, n, 1).setConstant(-1.0);
  lp.senses.assign(static_cast<std::size_t>(n + 1), constraint_sense::equal);
  lp.bounds = vector::Zero(n + 1);
  lp.bounds(n) = 1.0;
  const linear_program_solution dual = solve_linear_program(lp, {.tolerance = options.tolerance});
  const double excess = -dual.objective;

  // Step 2: project the target onto {x : x(N) = v(N), x(S) >= v(S) - e*}, relaxed by a rounding
  // margin so that the LP's last digits cannot make the polytope empty.
  double scale = 1.0;
  for (double v : table) scale = std::max(scale, std::abs(v));
  const double margin = options.tolerance * scale;
  polyhedron_projection_problem qp;
  qp.target = options.tie_break.size() == n ? options.tie_break : vector::Zero(n);
  qp.equalities = matrix::Ones(1, n);
  qp.equality_bounds = vector::Constant(1, grand);
  qp.inequalities = matrix::Zero(coalitions, n);
  qp.inequality_bounds.resize(coalitions);
  for (index c = 0; c < coalitions; ++c) {
    const auto mask = static_cast<std::uint64_t>(c + 1);
    for (index j = 0; j < n; ++j)
      if ((mask >> j) & 1u) qp.inequalities(c, j) = 1.0;
    qp.inequality_bounds(c) = table[mask] - excess - margin;
  }
  const polyhedron_projection_result projection = project_onto_polyhedron(qp, {.tolerance = options.tolerance});

  core_value_result out;
  out.least_core_excess = excess;
  out.simplex_pivots = dual.pivots;
  out.projection_iterations = projection.iterations;
  attribution& a = out.allocation;
  a.method = "core_value";
  a.values = projection.x;
  a.base_value = empty_value;
  a.prediction = grand + empty_value;
  a.game_evaluations = static_cast<std::size_t>(total);
  a.model_evaluations = a.game_evaluations * static_cast<std::size_t>(model_evaluations_per_value(g));
  a.fit.exhaustive = true;
  a.fit.distinct_points = static_cast<std::size_t>(total);
  for (index c = 0; c < coalitions; ++c)
    out.least_core_violation = std::max(out.least_core_violation,
                                        table[static_cast<std::size_t>(c + 1)] - qp.inequalities.row(c).dot(a.values) - excess);
  return out;
}

}  // namespace attrib
