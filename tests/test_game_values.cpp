// Evidence for the game values beyond Shapley and Banzhaf: RISE (closed forms on linear games,
// convergence with the budget, determinism), the Shapley-Taylor and Banzhaf interaction
// indices (exact on quadratic games, equal to brute-force textbook definitions, efficiency,
// unanimity games), the core value (least core by LP, tie-break by projection) and the LP and
// projection solvers under it (hand-solved programs, brute force over vertices, closed forms).
#include <doctest/doctest.h>

#include <Eigen/Dense>
#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

#include "attrib/games/coalition_game.hpp"
#include "attrib/games/perturbed_model.hpp"
#include "attrib/methods/feature/core_value.hpp"
#include "attrib/methods/feature/interactions.hpp"
#include "attrib/methods/feature/rise.hpp"
#include "attrib/models/function_model.hpp"
#include "attrib/solvers/linear_program.hpp"
#include "attrib/solvers/polyhedron_projection.hpp"

using namespace attrib;
using Index = attrib::index;

namespace {

bool has(std::uint64_t mask, Index i) { return ((mask >> i) & 1u) != 0; }

// A game without the bitmask fast path, that also records the largest batch it was given.
template <class F>
struct rows_only_game {
  Index n;
  F f;
  mutable std::atomic<Index> largest_batch{0};
  mutable std::atomic<Index> calls{0};
  rows_only_game(Index players, F value) : n(players), f(std::move(value)) {}
  Index player_count() const { return n; }
  vector values(const matrix& points) const {
    ++calls;
    Index seen = largest_batch.load();
    while (points.rows() > seen && !largest_batch.compare_exchange_weak(seen, points.rows())) {
    }
    vector out(points.rows());
    for (Index r = 0; r < points.rows(); ++r) {
      std::uint64_t mask = 0;
      for (Index j = 0; j < n; ++j)
        if (points(r, j) > 0.5) mask |= std::uint64_t{1} << j;
      out(r) = f(mask);
    }
    return out;
  }
};

// v(S) = sum a_i + sum_{i<j} b_ij + sum_{i<j<k} c_ijk over the members of S, plus a constant.
struct polynomial_game_coefficients {
  double constant = 0;
  vector a;
  matrix b;                 // upper triangle used
  std::vector<double> c;    // c[(i * n + j) * n + k], i < j < k
  Index n = 0;
  double operator()(std::uint64_t s) const {
    double v = constant;
    for (Index i = 0; i < n; ++i) {
      if (!has(s, i)) continue;
      v += a(i);
      for (Index j = i + 1; j < n; ++j) {
        if (!has(s, j)) continue;
        v += b(i, j);
        if (!c.empty())
          for (Index k = j + 1; k < n; ++k)
            if (has(s, k)) v += c[static_cast<std::size_t>((i * n + j) * n + k)];
      }
    }
    return v;
  }
};

polynomial_game_coefficients random_polynomial(Index n, bool three_way, std::uint64_t seed) {
  rng random(seed);
  polynomial_game_coefficients p;
  p.n = n;
  p.constant = random.normal();
  p.a = vector(n);
  for (Index i = 0; i < n; ++i) p.a(i) = random.normal();
  p.b = matrix::Zero(n, n);
  for (Index i = 0; i < n; ++i)
    for (Index j = i + 1; j < n; ++j) p.b(i, j) = random.normal();
  if (three_way) {
    p.c.assign(static_cast<std::size_t>(n * n * n), 0.0);
    for (auto& x : p.c) x = random.normal();
  }
  return p;
}

double factorial(Index k) { return k <= 1 ? 1.0 : static_cast<double>(k) * factorial(k - 1); }
double choose(Index n, Index k) { return factorial(n) / (factorial(k) * factorial(n - k)); }

// Textbook definitions, straight from the sums over S subset N \ T.
template <class V>
double brute_delta(const V& v, std::uint64_t t, std::uint64_t s) {
  // sum_{L subset T} (-1)^(|T| - |L|) v(S u L), enumerating L by counting.
  std::vector<Index> members;
  for (Index i = 0; i < 64; ++i)
    if (has(t, i)) members.push_back(i);
  double sum = 0;
  for (std::uint64_t pick = 0; pick < (std::uint64_t{1} << members.size()); ++pick) {
    std::uint64_t l = 0;
    int size = 0;
    for (std::size_t q = 0; q < members.size(); ++q)
      if ((pick >> q) & 1u) l |= std::uint64_t{1} << members[q], ++size;
    sum += (((static_cast<int>(members.size()) - size) % 2) == 0 ? 1.0 : -1.0) * v(s | l);
  }
  return sum;
}

template <class V>
double brute_stii(const V& v, Index n, std::uint64_t t, Index order) {
  const Index k = std::popcount(t);
  if (k < order) return brute_delta(v, t, 0);
  double sum = 0;
  for (std::uint64_t s = 0; s < (std::uint64_t{1} << n); ++s)
    if ((s & t) == 0) sum += brute_delta(v, t, s) / choose(n - 1, std::popcount(s));
  return sum * static_cast<double>(order) / static_cast<double>(n);
}

template <class V>
double brute_bii(const V& v, Index n, Index i, Index j) {
  const std::uint64_t t = (std::uint64_t{1} << i) | (std::uint64_t{1} << j);
  double sum = 0;
  for (std::uint64_t s = 0; s < (std::uint64_t{1} << n); ++s)
    if ((s & t) == 0) sum += brute_delta(v, t, s);
  return sum / std::ldexp(1.0, static_cast<int>(n - 2));
}

template <class V>
double brute_banzhaf(const V& v, Index n, Index i) {
  double sum = 0;
  for (std::uint64_t s = 0; s < (std::uint64_t{1} << n); ++s)
    if (!has(s, i)) sum += v(s | (std::uint64_t{1} << i)) - v(s);
  return sum / std::ldexp(1.0, static_cast<int>(n - 1));
}

template <class V>
vector brute_shapley(const V& v, Index n) {
  vector phi = vector::Zero(n);
  for (Index i = 0; i < n; ++i)
    for (std::uint64_t s = 0; s < (std::uint64_t{1} << n); ++s)
      if (!has(s, i)) {
        const Index size = std::popcount(s);
        phi(i) += factorial(size) * factorial(n - size - 1) / factorial(n) * (v(s | (std::uint64_t{1} << i)) - v(s));
      }
  return phi;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// RISE

TEST_CASE("RISE on a linear game: converges to c + w_i + p sum_{j != i} w_j within a few standard errors") {
  const Index n = 6;
  const double c = 0.7, p = 0.3;
  vector w(n);
  w << 1.0, -2.0, 0.5, 3.0, 0.0, -1.0;
  const coalition_game g(n, [&](std::uint64_t s) {
    double v = c;
    for (Index j = 0; j < n; ++j)
      if (has(s, j)) v += w(j);
    return v;
  });
  vector expected(n);
  for (Index i = 0; i < n; ++i) expected(i) = c + w(i) + p * (w.sum() - w(i));
  double previous_error = std::numeric_limits<double>::infinity(), previous_se = 0;
  for (std::size_t budget : {500u, 8000u, 128000u}) {
    const attribution a = rise{.neighborhood = {.keep_probability = p}, .solver = {.budget = budget}}.explain(g, {.seed = 3});
    REQUIRE(a.has_standard_errors());
    CHECK(a.game_evaluations == budget + 2);
    const double error = (a.values - expected).cwiseAbs().mean();
    for (Index i = 0; i < n; ++i) CHECK(std::abs(a.values(i) - expected(i)) < 4.5 * a.standard_errors(i));
    CHECK(error < previous_error);
    if (previous_se > 0) {
      const double ratio = previous_se / a.standard_errors.mean();  // budgets grow 16x: about 4
      CHECK(ratio > 3.0);
      CHECK(ratio < 5.0);
    }
    MESSAGE("RISE linear game, budget " << budget << ": mean |error| " << error << ", mean SE " << a.standard_errors.mean());
    previous_error = error;
    previous_se = a.standard_errors.mean();
  }
  CHECK(previous_error < 0.02);
}

TEST_CASE("RISE with p = 1/2 is E[v(S) | i in S] under uniform coalitions (brute force on a random game)") {
  const Index n = 5;
  rng random(11);
  std::vector<double> table(std::size_t{1} << n);
  for (auto& v : table) v = random.normal();
  const coalition_game g(n, [&](std::uint64_t s) { return table[s]; });
  // E[v(S) | i in S] = 2^-(n-1) sum_{S contains i} v(S): the "i in S" half of the Banzhaf value.
  vector expected = vector::Zero(n);
  for (Index i = 0; i < n; ++i)
    for (std::uint64_t s = 0; s < table.size(); ++s)
      if (has(s, i)) expected(i) += table[s] / std::ldexp(1.0, static_cast<int>(n - 1));
  const attribution a = rise{.neighborhood = {.keep_probability = 0.5}, .solver = {.budget = 40000}}.explain(g, {.seed = 5});
  for (Index i = 0; i < n; ++i) CHECK(std::abs(a.values(i) - expected(i)) < 4.5 * a.standard_errors(i));
  CHECK((a.values - expected).cwiseAbs().maxCoeff() < 0.03);
  CHECK(a.base_value == table[0]);
  CHECK(a.prediction == table.back());
  MESSAGE("RISE p = 1/2 vs brute force: max |error| " << (a.values - expected).cwiseAbs().maxCoeff());
}

TEST_CASE("RISE: same seed, same result on 1 and 2 threads; batched game calls; other seeds differ") {
  const Index n = 7;
  rows_only_game g(n, [](std::uint64_t s) { return std::sin(static_cast<double>(s)) + 0.1 * std::popcount(s); });
  const rise method{.neighborhood = {.keep_probability = 0.4}, .solver = {.budget = 9000}};
  const attribution one = method.explain(g, {.seed = 9, .threads = 1});
  CHECK(g.largest_batch.load() > 1000);  // the masks reach the game in batches, not one by one
  CHECK(g.calls.load() < 10);
  const attribution two = method.explain(g, {.seed = 9, .threads = 2});
  const attribution other = method.explain(g, {.seed = 10, .threads = 2});
  CHECK(one.values == two.values);
  CHECK(one.standard_errors == two.standard_errors);
  CHECK(one.values != other.values);
  // A larger budget extends the same masks: the first 9000 rows are shared.
  rng r1(9), r2(9);
  const neighborhood_sample small = bernoulli_coalitions{.keep_probability = 0.4}.sample(n, 100, r1);
  const neighborhood_sample large = bernoulli_coalitions{.keep_probability = 0.4}.sample(n, 300, r2);
  CHECK(small.points == large.points.topRows(100));
  // The keep rate of the masks is p.
  CHECK(std::abs(large.points.mean() - 0.4) < 0.05);
}

TEST_CASE("RISE over feature groups: a 2 x 2 grid of cells over a 4 x 4 image, each cell a player") {
  // A linear model on a 4 x 4 image; masked pixels take the baseline 0.
  const Index side = 4, pixels = side * side;
  vector weights(pixels), x(pixels);
  for (Index f = 0; f < pixels; ++f) weights(f) = 0.25 * static_cast<double>(f % 5) - 0.5, x(f) = 1.0 + 0.1 * static_cast<double>(f);
  const double bias = 0.3;
  function_model model(pixels, 1, [&](const matrix& in) {
    matrix y = (in * weights).array() + bias;
    return y;
  });
  std::vector<Index> labels(static_cast<std::size_t>(pixels));
  for (Index r = 0; r < side; ++r)
    for (Index col = 0; col < side; ++col) labels[static_cast<std::size_t>(r * side + col)] = (r / 2) * 2 + col / 2;
  const feature_groups cells = feature_groups::from_labels(labels);
  const auto game = masked_model(model, x, matrix::Zero(1, pixels), cells);
  REQUIRE(game.player_count() == 4);
  // Cell k contributes u_k = sum of w_f x_f over its pixels: closed form c + u_k + p sum_{l != k} u_l.
  vector u = vector::Zero(4);
  for (Index f = 0; f < pixels; ++f) u(labels[static_cast<std::size_t>(f)]) += weights(f) * x(f);
  const double p = 0.5;
  const attribution a = rise{.neighborhood = {.keep_probability = p}, .solver = {.budget = 20000}}.explain(game, {.seed = 2});
  for (Index k = 0; k < 4; ++k) {
    const double expected = bias + u(k) + p * (u.sum() - u(k));
    CHECK(std::abs(a.values(k) - expected) < 4.5 * a.standard_errors(k));
  }
  const vector map = rise_saliency_map(a, cells);
  REQUIRE(map.size() == pixels);
  for (Index f = 0; f < pixels; ++f) CHECK(map(f) == a.values(labels[static_cast<std::size_t>(f)]));
}

TEST_CASE("RISE soft grid masks: entries in [0, 1] with mean p, smooth between pixels, exact on a constant game") {
  const rise_grid_masks masks{.height = 12, .width = 10, .cells_y = 3, .cells_x = 2, .keep_probability = 0.3};
  rng random(4);
  const neighborhood_sample s = masks.sample(120, 4000, random);
  CHECK(s.points.minCoeff() >= 0.0);
  CHECK(s.points.maxCoeff() <= 1.0);
  CHECK(std::abs(s.points.mean() - 0.3) < 0.02);
  // Soft: many entries strictly between 0 and 1.
  CHECK((s.points.array() > 0.01 && s.points.array() < 0.99).count() > s.points.size() / 4);
  // Bilinear upsampling of cells of 4 x 5 pixels: neighbours differ by at most one grid step
  // per pixel, 1/4 vertically and 1/5 horizontally.
  double vertical = 0, horizontal = 0;
  for (Index r = 0; r < s.points.rows(); ++r)
    for (Index y = 0; y < 12; ++y)
      for (Index x = 0; x < 10; ++x) {
        if (y + 1 < 12) vertical = std::max(vertical, std::abs(s.points(r, y * 10 + x) - s.points(r, (y + 1) * 10 + x)));
        if (x + 1 < 10) horizontal = std::max(horizontal, std::abs(s.points(r, y * 10 + x) - s.points(r, y * 10 + x + 1)));
      }
  CHECK(vertical <= 0.25 + 1e-12);
  CHECK(horizontal <= 0.2 + 1e-12);
  // On a constant game v = 2, saliency_i = 2 mean(M_i) / p, which tends to 2.
  struct constant_game {
    Index player_count() const { return 120; }
    vector values(const matrix& points) const { return vector::Constant(points.rows(), 2.0); }
  };
  const attribution a = rise_soft_grid{.neighborhood = masks, .solver = {.budget = 4000}}.explain(constant_game{}, {.seed = 4});
  CHECK(std::abs(a.values.mean() - 2.0) < 0.05);
  CHECK_THROWS_WITH_AS(masks.sample(100, 10, random), doctest::Contains("expected height * width = 120"), invalid_argument);
}

TEST_CASE("RISE: bad keep probabilities, budgets and grids are rejected with messages") {
  const coalition_game g(3, [](std::uint64_t s) { return static_cast<double>(s); });
  CHECK_THROWS_WITH_AS(rise{.neighborhood = {.keep_probability = 0.0}}.explain(g), doctest::Contains("keep_probability must be in (0, 1)"), invalid_argument);
  CHECK_THROWS_WITH_AS(rise{.neighborhood = {.keep_probability = 1.5}}.explain(g), doctest::Contains("keep_probability must be in (0, 1), got 1.5"), invalid_argument);
  CHECK_THROWS_WITH_AS(rise{.neighborhood = {.keep_probability = std::nan("")}}.explain(g), doctest::Contains("keep_probability"), invalid_argument);
  CHECK_THROWS_WITH_AS(rise{.solver = {.budget = 1}}.explain(g), doctest::Contains("budget 1 is too small"), invalid_argument);
  const rise_grid_masks bad{.height = 4, .width = 4, .cells_y = 5, .cells_x = 2};
  rng random(1);
  CHECK_THROWS_WITH_AS(bad.sample(16, 10, random), doctest::Contains("the grid must have between 1 x 1 and height x width cells"), invalid_argument);
  attribution a;
  a.values = vector::Zero(3);
  CHECK_THROWS_WITH_AS(rise_saliency_map(a, feature_groups::singletons(4)), doctest::Contains("has 3 values but the feature groups have 4"), invalid_argument);
}

// ---------------------------------------------------------------------------------------------
// Interaction indices

TEST_CASE("interaction indices on v = sum a_i + sum b_ij: both give b_ij off the diagonal exactly; diagonals and STII efficiency") {
  const Index n = 7;
  const polynomial_game_coefficients p = random_polynomial(n, false, 21);
  const coalition_game g(n, p);
  const interaction_attribution st = shapley_taylor_interactions(g);
  const interaction_attribution bz = banzhaf_interactions(g);
  CHECK(st.diagonal == interaction_diagonal::singleton_effect);
  CHECK(bz.diagonal == interaction_diagonal::banzhaf_value);
  double worst = 0;
  for (Index i = 0; i < n; ++i)
    for (Index j = i + 1; j < n; ++j) {
      worst = std::max({worst, std::abs(st.values(i, j) - p.b(i, j)), std::abs(bz.values(i, j) - p.b(i, j))});
      CHECK(st.values(j, i) == st.values(i, j));
      CHECK(bz.values(j, i) == bz.values(i, j));
    }
  CHECK(worst < 1e-12);
  for (Index i = 0; i < n; ++i) {
    CHECK(st.values(i, i) == doctest::Approx(p.a(i)).epsilon(1e-12));  // v({i}) - v(empty)
    double banzhaf = p.a(i);                                           // a_i + sum_j b_ij / 2
    for (Index j = 0; j < n; ++j)
      if (j != i) banzhaf += 0.5 * p.b(std::min(i, j), std::max(i, j));
    CHECK(bz.values(i, i) == doctest::Approx(banzhaf).epsilon(1e-12));
  }
  CHECK(std::abs(st.efficiency_gap()) < 1e-12);
  CHECK(st.game_evaluations == (std::size_t{1} << n));
  MESSAGE("quadratic game: max |I_ij - b_ij| = " << worst << ", STII efficiency gap " << st.efficiency_gap());
}

TEST_CASE("interaction indices equal the textbook definitions on a random game with three-way terms (n = 6)") {
  const Index n = 6;
  const polynomial_game_coefficients p = random_polynomial(n, true, 33);
  rng random(34);
  std::vector<double> noise(std::size_t{1} << n);
  for (auto& v : noise) v = 0.3 * random.normal();
  const auto v = [&](std::uint64_t s) { return p(s) + noise[s]; };
  const coalition_game g(n, v);
  const interaction_attribution st = shapley_taylor_interactions(g);
  const interaction_attribution bz = banzhaf_interactions(g);
  double worst = 0;
  for (Index i = 0; i < n; ++i) {
    worst = std::max(worst, std::abs(st.values(i, i) - (v(std::uint64_t{1} << i) - v(0))));
    worst = std::max(worst, std::abs(bz.values(i, i) - brute_banzhaf(v, n, i)));
    for (Index j = i + 1; j < n; ++j) {
      const std::uint64_t t = (std::uint64_t{1} << i) | (std::uint64_t{1} << j);
      worst = std::max(worst, std::abs(st.values(i, j) - brute_stii(v, n, t, 2)));
      worst = std::max(worst, std::abs(bz.values(i, j) - brute_bii(v, n, i, j)));
    }
  }
  CHECK(worst < 1e-12);
  CHECK(std::abs(st.efficiency_gap()) < 1e-12);
  // The same game without the bitmask fast path, on 2 threads: the same numbers.
  rows_only_game rows(n, v);
  const interaction_attribution st_rows = shapley_taylor_interactions(rows, {.threads = 2});
  const interaction_attribution bz_rows = banzhaf_interactions(rows, {.threads = 2});
  CHECK((st_rows.values - st.values).cwiseAbs().maxCoeff() < 1e-13);
  CHECK((bz_rows.values - bz.values).cwiseAbs().maxCoeff() < 1e-13);
  MESSAGE("n = 6 three-way game: max |index - brute force| = " << worst);
}

TEST_CASE("interaction indices on unanimity games: STII splits equally over pairs of R, BII is 2^-(|R|-2)") {
  const Index n = 8;
  std::uint64_t r = 0b01101101;  // |R| = 5 (not const: the lambda captures it)
  const coalition_game u(n, [r](std::uint64_t s) { return (s & r) == r ? 1.0 : 0.0; });
  const interaction_attribution st = shapley_taylor_interactions(u);
  const interaction_attribution bz = banzhaf_interactions(u);
  for (Index i = 0; i < n; ++i)
    for (Index j = i + 1; j < n; ++j) {
      const bool inside = has(r, i) && has(r, j);
      CHECK(st.values(i, j) == doctest::Approx(inside ? 1.0 / 10.0 : 0.0).epsilon(1e-12));  // 1 / C(5, 2)
      CHECK(bz.values(i, j) == doctest::Approx(inside ? 1.0 / 8.0 : 0.0).epsilon(1e-12));    // 2^-(5-2)
    }
  for (Index i = 0; i < n; ++i) CHECK(st.values(i, i) == 0.0);
}

TEST_CASE("Shapley-Taylor of order 3: brute force, efficiency, unanimity distribution, and order 2 matches the matrix") {
  const Index n = 6;
  const polynomial_game_coefficients p = random_polynomial(n, true, 44);
  const coalition_game g(n, p);
  const std::vector<interaction_term> terms = shapley_taylor_terms(g, 3);
  CHECK(terms.size() == 6 + 15 + 20);
  double total = 0, worst = 0;
  for (const auto& term : terms) {
    std::uint64_t t = 0;
    for (Index q : term.players) t |= std::uint64_t{1} << q;
    worst = std::max(worst, std::abs(term.value - brute_stii(p, n, t, 3)));
    total += term.value;
  }
  CHECK(worst < 1e-12);
  CHECK(total == doctest::Approx(p((std::uint64_t{1} << n) - 1) - p(0)).epsilon(1e-12));
  // A unanimity game on 5 players: every triple of R gets 1 / C(5, 3).
  std::uint64_t r = 0b011111;
  const coalition_game u(n, [r](std::uint64_t s) { return (s & r) == r ? 1.0 : 0.0; });
  for (const auto& term : shapley_taylor_terms(u, 3)) {
    bool inside = term.players.size() == 3;
    for (Index q : term.players) inside = inside && has(r, q);
    CHECK(term.value == doctest::Approx(inside ? 0.1 : 0.0).epsilon(1e-12));
  }
  const interaction_attribution st = shapley_taylor_interactions(g);
  for (const auto& term : shapley_taylor_terms(g, 2)) {
    const Index i = term.players.front(), j = term.players.back();
    CHECK(term.value == doctest::Approx(st.values(i, j)).epsilon(1e-12));
  }
  MESSAGE("STII order 3: max |term - brute force| = " << worst);
}

TEST_CASE("msr_banzhaf_interactions converges to the exact Banzhaf interaction index; same seed, same result on 1 and 2 threads") {
  const Index n = 6;
  const polynomial_game_coefficients p = random_polynomial(n, true, 55);
  const coalition_game g(n, p);
  const interaction_attribution exact = banzhaf_interactions(g);
  double previous = std::numeric_limits<double>::infinity();
  for (std::size_t budget : {1000u, 16000u, 256000u}) {
    const interaction_attribution est = msr_banzhaf_interactions(g, {.budget = budget}, {.seed = 8});
    REQUIRE(est.has_standard_errors());
    CHECK(est.game_evaluations == budget);
    const double error = (est.values - exact.values).cwiseAbs().mean();
    Index outside = 0;
    for (Index i = 0; i < n; ++i)
      for (Index j = i; j < n; ++j)
        if (std::abs(est.values(i, j) - exact.values(i, j)) > 4.0 * est.standard_errors(i, j)) ++outside;
    CHECK(outside == 0);
    CHECK(error < previous);
    MESSAGE("MSR BII, budget " << budget << ": mean |error| " << error << ", mean SE " << est.standard_errors.mean());
    previous = error;
  }
  CHECK(previous < 0.02);
  const interaction_attribution one = msr_banzhaf_interactions(g, {.budget = 5000}, {.seed = 1, .threads = 1});
  const interaction_attribution two = msr_banzhaf_interactions(g, {.budget = 5000}, {.seed = 1, .threads = 2});
  CHECK(one.values == two.values);
}

TEST_CASE("permutation Shapley-Taylor converges to the brute-force index; same seed, same result on 1 and 2 threads") {
  const Index n = 6;
  const polynomial_game_coefficients p = random_polynomial(n, true, 66);
  const coalition_game g(n, p);
  matrix exact = matrix::Zero(n, n);
  for (Index i = 0; i < n; ++i) {
    exact(i, i) = p(std::uint64_t{1} << i) - p(0);
    for (Index j = i + 1; j < n; ++j)
      exact(i, j) = exact(j, i) = brute_stii(p, n, (std::uint64_t{1} << i) | (std::uint64_t{1} << j), 2);
  }
  double previous = std::numeric_limits<double>::infinity();
  for (std::size_t permutations : {200u, 3200u, 51200u}) {
    const interaction_attribution est = permutation_shapley_taylor_interactions(g, {.permutations = permutations}, {.seed = 4});
    REQUIRE(est.has_standard_errors());
    CHECK(est.game_evaluations == permutations * (1 + 6 + 15) + 7);
    CHECK((est.values.diagonal() - exact.diagonal()).cwiseAbs().maxCoeff() < 1e-12);
    Index outside = 0;
    for (Index i = 0; i < n; ++i)
      for (Index j = i + 1; j < n; ++j)
        if (std::abs(est.values(i, j) - exact(i, j)) > 4.0 * est.standard_errors(i, j)) ++outside;
    CHECK(outside == 0);
    const double error = (est.values - exact).cwiseAbs().sum() / static_cast<double>(n * (n - 1));
    CHECK(error < previous);
    MESSAGE("permutation STII, " << permutations << " orders: mean |error| " << error << ", mean SE "
                                 << est.standard_errors.sum() / static_cast<double>(n * (n - 1)));
    previous = error;
  }
  CHECK(previous < 0.02);
  const interaction_attribution one = permutation_shapley_taylor_interactions(g, {.permutations = 500}, {.seed = 2, .threads = 1});
  const interaction_attribution two = permutation_shapley_taylor_interactions(g, {.permutations = 500}, {.seed = 2, .threads = 2});
  CHECK(one.values == two.values);
  CHECK_THROWS_WITH_AS(permutation_shapley_taylor_interactions(g, {.permutations = 1}), doctest::Contains("permutations must be at least 2, got 1"), invalid_argument);
}

TEST_CASE("interaction indices: bad player counts, orders and budgets are rejected with messages") {
  const coalition_game one(1, [](std::uint64_t) { return 1.0; });
  CHECK_THROWS_WITH_AS(shapley_taylor_interactions(one), doctest::Contains("the game has 1 players; expected at least 2"), invalid_argument);
  CHECK_THROWS_WITH_AS(banzhaf_interactions(one), doctest::Contains("expected at least 2"), invalid_argument);
  const coalition_game big(25, [](std::uint64_t) { return 1.0; });
  CHECK_THROWS_WITH_AS(banzhaf_interactions(big), doctest::Contains("needs n <= 24, got n = 25"), invalid_argument);
  CHECK_THROWS_WITH_AS(shapley_taylor_terms(big, 2), doctest::Contains("expected 1 <= n <= 16"), invalid_argument);
  const coalition_game three(3, [](std::uint64_t s) { return static_cast<double>(s); });
  CHECK_THROWS_WITH_AS(shapley_taylor_terms(three, 4), doctest::Contains("order must be in [1, 3]"), invalid_argument);
  CHECK_THROWS_WITH_AS(shapley_taylor_terms(three, 0), doctest::Contains("order must be in [1, 3]"), invalid_argument);
  CHECK_THROWS_WITH_AS(msr_banzhaf_interactions(three, {.budget = 3}), doctest::Contains("budget must be in [4, 2^28]"), invalid_argument);
  const coalition_game nan_game(3, [](std::uint64_t s) { return s == 5 ? std::nan("") : 1.0; });
  CHECK_THROWS_WITH_AS(shapley_taylor_interactions(nan_game), doctest::Contains("coalition 5 is not finite"), invalid_argument);
}

// ---------------------------------------------------------------------------------------------
// Linear programs and projections

TEST_CASE("linear program: hand-solved programs, their shadow prices, and Beale's cycling example") {
  // max 3x + 5y s.t. x <= 4, 2y <= 12, 3x + 2y <= 18: (2, 6), value 36, shadow prices (0, 3/2, 1).
  linear_program lp;
  lp.objective = vector(2);
  lp.objective << -3, -5;
  lp.constraints = matrix(3, 2);
  lp.constraints << 1, 0, 0, 2, 3, 2;
  lp.senses.assign(3, constraint_sense::less_equal);
  lp.bounds = vector(3);
  lp.bounds << 4, 12, 18;
  linear_program_solution s = solve_linear_program(lp);
  CHECK(s.x(0) == doctest::Approx(2));
  CHECK(s.x(1) == doctest::Approx(6));
  CHECK(s.objective == doctest::Approx(-36));
  CHECK(s.duals(0) == doctest::Approx(0).epsilon(1e-12));
  CHECK(s.duals(1) == doctest::Approx(-1.5));
  CHECK(s.duals(2) == doctest::Approx(-1));

  // min 2x + 3y s.t. x + y >= 4, x - y = 1, written with a negative right side: -x - y <= -4.
  // x = y + 1 gives 5y + 2 with y >= 3/2: (5/2, 3/2), value 19/2.
  lp.objective << 2, 3;
  lp.constraints = matrix(2, 2);
  lp.constraints << -1, -1, 1, -1;
  lp.senses = {constraint_sense::less_equal, constraint_sense::equal};
  lp.bounds = vector(2);
  lp.bounds << -4, 1;
  s = solve_linear_program(lp);
  CHECK(s.x(0) == doctest::Approx(2.5));
  CHECK(s.x(1) == doctest::Approx(1.5));
  CHECK(s.objective == doctest::Approx(9.5));
  // Shadow prices against finite differences of the optimum: value(b1, b2) = (5 (-b1) - b2) / 2,
  // so y = (-5/2, -1/2).
  CHECK(s.duals(0) == doctest::Approx(-2.5));
  CHECK(s.duals(1) == doctest::Approx(-0.5));
  for (Index row = 0; row < 2; ++row) {
    linear_program shifted = lp;
    shifted.bounds(row) += 1e-3;
    CHECK(s.duals(row) == doctest::Approx((solve_linear_program(shifted).objective - s.objective) / 1e-3).epsilon(1e-6));
  }

  // Beale (1955): cycles under Dantzig's rule; Bland's rule reaches the optimum -5/4.
  linear_program beale;
  beale.objective = vector(4);
  beale.objective << -0.75, 20, -0.5, 6;
  beale.constraints = matrix(3, 4);
  beale.constraints << 0.25, -8, -1, 9, 0.5, -12, -0.5, 3, 0, 0, 1, 0;
  beale.senses.assign(3, constraint_sense::less_equal);
  beale.bounds = vector(3);
  beale.bounds << 0, 0, 1;
  s = solve_linear_program(beale);
  CHECK(s.objective == doctest::Approx(-1.25));
  CHECK(s.x(0) == doctest::Approx(1));
  CHECK(s.x(2) == doctest::Approx(1));
}

TEST_CASE("linear program: random programs against brute force over vertices, with strong duality") {
  rng random(77);
  for (int trial = 0; trial < 40; ++trial) {
    const Index n = 3, m = 6;
    linear_program lp;
    lp.objective = vector(n);
    for (Index j = 0; j < n; ++j) lp.objective(j) = random.normal();
    lp.constraints = matrix(m, n);
    lp.bounds = vector(m);
    lp.senses.assign(static_cast<std::size_t>(m), constraint_sense::less_equal);
    for (Index i = 0; i < m; ++i) {
      for (Index j = 0; j < n; ++j) lp.constraints(i, j) = random.normal();
      lp.bounds(i) = 0.5 + random.uniform();
    }
    // A box keeps it bounded: x_j <= 3 written as the rows of a >= constraint, -x_j >= -3.
    lp.constraints.conservativeResize(m + n, n);
    lp.bounds.conservativeResize(m + n);
    for (Index j = 0; j < n; ++j) {
      lp.constraints.row(m + j).setZero();
      lp.constraints(m + j, j) = -1;
      lp.bounds(m + j) = -3;
      lp.senses.push_back(constraint_sense::greater_equal);
    }
    // Brute force: every vertex is where 3 of the rows (or x_j = 0) hold with equality.
    const Index rows = m + n;
    matrix all(rows + n, n);
    vector rhs(rows + n);
    for (Index i = 0; i < rows; ++i) {
      const double sign = lp.senses[static_cast<std::size_t>(i)] == constraint_sense::less_equal ? 1.0 : -1.0;
      all.row(i) = sign * lp.constraints.row(i);  // all x <= rhs
      rhs(i) = sign * lp.bounds(i);
    }
    all.bottomRows(n) = -matrix::Identity(n, n);
    rhs.tail(n).setZero();
    double best = std::numeric_limits<double>::infinity();
    for (Index a = 0; a < rows + n; ++a)
      for (Index b = a + 1; b < rows + n; ++b)
        for (Index c = b + 1; c < rows + n; ++c) {
          matrix k(3, 3);
          k << all.row(a), all.row(b), all.row(c);
          vector r(3);
          r << rhs(a), rhs(b), rhs(c);
          Eigen::FullPivLU<matrix> lu(k);
          if (lu.rank() < 3) continue;
          const vector x = lu.solve(r);
          if (((all * x - rhs).array() <= 1e-9).all()) best = std::min(best, lp.objective.dot(x));
        }
    const linear_program_solution s = solve_linear_program(lp);
    CHECK(s.objective == doctest::Approx(best).epsilon(1e-9));
    // Feasible, and the shadow prices certify optimality: A^T y <= c, b^T y = c^T x, signs by sense.
    CHECK(((all.topRows(rows) * s.x - rhs.head(rows)).array() <= 1e-9).all());
    CHECK((s.x.array() >= -1e-12).all());
    CHECK(((lp.constraints.transpose() * s.duals - lp.objective).array() <= 1e-9).all());
    CHECK(lp.bounds.dot(s.duals) == doctest::Approx(s.objective).epsilon(1e-9));
    for (Index i = 0; i < rows; ++i)
      CHECK(s.duals(i) * (lp.senses[static_cast<std::size_t>(i)] == constraint_sense::less_equal ? -1.0 : 1.0) >= -1e-12);
  }
}

TEST_CASE("linear program: infeasible, unbounded and malformed programs throw with messages") {
  linear_program lp;
  lp.objective = vector::Ones(2);
  lp.constraints = matrix(2, 2);
  lp.constraints << 1, 1, 1, 1;
  lp.senses = {constraint_sense::less_equal, constraint_sense::greater_equal};
  lp.bounds = vector(2);
  lp.bounds << 1, 2;  // x + y <= 1 and x + y >= 2
  CHECK_THROWS_WITH_AS(solve_linear_program(lp), doctest::Contains("the constraints are infeasible"), invalid_argument);
  lp.objective << -1, 0;
  lp.senses = {constraint_sense::greater_equal, constraint_sense::greater_equal};
  CHECK_THROWS_WITH_AS(solve_linear_program(lp), doctest::Contains("the objective is unbounded below"), invalid_argument);
  linear_program bad = lp;
  bad.bounds = vector::Ones(3);
  CHECK_THROWS_WITH_AS(solve_linear_program(bad), doctest::Contains("bounds has size 3, expected 2"), invalid_argument);
  bad = lp;
  bad.senses.pop_back();
  CHECK_THROWS_WITH_AS(solve_linear_program(bad), doctest::Contains("senses has size 1, expected 2"), invalid_argument);
  bad = lp;
  bad.constraints(0, 1) = std::nan("");
  CHECK_THROWS_WITH_AS(solve_linear_program(bad), doctest::Contains("constraints must be finite"), invalid_argument);
  bad = lp;
  bad.objective = vector();
  CHECK_THROWS_WITH_AS(solve_linear_program(bad), doctest::Contains("objective is empty"), invalid_argument);
}

TEST_CASE("polyhedron projection: onto the probability simplex equals the sort-based closed form") {
  rng random(91);
  const Index n = 6;
  for (int trial = 0; trial < 30; ++trial) {
    vector t(n);
    for (Index j = 0; j < n; ++j) t(j) = 2.0 * random.normal();
    // Closed form (Held, Wolfe and Crowder 1974): x = max(t - tau, 0), tau from the sorted t.
    std::vector<double> sorted(t.data(), t.data() + n);
    std::sort(sorted.rbegin(), sorted.rend());
    double cumulative = 0, tau = 0;
    for (Index k = 0; k < n; ++k) {
      cumulative += sorted[static_cast<std::size_t>(k)];
      const double candidate = (cumulative - 1.0) / static_cast<double>(k + 1);
      if (sorted[static_cast<std::size_t>(k)] - candidate > 0) tau = candidate;
    }
    const vector expected = (t.array() - tau).max(0.0).matrix();
    polyhedron_projection_problem p;
    p.target = t;
    p.equalities = matrix::Ones(1, n);
    p.equality_bounds = vector::Ones(1);
    p.inequalities = matrix::Identity(n, n);
    p.inequality_bounds = vector::Zero(n);
    const polyhedron_projection_result r = project_onto_polyhedron(p);
    CHECK((r.x - expected).cwiseAbs().maxCoeff() < 1e-12);
    CHECK(r.max_violation < 1e-12);
    // KKT: x - t = lambda 1 + multipliers, multipliers >= 0 and zero where x > 0.
    const vector gap = r.x - t - r.multipliers;
    CHECK((gap.array() - gap(0)).abs().maxCoeff() < 1e-12);
  }
  polyhedron_projection_problem empty;
  empty.target = vector::Zero(1);
  empty.equalities = matrix(0, 1);
  empty.equality_bounds = vector(0);
  empty.inequalities = matrix(2, 1);
  empty.inequalities << 1, -1;
  empty.inequality_bounds = vector(2);
  empty.inequality_bounds << 1, 0;  // x >= 1 and x <= 0
  CHECK_THROWS_WITH_AS(project_onto_polyhedron(empty), doctest::Contains("the constraints are infeasible"), invalid_argument);
}

// ---------------------------------------------------------------------------------------------
// The core value

TEST_CASE("core value of a convex game: in the core (every constraint by enumeration), e* <= 0, no larger in norm than the Shapley value") {
  const Index n = 8;
  rng random(12);
  vector w(n);
  for (Index i = 0; i < n; ++i) w(i) = 0.5 + random.uniform();
  // v(S) = (sum_{i in S} w_i)^2 is supermodular, so its core is non-empty and holds the Shapley value.
  const auto v = [&](std::uint64_t s) {
    double total = 0;
    for (Index i = 0; i < n; ++i)
      if (has(s, i)) total += w(i);
    return total * total;
  };
  const coalition_game g(n, v);
  const core_value_result r = core_value(g);
  const vector& x = r.allocation.values;
  CHECK(r.least_core_excess <= 1e-9);
  CHECK(x.sum() == doctest::Approx(v((std::uint64_t{1} << n) - 1)).epsilon(1e-12));
  double worst = -std::numeric_limits<double>::infinity();
  for (std::uint64_t s = 1; s + 1 < (std::uint64_t{1} << n); ++s) {
    double xs = 0;
    for (Index i = 0; i < n; ++i)
      if (has(s, i)) xs += x(i);
    worst = std::max(worst, v(s) - xs);
  }
  CHECK(worst <= r.least_core_excess + 1e-7);  // x(S) + e* >= v(S) for every S
  CHECK(worst >= r.least_core_excess - 1e-7);  // and e* is attained: it is the least excess of x
  // The Shapley value is in the core (Shapley 1971), so the least-norm core point is no longer.
  const vector phi = brute_shapley(v, n);
  CHECK(x.norm() <= phi.norm() + 1e-9);
  CHECK(r.allocation.fit.exhaustive);
  CHECK(r.allocation.game_evaluations == (std::size_t{1} << n));
  MESSAGE("convex game n = 8: e* = " << r.least_core_excess << ", max excess " << worst << ", |x| " << x.norm()
                                     << " vs |Shapley| " << phi.norm() << ", pivots " << r.simplex_pivots);
}

TEST_CASE("core value: symmetric game -> equal split; additive game -> x_i = v({i}); the tie-break picks the closest least-core point") {
  // Symmetric (and with an empty core): v(S) = sqrt(|S|).
  const Index n = 7;
  const coalition_game sym(n, [](std::uint64_t s) { return std::sqrt(static_cast<double>(std::popcount(s))); });
  const core_value_result r = core_value(sym);
  CHECK((r.allocation.values.array() - std::sqrt(7.0) / 7.0).abs().maxCoeff() < 1e-9);
  // At the equal split the excess of a coalition of size s is sqrt(s) - s sqrt(7) / 7; e* is the
  // largest (s = 2), positive because sqrt is concave: the core is empty.
  double largest = -1;
  for (int s = 1; s < 7; ++s) largest = std::max(largest, std::sqrt(s) - s * std::sqrt(7.0) / 7.0);
  CHECK(largest > 0);
  CHECK(r.least_core_excess == doctest::Approx(largest).epsilon(1e-9));

  vector a(5);
  a << 1.0, -2.0, 0.5, 4.0, 0.0;
  const coalition_game additive(5, [&](std::uint64_t s) {
    double total = 0;
    for (Index i = 0; i < 5; ++i)
      if (has(s, i)) total += a(i);
    return total;
  });
  const core_value_result ra = core_value(additive);
  CHECK((ra.allocation.values - a).cwiseAbs().maxCoeff() < 1e-7);
  CHECK(std::abs(ra.least_core_excess) < 1e-9);
  // A constant added to every coalition (a masked model's value at the baseline) moves the base
  // value, not the allocation: the core divides v(N) - v(empty).
  const coalition_game shifted(5, [&](std::uint64_t s) {
    double total = 3.0;
    for (Index i = 0; i < 5; ++i)
      if (has(s, i)) total += a(i);
    return total;
  });
  const core_value_result rsh = core_value(shifted);
  CHECK((rsh.allocation.values - a).cwiseAbs().maxCoeff() < 1e-7);
  CHECK(rsh.allocation.base_value == doctest::Approx(3.0));
  CHECK(std::abs(rsh.allocation.efficiency_gap()) < 1e-7);

  // v({0, 1}) = v(N) = 1, else 0: e* = 0 and the least core is the segment (t, 1 - t, 0), t in [0, 1].
  const coalition_game segment(3, [](std::uint64_t s) { return (s & 3u) == 3u ? 1.0 : 0.0; });
  const core_value_result rs = core_value(segment);
  CHECK(std::abs(rs.least_core_excess) < 1e-9);
  CHECK((rs.allocation.values - Eigen::Vector3d(0.5, 0.5, 0.0)).cwiseAbs().maxCoeff() < 1e-7);
  vector target(3);
  target << 2.0, -1.0, 0.0;
  const core_value_result rt = core_value(segment, {.tie_break = target});
  CHECK((rt.allocation.values - Eigen::Vector3d(1.0, 0.0, 0.0)).cwiseAbs().maxCoeff() < 1e-7);
}

TEST_CASE("core value: the 3-player majority game (scaled by 6) has an empty core, e* = 2 and x = (2, 2, 2)") {
  const coalition_game majority(3, [](std::uint64_t s) { return std::popcount(s) >= 2 ? 6.0 : 0.0; });
  const core_value_result r = core_value(majority);
  CHECK(r.least_core_excess == doctest::Approx(2.0).epsilon(1e-12));
  CHECK((r.allocation.values.array() - 2.0).abs().maxCoeff() < 1e-9);
  CHECK(r.least_core_violation < 1e-7);
  // The unscaled game: e* = 1/3, x = (1/3, 1/3, 1/3).
  const coalition_game unit(3, [](std::uint64_t s) { return std::popcount(s) >= 2 ? 1.0 : 0.0; });
  const core_value_result u = core_value(unit);
  CHECK(u.least_core_excess == doctest::Approx(1.0 / 3.0).epsilon(1e-12));
  CHECK((u.allocation.values.array() - 1.0 / 3.0).abs().maxCoeff() < 1e-9);
}

TEST_CASE("core value: 12 players run, through the rows path, equal on 1 and 2 threads") {
  const Index n = 12;
  rng random(5);
  std::vector<double> table(std::size_t{1} << n);
  for (std::uint64_t s = 0; s < table.size(); ++s) table[s] = std::popcount(s) + 0.5 * random.uniform();
  rows_only_game g(n, [&](std::uint64_t s) { return table[s]; });
  const core_value_result one = core_value(g, {}, {.threads = 1});
  const core_value_result two = core_value(g, {}, {.threads = 2});
  CHECK(one.allocation.values == two.allocation.values);
  double worst = -std::numeric_limits<double>::infinity();
  for (std::uint64_t s = 1; s + 1 < table.size(); ++s) {
    double xs = 0;
    for (Index i = 0; i < n; ++i)
      if (has(s, i)) xs += one.allocation.values(i);
    worst = std::max(worst, table[s] - table[0] - xs);  // the core of v - v(empty)
  }
  CHECK(table[0] > 0.0);
  CHECK(std::abs(worst - one.least_core_excess) < 1e-7);
  CHECK(one.allocation.values.sum() == doctest::Approx(table.back() - table[0]).epsilon(1e-12));
  MESSAGE("n = 12 random game: e* = " << one.least_core_excess << ", pivots " << one.simplex_pivots
                                      << ", projection iterations " << one.projection_iterations);
}

TEST_CASE("core value: bad player counts, tie-breaks and game values are rejected with messages") {
  const coalition_game one(1, [](std::uint64_t) { return 1.0; });
  CHECK_THROWS_WITH_AS(core_value(one), doctest::Contains("the game has 1 players; expected 2 <= n <= 16"), invalid_argument);
  const coalition_game big(17, [](std::uint64_t) { return 1.0; });
  CHECK_THROWS_WITH_AS(core_value(big), doctest::Contains("expected 2 <= n <= 16"), invalid_argument);
  const coalition_game three(3, [](std::uint64_t s) { return static_cast<double>(std::popcount(s)); });
  CHECK_THROWS_WITH_AS(core_value(three, {.tie_break = vector::Zero(2)}), doctest::Contains("tie_break has size 2, expected 0 (the origin) or 3"), invalid_argument);
  CHECK_THROWS_WITH_AS(core_value(three, {.tie_break = vector::Constant(3, std::nan(""))}), doctest::Contains("tie_break must be finite"), invalid_argument);
  CHECK_THROWS_WITH_AS(core_value(three, {.tie_break = vector(), .tolerance = 0.5}), doctest::Contains("tolerance must be in (0, 0.001)"), invalid_argument);
  const coalition_game inf_game(3, [](std::uint64_t s) { return s == 6 ? std::numeric_limits<double>::infinity() : 0.0; });
  CHECK_THROWS_WITH_AS(core_value(inf_game), doctest::Contains("coalition 6 is not finite"), invalid_argument);
}
