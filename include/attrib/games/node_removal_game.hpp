#pragma once
// node_removal_game: the game GStarX explains. Players are the nodes of one graph; a
// coalition keeps its nodes and drops all others with their edges ("remove" masking), and
//   v(S) = p_c(G_S) - baseline,
// the model's probability of class c (by default the class predicted for the whole graph) on
// the kept subgraph minus the dataset-average probability of that class (GStarX's norm_prob).
// Any model with probabilities(const gcn_input&, const vector& keep) works.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "attrib/concepts/game.hpp"
#include "attrib/concepts/graph_model.hpp"
#include "attrib/core/error.hpp"
#include "attrib/models/gnn/gcn.hpp"

namespace attrib {

template <node_mask_model Model>
class node_removal_game {
 public:
  node_removal_game(const Model& model, gcn_input input, index target_class, double baseline = 0.0)
      : model_(&model), input_(std::move(input)), target_(target_class), baseline_(baseline) {
    detail::require(input_.node_count() >= 1, "node_removal_game: the graph is empty");
    const vector p = model_->probabilities(input_, vector::Ones(input_.node_count()));
    detail::require(target_ >= 0 && target_ < p.size(), "node_removal_game: target class " + std::to_string(target_) +
                                                            " outside 0.." + std::to_string(p.size() - 1));
  }

  index player_count() const { return input_.node_count(); }
  const gcn_input& input() const { return input_; }
  index target_class() const { return target_; }
  double baseline() const { return baseline_; }

  // The target-class probability with only the nodes keep(i) > 0.5 present (no baseline).
  double probability(const vector& keep) const { return model_->probabilities(input_, keep)(target_); }

  vector values(const matrix& points) const {
    vector out(points.rows());
    for (index r = 0; r < points.rows(); ++r) out(r) = probability(points.row(r).transpose()) - baseline_;
    return out;
  }

  double value(std::uint64_t mask) const {
    vector keep(player_count());
    for (index i = 0; i < keep.size(); ++i) keep(i) = static_cast<double>((mask >> i) & 1u);
    return probability(keep) - baseline_;
  }

 private:
  const Model* model_;
  gcn_input input_;
  index target_;
  double baseline_;
};

// The mean probability of `target_class` over `inputs` (the norm_prob baseline).
template <node_mask_model Model>
double average_probability(const Model& model, const std::vector<gcn_input>& inputs, index target_class) {
  detail::require(!inputs.empty(), "average_probability: no inputs");
  double total = 0.0;
  for (const auto& in : inputs) total += model.probabilities(in, vector::Ones(in.node_count()))(target_class);
  return total / static_cast<double>(inputs.size());
}

}  // namespace attrib
