// Data games: leave-one-out, Data Shapley/Banzhaf, TMC and Beta Shapley, KNN-Shapley and
// datamodels, each checked against an independent computation.
#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

#include "attrib/games/coalition_game.hpp"
#include "attrib/games/data_game.hpp"
#include "attrib/io/csv.hpp"
#include "attrib/methods/data/datamodels.hpp"
#include "attrib/methods/data/knn_shapley.hpp"
#include "attrib/methods/data/semivalues.hpp"
#include "attrib/methods/data/training.hpp"
#include "attrib/neighborhoods/semivalue_kernel.hpp"

namespace {

using attrib::matrix;
using attrib::vector;
using Eigen::Index;

struct split {
  matrix x_train, x_valid;
  vector y_train, y_valid;
};

// Rows [0, n_train) and [n_train, n_train + n_valid) of breast cancer, first `features`
// columns, standardised with the training rows' statistics.
split breast_cancer(Index n_train, Index n_valid, Index features) {
  const auto data = attrib::read_sklearn_csv(std::string(ATTRIB_DATA_DIR) + "/breast_cancer/breast_cancer.csv");
  split s;
  s.x_train = data.features.topLeftCorner(n_train, features);
  s.y_train = data.labels.head(n_train);
  s.x_valid = data.features.block(n_train, 0, n_valid, features);
  s.y_valid = data.labels.segment(n_train, n_valid);
  const auto scaling = attrib::standardizer::fit(s.x_train);
  s.x_train = scaling.transform(s.x_train);
  s.x_valid = scaling.transform(s.x_valid);
  return s;
}

auto logistic_game(const split& s, double l2, attrib::data_game_options options = {}) {
  attrib::logistic_trainer trainer{.inputs = s.x_train.cols(), .classes = 2, .options = {.l2 = l2}};
  return attrib::data_game(s.x_train, s.y_train, s.x_valid, s.y_valid, trainer, attrib::log_likelihood{}, options);
}

double rmse(const vector& a, const vector& b) { return std::sqrt((a - b).squaredNorm() / static_cast<double>(a.size())); }

// A non-additive game on n players with interactions of every order: a concave function of a
// weighted size plus a pairwise term.
auto interaction_game(Index n) {
  return attrib::coalition_game(n, [n](std::uint64_t mask) {
    double weighted = 0.0, pairs = 0.0;
    for (Index j = 0; j < n; ++j)
      if ((mask >> j) & 1u) {
        weighted += 1.0 + 0.25 * static_cast<double>(j);
        if ((mask >> ((j + 1) % n)) & 1u) pairs += (j % 3 == 0) ? 1.0 : -0.5;
      }
    return std::sqrt(weighted) + 0.3 * pairs;
  });
}

}  // namespace

TEST_CASE("data_game: leave-one-out by occlusion equals a direct retraining loop") {
  const split s = breast_cancer(40, 30, 30);
  const double l2 = 0.1;
  const auto game = logistic_game(s, l2);
  const attrib::attribution loo = attrib::leave_one_out{}.explain(game, {.threads = 2});

  auto cold_utility = [&](const matrix& x, const vector& y) {
    attrib::logistic_regression m(x.cols(), 1);
    const auto report = m.train(x, y, {.l2 = l2});
    REQUIRE(report.converged);
    return attrib::log_likelihood{}(m, s.x_valid, s.y_valid);
  };
  const double full = cold_utility(s.x_train, s.y_train);
  CHECK(loo.prediction == doctest::Approx(full).epsilon(1e-10));
  for (Index i = 0; i < s.x_train.rows(); ++i) {
    matrix x(s.x_train.rows() - 1, s.x_train.cols());
    vector y(s.x_train.rows() - 1);
    for (Index r = 0, k = 0; r < s.x_train.rows(); ++r)
      if (r != i) x.row(k) = s.x_train.row(r), y(k++) = s.y_train(r);
    CHECK(std::abs(loo.values(i) - (full - cold_utility(x, y))) < 1e-9);
  }
  // Deterministic on any thread count.
  const attrib::attribution one = attrib::leave_one_out{}.explain(game, {.threads = 1});
  CHECK((one.values - loo.values).cwiseAbs().maxCoeff() == 0.0);
  CHECK(loo.game_evaluations == static_cast<std::size_t>(s.x_train.rows() + 2));
}

TEST_CASE("data_game: the empty coalition is the trivial predictor; strict mode names small coalitions") {
  const split s = breast_cancer(12, 10, 4);
  const auto game = logistic_game(s, 0.1, {.min_coalition_size = 3});
  matrix rows = matrix::Zero(3, 12);
  rows(1, 0) = rows(1, 1) = 1.0;  // two points: below min_coalition_size
  rows.row(2).setOnes();
  const vector v = game.values(rows);
  CHECK(v(0) == doctest::Approx(-std::log(2.0)));
  CHECK(v(1) == doctest::Approx(-std::log(2.0)));
  CHECK(v(2) != v(0));  // twelve points overfit: below the trivial predictor, but trained

  const auto strict = logistic_game(s, 0.1, {.min_coalition_size = 3, .strict = true});
  CHECK(strict.values(rows.topRows(1))(0) == doctest::Approx(-std::log(2.0)));
  CHECK_THROWS_WITH_AS(strict.values(rows.middleRows(1, 1)),
                       doctest::Contains("too small to train on; strict mode needs at least 3"),
                       attrib::invalid_argument);
  const auto accuracy_game = attrib::data_game(s.x_train, s.y_train, s.x_valid, s.y_valid,
                                               attrib::logistic_trainer{.inputs = 4}, attrib::accuracy{});
  CHECK(accuracy_game.empty_value() == 0.5);
}

TEST_CASE("Banzhaf size weights stay a distribution past the double range of the binomial") {
  // q(s) = C(n - 1, s) / 2^(n - 1). At n = 1000 it is computed exactly; beyond, in logarithms,
  // which must agree with the exact values where both apply and still sum to 1 at n = 5000.
  const attrib::banzhaf_weights w;
  const double exact = w.size_probability(1000, 480);
  const double logs = std::exp(std::lgamma(1000.0) - std::lgamma(481.0) - std::lgamma(520.0) - 999.0 * std::log(2.0));
  CHECK(exact == doctest::Approx(logs).epsilon(1e-9));
  for (const attrib::index n : {1001, 1500, 5000}) {
    const auto q = attrib::semivalue_kernel<attrib::banzhaf_weights>{}.size_distribution(n);
    double total = 0.0;
    for (double p : q) total += p;
    CHECK(total == doctest::Approx(1.0).epsilon(1e-9));
    CHECK(q[static_cast<std::size_t>(n / 3)] == doctest::Approx(q[static_cast<std::size_t>(n - 1 - n / 3)]).epsilon(1e-9));
  }
}

TEST_CASE("data_game: exact Data Shapley and Banzhaf, the semivalue enumeration, and MSR agree") {
  const split s = breast_cancer(8, 20, 5);
  const auto game = logistic_game(s, 0.5);
  const auto shapley = attrib::exact_shapley{}.explain(game, {.threads = 2});
  const auto banzhaf = attrib::exact_banzhaf{}.explain(game, {.threads = 2});
  const auto shapley_semi = attrib::exact_semivalue<attrib::shapley_weights>{}.explain(game);
  const auto banzhaf_semi = attrib::exact_semivalue<attrib::banzhaf_weights>{}.explain(game);
  CHECK((shapley.values - shapley_semi.values).cwiseAbs().maxCoeff() < 1e-12);
  CHECK((banzhaf.values - banzhaf_semi.values).cwiseAbs().maxCoeff() < 1e-12);
  CHECK(std::abs(shapley.efficiency_gap()) < 1e-12);
  CHECK(shapley.base_value == doctest::Approx(-std::log(2.0)));

  const auto msr = attrib::msr_banzhaf{.solver = {.budget = 3000}}.explain(game, {.seed = 3, .threads = 2});
  REQUIRE(msr.has_standard_errors());
  for (Index i = 0; i < 8; ++i) CHECK(std::abs(msr.values(i) - banzhaf.values(i)) < 5.0 * msr.standard_errors(i) + 1e-9);
}

TEST_CASE("exact semivalues: the enumeration equals the definition; Beta(1, 1) is Shapley") {
  const Index n = 7;
  const auto game = interaction_game(n);
  const attrib::beta_weights w{.alpha = 4.0, .beta = 2.0};
  // The definition, written independently: weight B(s + beta, n-1-s + alpha) / B(alpha, beta)
  // for each coalition S of size s not containing i.
  auto beta_fn = [](double a, double b) { return std::tgamma(a) * std::tgamma(b) / std::tgamma(a + b); };
  vector expected = vector::Zero(n);
  for (Index i = 0; i < n; ++i)
    for (std::uint64_t mask = 0; mask < (std::uint64_t{1} << n); ++mask) {
      if ((mask >> i) & 1u) continue;
      const double s = std::popcount(mask);
      const double weight = beta_fn(s + w.beta, static_cast<double>(n) - 1.0 - s + w.alpha) / beta_fn(w.alpha, w.beta);
      expected(i) += weight * (game.value(mask | (std::uint64_t{1} << i)) - game.value(mask));
    }
  const auto exact = attrib::exact_semivalue<attrib::beta_weights>{.neighborhood = {.weights = w}}.explain(game);
  CHECK((exact.values - expected).cwiseAbs().maxCoeff() < 1e-12);

  const auto uniform = attrib::exact_semivalue<attrib::beta_weights>{.neighborhood = {.weights = {1.0, 1.0}}}.explain(game);
  const auto shapley = attrib::exact_shapley{}.explain(game);
  CHECK((uniform.values - shapley.values).cwiseAbs().maxCoeff() < 1e-12);
}

TEST_CASE("Monte Carlo semivalues: errors against exact values for n = 16 fall with the budget") {
  const Index n = 16;
  const auto game = interaction_game(n);
  const vector shapley = attrib::exact_shapley{}.explain(game).values;
  const vector beta = attrib::exact_beta_shapley{}.explain(game).values;
  const vector banzhaf = attrib::exact_banzhaf{}.explain(game).values;
  const std::size_t small = 2 + 10 * (n - 1), large = 2 + 160 * (n - 1);

  // Mean over seeds of the RMSE and of the mean reported standard error.
  auto study = [&](auto method_at, const vector& exact, std::size_t budget) {
    double error = 0.0, reported = 0.0;
    const int seeds = 12;
    for (int seed = 0; seed < seeds; ++seed) {
      const attrib::attribution a = method_at(budget).explain(game, {.seed = static_cast<std::uint64_t>(seed)});
      error += rmse(a.values, exact);
      reported += a.standard_errors.mean();
      CHECK(a.game_evaluations <= budget);
    }
    return std::pair{error / seeds, reported / seeds};
  };
  auto tmc = [](std::size_t b) { return attrib::tmc_shapley{.solver = {.budget = b, .tolerance = 0.0}}; };
  auto beta_mc = [](std::size_t b) { return attrib::beta_shapley{.solver = {.budget = b}}; };
  auto msr = [](std::size_t b) { return attrib::msr_banzhaf{.solver = {.budget = b}}; };

  for (auto [name, small_err, large_err] :
       {std::tuple{"tmc_shapley", study(tmc, shapley, small), study(tmc, shapley, large)},
        std::tuple{"beta_shapley", study(beta_mc, beta, small), study(beta_mc, beta, large)},
        std::tuple{"msr_banzhaf", study(msr, banzhaf, small), study(msr, banzhaf, large)}}) {
    INFO(std::string(name), ": rmse ", small_err.first, " -> ", large_err.first, ", reported se ", small_err.second, " -> ",
         large_err.second);
    // 16x the budget: the error should shrink about 4x.
    CHECK(large_err.first < small_err.first / 2.5);
    // Reported standard errors track the actual error.
    CHECK(large_err.second > large_err.first / 2.0);
    CHECK(large_err.second < large_err.first * 2.0);
  }
}

TEST_CASE("tmc_shapley: truncation skips the coalitions past the full value; deterministic on a data game") {
  const Index n = 10;
  // Saturates at 3 players: every permutation truncates after its third player.
  const auto saturating = attrib::coalition_game(n, [](std::uint64_t m) { return std::min(std::popcount(m), 3) / 3.0; });
  const auto exact = attrib::exact_shapley{}.explain(saturating);
  const auto tmc = attrib::tmc_shapley{.solver = {.budget = 2 + 50 * (n - 1), .tolerance = 1e-9}}.explain(saturating);
  // Three evaluations a permutation instead of nine: about 3x the permutations for the budget.
  CHECK(tmc.game_evaluations <= 2 + 50 * (n - 1));
  CHECK(tmc.game_evaluations > 2 + 49 * (n - 1));
  CHECK(rmse(tmc.values, exact.values) < 0.03);
  CHECK(std::abs(tmc.efficiency_gap()) < 1e-12);

  const split s = breast_cancer(10, 20, 5);
  const auto game = logistic_game(s, 0.5);
  const attrib::tmc_shapley method{.solver = {.budget = 2 + 20 * (n - 1), .tolerance = 0.05}};
  const auto one = method.explain(game, {.seed = 7, .threads = 1});
  const auto two = method.explain(game, {.seed = 7, .threads = 2});
  CHECK((one.values - two.values).cwiseAbs().maxCoeff() == 0.0);
  CHECK(one.game_evaluations == two.game_evaluations);
}

namespace {
// Brute-force KNN utility game, written without the recursion: for each coalition, the
// min(K, |S|) members nearest each test point (ties by index), label matches / K, averaged.
struct knn_utility_game {
  matrix x_train, x_test;
  vector y_train, y_test;
  Index k = 1;
  Index player_count() const { return x_train.rows(); }
  vector values(const matrix& coalitions) const {
    vector out(coalitions.rows());
    for (Index r = 0; r < coalitions.rows(); ++r) {
      double total = 0.0;
      for (Index t = 0; t < x_test.rows(); ++t) {
        std::vector<std::pair<double, Index>> members;
        for (Index j = 0; j < x_train.rows(); ++j)
          if (coalitions(r, j) > 0.5) members.emplace_back((x_train.row(j) - x_test.row(t)).squaredNorm(), j);
        std::sort(members.begin(), members.end());
        double hits = 0.0;
        for (std::size_t m = 0; m < members.size() && static_cast<Index>(m) < k; ++m)
          hits += y_train(members[m].second) == y_test(t) ? 1.0 : 0.0;
        total += hits / static_cast<double>(k);
      }
      out(r) = total / static_cast<double>(x_test.rows());
    }
    return out;
  }
};
}  // namespace

TEST_CASE("knn_shapley equals brute-force exact Shapley of the KNN utility game to 1e-12 (n = 14)") {
  attrib::rng random(5);
  const Index n = 14, d = 3, tests = 4;
  knn_utility_game g;
  g.x_train.resize(n, d);
  g.x_test.resize(tests, d);
  g.y_train.resize(n);
  g.y_test.resize(tests);
  for (Index i = 0; i < n; ++i) {
    for (Index c = 0; c < d; ++c) g.x_train(i, c) = random.normal();
    g.y_train(i) = static_cast<double>(random.below(3));
  }
  for (Index t = 0; t < tests; ++t) {
    for (Index c = 0; c < d; ++c) g.x_test(t, c) = random.normal();
    g.y_test(t) = static_cast<double>(random.below(3));
  }
  for (Index k : {Index{1}, Index{3}, Index{5}, Index{20}}) {
    g.k = k;
    const auto brute = attrib::exact_shapley{}.explain(g, {.threads = 2});
    const auto closed = attrib::knn_shapley(g.x_train, g.y_train, g.x_test, g.y_test, k);
    INFO("K = ", k);
    CHECK((closed.values - brute.values).cwiseAbs().maxCoeff() < 1e-12);
    CHECK(closed.prediction == doctest::Approx(brute.prediction).epsilon(1e-14));
    CHECK(std::abs(closed.efficiency_gap()) < 1e-12);
  }
}

TEST_CASE("datamodels: a game linear in the mask gives back its coefficients") {
  const Index n = 20;
  attrib::rng random(11);
  vector c(n);
  for (Index j = 0; j < n; ++j) c(j) = random.normal();
  const auto linear = attrib::coalition_game(n, [c](std::uint64_t mask) {
    double v = 0.7;
    for (Index j = 0; j < c.size(); ++j)
      if ((mask >> j) & 1u) v += c(j);
    return v;
  });
  // Independent inclusion identifies every coefficient.
  const auto free_size = attrib::datamodels<attrib::ridge>{
      .neighborhood = {.alpha = 0.5, .fixed_size = false}, .loss = {.alpha = 1e-10}, .solver = {.budget = 400}}
                             .explain(linear);
  CHECK((free_size.values - c).cwiseAbs().maxCoeff() < 1e-6);
  CHECK(free_size.fit.r_squared == doctest::Approx(1.0));
  // Fixed-size masks identify the coefficients up to a common shift; ridge returns the
  // centred ones.
  const auto fixed = attrib::datamodels<attrib::ridge>{.neighborhood = {.alpha = 0.3}, .loss = {.alpha = 1e-8},
                                                       .solver = {.budget = 400}}
                         .explain(linear);
  const vector centred = c.array() - c.mean();
  CHECK((fixed.values - centred).cwiseAbs().maxCoeff() < 1e-5);
  // Lasso with a small penalty recovers a sparse game's support.
  vector sparse = vector::Zero(n);
  sparse(2) = 1.5, sparse(9) = -2.0;
  const auto sparse_game = attrib::coalition_game(n, [sparse](std::uint64_t mask) {
    double v = 0.0;
    for (Index j = 0; j < sparse.size(); ++j)
      if ((mask >> j) & 1u) v += sparse(j);
    return v;
  });
  const auto l1 = attrib::datamodels<attrib::lasso>{
      .neighborhood = {.alpha = 0.5, .fixed_size = false}, .loss = {.alpha = 1e-4}, .solver = {.budget = 300}}
                      .explain(sparse_game);
  CHECK((l1.values - sparse).cwiseAbs().maxCoeff() < 1e-2);
}

TEST_CASE("datamodels on a data game: a test point's margin against alpha-subsets") {
  const split s = breast_cancer(24, 1, 5);
  attrib::logistic_trainer trainer{.inputs = 5, .options = {.l2 = 0.5}};
  const auto game =
      attrib::data_game(s.x_train, s.y_train, s.x_valid, s.y_valid, trainer, attrib::correct_margin{});
  const auto dm = attrib::datamodels<>{.neighborhood = {.alpha = 0.5}, .loss = {.alpha = 1e-3}, .solver = {.budget = 300}}
                      .explain(game, {.threads = 2});
  CHECK(dm.values.size() == 24);
  CHECK(dm.has_standard_errors());
  CHECK(dm.fit.r_squared > 0.2);
  CHECK(dm.fit.r_squared <= 1.0);
  CHECK(dm.standard_errors.allFinite());
}

TEST_CASE("data attribution: bad input names the problem") {
  const split s = breast_cancer(10, 5, 4);
  const attrib::logistic_trainer trainer{.inputs = 4};
  using attrib::invalid_argument;
  CHECK_THROWS_WITH_AS(attrib::data_game(matrix(0, 4), vector(0), s.x_valid, s.y_valid, trainer, attrib::accuracy{}),
                       doctest::Contains("training set is empty"), invalid_argument);
  vector bad_labels = s.y_train;
  bad_labels(3) = 2.0;
  CHECK_THROWS_WITH_AS(attrib::data_game(s.x_train, bad_labels, s.x_valid, s.y_valid, trainer, attrib::accuracy{}),
                       doctest::Contains("labels[3] is 2.000000, expected an integer class in [0, 2)"),
                       invalid_argument);
  CHECK_THROWS_WITH_AS(
      attrib::data_game(s.x_train, s.y_train.head(9), s.x_valid, s.y_valid, trainer, attrib::accuracy{}),
      doctest::Contains("training labels has size 9, expected 10"), invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::data_game(s.x_train, s.y_train, matrix(s.x_valid.leftCols(3)), s.y_valid, trainer,
                                         attrib::accuracy{}),
                       doctest::Contains("validation inputs have 3 columns, expected 4"), invalid_argument);
  matrix with_nan = s.x_train;
  with_nan(2, 1) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH_AS(attrib::data_game(with_nan, s.y_train, s.x_valid, s.y_valid, trainer, attrib::accuracy{}),
                       doctest::Contains("training inputs must be finite"), invalid_argument);

  CHECK_THROWS_WITH_AS(attrib::knn_shapley(s.x_train, s.y_train, s.x_valid, s.y_valid, 0),
                       doctest::Contains("K must be >= 1, got 0"), invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::knn_shapley(s.x_train, s.y_train, matrix(s.x_valid.leftCols(2)), s.y_valid, 3),
                       doctest::Contains("test inputs have 2 columns"), invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::knn_shapley(matrix(0, 4), vector(0), s.x_valid, s.y_valid, 3),
                       doctest::Contains("training set is empty"), invalid_argument);

  const auto game = interaction_game(6);
  CHECK_THROWS_WITH_AS(attrib::exact_beta_shapley{.neighborhood = {.weights = {.alpha = 0.0}}}.explain(game),
                       doctest::Contains("alpha and beta must be finite and positive"), invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::tmc_shapley{.solver = {.tolerance = -1.0}}.explain(game),
                       doctest::Contains("tolerance must be finite and >= 0"), invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::tmc_shapley{.solver = {.budget = 3}}.explain(game),
                       doctest::Contains("budget 3 is too small"), invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::datamodels<>{.neighborhood = {.alpha = 1.5}}.explain(game),
                       doctest::Contains("alpha must be in (0, 1)"), invalid_argument);
}
