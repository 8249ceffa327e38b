#pragma once
// What the games over a transformer's internals share (component_game.hpp: components as players;
// edge_game.hpp: the edges between them): a prompt run again and again with hooks that ablate
// parts of the computation, the ablation values taken from reference runs, and the metric of the
// last position's logits that a run's value is.
//
// Ablation values come from
//   zero      s = 0;
//   mean      s = the activation averaged over reference prompts, position by position;
//   resample  s = a reference prompt's activation, and the value is averaged over every reference
//             (the expectation of resample ablation over the reference set, so the game stays a
//             deterministic function);
//   patch     s = the activation of one reference run, of this model or of another model of the
//             same shape (cross-model patching).
// The metric is a logit (difference), a probability, the loss of a target token, or the KL
// divergence from the unablated run's distribution.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/hook_point.hpp"
#include "attrib/core/types.hpp"
#include "attrib/games/ablation.hpp"
#include "attrib/transformer/hooks/hooks.hpp"
#include "attrib/transformer/model/model.hpp"
#include "attrib/transformer/training/parameters.hpp"

namespace attrib {

enum class component_metric_kind {
  logit_difference,  // logit(target) - logit(contrast), or logit(target) without a contrast
  probability,       // softmax(logits)[target]
  loss,              // -log softmax(logits)[target]
  kl_to_clean,       // KL(p_unablated || p): 0 for the grand coalition
};

struct component_metric {
  component_metric_kind kind = component_metric_kind::logit_difference;
  token_id target = -1;    // every kind but kl_to_clean
  token_id contrast = -1;  // logit_difference only; -1: none
};

struct component_game_options {
  ablation_kind ablation = ablation_kind::zero;
  // mean: the prompts averaged; resample: the prompts averaged over; patch: the one source prompt.
  // Each as long as the game's prompt. Empty for zero ablation.
  std::vector<std::vector<token_id>> reference = {};
  // Whose activations mean, resample and patch take (null: the game's model). Of the game model's
  // shape (width, layers, heads, MLP width); must outlive the game's construction.
  const transformer_model* reference_model = nullptr;
  component_metric metric = {};
  // Positions at which players are ablated (empty: every position). Position players name their
  // own.
  std::vector<index> positions = {};
  index batch_rows = 32;    // prompts per forward pass
  std::size_t threads = 1;  // threads inside each forward pass; results do not depend on it
  // Start each run at the earliest layer its coalition ablates, from the unablated prompt's
  // residual stream there (recorded once): the layers before it would compute exactly that
  // stream again. The values are the same bit for bit either way; this only saves work.
  bool reuse_prefix = true;
};

// The prompt, the ablation values at a set of hook points, and the metric, checked once.
class transformer_ablation {
 public:
  // `who` names the game in messages; `points` are the hook points whose ablation values are
  // recorded. Throws invalid_argument for an empty or too long prompt, tokens outside the
  // vocabulary, reference prompts of another length or count than the ablation needs, a
  // reference model of another shape, and a metric that does not fit the vocabulary.
  transformer_ablation(const transformer_model& model, std::vector<token_id> prompt, component_game_options options,
                       const std::set<hook_point>& points, std::string who)
      : model_(&model), prompt_(std::move(prompt)), options_(std::move(options)), who_(std::move(who)) {
    const auto& c = model.config();
    const auto length = static_cast<index>(prompt_.size());
    const std::string where = who_ + ": ";
    detail::require(length > 0, where + "the prompt is empty");
    detail::require(length <= c.context_length, where + "the prompt has " + std::to_string(length) +
                                                    " tokens, more than the context length " +
                                                    std::to_string(c.context_length));
    detail::require(options_.batch_rows >= 1, where + "batch_rows must be >= 1");
    auto check_token = [&](token_id t, const std::string& what) {
      detail::require(t >= 0 && t < c.vocab_size, where + what + " " + std::to_string(t) +
                                                      " is outside the vocabulary [0, " +
                                                      std::to_string(c.vocab_size) + ")");
    };
    for (token_id t : prompt_) check_token(t, "prompt token");
    const auto& metric = options_.metric;
    if (metric.kind != component_metric_kind::kl_to_clean) check_token(metric.target, "metric target");
    if (metric.contrast != -1) {
      detail::require(metric.kind == component_metric_kind::logit_difference,
                      where + "a contrast token is read by the logit_difference metric only");
      check_token(metric.contrast, "metric contrast");
    }
    for (index p : options_.positions)
      detail::require(p >= 0 && p < length, where + "ablation position " + std::to_string(p) +
                                                " is outside the prompt's " + std::to_string(length) + " tokens");
    check_references(c, length);
    record_sources(points);
    if (options_.reuse_prefix) record_clean_stream();
    if (metric.kind == component_metric_kind::kl_to_clean) {
      const std::vector<std::vector<token_id>> one{prompt_};
      forward_options run;
      run.last_position_only = true;
      run.threads = options_.threads;
      clean_log_probabilities_ = log_softmax(model.forward(std::span<const std::vector<token_id>>(one), run)[0]);
    }
  }

  const transformer_model& model() const { return *model_; }
  const std::vector<token_id>& prompt() const { return prompt_; }
  index length() const { return static_cast<index>(prompt_.size()); }
  const component_game_options& options() const { return options_; }
  // One table per source (one for zero, mean and patch, one per reference for resample).
  index sources() const { return static_cast<index>(sources_.size()); }
  // The ablation values of source `s` at `p`: prompt length x width.
  const float_matrix& source(index s, hook_point p) const { return sources_[static_cast<std::size_t>(s)].at(p); }
  // Whether players are ablated at `position` (options().positions).
  bool ablated_position(index position) const {
    return options_.positions.empty() ||
           std::find(options_.positions.begin(), options_.positions.end(), position) != options_.positions.end();
  }
  // The unablated run's log-probabilities at the last position (kl_to_clean only; else empty).
  const vector& clean_log_probabilities() const { return clean_log_probabilities_; }

  void check_points(const matrix& points, index players) const {
    detail::require(points.cols() == players, who_ + ": points have " + std::to_string(points.cols()) +
                                                  " columns, expected " + std::to_string(players) + " (one per player)");
    detail::require(points.allFinite(), who_ + ": points hold a NaN or infinite entry");
  }

  // The value of each row of `points`: runs (row, source) for every source, batch_rows at a time,
  // with the hooks `install(hooks, runs)` adds (batch row b is run runs[b]: point row
  // runs[b] / sources(), source runs[b] % sources()), and the metric averaged over the sources.
  // `start(row)` is the earliest layer at which row's hooks act (n_layers: none act); with
  // reuse_prefix, runs are grouped by it and each batch resumes there from the unablated residual
  // stream, so a value costs only the layers from its first ablation on. Each run takes `copies`
  // rows of the batch (batch row b is then run runs[b / copies]) and its value is read from the
  // first: a game that computes some components on inputs of their own uses the others.
  template <class Install, class Start>
  vector values(const matrix& points, Install install, Start start, index copies = 1) const {
    const index runs = points.rows() * sources();
    const index layers = model_->config().n_layers;
    std::vector<index> first_layer(static_cast<std::size_t>(points.rows()), 0);
    if (options_.reuse_prefix)
      for (index r = 0; r < points.rows(); ++r)
        first_layer[static_cast<std::size_t>(r)] = std::clamp<index>(start(r), 0, layers);
    std::vector<index> order(static_cast<std::size_t>(runs));
    for (index r = 0; r < runs; ++r) order[static_cast<std::size_t>(r)] = r;
    // Stable: a row's sources stay in order, so its sum is taken in the same order as without reuse.
    std::stable_sort(order.begin(), order.end(), [&](index a, index b) {
      return first_layer[static_cast<std::size_t>(a / sources())] < first_layer[static_cast<std::size_t>(b / sources())];
    });
    vector out = vector::Zero(points.rows());
    forward_options run;
    run.last_position_only = true;
    run.threads = options_.threads;
    const auto& metric = options_.metric;
    if (metric.kind == component_metric_kind::logit_difference) {
      run.logit_tokens = {metric.target};
      if (metric.contrast != -1) run.logit_tokens.push_back(metric.contrast);
    }
    std::vector<std::vector<token_id>> batch;
    float_matrix resume;
    const auto start_of = [&](index position) {
      return first_layer[static_cast<std::size_t>(order[static_cast<std::size_t>(position)] / sources())];
    };
    for (index first = 0, count = 0; first < runs; first += count) {
      // A batch holds runs of one start layer, so none computes layers it does not need.
      count = 1;
      while (count < options_.batch_rows && first + count < runs && start_of(first + count) == start_of(first)) ++count;
      const std::vector<index> batch_runs(order.begin() + first, order.begin() + first + count);
      batch.assign(static_cast<std::size_t>(count * copies), prompt_);
      hook_set hooks;
      install(hooks, std::span<const index>(batch_runs));
      run.hooks = &hooks;
      run.first_layer = first_layer[static_cast<std::size_t>(batch_runs.front() / sources())];
      run.resume = nullptr;
      if (run.first_layer > 0) {
        resume = clean_stream_[static_cast<std::size_t>(run.first_layer)].replicate(count * copies, 1);
        run.resume = &resume;
      }
      const auto logits = model_->forward(std::span<const std::vector<token_id>>(batch), run);
      for (index r = 0; r < count; ++r)
        out(batch_runs[static_cast<std::size_t>(r)] / sources()) +=
            metric_value(logits[static_cast<std::size_t>(r * copies)].row(0), true, nullptr);
    }
    return out / static_cast<double>(sources());
  }

  // Every run from the embeddings (games whose hooks read earlier layers of the same run).
  template <class Install>
  vector values(const matrix& points, Install install) const {
    return values(points, install, [](index) { return index{0}; });
  }

  // The metric of one position's logits over the whole vocabulary, or over the target's and the
  // contrast's columns only (`restricted`, logit_difference), and, when `gradient` is given, its
  // gradient with respect to those logits.
  double metric_value(const Eigen::Ref<const float_matrix>& logits, bool restricted, vector* gradient) const {
    const auto& metric = options_.metric;
    if (gradient != nullptr) *gradient = vector::Zero(logits.cols());
    if (metric.kind == component_metric_kind::logit_difference) {
      const index target = restricted ? 0 : metric.target;
      const index contrast = restricted ? 1 : metric.contrast;
      double v = static_cast<double>(logits(0, target));
      if (gradient != nullptr) (*gradient)(target) += 1.0;
      if (metric.contrast != -1) {
        v -= static_cast<double>(logits(0, contrast));
        if (gradient != nullptr) (*gradient)(contrast) -= 1.0;
      }
      return v;
    }
    const vector logp = log_softmax(logits);
    const vector p = logp.array().exp();
    switch (metric.kind) {
      case component_metric_kind::probability: {  // dp_k/dl = p_k (e_k - p)
        const double v = p(metric.target);
        if (gradient != nullptr) {
          *gradient = -v * p;
          (*gradient)(metric.target) += v;
        }
        return v;
      }
      case component_metric_kind::loss:  // d(-log p_k)/dl = p - e_k
        if (gradient != nullptr) {
          *gradient = p;
          (*gradient)(metric.target) -= 1.0;
        }
        return -logp(metric.target);
      case component_metric_kind::kl_to_clean: {  // d KL(q || p)/dl = p - q
        const vector q = clean_log_probabilities_.array().exp();
        if (gradient != nullptr) *gradient = p - q;
        return (q.array() * (clean_log_probabilities_ - logp).array()).sum();
      }
      case component_metric_kind::logit_difference: break;
    }
    return 0.0;
  }

  // The model's weights in float32 for the backward pass, decoded on first use and kept.
  const transformer_parameters& float_parameters() const {
    const std::lock_guard<std::mutex> lock(*parameters_lock_);
    if (!parameters_) parameters_ = std::make_shared<const transformer_parameters>(transformer_parameters::from_model(*model_));
    return *parameters_;
  }

  index width(hook_point p) const {
    const auto& c = model_->config();
    if (p.kind == hook_kind::mlp_post) return c.hidden_dim;
    if (p.kind == hook_kind::attn_z) return c.n_heads * c.head_dim();
    return c.dim;
  }

 private:
  void check_references(const transformer_config& c, index length) const {
    const std::string where = who_ + ": ";
    const auto count = options_.reference.size();
    switch (options_.ablation) {
      case ablation_kind::zero:
        detail::require(count == 0, where + "zero ablation takes no reference prompts, got " + std::to_string(count));
        break;
      case ablation_kind::mean:
      case ablation_kind::resample:
        detail::require(count >= 1, where + "mean and resample ablation need at least one reference prompt");
        break;
      case ablation_kind::patch:
        detail::require(count == 1, where + "patch ablation takes exactly one reference prompt, got " + std::to_string(count));
        break;
    }
    const transformer_model& source = reference_model();
    const auto& s = source.config();
    detail::require(s.dim == c.dim && s.n_layers == c.n_layers && s.n_heads == c.n_heads && s.hidden_dim == c.hidden_dim,
                    where + "the reference model has width " + std::to_string(s.dim) + ", " + std::to_string(s.n_layers) +
                        " layers, " + std::to_string(s.n_heads) + " heads and MLP width " + std::to_string(s.hidden_dim) +
                        "; the game's model has " + std::to_string(c.dim) + ", " + std::to_string(c.n_layers) + ", " +
                        std::to_string(c.n_heads) + " and " + std::to_string(c.hidden_dim));
    for (std::size_t i = 0; i < count; ++i) {
      const auto& r = options_.reference[i];
      detail::require(static_cast<index>(r.size()) == length,
                      where + "reference prompt " + std::to_string(i) + " has " + std::to_string(r.size()) +
                          " tokens; ablation values are taken position by position, so it needs the prompt's " +
                          std::to_string(length));
      for (token_id t : r)
        detail::require(t >= 0 && t < s.vocab_size, where + "reference prompt " + std::to_string(i) + " holds token " +
                                                        std::to_string(t) + ", outside the reference model's vocabulary");
    }
  }

  const transformer_model& reference_model() const {
    return options_.reference_model != nullptr ? *options_.reference_model : *model_;
  }

  // The ablation values of every source at every point: a prompt-length x width matrix each.
  void record_sources(const std::set<hook_point>& points) {
    const auto length = static_cast<index>(prompt_.size());
    if (options_.ablation == ablation_kind::zero) {
      auto& zero = sources_.emplace_back();
      for (const auto& point : points) zero[point] = float_matrix::Zero(length, width(point));
      return;
    }
    activation_cache cache;
    hook_set hooks;
    for (const auto& point : points) hooks.cache(point, cache);
    forward_options run;
    run.hooks = &hooks;
    run.logit_tokens = {0};
    run.threads = options_.threads;
    reference_model().forward(std::span<const std::vector<token_id>>(options_.reference), run);
    const auto count = static_cast<index>(options_.reference.size());
    for (index r = 0; r < count; ++r) {
      std::map<hook_point, float_matrix> values;
      for (const auto& point : points) values[point] = cache.at(point, r).topRows(length);
      sources_.push_back(std::move(values));
    }
    if (options_.ablation == ablation_kind::mean) {
      auto& mean = sources_.front();
      for (auto& [point, m] : mean) {
        for (index r = 1; r < count; ++r) m += sources_[static_cast<std::size_t>(r)].at(point);
        m /= static_cast<float>(count);
      }
      sources_.resize(1);
    }
  }

  // The unablated prompt's residual stream entering each layer, and after the last one.
  void record_clean_stream() {
    const index layers = model_->config().n_layers;
    activation_cache cache;
    hook_set hooks;
    for (index l = 0; l < layers; ++l) hooks.cache(hook_point::resid_pre(l), cache);
    hooks.cache(hook_point::resid_post(layers - 1), cache);
    forward_options run;
    run.hooks = &hooks;
    run.logit_tokens = {0};
    run.last_position_only = true;
    run.threads = options_.threads;
    model_->forward(std::span<const std::vector<token_id>>(std::vector<std::vector<token_id>>{prompt_}), run);
    const auto length = static_cast<index>(prompt_.size());
    for (index l = 0; l < layers; ++l) clean_stream_.push_back(cache.at(hook_point::resid_pre(l), 0).topRows(length));
    clean_stream_.push_back(cache.at(hook_point::resid_post(layers - 1), 0).topRows(length));
  }

  static vector log_softmax(const Eigen::Ref<const float_matrix>& logits) {
    const vector l = logits.row(0).transpose().cast<double>();
    const double top = l.maxCoeff();
    return l.array() - top - std::log((l.array() - top).exp().sum());
  }

  const transformer_model* model_;
  std::vector<token_id> prompt_;
  component_game_options options_;
  std::string who_;
  std::vector<std::map<hook_point, float_matrix>> sources_;
  vector clean_log_probabilities_;
  std::vector<float_matrix> clean_stream_;  // reuse_prefix: resid_pre of each layer, then the last resid_post
  mutable std::shared_ptr<const transformer_parameters> parameters_;
  std::shared_ptr<std::mutex> parameters_lock_ = std::make_shared<std::mutex>();
};

}  // namespace attrib
