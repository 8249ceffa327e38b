#pragma once
// Mini-batch SGD that records its own trajectory, for the methods that attribute by replaying
// training (SGD-Influence, SOURCE). Every other trainer in attrib runs to an optimum (Newton,
// closed form) or through Adam; these methods need the path itself: the parameters before every
// step, the batch each step used and its step size.
//
//   theta_{t+1} = theta_t - eta_t ( (1/|B_t|) sum_{i in B_t} grad l_i(theta_t) + grad R(theta_t) )
//
// that is, one step along the model's loss_gradient() on the rows of B_t (mean per-example loss
// plus the model's penalty R). Batches come from a seeded shuffle per epoch, cut into consecutive
// runs of batch_size (the last one shorter), so the same seed gives the same batches, bit for bit.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "attrib/concepts/trainable_model.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/random.hpp"
#include "attrib/core/types.hpp"
#include "attrib/core/validate.hpp"
#include "attrib/methods/data/evaluation.hpp"  // detail::select_rows

namespace attrib {

struct sgd_options {
  double learning_rate = 0.1;
  index batch_size = 1;  // batch_size >= n: full-batch gradient descent
  index epochs = 1;
  // false: eta_t = learning_rate; true: eta_t = learning_rate / sqrt(t + 1), the decay of Hara et
  // al.'s experiments.
  bool decay = false;
  std::uint64_t seed = 0;  // the batch order of epoch e is a shuffle drawn from rng::stream(seed, e)
};

// What SGD did: parameters(t) is theta_t before step t, parameters(steps()) the final one.
struct sgd_trajectory {
  matrix parameters;                       // (steps + 1) x parameter_count
  std::vector<std::vector<index>> batches;  // rows of the training set used by each step
  std::vector<double> learning_rates;      // eta_t of each step
  index training_size = 0;                 // n, the rows the batches index

  index steps() const { return static_cast<index>(batches.size()); }
  vector at(index t) const { return parameters.row(t).transpose(); }
  vector final_parameters() const { return at(steps()); }
};

namespace detail {
// A recorded trajectory must fit the model and data it is replayed with.
inline void require_trajectory(const sgd_trajectory& trajectory, index parameter_count, index rows,
                               const std::string& who) {
  require(trajectory.steps() > 0, who + ": the trajectory has no steps");
  require(trajectory.parameters.rows() == trajectory.steps() + 1 && trajectory.parameters.cols() == parameter_count,
          who + ": trajectory parameters are " + std::to_string(trajectory.parameters.rows()) + " x " +
              std::to_string(trajectory.parameters.cols()) + ", expected (steps + 1) x parameter_count = " +
              std::to_string(trajectory.steps() + 1) + " x " + std::to_string(parameter_count));
  require_size(static_cast<index>(trajectory.learning_rates.size()), trajectory.steps(),
               who + ": trajectory learning_rates");
  require(trajectory.training_size == rows, who + ": the trajectory was recorded on " +
                                                std::to_string(trajectory.training_size) +
                                                " training rows, but train_x has " + std::to_string(rows));
  require_finite(trajectory.parameters, who + ": trajectory parameters");
  for (index t = 0; t < trajectory.steps(); ++t) {
    const auto& batch = trajectory.batches[static_cast<std::size_t>(t)];
    const double eta = trajectory.learning_rates[static_cast<std::size_t>(t)];
    require(!batch.empty(), who + ": batch " + std::to_string(t) + " of the trajectory is empty");
    require(std::isfinite(eta) && eta > 0, who + ": learning_rates[" + std::to_string(t) + "] is " +
                                               std::to_string(eta) + ", expected a finite positive step");
    for (const index i : batch)
      require(i >= 0 && i < rows, who + ": batch " + std::to_string(t) + " names row " + std::to_string(i) +
                                      ", expected a row in [0, " + std::to_string(rows) + ")");
  }
}
}  // namespace detail

// Trains `model` in place by mini-batch SGD from its current parameters and returns the path.
template <trainable_model M>
sgd_trajectory train_sgd(M& model, const matrix& x, const vector& y, const sgd_options& options) {
  detail::require(x.rows() > 0, "train_sgd: x must have at least one row");
  detail::require_size(y.size(), x.rows(), "train_sgd: y");
  detail::require_finite(x, "train_sgd: x");
  detail::require_finite(y, "train_sgd: y");
  detail::require(std::isfinite(options.learning_rate) && options.learning_rate > 0,
                  "train_sgd: learning_rate must be finite and positive, got " + std::to_string(options.learning_rate));
  detail::require(options.batch_size >= 1, "train_sgd: batch_size must be >= 1, got " + std::to_string(options.batch_size));
  detail::require(options.epochs >= 1, "train_sgd: epochs must be >= 1, got " + std::to_string(options.epochs));
  const index n = x.rows();
  const index batch = std::min(options.batch_size, n);
  const index per_epoch = (n + batch - 1) / batch;
  // The whole path is stored: refuse sizes whose matrix could not be allocated anyway.
  detail::require(options.epochs <= (index{1} << 40) / per_epoch / std::max<index>(model.parameter_count(), 1),
                  "train_sgd: epochs x steps per epoch x parameter_count is too large to record (epochs " +
                      std::to_string(options.epochs) + ")");
  const index steps = options.epochs * per_epoch;

  sgd_trajectory out;
  out.training_size = n;
  out.parameters.resize(steps + 1, model.parameter_count());
  out.batches.reserve(static_cast<std::size_t>(steps));
  out.learning_rates.reserve(static_cast<std::size_t>(steps));
  std::vector<index> order(static_cast<std::size_t>(n));
  index t = 0;
  for (index e = 0; e < options.epochs; ++e) {
    std::iota(order.begin(), order.end(), index{0});
    rng gen = rng::stream(options.seed, static_cast<std::uint64_t>(e));
    gen.shuffle(order.begin(), order.end());
    for (index b = 0; b < per_epoch; ++b, ++t) {
      const auto first = order.begin() + b * batch;
      const auto last = order.begin() + std::min(n, (b + 1) * batch);
      std::vector<index> rows(first, last);
      const double eta = options.decay ? options.learning_rate / std::sqrt(static_cast<double>(t + 1))
                                       : options.learning_rate;
      const vector theta = model.parameters();
      out.parameters.row(t) = theta.transpose();
      const vector g = model.loss_gradient(detail::select_rows(x, rows), detail::select_rows(y, rows));
      detail::require(g.allFinite(), "train_sgd: the gradient at step " + std::to_string(t) +
                                         " is not finite (learning_rate too large?)");
      model.set_parameters(theta - eta * g);
      out.batches.push_back(std::move(rows));
      out.learning_rates.push_back(eta);
    }
  }
  out.parameters.row(steps) = model.parameters().transpose();
  return out;
}

}  // namespace attrib
