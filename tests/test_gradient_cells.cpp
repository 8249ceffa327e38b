// Evidence for the second-order and modified-backward gradient cells of the unification table:
// the mlp's exact input Hessian (against central differences of its input gradient), Integrated
// Hessians (closed form on a quadratic model, a brute-force one-dimensional reference on an MLP,
// completeness, symmetry, what ReLU does to it) and guided backpropagation (hand-computed maps, the
// non-negative-signal case, the clipped amount, batching), plus bad input.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include "attrib/concepts/input_hessian_model.hpp"
#include "attrib/core/random.hpp"
#include "attrib/methods/feature/gradients.hpp"
#include "attrib/methods/feature/guided_backprop.hpp"
#include "attrib/methods/feature/integrated_hessians.hpp"
#include "attrib/models/mlp.hpp"
#include "attrib/models/mlp_input_hessian.hpp"

using namespace attrib;
using Index = attrib::index;

namespace {

// f(x) = x^T A x + w^T x, derivatives written here by hand: grad = (A + A^T) x + w, Hessian A + A^T.
struct quadratic_model {
  matrix a;
  vector w;
  Index input_dim() const { return w.size(); }
  Index output_dim() const { return 1; }
  matrix predict(const matrix& x) const {
    matrix y(x.rows(), 1);
    for (Index r = 0; r < x.rows(); ++r) y(r, 0) = x.row(r) * a * x.row(r).transpose() + x.row(r).dot(w.transpose());
    return y;
  }
  matrix vjp_inputs(const matrix& x, const matrix& c) const {
    matrix g(x.rows(), x.cols());
    for (Index r = 0; r < x.rows(); ++r) g.row(r) = c(r, 0) * ((a + a.transpose()) * x.row(r).transpose() + w).transpose();
    return g;
  }
  matrix input_hessian_vector_products(const matrix& x, const matrix& c, const matrix& v) const {
    matrix h(x.rows(), x.cols());
    for (Index r = 0; r < x.rows(); ++r) h.row(r) = c(r, 0) * ((a + a.transpose()) * v.row(r).transpose()).transpose();
    return h;
  }
};
static_assert(input_hessian_model<quadratic_model>);
static_assert(input_hessian_model<mlp_input_hessian>);
static_assert(!input_hessian_model<mlp>);

// An mlp with every weight and bias drawn from N(0, scale^2), so that biases are not zero.
mlp random_mlp(std::vector<layer_shape> shapes, output_head head, std::uint64_t seed, double scale = 0.8) {
  mlp m(shapes, head, seed);
  rng gen(seed + 100);
  vector theta(m.parameter_count());
  for (Index k = 0; k < theta.size(); ++k) theta(k) = scale * gen.normal();
  m.set_parameters(theta);
  return m;
}

vector row_gradient(const mlp& m, const vector& x, Index output) {
  matrix cot = matrix::Zero(1, m.output_dim());
  cot(0, output) = 1.0;
  return m.vjp_inputs(matrix(x.transpose()), cot).row(0).transpose();
}

// The Hessian by central differences of vjp_inputs, column by column.
matrix central_difference_hessian(const mlp& m, const vector& x, Index output, double h = 1e-5) {
  const Index d = x.size();
  matrix hess(d, d);
  for (Index j = 0; j < d; ++j) {
    vector up = x, down = x;
    up(j) += h;
    down(j) -= h;
    hess.col(j) = (row_gradient(m, up, output) - row_gradient(m, down, output)) / (2.0 * h);
  }
  return hess;
}

vector four(double a, double b, double c, double d) {
  vector v(4);
  v << a, b, c, d;
  return v;
}

}  // namespace

TEST_CASE("mlp input Hessian: forward-over-reverse equals central differences of vjp_inputs, every smooth activation and head") {
  const vector x = four(0.7, -0.4, 1.1, 0.2);
  double worst = 0.0;
  for (activation act : {activation::identity, activation::tanh, activation::sigmoid, activation::gelu}) {
    for (output_head head : {output_head::identity, output_head::sigmoid, output_head::softmax}) {
      mlp m = random_mlp({{4, 6, act}, {6, 5, act}, {5, 3, activation::identity}}, head, 11);
      if (act == activation::tanh) m.set_standardizer(standardizer(four(0.1, -0.2, 0.3, 0.0), four(1.5, 0.5, 2.0, 1.0)));
      const auto hm = with_input_hessian(m);
      for (Index out = 0; out < 3; ++out) {
        const matrix exact = input_hessian(hm, x, out);
        const matrix reference = central_difference_hessian(m, x, out);
        const double err = (exact - reference).cwiseAbs().maxCoeff() / (1.0 + reference.cwiseAbs().maxCoeff());
        worst = std::max(worst, err);
        CHECK(err < 1e-7);
        // A linear network with an identity head has no curvature at all.
        if (act == activation::identity && head == output_head::identity) CHECK(exact.cwiseAbs().maxCoeff() < 1e-14);
        else CHECK(exact.cwiseAbs().maxCoeff() > 1e-3);
      }
      // A batch of different points and directions: each row is the directional derivative of the
      // input gradient along its own direction.
      rng gen(5);
      matrix points(5, 4), directions(5, 4), cot = matrix::Zero(5, 3);
      for (Index k = 0; k < points.size(); ++k) points.data()[k] = gen.normal();
      for (Index k = 0; k < directions.size(); ++k) directions.data()[k] = gen.normal();
      for (Index r = 0; r < 5; ++r) cot(r, r % 3) = 1.0;
      const matrix products = hm.input_hessian_vector_products(points, cot, directions);
      const double h = 1e-5;
      for (Index r = 0; r < 5; ++r) {
        const vector p = points.row(r).transpose(), v = directions.row(r).transpose();
        const vector fd = (row_gradient(m, p + h * v, r % 3) - row_gradient(m, p - h * v, r % 3)) / (2.0 * h);
        const double err = (products.row(r).transpose() - fd).cwiseAbs().maxCoeff() / (1.0 + fd.cwiseAbs().maxCoeff());
        worst = std::max(worst, err);
        CHECK(err < 1e-7);
      }
    }
  }
  MESSAGE("input Hessian vs central differences, worst scaled error: " << worst);
}

TEST_CASE("Integrated Hessians: exact closed form on a quadratic model, with one baseline, a background set and feature groups") {
  quadratic_model q{matrix(3, 3), vector(3)};
  q.a << 1.0, 2.0, -0.5, 0.0, -1.5, 0.7, 1.2, 0.3, 0.4;
  q.w << 0.5, -1.0, 2.0;
  const matrix s = q.a + q.a.transpose();
  vector x(3);
  x << 1.0, -2.0, 0.5;
  matrix background(2, 3);
  background << 0.2, 0.4, -1.0, -0.7, 1.5, 0.3;
  // Gamma for one baseline b, from the definition: the Hessian S is constant, int int ab = 1/4,
  // and df/dx_i(b + t d) = (S b + w)_i + t (S d)_i with int int t = int int ab = 1/4.
  auto closed_form = [&](const vector& b) {
    const vector d = x - b;
    matrix g(3, 3);
    for (Index i = 0; i < 3; ++i)
      for (Index j = 0; j < 3; ++j) g(i, j) = d(i) * d(j) * s(i, j) / 4.0;
    const vector sb = s * b + q.w, sd = s * d;
    for (Index i = 0; i < 3; ++i) g(i, i) += d(i) * (sb(i) + sd(i) / 4.0);
    return g;
  };
  const auto f = [&](const vector& p) { return q.predict(matrix(p.transpose()))(0, 0); };
  // The integrands are of degree 1 in a and in b: Gauss-Legendre with 1 node and the trapezoid
  // rule with 2 are already exact.
  for (auto [rule, steps] : {std::pair{quadrature_rule::gauss_legendre, 1}, std::pair{quadrature_rule::gauss_legendre, 5},
                             std::pair{quadrature_rule::trapezoid, 2}}) {
    const vector b = background.row(0).transpose();
    const interaction_attribution ih =
        integrated_hessians{.rule = rule, .steps = steps}.explain(masked_model(q, x, matrix(b.transpose())));
    CHECK((ih.values - closed_form(b)).cwiseAbs().maxCoeff() < 1e-13);
    CHECK(ih.base_value == doctest::Approx(f(b)).epsilon(1e-14));
    CHECK(ih.prediction == doctest::Approx(f(x)).epsilon(1e-14));
    CHECK(std::abs(ih.values.sum() - (f(x) - f(b))) < 1e-13);
    CHECK(std::abs(ih.completeness_delta()) < 1e-13);
    CHECK(ih.row_completeness_deltas().cwiseAbs().maxCoeff() < 1e-13);
    CHECK((ih.values - ih.values.transpose()).cwiseAbs().maxCoeff() < 1e-13);
  }
  // A background set: the mean of the per-baseline matrices (the exact-average Expected Hessians).
  const interaction_attribution eh = integrated_hessians{.steps = 3}.explain(masked_model(q, x, background));
  const matrix mean = 0.5 * (closed_form(background.row(0).transpose()) + closed_form(background.row(1).transpose()));
  CHECK((eh.values - mean).cwiseAbs().maxCoeff() < 1e-13);
  CHECK(std::abs(eh.completeness_delta()) < 1e-13);
  // Feature groups {0, 2} and {1}: in the space of groups, Gamma is the block sums of the
  // feature-level matrix (the second derivative in z_p sums d_f d_g H_fg over f in p, g in q).
  const vector b = background.row(0).transpose();
  const matrix g = closed_form(b);
  const interaction_attribution grouped = integrated_hessians{.steps = 3}.explain(
      masked_model(q, x, matrix(b.transpose()), feature_groups({{0, 2}, {1}}, 3)));
  matrix blocks(2, 2);
  blocks << g(0, 0) + g(0, 2) + g(2, 0) + g(2, 2), g(0, 1) + g(2, 1), g(1, 0) + g(1, 2), g(1, 1);
  CHECK((grouped.values - blocks).cwiseAbs().maxCoeff() < 1e-13);
}

TEST_CASE("Integrated Hessians on an MLP: equals a brute-force one-dimensional reference; rows sum to IG; total to f(x) - f(b); symmetric") {
  const mlp m = random_mlp({{4, 8, activation::tanh}, {8, 6, activation::gelu}, {6, 3, activation::identity}},
                           output_head::softmax, 3);
  const vector x = four(1.2, -0.7, 0.4, 1.5), b = four(-0.5, 0.3, 0.0, -1.0), d = x - b;
  const Index out = 2;
  const auto game = masked_model(with_input_hessian(m), x, matrix(b.transpose()), out);
  const double fx = m.predict(matrix(x.transpose()))(0, out), fb = m.predict(matrix(b.transpose()))(0, out);

  // Reference, by another formula: int int g(ab) da db = int_0^1 g(t) (-ln t) dt, so
  //   Gamma_ij = d_i d_j int t H_ij(b + t d) (-ln t) dt + [i = j] d_i int df/dx_i(b + t d) (-ln t) dt,
  // integrated by composite Simpson after t = s^4 (which makes the log weight smooth), with the
  // Hessian from central differences of the model's input gradient.
  matrix reference = matrix::Zero(4, 4);
  const int intervals = 1000;
  for (int k = 1; k <= intervals; ++k) {
    const double sv = static_cast<double>(k) / intervals, t = std::pow(sv, 4);
    const double simpson = (k == intervals) ? 1.0 : (k % 2 == 1 ? 4.0 : 2.0);
    const double weight = simpson * (-16.0 * sv * sv * sv * std::log(sv)) / (3.0 * intervals);  // dt (-ln t)
    const vector p = b + t * d;
    const matrix hess = central_difference_hessian(m, p, out, 1e-4);
    const vector grad = row_gradient(m, p, out);
    for (Index i = 0; i < 4; ++i) {
      for (Index j = 0; j < 4; ++j) reference(i, j) += weight * d(i) * d(j) * t * 0.5 * (hess(i, j) + hess(j, i));
      reference(i, i) += weight * d(i) * grad(i);
    }
  }
  const interaction_attribution ih = integrated_hessians{.steps = 40}.explain(game);
  const double scale = reference.cwiseAbs().maxCoeff();
  const double err_reference = (ih.values - reference).cwiseAbs().maxCoeff() / scale;
  CHECK(err_reference < 1e-6);
  CHECK(reference.cwiseAbs().minCoeff() > 1e-5);  // every interaction is really there

  // Rows sum to Integrated Gradients (the library's, accurately), the total to f(x) - f(b).
  const attribution ig = integrated_gradients{.neighborhood = {.steps = 200}}.explain(
      masked_model(std::cref(m), x, matrix(b.transpose()), out));
  CHECK(std::abs(ig.completeness_delta()) < 1e-12);
  const double err_rows = (ih.values.rowwise().sum() - ig.values).cwiseAbs().maxCoeff();
  CHECK(err_rows < 1e-10);
  CHECK(std::abs(ih.values.sum() - (fx - fb)) < 1e-10);
  CHECK(ih.prediction == doctest::Approx(fx).epsilon(1e-14));
  CHECK(ih.base_value == doctest::Approx(fb).epsilon(1e-14));
  const double asym = (ih.values - ih.values.transpose()).cwiseAbs().maxCoeff() / scale;
  CHECK(asym < 1e-12);

  // Convergence with steps: Riemann midpoint and Gauss-Legendre errors fall.
  double previous_mid = std::numeric_limits<double>::infinity(), previous_gl = previous_mid;
  for (int steps : {2, 4, 8, 16}) {
    const interaction_attribution mid =
        integrated_hessians{.rule = quadrature_rule::riemann_midpoint, .steps = steps}.explain(game);
    const interaction_attribution gl = integrated_hessians{.steps = steps}.explain(game);
    const double e_mid = std::abs(mid.values.sum() - (fx - fb)), e_gl = std::abs(gl.values.sum() - (fx - fb));
    const double r_mid = (mid.values.rowwise().sum() - ig.values).cwiseAbs().maxCoeff();
    MESSAGE("steps " << steps << ": midpoint total error " << e_mid << ", row error " << r_mid
                     << "; Gauss-Legendre total error " << e_gl);
    CHECK(e_mid < previous_mid);
    CHECK((e_gl < previous_gl || e_gl < 1e-13));
    previous_mid = e_mid;
    previous_gl = e_gl;
  }
  CHECK(previous_mid < 1e-3);
  CHECK(previous_gl < 1e-4);
  CHECK(std::abs(ih.completeness_delta()) < 1e-12);  // Gauss-Legendre, 40 steps
  // Deterministic on 1 and 2 threads.
  const interaction_attribution two = integrated_hessians{.steps = 40}.explain(game, {.threads = 2});
  CHECK((two.values - ih.values).cwiseAbs().maxCoeff() == 0.0);
  MESSAGE("MLP Integrated Hessians: vs reference " << err_reference << ", rows vs IG " << err_rows
                                                   << ", total gap " << ih.completeness_delta() << ", asymmetry "
                                                   << asym);
}

TEST_CASE("Integrated Hessians on ReLU networks: the a.e. Hessian is zero or head curvature, and completeness is lost at kinks") {
  // With an identity head a ReLU network is piecewise linear: the pointwise input Hessian is 0.
  const mlp relu_net = random_mlp({{4, 7, activation::relu}, {7, 5, activation::relu}, {5, 1, activation::identity}},
                                  output_head::identity, 8);
  rng gen(2);
  for (int trial = 0; trial < 5; ++trial) {
    vector p(4);
    for (Index k = 0; k < 4; ++k) p(k) = gen.normal();
    CHECK(input_hessian(with_input_hessian(relu_net), p).cwiseAbs().maxCoeff() == 0.0);
  }
  // With a sigmoid head all the curvature is the head's: H = s''(z) g g^T, g the logit's gradient
  // (read from the same network with an identity head).
  const mlp sigmoid_net(relu_net.layers(), output_head::sigmoid);
  const vector p = four(0.3, -0.8, 1.1, 0.4);
  const double z = relu_net.predict(matrix(p.transpose()))(0, 0);
  const double sz = 1.0 / (1.0 + std::exp(-z));
  const vector g = row_gradient(relu_net, p, 0);
  const matrix expected = sz * (1 - sz) * (1 - 2 * sz) * g * g.transpose();
  CHECK((input_hessian(with_input_hessian(sigmoid_net), p) - expected).cwiseAbs().maxCoeff() < 1e-14);

  // f(x) = relu(x - 1/2) on [0, 1]: f(1) - f(0) = 1/2. The pointwise Hessian misses the Dirac mass
  // at the kink, so Integrated Hessians keeps only Gamma = int int f'(ab) = int_{1/2}^1 -ln t dt
  // = (1 + ln(1/2)) / 2, and completeness fails by ln(1/2) / 2 (the mass's share).
  const mlp kink({dense_layer{matrix::Constant(1, 1, 1.0), vector::Constant(1, -0.5), activation::relu},
                  dense_layer{matrix::Constant(1, 1, 1.0), vector::Zero(1), activation::identity}},
                 output_head::identity);
  const interaction_attribution ih =
      integrated_hessians{.steps = 64}.explain(masked_model(with_input_hessian(kink), vector::Ones(1), matrix::Zero(1, 1)));
  const double gamma = 0.5 * (1.0 + std::log(0.5));
  CHECK(std::abs(ih.values(0, 0) - gamma) < 2e-3);
  CHECK(std::abs(ih.completeness_delta() - 0.5 * std::log(0.5)) < 2e-3);
  MESSAGE("ReLU kink: Gamma " << ih.values(0, 0) << " (closed form " << gamma << "), completeness delta "
                              << ih.completeness_delta() << " (closed form " << 0.5 * std::log(0.5) << ")");
}

TEST_CASE("guided backprop: hand-built ReLU nets, the guided map computed by hand") {
  // One hidden layer. x = (1, 0.5): pre = (1 - 0.5, 2 + 0.5) = (0.5, 2.5), both active; output
  // h1 - h2. Backward signal at the hidden outputs (1, -1): the true gradient is
  // (1, -1) - (2, 1) = (-1, -2); guided clips the -1, leaving (1, -1).
  matrix w1(2, 2), w2(1, 2);
  w1 << 1.0, -1.0, 2.0, 1.0;
  w2 << 1.0, -1.0;
  const mlp one({dense_layer{w1, vector::Zero(2), activation::relu}, dense_layer{w2, vector::Zero(1), activation::identity}},
                output_head::identity);
  vector x(2);
  x << 1.0, 0.5;
  const vector expected_guided = (vector(2) << 1.0, -1.0).finished();
  const vector expected_gradient = (vector(2) << -1.0, -2.0).finished();
  const attribution gbp = vanilla_gradient{}.explain(noisy_model(guided_backprop(one), x));
  CHECK((gbp.values - expected_guided).cwiseAbs().maxCoeff() < 1e-15);
  CHECK((vanilla_gradient{}.explain(noisy_model(one, x)).values - expected_gradient).cwiseAbs().maxCoeff() < 1e-15);
  // Guided grad x input: the same composition as gradient x input.
  const attribution gxi = gradient_x_input.explain(zero_baseline_model(guided_backprop(one), x));
  CHECK((gxi.values - expected_guided.cwiseProduct(x)).cwiseAbs().maxCoeff() < 1e-15);

  // Two hidden layers, 3 -> 3 -> 2 -> 1, the rule applied by hand with scalar loops: a clip in the
  // upper layer changes what reaches the lower one.
  matrix a(3, 3), c(2, 3), o(1, 2);
  a << 1.0, -2.0, 0.5, -1.0, 1.0, 1.0, 0.5, 0.5, -1.5;
  c << 1.0, -1.0, 2.0, -0.5, 1.5, -1.0;
  o << 1.0, -2.0;
  vector ba(3), bc(2);
  ba << 0.1, 0.2, -0.1;
  bc << 0.0, 0.3;
  const mlp two({dense_layer{a, ba, activation::relu}, dense_layer{c, bc, activation::relu},
                 dense_layer{o, vector::Constant(1, 0.05), activation::identity}},
                output_head::identity);
  rng gen(4);
  int clipped_units = 0;
  for (int trial = 0; trial < 20; ++trial) {
    vector p(3);
    for (Index k = 0; k < 3; ++k) p(k) = 1.5 * gen.normal();
    double pre1[3], h1[3], pre2[2];
    for (int i = 0; i < 3; ++i) {
      pre1[i] = ba(i);
      for (int k = 0; k < 3; ++k) pre1[i] += a(i, k) * p(k);
      h1[i] = pre1[i] > 0 ? pre1[i] : 0.0;
    }
    for (int i = 0; i < 2; ++i) {
      pre2[i] = bc(i);
      for (int k = 0; k < 3; ++k) pre2[i] += c(i, k) * h1[k];
    }
    double r2[2], r1[3] = {0.0, 0.0, 0.0};
    for (int i = 0; i < 2; ++i) {
      const double signal = o(0, i);
      r2[i] = (pre2[i] > 0 && signal > 0) ? signal : 0.0;
      clipped_units += (pre2[i] > 0 && signal <= 0);
    }
    for (int k = 0; k < 3; ++k) {
      double signal = 0.0;
      for (int i = 0; i < 2; ++i) signal += r2[i] * c(i, k);
      r1[k] = (pre1[k] > 0 && signal > 0) ? signal : 0.0;
      clipped_units += (pre1[k] > 0 && signal < 0);
    }
    vector by_hand = vector::Zero(3);
    for (int k = 0; k < 3; ++k)
      for (int i = 0; i < 3; ++i) by_hand(k) += r1[i] * a(i, k);
    const attribution guided = vanilla_gradient{}.explain(noisy_model(guided_backprop(two), p));
    CHECK((guided.values - by_hand).cwiseAbs().maxCoeff() < 1e-14);
  }
  CHECK(clipped_units > 0);
}

TEST_CASE("guided backprop equals the true gradient when every backpropagated signal is non-negative") {
  // Non-negative weights above the first layer and an identity head: every signal reaching a
  // ReLU is a sum of non-negative terms, so nothing is clipped. The first layer's weights and all
  // biases have both signs, so units are on and off.
  mlp m = random_mlp({{5, 8, activation::relu}, {8, 6, activation::relu}, {6, 4, activation::relu}, {4, 1, activation::identity}},
                     output_head::identity, 21);
  std::vector<dense_layer> layers = m.layers();
  for (std::size_t l = 1; l < layers.size(); ++l) layers[l].weight = layers[l].weight.cwiseAbs();
  const mlp positive(layers, output_head::identity);
  const guided_mlp guided = guided_backprop(positive);
  rng gen(9);
  double largest_gradient = 0.0;
  for (int trial = 0; trial < 20; ++trial) {
    vector p(5);
    for (Index k = 0; k < 5; ++k) p(k) = gen.normal();
    const vector gbp = vanilla_gradient{}.explain(noisy_model(std::cref(guided), p)).values;
    // The true gradient, by central differences of predict (ReLU nets are linear between kinks).
    vector fd(5);
    for (Index k = 0; k < 5; ++k) {
      vector up = p, down = p;
      up(k) += 1e-6;
      down(k) -= 1e-6;
      fd(k) = (positive.predict(matrix(up.transpose()))(0, 0) - positive.predict(matrix(down.transpose()))(0, 0)) / 2e-6;
    }
    CHECK((gbp - fd).cwiseAbs().maxCoeff() < 1e-7);
    CHECK((gbp - row_gradient(positive, p, 0)).cwiseAbs().maxCoeff() < 1e-13);
    largest_gradient = std::max(largest_gradient, fd.cwiseAbs().maxCoeff());
    const vector gxi = gradient_x_input.explain(zero_baseline_model(std::cref(guided), p)).values;
    CHECK((gxi - fd.cwiseProduct(p)).cwiseAbs().maxCoeff() < 1e-6);
  }
  CHECK(largest_gradient > 0.1);
}

TEST_CASE("guided backprop differs from the gradient by exactly the clipped negative signals") {
  // One hidden ReLU layer: gradient = sum_h [pre_h > 0] v_h W_h, guided = sum_h [pre_h > 0] max(v_h, 0) W_h,
  // where v_h = (output weights)_h is the signal at hidden unit h. The difference is
  // sum over active h with v_h < 0 of v_h W_h.
  const mlp m = random_mlp({{4, 10, activation::relu}, {10, 1, activation::identity}}, output_head::identity, 31);
  const matrix& w = m.layers()[0].weight;
  const vector& bias = m.layers()[0].bias;
  const matrix& v = m.layers()[1].weight;
  rng gen(6);
  double largest_difference = 0.0;
  for (int trial = 0; trial < 10; ++trial) {
    vector p(4);
    for (Index k = 0; k < 4; ++k) p(k) = gen.normal();
    vector predicted = vector::Zero(4);
    for (Index h = 0; h < 10; ++h)
      if (w.row(h).dot(p) + bias(h) > 0 && v(0, h) < 0) predicted += v(0, h) * w.row(h).transpose();
    const vector gradient = row_gradient(m, p, 0);
    const vector guided = vanilla_gradient{}.explain(noisy_model(guided_backprop(m), p)).values;
    CHECK(((gradient - guided) - predicted).cwiseAbs().maxCoeff() < 1e-13);
    largest_difference = std::max(largest_difference, predicted.cwiseAbs().maxCoeff());
  }
  CHECK(largest_difference > 0.1);
  MESSAGE("largest clipped amount over 10 points: " << largest_difference);
}

TEST_CASE("guided backprop: batched equals row by row, through a softmax head; same on 1 and 2 threads") {
  const mlp m = random_mlp({{6, 9, activation::relu}, {9, 7, activation::relu}, {7, 3, activation::identity}},
                           output_head::softmax, 41);
  const guided_mlp guided = guided_backprop(m);
  rng gen(7);
  matrix points(25, 6), cot = matrix::Zero(25, 3);
  for (Index k = 0; k < points.size(); ++k) points.data()[k] = gen.normal();
  for (Index r = 0; r < 25; ++r) cot(r, r % 3) = 1.0;
  const matrix batched = guided.vjp_inputs(points, cot);
  // Equal up to rounding: the matrix products sum in a different order for one row than for 25.
  double worst = 0.0;
  for (Index r = 0; r < 25; ++r) {
    const matrix single = guided.vjp_inputs(matrix(points.row(r)), matrix(cot.row(r)));
    const double scale = 1.0 + batched.row(r).cwiseAbs().maxCoeff();
    worst = std::max(worst, (batched.row(r) - single.row(0)).cwiseAbs().maxCoeff() / scale);
    const vector via_method = vanilla_gradient{}.explain(noisy_model(std::cref(guided), vector(points.row(r).transpose()), r % 3)).values;
    worst = std::max(worst, (via_method - batched.row(r).transpose()).cwiseAbs().maxCoeff() / scale);
  }
  CHECK(worst < 1e-14);
  MESSAGE("guided backprop, batched vs row by row: worst scaled difference " << worst);
  // The guided map differs from the gradient somewhere (the softmax head sends negative signals).
  const matrix gradients = m.vjp_inputs(points, cot);
  CHECK((gradients - batched).cwiseAbs().maxCoeff() > 1e-3);
  // Guided integrated gradients (the same game with masking) on 1 and 2 threads.
  const auto game = masked_model(std::cref(guided), vector(points.row(0).transpose()), matrix::Zero(1, 6), 1);
  const attribution one = integrated_gradients{}.explain(game, {.threads = 1});
  const attribution two = integrated_gradients{}.explain(game, {.threads = 2});
  CHECK((one.values - two.values).cwiseAbs().maxCoeff() == 0.0);
}

TEST_CASE("second-order and guided gradient methods reject bad input by name") {
  const mlp smooth = random_mlp({{4, 5, activation::tanh}, {5, 2, activation::identity}}, output_head::softmax, 1);
  const auto hm = with_input_hessian(smooth);
  const vector x = four(0.1, 0.2, 0.3, 0.4);
  CHECK_THROWS_WITH_AS(input_hessian(hm, vector::Zero(3)), doctest::Contains("input_hessian: point x has size 3, expected 4"),
                       invalid_argument);
  CHECK_THROWS_WITH_AS(input_hessian(hm, four(0, std::nan(""), 0, 0)), doctest::Contains("point x must be finite"),
                       invalid_argument);
  CHECK_THROWS_WITH_AS(input_hessian(hm, x, 2), doctest::Contains("output index 2 is out of range"), invalid_argument);
  CHECK_THROWS_WITH_AS(hm.input_hessian_vector_products(matrix::Zero(2, 4), matrix::Zero(2, 2), matrix::Zero(3, 4)),
                       doctest::Contains("directions are 3 x 4, expected 2 x 4"), invalid_argument);
  CHECK_THROWS_WITH_AS(hm.input_hessian_vector_products(matrix::Zero(2, 4), matrix::Zero(2, 3), matrix::Zero(2, 4)),
                       doctest::Contains("output_cotangent is 2 x 3, expected 2 x 2"), invalid_argument);
  const auto game = masked_model(hm, x, matrix::Zero(1, 4));
  CHECK_THROWS_WITH_AS(integrated_hessians{.steps = 0}.explain(game), doctest::Contains("steps must be in [1, 4096], got 0"),
                       invalid_argument);
  CHECK_THROWS_WITH_AS((integrated_hessians{.rule = quadrature_rule::trapezoid, .steps = 1}.explain(game)),
                       doctest::Contains("trapezoid rule needs steps >= 2"), invalid_argument);
  CHECK_THROWS_WITH_AS(integrated_gradient_game(game, 4, make_quadrature(quadrature_rule::gauss_legendre, 3)),
                       doctest::Contains("player 4 is out of range; the game has 4 players"), invalid_argument);
  // A model whose Hessian is not finite is reported, not averaged into the interactions.
  quadratic_model bad{matrix::Constant(4, 4, std::numeric_limits<double>::infinity()), vector::Zero(4)};
  CHECK_THROWS_WITH_AS(integrated_hessians{.steps = 2}.explain(masked_model(bad, x, matrix::Zero(1, 4))),
                       doctest::Contains("must be finite"), invalid_argument);

  // Guided backprop: the rule is for ReLU networks only, named by layer and activation.
  CHECK_THROWS_WITH_AS(guided_backprop(smooth), doctest::Contains("layers[0] has activation 'tanh'"),
                       non_relu_activation_error);
  const mlp last_sigmoid = random_mlp({{4, 5, activation::relu}, {5, 1, activation::sigmoid}}, output_head::identity, 2);
  CHECK_THROWS_WITH_AS(guided_backprop(last_sigmoid), doctest::Contains("the last layer relu or identity"),
                       non_relu_activation_error);
  const guided_mlp guided = guided_backprop(random_mlp({{4, 5, activation::relu}, {5, 2, activation::identity}}, output_head::identity, 3));
  CHECK_THROWS_WITH_AS(guided.vjp_inputs(matrix::Zero(2, 3), matrix::Zero(2, 2)),
                       doctest::Contains("inputs have 3 columns, expected 4"), invalid_argument);
  CHECK_THROWS_WITH_AS(guided.vjp_inputs(matrix::Zero(2, 4), matrix::Zero(1, 2)),
                       doctest::Contains("output_cotangent is 1 x 2, expected 2 x 2"), invalid_argument);
}
