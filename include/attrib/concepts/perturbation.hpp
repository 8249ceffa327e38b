#pragma once
// perturbation_for: how an interpretable point z becomes model inputs around a point x.
#include <concepts>
#include <cstdint>

#include "attrib/core/types.hpp"

namespace attrib {

// p.map(x, z, inputs) writes the inputs for every row of z into `inputs`, which has
// z.rows() * p.inputs_per_point() rows: a point's value is the mean model output over its
// inputs (the expectation over a background set, or one row for a single baseline).
template <class P, class X = vector>
concept perturbation_for = requires(const P& p, const X& x, const matrix& z, matrix& inputs) {
  { p.interpretable_dim() } -> std::convertible_to<index>;
  { p.input_dim() } -> std::convertible_to<index>;
  { p.inputs_per_point() } -> std::convertible_to<index>;
  p.map(x, z, inputs);
};

// A perturbation that can pull gradients with respect to the model inputs back to the
// interpretable point: p.pull_back(x, z, input_gradients, point_gradients) averages over a
// point's inputs, like the value does.
template <class P, class X = vector>
concept differentiable_perturbation_for =
    perturbation_for<P, X> && requires(const P& p, const X& x, const matrix& z, const matrix& g, matrix& out) {
      p.pull_back(x, z, g, out);
    };

// Opt-in fast path for exact enumeration: p.map_coalitions(x, first, count, inputs) writes the
// inputs of the coalitions first, ..., first + count - 1, read as bitmasks (bit p: player p
// present), as map() would for their 0/1 rows.
template <class P, class X = vector>
concept coalition_perturbation_for =
    perturbation_for<P, X> &&
    requires(const P& p, const X& x, std::uint64_t first, index count, matrix& inputs) {
      p.map_coalitions(x, first, count, inputs);
    };

namespace archetypes {
struct perturbation {
  index interpretable_dim() const { return 1; }
  index input_dim() const { return 1; }
  index inputs_per_point() const { return 1; }
  void map(const vector& x, const matrix& z, matrix& inputs) const {
    inputs = z * x(0);
  }
  void pull_back(const vector& x, const matrix&, const matrix& gradients, matrix& out) const {
    out = gradients * x(0);
  }
};
}  // namespace archetypes

static_assert(differentiable_perturbation_for<archetypes::perturbation, vector>);

}  // namespace attrib
