// Evidence for the perturbation-based feature-attribution methods: game-theoretic axioms,
// closed forms, a published power index, convergence of the estimators to the exact values,
// determinism across thread counts, and the errors raised on bad input.
#include <doctest/doctest.h>

#include <Eigen/SVD>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "attrib/core/explain_instances.hpp"
#include "attrib/games/coalition_game.hpp"
#include "attrib/games/perturbed_model.hpp"
#include "attrib/methods/feature/banzhaf.hpp"
#include "attrib/methods/feature/clime.hpp"
#include "attrib/methods/feature/lime.hpp"
#include "attrib/methods/feature/occlusion.hpp"
#include "attrib/methods/feature/shapley.hpp"
#include "attrib/models/function_model.hpp"
#include "attrib/solvers/least_squares.hpp"

using namespace attrib;

namespace {

// A game with an arbitrary (seeded random) value for every coalition.
auto random_game(Eigen::Index n, std::uint64_t seed) {
  rng random(seed);
  std::vector<double> table(std::size_t{1} << n);
  for (auto& v : table) v = random.normal();
  return coalition_game(n, [table](std::uint64_t mask) { return table[mask]; });
}

// Brute-force Shapley value by the permutation-free subset formula, written independently of
// the library's one-pass accumulation.
template <class G>
vector brute_shapley(const G& g, Eigen::Index n) {
  vector phi = vector::Zero(n);
  std::vector<double> fact(static_cast<std::size_t>(n + 1), 1.0);
  for (Eigen::Index k = 1; k <= n; ++k) fact[static_cast<std::size_t>(k)] = fact[static_cast<std::size_t>(k - 1)] * static_cast<double>(k);
  for (Eigen::Index i = 0; i < n; ++i)
    for (std::uint64_t s = 0; s < (std::uint64_t{1} << n); ++s) {
      if ((s >> i) & 1u) continue;
      const auto size = static_cast<Eigen::Index>(std::popcount(s));
      const double w = fact[static_cast<std::size_t>(size)] * fact[static_cast<std::size_t>(n - size - 1)] / fact[static_cast<std::size_t>(n)];
      phi(i) += w * (g.value(s | (std::uint64_t{1} << i)) - g.value(s));
    }
  return phi;
}

template <class G>
vector brute_banzhaf(const G& g, Eigen::Index n) {
  vector phi = vector::Zero(n);
  for (Eigen::Index i = 0; i < n; ++i)
    for (std::uint64_t s = 0; s < (std::uint64_t{1} << n); ++s)
      if (!((s >> i) & 1u)) phi(i) += g.value(s | (std::uint64_t{1} << i)) - g.value(s);
  return phi / std::ldexp(1.0, static_cast<int>(n - 1));
}

auto linear_model(vector w, double bias) {
  const Eigen::Index d = w.size();
  return function_model(d, 1, [w = std::move(w), bias](const matrix& x) {
    matrix y = (x * w).array() + bias;
    return y;
  });
}

// A smooth nonlinear model with interactions, 2 outputs.
auto nonlinear_model() {
  return function_model(5, 2, [](const matrix& x) {
    matrix y(x.rows(), 2);
    for (Eigen::Index r = 0; r < x.rows(); ++r) {
      y(r, 0) = std::tanh(x(r, 0) * x(r, 1)) + 0.5 * x(r, 2) * x(r, 2) - x(r, 3) + std::sin(x(r, 4));
      y(r, 1) = x(r, 0) + x(r, 1) * x(r, 2) * x(r, 3);
    }
    return y;
  });
}

double rmse(const vector& a, const vector& b) { return std::sqrt((a - b).squaredNorm() / static_cast<double>(a.size())); }

}  // namespace

TEST_CASE("exact Shapley equals the brute-force subset formula and satisfies efficiency") {
  for (Eigen::Index n : {1, 2, 5, 9}) {
    const auto g = random_game(n, static_cast<std::uint64_t>(n));
    const attribution a = exact_shapley{}.explain(g);
    CHECK((a.values - brute_shapley(g, n)).cwiseAbs().maxCoeff() < 1e-12);
    CHECK(std::abs(a.efficiency_gap()) < 1e-12);
    CHECK(a.base_value == g.value(0));
    CHECK(a.prediction == g.value((std::uint64_t{1} << n) - 1));
    CHECK(a.game_evaluations == (std::size_t{1} << n));
    CHECK(a.standard_errors.size() == 0);
  }
}

TEST_CASE("Shapley axioms: symmetry, dummy and linearity") {
  // Players 0 and 1 symmetric, player 3 a dummy.
  auto v = [](std::uint64_t s) {
    const double a = static_cast<double>((s & 1u) + ((s >> 1) & 1u));
    const double c = static_cast<double>((s >> 2) & 1u);
    return a * a + 3.0 * a * c + 0.5 * c;
  };
  const attribution a = exact_shapley{}.explain(coalition_game(4, v));
  CHECK(a.values(0) == doctest::Approx(a.values(1)).epsilon(1e-14));
  CHECK(std::abs(a.values(3)) < 1e-14);
  const attribution b = exact_banzhaf{}.explain(coalition_game(4, v));
  CHECK(b.values(0) == doctest::Approx(b.values(1)).epsilon(1e-14));
  CHECK(std::abs(b.values(3)) < 1e-14);

  const auto g1 = random_game(7, 11), g2 = random_game(7, 12);
  const auto sum = coalition_game(7, [&](std::uint64_t s) { return 2.0 * g1.value(s) - 3.0 * g2.value(s); });
  for (int method = 0; method < 2; ++method) {
    auto run = [&](const auto& g) { return method == 0 ? exact_shapley{}.explain(g).values : exact_banzhaf{}.explain(g).values; };
    CHECK((run(sum) - (2.0 * run(g1) - 3.0 * run(g2))).cwiseAbs().maxCoeff() < 1e-12);
  }
}

TEST_CASE("exact Banzhaf equals the brute-force marginal average") {
  for (Eigen::Index n : {1, 3, 8}) {
    const auto g = random_game(n, 100 + static_cast<std::uint64_t>(n));
    CHECK((exact_banzhaf{}.explain(g).values - brute_banzhaf(g, n)).cwiseAbs().maxCoeff() < 1e-12);
  }
}

TEST_CASE("Shapley-Shubik index of the UN Security Council (published: 421/2145 and 4/2145)") {
  // [39; 7,7,7,7,7, 1 x 10]: five permanent members with a veto, ten elected members.
  std::vector<double> weights(15, 1.0);
  for (int i = 0; i < 5; ++i) weights[static_cast<std::size_t>(i)] = 7.0;
  const attribution a = exact_shapley{}.explain(weighted_voting_game(39.0, weights), {.threads = 2});
  for (Eigen::Index i = 0; i < 5; ++i) CHECK(a.values(i) == doctest::Approx(421.0 / 2145.0).epsilon(1e-12));
  for (Eigen::Index i = 5; i < 15; ++i) CHECK(a.values(i) == doctest::Approx(4.0 / 2145.0).epsilon(1e-12));
  // [51; 49, 48, 3]: any two players win, so all have power 1/3 despite unequal weights.
  const attribution b = exact_shapley{}.explain(weighted_voting_game(51.0, {49.0, 48.0, 3.0}));
  for (Eigen::Index i = 0; i < 3; ++i) CHECK(b.values(i) == doctest::Approx(1.0 / 3.0));
}

TEST_CASE("closed form for a linear model: phi_i = w_i (x_i - b_i), and the mean background") {
  vector w(6), x(6);
  w << 1.5, -2.0, 0.5, 3.0, 0.0, -1.0;
  x << 1.0, 2.0, -1.0, 0.5, 4.0, 2.0;
  const auto m = linear_model(w, 0.7);
  rng random(5);
  matrix background(20, 6);
  for (Eigen::Index r = 0; r < background.rows(); ++r)
    for (Eigen::Index c = 0; c < 6; ++c) background(r, c) = random.normal();
  const vector expected = w.cwiseProduct(x - background.colwise().mean().transpose());
  const auto game = masked_model(m, x, background);
  CHECK((exact_shapley{}.explain(game).values - expected).cwiseAbs().maxCoeff() < 1e-12);
  CHECK((exact_banzhaf{}.explain(game).values - expected).cwiseAbs().maxCoeff() < 1e-12);
  CHECK((occlusion{}.explain(game).values - expected).cwiseAbs().maxCoeff() < 1e-12);
  // Antithetic permutations and KernelSHAP are exact for additive games.
  CHECK((permutation_shapley{.solver = {.budget = 100}}.explain(game).values - expected).cwiseAbs().maxCoeff() < 1e-12);
  CHECK((kernel_shap{.solver = {.budget = 30}}.explain(game).values - expected).cwiseAbs().maxCoeff() < 1e-10);
  const attribution e = exact_shapley{}.explain(game);
  CHECK(e.model_evaluations == 64 * 20);
}

TEST_CASE("occlusion with feature groups removes whole groups") {
  vector w(4), x(4), b(4);
  w << 1, 2, 3, 4;
  x << 1, 1, 1, 1;
  b << 0, 0, 0, 0;
  const auto m = function_model(4, 1, [w](const matrix& in) {
    matrix y(in.rows(), 1);
    for (Eigen::Index r = 0; r < in.rows(); ++r) y(r, 0) = in.row(r).dot(w) + in(r, 0) * in(r, 3);
    return y;
  });
  const auto game = masked_model(m, x, matrix(b.transpose()), feature_groups({{0, 3}, {1, 2}}, 4));
  const attribution a = occlusion{}.explain(game);
  REQUIRE(a.values.size() == 2);
  CHECK(a.values(0) == doctest::Approx(1 + 4 + 1));  // removes x0, x3 and their product
  CHECK(a.values(1) == doctest::Approx(2 + 3));
  CHECK(a.prediction == doctest::Approx(11));
}

TEST_CASE("KernelSHAP with the whole neighbourhood is the exact Shapley value") {
  const auto g = random_game(8, 21);
  const attribution exact = exact_shapley{}.explain(g);
  const attribution full = kernel_shap{.solver = {.budget = 254}}.explain(g);
  CHECK(full.fit.exhaustive);
  CHECK((full.values - exact.values).cwiseAbs().maxCoeff() < 1e-10);
  CHECK(std::abs(full.efficiency_gap()) < 1e-12);
  // The uniform kernel fitted by the generic streaming regression is the Banzhaf value.
  const auto generic = local_approximation<uniform_coalitions, ridge, exhaustive>{.loss = {.alpha = 0.0}}.explain(g);
  CHECK((generic.values - exact_banzhaf{}.explain(g).values).cwiseAbs().maxCoeff() < 1e-10);
}

TEST_CASE("KernelSHAP: exact efficiency, enumeration of small sizes, deduplication") {
  const auto g = random_game(10, 3);
  const attribution a = kernel_shap{.solver = {.budget = 300}}.explain(g, {.seed = 9});
  CHECK(std::abs(a.efficiency_gap()) < 1e-10);
  CHECK(a.game_evaluations <= 302);
  CHECK(a.has_standard_errors());
  // Sizes 1 and 9 (20 coalitions) are enumerated first; the shapley_kernel sample shows it.
  rng random(9);
  const neighborhood_sample s = shapley_kernel{}.sample(10, 300, random);
  Eigen::Index singles = 0;
  for (Eigen::Index r = 0; r < s.points.rows(); ++r) {
    const double size = s.points.row(r).sum();
    if (size == 1.0 || size == 9.0) {
      ++singles;
      CHECK(s.unit[static_cast<std::size_t>(r)] < 0);
    }
  }
  CHECK(singles == 20);
  // Paired sampling: every sampled coalition appears with its complement, and no row twice.
  std::set<std::string> keys;
  for (Eigen::Index r = 0; r < s.points.rows(); ++r) CHECK(keys.insert(detail::coalition_key(s.points.row(r))).second);
  for (Eigen::Index r = 0; r < s.points.rows(); ++r) {
    const vector complement = (1.0 - s.points.row(r).array()).matrix().transpose();
    CHECK(keys.count(detail::coalition_key(complement)) == 1);
  }
  // A key from members is the key of their 0/1 row, or of its complement's.
  std::string key;
  for (const Eigen::Index players : {1, 8, 10, 17}) {
    for (std::uint64_t mask : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{0x1b5a3}}) {
      mask &= (std::uint64_t{1} << players) - 1;
      vector row(players), flipped(players);
      std::vector<Eigen::Index> members;
      for (Eigen::Index j = 0; j < players; ++j) {
        row(j) = static_cast<double>((mask >> j) & 1u);
        flipped(j) = 1.0 - row(j);
        if (row(j) > 0) members.push_back(j);
      }
      detail::coalition_key_of_members(members, players, false, key);
      CHECK(key == detail::coalition_key(row));
      detail::coalition_key_of_members(members, players, true, key);
      CHECK(key == detail::coalition_key(flipped));
    }
  }
}

TEST_CASE("estimators converge to the exact values as the budget grows") {
  const Eigen::Index n = 12;
  const auto g = random_game(n, 77);
  const vector shapley = exact_shapley{}.explain(g).values;
  const vector banzhaf = exact_banzhaf{}.explain(g).values;
  auto mean_error = [&](auto method, const vector& truth) {
    double total = 0.0;
    for (std::uint64_t seed = 0; seed < 8; ++seed) total += rmse(method.explain(g, {.seed = seed}).values, truth);
    return total / 8.0;
  };
  double previous = std::numeric_limits<double>::infinity();
  for (std::size_t budget : {200, 800, 3200}) {
    const double e = mean_error(kernel_shap{.solver = {.budget = budget}}, shapley);
    CHECK(e < previous);
    previous = e;
  }
  previous = std::numeric_limits<double>::infinity();
  for (std::size_t budget : {200, 800, 3200}) {
    const double e = mean_error(permutation_shapley{.solver = {.budget = budget}}, shapley);
    CHECK(e < previous * 0.75);
    previous = e;
  }
  previous = std::numeric_limits<double>::infinity();
  for (std::size_t budget : {200, 800, 3200}) {
    const double e = mean_error(msr_banzhaf{.solver = {.budget = budget}}, banzhaf);
    CHECK(e < previous * 0.75);
    previous = e;
  }
}

TEST_CASE("standard errors are calibrated: z-scores against exact values have unit scale") {
  const Eigen::Index n = 10;
  const auto g = random_game(n, 5);
  const vector shapley = exact_shapley{}.explain(g).values;
  const vector banzhaf = exact_banzhaf{}.explain(g).values;
  auto z_rms = [&](auto method, const vector& truth) {
    double sum = 0.0;
    int count = 0;
    for (std::uint64_t seed = 0; seed < 40; ++seed) {
      const attribution a = method.explain(g, {.seed = seed});
      REQUIRE(a.has_standard_errors());
      sum += ((a.values - truth).array() / a.standard_errors.array()).square().sum();
      count += static_cast<int>(n);
    }
    return std::sqrt(sum / count);
  };
  const double kernel = z_rms(kernel_shap{.solver = {.budget = 400}}, shapley);
  const double permutation = z_rms(permutation_shapley{.solver = {.budget = 400}}, shapley);
  const double msr = z_rms(msr_banzhaf{.solver = {.budget = 400}}, banzhaf);
  CHECK(kernel > 0.6);
  CHECK(kernel < 1.6);
  CHECK(permutation > 0.7);
  CHECK(permutation < 1.4);
  CHECK(msr > 0.7);
  CHECK(msr < 1.4);
}

TEST_CASE("KernelSHAP early stopping at a target standard error") {
  const auto g = random_game(12, 8);
  const attribution a = kernel_shap{.solver = {.budget = 4000, .target_standard_error = 0.05}}.explain(g, {.seed = 1});
  CHECK(a.fit.converged);
  CHECK(a.standard_errors.maxCoeff() <= 0.05);
  CHECK(a.game_evaluations < 4000);
  const attribution b = kernel_shap{.solver = {.budget = 100, .target_standard_error = 1e-9}}.explain(g, {.seed = 1});
  CHECK_FALSE(b.fit.converged);
}

TEST_CASE("LIME and C-LIME recover a linear model") {
  vector w(5), x(5), b(5);
  w << 2.0, -1.0, 0.5, 0.0, 3.0;
  x << 1.0, 2.0, 3.0, -1.0, 0.5;
  b << 0.5, 0.0, 1.0, 1.0, -0.5;
  const auto m = linear_model(w, 1.0);
  const auto game = masked_model(m, x, matrix(b.transpose()));
  const vector expected = w.cwiseProduct(x - b);
  const attribution lime_ridge = lime<>{.loss = {.alpha = 1e-9}, .solver = {.budget = 400}}.explain(game, {.seed = 2});
  CHECK((lime_ridge.values - expected).cwiseAbs().maxCoeff() < 1e-6);
  CHECK(lime_ridge.fit.r_squared == doctest::Approx(1.0));
  const attribution lime_l1 = lime<lasso>{.loss = {.alpha = 1e-6}, .solver = {.budget = 400}}.explain(game, {.seed = 2});
  CHECK((lime_l1.values - expected).cwiseAbs().maxCoeff() < 1e-3);
  CHECK(lime_l1.values(3) == 0.0);  // a zero weight stays exactly zero under L1
  // Ridge shrinks towards zero as alpha grows.
  const attribution shrunk = lime<>{.loss = {.alpha = 10.0}, .solver = {.budget = 400}}.explain(game, {.seed = 2});
  CHECK(shrunk.values.norm() < lime_ridge.values.norm());
  // C-LIME: the slope of f(x + z) on z is w, for any sigma.
  for (double sigma : {0.01, 1.0}) {
    const attribution c = clime{.neighborhood = {.sigma = sigma}, .solver = {.budget = 200}}.explain(noisy_model(m, x), {.seed = 3});
    CHECK((c.values - w).cwiseAbs().maxCoeff() < 1e-9);
    CHECK(c.prediction == doctest::Approx(w.dot(x) + 1.0));
  }
}

TEST_CASE("C-LIME tends to the gradient of a smooth model as sigma shrinks") {
  const auto m = nonlinear_model();
  vector x(5);
  x << 0.3, -0.4, 0.8, 0.1, 0.6;
  vector gradient(5);  // of output 0, by hand
  const double t = std::tanh(x(0) * x(1));
  gradient << (1 - t * t) * x(1), (1 - t * t) * x(0), x(2), -1.0, std::cos(x(4));
  double previous = std::numeric_limits<double>::infinity();
  for (double sigma : {0.3, 0.03, 0.003}) {
    const attribution c = clime{.neighborhood = {.sigma = sigma}, .solver = {.budget = 2000}}.explain(noisy_model(m, x), {.seed = 4});
    const double error = (c.values - gradient).cwiseAbs().maxCoeff();
    CHECK(error < previous);
    previous = error;
  }
  CHECK(previous < 1e-3);
}

TEST_CASE("same seed, same result on 1 and 2 threads") {
  const auto m = nonlinear_model();
  vector x(5);
  x << 1.0, -0.5, 0.25, 2.0, -1.0;
  rng random(3);
  matrix background(7, 5);
  for (Eigen::Index r = 0; r < 7; ++r)
    for (Eigen::Index c = 0; c < 5; ++c) background(r, c) = random.normal();
  const auto game = masked_model(m, x, background, 1);
  auto same = [&](auto method) {
    const attribution one = method.explain(game, {.seed = 42, .threads = 1});
    const attribution two = method.explain(game, {.seed = 42, .threads = 2});
    const attribution again = method.explain(game, {.seed = 42, .threads = 2});
    CHECK(one.values == two.values);
    CHECK(two.values == again.values);
    CHECK(one.standard_errors == two.standard_errors);
  };
  same(exact_shapley{});
  same(exact_banzhaf{});
  same(kernel_shap{.solver = {.budget = 20}});
  same(permutation_shapley{.solver = {.budget = 40}});
  same(msr_banzhaf{.solver = {.budget = 40}});
  same(lime<>{.solver = {.budget = 20}});
  same(occlusion{});
  // Many chunks: a 20-player game splits into 256 chunks of 4096 coalitions.
  const auto big = random_game(16, 1);
  CHECK(exact_shapley{}.explain(big, {.threads = 1}).values == exact_shapley{}.explain(big, {.threads = 2}).values);
  // A different seed gives a different estimate.
  CHECK(kernel_shap{.solver = {.budget = 20}}.explain(game, {.seed = 1}).values !=
        kernel_shap{.solver = {.budget = 20}}.explain(game, {.seed = 2}).values);
}

TEST_CASE("bad input is rejected with a message naming the problem") {
  vector w(3), x(3);
  w << 1, 2, 3;
  x << 1, 1, 1;
  const auto m = linear_model(w, 0.0);
  const matrix baseline = matrix::Zero(1, 3);
  CHECK_THROWS_WITH_AS(masked_model(m, vector::Ones(4), baseline), doctest::Contains("explained point x has size 4, expected 3"), invalid_argument);
  CHECK_THROWS_WITH_AS(masked_model(m, x, matrix::Zero(1, 2)), doctest::Contains("perturbation input dimension"), invalid_argument);
  CHECK_THROWS_WITH_AS(masked_model(m, x, matrix::Zero(0, 3)), doctest::Contains("baseline is empty"), invalid_argument);
  CHECK_THROWS_WITH_AS(masked_model(m, x, baseline, 1), doctest::Contains("output index 1 is out of range"), invalid_argument);
  vector bad = x;
  bad(1) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH_AS(masked_model(m, bad, baseline), doctest::Contains("x must be finite"), invalid_argument);
  matrix bad_baseline = baseline;
  bad_baseline(0, 2) = std::numeric_limits<double>::infinity();
  CHECK_THROWS_WITH_AS(masked_model(m, x, bad_baseline), doctest::Contains("baseline must be finite"), invalid_argument);

  const auto nan_model = function_model(3, 1, [](const matrix& in) {
    matrix y = in.rowwise().sum();
    for (Eigen::Index r = 0; r < y.rows(); ++r)
      if (in(r, 0) == 0.0) y(r, 0) = std::numeric_limits<double>::quiet_NaN();
    return y;
  });
  CHECK_THROWS_WITH_AS(exact_shapley{}.explain(masked_model(nan_model, x, baseline)), doctest::Contains("not finite"), invalid_argument);
  const auto wrong_shape = function_model(3, 1, [](const matrix& in) { return matrix(matrix::Zero(in.rows(), 2)); });
  CHECK_THROWS_WITH_AS(occlusion{}.explain(masked_model(wrong_shape, x, baseline)), doctest::Contains("model returned"), invalid_argument);

  CHECK_THROWS_WITH_AS(coalition_game(0, [](std::uint64_t) { return 0.0; }), doctest::Contains("player count"), invalid_argument);
  CHECK_THROWS_WITH_AS(exact_shapley{}.explain(coalition_game(31, [](std::uint64_t) { return 0.0; })),
                       doctest::Contains("needs n <= 30, got n = 31"), invalid_argument);
  const auto g = random_game(6, 1);
  CHECK_THROWS_WITH_AS(kernel_shap{.solver = {.budget = 3}}.explain(g), doctest::Contains("budget 3 is too small"), invalid_argument);
  CHECK_THROWS_WITH_AS(permutation_shapley{.solver = {.budget = 5}}.explain(g), doctest::Contains("budget 5 is too small"), invalid_argument);
  CHECK_THROWS_WITH_AS(msr_banzhaf{.solver = {.budget = 3}}.explain(g), doctest::Contains("budget 3 is too small"), invalid_argument);
  CHECK_THROWS_WITH_AS(lime<>{.solver = {.budget = 4}}.explain(g), doctest::Contains("too small"), invalid_argument);
  CHECK_THROWS_WITH_AS(clime{.neighborhood = {.sigma = 0.0}}.explain(noisy_model(m, x)), doctest::Contains("sigma must be finite and > 0"), invalid_argument);
  CHECK_THROWS_WITH_AS(feature_groups({{0, 1}, {1, 2}}, 3), doctest::Contains("feature 1 belongs to groups 0 and 1"), invalid_argument);
  CHECK_THROWS_WITH_AS(feature_groups({{0}, {2}}, 3), doctest::Contains("feature 1 is in no group"), invalid_argument);
}

TEST_CASE("exact enumeration gives the same values through bitmasks and through 0/1 rows") {
  const auto g = random_game(11, 4);
  struct rows_only {  // the same game without the bitmask fast path
    const decltype(g)& inner;
    Eigen::Index player_count() const { return inner.player_count(); }
    vector values(const matrix& points) const { return inner.values(points); }
  };
  static_assert(bitmask_game<decltype(g)> && !bitmask_game<rows_only>);
  const rows_only slow{g};
  CHECK((exact_shapley{}.explain(g).values - exact_shapley{}.explain(slow).values).cwiseAbs().maxCoeff() < 1e-13);
  CHECK((exact_banzhaf{}.explain(g).values - exact_banzhaf{}.explain(slow).values).cwiseAbs().maxCoeff() < 1e-13);
}

TEST_CASE("masked models give exact enumeration the same values from mask ranges as from 0/1 rows") {
  // A model whose output depends on every input nonlinearly, so any wrong input changes it.
  auto f = function_model(10, 2, [](const matrix& in) {
    matrix out(in.rows(), 2);
    for (Eigen::Index r = 0; r < in.rows(); ++r) {
      double s = 0.0;
      for (Eigen::Index c = 0; c < in.cols(); ++c)
        s += std::sin(1.0 + 0.37 * static_cast<double>(c) * in(r, c));
      out(r, 0) = s;
      out(r, 1) = s * s + in(r, 0);
    }
    return out;
  });
  rng random(12);
  vector x(10);
  for (auto& v : x) v = random.normal();
  x(3) = 0.0;  // signed zeros: the select must give what map()'s arithmetic gives
  matrix reference = matrix::Zero(1, 10);
  reference(0, 3) = -0.0;
  reference(0, 4) = -0.0;
  matrix background(3, 10);
  for (auto& v : background.reshaped()) v = random.normal();
  const feature_groups groups({{0, 5}, {1}, {2, 3, 9}, {4, 6, 7}, {8}}, 10);
  struct rows_only {  // the same game without the mask-range fast path
    const perturbed_model<decltype(f), masking>& inner;
    Eigen::Index player_count() const { return inner.player_count(); }
    Eigen::Index model_evaluations_per_value() const { return inner.model_evaluations_per_value(); }
    vector values(const matrix& points) const { return inner.values(points); }
  };
  static_assert(bitmask_range_game<perturbed_model<decltype(f), masking>> && !bitmask_range_game<rows_only>);
  const auto same_bits = [](const auto& a, const auto& b) {
    const auto bytes = sizeof(double) * static_cast<std::size_t>(a.size());
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), bytes) == 0;
  };
  const std::vector<perturbed_model<decltype(f), masking>> games{
      masked_model(f, x, reference, 1), masked_model(f, x, background, 0),
      masked_model(f, x, background, groups, 1), masked_model(f, x, reference, groups, 0)};
  for (const auto& g : games) {
    CAPTURE(g.player_count());
    CAPTURE(g.model_evaluations_per_value());
    // The inputs themselves, bit for bit, for every coalition.
    const Eigen::Index n = g.player_count();
    matrix points(Eigen::Index{1} << n, n);
    for (Eigen::Index m = 0; m < points.rows(); ++m)
      for (Eigen::Index p = 0; p < n; ++p) points(m, p) = static_cast<double>((m >> p) & 1);
    matrix from_rows, from_masks;
    g.perturbation().map(x, points, from_rows);
    g.perturbation().map_coalitions(x, 0, points.rows(), from_masks);
    CHECK(same_bits(from_rows, from_masks));
    matrix some;  // a range that starts inside the enumeration
    g.perturbation().map_coalitions(x, 5, 7, some);
    CHECK(same_bits(some, from_rows.middleRows(5 * g.model_evaluations_per_value(), some.rows())));
    const rows_only slow{g};
    for (const std::size_t threads : {1, 2}) {
      CHECK(same_bits(exact_shapley{}.explain(g, {.threads = threads}).values,
                      exact_shapley{}.explain(slow, {.threads = threads}).values));
      CHECK(same_bits(exact_banzhaf{}.explain(g, {.threads = threads}).values,
                      exact_banzhaf{}.explain(slow, {.threads = threads}).values));
    }
  }
  matrix inputs;
  CHECK_THROWS_WITH_AS(games[0].perturbation().map_coalitions(x, 0, -1, inputs),
                       doctest::Contains("negative coalition count"), invalid_argument);
  // Masks beyond the players' 2^n coalitions name no coalition: refused, not truncated.
  const auto& three_rows = games[1].perturbation();  // 10 players: masks 0 .. 1023
  CHECK_NOTHROW(three_rows.map_coalitions(x, 1020, 4, inputs));
  CHECK_THROWS_WITH_AS(three_rows.map_coalitions(x, 1020, 5, inputs),
                       doctest::Contains("exceed the 1024 of 10"), invalid_argument);
  CHECK_THROWS_AS(three_rows.map_coalitions(x, 2000, 0, inputs), invalid_argument);
  CHECK_THROWS_AS(three_rows.map_coalitions(x, ~std::uint64_t{0}, 2, inputs), invalid_argument);
  // One reference row with more features than the per-byte tables' common case (every block full
  // but one, and masks with high bits set), against map() on the same coalitions' 0/1 rows.
  for (const Eigen::Index d : {29, 40, 63}) {
    CAPTURE(d);
    vector wide(d);
    for (auto& v : wide) v = random.normal();
    wide(d - 1) = -0.0;
    vector wide_reference(d);
    for (auto& v : wide_reference) v = random.normal();
    wide_reference(2) = -0.0;
    const masking m(wide_reference);
    const std::uint64_t last = (std::uint64_t{1} << d) - 1;
    for (const std::uint64_t first : {std::uint64_t{0}, std::uint64_t{0x5a5a5a5} << (d - 28), last - 40}) {
      matrix rows(41, d);
      for (Eigen::Index i = 0; i < rows.rows(); ++i)
        for (Eigen::Index p = 0; p < d; ++p)
          rows(i, p) = static_cast<double>(((first + static_cast<std::uint64_t>(i)) >> p) & 1u);
      matrix from_rows, from_masks;
      m.map(wide, rows, from_rows);
      m.map_coalitions(wide, first, 41, from_masks);
      CHECK(same_bits(from_rows, from_masks));
    }
  }
}

TEST_CASE("rng: uniform, bounded and normal draws have the right moments and are reproducible") {
  rng a(123), b(123);
  double sum = 0, sum_sq = 0, sum_4 = 0, tail = 0;
  int mismatches = 0;
  const int draws = 400000;
  for (int i = 0; i < draws; ++i) {
    const double z = a.normal();
    mismatches += z != b.normal();
    sum += z, sum_sq += z * z, sum_4 += z * z * z * z;
    tail += std::abs(z) > 3.442619855899;
  }
  CHECK(mismatches == 0);
  CHECK(std::abs(sum / draws) < 0.01);
  CHECK(sum_sq / draws == doctest::Approx(1.0).epsilon(0.01));
  CHECK(sum_4 / draws == doctest::Approx(3.0).epsilon(0.03));
  CHECK(tail / draws == doctest::Approx(5.76e-4).epsilon(0.2));  // P(|Z| > r) for the ziggurat's r
  std::vector<int> counts(7, 0);
  for (int i = 0; i < 70000; ++i) ++counts[static_cast<std::size_t>(a.below(7))];
  for (int c : counts) CHECK(std::abs(c - 10000) < 400);
  CHECK(rng::stream(5, 0)() != rng::stream(5, 1)());

  // fill_normal is the same draws, scaled, in the same order, and leaves the same state behind
  // (100,000 draws reach the tail and the wedges, where normal() draws again).
  rng c(77), d(77);
  std::vector<double> filled(100000);
  c.fill_normal(filled.data(), filled.size(), 0.25);
  int different = 0;
  for (double v : filled) different += v != 0.25 * d.normal();
  CHECK(different == 0);
  CHECK(c() == d());
}

namespace {
// The Moore-Penrose pseudo-inverse by a singular value decomposition: an independent route to the
// minimum-norm solutions that solvers/least_squares.hpp finds through pivoted LDLT.
matrix svd_pseudo_inverse(const matrix& a) {
  const Eigen::JacobiSVD<matrix> svd(a, Eigen::ComputeThinU | Eigen::ComputeThinV);
  vector inverted = svd.singularValues();
  const double tolerance = 1e-10 * inverted.maxCoeff();
  for (attrib::index i = 0; i < inverted.size(); ++i) inverted(i) = inverted(i) > tolerance ? 1.0 / inverted(i) : 0.0;
  return svd.matrixV() * inverted.asDiagonal() * svd.matrixU().transpose();
}
}  // namespace

TEST_CASE("least squares: minimum-norm solutions of singular and constrained problems match an SVD") {
  attrib::rng random(7);
  std::normal_distribution<double> normal;
  // A Gram matrix of rank 3 in 6 unknowns: two duplicated columns and one column of zeros.
  matrix design(20, 6);
  for (attrib::index i = 0; i < design.rows(); ++i)
    for (attrib::index j = 0; j < 3; ++j) design(i, j) = normal(random);
  design.col(3) = design.col(0);
  design.col(4) = design.col(1) - design.col(2);
  design.col(5).setZero();
  const matrix gram = design.transpose() * design;
  vector moment(6);
  for (attrib::index j = 0; j < 6; ++j) moment(j) = normal(random);
  moment = gram * moment;  // consistent: in the range of the Gram matrix
  const matrix pinv = svd_pseudo_inverse(gram);

  SUBCASE("unconstrained: pinv(H) m, and the sensitivity is pinv(H)") {
    const vector beta = detail::solve_quadratic(gram, moment, true, std::nullopt);
    CHECK((beta - pinv * moment).norm() <= 1e-8 * (pinv * moment).norm());
    const matrix s = detail::solution_sensitivity(gram, true, std::nullopt);
    CHECK((s - pinv).norm() <= 1e-8 * pinv.norm());
  }
  SUBCASE("a full-rank problem takes the LDLT path and agrees with the SVD") {
    const matrix full = design.leftCols(3).transpose() * design.leftCols(3);
    const vector m = moment.head(3);
    const vector beta = detail::solve_quadratic(full, m, false, std::nullopt);
    CHECK((full * beta - m).norm() <= 1e-10 * m.norm());
    CHECK((beta - svd_pseudo_inverse(full) * m).norm() <= 1e-8 * beta.norm());
  }
  SUBCASE("with the efficiency constraint: the minimum-norm KKT solution, as an SVD of the KKT system gives") {
    for (const bool intercept : {true, false}) {
      const double sum = 2.5;
      const attrib::index p = 6;
      const attrib::index first = intercept ? 1 : 0;
      matrix kkt = matrix::Zero(p + 1, p + 1);
      kkt.topLeftCorner(p, p) = gram;
      kkt.block(p, first, 1, p - first).setOnes();
      kkt.block(first, p, p - first, 1).setOnes();
      vector rhs(p + 1);
      rhs << moment, sum;
      // Every KKT solution has the same multiplier; the minimum-norm one in (b, lambda) therefore
      // has the minimum-norm b.
      const vector expected = (svd_pseudo_inverse(kkt) * rhs).head(p);
      const vector beta = detail::solve_quadratic(gram, moment, intercept, sum);
      CHECK(beta.tail(p - first).sum() == doctest::Approx(sum).epsilon(1e-12));
      CHECK((beta - expected).norm() <= 1e-7 * expected.norm());
      // The sensitivity maps a change of moment to the change of the solution.
      const matrix s = detail::solution_sensitivity(gram, intercept, sum);
      vector dm(p);
      for (attrib::index j = 0; j < p; ++j) dm(j) = normal(random);
      dm = gram * dm;
      const vector moved = detail::solve_quadratic(gram, vector(moment + dm), intercept, sum);
      CHECK((moved - beta - s * dm).norm() <= 1e-7 * (1.0 + dm.norm()));
    }
  }
}

TEST_CASE("explain_instances: the per-instance loop's results, bit for bit, on one and two threads") {
  const auto model = nonlinear_model();
  rng random(41);
  matrix points(7, 5);
  for (Eigen::Index i = 0; i < points.size(); ++i) points.data()[i] = random.normal();
  const matrix baseline = matrix::Zero(1, 5);
  auto make_game = [&](Eigen::Index i) { return masked_model(model, points.row(i).transpose(), baseline, 0); };
  const kernel_shap sampled{.solver = {.budget = 24}};
  for (const std::size_t threads : {std::size_t{1}, std::size_t{2}}) {
    const run_settings settings{.seed = 5, .threads = threads};
    const auto exact = explain_instances(exact_shapley{}, points.rows(), make_game, settings);
    const auto estimated = explain_instances(sampled, points.rows(), make_game, settings);
    REQUIRE(exact.size() == 7);
    REQUIRE(estimated.size() == 7);
    for (Eigen::Index i = 0; i < points.rows(); ++i) {
      const auto one = exact_shapley{}.explain(make_game(i), {.seed = 5});
      CHECK(exact[static_cast<std::size_t>(i)].values == one.values);
      const auto& e = exact[static_cast<std::size_t>(i)];
      CHECK(std::abs(e.values.sum() - (e.prediction - e.base_value)) < 1e-12);  // efficiency
      CHECK(estimated[static_cast<std::size_t>(i)].values == sampled.explain(make_game(i), {.seed = 5}).values);
    }
  }
}

TEST_CASE("explain_instances: progress in instances, the failing instance named, empty and negative counts") {
  const auto model = nonlinear_model();
  const matrix baseline = matrix::Zero(1, 5);
  std::vector<std::size_t> reported;
  const run_settings settings{.threads = 2, .progress = [&](std::size_t done, std::size_t total) {
                                CHECK(total == 4);
                                reported.push_back(done);
                              }};
  auto make_game = [&](Eigen::Index i) {
    vector x = vector::Constant(5, 0.1 * static_cast<double>(i));
    if (i == 2) x(3) = std::numeric_limits<double>::quiet_NaN();
    return masked_model(model, x, baseline, 0);
  };
  CHECK_THROWS_WITH_AS(explain_instances(exact_shapley{}, 4, make_game, settings),
                       doctest::Contains("instance 2: explained point x"), attrib::invalid_argument);
  reported.clear();
  auto finite_game = [&](Eigen::Index i) {
    return masked_model(model, vector::Constant(5, 0.1 * static_cast<double>(i)), baseline, 0);
  };
  CHECK(explain_instances(exact_shapley{}, 4, finite_game, settings).size() == 4);
  std::sort(reported.begin(), reported.end());
  CHECK(reported == std::vector<std::size_t>{1, 2, 3, 4});
  CHECK(explain_instances(exact_shapley{}, 0, finite_game, settings).empty());
  CHECK_THROWS_WITH_AS(explain_instances(exact_shapley{}, -1, finite_game, settings),
                       doctest::Contains("instance count is -1"), attrib::invalid_argument);
}
