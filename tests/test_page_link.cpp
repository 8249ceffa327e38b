// Heterogeneous link explanations: the typed graph and its planted-path generator, the R-GCN
// link scorer (gradients against finite differences, a hand-computed forward pass, save/load),
// PaGE-Link, the GNNExplainer-style edge mask and the PGExplainer-style link MLP (a hand-built
// graph whose explanation is obvious, mask-AUC against chance on the synthetic graph,
// thread-count determinism, bad input), the citation-style generator's planted paths, and the
// link metrics on hand-worked cases.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/random.hpp"
#include "attrib/core/run_settings.hpp"
#include "attrib/graph/hetero_generators.hpp"
#include "attrib/graph/hetero_graph.hpp"
#include "attrib/models/gnn/rgcn.hpp"
#include "attrib/methods/graph/fidelity.hpp"
#include "attrib/methods/graph/link_edge_mask.hpp"
#include "attrib/methods/graph/link_explanation.hpp"
#include "attrib/methods/graph/link_metrics.hpp"
#include "attrib/methods/graph/link_pg_explainer.hpp"
#include "attrib/methods/graph/page_link.hpp"

namespace {

using attrib::hetero_graph;
using attrib::matrix;
using attrib::planted_link_graph;
using attrib::rgcn;
using attrib::vector;
using Eigen::Index;

vector one_hot(Index size, Index k) {
  vector v = vector::Zero(size);
  v(k) = 1.0;
  return v;
}

// Users, items, attributes; relations buys (user-item), has and tag (both item-attribute).
// Two explanations of the link (u, t) with the same structure, u -buys- j1 -has- a1 -has- t and
// u -buys- j2 -tag- a2 -tag- t (inner nodes of degree 2), two 4-cycles u -buys- j -has- a
// -has- j' -buys- u that lie on no u-t path but survive the 2-core, and an unreachable item.
struct two_path_graph {
  hetero_graph g{{"user", "item", "attribute"}, {{"buys", 0, 1}, {"has", 1, 2}, {"tag", 1, 2}}};
  static constexpr Index n = 13;
  Index u = 0, j1 = 0, j2 = 0, t = 0, a1 = 0, a2 = 0, lone = 0;
  std::vector<Index> cycle_edges;
  two_path_graph() {
    Index next = 0;
    const auto node = [&](int type) { return g.add_node(type, one_hot(n, next++)); };
    u = node(0);
    j1 = node(1);
    j2 = node(1);
    t = node(1);
    a1 = node(2);
    a2 = node(2);
    lone = node(1);
    g.add_edge(u, j1, 0);
    g.add_edge(u, j2, 0);
    g.add_edge(j1, a1, 1);
    g.add_edge(t, a1, 1);
    g.add_edge(j2, a2, 2);
    g.add_edge(t, a2, 2);
    for (int c = 0; c < 2; ++c) {
      const Index ja = node(1), jb = node(1), a = node(2);
      for (const auto& [x, y, r] : {std::tuple{u, ja, 0}, std::tuple{u, jb, 0}, std::tuple{ja, a, 1}, std::tuple{jb, a, 1}})
        cycle_edges.push_back(g.add_edge(x, y, r));
    }
  }
};

// A hand-set R-GCN (dot scorer, one-hot node features, all layer-1 inputs non-negative so the
// ReLU is the identity): identity matrices everywhere except tag forward = 0 in both layers,
// and in layer 2 has reverse = +20 I and tag reverse = -20 I. Then the score of (u, t) holds
// w(u,j1) w(j1,a1) w(a1,t) (1 + 20) / 6 from the has path and -w(u,j2) w(j2,a2) w(a2,t) (20 - 1) / 6
// from the tag path: the model predicts the link because of the has path, and the tag path
// speaks against it.
rgcn has_path_model() {
  attrib::rgcn_config c;
  c.inputs = two_path_graph::n;
  c.hidden = two_path_graph::n;
  c.layers = 2;
  c.relations = 3;
  c.scorer = attrib::link_scorer::dot;
  rgcn model(c, 0);
  auto& p = model.parameters();
  const matrix identity = matrix::Identity(c.hidden, c.hidden);
  for (std::size_t l = 0; l < 2; ++l) {
    const std::size_t base = l * 8;  // W0, b, buys, buys reverse, has, has reverse, tag, tag reverse
    p[base] = identity;
    p[base + 1].setZero();
    for (std::size_t r = 0; r < 6; ++r) p[base + 2 + r] = identity;
    p[base + 6].setZero();
  }
  p[8 + 5] = 20.0 * identity;
  p[8 + 7] = -20.0 * identity;
  return model;
}

struct trained_model {
  planted_link_graph data;
  rgcn model;
  std::vector<std::size_t> held_out;  // links not trained on
};

// The synthetic graph of the docs table (seed 1) and an R-GCN trained on 4 of every 5 links.
const trained_model& trained() {
  static const trained_model fixture = [] {
    trained_model f;
    f.data = attrib::user_item_attribute_graph({}, 1);
    std::vector<std::pair<Index, Index>> train;
    for (std::size_t i = 0; i < f.data.links.size(); ++i) {
      if (i % 5 == 4) f.held_out.push_back(i);
      else train.emplace_back(f.data.links[i].source, f.data.links[i].target);
    }
    attrib::rgcn_config c;
    c.inputs = f.data.graph.feature_count();
    c.hidden = 32;
    c.relations = f.data.graph.relation_count();
    f.model = rgcn(c, 1);
    f.model.train(f.data.graph, train, {.epochs = 200, .learning_rate = 0.01, .negatives = 1, .l2 = 0.0, .seed = 1});
    return f;
  }();
  return fixture;
}

// The mean mask-AUC of explanations `a` over their links, and of uniform random masks on the same
// edges (seeded): the explainer against chance. Checks that `b`, the same links explained on
// another thread count, has the same masks.
std::pair<double, double> mean_auc_against_chance(const std::vector<attrib::link_explanation>& a,
                                                  const std::vector<attrib::link_explanation>& b,
                                                  const std::vector<const attrib::link_truth*>& truths,
                                                  std::uint64_t seed) {
  REQUIRE(a.size() == truths.size());
  REQUIRE(b.size() == a.size());
  attrib::rng random(seed);
  double auc = 0.0, chance_auc = 0.0;
  for (std::size_t k = 0; k < a.size(); ++k) {
    CHECK(a[k].mask == b[k].mask);
    auc += attrib::link_mask_auc(a[k], truths[k]->edges);
    attrib::link_explanation chance = a[k];
    for (Index e = 0; e < chance.mask.size(); ++e) chance.mask(e) = random.uniform();
    chance_auc += attrib::link_mask_auc(chance, truths[k]->edges);
  }
  const auto n = static_cast<double>(a.size());
  return {auc / n, chance_auc / n};
}

// A generator's output for its seed (`data`) against the same seed again and another seed: the
// same edges and planted paths, and other edges.
template <class Planted>
void same_seed_same_graph(const Planted& data, const Planted& same, const Planted& other) {
  const hetero_graph& g = data.graph;
  REQUIRE(same.graph.edge_count() == g.edge_count());
  for (Index e = 0; e < g.edge_count(); ++e) {
    CHECK(same.graph.edge(e).source == g.edge(e).source);
    CHECK(same.graph.edge(e).target == g.edge(e).target);
  }
  CHECK(same.links.back().paths == data.links.back().paths);
  bool differs = other.graph.edge_count() != g.edge_count();
  for (Index e = 0; !differs && e < g.edge_count(); ++e) differs = other.graph.edge(e).target != g.edge(e).target;
  CHECK(differs);
}

}  // namespace

TEST_CASE("hetero_graph: typed edges, per-relation normalised messages, induced subgraphs and bad input") {
  hetero_graph g({"user", "item"}, {{"buys", 0, 1}});
  const Index u0 = g.add_node(0, vector::Zero(2)), u1 = g.add_node(0, vector::Zero(2)), i0 = g.add_node(1, vector::Ones(2));
  CHECK(g.add_edge(u0, i0, 0, 0.5) == 0);
  CHECK(g.add_edge(u1, i0, 0) == 1);
  CHECK(g.edge_between(i0, u1) == 1);
  CHECK(g.edge_between(u0, u1) == -1);
  CHECK(g.nodes_of_type(0) == std::vector<Index>{u0, u1});
  CHECK(g.structure()[static_cast<attrib::graph_node>(i0)].label == 1);
  // Forward messages user -> item share the item's 2 incoming buys (norm 1/2); each user gets
  // one reverse message (norm 1).
  const auto m = g.relation_messages();
  REQUIRE(m.size() == 2);
  REQUIRE(m[0].size() == 2);
  CHECK(m[0][0].sender == u0);
  CHECK(m[0][0].receiver == i0);
  CHECK(m[0][0].norm == 0.5);
  CHECK(m[0][1].norm == 0.5);
  CHECK(m[1][0].sender == i0);
  CHECK(m[1][0].receiver == u0);
  CHECK(m[1][0].norm == 1.0);
  std::vector<Index> nodes, edges;
  const hetero_graph sub = g.induced_subgraph({1, 0, 1}, nodes, edges);
  CHECK(nodes == std::vector<Index>{u0, i0});
  CHECK(edges == std::vector<Index>{0});
  CHECK(sub.edge(0).weight == 0.5);
  CHECK_THROWS_AS(g.add_edge(u0, i0, 0), attrib::invalid_argument);   // already joined
  CHECK_THROWS_AS(g.add_edge(i0, u0, 0), attrib::invalid_argument);   // wrong orientation of types
  CHECK_THROWS_AS(g.add_edge(u0, 7, 0), attrib::invalid_argument);    // node out of range
  CHECK_THROWS_AS(g.add_edge(u0, i0, 3), attrib::invalid_argument);   // no such relation
  CHECK_THROWS_AS(g.edge(2), attrib::invalid_argument);
  CHECK_THROWS_AS(g.set_features(u0, vector::Zero(3)), attrib::invalid_argument);
  CHECK_THROWS_AS(g.add_node(2, vector::Zero(2)), attrib::invalid_argument);
  CHECK_THROWS_AS(g.add_node(0, vector::Zero(3)), attrib::invalid_argument);
  CHECK_THROWS_AS(hetero_graph({"a"}, {{"r", 0, 1}}), attrib::invalid_argument);
}

TEST_CASE("user_item_attribute_graph: planted paths exist, ground truth is complete, seeded") {
  const auto data = attrib::user_item_attribute_graph({}, 4);
  const hetero_graph& g = data.graph;
  const auto items = g.nodes_of_type(planted_link_graph::item);
  const auto attributes = g.nodes_of_type(planted_link_graph::attribute);
  REQUIRE(data.links.size() == 240);  // 80 users x 3 likes
  std::set<std::pair<Index, Index>> pairs;
  for (const auto& link : data.links) {
    CHECK(g.node_type(link.source) == planted_link_graph::user);
    CHECK(g.node_type(link.target) == planted_link_graph::item);
    CHECK_FALSE(g.has_edge(link.source, link.target));  // the predicted link is not an edge
    CHECK(pairs.insert({link.source, link.target}).second);
    // Brute force over every (item, attribute): the planted paths are exactly these.
    std::vector<std::vector<Index>> expected;
    std::set<Index> expected_edges;
    for (Index j : items)
      for (Index a : attributes)
        if (j != link.target && g.has_edge(link.source, j) && g.has_edge(j, a) && g.has_edge(a, link.target)) {
          expected.push_back({link.source, j, a, link.target});
          CHECK(g.edge(g.edge_between(link.source, j)).relation == planted_link_graph::buys);
          CHECK(g.edge(g.edge_between(j, a)).relation == planted_link_graph::has);
          for (Index e : {g.edge_between(link.source, j), g.edge_between(j, a), g.edge_between(a, link.target)})
            expected_edges.insert(e);
        }
    CHECK_FALSE(expected.empty());
    std::sort(expected.begin(), expected.end());
    CHECK(link.paths == expected);
    CHECK(link.edges == std::vector<Index>(expected_edges.begin(), expected_edges.end()));
  }
  const auto same = attrib::user_item_attribute_graph({}, 4), other = attrib::user_item_attribute_graph({}, 5);
  same_seed_same_graph(data, same, other);
  CHECK_THROWS_AS(attrib::user_item_attribute_graph({.users = 0}, 1), attrib::invalid_argument);
  CHECK_THROWS_AS(attrib::user_item_attribute_graph({.items = 3}, 1), attrib::invalid_argument);
}

TEST_CASE("rgcn: a one-layer forward pass by hand") {
  // u -buys- i with weight w; 1 feature, 1 hidden unit, dot scorer, parameters
  // W0 = p, b = q, W_buys = r (user -> item), W_buys_reverse = s (item -> user):
  // h_u = p x_u + q + s w x_i, h_i = p x_i + q + r w x_u, score = h_u h_i.
  hetero_graph g({"user", "item"}, {{"buys", 0, 1}});
  const Index u = g.add_node(0, vector::Constant(1, 2.0)), i = g.add_node(1, vector::Constant(1, -1.0));
  g.add_edge(u, i, 0, 0.5);
  rgcn model({.inputs = 1, .hidden = 1, .layers = 1, .relations = 1, .bases = 0, .scorer = attrib::link_scorer::dot}, 0);
  auto& p = model.parameters();
  p[0](0, 0) = 0.7;
  p[1](0, 0) = 0.1;
  p[2](0, 0) = -0.4;
  p[3](0, 0) = 1.3;
  const double hu = 0.7 * 2.0 + 0.1 + 1.3 * 0.5 * -1.0, hi = 0.7 * -1.0 + 0.1 + -0.4 * 0.5 * 2.0;
  CHECK(model.score(g, u, i) == doctest::Approx(hu * hi).epsilon(1e-14));
  // d score / d w = (1.3 x_i) h_i + h_u (-0.4 x_u)
  const auto grad = model.score_gradient(g, vector::Constant(1, 0.5), u, i);
  CHECK(grad.edge_weights(0) == doctest::Approx(1.3 * -1.0 * hi + hu * -0.4 * 2.0).epsilon(1e-14));
}

TEST_CASE("rgcn: edge-weight, feature and parameter gradients match finite differences, save/load") {
  attrib::user_item_attribute_config small;
  small.users = 6;
  small.items = 8;
  small.attributes = 4;
  small.buys_per_user = 2;
  small.likes_per_user = 1;
  small.feature_dim = 2;
  const auto data = attrib::user_item_attribute_graph(small, 3);
  const hetero_graph& g = data.graph;
  attrib::rng random(11);
  vector w(g.edge_count());
  for (Index e = 0; e < w.size(); ++e) w(e) = 0.3 + random.uniform();
  const Index s = data.links[0].source, t = data.links[0].target;
  for (Index bases : {Index{0}, Index{2}})
    for (auto scorer : {attrib::link_scorer::dot, attrib::link_scorer::distmult}) {
      CAPTURE(bases);
      rgcn model({.inputs = g.feature_count(), .hidden = 5, .layers = 2, .relations = 2, .bases = bases, .scorer = scorer},
                 7);
      for (auto& m : model.parameters())
        for (Index k = 0; k < m.size(); ++k) m.data()[k] += 0.2 * random.normal();  // biases off zero
      const auto grad = model.score_gradient(g, w, s, t);
      const double h = 1e-6;
      for (Index e = 0; e < w.size(); ++e) {
        vector up = w, down = w;
        up(e) += h;
        down(e) -= h;
        const double fd = (model.score(g, up, s, t) - model.score(g, down, s, t)) / (2 * h);
        CHECK(grad.edge_weights(e) == doctest::Approx(fd).epsilon(1e-6).scale(1.0));
      }
      for (std::size_t p = 0; p < model.parameters().size(); ++p)
        for (Index k = 0; k < model.parameters()[p].size(); ++k) {
          double& x = model.parameters()[p].data()[k];
          const double x0 = x;
          x = x0 + h;
          const double up = model.score(g, w, s, t);
          x = x0 - h;
          const double down = model.score(g, w, s, t);
          x = x0;
          CHECK(grad.parameters[p].data()[k] == doctest::Approx((up - down) / (2 * h)).epsilon(1e-6).scale(1.0));
        }
      for (Index v = 0; v < g.node_count(); v += 3)
        for (Index k = 0; k < g.feature_count(); k += 2) {
          hetero_graph moved = g;
          vector f = g.features(v);
          f(k) += h;
          moved.set_features(v, f);
          const double up = model.score(moved, w, s, t);
          f(k) -= 2 * h;
          moved.set_features(v, f);
          const double down = model.score(moved, w, s, t);
          CHECK(grad.features(v, k) == doctest::Approx((up - down) / (2 * h)).epsilon(1e-6).scale(1.0));
        }
      std::stringstream file;
      model.save(file);
      const rgcn loaded = rgcn::load(file);
      CHECK(loaded.score(g, w, s, t) == model.score(g, w, s, t));
    }
  rgcn model({.inputs = g.feature_count(), .hidden = 3, .layers = 2, .relations = 2, .bases = 0,
              .scorer = attrib::link_scorer::distmult});
  std::stringstream good;
  model.save(good);
  const std::string text = good.str();
  for (const std::string& bad : {std::string("attrib-gcn 1\n"), std::string("attrib-rgcn 1\n1 2 3\n"),
                                 text.substr(0, text.size() / 2), text.substr(0, text.find('\n', 20)) + "\n2 2 1 1\n",
                                 text.substr(0, text.rfind(' ')) + " nan\n"}) {
    std::stringstream in(bad);
    CHECK_THROWS_AS(rgcn::load(in), attrib::format_error);
  }
  CHECK_THROWS_AS(model.score_gradient(g, w, s, s), attrib::invalid_argument);
  CHECK_THROWS_AS(model.score(g, vector::Ones(3), s, t), attrib::invalid_argument);  // wrong number of weights
}

TEST_CASE("rgcn: the trained scorer ranks held-out planted links above random items") {
  const auto& f = trained();
  const hetero_graph& g = f.data.graph;
  const matrix h = f.model.embed(g);
  const auto items = g.nodes_of_type(planted_link_graph::item);
  attrib::rng random(3);
  std::vector<double> model_scores, oracle_scores;
  std::vector<char> truth;
  const auto add = [&](Index u, Index i, char label) {
    model_scores.push_back(f.model.score(h, u, i));
    oracle_scores.push_back(static_cast<double>(attrib::detail::planted_paths(g, u, i).paths.size()));
    truth.push_back(label);
  };
  for (std::size_t k : f.held_out) {
    add(f.data.links[k].source, f.data.links[k].target, 1);
    for (int n = 0; n < 3; ++n) add(f.data.links[k].source, items[random.below(items.size())], 0);
  }
  const auto auc = [&](const std::vector<double>& s) {
    return attrib::roc_auc(Eigen::Map<const vector>(s.data(), static_cast<Index>(s.size())), truth);
  };
  // The oracle counts planted-type paths, i.e. knows the generating rule; it is imperfect only
  // because random pairs also share attributes. Chance is 0.5. The model sees 80% of the links
  // and no node identities, so it must learn the rule: we ask for 3/4 of the oracle's margin.
  const double oracle = auc(oracle_scores), model = auc(model_scores);
  MESSAGE("held-out link AUC: model " << model << ", path-count oracle " << oracle);
  CHECK(oracle > 0.85);
  CHECK(model >= 0.5 + 0.75 * (oracle - 0.5));
}

TEST_CASE("page_link: on a hand-built graph the path the model uses comes first") {
  const two_path_graph x;
  const rgcn model = has_path_model();
  // Uniform mask 1/2: both paths cost 5 log 2 (inner nodes of degree 2, endpoints counted as 1).
  const auto c = attrib::computation_graph_of(x.g, x.u, x.t, 2);
  CHECK(c.graph.node_count() == 12);
  const auto uniform = attrib::mask_paths(c.graph, vector::Constant(c.graph.edge_count(), 0.5), c.source, c.target, 5, 3);
  REQUIRE(uniform.size() == 2);
  CHECK(uniform[0].cost == doctest::Approx(5 * std::log(2.0)).epsilon(1e-14));
  CHECK(uniform[1].cost == doctest::Approx(5 * std::log(2.0)).epsilon(1e-14));
  const Index on[] = {x.g.edge_between(x.u, x.j1), x.g.edge_between(x.j1, x.a1), x.g.edge_between(x.a1, x.t)};
  const Index off[] = {x.g.edge_between(x.u, x.j2), x.g.edge_between(x.j2, x.a2), x.g.edge_between(x.a2, x.t)};
  // The setup as the comment of has_path_model says: at weights 1/2 the link is predicted, the
  // has path raises the score and the tag path lowers it by the closed-form amounts.
  const vector half = vector::Constant(x.g.edge_count(), 0.5);
  const auto grad = model.score_gradient(x.g, half, x.u, x.t);
  CHECK(grad.score > 0.0);
  CHECK(grad.edge_weights(off[2]) == doctest::Approx(-0.25 * 19.0 / 6.0).epsilon(1e-12));
  for (Index e : on) CHECK(grad.edge_weights(e) > 0.0);
  for (Index e : off) CHECK(grad.edge_weights(e) < 0.0);
  const std::vector<Index> has_path{x.u, x.j1, x.a1, x.t};
  const auto mask_of = [](const attrib::link_explanation& e, Index edge) {
    for (std::size_t k = 0; k < e.edges.size(); ++k)
      if (e.edges[k] == edge) return e.mask(static_cast<Index>(k));
    return -1.0;
  };
  // 200 epochs, not PaGE-Link's 20: on a 12-node graph the initial mask noise (logits of
  // standard deviation sqrt(2 / 12) = 0.41) exceeds what 20 Adam steps of 0.01 can move.
  for (std::uint64_t seed = 0; seed < 8; ++seed) {
    CAPTURE(seed);
    const auto pl = attrib::page_link{.epochs = 200}.explain(model, x.g, x.u, x.t, seed);
    CHECK(pl.score == doctest::Approx(model.score(x.g, x.u, x.t)));
    REQUIRE(pl.paths.size() == 2);
    CHECK(pl.paths.front().nodes == has_path);
    CHECK(pl.paths.front().edges == std::vector<Index>(std::begin(on), std::end(on)));
    double on_mean = 0.0, off_mean = 0.0, cycle_mean = 0.0;
    for (Index e : on) on_mean += mask_of(pl, e) / 3.0;
    for (Index e : off) off_mean += mask_of(pl, e) / 3.0;
    for (Index e : x.cycle_edges) cycle_mean += mask_of(pl, e) / 8.0;
    CHECK(on_mean > off_mean);
    CHECK(cycle_mean < 0.5);  // off every path: the path loss pushes them down
  }
}

TEST_CASE("page_link: mask-AUC beats a random mask, identical results on 1 and 2 threads") {
  const auto& f = trained();
  const hetero_graph& g = f.data.graph;
  const matrix h = f.model.embed(g);
  std::vector<std::pair<Index, Index>> links;
  std::vector<const attrib::link_truth*> truths;
  for (std::size_t k : f.held_out) {
    const auto& link = f.data.links[k];
    if (f.model.score(h, link.source, link.target) <= 0.0) continue;  // explain predicted links only
    links.emplace_back(link.source, link.target);
    truths.push_back(&link);
    if (links.size() == 12) break;
  }
  REQUIRE(links.size() == 12);
  attrib::run_settings one, two;
  one.threads = 1;
  two.threads = 2;
  one.seed = two.seed = 5;
  const auto a = attrib::explain_links(attrib::page_link{}, f.model, g, links, one);
  const auto b = attrib::explain_links(attrib::page_link{}, f.model, g, links, two);
  for (std::size_t k = 0; k < links.size(); ++k) {
    REQUIRE(a[k].paths.size() == b[k].paths.size());
    for (std::size_t p = 0; p < a[k].paths.size(); ++p) CHECK(a[k].paths[p].nodes == b[k].paths[p].nodes);
  }
  const auto [page_auc, random_auc] = mean_auc_against_chance(a, b, truths, 9);
  MESSAGE("mean mask-AUC over 12 links: PaGE-Link " << page_auc << ", random mask " << random_auc);
  CHECK(page_auc >= random_auc + 0.15);
}

TEST_CASE("page_link and link_edge_mask_explainer: bad input is a named exception") {
  const two_path_graph x;
  const rgcn model = has_path_model();
  const attrib::page_link pl;
  const attrib::link_edge_mask_explainer gx;
  CHECK_THROWS_AS(pl.explain(model, x.g, x.u, x.u), attrib::invalid_argument);      // src == tgt
  CHECK_THROWS_AS(pl.explain(model, x.g, x.u, 99), attrib::invalid_argument);       // out of range
  CHECK_THROWS_AS(pl.explain(model, x.g, -1, x.t), attrib::invalid_argument);
  CHECK_THROWS_AS(pl.explain(model, x.g, x.u, x.lone), attrib::invalid_argument);   // on no path
  CHECK_THROWS_AS(gx.explain(model, x.g, x.u, x.lone), attrib::invalid_argument);
  CHECK_THROWS_AS(gx.explain(model, x.g, x.t, x.t), attrib::invalid_argument);
  CHECK_THROWS_AS(attrib::page_link{.paths = 0}.explain(model, x.g, x.u, x.t), attrib::invalid_argument);
  CHECK_THROWS_AS(attrib::page_link{.max_path_length = 0}.explain(model, x.g, x.u, x.t), attrib::invalid_argument);
  CHECK_THROWS_AS(attrib::page_link{.epochs = 0}.explain(model, x.g, x.u, x.t), attrib::invalid_argument);
  CHECK_THROWS_AS(attrib::link_edge_mask_explainer{.paths = 0}.explain(model, x.g, x.u, x.t), attrib::invalid_argument);
  const auto c = attrib::computation_graph_of(x.g, x.u, x.t, 2);
  CHECK_THROWS_AS(attrib::mask_paths(c.graph, vector::Ones(2), c.source, c.target, 1, 3), attrib::invalid_argument);
  CHECK_THROWS_AS(attrib::mask_paths(c.graph, vector::Ones(c.graph.edge_count()), c.source, c.target, 0, 3),
                  attrib::invalid_argument);
  vector nan_mask = vector::Ones(c.graph.edge_count());
  nan_mask(0) = std::nan("");
  CHECK_THROWS_AS(attrib::mask_paths(c.graph, nan_mask, c.source, c.target, 1, 3), attrib::invalid_argument);
  // A model for other relations or features does not fit the graph.
  const rgcn wrong({.inputs = 3, .hidden = 2, .layers = 2, .relations = 3});
  CHECK_THROWS_AS(pl.explain(wrong, x.g, x.u, x.t), attrib::invalid_argument);
}

TEST_CASE("mask_paths: without the degree term a path costs -log mask alone") {
  const two_path_graph x;
  const auto c = attrib::computation_graph_of(x.g, x.u, x.t, 2);
  const auto id = [&](Index u, Index v) {  // computation-graph edge id of an input-graph edge
    const Index e = x.g.edge_between(u, v);
    for (std::size_t k = 0; k < c.edges.size(); ++k)
      if (c.edges[k] == e) return static_cast<Index>(k);
    return Index{-1};
  };
  // Uniform 1/2: 3 log 2 per path without degrees (5 log 2 with them, as the test above shows).
  const auto uniform = attrib::mask_paths(c.graph, vector::Constant(c.graph.edge_count(), 0.5), c.source, c.target,
                                          5, 3, false);
  REQUIRE(uniform.size() == 2);
  for (const auto& p : uniform) CHECK(p.cost == doctest::Approx(3 * std::log(2.0)).epsilon(1e-14));
  // The tag path's edges at 0.9, the rest at 1/2: it comes first at cost -3 log 0.9.
  vector mask = vector::Constant(c.graph.edge_count(), 0.5);
  for (const auto& [u, v] : {std::pair{x.u, x.j2}, std::pair{x.j2, x.a2}, std::pair{x.a2, x.t}}) mask(id(u, v)) = 0.9;
  const auto by_mask = attrib::mask_paths(c.graph, mask, c.source, c.target, 1, 3, false);
  REQUIRE(by_mask.size() == 1);
  CHECK(by_mask.front().cost == doctest::Approx(-3 * std::log(0.9)).epsilon(1e-14));
  std::vector<Index> tag_path;
  for (Index v : by_mask.front().nodes) tag_path.push_back(c.nodes[static_cast<std::size_t>(v)]);
  CHECK(tag_path == std::vector<Index>{x.u, x.j2, x.a2, x.t});
}

TEST_CASE("link metrics: mask-AUC, top-k edge path hit and top path hit by hand") {
  attrib::link_explanation e;
  e.edges = {10, 11, 12, 13};
  e.mask = vector(4);
  e.mask << 0.9, 0.8, 0.1, 0.7;
  // Truth {10, 13}: of the 4 (truth, other) pairs, only 0.7 < 0.8 is misordered.
  CHECK(attrib::link_mask_auc(e, {10, 13}) == doctest::Approx(0.75));
  const std::vector<std::vector<Index>> truth_edges{{10, 13}};
  CHECK_FALSE(attrib::top_edges_path_hit(e, truth_edges, 2));  // top 2 = {10, 11}
  CHECK(attrib::top_edges_path_hit(e, truth_edges, 3));        // top 3 = {10, 11, 13}
  CHECK(attrib::top_edges_path_hit(e, {{12}, {10, 13}}, 3));
  e.mask(3) = 0.8;  // ties with the 2nd value are selected too (PaGE-Link's >= threshold)
  CHECK(attrib::top_edges_path_hit(e, truth_edges, 2));
  CHECK_THROWS_AS(attrib::top_edges_path_hit(e, truth_edges, 0), attrib::invalid_argument);
  e.paths = {{{1, 2, 3}, {10, 13}, 0.0}};
  CHECK(attrib::top_path_hit(e, {{1, 2, 3}}));
  CHECK_FALSE(attrib::top_path_hit(e, {{1, 4, 3}}));
}

TEST_CASE("citation_graph: planted paths exist, join source to target, ground truth is complete, seeded") {
  using cg = attrib::planted_citation_graph;
  const auto data = attrib::citation_graph({}, 3);
  const hetero_graph& g = data.graph;
  CHECK(g.nodes_of_type(cg::author).size() == 60);
  CHECK(g.nodes_of_type(cg::paper).size() == 120);
  CHECK(g.nodes_of_type(cg::venue).size() == 3);
  CHECK(g.nodes_of_type(cg::term).size() == 20);
  // The stored edges as (source, target, relation), read from the edge list, not edge_between.
  std::set<std::tuple<Index, Index, int>> stored;
  for (const auto& e : g.edges()) stored.emplace(e.source, e.target, e.relation);
  const auto is = [&](Index x, Index y, int r) { return stored.count({x, y, r}) > 0; };
  // Every author who wrote a paper gets 5 links (links_per_author), the others none.
  std::size_t expected_links = 0;
  for (Index a : g.nodes_of_type(cg::author)) {
    bool wrote = false;
    for (Index p : g.nodes_of_type(cg::paper)) wrote = wrote || is(a, p, cg::writes);
    expected_links += wrote ? 5 : 0;
  }
  CHECK(data.links.size() == expected_links);
  CHECK(expected_links >= 250);
  auto middles = g.nodes_of_type(cg::paper);
  for (Index w : g.nodes_of_type(cg::term)) middles.push_back(w);
  std::set<std::pair<Index, Index>> pairs;
  for (const auto& link : data.links) {
    const Index a = link.source, t = link.target;
    CHECK(g.node_type(a) == cg::author);
    CHECK(g.node_type(t) == cg::paper);
    CHECK_FALSE(g.has_edge(a, t));  // the predicted link is not an edge
    CHECK(pairs.insert({a, t}).second);
    // Brute force over every (paper, paper or term): the planted paths are exactly the chains
    // a -writes- p -cites- x -cites- t and the shared terms a -writes- p -has- x <-has- t.
    std::vector<std::vector<Index>> expected;
    std::set<Index> expected_edges;
    for (Index p : g.nodes_of_type(cg::paper))
      for (Index x : middles) {
        if (p == t || x == t || !is(a, p, cg::writes)) continue;
        const bool chain = is(p, x, cg::cites) && is(x, t, cg::cites);
        const bool shared = is(p, x, cg::has) && is(t, x, cg::has);
        if (!chain && !shared) continue;
        expected.push_back({a, p, x, t});
        for (Index e : {g.edge_between(a, p), g.edge_between(p, x), g.edge_between(x, t)}) expected_edges.insert(e);
      }
    CHECK_FALSE(expected.empty());  // every planted link has its cause in the graph
    std::sort(expected.begin(), expected.end());
    CHECK(link.paths == expected);
    CHECK(link.edges == std::vector<Index>(expected_edges.begin(), expected_edges.end()));
    for (const auto& path : link.paths) {  // paths from source to target along edges, no node twice
      REQUIRE(path.size() == 4);
      CHECK(path.front() == a);
      CHECK(path.back() == t);
      CHECK(std::set<Index>(path.begin(), path.end()).size() == 4);
      for (std::size_t i = 0; i + 1 < path.size(); ++i) CHECK(g.has_edge(path[i], path[i + 1]));
    }
  }
  const auto same = attrib::citation_graph({}, 3), other = attrib::citation_graph({}, 4);
  same_seed_same_graph(data, same, other);
  // A single author who wrote every paper has nothing left to cite: no link, and no endless search.
  const auto tiny = attrib::citation_graph({.authors = 1, .papers = 4, .venues = 1, .terms = 1, .authors_per_paper = 1,
                                            .cites_per_paper = 1, .terms_per_paper = 1, .links_per_author = 1,
                                            .feature_dim = 0},
                                           1);
  CHECK(tiny.links.empty());
  CHECK_THROWS_WITH_AS(attrib::citation_graph({.authors = 0}, 1), doctest::Contains("authors >= 1"),
                       attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::citation_graph({.cites_per_paper = 0}, 1), doctest::Contains("cites_per_paper"),
                       attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::citation_graph({.authors_per_paper = 61}, 1), doctest::Contains("authors_per_paper"),
                       attrib::invalid_argument);
}

TEST_CASE("link_pg_explainer: on a hand-built graph the MLP's mask favours the path the model uses") {
  const two_path_graph x;
  const rgcn model = has_path_model();
  // One link to learn from; the model's score rises with the has path and falls with the tag
  // path (see has_path_model), so the prediction loss keeps the has path and cuts the tag path,
  // for which one edge suffices.
  const attrib::link_pg_explainer options{.epochs = 300, .batch = 1};
  const auto trained = options.fit(model, x.g, {{x.u, x.t}}, 3);
  const auto e = trained.explain(model, x.g, x.u, x.t);
  const auto mask_of = [&](Index edge) {
    for (std::size_t k = 0; k < e.edges.size(); ++k)
      if (e.edges[k] == edge) return e.mask(static_cast<Index>(k));
    return -1.0;
  };
  const Index on[] = {x.g.edge_between(x.u, x.j1), x.g.edge_between(x.j1, x.a1), x.g.edge_between(x.a1, x.t)};
  const Index off[] = {x.g.edge_between(x.u, x.j2), x.g.edge_between(x.j2, x.a2), x.g.edge_between(x.a2, x.t)};
  double on_min = 1.0, off_min = 1.0;
  for (Index edge : on) on_min = std::min(on_min, mask_of(edge));
  for (Index edge : off) off_min = std::min(off_min, mask_of(edge));
  MESSAGE("PGExplainer-style mask: weakest has-path edge " << on_min << ", weakest tag-path edge " << off_min);
  CHECK(on_min > 0.9);
  CHECK(off_min < 0.1);
  REQUIRE_FALSE(e.paths.empty());
  CHECK(e.paths.front().nodes == std::vector<Index>{x.u, x.j1, x.a1, x.t});
  CHECK(e.score == doctest::Approx(model.score(x.g, x.u, x.t)));
}

TEST_CASE("link_pg_explainer: mask-AUC beats a random mask on the planted graph, seeded and thread-independent") {
  const auto& f = trained();
  const hetero_graph& g = f.data.graph;
  const matrix h = f.model.embed(g);
  std::vector<std::pair<Index, Index>> train, links;
  std::vector<const attrib::link_truth*> truths;
  for (std::size_t i = 0; i < f.data.links.size(); ++i) {
    const auto& link = f.data.links[i];
    if (f.model.score(h, link.source, link.target) <= 0.0) continue;  // predicted links only
    if (i % 5 != 4 && train.size() < 48) train.emplace_back(link.source, link.target);
    if (i % 5 == 4 && links.size() < 12) {
      links.emplace_back(link.source, link.target);
      truths.push_back(&link);
    }
  }
  REQUIRE(links.size() == 12);
  const attrib::link_pg_explainer options{.epochs = 10};
  const auto trained_pg = options.fit(f.model, g, train, 2);
  const auto again = options.fit(f.model, g, train, 2);
  CHECK(trained_pg.network().parameters() == again.network().parameters());
  CHECK(trained_pg.links_trained() == 48);
  CHECK(std::isfinite(trained_pg.last_loss()));
  attrib::run_settings one, two;
  one.threads = 1;
  two.threads = 2;
  const auto a = attrib::explain_links(trained_pg, f.model, g, links, one);
  const auto b = attrib::explain_links(trained_pg, f.model, g, links, two);
  const auto [pg_auc, random_auc] = mean_auc_against_chance(a, b, truths, 11);
  MESSAGE("mean mask-AUC over 12 links: PGExplainer-style " << pg_auc << ", random mask " << random_auc);
  CHECK(pg_auc >= random_auc + 0.1);
}

TEST_CASE("link_pg_explainer and page_link: empty graphs, out-of-range nodes and bad options name the problem") {
  const two_path_graph x;
  const rgcn model = has_path_model();
  const attrib::link_pg_explainer options;
  CHECK_THROWS_WITH_AS(options.fit(model, x.g, {}, 1), doctest::Contains("links is empty"), attrib::invalid_argument);
  const hetero_graph empty{{"user", "item", "attribute"}, {{"buys", 0, 1}, {"has", 1, 2}, {"tag", 1, 2}}};
  CHECK_THROWS_WITH_AS(options.fit(model, empty, {{0, 1}}, 1), doctest::Contains("the graph is empty"),
                       attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(options.fit(model, x.g, {{x.u, 99}}, 1), doctest::Contains("node 99 outside 0..12"),
                       attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(options.fit(model, x.g, {{x.u, x.lone}}, 1), doctest::Contains("no path joins nodes"),
                       attrib::invalid_argument);
  CHECK_THROWS_WITH_AS((attrib::link_pg_explainer{.hidden = 0}.fit(model, x.g, {{x.u, x.t}}, 1)),
                       doctest::Contains("hidden >= 1"), attrib::invalid_argument);
  CHECK_THROWS_WITH_AS((attrib::link_pg_explainer{.temperature_end = 0.0}.fit(model, x.g, {{x.u, x.t}}, 1)),
                       doctest::Contains("temperatures"), attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::trained_link_pg_explainer{}.explain(model, x.g, x.u, x.t),
                       doctest::Contains("not trained"), attrib::invalid_argument);
  const auto trained_pg = attrib::link_pg_explainer{.epochs = 1}.fit(model, x.g, {{x.u, x.t}}, 1);
  CHECK_THROWS_WITH_AS(trained_pg.explain(model, x.g, x.u, -1), doctest::Contains("node -1 outside 0..12"),
                       attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(trained_pg.explain(model, x.g, x.u, x.u), doctest::Contains("source and target must differ"),
                       attrib::invalid_argument);
  // PaGE-Link and the edge mask on an empty graph: the node they are asked about does not exist.
  CHECK_THROWS_WITH_AS(attrib::page_link{}.explain(model, empty, 0, 1), doctest::Contains("node 0 outside"),
                       attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::link_edge_mask_explainer{}.explain(model, empty, 0, 1),
                       doctest::Contains("node 0 outside"), attrib::invalid_argument);
}
