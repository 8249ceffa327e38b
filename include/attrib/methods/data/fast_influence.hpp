#pragma once
// FastIF (Guo et al. 2021): influence functions scored only on a shortlist. For each test point
// the training points are first narrowed to its k nearest neighbours in a representation space
// (the inputs, an MLP's last hidden layer, the loss gradients: any matrix with one row per
// example), and only those k are scored,
//
//   fast_influence(i, test) = - grad L_test^T (H + damping I)^-1 grad L_i   for i in kNN(test),
//
// with (H + damping I)^-1 grad L_test solved once per test point by any inverse_hessian_product.
// It is influence() (influence.hpp) with the inner product restricted to the candidates: with
// k = n it is the full influence matrix.
//
// What it saves: the full method needs all n training gradients and n inner products per test
// point; FastIF needs only the gradients of the distinct candidates (the model overload computes
// nothing else) and k inner products per test point. The solves are the same n_test in both.
// The result counts both sides (gradient_evaluations against full_gradient_evaluations).
//
// Why an exact kNN and not an approximate index (the paper uses FAISS): at the sizes attrib
// works with (n up to ~10^5 rows, representations of up to ~10^3 columns), the distances of a
// block of test points to every training point are one matrix product, n_test * n * d flops,
// which costs less than the n_test inverse-Hessian solves, and exactness makes the candidate
// set reproducible and testable. Squared distances come from ||q||^2 + ||x||^2 - 2 q.x (one
// GEMM per block of test points); since that expansion loses precision for close points, every
// point whose expanded distance is within a rounding bound of the k-th is re-measured as
// ||x - q||^2 directly, and the k nearest by that distance, ties by lower index, are kept.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "attrib/concepts/inverse_hessian.hpp"
#include "attrib/concepts/layered_model.hpp"
#include "attrib/concepts/trainable_model.hpp"
#include "attrib/core/data_attribution.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/parallel.hpp"
#include "attrib/core/types.hpp"
#include "attrib/core/validate.hpp"

namespace attrib {

// Training indices per test point, one column each (k x n_test).
using index_matrix = Eigen::Matrix<index, Eigen::Dynamic, Eigen::Dynamic>;

struct fast_influence_options {
  index k = 100;            // candidates per test point, 1 <= k <= n
  std::size_t threads = 1;  // test points run in parallel; results do not depend on it (0: all cores)
};

// Influence restricted to a candidate set per test point. Column j holds test point j:
// candidates(r, j) is its r-th nearest training point and scores(r, j) that point's influence on
// it, in influence()'s sign convention (I_up,loss: supporting points are negative).
struct sparse_data_attribution {
  std::string method;
  index training_size = 0;
  index_matrix candidates;                    // k x n_test, nearest first
  matrix scores;                              // k x n_test
  std::vector<ihvp_diagnostics> diagnostics;  // one per test point (one solve each)
  // Cost against scoring every training point for every test point.
  index gradient_evaluations = 0;       // distinct training gradients used (the union of candidates)
  index full_gradient_evaluations = 0;  // n
  index scored_pairs = 0;               // k * n_test inner products
  index full_scored_pairs = 0;          // n * n_test

  // n x n_test, the candidates' scores in place and zero elsewhere (a point that is not a
  // candidate was not scored; zero is not its influence).
  matrix dense() const {
    matrix out = matrix::Zero(training_size, candidates.cols());
    for (index j = 0; j < candidates.cols(); ++j)
      for (index r = 0; r < candidates.rows(); ++r) out(candidates(r, j), j) = scores(r, j);
    return out;
  }
};

// The representation FastIF's paper uses for a network: the input of the last dense layer (the
// last hidden layer's activations of an mlp; the standardised inputs of a linear model).
template <layered_model M>
matrix last_layer_inputs(const M& model, const matrix& inputs) {
  return model.dense_block_inputs(inputs).back();
}

namespace detail {

inline void check_knn(const matrix& train, const matrix& test, index k, const std::string& who) {
  require(train.rows() > 0, who + ": train_representation has no rows; expected one row per training point");
  require(test.rows() > 0, who + ": test_representation has no rows; expected one row per test point");
  require(train.cols() > 0, who + ": train_representation has no columns");
  require(train.cols() == test.cols(), who + ": test_representation has " + std::to_string(test.cols()) +
                                           " columns, expected " + std::to_string(train.cols()) +
                                           " like train_representation");
  require(k >= 1 && k <= train.rows(), who + ": k must be in [1, " + std::to_string(train.rows()) +
                                           "] (the number of training points), got " + std::to_string(k));
  require_finite(train, who + ": train_representation");
  require_finite(test, who + ": test_representation");
}

// Test points per distance block: a 256 x n block of distances, one GEMM each. Fixed, so that the
// blocks (and the results) do not depend on the thread count.
inline constexpr index knn_block_rows = 256;

}  // namespace detail

// The k nearest training rows of every test row by Euclidean distance, ties broken by the lower
// training index; column j lists test row j's neighbours, nearest first. Exact (see the top of
// this file for how the GEMM's rounding is kept out of the answer).
inline index_matrix exact_nearest_neighbours(const matrix& train, const matrix& test, index k,
                                             std::size_t threads = 1) {
  detail::check_knn(train, test, k, "exact_nearest_neighbours");
  const index n = train.rows();
  const index m = test.rows();
  const vector train_sq = train.rowwise().squaredNorm();
  const vector test_sq = test.rowwise().squaredNorm();
  detail::require(train_sq.allFinite() && test_sq.allFinite(),
                  "exact_nearest_neighbours: representation rows are too large to square (overflow); rescale them");
  // Rounding bound of the expanded distance against the directly measured one, both within
  // about 2 (d + 2) u (||q||^2 + ||x||^2); doubled for safety (it only widens the re-measured pool).
  const double slack = 8.0 * static_cast<double>(train.cols() + 4) * std::numeric_limits<double>::epsilon();
  index_matrix out(k, m);
  const index blocks = (m + detail::knn_block_rows - 1) / detail::knn_block_rows;
  parallel_for(static_cast<std::size_t>(blocks), threads, [&](std::size_t b) {
    const index start = static_cast<index>(b) * detail::knn_block_rows;
    const index rows = std::min(detail::knn_block_rows, m - start);
    const matrix cross = test.middleRows(start, rows) * train.transpose();  // rows x n, one GEMM
    std::vector<double> upper(static_cast<std::size_t>(n));
    std::vector<std::pair<double, index>> pool;
    for (index r = 0; r < rows; ++r) {
      const index q = start + r;
      for (index i = 0; i < n; ++i)
        upper[static_cast<std::size_t>(i)] =
            test_sq[q] + train_sq[i] - 2.0 * cross(r, i) + slack * (test_sq[q] + train_sq[i]);
      // The k-th smallest upper bound bounds the k-th smallest true distance from above.
      std::vector<double> sorted = upper;
      std::nth_element(sorted.begin(), sorted.begin() + (k - 1), sorted.end());
      const double kth = sorted[static_cast<std::size_t>(k - 1)];
      pool.clear();
      for (index i = 0; i < n; ++i) {
        const double lower = upper[static_cast<std::size_t>(i)] - 2.0 * slack * (test_sq[q] + train_sq[i]);
        if (lower <= kth) pool.emplace_back((train.row(i) - test.row(q)).squaredNorm(), i);
      }
      std::partial_sort(pool.begin(), pool.begin() + k, pool.end());  // (distance, index): ties by index
      for (index c = 0; c < k; ++c) out(c, q) = pool[static_cast<std::size_t>(c)].second;
    }
  });
  return out;
}

namespace detail {

// Scores the candidates given the gradients of the distinct candidates (rows of `gradients`, in
// the order of `distinct`) and of the test points.
template <inverse_hessian_product S>
sparse_data_attribution score_candidates(const S& solver, index_matrix candidates, index training_size,
                                         const std::vector<index>& distinct, const matrix& gradients,
                                         const matrix& test_gradients, std::size_t threads) {
  const index k = candidates.rows();
  const index m = candidates.cols();
  // Position of each training point among the distinct candidates.
  std::vector<index> slot(static_cast<std::size_t>(training_size), -1);
  for (std::size_t s = 0; s < distinct.size(); ++s) slot[static_cast<std::size_t>(distinct[s])] = static_cast<index>(s);
  sparse_data_attribution out;
  out.method = "fast_influence";
  out.training_size = training_size;
  out.scores.resize(k, m);
  out.diagnostics.resize(static_cast<std::size_t>(m));
  parallel_for(static_cast<std::size_t>(m), threads, [&](std::size_t t) {
    const auto j = static_cast<index>(t);
    ihvp_result r = solver.solve(test_gradients.row(j).transpose());
    require(r.solution.size() == solver.dim() && r.solution.allFinite(),
            "fast_influence: the inverse-Hessian solve of test point " + std::to_string(j) + " is not finite" +
                (r.diagnostics.message.empty() ? std::string(" (did it diverge?)") : " (" + r.diagnostics.message + ")"));
    for (index c = 0; c < k; ++c)
      out.scores(c, j) = -gradients.row(slot[static_cast<std::size_t>(candidates(c, j))]).dot(r.solution);
    out.diagnostics[t] = std::move(r.diagnostics);
  });
  if (!out.diagnostics.empty()) out.method += "/" + out.diagnostics.front().method;
  out.candidates = std::move(candidates);
  out.gradient_evaluations = static_cast<index>(distinct.size());
  out.full_gradient_evaluations = training_size;
  out.scored_pairs = k * m;
  out.full_scored_pairs = training_size * m;
  return out;
}

// The training indices that are a candidate of some test point, ascending.
inline std::vector<index> distinct_candidates(const index_matrix& candidates, index training_size) {
  std::vector<char> used(static_cast<std::size_t>(training_size), 0);
  for (index c = 0; c < candidates.size(); ++c) used[static_cast<std::size_t>(candidates.data()[c])] = 1;
  std::vector<index> out;
  for (index i = 0; i < training_size; ++i)
    if (used[static_cast<std::size_t>(i)] != 0) out.push_back(i);
  return out;
}

inline void check_fast_influence_sizes(index train_rows, index test_rows, const matrix& train_representation,
                                       const matrix& test_representation) {
  require(train_representation.rows() == train_rows,
          "fast_influence: train_representation has " + std::to_string(train_representation.rows()) +
              " rows, expected one per training point (" + std::to_string(train_rows) + ")");
  require(test_representation.rows() == test_rows,
          "fast_influence: test_representation has " + std::to_string(test_representation.rows()) +
              " rows, expected one per test point (" + std::to_string(test_rows) + ")");
}

}  // namespace detail

// FastIF on precomputed gradients (n x p and n_test x p) and representations (n x d and
// n_test x d): gradients of non-candidates are never read.
template <inverse_hessian_product S>
sparse_data_attribution fast_influence(const S& solver, const matrix& train_gradients, const matrix& test_gradients,
                                       const matrix& train_representation, const matrix& test_representation,
                                       const fast_influence_options& options = {}) {
  detail::require(train_gradients.rows() > 0, "fast_influence: train_gradients is empty; expected one row per training point");
  detail::require(test_gradients.rows() > 0, "fast_influence: test_gradients is empty; expected one row per test point");
  detail::require(train_gradients.cols() == solver.dim() && test_gradients.cols() == solver.dim(),
                  "fast_influence: gradients have " + std::to_string(train_gradients.cols()) + " (train) and " +
                      std::to_string(test_gradients.cols()) + " (test) columns, expected the parameter count " +
                      std::to_string(solver.dim()));
  detail::check_fast_influence_sizes(train_gradients.rows(), test_gradients.rows(), train_representation,
                                     test_representation);
  detail::check_knn(train_representation, test_representation, options.k, "fast_influence");
  detail::require_finite(test_gradients, "fast_influence: test_gradients");
  index_matrix candidates =
      exact_nearest_neighbours(train_representation, test_representation, options.k, options.threads);
  const std::vector<index> distinct = detail::distinct_candidates(candidates, train_gradients.rows());
  matrix used(static_cast<index>(distinct.size()), train_gradients.cols());
  for (std::size_t s = 0; s < distinct.size(); ++s) used.row(static_cast<index>(s)) = train_gradients.row(distinct[s]);
  detail::require_finite(used, "fast_influence: train_gradients (rows of the candidates)");
  return detail::score_candidates(solver, std::move(candidates), train_gradients.rows(), distinct, used, test_gradients,
                                  options.threads);
}

// FastIF from a model and its data: the per-example loss gradients are computed for the test
// points and for the distinct candidates only, in one batch each.
template <trainable_model M, inverse_hessian_product S>
sparse_data_attribution fast_influence(const S& solver, const M& model, const matrix& train_x, const vector& train_y,
                                       const matrix& test_x, const vector& test_y,
                                       const matrix& train_representation, const matrix& test_representation,
                                       const fast_influence_options& options = {}) {
  detail::require(train_x.rows() > 0, "fast_influence: train_x is empty; expected at least one training point");
  detail::require(test_x.rows() > 0, "fast_influence: test_x is empty; expected at least one test point");
  detail::require_size(train_y.size(), train_x.rows(), "fast_influence: train_y");
  detail::require_size(test_y.size(), test_x.rows(), "fast_influence: test_y");
  detail::require(model.parameter_count() == solver.dim(),
                  "fast_influence: the model has " + std::to_string(model.parameter_count()) +
                      " parameters but the solver's dimension is " + std::to_string(solver.dim()));
  detail::check_fast_influence_sizes(train_x.rows(), test_x.rows(), train_representation, test_representation);
  detail::check_knn(train_representation, test_representation, options.k, "fast_influence");
  index_matrix candidates =
      exact_nearest_neighbours(train_representation, test_representation, options.k, options.threads);
  const std::vector<index> distinct = detail::distinct_candidates(candidates, train_x.rows());
  matrix x(static_cast<index>(distinct.size()), train_x.cols());
  vector y(static_cast<index>(distinct.size()));
  for (std::size_t s = 0; s < distinct.size(); ++s) {
    x.row(static_cast<index>(s)) = train_x.row(distinct[s]);
    y[static_cast<index>(s)] = train_y[distinct[s]];
  }
  const matrix gradients = model.per_example_loss_gradients(x, y);
  const matrix test_gradients = model.per_example_loss_gradients(test_x, test_y);
  detail::require_finite(gradients, "fast_influence: training gradients of the candidates");
  detail::require_finite(test_gradients, "fast_influence: test gradients");
  return detail::score_candidates(solver, std::move(candidates), train_x.rows(), distinct, gradients, test_gradients,
                                  options.threads);
}

}  // namespace attrib
