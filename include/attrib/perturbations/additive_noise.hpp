#pragma once
// additive_noise: the interpretable point z is an offset in input space, the input is x + z.
#include "attrib/concepts/perturbation.hpp"
#include "attrib/core/error.hpp"

namespace attrib {

class additive_noise {
 public:
  static constexpr bool offsets_in_input_space = true;

  explicit additive_noise(index features) : features_(features) {
    detail::require(features > 0, "additive_noise: feature count must be positive");
  }
  index interpretable_dim() const { return features_; }
  index input_dim() const { return features_; }
  index inputs_per_point() const { return 1; }
  void map(const vector& x, const matrix& z, matrix& inputs) const {
    inputs = z.rowwise() + x.transpose();
  }
  // d input / d z is the identity.
  void pull_back(const vector&, const matrix&, const matrix& input_gradients, matrix& out) const {
    out = input_gradients;
  }

 private:
  index features_;
};

static_assert(differentiable_perturbation_for<additive_noise, vector>);

}  // namespace attrib
