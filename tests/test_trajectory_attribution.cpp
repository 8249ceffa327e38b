// Trajectory-based data attribution: the recording SGD trainer, SGD-Influence (Hara et al. 2019)
// and SOURCE (Bae et al. 2024). Ground truth is written here directly: SGD and its counterfactual
// runs (point j left out of every batch it is in, the batch size unchanged, as the paper and its
// authors' code define them), the unrolled first-order recursion with an explicit Hessian, and the
// closed forms of SOURCE at a stationary point.
#include <doctest/doctest.h>

#include <Eigen/Eigenvalues>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "attrib/core/random.hpp"
#include "attrib/methods/data/evaluation.hpp"
#include "attrib/methods/data/influence.hpp"
#include "attrib/methods/data/sgd_influence.hpp"
#include "attrib/methods/data/sgd_trajectory.hpp"
#include "attrib/methods/data/source.hpp"
#include "attrib/models/linear_regression.hpp"
#include "attrib/models/logistic_regression.hpp"

#include "cancer_problem.hpp"

namespace {

using attrib_tests::error_of;
using attrib::matrix;
using attrib::vector;
using Index = attrib::index;

struct problem {
  matrix x, test_x;
  vector y, test_y;
};

// y = x w + 0.5 b + noise, or its sign through a logistic link when `classify`.
problem make_problem(Index n, Index n_test, Index d, bool classify, std::uint64_t seed) {
  attrib::rng gen(seed);
  vector w(d);
  for (Index k = 0; k < d; ++k) w[k] = gen.normal();
  const auto draw = [&](Index rows, matrix& x, vector& y) {
    x.resize(rows, d);
    y.resize(rows);
    for (Index i = 0; i < rows; ++i) {
      for (Index k = 0; k < d; ++k) x(i, k) = gen.normal();
      const double s = x.row(i).dot(w) + 0.5;
      y[i] = classify ? (gen.uniform() < 1.0 / (1.0 + std::exp(-2.0 * s)) ? 1.0 : 0.0) : s + 0.3 * gen.normal();
    }
  };
  problem p;
  draw(n, p.x, p.y);
  draw(n_test, p.test_x, p.test_y);
  return p;
}

// Parameters are w (d entries) then the bias, as attrib's linear models flatten them.
double affine(const vector& theta, const matrix& x, Index i) {
  const Index d = x.cols();
  return x.row(i).dot(theta.head(d)) + theta[d];
}
double sigmoid(double s) { return 1.0 / (1.0 + std::exp(-s)); }

// Example i's loss derivative in its logit: squared loss (f - y), cross-entropy (sigma(f) - y).
double residual(const vector& theta, const matrix& x, const vector& y, Index i, bool logistic) {
  const double f = affine(theta, x, i);
  return (logistic ? sigmoid(f) : f) - y[i];
}

// SGD written out: theta -= eta ((1/|B|) sum_{i in B, i != removed} grad l_i + l2 (w, 0)).
vector direct_sgd(const problem& p, double l2, const attrib::sgd_trajectory& tr, vector theta, Index removed,
                  bool logistic) {
  const Index d = p.x.cols();
  for (Index t = 0; t < tr.steps(); ++t) {
    const auto& batch = tr.batches[static_cast<std::size_t>(t)];
    vector g = vector::Zero(d + 1);
    g.head(d) = l2 * theta.head(d);
    for (const Index i : batch) {
      if (i == removed) continue;
      const double r = residual(theta, p.x, p.y, i, logistic) / static_cast<double>(batch.size());
      g.head(d) += r * p.x.row(i).transpose();
      g[d] += r;
    }
    theta -= tr.learning_rates[static_cast<std::size_t>(t)] * g;
  }
  return theta;
}

// Mean test loss without the penalty, and its gradient.
double test_loss(const vector& theta, const problem& p, bool logistic) {
  double total = 0;
  for (Index i = 0; i < p.test_x.rows(); ++i) {
    const double f = affine(theta, p.test_x, i);
    total += logistic ? std::log1p(std::exp(-f)) + (1.0 - p.test_y[i]) * f : 0.5 * (f - p.test_y[i]) * (f - p.test_y[i]);
  }
  return total / static_cast<double>(p.test_x.rows());
}
vector test_loss_gradient(const vector& theta, const problem& p, bool logistic) {
  const Index d = p.x.cols();
  vector g = vector::Zero(d + 1);
  for (Index i = 0; i < p.test_x.rows(); ++i) {
    const double r = residual(theta, p.test_x, p.test_y, i, logistic);
    g.head(d) += r * p.test_x.row(i).transpose();
    g[d] += r;
  }
  return g / static_cast<double>(p.test_x.rows());
}
vector example_gradient(const vector& theta, const problem& p, Index i, bool logistic) {
  const Index d = p.x.cols();
  vector g(d + 1);
  const double r = residual(theta, p.x, p.y, i, logistic);
  g.head(d) = r * p.x.row(i).transpose();
  g[d] = r;
  return g;
}

// The counterfactual change of the mean test loss for every removed point.
vector actual_loss_changes(const problem& p, double l2, const attrib::sgd_trajectory& tr, bool logistic) {
  const vector start = tr.at(0);
  const double base = test_loss(tr.final_parameters(), p, logistic);
  vector out(p.x.rows());
  for (Index j = 0; j < p.x.rows(); ++j) out[j] = test_loss(direct_sgd(p, l2, tr, start, j, logistic), p, logistic) - base;
  return out;
}

// Scores for the mean test loss: the mean over the test columns (scores are linear in the test gradient).
vector mean_over_tests(const attrib::data_attribution& a) { return a.scores.rowwise().mean(); }

}  // namespace

TEST_CASE("train_sgd: seeded shuffled batches per epoch, and every step is the SGD step written out") {
  const problem p = make_problem(23, 1, 3, false, 1);
  attrib::linear_regression model(3);
  model.set_l2(0.05);
  const attrib::sgd_trajectory tr = train_sgd(model, p.x, p.y, {.learning_rate = 0.1, .batch_size = 5, .epochs = 3, .decay = true, .seed = 7});
  REQUIRE(tr.steps() == 15);  // ceil(23 / 5) = 5 batches per epoch
  for (Index e = 0; e < 3; ++e) {
    std::multiset<Index> seen;
    for (Index b = 0; b < 5; ++b) {
      const auto& batch = tr.batches[static_cast<std::size_t>(5 * e + b)];
      CHECK(static_cast<Index>(batch.size()) == (b < 4 ? 5 : 3));
      seen.insert(batch.begin(), batch.end());
    }
    CHECK(seen.size() == 23);  // every row exactly once per epoch
    CHECK(std::set<Index>(seen.begin(), seen.end()).size() == 23);
  }
  for (Index t = 0; t < tr.steps(); ++t)
    CHECK(tr.learning_rates[static_cast<std::size_t>(t)] == doctest::Approx(0.1 / std::sqrt(t + 1.0)).epsilon(1e-15));
  // Replaying the recorded batches by hand gives every recorded parameter vector and the model's own.
  for (Index t = 0; t <= tr.steps(); ++t) {
    attrib::sgd_trajectory prefix = tr;
    prefix.batches.resize(static_cast<std::size_t>(t));
    prefix.learning_rates.resize(static_cast<std::size_t>(t));
    CHECK((direct_sgd(p, 0.05, prefix, vector::Zero(4), -1, false) - tr.at(t)).norm() < 1e-13);
  }
  CHECK((model.parameters() - tr.final_parameters()).norm() == 0.0);
  // Deterministic in the seed.
  attrib::linear_regression again(3), other(3);
  again.set_l2(0.05);
  other.set_l2(0.05);
  CHECK(train_sgd(again, p.x, p.y, {.learning_rate = 0.1, .batch_size = 5, .epochs = 3, .decay = true, .seed = 7}).batches == tr.batches);
  CHECK(train_sgd(other, p.x, p.y, {.learning_rate = 0.1, .batch_size = 5, .epochs = 3, .decay = true, .seed = 8}).batches != tr.batches);
}

TEST_CASE("SGD-Influence on linear regression equals the counterfactual SGD run (SGD is affine there)") {
  const problem p = make_problem(24, 6, 3, false, 2);
  constexpr double l2 = 0.02;
  attrib::linear_regression model(3);
  model.set_l2(l2);
  const vector start = model.parameters();

  SUBCASE("one epoch: the backward form scores every j exactly") {
    attrib::linear_regression trained = model;
    const auto tr = train_sgd(trained, p.x, p.y, {.learning_rate = 0.08, .batch_size = 4, .epochs = 1, .seed = 3});
    const vector scores = mean_over_tests(sgd_influence(model, tr, p.x, p.y, p.test_x, p.test_y));
    const vector g = test_loss_gradient(tr.final_parameters(), p, false);
    double worst = 0, largest = 0;
    for (Index j = 0; j < p.x.rows(); ++j) {
      const vector change = direct_sgd(p, l2, tr, start, j, false) - tr.final_parameters();
      worst = std::max(worst, std::abs(scores[j] - g.dot(change)));
      largest = std::max(largest, std::abs(g.dot(change)));
    }
    MESSAGE("one epoch: max |score - g_test . (theta'_T - theta_T)| = " << worst << " (largest " << largest << ")");
    CHECK(largest > 1e-3);
    CHECK(worst < 1e-10 * largest);
  }
  SUBCASE("four epochs: the exact-batch forward form gives theta'_T - theta_T for every j") {
    // Returns the paper's (first_order) gap, max_j ||paper - actual|| / max_j ||actual||.
    const auto run = [&](double eta) {
      attrib::linear_regression trained = model;
      const auto tr = train_sgd(trained, p.x, p.y, {.learning_rate = eta, .batch_size = 4, .epochs = 4, .seed = 4});
      double worst = 0, largest = 0, gap = 0;
      for (Index j = 0; j < p.x.rows(); ++j) {
        const vector actual = direct_sgd(p, l2, tr, start, j, false) - tr.final_parameters();
        const vector exact =
            sgd_influence_parameter_change(model, tr, p.x, p.y, j, attrib::sgd_linearization::exact_batch);
        const vector paper = sgd_influence_parameter_change(model, tr, p.x, p.y, j);
        worst = std::max(worst, (exact - actual).norm());
        largest = std::max(largest, actual.norm());
        gap = std::max(gap, (paper - actual).norm());
      }
      MESSAGE("four epochs, eta " << eta << ": max ||exact_batch - actual|| = " << worst << " (largest change "
                                  << largest << "); first_order: max ||paper - actual|| / largest change = "
                                  << gap / largest);
      CHECK(worst < 1e-10 * largest);
      return gap / largest;
    };
    // The paper's recursion keeps j's own Hessian in the batches after its first: an O(eta / |B|)
    // relative error that halves with the step.
    const double big = run(0.08), small = run(0.02);
    CHECK(big > 1e-6);
    CHECK(small < 0.4 * big);
  }
}

TEST_CASE("SGD-Influence: the backward form equals the forward form for every j, on any thread count") {
  const problem p = make_problem(30, 4, 3, true, 5);
  attrib::logistic_regression model(3, 1);
  model.set_l2(0.01);
  attrib::logistic_regression trained = model;
  const auto tr = train_sgd(trained, p.x, p.y, {.learning_rate = 0.3, .batch_size = 4, .epochs = 3, .decay = true, .seed = 9});
  const auto backward = sgd_influence(model, tr, p.x, p.y, p.test_x, p.test_y, 1);
  const auto two = sgd_influence(model, tr, p.x, p.y, p.test_x, p.test_y, 2);
  CHECK(two.scores == backward.scores);
  trained.set_parameters(tr.final_parameters());
  const matrix test_gradients = trained.per_example_loss_gradients(p.test_x, p.test_y);
  double worst = 0;
  for (Index j = 0; j < p.x.rows(); ++j) {
    const vector forward = test_gradients * sgd_influence_parameter_change(model, tr, p.x, p.y, j);
    worst = std::max(worst, (forward.transpose() - backward.scores.row(j)).cwiseAbs().maxCoeff());
  }
  MESSAGE("max |backward - forward| = " << worst << " (largest score " << backward.scores.cwiseAbs().maxCoeff() << ")");
  CHECK(worst < 1e-12 * backward.scores.cwiseAbs().maxCoeff());
}

TEST_CASE("SGD-Influence on logistic regression correlates with the counterfactual SGD runs (> 0.95)") {
  const problem p = make_problem(40, 20, 3, true, 6);
  constexpr double l2 = 0.01;
  attrib::logistic_regression model(3, 1);
  model.set_l2(l2);
  attrib::logistic_regression trained = model;
  const auto tr = train_sgd(trained, p.x, p.y, {.learning_rate = 0.05, .batch_size = 4, .epochs = 5, .seed = 10});
  const vector actual = actual_loss_changes(p, l2, tr, true);
  const vector predicted = mean_over_tests(sgd_influence(model, tr, p.x, p.y, p.test_x, p.test_y));
  const double r = attrib::pearson(predicted, actual);
  const double rho = attrib::spearman(predicted, actual);
  MESSAGE("SGD-Influence vs counterfactual SGD, logistic regression: Pearson " << r << ", Spearman " << rho);
  CHECK(r > 0.95);
}

TEST_CASE("SOURCE: one segment at a stationary point is (1/N) g^T (I - exp(-eta K H)) H^-1 g_j, and tends to the influence function") {
  const problem p = make_problem(40, 5, 3, true, 11);
  attrib::logistic_regression model(3, 1);
  model.train(p.x, p.y, {.l2 = 0.1, .tolerance = 1e-13});
  const matrix h = model.hessian(p.x, p.y);
  const matrix g_train = model.per_example_loss_gradients(p.x, p.y);
  const matrix g_test = model.per_example_loss_gradients(p.test_x, p.test_y);
  const double n = static_cast<double>(p.x.rows());
  const matrix limit = attrib::loo_loss_change(
      attrib::influence(attrib::explicit_inverse_hessian(h), g_train, g_test), p.x.rows());
  const Eigen::MatrixXd dense_h = h;
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(dense_h);
  const double eta = 1.0 / eig.eigenvalues().maxCoeff();
  double previous = 1e300;
  for (const Index steps : {5, 40, 400}) {
    attrib::logistic_regression walker = model;  // gradient descent from the optimum stays there
    const auto tr = train_sgd(walker, p.x, p.y, {.learning_rate = eta, .batch_size = p.x.rows(), .epochs = steps});
    const auto s = attrib::source(model, tr, p.x, p.y, p.test_x, p.test_y, {.segments = 1, .checkpoints_per_segment = 3});
    // Closed form with constant H and gradients, from the eigendecomposition written here.
    const vector f = (1.0 - (-eta * static_cast<double>(steps) * eig.eigenvalues().array()).exp()) / eig.eigenvalues().array();
    const matrix factor = eig.eigenvectors() * f.asDiagonal() * eig.eigenvectors().transpose();
    const matrix closed = g_train * factor * g_test.transpose() / n;
    CHECK((s.scores - closed).cwiseAbs().maxCoeff() < 1e-10 * closed.cwiseAbs().maxCoeff());
    const double error = (s.scores - limit).norm() / limit.norm();
    MESSAGE("eta K lambda_min = " << eta * static_cast<double>(steps) * eig.eigenvalues().minCoeff()
                                  << ": ||SOURCE - (-influence / N)|| / ||-influence / N|| = " << error);
    CHECK(error < previous);
    previous = error;
  }
  CHECK(previous < 1e-10);
}

TEST_CASE("SOURCE with one segment per full-batch step on linear regression equals the exact unrolled answer") {
  const problem p = make_problem(20, 4, 3, false, 12);
  constexpr double l2 = 0.05, eta = 0.15;
  constexpr Index steps = 25;
  attrib::linear_regression model(3);
  model.set_l2(l2);
  attrib::linear_regression trained = model;
  const auto tr = train_sgd(trained, p.x, p.y, {.learning_rate = eta, .batch_size = 20, .epochs = steps});
  REQUIRE(tr.steps() == steps);
  // H = [X 1]^T [X 1] / n + l2 on the weights, written out; u <- (I - eta H) u + (eta / n) g_j(theta_t).
  const Index d = 3;
  const double n = 20;
  matrix xt(20, d + 1);
  xt.leftCols(d) = p.x;
  xt.col(d).setOnes();
  matrix h = xt.transpose() * xt / n;
  h.topLeftCorner(d, d).diagonal().array() += l2;
  const vector g_test = test_loss_gradient(tr.final_parameters(), p, false);
  vector unrolled(20);
  for (Index j = 0; j < 20; ++j) {
    vector u = vector::Zero(d + 1);
    for (Index t = 0; t < steps; ++t) u = u - eta * h * u + (eta / n) * example_gradient(tr.at(t), p, j, false);
    unrolled[j] = g_test.dot(u);
  }
  const double scale = unrolled.cwiseAbs().maxCoeff();
  const auto discrete = attrib::source(model, tr, p.x, p.y, p.test_x, p.test_y,
                                       {.segments = steps, .unroll = attrib::source_unroll::discrete, .threads = 2});
  const double gap = (mean_over_tests(discrete) - unrolled).cwiseAbs().maxCoeff();
  const auto exponential = attrib::source(model, tr, p.x, p.y, p.test_x, p.test_y, {.segments = steps});
  const auto one = attrib::source(model, tr, p.x, p.y, p.test_x, p.test_y, {.segments = 1, .unroll = attrib::source_unroll::discrete});
  const double sgd = (mean_over_tests(sgd_influence(model, tr, p.x, p.y, p.test_x, p.test_y)) - unrolled).cwiseAbs().maxCoeff();
  MESSAGE("L = T, discrete: max gap " << gap << " (largest " << scale << "); SGD-Influence gap " << sgd
                                      << "; exponential form relative gap "
                                      << (mean_over_tests(exponential) - unrolled).norm() / unrolled.norm()
                                      << "; L = 1 discrete relative gap " << (mean_over_tests(one) - unrolled).norm() / unrolled.norm());
  CHECK(gap < 1e-10 * scale);
  CHECK(sgd < 1e-10 * scale);
  // The exponential form replaces (1 - eta lambda)^K by exp(-eta K lambda): close, not equal.
  CHECK((mean_over_tests(exponential) - unrolled).norm() / unrolled.norm() > 1e-6);
  // Threads: the segments are averaged in parallel; the scores do not change.
  CHECK(attrib::source(model, tr, p.x, p.y, p.test_x, p.test_y,
                       {.segments = steps, .unroll = attrib::source_unroll::discrete, .threads = 1})
            .scores == discrete.scores);
}

TEST_CASE("SOURCE on an under-trained logistic regression tracks counterfactual SGD at least as well as the influence function") {
  const problem p = make_problem(40, 20, 3, true, 13);
  constexpr double l2 = 0.01;
  attrib::logistic_regression model(3, 1);
  model.set_l2(l2);
  attrib::logistic_regression trained = model;
  const auto tr = train_sgd(trained, p.x, p.y, {.learning_rate = 0.05, .batch_size = 4, .epochs = 3, .seed = 14});
  const vector actual = actual_loss_changes(p, l2, tr, true);
  const vector source = mean_over_tests(attrib::source(model, tr, p.x, p.y, p.test_x, p.test_y, {.segments = 3}));
  // The influence function at the final (not converged) parameters, as leave-one-out predictions.
  const matrix h = trained.hessian(p.x, p.y);
  const vector influence = mean_over_tests(
      {"", attrib::loo_loss_change(attrib::influence(attrib::explicit_inverse_hessian(h),
                                                     trained.per_example_loss_gradients(p.x, p.y),
                                                     trained.per_example_loss_gradients(p.test_x, p.test_y)),
                                   p.x.rows()),
       {}});
  const double r_source = attrib::pearson(source, actual), r_influence = attrib::pearson(influence, actual);
  MESSAGE("gradient norm at theta_T " << trained.loss_gradient(p.x, p.y).norm() << "; Pearson with counterfactual SGD: SOURCE "
                                      << r_source << ", influence function " << r_influence << "; Spearman: SOURCE "
                                      << attrib::spearman(source, actual) << ", influence "
                                      << attrib::spearman(influence, actual));
  CHECK(r_source >= r_influence);
  CHECK(r_source > 0.5);
}

TEST_CASE("trajectory attribution: bad input is rejected with messages that name the argument") {
  const problem p = make_problem(10, 2, 2, true, 15);
  attrib::logistic_regression model(2, 1);
  attrib::logistic_regression trained = model;
  const auto tr = train_sgd(trained, p.x, p.y, {.learning_rate = 0.1, .batch_size = 5, .epochs = 2});
  REQUIRE(tr.steps() == 4);
  const auto contains = [](const std::string& message, const std::string& part) {
    INFO(message);
    CHECK(message.find(part) != std::string::npos);
  };
  // The trainer.
  contains(error_of([&] { train_sgd(trained, p.x, p.y, {.batch_size = 0}); }), "batch_size must be >= 1");
  contains(error_of([&] { train_sgd(trained, p.x, p.y, {.learning_rate = std::nan("")}); }), "learning_rate must be finite");
  contains(error_of([&] { train_sgd(trained, p.x, p.y, {.epochs = 0}); }), "epochs must be >= 1");
  contains(error_of([&] { train_sgd(trained, p.x, p.y.head(3), {}); }), "train_sgd: y has size 3, expected 10");
  contains(error_of([&] { train_sgd(trained, p.x, p.y, {.epochs = Index{1} << 40}); }), "too large to record");
  // SOURCE's segments.
  contains(error_of([&] { attrib::source(model, tr, p.x, p.y, p.test_x, p.test_y, {.segments = 5}); }),
           "segments is 5, expected between 1 and the trajectory's steps (4)");
  contains(error_of([&] { attrib::source(model, tr, p.x, p.y, p.test_x, p.test_y, {.segments = 0}); }), "segments is 0");
  contains(error_of([&] { attrib::source(model, tr, p.x, p.y, p.test_x, p.test_y, {.checkpoints_per_segment = -1}); }),
           "checkpoints_per_segment must be >= 0");
  // SGD-Influence.
  contains(error_of([&] { sgd_influence_parameter_change(model, tr, p.x, p.y, 10); }),
           "removed is 10, expected a training row in [0, 10)");
  contains(error_of([&] { sgd_influence(model, tr, p.x, p.y, p.test_x.leftCols(1), p.test_y); }),
           "test_x has 1 columns, expected the model's 2");
  contains(error_of([&] { sgd_influence(model, tr, p.x, p.y, p.test_x, p.test_y.head(1)); }), "test_y has size 1");
  matrix bad = p.x;
  bad(3, 1) = std::nan("");
  contains(error_of([&] { sgd_influence(model, tr, bad, p.y, p.test_x, p.test_y); }), "train_x must be finite");
  // A trajectory that does not fit the model or the data.
  attrib::logistic_regression wider(3, 1);
  contains(error_of([&] { attrib::source(wider, tr, matrix::Zero(10, 3), p.y, matrix::Zero(2, 3), p.test_y); }),
           "expected (steps + 1) x parameter_count = 5 x 4");
  contains(error_of([&] { sgd_influence(model, tr, p.x.topRows(8), p.y.head(8), p.test_x, p.test_y); }),
           "recorded on 10 training rows, but train_x has 8");
  attrib::sgd_trajectory broken = tr;
  broken.batches[1].push_back(12);
  contains(error_of([&] { sgd_influence(model, broken, p.x, p.y, p.test_x, p.test_y); }),
           "batch 1 names row 12, expected a row in [0, 10)");
  broken = tr;
  broken.learning_rates[2] = -1.0;
  contains(error_of([&] { attrib::source(model, broken, p.x, p.y, p.test_x, p.test_y); }), "learning_rates[2] is -1");
  broken = tr;
  broken.batches.clear();
  broken.learning_rates.clear();
  broken.parameters = broken.parameters.topRows(1);
  contains(error_of([&] { sgd_influence(model, broken, p.x, p.y, p.test_x, p.test_y); }), "the trajectory has no steps");
  CHECK_THROWS_AS(attrib::source(model, broken, p.x, p.y, p.test_x, p.test_y), attrib::invalid_argument);
}
