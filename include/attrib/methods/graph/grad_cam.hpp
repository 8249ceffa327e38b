#pragma once
// Grad-CAM for graph classifiers (Selvaraju et al. 2017; Pope et al. 2019 for graphs): node n's
// importance for class c is
//   L(n) = ReLU(sum_k alpha_k F_k(n)),   alpha_k = (1/N) sum_n dy_c / dF_k(n),
// with F the node embeddings of one message-passing layer (by default the last), y_c the class
// logit and N the number of nodes. alpha weights each embedding channel by how much the logit
// rises with it on average over the graph, and the ReLU keeps the nodes that push towards c.
// Not a local approximation over a game: Grad-CAM reads one hidden representation and its
// gradient once, with no coalitions or surrogate to fit; it needs a model that exposes a layer's
// embeddings and gradient (models/gnn/layer_gradient.hpp gives them for gcn and gin).
#include <concepts>
#include <string>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"
#include "attrib/models/gnn/gnn_input.hpp"
#include "attrib/models/gnn/layer_gradient.hpp"

namespace attrib {

// A graph classifier whose layer embeddings and their logit gradient can be read:
// layer_gradient(m, input, layer, class) and message_passing_layers(m), found by argument-dependent
// lookup, so a user's model joins by defining both in its own namespace.
template <class Model>
concept layer_differentiable_model = requires(const Model& m, const gcn_input& in, index layer, index target) {
  { layer_gradient(m, in, layer, target) } -> std::convertible_to<gnn_layer_gradient>;
  { message_passing_layers(m) } -> std::convertible_to<index>;
};

struct grad_cam_result {
  vector scores;      // L(n), one per node, >= 0
  vector alpha;       // alpha_k, one per embedding channel
  matrix embeddings;  // F of the explained layer (n x channels)
  matrix gradient;    // dy_c / dF (n x channels)
  index layer = 0;    // the explained layer (0-based)
  index target = 0;   // the explained class c
  double logit = 0.0; // y_c
};

struct grad_cam {
  index layer = -1;  // the message-passing layer whose embeddings are weighted; -1: the last one

  template <layer_differentiable_model Model>
  grad_cam_result explain(const Model& model, const gcn_input& in, index target) const {
    const index layers = message_passing_layers(model);
    detail::require(layer == -1 || (layer >= 0 && layer < layers),
                    "grad_cam: layer " + std::to_string(layer) + " outside 0.." + std::to_string(layers - 1) +
                        " (or -1 for the last message-passing layer)");
    grad_cam_result r;
    r.layer = layer == -1 ? layers - 1 : layer;
    r.target = target;
    gnn_layer_gradient g = layer_gradient(model, in, r.layer, target);  // checks the input and the class
    r.logit = g.logits(target);
    r.alpha = g.gradient.colwise().mean().transpose();
    r.scores = (g.embeddings * r.alpha).cwiseMax(0.0);
    r.embeddings = std::move(g.embeddings);
    r.gradient = std::move(g.gradient);
    return r;
  }
};

}  // namespace attrib
