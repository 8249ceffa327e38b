#pragma once
// The spine of gradient-based data attribution: representation -> transform -> inner product.
//
//   score(train i, test j) = scale * < T_test phi(z_j), T_train phi(z_i) >
//
// phi is a data_representation (per-example loss gradients, or their TRAK projection); T is a
// feature_transform (identity for Grad-Dot, row normalisation for Grad-Cos, an inverse-Hessian
// product for influence functions, the TRAK kernel). Every method in methods/data/ is one pair
// (representation, transform) run through inner_product_attribution.
//
// Orientation: Grad-Dot, Grad-Cos, TracIn and TRAK scores are "support": positive when a gradient
// step on the training point lowers the test loss. Influence functions follow Koh and Liang:
// I_up,loss, the change of the test loss per unit up-weighting, so supporting points are negative.
#include <cmath>
#include <concepts>
#include <string>
#include <utility>
#include <vector>

#include "attrib/concepts/data_representation.hpp"
#include "attrib/concepts/inverse_hessian.hpp"
#include "attrib/concepts/trainable_model.hpp"
#include "attrib/core/data_attribution.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"
#include "attrib/core/validate.hpp"

namespace attrib {

// phi = per-example gradients of the training loss (without the penalty) at the model's
// parameters. Holds a reference to the model.
template <trainable_model M>
struct loss_gradients {
  const M* model;
  explicit loss_gradients(const M& m) : model(&m) {}
  matrix features(const matrix& x, const vector& y) const { return model->per_example_loss_gradients(x, y); }
};

struct identity_transform {
  static constexpr bool keeps_train_rows = true;
  transformed_features train(const matrix& phi) const { return {phi, {}}; }
  transformed_features test(const matrix& phi) const { return {phi, {}}; }
};

// Rows scaled to unit length (rows of zeros stay zero): the inner product becomes a cosine.
struct normalize_transform {
  static matrix normalized(const matrix& phi) {
    matrix out = phi;
    for (index i = 0; i < out.rows(); ++i) {
      const double n = out.row(i).norm();
      if (n > 0) out.row(i) /= n;
    }
    return out;
  }
  transformed_features train(const matrix& phi) const { return {normalized(phi), {}}; }
  transformed_features test(const matrix& phi) const { return {normalized(phi), {}}; }
};

// Test rows mapped through any inverse_hessian_product; training rows untouched.
template <inverse_hessian_product S>
struct inverse_hessian_transform {
  const S* solver;
  static constexpr bool keeps_train_rows = true;
  explicit inverse_hessian_transform(const S& s) : solver(&s) {}
  transformed_features train(const matrix& phi) const { return {phi, {}}; }
  transformed_features test(const matrix& phi) const {
    detail::require(phi.cols() == solver->dim(), "inverse_hessian_transform: features have " +
                                                     std::to_string(phi.cols()) + " columns, expected " +
                                                     std::to_string(solver->dim()));
    transformed_features out{matrix(phi.rows(), phi.cols()), {}};
    for (index j = 0; j < phi.rows(); ++j) {
      ihvp_result r = solver->solve(phi.row(j).transpose());
      out.features.row(j) = r.solution.transpose();
      out.diagnostics.push_back(std::move(r.diagnostics));
    }
    return out;
  }
};

namespace detail {
inline void require_features(const matrix& train, const matrix& test, const std::string& who) {
  require(train.rows() > 0, who + ": the training set must not be empty");
  require(test.rows() > 0, who + ": there must be at least one test point");
  require(train.cols() == test.cols(), who + ": training features have " + std::to_string(train.cols()) +
                                           " columns but test features " + std::to_string(test.cols()));
  require_finite(train, who + ": training features");
  require_finite(test, who + ": test features");
}

// A transform's output is checked like an input: an inverse-Hessian solve that diverged must not
// turn into scores. `rows` is the row count before the transform, `columns` the other side's.
inline void require_transformed(const std::string& method, const transformed_features& t, index rows, index columns,
                                const char* side) {
  require(t.features.rows() == rows && t.features.cols() == columns,
          method + ": the transform turned " + std::to_string(rows) + " " + side + " rows into a " +
              std::to_string(t.features.rows()) + " x " + std::to_string(t.features.cols()) +
              " matrix; expected one row per example and as many columns on both sides");
  for (index i = 0; i < t.features.rows(); ++i)
    require(t.features.row(i).allFinite(),
            method + ": the transformed " + side + " features of row " + std::to_string(i) + " are not finite" +
                (i < static_cast<index>(t.diagnostics.size()) && !t.diagnostics[static_cast<std::size_t>(i)].message.empty()
                     ? " (" + t.diagnostics[static_cast<std::size_t>(i)].message + ")"
                     : std::string(" (did an inverse-Hessian solve diverge?)")));
}
}  // namespace detail

// The inner product step on precomputed features.
template <feature_transform T>
data_attribution inner_product_attribution(std::string method, const matrix& train_features,
                                           const matrix& test_features, const T& transform, double scale = 1.0) {
  detail::require_features(train_features, test_features, method);
  transformed_features te = transform.test(test_features);
  if constexpr (train_rows_kept<T>) {
    detail::require_transformed(method, te, test_features.rows(), train_features.cols(), "test");
    return {std::move(method), scale * (train_features * te.features.transpose()), std::move(te.diagnostics)};
  } else {
    transformed_features tr = transform.train(train_features);
    detail::require_transformed(method, tr, train_features.rows(), te.features.cols(), "training");
    detail::require_transformed(method, te, test_features.rows(), tr.features.cols(), "test");
    return {std::move(method), scale * (tr.features * te.features.transpose()), std::move(te.diagnostics)};
  }
}

// The same step in two halves, for callers that score the training set block by block (a
// distributed run: attrib/mpi/shard_rows.hpp): the test side transformed once (the costly half
// for influence functions, one inverse-Hessian solve per test point), then any block of
// training rows scored against it. A training row's score depends on the block it is in only
// through the product's rounding; the same blocks give the same bits wherever they run.
template <feature_transform T>
transformed_features transformed_test_features(const std::string& method, const matrix& test_features,
                                               const T& transform) {
  detail::require(test_features.rows() > 0, method + ": there must be at least one test point");
  detail::require_finite(test_features, method + ": test features");
  transformed_features te = transform.test(test_features);
  detail::require_transformed(method, te, test_features.rows(), te.features.cols(), "test");
  return te;
}

template <feature_transform T>
matrix inner_product_scores(const std::string& method, const matrix& train_features, const transformed_features& test,
                            const T& transform, double scale = 1.0) {
  detail::require(train_features.rows() > 0, method + ": the training block must not be empty");
  detail::require_finite(train_features, method + ": training features");
  if constexpr (train_rows_kept<T>) {
    detail::require(train_features.cols() == test.features.cols(),
                    method + ": training features have " + std::to_string(train_features.cols()) +
                        " columns but the transformed test features " + std::to_string(test.features.cols()));
    return scale * (train_features * test.features.transpose());
  } else {
    const transformed_features tr = transform.train(train_features);
    detail::require_transformed(method, tr, train_features.rows(), test.features.cols(), "training");
    return scale * (tr.features * test.features.transpose());
  }
}

// The whole pipeline from data.
template <data_representation R, feature_transform T>
data_attribution inner_product_attribution(std::string method, const R& representation, const T& transform,
                                           const matrix& train_x, const vector& train_y, const matrix& test_x,
                                           const vector& test_y, double scale = 1.0) {
  return inner_product_attribution(std::move(method), representation.features(train_x, train_y),
                                   representation.features(test_x, test_y), transform, scale);
}

// Grad-Dot: <g_test, g_train>.
inline data_attribution grad_dot(const matrix& train_gradients, const matrix& test_gradients) {
  return inner_product_attribution("grad_dot", train_gradients, test_gradients, identity_transform{});
}

// Grad-Cos: cos(g_test, g_train).
inline data_attribution grad_cos(const matrix& train_gradients, const matrix& test_gradients) {
  return inner_product_attribution("grad_cos", train_gradients, test_gradients, normalize_transform{});
}

static_assert(feature_transform<identity_transform>);
static_assert(feature_transform<normalize_transform>);

}  // namespace attrib
