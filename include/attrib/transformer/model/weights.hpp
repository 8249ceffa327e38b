#pragma once
// Weights of a transformer (see config.hpp for the two families) as views over their stored bytes
// (float32, float16, bfloat16 or Q8_0), usually inside a memory-mapped checkpoint. Nothing is
// converted at load time: a matrix converts the rows a computation needs to float when it needs
// them, so a model takes no more memory than its file and a quantised file stays quantised.
// (Layouts that disagree with [out][in] rows, GPT-2's Conv1D, are rearranged by their loader.)
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"
#include "attrib/io/gguf.hpp"
#include "attrib/transformer/model/config.hpp"

namespace attrib {

// A row-major [rows][cols] matrix (a vector is one row) in its stored type.
// A tensor with no rows is absent (an optional bias, say).
struct weight_tensor {
  ggml_type type = ggml_type::f32;
  index rows = 0;
  index cols = 0;
  std::span<const std::byte> bytes;

  bool present() const { return rows > 0; }

  std::size_t row_bytes() const { return ggml_row_bytes(type, static_cast<std::size_t>(cols)); }

  // Writes rows [first, first + count) as floats to out[0 .. count * cols).
  void decode_rows(index first, index count, float* out) const {
    for (index r = 0; r < count; ++r)
      dequantize_row(type, bytes.data() + static_cast<std::size_t>(first + r) * row_bytes(),
                     out + r * cols, static_cast<std::size_t>(cols));
  }

  // Rows [first, ...) as floats in place when they are stored as aligned little-endian float32,
  // else null: the common case then reads the weights where they lie instead of copying them
  // per call.
  const float* f32_rows(index first) const {
    if (type != ggml_type::f32 || std::endian::native != std::endian::little) return nullptr;
    const std::byte* at = bytes.data() + static_cast<std::size_t>(first) * row_bytes();
    if (reinterpret_cast<std::uintptr_t>(at) % alignof(float) != 0) return nullptr;
    return reinterpret_cast<const float*>(at);
  }

  std::vector<float> decode_row(index r) const {
    std::vector<float> out(static_cast<std::size_t>(cols));
    decode_rows(r, 1, out.data());
    return out;
  }
};

// Matrices are [out][in] (y = W x), as in llama2.c and GGUF; GPT-2's Conv1D weights are stored
// transposed and are transposed by their loader. Tensors marked "gpt2" are absent for llama,
// w_gate is absent for gpt2, and any bias may be absent.
struct transformer_layer_weights {
  weight_tensor attn_norm;       // [1][dim]
  weight_tensor attn_norm_bias;  // [1][dim], gpt2
  weight_tensor wq;              // [dim][dim]
  weight_tensor wk;              // [kv_dim][dim]
  weight_tensor wv;              // [kv_dim][dim]
  weight_tensor wo;              // [dim][dim]
  weight_tensor bq, bk, bv, bo;  // [1][dim], [1][kv_dim], [1][kv_dim], [1][dim]; optional
  weight_tensor ffn_norm;        // [1][dim]
  weight_tensor ffn_norm_bias;   // [1][dim], gpt2
  weight_tensor w_gate;          // [hidden][dim], llama
  weight_tensor w_up;            // [hidden][dim] (GPT-2's c_fc)
  weight_tensor w_down;          // [dim][hidden] (GPT-2's c_proj)
  weight_tensor b_up, b_down;    // [1][hidden], [1][dim]; optional
};

struct transformer_weights {
  weight_tensor token_embedding;     // [vocab][dim]
  weight_tensor position_embedding;  // [context_length][dim], gpt2
  std::vector<transformer_layer_weights> layers;
  weight_tensor final_norm;       // [1][dim]
  weight_tensor final_norm_bias;  // [1][dim], gpt2
  weight_tensor output;  // [vocab][dim]; the same bytes as token_embedding when tied
  // Keeps the bytes the views point into alive (a mapped_file, say); null when the caller owns
  // them.
  std::shared_ptr<const void> storage;
};

namespace detail {
inline void check_weight(const weight_tensor& w, index rows, index cols, const std::string& name) {
  if (w.rows != rows || w.cols != cols)
    throw format_error("weight '" + name + "' has shape [" + std::to_string(w.rows) + "][" +
                       std::to_string(w.cols) + "], expected [" + std::to_string(rows) + "][" +
                       std::to_string(cols) + "]");
  if (static_cast<std::size_t>(cols) % ggml_layout(w.type).block_size != 0 ||
      w.bytes.size() != static_cast<std::size_t>(rows) * w.row_bytes())
    throw format_error("weight '" + name + "' holds " + std::to_string(w.bytes.size()) +
                       " bytes, which does not match its shape and type " +
                       std::string(ggml_type_name(w.type)));
}

// An optional weight (a bias): absent, or of the given shape.
inline void check_optional_weight(const weight_tensor& w, index rows, index cols,
                                  const std::string& name) {
  if (w.present() || w.cols != 0 || !w.bytes.empty()) check_weight(w, rows, cols, name);
}

// A weight the family does not have (w_gate in gpt2, say) must be absent.
inline void check_absent_weight(const weight_tensor& w, transformer_architecture a,
                                const std::string& name) {
  if (w.present() || !w.bytes.empty())
    throw format_error("weight '" + name + "' is present, but " + to_string(a) +
                       " models have no such weight");
}
}  // namespace detail

// Throws format_error naming the first weight whose shape or byte size disagrees with `c`, that
// the family requires and is missing, or that the family does not have and is present. Biases
// of the linear maps are optional in both families.
inline void validate(const transformer_config& c, const transformer_weights& w) {
  validate(c);
  if (static_cast<index>(w.layers.size()) != c.n_layers)
    throw format_error("model has " + std::to_string(w.layers.size()) + " layers of weights, but " +
                       std::to_string(c.n_layers) + " in its configuration");
  const bool gpt2 = c.architecture == transformer_architecture::gpt2;
  // The norm biases and positions of gpt2, which llama has not.
  auto family = [&](const weight_tensor& t, index rows, const std::string& name) {
    if (gpt2)
      detail::check_weight(t, rows, c.dim, name);
    else
      detail::check_absent_weight(t, c.architecture, name);
  };
  detail::check_weight(w.token_embedding, c.vocab_size, c.dim, "token_embedding");
  family(w.position_embedding, c.context_length, "position_embedding");
  detail::check_weight(w.final_norm, 1, c.dim, "final_norm");
  family(w.final_norm_bias, 1, "final_norm_bias");
  detail::check_weight(w.output, c.vocab_size, c.dim, "output");
  for (index l = 0; l < c.n_layers; ++l) {
    const auto& layer = w.layers[static_cast<std::size_t>(l)];
    const std::string p = "layers." + std::to_string(l) + ".";
    detail::check_weight(layer.attn_norm, 1, c.dim, p + "attn_norm");
    family(layer.attn_norm_bias, 1, p + "attn_norm_bias");
    detail::check_weight(layer.wq, c.dim, c.dim, p + "wq");
    detail::check_weight(layer.wk, c.kv_dim(), c.dim, p + "wk");
    detail::check_weight(layer.wv, c.kv_dim(), c.dim, p + "wv");
    detail::check_weight(layer.wo, c.dim, c.dim, p + "wo");
    detail::check_optional_weight(layer.bq, 1, c.dim, p + "bq");
    detail::check_optional_weight(layer.bk, 1, c.kv_dim(), p + "bk");
    detail::check_optional_weight(layer.bv, 1, c.kv_dim(), p + "bv");
    detail::check_optional_weight(layer.bo, 1, c.dim, p + "bo");
    detail::check_weight(layer.ffn_norm, 1, c.dim, p + "ffn_norm");
    family(layer.ffn_norm_bias, 1, p + "ffn_norm_bias");
    if (gpt2)
      detail::check_absent_weight(layer.w_gate, c.architecture, p + "w_gate");
    else
      detail::check_weight(layer.w_gate, c.hidden_dim, c.dim, p + "w_gate");
    detail::check_weight(layer.w_up, c.hidden_dim, c.dim, p + "w_up");
    detail::check_weight(layer.w_down, c.dim, c.hidden_dim, p + "w_down");
    detail::check_optional_weight(layer.b_up, 1, c.hidden_dim, p + "b_up");
    detail::check_optional_weight(layer.b_down, 1, c.dim, p + "b_down");
  }
}

}  // namespace attrib
