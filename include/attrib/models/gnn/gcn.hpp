#pragma once
// gcn: a small graph convolutional network for graph classification (Kipf & Welling 2017):
//   H_l = relu(Â H_{l-1} W_l + b_l),  Â = D^{-1/2} (A + I) D^{-1/2},
// mean pooling over the nodes, a linear layer and softmax. Forward passes take a node mask:
// absent nodes and their edges are dropped ("remove" masking, as GStarX's subgraph building),
// so Â is renormalised over the kept subgraph. Trained by Adam on cross-entropy, seeded;
// differentiable in parameters, node features and edge weights (gnn_classifier). Dense Â per
// graph: meant for molecule-sized graphs (tens of nodes).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <iomanip>
#include <istream>
#include <ostream>
#include <limits>
#include <string>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/random.hpp"
#include "attrib/core/types.hpp"
#include "attrib/models/gnn/gnn_classifier.hpp"
#include "attrib/models/gnn/gnn_input.hpp"
#include "attrib/models/gnn/gnn_layers.hpp"
#include "attrib/models/gnn/gnn_parameters.hpp"

namespace attrib {

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

using gcn_training = gnn_training;

class gcn : public gnn_classifier<gcn> {
 public:
  static constexpr const char* name = "gcn";

  gcn() = default;
  explicit gcn(const gcn_config& config, std::uint64_t seed = 0) : config_(config) {
    detail::require_gnn_shape(config, "gcn");
    rng random = rng::stream(seed, 0x6c);
    for (index l = 0; l < config.layers; ++l) {
      theta_.weights.push_back(glorot_uniform(l == 0 ? config.inputs : config.hidden, config.hidden, random));
      theta_.biases.push_back(vector::Zero(config.hidden));
    }
    theta_.weights.push_back(glorot_uniform(config.hidden, config.classes, random));
    theta_.biases.push_back(vector::Zero(config.classes));
  }

  const gcn_config& config() const { return config_; }
  index inputs() const { return config_.inputs; }
  index classes() const { return config_.classes; }

  // Text format, exact round trip: "attrib-gcn 1", the configuration, then every weight matrix
  // ("rows cols" and its entries row by row) and bias ("size" and its entries), in layer order.
  void save(std::ostream& out) const {
    out << "attrib-gcn 1\n"
        << static_cast<int>(config_.readout) << ' ' << static_cast<int>(config_.aggregation) << ' ' << config_.inputs
        << ' ' << config_.hidden << ' ' << config_.layers << ' ' << config_.classes << '\n';
    out << std::setprecision(17);
    for (std::size_t p = 0; p < theta_.weights.size(); ++p) {
      detail::write_block(out, theta_.weights[p]);
      detail::write_block(out, theta_.biases[p]);
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
        config.layers < 1 || config.classes < 2 || config.inputs > 1'000'000 || config.hidden > 1'000'000 ||
        config.layers > 1000 || config.classes > 1'000'000)
      throw format_error("gcn::load: malformed configuration line");
    config.readout = static_cast<gcn_readout>(readout);
    config.aggregation = static_cast<gcn_aggregation>(aggregation);
    const auto [i, h, l, c] = std::array<double, 4>{static_cast<double>(config.inputs), static_cast<double>(config.hidden),
                                                     static_cast<double>(config.layers), static_cast<double>(config.classes)};
    detail::require_stored_parameters(in, i * h + h + (l - 1) * (h * h + h) + h * c + c, "gcn::load");
    gcn model(config);
    for (std::size_t p = 0; p < model.theta_.weights.size(); ++p) {
      detail::read_block(in, model.theta_.weights[p], "gcn::load: weight matrix " + std::to_string(p));
      detail::read_block(in, model.theta_.biases[p], "gcn::load: bias " + std::to_string(p));
    }
    return model;
  }

  // Parameters in a fixed order (weights and biases of each layer, then the output layer).
  std::vector<matrix>& weights() { return theta_.weights; }
  std::vector<vector>& biases() { return theta_.biases; }
  gnn_parameters& parameters() { return theta_; }
  const gnn_parameters& parameters() const { return theta_; }
  // The last layer's node embeddings on the whole graph (n x hidden): what PGExplainer reads.
  matrix node_embeddings(const gcn_input& in) const {
    cache c;
    forward(in, vector::Ones(in.node_count()), &c);
    return c.post.back();
  }
  bool learns_epsilons() const { return false; }

  using gnn_classifier<gcn>::accumulate_gradient;
  // The same with the gradient as separate weight and bias lists.
  double accumulate_gradient(const gcn_input& in, int label, std::vector<matrix>& gw, std::vector<vector>& gb) const {
    gnn_parameters g{std::move(gw), std::move(gb), vector()};
    const double loss = accumulate_gradient(in, label, g);
    gw = std::move(g.weights);
    gb = std::move(g.biases);
    return loss;
  }

 private:
  friend class gnn_classifier<gcn>;

  struct cache {
    matrix tilde;                   // Ã = P A P + diag(P)
    vector scale;                   // (Ã 1)^{-1/2} (normalized aggregation)
    matrix norm;                    // Â (or Ã) over the kept subgraph; symmetric
    std::vector<matrix> propagated; // Â H_{l-1}
    std::vector<matrix> pre;        // Z_l
    std::vector<matrix> post;       // H_l (H_0 = X)
    vector pooled;
    vector keep;
    double kept = 0.0;
    std::vector<index> argmax;      // max readout: the winning node of each column
  };

  vector forward(const gcn_input& in, const vector& keep, cache* c) const {
    detail::check_gnn_input(in, config_.inputs, keep.size(), "gcn");
    const index n = in.node_count();
    vector present(n);
    for (index i = 0; i < n; ++i) present(i) = keep(i) > 0.5 ? 1.0 : 0.0;
    matrix norm = present.asDiagonal() * in.adjacency * present.asDiagonal();
    norm.diagonal() += present;
    vector scale;
    if (config_.aggregation == gcn_aggregation::normalized) {
      if (c) c->tilde = norm;
      scale.resize(n);
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
      matrix z = ah * theta_.weights[static_cast<std::size_t>(l)];
      z.rowwise() += theta_.biases[static_cast<std::size_t>(l)].transpose();
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
    vector logits = theta_.weights.back().transpose() * pooled + theta_.biases.back();
    if (c) {
      c->scale = std::move(scale);
      c->norm = std::move(norm);
      c->pooled = pooled;
      c->keep = present;
      c->kept = kept;
      c->argmax = std::move(argmax);
    }
    return logits;
  }

  matrix backpropagate(const cache& c, const vector& dlogits, gnn_parameters* gradient) const {
    return backpropagate(c, dlogits, gradient, nullptr);
  }

  // d/d A_uv through Â = S Ã S, Ã = P A P + diag(P), s = (Ã 1)^{-1/2}: the chain runs through s
  // as well; the P factors are applied by the caller.
  matrix adjacency_gradient(const cache& c, const vector& dlogits) const {
    const index n = c.keep.size();
    matrix dnorm = matrix::Zero(n, n);
    backpropagate(c, dlogits, nullptr, &dnorm);
    if (config_.aggregation == gcn_aggregation::sum) return dnorm;
    const matrix g = dnorm.cwiseProduct(c.tilde);
    const vector gs = g * c.scale + g.transpose() * c.scale;
    const vector gd = -0.5 * gs.cwiseProduct(c.scale.cwiseProduct(c.scale).cwiseProduct(c.scale));
    matrix dtilde = dnorm.cwiseProduct(c.scale * c.scale.transpose());
    dtilde.colwise() += gd;  // d_k = sum_j Ã_kj
    return dtilde;
  }

  // Back-propagates d/d logits; adds parameter gradients when `gradient` is given and
  // d/d norm when `dnorm` is; returns d/d H_0.
  matrix backpropagate(const cache& c, const vector& dlogits, gnn_parameters* gradient, matrix* dnorm) const {
    const std::size_t out = theta_.weights.size() - 1;
    if (gradient) {
      gradient->weights[out] += c.pooled * dlogits.transpose();
      gradient->biases[out] += dlogits;
    }
    const vector dpooled = theta_.weights[out] * dlogits;
    matrix dh;
    switch (config_.readout) {
      case gcn_readout::mean: dh = c.keep * (dpooled.transpose() / std::max(c.kept, 1.0)); break;
      case gcn_readout::sum: dh = c.keep * dpooled.transpose(); break;
      case gcn_readout::max:
        dh = matrix::Zero(c.keep.size(), config_.hidden);
        for (index j = 0; j < config_.hidden; ++j)
          if (c.argmax[static_cast<std::size_t>(j)] >= 0) dh(c.argmax[static_cast<std::size_t>(j)], j) = dpooled(j);
        break;
    }
    for (index l = config_.layers - 1; l >= 0; --l) {
      const auto ul = static_cast<std::size_t>(l);
      // H_l = keep * relu(Z_l): absent rows carry no gradient.
      const matrix dz = c.keep.asDiagonal() * dh.cwiseProduct((c.pre[ul].array() > 0.0).cast<double>().matrix());
      if (gradient) {
        gradient->weights[ul] += c.propagated[ul].transpose() * dz;
        gradient->biases[ul] += dz.colwise().sum().transpose();
      }
      const matrix dah = dz * theta_.weights[ul].transpose();
      if (dnorm) *dnorm += dah * c.post[ul].transpose();
      dh = c.norm * dah;
    }
    return dh;
  }

  gcn_config config_;
  gnn_parameters theta_;
};

// gcn's layers one at a time over stacked copies of one graph, every node present
// (models/gnn/gnn_layers.hpp): U_l = relu(Â H_{l-1} W_l + b_l) with Â as gcn's forward pass builds
// it when every node is kept, then the mean, sum or max readout of the last layer. The model must
// outlive the stepper.
class gcn_layers {
 public:
  struct layer_cache {
    matrix propagated;  // Â H_{l-1}, block by block
    matrix pre;         // Z_l
    matrix dpre;        // backward scratch: d/dZ_l
    matrix dpropagated; // backward scratch: d/d(Â H_{l-1})
  };
  struct readout_cache {
    std::vector<index> winner;  // max readout: per block and column, the node that wins
  };

  // Throws invalid_argument, naming `who`, for a graph the model cannot read.
  gcn_layers(const gcn& model, const gcn_input& in, const std::string& who = "gcn_layers")
      : model_(&model), n_(in.node_count()) {
    detail::check_gnn_input(in, model.inputs(), in.node_count(), who);
    norm_ = in.adjacency;
    norm_.diagonal().array() += 1.0;
    if (model.config().aggregation == gcn_aggregation::normalized) {
      const vector scale = norm_.rowwise().sum().array().rsqrt().matrix();
      norm_ = scale.asDiagonal() * norm_ * scale.asDiagonal();
    }
  }

  index layers() const { return model_->config().layers; }
  index hidden() const { return model_->config().hidden; }
  index nodes() const { return n_; }

  // h: B n x (inputs or hidden); out: B n x hidden.
  void forward(index l, const matrix& h, layer_cache& c, matrix& out) const {
    const auto ul = static_cast<std::size_t>(l);
    detail::per_block(norm_, h, c.propagated);
    c.pre.noalias() = c.propagated * model_->parameters().weights[ul];
    c.pre.rowwise() += model_->parameters().biases[ul].transpose();
    out = c.pre.cwiseMax(0.0);
  }

  // out = d/d H_{l-1} from du = d/d U_l (Â is symmetric); c is layer l's forward cache.
  void backward(index l, const matrix& du, layer_cache& c, matrix& out) const {
    c.dpre = du.cwiseProduct((c.pre.array() > 0.0).cast<double>().matrix());
    c.dpropagated.noalias() = c.dpre * model_->parameters().weights[static_cast<std::size_t>(l)].transpose();
    detail::per_block(norm_, c.dpropagated, out);
  }

  // pooled: B x hidden from the last layer's output.
  void readout(const std::vector<matrix>& h, readout_cache& c, matrix& pooled) const {
    const matrix& last = h.back();
    const index blocks = last.rows() / n_, cols = last.cols();
    pooled.resize(blocks, cols);
    switch (model_->config().readout) {
      case gcn_readout::mean:
        detail::block_sums(last, n_, pooled);
        pooled /= static_cast<double>(n_);
        return;
      case gcn_readout::sum: detail::block_sums(last, n_, pooled); return;
      case gcn_readout::max: break;
    }
    c.winner.assign(static_cast<std::size_t>(blocks * cols), 0);
    for (index b = 0; b < blocks; ++b)
      for (index j = 0; j < cols; ++j) {
        index i = 0;
        pooled(b, j) = last.col(j).segment(b * n_, n_).maxCoeff(&i);  // the first maximum, as gcn's strict '>'
        c.winner[static_cast<std::size_t>(b * cols + j)] = i;
      }
  }

  // Adds d/d H_l of the readout (dpooled: B x hidden) to dh[l].
  void readout_backward(const matrix& dpooled, const readout_cache& c, std::vector<matrix>& dh) const {
    matrix& d = dh.back();
    for (index b = 0; b < dpooled.rows(); ++b) switch (model_->config().readout) {
        case gcn_readout::mean: d.middleRows(b * n_, n_).rowwise() += dpooled.row(b) / static_cast<double>(n_); break;
        case gcn_readout::sum: d.middleRows(b * n_, n_).rowwise() += dpooled.row(b); break;
        case gcn_readout::max:
          for (index j = 0; j < dpooled.cols(); ++j)
            d(b * n_ + c.winner[static_cast<std::size_t>(b * dpooled.cols() + j)], j) += dpooled(b, j);
          break;
      }
  }

 private:
  const gcn* model_;
  index n_;
  matrix norm_;  // Â (or A + I)
};

template <>
struct gnn_layers_of<gcn> {
  using type = gcn_layers;
};

}  // namespace attrib
