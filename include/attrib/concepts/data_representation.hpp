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
