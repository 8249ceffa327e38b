#pragma once
// masking: a coalition keeps the features of its present players at the explained point x
// and takes the others from a baseline - one reference input, or every row of a background
// set, the point's value then being the mean over the rows (interventional expectation).
// Between the corners a point z in [0, 1]^players interpolates, (1 - z) b + z x per group: the
// straight path from the baseline (z = 0) to x (z = 1) that Integrated Gradients integrates
// along, so gradient methods and coalition methods share one interpretable space.
#include <string>
#include <utility>

#include "attrib/concepts/perturbation.hpp"
#include "attrib/core/feature_groups.hpp"
#include "attrib/core/validate.hpp"

namespace attrib {

class masking {
 public:
  // A single reference input as the baseline.
  explicit masking(const vector& reference)
      : masking(matrix(reference.transpose()), feature_groups::singletons(reference.size())) {}
  // A background set: the value of a coalition is its mean over the background rows.
  explicit masking(matrix background)
      : masking(background, feature_groups::singletons(background.cols())) {}
  masking(matrix background, feature_groups groups)
      : background_(std::move(background)), groups_(std::move(groups)) {
    detail::require(background_.rows() > 0 && background_.cols() > 0,
                    "masking: the baseline is empty; expected at least one row of features");
    detail::require_finite(background_, "masking: baseline");
    if (groups_.feature_count() != background_.cols())
      detail::fail("masking: feature groups cover " + std::to_string(groups_.feature_count()) +
                   " features but the baseline has " + std::to_string(background_.cols()));
  }

  index interpretable_dim() const { return groups_.player_count(); }
  index input_dim() const { return background_.cols(); }
  index inputs_per_point() const { return background_.rows(); }
  const matrix& background() const { return background_; }
  const feature_groups& groups() const { return groups_; }

  void map(const vector& x, const matrix& z, matrix& inputs) const {
    const index rows = background_.rows();
    const index d = background_.cols();
    inputs.resize(z.rows() * rows, d);
    // One flat pass per input row, without branches on z (coalition methods map thousands of
    // rows per chunk, where block-wise Eigen assignments and mispredicted branches on 0/1 values
    // cost more than the values). (1 - t) b + t x is exactly b at t = 0 and exactly x at t = 1.
    if (rows == 1 && groups_.one_per_feature()) {
      // One reference row, one player per feature (the common case): one Eigen expression over
      // the whole batch, which vectorises; the same operations per element as the loop below.
      inputs.array() = (1.0 - z.array()).rowwise() * background_.row(0).array() +
                       z.array().rowwise() * x.transpose().array();
      return;
    }
    const index* player = groups_.player_of_features().data();
    const double* xs = x.data();
    for (index i = 0; i < z.rows(); ++i) {
      const double* zi = &z(i, 0);
      for (index r = 0; r < rows; ++r) {
        double* out = &inputs(i * rows + r, 0);
        const double* b = &background_(r, 0);
        for (index f = 0; f < d; ++f) {
          const double t = zi[player[f]];
          out[f] = (1.0 - t) * b[f] + t * xs[f];
        }
      }
    }
  }

  // d value / d z_p = mean over baseline rows of sum_{f in p} (x_f - b_f) d model / d input_f.
  void pull_back(const vector& x, const matrix& z, const matrix& input_gradients, matrix& out) const {
    const index rows = background_.rows();
    const index d = background_.cols();
    if (rows == 1 && groups_.one_per_feature()) {  // as in map(): one vectorised expression
      out.resize(z.rows(), z.cols());
      out.array() = input_gradients.array().rowwise() * (x.transpose() - background_.row(0)).array();
      return;
    }
    out = matrix::Zero(z.rows(), z.cols());
    // One flat pass over the gradient rows, as map() builds them.
    const index* player = groups_.player_of_features().data();
    const double* xs = x.data();
    for (index i = 0; i < z.rows(); ++i) {
      double* oi = &out(i, 0);
      for (index r = 0; r < rows; ++r) {
        const double* g = &input_gradients(i * rows + r, 0);
        const double* b = &background_(r, 0);
        for (index f = 0; f < d; ++f) oi[player[f]] += (xs[f] - b[f]) * g[f];
      }
    }
    out /= static_cast<double>(rows);
  }

 private:
  matrix background_;
  feature_groups groups_;
};

static_assert(differentiable_perturbation_for<masking, vector>);

}  // namespace attrib
