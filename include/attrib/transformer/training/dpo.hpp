#pragma once
// Direct Preference Optimization (Rafailov et al. 2023): post-training a policy on pairs of a
// chosen and a rejected completion of one prompt, against a frozen reference model. The loss of
// a pair is -log sigmoid(beta ((log pi(c) - log ref(c)) - (log pi(r) - log ref(r)))), where
// log pi(c) is the sum over the completion's tokens of the log-probability the model gives each
// token at the position before it; the batch loss is the mean over pairs.
//
// The gradient comes from one transformer_backward pass over the batch's 2 n sequences (chosen
// and rejected of each pair, in pair order), with an objective that writes d loss / d logits on
// the completion positions: +-(beta / n) sigmoid(-margin) (softmax - onehot(token)). The
// reference's log-probabilities are computed once, up front, with the same float tape (a policy
// equal to the reference then has margins of exactly 0 on the same batch of pairs, and of float
// rounding, ~1e-8, on another batching of them). Training reuses the language-model trainer's
// AdamW, global-norm clipping, warmup-cosine schedule and seeded batcher (training.hpp).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"
#include "attrib/optimizers/adam.hpp"
#include "attrib/optimizers/gradient_clipping.hpp"
#include "attrib/optimizers/warmup_cosine_schedule.hpp"
#include "attrib/transformer/model/model.hpp"
#include "attrib/transformer/training/backward.hpp"
#include "attrib/transformer/training/parameters.hpp"
#include "attrib/transformer/training/training.hpp"

namespace attrib {

// A prompt and two completions of it (the tokens after the prompt): the preferred one and the
// other. The prompt must hold at least one token (BOS, say), so that every completion token has
// a preceding position.
struct preference_pair {
  std::vector<token_id> prompt;
  std::vector<token_id> chosen;
  std::vector<token_id> rejected;
};

// The reference model's sequence log-probabilities of a pair's two completions.
struct reference_log_probabilities {
  double chosen = 0.0;
  double rejected = 0.0;
};

// The DPO loss of a batch of pairs and what goes with it.
struct dpo_loss_result {
  double loss = 0.0;  // mean over pairs of -log sigmoid(margin)
  // d loss / d(parameter), laid out as the policy's parameters (empty tensors list when the
  // gradient was not asked for).
  transformer_parameters gradient;
  // Per pair: the implicit reward margin beta ((log pi(c) - log ref(c)) - (log pi(r) - log ref(r))).
  std::vector<double> margins;
  // Per pair: the policy's sequence log-probabilities of the chosen and rejected completions.
  std::vector<double> chosen_log_probabilities;
  std::vector<double> rejected_log_probabilities;
  double accuracy = 0.0;  // fraction of pairs whose margin is > 0 (the reward prefers chosen)
};

namespace detail {

inline void check_preference_pairs(std::span<const preference_pair> pairs,
                                   const transformer_config& config, const std::string& who) {
  if (pairs.empty()) throw invalid_argument(who + ": there are no preference pairs");
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    const auto& p = pairs[i];
    const std::string at = who + ": pair " + std::to_string(i);
    if (p.prompt.empty())
      throw invalid_argument(at + " has an empty prompt; it needs at least one token (BOS)");
    auto check = [&](const std::vector<token_id>& completion, const char* name) {
      if (completion.empty()) throw invalid_argument(at + " has an empty " + name + " completion");
      const std::size_t length = p.prompt.size() + completion.size();
      if (static_cast<index>(length) > config.context_length)
        throw invalid_argument(at + ": prompt and " + name + " completion have " +
                               std::to_string(length) + " tokens, more than the context length " +
                               std::to_string(config.context_length));
      auto in_vocabulary = [&](const std::vector<token_id>& tokens, const char* part) {
        for (std::size_t t = 0; t < tokens.size(); ++t)
          if (tokens[t] < 0 || tokens[t] >= config.vocab_size)
            throw invalid_argument(at + " has token id " + std::to_string(tokens[t]) +
                                   " at index " + std::to_string(t) + " of its " + part +
                                   ", outside the vocabulary [0, " +
                                   std::to_string(config.vocab_size) + ")");
      };
      in_vocabulary(p.prompt, "prompt");
      in_vocabulary(completion, name);
    };
    check(p.chosen, "chosen");
    check(p.rejected, "rejected");
  }
}

inline void check_chosen_nll_weight(double weight, const std::string& who) {
  if (!(weight >= 0.0) || !std::isfinite(weight))
    throw invalid_argument(who + ": chosen_nll_weight must be finite and >= 0, got " + std::to_string(weight));
}

inline void check_beta(double beta, const std::string& who) {
  if (!(beta > 0.0) || !std::isfinite(beta))
    throw invalid_argument(who + ": beta must be finite and positive, got " + std::to_string(beta));
}

// Sequences [prompt + chosen_0, prompt + rejected_0, prompt + chosen_1, ...].
inline std::vector<std::vector<token_id>> preference_sequences(
    std::span<const preference_pair> pairs) {
  std::vector<std::vector<token_id>> out;
  out.reserve(2 * pairs.size());
  for (const auto& p : pairs)
    for (const auto* completion : {&p.chosen, &p.rejected}) {
      auto s = p.prompt;
      s.insert(s.end(), completion->begin(), completion->end());
      out.push_back(std::move(s));
    }
  return out;
}

// Sum over the last `completion` tokens of `sequence` of the log-softmax (in double) of the
// logits row before each; if `gradient` is given, adds scale (onehot - softmax) to its rows.
inline double completion_log_probability(const float_matrix& logits,
                                         const std::vector<token_id>& sequence,
                                         std::size_t completion, float_matrix* gradient = nullptr,
                                         double scale = 0.0) {
  const index vocab = logits.cols();
  const index first = static_cast<index>(sequence.size() - completion);
  double total = 0.0;
  std::vector<double> e(static_cast<std::size_t>(vocab));
  for (index t = first; t < static_cast<index>(sequence.size()); ++t) {
    const float* z = logits.row(t - 1).data();
    const double top = static_cast<double>(*std::max_element(z, z + vocab));
    double sum = 0.0;
    for (index j = 0; j < vocab; ++j)
      sum += (e[static_cast<std::size_t>(j)] = std::exp(static_cast<double>(z[j]) - top));
    const auto target = static_cast<index>(sequence[static_cast<std::size_t>(t)]);
    total += static_cast<double>(z[target]) - top - std::log(sum);
    if (gradient) {
      float* d = gradient->row(t - 1).data();
      for (index j = 0; j < vocab; ++j)
        d[j] -= static_cast<float>(scale * e[static_cast<std::size_t>(j)] / sum);
      d[target] += static_cast<float>(scale);
    }
  }
  return total;
}

// -log sigmoid(m), stably; exactly log 2 at m = 0.
inline double negative_log_sigmoid(double m) {
  return std::max(-m, 0.0) + std::log1p(std::exp(-std::abs(m)));
}

// sigmoid(-m), stably.
inline double sigmoid_of_negative(double m) {
  return m >= 0 ? std::exp(-m) / (1.0 + std::exp(-m)) : 1.0 / (1.0 + std::exp(m));
}

}  // namespace detail

// log p(completion | prompt) under `parameters`: the sum over the completion's tokens of the
// log-softmax (in double) at the position before each. Throws invalid_argument on an empty
// prompt or completion, token ids outside the vocabulary or a sequence longer than the context.
template <class = void>  // the tape compiles where it is used
double sequence_log_probability(const transformer_parameters& parameters,
                                const std::vector<token_id>& prompt,
                                const std::vector<token_id>& completion,
                                std::size_t threads = 1) {
  const preference_pair pair{prompt, completion, completion};
  detail::check_preference_pairs(std::span(&pair, 1), parameters.config,
                                 "sequence_log_probability");
  auto s = prompt;
  s.insert(s.end(), completion.begin(), completion.end());
  const std::vector<std::vector<token_id>> batch = {s};
  detail::transformer_tape<float> tape(parameters);
  tape.forward(batch, {}, threads);
  const float_matrix logits = tape.logits();
  return detail::completion_log_probability(logits, s, completion.size());
}

// As above for a loaded model (its weights decoded to float32 first).
template <class = void>
double sequence_log_probability(const transformer_model& model,
                                const std::vector<token_id>& prompt,
                                const std::vector<token_id>& completion,
                                std::size_t threads = 1) {
  return sequence_log_probability(transformer_parameters::from_model(model), prompt, completion,
                                  threads);
}

// The reference's log-probabilities of every pair's completions, from one forward pass over all
// pairs (the same float tape as dpo_loss_and_gradient, so that a policy equal to the reference
// has margins of exactly 0). Throws invalid_argument on malformed pairs.
template <class = void>  // the tape compiles where it is used
std::vector<reference_log_probabilities> dpo_reference_log_probabilities(
    const transformer_parameters& reference, std::span<const preference_pair> pairs,
    std::size_t threads = 1) {
  detail::check_preference_pairs(pairs, reference.config, "dpo_reference_log_probabilities");
  const auto sequences = detail::preference_sequences(pairs);
  detail::transformer_tape<float> tape(reference);
  tape.forward(sequences, {}, threads);
  std::vector<reference_log_probabilities> out(pairs.size());
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    double lp[2];
    for (std::size_t k = 0; k < 2; ++k) {
      const std::size_t b = 2 * i + k;
      const index first = tape.first_row(b);
      const float_matrix logits = tape.logits().middleRows(first, tape.first_row(b + 1) - first);
      lp[k] = detail::completion_log_probability(
          logits, sequences[b], k == 0 ? pairs[i].chosen.size() : pairs[i].rejected.size());
    }
    out[i] = {lp[0], lp[1]};
  }
  return out;
}

template <class = void>
std::vector<reference_log_probabilities> dpo_reference_log_probabilities(
    const transformer_model& reference, std::span<const preference_pair> pairs,
    std::size_t threads = 1) {
  return dpo_reference_log_probabilities(transformer_parameters::from_model(reference), pairs,
                                         threads);
}

// The DPO loss of `policy` on `pairs` (mean over pairs) against the reference's precomputed
// log-probabilities (one entry per pair), the reward margins, the preference accuracy and, when
// `gradient` is set, d loss / d(every policy parameter). chosen_nll_weight > 0 adds that multiple
// of the chosen completion's mean negative log-likelihood per token to each pair's loss (the
// "DPO + NLL" of Llama 3's post-training and of Pang et al. 2024's RPO), which keeps the chosen
// answers' probability rising instead of only the rejected ones' falling. Throws
// invalid_argument on no pairs, an empty prompt or completion, token ids outside the vocabulary,
// a sequence longer than the context, beta <= 0 or not finite, a negative or non-finite
// chosen_nll_weight, or references that do not match the pairs or are not finite.
template <class = void>  // the tape compiles where it is used
dpo_loss_result dpo_loss_and_gradient(const transformer_parameters& policy,
                                      std::span<const reference_log_probabilities> reference,
                                      std::span<const preference_pair> pairs, double beta,
                                      std::size_t threads = 1, bool gradient = true,
                                      double chosen_nll_weight = 0.0) {
  const std::string who = "dpo_loss_and_gradient";
  detail::check_beta(beta, who);
  detail::check_chosen_nll_weight(chosen_nll_weight, who);
  detail::check_preference_pairs(pairs, policy.config, who);
  if (reference.size() != pairs.size())
    throw invalid_argument(who + ": " + std::to_string(reference.size()) +
                           " reference entries for " + std::to_string(pairs.size()) + " pairs");
  for (std::size_t i = 0; i < reference.size(); ++i)
    if (!std::isfinite(reference[i].chosen) || !std::isfinite(reference[i].rejected))
      throw invalid_argument(who + ": the reference log-probabilities of pair " +
                             std::to_string(i) + " are not finite");
  const auto sequences = detail::preference_sequences(pairs);
  const std::size_t n = pairs.size();
  dpo_loss_result out;
  out.margins.resize(n);
  out.chosen_log_probabilities.resize(n);
  out.rejected_log_probabilities.resize(n);
  auto objective = [&](const std::vector<float_matrix>& logits, std::vector<float_matrix>& dlogits) {
    double loss = 0.0;
    std::size_t preferred = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const double chosen =
          detail::completion_log_probability(logits[2 * i], sequences[2 * i], pairs[i].chosen.size());
      const double rejected = detail::completion_log_probability(
          logits[2 * i + 1], sequences[2 * i + 1], pairs[i].rejected.size());
      const double margin =
          beta * ((chosen - reference[i].chosen) - (rejected - reference[i].rejected));
      out.chosen_log_probabilities[i] = chosen;
      out.rejected_log_probabilities[i] = rejected;
      out.margins[i] = margin;
      if (margin > 0) ++preferred;
      const auto chosen_length = static_cast<double>(pairs[i].chosen.size());
      loss += detail::negative_log_sigmoid(margin) - chosen_nll_weight * chosen / chosen_length;
      // d loss / d log pi(c) = -(beta / n) sigmoid(-margin) - weight / (n |c|); d loss / d log pi(r)
      // = (beta / n) sigmoid(-margin).
      const double scale = -beta / static_cast<double>(n) * detail::sigmoid_of_negative(margin);
      detail::completion_log_probability(logits[2 * i], sequences[2 * i], pairs[i].chosen.size(),
                                         &dlogits[2 * i],
                                         scale - chosen_nll_weight / (static_cast<double>(n) * chosen_length));
      detail::completion_log_probability(logits[2 * i + 1], sequences[2 * i + 1],
                                         pairs[i].rejected.size(), &dlogits[2 * i + 1], -scale);
    }
    out.accuracy = static_cast<double>(preferred) / static_cast<double>(n);
    return loss / static_cast<double>(n);
  };
  if (gradient) {
    auto g = transformer_backward(policy, sequences, objective,
                                  {.parameter_gradient = true, .threads = threads});
    out.loss = g.value;
    out.gradient = std::move(*g.parameters);
  } else {
    detail::transformer_tape<float> tape(policy);
    tape.forward(sequences, {}, threads);
    std::vector<float_matrix> logits, dlogits;
    for (std::size_t b = 0; b < sequences.size(); ++b) {
      const index first = tape.first_row(b);
      logits.push_back(tape.logits().middleRows(first, tape.first_row(b + 1) - first));
      dlogits.push_back(float_matrix::Zero(logits.back().rows(), logits.back().cols()));
    }
    out.loss = objective(logits, dlogits);
  }
  return out;
}

// The loss, margins and accuracy alone (one forward pass).
template <class = void>
dpo_loss_result dpo_loss(const transformer_parameters& policy,
                         std::span<const reference_log_probabilities> reference,
                         std::span<const preference_pair> pairs, double beta,
                         std::size_t threads = 1, double chosen_nll_weight = 0.0) {
  return dpo_loss_and_gradient(policy, reference, pairs, beta, threads, false, chosen_nll_weight);
}

struct dpo_options {
  double beta = 0.1;                  // strength of the tie to the reference
  std::size_t steps = 100;
  std::size_t batch_size = 8;         // pairs per step
  double learning_rate = 1e-4;        // peak of the schedule
  double final_learning_rate = 0.0;   // at the last step
  std::size_t warmup_steps = 0;
  adamw_options optimizer = {};       // decay applies to matrices only (decay_matrices)
  double clip_norm = 1.0;             // global gradient norm bound; 0 turns clipping off
  std::uint64_t seed = 0;             // batch order
  std::size_t threads = 1;            // 0: all cores; results do not depend on it
  double chosen_nll_weight = 0.0;     // the chosen answers' NLL term (dpo_loss_and_gradient); 0: plain DPO
};

struct dpo_step {
  std::size_t step = 0;  // 1-based
  double learning_rate = 0.0;
  double loss = 0.0;           // batch loss before the update
  double accuracy = 0.0;       // batch preference accuracy before the update
  double mean_margin = 0.0;    // batch mean reward margin before the update
  double gradient_norm = 0.0;  // before clipping
};

struct dpo_report {
  std::vector<dpo_step> history;  // one per step
  // On all pairs, before the first and after the last step.
  double initial_loss = 0.0, initial_accuracy = 0.0;
  double final_loss = 0.0, final_accuracy = 0.0;
};

// Trains `policy` in place by DPO on `pairs` against `reference` (whose log-probabilities are
// computed once, up front), with the language-model trainer's AdamW, clipping, schedule and
// seeded batcher. `progress`, if given, sees every step. Throws invalid_argument on options out
// of range (steps or batch size 0, beta, learning rates, betas, clip_norm < 0), malformed pairs,
// or a reference of another shape than the policy.
template <class = void>  // the tape compiles where training happens
dpo_report dpo_train(transformer_parameters& policy, const transformer_parameters& reference,
                     std::span<const preference_pair> pairs, const dpo_options& options = {},
                     const std::function<void(const dpo_step&)>& progress = {}) {
  const std::string who = "dpo_train";
  if (options.steps == 0) throw invalid_argument(who + ": steps must be positive");
  if (options.batch_size == 0) throw invalid_argument(who + ": batch_size must be positive");
  detail::check_beta(options.beta, who);
  detail::check_chosen_nll_weight(options.chosen_nll_weight, who);
  const warmup_cosine_schedule schedule{.peak = options.learning_rate,
                                        .final = options.final_learning_rate,
                                        .warmup_steps = options.warmup_steps,
                                        .total_steps = options.steps};
  schedule.validate();
  options.optimizer.validate(who);
  if (!(options.clip_norm >= 0.0) || !std::isfinite(options.clip_norm))
    throw invalid_argument(who + ": clip_norm must be finite and >= 0, got " +
                           std::to_string(options.clip_norm));
  detail::check_preference_pairs(pairs, policy.config, who);
  if (reference.config.vocab_size != policy.config.vocab_size ||
      reference.config.context_length != policy.config.context_length)
    throw invalid_argument(who + ": the reference's vocabulary or context differs from the policy's");

  const auto reference_lp = dpo_reference_log_probabilities(reference, pairs, options.threads);
  adamw optimizer(policy.tensors, decay_matrices(policy.tensors), options.optimizer);
  sequence_batcher batcher(pairs.size(), options.batch_size, options.seed);
  dpo_report report;
  {
    const auto initial =
        dpo_loss(policy, reference_lp, pairs, options.beta, options.threads, options.chosen_nll_weight);
    report.initial_loss = initial.loss;
    report.initial_accuracy = initial.accuracy;
  }
  std::vector<preference_pair> batch;
  std::vector<reference_log_probabilities> batch_reference;
  for (std::size_t s = 0; s < options.steps; ++s) {
    batch.clear();
    batch_reference.clear();
    for (std::size_t r : batcher.next()) {
      batch.push_back(pairs[r]);
      batch_reference.push_back(reference_lp[r]);
    }
    auto result =
        dpo_loss_and_gradient(policy, batch_reference, batch, options.beta, options.threads, true,
                              options.chosen_nll_weight);
    dpo_step record;
    record.step = s + 1;
    record.learning_rate = schedule(s);
    record.loss = result.loss;
    record.accuracy = result.accuracy;
    for (double m : result.margins) record.mean_margin += m / static_cast<double>(batch.size());
    record.gradient_norm = options.clip_norm > 0.0
                               ? clip_gradient_norm(result.gradient.tensors, options.clip_norm)
                               : global_gradient_norm(result.gradient.tensors);
    optimizer.step(policy.tensors, result.gradient.tensors, record.learning_rate);
    report.history.push_back(record);
    if (progress) progress(record);
  }
  const auto last =
      dpo_loss(policy, reference_lp, pairs, options.beta, options.threads, options.chosen_nll_weight);
  report.final_loss = last.loss;
  report.final_accuracy = last.accuracy;
  return report;
}

// As above with a loaded reference model (decoded to float32 once).
template <class = void>
dpo_report dpo_train(transformer_parameters& policy, const transformer_model& reference,
                     std::span<const preference_pair> pairs, const dpo_options& options = {},
                     const std::function<void(const dpo_step&)>& progress = {}) {
  return dpo_train(policy, transformer_parameters::from_model(reference), pairs, options, progress);
}

}  // namespace attrib
