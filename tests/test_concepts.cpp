// Concept checks in the range-v3 style: each concept is satisfied by its archetype (it is not
// over-constrained) and by the attrib types documented as its models, and rejected for
// near-misses that lack one requirement. Almost everything here is decided at compile time;
// the test cases at the end run the archetypes so that the file is also a runtime test.
#include <doctest/doctest.h>

#include "attrib/methods/feature/gradients.hpp"
#include "attrib/models/mlp.hpp"

#include <concepts>
#include <cstdint>
#include <functional>
#include <string>

#include "attrib/concepts/game.hpp"
#include "attrib/concepts/layered_model.hpp"
#include "attrib/concepts/local_approximation.hpp"
#include "attrib/concepts/loss.hpp"
#include "attrib/concepts/model.hpp"
#include "attrib/concepts/neighborhood.hpp"
#include "attrib/concepts/perturbation.hpp"
#include "attrib/concepts/trainable_model.hpp"
#include "attrib/games/coalition_game.hpp"
#include "attrib/games/perturbed_model.hpp"
#include "attrib/losses/lasso.hpp"
#include "attrib/losses/ridge.hpp"
#include "attrib/losses/squared_error.hpp"
#include "attrib/methods/feature/banzhaf.hpp"
#include "attrib/methods/feature/clime.hpp"
#include "attrib/methods/feature/lime.hpp"
#include "attrib/methods/feature/occlusion.hpp"
#include "attrib/methods/feature/shapley.hpp"
#include "attrib/models/function_model.hpp"
#include "attrib/models/linear_regression.hpp"
#include "attrib/models/logistic_regression.hpp"
#include "attrib/neighborhoods/exponential_kernel.hpp"
#include "attrib/neighborhoods/gaussian.hpp"
#include "attrib/neighborhoods/shapley_kernel.hpp"
#include "attrib/neighborhoods/single_removals.hpp"
#include "attrib/neighborhoods/uniform_coalitions.hpp"
#include "attrib/perturbations/additive_noise.hpp"
#include "attrib/perturbations/masking.hpp"
#include "attrib/solvers/exhaustive.hpp"
#include "attrib/solvers/maximum_sample_reuse.hpp"
#include "attrib/solvers/permutation_sampling.hpp"
#include "attrib/solvers/sampled_regression.hpp"

namespace {

using attrib::index;
using attrib::matrix;
using attrib::vector;

// --- models and near-misses ---------------------------------------------------------------------
struct minimal_model {
  index input_dim() const { return 2; }
  index output_dim() const { return 1; }
  matrix predict(const matrix& inputs) const { return inputs.leftCols(1); }
};
struct model_without_output_dim {
  index input_dim() const { return 2; }
  matrix predict(const matrix& inputs) const { return inputs; }
};
struct model_without_predict {
  index input_dim() const { return 2; }
  index output_dim() const { return 1; }
};
struct model_with_mutating_predict {  // predict must be callable on a const model
  index input_dim() const { return 2; }
  index output_dim() const { return 1; }
  matrix predict(const matrix& inputs) { return inputs; }
};
struct model_returning_string {
  index input_dim() const { return 2; }
  index output_dim() const { return 1; }
  std::string predict(const matrix&) const { return {}; }
};

using linear_function = matrix (*)(const matrix&);
using lambda_model = attrib::function_model<std::function<matrix(const matrix&)>>;

// --- games and near-misses ----------------------------------------------------------------------
struct game_without_values {
  index player_count() const { return 3; }
};
struct game_without_player_count {
  vector values(const matrix& points) const { return vector::Zero(points.rows()); }
};
struct game_with_mutating_values {  // values must be const: solvers call it from several threads
  index player_count() const { return 3; }
  vector values(const matrix& points) { return vector::Zero(points.rows()); }
};
struct costed_archetype_game : attrib::archetypes::game {
  index model_evaluations_per_value() const { return 7; }
};

using voting_game = decltype(attrib::weighted_voting_game(1.0, {1.0}));
using bitmask_game = attrib::coalition_game<double (*)(std::uint64_t)>;
using masked_linear = attrib::perturbed_model<attrib::linear_regression, attrib::masking>;
using masked_lambda = attrib::perturbed_model<lambda_model, attrib::masking>;
using masked_by_reference = attrib::perturbed_model<std::reference_wrapper<const lambda_model>, attrib::masking>;
using noisy_lambda = attrib::perturbed_model<lambda_model, attrib::additive_noise>;

// --- perturbations and near-misses --------------------------------------------------------------
struct perturbation_without_inputs_per_point {
  index interpretable_dim() const { return 1; }
  index input_dim() const { return 1; }
  void map(const vector&, const matrix& z, matrix& inputs) const { inputs = z; }
};
struct perturbation_without_map {
  index interpretable_dim() const { return 1; }
  index input_dim() const { return 1; }
  index inputs_per_point() const { return 1; }
};
struct perturbation_of_strings {
  index interpretable_dim() const { return 1; }
  index input_dim() const { return 1; }
  index inputs_per_point() const { return 1; }
  void map(const std::string&, const matrix& z, matrix& inputs) const { inputs = z; }
};

// --- neighbourhoods and near-misses -------------------------------------------------------------
struct neighborhood_without_sample {
  double size_weight(index, index) const { return 1.0; }
};
struct neighborhood_returning_matrix {  // sample must return exactly neighborhood_sample
  matrix sample(index, std::size_t, attrib::rng&) const { return {}; }
};
struct neighborhood_with_mutating_sample {
  attrib::neighborhood_sample sample(index, std::size_t, attrib::rng&) { return {}; }
};

// --- losses and near-misses ---------------------------------------------------------------------
struct loss_without_objective {
  static constexpr bool matches_values = true;
  static constexpr const char* name = "no objective";
};
struct gradient_matching_loss {  // a loss, but it does not opt in to matching values
  static constexpr const char* name = "gradient-like";
  double objective(const vector&, const vector&, const vector&, const vector&) const { return 0; }
};
struct loss_opting_out {
  static constexpr bool matches_values = false;
  static constexpr const char* name = "opting out";
  double objective(const vector&, const vector&, const vector&, const vector&) const { return 0; }
};

// --- solvers with no approximation_solver specialisation ----------------------------------------
struct unknown_solver {};

}  // namespace

// model
static_assert(attrib::model<minimal_model>);
static_assert(attrib::model<const minimal_model>);
static_assert(attrib::model<lambda_model>);
static_assert(attrib::model<attrib::function_model<linear_function>>);
static_assert(attrib::model<attrib::linear_regression>);
static_assert(!attrib::model<model_without_output_dim>);
static_assert(!attrib::model<model_without_predict>);
static_assert(!attrib::model<model_with_mutating_predict>);
static_assert(!attrib::model<model_returning_string>);
static_assert(!attrib::model<int>);
static_assert(!attrib::model<std::reference_wrapper<const lambda_model>>);  // unwrap it first

// game
static_assert(attrib::game<attrib::archetypes::game>);
static_assert(attrib::game<voting_game>);
static_assert(attrib::game<bitmask_game>);
static_assert(attrib::game<masked_linear>);
static_assert(attrib::game<masked_lambda>);
static_assert(attrib::game<masked_by_reference>);
static_assert(attrib::game<noisy_lambda>);
static_assert(!attrib::game<game_without_values>);
static_assert(!attrib::game<game_without_player_count>);
static_assert(!attrib::game<game_with_mutating_values>);
static_assert(!attrib::game<minimal_model>);
static_assert(!attrib::game<int>);

// costed_game refines game
static_assert(attrib::costed_game<costed_archetype_game>);
static_assert(attrib::costed_game<masked_lambda>);
static_assert(attrib::costed_game<noisy_lambda>);
static_assert(!attrib::costed_game<attrib::archetypes::game>);
static_assert(!attrib::costed_game<voting_game>);

// perturbation_for
static_assert(attrib::perturbation_for<attrib::archetypes::perturbation, vector>);
static_assert(attrib::perturbation_for<attrib::archetypes::perturbation>);  // X defaults to vector
static_assert(attrib::perturbation_for<attrib::masking, vector>);
static_assert(attrib::perturbation_for<attrib::additive_noise, vector>);
static_assert(attrib::perturbation_for<perturbation_of_strings, std::string>);
static_assert(!attrib::perturbation_for<attrib::masking, std::string>);
static_assert(!attrib::perturbation_for<attrib::additive_noise, std::string>);
static_assert(!attrib::perturbation_for<perturbation_of_strings, vector>);
static_assert(!attrib::perturbation_for<perturbation_without_inputs_per_point, vector>);
static_assert(!attrib::perturbation_for<perturbation_without_map, vector>);

// neighborhood and its refinement size_kernel_neighborhood
static_assert(attrib::neighborhood<attrib::archetypes::neighborhood>);
static_assert(attrib::neighborhood<attrib::shapley_kernel>);
static_assert(attrib::neighborhood<attrib::uniform_coalitions>);
static_assert(attrib::neighborhood<attrib::exponential_kernel>);
static_assert(attrib::neighborhood<attrib::single_removals>);
static_assert(attrib::neighborhood<attrib::gaussian>);
static_assert(attrib::size_kernel_neighborhood<attrib::shapley_kernel>);
static_assert(attrib::size_kernel_neighborhood<attrib::uniform_coalitions>);
static_assert(attrib::size_kernel_neighborhood<attrib::exponential_kernel>);
static_assert(!attrib::size_kernel_neighborhood<attrib::gaussian>);
static_assert(!attrib::size_kernel_neighborhood<attrib::single_removals>);
static_assert(!attrib::size_kernel_neighborhood<attrib::archetypes::neighborhood>);
static_assert(!attrib::size_kernel_neighborhood<neighborhood_without_sample>);  // refinement
static_assert(!attrib::neighborhood<neighborhood_without_sample>);
static_assert(!attrib::neighborhood<neighborhood_returning_matrix>);
static_assert(!attrib::neighborhood<neighborhood_with_mutating_sample>);

// loss and its refinement value_matching_loss
static_assert(attrib::loss<attrib::archetypes::loss>);
static_assert(attrib::value_matching_loss<attrib::archetypes::loss>);
static_assert(attrib::value_matching_loss<attrib::squared_error>);
static_assert(attrib::value_matching_loss<attrib::ridge>);
static_assert(attrib::value_matching_loss<attrib::lasso>);
static_assert(attrib::loss<gradient_matching_loss>);
static_assert(!attrib::value_matching_loss<gradient_matching_loss>);
static_assert(attrib::loss<loss_opting_out>);
static_assert(!attrib::value_matching_loss<loss_opting_out>);
static_assert(!attrib::loss<loss_without_objective>);
static_assert(!attrib::value_matching_loss<loss_without_objective>);

// solver_for: the supported (neighbourhood, loss, solver) triples ...
static_assert(attrib::solver_for<attrib::exhaustive, attrib::shapley_kernel, attrib::squared_error>);
static_assert(attrib::solver_for<attrib::exhaustive, attrib::uniform_coalitions, attrib::squared_error>);
static_assert(attrib::solver_for<attrib::exhaustive, attrib::uniform_coalitions, attrib::ridge>);
static_assert(attrib::solver_for<attrib::exhaustive, attrib::exponential_kernel, attrib::ridge>);
static_assert(attrib::solver_for<attrib::exhaustive, attrib::exponential_kernel, attrib::lasso>);
static_assert(attrib::solver_for<attrib::exhaustive, attrib::single_removals, attrib::squared_error>);
static_assert(attrib::solver_for<attrib::sampled_regression, attrib::shapley_kernel, attrib::squared_error>);
static_assert(attrib::solver_for<attrib::sampled_regression, attrib::shapley_kernel, attrib::ridge>);
static_assert(attrib::solver_for<attrib::sampled_regression, attrib::exponential_kernel, attrib::ridge>);
static_assert(attrib::solver_for<attrib::sampled_regression, attrib::exponential_kernel, attrib::lasso>);
static_assert(attrib::solver_for<attrib::sampled_regression, attrib::uniform_coalitions, attrib::squared_error>);
static_assert(attrib::solver_for<attrib::sampled_regression, attrib::gaussian, attrib::squared_error>);
static_assert(attrib::solver_for<attrib::sampled_regression, attrib::gaussian, attrib::lasso>);
static_assert(attrib::solver_for<attrib::permutation_sampling, attrib::shapley_kernel, attrib::squared_error>);
static_assert(attrib::solver_for<attrib::maximum_sample_reuse, attrib::uniform_coalitions, attrib::squared_error>);

// The gradient-matching half of the framework.
static_assert(attrib::differentiable_model<attrib::archetypes::differentiable_model>);
static_assert(attrib::differentiable_model<attrib::mlp>);
static_assert(!attrib::differentiable_model<attrib::archetypes::model>);
static_assert(attrib::differentiable_game<attrib::archetypes::differentiable_game>);
static_assert(!attrib::differentiable_game<attrib::archetypes::game>);
static_assert(attrib::loss<attrib::gradient_matching> && !attrib::value_matching_loss<attrib::gradient_matching>);
static_assert(attrib::quadratic_loss<attrib::ridge> && !attrib::quadratic_loss<attrib::lasso>);
static_assert(attrib::finite_neighborhood<attrib::straight_path> && attrib::finite_neighborhood<attrib::point_mass>);
static_assert(!attrib::finite_neighborhood<attrib::gaussian>);
static_assert(attrib::solver_for<attrib::gradient_average, attrib::straight_path, attrib::gradient_matching>);
static_assert(attrib::solver_for<attrib::gradient_average, attrib::gaussian, attrib::gradient_matching>);
static_assert(attrib::solver_for<attrib::gradient_average, attrib::point_mass, attrib::gradient_matching>);
static_assert(!attrib::solver_for<attrib::gradient_average, attrib::gaussian, attrib::squared_error>);
static_assert(!attrib::solver_for<attrib::sampled_regression, attrib::gaussian, attrib::gradient_matching>);
// A masked model of a differentiable model is a differentiable game; of a plain model it is not.
static_assert(attrib::differentiable_game<attrib::perturbed_model<attrib::mlp, attrib::masking>>);
static_assert(!attrib::differentiable_game<attrib::perturbed_model<attrib::archetypes::model, attrib::masking>>);

// ... and the rejected ones.
static_assert(!attrib::solver_for<attrib::sampled_regression, attrib::shapley_kernel, attrib::lasso>);
static_assert(!attrib::solver_for<attrib::permutation_sampling, attrib::uniform_coalitions, attrib::squared_error>);
static_assert(!attrib::solver_for<attrib::permutation_sampling, attrib::shapley_kernel, attrib::ridge>);
static_assert(!attrib::solver_for<attrib::maximum_sample_reuse, attrib::shapley_kernel, attrib::squared_error>);
static_assert(!attrib::solver_for<attrib::maximum_sample_reuse, attrib::uniform_coalitions, attrib::ridge>);
static_assert(!attrib::solver_for<attrib::exhaustive, attrib::shapley_kernel, attrib::ridge>);  // closed form only
static_assert(!attrib::solver_for<attrib::exhaustive, attrib::gaussian, attrib::squared_error>);  // not enumerable
static_assert(!attrib::solver_for<attrib::exhaustive, attrib::shapley_kernel, gradient_matching_loss>);
static_assert(!attrib::solver_for<attrib::sampled_regression, attrib::gaussian, gradient_matching_loss>);
static_assert(!attrib::solver_for<unknown_solver, attrib::shapley_kernel, attrib::squared_error>);
static_assert(!attrib::solver_for<attrib::sampled_regression, neighborhood_without_sample, attrib::squared_error>);
static_assert(!attrib::solver_for<attrib::sampled_regression, attrib::gaussian, loss_without_objective>);

// The method aliases are the (neighbourhood, loss, solver) triples of the unification table.
template <class Method, class N, class L, class S>
constexpr bool is_triple = std::same_as<decltype(Method::neighborhood), N> &&
                           std::same_as<decltype(Method::loss), L> && std::same_as<decltype(Method::solver), S>;
static_assert(is_triple<attrib::occlusion, attrib::single_removals, attrib::squared_error, attrib::exhaustive>);
static_assert(is_triple<attrib::exact_shapley, attrib::shapley_kernel, attrib::squared_error, attrib::exhaustive>);
static_assert(is_triple<attrib::kernel_shap, attrib::shapley_kernel, attrib::squared_error, attrib::sampled_regression>);
static_assert(is_triple<attrib::permutation_shapley, attrib::shapley_kernel, attrib::squared_error,
                        attrib::permutation_sampling>);
static_assert(is_triple<attrib::exact_banzhaf, attrib::uniform_coalitions, attrib::squared_error, attrib::exhaustive>);
static_assert(is_triple<attrib::msr_banzhaf, attrib::uniform_coalitions, attrib::squared_error,
                        attrib::maximum_sample_reuse>);
static_assert(is_triple<attrib::lime<>, attrib::exponential_kernel, attrib::ridge, attrib::sampled_regression>);
static_assert(is_triple<attrib::lime<attrib::lasso>, attrib::exponential_kernel, attrib::lasso,
                        attrib::sampled_regression>);
static_assert(is_triple<attrib::clime, attrib::gaussian, attrib::squared_error, attrib::sampled_regression>);

// --- trainable_model and its refinements (data attribution) ----------------------------------------
static_assert(attrib::trainable_model<attrib::archetypes::trainable_model>);
static_assert(attrib::twice_differentiable_model<attrib::archetypes::twice_differentiable_model>);
static_assert(attrib::logit_model<attrib::archetypes::logit_model>);
// Each refinement asks for more than its parent: the parent's archetype is a near-miss.
static_assert(!attrib::trainable_model<attrib::archetypes::model>);
static_assert(!attrib::twice_differentiable_model<attrib::archetypes::trainable_model>);
static_assert(!attrib::logit_model<attrib::archetypes::trainable_model>);
static_assert(!attrib::logit_model<attrib::archetypes::twice_differentiable_model>);
// A model that cannot take new parameters is not trainable.
struct frozen_model : attrib::archetypes::model {
  attrib::index parameter_count() const { return 0; }
  vector parameters() const { return {}; }
  double loss(const matrix&, const vector&) const { return 0.0; }
  vector loss_gradient(const matrix&, const vector&) const { return {}; }
  matrix per_example_loss_gradients(const matrix& x, const vector&) const { return matrix(x.rows(), 0); }
};
static_assert(!attrib::trainable_model<frozen_model>);
// attrib's own models model all three.
template <class M>
constexpr bool data_attribution_ready =
    attrib::trainable_model<M> && attrib::twice_differentiable_model<M> && attrib::logit_model<M>;
static_assert(data_attribution_ready<attrib::mlp>);
static_assert(data_attribution_ready<attrib::logistic_regression>);
static_assert(data_attribution_ready<attrib::linear_regression>);
// layered_model refines twice_differentiable_model with the dense layers K-FAC factors.
static_assert(attrib::layered_model<attrib::archetypes::layered_model>);
static_assert(attrib::twice_differentiable_model<attrib::archetypes::layered_model>);
static_assert(!attrib::layered_model<attrib::archetypes::twice_differentiable_model>);
static_assert(attrib::layered_model<attrib::mlp>);
static_assert(attrib::layered_model<attrib::logistic_regression>);
static_assert(attrib::layered_model<attrib::linear_regression>);

TEST_CASE("concepts: the layered-model archetype's derivatives are consistent") {
  attrib::archetypes::layered_model m;
  m.w = 0.7;
  m.b = -0.2;
  m.set_l2(0.3);
  matrix x(4, 1);
  x << 1.0, -2.0, 0.5, 3.0;
  vector y(4);
  y << 0.1, 0.4, -1.0, 2.0;
  const double h = 1e-6;
  const vector g = m.loss_gradient(x, y);
  for (attrib::index j = 0; j < 2; ++j) {
    attrib::archetypes::layered_model up = m, down = m;
    vector t = m.parameters();
    t(j) += h;
    up.set_parameters(t);
    t(j) -= 2 * h;
    down.set_parameters(t);
    CHECK(g(j) == doctest::Approx((up.loss(x, y) - down.loss(x, y)) / (2 * h)).epsilon(1e-6));
    const vector hj = m.hessian(x, y).col(j);
    const vector fd = (up.loss_gradient(x, y) - down.loss_gradient(x, y)) / (2 * h);
    CHECK((hj - fd).norm() < 1e-6);
  }
  CHECK(m.dense_block_inputs(x)[0].cols() == m.dense_blocks()[0].inputs);
}

TEST_CASE("concepts: the archetypes are usable models of their concepts") {
  const attrib::archetypes::game g;
  const matrix points = matrix::Ones(3, g.player_count());
  const vector v = g.values(points);
  CHECK(v.size() == 3);
  CHECK(attrib::model_evaluations_per_value(g) == 1);
  CHECK(attrib::model_evaluations_per_value(costed_archetype_game{}) == 7);

  const attrib::archetypes::perturbation p;
  vector x(1);
  x << 2.0;
  matrix inputs;
  p.map(x, points.leftCols(p.interpretable_dim()), inputs);
  CHECK(inputs.rows() == points.rows() * p.inputs_per_point());
  CHECK(inputs(0, 0) == doctest::Approx(2.0));

  attrib::rng random(1);
  const attrib::neighborhood_sample s = attrib::archetypes::neighborhood{}.sample(4, 10, random);
  CHECK(s.points.rows() == s.weights.size());
  CHECK(s.points.cols() == 4);
  CHECK(s.exhaustive);

  const attrib::archetypes::loss l;
  CHECK(l.objective(v, v, v, v) == doctest::Approx(0.0));
}

TEST_CASE("concepts: a game built from a model and a perturbation evaluates through the concept") {
  const lambda_model m(2, 1, [](const matrix& in) -> matrix { return in.col(0) + 2.0 * in.col(1); });
  vector x(2);
  x << 1.0, 1.0;
  const masked_lambda game(m, x, attrib::masking(vector(vector::Zero(2))));
  static_assert(attrib::game<decltype(game)>);
  matrix coalitions(2, 2);
  coalitions << 1, 0,  //
      1, 1;
  const vector v = game.values(coalitions);
  CHECK(v(0) == doctest::Approx(1.0));
  CHECK(v(1) == doctest::Approx(3.0));
  CHECK(attrib::model_evaluations_per_value(game) == 1);
}
