#pragma once
// L2X (Chen, Song, Wainwright and Jordan, ICML 2018, "Learning to Explain"): one explainer
// network, trained once, maps an input x to the k features that best preserve the model's
// prediction, so explaining a batch of new inputs is a single forward pass (amortisation).
//
// The explainer E (an MLP with ReLU hidden layers, d -> ... -> d) gives selector logits s = E(x).
// Training relaxes "pick k features" with the concrete (Gumbel-softmax) distribution: for
// j = 1..k, c_j = softmax((s + g_j) / tau) with Gumbel noise g_j, and the mask is their
// element-wise maximum m = max_j c_j. The model sees the selected features and the baseline
// elsewhere, x~ = m * x + (1 - m) * b (the masking perturbation's map at one reference input),
// and Adam minimises over minibatches the mean of
//   cross_entropy:  -sum_c f_c(x) log f_c(x~)      (one output: the Bernoulli form with p = f(x))
//   squared_error:  |f(x~) - f(x)|^2.
// This is L2X's variational objective with the approximator q taken to be the model itself
// (the "model given" case, which is what attrib explains); L2X proper learns a second network q
// from the model's predictions because it treats the model as a black box. Here the gradient
// flows through the model's input vector-Jacobian product, so the model must provide
// vjp_inputs. At explanation time there is no noise: the k features of largest selector logit.
//
// Not a local approximation over a game: one network is fitted over a whole data set rather than
// a surrogate per instance; its parts are the library's (Adam, seeded streams, the masking map).
#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "attrib/concepts/differentiable_model.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/random.hpp"
#include "attrib/core/types.hpp"
#include "attrib/core/validate.hpp"
#include "attrib/optimizers/adam.hpp"

namespace attrib {

enum class l2x_loss { cross_entropy, squared_error };

// The explanation of a batch: one row per input.
struct l2x_explanation {
  matrix scores;  // selector logits s = E(x); larger means more likely selected
  matrix mask;    // 1 on the k selected features of each row, 0 elsewhere
  Eigen::Matrix<index, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> selected;  // rows x k, by falling score
};

// Shaped like the explainer's parameters.
struct l2x_gradient {
  std::vector<matrix> weights;
  std::vector<vector> biases;
};

namespace detail {

// Everything one minibatch of `rows` rows needs, allocated once so that the training loop does
// not allocate (the model's predict and vjp_inputs return fresh matrices: that is the model
// concept's interface).
struct l2x_workspace {
  std::vector<matrix> pre;         // hidden pre-activations, one per hidden layer
  std::vector<matrix> act;         // act[0] = x, act[l + 1] = relu(pre[l])
  matrix scores;                   // s
  std::vector<matrix> relaxed;     // c_j, j = 1..k
  matrix mask;                     // m = max_j c_j
  Eigen::Matrix<int, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> winner;  // argmax_j
  matrix mixed;                    // x~
  matrix doutput;                  // dL / d f(x~)
  matrix dscores;                  // dL / ds
  std::vector<matrix> dpre;        // dL / d pre[l]
  l2x_gradient gradient;
};

}  // namespace detail

// A class template (always basic_l2x_explainer<matrix>, spelled `l2x_explainer`) only so that its
// forward and backward passes compile where an explainer is used, not in every program that includes
// the umbrella header (docs/performance.md).
template <class Matrix = matrix>
class basic_l2x_explainer {
 public:
  basic_l2x_explainer() = default;
  // A Glorot-initialised explainer for `features` inputs with the given hidden widths.
  basic_l2x_explainer(index features, index k, double temperature, const std::vector<index>& hidden, l2x_loss loss,
                      std::uint64_t seed)
      : features_(features), k_(k), temperature_(temperature), loss_(loss) {
    check_settings(features, k, temperature, hidden, "l2x");
    rng random = rng::stream(seed, 0x12c);
    index fan_in = features;
    std::vector<index> widths = hidden;
    widths.push_back(features);
    for (const index width : widths) {
      const double limit = std::sqrt(6.0 / static_cast<double>(fan_in + width));
      matrix w(fan_in, width);
      for (index i = 0; i < w.size(); ++i) w.data()[i] = limit * (2.0 * random.uniform() - 1.0);
      weights_.push_back(std::move(w));
      biases_.push_back(vector::Zero(width));
      fan_in = width;
    }
  }

  index features() const { return features_; }
  index k() const { return k_; }
  double temperature() const { return temperature_; }
  l2x_loss loss_kind() const { return loss_; }
  // Layer l maps act_l to act_{l+1} = relu(act_l W_l + b_l) (no ReLU on the last, the selector logits).
  const std::vector<matrix>& weights() const { return weights_; }
  const std::vector<vector>& biases() const { return biases_; }
  std::vector<matrix>& weights() { return weights_; }
  std::vector<vector>& biases() { return biases_; }

  // Selector logits of every row of x, in one forward pass.
  matrix scores(const matrix& x) const {
    check_batch(x, "l2x_explainer::scores");
    detail::l2x_workspace w = workspace(x.rows(), 0);
    forward_network(x, w);
    return w.scores;
  }

  // The k features of largest selector logit in each row (ties to the lower index).
  l2x_explanation explain(const matrix& x) const {
    l2x_explanation e;
    e.scores = scores(x);
    e.mask = matrix::Zero(x.rows(), features_);
    e.selected.resize(x.rows(), k_);
    std::vector<index> order(static_cast<std::size_t>(features_));
    for (index r = 0; r < x.rows(); ++r) {
      std::iota(order.begin(), order.end(), index{0});
      std::stable_sort(order.begin(), order.end(), [&](index a, index b) { return e.scores(r, a) > e.scores(r, b); });
      for (index j = 0; j < k_; ++j) {
        e.selected(r, j) = order[static_cast<std::size_t>(j)];
        e.mask(r, order[static_cast<std::size_t>(j)]) = 1.0;
      }
    }
    return e;
  }

  // The relaxed objective on a batch for fixed Gumbel noise (k matrices shaped like x), with
  // targets = model.predict(x); adds nothing and returns the loss when gradient is null, else
  // overwrites *gradient with dL/d parameters.
  template <input_differentiable_model Model>
  double loss_and_gradient(const Model& model, const matrix& x, const matrix& targets, const vector& baseline,
                           std::span<const matrix> gumbel, l2x_gradient* gradient) const {
    check_batch(x, "l2x_explainer::loss_and_gradient");
    detail::require(baseline.size() == features_, "l2x_explainer::loss_and_gradient: baseline has " +
                                                      std::to_string(baseline.size()) + " entries, expected " +
                                                      std::to_string(features_));
    detail::require(targets.rows() == x.rows() && targets.cols() == model.output_dim(),
                    "l2x_explainer::loss_and_gradient: targets must be " + std::to_string(x.rows()) + " x " +
                        std::to_string(model.output_dim()) + " (model.predict(x))");
    detail::require(static_cast<index>(gumbel.size()) == k_,
                    "l2x_explainer::loss_and_gradient: " + std::to_string(gumbel.size()) +
                        " Gumbel noise matrices, expected k = " + std::to_string(k_));
    for (const matrix& g : gumbel)
      detail::require(g.rows() == x.rows() && g.cols() == features_,
                      "l2x_explainer::loss_and_gradient: each Gumbel noise matrix must be shaped like x");
    detail::l2x_workspace w = workspace(x.rows(), k_);
    for (index j = 0; j < k_; ++j) w.relaxed[static_cast<std::size_t>(j)] = gumbel[static_cast<std::size_t>(j)];
    const double value = step(model, x, targets, baseline, w, gradient != nullptr);
    if (gradient) *gradient = w.gradient;
    return value;
  }

 private:
  friend struct l2x;

  static void check_settings(index features, index k, double temperature, const std::vector<index>& hidden,
                             const std::string& who) {
    detail::require(features >= 1, who + ": need at least one feature, got " + std::to_string(features));
    detail::require(k >= 1 && k <= features, who + ": k must lie in 1.." + std::to_string(features) +
                                                 " (the number of features), got " + std::to_string(k));
    detail::require(std::isfinite(temperature) && temperature > 0.0,
                    who + ": temperature must be positive and finite, got " + std::to_string(temperature));
    for (const index width : hidden)
      detail::require(width >= 1 && width <= 1'000'000,
                      who + ": hidden widths must lie in 1..10^6, got " + std::to_string(width));
  }

  void check_batch(const matrix& x, const std::string& who) const {
    detail::require(features_ >= 1, who + ": the explainer has not been built (default-constructed)");
    detail::require(x.cols() == features_, who + ": x has " + std::to_string(x.cols()) +
                                               " columns, the explainer expects " + std::to_string(features_));
    detail::require_finite(x, who + ": x");
  }

  detail::l2x_workspace workspace(index rows, index draws) const {
    detail::l2x_workspace w;
    const std::size_t hidden = weights_.size() - 1;
    w.act.push_back(matrix(rows, features_));
    for (std::size_t l = 0; l < hidden; ++l) {
      w.pre.push_back(matrix(rows, weights_[l].cols()));
      w.dpre.push_back(matrix(rows, weights_[l].cols()));
      w.act.push_back(matrix(rows, weights_[l].cols()));
    }
    w.scores.resize(rows, features_);
    w.relaxed.assign(static_cast<std::size_t>(draws), matrix(rows, features_));
    w.mask.resize(rows, features_);
    w.winner.resize(rows, features_);
    w.mixed.resize(rows, features_);
    w.dscores.resize(rows, features_);
    for (std::size_t l = 0; l <= hidden; ++l) {
      w.gradient.weights.push_back(matrix(weights_[l].rows(), weights_[l].cols()));
      w.gradient.biases.push_back(vector(biases_[l].size()));
    }
    return w;
  }

  void forward_network(const matrix& x, detail::l2x_workspace& w) const {
    const std::size_t hidden = weights_.size() - 1;
    w.act[0] = x;
    for (std::size_t l = 0; l < hidden; ++l) {
      w.pre[l].noalias() = w.act[l] * weights_[l];
      w.pre[l].rowwise() += biases_[l].transpose();
      w.act[l + 1] = w.pre[l].cwiseMax(0.0);
    }
    w.scores.noalias() = w.act[hidden] * weights_[hidden];
    w.scores.rowwise() += biases_[hidden].transpose();
  }

  // One evaluation of the relaxed objective; w.relaxed holds the Gumbel noise on entry and c_j
  // after. Writes w.gradient when `backward`.
  template <class Model>
  double step(const Model& model, const matrix& x, const matrix& targets, const vector& baseline,
              detail::l2x_workspace& w, bool backward) const {
    forward_network(x, w);
    const index rows = x.rows(), d = features_;
    const double inv_tau = 1.0 / temperature_;
    for (index j = 0; j < k_; ++j) {
      matrix& c = w.relaxed[static_cast<std::size_t>(j)];
      for (index r = 0; r < rows; ++r) {
        double top = -std::numeric_limits<double>::infinity();
        for (index f = 0; f < d; ++f) {
          c(r, f) = (w.scores(r, f) + c(r, f)) * inv_tau;
          top = std::max(top, c(r, f));
        }
        double total = 0.0;
        for (index f = 0; f < d; ++f) total += (c(r, f) = std::exp(c(r, f) - top));
        for (index f = 0; f < d; ++f) c(r, f) /= total;
      }
    }
    for (index r = 0; r < rows; ++r)
      for (index f = 0; f < d; ++f) {
        int best = 0;
        for (index j = 1; j < k_; ++j)
          if (w.relaxed[static_cast<std::size_t>(j)](r, f) > w.relaxed[static_cast<std::size_t>(best)](r, f))
            best = static_cast<int>(j);
        w.winner(r, f) = best;
        const double m = w.mask(r, f) = w.relaxed[static_cast<std::size_t>(best)](r, f);
        w.mixed(r, f) = m * x(r, f) + (1.0 - m) * baseline(f);  // (1 - t) b + t x, as masking maps it
      }
    const matrix output = model.predict(w.mixed);
    detail::require(output.rows() == rows && output.cols() == targets.cols(),
                    "l2x: the model returned a " + std::to_string(output.rows()) + " x " +
                        std::to_string(output.cols()) + " prediction, expected " + std::to_string(rows) + " x " +
                        std::to_string(targets.cols()));
    const double loss = objective(output, targets, w.doutput);
    if (!backward) return loss;
    const matrix dmixed = model.vjp_inputs(w.mixed, w.doutput);
    // dL/dm = dL/dx~ (x - b); each entry flows to the draw whose c_j won the maximum; through
    // softmax((s + g) / tau): dz = c (dc - <dc, c>) / tau, summed over the draws into ds.
    w.dscores.setZero();
    for (index j = 0; j < k_; ++j) {
      const matrix& c = w.relaxed[static_cast<std::size_t>(j)];
      for (index r = 0; r < rows; ++r) {
        double inner = 0.0;
        for (index f = 0; f < d; ++f)
          if (w.winner(r, f) == j) inner += dmixed(r, f) * (x(r, f) - baseline(f)) * c(r, f);
        for (index f = 0; f < d; ++f) {
          const double dc = w.winner(r, f) == j ? dmixed(r, f) * (x(r, f) - baseline(f)) : 0.0;
          w.dscores(r, f) += c(r, f) * (dc - inner) * inv_tau;
        }
      }
    }
    const std::size_t hidden = weights_.size() - 1;
    w.gradient.weights[hidden].noalias() = w.act[hidden].transpose() * w.dscores;
    w.gradient.biases[hidden].noalias() = w.dscores.colwise().sum().transpose();
    const matrix* upstream = &w.dscores;
    for (std::size_t l = hidden; l-- > 0;) {
      matrix& dact = w.dpre[l];
      dact.noalias() = *upstream * weights_[l + 1].transpose();
      dact.array() *= (w.pre[l].array() > 0.0).cast<double>();
      w.gradient.weights[l].noalias() = w.act[l].transpose() * dact;
      w.gradient.biases[l].noalias() = dact.colwise().sum().transpose();
      upstream = &dact;
    }
    return loss;
  }

  // Mean over rows of the loss; writes dL/d output.
  double objective(const matrix& output, const matrix& targets, matrix& doutput) const {
    constexpr double tiny = 1e-12;  // keeps log finite at a saturated prediction
    const index rows = output.rows(), outputs = output.cols();
    const double scale = 1.0 / static_cast<double>(rows);
    doutput.resize(rows, outputs);
    double total = 0.0;
    for (index r = 0; r < rows; ++r)
      for (index o = 0; o < outputs; ++o) {
        const double y = output(r, o), t = targets(r, o);
        if (loss_ == l2x_loss::squared_error) {
          total += (y - t) * (y - t);
          doutput(r, o) = 2.0 * (y - t) * scale;
        } else if (outputs == 1) {  // Bernoulli: p = P(class 1)
          const double yc = std::clamp(y, tiny, 1.0 - tiny);
          total -= t * std::log(yc) + (1.0 - t) * std::log(1.0 - yc);
          doutput(r, o) = (-t / yc + (1.0 - t) / (1.0 - yc)) * scale;
        } else {
          const double yc = std::max(y, tiny);
          total -= t * std::log(yc);
          doutput(r, o) = -t / yc * scale;
        }
      }
    return total * scale;
  }

  index features_ = 0;
  index k_ = 1;
  double temperature_ = 1.0;
  l2x_loss loss_ = l2x_loss::cross_entropy;
  std::vector<matrix> weights_;
  std::vector<vector> biases_;
};

using l2x_explainer = basic_l2x_explainer<>;

// The training recipe. L2X's synthetic experiments use two hidden layers of 100 units, tau = 0.1
// and Adam at 1e-3.
struct l2x {
  index k = 1;                           // features selected per input
  double temperature = 0.1;              // tau of the concrete relaxation
  std::vector<index> hidden = {100, 100};
  l2x_loss loss = l2x_loss::cross_entropy;
  index epochs = 20;
  index batch_size = 64;                 // rows per Adam step; the last rows of an epoch that do not
                                         // fill a batch wait for the next shuffle
  double learning_rate = 1e-3;

  // Trains an explainer of `model` on the rows of `inputs`, absent features replaced by
  // `baseline`. Seeded: the same seed gives the same explainer, bit for bit.
  template <input_differentiable_model Model>
  l2x_explainer fit(const Model& model, const matrix& inputs, const vector& baseline, std::uint64_t seed = 0) const {
    const index d = model.input_dim();
    l2x_explainer::check_settings(d, k, temperature, hidden, "l2x");
    detail::require(epochs >= 0 && batch_size >= 1 && std::isfinite(learning_rate) && learning_rate > 0.0,
                    "l2x: need epochs >= 0, batch_size >= 1 and a positive finite learning_rate");
    detail::require(inputs.rows() >= 1, "l2x: inputs has no rows; expected at least one training input");
    detail::require(inputs.cols() == d, "l2x: inputs have " + std::to_string(inputs.cols()) +
                                            " columns, the model expects " + std::to_string(d));
    detail::require(baseline.size() == d, "l2x: baseline has " + std::to_string(baseline.size()) +
                                              " entries, expected " + std::to_string(d));
    detail::require_finite(inputs, "l2x: inputs");
    detail::require_finite(baseline, "l2x: baseline");
    const matrix targets = model.predict(inputs);
    detail::require(targets.rows() == inputs.rows() && targets.cols() == model.output_dim(),
                    "l2x: the model's prediction on inputs has the wrong shape");
    detail::require_finite(targets, "l2x: the model's prediction on inputs");
    if (loss == l2x_loss::cross_entropy)
      for (index r = 0; r < targets.rows(); ++r) {
        const bool in_unit = (targets.row(r).array() >= 0.0).all() && (targets.row(r).array() <= 1.0).all();
        detail::require(in_unit && (targets.cols() == 1 || std::abs(targets.row(r).sum() - 1.0) < 1e-6),
                        "l2x: cross_entropy needs the model's outputs to be probabilities (one column in [0, 1], "
                        "or rows summing to 1); row " + std::to_string(r) + " is not; use l2x_loss::squared_error");
      }
    l2x_explainer e(d, k, temperature, hidden, loss, seed);
    const index n = inputs.rows(), rows = std::min(batch_size, n);
    detail::l2x_workspace w = e.workspace(rows, k);
    matrix batch(rows, d), batch_targets(rows, targets.cols());
    std::vector<index> order(static_cast<std::size_t>(n));
    std::iota(order.begin(), order.end(), index{0});
    rng shuffle = rng::stream(seed, 0x12d), noise = rng::stream(seed, 0x12e);
    basic_adamw<matrix> adam;
    for (index epoch = 0; epoch < epochs; ++epoch) {
      shuffle.shuffle(order.begin(), order.end());
      for (index start = 0; start + rows <= n; start += rows) {
        for (index r = 0; r < rows; ++r) {
          batch.row(r) = inputs.row(order[static_cast<std::size_t>(start + r)]);
          batch_targets.row(r) = targets.row(order[static_cast<std::size_t>(start + r)]);
        }
        for (matrix& g : w.relaxed)
          for (index i = 0; i < g.size(); ++i) g.data()[i] = gumbel(noise);
        e.step(model, batch, batch_targets, baseline, w, true);
        adam.next_step();
        for (std::size_t l = 0; l < e.weights_.size(); ++l) {
          adam.update(2 * l, e.weights_[l], w.gradient.weights[l], learning_rate);
          adam.update(2 * l + 1, e.biases_[l], w.gradient.biases[l], learning_rate);
        }
      }
    }
    return e;
  }

  // A standard Gumbel draw -log(-log u), u in (0, 1) strictly.
  static double gumbel(rng& random) {
    const double u = random.uniform() + 0x1.0p-54;
    return -std::log(-std::log(u));
  }
};

}  // namespace attrib
