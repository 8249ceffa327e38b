#pragma once
// Builds a transformer_model from a GGUF file of architecture "llama" (Llama 2 and 3, Mistral, and
// llama2.c conversions). Hyper-parameters come from the metadata, weights stay in the (mapped)
// file in their stored types. llama.cpp's converters permute Hugging Face's Q and K rows into the
// adjacent-pair RoPE layout, which is the layout model.hpp computes, so no permutation is needed.
#include <filesystem>
#include <memory>
#include <string>

#include "attrib/core/text.hpp"
#include "attrib/io/gguf.hpp"
#include "attrib/io/mapped_file.hpp"
#include "attrib/transformer/model/config.hpp"
#include "attrib/transformer/model/model.hpp"
#include "attrib/transformer/model/weights.hpp"

namespace attrib {

namespace detail {
inline index gguf_positive(const gguf_content& g, const std::string& key) {
  const std::uint64_t v = g.at(key).as_uint(key);
  if (v == 0 || v > (std::uint64_t{1} << 40))
    throw format_error("GGUF metadata '" + key + "' is " + std::to_string(v) +
                       ", expected a positive size");
  return static_cast<index>(v);
}

inline weight_tensor gguf_weight(const gguf_content& g, const std::string& name) {
  const auto* t = g.find_tensor(name);
  if (t == nullptr) throw format_error("GGUF file has no tensor '" + name + "'");
  // ggml lists the row length first; a vector is one row.
  index rows = 1;
  for (std::size_t d = 1; d < t->shape.size(); ++d) rows *= static_cast<index>(t->shape[d]);
  return {t->type, rows, static_cast<index>(t->shape[0]), t->bytes};
}
}  // namespace detail

// Throws format_error when general.architecture is not "llama", a required key is missing or not
// a positive integer, llama.rope.dimension_count asks for partial rotary embeddings, or the
// optional rope_freqs.weight (Llama 3.1 frequency factors) does not fit the head dimension.
inline transformer_config llama_config_from_gguf(const gguf_content& g) {
  const auto& arch = g.at("general.architecture").as_string("general.architecture");
  if (arch != "llama")
    throw format_error("GGUF architecture '" + detail::printable(arch) + "' is not supported (expected 'llama')");
  transformer_config c;
  c.dim = detail::gguf_positive(g, "llama.embedding_length");
  c.hidden_dim = detail::gguf_positive(g, "llama.feed_forward_length");
  c.n_layers = detail::gguf_positive(g, "llama.block_count");
  c.n_heads = detail::gguf_positive(g, "llama.attention.head_count");
  c.n_kv_heads = g.find("llama.attention.head_count_kv")
                     ? detail::gguf_positive(g, "llama.attention.head_count_kv")
                     : c.n_heads;
  c.context_length = detail::gguf_positive(g, "llama.context_length");
  if (const auto* eps = g.find("llama.attention.layer_norm_rms_epsilon"))
    c.norm_eps = static_cast<float>(eps->as_float("llama.attention.layer_norm_rms_epsilon"));
  if (const auto* theta = g.find("llama.rope.freq_base"))
    c.rope_theta = static_cast<float>(theta->as_float("llama.rope.freq_base"));
  const auto embedding = detail::gguf_weight(g, "token_embd.weight");
  c.vocab_size = embedding.rows;
  if (g.find_tensor("rope_freqs.weight") != nullptr) {
    const auto factors = detail::gguf_weight(g, "rope_freqs.weight");
    if (factors.rows != 1) throw format_error("GGUF tensor 'rope_freqs.weight' must be a vector");
    c.rope_freq_factors = factors.decode_row(0);
  }
  try {
    validate(c);
  } catch (const invalid_argument& e) {
    throw format_error(std::string("GGUF hyper-parameters: ") + e.what());
  }
  if (const auto* rot = g.find("llama.rope.dimension_count");
      rot != nullptr &&
      rot->as_uint("llama.rope.dimension_count") != static_cast<std::uint64_t>(c.head_dim()))
    throw format_error("GGUF llama.rope.dimension_count is " +
                       std::to_string(rot->as_uint("llama.rope.dimension_count")) +
                       ", but attrib rotates whole heads of " + std::to_string(c.head_dim()));
  return c;
}

// The views in the result point into the bytes `g` was parsed from; `storage`, if given, keeps
// them alive for as long as the model lives. Without output.weight the classifier is tied to
// token_embd.weight.
inline transformer_model transformer_model_from_gguf(const gguf_content& g,
                                         std::shared_ptr<const void> storage = nullptr) {
  const transformer_config config = llama_config_from_gguf(g);
  transformer_weights w;
  w.token_embedding = detail::gguf_weight(g, "token_embd.weight");
  w.final_norm = detail::gguf_weight(g, "output_norm.weight");
  w.output =
      g.find_tensor("output.weight") ? detail::gguf_weight(g, "output.weight") : w.token_embedding;
  for (index l = 0; l < config.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    transformer_layer_weights layer;
    layer.attn_norm = detail::gguf_weight(g, p + "attn_norm.weight");
    layer.wq = detail::gguf_weight(g, p + "attn_q.weight");
    layer.wk = detail::gguf_weight(g, p + "attn_k.weight");
    layer.wv = detail::gguf_weight(g, p + "attn_v.weight");
    layer.wo = detail::gguf_weight(g, p + "attn_output.weight");
    layer.ffn_norm = detail::gguf_weight(g, p + "ffn_norm.weight");
    layer.w_gate = detail::gguf_weight(g, p + "ffn_gate.weight");
    layer.w_up = detail::gguf_weight(g, p + "ffn_up.weight");
    layer.w_down = detail::gguf_weight(g, p + "ffn_down.weight");
    w.layers.push_back(layer);
  }
  w.storage = std::move(storage);
  return transformer_model(config, std::move(w));
}

// Maps a GGUF file and builds the model over the mapping.
inline transformer_model load_gguf_model(const std::filesystem::path& path) {
  auto file = std::make_shared<const mapped_file>(path);
  return transformer_model_from_gguf(parse_gguf(file->bytes(), path.string()), file);
}

}  // namespace attrib
