#pragma once
// A multilayer perceptron: dense layers x -> act(x W^T + b), then an output head. Everything is
// batched (one GEMM per layer for a whole batch) and differentiated by hand: input
// vector-Jacobian products, parameter gradients (batched and per example), and exact
// Hessian-vector products of the training loss by Pearlmutter's R-operator.
#include <algorithm>
#include <cmath>
#include <functional>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "attrib/concepts/model.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/random.hpp"
#include "attrib/core/types.hpp"
#include "attrib/core/validate.hpp"
#include "attrib/models/activation.hpp"
#include "attrib/concepts/layered_model.hpp"
#include "attrib/models/detail/checks.hpp"
#include "attrib/models/detail/dense_forward.hpp"
#include "attrib/models/output_head.hpp"
#include "attrib/models/standardizer.hpp"
#include "attrib/optimizers/adam.hpp"
#include "attrib/optimizers/minibatches.hpp"

namespace attrib {

struct dense_layer {
  matrix weight;  // outputs x inputs
  vector bias;    // outputs
  activation act = activation::identity;
};

// The shape of a layer to be initialised.
struct layer_shape {
  index inputs = 0;
  index outputs = 0;
  activation act = activation::identity;
};

struct adam_options {
  double learning_rate = 1e-3;
  index epochs = 100;
  index batch_size = 32;
  double l2 = 0.0;  // penalty (l2 / 2) * sum of squared weights (biases are not penalised)
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-8;
  std::uint64_t seed = 0;  // drives the minibatch shuffling
  // Called with (epochs done, epochs in all) after each epoch; may be empty.
  std::function<void(std::size_t, std::size_t)> progress = {};
};

// A class template (always basic_mlp<matrix>, spelled `mlp`) only so that each member function
// compiles where it is called: as a plain class, every file that included it paid for all of them.
template <class Matrix = matrix>
class basic_mlp {
 public:
  basic_mlp(std::vector<dense_layer> layers, output_head head) : layers_(std::move(layers)), head_(head) {
    detail::require(!layers_.empty(), "mlp: at least one layer is needed");
    for (std::size_t l = 0; l < layers_.size(); ++l) {
      const auto& layer = layers_[l];
      const std::string name = "mlp: layers[" + std::to_string(l) + "]";
      detail::require(layer.weight.rows() > 0 && layer.weight.cols() > 0,
                      name + ".weight must be non-empty");
      detail::require_size(layer.bias.size(), layer.weight.rows(), name + ".bias");
      detail::require_finite(layer.weight, name + ".weight");
      detail::require_finite(layer.bias, name + ".bias");
      if (l > 0)
        detail::require(layer.weight.cols() == layers_[l - 1].weight.rows(),
                        name + ".weight has " + std::to_string(layer.weight.cols()) +
                            " inputs, but the previous layer has " +
                            std::to_string(layers_[l - 1].weight.rows()) + " outputs");
    }
    pack_layers();
  }

  // Random initial weights drawn from attrib::rng(seed): He-normal (sd sqrt(2 / inputs)) before
  // relu and gelu, Glorot-uniform (limit sqrt(6 / (inputs + outputs))) otherwise; zero biases.
  basic_mlp(const std::vector<layer_shape>& shapes, output_head head, std::uint64_t seed)
      : basic_mlp(initial_layers(shapes, seed), head) {}

  index input_dim() const { return layers_.front().weight.cols(); }
  index output_dim() const { return layers_.back().weight.rows(); }
  const std::vector<dense_layer>& layers() const { return layers_; }
  output_head head() const { return head_; }

  // Every layer's place in parameters() (concepts/layered_model.hpp).
  std::vector<dense_block> dense_blocks() const {
    std::vector<dense_block> blocks;
    index at = 0;
    for (const auto& layer : layers_) {
      blocks.push_back({at, layer.weight.cols(), layer.weight.rows()});
      at += layer.weight.size() + layer.bias.size();
    }
    return blocks;
  }

  // Each layer's input for every row of `inputs`: the standardised inputs, then each hidden
  // layer's activations.
  std::vector<matrix> dense_block_inputs(const matrix& inputs) const {
    detail::require_input_columns(inputs, input_dim(), "mlp");
    std::vector<matrix> a{standardizer_.transform(inputs)};
    for (std::size_t l = 0; l + 1 < layers_.size(); ++l) {
      const auto& layer = layers_[l];
      matrix post(inputs.rows(), layer.weight.rows());
      detail::dense_forward(a.back().data(), inputs.rows(), a.back().cols(), layer.weight, layer.bias, layer.act,
                            packed_[l], nullptr, post.data());
      a.push_back(std::move(post));
    }
    return a;
  }

  const standardizer& input_standardizer() const { return standardizer_; }
  void set_standardizer(standardizer s) {
    detail::require(s.is_identity() || s.dim() == input_dim(),
                    "mlp: standardizer has dimension " + std::to_string(s.dim()) + ", expected " +
                        std::to_string(input_dim()));
    standardizer_ = std::move(s);
  }

  // Strength of the weight penalty in loss(); train() sets it.
  double l2() const { return l2_; }
  void set_l2(double l2) {
    detail::require(std::isfinite(l2) && l2 >= 0, "mlp: l2 must be finite and non-negative");
    l2_ = l2;
  }

  // The last layer's output, before the head. The layers run through two per-thread buffers that
  // keep their capacity between calls: a game asking for thousands of batches allocates only the
  // result, never touching fresh pages (which cost 20-30 microseconds each on a virtual machine).
  matrix logits(const matrix& inputs) const {
    detail::require_input_columns(inputs, input_dim(), "mlp");
    thread_local std::vector<double> ping, pong;
    const index rows = inputs.rows();
    auto buffer = [rows](std::vector<double>& storage, index cols) {
      storage.resize(std::max(storage.size(), static_cast<std::size_t>(rows * cols)));
      return Eigen::Map<matrix>(storage.data(), rows, cols);
    };
    const double* in = inputs.data();
    index in_cols = inputs.cols();
    if (!standardizer_.is_identity()) {
      auto z = buffer(pong, in_cols);
      z = (inputs.rowwise() - standardizer_.mean().transpose()).array().rowwise() /
          standardizer_.scale().transpose().array();
      in = z.data();
    }
    matrix result;
    for (std::size_t l = 0; l < layers_.size(); ++l) {
      const auto& layer = layers_[l];
      const index out_cols = layer.weight.rows();
      if (l + 1 == layers_.size()) result.resize(rows, out_cols);
      auto out = l + 1 == layers_.size() ? Eigen::Map<matrix>(result.data(), rows, out_cols)
                                         : buffer(in == ping.data() ? pong : ping, out_cols);
      detail::dense_forward(in, rows, in_cols, layer.weight, layer.bias, layer.act, packed_[l], nullptr, out.data());
      in = out.data();
      in_cols = out_cols;
    }
    return result;
  }

  matrix predict(const matrix& inputs) const { return detail::apply_head(head_, logits(inputs)); }

  // For each row i, output_cotangent.row(i) times the Jacobian of predict at inputs.row(i).
  matrix vjp_inputs(const matrix& inputs, const matrix& output_cotangent) const {
    detail::require_input_columns(inputs, input_dim(), "mlp");
    detail::require_cotangent_shape(inputs, output_cotangent, output_dim(), "mlp");
    const trace t = forward(standardizer_.transform(inputs));
    const matrix dlogits = detail::head_jacobian_product(
        head_, detail::apply_head(head_, t.post.back()), output_cotangent);
    const std::vector<matrix> e = backward(t, dlogits);
    return standardizer_.pull_back(e.front() * layers_.front().weight);
  }

  index parameter_count() const {
    index p = 0;
    for (const auto& layer : layers_) p += layer.weight.size() + layer.bias.size();
    return p;
  }

  // Layer by layer: the weight row by row, then the bias.
  vector parameters() const {
    vector theta(parameter_count());
    index at = 0;
    for (const auto& layer : layers_) {
      theta.segment(at, layer.weight.size()) =
          Eigen::Map<const vector>(layer.weight.data(), layer.weight.size());
      at += layer.weight.size();
      theta.segment(at, layer.bias.size()) = layer.bias;
      at += layer.bias.size();
    }
    return theta;
  }

  void set_parameters(const vector& theta) {
    detail::require_size(theta.size(), parameter_count(), "mlp: parameters");
    detail::require_finite(theta, "mlp: parameters");
    index at = 0;
    for (auto& layer : layers_) {
      Eigen::Map<vector>(layer.weight.data(), layer.weight.size()) =
          theta.segment(at, layer.weight.size());
      at += layer.weight.size();
      layer.bias = theta.segment(at, layer.bias.size());
      at += layer.bias.size();
    }
    pack_layers();
  }

  // Mean per-example loss (cross-entropy for softmax and sigmoid heads, squared error / 2 for
  // identity) plus (l2 / 2) * sum of squared weights. Targets: class indices for softmax, 0/1
  // for sigmoid, reals for identity; sigmoid and identity need output_dim 1.
  double loss(const matrix& inputs, const vector& targets) const {
    check_training(inputs, targets);
    return objective(standardizer_.transform(inputs), targets);
  }

  vector loss_gradient(const matrix& inputs, const vector& targets) const {
    check_training(inputs, targets);
    return gradient(standardizer_.transform(inputs), targets);
  }

  // Row i: the gradient of example i's loss (without the penalty) with respect to parameters().
  matrix per_example_loss_gradients(const matrix& inputs, const vector& targets) const {
    check_training(inputs, targets);
    const trace t = forward(standardizer_.transform(inputs));
    return logit_gradient_rows(t, detail::head_loss_gradient(head_, detail::apply_head(head_, t.post.back()), targets));
  }

  // Row i: the gradient with respect to parameters() of sum_c cotangent(i, c) logit_c(x_i).
  matrix per_example_logit_gradients(const matrix& inputs, const matrix& cotangent) const {
    check_logit_cotangent(inputs, cotangent);
    return logit_gradient_rows(forward(standardizer_.transform(inputs)), cotangent);
  }

  // The gradient with respect to parameters() of sum_i sum_c cotangent(i, c) logit_c(x_i), in one
  // backward pass over the batch (per_example_logit_gradients keeps each row's gradient apart):
  // what a network trained through another objective (an explainer's mask network) needs.
  vector logit_gradient(const matrix& inputs, const matrix& cotangent) const {
    check_logit_cotangent(inputs, cotangent);
    const trace t = forward(standardizer_.transform(inputs));
    return summed_gradient(t, backward(t, cotangent), 0.0);
  }

  // The exact Hessian of loss() times `direction`, by forward-mode differentiation (the
  // R-operator) of the backward pass; costs about two gradient evaluations.
  vector hessian_vector_product(const matrix& inputs, const vector& targets,
                                const vector& direction) const {
    check_training(inputs, targets);
    detail::require_size(direction.size(), parameter_count(), "mlp: direction");
    const matrix z = standardizer_.transform(inputs);
    const trace t = forward(z);
    return hvp(t, detail::apply_head(head_, t.post.back()), targets, direction);
  }

  // The exact p x p Hessian of loss(), one Hessian-vector product per column: O(p) passes.
  matrix hessian(const matrix& inputs, const vector& targets) const {
    check_training(inputs, targets);
    const trace t = forward(standardizer_.transform(inputs));
    const matrix prediction = detail::apply_head(head_, t.post.back());
    const index p = parameter_count();
    matrix h(p, p);
    vector unit = vector::Zero(p);
    for (index j = 0; j < p; ++j) {
      unit[j] = 1.0;
      h.col(j) = hvp(t, prediction, targets, unit);
      unit[j] = 0.0;
    }
    return h;
  }

  // Adam on minibatches from the current parameters; sets l2() to options.l2. Epoch e visits
  // the rows in the order of a shuffle drawn from rng::stream(options.seed, e), so the same
  // seed gives the same weights. Returns the full-data objective after each epoch.
  std::vector<double> train(const matrix& inputs, const vector& targets,
                            const adam_options& options = {}) {
    check_training(inputs, targets);
    detail::require(options.learning_rate > 0 && std::isfinite(options.learning_rate),
                    "mlp::train: learning_rate must be positive");
    detail::require(options.epochs >= 0, "mlp::train: epochs must be non-negative");
    detail::require(options.batch_size > 0, "mlp::train: batch_size must be positive");
    detail::require(options.beta1 >= 0 && options.beta1 < 1 && options.beta2 >= 0 &&
                        options.beta2 < 1 && options.epsilon > 0,
                    "mlp::train: expected 0 <= beta1, beta2 < 1 and epsilon > 0");
    set_l2(options.l2);
    const matrix z = standardizer_.transform(inputs);
    vector theta = parameters();
    basic_adamw<vector> adam({.beta1 = options.beta1, .beta2 = options.beta2, .epsilon = options.epsilon});
    std::vector<double> history;
    history.reserve(static_cast<std::size_t>(options.epochs));
    for_each_minibatch(
        z, targets, options.batch_size, options.epochs, options.seed,
        [&](const matrix& batch, const vector& batch_targets) {
          const vector g = gradient(batch, batch_targets);
          adam.next_step();
          adam.update(0, theta, g, options.learning_rate);
          set_parameters(theta);
        },
        [&](index epoch) {
          history.push_back(objective(z, targets));
          if (options.progress) options.progress(static_cast<std::size_t>(epoch + 1), static_cast<std::size_t>(options.epochs));
        });
    return history;
  }

 private:
  // Every layer's input (post[0] is the standardised input, post.back() the logits) and
  // pre-activation.
  struct trace {
    std::vector<matrix> post;
    std::vector<matrix> pre;
  };

  static std::vector<dense_layer> initial_layers(const std::vector<layer_shape>& shapes,
                                                 std::uint64_t seed) {
    rng gen(seed);
    std::vector<dense_layer> layers;
    for (std::size_t l = 0; l < shapes.size(); ++l) {
      const auto& s = shapes[l];
      detail::require(s.inputs > 0 && s.outputs > 0,
                      "mlp: layer " + std::to_string(l) + " needs positive inputs and outputs");
      dense_layer layer{matrix(s.outputs, s.inputs), vector::Zero(s.outputs), s.act};
      const bool he = s.act == activation::relu || s.act == activation::gelu;
      const double in = static_cast<double>(s.inputs);
      const double limit = std::sqrt(6.0 / (in + static_cast<double>(s.outputs)));
      for (index k = 0; k < layer.weight.size(); ++k)
        layer.weight.data()[k] =
            he ? gen.normal() * std::sqrt(2.0 / in) : (2.0 * gen.uniform() - 1.0) * limit;
      layers.push_back(std::move(layer));
    }
    return layers;
  }

  void check_training(const matrix& inputs, const vector& targets) const {
    detail::require_training_inputs(inputs, input_dim(), "mlp");
    detail::require_head_targets(head_, output_dim(), inputs, targets, "mlp");
  }

  void check_logit_cotangent(const matrix& inputs, const matrix& cotangent) const {
    detail::require_input_columns(inputs, input_dim(), "mlp");
    detail::require(cotangent.rows() == inputs.rows() && cotangent.cols() == output_dim(),
                    "mlp: logit cotangent is " + std::to_string(cotangent.rows()) + " x " +
                        std::to_string(cotangent.cols()) + ", expected " + std::to_string(inputs.rows()) +
                        " x " + std::to_string(output_dim()) + " (inputs x outputs)");
  }

  trace forward(const matrix& standardized) const {
    trace t;
    t.post.reserve(layers_.size() + 1);
    t.pre.reserve(layers_.size());
    t.post.push_back(standardized);
    for (std::size_t l = 0; l < layers_.size(); ++l) {
      const auto& layer = layers_[l];
      const matrix& in = t.post.back();
      matrix pre(in.rows(), layer.weight.rows()), post(in.rows(), layer.weight.rows());
      detail::dense_forward(in.data(), in.rows(), in.cols(), layer.weight, layer.bias, layer.act, packed_[l],
                            pre.data(), post.data());
      t.pre.push_back(std::move(pre));
      t.post.push_back(std::move(post));
    }
    return t;
  }

  // Row i: the parameter gradient of sum_c dlogits(i, c) logit_c(x_i), from the trace of a forward
  // pass; layer by layer, weights (row-major) then bias, in parameters() order.
  matrix logit_gradient_rows(const trace& t, const matrix& dlogits) const {
    const std::vector<matrix> e = backward(t, dlogits);
    matrix grads(dlogits.rows(), parameter_count());
    for (index i = 0; i < dlogits.rows(); ++i) {
      index at = 0;
      for (std::size_t l = 0; l < layers_.size(); ++l) {
        const index in = layers_[l].weight.cols();
        for (index o = 0; o < layers_[l].weight.rows(); ++o, at += in)
          grads.row(i).segment(at, in) = e[l](i, o) * t.post[l].row(i);
        grads.row(i).segment(at, e[l].cols()) = e[l].row(i);
        at += e[l].cols();
      }
    }
    return grads;
  }

  // The gradient with respect to every layer's pre-activation, given the gradient with respect
  // to the logits.
  std::vector<matrix> backward(const trace& t, const matrix& dlogits) const {
    std::vector<matrix> e(layers_.size());
    matrix delta = dlogits;
    for (std::size_t l = layers_.size(); l-- > 0;) {
      // tanh' = 1 - tanh^2 from the trace's post-activation (the same bits as tanh of pre, so
      // the same products as a fresh tanh, without its cost); identity's derivative is 1.
      switch (layers_[l].act) {
        case activation::identity: e[l] = delta; break;
        case activation::tanh: e[l] = delta.array() * (1.0 - t.post[l + 1].array().square()); break;
        default: e[l] = delta.cwiseProduct(activation_derivative(layers_[l].act, t.pre[l]));
      }
      if (l > 0) delta = e[l] * layers_[l].weight;
    }
    return e;
  }

  double objective(const matrix& standardized, const vector& targets) const {
    double penalty = 0.0;
    for (const auto& layer : layers_) penalty += layer.weight.squaredNorm();
    return detail::head_losses(head_, forward(standardized).post.back(), targets).mean() +
           0.5 * l2_ * penalty;
  }

  vector gradient(const matrix& standardized, const vector& targets) const {
    const trace t = forward(standardized);
    const double n = static_cast<double>(standardized.rows());
    const matrix residual =
        detail::head_loss_gradient(head_, detail::apply_head(head_, t.post.back()), targets) / n;
    return summed_gradient(t, backward(t, residual), l2_);
  }

  // The parameter gradient summed over the batch, in parameters() order, from the trace and the
  // pre-activation gradients e of a backward pass, plus l2 times the weights.
  vector summed_gradient(const trace& t, const std::vector<matrix>& e, double l2) const {
    vector g(parameter_count());
    index at = 0;
    for (std::size_t l = 0; l < layers_.size(); ++l) {
      const matrix dw = e[l].transpose() * t.post[l] + l2 * layers_[l].weight;
      g.segment(at, dw.size()) = Eigen::Map<const vector>(dw.data(), dw.size());
      at += dw.size();
      g.segment(at, e[l].cols()) = e[l].colwise().sum().transpose();
      at += e[l].cols();
    }
    return g;
  }

  // R-operator: R{.} is the directional derivative along the parameter direction V. The
  // forward pass gives R{pre} and R{post}; the backward pass is then differentiated, which
  // is where the activations' second derivatives enter.
  vector hvp(const trace& t, const matrix& prediction, const vector& targets,
             const vector& direction) const {
    const std::size_t layer_count = layers_.size();
    const double n = static_cast<double>(t.post.front().rows());
    std::vector<matrix> dir_weight(layer_count);
    std::vector<vector> dir_bias(layer_count);
    index at = 0;
    for (std::size_t l = 0; l < layer_count; ++l) {
      const matrix& w = layers_[l].weight;
      dir_weight[l] = Eigen::Map<const matrix>(direction.data() + at, w.rows(), w.cols());
      at += w.size();
      dir_bias[l] = direction.segment(at, w.rows());
      at += w.rows();
    }

    std::vector<matrix> r_post(layer_count + 1);
    std::vector<matrix> r_pre(layer_count);
    r_post[0] = matrix::Zero(t.post[0].rows(), t.post[0].cols());
    for (std::size_t l = 0; l < layer_count; ++l) {
      r_pre[l] = (r_post[l] * layers_[l].weight.transpose() + t.post[l] * dir_weight[l].transpose())
                     .rowwise() +
                 dir_bias[l].transpose();
      r_post[l + 1] = r_pre[l].cwiseProduct(activation_derivative(layers_[l].act, t.pre[l]));
    }

    matrix delta = detail::head_loss_gradient(head_, prediction, targets) / n;
    matrix r_delta = detail::head_jacobian_product(head_, prediction, r_post.back()) / n;
    vector hv(parameter_count());
    at = hv.size();
    for (std::size_t l = layer_count; l-- > 0;) {
      const matrix d1 = activation_derivative(layers_[l].act, t.pre[l]);
      const matrix e = delta.cwiseProduct(d1);
      matrix r_e = r_delta.cwiseProduct(d1);
      if (layers_[l].act != activation::identity && layers_[l].act != activation::relu)
        r_e +=
            delta.cwiseProduct(activation_second_derivative(layers_[l].act, t.pre[l])).cwiseProduct(r_pre[l]);
      const matrix r_dw =
          r_e.transpose() * t.post[l] + e.transpose() * r_post[l] + l2_ * dir_weight[l];
      at -= r_e.cols();
      hv.segment(at, r_e.cols()) = r_e.colwise().sum().transpose();
      at -= r_dw.size();
      hv.segment(at, r_dw.size()) = Eigen::Map<const vector>(r_dw.data(), r_dw.size());
      if (l > 0) {
        r_delta = r_e * layers_[l].weight + e * dir_weight[l];
        delta = e * layers_[l].weight;
      }
    }
    return hv;
  }

  // Each layer's weights packed for the tiled kernel (detail::pack_dense), rebuilt wherever the
  // weights change: the constructor and set_parameters, the only writers of layers_.
  void pack_layers() {
    packed_.resize(layers_.size());  // repacked in place: set_parameters runs once per training step
    for (std::size_t l = 0; l < layers_.size(); ++l)
      detail::pack_dense(layers_[l].weight, layers_[l].bias, packed_[l]);
  }

  std::vector<dense_layer> layers_;
  std::vector<detail::dense_packing> packed_;
  output_head head_;
  standardizer standardizer_;
  double l2_ = 0.0;
};

using mlp = basic_mlp<>;

static_assert(model<mlp>);

}  // namespace attrib
