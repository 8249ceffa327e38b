#pragma once
// A message-passing network for node regression with edge features (the seed's energy-barrier
// work, issue #16): each particle i reads its k nearest neighbours j through messages computed
// from the edge's features,
//   x_ij = [type_i (one-hot), type_j (one-hot), Gaussian basis of r_ij, direction (r_j - r_i) / r_ij]
//   m_ij = f(r_ij) (W2 tanh(W1 x_ij + b1) + b2),      a_i = sum over j of m_ij,
//   y_i  = v2 . tanh(V1 [a_i, type_i] + c1) + c2,
// with the smooth cutoff f(r) = (1 - (r / r_f)^2)^2 below r_f (0 beyond), as physical GNNs (SchNet,
// NequIP) bound their messages: a neighbour's message fades to nothing as it moves away, so a
// removed neighbour and a distant one look alike, which is what an explanation that removes
// neighbours assumes. Trained by Adam on the mean squared error of standardised targets. The forward and backward
// passes are written out for these two small MLPs: the backward pass sends dL/da_i to each of i's
// edges, which is the one step a per-row MLP cannot take. Summing the messages makes the model
// invariant to the order of the neighbours; the direction features let it use orientation, and
// an explanation shows whether it does.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/random.hpp"
#include "attrib/core/types.hpp"
#include "attrib/graph/particle_system.hpp"
#include "attrib/optimizers/adam.hpp"

namespace attrib {

struct edge_message_config {
  index basis = 8;          // Gaussians of the distance, centres evenly from 0.6 to 2.2
  index edge_hidden = 16;   // width of the message MLP's hidden layer
  index message = 8;        // width of a message
  index node_hidden = 16;   // width of the readout's hidden layer
  double envelope = 1.5;    // r_f: messages vanish from this distance on (the first minimum of g(r))
  std::uint64_t seed = 0;   // initial weights
};

struct edge_message_training {
  index epochs = 1500;          // full-batch Adam steps
  double learning_rate = 1e-2;
};

// One particle system with its neighbour lists and per-particle targets.
struct particle_graph {
  const particle_system* system = nullptr;
  const neighbour_lists* lists = nullptr;
  vector targets;  // one per particle (ignored by predict)
};

// A class template (always basic_edge_message_regressor<>, spelled edge_message_regressor) only so
// that its members compile where they are used, not in every file that includes attrib/graph.hpp.
template <class = void>
class basic_edge_message_regressor {
 public:
  // The edge features' column groups, each a player of edge_feature_game.
  enum class feature_group { neighbour_type = 0, distance = 1, direction = 2 };

  explicit basic_edge_message_regressor(const edge_message_config& c = {}) : config_(c) {
    detail::require(c.basis >= 1 && c.edge_hidden >= 1 && c.message >= 1 && c.node_hidden >= 1,
                    "edge_message_regressor: every width must be at least 1");
    detail::require(std::isfinite(c.envelope) && c.envelope > 0.0, "edge_message_regressor: the envelope must be positive");
    rng random(c.seed);
    const auto init = [&](index rows, index cols) {
      const double bound = std::sqrt(6.0 / static_cast<double>(rows + cols));  // Glorot uniform
      matrix w(rows, cols);
      for (index k = 0; k < w.size(); ++k) w.data()[k] = (2.0 * random.uniform() - 1.0) * bound;
      return w;
    };
    params_ = {init(c.edge_hidden, feature_count() - 1), matrix::Zero(c.edge_hidden, 1), init(c.message, c.edge_hidden),
               matrix::Zero(c.message, 1),           init(c.node_hidden, c.message + 2), matrix::Zero(c.node_hidden, 1),
               init(1, c.node_hidden),               matrix::Zero(1, 1)};
  }

  const edge_message_config& config() const { return config_; }
  // Columns of an edge's feature row: type_i (2), type_j (2), the distance basis, the direction
  // (3), and last the cutoff f(r), which scales the message rather than entering the MLP.
  index feature_count() const { return 4 + config_.basis + 3 + 1; }
  // The columns of a feature group in an edge's feature row.
  std::pair<index, index> columns(feature_group g) const {
    switch (g) {
      case feature_group::neighbour_type: return {2, 2};
      case feature_group::distance: return {4, config_.basis};  // the cutoff column moves with it (see below)
      case feature_group::direction: return {4 + config_.basis, 3};
    }
    return {0, 0};
  }

  // Particle i's k edge feature rows (k x feature_count), in its neighbour lists' order.
  matrix edge_features(const particle_system& s, const neighbour_lists& lists, index i) const {
    matrix x = matrix::Zero(lists.k, feature_count());
    const double width = 1.6 / static_cast<double>(std::max<index>(config_.basis - 1, 1));
    for (index m = 0; m < lists.k; ++m) {
      const Eigen::Vector3d& d = lists.displacement(i, m);
      const double r = d.norm();
      x(m, s.types[static_cast<std::size_t>(i)]) = 1.0;
      x(m, 2 + s.types[static_cast<std::size_t>(lists.of(i, m))]) = 1.0;
      for (index b = 0; b < config_.basis; ++b) {
        const double u = (r - (0.6 + width * static_cast<double>(b))) / width;
        x(m, 4 + b) = std::exp(-0.5 * u * u);
      }
      x.block(m, 4 + config_.basis, 1, 3) = (d / r).transpose();
      const double u = r < config_.envelope ? 1.0 - (r / config_.envelope) * (r / config_.envelope) : 0.0;
      x(m, feature_count() - 1) = u * u;
    }
    return x;
  }

  // The messages of edge feature rows (one row each).
  matrix messages(const matrix& features) const {
    const matrix h = hidden(features);
    return (((h * params_[2].transpose()).rowwise() + params_[3].col(0).transpose()).array().colwise() *
            features.col(feature_count() - 1).array())
        .matrix();
  }

  // The readout of one particle from its summed message (1 x message) and its type.
  double readout(const Eigen::Ref<const Eigen::RowVectorXd>& summed, int type) const {
    Eigen::RowVectorXd z(config_.message + 2);
    z << summed, Eigen::RowVectorXd::Zero(2);
    z(config_.message + type) = 1.0;
    const Eigen::RowVectorXd g = ((z * params_[4].transpose()) + params_[5].col(0).transpose()).array().tanh().matrix();
    return target_mean_ + target_scale_ * ((g * params_[6].transpose())(0, 0) + params_[7](0, 0));
  }

  // Predictions for every particle of a system.
  vector predict(const particle_system& s, const neighbour_lists& lists) const {
    const matrix x = stacked_features(s, lists);
    const matrix m = messages(x);
    vector y(s.size());
    for (index i = 0; i < s.size(); ++i)
      y(i) = readout(m.middleRows(i * lists.k, lists.k).colwise().sum(), s.types[static_cast<std::size_t>(i)]);
    return y;
  }

  // Mean of each edge feature over the training edges: what an absent feature group reads.
  const Eigen::RowVectorXd& feature_mean() const { return feature_mean_; }

  // Full-batch Adam on the mean squared error of the standardised targets. Returns the training
  // loss (in standardised units) after each epoch. Throws invalid_argument on an empty set,
  // targets of the wrong length or not finite, and options out of range.
  std::vector<double> fit(const std::vector<particle_graph>& data, const edge_message_training& o = {}) {
    detail::require(!data.empty(), "edge_message_regressor::fit: no particle systems given");
    detail::require(o.epochs >= 1 && o.learning_rate > 0.0 && std::isfinite(o.learning_rate),
                    "edge_message_regressor::fit: epochs must be >= 1 and the learning rate positive");
    std::vector<matrix> features;
    std::vector<vector> targets;
    std::vector<std::vector<int>> types;
    index nodes = 0, k = 0;
    for (const auto& d : data) {
      detail::require(d.system != nullptr && d.lists != nullptr, "edge_message_regressor::fit: a system without its neighbour lists");
      detail::require(d.targets.size() == d.system->size(),
                      "edge_message_regressor::fit: " + std::to_string(d.targets.size()) + " targets for " +
                          std::to_string(d.system->size()) + " particles");
      detail::require(d.targets.allFinite(), "edge_message_regressor::fit: a target is NaN or infinite");
      detail::require(k == 0 || d.lists->k == k, "edge_message_regressor::fit: systems with different neighbour counts");
      k = d.lists->k;
      features.push_back(stacked_features(*d.system, *d.lists));
      targets.push_back(d.targets);
      types.push_back(d.system->types);
      nodes += d.system->size();
    }
    // Standardise the targets; remember the features' means for the explanation games.
    double sum = 0.0, squares = 0.0;
    feature_mean_ = Eigen::RowVectorXd::Zero(feature_count());
    for (std::size_t s = 0; s < data.size(); ++s) {
      sum += targets[s].sum();
      squares += targets[s].squaredNorm();
      feature_mean_ += features[s].colwise().sum();
    }
    feature_mean_ /= static_cast<double>(nodes * k);
    target_mean_ = sum / static_cast<double>(nodes);
    target_scale_ = std::sqrt(std::max(squares / static_cast<double>(nodes) - target_mean_ * target_mean_, 1e-24));
    basic_adamw<matrix> adam(std::span<const matrix>(params_), std::vector<bool>(params_.size(), false));
    std::vector<matrix> gradients(params_.size());
    std::vector<double> history;
    for (index epoch = 0; epoch < o.epochs; ++epoch) {
      for (std::size_t p = 0; p < params_.size(); ++p) gradients[p] = matrix::Zero(params_[p].rows(), params_[p].cols());
      double loss = 0.0;
      for (std::size_t s = 0; s < data.size(); ++s)
        loss += accumulate_gradient(features[s], types[s], (targets[s].array() - target_mean_) / target_scale_, k,
                                    static_cast<double>(nodes), gradients);
      history.push_back(loss);
      adam.step(std::span<matrix>(params_), std::span<const matrix>(gradients), o.learning_rate);
    }
    return history;
  }

  // The training loss's gradient as one vector (parameter blocks in order), for checks.
  vector loss_gradient(const std::vector<particle_graph>& data) const {
    std::vector<matrix> gradients(params_.size());
    for (std::size_t p = 0; p < params_.size(); ++p) gradients[p] = matrix::Zero(params_[p].rows(), params_[p].cols());
    index nodes = 0;
    for (const auto& d : data) nodes += d.system->size();
    for (const auto& d : data)
      accumulate_gradient(stacked_features(*d.system, *d.lists), d.system->types, (d.targets.array() - target_mean_) / target_scale_,
                          d.lists->k, static_cast<double>(nodes), gradients);
    return flatten(gradients);
  }
  double loss(const std::vector<particle_graph>& data) const {
    double out = 0.0, nodes = 0.0;
    for (const auto& d : data) nodes += static_cast<double>(d.system->size());
    for (const auto& d : data) {
      const vector y = predict(*d.system, *d.lists);
      out += 0.5 * ((y - d.targets) / target_scale_).squaredNorm() / nodes;
    }
    return out;
  }
  vector parameters() const { return flatten(params_); }
  void set_parameters(const vector& theta) {
    index at = 0;
    for (auto& p : params_) {
      detail::require(at + p.size() <= theta.size(), "edge_message_regressor: too few parameters");
      p = Eigen::Map<const matrix>(theta.data() + at, p.rows(), p.cols());
      at += p.size();
    }
    detail::require(at == theta.size(), "edge_message_regressor: " + std::to_string(theta.size()) + " parameters, expected " +
                                            std::to_string(at));
  }

 private:
  matrix stacked_features(const particle_system& s, const neighbour_lists& lists) const {
    matrix x(s.size() * lists.k, feature_count());
    for (index i = 0; i < s.size(); ++i) x.middleRows(i * lists.k, lists.k) = edge_features(s, lists, i);
    return x;
  }
  matrix hidden(const matrix& features) const {
    return ((features.leftCols(feature_count() - 1) * params_[0].transpose()).rowwise() + params_[1].col(0).transpose()).array().tanh().matrix();
  }
  static vector flatten(const std::vector<matrix>& blocks) {
    index size = 0;
    for (const auto& b : blocks) size += b.size();
    vector out(size);
    index at = 0;
    for (const auto& b : blocks) {
      out.segment(at, b.size()) = Eigen::Map<const vector>(b.data(), b.size());
      at += b.size();
    }
    return out;
  }

  // Adds the gradient of sum_i (y_i - t_i)^2 / (2 nodes) over one system (standardised units)
  // and returns that part of the loss.
  double accumulate_gradient(const matrix& x, const std::vector<int>& types, const vector& t, index k, double nodes,
                             std::vector<matrix>& g) const {
    const index n = static_cast<index>(types.size()), width = config_.message;
    const matrix h = hidden(x);
    const matrix m = messages(x);
    matrix z = matrix::Zero(n, width + 2);
    for (index i = 0; i < n; ++i) {
      z.row(i).head(width) = m.middleRows(i * k, k).colwise().sum();
      z(i, width + types[static_cast<std::size_t>(i)]) = 1.0;
    }
    const matrix q = ((z * params_[4].transpose()).rowwise() + params_[5].col(0).transpose()).array().tanh().matrix();
    const vector y = (q * params_[6].transpose()).col(0).array() + params_[7](0, 0);
    const vector dy = (y - t) / nodes;
    g[6] += dy.transpose() * q;
    g[7](0, 0) += dy.sum();
    const matrix dp = ((dy * params_[6]).array() * (1.0 - q.array().square())).matrix();
    g[4] += dp.transpose() * z;
    g[5] += dp.colwise().sum().transpose();
    const matrix da = (dp * params_[4]).leftCols(width);
    matrix dm(n * k, width);  // dL/d(message before the cutoff)
    for (index i = 0; i < n; ++i) dm.middleRows(i * k, k) = da.row(i).replicate(k, 1);
    dm.array().colwise() *= x.col(feature_count() - 1).array();
    g[2] += dm.transpose() * h;
    g[3] += dm.colwise().sum().transpose();
    const matrix dq = ((dm * params_[2]).array() * (1.0 - h.array().square())).matrix();
    g[0] += dq.transpose() * x.leftCols(feature_count() - 1);
    g[1] += dq.colwise().sum().transpose();
    return 0.5 * (y - t).squaredNorm() / nodes;
  }

  edge_message_config config_;
  // W1, b1, W2, b2 (messages), V1, c1, v2, c2 (readout); biases as columns.
  std::vector<matrix> params_;
  Eigen::RowVectorXd feature_mean_;
  double target_mean_ = 0.0, target_scale_ = 1.0;
};

using edge_message_regressor = basic_edge_message_regressor<>;

}  // namespace attrib
