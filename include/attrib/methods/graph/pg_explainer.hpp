#pragma once
// PGExplainer (Luo et al., NeurIPS 2020) for graph classification. Where GNNExplainer learns a
// free mask for each explained graph, PGExplainer learns one small network that maps what the
// trained model already computes to an edge's mask logit,
//   w_uv = (f([z_u, z_v]) + f([z_v, z_u])) / 2,   f: 2h -> hidden (ReLU) -> 1,
// z the model's last-layer node embeddings (averaging both orders makes the mask of an undirected
// edge symmetric). f is trained once over many graphs, each explained for the class the model
// predicts, on GNNExplainer's objective (gnn_explainer.hpp: -log p_c of the graph with its edge
// weights scaled by the mask, plus size and entropy terms), with the mask drawn from the binary
// concrete distribution, m = sigmoid((w + log u - log(1 - u)) / T), u ~ U(0, 1), and T annealed
// from 5 to 1 (T_k = T0 (T1 / T0)^(k / epochs)), as the authors' code does. A new graph is then
// explained in one forward pass, m = sigmoid(w), without optimisation or randomness: PGExplainer
// is inductive, and fast per explanation once trained. Node scores are the mean mask of each
// node's incident edges, as for GNNExplainer. The network is an attrib::mlp, trained through its
// logit gradient (mlp::logit_gradient); the model is frozen.
// Usage: trained_pg_explainer e = pg_explainer{}.fit(model, training_graphs, seed);
//        gnn_explainer_result r = e.explain(model, graph);
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "attrib/concepts/graph_model.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/graph_attribution.hpp"
#include "attrib/core/random.hpp"
#include "attrib/core/types.hpp"
#include "attrib/methods/graph/gnn_explainer.hpp"
#include "attrib/models/gnn/gnn_input.hpp"
#include "attrib/models/mlp.hpp"
#include "attrib/optimizers/adam.hpp"

namespace attrib {

class trained_pg_explainer;

struct pg_explainer {
  index hidden = 64;              // the mask network's hidden width (the authors' 64)
  index epochs = 30;              // passes over the training graphs
  index batch = 8;                // graphs per Adam step
  double learning_rate = 0.003;   // the authors'
  double size = 0.005;            // GNNExplainer's objective (gnn_explainer.hpp), so that only
  double entropy = 1.0;           // the parametrisation of the mask differs between the two
  double temperature_start = 5.0;
  double temperature_end = 1.0;

  // Trains the mask network on `graphs` (each explained for the model's predicted class; graphs
  // without edges teach nothing and are skipped). A template so that it compiles where it is used.
  template <embedding_model Model>
  trained_pg_explainer fit(const Model& model, const std::vector<gcn_input>& graphs, std::uint64_t seed = 0) const;
};

class trained_pg_explainer {
 public:
  trained_pg_explainer(pg_explainer options, mlp network) : options_(options), network_(std::move(network)) {}

  const pg_explainer& options() const { return options_; }
  const mlp& network() const { return network_; }
  double first_epoch_loss() const { return first_loss_; }  // mean objective over the first epoch
  double last_epoch_loss() const { return last_loss_; }    // ... and over the last
  index graphs_trained() const { return trained_on_; }

  // The mask logits w of every edge of gnn_explainer::edges_of(in), and the network's inputs
  // (both orders of each edge: row 2e is [z_u, z_v], row 2e + 1 is [z_v, z_u]).
  template <embedding_model Model>
  vector mask_logits(const Model& model, const gcn_input& in, matrix* rows = nullptr) const {
    const matrix z = model.node_embeddings(in);
    detail::require(2 * z.cols() == network_.input_dim(),
                    "pg_explainer: the model's embeddings are " + std::to_string(z.cols()) +
                        " wide, but the mask network was trained on embeddings " +
                        std::to_string(network_.input_dim() / 2) + " wide");
    const auto edges = gnn_explainer::edges_of(in);
    const auto count = static_cast<index>(edges.size());
    matrix x(2 * count, 2 * z.cols());
    for (index e = 0; e < count; ++e) {
      const auto [u, v] = edges[static_cast<std::size_t>(e)];
      x.row(2 * e) << z.row(u), z.row(v);
      x.row(2 * e + 1) << z.row(v), z.row(u);
    }
    vector w(count);
    if (count > 0) {
      const matrix f = network_.logits(x);
      for (index e = 0; e < count; ++e) w(e) = 0.5 * (f(2 * e, 0) + f(2 * e + 1, 0));
    }
    if (rows) *rows = std::move(x);
    return w;
  }

  // One forward pass: the mask sigmoid(w) and the node scores. initial_loss and final_loss hold
  // GNNExplainer's objective at this mask for the predicted class (there is no optimisation).
  template <embedding_model Model>
  gnn_explainer_result explain(const Model& model, const gcn_input& in) const {
    detail::require(in.node_count() >= 1, "pg_explainer: the graph has no nodes");
    const vector p = model.probabilities(in, vector::Ones(in.node_count()));
    index predicted = 0;
    p.maxCoeff(&predicted);
    gnn_explainer_result r;
    r.edges = gnn_explainer::edges_of(in);
    const vector w = mask_logits(model, in);
    r.edge_mask = (1.0 + (-w.array()).exp()).inverse().matrix();
    r.scores = gnn_explainer::node_scores(in.node_count(), r.edges, r.edge_mask);
    r.initial_loss = r.final_loss = objective(model, in, predicted, w).first;
    return r;
  }

  // GNNExplainer's objective at mask logits w, and its gradient in w.
  template <embedding_model Model>
  std::pair<double, vector> objective(const Model& model, const gcn_input& in, index target, const vector& w) const {
    return gnn_explainer{.size = options_.size, .entropy = options_.entropy}.loss_and_gradient(model, in, target, w);
  }

  // The training objective of one graph for the concrete sample of uniforms `u` (one per edge,
  // in (0, 1)) at temperature t, and its gradient in the network's parameters (mlp::parameters
  // order): the objective at s = (w + log u - log(1 - u)) / t, whose gradient in s reaches w as
  // 1 / t and each of the edge's two rows as half of that.
  template <embedding_model Model>
  std::pair<double, vector> sampled_objective(const Model& model, const gcn_input& in, index target, const vector& u,
                                              double t) const {
    matrix rows;
    const vector w = mask_logits(model, in, &rows);
    detail::require(u.size() == w.size(), "pg_explainer: " + std::to_string(u.size()) + " uniforms for " +
                                              std::to_string(w.size()) + " edges");
    detail::require(t > 0.0, "pg_explainer: the temperature must be positive");
    vector s(w.size());
    for (index e = 0; e < w.size(); ++e) {
      detail::require(u(e) > 0.0 && u(e) < 1.0, "pg_explainer: uniforms must lie in (0, 1)");
      s(e) = (w(e) + std::log(u(e)) - std::log(1.0 - u(e))) / t;
    }
    const auto [loss, ds] = objective(model, in, target, s);
    if (w.size() == 0) return {loss, vector::Zero(network_.parameter_count())};
    matrix cotangent(rows.rows(), 1);
    for (index e = 0; e < w.size(); ++e) cotangent(2 * e, 0) = cotangent(2 * e + 1, 0) = 0.5 * ds(e) / t;
    return {loss, network_.logit_gradient(rows, cotangent)};
  }

 private:
  friend struct pg_explainer;
  pg_explainer options_;
  mlp network_;
  double first_loss_ = 0.0, last_loss_ = 0.0;
  index trained_on_ = 0;
};

template <embedding_model Model>
trained_pg_explainer pg_explainer::fit(const Model& model, const std::vector<gcn_input>& graphs,
                                       std::uint64_t seed) const {
  detail::require(hidden >= 1 && epochs >= 1 && batch >= 1,
                  "pg_explainer: hidden, epochs and batch must be >= 1, got " + std::to_string(hidden) + ", " +
                      std::to_string(epochs) + " and " + std::to_string(batch));
  detail::require(learning_rate > 0.0 && size >= 0.0 && entropy >= 0.0 && temperature_start > 0.0 &&
                      temperature_end > 0.0,
                  "pg_explainer: need learning_rate > 0, size >= 0, entropy >= 0 and positive temperatures");
  std::vector<std::size_t> usable;
  std::vector<index> classes;
  index width = -1;
  for (std::size_t g = 0; g < graphs.size(); ++g) {
    const vector p = model.probabilities(graphs[g], vector::Ones(graphs[g].node_count()));
    if (gnn_explainer::edges_of(graphs[g]).empty()) continue;
    index c = 0;
    p.maxCoeff(&c);
    usable.push_back(g);
    classes.push_back(c);
    if (width < 0) width = model.node_embeddings(graphs[g]).cols();
  }
  detail::require(!usable.empty(), "pg_explainer: none of the " + std::to_string(graphs.size()) +
                                       " training graphs has an edge; expected at least one graph with edges");
  const std::vector<layer_shape> shapes{{2 * width, hidden, activation::relu}, {hidden, 1, activation::identity}};
  trained_pg_explainer out(*this, mlp(shapes, output_head::identity, seed));
  vector theta = out.network_.parameters();
  basic_adamw<vector> adam;
  std::vector<std::size_t> order(usable.size());
  for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
  for (index epoch = 0; epoch < epochs; ++epoch) {
    const double t = temperature_start * std::pow(temperature_end / temperature_start,
                                                  static_cast<double>(epoch) / static_cast<double>(epochs));
    rng random = rng::stream(seed, static_cast<std::uint64_t>(epoch) + 1);
    random.shuffle(order.begin(), order.end());
    double total = 0.0;
    for (std::size_t begin = 0; begin < order.size(); begin += static_cast<std::size_t>(batch)) {
      const std::size_t end = std::min(order.size(), begin + static_cast<std::size_t>(batch));
      vector gradient = vector::Zero(theta.size());
      for (std::size_t k = begin; k < end; ++k) {
        const gcn_input& in = graphs[usable[order[k]]];
        vector u(static_cast<index>(gnn_explainer::edges_of(in).size()));
        for (index e = 0; e < u.size(); ++e) u(e) = std::clamp(random.uniform(), 1e-12, 1.0 - 1e-12);
        const auto [loss, g] = out.sampled_objective(model, in, classes[order[k]], u, t);
        total += loss;
        gradient += g;
      }
      gradient /= static_cast<double>(end - begin);
      adam.next_step();
      adam.update(0, theta, gradient, learning_rate);
      out.network_.set_parameters(theta);
    }
    const double mean = total / static_cast<double>(order.size());
    if (epoch == 0) out.first_loss_ = mean;
    out.last_loss_ = mean;
  }
  out.trained_on_ = static_cast<index>(usable.size());
  return out;
}

}  // namespace attrib
