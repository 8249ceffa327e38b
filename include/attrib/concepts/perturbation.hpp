#pragma once
// perturbation_for: how an interpretable point z becomes model inputs around a point x.
#include <concepts>

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

namespace archetypes {
struct perturbation {
  index interpretable_dim() const { return 1; }
  index input_dim() const { return 1; }
  index inputs_per_point() const { return 1; }
  void map(const vector& x, const matrix& z, matrix& inputs) const {
    inputs = z * x(0);
  }
};
}  // namespace archetypes

static_assert(perturbation_for<archetypes::perturbation, vector>);

}  // namespace attrib
