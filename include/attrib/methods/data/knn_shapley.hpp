#pragma once
// Exact KNN-Shapley in closed form (Jia et al., VLDB 2019). The data game of a K-nearest-
// neighbour classifier: for one test point (x, y) with the training points sorted by distance,
//     u(S) = (1/K) * #{ the min(K, |S|) points of S nearest x whose label is y },  u(empty) = 0,
// and the game valued is the mean of u over the test points. Its Shapley value follows from a
// recursion over the sorted points (a_1 nearest, a_n farthest, positions 1-based):
//     s(a_n) = 1[y(a_n) = y] / max(K, n),
//     s(a_i) = s(a_(i+1)) + (1[y(a_i) = y] - 1[y(a_(i+1)) = y]) / max(K, i),
// (the paper states s(a_n) for n >= K; with n < K the game is additive and every point gets
// 1[match] / K). O(n log n) per test point instead of 2^n retrainings. Distances are Euclidean; ties are
// broken by the lower training index, so the ordering (and the game) is well defined.
// Test points run in parallel (run_settings::threads); the sum over them is taken in order,
// so the result does not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "attrib/core/attribution.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/parallel.hpp"
#include "attrib/core/run_settings.hpp"
#include "attrib/core/types.hpp"
#include "attrib/core/validate.hpp"

namespace attrib {

namespace detail {

inline void check_knn_inputs(const matrix& x_train, const vector& y_train, const matrix& x_test,
                             const vector& y_test, index k) {
  require(k >= 1, "knn_shapley: K must be >= 1, got " + std::to_string(k));
  require(x_train.rows() >= 1, "knn_shapley: the training set is empty; expected at least 1 row");
  require(x_test.rows() >= 1, "knn_shapley: the test set is empty; expected at least 1 row");
  require(x_test.cols() == x_train.cols(), "knn_shapley: test inputs have " + std::to_string(x_test.cols()) +
                                               " columns, expected " + std::to_string(x_train.cols()) +
                                               " like the training inputs");
  require_size(y_train.size(), x_train.rows(), "knn_shapley: training labels");
  require_size(y_test.size(), x_test.rows(), "knn_shapley: test labels");
  require_finite(x_train, "knn_shapley: training inputs");
  require_finite(x_test, "knn_shapley: test inputs");
  require_finite(y_train, "knn_shapley: training labels");
  require_finite(y_test, "knn_shapley: test labels");
}

// Training indices sorted by squared distance to `point`, ties by index.
inline std::vector<index> nearest_order(const matrix& x_train, const Eigen::RowVectorXd& point) {
  const vector d = (x_train.rowwise() - point).rowwise().squaredNorm();
  std::vector<index> order(static_cast<std::size_t>(x_train.rows()));
  std::iota(order.begin(), order.end(), index{0});
  std::sort(order.begin(), order.end(), [&](index a, index b) { return d(a) < d(b) || (d(a) == d(b) && a < b); });
  return order;
}

}  // namespace detail

// One row per test point: the Shapley value of every training point for that test point's
// KNN utility.
inline matrix knn_shapley_per_test(const matrix& x_train, const vector& y_train, const matrix& x_test,
                                   const vector& y_test, index k, const run_settings& settings = {}) {
  detail::check_knn_inputs(x_train, y_train, x_test, y_test, k);
  const index n = x_train.rows();
  matrix out(x_test.rows(), n);
  parallel_for(static_cast<std::size_t>(x_test.rows()), settings.threads, [&](std::size_t t) {
    const auto row = static_cast<index>(t);
    const std::vector<index> order = detail::nearest_order(x_train, x_test.row(row));
    auto match = [&](index position) {  // position is 0-based in the sorted order
      return y_train(order[static_cast<std::size_t>(position)]) == y_test(row) ? 1.0 : 0.0;
    };
    double s = match(n - 1) / static_cast<double>(std::max(k, n));
    out(row, order[static_cast<std::size_t>(n - 1)]) = s;
    for (index i = n - 1; i >= 1; --i) {  // i: 1-based position of the point being valued
      s += (match(i - 1) - match(i)) / static_cast<double>(std::max(k, i));
      out(row, order[static_cast<std::size_t>(i - 1)]) = s;
    }
  });
  return out;
}

// The Shapley values of the mean KNN utility over the test points. base_value = u(empty) = 0
// and prediction = u(N), so the values add up to prediction exactly (efficiency).
inline attribution knn_shapley(const matrix& x_train, const vector& y_train, const matrix& x_test,
                               const vector& y_test, index k, const run_settings& settings = {}) {
  const matrix per_test = knn_shapley_per_test(x_train, y_train, x_test, y_test, k, settings);
  attribution a;
  a.method = "knn_shapley";
  a.values = per_test.colwise().mean().transpose();
  double full = 0.0;
  for (index t = 0; t < x_test.rows(); ++t) {
    const std::vector<index> order = detail::nearest_order(x_train, x_test.row(t));
    double hits = 0.0;
    for (index j = 0; j < std::min(k, x_train.rows()); ++j)
      hits += y_train(order[static_cast<std::size_t>(j)]) == y_test(t) ? 1.0 : 0.0;
    full += hits / static_cast<double>(k);
  }
  a.base_value = 0.0;
  a.prediction = full / static_cast<double>(x_test.rows());
  a.fit.exhaustive = true;
  a.fit.intercept = 0.0;
  return a;
}

}  // namespace attrib
