// Evidence for the gradient methods as gradient-matching local approximations: closed forms on
// a linear model, Integrated Gradients' completeness and quadrature accuracy on an MLP, the
// SmoothGrad -> vanilla gradient limit, determinism, and bad input.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "attrib/concepts/differentiable_model.hpp"
#include "attrib/core/quadrature.hpp"
#include "attrib/methods/feature/gradients.hpp"
#include "attrib/models/logistic_regression.hpp"
#include "attrib/models/mlp.hpp"

using namespace attrib;
using Eigen::Index;

namespace {

// f(x) = w.x + c with two outputs (the second is 2 f), written here independently.
struct affine_model {
  vector w;
  double c = 0.0;
  Index input_dim() const { return w.size(); }
  Index output_dim() const { return 2; }
  matrix predict(const matrix& x) const {
    matrix y(x.rows(), 2);
    y.col(0) = (x * w).array() + c;
    y.col(1) = 2.0 * y.col(0);
    return y;
  }
  matrix vjp_inputs(const matrix& x, const matrix& cot) const {
    matrix g(x.rows(), x.cols());
    for (Index r = 0; r < x.rows(); ++r) g.row(r) = (cot(r, 0) + 2.0 * cot(r, 1)) * w.transpose();
    return g;
  }
  Index parameter_count() const { return w.size() + 1; }
  vector parameters() const {
    vector p(w.size() + 1);
    p << w, c;
    return p;
  }
  matrix per_example_loss_gradients(const matrix& x, const vector&) const { return matrix::Zero(x.rows(), parameter_count()); }
};
static_assert(differentiable_model<affine_model>);
static_assert(differentiable_model<mlp>);
static_assert(differentiable_model<logistic_regression>);

mlp smooth_mlp(activation act) {
  return mlp({{4, 8, act}, {8, 6, act}, {6, 3, activation::identity}}, output_head::softmax, 3);
}

vector input_gradient(const mlp& m, const vector& x, Index output) {
  matrix cot = matrix::Zero(1, m.output_dim());
  cot(0, output) = 1.0;
  return m.vjp_inputs(matrix(x.transpose()), cot).row(0).transpose();
}

}  // namespace

TEST_CASE("quadrature rules: weights sum to one, Gauss-Legendre exact to degree 2n-1") {
  for (auto rule : {quadrature_rule::riemann_left, quadrature_rule::riemann_right, quadrature_rule::riemann_midpoint,
                    quadrature_rule::trapezoid, quadrature_rule::gauss_legendre}) {
    for (int n : {2, 7, 50}) {
      const quadrature q = make_quadrature(rule, n);
      double sum = 0.0;
      for (double w : q.weights) sum += w;
      CHECK(sum == doctest::Approx(1.0).epsilon(1e-14));
      for (double t : q.nodes) CHECK((t >= 0.0 && t <= 1.0));
    }
  }
  for (int n : {1, 2, 5, 20}) {
    const quadrature q = make_quadrature(quadrature_rule::gauss_legendre, n);
    for (int degree = 0; degree <= 2 * n - 1; ++degree) {
      double integral = 0.0;
      for (std::size_t k = 0; k < q.nodes.size(); ++k) integral += q.weights[k] * std::pow(q.nodes[k], degree);
      CHECK(integral == doctest::Approx(1.0 / (degree + 1)).epsilon(1e-13));
    }
  }
  const quadrature t = make_quadrature(quadrature_rule::trapezoid, 4);
  CHECK(t.nodes.front() == 0.0);
  CHECK(t.nodes.back() == 1.0);
  CHECK(t.weights.front() == doctest::Approx(1.0 / 6.0));
}

TEST_CASE("linear model: every gradient method reduces to its closed form") {
  affine_model m{vector(4), 0.5};
  m.w << 1.0, -2.0, 0.5, 3.0;
  vector x(4), b(4);
  x << 1.0, 2.0, -1.0, 0.5;
  b << 0.5, -1.0, 0.0, 2.0;
  const vector w = m.w;
  CHECK((vanilla_gradient{}.explain(noisy_model(m, x)).values - w).cwiseAbs().maxCoeff() < 1e-15);
  CHECK((gradient_x_input.explain(zero_baseline_model(m, x)).values - w.cwiseProduct(x)).cwiseAbs().maxCoeff() < 1e-14);
  for (auto rule : {quadrature_rule::riemann_left, quadrature_rule::riemann_right, quadrature_rule::riemann_midpoint,
                    quadrature_rule::trapezoid, quadrature_rule::gauss_legendre}) {
    const attribution ig = integrated_gradients{.neighborhood = {.rule = rule, .steps = 7}}.explain(
        masked_model(m, x, matrix(b.transpose())));
    CHECK((ig.values - w.cwiseProduct(x - b)).cwiseAbs().maxCoeff() < 1e-13);
    CHECK(std::abs(ig.completeness_delta()) < 1e-13);
  }
  // Output 1 is 2 f: attributions double.
  const attribution ig1 = integrated_gradients{}.explain(masked_model(m, x, matrix(b.transpose()), 1));
  CHECK((ig1.values - 2.0 * w.cwiseProduct(x - b)).cwiseAbs().maxCoeff() < 1e-13);
  for (double sigma : {1e-3, 1.0, 10.0}) {
    const attribution sg = smoothgrad{.neighborhood = {.sigma = sigma}}.explain(noisy_model(m, x), {.seed = 1});
    CHECK((sg.values - w).cwiseAbs().maxCoeff() < 1e-14);
    const attribution sq = smoothgrad{.neighborhood = {.sigma = sigma}, .solver = {.statistic = gradient_statistic::mean_square}}
                               .explain(noisy_model(m, x), {.seed = 1});
    CHECK((sq.values - w.cwiseProduct(w)).cwiseAbs().maxCoeff() < 1e-13);
    const attribution vg = smoothgrad{.neighborhood = {.sigma = sigma}, .solver = {.statistic = gradient_statistic::variance}}
                               .explain(noisy_model(m, x), {.seed = 1});
    CHECK(vg.values.cwiseAbs().maxCoeff() < 1e-13);
  }
  // Expected gradients: IG against each background row, averaged: w * (x - mean background).
  matrix background(3, 4);
  background << 0, 0, 0, 0, 1, 1, 1, 1, -2, 0.5, 3, 1;
  const attribution eg = integrated_gradients{}.explain(masked_model(m, x, background));
  CHECK((eg.values - w.cwiseProduct(x - background.colwise().mean().transpose())).cwiseAbs().maxCoeff() < 1e-13);
  CHECK(std::abs(eg.completeness_delta()) < 1e-13);
}

TEST_CASE("Integrated Gradients on an MLP: completeness improves with steps, Gauss-Legendre is accurate") {
  const mlp m = smooth_mlp(activation::tanh);
  vector x(4), b(4);
  x << 1.2, -0.7, 0.4, 2.0;
  b << -0.5, 0.3, 0.0, -1.0;
  const auto game = masked_model(std::cref(m), x, matrix(b.transpose()), 2);
  for (auto rule : {quadrature_rule::riemann_left, quadrature_rule::riemann_right, quadrature_rule::riemann_midpoint,
                    quadrature_rule::trapezoid}) {
    double previous = std::numeric_limits<double>::infinity();
    for (int steps : {4, 16, 64, 256}) {
      const double delta = std::abs(integrated_gradients{.neighborhood = {.rule = rule, .steps = steps}}.explain(game).completeness_delta());
      CHECK(delta < previous);
      previous = delta;
    }
    CHECK(previous < 1e-3);
  }
  // Reference: composite Simpson with 4096 intervals of (x - b) * grad f(b + t (x - b)),
  // computed from the model's input gradient directly.
  vector reference = vector::Zero(4);
  const int intervals = 4096;
  for (int k = 0; k <= intervals; ++k) {
    const double t = static_cast<double>(k) / intervals;
    const double weight = (k == 0 || k == intervals) ? 1.0 : (k % 2 == 1 ? 4.0 : 2.0);
    reference += weight * input_gradient(m, b + t * (x - b), 2);
  }
  reference = reference.cwiseProduct(x - b) / (3.0 * intervals);
  const attribution gl = integrated_gradients{.neighborhood = {.rule = quadrature_rule::gauss_legendre, .steps = 50}}.explain(game);
  CHECK((gl.values - reference).norm() / reference.norm() < 1e-8);
  CHECK(std::abs(gl.completeness_delta()) < 1e-10);
}

TEST_CASE("SmoothGrad with sigma -> 0 equals the vanilla gradient, for every activation") {
  for (auto act : {activation::tanh, activation::relu, activation::gelu, activation::sigmoid}) {
    const mlp m = smooth_mlp(act);
    vector x(4);
    x << 0.3, -1.1, 0.8, 0.05;
    const vector exact = input_gradient(m, x, 1);
    const attribution vanilla = vanilla_gradient{}.explain(noisy_model(std::cref(m), x, 1));
    CHECK((vanilla.values - exact).cwiseAbs().maxCoeff() < 1e-15);
    CHECK(vanilla.fit.exhaustive);
    const attribution sg = smoothgrad{.neighborhood = {.sigma = 1e-7}}.explain(noisy_model(std::cref(m), x, 1), {.seed = 5});
    CHECK((sg.values - exact).cwiseAbs().maxCoeff() < 1e-6 * (1.0 + exact.cwiseAbs().maxCoeff()));
    CHECK(sg.has_standard_errors());
  }
}

TEST_CASE("SmoothGrad: standard errors shrink with the budget; same seed, same result on 1 and 2 threads") {
  const mlp m = smooth_mlp(activation::tanh);
  vector x(4);
  x << 0.3, -1.1, 0.8, 0.05;
  const auto game = noisy_model(std::cref(m), x, 0);
  const attribution small = smoothgrad{.neighborhood = {.sigma = 0.5}, .solver = {.budget = 100}}.explain(game, {.seed = 3});
  const attribution large = smoothgrad{.neighborhood = {.sigma = 0.5}, .solver = {.budget = 1600}}.explain(game, {.seed = 3});
  CHECK(large.standard_errors.maxCoeff() < 0.5 * small.standard_errors.maxCoeff());
  const smoothgrad method{.neighborhood = {.sigma = 0.5}, .solver = {.budget = 10000}};
  CHECK(method.explain(game, {.seed = 9, .threads = 1}).values == method.explain(game, {.seed = 9, .threads = 2}).values);
}

TEST_CASE("gradient methods reject bad input by name") {
  const mlp m = smooth_mlp(activation::tanh);
  vector x(4);
  x << 0.3, -1.1, 0.8, 0.05;
  CHECK_THROWS_WITH_AS(integrated_gradients{.neighborhood = {.steps = 0}}.explain(masked_model(std::cref(m), x, matrix::Zero(1, 4))),
                       doctest::Contains("steps must be >= 1"), invalid_argument);
  CHECK_THROWS_WITH_AS(smoothgrad{.neighborhood = {.sigma = -1.0}}.explain(noisy_model(std::cref(m), x)),
                       doctest::Contains("sigma must be finite and > 0"), invalid_argument);
  CHECK_THROWS_WITH_AS(integrated_gradients{}.explain(masked_model(std::cref(m), x, matrix::Zero(1, 3))),
                       doctest::Contains("perturbation input dimension"), invalid_argument);
  affine_model bad{vector::Constant(4, std::numeric_limits<double>::infinity()), 0.0};
  CHECK_THROWS_WITH_AS(vanilla_gradient{}.explain(noisy_model(bad, vector::Zero(4))), doctest::Contains("not finite"),
                       invalid_argument);
}
