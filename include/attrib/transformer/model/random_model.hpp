#pragma once
// A transformer of a given shape with seeded random float32 weights, for tests and benchmarks that
// need a model of a size or family no shipped checkpoint has (a GPT-2-small-shaped model, a tiny
// GPT-2, a Llama with biases).
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "attrib/core/random.hpp"
#include "attrib/core/types.hpp"
#include "attrib/transformer/model/config.hpp"
#include "attrib/transformer/model/model.hpp"
#include "attrib/transformer/model/weights.hpp"

namespace attrib {

struct random_model_options {
  // Matrices and biases are uniform in [-scale, scale]; norm weights in [1 - scale, 1 + scale].
  float scale = 0.05f;
  // Biases on every linear map (q, k, v, o, up, down). gpt2 always has them and its norm biases.
  bool biases = false;
  // The unembedding shares the token embedding's bytes (GPT-2 and small Llamas do).
  bool tied_output = true;
};

// Every weight drawn from rng(seed) in one float32 block that weights.storage keeps alive.
// Throws invalid_argument when `c` is not a valid configuration.
inline transformer_model random_transformer_model(const transformer_config& c, std::uint64_t seed,
                                                  const random_model_options& options = {}) {
  validate(c);
  const bool gpt2 = c.architecture == transformer_architecture::gpt2;
  const bool biases = options.biases || gpt2;
  const index d = c.dim;
  const index kv = c.kv_dim();
  const index h = c.hidden_dim;
  index per_layer = 2 * d + 2 * d * d + 2 * kv * d + (gpt2 ? 2 : 3) * h * d;
  if (gpt2) per_layer += 2 * d;
  if (biases) per_layer += 2 * d + 2 * kv + h + d;
  index total = c.vocab_size * d + d + c.n_layers * per_layer;
  if (gpt2) total += c.context_length * d + d;
  if (!options.tied_output) total += c.vocab_size * d;
  auto block = std::make_shared<std::vector<float>>(static_cast<std::size_t>(total));
  rng gen(seed);
  index next = 0;
  // `center` 1 for norm weights, 0 otherwise.
  auto take = [&](index rows, index cols, float center = 0.0f) {
    float* p = block->data() + next;
    for (index i = 0; i < rows * cols; ++i)
      p[i] = center + options.scale * static_cast<float>(2.0 * gen.uniform() - 1.0);
    next += rows * cols;
    return weight_tensor{ggml_type::f32, rows, cols,
                         std::as_bytes(std::span<const float>(p, static_cast<std::size_t>(rows * cols)))};
  };
  transformer_weights w;
  w.token_embedding = take(c.vocab_size, d);
  if (gpt2) w.position_embedding = take(c.context_length, d);
  w.output = options.tied_output ? w.token_embedding : take(c.vocab_size, d);
  w.final_norm = take(1, d, 1.0f);
  if (gpt2) w.final_norm_bias = take(1, d);
  for (index l = 0; l < c.n_layers; ++l) {
    transformer_layer_weights layer;
    layer.attn_norm = take(1, d, 1.0f);
    if (gpt2) layer.attn_norm_bias = take(1, d);
    layer.wq = take(d, d);
    layer.wk = take(kv, d);
    layer.wv = take(kv, d);
    layer.wo = take(d, d);
    layer.ffn_norm = take(1, d, 1.0f);
    if (gpt2) layer.ffn_norm_bias = take(1, d);
    if (!gpt2) layer.w_gate = take(h, d);
    layer.w_up = take(h, d);
    layer.w_down = take(d, h);
    if (biases) {
      layer.bq = take(1, d);
      layer.bk = take(1, kv);
      layer.bv = take(1, kv);
      layer.bo = take(1, d);
      layer.b_up = take(1, h);
      layer.b_down = take(1, d);
    }
    w.layers.push_back(layer);
  }
  w.storage = block;
  return transformer_model(c, std::move(w));
}

}  // namespace attrib
