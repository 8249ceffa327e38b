#pragma once
// Test support: a model's weights laid out as the Hugging Face checkpoints of its family store
// them, written out by hand (not by the library's writer), so that loading them back tests the
// loader. Shared by test_transformer_gpt2.cpp and test_studies_families.cpp.
#include <string>
#include <vector>

#include "attrib/io/safetensors.hpp"
#include "attrib/transformer/model/model.hpp"

namespace attrib_test {

// A weight's values as a safetensors tensor of the given shape (exact: floats in doubles).
inline attrib::tensor hf_tensor(const attrib::weight_tensor& w, std::vector<attrib::index> shape) {
  attrib::tensor t;
  t.shape = std::move(shape);
  t.values.resize(w.rows * w.cols);
  for (attrib::index r = 0; r < w.rows; ++r) {
    const auto row = w.decode_row(r);
    for (attrib::index c = 0; c < w.cols; ++c) t.values[r * w.cols + c] = row[static_cast<std::size_t>(c)];
  }
  return t;
}

// The [in][out] Conv1D layout of [out][in] matrices stacked by rows.
inline attrib::tensor conv1d_tensor(std::vector<const attrib::weight_tensor*> parts) {
  attrib::index out = 0;
  for (const auto* w : parts) out += w->rows;
  const attrib::index in = parts.front()->cols;
  attrib::tensor t;
  t.shape = {in, out};
  t.values.resize(in * out);
  attrib::index first = 0;
  for (const auto* w : parts) {
    for (attrib::index o = 0; o < w->rows; ++o) {
      const auto row = w->decode_row(o);
      for (attrib::index i = 0; i < in; ++i) t.values[i * out + first + o] = row[static_cast<std::size_t>(i)];
    }
    first += w->rows;
  }
  return t;
}

// Vectors (one-row weights) joined end to end.
inline attrib::tensor joined(std::vector<const attrib::weight_tensor*> parts) {
  attrib::tensor t;
  attrib::index n = 0;
  for (const auto* w : parts) n += w->cols;
  t.shape = {n};
  t.values.resize(n);
  attrib::index k = 0;
  for (const auto* w : parts)
    for (float v : w->decode_row(0)) t.values[k++] = v;
  return t;
}

struct hf_llama_layout {
  bool tied = false;             // no lm_head: the unembedding is the embedding (Qwen2's small models)
  bool qkv_biases_only = false;  // Qwen2: biases on q, k and v and nowhere else
};

// A Llama-family checkpoint (Llama, Mistral, Qwen2) holding `m`'s weights verbatim (Q and K rows
// taken as already being in rotate_half order), with the biases `m` has.
inline attrib::tensor_map hf_llama_tensors(const attrib::transformer_model& m, hf_llama_layout layout = {}) {
  const auto& c = m.config();
  const auto& w = m.weights();
  attrib::tensor_map t;
  t["model.embed_tokens.weight"] = hf_tensor(w.token_embedding, {c.vocab_size, c.dim});
  if (!layout.tied) t["lm_head.weight"] = hf_tensor(w.output, {c.vocab_size, c.dim});
  t["model.norm.weight"] = hf_tensor(w.final_norm, {c.dim});
  for (attrib::index l = 0; l < c.n_layers; ++l) {
    const auto& L = w.layers[static_cast<std::size_t>(l)];
    const std::string p = "model.layers." + std::to_string(l) + ".";
    t[p + "input_layernorm.weight"] = hf_tensor(L.attn_norm, {c.dim});
    t[p + "post_attention_layernorm.weight"] = hf_tensor(L.ffn_norm, {c.dim});
    t[p + "self_attn.q_proj.weight"] = hf_tensor(L.wq, {c.dim, c.dim});
    t[p + "self_attn.k_proj.weight"] = hf_tensor(L.wk, {c.kv_dim(), c.dim});
    t[p + "self_attn.v_proj.weight"] = hf_tensor(L.wv, {c.kv_dim(), c.dim});
    t[p + "self_attn.o_proj.weight"] = hf_tensor(L.wo, {c.dim, c.dim});
    if (L.bq.present()) {
      t[p + "self_attn.q_proj.bias"] = hf_tensor(L.bq, {c.dim});
      t[p + "self_attn.k_proj.bias"] = hf_tensor(L.bk, {c.kv_dim()});
      t[p + "self_attn.v_proj.bias"] = hf_tensor(L.bv, {c.kv_dim()});
      if (!layout.qkv_biases_only) {
        t[p + "self_attn.o_proj.bias"] = hf_tensor(L.bo, {c.dim});
        t[p + "mlp.up_proj.bias"] = hf_tensor(L.b_up, {c.hidden_dim});
        t[p + "mlp.down_proj.bias"] = hf_tensor(L.b_down, {c.dim});
      }
    }
    t[p + "mlp.gate_proj.weight"] = hf_tensor(L.w_gate, {c.hidden_dim, c.dim});
    t[p + "mlp.up_proj.weight"] = hf_tensor(L.w_up, {c.hidden_dim, c.dim});
    t[p + "mlp.down_proj.weight"] = hf_tensor(L.w_down, {c.dim, c.hidden_dim});
  }
  return t;
}

// GPT-2: Conv1D weights, the unembedding tied to wte; `root` is "" as the hub stores it or
// "transformer." as GPT2LMHeadModel.save_pretrained writes it.
inline attrib::tensor_map hf_gpt2_tensors(const attrib::transformer_model& m, const std::string& root = "") {
  const auto& c = m.config();
  const auto& w = m.weights();
  attrib::tensor_map t;
  t[root + "wte.weight"] = hf_tensor(w.token_embedding, {c.vocab_size, c.dim});
  t[root + "wpe.weight"] = hf_tensor(w.position_embedding, {c.context_length, c.dim});
  t[root + "ln_f.weight"] = hf_tensor(w.final_norm, {c.dim});
  t[root + "ln_f.bias"] = hf_tensor(w.final_norm_bias, {c.dim});
  for (attrib::index l = 0; l < c.n_layers; ++l) {
    const auto& L = w.layers[static_cast<std::size_t>(l)];
    const std::string p = root + "h." + std::to_string(l) + ".";
    t[p + "ln_1.weight"] = hf_tensor(L.attn_norm, {c.dim});
    t[p + "ln_1.bias"] = hf_tensor(L.attn_norm_bias, {c.dim});
    t[p + "ln_2.weight"] = hf_tensor(L.ffn_norm, {c.dim});
    t[p + "ln_2.bias"] = hf_tensor(L.ffn_norm_bias, {c.dim});
    t[p + "attn.c_attn.weight"] = conv1d_tensor({&L.wq, &L.wk, &L.wv});
    t[p + "attn.c_attn.bias"] = joined({&L.bq, &L.bk, &L.bv});
    t[p + "attn.c_proj.weight"] = conv1d_tensor({&L.wo});
    t[p + "attn.c_proj.bias"] = joined({&L.bo});
    t[p + "mlp.c_fc.weight"] = conv1d_tensor({&L.w_up});
    t[p + "mlp.c_fc.bias"] = joined({&L.b_up});
    t[p + "mlp.c_proj.weight"] = conv1d_tensor({&L.w_down});
    t[p + "mlp.c_proj.bias"] = joined({&L.b_down});
  }
  return t;
}

}  // namespace attrib_test
