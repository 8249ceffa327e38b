#pragma once
// data_game: the cooperative game whose players are training points. The value of a coalition
// S is utility(train(X[S], y[S]), X_val, y_val): the quality, on a validation set, of the model
// trained on S alone. Every Shapley-family method then values data exactly as it values
// features: leave-one-out is occlusion on this game, Data Shapley is Shapley on it, datamodels
// are a penalised regression on it.
//
// Coalitions too small to train on get the utility of the trivial predictor (the model that
// has seen no data): the utility says what that is through trivial_value(y_val), or the user
// sets data_game_options::empty_value. The empty coalition always gets it; in strict mode any
// other coalition smaller than min_coalition_size throws instead.
#include <algorithm>
#include <cmath>
#include <concepts>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "attrib/concepts/data_trainer.hpp"
#include "attrib/concepts/game.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"
#include "attrib/core/validate.hpp"

namespace attrib {

struct data_game_options {
  index min_coalition_size = 1;       // smaller coalitions get empty_value (or throw when strict)
  bool strict = false;                // throw attrib::invalid_argument on a too-small, non-empty coalition
  bool warm_start = true;             // call trainer.warm_start_on(X, y) when the trainer has it
  std::optional<double> empty_value{};// overrides utility.trivial_value(y_val)
};

template <data_trainer Trainer, class Utility>
  requires data_utility_for<Utility, Trainer>
class data_game {
 public:
  data_game(matrix x_train, vector y_train, matrix x_valid, vector y_valid, Trainer train, Utility utility,
            data_game_options options = {})
      : x_(std::move(x_train)),
        y_(std::move(y_train)),
        x_val_(std::move(x_valid)),
        y_val_(std::move(y_valid)),
        train_(std::move(train)),
        utility_(std::move(utility)),
        options_(options) {
    detail::require(x_.rows() >= 1, "data_game: the training set is empty; expected at least 1 row");
    detail::require(x_.rows() <= 64 * 1024 * 1024, "data_game: the training set is too large");
    detail::require(x_.cols() >= 1, "data_game: training inputs have no columns");
    detail::require_size(y_.size(), x_.rows(), "data_game: training labels");
    detail::require(x_val_.rows() >= 1, "data_game: the validation set is empty; expected at least 1 row");
    detail::require(x_val_.cols() == x_.cols(), "data_game: validation inputs have " +
                                                    std::to_string(x_val_.cols()) + " columns, expected " +
                                                    std::to_string(x_.cols()) + " like the training inputs");
    detail::require_size(y_val_.size(), x_val_.rows(), "data_game: validation labels");
    detail::require_finite(x_, "data_game: training inputs");
    detail::require_finite(y_, "data_game: training labels");
    detail::require_finite(x_val_, "data_game: validation inputs");
    detail::require_finite(y_val_, "data_game: validation labels");
    detail::require(options_.min_coalition_size >= 1,
                    "data_game: min_coalition_size must be >= 1, got " + std::to_string(options_.min_coalition_size));
    if constexpr (validating_trainer<Trainer>) {
      train_.validate(x_, y_, "data_game: training labels");
      train_.validate(x_val_, y_val_, "data_game: validation labels");
    }
    if (options_.empty_value) {
      empty_value_ = *options_.empty_value;
    } else if constexpr (trivial_valued_utility<Utility>) {
      empty_value_ = utility_.trivial_value(y_val_);
    } else {
      detail::fail("data_game: the utility has no trivial_value(y_val); set data_game_options::empty_value");
    }
    detail::require(std::isfinite(empty_value_), "data_game: the empty coalition's value must be finite");
    if constexpr (warm_startable_trainer<Trainer>)
      if (options_.warm_start) train_.warm_start_on(x_, y_);
  }

  index player_count() const { return x_.rows(); }
  // Rows one value touches at least once (training and validation); also makes the solvers
  // hand out one retraining per chunk slot rather than thousands.
  index model_evaluations_per_value() const { return x_.rows() + x_val_.rows(); }

  vector values(const matrix& coalitions) const {
    detail::require(coalitions.cols() == player_count(),
                    "data_game: coalitions have " + std::to_string(coalitions.cols()) + " columns, expected " +
                        std::to_string(player_count()) + " (one per training point)");
    vector out(coalitions.rows());
    std::vector<index> members;
    for (index r = 0; r < coalitions.rows(); ++r) {
      members.clear();
      for (index j = 0; j < coalitions.cols(); ++j)
        if (coalitions(r, j) > 0.5) members.push_back(j);
      out(r) = value_of(members);
    }
    return out;
  }

  // The value of the coalition made of the given training rows.
  double value_of(const std::vector<index>& members) const {
    const auto size = static_cast<index>(members.size());
    if (size == 0) return empty_value_;
    if (size < options_.min_coalition_size) {
      if (options_.strict)
        detail::fail("data_game: a coalition of " + std::to_string(size) +
                     " training points is too small to train on; strict mode needs at least " +
                     std::to_string(options_.min_coalition_size));
      return empty_value_;
    }
    matrix xs(size, x_.cols());
    vector ys(size);
    for (index k = 0; k < size; ++k) {
      xs.row(k) = x_.row(members[static_cast<std::size_t>(k)]);
      ys(k) = y_(members[static_cast<std::size_t>(k)]);
    }
    return static_cast<double>(utility_(train_(xs, ys), x_val_, y_val_));
  }

  // The value of the empty coalition: the trivial predictor's utility.
  double empty_value() const { return empty_value_; }
  const matrix& train_inputs() const { return x_; }
  const vector& train_labels() const { return y_; }
  const matrix& validation_inputs() const { return x_val_; }
  const vector& validation_labels() const { return y_val_; }
  const Trainer& trainer() const { return train_; }
  const Utility& utility() const { return utility_; }

 private:
  matrix x_;
  vector y_;
  matrix x_val_;
  vector y_val_;
  Trainer train_;
  Utility utility_;
  data_game_options options_;
  double empty_value_ = 0.0;
};

}  // namespace attrib
