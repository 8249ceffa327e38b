#pragma once
// The games that explain one particle's prediction by an edge_message_regressor:
//   neighbour_game       players are the particle's k neighbours; a coalition z keeps z_j of
//                        neighbour j's message (0 removes the edge, as GNNExplainer's edge mask
//                        does), so v(z) = readout(sum_j z_j m_ij) - readout(0): the change
//                        from the particle alone, zero at the empty coalition as the
//                        graph-restricted values (Myerson, HN) assume of a game;
//   edge_feature_game    players are the edge features' groups (neighbour type, distance,
//                        direction); an absent group reads the training edges' mean in every edge.
// neighbour_adjacency gives the neighbours' own graph (the model's graph induced on them), the
// structure the HN and Myerson values need.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"
#include "attrib/graph/particle_system.hpp"
#include "attrib/models/gnn/edge_message_regressor.hpp"

namespace attrib {

// Templates on the model (an edge_message_regressor) so that their members compile where used.
template <class Model = edge_message_regressor>
class neighbour_game {
 public:
  // Holds a reference to `model`, which must outlive the game.
  neighbour_game(const Model& model, const particle_system& s, const neighbour_lists& lists, index particle)
      : model_(&model), type_(s.types.at(static_cast<std::size_t>(checked(s, particle)))),
        messages_(model.messages(model.edge_features(s, lists, particle))),
        alone_(model.readout(Eigen::RowVectorXd::Zero(messages_.cols()), type_)) {}

  index player_count() const { return messages_.rows(); }
  vector values(const matrix& points) const {
    detail::require(points.cols() == player_count(), "neighbour_game: points have " + std::to_string(points.cols()) +
                                                         " columns, expected " + std::to_string(player_count()));
    detail::require(points.allFinite(), "neighbour_game: points hold a NaN or infinite entry");
    const matrix summed = points * messages_;
    vector out(points.rows());
    for (index r = 0; r < points.rows(); ++r) out(r) = model_->readout(summed.row(r), type_) - alone_;
    return out;
  }

 private:
  static index checked(const particle_system& s, index particle) {
    detail::require(particle >= 0 && particle < s.size(), "neighbour_game: particle " + std::to_string(particle) +
                                                              " is outside 0.." + std::to_string(s.size() - 1));
    return particle;
  }
  const Model* model_;
  int type_;
  matrix messages_;  // k x message
  double alone_;     // the prediction with no neighbours
};

template <class Model = edge_message_regressor>
class edge_feature_game {
 public:
  using group = typename Model::feature_group;
  static constexpr index groups = 3;

  edge_feature_game(const Model& model, const particle_system& s, const neighbour_lists& lists, index particle)
      : model_(&model), type_(0), features_() {
    detail::require(particle >= 0 && particle < s.size(), "edge_feature_game: particle " + std::to_string(particle) +
                                                              " is outside 0.." + std::to_string(s.size() - 1));
    detail::require(model.feature_mean().size() == model.feature_count(),
                    "edge_feature_game: the model has not been fitted (no training feature means)");
    type_ = s.types[static_cast<std::size_t>(particle)];
    features_ = model.edge_features(s, lists, particle);
  }

  index player_count() const { return groups; }
  vector values(const matrix& points) const {
    detail::require(points.cols() == groups, "edge_feature_game: points have " + std::to_string(points.cols()) + " columns, expected 3");
    detail::require(points.allFinite(), "edge_feature_game: points hold a NaN or infinite entry");
    vector out(points.rows());
    for (index r = 0; r < points.rows(); ++r) {
      matrix x = features_;
      for (index g = 0; g < groups; ++g) {
        const auto [first, count] = model_->columns(static_cast<group>(g));
        const double z = points(r, g);
        const auto mix = [&](index column, index width) {
          for (index m = 0; m < x.rows(); ++m)
            x.row(m).segment(column, width) =
                z * x.row(m).segment(column, width) + (1.0 - z) * model_->feature_mean().segment(column, width);
        };
        mix(first, count);
        // The cutoff is a function of the distance: it goes with the distance group.
        if (static_cast<group>(g) == group::distance) mix(model_->feature_count() - 1, 1);
      }
      out(r) = model_->readout(model_->messages(x).colwise().sum(), type_);
    }
    return out;
  }

 private:
  const Model* model_;
  int type_;
  matrix features_;  // k x features
};

// The neighbours of `particle` as a graph: the model's own graph induced on them (bit b of entry
// a is set when b is among a's nearest neighbours or a among b's). k <= 64.
inline std::vector<std::uint64_t> neighbour_adjacency(const neighbour_lists& lists, index particle) {
  detail::require(lists.k <= 64, "neighbour_adjacency: " + std::to_string(lists.k) + " neighbours, at most 64");
  const index n = static_cast<index>(lists.neighbour.size()) / std::max<index>(lists.k, 1);
  detail::require(particle >= 0 && particle < n, "neighbour_adjacency: particle " + std::to_string(particle) +
                                                     " is outside 0.." + std::to_string(n - 1));
  std::vector<std::uint64_t> out(static_cast<std::size_t>(lists.k), 0);
  const auto lists_contain = [&](index of, index who) {
    for (index m = 0; m < lists.k; ++m)
      if (lists.of(of, m) == who) return true;
    return false;
  };
  for (index a = 0; a < lists.k; ++a)
    for (index b = a + 1; b < lists.k; ++b) {
      const index pa = lists.of(particle, a), pb = lists.of(particle, b);
      if (lists_contain(pa, pb) || lists_contain(pb, pa)) {
        out[static_cast<std::size_t>(a)] |= std::uint64_t{1} << b;
        out[static_cast<std::size_t>(b)] |= std::uint64_t{1} << a;
      }
    }
  return out;
}

}  // namespace attrib
