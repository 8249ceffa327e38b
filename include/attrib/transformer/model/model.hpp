#pragma once
// The forward pass of a pre-norm decoder (Llama family or GPT-2, see config.hpp) in float32 with
// float32 accumulation, as llama2.c's run.c, llama.cpp and llm.c compute it. A call runs new
// tokens for each row of a batch through the model, appending their keys and values to a
// kv_cache: a whole prompt in one call, or one token per call while generating. Interventions
// from a hook_set apply at every named point.
//
// The layer loop is detail::decoder_forward (decoder_forward.hpp), which the backward pass's tape
// runs too; this file supplies its inference side. Matrix products here convert each block of
// weight rows from its stored type once per call, shared by all tokens of the batch, and
// multiply with kernels::dot, so that a token's result does not depend on the batch.
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/parallel.hpp"
#include "attrib/core/types.hpp"
#include "attrib/transformer/model/config.hpp"
#include "attrib/transformer/hooks/hooks.hpp"
#include "attrib/transformer/model/decoder_forward.hpp"
#include "attrib/transformer/model/kernels.hpp"
#include "attrib/transformer/model/kv_cache.hpp"
#include "attrib/transformer/model/weights.hpp"

namespace attrib {

struct forward_options {
  // Interventions to apply; null runs the plain model.
  const hook_set* hooks = nullptr;
  // Compute logits of these token ids only (columns in this order); empty: the whole vocabulary.
  std::vector<token_id> logit_tokens = {};
  // Compute logits for the last new token of each row only, as generation needs.
  bool last_position_only = false;
  // Worker threads; 0 means all cores. Results do not depend on it.
  std::size_t threads = 1;
  // Start at layer `first_layer` from the residual stream `resume` (resid_pre.first_layer of every
  // new token, one row each in batch order; first_layer == n_layers means the stream after the
  // last layer) instead of from the embeddings. Layers before it and their hooks do not run, and
  // their keys and values are not written, so it needs a cache that holds no tokens yet and must
  // not be continued. A run whose interventions all lie at or after first_layer then gives the
  // same numbers as a full pass for the cost of the layers it runs (component games use it).
  index first_layer = 0;
  const float_matrix* resume = nullptr;
};

namespace detail {

// The weights of one norm: read in place when stored as float32, else converted once per call;
// bias is null for RMSNorm.
class norm_weights {
 public:
  norm_weights(const weight_tensor& w, const weight_tensor& b)
      : weight_(view(w, weight_storage_)), bias_(b.present() ? view(b, bias_storage_) : nullptr) {}
  norm_weights(const norm_weights&) = delete;
  norm_weights& operator=(const norm_weights&) = delete;

  const float* weight() const { return weight_; }
  const float* bias() const { return bias_; }

 private:
  static const float* view(const weight_tensor& t, std::vector<float>& storage) {
    if (const float* in_place = t.f32_rows(0)) return in_place;
    storage = t.decode_row(0);
    return storage.data();
  }

  std::vector<float> weight_storage_, bias_storage_;
  const float* weight_;
  const float* bias_;
};

// The family's norm of one token: RMSNorm for llama, LayerNorm for gpt2.
inline void normalize(transformer_architecture a, const float* x, const norm_weights& w,
                      float* out, index n, float eps) {
  kernels::norm(x, w.weight(), w.bias(), out, n, eps, a == transformer_architecture::gpt2);
}

// out.row(i) = norm(x.row(i)) for every row (out has x's shape).
inline void normalize_rows(const transformer_config& c, const float_matrix& x,
                           const weight_tensor& weight, const weight_tensor& bias,
                           float_matrix& out) {
  const norm_weights w(weight, bias);
  for (index i = 0; i < x.rows(); ++i)
    normalize(c.architecture, x.row(i).data(), w, out.row(i).data(), x.cols(), c.norm_eps);
}

// y(i, :) += b for every row; nothing when the bias is absent.
inline void add_bias(float_matrix& y, const weight_tensor& b) {
  if (!b.present()) return;
  const auto bias = b.decode_row(0);
  for (index i = 0; i < y.rows(); ++i)
    for (index j = 0; j < y.cols(); ++j) y(i, j) += bias[static_cast<std::size_t>(j)];
}

// Rows of w converted per block: about 64 KiB of floats, so a block stays in cache while every
// token of the batch is multiplied with it.
inline index weight_block_rows(index cols) {
  return std::max<index>(1, 16384 / std::max<index>(1, cols));
}

// y = x w^T for all rows of w, on up to `threads` threads (0: all cores). Threads take disjoint
// blocks of output columns, and each element is one kernels::dot(), so the result does not depend on
// the thread count.
inline void linear(const float_matrix& x, const weight_tensor& w, float_matrix& y,
                   std::size_t threads) {
  y.resize(x.rows(), w.rows);
  if (x.rows() == 0) return;
  // One thread per 64k multiply-adds at most (about 5 microseconds here): a fork-join costs about
  // 1 microsecond, and a worker kept spinning by products too small to share slows the one doing
  // the work (two threads decoded stories260K at 0.86x one thread when its 32k-product output
  // layer was split). Then a block per thread, none larger than the cache-sized block.
  const index work = w.rows * w.cols * x.rows();
  threads = std::min<std::size_t>(resolve_threads(threads),
                                  static_cast<std::size_t>(std::max<index>(1, work / 65536)));
  const auto t = static_cast<index>(threads);
  const index block = std::clamp<index>((w.rows + t - 1) / t, 1, weight_block_rows(w.cols));
  const index blocks = (w.rows + block - 1) / block;
  parallel_for(static_cast<std::size_t>(blocks), threads, [&](std::size_t b) {
    const index first = static_cast<index>(b) * block;
    const index count = std::min(block, w.rows - first);
    const float* rows = w.f32_rows(first);
    if (rows == nullptr) {
      // Converted rows go to a per-thread buffer that grows once and is reused by every call.
      thread_local std::vector<float> converted;
      converted.resize(static_cast<std::size_t>(count * w.cols));
      w.decode_rows(first, count, converted.data());
      rows = converted.data();
    }
    kernels::dot_rows(x.data(), x.cols(), x.rows(), rows, w.cols, count, w.cols, &y(0, first),
                      y.cols());
  });
}

// y = x w[rows]^T for selected rows of w (a restricted vocabulary).
inline void linear_rows(const float_matrix& x, const weight_tensor& w,
                        std::span<const token_id> rows, float_matrix& y) {
  y.resize(x.rows(), static_cast<index>(rows.size()));
  std::vector<float> wr(static_cast<std::size_t>(w.cols));
  for (std::size_t k = 0; k < rows.size(); ++k) {
    w.decode_rows(rows[k], 1, wr.data());
    for (index i = 0; i < x.rows(); ++i)
      y(i, static_cast<index>(k)) = kernels::dot(&x(i, 0), wr.data(), w.cols);
  }
}

// y = x w^T + b (b optional).
inline void affine(const float_matrix& x, const weight_tensor& w, const weight_tensor& b,
                   float_matrix& y, std::size_t threads) {
  linear(x, w, y, threads);
  add_bias(y, b);
}

}  // namespace detail

class transformer_model {
 public:
  // Throws format_error when a weight's shape or size disagrees with the configuration.
  transformer_model(transformer_config config, transformer_weights weights)
      : config_(std::move(config)), weights_(std::move(weights)) {
    validate(config_, weights_);
    inv_freq_ = detail::rope_inverse_frequencies(config_);
  }

  const transformer_config& config() const { return config_; }
  const transformer_weights& weights() const { return weights_; }

  kv_cache make_cache(index batch_rows) const { return kv_cache(config_, batch_rows); }

  // Runs tokens[b] for each batch row b at positions cache.length(b) onwards and appends their
  // keys and values to the cache. Returns one logits matrix per row: a row per new token (one,
  // or none for a row without tokens, with last_position_only) and a column per vocabulary entry
  // or per options.logit_tokens entry. Throws invalid_argument, leaving the cache as it was, when
  // the batch size differs from the cache's, a token id is outside the vocabulary, or a row would
  // exceed the context length.
  std::vector<float_matrix> forward(kv_cache& cache, std::span<const std::vector<token_id>> tokens,
                                    const forward_options& options = {}) const {
    check_inputs(cache, tokens, options);
    std::vector<index> old_lengths(tokens.size());
    for (std::size_t b = 0; b < tokens.size(); ++b)
      old_lengths[b] = cache.length(static_cast<index>(b));
    try {
      return run(cache, tokens, options);
    } catch (...) {
      for (std::size_t b = 0; b < tokens.size(); ++b)
        cache.truncate(static_cast<index>(b), old_lengths[b]);
      throw;
    }
  }

  // Runs whole sequences from position 0 with a fresh cache.
  std::vector<float_matrix> forward(std::span<const std::vector<token_id>> sequences,
                                    const forward_options& options = {}) const {
    kv_cache cache = make_cache(static_cast<index>(sequences.size()));
    return forward(cache, sequences, options);
  }

 private:
  void check_inputs(const kv_cache& cache, std::span<const std::vector<token_id>> tokens,
                    const forward_options& options) const {
    if (cache.rows() != static_cast<index>(tokens.size()))
      throw invalid_argument("transformer_model::forward: " + std::to_string(tokens.size()) +
                             " token sequences for a kv_cache of " + std::to_string(cache.rows()) +
                             " batch rows");
    if (cache.kv_dim() != config_.kv_dim() || cache.context_length() != config_.context_length)
      throw invalid_argument("transformer_model::forward: the kv_cache was made for another model");
    auto check_id = [&](token_id id, const std::string& where) {
      if (id < 0 || id >= config_.vocab_size)
        throw invalid_argument("transformer_model::forward: token id " + std::to_string(id) + " at " +
                               where + " is outside the vocabulary [0, " +
                               std::to_string(config_.vocab_size) + ")");
    };
    for (std::size_t b = 0; b < tokens.size(); ++b) {
      const auto& row = tokens[b];
      for (std::size_t i = 0; i < row.size(); ++i)
        check_id(row[i], "batch row " + std::to_string(b) + ", index " + std::to_string(i));
      const index end = cache.length(static_cast<index>(b)) + static_cast<index>(row.size());
      if (end > config_.context_length)
        throw invalid_argument("transformer_model::forward: batch row " + std::to_string(b) + " needs " +
                               std::to_string(end) + " positions, more than the context length " +
                               std::to_string(config_.context_length));
    }
    for (std::size_t k = 0; k < options.logit_tokens.size(); ++k)
      check_id(options.logit_tokens[k], "logit_tokens[" + std::to_string(k) + "]");
    if (options.first_layer == 0 && options.resume == nullptr) return;
    if (options.first_layer < 0 || options.first_layer > config_.n_layers)
      throw invalid_argument("transformer_model::forward: first_layer " + std::to_string(options.first_layer) +
                             " is outside [0, " + std::to_string(config_.n_layers) + "]");
    std::size_t tokens_in_all = 0;
    for (std::size_t b = 0; b < tokens.size(); ++b) {
      tokens_in_all += tokens[b].size();
      if (cache.length(static_cast<index>(b)) != 0)
        throw invalid_argument("transformer_model::forward: resuming at a layer needs an empty kv_cache; batch row " +
                               std::to_string(b) + " holds " + std::to_string(cache.length(static_cast<index>(b))) +
                               " tokens");
    }
    if (options.resume == nullptr || options.resume->rows() != static_cast<index>(tokens_in_all) ||
        options.resume->cols() != config_.dim)
      throw invalid_argument("transformer_model::forward: resuming at layer " + std::to_string(options.first_layer) +
                             " needs the residual stream of all " + std::to_string(tokens_in_all) + " tokens (" +
                             std::to_string(tokens_in_all) + " x " + std::to_string(config_.dim) + "), got " +
                             (options.resume == nullptr ? std::string("none")
                                                        : std::to_string(options.resume->rows()) + " x " +
                                                              std::to_string(options.resume->cols())));
  }

  // The model's side of detail::decoder_forward: products with the stored weights, attention
  // over the KV cache, and the hook_set's interventions at every point.
  class inference_pass {
   public:
    using matrix_type = float_matrix;
    static constexpr bool keeps_layer_inputs = false;

    inference_pass(const transformer_model& model, kv_cache& cache,
                   const std::vector<token_location>& where, const std::vector<token_id>& ids,
                   const hook_set* hooks, std::size_t threads, index first_layer = 0,
                   const float_matrix* resume = nullptr)
        : model_(model), cache_(cache), where_(where), ids_(ids), hooks_(hooks), threads_(threads),
          first_layer_(first_layer), resume_(resume) {
      // Attention scratch is sized by the longest sequence in this call, not the context length,
      // which may be huge.
      for (const auto& t : where_)
        longest_ = std::max(longest_, static_cast<std::size_t>(t.position) + 1);
    }

    const transformer_config& config() const { return model_.config_; }
    detail::decoder_activations<float_matrix>& activations(index) { return scratch_; }
    index first_layer() const { return first_layer_; }
    void resume(float_matrix& x) const { x = *resume_; }

    void embed(float_matrix& x) const {
      const auto& w = model_.weights_;
      const auto n = static_cast<index>(ids_.size());
      x.resize(n, w.token_embedding.cols);
      for (index i = 0; i < n; ++i)
        w.token_embedding.decode_rows(ids_[static_cast<std::size_t>(i)], 1, x.row(i).data());
      if (!w.position_embedding.present()) return;
      std::vector<float> position(static_cast<std::size_t>(x.cols()));
      for (index i = 0; i < n; ++i) {
        w.position_embedding.decode_rows(where_[static_cast<std::size_t>(i)].position, 1,
                                         position.data());
        for (index j = 0; j < x.cols(); ++j) x(i, j) += position[static_cast<std::size_t>(j)];
      }
    }

    void normalize(index l, detail::decoder_norm which, const float_matrix& x,
                   float_matrix& y) const {
      const auto& w = model_.weights_;
      y.resize(x.rows(), x.cols());
      if (which == detail::decoder_norm::final)
        return detail::normalize_rows(config(), x, w.final_norm, w.final_norm_bias, y);
      const auto& layer = w.layers[static_cast<std::size_t>(l)];
      if (which == detail::decoder_norm::attention)
        detail::normalize_rows(config(), x, layer.attn_norm, layer.attn_norm_bias, y);
      else
        detail::normalize_rows(config(), x, layer.ffn_norm, layer.ffn_norm_bias, y);
    }

    void linear(index l, detail::decoder_map map, const float_matrix& x, float_matrix& y) const {
      const auto& w = model_.weights_.layers[static_cast<std::size_t>(l)];
      switch (map) {
        case detail::decoder_map::q: return detail::affine(x, w.wq, w.bq, y, threads_);
        case detail::decoder_map::k: return detail::affine(x, w.wk, w.bk, y, threads_);
        case detail::decoder_map::v: return detail::affine(x, w.wv, w.bv, y, threads_);
        case detail::decoder_map::o: return detail::affine(x, w.wo, w.bo, y, threads_);
        case detail::decoder_map::gate: return detail::linear(x, w.w_gate, y, threads_);
        case detail::decoder_map::up: return detail::affine(x, w.w_up, w.b_up, y, threads_);
        case detail::decoder_map::down: return detail::affine(x, w.w_down, w.b_down, y, threads_);
      }
    }

    // Appends the new keys and values to the cache, then each token attends to its row's cache.
    void attend(index l, detail::decoder_activations<float_matrix>& a) {
      const auto& c = config();
      const index kv_dim = c.kv_dim();
      for (std::size_t i = 0; i < where_.size(); ++i) {
        const auto t = where_[i];
        std::copy_n(a.k.row(static_cast<index>(i)).data(), kv_dim, cache_.key(t.row, l, t.position));
        std::copy_n(a.v.row(static_cast<index>(i)).data(), kv_dim,
                    cache_.value(t.row, l, t.position));
      }
      a.attn.resize(a.q.rows(), c.dim);
      // Tokens attend independently: chunks of tokens, each with its thread's scratch, which
      // the pool's threads keep from call to call (a decoding step allocates nothing).
      const std::size_t chunks = std::min<std::size_t>(where_.size(), 4 * threads_);
      parallel_for(chunks, threads_, [&](std::size_t chunk) {
        thread_local std::vector<float> scores;
        thread_local std::vector<const float*> key_rows, value_rows;
        scores.resize(longest_);
        key_rows.resize(longest_);
        value_rows.resize(longest_);
        for (std::size_t i = chunk; i < where_.size(); i += chunks) {
          const auto t = where_[i];
          // A row's positions lie kv_dim apart in the cache.
          const float* keys = std::as_const(cache_).key(t.row, l, 0);
          const float* values = std::as_const(cache_).value(t.row, l, 0);
          for (index p = 0; p <= t.position; ++p) {
            key_rows[static_cast<std::size_t>(p)] = keys + p * kv_dim;
            value_rows[static_cast<std::size_t>(p)] = values + p * kv_dim;
          }
          detail::kernels::attend(a.q.row(static_cast<index>(i)).data(), key_rows.data(),
                                  value_rows.data(), t.position + 1, c.n_heads, c.n_kv_heads,
                                  c.head_dim(), scores.data(),
                                  a.attn.row(static_cast<index>(i)).data());
        }
      });
    }

    bool active(hook_point p) const { return hooks_ != nullptr && hooks_->active(p); }

    void hook(hook_point p, float_matrix& values) const {
      if (hooks_ == nullptr) return;
      const index rows = values.rows();
      const index cols = values.cols();
      hooks_->apply(p, values, where_);
      if (values.rows() != rows || values.cols() != cols)
        throw invalid_argument("hook at " + to_string(p) + " resized the activations from " +
                               std::to_string(rows) + " x " + std::to_string(cols) + " to " +
                               std::to_string(values.rows()) + " x " +
                               std::to_string(values.cols()));
    }

   private:
    const transformer_model& model_;
    kv_cache& cache_;
    const std::vector<token_location>& where_;
    const std::vector<token_id>& ids_;
    const hook_set* hooks_;
    std::size_t threads_;
    index first_layer_;
    const float_matrix* resume_;
    std::size_t longest_ = 0;
    detail::decoder_activations<float_matrix> scratch_;  // reused by every layer
  };

  std::vector<float_matrix> run(kv_cache& cache, std::span<const std::vector<token_id>> tokens,
                                const forward_options& options) const {
    const index dim = config_.dim;
    // Every new token of every row becomes one row of the activation matrices.
    std::vector<token_location> where;
    std::vector<token_id> ids;
    std::vector<index> positions;
    for (std::size_t b = 0; b < tokens.size(); ++b) {
      const index row = static_cast<index>(b);
      const index start = cache.length(row);
      for (std::size_t i = 0; i < tokens[b].size(); ++i) {
        where.push_back({row, start + static_cast<index>(i)});
        ids.push_back(tokens[b][i]);
        positions.push_back(start + static_cast<index>(i));
      }
      cache.extend(row, start + static_cast<index>(tokens[b].size()));
    }
    const index n = static_cast<index>(ids.size());
    const std::size_t threads = resolve_threads(options.threads);
    float_matrix cosines, sines, x, xb;
    if (!inv_freq_.empty())
      detail::rope_tables(positions, inv_freq_.data(), config_.head_dim() / 2, cosines, sines);
    inference_pass pass(*this, cache, where, ids, options.hooks, threads, options.first_layer, options.resume);
    detail::decoder_forward(pass, cosines, sines, x, xb);

    // Which activation rows get logits, and how many belong to each batch row.
    std::vector<index> selected;
    std::vector<index> per_row(tokens.size(), 0);
    for (index i = 0; i < n; ++i) {
      const auto row = static_cast<std::size_t>(where[static_cast<std::size_t>(i)].row);
      const bool last = i + 1 == n || where[static_cast<std::size_t>(i + 1)].row !=
                                          where[static_cast<std::size_t>(i)].row;
      if (!options.last_position_only || last) {
        selected.push_back(i);
        ++per_row[row];
      }
    }
    float_matrix final_rows(static_cast<index>(selected.size()), dim);
    for (std::size_t s = 0; s < selected.size(); ++s)
      final_rows.row(static_cast<index>(s)) = xb.row(selected[s]);
    float_matrix logits;
    if (options.logit_tokens.empty())
      detail::linear(final_rows, weights_.output, logits, threads);
    else
      detail::linear_rows(final_rows, weights_.output, options.logit_tokens, logits);

    std::vector<float_matrix> result(tokens.size());
    index next = 0;
    for (std::size_t b = 0; b < tokens.size(); ++b) {
      result[b] = logits.middleRows(next, per_row[b]);
      next += per_row[b];
    }
    return result;
  }

  transformer_config config_;
  transformer_weights weights_;
  std::vector<double> inv_freq_;  // see detail::rope_inverse_frequencies
};

}  // namespace attrib
