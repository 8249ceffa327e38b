#pragma once
// gnn_classifier: the public interface gcn and gin share, written once (CRTP). A graph
// classifier Derived supplies
//   static constexpr const char* name;  index classes() const;  gnn_parameters& parameters();
//   bool learns_epsilons() const;  struct cache { vector keep; ... };
//   vector forward(const gcn_input&, const vector& keep, cache*) const          -> logits
//   matrix backpropagate(const cache&, const vector& dlogits, gnn_parameters*) const
//                                         -> d/d H_0, adding parameter gradients when given
//   matrix adjacency_gradient(const cache&, const vector& dlogits) const
//                                         -> d/d A_uv of the kept adjacency, one entry per direction
// and gets class probabilities under "remove" masking, training, and the gradients of
// log p_c with respect to parameters, node features and edge weights.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"
#include "attrib/models/gnn/gnn_input.hpp"
#include "attrib/models/gnn/gnn_parameters.hpp"

namespace attrib {

template <class Derived>
class gnn_classifier {
 public:
  // Class probabilities of the subgraph induced by the nodes with keep(i) > 0.5.
  vector probabilities(const gcn_input& in, const vector& keep) const {
    return detail::softmax_probabilities(self().forward(in, keep, nullptr));
  }
  vector probabilities(const gcn_input& in) const { return probabilities(in, vector::Ones(in.node_count())); }
  index predict(const gcn_input& in) const {
    index c = 0;
    probabilities(in).maxCoeff(&c);
    return c;
  }

  // Adam on mean cross-entropy over seeded minibatches; returns the final epoch's mean loss.
  double train(const std::vector<gcn_input>& inputs, const std::vector<int>& labels, const gnn_training& options) {
    return detail::train_graph_classifier(static_cast<Derived&>(*this), inputs, labels, options, Derived::name);
  }

  // Adds the cross-entropy gradient of one full graph to `gradient` (shaped like parameters())
  // and returns its loss.
  double accumulate_gradient(const gcn_input& in, int label, gnn_parameters& gradient) const {
    detail::require(label >= 0 && label < self().classes(),
                    std::string(Derived::name) + ": label " + std::to_string(label) + " outside the classes");
    typename Derived::cache c;
    const vector p = detail::softmax_probabilities(self().forward(in, vector::Ones(in.node_count()), &c));
    vector dlogits = p;
    dlogits(label) -= 1.0;
    self().backpropagate(c, dlogits, &gradient);
    return -std::log(std::max(p(label), 1e-300));
  }

  // d log p_target / d features (n x d) of the subgraph kept by `keep` (absent rows are zero).
  matrix feature_gradient(const gcn_input& in, index target, const vector& keep) const {
    typename Derived::cache c;
    const vector dlogits = log_probability_seed(in, target, keep, c);
    return c.keep.asDiagonal() * self().backpropagate(c, dlogits, nullptr);
  }
  matrix feature_gradient(const gcn_input& in, index target) const {
    return feature_gradient(in, target, vector::Ones(in.node_count()));
  }

  // d log p_target / d w_uv (n x n, symmetric): entry (u, v) is the derivative with respect to
  // the weight of the undirected edge {u, v}, which sets adjacency(u, v) and adjacency(v, u)
  // together (zero on the diagonal and where u or v is absent). For a non-edge it is the
  // derivative with respect to adding the edge with a small weight.
  matrix edge_weight_gradient(const gcn_input& in, index target, const vector& keep) const {
    typename Derived::cache c;
    const vector dlogits = log_probability_seed(in, target, keep, c);
    const matrix directed = self().adjacency_gradient(c, dlogits);
    matrix grad = c.keep.asDiagonal() * (directed + directed.transpose()) * c.keep.asDiagonal();
    grad.diagonal().setZero();
    return grad;
  }
  matrix edge_weight_gradient(const gcn_input& in, index target) const {
    return edge_weight_gradient(in, target, vector::Ones(in.node_count()));
  }

 private:
  const Derived& self() const { return static_cast<const Derived&>(*this); }

  // Runs the forward pass into c and returns d log p_target / d logits. (A template because
  // Derived, and so its cache, is incomplete where this class is instantiated.)
  template <class Cache>
  vector log_probability_seed(const gcn_input& in, index target, const vector& keep, Cache& c) const {
    detail::require(target >= 0 && target < self().classes(),
                    std::string(Derived::name) + ": target class " + std::to_string(target) + " outside 0.." +
                        std::to_string(self().classes() - 1));
    const vector p = detail::softmax_probabilities(self().forward(in, keep, &c));
    vector dlogits = -p;
    dlogits(target) += 1.0;
    return dlogits;
  }
};

}  // namespace attrib
