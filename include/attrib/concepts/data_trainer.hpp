#pragma once
// What a data game needs: a trainer that fits a model on a subset of the training data, and a
// utility that scores a fitted model on validation data; and three opt-ins that make it faster
// or safer (warm starts, label checks, the trivial predictor's utility).
#include <concepts>
#include <string>

#include "attrib/core/types.hpp"

namespace attrib {

// train(X_subset, y_subset) returns a model; const and thread-safe, like a game's values.
template <class T>
concept data_trainer = requires(const T& t, const matrix& x, const vector& y) {
  { t(x, y) };
};

// utility(model, X_val, y_val) scores a trained model on the validation set.
template <class U, class T>
concept data_utility_for =
    data_trainer<T> &&
    requires(const U& u, const T& t, const matrix& x, const vector& y) {
      { u(t(x, y), x, y) } -> std::convertible_to<double>;
    };

// Opt-in: a trainer that can start every retraining from the full-data optimum. For a convex
// objective the optimum of S is near that of N when S is large, so Newton needs a few steps.
template <class T>
concept warm_startable_trainer = data_trainer<T> && requires(T& t, const matrix& x, const vector& y) {
  t.warm_start_on(x, y);
};

// Opt-in: a trainer that checks labels (e.g. class indices in range), naming the argument.
template <class T>
concept validating_trainer = data_trainer<T> && requires(const T& t, const matrix& x, const vector& y,
                                                         const std::string& name) {
  t.validate(x, y, name);
};

// Opt-in: a utility that knows the value of the trivial predictor on the validation labels.
template <class U>
concept trivial_valued_utility = requires(const U& u, const vector& y) {
  { u.trivial_value(y) } -> std::convertible_to<double>;
};

namespace archetypes {
// The least a trainer must be: it fits the constant predictor mean(y).
struct data_trainer {
  double operator()(const matrix&, const vector& y) const { return y.size() > 0 ? y.mean() : 0.0; }
};
// ... and the least a utility for it must be: minus the mean squared error of the constant.
struct data_utility {
  double operator()(double fitted, const matrix&, const vector& y) const {
    return -(y.array() - fitted).square().mean();
  }
};
}  // namespace archetypes

static_assert(data_trainer<archetypes::data_trainer>);
static_assert(data_utility_for<archetypes::data_utility, archetypes::data_trainer>);

}  // namespace attrib
