#pragma once
// model_hessian: a model's training-loss Hessian on its training data as a
// sampled_hessian_operator, through the model's Hessian-vector products.
#include <cstddef>
#include <span>

#include "attrib/concepts/inverse_hessian.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"
#include "attrib/core/validate.hpp"

namespace attrib {

// The Hessian of m's mean regularised training loss on (inputs, targets), through
// m.hessian_vector_product. Holds references: the model and data must outlive it.
template <class M>
  requires requires(const M& m, const matrix& x, const vector& y, const vector& v) {
    { m.hessian_vector_product(x, y, v) } -> std::convertible_to<vector>;
    { m.parameter_count() } -> std::convertible_to<index>;
  }
class model_hessian {
 public:
  model_hessian(const M& model, const matrix& inputs, const vector& targets)
      : model_(&model), inputs_(&inputs), targets_(&targets) {
    detail::require(inputs.rows() > 0, "model_hessian: the training set must not be empty");
    detail::require_size(targets.size(), inputs.rows(), "model_hessian: targets");
  }
  index dim() const { return model_->parameter_count(); }
  index rows() const { return inputs_->rows(); }
  vector apply(const vector& v) const { return model_->hessian_vector_product(*inputs_, *targets_, v); }
  vector apply_rows(const vector& v, std::span<const index> rows) const {
    matrix x(static_cast<index>(rows.size()), inputs_->cols());
    vector y(static_cast<index>(rows.size()));
    for (std::size_t r = 0; r < rows.size(); ++r) {
      x.row(static_cast<index>(r)) = inputs_->row(rows[r]);
      y[static_cast<index>(r)] = (*targets_)[rows[r]];
    }
    return model_->hessian_vector_product(x, y, v);
  }

 private:
  const M* model_;
  const matrix* inputs_;
  const vector* targets_;
};

}  // namespace attrib
