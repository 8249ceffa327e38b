#pragma once
// Ground truth and metrics for data attribution: Pearson and Spearman correlation, ROC-AUC,
// label flipping, warm-started Newton retraining, exact leave-one-out, and the linear datamodeling
// score (LDS, Park et al. 2023). attrib computes its own ground truth: nothing is downloaded.
#include <Eigen/Cholesky>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "attrib/concepts/trainable_model.hpp"
#include "attrib/core/data_attribution.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/parallel.hpp"
#include "attrib/core/random.hpp"
#include "attrib/core/types.hpp"
#include "attrib/core/validate.hpp"

namespace attrib {

inline double pearson(const vector& a, const vector& b) {
  detail::require_size(b.size(), a.size(), "pearson: second argument");
  detail::require(a.size() >= 2, "pearson: need at least two values");
  const vector ca = a.array() - a.mean();
  const vector cb = b.array() - b.mean();
  const double den = ca.norm() * cb.norm();
  return den > 0 ? ca.dot(cb) / den : std::numeric_limits<double>::quiet_NaN();
}

// Ranks 1..n, ties given their average rank.
inline vector average_ranks(const vector& a) {
  std::vector<index> order(static_cast<std::size_t>(a.size()));
  std::iota(order.begin(), order.end(), index{0});
  std::stable_sort(order.begin(), order.end(), [&](index i, index j) { return a[i] < a[j]; });
  vector ranks(a.size());
  for (std::size_t s = 0; s < order.size();) {
    std::size_t e = s;
    while (e + 1 < order.size() && a[order[e + 1]] == a[order[s]]) ++e;
    const double r = 0.5 * static_cast<double>(s + e) + 1.0;
    for (std::size_t k = s; k <= e; ++k) ranks[order[k]] = r;
    s = e + 1;
  }
  return ranks;
}

// Pearson correlation of the average ranks (the tie-corrected Spearman rho).
inline double spearman(const vector& a, const vector& b) {
  detail::require_size(b.size(), a.size(), "spearman: second argument");
  detail::require_finite(a, "spearman: first argument");
  detail::require_finite(b, "spearman: second argument");
  return pearson(average_ranks(a), average_ranks(b));
}

// Area under the ROC curve of `scores` for the positives (labels 1) against the negatives
// (labels 0): the Mann-Whitney probability that a positive outscores a negative, ties counted 1/2.
inline double roc_auc(const vector& scores, const vector& labels) {
  detail::require_size(labels.size(), scores.size(), "roc_auc: labels");
  detail::require_finite(scores, "roc_auc: scores");
  const vector ranks = average_ranks(scores);
  double positives = 0, rank_sum = 0;
  for (index i = 0; i < labels.size(); ++i) {
    detail::require(labels[i] == 0 || labels[i] == 1, "roc_auc: labels[" + std::to_string(i) + "] is " +
                                                          std::to_string(labels[i]) + ", expected 0 or 1");
    if (labels[i] == 1) {
      positives += 1;
      rank_sum += ranks[i];
    }
  }
  const double negatives = static_cast<double>(labels.size()) - positives;
  detail::require(positives > 0 && negatives > 0, "roc_auc: need at least one positive and one negative");
  return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives);
}

struct flipped_labels {
  vector labels;
  vector flipped;  // 1 where the label was changed
};

// Changes round(fraction * n) labels, chosen by a seeded shuffle, each to a different class
// drawn uniformly.
inline flipped_labels flip_labels(const vector& labels, index classes, double fraction, std::uint64_t seed) {
  detail::require(classes >= 2, "flip_labels: classes must be at least 2");
  detail::require(fraction >= 0 && fraction <= 1, "flip_labels: fraction must lie in [0, 1]");
  for (index i = 0; i < labels.size(); ++i)
    detail::require(labels[i] == std::floor(labels[i]) && labels[i] >= 0 && labels[i] < static_cast<double>(classes),
                    "flip_labels: labels[" + std::to_string(i) + "] is " + std::to_string(labels[i]) +
                        ", expected an integer class in [0, " + std::to_string(classes) + ")");
  std::vector<index> order(static_cast<std::size_t>(labels.size()));
  std::iota(order.begin(), order.end(), index{0});
  rng gen = rng::stream(seed, 0);
  gen.shuffle(order.begin(), order.end());
  const auto count = static_cast<std::size_t>(std::llround(fraction * static_cast<double>(labels.size())));
  flipped_labels out{labels, vector::Zero(labels.size())};
  for (std::size_t k = 0; k < count; ++k) {
    const index i = order[k];
    const auto shift = 1 + gen.below(static_cast<std::uint64_t>(classes - 1));
    out.labels[i] = static_cast<double>((static_cast<std::uint64_t>(labels[i]) + shift) % static_cast<std::uint64_t>(classes));
    out.flipped[i] = 1;
  }
  return out;
}

// Each example's unregularised loss under `model` (the model's l2 is ignored).
template <twice_differentiable_model M>
vector example_losses(const M& model, const matrix& x, const vector& y) {
  M plain = model;
  plain.set_l2(0.0);
  vector out(x.rows());
  for (index i = 0; i < x.rows(); ++i) out[i] = plain.loss(x.row(i), y.segment(i, 1));
  return out;
}

struct retrain_options {
  double tolerance = 1e-10;  // on the gradient's max-norm
  int max_iterations = 50;
};

// Newton's method with backtracking from the model's current parameters (a warm start), on
// the model's own loss() (mean loss + penalty at its l2()). Returns the iterations used.
template <twice_differentiable_model M>
int retrain_newton(M& model, const matrix& x, const vector& y, const retrain_options& options = {}) {
  detail::require(x.rows() > 0, "retrain_newton: the training set must not be empty");
  vector theta = model.parameters();
  double current = model.loss(x, y);
  int it = 0;
  for (; it < options.max_iterations; ++it) {
    const vector g = model.loss_gradient(x, y);
    if (g.template lpNorm<Eigen::Infinity>() <= options.tolerance) break;
    Eigen::MatrixXd h = model.hessian(x, y);
    h.diagonal().array() += 1e-12 * (1.0 + h.diagonal().cwiseAbs().maxCoeff());
    const vector step = -h.ldlt().solve(g);
    const double slope = g.dot(step);
    double t = 1.0, trial = current;
    for (; t > 1e-12; t *= 0.5) {
      model.set_parameters(theta + t * step);
      trial = model.loss(x, y);
      if (trial <= current + 1e-4 * t * slope) break;
    }
    if (t <= 1e-12) {
      model.set_parameters(theta);
      break;
    }
    theta = model.parameters();
    current = trial;
  }
  return it;
}

namespace detail {
inline matrix select_rows(const matrix& x, const std::vector<index>& rows) {
  matrix out(static_cast<index>(rows.size()), x.cols());
  for (std::size_t r = 0; r < rows.size(); ++r) out.row(static_cast<index>(r)) = x.row(rows[r]);
  return out;
}
inline vector select_rows(const vector& y, const std::vector<index>& rows) {
  vector out(static_cast<index>(rows.size()));
  for (std::size_t r = 0; r < rows.size(); ++r) out[static_cast<index>(r)] = y[rows[r]];
  return out;
}
}  // namespace detail

// Exact leave-one-out of training points first .. last-1: for each, retrain (warm-started Newton,
// in parallel, deterministic) without it and record the change of each test point's loss.
// (last - first) x n_test; row i - first depends on point i alone, so a caller may split the
// points (over processes) and stack the blocks into exact_loo's matrix, bit for bit.
template <twice_differentiable_model M>
matrix exact_loo_rows(const M& model, const matrix& x, const vector& y, const matrix& test_x, const vector& test_y,
                      index first, index last, std::size_t threads = 1, const retrain_options& options = {}) {
  detail::require(x.rows() > 1, "exact_loo: need at least two training points");
  detail::require_size(y.size(), x.rows(), "exact_loo: targets");
  detail::require(first >= 0 && first <= last && last <= x.rows(),
                  "exact_loo: rows [" + std::to_string(first) + ", " + std::to_string(last) +
                      ") are not a range of the " + std::to_string(x.rows()) + " training points");
  const vector base = example_losses(model, test_x, test_y);
  const index n = x.rows();
  matrix out(last - first, test_x.rows());
  parallel_for(static_cast<std::size_t>(last - first), threads, [&](std::size_t c) {
    const index i = first + static_cast<index>(c);
    std::vector<index> keep;
    keep.reserve(static_cast<std::size_t>(n - 1));
    for (index k = 0; k < n; ++k)
      if (k != i) keep.push_back(k);
    M m = model;
    retrain_newton(m, detail::select_rows(x, keep), detail::select_rows(y, keep), options);
    out.row(i - first) = (example_losses(m, test_x, test_y) - base).transpose();
  });
  return out;
}

// Exact leave-one-out of every training point: n_train x n_test.
template <twice_differentiable_model M>
matrix exact_loo(const M& model, const matrix& x, const vector& y, const matrix& test_x, const vector& test_y,
                 std::size_t threads = 1, const retrain_options& options = {}) {
  return exact_loo_rows(model, x, y, test_x, test_y, 0, x.rows(), threads, options);
}

// Random alpha-fraction subsets: row s is a 0/1 mask of floor(alpha * n) points drawn from
// rng::stream(seed, s).
inline matrix random_subset_masks(index n, index subsets, double alpha, std::uint64_t seed) {
  detail::require(n > 0 && subsets > 0, "random_subset_masks: n and subsets must be positive");
  detail::require(alpha > 0 && alpha <= 1, "random_subset_masks: alpha must lie in (0, 1]");
  const auto size = static_cast<index>(std::floor(alpha * static_cast<double>(n)));
  detail::require(size > 0, "random_subset_masks: alpha * n is below one point");
  matrix masks = matrix::Zero(subsets, n);
  std::vector<index> order(static_cast<std::size_t>(n));
  for (index s = 0; s < subsets; ++s) {
    std::iota(order.begin(), order.end(), index{0});
    rng gen = rng::stream(seed, static_cast<std::uint64_t>(s));
    gen.shuffle(order.begin(), order.end());
    for (index k = 0; k < size; ++k) masks(s, order[static_cast<std::size_t>(k)]) = 1;
  }
  return masks;
}

// Retrains a copy of `model` on each mask's subset (warm start from the model) and returns the
// test outputs: subsets x n_test, output(model, test_x, test_y) -> vector.
template <twice_differentiable_model M, class Output>
matrix subset_outputs(const M& model, const matrix& x, const vector& y, const matrix& masks, const matrix& test_x,
                      const vector& test_y, Output output, std::size_t threads = 1,
                      const retrain_options& options = {}) {
  detail::require_size(masks.cols(), x.rows(), "subset_outputs: mask width");
  matrix out(masks.rows(), test_x.rows());
  parallel_for(static_cast<std::size_t>(masks.rows()), threads, [&](std::size_t c) {
    const auto s = static_cast<index>(c);
    std::vector<index> keep;
    for (index k = 0; k < masks.cols(); ++k)
      if (masks(s, k) != 0) keep.push_back(k);
    detail::require(!keep.empty(), "subset_outputs: mask " + std::to_string(s) + " selects no point");
    M m = model;
    retrain_newton(m, detail::select_rows(x, keep), detail::select_rows(y, keep), options);
    out.row(s) = vector(output(m, test_x, test_y)).transpose();
  });
  return out;
}

// Linear datamodeling score: for each test point j, Spearman across subsets s between the
// predicted output sum_{i in S_s} scores(i, j) and the actual output outputs(s, j).
inline lds_result linear_datamodeling_score(const matrix& scores, const matrix& masks, const matrix& outputs) {
  detail::require_size(masks.cols(), scores.rows(), "linear_datamodeling_score: mask width");
  detail::require(outputs.rows() == masks.rows() && outputs.cols() == scores.cols(),
                  "linear_datamodeling_score: outputs must be subsets x test points");
  const matrix predicted = masks * scores;
  lds_result r{0, vector(scores.cols())};
  for (index j = 0; j < scores.cols(); ++j) r.per_test[j] = spearman(predicted.col(j), outputs.col(j));
  r.mean = r.per_test.mean();
  return r;
}

// Pooled correlation of predicted against actual (all entries of both matrices flattened).
inline correlation_summary pooled_correlation(const matrix& predicted, const matrix& actual) {
  detail::require(predicted.rows() == actual.rows() && predicted.cols() == actual.cols(),
                  "pooled_correlation: shapes differ");
  const vector a = Eigen::Map<const vector>(predicted.data(), predicted.size());
  const vector b = Eigen::Map<const vector>(actual.data(), actual.size());
  return {pearson(a, b), spearman(a, b)};
}

}  // namespace attrib
