#pragma once
// A link version of PGExplainer (Luo et al. 2020): instead of learning one free mask per
// explained link (link_edge_mask.hpp), a small MLP learns to predict the mask of any edge from
// what the trained model already computes,
//   logit(e) = MLP([h_u, h_v, h_source, h_target]),   e = (u, v),
// h the model's node embeddings on the link's computation graph. It is trained once across many
// links on the objective of the GNNExplainer-style link mask,
//   pred(m) + size * sum(m) + entropy * mean(-m log m - (1 - m) log(1 - m)),
// with m drawn from the binary concrete distribution, m = sigmoid((logit + log u - log(1 - u)) / T),
// u ~ U(0, 1), and the temperature annealed T = T0 (T1 / T0)^(epoch / epochs) as PGExplainer's
// code does (T0 = 5, T1 = 1). A new link is then explained in one forward pass, m = sigmoid(logit),
// with no optimisation and no randomness, which is what makes PGExplainer inductive and fast.
// Paths are extracted from the mask as PaGE-Link does, for comparison.
// Usage: auto trained = link_pg_explainer{}.fit(model, g, training_links, seed);
//        link_explanation x = trained.explain(model, g, source, target);
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/random.hpp"
#include "attrib/core/types.hpp"
#include "attrib/graph/hetero_graph.hpp"
#include "attrib/models/gnn/rgcn.hpp"
#include "attrib/methods/graph/link_edge_mask.hpp"
#include "attrib/methods/graph/link_explanation.hpp"
#include "attrib/models/mlp.hpp"
#include "attrib/optimizers/adam.hpp"

namespace attrib {

class trained_link_pg_explainer;

struct link_pg_explainer {
  index hops = 2;
  index hidden = 64;              // width of the MLP's hidden layer
  index epochs = 20;              // passes over the training links
  index batch = 4;                // links per Adam step
  double learning_rate = 0.003;   // PGExplainer's
  double size = 1e-5;             // the link edge mask's objective, so that only the
  double entropy = 0.1;           // parametrisation differs between the two
  double temperature_start = 5.0;
  double temperature_end = 1.0;
  std::size_t paths = 5;
  index max_path_length = 3;

  // Trains the MLP on `links` (pairs the model scores; each must lie on some path within `hops`).
  // A template (always on rgcn) so that the R-GCN's passes compile only where it is used.
  template <class Model = rgcn>
  trained_link_pg_explainer fit(const std::type_identity_t<Model>& model, const hetero_graph& g,
                                const std::vector<std::pair<index, index>>& links, std::uint64_t seed = 0) const;
};

class trained_link_pg_explainer {
 public:
  trained_link_pg_explainer() = default;
  // The untrained network: attrib::mlp's initial weights from `seed` (He-normal before the ReLU).
  trained_link_pg_explainer(const link_pg_explainer& options, index embedding_width, std::uint64_t seed)
      : options_(options),
        width_(embedding_width),
        network_(std::vector<layer_shape>{{4 * embedding_width, options.hidden, activation::relu},
                                          {options.hidden, 1, activation::identity}},
                 output_head::identity, seed) {}

  const link_pg_explainer& options() const { return options_; }
  // The mask network: 4 width -> hidden (ReLU) -> 1.
  const mlp& network() const { return network_; }
  double last_loss() const { return last_loss_; }     // mean objective over the last epoch
  index links_trained() const { return trained_on_; }  // training links used

  // The MLP's input per edge of g: [h_u, h_v, h_source, h_target] (edges x 4 width), the
  // embeddings divided by their root mean square over the graph. Raw R-GCN embeddings can be
  // tens in size; fed as they are, one Adam step moves every logit by tens and the masks
  // collapse to 0 or 1 before the objective has ranked the edges.
  matrix edge_inputs(const matrix& h, const hetero_graph& g, index source, index target) const {
    detail::require(h.cols() == width_, "link_pg_explainer: embeddings are " + std::to_string(h.cols()) +
                                            " wide, the explainer was trained on " + std::to_string(width_));
    const double rms = h.size() > 0 ? std::sqrt(h.squaredNorm() / static_cast<double>(h.size())) : 0.0;
    const double scale = rms > 0.0 ? 1.0 / rms : 1.0;
    matrix x(g.edge_count(), 4 * width_);
    for (index e = 0; e < g.edge_count(); ++e) {
      x.row(e) << h.row(g.edge(e).source), h.row(g.edge(e).target), h.row(source), h.row(target);
    }
    return scale * x;
  }

  // The mask logit of each edge whose inputs are the rows of x.
  vector logits(const matrix& x) const { return network_.logits(x).col(0); }

  // One forward pass: the mask sigmoid(logit) on the link's computation graph, and the paths
  // PaGE-Link's cost ranks first under it. `seed` is unused (nothing is random here); it is taken
  // so that explain_links runs this explainer like the others.
  template <class Model = rgcn>
  link_explanation explain(const std::type_identity_t<Model>& model, const hetero_graph& g, index source, index target,
                           std::uint64_t seed = 0) const {
    static_cast<void>(seed);
    detail::require(width_ > 0, "trained_link_pg_explainer::explain: the explainer is not trained (call fit)");
    const link_computation_graph c = computation_graph_of(g, source, target, options_.hops);
    detail::require(detail::joined(c.graph, c.source, c.target),
                    "link_pg_explainer: no path joins nodes " + std::to_string(source) + " and " +
                        std::to_string(target) + " within " + std::to_string(options_.hops) + " hops");
    link_explanation out = detail::begin_link_explanation(model, c, source, target);
    const vector logit = logits(edge_inputs(model.embed(c.graph), c.graph, c.source, c.target));
    out.mask = (1.0 + (-logit.array()).exp()).inverse().matrix();
    out.epochs = 0;
    out.masked_score = model.score(c.graph, out.mask.cwiseProduct(c.graph.weights()), c.source, c.target);
    out.paths = mask_paths(c.graph, out.mask, c.source, c.target, options_.paths, options_.max_path_length);
    detail::rename_paths(out.paths, c.nodes, c.edges);
    return out;
  }

 private:
  friend struct link_pg_explainer;
  link_pg_explainer options_;
  index width_ = 0;
  mlp network_{std::vector<dense_layer>{{matrix::Zero(1, 1), vector::Zero(1), activation::identity}},
               output_head::identity};  // replaced by the trained network
  double last_loss_ = 0.0;
  index trained_on_ = 0;
};

template <class Model>
trained_link_pg_explainer link_pg_explainer::fit(const std::type_identity_t<Model>& model, const hetero_graph& g,
                                                 const std::vector<std::pair<index, index>>& links,
                                                 std::uint64_t seed) const {
  detail::require_link_options(epochs, learning_rate, paths, max_path_length, "link_pg_explainer");
  detail::require(hops >= 1 && hidden >= 1 && batch >= 1,
                  "link_pg_explainer: need hops >= 1, hidden >= 1 and batch >= 1");
  detail::require(size >= 0.0 && entropy >= 0.0, "link_pg_explainer: need size >= 0 and entropy >= 0");
  detail::require(temperature_start > 0.0 && temperature_end > 0.0 && std::isfinite(temperature_start) &&
                      std::isfinite(temperature_end),
                  "link_pg_explainer: temperatures must be finite and > 0");
  detail::require(!links.empty(), "link_pg_explainer::fit: no links to train on (links is empty)");
  detail::require(g.node_count() > 0, "link_pg_explainer::fit: the graph is empty");
  // What does not change during training: each link's computation graph, embeddings, MLP
  // inputs and whether the model predicts it present.
  struct prepared {
    link_computation_graph c;
    matrix h;  // embeddings, until the inputs x are built from them
    matrix x;
    vector weights;
    bool present = false;
  };
  std::vector<prepared> data;
  data.reserve(links.size());
  index width = 0;
  for (const auto& [s, t] : links) {
    prepared p;
    p.c = computation_graph_of(g, s, t, hops);
    detail::require(detail::joined(p.c.graph, p.c.source, p.c.target),
                    "link_pg_explainer::fit: no path joins nodes " + std::to_string(s) + " and " + std::to_string(t) +
                        " within " + std::to_string(hops) + " hops");
    p.h = model.embed(p.c.graph);
    width = p.h.cols();
    p.present = model.score(p.h, p.c.source, p.c.target) > 0.0;
    p.weights = p.c.graph.weights();
    data.push_back(std::move(p));
  }
  trained_link_pg_explainer out(*this, width, seed);
  for (auto& p : data) {
    p.x = out.edge_inputs(p.h, p.c.graph, p.c.source, p.c.target);
    p.h.resize(0, 0);
  }
  out.trained_on_ = static_cast<index>(data.size());
  rng random = rng::stream(seed, 0x97);
  basic_adamw<vector> adam;
  vector theta = out.network_.parameters();
  std::vector<std::size_t> order(data.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  for (index epoch = 0; epoch < epochs; ++epoch) {
    const double temperature =
        temperature_start *
        std::pow(temperature_end / temperature_start, static_cast<double>(epoch) / static_cast<double>(epochs));
    random.shuffle(order.begin(), order.end());
    vector grad = vector::Zero(theta.size());
    double loss = 0.0;
    index in_batch = 0;
    const auto step = [&] {
      adam.next_step();
      adam.update(0, theta, grad / static_cast<double>(in_batch), learning_rate);
      out.network_.set_parameters(theta);
      grad.setZero();
      in_batch = 0;
    };
    for (std::size_t i : order) {
      const prepared& p = data[i];
      const vector logit = out.logits(p.x);
      vector m(logit.size());
      for (index e = 0; e < m.size(); ++e) {
        // Binary concrete: the noise keeps the sample differentiable in the logit.
        const double u = 1e-6 + (1.0 - 2e-6) * random.uniform();
        m(e) = 1.0 / (1.0 + std::exp(-(logit(e) + std::log(u) - std::log(1.0 - u)) / temperature));
      }
      const auto score = model.score_gradient(p.c.graph, m.cwiseProduct(p.weights), p.c.source, p.c.target, false);
      const double prob = 1.0 / (1.0 + std::exp(-score.score));
      // The link edge mask's objective and its gradient in m (link_edge_mask.hpp).
      vector dm = (p.present ? -(1.0 - prob) : (1.0 - prob)) * score.edge_weights.cwiseProduct(p.weights);
      const vector mc = m.array().min(1.0 - 1e-12).max(1e-12).matrix();
      const double n = static_cast<double>(m.size());
      dm.array() += size + entropy / n * ((1.0 - mc.array()) / mc.array()).log();
      // pred: -log sigmoid(score) for a present link, log sigmoid(score) for an absent one.
      loss += (p.present ? -1.0 : 1.0) * std::log(std::max(prob, 1e-300)) + size * m.sum() -
              entropy / n * (mc.array() * mc.array().log() + (1.0 - mc.array()) * (1.0 - mc.array()).log()).sum();
      const vector d_logit = dm.cwiseProduct(m.cwiseProduct((1.0 - m.array()).matrix())) / temperature;
      grad += out.network_.logit_gradient(p.x, d_logit);
      if (++in_batch == batch) step();
    }
    if (in_batch > 0) step();
    out.last_loss_ = loss / static_cast<double>(data.size());
  }
  return out;
}

}  // namespace attrib
