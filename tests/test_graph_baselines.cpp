// SubgraphX and GraphSVX, the GStarX table's search-based and surrogate baselines: on a graph
// with a planted motif and a model that reads only the motif, SubgraphX's best small subgraph is
// the motif and GraphSVX ranks the motif first; GraphSVX against the exact node Shapley values
// of a GCN's node-removal game; seeds and thread counts; bad input.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <utility>
#include <vector>

#include "attrib/games/node_removal_game.hpp"
#include "attrib/graph/generators.hpp"
#include "attrib/methods/feature/shapley.hpp"
#include "attrib/methods/graph/graphsvx.hpp"
#include "attrib/methods/graph/subgraphx.hpp"
#include "attrib/models/gnn/gcn.hpp"

namespace {

// A 4-cycle motif 0-1-2-3 with two tails, 3-4-5-6 and 1-7-8-9.
attrib::gcn_input motif_graph() {
  const std::vector<std::pair<attrib::index, attrib::index>> edges = {{0, 1}, {1, 2}, {2, 3}, {3, 0}, {3, 4},
                                                      {4, 5}, {5, 6}, {1, 7}, {7, 8}, {8, 9}};
  attrib::gcn_input in{attrib::matrix::Zero(10, 10), attrib::matrix::Ones(10, 1)};
  for (const auto& [u, v] : edges) in.adjacency(u, v) = in.adjacency(v, u) = 1.0;
  return in;
}

// p_1 = 0.1 + 0.8 (k / 4)^2 with k the kept motif nodes: the tails never matter.
struct motif_model {
  attrib::vector probabilities(const attrib::gcn_input&, const attrib::vector& keep) const {
    double k = 0;
    for (attrib::index i = 0; i < 4; ++i) k += keep(i) > 0.5 ? 1.0 : 0.0;
    const double p = 0.1 + 0.8 * (k / 4.0) * (k / 4.0);
    attrib::vector out(2);
    out << 1.0 - p, p;
    return out;
  }
};

std::vector<attrib::index> top(const attrib::vector& scores, std::size_t count) {
  std::vector<attrib::index> order(static_cast<std::size_t>(scores.size()));
  std::iota(order.begin(), order.end(), attrib::index{0});
  std::stable_sort(order.begin(), order.end(), [&](attrib::index a, attrib::index b) { return scores(a) > scores(b); });
  order.resize(count);
  std::sort(order.begin(), order.end());
  return order;
}

}  // namespace

TEST_CASE("graph baselines: SubgraphX's best small subgraph is the planted motif") {
  const motif_model model;
  const attrib::gcn_input in = motif_graph();
  const attrib::subgraphx search{.rollouts = 20, .min_atoms = 4, .expand_atoms = 10, .samples = 50};
  const attrib::subgraphx_result r = search.explain(model, in, 1, {.seed = 3});
  const std::vector<attrib::index> motif = {0, 1, 2, 3};
  CHECK(r.best(4) == motif);
  // The motif as one player adds f(4) - f(0) = 0.8 to any set of tail nodes, whatever the order:
  // its Monte-Carlo score is exact.
  const auto at = std::find(r.subgraphs.begin(), r.subgraphs.end(), motif);
  REQUIRE(at != r.subgraphs.end());
  CHECK(r.scores[static_cast<std::size_t>(at - r.subgraphs.begin())] == doctest::Approx(0.8).epsilon(1e-12));
  // Every searched state is connected and no larger than the graph; the ranking puts the motif first.
  for (const auto& s : r.subgraphs) {
    REQUIRE(!s.empty());
    std::vector<attrib::index> reached = {s.front()};
    for (std::size_t k = 0; k < reached.size(); ++k)
      for (attrib::index v : s)
        if (in.adjacency(reached[k], v) > 0 && std::find(reached.begin(), reached.end(), v) == reached.end())
          reached.push_back(v);
    CHECK(reached.size() == s.size());
  }
  CHECK(top(r.node_scores, 4) == motif);
  CHECK(r.game_evaluations > 0);
  // With room for the whole graph the best subgraph still scores 0.8 and holds the motif.
  const std::vector<attrib::index> large = r.best(10);
  CHECK(std::includes(large.begin(), large.end(), motif.begin(), motif.end()));
}

TEST_CASE("graph baselines: GraphSVX ranks the motif first and matches its hand-computed Shapley values") {
  const motif_model model;
  const attrib::gcn_input in = motif_graph();
  const attrib::attribution a = attrib::graphsvx{.samples = 300}.explain(model, in, 1, 0.0, {.seed = 5});
  CHECK(top(a.values, 4) == std::vector<attrib::index>{0, 1, 2, 3});
  // Symmetric motif nodes share f(4) - f(0) = 0.8; tail nodes are null players.
  for (attrib::index i = 0; i < 4; ++i) CHECK(a.values(i) == doctest::Approx(0.2).epsilon(0.02));
  for (attrib::index i = 4; i < 10; ++i) CHECK(std::abs(a.values(i)) < 0.01);
  CHECK(a.values.sum() == doctest::Approx(0.8).epsilon(1e-9));  // efficiency, imposed exactly
}

TEST_CASE("graph baselines: GraphSVX approaches the exact node Shapley values of a GCN's node-removal game") {
  attrib::rng r(11);
  const attrib::graph g = attrib::barabasi_albert(14, 2, r, 3);
  attrib::gcn_input in = attrib::make_gcn_input(g);
  for (Eigen::Index i = 0; i < in.features.size(); ++i) in.features.data()[i] = r.normal();
  const attrib::gcn model({.inputs = 3, .hidden = 8, .layers = 2, .classes = 2}, 4);
  const attrib::node_removal_game game(model, in, 1, 0.3);
  const attrib::vector exact = attrib::exact_shapley{}.explain(game).values;
  const double scale = exact.cwiseAbs().maxCoeff();
  REQUIRE(scale > 1e-3);
  const attrib::vector coarse = attrib::graphsvx{.samples = 40}.explain(game, {.seed = 2}).values;
  const attrib::vector fine = attrib::graphsvx{.samples = 4000}.explain(game, {.seed = 2}).values;
  const double coarse_error = (coarse - exact).cwiseAbs().maxCoeff(), fine_error = (fine - exact).cwiseAbs().maxCoeff();
  MESSAGE("GraphSVX max error: 40 samples ", coarse_error, ", 4000 samples ", fine_error, " (largest value ", scale, ")");
  // 4,000 of the 16,382 interior coalitions: within 5% of the largest value, and better than 40.
  CHECK(fine_error < 0.05 * scale);
  CHECK(fine_error < coarse_error);
}

TEST_CASE("graph baselines: SubgraphX and GraphSVX are reproducible by seed, whatever the thread count") {
  attrib::rng r(7);
  const attrib::graph g = attrib::barabasi_albert(12, 2, r, 3);
  attrib::gcn_input in = attrib::make_gcn_input(g);
  for (Eigen::Index i = 0; i < in.features.size(); ++i) in.features.data()[i] = r.normal();
  const attrib::gcn model({.inputs = 3, .hidden = 8, .layers = 2, .classes = 2}, 9);
  const attrib::subgraphx search{.rollouts = 6, .min_atoms = 3, .expand_atoms = 6, .samples = 15};
  const auto a = search.explain(model, in, 0, {.seed = 1, .threads = 1});
  const auto b = search.explain(model, in, 0, {.seed = 1, .threads = 2});
  const auto c = search.explain(model, in, 0, {.seed = 2, .threads = 1});
  CHECK(a.subgraphs == b.subgraphs);
  CHECK(a.scores == b.scores);
  CHECK(a.node_scores == b.node_scores);
  CHECK(a.scores != c.scores);  // the seed drives the Monte-Carlo orders
  const attrib::graphsvx svx{.samples = 200};
  const attrib::vector x = svx.explain(model, in, 0, 0.0, {.seed = 4, .threads = 1}).values;
  const attrib::vector y = svx.explain(model, in, 0, 0.0, {.seed = 4, .threads = 2}).values;
  const attrib::vector z = svx.explain(model, in, 0, 0.0, {.seed = 5, .threads = 1}).values;
  CHECK(x == y);
  CHECK(x != z);
}

TEST_CASE("graph baselines: bad input to SubgraphX and GraphSVX is a named exception") {
  const motif_model model;
  const attrib::gcn_input in = motif_graph();
  const attrib::gcn_input empty{attrib::matrix(0, 0), attrib::matrix(0, 1)};
  CHECK_THROWS_WITH_AS(attrib::subgraphx{}.explain(model, empty, 0),
                       "subgraphx: the graph has no nodes; expected at least one", attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::graphsvx{}.explain(model, empty, 0),
                       "graphsvx: the graph has no nodes; expected at least one", attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::subgraphx{.rollouts = 0}.explain(model, in, 1), "subgraphx: rollouts must be >= 1, got 0",
                       attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::subgraphx{.samples = 0}.explain(model, in, 1), "subgraphx: samples must be >= 1, got 0",
                       attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::subgraphx{.min_atoms = 0}.explain(model, in, 1),
                       "subgraphx: min_atoms must be >= 1, got 0", attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::graphsvx{.samples = 0}.explain(model, in, 1),
                       "graphsvx: samples must be >= 1 (coalitions to fit on), got 0", attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::subgraphx{}.explain(model, in, 2),
                       "subgraphx: target class 2 is outside the model's classes 0..1", attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::graphsvx{}.explain(model, in, -1),
                       "graphsvx: target class -1 is outside the model's classes 0..1", attrib::invalid_argument);
  // An adjacency that does not fit the game.
  const attrib::node_removal_game game(model, in, 1);
  CHECK_THROWS_WITH_AS(attrib::subgraphx{}.explain(game, attrib::matrix::Zero(3, 3)),
                       "subgraphx: adjacency is 3 x 3, expected 10 x 10 (one row per player)", attrib::invalid_argument);
  // Fewer samples than a 10-node fit has unknowns: kernel_shap names the budget.
  CHECK_THROWS_AS(attrib::graphsvx{.samples = 3}.explain(model, in, 1), attrib::invalid_argument);
}
