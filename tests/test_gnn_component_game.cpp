// The hidden channels of the library's GNNs (gcn, gin) as players: zero ablation against the model
// with the channel's outgoing weights zeroed, every ablation kind against the forward pass written
// out element by element for a 4-node graph, gradients against central differences, and exact
// Shapley's efficiency and null-player axioms on the game.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <string>
#include <tuple>
#include <vector>

#include "attrib/games/gnn_component_game.hpp"
#include "attrib/methods/component/attribution_patching.hpp"
#include "attrib/methods/feature/shapley.hpp"

namespace {

using Index = attrib::index;
using attrib::gcn_input;
using attrib::matrix;
using attrib::vector;

gcn_input make_graph(const matrix& features, const std::vector<std::tuple<Index, Index, double>>& edges) {
  gcn_input g;
  g.features = features;
  g.adjacency = matrix::Zero(features.rows(), features.rows());
  for (const auto& [u, v, w] : edges) g.adjacency(u, v) = g.adjacency(v, u) = w;
  return g;
}

// The explained graph: 4 nodes, a path 0-1-2 with a pendant 3 on node 1 and the chord 2-3.
gcn_input explained() {
  matrix x(4, 2);
  x << 0.9, -0.4, -0.3, 1.1, 0.5, 0.7, -1.2, 0.2;
  return make_graph(x, {{0, 1, 1.0}, {1, 2, 0.5}, {1, 3, 1.0}, {2, 3, 2.0}});
}

// A counterfactual of it: the same 4 nodes, other features, the chord dropped and 0-3 added.
gcn_input counterfactual() {
  matrix x(4, 2);
  x << -0.6, 0.8, 0.4, -0.9, 1.3, 0.1, 0.2, -0.5;
  return make_graph(x, {{0, 1, 1.0}, {1, 2, 0.5}, {1, 3, 1.0}, {0, 3, 1.5}});
}

// Reference graphs of other sizes (3 and 5 nodes), so a node-weighted mean differs from a
// mean of per-graph means.
std::vector<gcn_input> references() {
  matrix a(3, 2), b(5, 2);
  a << 1.0, 0.5, -0.8, 0.3, 0.2, -1.1;
  b << 0.1, 0.9, -0.5, -0.6, 1.4, 0.4, 0.7, -0.2, -0.9, 1.2;
  return {make_graph(a, {{0, 1, 1.0}, {1, 2, 1.0}}),
          make_graph(b, {{0, 1, 1.0}, {1, 2, 0.7}, {2, 3, 1.0}, {3, 4, 1.0}, {4, 0, 0.4}})};
}

// Nonzero biases everywhere, so ReLUs switch on and off across nodes and channels.
template <class Model>
void randomize_biases(Model& m, unsigned seed) {
  std::srand(seed);
  for (auto& b : m.parameters().biases) b = vector::Random(b.size()) * 0.5;
}

attrib::gcn tiny_gcn() {
  attrib::gcn m({.readout = attrib::gcn_readout::mean, .inputs = 2, .hidden = 3, .layers = 2, .classes = 3}, 5);
  randomize_biases(m, 11);
  return m;
}

attrib::gin tiny_gin() {
  attrib::gin m({.readout = attrib::gin_readout::sum, .jumping_knowledge = true, .inputs = 2, .hidden = 3, .layers = 2, .classes = 3}, 7);
  randomize_biases(m, 12);
  m.parameters().epsilons << 0.3, -0.2;
  return m;
}

// `edit(layer, H)` may change a layer's node embeddings H (n x hidden) before the next layer and
// the readout read them. Returns the logits.
using edit_fn = std::function<void(Index, matrix&)>;

// Kipf & Welling written out element by element: Â_ij = (A + I)_ij / sqrt(d_i d_j), d = (A + I) 1,
// H_l(i, c) = relu(b_c + sum_k sum_m Â_ik H_{l-1}(k, m) W(m, c)), mean readout.
vector hand_gcn(const attrib::gcn& m, const gcn_input& g, const edit_fn& edit) {
  const auto& theta = m.parameters();
  const Index n = g.node_count();
  std::vector<double> degree(static_cast<std::size_t>(n), 1.0);
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j < n; ++j) degree[static_cast<std::size_t>(i)] += g.adjacency(i, j);
  matrix h = g.features;
  for (Index l = 0; l < m.config().layers; ++l) {
    const matrix& w = theta.weights[static_cast<std::size_t>(l)];
    matrix next(n, w.cols());
    for (Index i = 0; i < n; ++i)
      for (Index c = 0; c < w.cols(); ++c) {
        double s = theta.biases[static_cast<std::size_t>(l)](c);
        for (Index k = 0; k < n; ++k) {
          const double a = (i == k ? 1.0 : g.adjacency(i, k)) /
                           std::sqrt(degree[static_cast<std::size_t>(i)] * degree[static_cast<std::size_t>(k)]);
          for (Index f = 0; f < h.cols(); ++f) s += a * h(k, f) * w(f, c);
        }
        next(i, c) = std::max(s, 0.0);
      }
    edit(l, next);
    h = next;
  }
  const matrix& w = theta.weights.back();
  vector logits = theta.biases.back();
  for (Index k = 0; k < w.cols(); ++k)
    for (Index c = 0; c < w.rows(); ++c) {
      double pooled = 0.0;
      for (Index i = 0; i < n; ++i) pooled += h(i, c) / static_cast<double>(n);
      logits(k) += pooled * w(c, k);
    }
  return logits;
}

// GIN written out: agg(i, f) = (1 + eps) H(i, f) + sum_k A_ik H(k, f), then the layer's MLP
// relu(relu(agg W1 + b1) W2 + b2); jumping-knowledge sum readout of every layer.
vector hand_gin(const attrib::gin& m, const gcn_input& g, const edit_fn& edit) {
  const auto& theta = m.parameters();
  const Index n = g.node_count(), hidden = m.config().hidden;
  matrix h = g.features;
  vector logits = theta.biases.back();
  const matrix& out = theta.weights.back();
  for (Index l = 0; l < m.config().layers; ++l) {
    const auto ul = static_cast<std::size_t>(l);
    const matrix &w1 = theta.weights[2 * ul], &w2 = theta.weights[2 * ul + 1];
    matrix next(n, hidden);
    for (Index i = 0; i < n; ++i) {
      std::vector<double> inner(static_cast<std::size_t>(hidden));
      for (Index u = 0; u < hidden; ++u) {
        double s = theta.biases[2 * ul](u);
        for (Index f = 0; f < h.cols(); ++f) {
          double agg = (1.0 + theta.epsilons(l)) * h(i, f);
          for (Index k = 0; k < n; ++k) agg += g.adjacency(i, k) * h(k, f);
          s += agg * w1(f, u);
        }
        inner[static_cast<std::size_t>(u)] = std::max(s, 0.0);
      }
      for (Index c = 0; c < hidden; ++c) {
        double s = theta.biases[2 * ul + 1](c);
        for (Index u = 0; u < hidden; ++u) s += inner[static_cast<std::size_t>(u)] * w2(u, c);
        next(i, c) = std::max(s, 0.0);
      }
    }
    edit(l, next);
    h = next;
    for (Index k = 0; k < out.cols(); ++k)
      for (Index c = 0; c < hidden; ++c)
        for (Index i = 0; i < n; ++i) logits(k) += h(i, c) * out(l * hidden + c, k);
  }
  return logits;
}

double softmax_at(const vector& logits, Index t) {
  double total = 0.0;
  for (Index k = 0; k < logits.size(); ++k) total += std::exp(logits(k));
  return std::exp(logits(t)) / total;
}

vector hand(const attrib::gcn& m, const gcn_input& g, const edit_fn& e) { return hand_gcn(m, g, e); }
vector hand(const attrib::gin& m, const gcn_input& g, const edit_fn& e) { return hand_gin(m, g, e); }

// Each layer's unedited output on graph g, written out.
template <class Model>
std::vector<matrix> hand_activations(const Model& m, const gcn_input& g) {
  std::vector<matrix> out;
  hand(m, g, [&](Index, matrix& h) { out.push_back(h); });
  return out;
}

// The mixing a -> s + z (a - s) written out, with z(l, c) for channel c of layer l and s(l, i, c).
edit_fn mix(const matrix& z, const std::function<double(Index, Index, Index)>& s) {
  return [z, s](Index l, matrix& h) {
    for (Index i = 0; i < h.rows(); ++i)
      for (Index c = 0; c < h.cols(); ++c) h(i, c) = s(l, i, c) + z(l, c) * (h(i, c) - s(l, i, c));
  };
}

// A coalition of the 6 channels (layer-major) as the 2 x 3 grid `mix` reads.
matrix grid(const matrix& row) { return row.reshaped<Eigen::RowMajor>(2, 3); }

template <class Model>
void check_against_hand(const Model& m) {
  const gcn_input g = explained(), cf = counterfactual();
  const std::vector<gcn_input> refs = references();
  const auto players = attrib::every_channel(m);
  REQUIRE(players.size() == 6);
  // The unablated runs of every reference, written out.
  const auto cf_acts = hand_activations(m, cf);
  std::vector<std::vector<matrix>> ref_acts;
  for (const auto& r : refs) ref_acts.push_back(hand_activations(m, r));
  // Coalitions: the grand one; every first-layer channel ablated; a mixed one.
  matrix z(3, 6);
  z << 1, 1, 1, 1, 1, 1,  //
      0, 0, 0, 1, 1, 1,   //
      1, 0.3, 1, 1, 1, 0;
  const auto none = [](Index, matrix&) {};
  for (Index t = 0; t < 3; ++t) {
    const double full = softmax_at(hand(m, g, none), t);
    // The element-by-element forward pass is the model's own.
    CHECK(full == doctest::Approx(m.probabilities(g)(t)).epsilon(1e-12));
    {  // zero
      const attrib::gnn_component_game game(m, g, players, {.target = t});
      const vector v = game.values(z);
      CHECK(v(0) == doctest::Approx(full).epsilon(1e-12));
      for (Index r = 1; r < 3; ++r)
        CHECK(v(r) == doctest::Approx(softmax_at(hand(m, g, mix(grid(z.row(r)), [](Index, Index, Index) { return 0.0; })), t)).epsilon(1e-12));
    }
    {  // patch: node i from node i of the counterfactual
      const attrib::gnn_component_game game(m, g, players, {.ablation = attrib::ablation_kind::patch, .reference = {cf}, .target = t});
      const vector v = game.values(z);
      CHECK(v(0) == doctest::Approx(full).epsilon(1e-12));
      const auto s = [&](Index l, Index i, Index c) { return cf_acts[static_cast<std::size_t>(l)](i, c); };
      for (Index r = 1; r < 3; ++r) CHECK(v(r) == doctest::Approx(softmax_at(hand(m, g, mix(grid(z.row(r)), s)), t)).epsilon(1e-12));
      // Whole first layer patched, written out directly: layer 1 reads the counterfactual's
      // embeddings through the explained graph's edges.
      const double direct = softmax_at(hand(m, g, [&](Index l, matrix& h) {
                                         if (l == 0) h = cf_acts[0];
                                       }),
                                       t);
      CHECK(v(1) == doctest::Approx(direct).epsilon(1e-12));
    }
    {  // mean: over all 3 + 5 reference nodes
      const attrib::gnn_component_game game(m, g, players, {.ablation = attrib::ablation_kind::mean, .reference = refs, .target = t});
      const auto s = [&](Index l, Index, Index c) {
        double total = 0.0;
        for (const auto& acts : ref_acts)
          for (Index i = 0; i < acts[static_cast<std::size_t>(l)].rows(); ++i) total += acts[static_cast<std::size_t>(l)](i, c);
        return total / 8.0;
      };
      const vector v = game.values(z);
      CHECK(v(0) == doctest::Approx(full).epsilon(1e-12));
      for (Index r = 1; r < 3; ++r) CHECK(v(r) == doctest::Approx(softmax_at(hand(m, g, mix(grid(z.row(r)), s)), t)).epsilon(1e-12));
      CHECK(game.model_evaluations_per_value() == 1);
    }
    {  // resample: the value averaged over the two references, each giving its node means
      const attrib::gnn_component_game game(m, g, players, {.ablation = attrib::ablation_kind::resample, .reference = refs, .target = t});
      const vector v = game.values(z);
      CHECK(v(0) == doctest::Approx(full).epsilon(1e-12));
      for (Index r = 1; r < 3; ++r) {
        double expected = 0.0;
        for (const auto& acts : ref_acts) {
          const auto s = [&](Index l, Index, Index c) { return acts[static_cast<std::size_t>(l)].col(c).mean(); };
          expected += softmax_at(hand(m, g, mix(grid(z.row(r)), s)), t) / 2.0;
        }
        CHECK(v(r) == doctest::Approx(expected).epsilon(1e-12));
      }
      CHECK(game.model_evaluations_per_value() == 2);
    }
    {  // the logit metric
      const attrib::gnn_component_game game(m, g, players, {.ablation = attrib::ablation_kind::patch, .reference = {cf}, .target = t,
                                                             .metric = attrib::gnn_component_metric::logit});
      const auto s = [&](Index l, Index i, Index c) { return cf_acts[static_cast<std::size_t>(l)](i, c); };
      const vector v = game.values(z);
      for (Index r = 0; r < 3; ++r) CHECK(v(r) == doctest::Approx(hand(m, g, mix(grid(z.row(r)), s))(t)).epsilon(1e-12));
    }
  }
}

}  // namespace

TEST_CASE("GNN component game: every ablation kind against the forward pass written out for a 4-node graph (GCN and GIN)") {
  SUBCASE("gcn") { check_against_hand(tiny_gcn()); }
  SUBCASE("gin (GIN-eps weights, jumping knowledge)") { check_against_hand(tiny_gin()); }
}

namespace {

// A 6-node graph with random features.
gcn_input six_nodes(Index features, unsigned seed) {
  std::srand(seed);
  return make_graph(matrix::Random(6, features),
                    {{0, 1, 1.0}, {1, 2, 1.0}, {2, 3, 0.5}, {3, 4, 1.0}, {4, 5, 1.0}, {5, 0, 2.0}, {1, 4, 1.0}});
}

// The model with channel c of layer l cut from everything that reads it.
attrib::gcn cut(attrib::gcn m, Index l, Index c) {
  m.parameters().weights[static_cast<std::size_t>(l + 1)].row(c).setZero();  // the next layer's, or the classifier's
  return m;
}
attrib::gin cut(attrib::gin m, Index l, Index c) {
  auto& w = m.parameters().weights;
  const Index layers = m.config().layers, hidden = m.config().hidden;
  if (l + 1 < layers) w[2 * static_cast<std::size_t>(l + 1)].row(c).setZero();
  if (m.config().jumping_knowledge)
    w.back().row(l * hidden + c).setZero();
  else if (l + 1 == layers)
    w.back().row(c).setZero();
  return m;
}

template <class Model>
void check_zero_is_cut(const Model& m) {
  const gcn_input g = six_nodes(m.inputs(), 3);
  const auto players = attrib::every_channel(m);
  const auto count = static_cast<Index>(players.size());
  const attrib::gnn_component_game prob(m, g, players, {.target = 1});
  const attrib::gnn_component_game logit(m, g, players, {.target = 1, .metric = attrib::gnn_component_metric::logit});
  const attrib::gnn_component_game logit0(m, g, players, {.target = 0, .metric = attrib::gnn_component_metric::logit});
  matrix z = matrix::Ones(count + 1, count);
  for (Index j = 0; j < count; ++j) z(j, j) = 0.0;
  // The last row drops a first-layer and a last-layer channel together.
  z(count, 1) = z(count, count - 1) = 0.0;
  const vector v = prob.values(z), lt = logit.values(z), l0 = logit0.values(z);
  double largest_effect = 0.0;
  const double full = m.probabilities(g)(1);
  for (Index j = 0; j <= count; ++j) {
    const Model edited = j < count ? cut(m, players[static_cast<std::size_t>(j)].layer, players[static_cast<std::size_t>(j)].channel)
                                   : cut(cut(m, players[1].layer, players[1].channel), players.back().layer, players.back().channel);
    const vector p = edited.probabilities(g);
    CHECK(v(j) == doctest::Approx(p(1)).epsilon(1e-12));
    // Logits are known up to a shift from the probabilities: logit_1 - logit_0 = log(p_1 / p_0).
    CHECK(lt(j) - l0(j) == doctest::Approx(std::log(p(1) / p(0))).epsilon(1e-10));
    largest_effect = std::max(largest_effect, std::abs(p(1) - full));
  }
  MESSAGE(std::string(Model::name) << ": largest single-channel zero-ablation effect on p(class 1) = " << largest_effect);
  CHECK(largest_effect > 1e-3);  // the comparison is not vacuous
}

}  // namespace

TEST_CASE("GNN component game: zero ablation of a channel equals the model with its outgoing weights zeroed") {
  attrib::gcn normalized({.readout = attrib::gcn_readout::mean, .inputs = 3, .hidden = 4, .layers = 3, .classes = 3}, 21);
  randomize_biases(normalized, 1);
  attrib::gcn summed({.readout = attrib::gcn_readout::max, .aggregation = attrib::gcn_aggregation::sum, .inputs = 3, .hidden = 4,
                      .layers = 2, .classes = 2},
                     22);
  randomize_biases(summed, 2);
  attrib::gin plain({.readout = attrib::gin_readout::sum, .inputs = 3, .hidden = 4, .layers = 3, .classes = 3}, 23);
  attrib::gin jk({.readout = attrib::gin_readout::mean, .jumping_knowledge = true, .inputs = 3, .hidden = 4, .layers = 2, .classes = 2}, 24);
  jk.parameters().epsilons << 0.4, -0.1;
  check_zero_is_cut(normalized);
  check_zero_is_cut(summed);
  check_zero_is_cut(plain);
  check_zero_is_cut(jk);
}

namespace {

template <class Model>
void check_gradients_and_shapley(Model m) {
  // Channel 2 of layer 0 is cut from everything downstream, so it must be a null player.
  m = cut(m, 0, 2);
  const gcn_input g = six_nodes(m.inputs(), 9);
  gcn_input cf = six_nodes(m.inputs(), 10);
  cf.adjacency = g.adjacency;
  const auto refs = references();
  const auto players = attrib::every_channel(m);
  const auto count = static_cast<Index>(players.size());
  REQUIRE(count == 10);
  std::srand(31);
  const matrix z = (matrix::Random(3, count).array() * 0.45 + 0.5).matrix();
  double worst = 0.0;
  for (auto kind : {attrib::ablation_kind::zero, attrib::ablation_kind::mean, attrib::ablation_kind::resample, attrib::ablation_kind::patch}) {
    std::vector<gcn_input> reference;
    if (kind == attrib::ablation_kind::patch) reference = {cf};
    if (kind == attrib::ablation_kind::mean || kind == attrib::ablation_kind::resample) reference = refs;
    for (auto metric : {attrib::gnn_component_metric::probability, attrib::gnn_component_metric::logit}) {
      const attrib::gnn_component_game game(m, g, players, {.ablation = kind, .reference = reference, .target = 1, .metric = metric});
      // Gradients against central differences, at interior points and at the grand coalition
      // (where attribution patching reads them).
      matrix at = matrix::Ones(4, count);
      at.topRows(3) = z;
      const matrix grad = game.gradients(at);
      const auto atp = attrib::attribution_patching.explain(game);
      const double h = 1e-6;
      for (Index j = 0; j < count; ++j) {
        matrix up = at, down = at;
        up.col(j).array() += h;
        down.col(j).array() -= h;
        const vector fd = (game.values(up) - game.values(down)) / (2 * h);
        const double err = (fd - grad.col(j)).cwiseAbs().maxCoeff() / (1.0 + fd.cwiseAbs().maxCoeff());
        worst = std::max(worst, err);
        CHECK(err < 1e-7);
        CHECK(atp.values(j) == doctest::Approx(fd(3)).epsilon(1e-6).scale(1e-9));
      }
      // Exact Shapley over the 10 channels: efficiency, and the cut channel is a null player.
      const auto phi = attrib::exact_shapley{}.explain(game);
      matrix ends(2, count);
      ends.row(0).setOnes();
      ends.row(1).setZero();
      const vector v = game.values(ends);
      CHECK(phi.values.sum() == doctest::Approx(v(0) - v(1)).epsilon(1e-10));
      CHECK(std::abs(phi.values(2)) < 1e-12);
      CHECK(phi.values.cwiseAbs().maxCoeff() > 1e-4);
      // The same on two threads.
      const auto two = attrib::exact_shapley{}.explain(game, {.threads = 2});
      CHECK((two.values - phi.values).cwiseAbs().maxCoeff() == 0.0);
    }
  }
  MESSAGE(std::string(Model::name) << ": largest relative gap between the gradient and central differences " << worst);
}

}  // namespace

TEST_CASE("GNN component game: gradients are central differences, exact Shapley is efficient and a cut channel is null") {
  attrib::gcn gcn_model({.readout = attrib::gcn_readout::mean, .inputs = 2, .hidden = 5, .layers = 2, .classes = 3}, 41);
  randomize_biases(gcn_model, 4);
  attrib::gin gin_model({.readout = attrib::gin_readout::sum, .jumping_knowledge = true, .inputs = 2, .hidden = 5, .layers = 2, .classes = 3}, 42);
  gin_model.parameters().epsilons << 0.2, 0.5;
  check_gradients_and_shapley(gcn_model);
  check_gradients_and_shapley(gin_model);
}

TEST_CASE("GNN component game: bad channels, graphs, references, targets and points are named") {
  const attrib::gcn m = tiny_gcn();
  const gcn_input g = explained();
  using game = attrib::gnn_component_game<attrib::gcn>;
  using attrib::ablation_kind;
  const auto all = attrib::every_channel(m);
  const auto throws = [](auto make, const std::string& expected) {
    CHECK_THROWS_WITH_AS(make(), doctest::Contains(expected.c_str()), attrib::invalid_argument);
  };
  throws([&] { return game(m, g, {{2, 0}}); }, "player 0 names layer 2; the message-passing layers are [0, 2)");
  throws([&] { return game(m, g, {{0, 0}, {1, 3}}); }, "player 1 names channel 3 of layer 1, which has 3 channels");
  throws([&] { return game(m, g, {{0, -1}}); }, "names channel -1");
  throws([&] { return game(m, g, {{0, 1}, {0, 1}}); }, "channel 1 of layer 0 is named twice");
  throws([&] { return game(m, g, {}); }, "no players");
  throws([&] { return game(m, g, all, {.target = 3}); }, "target 3 is outside the classes [0, 3)");
  throws([&] { return game(m, g, all, {.target = -1}); }, "target -1");
  gcn_input wide = g;
  wide.features = matrix::Zero(4, 3);
  throws([&] { return game(m, wide, all); }, "gnn_component_game: graph: input has 3 features per node");
  gcn_input nan = g;
  nan.features(2, 1) = std::nan("");
  throws([&] { return game(m, nan, all); }, "graph: node features are not all finite");
  gcn_input loop = g;
  loop.adjacency(1, 1) = 1.0;
  throws([&] { return game(m, loop, all); }, "self-loop at node 1");
  gcn_input ragged = g;
  ragged.adjacency = matrix::Zero(4, 3);
  throws([&] { return game(m, ragged, all); }, "adjacency is 4 x 3");
  throws([&] { return game(m, gcn_input{}, all); }, "graph: the graph has no nodes");
  // References.
  throws([&] { return game(m, g, all, {.reference = {g}}); }, "zero ablation takes no reference graphs");
  throws([&] { return game(m, g, all, {.ablation = ablation_kind::mean}); }, "need reference graphs");
  throws([&] { return game(m, g, all, {.ablation = ablation_kind::resample}); }, "need reference graphs");
  throws([&] { return game(m, g, all, {.ablation = ablation_kind::patch}); }, "exactly one reference graph, got 0");
  throws([&] { return game(m, g, all, {.ablation = ablation_kind::patch, .reference = {g, g}}); }, "exactly one reference graph, got 2");
  throws([&] { return game(m, g, all, {.ablation = ablation_kind::patch, .reference = {references()[0]}}); },
         "patch ablation needs a reference graph with the explained graph's 4 nodes");
  throws([&] { return game(m, g, all, {.ablation = ablation_kind::mean, .reference = {g, wide}}); },
         "reference graph 1: input has 3 features per node");
  gcn_input negative = g;
  negative.adjacency(0, 1) = negative.adjacency(1, 0) = -1.0;
  throws([&] { return game(m, g, all, {.ablation = ablation_kind::resample, .reference = {negative}}); },
         "reference graph 0: edge weight (1, 0) must be finite, non-negative and symmetric");
  // Points.
  const game ok(m, g, all);
  CHECK_THROWS_WITH_AS(ok.values(matrix::Ones(1, 5)), doctest::Contains("points have 5 columns, the game has 6 players"),
                       attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(ok.gradients(matrix::Ones(2, 7)), doctest::Contains("points have 7 columns"), attrib::invalid_argument);
  matrix bad = matrix::Ones(2, 6);
  bad(1, 4) = std::nan("");
  CHECK_THROWS_WITH_AS(ok.values(bad), doctest::Contains("gnn_component_game: points must be finite, but entry (1, 4)"),
                       attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(ok.gradients(bad), doctest::Contains("entry (1, 4)"), attrib::invalid_argument);
  // An empty batch is no error: no values.
  CHECK(ok.values(matrix(0, 6)).size() == 0);
}
