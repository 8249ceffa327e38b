// Node regression with edge features on particle systems (issue #16, item 3): the packing, the
// neighbour lists and the target against hand-built systems and closed forms, the model's
// gradient against central differences, training, the explanation games against their axioms,
// and bad input.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "attrib/games/particle_games.hpp"
#include "attrib/graph/particle_system.hpp"
#include "attrib/methods/feature/shapley.hpp"
#include "attrib/methods/graph/fidelity.hpp"
#include "attrib/methods/graph/myerson.hpp"
#include "attrib/models/gnn/edge_message_regressor.hpp"

using Index = attrib::index;

namespace {

// Four particles on a line in a box of side 10: at x = 1, 1.9, 3.5 and 9.5 (9.5 is 1.5 from 1
// through the boundary).
attrib::particle_system line() {
  attrib::particle_system s;
  s.box = 10.0;
  s.positions = attrib::matrix::Zero(4, 3);
  s.positions.col(0) << 1.0, 1.9, 3.5, 9.5;
  s.types = {0, 1, 0, 0};
  return s;
}

attrib::vector targets_of(const attrib::particle_system& s, const attrib::neighbour_lists& lists) {
  attrib::vector t(s.size());
  for (Index i = 0; i < s.size(); ++i) t(i) = attrib::local_density_quantity(s, lists, i, attrib::vector::Ones(lists.k));
  return t;
}

}  // namespace

TEST_CASE("particle systems: neighbours by minimum image, the local quantity in closed form, packings keep the hard core") {
  const auto s = line();
  attrib::check_particle_system(s);
  const auto lists = attrib::nearest_neighbours(s, 2);
  // Particle 0 (x = 1): particle 1 at +0.9, particle 3 at -1.5 through the boundary.
  CHECK(lists.of(0, 0) == 1);
  CHECK(lists.of(0, 1) == 3);
  CHECK(lists.displacement(0, 1).x() == doctest::Approx(-1.5));
  // Particle 2 (x = 3.5): particle 1 at -1.6, then particle 0 at -2.5.
  CHECK(lists.of(2, 0) == 1);
  CHECK(lists.of(2, 1) == 0);
  // q for particle 0: the A-B neighbour at 0.9 inside 1.25 * 0.8; the A-A one at 1.5 beyond 1.25.
  const double x = 0.9 / (1.25 * 0.8);
  CHECK(attrib::local_density_quantity(s, lists, 0, attrib::vector::Ones(2)) ==
        doctest::Approx(std::sqrt(1.5) * (1.0 - x * x)));
  CHECK(attrib::within_cutoff(s, lists, 0, 0));
  CHECK_FALSE(attrib::within_cutoff(s, lists, 0, 1));
  CHECK(attrib::local_density_quantity(s, lists, 0, attrib::vector::Zero(2)) == 0.0);

  const auto packing = attrib::make_binary_packing({.particles = 120, .seed = 4});
  CHECK(packing.size() == 120);
  CHECK(std::count(packing.types.begin(), packing.types.end(), 1) == 24);
  CHECK(packing.box == doctest::Approx(std::cbrt(100.0)));
  attrib::check_particle_system(packing, 0.78);
  CHECK(attrib::make_binary_packing({.particles = 120, .seed = 4}).positions == packing.positions);
  CHECK(attrib::make_binary_packing({.particles = 120, .seed = 5}).positions != packing.positions);
}

TEST_CASE("particle systems: bad input is named") {
  auto s = line();
  s.positions(3, 0) = 1.1;  // 0.1 from particle 0
  CHECK_THROWS_WITH_AS(attrib::check_particle_system(s), doctest::Contains("particles 0 and 3 overlap"), attrib::invalid_argument);
  s = line();
  s.positions(2, 1) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH_AS(attrib::check_particle_system(s), doctest::Contains("NaN"), attrib::invalid_argument);
  s = line();
  s.types[1] = 2;
  CHECK_THROWS_WITH_AS(attrib::check_particle_system(s), doctest::Contains("type 2"), attrib::invalid_argument);
  s = line();
  s.types.pop_back();
  CHECK_THROWS_WITH_AS(attrib::check_particle_system(s), doctest::Contains("3 types for 4 particles"), attrib::invalid_argument);
  s = line();
  s.box = 0.0;
  CHECK_THROWS_WITH_AS(attrib::check_particle_system(s), doctest::Contains("box side"), attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::nearest_neighbours(line(), 4), doctest::Contains("k must be in [1, 3]"), attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::make_binary_packing({.particles = 200, .density = 1.9, .hard_core = 0.95, .attempts = 20000}),
                       doctest::Contains("lower the density"), attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::make_binary_packing({.particles = 1}), doctest::Contains("particles must be"), attrib::invalid_argument);
}

TEST_CASE("edge message regressor: the loss gradient equals central differences; training fits held-out packings") {
  std::vector<attrib::particle_system> systems;
  std::vector<attrib::neighbour_lists> lists;
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    systems.push_back(attrib::make_binary_packing({.particles = 64, .seed = seed}));
    lists.push_back(attrib::nearest_neighbours(systems.back(), 12));
  }
  std::vector<attrib::particle_graph> train = {{&systems[0], &lists[0], targets_of(systems[0], lists[0])},
                                               {&systems[1], &lists[1], targets_of(systems[1], lists[1])}};
  attrib::edge_message_regressor model({.basis = 6, .edge_hidden = 8, .message = 4, .node_hidden = 8, .seed = 2});
  const attrib::vector theta = model.parameters();
  const attrib::vector g = model.loss_gradient(train);
  REQUIRE(g.size() == theta.size());
  const double h = 1e-6;
  for (Index p = 0; p < theta.size(); p += 7) {
    attrib::vector plus = theta, minus = theta;
    plus(p) += h;
    minus(p) -= h;
    model.set_parameters(plus);
    const double up = model.loss(train);
    model.set_parameters(minus);
    const double down = model.loss(train);
    CAPTURE(p);
    CHECK((up - down) / (2 * h) == doctest::Approx(g(p)).epsilon(1e-5).scale(1e-6));
  }
  model.set_parameters(theta);

  const auto history = model.fit(train, {.epochs = 400, .learning_rate = 1e-2});
  CHECK(history.back() < 0.1 * history.front());
  const attrib::vector t = targets_of(systems[2], lists[2]);
  const attrib::vector y = model.predict(systems[2], lists[2]);
  const double r2 = 1.0 - (y - t).squaredNorm() / (t.array() - t.mean()).matrix().squaredNorm();
  CHECK(r2 > 0.8);

  CHECK_THROWS_WITH_AS(model.fit({}), doctest::Contains("no particle systems"), attrib::invalid_argument);
  std::vector<attrib::particle_graph> bad = {{&systems[0], &lists[0], attrib::vector::Zero(3)}};
  CHECK_THROWS_WITH_AS(model.fit(bad), doctest::Contains("3 targets for 64 particles"), attrib::invalid_argument);
  bad[0].targets = targets_of(systems[0], lists[0]);
  bad[0].targets(5) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH_AS(model.fit(bad), doctest::Contains("NaN"), attrib::invalid_argument);

  // The explanations find what the target reads: exact Shapley values on the neighbourhood game
  // rank the neighbours inside the target's cutoff above those beyond it (ROC-AUC), on particles
  // that have both.
  double auc = 0.0;
  int counted = 0;
  for (Index i = 0; i < systems[2].size(); ++i) {
    std::vector<char> inside(12);
    for (Index m = 0; m < 12; ++m) inside[static_cast<std::size_t>(m)] = attrib::within_cutoff(systems[2], lists[2], i, m);
    const auto positives = std::count(inside.begin(), inside.end(), 1);
    if (positives == 0 || positives == 12) continue;
    const attrib::vector values = attrib::exact_shapley{}.explain(attrib::neighbour_game(model, systems[2], lists[2], i)).values;
    auc += attrib::roc_auc(values.cwiseAbs(), inside);
    ++counted;
  }
  REQUIRE(counted >= 20);
  CHECK(auc / counted > 0.8);

  SUBCASE("the explanation games") {
    const auto& s = systems[2];
    const auto& l = lists[2];
    const Index i = 7;
    const attrib::neighbour_game game(model, s, l, i);
    REQUIRE(game.player_count() == 12);
    attrib::matrix ends(2, 12);
    ends.row(0).setOnes();
    ends.row(1).setZero();
    const attrib::vector v = game.values(ends);
    // The prediction less the particle's alone (no messages), and nothing at the empty coalition.
    const double alone = model.readout(Eigen::RowVectorXd::Zero(4), s.types[static_cast<std::size_t>(i)]);
    CHECK(v(0) == doctest::Approx(y(i) - alone).epsilon(1e-12));
    CHECK(v(1) == 0.0);
    const auto shapley = attrib::exact_shapley{}.explain(game);
    CHECK(shapley.values.sum() == doctest::Approx(y(i) - alone).epsilon(1e-9));
    // Neighbours at or beyond the cutoff send exactly nothing: dummy players, value 0.
    for (Index m = 0; m < 12; ++m)
      if (l.displacement(i, m).norm() >= model.config().envelope) CHECK(shapley.values(m) == 0.0);
    // On the complete graph of neighbours, the Myerson value is the Shapley value.
    std::vector<std::uint64_t> complete(12);
    for (Index a = 0; a < 12; ++a) complete[static_cast<std::size_t>(a)] = ((std::uint64_t{1} << 12) - 1) & ~(std::uint64_t{1} << a);
    const auto myerson = attrib::myerson_value{}.explain(game, complete);
    for (Index m = 0; m < 12; ++m) CHECK(myerson.values(m) == doctest::Approx(shapley.values(m)).scale(1e-9));
    // The induced graph: symmetric, no self loops, and edge (a, b) exactly when the lists say so.
    const auto adjacency = attrib::neighbour_adjacency(l, i);
    for (Index a = 0; a < 12; ++a)
      for (Index b = 0; b < 12; ++b) {
        const bool edge = (adjacency[static_cast<std::size_t>(a)] >> b) & 1;
        CHECK(edge == static_cast<bool>((adjacency[static_cast<std::size_t>(b)] >> a) & 1));
        bool listed = false;
        for (Index m = 0; m < 12 && a != b; ++m)
          listed = listed || l.of(l.of(i, a), m) == l.of(i, b) || l.of(l.of(i, b), m) == l.of(i, a);
        CHECK(edge == listed);
      }

    const attrib::edge_feature_game features(model, s, l, i);
    CHECK(features.values(attrib::matrix::Ones(1, 3))(0) == doctest::Approx(y(i)).epsilon(1e-12));
    // Every group absent: every edge reads the training mean, whatever the particle's geometry.
    const attrib::edge_feature_game other(model, s, l, i + 1);
    if (s.types[static_cast<std::size_t>(i)] == s.types[static_cast<std::size_t>(i + 1)])
      CHECK(features.values(attrib::matrix::Zero(1, 3))(0) == doctest::Approx(other.values(attrib::matrix::Zero(1, 3))(0)).epsilon(1e-12));
    CHECK_THROWS_WITH_AS(attrib::neighbour_game(model, s, l, 64), doctest::Contains("particle 64 is outside"), attrib::invalid_argument);
    CHECK_THROWS_WITH_AS(game.values(attrib::matrix::Ones(1, 3)), doctest::Contains("expected 12"), attrib::invalid_argument);
    const attrib::edge_message_regressor unfitted;
    CHECK_THROWS_WITH_AS(attrib::edge_feature_game(unfitted, s, l, 0), doctest::Contains("has not been fitted"), attrib::invalid_argument);
  }
}
