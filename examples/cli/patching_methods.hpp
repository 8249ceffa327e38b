#pragma once
// Activation patching over layers x positions between a clean and a corrupted prompt, exactly and
// by attribution patching: the computation behind `attrib llm patch` and the Python module's
// Transformer.patching_sweep, so that both front ends give the same numbers.
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/transformer/hooks/patching.hpp"
#include "attrib/transformer/training/backward.hpp"

namespace cli {

// The first maximum of a logits row: the lower id on ties, as greedy decoding picks.
inline attrib::token_id most_likely(const attrib::float_matrix& logits) {
  attrib::index best = 0;
  logits.row(0).maxCoeff(&best);
  return static_cast<attrib::token_id>(best);
}

// Which token F subtracts: the corrupted run's most likely next token when it is not the target
// (automatic), none, or a given one.
struct contrast_choice {
  enum class rule { automatic, none, given } kind = rule::automatic;
  attrib::token_id token = 0;
};

struct patching_request {
  attrib::hook_kind point = attrib::hook_kind::resid_pre;  // resid_pre or resid_post
  std::vector<attrib::index> layers;                       // empty: every layer
  std::optional<attrib::token_id> target;                  // default: the clean run's most likely token
  contrast_choice contrast;
  bool exact = true;        // one patched run per cell
  bool attribution = false; // AtP: one forward and one backward pass
  std::size_t threads = 1;
  std::function<void(std::size_t, std::size_t)> progress = {};  // cells done, cells in all
};

// F = logit(target) - logit(contrast) at the last position; each cell is F(patched) - F(corrupted).
struct patching_grid {
  std::vector<attrib::index> layers;
  std::size_t positions = 0;
  attrib::token_id target = 0;
  std::optional<attrib::token_id> contrast;
  double clean_value = 0, corrupted_value = 0;
  std::vector<double> exact, attribution;  // layers.size() x positions, row-major; empty when not asked
};

inline patching_grid patch_layers_by_positions(const attrib::transformer_model& model,
                                               const std::vector<attrib::token_id>& clean,
                                               const std::vector<attrib::token_id>& corrupted,
                                               const patching_request& request) {
  const auto& config = model.config();
  if (clean.empty()) throw attrib::invalid_argument("the clean prompt is empty");
  if (clean.size() != corrupted.size())
    throw attrib::invalid_argument("the clean prompt has " + std::to_string(clean.size()) +
                                   " tokens and the corrupted one " + std::to_string(corrupted.size()) +
                                   "; patching pairs their positions, so they must match");
  if (static_cast<attrib::index>(clean.size()) > config.context_length)
    throw attrib::invalid_argument("the prompts have " + std::to_string(clean.size()) +
                                   " tokens, more than the model's context of " +
                                   std::to_string(config.context_length));
  if (request.point != attrib::hook_kind::resid_pre && request.point != attrib::hook_kind::resid_post)
    throw attrib::invalid_argument("the patched point must be resid_pre or resid_post");
  patching_grid grid;
  grid.layers = request.layers;
  if (grid.layers.empty())
    for (attrib::index l = 0; l < config.n_layers; ++l) grid.layers.push_back(l);
  for (auto l : grid.layers)
    if (l < 0 || l >= config.n_layers)
      throw attrib::invalid_argument("layer " + std::to_string(l) + " is outside [0, " +
                                     std::to_string(config.n_layers) + ")");
  grid.positions = clean.size();

  // The unpatched runs choose the default target and contrast.
  attrib::forward_options run;
  run.last_position_only = true;
  run.threads = request.threads;
  const auto clean_logits = model.forward(std::vector<std::vector<attrib::token_id>>{clean}, run)[0];
  const auto corrupted_logits = model.forward(std::vector<std::vector<attrib::token_id>>{corrupted}, run)[0];
  grid.target = request.target.value_or(most_likely(clean_logits));
  switch (request.contrast.kind) {
    case contrast_choice::rule::none: break;
    case contrast_choice::rule::given: grid.contrast = request.contrast.token; break;
    case contrast_choice::rule::automatic:
      if (most_likely(corrupted_logits) != grid.target) grid.contrast = most_likely(corrupted_logits);
      break;
  }
  for (auto id : {std::optional<attrib::token_id>(grid.target), grid.contrast})
    if (id && (*id < 0 || *id >= config.vocab_size))
      throw attrib::invalid_argument("token id " + std::to_string(*id) + " is outside the vocabulary [0, " +
                                     std::to_string(config.vocab_size) + ")");
  if (grid.contrast == grid.target)
    throw attrib::invalid_argument("the contrast is the target token; F would be zero everywhere");
  const auto metric = [&](const attrib::float_matrix& logits, attrib::index row, attrib::index target_column,
                          attrib::index contrast_column) {
    return static_cast<double>(logits(row, target_column)) -
           (grid.contrast ? static_cast<double>(logits(row, contrast_column)) : 0.0);
  };
  grid.clean_value = metric(clean_logits, 0, grid.target, grid.contrast.value_or(0));
  grid.corrupted_value = metric(corrupted_logits, 0, grid.target, grid.contrast.value_or(0));

  if (request.exact) {
    attrib::patching_sweep_options options;
    options.point = request.point;
    options.layers = grid.layers;
    options.logit_tokens = {grid.target};
    if (grid.contrast) options.logit_tokens.push_back(*grid.contrast);
    options.threads = request.threads;
    options.progress = request.progress;
    const auto sweep = attrib::activation_patching_sweep(model, clean, corrupted, options);
    const double base = metric(sweep.corrupted_logits, 0, 0, 1);
    for (attrib::index r = 0; r < sweep.logits.rows(); ++r) grid.exact.push_back(metric(sweep.logits, r, 0, 1) - base);
  }
  if (request.attribution) {
    attrib::backward_options options;
    for (auto l : grid.layers) options.points.push_back({request.point, l});
    options.threads = request.threads;
    // F on the corrupted run (sequence 0); the clean run (sequence 1) only lends its activations.
    const attrib::logit_objective objective = [&](const std::vector<attrib::float_matrix>& logits,
                                                  std::vector<attrib::float_matrix>& gradient) {
      const attrib::index last = logits[0].rows() - 1;
      gradient[0](last, grid.target) += 1.0f;
      if (grid.contrast) gradient[0](last, *grid.contrast) -= 1.0f;
      return metric(logits[0], last, grid.target, grid.contrast.value_or(0));
    };
    const std::vector<std::vector<attrib::token_id>> runs = {corrupted, clean};
    const auto g = attrib::transformer_backward(model, runs, objective, options);
    for (const auto& p : options.points) {
      const attrib::vector estimate = attrib::patching_estimate(g, p, 0, g.activation(p, 1));
      for (attrib::index t = 0; t < estimate.size(); ++t) grid.attribution.push_back(estimate(t));
    }
  }
  return grid;
}

}  // namespace cli
