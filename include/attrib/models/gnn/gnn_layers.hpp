#pragma once
// gnn_layers: stepping through a graph classifier's message-passing layers one at a time, with
// every node of one graph present, over a stack of B copies of that graph (rows [b n, (b + 1) n)
// are copy b). Methods that look inside a GNN need the node embeddings H_l after each layer and
// the way back from the logits to them: Grad-CAM reads H_l and dy/dH_l (layer_gradient.hpp), the
// channel-ablation game edits H_l between layers for a batch of coalitions at once
// (games/gnn_component_game.hpp). The models' own forward passes take a node mask and keep their
// caches private; each model header defines its layer stepper beside the model (gcn_layers in
// gcn.hpp, gin_layers in gin.hpp) and names it through gnn_layers_of, so those methods are written
// once for both. The steppers write into caller-owned matrices: a caller that keeps them between
// calls (a game asked for thousands of small batches) allocates nothing per layer.
//
// A stepper S for model M provides
//   S(const M&, const gcn_input&, const std::string& who)   checks the graph (who names it)
//   layers(), hidden(), nodes()
//   struct layer_cache; struct readout_cache;
//   forward(l, H_{l-1}, cache, H_l)            H_l from H_{l-1} (H_{-1} = the stacked features)
//   backward(l, dH_l, cache, dH_{l-1})         through layer l, given the cache of its forward
//   readout(H, readout_cache, pooled)          B x pooled_size from every layer's output
//   readout_backward(dpooled, readout_cache, dH)  adds d/dH_l of the readout to dH[l]
#include <cstddef>
#include <vector>

#include "attrib/core/types.hpp"

namespace attrib {

// gnn_layers_of<Model>::type: the model's layer stepper, specialised in the model's header; no
// `type` for other models, so what is written on steppers rejects them at compile time.
template <class Model>
struct gnn_layers_of {};

template <class Model>
concept layered_gnn = requires { typename gnn_layers_of<Model>::type; };

template <layered_gnn Model>
using gnn_layers_t = typename gnn_layers_of<Model>::type;

namespace detail {

// out = op applied to every n-row block of `stacked` (op is n x n). Blocks are multiplied one by
// one, so each gives the bits of op * block alone whatever the batch size.
inline void per_block(const matrix& op, const matrix& stacked, matrix& out) {
  const index n = op.rows();
  out.resize(stacked.rows(), stacked.cols());
  for (index b = 0; b < stacked.rows() / n; ++b) out.middleRows(b * n, n).noalias() = op * stacked.middleRows(b * n, n);
}

// Column sums of every n-row block into `out` (B x cols, or a block of a wider matrix).
template <class Out>
void block_sums(const matrix& stacked, index n, Out&& out) {
  for (index b = 0; b < stacked.rows() / n; ++b) out.row(b) = stacked.middleRows(b * n, n).colwise().sum();
}

}  // namespace detail

// The node embeddings after every message-passing layer of one graph (n x hidden each), nothing
// edited: H_0 .. H_{L-1} as the model computes them with every node kept.
template <class Layers>
std::vector<matrix> layer_embeddings(const Layers& stepper, const matrix& features) {
  std::vector<matrix> out(static_cast<std::size_t>(stepper.layers()));
  typename Layers::layer_cache cache;
  for (index l = 0; l < stepper.layers(); ++l) {
    const auto k = static_cast<std::size_t>(l);
    stepper.forward(l, l == 0 ? features : out[k - 1], cache, out[k]);
  }
  return out;
}

}  // namespace attrib
