#pragma once
// Hyper-parameters of a pre-norm decoder-only transformer. Two families:
// - llama (Llama 2 and 3, Mistral, llama2.c): RMSNorm, rotary position embeddings on adjacent
//   pairs, grouped-query attention, a SwiGLU feed-forward network; biases optional (Qwen2 has
//   them on q, k, v).
// - gpt2: LayerNorm with bias, learned absolute positions, multi-head attention and a GELU (tanh
//   approximation) feed-forward network, biases on every linear map.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"

namespace attrib {

enum class transformer_architecture { llama, gpt2 };

inline const char* to_string(transformer_architecture a) {
  return a == transformer_architecture::llama ? "llama" : "gpt2";
}

struct transformer_config {
  transformer_architecture architecture = transformer_architecture::llama;
  index dim = 0;         // width of the residual stream
  index hidden_dim = 0;  // width of the feed-forward layer (neurons)
  index n_layers = 0;
  index n_heads = 0;     // query heads
  index n_kv_heads = 0;  // key/value heads; n_heads / n_kv_heads query heads share each one
  index vocab_size = 0;
  index context_length = 0;  // the most positions a sequence may hold
  float norm_eps = 1e-5f;    // added to the mean square inside RMSNorm (the variance in LayerNorm)
  float rope_theta = 10000.0f;  // llama only
  // Llama 3.1's long-context scaling: rotary pair j turns rope_freq_factors[j] times slower
  // (GGUF tensor rope_freqs.weight). Empty: no scaling; otherwise head_dim / 2 positive entries.
  std::vector<float> rope_freq_factors = {};

  index head_dim() const { return dim / n_heads; }
  index kv_dim() const { return head_dim() * n_kv_heads; }
};

// Throws invalid_argument naming the first field that makes `c` unusable.
inline void validate(const transformer_config& c) {
  auto positive = [](index v, const char* name) {
    if (v <= 0)
      throw invalid_argument(std::string("transformer_config: ") + name + " is " +
                             std::to_string(v) + ", expected a positive value");
  };
  positive(c.dim, "dim");
  positive(c.hidden_dim, "hidden_dim");
  positive(c.n_layers, "n_layers");
  positive(c.n_heads, "n_heads");
  positive(c.n_kv_heads, "n_kv_heads");
  positive(c.vocab_size, "vocab_size");
  positive(c.context_length, "context_length");
  if (c.dim % c.n_heads != 0)
    throw invalid_argument("transformer_config: dim " + std::to_string(c.dim) +
                           " is not a multiple of n_heads " + std::to_string(c.n_heads));
  if (c.n_heads % c.n_kv_heads != 0)
    throw invalid_argument("transformer_config: n_heads " + std::to_string(c.n_heads) +
                           " is not a multiple of n_kv_heads " + std::to_string(c.n_kv_heads));
  if (!(c.norm_eps > 0.0f) || !std::isfinite(c.norm_eps))
    throw invalid_argument("transformer_config: norm_eps must be positive and finite");
  if (c.architecture == transformer_architecture::gpt2) {
    if (c.n_kv_heads != c.n_heads)
      throw invalid_argument("transformer_config: gpt2 has n_kv_heads " +
                             std::to_string(c.n_kv_heads) + ", expected n_heads " +
                             std::to_string(c.n_heads) + " (GPT-2 has no grouped-query attention)");
    if (!c.rope_freq_factors.empty())
      throw invalid_argument("transformer_config: gpt2 has rope_freq_factors, but no rotary "
                             "embeddings");
    return;
  }
  if (c.architecture != transformer_architecture::llama)
    throw invalid_argument("transformer_config: unknown architecture " +
                           std::to_string(static_cast<int>(c.architecture)));
  if (c.head_dim() % 2 != 0)
    throw invalid_argument("transformer_config: head dimension " + std::to_string(c.head_dim()) +
                           " is odd, but rotary embeddings rotate pairs");
  if (!(c.rope_theta > 0.0f) || !std::isfinite(c.rope_theta))
    throw invalid_argument("transformer_config: rope_theta must be positive and finite");
  if (!c.rope_freq_factors.empty()) {
    if (static_cast<index>(c.rope_freq_factors.size()) != c.head_dim() / 2)
      throw invalid_argument("transformer_config: rope_freq_factors has " +
                             std::to_string(c.rope_freq_factors.size()) + " entries, expected " +
                             std::to_string(c.head_dim() / 2));
    for (float f : c.rope_freq_factors)
      if (!(f > 0.0f) || !std::isfinite(f))
        throw invalid_argument("transformer_config: rope_freq_factors must be positive and finite");
  }
}

}  // namespace attrib
