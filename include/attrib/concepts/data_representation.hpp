#pragma once
// The two parts of gradient-based data attribution: a representation phi of examples (per-example
// loss gradients, their random projection) and a transform T applied before the inner product
// (identity, normalisation, an inverse-Hessian product, the TRAK kernel).
#include <concepts>

#include "attrib/core/data_attribution.hpp"
#include "attrib/core/types.hpp"

namespace attrib {

// r.features(inputs, targets): one row per example.
template <class R>
concept data_representation = requires(const R& r, const matrix& x, const vector& y) {
  { r.features(x, y) } -> std::convertible_to<matrix>;
};

// t.train(phi) and t.test(phi) map feature rows to the rows that enter the inner product.
template <class T>
concept feature_transform = requires(const T& t, const matrix& phi) {
  { t.train(phi) } -> std::convertible_to<transformed_features>;
  { t.test(phi) } -> std::convertible_to<transformed_features>;
};

// Opt-in: a transform whose train() returns its rows unchanged (identity, inverse-Hessian
// products) says so with `static constexpr bool keeps_train_rows = true;`, and the inner product
// then reads the caller's training rows instead of a copy of them.
template <class T>
concept train_rows_kept = feature_transform<T> && requires {
  requires T::keeps_train_rows;
};

namespace archetypes {
// The least a representation must be: each example is its own input row.
struct data_representation {
  matrix features(const matrix& x, const vector&) const { return x; }
};
// The least a transform must be: the identity on both sides, with nothing to report.
struct feature_transform {
  transformed_features train(const matrix& phi) const { return {phi, {}}; }
  transformed_features test(const matrix& phi) const { return {phi, {}}; }
};
}  // namespace archetypes

static_assert(data_representation<archetypes::data_representation>);
static_assert(feature_transform<archetypes::feature_transform>);

}  // namespace attrib
