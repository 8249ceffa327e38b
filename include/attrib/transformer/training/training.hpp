#pragma once
// Training a transformer on weighted token sequences: AdamW on the weighted cross-entropy of
// next-token prediction, global-norm gradient clipping, a warmup-cosine learning rate, seeded
// batches, evaluation on held-out sequences and Hugging Face checkpoints along the way.
//
// Sequences are not padded: a batch is a list of sequences of any lengths, and weights[b][t]
// weighs the prediction of sequences[b][t + 1] (0 on a prompt, 1 on an answer, say). Every
// random choice derives from the seed, and the gradient is summed in a fixed order, so a run
// gives the same parameters bit for bit on any number of threads.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/random.hpp"
#include "attrib/core/training_report.hpp"
#include "attrib/optimizers/adam.hpp"
#include "attrib/optimizers/gradient_clipping.hpp"
#include "attrib/optimizers/warmup_cosine_schedule.hpp"
#include "attrib/transformer/training/backward.hpp"
#include "attrib/transformer/loading/checkpoint.hpp"
#include "attrib/transformer/model/model.hpp"
#include "attrib/transformer/training/parameters.hpp"

namespace attrib {

// Hands out batches of example indices: each epoch visits every example once in the order of a
// shuffle drawn from rng::stream(seed, epoch). A batch that reaches the end of an epoch is
// completed from the next one, so every batch has batch_size entries.
class sequence_batcher {
 public:
  sequence_batcher(std::size_t examples, std::size_t batch_size, std::uint64_t seed)
      : examples_(examples), batch_size_(batch_size), seed_(seed) {
    if (examples == 0) throw invalid_argument("sequence_batcher: there are no examples");
    if (batch_size == 0) throw invalid_argument("sequence_batcher: batch_size must be positive");
    shuffle();
  }

  std::vector<std::size_t> next() {
    std::vector<std::size_t> batch;
    batch.reserve(batch_size_);
    while (batch.size() < batch_size_) {
      if (position_ == order_.size()) {
        ++epoch_;
        shuffle();
      }
      batch.push_back(order_[position_++]);
    }
    return batch;
  }

  // Epochs begun so far, minus one: 0 while the first epoch is being visited.
  std::size_t epoch() const { return epoch_; }

 private:
  void shuffle() {
    order_.resize(examples_);
    std::iota(order_.begin(), order_.end(), std::size_t{0});
    rng r = rng::stream(seed_, epoch_);
    r.shuffle(order_.begin(), order_.end());
    position_ = 0;
  }

  std::size_t examples_;
  std::size_t batch_size_;
  std::uint64_t seed_;
  std::size_t epoch_ = 0;
  std::size_t position_ = 0;
  std::vector<std::size_t> order_;
};

// The sequences of `data` at `rows`, in that order.
inline language_model_batch select_rows(const language_model_batch& data,
                                        std::span<const std::size_t> rows) {
  language_model_batch out;
  out.sequences.reserve(rows.size());
  out.weights.reserve(rows.size());
  for (std::size_t r : rows) {
    out.sequences.push_back(data.sequences.at(r));
    out.weights.push_back(data.weights.at(r));
  }
  return out;
}

namespace detail {
// Checks `data` as language_model_loss_and_gradient would, naming which data set is wrong, and
// its tokens against the model: up front, so that a bad sequence fails before any step rather
// than when its batch comes up.
inline void check_language_model_data(const language_model_batch& data,
                                      const transformer_config& config, const std::string& name) {
  try {
    total_weight(data);
  } catch (const invalid_argument& e) {
    throw invalid_argument("train_language_model: " + name + ": " + e.what());
  }
  for (std::size_t b = 0; b < data.sequences.size(); ++b) {
    const auto& s = data.sequences[b];
    if (static_cast<index>(s.size()) > config.context_length)
      throw invalid_argument("train_language_model: " + name + " sequence " + std::to_string(b) +
                             " has " + std::to_string(s.size()) +
                             " tokens, more than the context length " +
                             std::to_string(config.context_length));
    for (std::size_t t = 0; t < s.size(); ++t)
      if (s[t] < 0 || s[t] >= config.vocab_size)
        throw invalid_argument("train_language_model: " + name + " sequence " + std::to_string(b) +
                               " has token id " + std::to_string(s[t]) + " at index " +
                               std::to_string(t) + ", outside the vocabulary [0, " +
                               std::to_string(config.vocab_size) + ")");
  }
}
}  // namespace detail

struct training_options {
  std::size_t steps = 100;
  std::size_t batch_size = 8;
  double learning_rate = 1e-3;        // peak of the schedule
  double final_learning_rate = 0.0;   // at the last step
  std::size_t warmup_steps = 0;
  adamw_options optimizer = {};       // decay applies to matrices only (decay_matrices)
  double clip_norm = 1.0;             // global gradient norm bound; 0 turns clipping off
  std::size_t eval_every = 0;         // evaluate every this many steps (and after the last); 0: last only
  std::size_t checkpoint_every = 0;   // 0: no checkpoints
  std::filesystem::path checkpoint_dir = {};  // checkpoint k goes to checkpoint_dir/step-<k>
  std::uint64_t seed = 0;             // batch order
  std::size_t threads = 1;            // 0: all cores; results do not depend on it
};

// Trains `parameters` in place on `train`, evaluating on `eval` (may be empty) with
// language_model_loss (the same weighted mean cross-entropy as the training loss). `progress`, if given, sees every step. Throws invalid_argument on options
// out of range (steps or batch size 0, learning rates, betas, clip_norm < 0, checkpoints without a
// directory) or malformed data; a diverging run (a non-finite gradient) throws from the optimizer.
template <class = void>  // the tape compiles where training happens
training_result train_language_model(transformer_parameters& parameters,
                                     const language_model_batch& train,
                                     const language_model_batch& eval,
                                     const training_options& options,
                                     const std::function<void(const training_step&)>& progress = {}) {
  if (options.steps == 0) throw invalid_argument("train_language_model: steps must be positive");
  if (options.batch_size == 0)
    throw invalid_argument("train_language_model: batch_size must be positive");
  const warmup_cosine_schedule schedule{.peak = options.learning_rate,
                                        .final = options.final_learning_rate,
                                        .warmup_steps = options.warmup_steps,
                                        .total_steps = options.steps};
  schedule.validate();
  if (!(options.clip_norm >= 0.0) || !std::isfinite(options.clip_norm))
    throw invalid_argument("train_language_model: clip_norm must be finite and >= 0, got " +
                           std::to_string(options.clip_norm));
  if (options.checkpoint_every > 0 && options.checkpoint_dir.empty())
    throw invalid_argument("train_language_model: checkpoint_every is set but checkpoint_dir is empty");
  detail::check_language_model_data(train, parameters.config, "training data");
  const bool evaluate = !eval.sequences.empty();
  if (evaluate) detail::check_language_model_data(eval, parameters.config, "evaluation data");

  adamw optimizer(parameters.tensors, decay_matrices(parameters.tensors), options.optimizer);
  sequence_batcher batcher(train.sequences.size(), options.batch_size, options.seed);
  transformer_parameters gradient = parameters.zeros_like();
  training_result result;
  if (evaluate) result.initial_eval_loss = language_model_loss(parameters, eval, options.threads);

  for (std::size_t s = 0; s < options.steps; ++s) {
    const auto rows = batcher.next();
    const auto batch = select_rows(train, rows);
    for (auto& g : gradient.tensors) g.setZero();
    training_step record;
    record.step = s + 1;
    record.learning_rate = schedule(s);
    record.loss = language_model_loss_and_gradient(parameters, batch, gradient, options.threads);
    record.gradient_norm = options.clip_norm > 0.0
                               ? clip_gradient_norm(gradient.tensors, options.clip_norm)
                               : global_gradient_norm(gradient.tensors);
    optimizer.step(parameters.tensors, gradient.tensors, record.learning_rate);
    const bool last = s + 1 == options.steps;
    if (evaluate && (last || (options.eval_every > 0 && (s + 1) % options.eval_every == 0)))
      record.eval_loss = language_model_loss(parameters, eval, options.threads);
    if (options.checkpoint_every > 0 && ((s + 1) % options.checkpoint_every == 0 || last)) {
      auto dir = options.checkpoint_dir / ("step-" + std::to_string(s + 1));
      save_hf_checkpoint(dir, parameters.model());
      result.checkpoints.push_back(std::move(dir));
    }
    if (last) result.final_eval_loss = record.eval_loss;
    result.history.push_back(record);
    if (progress) progress(record);
  }
  return result;
}

}  // namespace attrib
