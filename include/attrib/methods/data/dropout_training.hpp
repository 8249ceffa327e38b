#pragma once
// Dropout for attrib's MLP without touching the MLP: a network evaluated under one fixed dropout
// mask IS an mlp, the same layers with each dropped hidden unit's outgoing weight column zeroed
// and each surviving column scaled by 1 / (1 - q) (inverted dropout). So a mask is applied by
// rewriting weights (apply_dropout_mask), every method that takes an mlp runs on a masked network
// unchanged, and training with dropout is Adam on the masked networks' gradients pulled back to
// the shared weights by the chain rule.
//
// Masks act on hidden units only (the outputs of every layer but the last), never on the inputs
// or the logits. Training draws one mask per minibatch, shared by the rows of that batch, from
// rng::stream(detail::dropout_mask_seed(seed), step): the masked network of a step is an ordinary
// mlp, so its gradient comes from mlp::loss_gradient, and everything is fixed by the seed.
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/random.hpp"
#include "attrib/core/types.hpp"
#include "attrib/core/validate.hpp"
#include "attrib/models/mlp.hpp"
#include "attrib/optimizers/adam.hpp"
#include "attrib/optimizers/minibatches.hpp"

namespace attrib {

// One 0/1 vector per hidden layer (mlp::layers().size() - 1 of them), entry j = 1 when hidden
// unit j of that layer is kept.
using dropout_mask = std::vector<vector>;

namespace detail {

inline void require_dropout_rate(double rate, const std::string& who) {
  require(std::isfinite(rate) && rate >= 0.0 && rate < 1.0,
          who + ": rate must lie in [0, 1), got " + std::to_string(rate));
}

inline void require_dropout_mask(const mlp& model, const dropout_mask& mask, const std::string& who) {
  const std::size_t hidden = model.layers().size() - 1;
  require(mask.size() == hidden, who + ": mask has " + std::to_string(mask.size()) +
                                     " layers, expected one per hidden layer (" + std::to_string(hidden) + ")");
  for (std::size_t l = 0; l < hidden; ++l) {
    const std::string name = who + ": mask[" + std::to_string(l) + "]";
    require_size(mask[l].size(), model.layers()[l].weight.rows(), name);
    for (index j = 0; j < mask[l].size(); ++j)
      require(mask[l][j] == 0.0 || mask[l][j] == 1.0,
              name + "[" + std::to_string(j) + "] is " + std::to_string(mask[l][j]) + ", expected 0 or 1");
  }
}

// Training masks come from their own streams, apart from the shuffles mlp::train draws from
// rng::stream(seed, epoch), so changing the rate never changes the batch order.
inline std::uint64_t dropout_mask_seed(std::uint64_t seed) {
  std::uint64_t state = seed ^ 0x64726F706F75745Full;  // "dropout_"
  return splitmix64(state);
}

// d theta' / d theta for theta' = parameters of apply_dropout_mask(model, mask, rate): a diagonal,
// 1 / (1 - q) or 0 on the weight columns that read a hidden unit, 1 everywhere else.
inline vector dropout_parameter_scale(const mlp& model, const dropout_mask& mask, double rate) {
  vector scale = vector::Ones(model.parameter_count());
  const double keep = 1.0 / (1.0 - rate);
  index at = 0;
  const auto& layers = model.layers();
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const matrix& w = layers[l].weight;
    if (l > 0)
      for (index o = 0; o < w.rows(); ++o)
        for (index i = 0; i < w.cols(); ++i) scale[at + o * w.cols() + i] = mask[l - 1][i] * keep;
    at += w.size() + layers[l].bias.size();
  }
  return scale;
}

}  // namespace detail

// A mask that keeps each hidden unit independently with probability 1 - rate, from gen.
inline dropout_mask draw_dropout_mask(const mlp& model, double rate, rng& gen) {
  detail::require_dropout_rate(rate, "draw_dropout_mask");
  dropout_mask mask;
  for (std::size_t l = 0; l + 1 < model.layers().size(); ++l) {
    vector m(model.layers()[l].weight.rows());
    for (index j = 0; j < m.size(); ++j) m[j] = gen.uniform() < rate ? 0.0 : 1.0;
    mask.push_back(std::move(m));
  }
  return mask;
}

// The network under one fixed dropout mask, as an mlp: layer l + 1's weight column j is
// multiplied by mask[l][j] / (1 - rate). Biases, head and standardiser are the model's.
inline mlp apply_dropout_mask(const mlp& model, const dropout_mask& mask, double rate) {
  detail::require_dropout_rate(rate, "apply_dropout_mask");
  detail::require_dropout_mask(model, mask, "apply_dropout_mask");
  std::vector<dense_layer> layers = model.layers();
  for (std::size_t l = 1; l < layers.size(); ++l)
    layers[l].weight = layers[l].weight * (mask[l - 1] / (1.0 - rate)).asDiagonal();
  mlp out(std::move(layers), model.head());
  out.set_standardizer(model.input_standardizer());
  out.set_l2(model.l2());
  return out;
}

// Adam with inverted dropout on the hidden units at rate q, from the model's current weights.
// The options mean what they mean for mlp::train (epoch e's shuffle from rng::stream(seed, e),
// penalty (l2 / 2) sum of squared weights on the shared weights); step t's mask comes from
// rng::stream(detail::dropout_mask_seed(seed), t). Returns the trained model, l2() set to
// options.l2; rate 0 gives the weights mlp::train gives up to rounding.
inline mlp train_with_dropout(mlp model, const matrix& x, const vector& y, double rate,
                              const adam_options& options = {}) {
  detail::require_dropout_rate(rate, "train_with_dropout");
  detail::require(options.learning_rate > 0 && std::isfinite(options.learning_rate),
                  "train_with_dropout: learning_rate must be positive and finite");
  detail::require(options.epochs >= 0, "train_with_dropout: epochs must be non-negative");
  detail::require(options.batch_size > 0, "train_with_dropout: batch_size must be positive");
  detail::require(std::isfinite(options.l2) && options.l2 >= 0, "train_with_dropout: l2 must be finite and >= 0");
  // The model's own check of the data (shape, finiteness, labels) before any step.
  model.set_l2(options.l2);
  (void)model.loss(x, y);
  vector theta = model.parameters();
  // The penalty's gradient: l2 on weights, 0 on biases.
  vector weight_entries = vector::Zero(theta.size());
  {
    index at = 0;
    for (const auto& layer : model.layers()) {
      weight_entries.segment(at, layer.weight.size()).setOnes();
      at += layer.weight.size() + layer.bias.size();
    }
  }
  basic_adamw<vector> adam({.beta1 = options.beta1, .beta2 = options.beta2, .epsilon = options.epsilon});
  const std::uint64_t mask_seed = detail::dropout_mask_seed(options.seed);
  std::uint64_t step = 0;
  for_each_minibatch(
      x, y, options.batch_size, options.epochs, options.seed,
      [&](const matrix& batch, const vector& batch_y) {
        rng gen = rng::stream(mask_seed, step++);
        const dropout_mask mask = draw_dropout_mask(model, rate, gen);
        mlp masked = apply_dropout_mask(model, mask, rate);
        masked.set_l2(0.0);
        // Chain rule through theta' = scale * theta, then the penalty on the shared weights.
        const vector g =
            masked.loss_gradient(batch, batch_y).cwiseProduct(detail::dropout_parameter_scale(model, mask, rate)) +
            options.l2 * theta.cwiseProduct(weight_entries);
        adam.next_step();
        adam.update(0, theta, g, options.learning_rate);
        model.set_parameters(theta);
      },
      [&](index epoch) {
        if (options.progress) options.progress(static_cast<std::size_t>(epoch + 1), static_cast<std::size_t>(options.epochs));
      });
  return model;
}

}  // namespace attrib
