#pragma once
// Per-feature (x - mean) / scale, stored inside a model so that the model accepts raw features
// and attributions are computed in the units the user knows.
#include <cmath>
#include <string>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"
#include "attrib/core/validate.hpp"

namespace attrib {

class standardizer {
 public:
  // The identity transform, for any input dimension.
  standardizer() = default;

  standardizer(vector mean, vector scale) : mean_(std::move(mean)), scale_(std::move(scale)) {
    detail::require_size(scale_.size(), mean_.size(), "standardizer: scale");
    detail::require(mean_.size() > 0, "standardizer: mean must not be empty");
    detail::require_finite(mean_, "standardizer: mean");
    detail::require_finite(scale_, "standardizer: scale");
    for (index f = 0; f < scale_.size(); ++f)
      detail::require(scale_[f] > 0, "standardizer: scale must be positive, but scale[" +
                                         std::to_string(f) + "] is " + std::to_string(scale_[f]));
  }

  // Column means and population standard deviations of `data`; a constant column gets scale 1
  // so that it maps to 0 instead of dividing by zero.
  static standardizer fit(const matrix& data) {
    detail::require(data.rows() > 0 && data.cols() > 0,
                    "standardizer::fit: data must be non-empty");
    detail::require_finite(data, "standardizer::fit: data");
    vector mean = data.colwise().mean().transpose();
    vector scale(data.cols());
    for (index f = 0; f < data.cols(); ++f) {
      const double sd = std::sqrt((data.col(f).array() - mean[f]).square().mean());
      scale[f] = sd > 0 ? sd : 1.0;
    }
    return standardizer(std::move(mean), std::move(scale));
  }

  bool is_identity() const { return mean_.size() == 0; }
  // The input dimension it was fitted for, or 0 for the identity transform.
  index dim() const { return mean_.size(); }
  const vector& mean() const { return mean_; }
  const vector& scale() const { return scale_; }

  matrix transform(const matrix& raw) const {
    if (is_identity()) return raw;
    return (raw.rowwise() - mean_.transpose()).array().rowwise() / scale_.transpose().array();
  }

  // The same values written into `out` (raw's shape; a block of a larger matrix is fine), so
  // that callers which keep standardised rows inside their result need no second matrix.
  void transform_into(const matrix& raw, Eigen::Ref<matrix> out) const {
    if (is_identity())
      out = raw;
    else
      out = (raw.rowwise() - mean_.transpose()).array().rowwise() / scale_.transpose().array();
  }

  // Pulls a gradient with respect to standardised inputs back to raw inputs (chain rule).
  matrix pull_back(const matrix& standardized_gradient) const {
    if (is_identity()) return standardized_gradient;
    return standardized_gradient.array().rowwise() / scale_.transpose().array();
  }

 private:
  vector mean_;
  vector scale_;
};

}  // namespace attrib
