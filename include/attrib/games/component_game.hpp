#pragma once
// transformer_component_game: a transformer's components as the players of a cooperative game,
// so that every estimator of the game framework (exact Shapley, KernelSHAP, permutation sampling,
// Banzhaf, LIME, occlusion, and the data-style estimators) attributes a behaviour to attention
// heads, MLP neurons, whole blocks or residual positions unchanged.
//
// A coalition z (one entry per player) runs the prompt with every absent player's activation
// replaced by an ablation value: its slice a of the activation becomes s + z (a - s), where s is
// the ablation value, so z = 1 keeps the component, z = 0 ablates it, and a fractional z is the
// continuous mask that mask learning optimises. Ablation values come from
//   zero      s = 0;
//   mean      s = the activation averaged over reference prompts, position by position;
//   resample  s = a reference prompt's activation, and the value is averaged over every reference
//             (the expectation of resample ablation over the reference set, so the game stays a
//             deterministic function);
//   patch     s = the activation of one reference run, of this model or of another model of the
//             same shape (cross-model patching).
// The value is a metric of the last position's logits: a logit (difference), a probability, the
// loss of a target token, or the KL divergence from the unablated run's distribution.
//
// The game is differentiable in z: gradients() runs the mix s + z (a - s) on the backward pass's
// tape, so the gradient methods apply too. At the grand coalition the gradient is attribution
// patching (methods/component/attribution_patching.hpp); along the path from the empty coalition
// it is integrated gradients over components.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/hook_point.hpp"
#include "attrib/core/types.hpp"
#include "attrib/transformer/hooks/hooks.hpp"
#include "attrib/transformer/model/model.hpp"
#include "attrib/transformer/training/backward.hpp"
#include "attrib/transformer/training/parameters.hpp"

namespace attrib {

enum class component_kind {
  head,       // attention head (layer, unit = head): its columns of attn_z
  neuron,     // MLP neuron (layer, unit = neuron): its column of mlp_post
  attention,  // a layer's whole attention block: attn_out (unit unused)
  mlp,        // a layer's whole MLP block: mlp_out (unit unused)
  position,   // the residual stream entering `layer` at position `unit`: resid_pre
};

struct transformer_component {
  component_kind kind = component_kind::head;
  index layer = 0;
  index unit = 0;

  friend auto operator<=>(const transformer_component&, const transformer_component&) = default;
};

// "head 3.1", "neuron 2.17", "attention 1", "mlp 1", "position 0.5" (layer, then unit).
inline std::string to_string(const transformer_component& c) {
  const std::string layer = std::to_string(c.layer);
  switch (c.kind) {
    case component_kind::head: return "head " + layer + "." + std::to_string(c.unit);
    case component_kind::neuron: return "neuron " + layer + "." + std::to_string(c.unit);
    case component_kind::attention: return "attention " + layer;
    case component_kind::mlp: return "mlp " + layer;
    case component_kind::position: return "position " + layer + "." + std::to_string(c.unit);
  }
  return "unknown";
}

// The hook point a component lives at.
inline hook_point component_hook(const transformer_component& c) {
  switch (c.kind) {
    case component_kind::head: return hook_point::attn_z(c.layer);
    case component_kind::neuron: return hook_point::mlp_post(c.layer);
    case component_kind::attention: return hook_point::attn_out(c.layer);
    case component_kind::mlp: return hook_point::mlp_out(c.layer);
    case component_kind::position: return hook_point::resid_pre(c.layer);
  }
  return hook_point::embed();
}

// The columns [first, first + second) of component_hook(c) that the component owns.
inline std::pair<index, index> component_columns(const transformer_config& config, const transformer_component& c) {
  switch (c.kind) {
    case component_kind::head: return {c.unit * config.head_dim(), config.head_dim()};
    case component_kind::neuron: return {c.unit, 1};
    case component_kind::attention:
    case component_kind::mlp:
    case component_kind::position: break;
  }
  return {0, config.dim};
}

// Every attention head, layer by layer.
inline std::vector<transformer_component> every_head(const transformer_config& c) {
  std::vector<transformer_component> out;
  for (index l = 0; l < c.n_layers; ++l)
    for (index h = 0; h < c.n_heads; ++h) out.push_back({component_kind::head, l, h});
  return out;
}

// Every neuron of layer `layer`'s MLP.
inline std::vector<transformer_component> every_neuron(const transformer_config& c, index layer) {
  std::vector<transformer_component> out;
  for (index i = 0; i < c.hidden_dim; ++i) out.push_back({component_kind::neuron, layer, i});
  return out;
}

// Every attention and MLP block, in forward order.
inline std::vector<transformer_component> every_block(const transformer_config& c) {
  std::vector<transformer_component> out;
  for (index l = 0; l < c.n_layers; ++l) {
    out.push_back({component_kind::attention, l, 0});
    out.push_back({component_kind::mlp, l, 0});
  }
  return out;
}

// Every position of a prompt of `length` tokens, in the stream entering layer `layer`.
inline std::vector<transformer_component> every_position(index layer, index length) {
  std::vector<transformer_component> out;
  for (index p = 0; p < length; ++p) out.push_back({component_kind::position, layer, p});
  return out;
}

enum class ablation_kind { zero, mean, resample, patch };

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
  // Positions at which heads, neurons and blocks are ablated (empty: every position). Position
  // players name their own.
  std::vector<index> positions = {};
  index batch_rows = 32;    // prompts per forward pass
  std::size_t threads = 1;  // threads inside each forward pass; results do not depend on it
};

class transformer_component_game {
 public:
  // Holds a reference to `model`, which must outlive the game; the reference runs are done here.
  // Throws invalid_argument naming the problem for players outside the model or the prompt,
  // reference prompts of another length or count than the ablation needs, a reference model of
  // another shape, and metric tokens outside the vocabulary.
  transformer_component_game(const transformer_model& model, std::vector<token_id> prompt,
                             std::vector<transformer_component> players, component_game_options options)
      : model_(&model), prompt_(std::move(prompt)), players_(std::move(players)), options_(std::move(options)) {
    const auto& c = model.config();
    const auto length = static_cast<index>(prompt_.size());
    const std::string where = "transformer_component_game: ";
    detail::require(length > 0, where + "the prompt is empty");
    detail::require(length <= c.context_length, where + "the prompt has " + std::to_string(length) +
                                                    " tokens, more than the context length " +
                                                    std::to_string(c.context_length));
    detail::require(!players_.empty(), where + "no players given");
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
    check_players(c, length);
    check_references(c, length);
    index_players(c);
    record_sources();
    if (metric.kind == component_metric_kind::kl_to_clean) {
      const std::vector<std::vector<token_id>> one{prompt_};
      forward_options run;
      run.last_position_only = true;
      run.threads = options_.threads;
      clean_log_probabilities_ = log_softmax(model.forward(std::span<const std::vector<token_id>>(one), run)[0]);
    }
  }

  index player_count() const { return static_cast<index>(players_.size()); }
  index model_evaluations_per_value() const { return static_cast<index>(sources_.size()); }
  const std::vector<transformer_component>& players() const { return players_; }
  const std::vector<token_id>& prompt() const { return prompt_; }
  const transformer_model& model() const { return *model_; }
  const component_game_options& options() const { return options_; }
  // The ablation values: one table per source (one for zero, mean and patch, one per reference for
  // resample), prompt length x width at each hook point the players use.
  const std::vector<std::map<hook_point, float_matrix>>& ablation_values() const { return sources_; }
  // Whether heads, neurons and blocks are ablated at `position` (options().positions).
  bool ablated_position(index position) const {
    return options_.positions.empty() ||
           std::find(options_.positions.begin(), options_.positions.end(), position) != options_.positions.end();
  }
  // The unablated run's log-probabilities at the last position (kl_to_clean only; else empty).
  const vector& clean_log_probabilities() const { return clean_log_probabilities_; }

  // One value per row of `points` (player_count() columns, finite entries; 1 keeps a player,
  // 0 ablates it).
  vector values(const matrix& points) const {
    check_points(points);
    const auto sources = static_cast<index>(sources_.size());
    const index runs = points.rows() * sources;
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
    for (index first = 0; first < runs; first += options_.batch_rows) {
      const index count = std::min(options_.batch_rows, runs - first);
      batch.assign(static_cast<std::size_t>(count), prompt_);
      hook_set hooks;
      for (const auto& [point, slices] : slices_)
        hooks.call(point, [&, first, &slices = slices](hook_point at, float_matrix& values,
                                                     std::span<const token_location> tokens) {
          ablate(at, slices, points, first, values, tokens);
        });
      run.hooks = &hooks;
      const auto logits = model_->forward(std::span<const std::vector<token_id>>(batch), run);
      for (index r = 0; r < count; ++r)
        out((first + r) / sources) += metric_value(logits[static_cast<std::size_t>(r)].row(0), true, nullptr);
    }
    return out / static_cast<double>(sources);
  }

  // dv/dz at each row of `points`, from one forward and one backward pass of all rows (and
  // sources) together on the tape, in float. The first call decodes the model's weights to
  // float32 once (kept while the game lives).
  template <class = void>  // the tape compiles where it is used
  matrix gradients(const matrix& points) const {
    check_points(points);
    const auto sources = static_cast<index>(sources_.size());
    const index runs = points.rows() * sources;
    const auto length = static_cast<index>(prompt_.size());
    // Entries no player touches keep weight 1 and source 0, so they pass through exactly.
    backward_options options;
    options.threads = options_.threads;
    for (const auto& [point, slices] : slices_) {
      activation_mix mix{float_matrix::Zero(runs * length, width(point)), float_matrix::Ones(runs * length, width(point))};
      for (index run = 0; run < runs; ++run) {
        const auto& source = sources_[static_cast<std::size_t>(run % sources)].at(point);
        for (const auto& sl : slices)
          for (index t = 0; t < length; ++t) {
            if (!touches(sl, t)) continue;
            const index row = run * length + t;
            mix.source.row(row).segment(sl.begin, sl.width) = source.row(t).segment(sl.begin, sl.width);
            mix.weight.row(row).segment(sl.begin, sl.width).setConstant(static_cast<float>(points(run / sources, sl.player)));
          }
      }
      options.mixes.emplace(point, std::move(mix));
    }
    const std::vector<std::vector<token_id>> batch(static_cast<std::size_t>(runs), prompt_);
    const logit_objective objective = [&](const std::vector<float_matrix>& logits, std::vector<float_matrix>& gradient) {
      double total = 0.0;
      for (std::size_t r = 0; r < logits.size(); ++r) {
        const index last = logits[r].rows() - 1;
        vector d;
        total += metric_value(logits[r].row(last), false, &d);
        gradient[r].row(last) += (d / static_cast<double>(sources)).transpose().cast<float>();
      }
      return total / static_cast<double>(sources);
    };
    const auto g = transformer_backward(float_parameters(), std::span<const std::vector<token_id>>(batch), objective, options);
    matrix out = matrix::Zero(points.rows(), player_count());
    for (const auto& [point, slices] : slices_) {
      const auto& dweight = g.mix_gradients.at(point);
      for (index run = 0; run < runs; ++run)
        for (const auto& sl : slices)
          for (index t = 0; t < length; ++t)
            if (touches(sl, t))
              out(run / sources, sl.player) +=
                  static_cast<double>(dweight.row(run * length + t).segment(sl.begin, sl.width).sum());
    }
    return out;
  }

 private:
  void check_points(const matrix& points) const {
    detail::require(points.cols() == player_count(),
                    "transformer_component_game: points have " + std::to_string(points.cols()) +
                        " columns, expected " + std::to_string(player_count()) + " (one per player)");
    detail::require(points.allFinite(), "transformer_component_game: points hold a NaN or infinite entry");
  }

  // One player's part of a hook point: columns [begin, begin + width) at `position` (-1: every
  // ablated position).
  struct slice {
    index player;
    index begin;
    index width;
    index position;
  };

  void check_players(const transformer_config& c, index length) const {
    for (const auto& p : players_) {
      const std::string name = "transformer_component_game: player " + to_string(p);
      detail::require(p.layer >= 0 && p.layer < c.n_layers,
                      name + " is outside the model's " + std::to_string(c.n_layers) + " layers");
      auto unit_below = [&](index limit, const std::string& what) {
        detail::require(p.unit >= 0 && p.unit < limit,
                        name + " is outside the " + std::to_string(limit) + " " + what);
      };
      switch (p.kind) {
        case component_kind::head: unit_below(c.n_heads, "heads of a layer"); break;
        case component_kind::neuron: unit_below(c.hidden_dim, "neurons of a layer's MLP"); break;
        case component_kind::position: unit_below(length, "positions of the prompt"); break;
        case component_kind::attention:
        case component_kind::mlp: unit_below(1, "unit of a whole block (0)"); break;
      }
    }
    auto sorted = players_;
    std::sort(sorted.begin(), sorted.end());
    const auto twice = std::adjacent_find(sorted.begin(), sorted.end());
    detail::require(twice == sorted.end(),
                    "transformer_component_game: player " + (twice == sorted.end() ? std::string() : to_string(*twice)) +
                        " is listed twice");
  }

  void check_references(const transformer_config& c, index length) const {
    const std::string where = "transformer_component_game: ";
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

  // Groups the players by hook point, with the columns and positions each one covers.
  void index_players(const transformer_config& c) {
    for (index j = 0; j < player_count(); ++j) {
      const auto& p = players_[static_cast<std::size_t>(j)];
      const hook_point point = component_hook(p);
      const auto [begin, width] = component_columns(c, p);
      slices_[point].push_back({j, begin, width, p.kind == component_kind::position ? p.unit : -1});
    }
  }

  // The ablation values of every source at every hook point the players use: a prompt-length x
  // width matrix each.
  void record_sources() {
    const auto length = static_cast<index>(prompt_.size());
    if (options_.ablation == ablation_kind::zero) {
      auto& zero = sources_.emplace_back();
      for (const auto& [point, slices] : slices_) zero[point] = float_matrix::Zero(length, width(point));
      return;
    }
    activation_cache cache;
    hook_set hooks;
    for (const auto& [point, slices] : slices_) hooks.cache(point, cache);
    forward_options run;
    run.hooks = &hooks;
    run.logit_tokens = {0};
    run.threads = options_.threads;
    reference_model().forward(std::span<const std::vector<token_id>>(options_.reference), run);
    const auto count = static_cast<index>(options_.reference.size());
    for (index r = 0; r < count; ++r) {
      std::map<hook_point, float_matrix> values;
      for (const auto& [point, slices] : slices_) values[point] = cache.at(point, r).topRows(length);
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

  index width(hook_point p) const {
    const auto& c = model_->config();
    if (p.kind == hook_kind::mlp_post) return c.hidden_dim;
    if (p.kind == hook_kind::attn_z) return c.n_heads * c.head_dim();
    return c.dim;
  }

  bool touches(const slice& s, index position) const {
    return s.position >= 0 ? s.position == position : ablated_position(position);
  }

  // The model's weights in float32, decoded on first use.
  const transformer_parameters& float_parameters() const {
    const std::lock_guard<std::mutex> lock(*parameters_lock_);
    if (!parameters_) parameters_ = std::make_shared<const transformer_parameters>(transformer_parameters::from_model(*model_));
    return *parameters_;
  }

  // Run `first + row` of a batch is point (first + row) / sources, with source (first + row) % sources.
  void ablate(hook_point point, const std::vector<slice>& slices, const matrix& points, index first,
              float_matrix& values, std::span<const token_location> tokens) const {
    const auto sources = static_cast<index>(sources_.size());
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      const auto t = tokens[i];
      const index run = first + t.row;
      const auto& source = sources_[static_cast<std::size_t>(run % sources)].at(point);
      auto row = values.row(static_cast<index>(i));
      for (const auto& s : slices) {
        if (!touches(s, t.position)) continue;
        const auto z = static_cast<float>(points(run / sources, s.player));
        if (z == 1.0f) continue;
        const auto from = source.row(t.position).segment(s.begin, s.width);
        auto a = row.segment(s.begin, s.width);
        a = from + z * (a - from);
      }
    }
  }

  static vector log_softmax(const Eigen::Ref<const float_matrix>& logits) {
    const vector l = logits.row(0).transpose().cast<double>();
    const double top = l.maxCoeff();
    return l.array() - top - std::log((l.array() - top).exp().sum());
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

  const transformer_model* model_;
  std::vector<token_id> prompt_;
  std::vector<transformer_component> players_;
  component_game_options options_;
  std::map<hook_point, std::vector<slice>> slices_;
  std::vector<std::map<hook_point, float_matrix>> sources_;
  vector clean_log_probabilities_;
  mutable std::shared_ptr<const transformer_parameters> parameters_;
  std::shared_ptr<std::mutex> parameters_lock_ = std::make_shared<std::mutex>();
};

}  // namespace attrib
