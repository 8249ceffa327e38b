#pragma once
// The hidden units of one of the library's MLPs as players of a game: the component column of the
// seed's table for the models the feature and data columns explain, so one prediction can be
// attributed to its inputs, its training data and its neurons with the same estimators.
//
// A coalition z (one entry per unit, usually 0/1) runs the explained input x with each player
// unit's activation (after its nonlinearity) mixed toward its ablation value s,
//   a -> s + z_j (a - s),
// layer by layer, so an ablated unit of an early layer changes what later units compute. The value
// is one column of the model's prediction. s comes from the ablation kind (games/ablation.hpp):
// zero; mean over the reference inputs; resample (the value averaged over every reference input's
// activations); patch (the activations on the one reference input). The game is differentiable in
// z (dv/dz_j = dv/da'_j (a_j - s_j), a' the mixed activation), so attribution patching and mask
// learning run on it as on the transformer's component games.
#include <string>
#include <utility>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"
#include "attrib/core/validate.hpp"
#include "attrib/games/ablation.hpp"
#include "attrib/models/activation.hpp"
#include "attrib/models/mlp.hpp"
#include "attrib/models/output_head.hpp"

namespace attrib {

// Unit `unit` of hidden layer `layer` (0 is the first layer's output; the last layer, which makes
// the logits, has no hidden units).
struct mlp_unit {
  index layer = 0;
  index unit = 0;
  friend bool operator==(const mlp_unit&, const mlp_unit&) = default;
};

// Every hidden unit, layer by layer.
template <class Matrix>
std::vector<mlp_unit> every_unit(const basic_mlp<Matrix>& model) {
  std::vector<mlp_unit> out;
  const auto& layers = model.layers();
  for (std::size_t l = 0; l + 1 < layers.size(); ++l)
    for (index u = 0; u < layers[l].weight.rows(); ++u) out.push_back({static_cast<index>(l), u});
  return out;
}

struct mlp_component_options {
  ablation_kind ablation = ablation_kind::zero;
  // Reference inputs (rows of the model's input width): averaged for mean, each taken in turn for
  // resample, the single row for patch; empty for zero.
  matrix reference = {};
  index output = 0;  // the prediction column that is the value
};

// A class template (always basic_mlp_component_game<matrix>, spelled `mlp_component_game`) only so
// that its forward and backward passes compile where the game is used, not in every program that
// includes the umbrella header (docs/performance.md), as basic_mlp is.
template <class Matrix = matrix>
class basic_mlp_component_game {
 public:
  // Throws invalid_argument for an x of the wrong width or not finite, units outside the hidden
  // layers or named twice, references of the wrong width, count or finiteness for the ablation,
  // and an output column outside the model's outputs.
  basic_mlp_component_game(const basic_mlp<Matrix>& model, vector x, std::vector<mlp_unit> players,
                           mlp_component_options options = {})
      : model_(&model), players_(std::move(players)), options_(std::move(options)) {
    const auto& layers = model.layers();
    const auto hidden = static_cast<index>(layers.size()) - 1;
    detail::require(x.size() == model.input_dim(), "mlp_component_game: x has " + std::to_string(x.size()) +
                                                        " entries, the model takes " +
                                                        std::to_string(model.input_dim()));
    detail::require_finite(x, "mlp_component_game: x");
    detail::require(!players_.empty(), "mlp_component_game: no players; every_unit(model) names them all");
    detail::require(options_.output >= 0 && options_.output < model.output_dim(),
                    "mlp_component_game: output " + std::to_string(options_.output) + " is outside [0, " +
                        std::to_string(model.output_dim()) + ")");
    mask_.assign(static_cast<std::size_t>(hidden), std::vector<index>());
    for (std::size_t l = 0; l < mask_.size(); ++l) mask_[l].assign(static_cast<std::size_t>(layers[l].weight.rows()), -1);
    for (std::size_t j = 0; j < players_.size(); ++j) {
      const auto& p = players_[j];
      detail::require(p.layer >= 0 && p.layer < hidden,
                      "mlp_component_game: player " + std::to_string(j) + " names layer " + std::to_string(p.layer) +
                          "; the hidden layers are [0, " + std::to_string(hidden) + ")");
      const index width = layers[static_cast<std::size_t>(p.layer)].weight.rows();
      detail::require(p.unit >= 0 && p.unit < width, "mlp_component_game: player " + std::to_string(j) + " names unit " +
                                                         std::to_string(p.unit) + " of layer " +
                                                         std::to_string(p.layer) + ", which has " +
                                                         std::to_string(width) + " units");
      auto& slot = mask_[static_cast<std::size_t>(p.layer)][static_cast<std::size_t>(p.unit)];
      detail::require(slot < 0, "mlp_component_game: unit " + std::to_string(p.unit) + " of layer " +
                                    std::to_string(p.layer) + " is named twice");
      slot = static_cast<index>(j);
    }
    const Matrix& ref = options_.reference;
    switch (options_.ablation) {
      case ablation_kind::zero:
        detail::require(ref.size() == 0, "mlp_component_game: zero ablation takes no reference inputs");
        break;
      case ablation_kind::patch:
        detail::require(ref.rows() == 1, "mlp_component_game: patch ablation takes exactly one reference input, got " +
                                             std::to_string(ref.rows()));
        break;
      case ablation_kind::mean:
      case ablation_kind::resample:
        detail::require(ref.rows() > 0, "mlp_component_game: mean and resample ablation need reference inputs");
        break;
    }
    if (ref.size() > 0) {
      detail::require(ref.cols() == model.input_dim(), "mlp_component_game: reference inputs have " +
                                                           std::to_string(ref.cols()) + " columns, the model takes " +
                                                           std::to_string(model.input_dim()));
      detail::require_finite(ref, "mlp_component_game: reference");
    }
    x_ = model.input_standardizer().transform(x.transpose());
    // Ablation values: one row per source, a matrix per hidden layer; each source's activations
    // are those of its own unablated run.
    const index sources = options_.ablation == ablation_kind::resample ? ref.rows() : 1;
    sources_.assign(static_cast<std::size_t>(hidden), Matrix());
    if (options_.ablation == ablation_kind::zero) {
      for (index l = 0; l < hidden; ++l) sources_[static_cast<std::size_t>(l)] = Matrix::Zero(1, width(l));
    } else {
      Matrix in = model.input_standardizer().transform(ref);
      for (index l = 0; l < hidden; ++l) {
        const auto& layer = layers[static_cast<std::size_t>(l)];
        in = activate(layer.act, (in * layer.weight.transpose()).rowwise() + layer.bias.transpose());
        sources_[static_cast<std::size_t>(l)] =
            options_.ablation == ablation_kind::mean ? Matrix(in.colwise().mean()) : in;
      }
    }
    sources_count_ = sources;
  }

  index player_count() const { return static_cast<index>(players_.size()); }
  const std::vector<mlp_unit>& players() const { return players_; }
  index model_evaluations_per_value() const { return sources_count_; }

  vector values(const matrix& points) const {
    check_points(points);
    vector v = vector::Zero(points.rows());
    for (index s = 0; s < sources_count_; ++s) v += run(points, s, nullptr);
    return v / static_cast<double>(sources_count_);
  }

  matrix gradients(const matrix& points) const {
    check_points(points);
    matrix g = matrix::Zero(points.rows(), player_count());
    for (index s = 0; s < sources_count_; ++s) run(points, s, &g);
    return g / static_cast<double>(sources_count_);
  }

 private:
  index width(index l) const { return model_->layers()[static_cast<std::size_t>(l)].weight.rows(); }

  void check_points(const matrix& points) const {
    detail::require(points.cols() == player_count(), "mlp_component_game: points have " +
                                                         std::to_string(points.cols()) + " columns, the game has " +
                                                         std::to_string(player_count()) + " players");
    detail::require_finite(points, "mlp_component_game: points");
  }

  // Per layer, reused from batch to batch: estimators call values() from parallel_for, so each
  // worker thread keeps its own.
  struct workspace {
    std::vector<Matrix> pre, unmixed, inputs;
    Matrix d_mixed;
  };

  static workspace& thread_workspace() {
    thread_local workspace w;
    return w;
  }

  // The batch's values with source s; with `gradient`, adds dv/dz to it instead of only computing
  // the values (the backward pass needs the forward's unmixed activations and pre-activations).
  vector run(const matrix& points, index s, matrix* gradient) const {
    const auto& layers = model_->layers();
    const auto hidden = static_cast<index>(layers.size()) - 1;
    const index rows = points.rows();
    auto& w = thread_workspace();
    w.pre.resize(layers.size());
    w.unmixed.resize(static_cast<std::size_t>(hidden));
    w.inputs.resize(layers.size());
    auto& pre = w.pre;
    auto& unmixed = w.unmixed;
    auto& inputs = w.inputs;
    inputs[0] = x_.replicate(rows, 1);
    for (index l = 0; l <= hidden; ++l) {
      const auto& layer = layers[static_cast<std::size_t>(l)];
      const auto k = static_cast<std::size_t>(l);
      pre[k].noalias() = inputs[k] * layer.weight.transpose();
      pre[k].rowwise() += layer.bias.transpose();
      if (l == hidden) break;
      unmixed[k] = pre[k];
      activate_in_place(layer.act, unmixed[k].data(), unmixed[k].size());
      Matrix& mixed = inputs[k + 1];
      mixed = unmixed[k];
      const auto source = sources_[k].row(sources_[k].rows() == 1 ? 0 : s);
      for (index u = 0; u < width(l); ++u) {
        const index j = mask_[k][static_cast<std::size_t>(u)];
        if (j >= 0) mixed.col(u) = (source(u) + points.col(j).array() * (unmixed[k].col(u).array() - source(u))).matrix();
      }
    }
    const auto last = static_cast<std::size_t>(hidden);
    const Matrix logits = activate(layers[last].act, pre[last]);
    const Matrix prediction = detail::apply_head(model_->head(), logits);
    const vector v = prediction.col(options_.output);
    if (gradient == nullptr) return v;
    Matrix cotangent = Matrix::Zero(rows, prediction.cols());
    cotangent.col(options_.output).setOnes();
    Matrix delta = detail::head_jacobian_product(model_->head(), prediction, cotangent);  // d v / d logits
    delta = delta.cwiseProduct(activation_derivative(layers[last].act, pre[last]));
    Matrix& d_mixed = w.d_mixed;  // dv / d(mixed activation of layer l)
    for (index l = hidden; l-- > 0;) {
      const auto k = static_cast<std::size_t>(l);
      d_mixed.noalias() = delta * layers[k + 1].weight;
      const auto source = sources_[k].row(sources_[k].rows() == 1 ? 0 : s);
      for (index u = 0; u < width(l); ++u) {
        const index j = mask_[k][static_cast<std::size_t>(u)];
        if (j < 0) continue;
        gradient->col(j).array() += d_mixed.col(u).array() * (unmixed[k].col(u).array() - source(u));
        d_mixed.col(u).array() *= points.col(j).array();
      }
      delta = d_mixed.cwiseProduct(activation_derivative(layers[k].act, pre[k]));
    }
    return v;
  }

  const basic_mlp<Matrix>* model_;
  std::vector<mlp_unit> players_;
  mlp_component_options options_;
  Matrix x_;  // 1 x input width, standardised
  std::vector<std::vector<index>> mask_;  // per hidden layer and unit: its player, or -1
  std::vector<Matrix> sources_;           // per hidden layer: sources x width (1 row unless resample)
  index sources_count_ = 1;
};

using mlp_component_game = basic_mlp_component_game<>;

}  // namespace attrib
