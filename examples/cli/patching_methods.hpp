#pragma once
// Activation patching over layers x positions between a clean and a corrupted prompt, exactly and
// by attribution patching: the computation behind `attrib llm patch` and the Python module's
// Transformer.patching_sweep, so that both front ends give the same numbers.
#include <cstddef>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <utility>
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

// F of one logits row: the target's column minus the contrast's (when there is one).
inline double patching_metric(const patching_grid& grid, const attrib::float_matrix& logits, attrib::index row,
                              attrib::index target_column, attrib::index contrast_column) {
  return static_cast<double>(logits(row, target_column)) -
         (grid.contrast ? static_cast<double>(logits(row, contrast_column)) : 0.0);
}

// The unpatched runs of a request, recorded once: they choose the default target and contrast,
// give F of the clean and the corrupted prompt, and are what every exact cell patches (the
// corrupted run its base, the clean run the source of its values). Recording them with every
// logit gives the same bits in the columns F reads as a run restricted to those columns (each
// logit is one dot product either way), so the unpatched runs are not repeated for the sweep.
struct patching_runs {
  patching_grid grid;  // everything but the cells
  attrib::cached_run clean, corrupted;
};

inline patching_runs record_patching_runs(const attrib::transformer_model& model,
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

  attrib::cached_run clean_run = attrib::record_run(model, clean, {}, request.threads);
  attrib::cached_run corrupted_run = attrib::record_run(model, corrupted, {}, request.threads);
  const attrib::float_matrix& clean_logits = clean_run.last_logits;
  const attrib::float_matrix& corrupted_logits = corrupted_run.last_logits;
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
  grid.clean_value = patching_metric(grid, clean_logits, 0, grid.target, grid.contrast.value_or(0));
  grid.corrupted_value = patching_metric(grid, corrupted_logits, 0, grid.target, grid.contrast.value_or(0));
  return {std::move(grid), std::move(clean_run), std::move(corrupted_run)};
}

// The exact cells [first, last) of the grid (layers x positions, row-major): F(patched) -
// F(corrupted), each patched run computing only what its patch changes, in batches. A cell's
// value does not depend on which cells share its batch, so any split of the cells (the ranks of
// a distributed run) gives the bits of the whole sweep. progress(done, last - first).
inline std::vector<double> exact_patching_cells(const attrib::transformer_model& model, const patching_runs& runs,
                                                const patching_request& request, std::size_t first, std::size_t last) {
  const patching_grid& grid = runs.grid;
  const std::size_t cells = grid.layers.size() * grid.positions;
  if (first > last || last > cells)
    throw attrib::invalid_argument("exact_patching_cells: cells [" + std::to_string(first) + ", " +
                                   std::to_string(last) + ") of " + std::to_string(cells) +
                                   "; expected first <= last <= the cell count");
  // resid_post.l is the stream entering layer l + 1.
  const attrib::index shift = request.point == attrib::hook_kind::resid_post ? 1 : 0;
  std::vector<attrib::residual_patch> patches;
  for (std::size_t cell = first; cell < last; ++cell) {
    const attrib::index layer = grid.layers[cell / grid.positions] + shift;
    const auto position = static_cast<attrib::index>(cell % grid.positions);
    const auto& source = runs.clean.residual[static_cast<std::size_t>(layer)];
    patches.push_back({layer, position,
                       std::span<const float>(source.row(position).data(), static_cast<std::size_t>(source.cols()))});
  }
  attrib::patch_options options;
  options.logit_tokens = {grid.target};
  if (grid.contrast) options.logit_tokens.push_back(*grid.contrast);
  options.threads = request.threads;
  options.progress = request.progress;
  const attrib::float_matrix logits = attrib::patched_logits(model, runs.corrupted, patches, options);
  std::vector<double> out;
  for (attrib::index r = 0; r < logits.rows(); ++r)
    out.push_back(patching_metric(grid, logits, r, 0, 1) - grid.corrupted_value);
  return out;
}

// Attribution patching (AtP): every cell estimated from one forward and one backward pass of the
// corrupted prompt, as dF/da . (a_clean - a_corrupted).
inline std::vector<double> attribution_patching_cells(const attrib::transformer_model& model, const patching_grid& grid,
                                                      const std::vector<attrib::token_id>& clean,
                                                      const std::vector<attrib::token_id>& corrupted,
                                                      const patching_request& request) {
  attrib::backward_options options;
  for (auto l : grid.layers) options.points.push_back({request.point, l});
  options.threads = request.threads;
  // F on the corrupted run (sequence 0); the clean run (sequence 1) only lends its activations.
  const attrib::logit_objective objective = [&](const std::vector<attrib::float_matrix>& logits,
                                                std::vector<attrib::float_matrix>& gradient) {
    const attrib::index last = logits[0].rows() - 1;
    gradient[0](last, grid.target) += 1.0f;
    if (grid.contrast) gradient[0](last, *grid.contrast) -= 1.0f;
    return patching_metric(grid, logits[0], last, grid.target, grid.contrast.value_or(0));
  };
  const std::vector<std::vector<attrib::token_id>> runs = {corrupted, clean};
  const auto g = attrib::transformer_backward(model, runs, objective, options);
  std::vector<double> out;
  for (const auto& p : options.points) {
    const attrib::vector estimate = attrib::patching_estimate(g, p, 0, g.activation(p, 1));
    for (attrib::index t = 0; t < estimate.size(); ++t) out.push_back(estimate(t));
  }
  return out;
}

inline patching_grid patch_layers_by_positions(const attrib::transformer_model& model,
                                               const std::vector<attrib::token_id>& clean,
                                               const std::vector<attrib::token_id>& corrupted,
                                               const patching_request& request) {
  patching_runs runs = record_patching_runs(model, clean, corrupted, request);
  if (request.exact)
    runs.grid.exact = exact_patching_cells(model, runs, request, 0, runs.grid.layers.size() * runs.grid.positions);
  if (request.attribution)
    runs.grid.attribution = attribution_patching_cells(model, runs.grid, clean, corrupted, request);
  return std::move(runs.grid);
}

}  // namespace cli
