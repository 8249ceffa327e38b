#pragma once
// Where a model keeps the knowledge that decides a true/false verdict, and whether that place
// survives post-training: causal tracing over (layer, position) with true/false pairs, within a
// model and across two models, as in "How Post-Training Reshapes LLMs" (Du et al., 2025), Table 1
// and section 3.2.
//
// For each pair the true prompt runs in the source model; its residual stream after layer l
// (resid_post.l, nnsight's layers[l].output[0]) at position p replaces the false prompt's in the
// target model, and d(l, p) = logit(TRUE) - logit(FALSE) at the last position is read. Same-model
// tracing has source = target; forward transfer takes the base model's activations into the
// post-trained model, backward transfer the reverse. The mean of d over pairs is quantised into
// the score M (tracing_heatmap.hpp), and the scores are compared by Corr, max|M1 - M2| and
// max|M1 - M2| over the knowledge columns.
//
// The paper's code runs one full forward pass per cell. Here each pair records both runs once,
// continuing a few-shot context recorded once for all pairs that share it, and computes only what
// each patch changes, with cells batched (patching.hpp): the same numbers.
#include <cstddef>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"
#include "attrib/studies/knowledge_pairs.hpp"
#include "attrib/studies/named_model.hpp"
#include "attrib/studies/tracing_heatmap.hpp"
#include "attrib/transformer/hooks/patching.hpp"
#include "attrib/transformer/model/model.hpp"

namespace attrib {

struct knowledge_tracing_options {
  index batch_cells = 64;   // patched runs computed together (patch_options::batch_cells)
  std::size_t threads = 1;  // 0: all cores; results do not depend on it
  // Called after each pair with (pairs done, pairs in all).
  std::function<void(std::size_t, std::size_t)> progress = {};
};

// One heatmap: `source` patched into `target` (the same name twice for same-model tracing).
struct knowledge_trace {
  std::string source;
  std::string target;
  matrix mean_effect;  // layers x window: the mean of d over pairs
  matrix score;        // quantised_heatmap(mean_effect)
  std::size_t pairs = 0;
  // Unpatched verdicts, for reading the map: the mean d of the source on the true prompts and of
  // the target on the false prompts, and the fraction of the target's verdicts on both prompts
  // of every pair that have the right sign (d > 0 for true, d < 0 for false).
  double true_effect = 0.0;
  double false_effect = 0.0;
  double target_accuracy = 0.0;
};

namespace detail {
inline void check_tracing_models(const transformer_model& source, const transformer_model& target,
                                 const knowledge_pairs& pairs) {
  const auto& a = source.config();
  const auto& b = target.config();
  if (a.dim != b.dim || a.n_layers != b.n_layers)
    throw invalid_argument("trace_knowledge: the source model has " + std::to_string(a.n_layers) +
                           " layers of width " + std::to_string(a.dim) + " and the target " +
                           std::to_string(b.n_layers) + " of width " + std::to_string(b.dim) +
                           "; cross-model patching needs the same layers and width");
  if (pairs.pairs.empty()) throw invalid_argument("trace_knowledge: there are no pairs to trace");
  if (pairs.window <= 0 || static_cast<index>(pairs.roles.size()) != pairs.window)
    throw invalid_argument("trace_knowledge: the pairs' window of traced columns is empty or "
                           "inconsistent with their column roles");
  for (const auto* c : {&a, &b})
    for (const token_id t : {pairs.true_token, pairs.false_token})
      if (t < 0 || t >= c->vocab_size)
        throw invalid_argument("trace_knowledge: answer token " + std::to_string(t) +
                               " is outside a vocabulary of " + std::to_string(c->vocab_size));
}
}  // namespace detail

// What one pair contributes to a map.
struct knowledge_pair_trace {
  matrix effect;              // layers x window: d with the cell patched
  double true_effect = 0.0;   // d of the source on the true prompt
  double false_effect = 0.0;  // d of the target on the false prompt
  std::size_t right = 0;      // the target's verdicts on the pair's two prompts with the right sign
};

// One map in steps, for callers that spread its pairs (over processes): trace_pair(i) measures
// pair i (any process measures the same bits: a pair's runs depend on the pair alone, and the
// shared few-shot contexts are recorded with the same bits as the whole prompt), add() takes the
// pairs in pair order and result() averages them. trace_knowledge is this loop in one process; a
// caller that adds the same pairs in the same order gets its map bit for bit. The models and the
// pairs must outlive the tracer.
class knowledge_tracer {
 public:
  knowledge_tracer(const transformer_model& source, std::string source_name, const transformer_model& target,
                   std::string target_name, const knowledge_pairs& pairs, const knowledge_tracing_options& options = {})
      : source_(source), target_(target), pairs_(pairs), options_(options) {
    detail::check_tracing_models(source, target, pairs);
    trace_ = {std::move(source_name), std::move(target_name), matrix::Zero(layers(), pairs.window), {},
              pairs.pairs.size()};
  }

  std::size_t pair_count() const { return pairs_.pairs.size(); }

  // Not const: it keeps the recorded few-shot contexts for later pairs.
  knowledge_pair_trace trace_pair(std::size_t i) {
    detail::require(i < pairs_.pairs.size(), "trace_knowledge: pair " + std::to_string(i) + " is outside the " +
                                                 std::to_string(pairs_.pairs.size()) + " pairs");
    const auto& pair = pairs_.pairs[i];
    if (pair.true_prompt.size() != pair.false_prompt.size() ||
        static_cast<index>(pair.false_prompt.size()) < pairs_.window)
      throw invalid_argument("trace_knowledge: pair " + std::to_string(i) +
                             " has prompts of unequal length or shorter than the window");
    const bool same = &source_ == &target_;
    const cached_run clean = recorded(source_, source_prefixes_, pair.true_prompt);
    const cached_run base = recorded(target_, same ? source_prefixes_ : target_prefixes_, pair.false_prompt);
    const index first = static_cast<index>(pair.false_prompt.size()) - pairs_.window;
    std::vector<residual_patch> patches;
    for (index l = 0; l < layers(); ++l)
      for (index p = first; p < first + pairs_.window; ++p) {
        // resid_post.l is the stream entering layer l + 1.
        const auto& stream = clean.residual[static_cast<std::size_t>(l + 1)];
        patches.push_back({l + 1, p, {stream.row(p).data(), static_cast<std::size_t>(stream.cols())}});
      }
    const float_matrix logits =
        patched_logits(target_, base, patches, {answers(), options_.batch_cells, options_.threads, true, {}});
    knowledge_pair_trace out;
    out.effect.resize(layers(), pairs_.window);
    for (index l = 0; l < layers(); ++l)
      for (index c = 0; c < pairs_.window; ++c) {
        const index row = l * pairs_.window + c;
        out.effect(l, c) = static_cast<double>(logits(row, 0)) - logits(row, 1);
      }
    out.true_effect = static_cast<double>(clean.last_logits(0, 0)) - clean.last_logits(0, 1);
    out.false_effect = static_cast<double>(base.last_logits(0, 0)) - base.last_logits(0, 1);
    out.right = out.false_effect < 0.0 ? 1 : 0;
    if (same) {
      out.right += out.true_effect > 0.0 ? 1 : 0;
    } else {
      // The target's verdict on the true prompt is not part of the sweep; read it.
      forward_options o;
      o.logit_tokens = answers();
      o.last_position_only = true;
      o.threads = options_.threads;
      const auto l = target_.forward(std::vector<std::vector<token_id>>{pair.true_prompt}, o)[0];
      out.right += l(0, 0) > l(0, 1) ? 1 : 0;
    }
    return out;
  }

  // Pairs must come in pair order, each once: the sums are then those of one loop.
  void add(const knowledge_pair_trace& t) {
    detail::require(added_ < pairs_.pairs.size(), "trace_knowledge: more than the " +
                                                      std::to_string(pairs_.pairs.size()) + " pairs were added");
    detail::require(t.effect.rows() == layers() && t.effect.cols() == pairs_.window,
                    "trace_knowledge: a pair's map is " + std::to_string(t.effect.rows()) + " x " +
                        std::to_string(t.effect.cols()) + "; expected " + std::to_string(layers()) + " x " +
                        std::to_string(pairs_.window));
    for (index l = 0; l < layers(); ++l)
      for (index c = 0; c < pairs_.window; ++c) trace_.mean_effect(l, c) += t.effect(l, c);
    trace_.true_effect += t.true_effect;
    trace_.false_effect += t.false_effect;
    right_ += t.right;
    ++added_;
  }

  knowledge_trace result() const {
    detail::require(added_ == pairs_.pairs.size(), "trace_knowledge: " + std::to_string(added_) + " of " +
                                                       std::to_string(pairs_.pairs.size()) + " pairs were added");
    knowledge_trace t = trace_;
    const auto n = static_cast<double>(pairs_.pairs.size());
    t.mean_effect /= n;
    t.true_effect /= n;
    t.false_effect /= n;
    t.target_accuracy = static_cast<double>(right_) / (2.0 * n);
    t.score = quantised_heatmap(t.mean_effect);
    return t;
  }

 private:
  using contexts = std::map<std::vector<token_id>, cached_run>;

  index layers() const { return target_.config().n_layers; }
  std::vector<token_id> answers() const { return {pairs_.true_token, pairs_.false_token}; }

  // Prompts with the same order of examples share everything before the statement: record that
  // context once per model and continue it for each prompt (extend_run, the same bits). At most
  // max_shared_contexts are kept; the paper's four examples have 24 orders.
  cached_run recorded(const transformer_model& model, contexts& kept, const std::vector<token_id>& prompt) const {
    constexpr std::size_t max_shared_contexts = 32;
    const auto context = static_cast<index>(prompt.size()) - pairs_.window;
    if (context < 1) return record_run(model, prompt, answers(), options_.threads);
    std::vector<token_id> key(prompt.begin(), prompt.begin() + context);
    auto it = kept.find(key);
    if (it == kept.end()) {
      if (kept.size() >= max_shared_contexts) kept.clear();
      it = kept.emplace(key, record_run(model, key, answers(), options_.threads)).first;
    }
    return extend_run(model, it->second, prompt, answers(), options_.threads);
  }

  const transformer_model& source_;
  const transformer_model& target_;
  const knowledge_pairs& pairs_;
  knowledge_tracing_options options_;
  knowledge_trace trace_;  // the sums so far
  std::size_t right_ = 0, added_ = 0;
  contexts source_prefixes_, target_prefixes_;
};

// The heatmap of `source`'s true-prompt activations patched into `target`'s false-prompt runs,
// every layer x every window column, averaged over the pairs. Throws invalid_argument when the
// models differ in layers or width, when a prompt is longer than either model's context or has a
// token outside its vocabulary, or when there are no pairs.
inline knowledge_trace trace_knowledge(const transformer_model& source, std::string source_name,
                                       const transformer_model& target, std::string target_name,
                                       const knowledge_pairs& pairs,
                                       const knowledge_tracing_options& options = {}) {
  knowledge_tracer tracer(source, std::move(source_name), target, std::move(target_name), pairs, options);
  for (std::size_t i = 0; i < tracer.pair_count(); ++i) {
    tracer.add(tracer.trace_pair(i));
    if (options.progress) options.progress(i + 1, tracer.pair_count());
  }
  return tracer.result();
}

// Heatmaps and the comparisons of Table 1 (storage) or of section 3.2 (transfer).
struct knowledge_study {
  std::string dataset;
  std::vector<std::string> column_labels;
  std::vector<column_role> roles;
  std::size_t candidates = 0, without_partner = 0, unequal_length = 0, other_shape = 0;
  std::vector<knowledge_trace> traces;
  struct comparison {
    std::string name;          // "base vs instruct", "forward transfer", ...
    std::size_t first = 0;     // indices into traces
    std::size_t second = 0;
    heatmap_comparison values;
  };
  std::vector<comparison> comparisons;
};

namespace detail {
inline knowledge_study study_frame(const std::string& dataset, const knowledge_pairs& pairs) {
  knowledge_study s;
  s.dataset = dataset;
  s.column_labels = pairs.column_labels;
  s.roles = pairs.roles;
  s.candidates = pairs.candidates;
  s.without_partner = pairs.without_partner;
  s.unequal_length = pairs.unequal_length;
  s.other_shape = pairs.other_shape;
  return s;
}

inline void add_comparison(knowledge_study& s, std::string name, std::size_t first, std::size_t second,
                           const std::vector<bool>& knowledge) {
  s.comparisons.push_back({std::move(name), first, second,
                           compare_heatmaps(s.traces[first].score, s.traces[second].score, knowledge)});
}

inline void check_named(const named_model& m, const char* who) {
  if (m.model == nullptr) throw invalid_argument(std::string(who) + ": model '" + m.name + "' is null");
}
}  // namespace detail

// Table 1: each model traced on itself, every later model compared with the first (the base).
// Progress counts pairs over all models.
inline knowledge_study knowledge_storage_study(std::span<const named_model> models,
                                               const knowledge_pairs& pairs, const std::string& dataset,
                                               const knowledge_tracing_options& options = {}) {
  if (models.empty()) throw invalid_argument("knowledge_storage_study: no models given");
  auto study = detail::study_frame(dataset, pairs);
  for (std::size_t m = 0; m < models.size(); ++m) {
    detail::check_named(models[m], "knowledge_storage_study");
    auto o = options;
    if (options.progress)
      o.progress = [&, m](std::size_t done, std::size_t total) { options.progress(m * total + done, models.size() * total); };
    study.traces.push_back(trace_knowledge(*models[m].model, models[m].name, *models[m].model,
                                           models[m].name, pairs, o));
  }
  const auto knowledge = pairs.knowledge_columns();
  for (std::size_t m = 1; m < models.size(); ++m)
    detail::add_comparison(study, models.front().name + " vs " + models[m].name, 0, m, knowledge);
  return study;
}

// Section 3.2: both models on themselves, forward transfer (base activations into the
// post-trained model) compared with the post-trained model's own map, backward transfer compared
// with the base's, and the two own maps with each other.
inline knowledge_study knowledge_transfer_study(const named_model& base, const named_model& post,
                                                const knowledge_pairs& pairs, const std::string& dataset,
                                                const knowledge_tracing_options& options = {}) {
  detail::check_named(base, "knowledge_transfer_study");
  detail::check_named(post, "knowledge_transfer_study");
  auto study = detail::study_frame(dataset, pairs);
  const std::pair<const named_model*, const named_model*> runs[] = {
      {&base, &base}, {&post, &post}, {&base, &post}, {&post, &base}};
  for (std::size_t r = 0; r < 4; ++r) {
    auto o = options;
    if (options.progress)
      o.progress = [&, r](std::size_t done, std::size_t total) { options.progress(r * total + done, 4 * total); };
    study.traces.push_back(trace_knowledge(*runs[r].first->model, runs[r].first->name,
                                           *runs[r].second->model, runs[r].second->name, pairs, o));
  }
  const auto knowledge = pairs.knowledge_columns();
  detail::add_comparison(study, "forward transfer (" + base.name + " -> " + post.name + " vs " + post.name + ")", 2, 1, knowledge);
  detail::add_comparison(study, "backward transfer (" + post.name + " -> " + base.name + " vs " + base.name + ")", 3, 0, knowledge);
  detail::add_comparison(study, base.name + " vs " + post.name, 0, 1, knowledge);
  return study;
}

}  // namespace attrib
