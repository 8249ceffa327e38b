#pragma once
// TRAK (Park et al. 2023): per-example gradients of the margin projected to k dimensions,
// Phi = G P, scored through the kernel (Phi^T Phi + lambda I)^-1, weighted by 1 - p_i (the
// probability of the correct class, the derivative of the loss with respect to the margin), and
// averaged over ensemble members (checkpoints, or models trained on random subsets).
//
// The projection P (p x k) is never materialised: its columns are cut into blocks of
// block_width, and block b is generated, column by column, from rng::stream(seed, b), used in one
// GEMM and dropped. P therefore depends on (seed, kind, block_width) only, and the features are
// identical for any thread count. Entries are N(0, 1) or +-1, scaled by 1 / sqrt(k) so that
// inner products are preserved in expectation.
#include <Eigen/Cholesky>
#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "attrib/concepts/trainable_model.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/parallel.hpp"
#include "attrib/core/random.hpp"
#include "attrib/core/types.hpp"
#include "attrib/core/validate.hpp"
#include "attrib/methods/data/grad_similarity.hpp"
#include "attrib/models/logistic_regression.hpp"

namespace attrib {

enum class projection_kind { gaussian, rademacher };

class random_projection {
 public:
  random_projection(index input_dim, index output_dim, std::uint64_t seed,
                    projection_kind kind = projection_kind::rademacher, index block_width = 64)
      : p_(input_dim), k_(output_dim), seed_(seed), kind_(kind), block_(block_width) {
    detail::require(p_ > 0, "random_projection: input_dim must be positive");
    detail::require(k_ > 0, "random_projection: output_dim must be positive");
    detail::require(block_ > 0, "random_projection: block_width must be positive");
  }

  index input_dim() const { return p_; }
  index output_dim() const { return k_; }
  index blocks() const { return (k_ + block_ - 1) / block_; }

  // Columns [b * block_width, ...) of P, generated from rng::stream(seed, b). Column-major p x w.
  Eigen::MatrixXd block(index b) const {
    const index first = b * block_;
    const index width = std::min(block_, k_ - first);
    Eigen::MatrixXd out(p_, width);
    rng gen = rng::stream(seed_, static_cast<std::uint64_t>(b));
    const double s = 1.0 / std::sqrt(static_cast<double>(k_));
    double* d = out.data();
    const index total = p_ * width;
    if (kind_ == projection_kind::gaussian)
      for (index e = 0; e < total; ++e) d[e] = s * gen.normal();
    else
      for (index e = 0; e < total; ++e) d[e] = s * gen.rademacher();
    return out;
  }

  // The whole P, for tests and small problems.
  Eigen::MatrixXd materialize() const {
    Eigen::MatrixXd out(p_, k_);
    for (index b = 0; b < blocks(); ++b) {
      const Eigen::MatrixXd blk = block(b);
      out.middleCols(b * block_, blk.cols()) = blk;
    }
    return out;
  }

  // G P for the rows of G (n x p), one block of P at a time; blocks run in parallel and write
  // disjoint columns, so the result does not depend on `threads`.
  matrix project(const matrix& g, std::size_t threads = 1) const {
    detail::require(g.cols() == p_, "random_projection: gradients have " + std::to_string(g.cols()) +
                                        " columns, expected " + std::to_string(p_));
    matrix out(g.rows(), k_);
    parallel_for(static_cast<std::size_t>(blocks()), threads, [&](std::size_t c) {
      const auto b = static_cast<index>(c);
      const Eigen::MatrixXd blk = block(b);
      out.middleCols(b * block_, blk.cols()).noalias() = g * blk;
    });
    return out;
  }

 private:
  index p_, k_;
  std::uint64_t seed_;
  projection_kind kind_;
  index block_;
};

namespace detail {
// Classes of a classifier read through its logits: one logit is a binary sigmoid classifier.
template <logit_model M>
index logit_classes(const M& model) {
  return std::max<index>(2, model.output_dim());
}
}  // namespace detail

// Per-example gradients of the margin f = logit_y - logsumexp_{c != y} logit_c (one logit, a
// sigmoid classifier: +-logit) with respect to the model's parameters, in parameters() order:
// the margin's gradient with respect to the logits, pulled back through
// per_example_logit_gradients. Any logit_model: logistic regression, an MLP classifier.
template <logit_model M>
matrix margin_gradients(const M& model, const matrix& x, const vector& y) {
  detail::require_labels(x, y, detail::logit_classes(model), "margin_gradients");
  const matrix s = model.logits(x);
  const index k = model.output_dim();
  matrix dm(x.rows(), k);
  for (index i = 0; i < x.rows(); ++i) {
    const auto label = static_cast<index>(y[i]);
    if (k == 1) {
      dm(i, 0) = label == 1 ? 1.0 : -1.0;
      continue;
    }
    double top = -std::numeric_limits<double>::infinity();
    for (index c = 0; c < k; ++c)
      if (c != label) top = std::max(top, s(i, c));
    double sum = 0;
    for (index c = 0; c < k; ++c) dm(i, c) = c == label ? 0.0 : std::exp(s(i, c) - top), sum += dm(i, c);
    dm.row(i) /= -sum;
    dm(i, label) = 1.0;
  }
  return model.per_example_logit_gradients(x, dm);
}

// The probability the model gives to each example's label (sigmoid of one logit, softmax of
// several).
template <logit_model M>
vector correct_class_probability(const M& model, const matrix& x, const vector& y) {
  detail::require_labels(x, y, detail::logit_classes(model), "correct_class_probability");
  matrix s = model.logits(x);
  vector out(x.rows());
  for (index i = 0; i < x.rows(); ++i) {
    if (model.output_dim() == 1) {
      const double p1 = detail::logistic(s(i, 0));
      out[i] = y[i] == 1 ? p1 : 1 - p1;
    } else {
      const double top = s.row(i).maxCoeff();
      const double z = (s.row(i).array() - top).exp().sum();
      out[i] = std::exp(s(i, static_cast<index>(y[i])) - top) / z;
    }
  }
  return out;
}

namespace detail {
// One member's Phi (Phi^T Phi + lambda' I)^-1 Phi_test^T, lambda' = lambda times the mean of
// the kernel's diagonal (plus a 1e-10 relative jitter that keeps the LDLT solvable).
template <class = void>  // compiled where it is called
matrix trak_kernel_scores(const matrix& phi, const matrix& phi_test, double lambda) {
  Eigen::MatrixXd kernel = phi.transpose() * phi;
  const double scale = kernel.diagonal().mean();
  kernel.diagonal().array() += lambda * scale + 1e-10 * std::max(scale, 1e-300);
  const Eigen::MatrixXd solved = kernel.ldlt().solve(Eigen::MatrixXd(phi_test.transpose()));
  return phi * solved;
}
}  // namespace detail

struct trak_options {
  index projection_dim = 512;
  std::uint64_t seed = 0;
  projection_kind kind = projection_kind::rademacher;
  index block_width = 64;
  double lambda = 0.0;  // ridge on Phi^T Phi, relative to its mean diagonal
  std::size_t threads = 1;
};

// One ensemble member's ingredients: gradients of the margin (train, test) and 1 - p_i.
struct trak_member {
  matrix train_gradients;
  matrix test_gradients;
  vector train_weights;  // 1 - p_i
};

// Scores (n_train x n_test) = mean over members of Phi (Phi^T Phi + lambda I)^-1 Phi_test^T,
// rows multiplied by the mean over members of 1 - p_i (TRAK's finalize_scores).
template <class = void>  // compiled where it is called
data_attribution trak(const std::vector<trak_member>& members, const trak_options& options = {}) {
  detail::require(!members.empty(), "trak: need at least one ensemble member");
  const index p = members.front().train_gradients.cols();
  const random_projection proj(p, options.projection_dim, options.seed, options.kind, options.block_width);
  detail::require(options.lambda >= 0 && std::isfinite(options.lambda), "trak: lambda must be non-negative");
  matrix scores;
  vector weights;
  for (std::size_t m = 0; m < members.size(); ++m) {
    const auto& mem = members[m];
    const std::string who = "trak: member " + std::to_string(m);
    detail::require_features(mem.train_gradients, mem.test_gradients, who);
    detail::require(mem.train_gradients.cols() == p, who + ": parameter count differs from member 0");
    detail::require_size(mem.train_weights.size(), mem.train_gradients.rows(), who + ": train_weights");
    if (m == 0) {
      scores = matrix::Zero(mem.train_gradients.rows(), mem.test_gradients.rows());
      weights = vector::Zero(mem.train_gradients.rows());
    }
    detail::require(mem.train_gradients.rows() == scores.rows() && mem.test_gradients.rows() == scores.cols(),
                    who + ": numbers of training or test points differ from member 0");
    scores += detail::trak_kernel_scores(proj.project(mem.train_gradients, options.threads),
                                         proj.project(mem.test_gradients, options.threads), options.lambda);
    weights += mem.train_weights;
  }
  const double count = static_cast<double>(members.size());
  scores = ((scores / count).array().colwise() * (weights / count).array()).matrix();
  return {"trak", std::move(scores), {}};
}

// TRAK of one model (one ensemble member) from its projected features: rows of phi are the
// training points' projected margin gradients, rows of phi_test the test points', weights their
// 1 - p_i. What trak() computes for a single member, for callers that project the training
// points themselves: in shards, spread over processes (attrib data under mpirun).
template <class = void>  // compiled where it is called
data_attribution trak_from_features(const matrix& phi, const matrix& phi_test, const vector& train_weights,
                                    double lambda = 0.0) {
  detail::require_features(phi, phi_test, "trak_from_features");
  detail::require_size(train_weights.size(), phi.rows(), "trak_from_features: train_weights");
  detail::require(lambda >= 0 && std::isfinite(lambda), "trak_from_features: lambda must be non-negative");
  matrix scores = detail::trak_kernel_scores(phi, phi_test, lambda);
  scores = (scores.array().colwise() * train_weights.array()).matrix();
  return {"trak", std::move(scores), {}};
}

// The member of a model at its current parameters.
template <logit_model M>
trak_member trak_member_for(const M& model, const matrix& train_x, const vector& train_y,
                            const matrix& test_x, const vector& test_y) {
  return {margin_gradients(model, train_x, train_y), margin_gradients(model, test_x, test_y),
          (1.0 - correct_class_probability(model, train_x, train_y).array()).matrix()};
}

// "Efficient ensemble" members: copies of `model` refitted by retrain(copy, X_subset, y_subset)
// on random alpha-fractions of the training set drawn from rng::stream(seed, m), each scoring
// every training point (points outside its subset included, as TRAK's subset ensembles do).
// retrain is called from several threads at once, each time on its own copy.
template <logit_model M, class Retrain>
  requires std::invocable<const Retrain&, M&, const matrix&, const vector&>
std::vector<trak_member> trak_subset_members(const M& model, const Retrain& retrain, const matrix& train_x,
                                             const vector& train_y, const matrix& test_x, const vector& test_y,
                                             index members, double alpha, std::uint64_t seed,
                                             std::size_t threads = 1) {
  detail::require(members > 0, "trak_subset_members: members must be positive");
  detail::require(alpha > 0 && alpha <= 1, "trak_subset_members: alpha must lie in (0, 1]");
  detail::require_size(train_y.size(), train_x.rows(), "trak_subset_members: train_y");
  const index n = train_x.rows();
  const auto size = static_cast<index>(std::floor(alpha * static_cast<double>(n)));
  detail::require(size >= 2, "trak_subset_members: alpha * n must be at least 2 points to train on");
  std::vector<trak_member> out(static_cast<std::size_t>(members));
  parallel_for(static_cast<std::size_t>(members), threads, [&](std::size_t m) {
    std::vector<index> order(static_cast<std::size_t>(n));
    for (index i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
    rng gen = rng::stream(seed, m);
    gen.shuffle(order.begin(), order.end());
    matrix xs(size, train_x.cols());
    vector ys(size);
    for (index i = 0; i < size; ++i) {
      xs.row(i) = train_x.row(order[static_cast<std::size_t>(i)]);
      ys[i] = train_y[order[static_cast<std::size_t>(i)]];
    }
    M member = model;
    retrain(member, xs, ys);
    out[m] = trak_member_for(member, train_x, train_y, test_x, test_y);
  });
  return out;
}

// The same for a logistic regression, refitted by Newton from zero with the model's l2.
template <class = void>  // compiled where it is called
std::vector<trak_member> trak_subset_members(const logistic_regression& model, const matrix& train_x,
                                             const vector& train_y, const matrix& test_x,
                                             const vector& test_y, index members, double alpha,
                                             std::uint64_t seed, std::size_t threads = 1) {
  const double l2 = model.l2();
  return trak_subset_members(
      model, [l2](logistic_regression& m, const matrix& xs, const vector& ys) { m.train(xs, ys, {.l2 = l2}); },
      train_x, train_y, test_x, test_y, members, alpha, seed, threads);
}

}  // namespace attrib
