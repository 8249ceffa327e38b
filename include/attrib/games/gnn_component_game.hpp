#pragma once
// The hidden channels of one of the library's graph classifiers (gcn, gin) as players of a game:
// the component column of the seed's table for the GNNs, beside their node, edge and feature
// games, so one graph's prediction can be attributed to the channels that compute it with every
// estimator of the game framework (exact Shapley, KernelSHAP, permutation, Banzhaf, occlusion,
// LIME, datamodels, attribution patching).
//
// A player is channel c of message-passing layer l: column c of that layer's node embeddings H_l
// (after its ReLU; for GIN the output of the layer's two-layer MLP), the representation the next
// layer and the readout read, as in layer_gradient.hpp. A coalition z (one entry per player,
// usually 0/1) runs the explained graph with each player channel's activation on every node mixed
// toward its ablation value s,
//   a -> s + z_j (a - s),
// layer by layer, so an ablated channel of an early layer changes what later channels compute.
// The value is one class's softmax probability of the whole graph (or its logit). s comes from
// the ablation kind (games/ablation.hpp), computed from unablated runs of reference graphs:
//   zero      s = 0
//   mean      s_c = the channel's activation averaged over every node of every reference graph
//             (a node-weighted mean: a reference with more nodes weighs more)
//   resample  for each reference graph r, s_c = the mean of the channel over r's nodes, the same
//             on every node of the explained graph; the value is the average of the R values, one
//             per reference graph (each graph weighs the same whatever its size)
//   patch     s = the channel's activation on the same node of one reference graph with exactly
//             as many nodes: a counterfactual of the explained graph (perturbed features or
//             edges, node i standing for node i), as a corrupted prompt of the same length is for
//             a transformer. Graphs of other sizes have no node correspondence and are rejected.
// The model's own forward pass takes a node mask and keeps its caches private, so the game steps
// through the layers with the model's public layer stepper (models/gnn/gnn_layers.hpp, which
// layer_gradient.hpp uses too) with every node present; the tests pin it to model.probabilities.
// A batch of B coalitions runs as one stack of B copies of the graph. The matrices of a batch live
// in a per-thread workspace that keeps its capacity between calls, so the thousands of small
// batches a sampling estimator asks for allocate only their results.
// The game is differentiable in z (dv/dz_j = sum over nodes of dv/da'_j (a_j - s_j), a' the mixed
// activation), so attribution patching and mask learning run on it.
#include <concepts>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"
#include "attrib/core/validate.hpp"
#include "attrib/games/ablation.hpp"
#include "attrib/models/gnn/gcn.hpp"
#include "attrib/models/gnn/gin.hpp"
#include "attrib/models/gnn/gnn_input.hpp"
#include "attrib/models/gnn/gnn_layers.hpp"
#include "attrib/models/gnn/gnn_parameters.hpp"

namespace attrib {

// Channel `channel` of message-passing layer `layer` (0 is the first layer's output).
struct gnn_channel {
  index layer = 0;
  index channel = 0;
  friend bool operator==(const gnn_channel&, const gnn_channel&) = default;
};

// The graph classifiers whose channels can be players.
template <class Model>
concept gnn_component_model = std::same_as<Model, gcn> || std::same_as<Model, gin>;

// Every channel, layer by layer.
template <gnn_component_model Model>
std::vector<gnn_channel> every_channel(const Model& model) {
  std::vector<gnn_channel> out;
  for (index l = 0; l < model.config().layers; ++l)
    for (index c = 0; c < model.config().hidden; ++c) out.push_back({l, c});
  return out;
}

// What the game's value is: the target class's softmax probability, or its logit (unbounded,
// additive over the readout: the usual choice for circuit work).
enum class gnn_component_metric { probability, logit };

struct gnn_component_options {
  ablation_kind ablation = ablation_kind::zero;
  // Reference graphs: pooled over their nodes for mean, each taken in turn for resample, the
  // single graph (as many nodes as the explained one) for patch; empty for zero.
  std::vector<gcn_input> reference = {};
  index target = 0;  // the class whose probability (or logit) is the value
  gnn_component_metric metric = gnn_component_metric::probability;
};

template <gnn_component_model Model>
class gnn_component_game {
 public:
  // Throws invalid_argument for a graph the model cannot read (feature width, adjacency shape,
  // self-loops, asymmetric, negative or non-finite weights, non-finite features), channels outside
  // the message-passing layers or named twice, reference graphs of the wrong count, size or
  // content for the ablation, and a target outside the model's classes.
  gnn_component_game(const Model& model, gcn_input graph, std::vector<gnn_channel> players,
                     gnn_component_options options = {})
      : model_(&model), graph_(std::move(graph)), players_(std::move(players)), options_(std::move(options)),
        layers_(model, graph_, "gnn_component_game: graph") {
    const std::string who = "gnn_component_game: ";
    const index n = graph_.node_count();
    detail::require(!players_.empty(), who + "no players; every_channel(model) names them all");
    detail::require(options_.target >= 0 && options_.target < model.classes(),
                    who + "target " + std::to_string(options_.target) + " is outside the classes [0, " +
                        std::to_string(model.classes()) + ")");
    const index layers = layers_.layers(), width = layers_.hidden();
    mask_.assign(static_cast<std::size_t>(layers), std::vector<index>(static_cast<std::size_t>(width), -1));
    for (std::size_t j = 0; j < players_.size(); ++j) {
      const auto& p = players_[j];
      detail::require(p.layer >= 0 && p.layer < layers,
                      who + "player " + std::to_string(j) + " names layer " + std::to_string(p.layer) +
                          "; the message-passing layers are [0, " + std::to_string(layers) + ")");
      detail::require(p.channel >= 0 && p.channel < width,
                      who + "player " + std::to_string(j) + " names channel " + std::to_string(p.channel) +
                          " of layer " + std::to_string(p.layer) + ", which has " + std::to_string(width) + " channels");
      auto& slot = mask_[static_cast<std::size_t>(p.layer)][static_cast<std::size_t>(p.channel)];
      detail::require(slot < 0, who + "channel " + std::to_string(p.channel) + " of layer " + std::to_string(p.layer) +
                                    " is named twice");
      slot = static_cast<index>(j);
    }
    const auto& refs = options_.reference;
    const auto count = static_cast<index>(refs.size());
    switch (options_.ablation) {
      case ablation_kind::zero:
        detail::require(refs.empty(), who + "zero ablation takes no reference graphs, got " + std::to_string(count));
        break;
      case ablation_kind::patch:
        detail::require(count == 1, who + "patch ablation takes exactly one reference graph, got " + std::to_string(count));
        break;
      case ablation_kind::mean:
      case ablation_kind::resample:
        detail::require(count > 0, who + "mean and resample ablation need reference graphs");
        break;
    }
    // Each reference's activations are those of its own unablated run; its stepper checks it.
    std::vector<std::vector<matrix>> runs;
    for (index r = 0; r < count; ++r) {
      const gcn_input& ref = refs[static_cast<std::size_t>(r)];
      runs.push_back(layer_embeddings(layers_type(model, ref, who + "reference graph " + std::to_string(r)), ref.features));
    }
    if (options_.ablation == ablation_kind::patch)
      detail::require(refs[0].node_count() == n,
                      who + "patch ablation needs a reference graph with the explained graph's " + std::to_string(n) +
                          " nodes (node i is patched from node i), got " + std::to_string(refs[0].node_count()) +
                          "; graphs of other sizes have no node correspondence: use mean or resample ablation");
    // Ablation values: per source, one n x width matrix per layer (every row equal unless patch).
    if (options_.ablation == ablation_kind::zero) {
      sources_.assign(1, std::vector<matrix>(static_cast<std::size_t>(layers), matrix::Zero(n, width)));
      return;
    }
    switch (options_.ablation) {
      case ablation_kind::patch: sources_ = std::move(runs); break;
      case ablation_kind::mean: {
        index nodes = 0;
        for (const gcn_input& ref : refs) nodes += ref.node_count();
        std::vector<matrix> mean(static_cast<std::size_t>(layers));
        for (std::size_t l = 0; l < mean.size(); ++l) {
          vector total = vector::Zero(width);
          for (const auto& run : runs) total += run[l].colwise().sum().transpose();
          mean[l] = (total / static_cast<double>(nodes)).transpose().replicate(n, 1);
        }
        sources_.assign(1, std::move(mean));
        break;
      }
      case ablation_kind::resample:
        for (auto& run : runs) {
          for (auto& a : run) a = matrix(a.colwise().mean()).replicate(n, 1);
          sources_.push_back(std::move(run));
        }
        break;
      case ablation_kind::zero: break;
    }
  }

  index player_count() const { return static_cast<index>(players_.size()); }
  const std::vector<gnn_channel>& players() const { return players_; }
  // One forward pass of the explained graph per source: the reference count for resample, else 1.
  index model_evaluations_per_value() const { return static_cast<index>(sources_.size()); }

  vector values(const matrix& points) const {
    check_points(points);
    vector v = vector::Zero(points.rows());
    for (std::size_t s = 0; s < sources_.size(); ++s) run(points, s, &v, nullptr);
    v /= static_cast<double>(sources_.size());
    return v;
  }

  matrix gradients(const matrix& points) const {
    check_points(points);
    matrix g = matrix::Zero(points.rows(), player_count());
    for (std::size_t s = 0; s < sources_.size(); ++s) run(points, s, nullptr, &g);
    g /= static_cast<double>(sources_.size());
    return g;
  }

 private:
  using layers_type = gnn_layers_t<Model>;

  // One batch's matrices. Eigen keeps a matrix's buffer while its size does not change, so the
  // batches of one estimator (mostly of one size) reuse them; per thread, because estimators call
  // values() from parallel_for, and shared by the thread's games of one model type (a batch is
  // finished before the next starts).
  struct workspace {
    matrix features;  // the graph's features, once per coalition
    std::vector<matrix> unmixed, mixed, dh;  // per layer: B n x width
    std::vector<typename layers_type::layer_cache> caches;
    typename layers_type::readout_cache readout;
    matrix pooled, logits, dlogits, dpooled, step;
    vector row, probabilities;
  };

  static workspace& thread_workspace() {
    thread_local workspace w;
    return w;
  }

  void check_points(const matrix& points) const {
    detail::require(points.cols() == player_count(), "gnn_component_game: points have " + std::to_string(points.cols()) +
                                                         " columns, the game has " + std::to_string(player_count()) +
                                                         " players");
    detail::require_finite(points, "gnn_component_game: points");
  }

  // With source s: adds the batch's values to *values when given, and dv/dz to *gradient when
  // given (the backward pass needs each layer's unmixed activations and its caches).
  void run(const matrix& points, std::size_t s, vector* values, matrix* gradient) const {
    const index rows = points.rows(), n = graph_.node_count(), layers = layers_.layers(), width = layers_.hidden();
    const auto count = static_cast<std::size_t>(layers);
    const std::vector<matrix>& source = sources_[s];
    workspace& w = thread_workspace();
    w.unmixed.resize(count);
    w.mixed.resize(count);
    w.caches.resize(count);
    w.features = graph_.features.replicate(rows, 1);
    for (index l = 0; l < layers; ++l) {
      const auto k = static_cast<std::size_t>(l);
      layers_.forward(l, l == 0 ? w.features : w.mixed[k - 1], w.caches[k], w.unmixed[k]);
      matrix& mixed = w.mixed[k];
      const matrix& unmixed = w.unmixed[k];
      mixed = unmixed;
      for (index c = 0; c < width; ++c) {
        const index j = mask_[k][static_cast<std::size_t>(c)];
        if (j < 0) continue;
        const auto sc = source[k].col(c).array();
        for (index b = 0; b < rows; ++b)
          mixed.col(c).segment(b * n, n) = (sc + points(b, j) * (unmixed.col(c).segment(b * n, n).array() - sc)).matrix();
      }
    }
    layers_.readout(w.mixed, w.readout, w.pooled);
    const matrix& out_weight = model_->parameters().weights.back();
    w.logits.noalias() = w.pooled * out_weight;
    w.logits.rowwise() += model_->parameters().biases.back().transpose();
    const index t = options_.target;
    if (gradient != nullptr) w.dlogits.setZero(rows, w.logits.cols());
    for (index b = 0; b < rows; ++b) {
      double v = 0.0;
      if (options_.metric == gnn_component_metric::logit) {
        v = w.logits(b, t);
        if (gradient != nullptr) w.dlogits(b, t) = 1.0;
      } else {
        w.row = w.logits.row(b).transpose();
        detail::softmax_probabilities(w.row, w.probabilities);
        const vector& p = w.probabilities;
        v = p(t);
        if (gradient != nullptr) {
          w.dlogits.row(b) = -p(t) * p.transpose();  // d p_t / d logits = p_t (e_t - p)
          w.dlogits(b, t) += p(t);
        }
      }
      if (values != nullptr) (*values)(b) += v;
    }
    if (gradient == nullptr) return;
    w.dh.resize(count);
    for (auto& d : w.dh) d.setZero(rows * n, width);
    w.dpooled.noalias() = w.dlogits * out_weight.transpose();
    layers_.readout_backward(w.dpooled, w.readout, w.dh);
    for (index l = layers; l-- > 0;) {
      const auto k = static_cast<std::size_t>(l);
      matrix& d = w.dh[k];  // dv / d(mixed H_l), turned into dv / d(unmixed H_l)
      const matrix& unmixed = w.unmixed[k];
      for (index c = 0; c < width; ++c) {
        const index j = mask_[k][static_cast<std::size_t>(c)];
        if (j < 0) continue;
        for (index b = 0; b < rows; ++b) {
          auto dc = d.col(c).segment(b * n, n);
          (*gradient)(b, j) += dc.dot(unmixed.col(c).segment(b * n, n) - source[k].col(c));
          dc *= points(b, j);
        }
      }
      if (l > 0) {
        layers_.backward(l, d, w.caches[k], w.step);
        w.dh[k - 1] += w.step;
      }
    }
  }

  const Model* model_;
  gcn_input graph_;
  std::vector<gnn_channel> players_;
  gnn_component_options options_;
  layers_type layers_;  // the explained graph's
  std::vector<std::vector<index>> mask_;     // per layer and channel: its player, or -1
  std::vector<std::vector<matrix>> sources_;  // per source, per layer: n x width ablation values
};

template <gnn_component_model Model>
gnn_component_game(const Model&, gcn_input, std::vector<gnn_channel>, gnn_component_options = {})
    -> gnn_component_game<Model>;

}  // namespace attrib
