#pragma once
// gcn: a small graph convolutional network for graph classification (Kipf & Welling 2017):
//   H_l = relu(Â H_{l-1} W_l + b_l),  Â = D^{-1/2} (A + I) D^{-1/2},
// mean pooling over the nodes, a linear layer and softmax. Forward passes take a node mask:
// absent nodes and their edges are dropped ("remove" masking, as GStarX's subgraph building),
// so Â is renormalised over the kept subgraph. Trained by Adam on cross-entropy, seeded. Dense
// Â per graph: meant for molecule-sized graphs (tens of nodes).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iomanip>
#include <istream>
#include <ostream>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/random.hpp"
#include "attrib/core/types.hpp"
#include "attrib/graph/graph.hpp"

namespace attrib {

// A graph as the model sees it: dense weighted adjacency (no self-loops) and node features.
struct gcn_input {
  matrix adjacency;
  matrix features;
  index node_count() const { return features.rows(); }
};

inline gcn_input make_gcn_input(const graph& g) {
  gcn_input in;
  in.features = feature_matrix(g);
  const index n = node_count(g);
  in.adjacency = matrix::Zero(n, n);
  for (auto [e, end] = boost::edges(g); e != end; ++e) {
    const auto u = static_cast<index>(boost::source(*e, g)), v = static_cast<index>(boost::target(*e, g));
    if (u == v) continue;
    in.adjacency(u, v) = in.adjacency(v, u) = g[*e].weight;
  }
  return in;
}

enum class gcn_readout { mean, max, sum };

// normalized: Kipf & Welling's D^{-1/2}(A + I)D^{-1/2}. sum: A + I, the sum aggregation of GIN-0
// (Xu et al. 2019) but with one-layer MLPs and no batch norm, so not full GIN.
enum class gcn_aggregation { normalized, sum };

struct gcn_config {
  gcn_readout readout = gcn_readout::mean;  // graph pooling over the kept nodes
  gcn_aggregation aggregation = gcn_aggregation::normalized;
  index inputs = 1;
  index hidden = 32;
  index layers = 3;
  index classes = 2;
};

struct gcn_training {
  index epochs = 100;
  index batch_size = 32;
  double learning_rate = 0.005;
  double l2 = 0.0;  // weight decay added to the gradient (Adam, not AdamW)
  std::uint64_t seed = 0;
};

class gcn {
 public:
  gcn() = default;
  explicit gcn(const gcn_config& config, std::uint64_t seed = 0) : config_(config) {
    detail::require(config.inputs >= 1 && config.hidden >= 1 && config.layers >= 1 && config.classes >= 2,
                    "gcn: need inputs, hidden, layers >= 1 and classes >= 2");
    rng random = rng::stream(seed, 0x6c);
    auto glorot = [&](index rows, index cols) {
      const double limit = std::sqrt(6.0 / static_cast<double>(rows + cols));
      matrix w(rows, cols);
      for (index i = 0; i < w.size(); ++i) w.data()[i] = limit * (2.0 * random.uniform() - 1.0);
      return w;
    };
    for (index l = 0; l < config.layers; ++l) {
      weights_.push_back(glorot(l == 0 ? config.inputs : config.hidden, config.hidden));
      biases_.push_back(vector::Zero(config.hidden));
    }
    weights_.push_back(glorot(config.hidden, config.classes));
    biases_.push_back(vector::Zero(config.classes));
  }

  const gcn_config& config() const { return config_; }

  // Class probabilities of the subgraph induced by the nodes with keep(i) > 0.5.
  vector probabilities(const gcn_input& in, const vector& keep) const { return softmax(forward(in, keep, nullptr)); }
  vector probabilities(const gcn_input& in) const { return probabilities(in, vector::Ones(in.node_count())); }
  vector probabilities(const gcn_input& in, std::uint64_t mask) const {
    vector keep(in.node_count());
    for (index i = 0; i < keep.size(); ++i) keep(i) = static_cast<double>((mask >> i) & 1u);
    return probabilities(in, keep);
  }
  index predict(const gcn_input& in) const {
    index c = 0;
    probabilities(in).maxCoeff(&c);
    return c;
  }

  // Adam on mean cross-entropy over minibatches; returns the final epoch's mean loss.
  double train(const std::vector<gcn_input>& inputs, const std::vector<int>& labels, const gcn_training& options) {
    detail::require(inputs.size() == labels.size() && !inputs.empty(),
                    "gcn::train: inputs and labels must be non-empty and of equal length");
    for (int y : labels)
      detail::require(y >= 0 && y < config_.classes, "gcn::train: label " + std::to_string(y) + " outside 0.." +
                                                         std::to_string(config_.classes - 1));
    const std::size_t params = weights_.size();
    std::vector<matrix> mw(params), vw(params), gw(params);
    std::vector<vector> mb(params), vb(params), gb(params);
    for (std::size_t p = 0; p < params; ++p) {
      mw[p] = vw[p] = matrix::Zero(weights_[p].rows(), weights_[p].cols());
      mb[p] = vb[p] = vector::Zero(biases_[p].size());
    }
    const double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
    std::vector<std::size_t> order(inputs.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    rng random = rng::stream(options.seed, 0x7a);
    std::size_t step = 0;
    double epoch_loss = 0.0;
    for (index epoch = 0; epoch < options.epochs; ++epoch) {
      random.shuffle(order.begin(), order.end());
      epoch_loss = 0.0;
      for (std::size_t start = 0; start < order.size(); start += static_cast<std::size_t>(options.batch_size)) {
        const std::size_t end = std::min(order.size(), start + static_cast<std::size_t>(options.batch_size));
        for (std::size_t p = 0; p < params; ++p) {
          gw[p] = matrix::Zero(weights_[p].rows(), weights_[p].cols());
          gb[p] = vector::Zero(biases_[p].size());
        }
        for (std::size_t k = start; k < end; ++k)
          epoch_loss += accumulate_gradient(inputs[order[k]], labels[order[k]], gw, gb);
        const double scale = 1.0 / static_cast<double>(end - start);
        ++step;
        const double c1 = 1.0 - std::pow(beta1, static_cast<double>(step));
        const double c2 = 1.0 - std::pow(beta2, static_cast<double>(step));
        for (std::size_t p = 0; p < params; ++p) {
          const matrix g = gw[p] * scale + options.l2 * weights_[p];
          mw[p] = beta1 * mw[p] + (1 - beta1) * g;
          vw[p] = beta2 * vw[p] + (1 - beta2) * g.cwiseProduct(g);
          weights_[p].array() -= options.learning_rate * (mw[p].array() / c1) / ((vw[p].array() / c2).sqrt() + eps);
          const vector h = gb[p] * scale;
          mb[p] = beta1 * mb[p] + (1 - beta1) * h;
          vb[p] = beta2 * vb[p] + (1 - beta2) * h.cwiseProduct(h);
          biases_[p].array() -= options.learning_rate * (mb[p].array() / c1) / ((vb[p].array() / c2).sqrt() + eps);
        }
      }
      epoch_loss /= static_cast<double>(inputs.size());
    }
    return epoch_loss;
  }

  // Text format, exact round trip: "attrib-gcn 1", the configuration, then every weight matrix
  // ("rows cols" and its entries row by row) and bias ("size" and its entries), in layer order.
  void save(std::ostream& out) const {
    out << "attrib-gcn 1\n"
        << static_cast<int>(config_.readout) << ' ' << static_cast<int>(config_.aggregation) << ' ' << config_.inputs
        << ' ' << config_.hidden << ' ' << config_.layers << ' ' << config_.classes << '\n';
    out << std::setprecision(17);
    for (std::size_t p = 0; p < weights_.size(); ++p) {
      out << weights_[p].rows() << ' ' << weights_[p].cols();
      for (index k = 0; k < weights_[p].size(); ++k) out << ' ' << weights_[p].data()[k];
      out << '\n' << biases_[p].size();
      for (index k = 0; k < biases_[p].size(); ++k) out << ' ' << biases_[p](k);
      out << '\n';
    }
  }

  static gcn load(std::istream& in) {
    std::string magic;
    int version = 0, readout = 0, aggregation = 0;
    gcn_config config;
    if (!(in >> magic >> version) || magic != "attrib-gcn" || version != 1)
      throw format_error("gcn::load: expected the header 'attrib-gcn 1'");
    if (!(in >> readout >> aggregation >> config.inputs >> config.hidden >> config.layers >> config.classes) ||
        readout < 0 || readout > 2 || aggregation < 0 || aggregation > 1 || config.inputs < 1 || config.hidden < 1 ||
        config.layers < 1 || config.classes < 2)
      throw format_error("gcn::load: malformed configuration line");
    config.readout = static_cast<gcn_readout>(readout);
    config.aggregation = static_cast<gcn_aggregation>(aggregation);
    gcn model(config);
    for (std::size_t p = 0; p < model.weights_.size(); ++p) {
      index rows = 0, cols = 0, size = 0;
      if (!(in >> rows >> cols) || rows != model.weights_[p].rows() || cols != model.weights_[p].cols())
        throw format_error("gcn::load: weight matrix " + std::to_string(p) + " has the wrong shape");
      for (index k = 0; k < model.weights_[p].size(); ++k)
        if (!(in >> model.weights_[p].data()[k])) throw format_error("gcn::load: truncated weight matrix " + std::to_string(p));
      if (!(in >> size) || size != model.biases_[p].size())
        throw format_error("gcn::load: bias " + std::to_string(p) + " has the wrong size");
      for (index k = 0; k < size; ++k)
        if (!(in >> model.biases_[p](k))) throw format_error("gcn::load: truncated bias " + std::to_string(p));
    }
    return model;
  }

  // Parameters in a fixed order (weights and biases of each layer, then the output layer).
  std::vector<matrix>& weights() { return weights_; }
  std::vector<vector>& biases() { return biases_; }

 private:
  struct cache {
    matrix norm;                    // Â (or A + I) over the kept subgraph; symmetric
    std::vector<matrix> propagated; // Â H_{l-1}
    std::vector<matrix> pre;        // Z_l
    std::vector<matrix> post;       // H_l (H_0 = X)
    vector pooled;
    vector keep;
    double kept = 0.0;
    std::vector<index> argmax;      // max readout: the winning node of each column
  };

  static vector softmax(const vector& logits) {
    const vector e = (logits.array() - logits.maxCoeff()).exp();
    return e / e.sum();
  }

  vector forward(const gcn_input& in, const vector& keep, cache* c) const {
    const index n = in.node_count();
    detail::require(in.features.cols() == config_.inputs,
                    "gcn: input has " + std::to_string(in.features.cols()) + " features, expected " +
                        std::to_string(config_.inputs));
    detail::require(keep.size() == n, "gcn: keep mask has " + std::to_string(keep.size()) + " entries, expected " +
                                          std::to_string(n));
    matrix norm = in.adjacency;
    vector present(n);
    for (index i = 0; i < n; ++i) present(i) = keep(i) > 0.5 ? 1.0 : 0.0;
    norm = present.asDiagonal() * norm * present.asDiagonal();
    norm.diagonal() += present;
    if (config_.aggregation == gcn_aggregation::normalized) {
      vector scale(n);
      for (index i = 0; i < n; ++i) {
        const double d = norm.row(i).sum();
        scale(i) = d > 0 ? 1.0 / std::sqrt(d) : 0.0;
      }
      norm = scale.asDiagonal() * norm * scale.asDiagonal();
    }
    matrix h = present.asDiagonal() * in.features;
    if (c) {
      c->post.assign(1, h);
      c->propagated.clear();
      c->pre.clear();
    }
    for (index l = 0; l < config_.layers; ++l) {
      matrix ah = norm * h;
      matrix z = ah * weights_[static_cast<std::size_t>(l)];
      z.rowwise() += biases_[static_cast<std::size_t>(l)].transpose();
      h = present.asDiagonal() * z.cwiseMax(0.0);
      if (c) {
        c->propagated.push_back(std::move(ah));
        c->pre.push_back(std::move(z));
        c->post.push_back(h);
      }
    }
    const double kept = present.sum();
    vector pooled = vector::Zero(config_.hidden);
    std::vector<index> argmax(static_cast<std::size_t>(config_.hidden), -1);
    if (kept > 0) {
      switch (config_.readout) {
        case gcn_readout::mean: pooled = h.colwise().sum().transpose() / kept; break;
        case gcn_readout::sum: pooled = h.colwise().sum().transpose(); break;
        case gcn_readout::max:  // over kept nodes only (absent rows are 0 but must not win)
          for (index j = 0; j < config_.hidden; ++j) {
            double best = -std::numeric_limits<double>::infinity();
            for (index i = 0; i < n; ++i)
              if (present(i) > 0 && h(i, j) > best) {
                best = h(i, j);
                argmax[static_cast<std::size_t>(j)] = i;
              }
            pooled(j) = best;
          }
          break;
      }
    }
    vector logits = weights_.back().transpose() * pooled + biases_.back();
    if (c) {
      c->norm = std::move(norm);
      c->pooled = pooled;
      c->keep = present;
      c->kept = kept;
      c->argmax = std::move(argmax);
    }
    return logits;
  }


 public:
  // Adds the cross-entropy gradient of one full graph to gw/gb (shaped like weights()/biases())
  // and returns its loss.
  double accumulate_gradient(const gcn_input& in, int label, std::vector<matrix>& gw, std::vector<vector>& gb) const {
    detail::require(label >= 0 && label < config_.classes, "gcn: label " + std::to_string(label) + " outside the classes");
    cache c;
    const vector p = softmax(forward(in, vector::Ones(in.node_count()), &c));
    vector dlogits = p;
    dlogits(label) -= 1.0;
    backpropagate(in, c, dlogits, &gw, &gb);
    return -std::log(std::max(p(label), 1e-300));
  }

  // d log p_target / d features (n x d) of the subgraph kept by `keep`: the model is
  // differentiable in its node features (absent nodes get zero rows).
  matrix feature_gradient(const gcn_input& in, index target, const vector& keep) const {
    detail::require(target >= 0 && target < config_.classes, "gcn::feature_gradient: target outside the classes");
    cache c;
    const vector p = softmax(forward(in, keep, &c));
    vector dlogits = -p;
    dlogits(target) += 1.0;
    return c.keep.asDiagonal() * backpropagate(in, c, dlogits, nullptr, nullptr);
  }
  matrix feature_gradient(const gcn_input& in, index target) const {
    return feature_gradient(in, target, vector::Ones(in.node_count()));
  }

 private:
  // Back-propagates d/d logits; adds parameter gradients when gw/gb are given; returns d/d H_0.
  matrix backpropagate(const gcn_input& in, const cache& c, const vector& dlogits, std::vector<matrix>* gw,
                       std::vector<vector>* gb) const {
    const std::size_t out = weights_.size() - 1;
    if (gw) {
      (*gw)[out] += c.pooled * dlogits.transpose();
      (*gb)[out] += dlogits;
    }
    const vector dpooled = weights_[out] * dlogits;
    matrix dh;
    switch (config_.readout) {
      case gcn_readout::mean: dh = c.keep * (dpooled.transpose() / std::max(c.kept, 1.0)); break;
      case gcn_readout::sum: dh = c.keep * dpooled.transpose(); break;
      case gcn_readout::max:
        dh = matrix::Zero(in.node_count(), config_.hidden);
        for (index j = 0; j < config_.hidden; ++j)
          if (c.argmax[static_cast<std::size_t>(j)] >= 0) dh(c.argmax[static_cast<std::size_t>(j)], j) = dpooled(j);
        break;
    }
    for (index l = config_.layers - 1; l >= 0; --l) {
      const auto ul = static_cast<std::size_t>(l);
      // H_l = keep * relu(Z_l): absent rows carry no gradient.
      const matrix dz = c.keep.asDiagonal() * dh.cwiseProduct((c.pre[ul].array() > 0.0).cast<double>().matrix());
      if (gw) {
        (*gw)[ul] += c.propagated[ul].transpose() * dz;
        (*gb)[ul] += dz.colwise().sum().transpose();
      }
      dh = c.norm * dz * weights_[ul].transpose();
    }
    return dh;
  }

 private:
  gcn_config config_;
  std::vector<matrix> weights_;
  std::vector<vector> biases_;
};

}  // namespace attrib
