#pragma once
// ROME's causal tracing (Meng et al. 2022, "Locating and Editing Factual Associations in GPT",
// section 2.1): corrupt a prompt by adding Gaussian noise to the embeddings of its subject tokens,
// then restore the clean run's hidden state at one (layer, position) cell and measure how much of
// the answer's probability comes back. Unlike the two-prompt sweep (activation_patching_sweep),
// the corruption needs no counterfactual prompt, which is why ROME used it for factual recall.
//
//   P*        = P(answer | clean prompt)
//   P_noise   = E_noise P(answer | noised subject)
//   P_l,p     = E_noise P(answer | noised subject, clean hidden state restored at (l, p))
//   indirect effect (l, p) = P_l,p - P_noise
//
// The noise is drawn once per sample from rng::stream(seed, sample), so results do not depend on
// the thread count. Each sample records the noised run once; the restored cells then go through
// the patching engine (patched_logits), which recomputes only the layers at and after the cell and
// the positions at and after it: the same numbers as a full forward pass per cell with a replace
// hook, which the tests check.
#include <cmath>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/hook_point.hpp"
#include "attrib/core/random.hpp"
#include "attrib/core/types.hpp"
#include "attrib/transformer/hooks/hooks.hpp"
#include "attrib/transformer/hooks/patching.hpp"
#include "attrib/transformer/model/model.hpp"

namespace attrib {

struct noise_tracing_options {
  std::vector<index> subject_positions;  // the tokens whose embeddings are noised (non-empty)
  token_id answer = 0;                   // the token whose probability is traced
  // Standard deviation of the noise; 0 means ROME's choice, 3 times the standard deviation of the
  // token embedding table's entries (embedding_noise_scale).
  double noise_scale = 0.0;
  index samples = 10;  // noise draws averaged (ROME: 10)
  std::uint64_t seed = 0;
  // The restored stream: resid_pre (what enters layer l) or resid_post (what layer l writes, the
  // hidden state ROME restores).
  hook_kind point = hook_kind::resid_post;
  std::vector<index> layers = {};     // empty: every layer
  std::vector<index> positions = {};  // empty: every position
  index batch_cells = 64;
  std::size_t threads = 1;  // 0: all cores; results do not depend on it
};

struct noise_tracing_result {
  hook_kind point = hook_kind::resid_post;
  std::vector<index> layers;
  std::vector<index> positions;
  double noise_scale = 0.0;
  double clean_probability = 0.0;      // P*
  double corrupted_probability = 0.0;  // P_noise, the mean over samples
  // layers.size() x positions.size(): the mean over samples of P(answer) with the cell restored,
  // and the standard error of that mean (0 for one sample).
  matrix restored_probability;
  matrix standard_error;

  // P_l,p - P_noise per cell.
  matrix indirect_effect() const { return restored_probability.array() - corrupted_probability; }
};

// 3 x the standard deviation of every entry of the token embedding table, ROME's noise level
// (ROME measures it over the subjects of its data set; the whole table needs no data set).
inline double embedding_noise_scale(const transformer_model& model) {
  const auto& table = model.weights().token_embedding;
  double sum = 0.0, squares = 0.0;
  std::vector<float> row(static_cast<std::size_t>(table.cols));
  for (index r = 0; r < table.rows; ++r) {
    table.decode_rows(r, 1, row.data());
    for (float v : row) {
      sum += v;
      squares += static_cast<double>(v) * v;
    }
  }
  const double count = static_cast<double>(table.rows) * static_cast<double>(table.cols);
  const double mean = sum / count;
  return 3.0 * std::sqrt(std::max(0.0, squares / count - mean * mean));
}

namespace detail {
// The noise of one sample: one row of dim normal draws per subject position, in the order given.
inline float_matrix tracing_noise(index subjects, index dim, double scale, std::uint64_t seed, index sample) {
  rng g = rng::stream(seed, static_cast<std::uint64_t>(sample));
  float_matrix noise(subjects, dim);
  for (index i = 0; i < subjects; ++i)
    for (index k = 0; k < dim; ++k) noise(i, k) = static_cast<float>(scale * g.normal());
  return noise;
}

inline double softmax_probability(const Eigen::Ref<const float_matrix>& logits, token_id t) {
  const double top = static_cast<double>(logits.maxCoeff());
  double total = 0.0;
  for (index k = 0; k < logits.cols(); ++k) total += std::exp(static_cast<double>(logits(0, k)) - top);
  return std::exp(static_cast<double>(logits(0, t)) - top) / total;
}
}  // namespace detail

// Adds `noise` (one row per subject position) to the embeddings of `subject_positions` in batch
// row 0: the corruption of one sample, usable in any forward pass.
inline hook_set noise_hooks(std::vector<index> subject_positions, float_matrix noise) {
  hook_set hooks;
  hooks.call(hook_point::embed(), [subject_positions = std::move(subject_positions), noise = std::move(noise)](
                                      hook_point, float_matrix& values, std::span<const token_location> tokens) {
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      if (tokens[i].row != 0) continue;
      for (std::size_t s = 0; s < subject_positions.size(); ++s)
        if (tokens[i].position == subject_positions[s]) values.row(static_cast<index>(i)) += noise.row(static_cast<index>(s));
    }
  });
  return hooks;
}

// What one noise draw measures: P(answer | noised subject), and P(answer | noised subject, clean
// hidden state restored) for every cell (layers x positions).
struct noise_tracing_sample {
  double corrupted_probability = 0.0;
  matrix restored_probability;
};

// Causal tracing in steps, for callers that spread the noise draws (over processes): the
// constructor checks the options and records the clean run; sample(s) measures draw s (its noise
// comes from rng::stream(seed, s), so any process measures the same draw); add() takes the draws
// in sample order and result() averages them. noise_causal_tracing is this loop in one process;
// a caller that adds the same draws in the same order gets its result bit for bit.
class noise_tracer {
 public:
  noise_tracer(const transformer_model& model, std::span<const token_id> tokens, const noise_tracing_options& options)
      : model_(model), tokens_(tokens.begin(), tokens.end()), options_(options) {
    const auto& c = model.config();
    const auto n = static_cast<index>(tokens.size());
    detail::require(n > 0, "noise_causal_tracing: the prompt is empty");
    detail::require(!options.subject_positions.empty(),
                    "noise_causal_tracing: subject_positions is empty; name the tokens to corrupt");
    for (index p : options.subject_positions)
      detail::require(p >= 0 && p < n, "noise_causal_tracing: subject position " + std::to_string(p) +
                                           " is outside the prompt [0, " + std::to_string(n) + ")");
    detail::require(options.answer >= 0 && options.answer < c.vocab_size,
                    "noise_causal_tracing: answer token " + std::to_string(options.answer) +
                        " is outside the vocabulary [0, " + std::to_string(c.vocab_size) + ")");
    detail::require(options.samples > 0 && options.samples <= 100000,
                    "noise_causal_tracing: samples must be in [1, 100000], got " + std::to_string(options.samples));
    detail::require(std::isfinite(options.noise_scale) && options.noise_scale >= 0,
                    "noise_causal_tracing: noise_scale must be finite and non-negative (0: ROME's 3 sigma)");
    detail::require(options.point == hook_kind::resid_pre || options.point == hook_kind::resid_post,
                    "noise_causal_tracing: point must be resid_pre or resid_post");
    detail::require(options.batch_cells > 0, "noise_causal_tracing: batch_cells must be positive");

    r_.point = options.point;
    r_.layers = options.layers;
    r_.positions = options.positions;
    if (r_.layers.empty())
      for (index l = 0; l < c.n_layers; ++l) r_.layers.push_back(l);
    if (r_.positions.empty())
      for (index p = 0; p < n; ++p) r_.positions.push_back(p);
    for (index l : r_.layers)
      detail::require(l >= 0 && l < c.n_layers, "noise_causal_tracing: layer " + std::to_string(l) +
                                                     " is outside [0, " + std::to_string(c.n_layers) + ")");
    for (index p : r_.positions)
      detail::require(p >= 0 && p < n, "noise_causal_tracing: position " + std::to_string(p) +
                                            " is outside the prompt [0, " + std::to_string(n) + ")");
    r_.noise_scale = options.noise_scale > 0 ? options.noise_scale : embedding_noise_scale(model);

    clean_.emplace(record_run(model, tokens_, {}, options.threads));
    r_.clean_probability = detail::softmax_probability(clean_->last_logits, options.answer);
    const index shift = options.point == hook_kind::resid_post ? 1 : 0;
    for (index l : r_.layers)
      for (index p : r_.positions) {
        const auto& source = clean_->residual[static_cast<std::size_t>(l + shift)];
        patches_.push_back({l + shift, p, std::span<const float>(source.row(p).data(), static_cast<std::size_t>(c.dim))});
      }
    sum_ = matrix::Zero(rows(), cols());
    squares_ = matrix::Zero(rows(), cols());
  }
  // The patches point into the clean run's rows.
  noise_tracer(const noise_tracer&) = delete;
  noise_tracer& operator=(const noise_tracer&) = delete;

  index rows() const { return static_cast<index>(r_.layers.size()); }
  index cols() const { return static_cast<index>(r_.positions.size()); }

  noise_tracing_sample sample(index s) const {
    detail::require(s >= 0 && s < options_.samples, "noise_causal_tracing: sample " + std::to_string(s) +
                                                        " is outside [0, " + std::to_string(options_.samples) + ")");
    const auto subjects = static_cast<index>(options_.subject_positions.size());
    const hook_set noise =
        noise_hooks(options_.subject_positions,
                    detail::tracing_noise(subjects, model_.config().dim, r_.noise_scale, options_.seed, s));
    const cached_run noised = record_run(model_, tokens_, {}, options_.threads, &noise);
    noise_tracing_sample out{detail::softmax_probability(noised.last_logits, options_.answer),
                             matrix(rows(), cols())};
    // Cells before the first subject position equal the noised run bit for bit and are skipped.
    const float_matrix logits =
        patched_logits(model_, noised, patches_, {{}, options_.batch_cells, options_.threads, true, {}});
    for (index i = 0; i < rows(); ++i)
      for (index j = 0; j < cols(); ++j)
        out.restored_probability(i, j) = detail::softmax_probability(logits.row(i * cols() + j), options_.answer);
    return out;
  }

  // Draws must come in sample order, each once: the sums are then those of one loop.
  void add(const noise_tracing_sample& d) {
    detail::require(added_ < options_.samples, "noise_causal_tracing: more than the " +
                                                   std::to_string(options_.samples) + " samples were added");
    detail::require(d.restored_probability.rows() == rows() && d.restored_probability.cols() == cols(),
                    "noise_causal_tracing: a sample has " + std::to_string(d.restored_probability.rows()) + " x " +
                        std::to_string(d.restored_probability.cols()) + " cells; expected " + std::to_string(rows()) +
                        " x " + std::to_string(cols()));
    corrupted_ += d.corrupted_probability;
    for (index i = 0; i < rows(); ++i)
      for (index j = 0; j < cols(); ++j) {
        const double pr = d.restored_probability(i, j);
        sum_(i, j) += pr;
        squares_(i, j) += pr * pr;
      }
    ++added_;
  }

  noise_tracing_result result() const {
    detail::require(added_ == options_.samples, "noise_causal_tracing: " + std::to_string(added_) + " of " +
                                                    std::to_string(options_.samples) + " samples were added");
    noise_tracing_result r = r_;
    const auto m = static_cast<double>(options_.samples);
    r.corrupted_probability = corrupted_ / m;
    r.restored_probability = sum_ / m;
    r.standard_error = matrix::Zero(rows(), cols());
    if (options_.samples > 1)
      r.standard_error = ((squares_ / m - r.restored_probability.cwiseProduct(r.restored_probability)).cwiseMax(0.0) *
                          (1.0 / (m - 1.0)))
                             .cwiseSqrt();
    return r;
  }

 private:
  const transformer_model& model_;
  std::vector<token_id> tokens_;
  noise_tracing_options options_;
  noise_tracing_result r_;  // what the options fix: cells, noise level, clean probability
  std::optional<cached_run> clean_;  // set by the constructor once the options are checked
  std::vector<residual_patch> patches_;
  double corrupted_ = 0.0;
  matrix sum_, squares_;
  index added_ = 0;
};

inline noise_tracing_result noise_causal_tracing(const transformer_model& model, std::span<const token_id> tokens,
                                                 const noise_tracing_options& options) {
  noise_tracer tracer(model, tokens, options);
  for (index s = 0; s < options.samples; ++s) tracer.add(tracer.sample(s));
  return tracer.result();
}

}  // namespace attrib
