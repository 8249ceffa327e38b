#pragma once
// Efficient ensembles for training-data attribution (Deng, Li, Zhang and Ma 2024, "Efficient
// Ensembles Improve Training Data Attribution"). TRAK and influence functions improve when their
// scores are averaged over independently trained models, but each member then costs a full
// training run. Two cheaper ensembles give members for a fraction of that cost:
//
//   dropout ensemble: one model trained with dropout (dropout_training.hpp); member m is that
//     model under a fixed dropout mask drawn from rng::stream(seed, m). No training per member.
//   LoRA ensemble: members share a trained base; member m fine-tunes only rank-r factors
//     A_l (out x r), B_l (r x in) of every dense layer, W_l + A_l B_l, from its own seed.
//
// Every member is an ordinary mlp (the mask or the adapter merged into the weights), so the
// averaging functions below take any list of models: the members of either ensemble, or K
// independently trained ones. TRAK reuses trak()'s own multi-member average; influence averages
// the members' influence() scores.
#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "attrib/concepts/inverse_hessian.hpp"
#include "attrib/concepts/trainable_model.hpp"
#include "attrib/core/data_attribution.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/parallel.hpp"
#include "attrib/core/random.hpp"
#include "attrib/core/types.hpp"
#include "attrib/core/validate.hpp"
#include "attrib/methods/data/dropout_training.hpp"
#include "attrib/methods/data/influence.hpp"
#include "attrib/methods/data/trak.hpp"
#include "attrib/models/mlp.hpp"
#include "attrib/optimizers/adam.hpp"
#include "attrib/optimizers/minibatches.hpp"

namespace attrib {

// ---------------------------------------------------------------------------------------------
// Dropout ensemble

// One member per mask: apply_dropout_mask(model, masks[m], rate).
inline std::vector<mlp> dropout_ensemble(const mlp& model, const std::vector<dropout_mask>& masks, double rate) {
  detail::require(!masks.empty(), "dropout_ensemble: masks must not be empty");
  std::vector<mlp> out;
  out.reserve(masks.size());
  for (std::size_t m = 0; m < masks.size(); ++m)
    out.push_back(apply_dropout_mask(model, masks[m], rate));
  return out;
}

// `members` members, member m under draw_dropout_mask(model, rate, rng::stream(seed, m)).
inline std::vector<mlp> dropout_ensemble(const mlp& model, index members, double rate, std::uint64_t seed) {
  detail::require(members > 0 && members <= 1'000'000,
                  "dropout_ensemble: members must lie in [1, 1000000], got " + std::to_string(members));
  detail::require_dropout_rate(rate, "dropout_ensemble");
  std::vector<dropout_mask> masks;
  for (index m = 0; m < members; ++m) {
    rng gen = rng::stream(seed, static_cast<std::uint64_t>(m));
    masks.push_back(draw_dropout_mask(model, rate, gen));
  }
  return dropout_ensemble(model, masks, rate);
}

// ---------------------------------------------------------------------------------------------
// LoRA ensemble

// Low-rank factors of every dense layer: layer l's weight becomes W_l + a[l] b[l].
struct lora_adapter {
  std::vector<matrix> a;  // outputs x rank
  std::vector<matrix> b;  // rank x inputs
};

struct lora_options {
  double learning_rate = 1e-2;
  index epochs = 20;
  index batch_size = 32;
  double l2 = 0.0;          // penalty (l2 / 2)(||A||^2 + ||B||^2) on the factors only
  double init_scale = 1.0;  // A's entries start N(0, init_scale^2 / rank); B starts at zero
  std::uint64_t seed = 0;   // member m trains from the seed rng::stream(seed, m) gives
  std::size_t threads = 1;  // members trained in parallel; results do not depend on it
};

namespace detail {

// A layer's adapter rank: a rank above min(outputs, inputs) could add nothing.
inline index lora_rank(const dense_layer& layer, index rank) {
  return std::min({rank, layer.weight.rows(), layer.weight.cols()});
}

inline void require_lora_rank(const mlp& base, index rank, const std::string& who) {
  index widest = 0;
  for (const auto& layer : base.layers()) widest = std::max(widest, std::min(layer.weight.rows(), layer.weight.cols()));
  require(rank >= 1 && rank <= widest, who + ": rank must lie in [1, " + std::to_string(widest) +
                                           "] (the largest min(outputs, inputs) of a layer), got " +
                                           std::to_string(rank));
}

inline void require_lora_adapter(const mlp& base, const lora_adapter& adapter, const std::string& who) {
  const std::size_t count = base.layers().size();
  require(adapter.a.size() == count && adapter.b.size() == count,
          who + ": adapter has " + std::to_string(adapter.a.size()) + " A and " + std::to_string(adapter.b.size()) +
              " B factors, expected one of each per layer (" + std::to_string(count) + ")");
  for (std::size_t l = 0; l < count; ++l) {
    const matrix& w = base.layers()[l].weight;
    const std::string name = who + ": layer " + std::to_string(l);
    const matrix& a = adapter.a[l];
    const matrix& b = adapter.b[l];
    require(a.rows() == w.rows() && b.cols() == w.cols() && a.cols() == b.rows() && a.cols() > 0,
            name + ": A is " + std::to_string(a.rows()) + " x " + std::to_string(a.cols()) + " and B is " +
                std::to_string(b.rows()) + " x " + std::to_string(b.cols()) + ", expected " +
                std::to_string(w.rows()) + " x r and r x " + std::to_string(w.cols()) + " with r >= 1");
    require_finite(a, name + ": A");
    require_finite(b, name + ": B");
  }
}

}  // namespace detail

// A at small random values from rng(seed), B at zero: the merged model starts as the base.
inline lora_adapter initial_lora_adapter(const mlp& base, index rank, double init_scale, std::uint64_t seed) {
  detail::require_lora_rank(base, rank, "initial_lora_adapter");
  detail::require(std::isfinite(init_scale) && init_scale > 0,
                  "initial_lora_adapter: init_scale must be positive and finite, got " + std::to_string(init_scale));
  rng gen(seed);
  lora_adapter out;
  for (const auto& layer : base.layers()) {
    const index r = detail::lora_rank(layer, rank);
    matrix a(layer.weight.rows(), r);
    const double sd = init_scale / std::sqrt(static_cast<double>(r));
    for (index k = 0; k < a.size(); ++k) a.data()[k] = sd * gen.normal();
    out.a.push_back(std::move(a));
    out.b.push_back(matrix::Zero(r, layer.weight.cols()));
  }
  return out;
}

// The base with W_l replaced by W_l + A_l B_l: the member as an ordinary mlp (same biases, head,
// standardiser and l2).
inline mlp merge_lora(const mlp& base, const lora_adapter& adapter) {
  detail::require_lora_adapter(base, adapter, "merge_lora");
  std::vector<dense_layer> layers = base.layers();
  for (std::size_t l = 0; l < layers.size(); ++l) layers[l].weight += adapter.a[l] * adapter.b[l];
  mlp out(std::move(layers), base.head());
  out.set_standardizer(base.input_standardizer());
  out.set_l2(base.l2());
  return out;
}

// Gradient of the merged model's mean loss (no penalty) with respect to the factors: with
// G_l = dL/dW_l at W_l + A_l B_l, dL/dA_l = G_l B_l^T and dL/dB_l = A_l^T G_l.
inline lora_adapter lora_gradient(const mlp& base, const lora_adapter& adapter, const matrix& x, const vector& y) {
  mlp merged = merge_lora(base, adapter);
  merged.set_l2(0.0);
  const vector g = merged.loss_gradient(x, y);
  lora_adapter out;
  index at = 0;
  for (std::size_t l = 0; l < adapter.a.size(); ++l) {
    const matrix& w = base.layers()[l].weight;
    const Eigen::Map<const matrix> gw(g.data() + at, w.rows(), w.cols());
    out.a.push_back(gw * adapter.b[l].transpose());
    out.b.push_back(adapter.a[l].transpose() * gw);
    at += w.size() + w.rows();
  }
  return out;
}

// Adam on the factors only, from initial_lora_adapter(base, rank, init_scale, seed), over
// options.epochs passes of minibatches (epoch e shuffled by rng::stream(seed, e)). The base is
// never changed: the adapter is returned.
inline lora_adapter train_lora(const mlp& base, const matrix& x, const vector& y, index rank,
                               const lora_options& options) {
  detail::require(options.learning_rate > 0 && std::isfinite(options.learning_rate),
                  "train_lora: learning_rate must be positive and finite");
  detail::require(options.epochs >= 0 && options.epochs <= 1'000'000,
                  "train_lora: epochs must lie in [0, 1000000], got " + std::to_string(options.epochs));
  detail::require(options.batch_size > 0, "train_lora: batch_size must be positive");
  detail::require(std::isfinite(options.l2) && options.l2 >= 0, "train_lora: l2 must be finite and >= 0");
  (void)base.loss(x, y);  // the model's own check of the data before any step
  lora_adapter adapter = initial_lora_adapter(base, rank, options.init_scale, options.seed);
  basic_adamw<matrix> adam;
  for_each_minibatch(
      x, y, options.batch_size, options.epochs, options.seed,
      [&](const matrix& batch, const vector& batch_y) {
        const lora_adapter g = lora_gradient(base, adapter, batch, batch_y);
        adam.next_step();
        for (std::size_t l = 0; l < adapter.a.size(); ++l) {
          adam.update(2 * l, adapter.a[l], matrix(g.a[l] + options.l2 * adapter.a[l]), options.learning_rate);
          adam.update(2 * l + 1, adapter.b[l], matrix(g.b[l] + options.l2 * adapter.b[l]), options.learning_rate);
        }
      },
      [](index) {});
  return adapter;
}

// `members` LoRA members of `base`: member m is merge_lora(base, train_lora(...)) with the seed
// rng::stream(options.seed, m)() (its A's start and its shuffles). Members train in parallel on
// options.threads threads; each depends on its seed only.
inline std::vector<mlp> lora_ensemble(const mlp& base, const matrix& x, const vector& y, index members, index rank,
                                      const lora_options& options = {}) {
  detail::require(members > 0 && members <= 1'000'000,
                  "lora_ensemble: members must lie in [1, 1000000], got " + std::to_string(members));
  detail::require_lora_rank(base, rank, "lora_ensemble");
  std::vector<lora_adapter> adapters(static_cast<std::size_t>(members));
  parallel_for(static_cast<std::size_t>(members), options.threads, [&](std::size_t m) {
    lora_options own = options;
    rng gen = rng::stream(options.seed, m);
    own.seed = gen();
    adapters[m] = train_lora(base, x, y, rank, own);
  });
  std::vector<mlp> out;
  out.reserve(adapters.size());
  for (const auto& adapter : adapters) out.push_back(merge_lora(base, adapter));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Scores averaged over any list of members

// TRAK's ingredients for every member (trak_member_for), members computed in parallel.
template <logit_model M>
std::vector<trak_member> trak_members_for(const std::vector<M>& members, const matrix& train_x, const vector& train_y,
                                          const matrix& test_x, const vector& test_y, std::size_t threads = 1) {
  detail::require(!members.empty(), "trak_members_for: members must not be empty");
  std::vector<trak_member> out(members.size());
  parallel_for(members.size(), threads, [&](std::size_t m) {
    out[m] = trak_member_for(members[m], train_x, train_y, test_x, test_y);
  });
  return out;
}

// TRAK over an ensemble: trak() on every member's ingredients, which averages the members'
// projected-kernel scores and their 1 - p_i weights (TRAK's own ensemble average).
template <logit_model M>
data_attribution ensemble_trak(const std::vector<M>& members, const matrix& train_x, const vector& train_y,
                               const matrix& test_x, const vector& test_y, const trak_options& options = {}) {
  data_attribution out =
      trak(trak_members_for(members, train_x, train_y, test_x, test_y, options.threads), options);
  out.method = "trak/ensemble of " + std::to_string(members.size());
  return out;
}

// Influence over an ensemble: the mean over members of influence(make_solver(member, train_x,
// train_y), member's training-loss gradients, member's test-loss gradients). make_solver returns
// any inverse_hessian_product for the member; members run in parallel, summed in order. The
// diagnostics are every member's, member after member.
template <trainable_model M, class MakeSolver>
  requires inverse_hessian_product<std::invoke_result_t<const MakeSolver&, const M&, const matrix&, const vector&>>
data_attribution ensemble_influence(const std::vector<M>& members, const matrix& train_x, const vector& train_y,
                                    const matrix& test_x, const vector& test_y, const MakeSolver& make_solver,
                                    std::size_t threads = 1) {
  detail::require(!members.empty(), "ensemble_influence: members must not be empty");
  std::vector<data_attribution> each(members.size());
  parallel_for(members.size(), threads, [&](std::size_t m) {
    const M& member = members[m];
    const auto solver = make_solver(member, train_x, train_y);
    each[m] = influence(solver, member.per_example_loss_gradients(train_x, train_y),
                        member.per_example_loss_gradients(test_x, test_y));
  });
  data_attribution out{"influence/ensemble of " + std::to_string(members.size()), each.front().scores, {}};
  for (std::size_t m = 1; m < each.size(); ++m) out.scores += each[m].scores;
  out.scores /= static_cast<double>(each.size());
  for (auto& e : each) out.diagnostics.insert(out.diagnostics.end(), e.diagnostics.begin(), e.diagnostics.end());
  return out;
}

// The same with each member's exact Hessian (explicit_inverse_hessian, p x p), for small models.
template <twice_differentiable_model M>
data_attribution ensemble_influence(const std::vector<M>& members, const matrix& train_x, const vector& train_y,
                                    const matrix& test_x, const vector& test_y,
                                    const explicit_hessian_options& options = {}, std::size_t threads = 1) {
  return ensemble_influence(
      members, train_x, train_y, test_x, test_y,
      [&options](const M& member, const matrix& x, const vector& y) {
        return explicit_inverse_hessian(member.hessian(x, y), options);
      },
      threads);
}

}  // namespace attrib
