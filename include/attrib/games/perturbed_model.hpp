#pragma once
// perturbed_model: a model seen through a perturbation around the point x, one output picked.
// With masking this is shap's "masked model", a cooperative game over features; with
// additive noise it is the model restricted to a neighbourhood of x.
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>

#include "attrib/concepts/differentiable_model.hpp"
#include "attrib/concepts/game.hpp"
#include "attrib/concepts/model.hpp"
#include "attrib/concepts/perturbation.hpp"
#include "attrib/core/validate.hpp"
#include "attrib/perturbations/masking.hpp"

namespace attrib {

// M may be a model or std::reference_wrapper of one (to avoid copying a large model).
template <class M, class P>
  requires model<std::unwrap_reference_t<M>> && perturbation_for<P, vector>
class perturbed_model {
 public:
  perturbed_model(M model, vector x, P perturbation, index output = 0)
      : model_(std::move(model)), x_(std::move(x)), perturbation_(std::move(perturbation)), output_(output) {
    const auto& m = get_model();
    detail::require_size(x_.size(), m.input_dim(), "explained point x");
    detail::require_size(perturbation_.input_dim(), m.input_dim(), "perturbation input dimension");
    detail::require_finite(x_, "explained point x");
    if (output_ < 0 || output_ >= m.output_dim())
      detail::fail("output index " + std::to_string(output_) + " is out of range; the model has " +
                   std::to_string(m.output_dim()) + " outputs");
  }

  index player_count() const { return perturbation_.interpretable_dim(); }
  index model_evaluations_per_value() const { return perturbation_.inputs_per_point(); }
  const vector& point() const { return x_; }
  const P& perturbation() const { return perturbation_; }
  index output() const { return output_; }
  const std::unwrap_reference_t<M>& get_model() const { return model_; }

  vector values(const matrix& points) const {
    detail::require_size(points.cols(), player_count(), "interpretable points (columns)");
    matrix inputs;
    perturbation_.map(x_, points, inputs);
    return output_means(inputs, points.rows());
  }

  // The values of the coalitions first, ..., first + count - 1 as bitmasks, without their 0/1
  // rows (see bitmask_range_game). The inputs go through a per-thread buffer that keeps its
  // capacity, as exact enumeration calls this once per chunk of thousands of rows.
  vector values_of_masks(std::uint64_t first, index count) const
    requires coalition_perturbation_for<P, vector>
  {
    thread_local matrix inputs;
    perturbation_.map_coalitions(x_, first, count, inputs);
    return output_means(inputs, count);
  }

  // Gradient of the value with respect to the interpretable point, one row per point: the
  // model's input gradient of the chosen output, pulled back through the perturbation.
  matrix gradients(const matrix& points) const
    requires differentiable_model<std::unwrap_reference_t<M>> && differentiable_perturbation_for<P, vector>
  {
    detail::require_size(points.cols(), player_count(), "interpretable points (columns)");
    matrix inputs;
    perturbation_.map(x_, points, inputs);
    matrix cotangent = matrix::Zero(inputs.rows(), get_model().output_dim());
    cotangent.col(output_).setOnes();
    const matrix input_gradients = get_model().vjp_inputs(inputs, cotangent);
    detail::require(input_gradients.rows() == inputs.rows() && input_gradients.cols() == inputs.cols(),
                    "model returned input gradients of the wrong shape");
    matrix result;
    perturbation_.pull_back(x_, points, input_gradients, result);
    if (detail::all_finite(result)) return result;  // the loops below name the bad entry
    for (index r = 0; r < result.rows(); ++r)
      for (index c = 0; c < result.cols(); ++c)
        if (!std::isfinite(result(r, c)))
          detail::fail("gradient of model output " + std::to_string(output_) + " is not finite (" +
                       std::to_string(result(r, c)) + ") at interpretable point " + std::to_string(r) +
                       ", coordinate " + std::to_string(c));
    return result;
  }

 private:
  // The chosen output averaged over each point's inputs (consecutive blocks of inputs_per_point rows).
  vector output_means(const matrix& inputs, index points) const {
    const matrix outputs = get_model().predict(inputs);
    if (outputs.rows() != inputs.rows() || outputs.cols() != get_model().output_dim())
      detail::fail("model returned a " + std::to_string(outputs.rows()) + " x " +
                   std::to_string(outputs.cols()) + " batch for " + std::to_string(inputs.rows()) +
                   " inputs; expected " + std::to_string(inputs.rows()) + " x " +
                   std::to_string(get_model().output_dim()));
    const index per = perturbation_.inputs_per_point();
    vector result(points);
    for (index i = 0; i < points; ++i) {
      const double mean = outputs.col(output_).segment(i * per, per).mean();
      if (!std::isfinite(mean))
        detail::fail("model output " + std::to_string(output_) + " is not finite (" + std::to_string(mean) +
                     ") for a perturbed input; check the model and the baseline");
      result(i) = mean;
    }
    return result;
  }

  M model_;
  vector x_;
  P perturbation_;
  index output_;
};

// The usual case: explain output `output` of `m` at x, absent features taken from `baseline`
// (one reference row or a background set).
template <class M>
auto masked_model(M m, vector x, matrix baseline, index output = 0) {
  return perturbed_model<M, masking>(std::move(m), std::move(x), masking(std::move(baseline)), output);
}
template <class M>
auto masked_model(M m, vector x, matrix baseline, feature_groups groups, index output = 0) {
  return perturbed_model<M, masking>(std::move(m), std::move(x),
                                     masking(std::move(baseline), std::move(groups)), output);
}

}  // namespace attrib
