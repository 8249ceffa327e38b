#pragma once
// layer_gradient: the node embeddings F of one message-passing layer of a graph classifier (gcn,
// gin) and the gradient dy_c / dF of a class logit with respect to them - what Grad-CAM on graphs
// (methods/graph/grad_cam.hpp) weights. The models' own backward passes stop at the input
// features and keep their per-layer caches private, so this header steps through the layers with
// the model's public layer stepper (models/gnn/gnn_layers.hpp, shared with gnn_component_game)
// and back-propagates from the logit down to the chosen layer only. Every graph node is present
// (no keep mask): Grad-CAM explains the whole graph.
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
#include "attrib/models/gnn/gnn_layers.hpp"
#include "attrib/models/gnn/gnn_parameters.hpp"

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

}  // namespace detail

// F_l and dy_target / dF_l: the model's layer stepper (gnn_layers_t<Model>: gcn_layers,
// gin_layers) runs the forward pass on the one graph, keeping each layer's cache, and the way back
// stops at the chosen layer. gcn: F_l = relu(Â F_{l-1} W_l + b_l), F_{-1} = X, then a mean, sum
// or max readout. gin: F_l = relu(relu(((1 + eps_l) F_{l-1} + A F_{l-1}) W1_l + b1_l) W2_l + b2_l),
// then a sum or mean readout of the last layer, or with jumping knowledge of every layer (dy/dF_l
// then collects the readout of layer l itself besides the path through the later layers). Both
// end in y = W_out^T pooled + b_out.
template <layered_gnn Model>
gnn_layer_gradient layer_gradient(const Model& model, const gcn_input& in, index layer, index target) {
  const std::string who = std::string(Model::name) + " layer_gradient";
  detail::check_layer_request(who, layer, message_passing_layers(model), target, model.classes());
  const gnn_layers_t<Model> stepper(model, in, who);
  const auto layers = static_cast<std::size_t>(stepper.layers());
  std::vector<matrix> h(layers);
  std::vector<typename gnn_layers_t<Model>::layer_cache> caches(layers);
  for (std::size_t l = 0; l < layers; ++l) stepper.forward(static_cast<index>(l), l == 0 ? in.features : h[l - 1], caches[l], h[l]);
  typename gnn_layers_t<Model>::readout_cache readout;
  matrix pooled;
  stepper.readout(h, readout, pooled);
  const gnn_parameters& theta = model.parameters();
  gnn_layer_gradient out;
  // Product, then bias: one expression trips GCC 12's -Wuse-after-free inside Eigen at -O2.
  const vector pooled_column = pooled.row(0).transpose();
  out.logits.noalias() = theta.weights.back().transpose() * pooled_column;
  out.logits += theta.biases.back();
  // dy_c / d pooled = column c of W_out; then back through the readout and the later layers.
  std::vector<matrix> dh(layers, matrix::Zero(stepper.nodes(), stepper.hidden()));
  stepper.readout_backward(theta.weights.back().col(target).transpose(), readout, dh);
  matrix step;
  for (auto l = layers - 1; l > static_cast<std::size_t>(layer); --l) {
    stepper.backward(static_cast<index>(l), dh[l], caches[l], step);
    dh[l - 1] += step;
  }
  out.embeddings = std::move(h[static_cast<std::size_t>(layer)]);
  out.gradient = std::move(dh[static_cast<std::size_t>(layer)]);
  return out;
}

}  // namespace attrib
