#pragma once
// Builds a transformer_model from a llama2.c checkpoint. The weights stay in the (mapped) file.
#include <filesystem>
#include <memory>
#include <span>

#include "attrib/io/llama2c.hpp"
#include "attrib/io/mapped_file.hpp"
#include "attrib/transformer/model/config.hpp"
#include "attrib/transformer/model/model.hpp"
#include "attrib/transformer/model/weights.hpp"

namespace attrib {

// llama2.c fixes what its header does not store: RMSNorm eps 1e-5 and RoPE theta 10000.
inline transformer_config llama2c_config(const llama2c_checkpoint& c) {
  transformer_config config;
  config.dim = c.header.dim;
  config.hidden_dim = c.header.hidden_dim;
  config.n_layers = c.header.n_layers;
  config.n_heads = c.header.n_heads;
  config.n_kv_heads = c.header.n_kv_heads;
  config.vocab_size = c.vocab_size;
  config.context_length = c.header.seq_len;
  return config;
}

// The views in the result point into the bytes `c` was parsed from; `storage`, if given, keeps
// them alive for as long as the model lives.
inline transformer_model transformer_model_from_llama2c(const llama2c_checkpoint& c,
                                            std::shared_ptr<const void> storage = nullptr) {
  const transformer_config config = llama2c_config(c);
  validate(config);
  auto matrix = [](std::span<const std::byte> bytes, index rows, index cols) {
    return weight_tensor{ggml_type::f32, rows, cols, bytes};
  };
  // Layer l of a stacked [layers][rows][cols] array.
  auto slice = [&](std::span<const std::byte> all, index l, index rows, index cols) {
    const auto size = static_cast<std::size_t>(rows * cols) * 4;
    return matrix(all.subspan(static_cast<std::size_t>(l) * size, size), rows, cols);
  };
  const index dim = config.dim;
  const index hidden = config.hidden_dim;
  const index kv_dim = config.kv_dim();
  transformer_weights w;
  w.token_embedding = matrix(c.token_embedding, config.vocab_size, dim);
  w.final_norm = matrix(c.rms_final, 1, dim);
  w.output = matrix(c.classifier, config.vocab_size, dim);
  for (index l = 0; l < config.n_layers; ++l) {
    transformer_layer_weights layer;
    layer.attn_norm = slice(c.rms_att, l, 1, dim);
    layer.wq = slice(c.wq, l, dim, dim);
    layer.wk = slice(c.wk, l, kv_dim, dim);
    layer.wv = slice(c.wv, l, kv_dim, dim);
    layer.wo = slice(c.wo, l, dim, dim);
    layer.ffn_norm = slice(c.rms_ffn, l, 1, dim);
    layer.w_gate = slice(c.w1, l, hidden, dim);
    layer.w_down = slice(c.w2, l, dim, hidden);
    layer.w_up = slice(c.w3, l, hidden, dim);
    w.layers.push_back(layer);
  }
  w.storage = std::move(storage);
  return transformer_model(config, std::move(w));
}

// Maps a llama2.c `.bin` and builds the model over the mapping.
inline transformer_model load_llama2c_model(const std::filesystem::path& path) {
  auto file = std::make_shared<const mapped_file>(path);
  const auto checkpoint = parse_llama2c_checkpoint(file->bytes(), path.string());
  return transformer_model_from_llama2c(checkpoint, file);
}

}  // namespace attrib
