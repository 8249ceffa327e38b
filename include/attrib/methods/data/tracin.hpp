#pragma once
// TracIn (Pruthi et al. 2020), checkpoint form: score(i, test) = sum over checkpoints c of
// lr_c <grad L_test(theta_c), grad L_i(theta_c)>, a support score (positive: the gradient step
// on i lowered the test loss).
#include <string>
#include <vector>

#include "attrib/concepts/trainable_model.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"
#include "attrib/core/validate.hpp"
#include "attrib/methods/data/grad_similarity.hpp"

namespace attrib {

template <trainable_model M>
data_attribution tracin(const std::vector<M>& checkpoints, const std::vector<double>& learning_rates,
                        const matrix& train_x, const vector& train_y, const matrix& test_x, const vector& test_y) {
  detail::require(!checkpoints.empty(), "tracin: need at least one checkpoint");
  detail::require(learning_rates.size() == checkpoints.size(),
                  "tracin: learning_rates has " + std::to_string(learning_rates.size()) +
                      " entries, expected one per checkpoint (" + std::to_string(checkpoints.size()) + ")");
  data_attribution out{"tracin", matrix::Zero(train_x.rows(), test_x.rows()), {}};
  for (std::size_t c = 0; c < checkpoints.size(); ++c) {
    const loss_gradients<M> rep(checkpoints[c]);
    out.scores += inner_product_attribution("tracin", rep, identity_transform{}, train_x, train_y, test_x, test_y,
                                            learning_rates[c])
                      .scores;
  }
  return out;
}

// Checkpoints of full-batch gradient descent on the model's loss() from its current parameters:
// one every `every` steps of size learning_rate, `count` of them.
template <trainable_model M>
std::vector<M> gradient_descent_checkpoints(M model, const matrix& x, const vector& y, double learning_rate,
                                            index count, index every) {
  detail::require(learning_rate > 0 && count > 0 && every > 0,
                  "gradient_descent_checkpoints: learning_rate, count and every must be positive");
  std::vector<M> out;
  for (index c = 0; c < count; ++c) {
    for (index s = 0; s < every; ++s) model.set_parameters(model.parameters() - learning_rate * model.loss_gradient(x, y));
    out.push_back(model);
  }
  return out;
}

}  // namespace attrib
