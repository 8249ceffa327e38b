#pragma once
// Integrated Hessians (Janizek, Sturmfels and Lee 2021, "Explaining Explanations: Axiomatic Feature
// Interactions for Deep Networks", JMLR 22): the pairwise interaction matrix
//
//   Gamma_ij = (x_i - x'_i)(x_j - x'_j) int_0^1 int_0^1 a b d2f(x' + a b (x - x'))/dx_i dx_j da db    (i != j)
//   Gamma_ii = (x_i - x'_i) int_0^1 int_0^1 df(x' + a b (x - x'))/dx_i da db
//              + (x_i - x'_i)^2 int_0^1 int_0^1 a b d2f(x' + a b (x - x'))/dx_i^2 da db
//
// which is Integrated Gradients applied to Integrated Gradients: row i is IG (over b) of the
// function y -> phi_i(y), player i's IG attribution (over a) of f at y against x'. That is how it
// is built here, as a composition on the gradient framework: `integrated_gradient_game` is the
// game y -> phi_i(y) (its gradient needs the model's input Hessian, one Hessian-vector product with
// e_i per path point, because the Hessian is symmetric), and row i is the library's
// `integrated_gradients` (straight_path, gradient_matching, gradient_average) explaining it. Both
// integrals use the same quadrature rule, so the pair is a product rule over the (a, b) square.
// Completeness follows from IG's: sum_j Gamma_ij = phi_i(x), and sum_ij Gamma_ij = f(x) - f(x').
//
// The result is a matrix, not one value per player, so the method is d local approximations
// (one per row) rather than one; it has its own result type, interaction_attribution.
#include <cmath>
#include <cstddef>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>

#include "attrib/concepts/game.hpp"
#include "attrib/concepts/input_hessian_model.hpp"
#include "attrib/core/attribution.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/quadrature.hpp"
#include "attrib/core/run_settings.hpp"
#include "attrib/core/interaction_attribution.hpp"
#include "attrib/core/types.hpp"
#include "attrib/core/validate.hpp"
#include "attrib/games/perturbed_model.hpp"
#include "attrib/methods/feature/gradients.hpp"
#include "attrib/perturbations/masking.hpp"

namespace attrib {

// The full input Hessian of output `output` of m at x (input_dim x input_dim), as one batch of
// input_dim Hessian-vector products with the unit vectors.
template <class M>
  requires input_hessian_model<M>
matrix input_hessian(const M& m, const vector& x, index output = 0) {
  const index d = m.input_dim();
  detail::require_size(x.size(), d, "input_hessian: point x");
  detail::require_finite(x, "input_hessian: point x");
  detail::require(output >= 0 && output < m.output_dim(),
                  "input_hessian: output index " + std::to_string(output) + " is out of range; the model has " +
                      std::to_string(m.output_dim()) + " outputs");
  const matrix inputs = x.transpose().replicate(d, 1);
  matrix cotangent = matrix::Zero(d, m.output_dim());
  cotangent.col(output).setOnes();
  const matrix h = m.input_hessian_vector_products(inputs, cotangent, matrix::Identity(d, d));
  detail::require(h.rows() == d && h.cols() == d, "input_hessian: the model returned products of the wrong shape");
  return h;
}

namespace detail {

// Gradients of the masked game in the space of players, from the model's vjp_inputs. This is
// perturbed_model::gradients without its differentiable_model requirement (parameters and
// training-loss gradients), which an input_hessian_model need not meet.
template <class M>
matrix masked_gradients(const perturbed_model<M, masking>& game, const matrix& points) {
  const auto& m = game.get_model();
  matrix inputs;
  game.perturbation().map(game.point(), points, inputs);
  matrix cotangent = matrix::Zero(inputs.rows(), m.output_dim());
  cotangent.col(game.output()).setOnes();
  const matrix input_gradients = m.vjp_inputs(inputs, cotangent);
  require(input_gradients.rows() == inputs.rows() && input_gradients.cols() == inputs.cols(),
          "model returned input gradients of the wrong shape");
  matrix out;
  game.perturbation().pull_back(game.point(), points, input_gradients, out);
  require_finite(out, "gradient of model output " + std::to_string(game.output()) + " (interpretable points x players)");
  return out;
}

// Hessian-vector products of the masked game v(z) = mean_r f(b_r + z (x - b_r)) in the space of
// players: (H_v u)_p = mean_r sum_{f in p} (x_f - b_rf) sum_g d2f/dx_f dx_g (x_g - b_rg) u_{p(g)}.
// The input-space direction of each (point, background row) is u spread over its features and
// scaled by x - b_r; masking's pull_back then applies the outer factor and the mean.
template <class M>
matrix masked_hessian_vector_products(const perturbed_model<M, masking>& game, const matrix& points,
                                      const matrix& directions) {
  const auto& m = game.get_model();
  const masking& mask = game.perturbation();
  const vector& x = game.point();
  const matrix& background = mask.background();
  const auto& player = mask.groups().player_of_features();
  const index rows = background.rows(), d = background.cols();
  matrix inputs;
  mask.map(x, points, inputs);
  matrix input_directions(inputs.rows(), d);
  for (index k = 0; k < points.rows(); ++k)
    for (index r = 0; r < rows; ++r)
      for (index f = 0; f < d; ++f)
        input_directions(k * rows + r, f) =
            (x(f) - background(r, f)) * directions(k, player[static_cast<std::size_t>(f)]);
  matrix cotangent = matrix::Zero(inputs.rows(), m.output_dim());
  cotangent.col(game.output()).setOnes();
  const matrix products = m.input_hessian_vector_products(inputs, cotangent, input_directions);
  require(products.rows() == inputs.rows() && products.cols() == d,
          "model returned input Hessian-vector products of the wrong shape");
  matrix out;
  mask.pull_back(x, points, products, out);
  require_finite(out, "input Hessian-vector product of model output " + std::to_string(game.output()) +
                          " (interpretable points x players)");
  return out;
}

}  // namespace detail

// The game z -> phi_i(z): player i's Integrated Gradients attribution of the masked game v at the
// interpretable point z, against z' = 0, by the quadrature rule q:
//   phi_i(z)         = z_i sum_k w_k dv/dz_i(a_k z)
//   dphi_i(z)/dz_j   = [i = j] sum_k w_k dv/dz_i(a_k z) + z_i sum_k w_k a_k d2v/dz_i dz_j(a_k z).
// It refers to `game`, which must outlive it.
template <class M>
  requires input_hessian_model<std::unwrap_reference_t<M>>
class integrated_gradient_game {
 public:
  integrated_gradient_game(const perturbed_model<M, masking>& game, index player, quadrature q)
      : game_(&game), player_(player), q_(std::move(q)) {
    detail::require(player >= 0 && player < game.player_count(),
                    "integrated_gradient_game: player " + std::to_string(player) + " is out of range; the game has " +
                        std::to_string(game.player_count()) + " players");
    detail::require(!q_.nodes.empty() && q_.nodes.size() == q_.weights.size(),
                    "integrated_gradient_game: the quadrature rule needs at least one node and one weight per node");
  }

  index player_count() const { return game_->player_count(); }
  // Rows of model input per value: one per quadrature node and background row.
  index model_evaluations_per_value() const {
    return static_cast<index>(q_.nodes.size()) * game_->model_evaluations_per_value();
  }

  vector values(const matrix& points) const {
    check(points);
    const matrix grads = detail::masked_gradients(*game_, inner_points(points));
    const index m = static_cast<index>(q_.nodes.size());
    vector out(points.rows());
    for (index k = 0; k < points.rows(); ++k) {
      double integral = 0.0;
      for (index l = 0; l < m; ++l) integral += q_.weights[static_cast<std::size_t>(l)] * grads(k * m + l, player_);
      out(k) = points(k, player_) * integral;
    }
    return out;
  }

  matrix gradients(const matrix& points) const {
    check(points);
    const matrix inner = inner_points(points);
    const matrix grads = detail::masked_gradients(*game_, inner);
    const matrix unit = vector::Unit(inner.cols(), player_).transpose().replicate(inner.rows(), 1);
    // Row i of the Hessian at each inner point: the product with e_i (the Hessian is symmetric).
    const matrix hessian_rows = detail::masked_hessian_vector_products(*game_, inner, unit);
    const index m = static_cast<index>(q_.nodes.size());
    matrix out = matrix::Zero(points.rows(), points.cols());
    for (index k = 0; k < points.rows(); ++k) {
      double first = 0.0;
      for (index l = 0; l < m; ++l) {
        const auto s = static_cast<std::size_t>(l);
        first += q_.weights[s] * grads(k * m + l, player_);
        out.row(k) += (q_.weights[s] * q_.nodes[s] * points(k, player_)) * hessian_rows.row(k * m + l);
      }
      out(k, player_) += first;
    }
    return out;
  }

 private:
  void check(const matrix& points) const {
    detail::require_size(points.cols(), player_count(), "integrated_gradient_game: interpretable points (columns)");
  }
  // a_l z_k for every point k and node l, node-fastest.
  matrix inner_points(const matrix& points) const {
    const index m = static_cast<index>(q_.nodes.size());
    matrix inner(points.rows() * m, points.cols());
    for (index k = 0; k < points.rows(); ++k)
      for (index l = 0; l < m; ++l) inner.row(k * m + l) = q_.nodes[static_cast<std::size_t>(l)] * points.row(k);
    return inner;
  }

  const perturbed_model<M, masking>* game_;
  index player_;
  quadrature q_;
};

// Pairwise interactions between players: values(i, j) is the interaction of i and j, the diagonal
// holds each player's main effect.

// Integrated Hessians of a masked game whose model has an input Hessian. `rule` and `steps` are
// used on both axes of the (a, b) square: steps^2 path points, each needing a gradient and one
// Hessian-vector product per player. With a background set of baselines the game averages over
// them, which gives the exact-average form of the paper's Expected Hessians.
struct integrated_hessians {
  static constexpr const char* name = "integrated_hessians";
  static constexpr int max_steps = 4096;
  quadrature_rule rule = quadrature_rule::gauss_legendre;
  int steps = 32;

  template <class M>
    requires input_hessian_model<std::unwrap_reference_t<M>>
  interaction_attribution explain(const perturbed_model<M, masking>& game, const run_settings& settings = {}) const {
    detail::require(steps >= 1 && steps <= max_steps, "integrated_hessians: steps must be in [1, " +
                                                          std::to_string(max_steps) + "], got " +
                                                          std::to_string(steps));
    const quadrature q = make_quadrature(rule, steps);
    const index n = game.player_count();
    const integrated_gradients outer{.neighborhood = {.rule = rule, .steps = steps}};
    interaction_attribution result;
    result.diagonal = interaction_diagonal::self_interaction;
    result.method = std::string(name);
    result.values.resize(n, n);
    result.row_totals.resize(n);
    for (index i = 0; i < n; ++i) {
      const integrated_gradient_game<M> row_game(game, i, q);
      const attribution row = outer.explain(row_game, settings);
      result.values.row(i) = row.values.transpose();
      result.row_totals(i) = row.prediction;  // phi_i at z = 1; phi_i(0) = 0
      result.game_evaluations += row.game_evaluations * q.nodes.size();
      result.model_evaluations += row.model_evaluations;
    }
    matrix ends(2, n);
    ends.row(0).setZero();
    ends.row(1).setOnes();
    const vector v = game.values(ends);
    result.base_value = v(0);
    result.prediction = v(1);
    result.game_evaluations += 2;
    result.model_evaluations += 2 * static_cast<std::size_t>(game.model_evaluations_per_value());
    return result;
  }
};

}  // namespace attrib
