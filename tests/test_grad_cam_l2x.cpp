// Grad-CAM on graph classifiers and the L2X amortised explainer. Grad-CAM: the layer gradients
// dy_c/dF of gcn and gin against central differences of a forward pass written here from the
// models' public parameters, the closed form of alpha under mean pooling and a linear head, a
// trained GCN's ranking of a planted house motif (AUC by pair counting), bad input. L2X: the
// explainer's parameter gradient against central differences of the relaxed objective written
// here, L2X's "switch" data set (top-k precision against the known relevant features),
// determinism under a seed, bad input.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "attrib/graph/generators.hpp"
#include "attrib/methods/feature/l2x.hpp"
#include "attrib/methods/graph/grad_cam.hpp"
#include "attrib/models/gnn/gcn.hpp"
#include "attrib/models/gnn/gin.hpp"
#include "attrib/models/gnn/layer_gradient.hpp"

namespace {

using Index = attrib::index;
using attrib::matrix;
using attrib::vector;

// A 7-node graph with random positive edge weights and random features.
attrib::gcn_input random_graph(std::uint64_t seed, Index features) {
  attrib::rng r(seed);
  const attrib::graph g = attrib::barabasi_albert(7, 2, r, features);
  attrib::gcn_input in = attrib::make_gcn_input(g);
  for (Index i = 0; i < in.features.size(); ++i) in.features.data()[i] = r.normal();
  for (Index u = 0; u < 7; ++u)
    for (Index v = u + 1; v < 7; ++v)
      if (in.adjacency(u, v) > 0) in.adjacency(u, v) = in.adjacency(v, u) = 0.5 + r.uniform();
  return in;
}

// --- The two GNNs written out directly from their papers' formulas and public parameters. ---

matrix gcn_propagation(const attrib::gcn& m, const attrib::gcn_input& in) {
  matrix a = in.adjacency + matrix::Identity(in.node_count(), in.node_count());
  if (m.config().aggregation == attrib::gcn_aggregation::sum) return a;
  matrix out = a;
  for (Index i = 0; i < a.rows(); ++i)
    for (Index j = 0; j < a.cols(); ++j) out(i, j) = a(i, j) / std::sqrt(a.row(i).sum() * a.row(j).sum());
  return out;
}

matrix gcn_layer(const attrib::gcn& m, const matrix& norm, const matrix& h, Index l) {
  const auto& th = m.parameters();
  matrix z = norm * h * th.weights[static_cast<std::size_t>(l)];
  for (Index i = 0; i < z.rows(); ++i) z.row(i) += th.biases[static_cast<std::size_t>(l)].transpose();
  return z.cwiseMax(0.0);
}

// Logits when layer `layer`'s output is replaced by F.
vector gcn_logits_from(const attrib::gcn& m, const attrib::gcn_input& in, Index layer, const matrix& f) {
  const matrix norm = gcn_propagation(m, in);
  matrix h = f;
  for (Index l = layer + 1; l < m.config().layers; ++l) h = gcn_layer(m, norm, h, l);
  vector pooled(h.cols());
  for (Index j = 0; j < h.cols(); ++j) {
    if (m.config().readout == attrib::gcn_readout::mean) pooled(j) = h.col(j).sum() / static_cast<double>(h.rows());
    if (m.config().readout == attrib::gcn_readout::sum) pooled(j) = h.col(j).sum();
    if (m.config().readout == attrib::gcn_readout::max) pooled(j) = h.col(j).maxCoeff();
  }
  attrib::vector logits = m.parameters().weights.back().transpose() * pooled;
  logits += m.parameters().biases.back();
  return logits;
}

matrix gcn_embedding(const attrib::gcn& m, const attrib::gcn_input& in, Index layer) {
  const matrix norm = gcn_propagation(m, in);
  matrix h = in.features;
  for (Index l = 0; l <= layer; ++l) h = gcn_layer(m, norm, h, l);
  return h;
}

matrix gin_layer(const attrib::gin& m, const attrib::gcn_input& in, const matrix& h, Index l) {
  const auto& th = m.parameters();
  const auto u = static_cast<std::size_t>(l);
  const matrix agg = (1.0 + th.epsilons(l)) * h + in.adjacency * h;
  matrix a = agg * th.weights[2 * u];
  for (Index i = 0; i < a.rows(); ++i) a.row(i) += th.biases[2 * u].transpose();
  matrix b = a.cwiseMax(0.0) * th.weights[2 * u + 1];
  for (Index i = 0; i < b.rows(); ++i) b.row(i) += th.biases[2 * u + 1].transpose();
  return b.cwiseMax(0.0);
}

vector gin_readout(const attrib::gin& m, const matrix& h) {
  vector s = h.colwise().sum().transpose();
  return m.config().readout == attrib::gin_readout::mean ? vector(s / static_cast<double>(h.rows())) : s;
}

vector gin_logits_from(const attrib::gin& m, const attrib::gcn_input& in, Index layer, const matrix& f) {
  const Index layers = m.config().layers, hidden = m.config().hidden;
  std::vector<matrix> outs;
  matrix h = in.features;
  for (Index l = 0; l < layers; ++l) {
    h = l == layer ? f : gin_layer(m, in, h, l);
    outs.push_back(h);
  }
  vector pooled;
  if (m.config().jumping_knowledge) {
    pooled.resize(hidden * layers);
    for (Index l = 0; l < layers; ++l) pooled.segment(l * hidden, hidden) = gin_readout(m, outs[static_cast<std::size_t>(l)]);
  } else {
    pooled = gin_readout(m, h);
  }
  attrib::vector logits = m.parameters().weights.back().transpose() * pooled;
  logits += m.parameters().biases.back();
  return logits;
}

matrix gin_embedding(const attrib::gin& m, const attrib::gcn_input& in, Index layer) {
  matrix h = in.features;
  for (Index l = 0; l <= layer; ++l) h = gin_layer(m, in, h, l);
  return h;
}

vector softmax(const vector& y) {
  const vector e = (y.array() - y.maxCoeff()).exp();
  return e / e.sum();
}

// Checks the library's embeddings, logits and dy_c/dF against the forward pass above, by
// central differences in every entry of F.
// With max_readout, the entries of the last layer's channels whose maximum is attained at two
// nodes (a channel that ReLU zeroes on every node) are skipped: the logit has only one-sided
// derivatives there.
template <class Model, class LogitsFrom, class Embedding>
void check_layer_gradient(const Model& model, const attrib::gcn_input& in, Index layer, Index target,
                          LogitsFrom logits_from, Embedding embedding, bool max_readout = false) {
  const attrib::gnn_layer_gradient g = attrib::layer_gradient(model, in, layer, target);
  const matrix f = embedding(model, in, layer);
  CHECK((g.embeddings - f).cwiseAbs().maxCoeff() < 1e-12);
  CHECK((softmax(g.logits) - model.probabilities(in)).cwiseAbs().maxCoeff() < 1e-12);
  CHECK((g.logits - logits_from(model, in, layer, f)).cwiseAbs().maxCoeff() < 1e-12);
  const double h = 1e-6;
  double worst = 0.0;
  Index skipped = 0;
  const auto tied = [&](Index k) {
    const double top = f.col(k).maxCoeff();
    return (f.col(k).array() == top).count() > 1;
  };
  for (Index n = 0; n < f.rows(); ++n)
    for (Index k = 0; k < f.cols(); ++k) {
      if (max_readout && layer + 1 == static_cast<Index>(model.parameters().weights.size()) - 1 && tied(k)) {
        ++skipped;
        continue;
      }
      matrix up = f, down = f;
      up(n, k) += h;
      down(n, k) -= h;
      const double fd = (logits_from(model, in, layer, up)(target) - logits_from(model, in, layer, down)(target)) / (2 * h);
      worst = std::max(worst, std::abs(fd - g.gradient(n, k)) / (1.0 + std::abs(fd)));
    }
  INFO(Model::name << " layer " << layer << " target " << target << ", entries skipped at ties " << skipped);
  CHECK(skipped <= f.rows() * f.cols() / 2);
  CHECK(worst < 1e-7);
}

// AUC by counting (positive, negative) pairs: P(score_pos > score_neg) + P(tie) / 2.
double pair_auc(const vector& scores, const std::vector<char>& truth) {
  double wins = 0.0, pairs = 0.0;
  for (Index i = 0; i < scores.size(); ++i)
    for (Index j = 0; j < scores.size(); ++j)
      if (truth[static_cast<std::size_t>(i)] && !truth[static_cast<std::size_t>(j)]) {
        pairs += 1.0;
        wins += scores(i) > scores(j) ? 1.0 : (scores(i) == scores(j) ? 0.5 : 0.0);
      }
  return wins / pairs;
}

}  // namespace

TEST_CASE("grad_cam: dy_c/dF of every GCN and GIN layer matches central differences") {
  const attrib::gcn_input in = random_graph(3, 4);
  for (auto readout : {attrib::gcn_readout::mean, attrib::gcn_readout::sum, attrib::gcn_readout::max})
    for (auto aggregation : {attrib::gcn_aggregation::normalized, attrib::gcn_aggregation::sum}) {
      const attrib::gcn model({.readout = readout, .aggregation = aggregation, .inputs = 4, .hidden = 5, .layers = 3,
                         .classes = 3},
                        7);
      for (Index layer = 0; layer < 3; ++layer)
        for (Index target = 0; target < 3; ++target)
          check_layer_gradient(model, in, layer, target, gcn_logits_from, gcn_embedding,
                               readout == attrib::gcn_readout::max);
    }
  for (auto readout : {attrib::gin_readout::sum, attrib::gin_readout::mean})
    for (bool jk : {false, true}) {
      attrib::gin model({.readout = readout, .learn_epsilon = true, .jumping_knowledge = jk, .inputs = 4, .hidden = 5,
                         .layers = 3, .classes = 2},
                        5);
      model.parameters().epsilons << 0.3, -0.2, 0.1;
      for (Index layer = 0; layer < 3; ++layer)
        for (Index target = 0; target < 2; ++target)
          check_layer_gradient(model, in, layer, target, gin_logits_from, gin_embedding);
    }
}

TEST_CASE("grad_cam: mean pooling and a linear head give alpha_k = W_out(k, c) / N and L(n) = ReLU(F(n) . alpha)") {
  // y_c = sum_k W_out(k, c) (1/N) sum_n F_k(n) + b_c, so dy_c/dF_k(n) = W_out(k, c) / N for every
  // n, and alpha_k = (1/N) sum_n W_out(k, c) / N = W_out(k, c) / N.
  const attrib::gcn_input in = random_graph(9, 3);
  const Index n = in.node_count();
  const attrib::gcn model({.readout = attrib::gcn_readout::mean, .inputs = 3, .hidden = 6, .layers = 2, .classes = 3}, 4);
  const matrix f = gcn_embedding(model, in, 1);
  for (Index c = 0; c < 3; ++c) {
    const attrib::grad_cam_result r = attrib::grad_cam{}.explain(model, in, c);
    CHECK(r.layer == 1);
    const matrix& w = model.parameters().weights.back();
    for (Index k = 0; k < 6; ++k) CHECK(r.alpha(k) == doctest::Approx(w(k, c) / static_cast<double>(n)).epsilon(1e-13));
    for (Index i = 0; i < n; ++i) {
      double s = 0.0;
      for (Index k = 0; k < 6; ++k) s += w(k, c) / static_cast<double>(n) * f(i, k);
      CHECK(r.scores(i) == doctest::Approx(std::max(s, 0.0)).epsilon(1e-12));
    }
    // An earlier layer: alpha is the node mean of dy/dF, L the ReLU of F alpha.
    const attrib::grad_cam_result first = attrib::grad_cam{.layer = 0}.explain(model, in, c);
    const matrix f0 = gcn_embedding(model, in, 0);
    for (Index k = 0; k < 6; ++k) CHECK(first.alpha(k) == doctest::Approx(first.gradient.col(k).mean()).epsilon(1e-13));
    for (Index i = 0; i < n; ++i)
      CHECK(first.scores(i) == doctest::Approx(std::max(0.0, f0.row(i).dot(first.alpha))).epsilon(1e-12));
  }
}

TEST_CASE("grad_cam: a trained GCN ranks the nodes of a planted house motif above the BA base") {
  // Class 1: BA(20, 1) with a house attached (ba_2motifs' class-0 graphs, 25 nodes); class 0: a
  // plain BA(25, 1) tree. Column 0 of the features is the degree (constant features alone leave
  // a GCN constant, docs/methods/graph.md), the rest stay 1. Grad-CAM for class 1 on unseen
  // house graphs should score the 5 house nodes above the 20 base nodes: AUC > 0.5 is chance.
  const auto with_degree = [](attrib::gcn_input in) {
    for (Index i = 0; i < in.node_count(); ++i) in.features(i, 0) = in.adjacency.row(i).sum();
    return in;
  };
  const auto houses = attrib::ba_2motifs(21, 240, 20, 4), held_out = attrib::ba_2motifs(22, 80, 20, 4);
  std::vector<attrib::gcn_input> inputs;
  std::vector<int> labels;
  for (std::size_t k = 0; k < houses.size(); k += 2) {  // even positions hold the houses
    inputs.push_back(with_degree(attrib::make_gcn_input(houses[k].structure)));
    labels.push_back(1);
    attrib::rng r = attrib::rng::stream(23, k);
    inputs.push_back(with_degree(attrib::make_gcn_input(attrib::barabasi_albert(25, 1, r, 4))));
    labels.push_back(0);
  }
  attrib::gcn model({.inputs = 4, .hidden = 16, .layers = 3, .classes = 2}, 2);
  model.train(inputs, labels, {.epochs = 60, .batch_size = 16, .learning_rate = 0.01, .seed = 3});
  std::vector<double> aucs;
  double correct = 0.0;
  for (std::size_t k = 0; k < held_out.size(); k += 2) {
    const attrib::gcn_input in = with_degree(attrib::make_gcn_input(held_out[k].structure));
    correct += model.predict(in) == 1 ? 1.0 : 0.0;
    const attrib::grad_cam_result r = attrib::grad_cam{}.explain(model, in, 1);
    if (r.scores.maxCoeff() > 0.0) aucs.push_back(pair_auc(r.scores, held_out[k].ground_truth));
    else aucs.push_back(0.5);
  }
  double mean = 0.0, above = 0.0;
  for (double a : aucs) {
    mean += a / static_cast<double>(aucs.size());
    above += a > 0.5 ? 1.0 : 0.0;
  }
  std::sort(aucs.begin(), aucs.end());
  MESSAGE("GCN house-vs-tree: held-out house graphs classified " << correct << "/" << aucs.size()
                                                                 << "; Grad-CAM motif AUC mean " << mean << ", median "
                                                                 << aucs[aucs.size() / 2] << ", above 0.5 in " << above
                                                                 << "/" << aucs.size());
  CHECK(mean > 0.75);
  CHECK(above > 0.8 * static_cast<double>(aucs.size()));
}

TEST_CASE("grad_cam: bad input (layer or class out of range, wrong feature width) is a named exception") {
  const attrib::gcn_input in = random_graph(3, 4);
  const attrib::gcn g({.inputs = 4, .hidden = 5, .layers = 3, .classes = 2}, 1);
  const attrib::gin n({.inputs = 4, .hidden = 5, .layers = 2, .classes = 2}, 1);
  CHECK_THROWS_WITH_AS(attrib::grad_cam{.layer = 3}.explain(g, in, 0),
                       "grad_cam: layer 3 outside 0..2 (or -1 for the last message-passing layer)",
                       attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::grad_cam{.layer = -2}.explain(n, in, 0),
                       "grad_cam: layer -2 outside 0..1 (or -1 for the last message-passing layer)",
                       attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::grad_cam{}.explain(g, in, 2), "gcn layer_gradient: target class 2 outside 0..1",
                       attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::grad_cam{}.explain(n, in, -1), "gin layer_gradient: target class -1 outside 0..1",
                       attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::layer_gradient(g, in, 7, 0),
                       "gcn layer_gradient: layer 7 outside 0..2 (the model's message-passing layers)",
                       attrib::invalid_argument);
  const attrib::gcn_input narrow = random_graph(3, 3);
  CHECK_THROWS_WITH_AS(attrib::grad_cam{}.explain(g, narrow, 0),
                       "gcn layer_gradient: input has 3 features per node, the model expects 4", attrib::invalid_argument);
}

// ------------------------------------------------------------------------------------------ L2X

namespace {

double sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }

// L2X's switch data (Chen et al. 2018, section 4.1): x1 from N(+3, 1) or N(-3, 1) with equal
// probability, x2..x10 standard normal; the +3 component draws y from the orange-skin model on
// x2..x5 (logit sum x_i^2 - 4), the -3 component from the nonlinear additive model on x6..x9
// (logit -100 sin(2 x6) + 2|x7| + x8 + exp(-x9)). The model explained is the Bayes predictor
// P(y = 1 | x): the component posterior is sigmoid(6 x1), so
//   p(x) = sigmoid(6 x1) sigmoid(orange(x)) + (1 - sigmoid(6 x1)) sigmoid(additive(x)).
// Relevant features of a row: x1 with x2..x5 (+3 component) or with x6..x9 (-3 component).
struct switch_model {
  double sine = 100.0;  // the paper's coefficient; the gradient check uses 1, far from saturation
  Index input_dim() const { return 10; }
  Index output_dim() const { return 1; }
  static double orange(const double* x) { return x[1] * x[1] + x[2] * x[2] + x[3] * x[3] + x[4] * x[4] - 4.0; }
  double additive(const double* x) const {
    return -sine * std::sin(2.0 * x[5]) + 2.0 * std::abs(x[6]) + x[7] + std::exp(-x[8]);
  }
  matrix predict(const matrix& x) const {
    matrix y(x.rows(), 1);
    for (Index r = 0; r < x.rows(); ++r) {
      const double* v = &x(r, 0);
      const double s = sigmoid(6.0 * v[0]);
      y(r, 0) = s * sigmoid(orange(v)) + (1.0 - s) * sigmoid(additive(v));
    }
    return y;
  }
  matrix vjp_inputs(const matrix& x, const matrix& c) const {
    matrix g = matrix::Zero(x.rows(), 10);
    for (Index r = 0; r < x.rows(); ++r) {
      const double* v = &x(r, 0);
      const double s = sigmoid(6.0 * v[0]), po = sigmoid(orange(v)), pa = sigmoid(additive(v));
      const double ds = 6.0 * s * (1.0 - s), dpo = po * (1.0 - po), dpa = pa * (1.0 - pa);
      g(r, 0) = ds * (po - pa);
      for (int i = 1; i <= 4; ++i) g(r, i) = s * dpo * 2.0 * v[i];
      g(r, 5) = (1.0 - s) * dpa * -2.0 * sine * std::cos(2.0 * v[5]);
      g(r, 6) = (1.0 - s) * dpa * 2.0 * (v[6] > 0 ? 1.0 : (v[6] < 0 ? -1.0 : 0.0));
      g(r, 7) = (1.0 - s) * dpa;
      g(r, 8) = (1.0 - s) * dpa * -std::exp(-v[8]);
      g.row(r) *= c(r, 0);
    }
    return g;
  }
};

// Rows of the switch data and, per row, whether it came from the +3 component.
matrix switch_data(Index rows, std::uint64_t seed, std::vector<char>& orange_rows) {
  attrib::rng r(seed);
  matrix x(rows, 10);
  orange_rows.assign(static_cast<std::size_t>(rows), 0);
  for (Index i = 0; i < rows; ++i) {
    const bool plus = r.uniform() < 0.5;
    orange_rows[static_cast<std::size_t>(i)] = plus ? 1 : 0;
    x(i, 0) = (plus ? 3.0 : -3.0) + r.normal();
    for (Index f = 1; f < 10; ++f) x(i, f) = r.normal();
  }
  return x;
}

// Three softmax classes of a linear map: a model with categorical outputs.
struct softmax_model {
  matrix w;  // 4 x 3
  Index input_dim() const { return 4; }
  Index output_dim() const { return 3; }
  matrix predict(const matrix& x) const {
    matrix y = x * w;
    for (Index r = 0; r < y.rows(); ++r) y.row(r) = softmax(y.row(r).transpose()).transpose();
    return y;
  }
  matrix vjp_inputs(const matrix& x, const matrix& c) const {
    const matrix p = predict(x);
    matrix dz(x.rows(), 3);
    for (Index r = 0; r < x.rows(); ++r) dz.row(r) = p.row(r).cwiseProduct(c.row(r)).array() - p.row(r).dot(c.row(r)) * p.row(r).array();
    return dz * w.transpose();
  }
};

// A score, not a probability: 5 x1.
struct score_model {
  Index input_dim() const { return 4; }
  Index output_dim() const { return 1; }
  matrix predict(const matrix& x) const { return 5.0 * x.leftCols(1); }
  matrix vjp_inputs(const matrix& x, const matrix& c) const {
    matrix g = matrix::Zero(x.rows(), 4);
    g.col(0) = 5.0 * c.col(0);
    return g;
  }
};

// The relaxed L2X objective written out directly: MLP, concrete draws, max, mix, model, loss.
template <class Model>
double l2x_objective(const attrib::l2x_explainer& e, const Model& model, const matrix& x, const matrix& t,
                     const vector& b, const std::vector<matrix>& gumbel, attrib::l2x_loss loss) {
  matrix a = x;
  const std::size_t layers = e.weights().size();
  for (std::size_t l = 0; l < layers; ++l) {
    matrix z = a * e.weights()[l];
    for (Index r = 0; r < z.rows(); ++r) z.row(r) += e.biases()[l].transpose();
    a = l + 1 < layers ? matrix(z.cwiseMax(0.0)) : z;
  }
  matrix m = matrix::Zero(x.rows(), x.cols());
  for (const matrix& g : gumbel)
    for (Index r = 0; r < x.rows(); ++r) {
      const vector c = softmax(((a.row(r) + g.row(r)) / e.temperature()).transpose());
      for (Index f = 0; f < x.cols(); ++f) m(r, f) = std::max(m(r, f), c(f));
    }
  matrix mixed(x.rows(), x.cols());
  for (Index r = 0; r < x.rows(); ++r)
    for (Index f = 0; f < x.cols(); ++f) mixed(r, f) = m(r, f) * x(r, f) + (1.0 - m(r, f)) * b(f);
  const matrix y = model.predict(mixed);
  double total = 0.0;
  for (Index r = 0; r < y.rows(); ++r)
    for (Index o = 0; o < y.cols(); ++o) {
      if (loss == attrib::l2x_loss::squared_error) total += (y(r, o) - t(r, o)) * (y(r, o) - t(r, o));
      else if (y.cols() == 1) total -= t(r, o) * std::log(y(r, o)) + (1 - t(r, o)) * std::log(1 - y(r, o));
      else total -= t(r, o) * std::log(y(r, o));
    }
  return total / static_cast<double>(y.rows());
}

template <class Model>
void check_l2x_gradient(const Model& model, const matrix& x, const vector& b, attrib::l2x_loss loss, Index k,
                        double temperature) {
  attrib::l2x_explainer e(x.cols(), k, temperature, {6, 5}, loss, 3);
  for (auto& bias : e.biases())
    for (Index i = 0; i < bias.size(); ++i) bias(i) = 0.1 * std::sin(static_cast<double>(3 * i + 1));
  attrib::rng r(17);
  std::vector<matrix> gumbel(static_cast<std::size_t>(k), matrix(x.rows(), x.cols()));
  for (auto& g : gumbel)
    for (Index i = 0; i < g.size(); ++i) g.data()[i] = -std::log(-std::log(r.uniform() * 0.98 + 0.01));
  const matrix t = model.predict(x);
  attrib::l2x_gradient grad;
  const double value = e.loss_and_gradient(model, x, t, b, std::span<const matrix>(gumbel), &grad);
  CHECK(value == doctest::Approx(l2x_objective(e, model, x, t, b, gumbel, loss)).epsilon(1e-12));
  const double h = 1e-6;
  double worst = 0.0;
  for (std::size_t l = 0; l < e.weights().size(); ++l) {
    for (Index i = 0; i < e.weights()[l].size(); ++i) {
      double& p = e.weights()[l].data()[i];
      const double keep = p;
      p = keep + h;
      const double up = l2x_objective(e, model, x, t, b, gumbel, loss);
      p = keep - h;
      const double down = l2x_objective(e, model, x, t, b, gumbel, loss);
      p = keep;
      const double fd = (up - down) / (2 * h);
      worst = std::max(worst, std::abs(fd - grad.weights[l].data()[i]) / (1e-3 + std::abs(fd)));
    }
    for (Index i = 0; i < e.biases()[l].size(); ++i) {
      double& p = e.biases()[l](i);
      const double keep = p;
      p = keep + h;
      const double up = l2x_objective(e, model, x, t, b, gumbel, loss);
      p = keep - h;
      const double down = l2x_objective(e, model, x, t, b, gumbel, loss);
      p = keep;
      const double fd = (up - down) / (2 * h);
      worst = std::max(worst, std::abs(fd - grad.biases[l](i)) / (1e-3 + std::abs(fd)));
    }
  }
  CHECK(worst < 1e-5);
}

}  // namespace

TEST_CASE("l2x: the explainer's parameter gradient matches central differences for fixed Gumbel noise") {
  std::vector<char> orange;
  const matrix xs = switch_data(6, 5, orange);
  vector zero = vector::Zero(10);
  SUBCASE("switch model, Bernoulli cross-entropy, k = 3") {
    check_l2x_gradient(switch_model{.sine = 1.0}, xs, zero, attrib::l2x_loss::cross_entropy, 3, 0.5);
  }
  SUBCASE("switch model, squared error, k = 2, a nonzero baseline") {
    vector b = vector::LinSpaced(10, -0.5, 0.5);
    check_l2x_gradient(switch_model{.sine = 1.0}, xs, b, attrib::l2x_loss::squared_error, 2, 0.7);
  }
  softmax_model sm{matrix(4, 3)};
  sm.w << 1.0, -0.5, 0.3, 0.2, 0.8, -1.1, -0.7, 0.4, 0.9, 0.5, -0.3, -0.2;
  attrib::rng r(4);
  matrix x4(5, 4);
  for (Index i = 0; i < x4.size(); ++i) x4.data()[i] = r.normal();
  SUBCASE("softmax model, categorical cross-entropy, k = 2") {
    check_l2x_gradient(sm, x4, vector::Constant(4, 0.2), attrib::l2x_loss::cross_entropy, 2, 0.3);
  }
  SUBCASE("softmax model, squared error, k = 1") {
    check_l2x_gradient(sm, x4, vector::Zero(4), attrib::l2x_loss::squared_error, 1, 1.0);
  }
}

TEST_CASE("l2x: on L2X's switch data the median top-5 precision against the relevant features is >= 0.8") {
  // Squared error between f(x~) and f(x): over seeds 1..6 it selected the orange-skin rows'
  // features as reliably as cross-entropy or better (orange-half precision 0.998-1.0 against
  // 0.85-1.0). On the additive rows the model's prediction is decided by -100 sin(2 x6) except
  // near its zeros, so x7..x9 barely move it and no explainer of this model should be expected
  // to select them every time; x1 and x6, which carry the prediction, must be selected.
  std::vector<char> orange_train, orange_test;
  const matrix train = switch_data(4000, 1, orange_train);
  const matrix test = switch_data(1000, 2, orange_test);
  const attrib::l2x method{.k = 5, .temperature = 0.5, .hidden = {64, 64}, .loss = attrib::l2x_loss::squared_error,
                           .epochs = 60, .batch_size = 100, .learning_rate = 1e-3};
  const attrib::l2x_explainer e = method.fit(switch_model{}, train, vector::Zero(10), 2);
  const attrib::l2x_explanation ex = e.explain(test);  // every test row in one forward pass
  REQUIRE(ex.selected.rows() == 1000);
  REQUIRE(ex.selected.cols() == 5);
  std::vector<double> precision;
  double orange_mean = 0.0, additive_mean = 0.0, carriers = 0.0;
  for (Index r = 0; r < 1000; ++r) {
    const bool plus = orange_test[static_cast<std::size_t>(r)];
    double hits = 0.0;
    bool x1 = false, x6 = false;
    for (Index j = 0; j < 5; ++j) {
      const Index f = ex.selected(r, j);
      const bool relevant = f == 0 || (plus ? (f >= 1 && f <= 4) : (f >= 5 && f <= 8));
      hits += relevant ? 1.0 : 0.0;
      x1 = x1 || f == 0;
      x6 = x6 || f == 5;
      CHECK(ex.mask(r, f) == 1.0);
    }
    CHECK(ex.mask.row(r).sum() == 5.0);
    precision.push_back(hits / 5.0);
    (plus ? orange_mean : additive_mean) += hits / 5.0;
    if (!plus && x1 && x6) carriers += 1.0;
  }
  const double orange_rows = static_cast<double>(std::count(orange_test.begin(), orange_test.end(), 1));
  orange_mean /= orange_rows;
  additive_mean /= 1000.0 - orange_rows;
  carriers /= 1000.0 - orange_rows;
  std::sort(precision.begin(), precision.end());
  const double median = precision[500];
  double mean = 0.0;
  for (double p : precision) mean += p / 1000.0;
  MESSAGE("L2X switch: median top-5 precision " << median << ", mean " << mean << " (orange-skin rows " << orange_mean
                                                << ", additive rows " << additive_mean << ", additive rows with x1 and x6 "
                                                << carriers << "); random selection: 0.5");
  CHECK(median >= 0.8);
  CHECK(mean > 0.7);
  CHECK(orange_mean > 0.95);
  CHECK(carriers > 0.9);
}

TEST_CASE("l2x: the same seed gives the same explainer; another seed another") {
  std::vector<char> orange;
  const matrix train = switch_data(300, 3, orange);
  const attrib::l2x method{.k = 3, .hidden = {8}, .epochs = 2, .batch_size = 32};
  const auto a = method.fit(switch_model{}, train, vector::Zero(10), 11);
  const auto b = method.fit(switch_model{}, train, vector::Zero(10), 11);
  const auto c = method.fit(switch_model{}, train, vector::Zero(10), 12);
  for (std::size_t l = 0; l < a.weights().size(); ++l) {
    CHECK(a.weights()[l] == b.weights()[l]);
    CHECK(a.biases()[l] == b.biases()[l]);
  }
  CHECK(a.weights()[0] != c.weights()[0]);
  CHECK(a.scores(train) == b.scores(train));
}

TEST_CASE("l2x: bad input (k, temperature, widths, input shape, non-probabilities) is a named exception") {
  std::vector<char> orange;
  const matrix x = switch_data(20, 3, orange);
  const switch_model m;
  const vector zero = vector::Zero(10);
  CHECK_THROWS_WITH_AS(attrib::l2x{.k = 0}.fit(m, x, zero), "l2x: k must lie in 1..10 (the number of features), got 0",
                       attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::l2x{.k = 11}.fit(m, x, zero), "l2x: k must lie in 1..10 (the number of features), got 11",
                       attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::l2x{.temperature = 0.0}.fit(m, x, zero),
                       "l2x: temperature must be positive and finite, got 0.000000", attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::l2x{.temperature = -1.0}.fit(m, x, zero),
                       "l2x: temperature must be positive and finite, got -1.000000", attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::l2x{.hidden = {0}}.fit(m, x, zero), "l2x: hidden widths must lie in 1..10^6, got 0",
                       attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::l2x{}.fit(m, matrix(x.leftCols(7)), zero),
                       "l2x: inputs have 7 columns, the model expects 10", attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::l2x{}.fit(m, x, vector::Zero(9)), "l2x: baseline has 9 entries, expected 10",
                       attrib::invalid_argument);
  matrix bad = x;
  bad(2, 3) = std::nan("");
  CHECK_THROWS_WITH_AS(attrib::l2x{}.fit(m, bad, zero), "l2x: inputs must be finite, but entry (2, 3) is nan",
                       attrib::invalid_argument);
  // Outputs that are not probabilities (5 x1: a score) cannot be cross-entropy targets.
  const matrix ones = matrix::Ones(3, 4);
  CHECK_THROWS_WITH_AS(attrib::l2x{}.fit(score_model{}, ones, vector::Zero(4)),
                       "l2x: cross_entropy needs the model's outputs to be probabilities (one column in [0, 1], or "
                       "rows summing to 1); row 0 is not; use l2x_loss::squared_error",
                       attrib::invalid_argument);
  CHECK_NOTHROW(attrib::l2x{.loss = attrib::l2x_loss::squared_error, .epochs = 1}.fit(score_model{}, ones, vector::Zero(4)));
  const attrib::l2x_explainer e = attrib::l2x{.k = 2, .hidden = {4}, .epochs = 1}.fit(m, x, zero, 1);
  CHECK_THROWS_WITH_AS(e.explain(matrix::Zero(3, 7)), "l2x_explainer::scores: x has 7 columns, the explainer expects 10",
                       attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::l2x_explainer{}.explain(matrix::Zero(3, 7)),
                       "l2x_explainer::scores: the explainer has not been built (default-constructed)",
                       attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::l2x_explainer(10, 3, 0.0, {4}, attrib::l2x_loss::cross_entropy, 1),
                       "l2x: temperature must be positive and finite, got 0.000000", attrib::invalid_argument);
}
