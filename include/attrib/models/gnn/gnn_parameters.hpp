#pragma once
// What the graph neural networks (gcn, gin) and the mask explainers share about their parameters:
// seeded Glorot initialisation, the Adam update (Kingma & Ba 2015), minibatch training on
// cross-entropy, and the text format of one block ("rows cols" or "size", then the entries at
// 17 digits: an exact round trip).
#include <algorithm>
#include <cmath>
#include <functional>
#include <cstddef>
#include <cstdint>
#include <istream>
#include <numeric>
#include <ostream>
#include <string>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/random.hpp"
#include "attrib/core/types.hpp"
#include "attrib/models/gnn/gnn_input.hpp"
#include "attrib/optimizers/adam.hpp"

namespace attrib {

// Uniform(-l, l) with l = sqrt(6 / (rows + cols)) (Glorot & Bengio 2010).
inline matrix glorot_uniform(index rows, index cols, rng& random) {
  const double limit = std::sqrt(6.0 / static_cast<double>(rows + cols));
  matrix w(rows, cols);
  for (index i = 0; i < w.size(); ++i) w.data()[i] = limit * (2.0 * random.uniform() - 1.0);
  return w;
}

// A model's parameters, or a gradient shaped like them: weight matrices, bias vectors and, for
// GIN, the per-layer epsilons (empty for GCN).
struct gnn_parameters {
  std::vector<matrix> weights;
  std::vector<vector> biases;
  vector epsilons;

  gnn_parameters zeros_like() const {
    gnn_parameters z;
    for (const auto& w : weights) z.weights.push_back(matrix::Zero(w.rows(), w.cols()));
    for (const auto& b : biases) z.biases.push_back(vector::Zero(b.size()));
    z.epsilons = vector::Zero(epsilons.size());
    return z;
  }
};

struct gnn_training {
  index epochs = 100;
  index batch_size = 32;
  double learning_rate = 0.005;
  double l2 = 0.0;  // weight decay added to the weight gradients (Adam, not AdamW)
  std::uint64_t seed = 0;
  // Called with (epochs done, epochs in all) after each epoch; may be empty.
  std::function<void(std::size_t, std::size_t)> progress = {};
};

namespace detail {

// Adam on mean cross-entropy over seeded minibatches; returns the last epoch's mean loss.
// Model: parameters() (mutable gnn_parameters&), classes(), learns_epsilons(), and
// accumulate_gradient(input, label, gnn_parameters&) adding one graph's gradient, returning its loss.
template <class Model>
double train_graph_classifier(Model& model, const std::vector<gcn_input>& inputs, const std::vector<int>& labels,
                              const gnn_training& options, const std::string& who) {
  require(inputs.size() == labels.size() && !inputs.empty(), who + "::train: inputs and labels must be non-empty and of equal length");
  require(options.epochs >= 0 && options.batch_size >= 1 && std::isfinite(options.l2) && options.l2 >= 0.0,
          who + "::train: need epochs >= 0, batch_size >= 1 and l2 >= 0");
  for (int y : labels)
    require(y >= 0 && y < model.classes(),
            who + "::train: label " + std::to_string(y) + " outside 0.." + std::to_string(model.classes() - 1));
  gnn_parameters& theta = model.parameters();
  detail::require(options.learning_rate > 0.0 && std::isfinite(options.learning_rate),
                  who + "::train: learning_rate must be positive and finite, got " + std::to_string(options.learning_rate));
  basic_adamw<matrix> adam;
  std::vector<std::size_t> order(inputs.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  rng random = rng::stream(options.seed, 0x7a);
  const auto batch = static_cast<std::size_t>(options.batch_size);
  double epoch_loss = 0.0;
  for (index epoch = 0; epoch < options.epochs; ++epoch) {
    random.shuffle(order.begin(), order.end());
    epoch_loss = 0.0;
    for (std::size_t start = 0; start < order.size(); start += batch) {
      const std::size_t end = std::min(order.size(), start + batch);
      gnn_parameters g = theta.zeros_like();
      for (std::size_t k = start; k < end; ++k) epoch_loss += model.accumulate_gradient(inputs[order[k]], labels[order[k]], g);
      const double scale = 1.0 / static_cast<double>(end - start);
      adam.next_step();
      std::size_t slot = 0;
      for (std::size_t p = 0; p < theta.weights.size(); ++p)
        adam.update(slot++, theta.weights[p], g.weights[p] * scale + options.l2 * theta.weights[p], options.learning_rate);
      for (std::size_t p = 0; p < theta.biases.size(); ++p)
        adam.update(slot++, theta.biases[p], g.biases[p] * scale, options.learning_rate);
      if (model.learns_epsilons() && theta.epsilons.size() > 0)
        adam.update(slot, theta.epsilons, g.epsilons * scale, options.learning_rate);
    }
    epoch_loss /= static_cast<double>(inputs.size());
    if (options.progress) options.progress(static_cast<std::size_t>(epoch + 1), static_cast<std::size_t>(options.epochs));
  }
  return epoch_loss;
}

// A GNN classifier's shape: at least one input feature, hidden unit and layer, two classes.
template <class Config>
void require_gnn_shape(const Config& c, const char* name) {
  require(c.inputs >= 1 && c.hidden >= 1 && c.layers >= 1 && c.classes >= 2,
          std::string(name) + ": need inputs, hidden, layers >= 1 and classes >= 2 (got " +
              std::to_string(c.inputs) + ", " + std::to_string(c.hidden) + ", " +
              std::to_string(c.layers) + ", " + std::to_string(c.classes) + ")");
}

// Into `out` (its buffer reused when the size matches): for callers that take one row at a time.
inline void softmax_probabilities(const vector& logits, vector& out) {
  out = (logits.array() - logits.maxCoeff()).exp();
  out /= out.sum();
}

inline vector softmax_probabilities(const vector& logits) {
  vector out;
  softmax_probabilities(logits, out);
  return out;
}

inline void write_block(std::ostream& out, const matrix& m) {
  out << m.rows() << ' ' << m.cols();
  for (index k = 0; k < m.size(); ++k) out << ' ' << m.data()[k];
  out << '\n';
}
inline void write_block(std::ostream& out, const vector& v) {
  out << v.size();
  for (index k = 0; k < v.size(); ++k) out << ' ' << v(k);
  out << '\n';
}

// Before a loader allocates the `parameters` its configuration line declares: each is at least
// two characters in the text format (a digit and a separator), so at least twice as many bytes
// must follow in the stream - a 34-byte header cannot make the loader allocate gigabytes. A
// stream that cannot seek gets a fixed limit of 10^8 parameters.
inline void require_stored_parameters(std::istream& in, double parameters, const std::string& who) {
  const auto here = in.tellg();
  if (here != std::istream::pos_type(-1)) {
    in.seekg(0, std::ios::end);
    const auto end = in.tellg();
    in.seekg(here);
    if (end != std::istream::pos_type(-1) && in) {
      const double left = static_cast<double>(end - here);
      if (2.0 * parameters > left)
        throw format_error(who + ": the configuration line declares " +
                           std::to_string(static_cast<long long>(std::min(parameters, 9e18))) +
                           " parameters, but only " + std::to_string(static_cast<long long>(left)) +
                           " bytes follow it (truncated file or corrupt configuration)");
      return;
    }
    in.clear();
  }
  if (parameters > 1e8)
    throw format_error(who + ": the configuration line declares more than 10^8 parameters; read such a model from a file");
}

// Reads a block whose shape the configuration already fixed; `what` names it in errors.
inline void read_block(std::istream& in, matrix& m, const std::string& what) {
  index rows = 0, cols = 0;
  if (!(in >> rows >> cols) || rows != m.rows() || cols != m.cols())
    throw format_error(what + " has the wrong shape (expected " + std::to_string(m.rows()) + " x " +
                       std::to_string(m.cols()) + ")");
  for (index k = 0; k < m.size(); ++k)
    if (!(in >> m.data()[k]) || !std::isfinite(m.data()[k])) throw format_error(what + " is truncated or not finite");
}
inline void read_block(std::istream& in, vector& v, const std::string& what) {
  index size = 0;
  if (!(in >> size) || size != v.size())
    throw format_error(what + " has the wrong size (expected " + std::to_string(v.size()) + ")");
  for (index k = 0; k < size; ++k)
    if (!(in >> v(k)) || !std::isfinite(v(k))) throw format_error(what + " is truncated or not finite");
}

}  // namespace detail

}  // namespace attrib
