#pragma once
// gin: the Graph Isomorphism Network (Xu et al., ICLR 2019) for graph classification:
//   H_l = relu(MLP_l((1 + eps_l) H_{l-1} + A H_{l-1})),  MLP_l(X) = relu(X W1 + b1) W2 + b2,
// with A the weighted adjacency (sum aggregation), eps_l learnable (GIN-eps) or fixed at 0
// (GIN-0), a sum or mean readout over the kept nodes (optionally the jumping-knowledge
// concatenation of every layer's readout, as in the paper), a linear classifier and softmax.
// Unlike the paper there is no batch normalisation, so the model is a plain function of one graph.
// Same interface as gcn: "remove" masking through `keep`, seeded Glorot init and Adam on
// cross-entropy, d log p / d features and d log p / d edge weights, an exact text save/load.
// Sum aggregation counts neighbours, so unlike a normalised GCN it separates structures that
// carry identical (e.g. constant) node features, such as BA-2Motifs' house and cycle.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <iomanip>
#include <istream>
#include <ostream>
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

enum class gin_readout { sum, mean };

struct gin_config {
  gin_readout readout = gin_readout::sum;
  bool learn_epsilon = false;      // GIN-eps when true, GIN-0 when false
  bool jumping_knowledge = false;  // classify the concatenated readouts of all layers
  index inputs = 1;
  index hidden = 32;
  index layers = 3;
  index classes = 2;
};

using gin_training = gnn_training;

class gin : public gnn_classifier<gin> {
 public:
  static constexpr const char* name = "gin";

  gin() = default;
  explicit gin(const gin_config& config, std::uint64_t seed = 0) : config_(config) {
    detail::require_gnn_shape(config, "gin");
    rng random = rng::stream(seed, 0x91);
    // MLP biases start at U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (PyTorch's Linear) rather than 0:
    // with zero biases and constant positive features every ReLU is linear or dead at the start
    // and the network stays a positively homogeneous function of walk counts, which does not
    // train on BA-2Motifs.
    const auto uniform_bias = [&](index fan_in) {
      const double limit = 1.0 / std::sqrt(static_cast<double>(fan_in));
      vector b(config.hidden);
      for (index i = 0; i < b.size(); ++i) b(i) = limit * (2.0 * random.uniform() - 1.0);
      return b;
    };
    for (index l = 0; l < config.layers; ++l) {
      const index fan_in = l == 0 ? config.inputs : config.hidden;
      theta_.weights.push_back(glorot_uniform(fan_in, config.hidden, random));
      theta_.biases.push_back(uniform_bias(fan_in));
      theta_.weights.push_back(glorot_uniform(config.hidden, config.hidden, random));
      theta_.biases.push_back(uniform_bias(config.hidden));
    }
    theta_.weights.push_back(glorot_uniform(pooled_size(), config.classes, random));
    theta_.biases.push_back(vector::Zero(config.classes));
    theta_.epsilons = vector::Zero(config.layers);
  }

  const gin_config& config() const { return config_; }
  index inputs() const { return config_.inputs; }
  index classes() const { return config_.classes; }

  // Text format, exact round trip: "attrib-gin 1", the configuration line (readout, learn_epsilon,
  // jumping_knowledge, inputs, hidden, layers, classes), the epsilons ("size" and entries), then
  // every weight matrix ("rows cols" and entries row by row) and bias, in parameter order.
  void save(std::ostream& out) const {
    out << "attrib-gin 1\n"
        << static_cast<int>(config_.readout) << ' ' << (config_.learn_epsilon ? 1 : 0) << ' '
        << (config_.jumping_knowledge ? 1 : 0) << ' ' << config_.inputs << ' ' << config_.hidden << ' '
        << config_.layers << ' ' << config_.classes << '\n'
        << std::setprecision(17);
    detail::write_block(out, theta_.epsilons);
    for (std::size_t p = 0; p < theta_.weights.size(); ++p) {
      detail::write_block(out, theta_.weights[p]);
      detail::write_block(out, theta_.biases[p]);
    }
  }

  static gin load(std::istream& in) {
    std::string magic;
    int version = 0, readout = 0, learn = 0, jk = 0;
    gin_config config;
    if (!(in >> magic >> version) || magic != "attrib-gin" || version != 1)
      throw format_error("gin::load: expected the header 'attrib-gin 1'");
    if (!(in >> readout >> learn >> jk >> config.inputs >> config.hidden >> config.layers >> config.classes) ||
        readout < 0 || readout > 1 || learn < 0 || learn > 1 || jk < 0 || jk > 1 || config.inputs < 1 ||
        config.hidden < 1 || config.layers < 1 || config.classes < 2 || config.inputs > 1'000'000 ||
        config.hidden > 1'000'000 || config.layers > 1000 || config.classes > 1'000'000)
      throw format_error("gin::load: malformed configuration line");
    config.readout = static_cast<gin_readout>(readout);
    config.learn_epsilon = learn == 1;
    config.jumping_knowledge = jk == 1;
    const auto [i, h, l, c] = std::array<double, 4>{static_cast<double>(config.inputs), static_cast<double>(config.hidden),
                                                     static_cast<double>(config.layers), static_cast<double>(config.classes)};
    const double pooled = config.jumping_knowledge ? h * l : h;
    detail::require_stored_parameters(in, l + i * h + h + (l - 1) * (h * h + h) + l * (h * h + h) + pooled * c + c,
                                      "gin::load");
    gin model(config);
    detail::read_block(in, model.theta_.epsilons, "gin::load: epsilons");
    for (std::size_t p = 0; p < model.theta_.weights.size(); ++p) {
      detail::read_block(in, model.theta_.weights[p], "gin::load: weight matrix " + std::to_string(p));
      detail::read_block(in, model.theta_.biases[p], "gin::load: bias " + std::to_string(p));
    }
    return model;
  }

  // weights[2l], weights[2l + 1]: layer l's MLP; weights.back(): the classifier; epsilons(l).
  gnn_parameters& parameters() { return theta_; }
  const gnn_parameters& parameters() const { return theta_; }
  // The last layer's node embeddings on the whole graph (n x hidden): what PGExplainer reads.
  matrix node_embeddings(const gcn_input& in) const {
    cache c;
    forward(in, vector::Ones(in.node_count()), &c);
    return c.outputs[static_cast<std::size_t>(config_.layers - 1)];  // the pooled vector follows it
  }
  bool learns_epsilons() const { return config_.learn_epsilon; }

 private:
  friend class gnn_classifier<gin>;

  struct cache {
    matrix adjacency;                // P A P
    std::vector<matrix> inputs;      // H_{l-1} (H_0 = P X)
    std::vector<matrix> aggregated;  // (1 + eps) H + A H
    std::vector<matrix> inner;       // the MLP's hidden pre-activation
    std::vector<matrix> outer;       // the MLP's output pre-activation
    std::vector<matrix> outputs;     // H_l
    vector keep;
    double kept = 0.0;
  };

  index pooled_size() const { return config_.jumping_knowledge ? config_.hidden * config_.layers : config_.hidden; }

  vector readout(const matrix& h, double kept) const {
    if (kept <= 0) return vector::Zero(h.cols());
    vector pooled = h.colwise().sum().transpose();
    return config_.readout == gin_readout::mean ? vector(pooled / kept) : pooled;
  }

  vector forward(const gcn_input& in, const vector& keep, cache* c) const {
    detail::check_gnn_input(in, config_.inputs, keep.size(), "gin");
    const index n = in.node_count();
    vector present(n);
    for (index i = 0; i < n; ++i) present(i) = keep(i) > 0.5 ? 1.0 : 0.0;
    const double kept = present.sum();
    const matrix a = present.asDiagonal() * in.adjacency * present.asDiagonal();
    matrix h = present.asDiagonal() * in.features;
    vector pooled(pooled_size());
    for (index l = 0; l < config_.layers; ++l) {
      const auto ul = static_cast<std::size_t>(l);
      matrix agg = (1.0 + theta_.epsilons(l)) * h + a * h;
      matrix inner = agg * theta_.weights[2 * ul];
      inner.rowwise() += theta_.biases[2 * ul].transpose();
      matrix outer = inner.cwiseMax(0.0) * theta_.weights[2 * ul + 1];
      outer.rowwise() += theta_.biases[2 * ul + 1].transpose();
      matrix next = present.asDiagonal() * outer.cwiseMax(0.0);
      if (config_.jumping_knowledge) pooled.segment(l * config_.hidden, config_.hidden) = readout(next, kept);
      if (c) {
        c->inputs.push_back(std::move(h));
        c->aggregated.push_back(std::move(agg));
        c->inner.push_back(std::move(inner));
        c->outer.push_back(std::move(outer));
        c->outputs.push_back(next);
      }
      h = std::move(next);
    }
    if (!config_.jumping_knowledge) pooled = readout(h, kept);
    vector logits = theta_.weights.back().transpose() * pooled + theta_.biases.back();
    if (c) {
      c->adjacency = a;
      c->keep = present;
      c->kept = kept;
      c->outputs.push_back(pooled);  // the pooled vector rides last: outputs[layers]
    }
    return logits;
  }

  matrix backpropagate(const cache& c, const vector& dlogits, gnn_parameters* gradient) const {
    return backpropagate(c, dlogits, gradient, nullptr);
  }

  matrix adjacency_gradient(const cache& c, const vector& dlogits) const {
    matrix dadj = matrix::Zero(c.keep.size(), c.keep.size());
    backpropagate(c, dlogits, nullptr, &dadj);
    return dadj;
  }

  // Back-propagates d/d logits; adds parameter gradients when `gradient` is given (epsilons
  // included even when fixed) and d/d (P A P) when `dadj` is; returns d/d H_0.
  matrix backpropagate(const cache& c, const vector& dlogits, gnn_parameters* gradient, matrix* dadj) const {
    const std::size_t out = theta_.weights.size() - 1;
    const auto layers = static_cast<std::size_t>(config_.layers);
    const vector& pooled = c.outputs[layers];
    if (gradient) {
      gradient->weights[out] += pooled * dlogits.transpose();
      gradient->biases[out] += dlogits;
    }
    const vector dpooled = theta_.weights[out] * dlogits;
    const double per_node = config_.readout == gin_readout::mean ? 1.0 / std::max(c.kept, 1.0) : 1.0;
    // d/d H_l from the readout that sees layer l (every layer with jumping knowledge).
    const auto from_readout = [&](std::size_t l) -> matrix {
      if (config_.jumping_knowledge)
        return per_node * c.keep * dpooled.segment(static_cast<index>(l) * config_.hidden, config_.hidden).transpose();
      if (l + 1 == layers) return per_node * c.keep * dpooled.transpose();
      return matrix::Zero(c.keep.size(), config_.hidden);
    };
    matrix dh = from_readout(layers - 1);
    for (std::size_t ul = layers; ul-- > 0;) {
      const matrix douter = c.keep.asDiagonal() * dh.cwiseProduct((c.outer[ul].array() > 0.0).cast<double>().matrix());
      const matrix dinner =
          (douter * theta_.weights[2 * ul + 1].transpose()).cwiseProduct((c.inner[ul].array() > 0.0).cast<double>().matrix());
      const matrix dagg = dinner * theta_.weights[2 * ul].transpose();
      if (gradient) {
        gradient->weights[2 * ul + 1] += c.inner[ul].cwiseMax(0.0).transpose() * douter;
        gradient->biases[2 * ul + 1] += douter.colwise().sum().transpose();
        gradient->weights[2 * ul] += c.aggregated[ul].transpose() * dinner;
        gradient->biases[2 * ul] += dinner.colwise().sum().transpose();
        gradient->epsilons(static_cast<index>(ul)) += dagg.cwiseProduct(c.inputs[ul]).sum();
      }
      if (dadj) *dadj += dagg * c.inputs[ul].transpose();
      dh = (1.0 + theta_.epsilons(static_cast<index>(ul))) * dagg + c.adjacency * dagg;
      if (ul > 0) dh += from_readout(ul - 1);
    }
    return dh;
  }

  gin_config config_;
  gnn_parameters theta_;
};

// gin's layers one at a time over stacked copies of one graph, every node present
// (models/gnn/gnn_layers.hpp): U_l = relu(relu(((1 + eps_l) H_{l-1} + A H_{l-1}) W1_l + b1_l) W2_l
// + b2_l), then the sum or mean readout of the last layer, or of every layer concatenated
// (jumping knowledge). The model must outlive the stepper.
class gin_layers {
 public:
  struct layer_cache {
    matrix aggregated;  // (1 + eps_l) H_{l-1} + A H_{l-1}
    matrix inner;       // the layer MLP's hidden pre-activation
    matrix hidden;      // its ReLU
    matrix outer;       // the MLP's output pre-activation
    matrix douter, dinner, dagg;  // backward scratch
  };
  struct readout_cache {};

  // Throws invalid_argument, naming `who`, for a graph the model cannot read.
  gin_layers(const gin& model, const gcn_input& in, const std::string& who = "gin_layers")
      : model_(&model), n_(in.node_count()) {
    detail::check_gnn_input(in, model.inputs(), in.node_count(), who);
    adjacency_ = in.adjacency;
  }

  index layers() const { return model_->config().layers; }
  index hidden() const { return model_->config().hidden; }
  index nodes() const { return n_; }

  // h: B n x (inputs or hidden); out: B n x hidden.
  void forward(index l, const matrix& h, layer_cache& c, matrix& out) const {
    const auto ul = static_cast<std::size_t>(l);
    const gnn_parameters& theta = model_->parameters();
    detail::per_block(adjacency_, h, c.aggregated);
    c.aggregated += (1.0 + theta.epsilons(l)) * h;
    c.inner.noalias() = c.aggregated * theta.weights[2 * ul];
    c.inner.rowwise() += theta.biases[2 * ul].transpose();
    c.hidden = c.inner.cwiseMax(0.0);
    c.outer.noalias() = c.hidden * theta.weights[2 * ul + 1];
    c.outer.rowwise() += theta.biases[2 * ul + 1].transpose();
    out = c.outer.cwiseMax(0.0);
  }

  // out = d/d H_{l-1} from du = d/d U_l (A is symmetric); c is layer l's forward cache.
  void backward(index l, const matrix& du, layer_cache& c, matrix& out) const {
    const auto ul = static_cast<std::size_t>(l);
    const gnn_parameters& theta = model_->parameters();
    c.douter = du.cwiseProduct((c.outer.array() > 0.0).cast<double>().matrix());
    c.dinner.noalias() = c.douter * theta.weights[2 * ul + 1].transpose();
    c.dinner.array() *= (c.inner.array() > 0.0).cast<double>();
    c.dagg.noalias() = c.dinner * theta.weights[2 * ul].transpose();
    detail::per_block(adjacency_, c.dagg, out);
    out += (1.0 + theta.epsilons(l)) * c.dagg;
  }

  // pooled: B x hidden (B x hidden layers with jumping knowledge).
  void readout(const std::vector<matrix>& h, readout_cache&, matrix& pooled) const {
    const index blocks = h.back().rows() / n_, width = hidden();
    if (!model_->config().jumping_knowledge) {
      pooled.resize(blocks, width);
      detail::block_sums(h.back(), n_, pooled);
    } else {
      pooled.resize(blocks, width * layers());
      for (std::size_t l = 0; l < h.size(); ++l)
        detail::block_sums(h[l], n_, pooled.middleCols(static_cast<index>(l) * width, width));
    }
    pooled *= per_node();
  }

  // Adds d/d H_l of the readout (dpooled: B x pooled width) to dh[l]: the last layer's, or every
  // layer's with jumping knowledge.
  void readout_backward(const matrix& dpooled, const readout_cache&, std::vector<matrix>& dh) const {
    const index width = hidden();
    const bool every = model_->config().jumping_knowledge;
    for (std::size_t l = every ? 0 : dh.size() - 1; l < dh.size(); ++l) {
      const auto part = dpooled.middleCols(every ? static_cast<index>(l) * width : 0, width);
      for (index b = 0; b < dpooled.rows(); ++b) dh[l].middleRows(b * n_, n_).rowwise() += per_node() * part.row(b);
    }
  }

 private:
  double per_node() const { return model_->config().readout == gin_readout::mean ? 1.0 / static_cast<double>(n_) : 1.0; }

  const gin* model_;
  index n_;
  matrix adjacency_;
};

template <>
struct gnn_layers_of<gin> {
  using type = gin_layers;
};

}  // namespace attrib
