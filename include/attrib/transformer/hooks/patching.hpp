#pragma once
// Activation patching that recomputes only what a patch changes. A patch replaces the residual
// stream entering layer l at position p. Causal attention means positions < p are unaffected, so
// the patched run differs from the base run only in layers >= l at positions >= p. It reuses the
// base run's keys and values for positions < p, its residual stream at layer l for positions > p
// and, in layer l itself, its keys, values and queries for positions > p. Only the last position's
// logits are read, so the last layer computes keys and values for positions >= p, and its
// attention and MLP for the last position alone. A patch that leaves the value as it was is not
// computed at all (skip_unchanged).
//
// The patched runs of a sweep share matrix products: up to `batch_cells` of them form one batch,
// so each block of weights is converted once for all their tokens. Every number goes through
// the model's own detail:: kernels (fixed-order dot products), so a patched run gives the same
// bits as a full forward pass with a replace hook. The tests check equality to 1e-5.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <functional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "attrib/core/component_attribution.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/parallel.hpp"
#include "attrib/core/types.hpp"
#include "attrib/transformer/hooks/hooks.hpp"
#include "attrib/transformer/model/decoder_forward.hpp"
#include "attrib/transformer/model/kernels.hpp"
#include "attrib/transformer/model/kv_cache.hpp"
#include "attrib/transformer/model/model.hpp"

namespace attrib {

// One sequence run through the model with what a patched variant needs: its keys and values for
// every layer and position, and its residual stream before every layer.
struct cached_run {
  std::vector<token_id> tokens;
  kv_cache cache;  // one batch row
  // n_layers + 1 matrices of tokens.size() x dim: residual[l] is resid_pre.l for l < n_layers,
  // residual[n_layers] is resid_post.(n_layers - 1), the input of the final norm.
  std::vector<float_matrix> residual;
  // n_layers matrices of tokens.size() x dim: each layer's rotated queries. A patch at layer l
  // leaves the queries of later positions in layer l as they were.
  std::vector<float_matrix> queries;
  float_matrix last_logits;  // 1 x logit columns, at the last position
};

namespace detail {

// Appends each layer's rotated queries for positions [from, n) of `run`, recomputed from its
// residual stream as the forward pass computes them (no hook point shows them).
inline void append_queries(const transformer_model& model, cached_run& run, index from, std::size_t threads) {
  const auto& c = model.config();
  const index layers = c.n_layers;
  const auto n = static_cast<index>(run.tokens.size());
  const index count = n - from;
  const auto inv_freq = rope_inverse_frequencies(c);
  float_matrix cosines, sines, xb(count, c.dim);
  if (!inv_freq.empty()) {
    std::vector<index> positions(static_cast<std::size_t>(count));
    for (index t = 0; t < count; ++t) positions[static_cast<std::size_t>(t)] = from + t;
    rope_tables(positions, inv_freq.data(), c.head_dim() / 2, cosines, sines);
  }
  run.queries.resize(static_cast<std::size_t>(layers));
  for (index l = 0; l < layers; ++l) {
    const auto& w = model.weights().layers[static_cast<std::size_t>(l)];
    const norm_weights attn_norm(w.attn_norm, w.attn_norm_bias);
    for (index t = 0; t < count; ++t)
      normalize(c.architecture, run.residual[static_cast<std::size_t>(l)].row(from + t).data(), attn_norm,
                xb.row(t).data(), c.dim, c.norm_eps);
    float_matrix q;
    affine(xb, w.wq, w.bq, q, threads);
    if (!inv_freq.empty())
      for (index t = 0; t < count; ++t)
        kernels::rope(q.row(t).data(), c.n_heads, c.head_dim(), cosines.row(t).data(), sines.row(t).data());
    auto& all = run.queries[static_cast<std::size_t>(l)];
    all.conservativeResize(n, q.cols());
    all.bottomRows(count) = q;
  }
}

// Runs positions [from, n) of run.tokens on run.cache (which holds [0, from)), appending their
// residual stream (resid_pre of every layer, then the last layer's resid_post) and queries to
// run's, and keeps the last position's logits. `edits` (may be null) run before the recording
// at every point, so the recorded run is the edited one (ROME's noised subject, say).
inline void record_positions(const transformer_model& model, cached_run& run, index from,
                             std::vector<token_id> logit_tokens, std::size_t threads,
                             const hook_set* edits = nullptr) {
  const index layers = model.config().n_layers;
  const auto n = static_cast<index>(run.tokens.size());
  activation_cache recorded;
  hook_set hooks = edits != nullptr ? *edits : hook_set{};
  for (index l = 0; l < layers; ++l) hooks.cache(hook_point::resid_pre(l), recorded);
  hooks.cache(hook_point::resid_post(layers - 1), recorded);
  forward_options options;
  options.hooks = &hooks;
  options.logit_tokens = std::move(logit_tokens);
  options.last_position_only = true;
  options.threads = threads;
  const std::vector<std::vector<token_id>> rest = {{run.tokens.begin() + from, run.tokens.end()}};
  run.last_logits = model.forward(run.cache, rest, options)[0];
  run.residual.resize(static_cast<std::size_t>(layers + 1));
  for (index l = 0; l <= layers; ++l) {
    const hook_point p = l < layers ? hook_point::resid_pre(l) : hook_point::resid_post(l - 1);
    auto& stream = run.residual[static_cast<std::size_t>(l)];
    stream.conservativeResize(n, model.config().dim);
    stream.bottomRows(n - from) = recorded.at(p, 0).middleRows(from, n - from);
  }
  append_queries(model, run, from, threads);
}

}  // namespace detail

// Runs `tokens` from position 0 and keeps its keys, values and residual stream. Logits of the last
// position are computed for `logit_tokens` (empty: the whole vocabulary). With `edits`, the run
// recorded is the one those hooks change (patches then restore parts of an edited run). Throws
// invalid_argument for an empty sequence, and as transformer_model::forward does for bad ids and
// sequences longer than the context.
inline cached_run record_run(const transformer_model& model, std::span<const token_id> tokens,
                             std::vector<token_id> logit_tokens = {}, std::size_t threads = 1,
                             const hook_set* edits = nullptr) {
  if (tokens.empty()) throw invalid_argument("record_run: the token sequence is empty");
  cached_run run{std::vector<token_id>(tokens.begin(), tokens.end()), model.make_cache(1), {}, {}, {}};
  detail::record_positions(model, run, 0, std::move(logit_tokens), threads, edits);
  return run;
}

// `tokens` recorded as record_run records them, continuing `prefix` (a recorded run whose tokens
// begin `tokens`): its keys, values, residual stream and queries are copied rather than
// recomputed, and only the remaining positions run. Bit for bit the record_run of `tokens`, since
// every position's numbers depend on earlier positions alone. Runs that share a few-shot prefix
// compute it once. Throws invalid_argument when prefix.tokens is not a proper prefix of `tokens`.
inline cached_run extend_run(const transformer_model& model, const cached_run& prefix, std::span<const token_id> tokens,
                             std::vector<token_id> logit_tokens = {}, std::size_t threads = 1) {
  const auto k = static_cast<index>(prefix.tokens.size());
  const auto n = static_cast<index>(tokens.size());
  if (k == 0 || k >= n || !std::equal(prefix.tokens.begin(), prefix.tokens.end(), tokens.begin()))
    throw invalid_argument("extend_run: the recorded prefix (" + std::to_string(k) +
                           " tokens) is not a proper prefix of the " + std::to_string(n) + " tokens");
  const index layers = model.config().n_layers;
  if (static_cast<index>(prefix.residual.size()) != layers + 1 || prefix.cache.kv_dim() != model.config().kv_dim())
    throw invalid_argument("extend_run: the prefix was recorded with another model");
  cached_run run{std::vector<token_id>(tokens.begin(), tokens.end()), prefix.cache, prefix.residual, prefix.queries, {}};
  detail::record_positions(model, run, k, std::move(logit_tokens), threads);
  return run;
}

// Replaces the residual stream entering layer `layer` (resid_pre.layer; layer == n_layers means
// the stream after the last layer, resid_post.(n_layers - 1)) at `position` by `value`.
struct residual_patch {
  index layer = 0;
  index position = 0;
  std::span<const float> value;  // dim floats
};

struct patch_options {
  // Logit columns at the last position; empty: the whole vocabulary.
  std::vector<token_id> logit_tokens = {};
  // Patched runs computed together; more share each weight conversion but take more memory.
  index batch_cells = 64;
  // Worker threads; 0 means all cores. Results do not depend on it.
  std::size_t threads = 1;
  // A patch whose value equals the base run's activation bit for bit changes nothing: its row is
  // the base run's logits, without computing layers. Clean and corrupted prompts that share a
  // prefix make this common (the benchmark reports the sweep with and without it).
  bool skip_unchanged = true;
  // Called with (patches done, patches in all) after each batch; may be empty.
  std::function<void(std::size_t, std::size_t)> progress = {};
};

namespace detail {

// Rotates the queries or keys of one token at `position` (llama); gpt2 has no rotary embedding.
// A patched run computes a few scattered rows per layer, so it rotates row by row rather than
// through decoder_forward's tables.
inline void position_encode(const transformer_config& c, float* v, index heads, index position,
                            const double* inv_freq) {
  if (c.architecture != transformer_architecture::llama) return;
  // Per-thread tables that grow once: no allocation per token.
  thread_local std::vector<float> cosines, sines;
  const index half = c.head_dim() / 2;
  cosines.resize(static_cast<std::size_t>(half));
  sines.resize(static_cast<std::size_t>(half));
  kernels::rope_angles(position, inv_freq, half, cosines.data(), sines.data());
  kernels::rope(v, heads, c.head_dim(), cosines.data(), sines.data());
}

struct patched_cell {
  index start = 0;     // first layer computed
  index position = 0;  // patched position p; rows hold positions p .. T-1
  float_matrix x;      // residual stream, (T - p) x dim
  float_matrix keys;   // this layer's keys of positions p .. T-1 (where computed)
  float_matrix values;
};

// A selected activation row: cell c, row r of that cell (position p + r).
struct cell_row {
  std::size_t cell;
  index row;
};

inline void check_patches(const transformer_model& model, const cached_run& base,
                          std::span<const residual_patch> patches) {
  const auto& c = model.config();
  const auto n = static_cast<index>(base.tokens.size());
  if (base.residual.size() != static_cast<std::size_t>(c.n_layers + 1) ||
      base.queries.size() != static_cast<std::size_t>(c.n_layers) ||
      base.cache.kv_dim() != c.kv_dim() || base.cache.rows() != 1 || base.cache.length(0) != n)
    throw invalid_argument("patched_logits: the cached_run was not recorded with this model");
  for (std::size_t i = 0; i < patches.size(); ++i) {
    const auto& patch = patches[i];
    const std::string where = "patched_logits: patch " + std::to_string(i) + " ";
    if (patch.layer < 0 || patch.layer > c.n_layers)
      throw invalid_argument(where + "has layer " + std::to_string(patch.layer) +
                             ", expected one in [0, " + std::to_string(c.n_layers) + "]");
    if (patch.position < 0 || patch.position >= n)
      throw invalid_argument(where + "has position " + std::to_string(patch.position) +
                             ", expected one in [0, " + std::to_string(n) + ")");
    if (static_cast<index>(patch.value.size()) != c.dim)
      throw invalid_argument(where + "has " + std::to_string(patch.value.size()) +
                             " values, expected dim = " + std::to_string(c.dim));
  }
}

// Rows of `cells` listed in `rows`, normalised by the family's norm into a new matrix.
inline float_matrix normalized_rows(const std::vector<patched_cell>& cells,
                                    const std::vector<cell_row>& rows, const norm_weights& norm,
                                    const transformer_config& c) {
  float_matrix out(static_cast<index>(rows.size()), c.dim);
  for (std::size_t i = 0; i < rows.size(); ++i)
    normalize(c.architecture, cells[rows[i].cell].x.row(rows[i].row).data(), norm,
              out.row(static_cast<index>(i)).data(), c.dim, c.norm_eps);
  return out;
}

// Last-position logits of one batch of patched runs, layer by layer for all cells together.
inline float_matrix patched_batch(const transformer_model& model, const cached_run& base,
                                  std::span<const residual_patch> patches,
                                  const std::vector<double>& inv_freq, const patch_options& options) {
  const auto& c = model.config();
  const auto& weights = model.weights();
  const index dim = c.dim;
  const index kv_dim = c.kv_dim();
  const index head_dim = c.head_dim();
  const index layers = c.n_layers;
  const auto n = static_cast<index>(base.tokens.size());
  const std::size_t threads = resolve_threads(options.threads);

  std::vector<patched_cell> cells(patches.size());
  for (std::size_t i = 0; i < patches.size(); ++i) {
    auto& cell = cells[i];
    cell.start = patches[i].layer;
    cell.position = patches[i].position;
    const auto& stream = base.residual[static_cast<std::size_t>(cell.start)];
    const bool unchanged = options.skip_unchanged &&
                           std::memcmp(stream.row(cell.position).data(), patches[i].value.data(),
                                       patches[i].value.size_bytes()) == 0;
    if (unchanged) cell.start = layers;  // the base run's final stream as it was
    cell.x = base.residual[static_cast<std::size_t>(cell.start)].bottomRows(n - cell.position);
    if (!unchanged)
      std::copy(patches[i].value.begin(), patches[i].value.end(), cell.x.row(0).data());
    cell.keys.resize(n - cell.position, kv_dim);
    cell.values.resize(n - cell.position, kv_dim);
  }

  float_matrix q, fresh_q, k, v, out, up, gate, hidden;
  for (index l = 0; l < layers; ++l) {
    const auto& w = weights.layers[static_cast<std::size_t>(l)];
    const bool last_layer = l + 1 == layers;
    // Rows whose keys and values change, and rows whose output is still needed downstream.
    std::vector<cell_row> kv_rows, out_rows;
    for (std::size_t ci = 0; ci < cells.size(); ++ci) {
      const auto& cell = cells[ci];
      if (cell.start > l) continue;
      const index count = n - cell.position;
      const index kv_count = cell.start == l ? 1 : count;
      for (index r = 0; r < kv_count; ++r) kv_rows.push_back({ci, r});
      for (index r = last_layer ? count - 1 : 0; r < count; ++r) out_rows.push_back({ci, r});
    }
    if (out_rows.empty()) continue;

    const norm_weights attn_norm(w.attn_norm, w.attn_norm_bias);
    {
      const float_matrix xb = normalized_rows(cells, kv_rows, attn_norm, c);
      affine(xb, w.wk, w.bk, k, threads);
      affine(xb, w.wv, w.bv, v, threads);
    }
    for (std::size_t i = 0; i < kv_rows.size(); ++i) {
      auto& cell = cells[kv_rows[i].cell];
      const index r = kv_rows[i].row;
      position_encode(c, k.row(static_cast<index>(i)).data(), c.n_kv_heads, cell.position + r,
                      inv_freq.data());
      cell.keys.row(r) = k.row(static_cast<index>(i));
      cell.values.row(r) = v.row(static_cast<index>(i));
    }
    const auto n_out = static_cast<index>(out_rows.size());
    // In the patch's own layer, positions after p keep the base run's queries.
    std::vector<cell_row> q_rows;
    for (const auto& r : out_rows)
      if (cells[r.cell].start != l || r.row == 0) q_rows.push_back(r);
    {
      const float_matrix xb = normalized_rows(cells, q_rows, attn_norm, c);
      affine(xb, w.wq, w.bq, fresh_q, threads);
    }
    q.resize(n_out, dim);
    for (std::size_t i = 0, computed = 0; i < out_rows.size(); ++i) {
      const auto& cell = cells[out_rows[i].cell];
      const index position = cell.position + out_rows[i].row;
      if (cell.start != l || out_rows[i].row == 0) {
        q.row(static_cast<index>(i)) = fresh_q.row(static_cast<index>(computed++));
        position_encode(c, q.row(static_cast<index>(i)).data(), c.n_heads, position,
                        inv_freq.data());
      } else {
        q.row(static_cast<index>(i)) = base.queries[static_cast<std::size_t>(l)].row(position);
      }
    }
    // x += out for the output rows, as the forward pass adds each sub-layer's output.
    auto add_to_stream = [&](const float_matrix& sub) {
      for (std::size_t i = 0; i < out_rows.size(); ++i)
        cells[out_rows[i].cell].x.row(out_rows[i].row) += sub.row(static_cast<index>(i));
    };
    float_matrix attn(n_out, dim);
    const std::size_t chunks = std::min<std::size_t>(out_rows.size(), 4 * threads);
    parallel_for(chunks, threads, [&](std::size_t chunk) {
      std::vector<float> scores(static_cast<std::size_t>(n));
      std::vector<const float*> key_rows(static_cast<std::size_t>(n));
      std::vector<const float*> value_rows(static_cast<std::size_t>(n));
      for (std::size_t i = chunk; i < out_rows.size(); i += chunks) {
        const auto& cell = cells[out_rows[i].cell];
        const index position = cell.position + out_rows[i].row;
        for (index s = 0; s <= position; ++s) {
          // Before p, and after p in the patch's own layer, the base run's keys still hold.
          const bool from_base = s < cell.position || (l == cell.start && s > cell.position);
          key_rows[static_cast<std::size_t>(s)] =
              from_base ? base.cache.key(0, l, s) : cell.keys.row(s - cell.position).data();
          value_rows[static_cast<std::size_t>(s)] =
              from_base ? base.cache.value(0, l, s) : cell.values.row(s - cell.position).data();
        }
        detail::kernels::attend(q.row(static_cast<index>(i)).data(), key_rows.data(),
                                value_rows.data(), position + 1, c.n_heads, c.n_kv_heads,
                                head_dim, scores.data(), attn.row(static_cast<index>(i)).data());
      }
    });
    affine(attn, w.wo, w.bo, out, threads);
    add_to_stream(out);

    const norm_weights ffn_norm(w.ffn_norm, w.ffn_norm_bias);
    {
      const float_matrix xb = normalized_rows(cells, out_rows, ffn_norm, c);
      affine(xb, w.w_up, w.b_up, up, threads);
      if (c.architecture == transformer_architecture::llama) linear(xb, w.w_gate, gate, threads);
      mlp_activation(c, up, gate, hidden);
    }
    affine(hidden, w.w_down, w.b_down, out, threads);
    add_to_stream(out);
  }

  std::vector<cell_row> last_rows;
  for (std::size_t ci = 0; ci < cells.size(); ++ci)
    last_rows.push_back({ci, n - cells[ci].position - 1});
  const norm_weights final_norm(weights.final_norm, weights.final_norm_bias);
  const float_matrix final_rows = normalized_rows(cells, last_rows, final_norm, c);
  float_matrix logits;
  if (options.logit_tokens.empty())
    detail::linear(final_rows, weights.output, logits, threads);
  else
    detail::linear_rows(final_rows, weights.output, options.logit_tokens, logits);
  return logits;
}

}  // namespace detail

// Last-position logits of `base` with each patch applied on its own: one row per patch, one
// column per options.logit_tokens entry (or vocabulary entry). Equal to a full forward pass of
// base.tokens with a replace hook at the patch's point and position. Throws invalid_argument for a
// patch outside the model or the sequence, a value of the wrong width, a non-positive
// batch_cells, a logit token outside the vocabulary, or a `base` recorded with another model.
inline float_matrix patched_logits(const transformer_model& model, const cached_run& base,
                                   std::span<const residual_patch> patches,
                                   const patch_options& options = {}) {
  detail::check_patches(model, base, patches);
  if (options.batch_cells <= 0)
    throw invalid_argument("patched_logits: batch_cells is " + std::to_string(options.batch_cells) +
                           ", expected a positive count");
  for (std::size_t k = 0; k < options.logit_tokens.size(); ++k)
    if (options.logit_tokens[k] < 0 || options.logit_tokens[k] >= model.config().vocab_size)
      throw invalid_argument("patched_logits: logit_tokens[" + std::to_string(k) + "] = " +
                             std::to_string(options.logit_tokens[k]) +
                             " is outside the vocabulary");
  const index columns = options.logit_tokens.empty()
                            ? model.config().vocab_size
                            : static_cast<index>(options.logit_tokens.size());
  float_matrix result(static_cast<index>(patches.size()), columns);
  const auto inv_freq = detail::rope_inverse_frequencies(model.config());
  const auto step = static_cast<std::size_t>(options.batch_cells);
  for (std::size_t first = 0; first < patches.size(); first += step) {
    const std::size_t count = std::min(step, patches.size() - first);
    result.middleRows(static_cast<index>(first), static_cast<index>(count)) =
        detail::patched_batch(model, base, patches.subspan(first, count), inv_freq, options);
    if (options.progress) options.progress(first + count, patches.size());
  }
  return result;
}

struct patching_sweep_options {
  // The patched stream: resid_pre (layer l's input) or resid_post (layer l's output).
  hook_kind point = hook_kind::resid_pre;
  std::vector<index> layers = {};     // empty: every layer
  std::vector<index> positions = {};  // empty: every position
  std::vector<token_id> logit_tokens = {};  // empty: the whole vocabulary
  index batch_cells = 64;
  std::size_t threads = 1;
  bool skip_unchanged = true;  // see patch_options
  std::function<void(std::size_t, std::size_t)> progress = {};  // see patch_options
};

namespace detail {
inline patching_sweep_result sweep_frame(const transformer_model& model, std::span<const token_id> clean,
                                         std::span<const token_id> corrupted,
                                         const patching_sweep_options& options, const char* who) {
  const std::string name(who);
  if (options.point != hook_kind::resid_pre && options.point != hook_kind::resid_post)
    throw invalid_argument(name + ": point must be resid_pre or resid_post");
  if (clean.empty() || clean.size() != corrupted.size())
    throw invalid_argument(name + ": clean and corrupted sequences must be non-empty and of equal "
                                  "length (" +
                           std::to_string(clean.size()) + " and " +
                           std::to_string(corrupted.size()) + ")");
  if (options.batch_cells <= 0)
    throw invalid_argument(name + ": batch_cells must be positive");
  const index layers = model.config().n_layers;
  const auto n = static_cast<index>(clean.size());
  patching_sweep_result r;
  r.point = options.point;
  r.logit_tokens = options.logit_tokens;
  r.layers = options.layers;
  r.positions = options.positions;
  if (r.layers.empty())
    for (index l = 0; l < layers; ++l) r.layers.push_back(l);
  if (r.positions.empty())
    for (index p = 0; p < n; ++p) r.positions.push_back(p);
  for (index l : r.layers)
    if (l < 0 || l >= layers)
      throw invalid_argument(name + ": layer " + std::to_string(l) + " is outside [0, " +
                             std::to_string(layers) + ")");
  for (index p : r.positions)
    if (p < 0 || p >= n)
      throw invalid_argument(name + ": position " + std::to_string(p) + " is outside [0, " +
                             std::to_string(n) + ")");
  return r;
}
}  // namespace detail

// The sweep by patched_logits: two recorded runs, then only the changed part of each cell,
// batch_cells cells at a time.
inline patching_sweep_result activation_patching_sweep(const transformer_model& model,
                                                       std::span<const token_id> clean,
                                                       std::span<const token_id> corrupted,
                                                       const patching_sweep_options& options = {}) {
  auto r = detail::sweep_frame(model, clean, corrupted, options, "activation_patching_sweep");
  const cached_run clean_run = record_run(model, clean, options.logit_tokens, options.threads);
  const cached_run base = record_run(model, corrupted, options.logit_tokens, options.threads);
  const index shift = options.point == hook_kind::resid_post ? 1 : 0;
  std::vector<residual_patch> patches;
  for (index l : r.layers)
    for (index p : r.positions) {
      const auto& source = clean_run.residual[static_cast<std::size_t>(l + shift)];
      patches.push_back({l + shift, p,
                         std::span<const float>(source.row(p).data(),
                                                static_cast<std::size_t>(source.cols()))});
    }
  r.logits = patched_logits(model, base, patches,
                            {options.logit_tokens, options.batch_cells, options.threads,
                             options.skip_unchanged, options.progress});
  r.clean_logits = clean_run.last_logits;
  r.corrupted_logits = base.last_logits;
  return r;
}

// The reference: one full forward pass of the corrupted sequence per cell, with a replace hook.
inline patching_sweep_result naive_activation_patching_sweep(
    const transformer_model& model, std::span<const token_id> clean, std::span<const token_id> corrupted,
    const patching_sweep_options& options = {}) {
  auto r = detail::sweep_frame(model, clean, corrupted, options, "naive_activation_patching_sweep");
  activation_cache clean_cache;
  hook_set record;
  for (index l : r.layers) record.cache(hook_point{options.point, l}, clean_cache);
  forward_options o;
  o.logit_tokens = options.logit_tokens;
  o.last_position_only = true;
  o.threads = options.threads;
  o.hooks = &record;
  r.clean_logits = model.forward(std::vector<std::vector<token_id>>{{clean.begin(), clean.end()}}, o)[0];
  const std::vector<std::vector<token_id>> batch = {{corrupted.begin(), corrupted.end()}};
  o.hooks = nullptr;
  r.corrupted_logits = model.forward(batch, o)[0];
  r.logits.resize(static_cast<index>(r.layers.size() * r.positions.size()),
                  r.corrupted_logits.cols());
  index row = 0;
  for (index l : r.layers)
    for (index p : r.positions) {
      hook_set patch;
      patch.replace(hook_point{options.point, l}, clean_cache, {.rows = {}, .positions = {p}});
      o.hooks = &patch;
      r.logits.row(row++) = model.forward(batch, o)[0].row(0);
    }
  return r;
}

}  // namespace attrib
