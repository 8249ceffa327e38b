// Models: every derivative is checked against central finite differences, and training is
// checked on real data.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/random.hpp"
#include "attrib/io/csv.hpp"
#include "attrib/models/activation.hpp"
#include "attrib/models/linear_regression.hpp"
#include "attrib/models/logistic_regression.hpp"
#include "attrib/models/mlp.hpp"
#include "attrib/models/standardizer.hpp"

#ifndef ATTRIB_DATA_DIR
#define ATTRIB_DATA_DIR "data"
#endif

namespace {

using attrib::index;
using attrib::matrix;
using attrib::vector;

constexpr double step = 1e-5;

matrix random_matrix(index rows, index cols, std::uint64_t seed) {
  attrib::rng gen(seed);
  matrix m(rows, cols);
  for (index k = 0; k < m.size(); ++k) m.data()[k] = gen.normal();
  return m;
}

// Relative agreement, scaled by the reference's magnitude.
bool agrees(const matrix& actual, const matrix& reference, double tolerance = 1e-6) {
  return (actual - reference).cwiseAbs().maxCoeff() <=
         tolerance * (1.0 + reference.cwiseAbs().maxCoeff());
}

attrib::labelled_dataset load(const std::string& relative) {
  return attrib::read_sklearn_csv(std::string(ATTRIB_DATA_DIR) + "/" + relative);
}

double accuracy(const matrix& probabilities, const vector& labels) {
  double correct = 0;
  for (index i = 0; i < labels.size(); ++i) {
    index predicted = 0;
    if (probabilities.cols() == 1)
      predicted = probabilities(i, 0) > 0.5 ? 1 : 0;
    else
      probabilities.row(i).maxCoeff(&predicted);
    correct += predicted == static_cast<index>(labels[i]) ? 1 : 0;
  }
  return correct / static_cast<double>(labels.size());
}

// Checks vjp_inputs, loss_gradient, per_example_loss_gradients, hessian_vector_product and
// hessian of `model` against finite differences at (inputs, targets).
template <class Model>
void check_derivatives(Model model, const matrix& inputs, const vector& targets) {
  const index n = inputs.rows();
  const index d = inputs.cols();
  const index k = model.output_dim();

  // Input VJP: d/dx_ij of <cotangent_i, predict(x_i)>.
  const matrix cotangent = random_matrix(n, k, 99);
  const matrix vjp = model.vjp_inputs(inputs, cotangent);
  REQUIRE(vjp.rows() == n);
  REQUIRE(vjp.cols() == d);
  matrix numeric_vjp(n, d);
  for (index i = 0; i < n; ++i)
    for (index j = 0; j < d; ++j) {
      matrix plus = inputs.row(i), minus = inputs.row(i);
      plus(0, j) += step;
      minus(0, j) -= step;
      numeric_vjp(i, j) =
          (model.predict(plus) - model.predict(minus)).row(0).dot(cotangent.row(i)) / (2 * step);
    }
  CHECK(agrees(vjp, numeric_vjp));

  // Parameter gradient of the regularised mean loss.
  const vector theta = model.parameters();
  const index p = theta.size();
  REQUIRE(p == model.parameter_count());
  auto shifted = [&](const vector& delta) {
    Model copy = model;
    copy.set_parameters(theta + delta);
    return copy;
  };
  const vector gradient = model.loss_gradient(inputs, targets);
  vector numeric_gradient(p);
  for (index j = 0; j < p; ++j) {
    vector delta = vector::Zero(p);
    delta[j] = step;
    numeric_gradient[j] =
        (shifted(delta).loss(inputs, targets) - shifted(-delta).loss(inputs, targets)) / (2 * step);
  }
  CHECK(agrees(gradient, numeric_gradient));

  // Per-example gradients: each row is the unregularised gradient on that example alone.
  const matrix per_example = model.per_example_loss_gradients(inputs, targets);
  REQUIRE(per_example.rows() == n);
  REQUIRE(per_example.cols() == p);
  Model unregularised = model;
  unregularised.set_l2(0.0);
  for (index i = 0; i < n; ++i) {
    const vector alone =
        unregularised.loss_gradient(matrix(inputs.row(i)), vector::Constant(1, targets[i]));
    CHECK(agrees(per_example.row(i).transpose(), alone, 1e-12));
  }

  // Per-example logit gradients: row i is d/dtheta of sum_c cotangent(i, c) logit_c(x_i).
  const matrix logit_rows = model.per_example_logit_gradients(inputs, cotangent);
  REQUIRE(logit_rows.rows() == n);
  REQUIRE(logit_rows.cols() == p);
  for (index j = 0; j < p; ++j) {
    vector delta = vector::Zero(p);
    delta[j] = step;
    const matrix change = shifted(delta).logits(inputs) - shifted(-delta).logits(inputs);
    for (index i = 0; i < n; ++i)
      CHECK(logit_rows(i, j) ==
            doctest::Approx(change.row(i).dot(cotangent.row(i)) / (2 * step)).epsilon(1e-6));
  }

  // Hessian-vector product against the finite-difference derivative of the gradient.
  const vector direction = random_matrix(p, 1, 7);
  const vector hv = model.hessian_vector_product(inputs, targets, direction);
  const vector numeric_hv = (shifted(step * direction).loss_gradient(inputs, targets) -
                             shifted(-step * direction).loss_gradient(inputs, targets)) /
                            (2 * step);
  CHECK(agrees(hv, numeric_hv));

  const matrix h = model.hessian(inputs, targets);
  CHECK(agrees(h, h.transpose(), 1e-10));
  CHECK(agrees(h * direction, hv, 1e-10));
}

attrib::standardizer some_standardizer(index d) {
  return attrib::standardizer(random_matrix(d, 1, 3),
                              random_matrix(d, 1, 4).cwiseAbs().array() + 0.5);
}

vector class_labels(index n, index classes) {
  vector y(n);
  for (index i = 0; i < n; ++i) y[i] = static_cast<double>(i % classes);
  return y;
}

}  // namespace

TEST_CASE("activation derivatives match finite differences") {
  const std::vector<double> points{-3.1, -0.7, -0.05, 0.3, 1.2, 4.0};
  for (auto a : {attrib::activation::identity, attrib::activation::tanh, attrib::activation::relu,
                 attrib::activation::gelu, attrib::activation::sigmoid}) {
    CAPTURE(attrib::activation_name(a));
    CHECK(attrib::parse_activation(attrib::activation_name(a)) == a);
    for (double x : points) {
      CAPTURE(x);
      const double first =
          (attrib::activate(a, x + step) - attrib::activate(a, x - step)) / (2 * step);
      const double second = (attrib::activation_derivative(a, x + step) -
                             attrib::activation_derivative(a, x - step)) /
                            (2 * step);
      CHECK(attrib::activation_derivative(a, x) == doctest::Approx(first).epsilon(1e-7));
      CHECK(attrib::activation_second_derivative(a, x) == doctest::Approx(second).epsilon(1e-6));
    }
  }
  CHECK(attrib::activate(attrib::activation::gelu, 1.0) == doctest::Approx(0.8413447460685429));
  CHECK(attrib::activate(attrib::activation::sigmoid, -800.0) == 0.0);
  CHECK_THROWS_WITH_AS(attrib::parse_activation("swish"), doctest::Contains("swish"),
                       attrib::invalid_argument);
}

TEST_CASE("standardizer fits, transforms and rejects bad scales") {
  const matrix raw = random_matrix(20, 3, 1) * 5.0;
  const auto s = attrib::standardizer::fit(raw);
  const matrix z = s.transform(raw);
  CHECK(z.colwise().mean().cwiseAbs().maxCoeff() < 1e-12);
  CHECK(z.colwise().squaredNorm().maxCoeff() / 20.0 == doctest::Approx(1.0));
  CHECK_THROWS_WITH_AS(attrib::standardizer(vector::Zero(2), vector::Zero(2)),
                       doctest::Contains("scale"), attrib::invalid_argument);
  CHECK_THROWS_AS(attrib::standardizer(vector::Zero(2), vector::Ones(3)), attrib::invalid_argument);
}

TEST_CASE("linear models' derivatives match finite differences") {
  const matrix x = random_matrix(6, 4, 11);
  SUBCASE("linear regression") {
    attrib::linear_regression m(random_matrix(1, 4, 12), vector::Constant(1, 0.3));
    m.set_standardizer(some_standardizer(4));
    m.set_l2(0.2);
    check_derivatives(m, x, random_matrix(6, 1, 13));
  }
  for (auto output : {attrib::logistic_output::probability, attrib::logistic_output::logit}) {
    CAPTURE(attrib::logistic_output_name(output));
    SUBCASE("binary logistic regression") {
      attrib::logistic_regression m(random_matrix(1, 4, 14), vector::Constant(1, -0.2), output);
      m.set_standardizer(some_standardizer(4));
      m.set_l2(0.1);
      check_derivatives(m, x, class_labels(6, 2));
    }
    SUBCASE("multinomial logistic regression") {
      attrib::logistic_regression m(random_matrix(3, 4, 15), random_matrix(3, 1, 16), output);
      m.set_standardizer(some_standardizer(4));
      m.set_l2(0.1);
      check_derivatives(m, x, class_labels(6, 3));
    }
  }
}

TEST_CASE("mlp derivatives match finite differences for every activation and head") {
  const matrix x = random_matrix(5, 4, 21);
  for (auto a : {attrib::activation::identity, attrib::activation::tanh, attrib::activation::relu,
                 attrib::activation::gelu, attrib::activation::sigmoid}) {
    for (auto head : {attrib::output_head::softmax, attrib::output_head::sigmoid,
                      attrib::output_head::identity}) {
      CAPTURE(attrib::activation_name(a));
      CAPTURE(attrib::output_head_name(head));
      const attrib::index k = head == attrib::output_head::softmax ? 3 : 1;
      // The last layer's activation is non-trivial too, so that its second derivative meets
      // the head's curvature.
      attrib::mlp m({{4, 5, a}, {5, 3, a}, {3, k, attrib::activation::tanh}}, head, 5);
      // Random non-zero biases too: with the initial zero biases, a row whose first relu layer
      // is all off would put the next layer exactly on relu's kink.
      m.set_parameters(vector(random_matrix(m.parameter_count(), 1, 23)) * 0.7);
      m.set_standardizer(some_standardizer(4));
      m.set_l2(0.05);
      const vector y = head == attrib::output_head::identity
                           ? vector(random_matrix(5, 1, 22))
                           : class_labels(5, std::max<attrib::index>(k, 2));
      check_derivatives(m, x, y);
    }
  }
}

TEST_CASE("Newton's method fits logistic regression to a stationary point") {
  SUBCASE("binary, breast cancer") {
    const auto data = load("breast_cancer/breast_cancer.csv");
    attrib::logistic_regression m(data.features.cols(), 1);
    m.set_standardizer(attrib::standardizer::fit(data.features));
    const auto report = m.train(data.features, data.labels, {.l2 = 1e-3});
    CHECK(report.converged);
    CHECK(report.iterations < 30);
    CHECK(m.loss_gradient(data.features, data.labels).lpNorm<Eigen::Infinity>() < 1e-9);
    CHECK(accuracy(m.predict(data.features), data.labels) > 0.97);
  }
  SUBCASE("multinomial, wine") {
    const auto data = load("wine/wine_data.csv");
    attrib::logistic_regression m(data.features.cols(), 3);
    m.set_standardizer(attrib::standardizer::fit(data.features));
    const auto report = m.train(data.features, data.labels, {.l2 = 1e-2});
    CHECK(report.converged);
    CHECK(report.gradient_norm < 1e-9);
    CHECK(accuracy(m.predict(data.features), data.labels) > 0.97);
    const matrix p = m.predict(data.features);
    CHECK((p.rowwise().sum().array() - 1.0).abs().maxCoeff() < 1e-12);
  }
}

TEST_CASE("ridge regression is the exact minimiser") {
  const matrix x = random_matrix(40, 3, 31) * 3.0;
  const vector w_true = (vector(3) << 1.5, -2.0, 0.25).finished();
  const vector y = (x * w_true).array() + 4.0;
  attrib::linear_regression exact(3);
  exact.train(x, y);
  CHECK(agrees(exact.weight().row(0).transpose(), w_true, 1e-10));
  CHECK(exact.bias()[0] == doctest::Approx(4.0));

  attrib::linear_regression ridge(3);
  ridge.set_standardizer(attrib::standardizer::fit(x));
  ridge.train(x, y + vector(random_matrix(40, 1, 32)), 0.5);
  CHECK(ridge.loss_gradient(x, y + vector(random_matrix(40, 1, 32))).norm() < 1e-12);
}

TEST_CASE("Adam trains an mlp on wine, reproducibly") {
  const auto data = load("wine/wine_data.csv");
  auto make = [&] {
    attrib::mlp m({{13, 16, attrib::activation::tanh}, {16, 3, attrib::activation::identity}},
                  attrib::output_head::softmax, 42);
    m.set_standardizer(attrib::standardizer::fit(data.features));
    return m;
  };
  const attrib::adam_options options{
      .learning_rate = 0.01, .epochs = 60, .batch_size = 16, .l2 = 1e-4, .seed = 7};
  attrib::mlp first = make();
  const auto history = first.train(data.features, data.labels, options);
  REQUIRE(history.size() == 60);
  CHECK(history.back() < 0.5 * history.front());
  CHECK(accuracy(first.predict(data.features), data.labels) > 0.95);

  attrib::mlp second = make();
  second.train(data.features, data.labels, options);
  CHECK(first.parameters() == second.parameters());

  attrib::mlp reshuffled = make();
  auto other = options;
  other.seed = 8;
  reshuffled.train(data.features, data.labels, other);
  CHECK(first.parameters() != reshuffled.parameters());
}

TEST_CASE("models reject bad input with invalid_argument naming the problem") {
  attrib::logistic_regression logistic(3, 1);
  attrib::mlp net({{3, 4, attrib::activation::relu}, {4, 2, attrib::activation::identity}},
                  attrib::output_head::softmax, 1);
  attrib::linear_regression linear(3);
  const matrix good = random_matrix(4, 3, 41);
  matrix bad = good;
  bad(1, 2) = std::nan("");

  CHECK_THROWS_WITH_AS(logistic.predict(random_matrix(2, 5, 1)), doctest::Contains("columns"),
                       attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(net.predict(random_matrix(2, 5, 1)), doctest::Contains("columns"),
                       attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(logistic.train(bad, class_labels(4, 2)), doctest::Contains("finite"),
                       attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(linear.train(bad, vector::Zero(4)), doctest::Contains("finite"),
                       attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(logistic.train(good, class_labels(4, 3)), doctest::Contains("labels[2]"),
                       attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(net.train(good, vector::Constant(4, 0.5)), doctest::Contains("labels[0]"),
                       attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(linear.train(good, vector::Zero(3)), doctest::Contains("targets"),
                       attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(net.vjp_inputs(good, random_matrix(4, 3, 1)),
                       doctest::Contains("output_cotangent"), attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(net.set_parameters(vector::Zero(3)), doctest::Contains("parameters"),
                       attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(
      attrib::mlp({{3, 4, attrib::activation::relu}, {5, 2, attrib::activation::identity}},
                  attrib::output_head::softmax, 1),
      doctest::Contains("layers[1]"), attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::logistic_regression(0, 2), doctest::Contains("inputs"),
                       attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(net.train(good, class_labels(4, 2), {.batch_size = 0}),
                       doctest::Contains("batch_size"), attrib::invalid_argument);
}
