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
// The model's forward pass is private, so this header runs it again from the public parameters
// (as layer_gradient.hpp does) with every node present; the tests pin it to model.probabilities.
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

namespace detail {

// A batch of B coalitions runs as one matrix of B n rows: rows [b n, (b + 1) n) are the graph's
// nodes under coalition b. Applies the graph operator `op` (n x n) to every block.
inline matrix per_block(const matrix& op, const matrix& stacked) {
  const index n = op.rows();
  matrix out(stacked.rows(), stacked.cols());
  for (index b = 0; b < stacked.rows() / n; ++b) out.middleRows(b * n, n).noalias() = op * stacked.middleRows(b * n, n);
  return out;
}

// Column sums of every block: B x cols.
inline matrix block_sums(const matrix& stacked, index n) {
  matrix out(stacked.rows() / n, stacked.cols());
  for (index b = 0; b < out.rows(); ++b) out.row(b) = stacked.middleRows(b * n, n).colwise().sum();
  return out;
}

// One model's message-passing layers and readout on one graph, forward and backward, over
// stacked batches; every node is present.
template <class Model>
struct gnn_component_stack;

// gcn: U_l = relu(Â H_{l-1} W_l + b_l); mean, sum or max readout of the last layer.
template <>
struct gnn_component_stack<gcn> {
  struct layer_cache {
    matrix pre;  // Z_l
  };
  struct readout_cache {
    std::vector<index> winner;  // max readout: per block and column, the node that wins
  };

  gnn_component_stack(const gcn& m, const gcn_input& in) : model(&m), n(in.node_count()) {
    // Â as gcn's forward pass builds it with every node kept.
    norm = in.adjacency;
    norm.diagonal().array() += 1.0;
    if (m.config().aggregation == gcn_aggregation::normalized) {
      const vector scale = norm.rowwise().sum().array().rsqrt().matrix();
      norm = scale.asDiagonal() * norm * scale.asDiagonal();
    }
  }

  index layers() const { return model->config().layers; }
  index hidden() const { return model->config().hidden; }

  matrix forward(index l, const matrix& h, layer_cache& c) const {
    const auto ul = static_cast<std::size_t>(l);
    c.pre = per_block(norm, h) * model->parameters().weights[ul];
    c.pre.rowwise() += model->parameters().biases[ul].transpose();
    return c.pre.cwiseMax(0.0);
  }

  // d/d H_{l-1} from d/d U_l (Â is symmetric).
  matrix backward(index l, const matrix& du, const layer_cache& c) const {
    const matrix dz = du.cwiseProduct((c.pre.array() > 0.0).cast<double>().matrix());
    return per_block(norm, dz * model->parameters().weights[static_cast<std::size_t>(l)].transpose());
  }

  matrix readout(const std::vector<matrix>& h, readout_cache& c) const {
    const matrix& last = h.back();
    switch (model->config().readout) {
      case gcn_readout::mean: return block_sums(last, n) / static_cast<double>(n);
      case gcn_readout::sum: return block_sums(last, n);
      case gcn_readout::max: break;
    }
    const index blocks = last.rows() / n, cols = last.cols();
    matrix pooled(blocks, cols);
    c.winner.assign(static_cast<std::size_t>(blocks * cols), 0);
    for (index b = 0; b < blocks; ++b)
      for (index j = 0; j < cols; ++j) {
        index i = 0;
        pooled(b, j) = last.col(j).segment(b * n, n).maxCoeff(&i);  // the first maximum, as gcn's strict '>'
        c.winner[static_cast<std::size_t>(b * cols + j)] = i;
      }
    return pooled;
  }

  // Adds d/d H_l of the readout to dh[l].
  void readout_backward(const matrix& dpooled, const readout_cache& c, std::vector<matrix>& dh) const {
    matrix& d = dh.back();
    for (index b = 0; b < dpooled.rows(); ++b) switch (model->config().readout) {
        case gcn_readout::mean: d.middleRows(b * n, n).rowwise() += dpooled.row(b) / static_cast<double>(n); break;
        case gcn_readout::sum: d.middleRows(b * n, n).rowwise() += dpooled.row(b); break;
        case gcn_readout::max:
          for (index j = 0; j < dpooled.cols(); ++j)
            d(b * n + c.winner[static_cast<std::size_t>(b * dpooled.cols() + j)], j) += dpooled(b, j);
          break;
      }
  }

  const gcn* model;
  index n;
  matrix norm;  // Â (or A + I)
};

// gin: U_l = relu(relu(((1 + eps_l) H_{l-1} + A H_{l-1}) W1_l + b1_l) W2_l + b2_l); sum or mean
// readout of the last layer, or of every layer concatenated (jumping knowledge).
template <>
struct gnn_component_stack<gin> {
  struct layer_cache {
    matrix inner, outer;  // the layer MLP's two pre-activations
  };
  struct readout_cache {};

  gnn_component_stack(const gin& m, const gcn_input& in) : model(&m), n(in.node_count()), adjacency(in.adjacency) {}

  index layers() const { return model->config().layers; }
  index hidden() const { return model->config().hidden; }

  matrix forward(index l, const matrix& h, layer_cache& c) const {
    const auto ul = static_cast<std::size_t>(l);
    const gnn_parameters& theta = model->parameters();
    const matrix agg = (1.0 + theta.epsilons(l)) * h + per_block(adjacency, h);
    c.inner = agg * theta.weights[2 * ul];
    c.inner.rowwise() += theta.biases[2 * ul].transpose();
    c.outer = c.inner.cwiseMax(0.0) * theta.weights[2 * ul + 1];
    c.outer.rowwise() += theta.biases[2 * ul + 1].transpose();
    return c.outer.cwiseMax(0.0);
  }

  matrix backward(index l, const matrix& du, const layer_cache& c) const {
    const auto ul = static_cast<std::size_t>(l);
    const gnn_parameters& theta = model->parameters();
    const matrix douter = du.cwiseProduct((c.outer.array() > 0.0).cast<double>().matrix());
    const matrix dinner =
        (douter * theta.weights[2 * ul + 1].transpose()).cwiseProduct((c.inner.array() > 0.0).cast<double>().matrix());
    const matrix dagg = dinner * theta.weights[2 * ul].transpose();
    return (1.0 + theta.epsilons(l)) * dagg + per_block(adjacency, dagg);  // A is symmetric
  }

  double per_node() const { return model->config().readout == gin_readout::mean ? 1.0 / static_cast<double>(n) : 1.0; }

  matrix readout(const std::vector<matrix>& h, readout_cache&) const {
    if (!model->config().jumping_knowledge) return per_node() * block_sums(h.back(), n);
    const index width = hidden();
    matrix pooled(h.back().rows() / n, width * layers());
    for (std::size_t l = 0; l < h.size(); ++l)
      pooled.middleCols(static_cast<index>(l) * width, width) = per_node() * block_sums(h[l], n);
    return pooled;
  }

  void readout_backward(const matrix& dpooled, const readout_cache&, std::vector<matrix>& dh) const {
    const index width = hidden();
    const bool every = model->config().jumping_knowledge;
    for (std::size_t l = every ? 0 : dh.size() - 1; l < dh.size(); ++l) {
      const auto part = dpooled.middleCols(every ? static_cast<index>(l) * width : 0, width);
      for (index b = 0; b < dpooled.rows(); ++b) dh[l].middleRows(b * n, n).rowwise() += per_node() * part.row(b);
    }
  }

  const gin* model;
  index n;
  matrix adjacency;
};

}  // namespace detail

template <gnn_component_model Model>
class gnn_component_game {
 public:
  // Throws invalid_argument for a graph the model cannot read (feature width, adjacency shape,
  // self-loops, asymmetric, negative or non-finite weights, non-finite features), channels outside
  // the message-passing layers or named twice, reference graphs of the wrong count, size or
  // content for the ablation, and a target outside the model's classes.
  gnn_component_game(const Model& model, gcn_input graph, std::vector<gnn_channel> players,
                     gnn_component_options options = {})
      : model_(&model), graph_(checked(model, std::move(graph))), players_(std::move(players)),
        options_(std::move(options)), stack_(model, graph_) {
    const std::string who = "gnn_component_game: ";
    const index n = graph_.node_count();
    detail::require(!players_.empty(), who + "no players; every_channel(model) names them all");
    detail::require(options_.target >= 0 && options_.target < model.classes(),
                    who + "target " + std::to_string(options_.target) + " is outside the classes [0, " +
                        std::to_string(model.classes()) + ")");
    const index layers = stack_.layers(), width = stack_.hidden();
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
    for (index r = 0; r < count; ++r) {
      const gcn_input& ref = refs[static_cast<std::size_t>(r)];
      detail::check_gnn_input(ref, model.inputs(), ref.node_count(), who + "reference graph " + std::to_string(r));
    }
    if (options_.ablation == ablation_kind::patch)
      detail::require(refs[0].node_count() == n,
                      who + "patch ablation needs a reference graph with the explained graph's " + std::to_string(n) +
                          " nodes (node i is patched from node i), got " + std::to_string(refs[0].node_count()) +
                          "; graphs of other sizes have no node correspondence: use mean or resample ablation");
    // Ablation values: per source, one n x width matrix per layer (every row equal unless patch);
    // each reference's activations are those of its own unablated run.
    if (options_.ablation == ablation_kind::zero) {
      sources_.assign(1, std::vector<matrix>(static_cast<std::size_t>(layers), matrix::Zero(n, width)));
      return;
    }
    std::vector<std::vector<matrix>> runs;
    for (const gcn_input& ref : refs) runs.push_back(unablated_run(model, ref));
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
    for (std::size_t s = 0; s < sources_.size(); ++s) v += run(points, s, nullptr);
    return v / static_cast<double>(sources_.size());
  }

  matrix gradients(const matrix& points) const {
    check_points(points);
    matrix g = matrix::Zero(points.rows(), player_count());
    for (std::size_t s = 0; s < sources_.size(); ++s) run(points, s, &g);
    return g / static_cast<double>(sources_.size());
  }

 private:
  using stack = detail::gnn_component_stack<Model>;

  // Checked before stack_ builds the graph operator from it.
  static gcn_input checked(const Model& model, gcn_input graph) {
    detail::check_gnn_input(graph, model.inputs(), graph.node_count(), "gnn_component_game: graph");
    return graph;
  }

  // Each layer's output (n x width) on one graph, no channel ablated.
  static std::vector<matrix> unablated_run(const Model& model, const gcn_input& in) {
    const stack s(model, in);
    std::vector<matrix> out;
    typename stack::layer_cache cache;
    matrix h = in.features;
    for (index l = 0; l < s.layers(); ++l) {
      h = s.forward(l, h, cache);
      out.push_back(h);
    }
    return out;
  }

  void check_points(const matrix& points) const {
    detail::require(points.cols() == player_count(), "gnn_component_game: points have " + std::to_string(points.cols()) +
                                                         " columns, the game has " + std::to_string(player_count()) +
                                                         " players");
    detail::require_finite(points, "gnn_component_game: points");
  }

  // The batch's values with source s; with `gradient`, also adds dv/dz to it (the backward pass
  // needs each layer's unmixed activations and its caches).
  vector run(const matrix& points, std::size_t s, matrix* gradient) const {
    const index rows = points.rows(), n = graph_.node_count(), layers = stack_.layers(), width = stack_.hidden();
    const std::vector<matrix>& source = sources_[s];
    std::vector<matrix> unmixed(static_cast<std::size_t>(layers)), mixed(static_cast<std::size_t>(layers));
    std::vector<typename stack::layer_cache> caches(static_cast<std::size_t>(layers));
    const matrix* h = nullptr;
    const matrix features = graph_.features.replicate(rows, 1);
    for (index l = 0; l < layers; ++l) {
      const auto k = static_cast<std::size_t>(l);
      unmixed[k] = stack_.forward(l, h ? *h : features, caches[k]);
      mixed[k] = unmixed[k];
      for (index c = 0; c < width; ++c) {
        const index j = mask_[k][static_cast<std::size_t>(c)];
        if (j < 0) continue;
        const auto sc = source[k].col(c).array();
        for (index b = 0; b < rows; ++b)
          mixed[k].col(c).segment(b * n, n) =
              (sc + points(b, j) * (unmixed[k].col(c).segment(b * n, n).array() - sc)).matrix();
      }
      h = &mixed[k];
    }
    typename stack::readout_cache readout;
    const matrix pooled = stack_.readout(mixed, readout);
    const matrix& out_weight = model_->parameters().weights.back();
    matrix logits = pooled * out_weight;
    logits.rowwise() += model_->parameters().biases.back().transpose();
    const index t = options_.target;
    vector v(rows);
    matrix dlogits = matrix::Zero(rows, logits.cols());
    for (index b = 0; b < rows; ++b) {
      if (options_.metric == gnn_component_metric::logit) {
        v(b) = logits(b, t);
        dlogits(b, t) = 1.0;
      } else {
        const vector p = detail::softmax_probabilities(logits.row(b).transpose());
        v(b) = p(t);
        dlogits.row(b) = -p(t) * p.transpose();  // d p_t / d logits = p_t (e_t - p)
        dlogits(b, t) += p(t);
      }
    }
    if (gradient == nullptr) return v;
    std::vector<matrix> dh(static_cast<std::size_t>(layers), matrix::Zero(rows * n, width));
    stack_.readout_backward(dlogits * out_weight.transpose(), readout, dh);
    for (index l = layers; l-- > 0;) {
      const auto k = static_cast<std::size_t>(l);
      matrix& d = dh[k];  // dv / d(mixed H_l), turned into dv / d(unmixed H_l)
      for (index c = 0; c < width; ++c) {
        const index j = mask_[k][static_cast<std::size_t>(c)];
        if (j < 0) continue;
        for (index b = 0; b < rows; ++b) {
          auto dc = d.col(c).segment(b * n, n);
          (*gradient)(b, j) += dc.dot(unmixed[k].col(c).segment(b * n, n) - source[k].col(c));
          dc *= points(b, j);
        }
      }
      if (l > 0) dh[k - 1] += stack_.backward(l, d, caches[k]);
    }
    return v;
  }

  const Model* model_;
  gcn_input graph_;
  std::vector<gnn_channel> players_;
  gnn_component_options options_;
  stack stack_;
  std::vector<std::vector<index>> mask_;     // per layer and channel: its player, or -1
  std::vector<std::vector<matrix>> sources_;  // per source, per layer: n x width ablation values
};

template <gnn_component_model Model>
gnn_component_game(const Model&, gcn_input, std::vector<gnn_channel>, gnn_component_options = {})
    -> gnn_component_game<Model>;

}  // namespace attrib
