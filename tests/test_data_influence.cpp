// Gradient-based data attribution: inverse-Hessian solvers against the explicit solve, TRAK's
// projection, metrics on hand-computed cases, the influence targets on real data, and bad input.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <type_traits>
#include <vector>

#include "attrib/io/csv.hpp"
#include "attrib/io/train_test_split.hpp"
#include "attrib/methods/data/evaluation.hpp"
#include "attrib/methods/data/grad_similarity.hpp"
#include "attrib/methods/data/group_attribution.hpp"
#include "attrib/methods/data/influence.hpp"
#include "attrib/methods/data/tracin.hpp"
#include "attrib/methods/data/trak.hpp"
#include "attrib/models/logistic_regression.hpp"
#include "attrib/models/mlp.hpp"
#include "attrib/solvers/arnoldi.hpp"
#include "attrib/solvers/conjugate_gradient.hpp"
#include "attrib/solvers/ekfac.hpp"
#include "attrib/solvers/lissa.hpp"
#include "attrib/solvers/model_hessian.hpp"

#include "cancer_problem.hpp"

namespace {

using attrib_tests::cancer;
using attrib_tests::error_of;
using attrib::matrix;
using attrib::vector;
using Idx = Eigen::Index;

double relative_error(const vector& a, const vector& b) { return (a - b).norm() / b.norm(); }

double actual_residual(const matrix& h, double damping, const vector& x, const vector& v) {
  return (h * x + damping * x - v).norm() / v.norm();
}

}  // namespace

TEST_CASE("inverse-Hessian solvers agree with the explicit solve and report their true residual") {
  const auto& c = cancer();
  const matrix h = c.model.hessian(c.x, c.y);
  const attrib::explicit_inverse_hessian exact(h);
  CHECK(exact.message().empty());
  const attrib::model_hessian<attrib::logistic_regression> op(c.model, c.x, c.y);
  const vector v = c.model.per_example_loss_gradients(c.test_x.topRows(1), c.test_y.head(1)).row(0).transpose();
  const vector x0 = exact.solve(v).solution;
  CHECK(exact.solve(v).diagnostics.relative_residual < 1e-12);

  SUBCASE("conjugate gradient") {
    const auto r = attrib::conjugate_gradient_inverse_hessian(op, {.tolerance = 1e-12}).solve(v);
    CHECK(relative_error(r.solution, x0) < 1e-9);
    CHECK(r.diagnostics.relative_residual == doctest::Approx(actual_residual(h, 0, r.solution, v)).epsilon(1e-6));
    CHECK(r.diagnostics.iterations <= 2 * h.rows());
  }
  SUBCASE("LiSSA, full batch and minibatch") {
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(h, Eigen::EigenvaluesOnly);
    const double top = eig.eigenvalues().maxCoeff();
    const auto full = attrib::lissa_inverse_hessian(op, {.depth = 400, .scale = 1.1 * top}).solve(v);
    CHECK(relative_error(full.solution, x0) < 1e-6);
    const auto batch =
        attrib::lissa_inverse_hessian(op, {.depth = 300, .scale = 1.1 * top, .batch_size = 64, .seed = 3}).solve(v);
    CHECK(batch.diagnostics.relative_residual ==
          doctest::Approx(actual_residual(h, 0, batch.solution, v)).epsilon(1e-6));
    CHECK(relative_error(batch.solution, x0) < 0.5);  // stochastic: close, not exact
    // Seeded: the same seed gives the same minibatches.
    const auto again =
        attrib::lissa_inverse_hessian(op, {.depth = 300, .scale = 1.1 * top, .batch_size = 64, .seed = 3}).solve(v);
    CHECK(again.solution == batch.solution);
  }
  SUBCASE("Arnoldi: full rank is exact, truncation shows in coverage and residual") {
    const attrib::arnoldi_inverse_hessian full(op, {.iterations = 31, .top_k = 31, .trace_probes = 31});
    const auto r = full.solve(v);
    CHECK(relative_error(r.solution, x0) < 1e-8);
    CHECK(r.diagnostics.spectrum_coverage == doctest::Approx(1.0).epsilon(1e-9));
    const attrib::arnoldi_inverse_hessian low(op, {.iterations = 20, .top_k = 5, .trace_probes = 31, .seed = 2});
    const auto rl = low.solve(v);
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> all(h, Eigen::EigenvaluesOnly);
    // trace_probes >= dim: the trace is exact, so the coverage is the exact top-5 share.
    CHECK(rl.diagnostics.spectrum_coverage ==
          doctest::Approx(all.eigenvalues().tail(5).sum() / h.trace()).epsilon(1e-6));
    CHECK(rl.diagnostics.spectrum_coverage < 1.0);
    CHECK(rl.diagnostics.relative_residual ==
          doctest::Approx(actual_residual(h, 0, rl.solution, v)).epsilon(1e-6));
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(h, Eigen::EigenvaluesOnly);
    CHECK(low.eigenvalues()[0] == doctest::Approx(eig.eigenvalues().maxCoeff()).epsilon(1e-8));
  }
}

TEST_CASE("EK-FAC runs on any layered model: logistic regression agrees with the same model written as an mlp") {
  const auto& c = cancer();
  static_assert(attrib::layered_model<attrib::logistic_regression>);
  // The trained logistic regression as a one-layer mlp with a sigmoid head: the same function,
  // loss and parameter layout.
  attrib::mlp same({{c.model.weight(), c.model.bias(), attrib::activation::identity}},
                   attrib::output_head::sigmoid);
  same.set_standardizer(c.model.input_standardizer());
  same.set_l2(c.model.l2());
  REQUIRE(same.loss(c.x, c.y) == doctest::Approx(c.model.loss(c.x, c.y)).epsilon(1e-12));
  for (const bool corrected : {true, false}) {
    const attrib::ekfac_inverse_hessian as_logistic(c.model, c.x, c.y, {.damping = 0.01, .eigenvalue_correction = corrected});
    const attrib::ekfac_inverse_hessian as_mlp(same, c.x, c.y, {.damping = 0.01, .eigenvalue_correction = corrected});
    const vector v = c.model.per_example_loss_gradients(c.test_x.topRows(1), c.test_y.head(1)).row(0).transpose();
    const auto a = as_logistic.solve(v);
    const auto b = as_mlp.solve(v);
    CHECK(relative_error(a.solution, b.solution) < 1e-10);
    CHECK(std::isfinite(a.diagnostics.relative_residual));
    CHECK(a.diagnostics.relative_residual == doctest::Approx(b.diagnostics.relative_residual).epsilon(1e-8));
  }
  // And EK-FAC is exact on one training example, as for the mlp below.
  const matrix x1 = c.x.topRows(1);
  const vector y1 = c.y.head(1);
  const attrib::ekfac_inverse_hessian one(c.model, x1, y1, {.damping = 0.1});
  const vector g = c.model.per_example_loss_gradients(x1, y1).row(0).transpose();
  matrix fisher = g * g.transpose();
  fisher.diagonal().array() += c.model.l2() + 0.1;
  const vector v = c.model.per_example_loss_gradients(c.x.row(7), c.y.segment(7, 1)).row(0).transpose();
  CHECK(relative_error(one.solve(v).solution, vector(fisher.ldlt().solve(v))) < 1e-10);
}

TEST_CASE("EK-FAC is exact where its assumptions hold and reports its residual against the exact Hessian") {
  // One layer and one training example: the Fisher g g^T is diagonal in the Kronecker eigenbasis,
  // so the eigenvalue-corrected factorisation is exact: (g g^T + (l2 + damping) I)^-1 v.
  const auto& c = cancer();
  attrib::mlp one({{30, 3, attrib::activation::identity}}, attrib::output_head::softmax, 5);
  one.set_standardizer(c.model.input_standardizer());
  one.set_l2(0.05);
  const matrix x1 = c.x.topRows(1);
  const vector y1 = c.y.head(1);
  const double damping = 0.1;
  const attrib::ekfac_inverse_hessian ek(one, x1, y1, {.damping = damping});
  const vector g = one.per_example_loss_gradients(x1, y1).row(0).transpose();
  matrix fisher = g * g.transpose();
  fisher.diagonal().array() += 0.05 + damping;
  const vector v = one.per_example_loss_gradients(c.x.row(7), c.y.segment(7, 1)).row(0).transpose();
  const auto r = ek.solve(v);
  CHECK(relative_error(r.solution, vector(fisher.ldlt().solve(v))) < 1e-10);
  const matrix h = one.hessian(x1, y1);
  CHECK(r.diagnostics.relative_residual == doctest::Approx(actual_residual(h, damping, r.solution, v)).epsilon(1e-6));

  // A two-layer network on many points: per layer, EK-FAC's eigenvalues are the best diagonal in
  // the Kronecker eigenbasis, so its Fisher approximation is at least as close (Frobenius) to the
  // layer-block-diagonal empirical Fisher as K-FAC's. The approximation is recovered from solves.
  attrib::mlp net({{30, 6, attrib::activation::tanh}, {6, 2, attrib::activation::identity}},
                  attrib::output_head::softmax, 5);
  net.set_standardizer(c.model.input_standardizer());
  net.train(c.x, c.y, {.learning_rate = 1e-2, .epochs = 20, .l2 = 1e-3});
  const matrix grads = net.per_example_loss_gradients(c.x, c.y);
  matrix block_fisher = grads.transpose() * grads / static_cast<double>(grads.rows());
  const Idx first_layer = 30 * 6 + 6;
  block_fisher.topRightCorner(first_layer, block_fisher.cols() - first_layer).setZero();
  block_fisher.bottomLeftCorner(block_fisher.rows() - first_layer, first_layer).setZero();
  auto implied_fisher = [&](const attrib::ekfac_inverse_hessian<>& s) {
    const Idx p = s.dim();
    matrix inverse(p, p);
    for (Idx j = 0; j < p; ++j) inverse.col(j) = s.solve(vector::Unit(p, j)).solution;
    matrix f = inverse.inverse();
    f.diagonal().array() -= 1e-3 + 0.05;
    return f;
  };
  const double ekfac_error =
      (implied_fisher(attrib::ekfac_inverse_hessian(net, c.x, c.y, {.damping = 0.05})) - block_fisher).norm();
  const double kfac_error = (implied_fisher(attrib::ekfac_inverse_hessian(
                                 net, c.x, c.y, {.damping = 0.05, .eigenvalue_correction = false})) -
                             block_fisher)
                                .norm();
  MESSAGE("Fisher approximation error: EK-FAC " << ekfac_error << ", K-FAC " << kfac_error);
  CHECK(ekfac_error <= kfac_error);
}

TEST_CASE("TRAK projection: block-wise, identical on 1 and 2 threads, equal to the materialised P") {
  attrib::rng gen(4);
  matrix g(7, 50);
  for (Idx i = 0; i < g.size(); ++i) g.data()[i] = gen.normal();
  for (auto kind : {attrib::projection_kind::gaussian, attrib::projection_kind::rademacher}) {
    const attrib::random_projection p(50, 37, 99, kind, 8);
    const matrix one = p.project(g, 1);
    const matrix two = p.project(g, 2);
    CHECK(one == two);
    const Eigen::MatrixXd full = p.materialize();
    CHECK((one - g * full).cwiseAbs().maxCoeff() < 1e-12);
    // Block b is rng::stream(seed, b), column by column, scaled by 1 / sqrt(k).
    attrib::rng s = attrib::rng::stream(99, 1);
    const double first = kind == attrib::projection_kind::gaussian ? s.normal() : s.rademacher();
    CHECK(full(0, 8) == (1.0 / std::sqrt(37.0)) * first);
  }
  // Other seeds give other matrices; inner products are preserved in expectation.
  CHECK(attrib::random_projection(50, 37, 98).materialize() != attrib::random_projection(50, 37, 99).materialize());
}

TEST_CASE("TRAK on an MLP: margin gradients match finite differences; subset members need only a retrainer") {
  const auto& c = cancer();
  const matrix x = c.x.topRows(6);
  const vector y = c.y.head(6);
  // The margin from the logits, written out independently of margin_gradients.
  auto margins = [&](const attrib::mlp& net) {
    const matrix s = net.logits(x);
    vector m(x.rows());
    for (Idx i = 0; i < x.rows(); ++i) {
      const auto label = static_cast<Idx>(y(i));
      if (s.cols() == 1) {
        m(i) = label == 1 ? s(i, 0) : -s(i, 0);
        continue;
      }
      double others = 0.0;
      for (Idx k = 0; k < s.cols(); ++k)
        if (k != label) others += std::exp(s(i, k));
      m(i) = s(i, label) - std::log(others);
    }
    return m;
  };
  for (const auto head : {attrib::output_head::softmax, attrib::output_head::sigmoid}) {
    const Idx outputs = head == attrib::output_head::softmax ? 2 : 1;
    attrib::mlp net({{30, 4, attrib::activation::tanh}, {4, outputs, attrib::activation::identity}}, head, 3);
    net.set_standardizer(c.model.input_standardizer());
    const matrix g = attrib::margin_gradients(net, x, y);
    REQUIRE(g.rows() == x.rows());
    REQUIRE(g.cols() == net.parameter_count());
    const vector theta = net.parameters();
    const double h = 1e-6;
    for (Idx j = 0; j < theta.size(); j += 7) {
      attrib::mlp plus = net, minus = net;
      plus.set_parameters(theta + h * vector::Unit(theta.size(), j));
      minus.set_parameters(theta - h * vector::Unit(theta.size(), j));
      const vector numeric = (margins(plus) - margins(minus)) / (2 * h);
      CHECK((numeric - g.col(j)).cwiseAbs().maxCoeff() < 1e-6 * std::max(1.0, numeric.cwiseAbs().maxCoeff()));
    }
    // The probability of the label, against the model's own head.
    const matrix p = net.predict(x);
    const vector correct = attrib::correct_class_probability(net, x, y);
    for (Idx i = 0; i < x.rows(); ++i) {
      const double expected = outputs == 1 ? (y(i) == 1 ? p(i, 0) : 1 - p(i, 0)) : p(i, static_cast<Idx>(y(i)));
      CHECK(correct(i) == doctest::Approx(expected).epsilon(1e-12));
    }
  }
  // Subset-trained members of an MLP: the retrainer is the only model-specific part, and the
  // scores do not depend on the thread count.
  attrib::mlp net({{30, 3, attrib::activation::tanh}, {3, 2, attrib::activation::identity}},
                  attrib::output_head::softmax, 1);
  net.set_standardizer(c.model.input_standardizer());
  const auto retrain = [](attrib::mlp& m, const matrix& xs, const vector& ys) {
    m.train(xs, ys, {.learning_rate = 1e-2, .epochs = 3, .seed = 5});
  };
  const matrix train_x = c.x.topRows(40);
  const vector train_y = c.y.head(40);
  const auto one = attrib::trak_subset_members(net, retrain, train_x, train_y, x, y, 3, 0.5, 11, 1);
  const auto two = attrib::trak_subset_members(net, retrain, train_x, train_y, x, y, 3, 0.5, 11, 2);
  const auto scores = attrib::trak(one, {.projection_dim = 32}).scores;
  CHECK(scores == attrib::trak(two, {.projection_dim = 32}).scores);
  CHECK(scores.rows() == 40);
  CHECK(scores.cols() == 6);
  CHECK(scores.allFinite());
  CHECK(scores.cwiseAbs().maxCoeff() > 0.0);
}

// The identity transform with a counter, with and without the keeps_train_rows promise.
template <bool Keeps>
struct counting_identity {
  static constexpr bool keeps_train_rows = Keeps;
  int* train_calls;
  attrib::transformed_features train(const matrix& phi) const {
    ++*train_calls;
    return {phi, {}};
  }
  attrib::transformed_features test(const matrix& phi) const { return {2.0 * phi, {}}; }
};

TEST_CASE("a transform that keeps training rows is scored on the caller's rows, with the same values") {
  static_assert(attrib::train_rows_kept<counting_identity<true>>);
  static_assert(!attrib::train_rows_kept<counting_identity<false>>);
  static_assert(attrib::train_rows_kept<attrib::identity_transform>);
  static_assert(attrib::train_rows_kept<attrib::inverse_hessian_transform<attrib::explicit_inverse_hessian>>);
  static_assert(!attrib::train_rows_kept<attrib::normalize_transform>);
  const auto& c = cancer();
  const matrix g = c.model.per_example_loss_gradients(c.x, c.y);
  const matrix gt = c.model.per_example_loss_gradients(c.test_x.topRows(3), c.test_y.head(3));
  int kept_calls = 0, copied_calls = 0;
  const counting_identity<true> kept{&kept_calls};
  const counting_identity<false> copied{&copied_calls};
  const auto a = attrib::inner_product_attribution("kept", g, gt, kept, -0.5);
  const auto b = attrib::inner_product_attribution("copied", g, gt, copied, -0.5);
  CHECK(kept_calls == 0);
  CHECK(copied_calls == 1);
  CHECK(a.scores == b.scores);
  CHECK(a.scores(4, 2) == doctest::Approx(-g.row(4).dot(gt.row(2))));
  // The two-halves form used for blocks of training rows.
  const auto test_side = attrib::transformed_test_features("kept", gt, kept);
  const matrix block =
      attrib::inner_product_scores("kept", matrix(g.middleRows(10, 7)), test_side, kept, -0.5);
  CHECK(kept_calls == 0);
  // A block's product is blocked differently from the whole one's: equal up to rounding.
  CHECK((block - a.scores.middleRows(10, 7)).cwiseAbs().maxCoeff() < 1e-12);
  CHECK(attrib::inner_product_scores("copied", matrix(g.middleRows(10, 7)), test_side, copied, -0.5) ==
        block);
  // A test side of the wrong width is refused on both paths.
  CHECK_THROWS_AS(attrib::inner_product_scores("kept", matrix(g.leftCols(5)), test_side, kept),
                  attrib::invalid_argument);
  CHECK_THROWS_AS(attrib::inner_product_scores("copied", matrix(g.leftCols(5)), test_side, copied),
                  attrib::invalid_argument);
}

TEST_CASE("Spearman, ROC-AUC and LDS on hand-computed cases") {
  vector a(4), b(4);
  a << 1, 2, 2, 3;
  b << 1, 3, 2, 4;
  CHECK(attrib::spearman(a, b) == doctest::Approx(4.5 / std::sqrt(22.5)).epsilon(1e-12));
  vector ranks(4);
  ranks << 1, 2.5, 2.5, 4;
  CHECK(attrib::average_ranks(a) == ranks);
  vector scores(4), labels(4);
  scores << 0.9, 0.8, 0.8, 0.3;
  labels << 1, 0, 1, 0;
  CHECK(attrib::roc_auc(scores, labels) == doctest::Approx(0.875).epsilon(1e-12));
  // LDS: two training points, three subsets; predicted = mask * score is an increasing function of the output.
  matrix masks(3, 2), out(3, 1), s(2, 1);
  masks << 1, 0, 0, 1, 1, 1;
  s << 1, 2;
  out << 0.1, 0.2, 0.5;
  CHECK(attrib::linear_datamodeling_score(s, masks, out).mean == doctest::Approx(1.0));
  const auto flipped = attrib::flip_labels(vector::Zero(100), 3, 0.1, 7);
  CHECK(flipped.flipped.sum() == 10);
  CHECK(((flipped.labels.array() != 0).cast<double>() == flipped.flipped.array()).all());
}

TEST_CASE("indefinite or singular Hessians are damped with a message saying so") {
  matrix h = matrix::Zero(3, 3);
  h.diagonal() << 2, -1, 1;
  const attrib::explicit_inverse_hessian ih(h);
  CHECK(ih.message().find("indefinite") != std::string::npos);
  CHECK(ih.damping() > 1.0);
  const auto r = ih.solve(vector::Ones(3));
  CHECK(r.diagnostics.message == ih.message());
  CHECK(r.diagnostics.damping == ih.damping());
  CHECK(error_of([&] { attrib::explicit_inverse_hessian(h, {.auto_damping = false}); }).find("indefinite") !=
        std::string::npos);
  matrix singular = matrix::Zero(2, 2);
  singular(0, 0) = 1;
  CHECK(attrib::explicit_inverse_hessian(singular).message().find("singular") != std::string::npos);
  const attrib::dense_hessian dense{h};
  const auto cg = attrib::conjugate_gradient_inverse_hessian(dense).solve(vector::Ones(3));
  CHECK(cg.diagnostics.message.find("non-positive curvature") != std::string::npos);
}

TEST_CASE("influence tracks exact leave-one-out retraining on breast cancer (l2 = 0.1)") {
  const auto& c = cancer();
  const Idx tests = 3;
  const matrix tx = c.test_x.topRows(tests);
  const vector ty = c.test_y.head(tests);
  const attrib::explicit_inverse_hessian ih(c.model.hessian(c.x, c.y));
  const matrix g = c.model.per_example_loss_gradients(c.x, c.y);
  const matrix gt = c.model.per_example_loss_gradients(tx, ty);
  const matrix loo = attrib::exact_loo(c.model, c.x, c.y, tx, ty, 2);
  const auto ci = attrib::pooled_correlation(
      attrib::loo_loss_change(ih, g, gt, attrib::penalty_gradient(c.model, c.x, c.y)), loo);
  MESSAGE("influence vs LOO: Pearson " << ci.pearson << ", Spearman " << ci.spearman);
  CHECK(ci.pearson >= 0.97);
  CHECK(ci.spearman >= 0.99);
  // Sign convention: I_up,loss = -g_test^T H^-1 g_i, so removal changes the loss by about -I / n.
  const auto inf = attrib::influence(ih, g, gt);
  CHECK(attrib::pearson(Eigen::Map<const vector>(inf.scores.data(), inf.scores.size()),
                        Eigen::Map<const vector>(loo.data(), loo.size())) < -0.9);
  const matrix steps = attrib::newton_step_loo(c.model, c.x, c.y, 2);
  const vector base = attrib::example_losses(c.model, tx, ty);
  matrix newton(steps.rows(), tests);
  for (Idx i = 0; i < steps.rows(); ++i) {
    auto m = c.model;
    m.set_parameters(c.model.parameters() + steps.row(i).transpose());
    newton.row(i) = (attrib::example_losses(m, tx, ty) - base).transpose();
  }
  const auto cn = attrib::pooled_correlation(newton, loo);
  MESSAGE("Newton step vs LOO: Pearson " << cn.pearson);
  CHECK(cn.pearson >= 0.999);
  // Row blocks (what processes compute for their shards) stack into the whole matrices, bit for
  // bit; ranges outside the points are named.
  const attrib::newton_loo_steps<std::decay_t<decltype(c.model)>> stepper(c.model, c.x, c.y);
  const Idx n = c.x.rows(), cut = n / 3;
  matrix stacked(n, steps.cols());
  stacked << stepper.rows(0, cut, 1), stepper.rows(cut, n, 2);
  CHECK((stacked - steps).cwiseAbs().maxCoeff() == 0.0);
  const matrix middle = attrib::exact_loo_rows(c.model, c.x, c.y, tx, ty, cut, cut + 7, 1);
  CHECK((middle - loo.middleRows(cut, 7)).cwiseAbs().maxCoeff() == 0.0);
  CHECK(attrib::exact_loo_rows(c.model, c.x, c.y, tx, ty, 4, 4).rows() == 0);
  CHECK_THROWS_WITH(attrib::exact_loo_rows(c.model, c.x, c.y, tx, ty, 5, n + 1),
                    doctest::Contains("are not a range of the"));
  CHECK_THROWS_WITH(stepper.rows(3, 2), doctest::Contains("rows [3, 2) are not a range"));
}

TEST_CASE("Grad-Dot, Grad-Cos, TracIn and group attribution compose from the same pieces") {
  const auto& c = cancer();
  const matrix g = c.model.per_example_loss_gradients(c.x, c.y);
  const matrix gt = c.model.per_example_loss_gradients(c.test_x.topRows(2), c.test_y.head(2));
  const auto dot = attrib::grad_dot(g, gt);
  CHECK(dot.scores(3, 1) == doctest::Approx(g.row(3).dot(gt.row(1))));
  const auto cosine = attrib::grad_cos(g, gt);
  CHECK(cosine.scores(3, 1) == doctest::Approx(g.row(3).dot(gt.row(1)) / (g.row(3).norm() * gt.row(1).norm())));
  const auto tr = attrib::tracin(std::vector{c.model, c.model}, {0.5, 1.5}, c.x, c.y, c.test_x.topRows(2),
                                 c.test_y.head(2));
  CHECK((tr.scores - 2.0 * dot.scores).cwiseAbs().maxCoeff() < 1e-10);
  // Group influence from summed gradients equals the sum of the members' influences (linearity).
  const auto clusters = attrib::kmeans(c.model.input_standardizer().transform(c.x), 8, 3);
  CHECK(clusters.assignment == attrib::kmeans(c.model.input_standardizer().transform(c.x), 8, 3).assignment);
  const attrib::explicit_inverse_hessian ih(c.model.hessian(c.x, c.y));
  const auto groups = attrib::influence(ih, attrib::group_gradients(g, clusters.assignment, 8), gt);
  const auto points = attrib::influence(ih, g, gt);
  vector summed = vector::Zero(8);
  for (Idx i = 0; i < g.rows(); ++i) summed[clusters.assignment[static_cast<std::size_t>(i)]] += points.scores(i, 0);
  CHECK((groups.scores.col(0) - summed).cwiseAbs().maxCoeff() < 1e-9);
}

TEST_CASE("digits: noisy-label AUC of self-influence and LDS ordering on a small real configuration") {
  std::filesystem::path path = ATTRIB_DATA_DIR "/digits/digits.csv";
  if (!std::filesystem::exists(path)) path = "/tmp/digits.csv";
  if (!std::filesystem::exists(path)) {
    MESSAGE("digits.csv not found; skipped");
    return;
  }
  attrib::labelled_dataset d;
  try {
    d = attrib::read_sklearn_csv(path);
  } catch (const attrib::format_error&) {
    const auto t = attrib::read_csv(path);
    d.features = t.values.leftCols(64);
    d.labels = t.values.col(64);
  }
  const Idx n = 400;
  const matrix x = d.features.topRows(n);
  const matrix tx = d.features.middleRows(n, 5);
  const vector ty = d.labels.segment(n, 5);
  const auto flipped = attrib::flip_labels(d.labels.head(n), 10, 0.1, 5);
  attrib::logistic_regression m(64, 10);
  m.set_standardizer(attrib::standardizer::fit(x));
  m.train(x, flipped.labels, {.l2 = 1e-2});
  const attrib::explicit_inverse_hessian ih(m.hessian(x, flipped.labels));
  CHECK(ih.message().find("singular") != std::string::npos);  // the softmax bias shift
  const vector self = attrib::self_influence(ih, m.per_example_loss_gradients(x, flipped.labels));
  const double auc = attrib::roc_auc(self, flipped.flipped);
  MESSAGE("noisy-label AUC of self-influence: " << auc);
  CHECK(auc >= 0.95);

  // LDS on clean labels: influence beats Grad-Dot.
  const vector y = d.labels.head(n);
  m.train(x, y, {.l2 = 1e-2});
  const matrix masks = attrib::random_subset_masks(n, 12, 0.5, 1);
  const matrix out = attrib::subset_outputs(
      m, x, y, masks, tx, ty,
      [](const attrib::logistic_regression& model, const matrix& a, const vector& b) {
        return vector(-attrib::example_losses(model, a, b));
      },
      2);
  const matrix g = m.per_example_loss_gradients(x, y);
  const matrix gt = m.per_example_loss_gradients(tx, ty);
  const double lds_if =
      attrib::linear_datamodeling_score(-attrib::influence(attrib::explicit_inverse_hessian(m.hessian(x, y)), g, gt).scores,
                                        masks, out)
          .mean;
  const double lds_dot = attrib::linear_datamodeling_score(attrib::grad_dot(g, gt).scores, masks, out).mean;
  MESSAGE("LDS influence " << lds_if << ", Grad-Dot " << lds_dot);
  CHECK(lds_if > lds_dot);
  CHECK(lds_if > 0.3);
}

TEST_CASE("bad input is rejected with attrib::invalid_argument naming the problem") {
  const auto& c = cancer();
  const attrib::explicit_inverse_hessian ih(c.model.hessian(c.x, c.y));
  const matrix g = c.model.per_example_loss_gradients(c.x.topRows(4), c.y.head(4));
  CHECK(error_of([&] { attrib::influence(ih, matrix(0, 31), g); }).find("training set must not be empty") !=
        std::string::npos);
  CHECK(error_of([&] { attrib::influence(ih, matrix::Zero(4, 5), g); }).find("columns") != std::string::npos);
  matrix bad = g;
  bad(1, 2) = std::nan("");
  CHECK(error_of([&] { attrib::grad_dot(bad, g); }).find("must be finite") != std::string::npos);
  vector labels = c.y.head(4);
  labels[2] = 3;
  CHECK(error_of([&] { attrib::margin_gradients(c.model, c.x.topRows(4), labels); }).find("labels[2]") !=
        std::string::npos);
  CHECK(error_of([&] { attrib::flip_labels(labels, 2, 0.1, 1); }).find("labels[2]") != std::string::npos);
  CHECK(error_of([&] { ih.solve(vector::Ones(3)); }).find("right-hand side") != std::string::npos);
  CHECK(error_of([&] { attrib::model_hessian<attrib::logistic_regression>(c.model, matrix(0, 30), vector()); })
            .find("empty") != std::string::npos);
  CHECK(error_of([&] { attrib::trak({}, {}); }).find("at least one") != std::string::npos);
  // A solver that diverged: its NaN solution is reported, not turned into scores.
  struct diverging_solver {
    Idx dim() const { return 31; }
    attrib::ihvp_result solve(const vector& v) const {
      attrib::ihvp_result r;
      r.solution = vector::Constant(v.size(), std::nan(""));
      r.diagnostics.method = "diverging";
      return r;
    }
  };
  CHECK(error_of([&] { attrib::influence(diverging_solver{}, g, g); }).find("test features of row 0 are not finite") !=
        std::string::npos);
  // A transform that loses rows is caught before the product.
  struct dropping_transform {
    attrib::transformed_features train(const matrix& phi) const { return {phi.topRows(1), {}}; }
    attrib::transformed_features test(const matrix& phi) const { return {phi, {}}; }
  };
  CHECK(error_of([&] { attrib::inner_product_attribution("dropping", g, g, dropping_transform{}); })
            .find("expected one row per example") != std::string::npos);
  CHECK(error_of([&] { attrib::random_subset_masks(10, 3, 0.01, 1); }).find("alpha") != std::string::npos);
  CHECK(error_of([&] { attrib::spearman(vector::Ones(3), vector::Ones(4)); }).find("size") != std::string::npos);
  CHECK(error_of([&] { attrib::tracin(std::vector{c.model}, {1.0, 2.0}, c.x, c.y, c.x, c.y); })
            .find("learning_rates") != std::string::npos);
}
