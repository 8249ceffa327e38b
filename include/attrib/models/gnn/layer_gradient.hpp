#pragma once
// layer_gradient: the node embeddings F of one message-passing layer of a graph classifier (gcn,
// gin) and the gradient dy_c / dF of a class logit with respect to them - what Grad-CAM on graphs
// (methods/graph/grad_cam.hpp) weights. The models' own backward passes stop at the input
// features and keep their per-layer caches private, so this header runs the forward pass again
// from the models' public parameters and back-propagates from the logit down to the chosen layer
// only. Every graph node is present (no keep mask): Grad-CAM explains the whole graph.
// Layers are numbered 0 .. layers - 1; F of layer l is the output H_{l+1} of that layer (after
// its ReLU), the representation the next layer or the readout reads.
#include <cstddef>
#include <string>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"
#include "attrib/models/gnn/gcn.hpp"
#include "attrib/models/gnn/gin.hpp"
#include "attrib/models/gnn/gnn_input.hpp"

namespace attrib {

struct gnn_layer_gradient {
  matrix embeddings;  // F: n x hidden, the chosen layer's node embeddings
  matrix gradient;    // dy_target / dF: n x hidden
  vector logits;      // the model's class logits y (softmax of them is model.probabilities)
};

inline index message_passing_layers(const gcn& model) { return model.config().layers; }
inline index message_passing_layers(const gin& model) { return model.config().layers; }

namespace detail {

inline void check_layer_request(const std::string& who, index layer, index layers, index target, index classes) {
  require(layer >= 0 && layer < layers, who + ": layer " + std::to_string(layer) + " outside 0.." +
                                            std::to_string(layers - 1) + " (the model's message-passing layers)");
  require(target >= 0 && target < classes,
          who + ": target class " + std::to_string(target) + " outside 0.." + std::to_string(classes - 1));
}

inline matrix relu_mask(const matrix& pre) { return (pre.array() > 0.0).cast<double>().matrix(); }

}  // namespace detail

// gcn: F_l = relu(Â F_{l-1} W_l + b_l), F_{-1} = X; readout (mean, sum or max over nodes), then
// y = W_out^T pooled + b_out.
inline gnn_layer_gradient layer_gradient(const gcn& model, const gcn_input& in, index layer, index target) {
  const gcn_config& config = model.config();
  detail::check_layer_request("gcn layer_gradient", layer, config.layers, target, config.classes);
  const index n = in.node_count();
  detail::check_gnn_input(in, config.inputs, n, "gcn layer_gradient");
  const gnn_parameters& theta = model.parameters();
  // Â = D^{-1/2} (A + I) D^{-1/2} (or A + I), as gcn's forward pass builds it with every node kept.
  matrix norm = in.adjacency;
  norm.diagonal().array() += 1.0;
  if (config.aggregation == gcn_aggregation::normalized) {
    const vector scale = norm.rowwise().sum().array().rsqrt().matrix();
    norm = scale.asDiagonal() * norm * scale.asDiagonal();
  }
  std::vector<matrix> pre;  // Z_l, kept for the ReLU masks on the way back
  matrix h = in.features;
  gnn_layer_gradient out;
  for (index l = 0; l < config.layers; ++l) {
    const auto ul = static_cast<std::size_t>(l);
    matrix z = norm * h * theta.weights[ul];
    z.rowwise() += theta.biases[ul].transpose();
    h = z.cwiseMax(0.0);
    pre.push_back(std::move(z));
    if (l == layer) out.embeddings = h;
  }
  const index hidden = config.hidden;
  vector pooled(hidden);
  std::vector<index> winner(static_cast<std::size_t>(hidden), 0);
  switch (config.readout) {
    case gcn_readout::mean: pooled = h.colwise().mean().transpose(); break;
    case gcn_readout::sum: pooled = h.colwise().sum().transpose(); break;
    case gcn_readout::max:
      for (index j = 0; j < hidden; ++j) pooled(j) = h.col(j).maxCoeff(&winner[static_cast<std::size_t>(j)]);
      break;
  }
  // Product, then bias: one expression trips GCC 12's -Wuse-after-free inside Eigen at -O2.
  out.logits.noalias() = theta.weights.back().transpose() * pooled;
  out.logits += theta.biases.back();
  // dy_c / d pooled = column c of W_out; then back through the readout and the later layers.
  const vector dpooled = theta.weights.back().col(target);
  matrix dh;
  switch (config.readout) {
    case gcn_readout::mean: dh = vector::Constant(n, 1.0 / static_cast<double>(n)) * dpooled.transpose(); break;
    case gcn_readout::sum: dh = vector::Ones(n) * dpooled.transpose(); break;
    case gcn_readout::max:
      dh = matrix::Zero(n, hidden);
      for (index j = 0; j < hidden; ++j) dh(winner[static_cast<std::size_t>(j)], j) = dpooled(j);
      break;
  }
  for (index l = config.layers - 1; l > layer; --l) {
    const auto ul = static_cast<std::size_t>(l);
    const matrix dz = dh.cwiseProduct(detail::relu_mask(pre[ul]));
    dh = norm * (dz * theta.weights[ul].transpose());  // Â is symmetric
  }
  out.gradient = std::move(dh);
  return out;
}

// gin: F_l = relu(relu(((1 + eps_l) F_{l-1} + A F_{l-1}) W1_l + b1_l) W2_l + b2_l), F_{-1} = X;
// sum or mean readout of the last layer, or with jumping knowledge of every layer (then dy/dF_l
// collects the readout of layer l itself besides the path through the later layers).
inline gnn_layer_gradient layer_gradient(const gin& model, const gcn_input& in, index layer, index target) {
  const gin_config& config = model.config();
  detail::check_layer_request("gin layer_gradient", layer, config.layers, target, config.classes);
  const index n = in.node_count();
  detail::check_gnn_input(in, config.inputs, n, "gin layer_gradient");
  const gnn_parameters& theta = model.parameters();
  const index hidden = config.hidden;
  const double per_node = config.readout == gin_readout::mean ? 1.0 / static_cast<double>(n) : 1.0;
  std::vector<matrix> inner, outer;
  matrix h = in.features;
  vector pooled(config.jumping_knowledge ? hidden * config.layers : hidden);
  gnn_layer_gradient out;
  for (index l = 0; l < config.layers; ++l) {
    const auto ul = static_cast<std::size_t>(l);
    const matrix agg = (1.0 + theta.epsilons(l)) * h + in.adjacency * h;
    matrix a = agg * theta.weights[2 * ul];
    a.rowwise() += theta.biases[2 * ul].transpose();
    matrix b = a.cwiseMax(0.0) * theta.weights[2 * ul + 1];
    b.rowwise() += theta.biases[2 * ul + 1].transpose();
    h = b.cwiseMax(0.0);
    inner.push_back(std::move(a));
    outer.push_back(std::move(b));
    if (config.jumping_knowledge) pooled.segment(l * hidden, hidden) = per_node * h.colwise().sum().transpose();
    if (l == layer) out.embeddings = h;
  }
  if (!config.jumping_knowledge) pooled = per_node * h.colwise().sum().transpose();
  // Product, then bias: one expression trips GCC 12's -Wuse-after-free inside Eigen at -O2.
  out.logits.noalias() = theta.weights.back().transpose() * pooled;
  out.logits += theta.biases.back();
  const vector dpooled = theta.weights.back().col(target);
  // d y / d F_l through the readout that reads layer l directly (none but the last without
  // jumping knowledge).
  const auto from_readout = [&](index l) -> matrix {
    if (config.jumping_knowledge) return vector::Constant(n, per_node) * dpooled.segment(l * hidden, hidden).transpose();
    if (l + 1 == config.layers) return vector::Constant(n, per_node) * dpooled.transpose();
    return matrix::Zero(n, hidden);
  };
  matrix dh = from_readout(config.layers - 1);
  for (index l = config.layers - 1; l > layer; --l) {
    const auto ul = static_cast<std::size_t>(l);
    const matrix douter = dh.cwiseProduct(detail::relu_mask(outer[ul]));
    const matrix dinner = (douter * theta.weights[2 * ul + 1].transpose()).cwiseProduct(detail::relu_mask(inner[ul]));
    const matrix dagg = dinner * theta.weights[2 * ul].transpose();
    dh = (1.0 + theta.epsilons(l)) * dagg + in.adjacency * dagg + from_readout(l - 1);  // A is symmetric
  }
  out.gradient = std::move(dh);
  return out;
}

}  // namespace attrib
