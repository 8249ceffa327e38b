#pragma once
// rgcn: a relational graph convolutional encoder (Schlichtkrull et al. 2018) with a link scorer,
// the model PaGE-Link explains. Layer l maps node states H to
//   Z_v = W0 h_v + b + sum_rho sum_{u -> v in rho} norm_v,rho * w_e * W_rho h_u,
// with rho running over the directed relations (each relation and its reverse), norm the mean
// over v's incoming messages of rho (PaGE-Link's model and DGL's mean reducer: the count does not
// depend on the weights), w_e the edge weight, ReLU between layers and none after the last.
// W_rho is a free matrix or, with `bases` > 0, sum_b a_rho,b V_b (basis decomposition). The
// link score is h_s . h_t (dot) or sum_k h_s,k r_k h_t,k (DistMult). The score is differentiable
// in every edge weight, node feature and parameter (exact reverse mode), so masks can be learned.
// Training: Adam on binary cross-entropy of observed links against seeded negatives (the
// target replaced by a random node of its type), full batch. Dense per-node states: meant for
// graphs of thousands of nodes at most.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iomanip>
#include <istream>
#include <ostream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/random.hpp"
#include "attrib/core/types.hpp"
#include "attrib/graph/hetero_graph.hpp"
#include "attrib/optimizers/adam.hpp"

namespace attrib {

enum class link_scorer { dot, distmult };

struct rgcn_config {
  index inputs = 1;    // node feature dimension
  index hidden = 16;   // width of every layer, the embedding included
  index layers = 2;
  int relations = 1;   // relation types of the graph; 2 * relations directed relations
  index bases = 0;     // 0: one matrix per directed relation; else that many shared bases
  link_scorer scorer = link_scorer::distmult;
};

struct rgcn_training {
  index epochs = 200;
  double learning_rate = 0.01;
  index negatives = 1;  // negative pairs per observed link and epoch
  double l2 = 0.0;      // weight decay added to the gradient
  std::uint64_t seed = 0;
};

struct link_score_gradient {
  double score = 0.0;
  vector edge_weights;             // d score / d w_e, one entry per edge
  matrix features;                 // d score / d node features (n x inputs)
  std::vector<matrix> parameters;  // d score / d parameter, shaped like rgcn::parameters()
};

// A class template (always basic_rgcn<matrix>, spelled rgcn) only so that each member compiles
// where it is called.
template <class Matrix = matrix>
class basic_rgcn {
 public:
  basic_rgcn() = default;
  explicit basic_rgcn(const rgcn_config& config, std::uint64_t seed = 0) : config_(config) {
    detail::require(config.inputs >= 1 && config.hidden >= 1 && config.layers >= 1 && config.relations >= 1 &&
                        config.bases >= 0,
                    "rgcn: need inputs, hidden, layers, relations >= 1 and bases >= 0");
    rng random = rng::stream(seed, 0x5c);
    const auto glorot = [&](index rows, index cols) {
      const double limit = std::sqrt(6.0 / static_cast<double>(rows + cols));
      matrix w(rows, cols);
      for (index i = 0; i < w.size(); ++i) w.data()[i] = limit * (2.0 * random.uniform() - 1.0);
      return w;
    };
    for (const auto& [rows, cols] : shapes(config)) params_.push_back(glorot(rows, cols));
    for (index l = 0; l < config.layers; ++l) params_[static_cast<std::size_t>(offset(l) + 1)].setZero();
    if (config.scorer == link_scorer::distmult) params_.back().setOnes();
  }

  const rgcn_config& config() const { return config_; }
  // Parameters in a fixed order: per layer W0, b (1 x hidden), then the 2R relation matrices
  // or the bases V_1..V_B and the coefficients (2R x B); last the DistMult diagonal (1 x hidden).
  std::vector<matrix>& parameters() { return params_; }
  const std::vector<matrix>& parameters() const { return params_; }

  // Node embeddings (n x hidden) with the graph's edge weights or the given ones.
  matrix embed(const hetero_graph& g) const { return embed(g, g.weights()); }
  matrix embed(const hetero_graph& g, const vector& edge_weights) const {
    state s;
    forward(g, edge_weights, s);
    return std::move(s.states.back());
  }

  double score(const matrix& embedding, index source, index target) const {
    detail::require(source >= 0 && source < embedding.rows() && target >= 0 && target < embedding.rows(),
                    "rgcn::score: node ids must be in 0.." + std::to_string(embedding.rows() - 1));
    const auto hs = embedding.row(source), ht = embedding.row(target);
    if (config_.scorer == link_scorer::dot) return hs.dot(ht);
    return (hs.array() * params_.back().array() * ht.array()).sum();
  }
  double score(const hetero_graph& g, index source, index target) const { return score(embed(g), source, target); }
  double score(const hetero_graph& g, const vector& edge_weights, index source, index target) const {
    return score(embed(g, edge_weights), source, target);
  }

  // The score of (source, target) with its exact gradient in every edge weight, node feature
  // and (unless with_parameters is false) every parameter.
  link_score_gradient score_gradient(const hetero_graph& g, const vector& edge_weights, index source, index target,
                                     bool with_parameters = true) const {
    g.require_node(source, "rgcn::score_gradient");
    g.require_node(target, "rgcn::score_gradient");
    detail::require(source != target, "rgcn::score_gradient: source and target must differ");
    state s;
    forward(g, edge_weights, s);
    link_score_gradient out;
    out.score = score(s.states.back(), source, target);
    if (with_parameters) out.parameters = zeros_like(params_);
    out.edge_weights = vector::Zero(g.edge_count());
    matrix d = matrix::Zero(s.states.back().rows(), config_.hidden);
    add_score_gradient(s.states.back(), source, target, 1.0, d, with_parameters ? &out.parameters : nullptr);
    out.features = backward(s, edge_weights, d, with_parameters ? &out.parameters : nullptr, &out.edge_weights);
    return out;
  }

  // Adam on the mean binary cross-entropy of `links` (label 1) and seeded negatives (label 0)
  // on the graph g with its edge weights; returns the last epoch's loss.
  double train(const hetero_graph& g, const std::vector<std::pair<index, index>>& links, const rgcn_training& options) {
    detail::require(!links.empty(), "rgcn::train: no links to train on");
    detail::require(options.epochs >= 1 && options.learning_rate > 0.0 && options.negatives >= 0,
                    "rgcn::train: need epochs >= 1, learning_rate > 0 and negatives >= 0");
    std::set<std::pair<index, index>> known;
    std::vector<std::vector<index>> candidates(static_cast<std::size_t>(g.node_type_count()));
    for (int t = 0; t < g.node_type_count(); ++t) candidates[static_cast<std::size_t>(t)] = g.nodes_of_type(t);
    for (const auto& [u, v] : links) {
      g.require_node(u, "rgcn::train");
      g.require_node(v, "rgcn::train");
      detail::require(u != v, "rgcn::train: a link joins node " + std::to_string(u) + " to itself");
      known.emplace(u, v);
    }
    const vector weights = g.weights();
    basic_adamw<matrix> adam;
    double loss = 0.0;
    for (index epoch = 0; epoch < options.epochs; ++epoch) {
      rng random = rng::stream(options.seed, static_cast<std::uint64_t>(epoch));
      std::vector<std::pair<std::pair<index, index>, double>> pairs;
      for (const auto& link : links) {
        pairs.push_back({link, 1.0});
        const auto& pool = candidates[static_cast<std::size_t>(g.node_type(link.second))];
        for (index k = 0; k < options.negatives; ++k)
          for (int attempt = 0; attempt < 32; ++attempt) {
            const index v = pool[static_cast<std::size_t>(random.below(pool.size()))];
            if (v == link.first || known.count({link.first, v})) continue;
            pairs.push_back({{link.first, v}, 0.0});
            break;
          }
      }
      state s;
      forward(g, weights, s);
      const matrix& h = s.states.back();
      matrix d = matrix::Zero(h.rows(), config_.hidden);
      std::vector<matrix> grad = zeros_like(params_);
      loss = 0.0;
      const double scale = 1.0 / static_cast<double>(pairs.size());
      for (const auto& [pair, label] : pairs) {
        const double z = score(h, pair.first, pair.second);
        // softplus(z) - label * z, computed without overflow
        loss += (z > 0 ? z + std::log1p(std::exp(-z)) : std::log1p(std::exp(z))) - label * z;
        const double p = 1.0 / (1.0 + std::exp(-z));
        add_score_gradient(h, pair.first, pair.second, (p - label) * scale, d, &grad);
      }
      loss *= scale;
      backward(s, weights, d, &grad, nullptr);
      adam.next_step();
      for (std::size_t p = 0; p < params_.size(); ++p)
        adam.update(p, params_[p], grad[p] + options.l2 * params_[p], options.learning_rate);
    }
    return loss;
  }

  // Text format, exact round trip: "attrib-rgcn 1", the configuration line
  // (inputs hidden layers relations bases scorer), then every parameter as "rows cols" and
  // its entries row by row, in parameters() order.
  void save(std::ostream& out) const {
    out << "attrib-rgcn 1\n"
        << config_.inputs << ' ' << config_.hidden << ' ' << config_.layers << ' ' << config_.relations << ' '
        << config_.bases << ' ' << static_cast<int>(config_.scorer) << '\n'
        << std::setprecision(17);
    for (const auto& p : params_) {
      out << p.rows() << ' ' << p.cols();
      for (index k = 0; k < p.size(); ++k) out << ' ' << p.data()[k];
      out << '\n';
    }
  }

  static basic_rgcn load(std::istream& in) {
    std::string magic;
    int version = 0, scorer = 0;
    rgcn_config c;
    if (!(in >> magic >> version) || magic != "attrib-rgcn" || version != 1)
      throw format_error("rgcn::load: expected the header 'attrib-rgcn 1'");
    if (!(in >> c.inputs >> c.hidden >> c.layers >> c.relations >> c.bases >> scorer) || c.inputs < 1 ||
        c.hidden < 1 || c.layers < 1 || c.relations < 1 || c.bases < 0 || scorer < 0 || scorer > 1 ||
        c.inputs > 1'000'000 || c.hidden > 1'000'000 || c.layers > 1000 || c.relations > 100'000 ||
        c.bases > 100'000)
      throw format_error("rgcn::load: malformed configuration line");
    c.scorer = static_cast<link_scorer>(scorer);
    basic_rgcn model;
    model.config_ = c;
    for (const auto& [rows, cols] : shapes(c)) {
      const auto p = model.params_.size();
      index r = 0, k = 0;
      if (!(in >> r >> k) || r != rows || k != cols)
        throw format_error("rgcn::load: parameter " + std::to_string(p) + " has the wrong shape");
      matrix m(rows, cols);
      for (index i = 0; i < m.size(); ++i)
        if (!(in >> m.data()[i]) || !std::isfinite(m.data()[i]))
          throw format_error("rgcn::load: parameter " + std::to_string(p) + " is truncated or not finite");
      model.params_.push_back(std::move(m));
    }
    return model;
  }

 private:
  struct state {
    std::vector<std::vector<relation_message>> messages;
    std::vector<matrix> states;                  // H_0 = X, ..., H_L
    std::vector<matrix> pre;                     // Z_1..Z_L
    std::vector<std::vector<matrix>> relation;   // effective W_l,rho
    std::vector<std::vector<matrix>> projected;  // H_l W_l,rho
  };

  index directed() const { return 2 * config_.relations; }
  // Index of layer l's first parameter.
  index offset(index l) const {
    const index per_layer = 2 + (config_.bases == 0 ? directed() : config_.bases + 1);
    return l * per_layer;
  }

  static std::vector<std::pair<index, index>> shapes(const rgcn_config& c) {
    std::vector<std::pair<index, index>> out;
    for (index l = 0; l < c.layers; ++l) {
      const index in = l == 0 ? c.inputs : c.hidden;
      out.emplace_back(in, c.hidden);
      out.emplace_back(1, c.hidden);
      const index matrices = c.bases == 0 ? 2 * c.relations : c.bases;
      for (index k = 0; k < matrices; ++k) out.emplace_back(in, c.hidden);
      if (c.bases > 0) out.emplace_back(2 * c.relations, c.bases);
    }
    if (c.scorer == link_scorer::distmult) out.emplace_back(1, c.hidden);
    return out;
  }

  static std::vector<matrix> zeros_like(const std::vector<matrix>& ps) {
    std::vector<matrix> out;
    for (const auto& p : ps) out.push_back(matrix::Zero(p.rows(), p.cols()));
    return out;
  }

  // d/d(embedding) and d/d(DistMult diagonal) of factor * score(source, target).
  void add_score_gradient(const matrix& h, index source, index target, double factor, matrix& d,
                          std::vector<matrix>* grad) const {
    if (config_.scorer == link_scorer::dot) {
      d.row(source) += factor * h.row(target);
      d.row(target) += factor * h.row(source);
      return;
    }
    const auto& r = params_.back();
    d.row(source) += factor * h.row(target).cwiseProduct(r);
    d.row(target) += factor * h.row(source).cwiseProduct(r);
    if (grad) grad->back() += factor * h.row(source).cwiseProduct(h.row(target));
  }

  void forward(const hetero_graph& g, const vector& w, state& s) const {
    detail::require(g.relation_count() == config_.relations,
                    "rgcn: graph has " + std::to_string(g.relation_count()) + " relations, model " +
                        std::to_string(config_.relations));
    detail::require(g.feature_count() == config_.inputs || g.node_count() == 0,
                    "rgcn: graph has " + std::to_string(g.feature_count()) + " features per node, model " +
                        std::to_string(config_.inputs));
    detail::require(w.size() == g.edge_count(), "rgcn: " + std::to_string(w.size()) + " edge weights for " +
                                                    std::to_string(g.edge_count()) + " edges");
    detail::require(w.allFinite(), "rgcn: edge weights must be finite");
    s.messages = g.relation_messages();
    s.states.assign(1, g.feature_matrix());
    s.pre.clear();
    s.relation.clear();
    s.projected.clear();
    for (index l = 0; l < config_.layers; ++l) {
      const auto base = static_cast<std::size_t>(offset(l));
      const matrix& h = s.states.back();
      std::vector<matrix> rel, proj;
      for (index rho = 0; rho < directed(); ++rho) {
        if (config_.bases == 0) {
          rel.push_back(params_[base + 2 + static_cast<std::size_t>(rho)]);
        } else {
          const matrix& a = params_[base + 2 + static_cast<std::size_t>(config_.bases)];
          matrix m = matrix::Zero(params_[base].rows(), config_.hidden);
          for (index b = 0; b < config_.bases; ++b) m += a(rho, b) * params_[base + 2 + static_cast<std::size_t>(b)];
          rel.push_back(std::move(m));
        }
        proj.push_back(h * rel.back());
      }
      matrix z = h * params_[base];
      z.rowwise() += params_[base + 1].row(0);
      for (std::size_t rho = 0; rho < s.messages.size(); ++rho)
        for (const auto& m : s.messages[rho]) z.row(m.receiver) += (m.norm * w(m.edge)) * proj[rho].row(m.sender);
      s.states.push_back(l + 1 < config_.layers ? matrix(z.cwiseMax(0.0)) : z);
      s.pre.push_back(std::move(z));
      s.relation.push_back(std::move(rel));
      s.projected.push_back(std::move(proj));
    }
  }

  // Back-propagates d = d/d H_L; adds parameter and edge-weight gradients where asked; returns
  // d/d H_0, the gradient in the node features.
  matrix backward(const state& s, const vector& w, matrix d, std::vector<matrix>* grad, vector* dw) const {
    for (index l = config_.layers - 1; l >= 0; --l) {
      const auto ul = static_cast<std::size_t>(l), base = static_cast<std::size_t>(offset(l));
      const matrix& h = s.states[ul];
      const matrix dz = l + 1 < config_.layers ? matrix(d.cwiseProduct((s.pre[ul].array() > 0.0).template cast<double>().matrix()))
                                               : d;
      matrix dh = dz * params_[base].transpose();
      if (grad) {
        (*grad)[base] += h.transpose() * dz;
        (*grad)[base + 1] += dz.colwise().sum();
      }
      for (std::size_t rho = 0; rho < s.messages.size(); ++rho) {
        matrix dp = matrix::Zero(h.rows(), config_.hidden);
        for (const auto& m : s.messages[rho]) {
          dp.row(m.sender) += (m.norm * w(m.edge)) * dz.row(m.receiver);
          if (dw) (*dw)(m.edge) += m.norm * s.projected[ul][rho].row(m.sender).dot(dz.row(m.receiver));
        }
        dh += dp * s.relation[ul][rho].transpose();
        if (!grad) continue;
        const matrix dwr = h.transpose() * dp;
        if (config_.bases == 0) {
          (*grad)[base + 2 + rho] += dwr;
        } else {
          const auto coeff = base + 2 + static_cast<std::size_t>(config_.bases);
          for (index b = 0; b < config_.bases; ++b) {
            const auto vb = base + 2 + static_cast<std::size_t>(b);
            (*grad)[vb] += params_[coeff](static_cast<index>(rho), b) * dwr;
            (*grad)[coeff](static_cast<index>(rho), b) += dwr.cwiseProduct(params_[vb]).sum();
          }
        }
      }
      d = std::move(dh);
    }
    return d;
  }

  rgcn_config config_;
  std::vector<matrix> params_;
};

using rgcn = basic_rgcn<>;

}  // namespace attrib
