// Graph models and mask explainers: GIN and GCN gradients (parameters, features, edge weights)
// against central finite differences, GIN on BA-2Motifs, save/load, GNNExplainer's mask
// gradient against finite differences, and bad input at the level of models and methods.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "attrib/concepts/graph_model.hpp"
#include "attrib/concepts/model.hpp"
#include "attrib/games/coalition_game.hpp"
#include "attrib/models/gnn/gcn.hpp"
#include "attrib/graph/generators.hpp"
#include "attrib/models/gnn/gin.hpp"
#include "attrib/games/node_removal_game.hpp"
#include "attrib/methods/graph/fidelity.hpp"
#include "attrib/methods/graph/gnn_explainer.hpp"
#include "attrib/methods/graph/pg_explainer.hpp"
#include "attrib/methods/graph/hn_value.hpp"
#include "attrib/methods/graph/myerson.hpp"
#include "attrib/methods/graph/node_mask_explainer.hpp"

namespace {

// A 7-node graph with random positive edge weights and random features.
attrib::gcn_input weighted_input(std::uint64_t seed, Eigen::Index features) {
  attrib::rng r(seed);
  const attrib::graph g = attrib::barabasi_albert(7, 2, r, features);
  attrib::gcn_input in = attrib::make_gcn_input(g);
  for (Eigen::Index i = 0; i < in.features.size(); ++i) in.features.data()[i] = r.normal();
  for (Eigen::Index u = 0; u < 7; ++u)
    for (Eigen::Index v = u + 1; v < 7; ++v)
      if (in.adjacency(u, v) > 0) in.adjacency(u, v) = in.adjacency(v, u) = 0.5 + r.uniform();
  return in;
}

double central_difference(const std::function<double()>& f, double& x, double h = 1e-6) {
  const double saved = x;
  x = saved + h;
  const double up = f();
  x = saved - h;
  const double down = f();
  x = saved;
  return (up - down) / (2 * h);
}

// d log p_c / d w_uv against finite differences that move both adjacency entries of each pair
// (edges and, for u, v both kept, non-edges as well).
template <class Model>
void check_edge_gradient(const Model& model, attrib::gcn_input in, Eigen::Index c, const attrib::vector& keep) {
  const attrib::matrix g = model.edge_weight_gradient(in, c, keep);
  CHECK((g - g.transpose()).cwiseAbs().maxCoeff() == 0.0);
  for (Eigen::Index u = 0; u < in.node_count(); ++u)
    for (Eigen::Index v = u + 1; v < in.node_count(); ++v) {
      if (keep(u) < 0.5 || keep(v) < 0.5) {
        CHECK(g(u, v) == 0.0);
        continue;
      }
      if (in.adjacency(u, v) == 0.0) in.adjacency(u, v) = in.adjacency(v, u) = 1e-3;  // stay non-negative
      const double h = 1e-6;
      const double saved = in.adjacency(u, v);
      in.adjacency(u, v) = in.adjacency(v, u) = saved + h;
      const double up = std::log(model.probabilities(in, keep)(c));
      in.adjacency(u, v) = in.adjacency(v, u) = saved - h;
      const double down = std::log(model.probabilities(in, keep)(c));
      in.adjacency(u, v) = in.adjacency(v, u) = saved;
      const attrib::matrix at = model.edge_weight_gradient(in, c, keep);
      CHECK(at(u, v) == doctest::Approx((up - down) / (2 * h)).epsilon(1e-5));
    }
}

template <class Model>
void check_feature_gradient(const Model& model, const attrib::gcn_input& in, Eigen::Index c, const attrib::vector& keep) {
  const attrib::matrix fg = model.feature_gradient(in, c, keep);
  for (Eigen::Index k = 0; k < in.features.size(); ++k) {
    attrib::gcn_input moved = in;
    const double d = central_difference([&] { return std::log(model.probabilities(moved, keep)(c)); },
                                        moved.features.data()[k]);
    CHECK(fg.data()[k] == doctest::Approx(d).epsilon(1e-5));
  }
}

// A GIN trained on `count` BA-2Motifs graphs (seed 11) from constant features: sum readout,
// jumping knowledge, 3 x 16.
struct ba_2motifs_gin {
  std::vector<attrib::gcn_input> inputs;
  std::vector<int> labels;
  attrib::gin model{{.readout = attrib::gin_readout::sum, .jumping_knowledge = true, .inputs = 10, .hidden = 16,
                     .layers = 3, .classes = 2},
                    1};
  double loss = 0.0;  // the final training loss
  ba_2motifs_gin(attrib::index count, attrib::index epochs) {
    for (const auto& lg : attrib::ba_2motifs(11, count)) {
      inputs.push_back(attrib::make_gcn_input(lg.structure));
      labels.push_back(lg.label);
    }
    loss = model.train(inputs, labels, {.epochs = epochs, .batch_size = 32, .learning_rate = 0.005, .seed = 2});
  }
};

}  // namespace

// attrib's graph classifiers model every graph-model concept (docs/concepts/graph_model.md).
static_assert(attrib::edge_differentiable_model<attrib::gcn> && attrib::feature_differentiable_model<attrib::gcn>);
static_assert(attrib::edge_differentiable_model<attrib::gin> && attrib::feature_differentiable_model<attrib::gin>);
static_assert(!attrib::node_mask_model<attrib::archetypes::model>);

TEST_CASE("graph models: GIN gradients (parameters, features, edge weights) match finite differences") {
  const attrib::gcn_input in = weighted_input(5, 3);
  attrib::vector keep = attrib::vector::Ones(7);
  keep(4) = 0;
  for (auto readout : {attrib::gin_readout::sum, attrib::gin_readout::mean})
    for (bool jk : {false, true}) {
      CAPTURE(static_cast<int>(readout));
      CAPTURE(jk);
      attrib::gin model({.readout = readout, .learn_epsilon = true, .jumping_knowledge = jk, .inputs = 3, .hidden = 5,
                         .layers = 2, .classes = 3},
                        7);
      model.parameters().epsilons << 0.3, -0.2;  // non-zero eps so its derivative is exercised
      attrib::gnn_parameters g = model.parameters().zeros_like();
      model.accumulate_gradient(in, 2, g);
      const auto loss = [&] { return -std::log(model.probabilities(in)(2)); };
      auto& theta = model.parameters();
      for (std::size_t p = 0; p < theta.weights.size(); ++p) {
        for (Eigen::Index k = 0; k < theta.weights[p].size(); k += 2)
          CHECK(g.weights[p].data()[k] == doctest::Approx(central_difference(loss, theta.weights[p].data()[k])).epsilon(1e-5));
        for (Eigen::Index k = 0; k < theta.biases[p].size(); ++k)
          CHECK(g.biases[p](k) == doctest::Approx(central_difference(loss, theta.biases[p](k))).epsilon(1e-5));
      }
      for (Eigen::Index l = 0; l < 2; ++l)
        CHECK(g.epsilons(l) == doctest::Approx(central_difference(loss, theta.epsilons(l))).epsilon(1e-5));
      check_feature_gradient(model, in, 1, keep);
      check_edge_gradient(model, in, 0, keep);
      check_edge_gradient(model, in, 2, attrib::vector::Ones(7));
      // Remove masking: dropping a node equals deleting it from the graph.
      attrib::vector keep6 = attrib::vector::Ones(7);
      keep6(6) = 0;
      const attrib::gcn_input smaller{in.adjacency.topLeftCorner(6, 6), in.features.topRows(6)};
      CHECK((model.probabilities(in, keep6) - model.probabilities(smaller)).cwiseAbs().maxCoeff() < 1e-12);
    }
}

TEST_CASE("graph models: GCN edge-weight gradients match finite differences") {
  const attrib::gcn_input in = weighted_input(6, 3);
  attrib::vector keep = attrib::vector::Ones(7);
  keep(2) = 0;
  for (auto readout : {attrib::gcn_readout::mean, attrib::gcn_readout::max, attrib::gcn_readout::sum})
    for (auto aggregation : {attrib::gcn_aggregation::normalized, attrib::gcn_aggregation::sum}) {
      CAPTURE(static_cast<int>(readout));
      CAPTURE(static_cast<int>(aggregation));
      const attrib::gcn model(
          {.readout = readout, .aggregation = aggregation, .inputs = 3, .hidden = 4, .layers = 2, .classes = 3}, 2);
      check_edge_gradient(model, in, 1, keep);
      check_edge_gradient(model, in, 0, attrib::vector::Ones(7));
    }
}

TEST_CASE("graph models: GIN learns BA-2Motifs from constant features") {
  // BA(20, 1) is a tree (19 edges); the house adds 6 edges and the 5-cycle 5, each plus the
  // attaching edge, so the classes differ in edge count by one, a signal that one sum-aggregation
  // layer and a sum readout (kept by jumping knowledge) expose linearly even with constant
  // features, and the motifs themselves differ locally (a triangle roof). So GIN should be
  // nearly perfect on unseen graphs; 0.9 leaves room for a seed that has not fully converged
  // after 60 epochs (0.94-1.0 seen while tuning), far above the chance level 0.5 at which a
  // normalised GCN stays (docs/methods/graph.md).
  const auto test = attrib::ba_2motifs(12, 100);
  const ba_2motifs_gin trained(400, 60);
  const attrib::gin& model = trained.model;
  const double loss = trained.loss;
  double hits = 0;
  for (const auto& lg : test) hits += model.predict(attrib::make_gcn_input(lg.structure)) == lg.label ? 1.0 : 0.0;
  const double accuracy = hits / static_cast<double>(test.size());
  MESSAGE("GIN on BA-2Motifs: final training loss " << loss << ", test accuracy " << accuracy);
  CHECK(accuracy >= 0.9);
}

TEST_CASE("graph models: GIN and GCN save/load round trip; damaged files are format errors") {
  const attrib::gcn_input in = weighted_input(8, 4);
  attrib::gin model({.readout = attrib::gin_readout::mean, .learn_epsilon = true, .jumping_knowledge = true, .inputs = 4,
                     .hidden = 3, .layers = 2, .classes = 2},
                    3);
  model.parameters().epsilons << 0.125, -1.0 / 3.0;
  std::stringstream file;
  model.save(file);
  const attrib::gin loaded = attrib::gin::load(file);
  CHECK(loaded.config().jumping_knowledge);
  CHECK(loaded.config().learn_epsilon);
  CHECK(loaded.parameters().epsilons(1) == -1.0 / 3.0);
  CHECK((loaded.probabilities(in) - model.probabilities(in)).cwiseAbs().maxCoeff() == 0.0);
  const std::string text = file.str();
  std::stringstream truncated(text.substr(0, text.size() * 2 / 3));
  CHECK_THROWS_AS(attrib::gin::load(truncated), attrib::format_error);
  std::stringstream header("attrib-gcn 1\n");
  CHECK_THROWS_AS(attrib::gin::load(header), attrib::format_error);
  std::stringstream config("attrib-gin 1\n0 1 2 4 3 2 2\n");  // jumping_knowledge = 2
  CHECK_THROWS_AS(attrib::gin::load(config), attrib::format_error);
  std::string shape = text;
  shape.replace(shape.find("\n2 -0.33") + 1, 1, "3");  // epsilons claim 3 entries
  std::stringstream bad_shape(shape);
  CHECK_THROWS_AS(attrib::gin::load(bad_shape), attrib::format_error);
  std::string nan = text;
  nan.replace(nan.find("0.125"), 5, "nan  ");
  std::stringstream bad_value(nan);
  CHECK_THROWS_AS(attrib::gin::load(bad_value), attrib::format_error);
  const attrib::gcn g({.inputs = 4, .hidden = 3, .layers = 2, .classes = 2}, 1);
  std::stringstream gfile;
  g.save(gfile);
  CHECK((attrib::gcn::load(gfile).probabilities(in) - g.probabilities(in)).cwiseAbs().maxCoeff() == 0.0);
  std::stringstream gin_as_gcn(text);
  CHECK_THROWS_AS(attrib::gcn::load(gin_as_gcn), attrib::format_error);
  // A 34-byte header declaring 10^15 parameters is refused before anything is allocated (it used
  // to allocate and initialise every weight matrix first).
  std::stringstream gcn_bomb("attrib-gcn 1\n0 0 1 1000000 1000 2\n");
  CHECK_THROWS_WITH_AS(attrib::gcn::load(gcn_bomb),
                       doctest::Contains("declares 999001003000002 parameters, but only 1 bytes follow"),
                       attrib::format_error);
  std::stringstream gin_bomb("attrib-gin 1\n0 0 0 50000 50000 2 2\n0 0\n");
  CHECK_THROWS_WITH_AS(attrib::gin::load(gin_bomb), doctest::Contains("gin::load: the configuration line declares"),
                       attrib::format_error);
}

TEST_CASE("graph models: GNNExplainer's mask gradient matches finite differences; the mask learns") {
  const attrib::gcn_input in = weighted_input(9, 3);
  const attrib::gin gin_model({.inputs = 3, .hidden = 6, .layers = 2, .classes = 2}, 4);
  const attrib::gcn gcn_model({.inputs = 3, .hidden = 6, .layers = 2, .classes = 2}, 4);
  const attrib::gnn_explainer explainer{.epochs = 200};
  const auto edges = attrib::gnn_explainer::edges_of(in);
  attrib::rng r(1);
  attrib::vector w(static_cast<Eigen::Index>(edges.size()));
  for (Eigen::Index e = 0; e < w.size(); ++e) w(e) = r.normal();
  const auto check = [&](const auto& model) {
    const auto [loss, gradient] = explainer.loss_and_gradient(model, in, 1, w);
    attrib::vector moved = w;
    for (Eigen::Index e = 0; e < w.size(); ++e) {
      const double d = central_difference([&] { return explainer.loss_and_gradient(model, in, 1, moved).first; }, moved(e));
      CHECK(gradient(e) == doctest::Approx(d).epsilon(1e-5));
    }
    // The loss at w, recomputed from its definition.
    const attrib::vector m = (1.0 + (-w.array()).exp()).inverse().matrix();
    attrib::gcn_input masked = in;
    double entropy = 0.0;
    for (std::size_t e = 0; e < edges.size(); ++e) {
      const auto [u, v] = edges[e];
      const double me = m(static_cast<Eigen::Index>(e));
      masked.adjacency(u, v) = masked.adjacency(v, u) = in.adjacency(u, v) * me;
      entropy += -me * std::log(me) - (1 - me) * std::log(1 - me);
    }
    const double expected = -std::log(model.probabilities(masked)(1)) + 0.005 * m.sum() +
                            entropy / static_cast<double>(edges.size());
    CHECK(loss == doctest::Approx(expected).epsilon(1e-9));
    const attrib::gnn_explainer_result a = explainer.explain(model, in, 1, 3), b = explainer.explain(model, in, 1, 3);
    CHECK(a.final_loss < a.initial_loss);
    CHECK(a.scores == b.scores);
    CHECK(a.edge_mask.minCoeff() > 0.0);
    CHECK(a.edge_mask.maxCoeff() < 1.0);
    for (Eigen::Index i = 0; i < 7; ++i) {  // node score = mean mask of the incident edges
      double sum = 0, count = 0;
      for (std::size_t e = 0; e < edges.size(); ++e)
        if (edges[e].first == i || edges[e].second == i) {
          sum += a.edge_mask(static_cast<Eigen::Index>(e));
          count += 1;
        }
      CHECK(a.scores(i) == doctest::Approx(sum / count).epsilon(1e-12));
    }
  };
  check(gin_model);
  check(gcn_model);
}

TEST_CASE("graph models: PGExplainer's mask is the network's symmetric logit; its training gradient matches finite differences") {
  const attrib::gcn_input in = weighted_input(9, 3);
  const attrib::gin gin_model({.inputs = 3, .hidden = 6, .layers = 2, .classes = 2}, 4);
  const attrib::gcn gcn_model({.inputs = 3, .hidden = 6, .layers = 2, .classes = 2}, 4);
  const auto edges = attrib::gnn_explainer::edges_of(in);
  const auto check = [&](const auto& model) {
    const attrib::matrix z = model.node_embeddings(in);
    REQUIRE(z.rows() == 7);
    REQUIRE(z.cols() == 6);
    const attrib::mlp network({{12, 5, attrib::activation::relu}, {5, 1, attrib::activation::identity}},
                              attrib::output_head::identity, 3);
    const attrib::pg_explainer options{.size = 0.01, .entropy = 0.5};
    const attrib::trained_pg_explainer e(options, network);
    // The mask logit of edge (u, v), written out: the network on both orders, averaged.
    const attrib::vector w = e.mask_logits(model, in);
    REQUIRE(w.size() == static_cast<Eigen::Index>(edges.size()));
    for (std::size_t k = 0; k < edges.size(); ++k) {
      const auto [u, v] = edges[k];
      attrib::matrix both(2, 12);
      both.row(0) << z.row(u), z.row(v);
      both.row(1) << z.row(v), z.row(u);
      const attrib::matrix f = network.logits(both);
      CHECK(w(static_cast<Eigen::Index>(k)) == doctest::Approx(0.5 * (f(0, 0) + f(1, 0))).epsilon(1e-12));
    }
    const attrib::gnn_explainer_result r = e.explain(model, in);
    CHECK((r.edge_mask - (1.0 + (-w.array()).exp()).inverse().matrix()).cwiseAbs().maxCoeff() < 1e-15);
    CHECK(r.scores == attrib::gnn_explainer::node_scores(7, r.edges, r.edge_mask));
    // The sampled objective: GNNExplainer's at (w + log u - log(1 - u)) / t, and its gradient in
    // the network's parameters against central differences.
    attrib::rng random(5);
    attrib::vector u(w.size());
    for (Eigen::Index k = 0; k < u.size(); ++k) u(k) = 0.05 + 0.9 * random.uniform();
    const double t = 2.5;
    const auto [loss, gradient] = e.sampled_objective(model, in, 1, u, t);
    const attrib::vector s = ((w.array() + u.array().log() - (1.0 - u.array()).log()) / t).matrix();
    CHECK(loss == doctest::Approx(attrib::gnn_explainer{.size = 0.01, .entropy = 0.5}
                                      .loss_and_gradient(model, in, 1, s)
                                      .first)
                      .epsilon(1e-12));
    attrib::vector theta = network.parameters();
    REQUIRE(gradient.size() == theta.size());
    for (Eigen::Index k = 0; k < theta.size(); k += 3) {
      const double d = central_difference(
          [&] {
            attrib::mlp moved = network;
            moved.set_parameters(theta);
            return attrib::trained_pg_explainer(options, moved).sampled_objective(model, in, 1, u, t).first;
          },
          theta(k));
      CHECK(gradient(k) == doctest::Approx(d).epsilon(1e-5).scale(1e-6));
    }
  };
  check(gin_model);
  check(gcn_model);
}

TEST_CASE("graph models: PGExplainer's trained network lowers the mask objective on graphs it never saw; one pass, no randomness") {
  // What PGExplainer learns is a map from embeddings to masks that makes GNNExplainer's objective
  // small on any graph, so the test holds it to that on unseen graphs: the trained network's
  // masks against the same network before training. (Whether its masks find planted motifs
  // depends on the model: a GIN that counts edges to tell BA-2Motifs apart, as this one can, is
  // not explained by its motif; the H-fidelity tables of docs/graph-results.md measure the rest.)
  const auto test = attrib::ba_2motifs(12, 40);
  const ba_2motifs_gin trained(160, 30);
  const attrib::gin& model = trained.model;
  const std::vector<attrib::gcn_input>& inputs = trained.inputs;
  const attrib::pg_explainer recipe{.epochs = 10};
  const attrib::trained_pg_explainer e = recipe.fit(model, inputs, 7);
  CHECK(e.graphs_trained() == 160);
  MESSAGE("PGExplainer's training objective: first epoch " << e.first_epoch_loss() << ", last " << e.last_epoch_loss());
  CHECK(e.last_epoch_loss() < e.first_epoch_loss());
  const std::vector<attrib::layer_shape> shapes{{32, 64, attrib::activation::relu}, {64, 1, attrib::activation::identity}};
  const attrib::trained_pg_explainer untrained(recipe, attrib::mlp(shapes, attrib::output_head::identity, 7));
  double before = 0, after = 0;
  for (const auto& lg : test) {
    const attrib::gcn_input in = attrib::make_gcn_input(lg.structure);
    before += untrained.explain(model, in).final_loss / static_cast<double>(test.size());
    after += e.explain(model, in).final_loss / static_cast<double>(test.size());
  }
  MESSAGE("mask objective on 40 unseen graphs: untrained network " << before << ", trained " << after);
  CHECK(after < before - 0.1);
  const attrib::gcn_input in = attrib::make_gcn_input(test.front().structure);
  CHECK(e.explain(model, in).edge_mask == e.explain(model, in).edge_mask);
  // The same seed trains the same network.
  CHECK(recipe.fit(model, inputs, 7).network().parameters() == e.network().parameters());
}

TEST_CASE("graph models: bad input to models and graph methods is a named exception") {
  const attrib::gcn_input in = weighted_input(10, 3);
  const attrib::gin gin_model({.inputs = 3, .hidden = 4, .layers = 2, .classes = 2}, 1);
  const attrib::gcn gcn_model({.inputs = 3, .hidden = 4, .layers = 2, .classes = 2}, 1);
  const attrib::vector all = attrib::vector::Ones(7);

  // Empty graphs.
  const attrib::gcn_input empty{attrib::matrix(0, 0), attrib::matrix(0, 3)};
  CHECK_THROWS_AS(gin_model.probabilities(empty), attrib::invalid_argument);
  CHECK_THROWS_AS(gcn_model.probabilities(empty), attrib::invalid_argument);
  CHECK_THROWS_AS(attrib::node_removal_game(gin_model, empty, 0), attrib::invalid_argument);
  CHECK_THROWS_AS(attrib::gnn_explainer{}.explain(gin_model, empty, 0), attrib::invalid_argument);
  CHECK_THROWS_AS(attrib::node_mask_explainer{}.explain(gin_model, empty, 0), attrib::invalid_argument);
  CHECK_THROWS_AS(attrib::evaluate_coalition([](const attrib::vector&) { return 0.5; }, 0, {}), attrib::invalid_argument);

  // A model and a graph with different feature widths.
  const attrib::gcn_input wide{in.adjacency, attrib::matrix::Ones(7, 4)};
  CHECK_THROWS_WITH_AS(gin_model.probabilities(wide), "gin: input has 4 features per node, the model expects 3",
                       attrib::invalid_argument);
  CHECK_THROWS_AS(gcn_model.feature_gradient(wide, 0), attrib::invalid_argument);
  CHECK_THROWS_AS(attrib::node_removal_game(gcn_model, wide, 0), attrib::invalid_argument);
  CHECK_THROWS_AS(attrib::gnn_explainer{}.explain(gcn_model, wide, 0), attrib::invalid_argument);

  // Malformed adjacency: asymmetric, negative, NaN, self-loop, wrong shape; NaN features.
  attrib::gcn_input bad = in;
  bad.adjacency(0, 1) += 0.5;
  CHECK_THROWS_AS(gin_model.probabilities(bad), attrib::invalid_argument);
  bad = in;
  bad.adjacency(2, 3) = bad.adjacency(3, 2) = -1.0;
  CHECK_THROWS_AS(gcn_model.probabilities(bad), attrib::invalid_argument);
  bad.adjacency(2, 3) = bad.adjacency(3, 2) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_AS(gin_model.edge_weight_gradient(bad, 0), attrib::invalid_argument);
  bad = in;
  bad.adjacency(4, 4) = 1.0;
  CHECK_THROWS_AS(gin_model.probabilities(bad), attrib::invalid_argument);
  bad = in;
  bad.adjacency = in.adjacency.topLeftCorner(6, 6);
  CHECK_THROWS_AS(gcn_model.probabilities(bad), attrib::invalid_argument);
  bad = in;
  bad.features(3, 1) = std::numeric_limits<double>::infinity();
  CHECK_THROWS_AS(gin_model.probabilities(bad), attrib::invalid_argument);

  // Node ids and classes out of range.
  CHECK_THROWS_AS(gin_model.probabilities(in, attrib::vector::Ones(6)), attrib::invalid_argument);
  CHECK_THROWS_AS(gin_model.edge_weight_gradient(in, 2), attrib::invalid_argument);
  CHECK_THROWS_AS(gcn_model.feature_gradient(in, -1), attrib::invalid_argument);
  CHECK_THROWS_AS(attrib::node_removal_game(gin_model, in, 2), attrib::invalid_argument);
  CHECK_THROWS_AS(attrib::gnn_explainer{}.explain(gin_model, in, 5), attrib::invalid_argument);
  CHECK_THROWS_AS(attrib::gnn_explainer{}.loss_and_gradient(gin_model, in, 0, attrib::vector::Zero(2)),
                  attrib::invalid_argument);
  // PGExplainer: no graph with an edge to learn from, options out of range, embeddings of another width.
  attrib::gcn_input lone = in;
  lone.adjacency.setZero();
  CHECK_THROWS_WITH(attrib::pg_explainer{}.fit(gin_model, {lone}), doctest::Contains("has an edge"));
  CHECK_THROWS_WITH(attrib::pg_explainer{.epochs = 0}.fit(gin_model, {in}), doctest::Contains("must be >= 1"));
  const attrib::trained_pg_explainer narrow(
      {}, attrib::mlp(std::vector<attrib::layer_shape>{{4, 3, attrib::activation::relu}, {3, 1, attrib::activation::identity}},
                      attrib::output_head::identity, 1));
  CHECK_THROWS_WITH(narrow.explain(gin_model, in), doctest::Contains("trained on embeddings 2 wide"));
  CHECK_THROWS_WITH(narrow.explain(gin_model, empty), doctest::Contains("has no nodes"));
  CHECK_THROWS_AS(attrib::evaluate_coalition([](const attrib::vector&) { return 0.5; }, 7, {1, 7}),
                  attrib::invalid_argument);
  attrib::gin trainee({.inputs = 3, .hidden = 4, .layers = 1, .classes = 2}, 1);
  CHECK_THROWS_AS(trainee.train({in}, {2}, {}), attrib::invalid_argument);
  CHECK_THROWS_AS(trainee.train({in, in}, {0}, {}), attrib::invalid_argument);
  CHECK_THROWS_AS(trainee.train({in}, {0}, {.batch_size = 0}), attrib::invalid_argument);
  const attrib::node_removal_game game(gin_model, in, 0, 0.1);
  std::vector<std::uint64_t> neighbors(7, 0);
  CHECK_THROWS_AS(attrib::hn_value{}.run(game, std::vector<std::uint64_t>(6, 0)), attrib::invalid_argument);
  neighbors[0] = std::uint64_t{1} << 9;  // names node 9 of a 7-node graph
  CHECK_THROWS_AS(attrib::hn_value{}.run(game, neighbors), attrib::invalid_argument);
  CHECK_THROWS_AS(attrib::myerson_value{}.explain(game, neighbors), attrib::invalid_argument);

  // tau outside 0 < tau < 2/n (n = 7, exact).
  attrib::rng r10(10);
  const auto nb = attrib::neighbor_masks(attrib::barabasi_albert(7, 2, r10, 3));
  for (double tau : {0.0, -0.1, 2.0 / 7.0, 0.5, std::numeric_limits<double>::quiet_NaN()})
    CHECK_THROWS_AS(attrib::hn_value{.tau = tau}.run(game, nb), attrib::invalid_argument);
  CHECK_NOTHROW(attrib::hn_value{.tau = 0.28}.run(game, nb));
}

TEST_CASE("graph models: HN and Myerson values accept disconnected graphs, one component at a time") {
  // Components {0, 1, 2} (a path) and {3, 4, 5} (a triangle). v/G sums over components, so the
  // HN and Myerson values on each component must equal those of the component's own subgame.
  attrib::rng r(21);
  std::vector<double> table(64);
  for (std::size_t s = 1; s < 64; ++s) table[s] = 2.0 * r.uniform() - 1.0;
  const auto full = attrib::coalition_game(6, [&](std::uint64_t m) { return table[m]; });
  std::vector<std::uint64_t> nb = {0b000010, 0b000101, 0b000010, 0b110000, 0b101000, 0b011000};
  const attrib::attribution hn = attrib::hn_value{.tau = 0.1}.explain(full, nb);
  const attrib::attribution my = attrib::myerson_value{}.explain(full, nb);
  for (int part = 0; part < 2; ++part) {
    const int shift = 3 * part;
    const auto sub = attrib::coalition_game(3, [&](std::uint64_t m) { return table[m << shift]; });
    const std::vector<std::uint64_t> local =
        part == 0 ? std::vector<std::uint64_t>{0b010, 0b101, 0b010} : std::vector<std::uint64_t>{0b110, 0b101, 0b011};
    const attrib::attribution hn_sub = attrib::hn_value{.tau = 0.1}.explain(sub, local);
    const attrib::attribution my_sub = attrib::myerson_value{}.explain(sub, local);
    for (Eigen::Index k = 0; k < 3; ++k) {
      CHECK(hn.values(shift + k) == doctest::Approx(hn_sub.values(k)).epsilon(1e-9));
      CHECK(my.values(shift + k) == doctest::Approx(my_sub.values(k)).epsilon(1e-12));
    }
    // Efficiency on each component: the values of C sum to v(C).
    CHECK(hn.values.segment(shift, 3).sum() == doctest::Approx(table[std::size_t{7} << shift]).epsilon(1e-9));
  }
  // A graph node without neighbours is its own component: its value is v({i}) - here node 6.
  const auto seven = attrib::coalition_game(7, [&](std::uint64_t m) { return table[m & 63] + ((m >> 6) & 1u) * 0.75; });
  nb.push_back(0);
  CHECK(attrib::hn_value{.tau = 0.1}.explain(seven, nb).values(6) == doctest::Approx(0.75).epsilon(1e-12));
}
