#pragma once
// Writes a transformer_model as a Hugging Face checkpoint directory (config.json and
// model.safetensors) that load_hf_model, and Hugging Face transformers, read back: Llama-family
// models as LlamaForCausalLM (Qwen2ForCausalLM when only q, k and v have biases), GPT-2 as
// GPT2LMHeadModel. The layouts are the inverse of hf_loader.hpp's: Q and K rows go back to
// rotate_half order, GPT-2's matrices back to Conv1D [in][out] with q, k, v joined into c_attn.
// F32, F16 and BF16 weights keep their type; Q8_0 weights are written as F32.
#include <charconv>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"
#include "attrib/io/atomic_file.hpp"
#include "attrib/io/safetensors.hpp"
#include "attrib/transformer/loading/hf_loader.hpp"
#include "attrib/transformer/model/model.hpp"
#include "attrib/transformer/model/weights.hpp"

namespace attrib {

namespace detail {

// The attrib (adjacent-pair) row holding Hugging Face's (rotate_half) row `row`: the inverse of
// rotate_half_row.
inline index pairs_row(index row, index head_dim) {
  const index i = row % head_dim;
  const index half = head_dim / 2;
  return row - i + 2 * (i % half) + i / half;
}

// The tensors of a checkpoint being written, with the buffers their bytes live in.
class hf_writer {
 public:
  // The type a group of weights is written in: their own when they share F32, F16 or BF16,
  // F32 otherwise. Absent weights do not count.
  static ggml_type common_type(std::span<const weight_tensor* const> group) {
    const weight_tensor* first = nullptr;
    for (const auto* w : group) {
      if (!w->present()) continue;
      if (element_bytes(w->type) == 0) return ggml_type::f32;
      if (first == nullptr) first = w;
      if (w->type != first->type) return ggml_type::f32;
    }
    return first == nullptr ? ggml_type::f32 : first->type;
  }

  // The elements of `w` ([rows][cols]) in `type`: the stored bytes when the types agree,
  // converted through float otherwise; zero bytes (0.0 in every type) of `rows` x `cols` when
  // `w` is absent.
  static std::vector<std::byte> bytes_in(const weight_tensor& w, ggml_type type, index rows,
                                         index cols) {
    const std::size_t size = static_cast<std::size_t>(rows * cols) * element_bytes(type);
    if (!w.present()) return std::vector<std::byte>(size);
    if (w.type == type) return {w.bytes.begin(), w.bytes.end()};
    std::vector<float> values(static_cast<std::size_t>(rows * cols));
    w.decode_rows(0, rows, values.data());
    std::vector<std::byte> out(size);
    std::memcpy(out.data(), values.data(), size);  // type is F32 here: common_type's fallback
    return out;
  }

  void add(const std::string& name, ggml_type type, std::vector<index> shape,
           std::vector<std::byte> bytes) {
    owned_.push_back(std::move(bytes));
    tensors_[name] = {to_dtype(type), std::move(shape), owned_.back()};
  }

  // A matrix (rows > 1) or vector (rows == 1) written as stored, in its type or as F32.
  void add(const std::string& name, const weight_tensor& w) {
    const weight_tensor* group[] = {&w};
    const ggml_type type = common_type(group);
    add(name, type, w.rows == 1 ? std::vector<index>{w.cols} : std::vector<index>{w.rows, w.cols},
        bytes_in(w, type, w.rows, w.cols));
  }

  // Q or K rows (or a bias) in Hugging Face's rotate_half order.
  void add_rotate_half(const std::string& name, const weight_tensor& w, index head_dim) {
    const weight_tensor* group[] = {&w};
    const ggml_type type = common_type(group);
    const auto bytes = bytes_in(w, type, w.rows, w.cols);
    const bool vector = w.rows == 1;
    const index rows = vector ? w.cols : w.rows;
    const std::size_t row_bytes = vector ? element_bytes(type) : bytes.size() / static_cast<std::size_t>(w.rows);
    add(name, type, vector ? std::vector<index>{w.cols} : std::vector<index>{w.rows, w.cols},
        gather_rows(bytes, rows, row_bytes, [&](index r) { return pairs_row(r, head_dim); }));
  }

  // [out][in] matrices stacked by rows, written as one Conv1D weight [in][sum of out].
  void add_conv1d(const std::string& name, std::initializer_list<const weight_tensor*> parts) {
    const std::vector<const weight_tensor*> list(parts);
    const ggml_type type = common_type(list);
    std::vector<std::byte> stacked;
    index rows = 0;
    for (const auto* w : list) {
      const auto bytes = bytes_in(*w, type, w->rows, w->cols);
      stacked.insert(stacked.end(), bytes.begin(), bytes.end());
      rows += w->rows;
    }
    const index cols = list.front()->cols;
    add(name, type, {cols, rows}, transpose_elements(stacked, rows, cols, element_bytes(type)));
  }

  // Vectors joined end to end (absent ones as zeros of the given widths).
  void add_joined(const std::string& name, std::initializer_list<std::pair<const weight_tensor*, index>> parts) {
    std::vector<const weight_tensor*> list;
    for (const auto& [w, n] : parts) list.push_back(w);
    const ggml_type type = common_type(list);
    std::vector<std::byte> joined;
    index total = 0;
    for (const auto& [w, n] : parts) {
      const auto bytes = bytes_in(*w, type, 1, n);
      joined.insert(joined.end(), bytes.begin(), bytes.end());
      total += n;
    }
    add(name, type, {total}, std::move(joined));
  }

  const stored_tensor_map& tensors() const { return tensors_; }

 private:
  static tensor_dtype to_dtype(ggml_type t) {
    return t == ggml_type::f16 ? tensor_dtype::f16 : t == ggml_type::bf16 ? tensor_dtype::bf16 : tensor_dtype::f32;
  }

  std::deque<std::vector<std::byte>> owned_;
  stored_tensor_map tensors_;
};

// The shortest decimal that reads back as `f`, so that config.json says 1e-05, not
// 9.999999747378752e-06.
inline double shortest_decimal(float f) {
  char text[32];
  const auto end = std::to_chars(text, text + sizeof(text), f).ptr;
  return std::strtod(std::string(text, end).c_str(), nullptr);
}

inline bool tied_output(const transformer_weights& w) {
  return w.output.bytes.data() == w.token_embedding.bytes.data() &&
         w.output.bytes.size() == w.token_embedding.bytes.size() && w.output.type == w.token_embedding.type;
}

}  // namespace detail

// Writes `model` into `dir` (created if needed) as config.json and model.safetensors, replacing
// files of those names. Throws format_error when a file cannot be written.
inline void save_hf_checkpoint(const std::filesystem::path& dir, const transformer_model& model) {
  const auto& c = model.config();
  const auto& w = model.weights();
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) throw format_error(dir.string() + ": cannot create directory (" + error.message() + ")");
  const bool tied = detail::tied_output(w);
  detail::hf_writer out;
  nlohmann::ordered_json config;
  if (c.architecture == transformer_architecture::gpt2) {
    const index d = c.dim;
    const index h = c.hidden_dim;
    out.add("transformer.wte.weight", w.token_embedding);
    out.add("transformer.wpe.weight", w.position_embedding);
    out.add("transformer.ln_f.weight", w.final_norm);
    out.add("transformer.ln_f.bias", w.final_norm_bias);
    if (!tied) out.add("lm_head.weight", w.output);
    for (index l = 0; l < c.n_layers; ++l) {
      const auto& L = w.layers[static_cast<std::size_t>(l)];
      const std::string p = "transformer.h." + std::to_string(l) + ".";
      out.add(p + "ln_1.weight", L.attn_norm);
      out.add(p + "ln_1.bias", L.attn_norm_bias);
      out.add_conv1d(p + "attn.c_attn.weight", {&L.wq, &L.wk, &L.wv});
      out.add_joined(p + "attn.c_attn.bias", {{&L.bq, d}, {&L.bk, d}, {&L.bv, d}});
      out.add_conv1d(p + "attn.c_proj.weight", {&L.wo});
      out.add_joined(p + "attn.c_proj.bias", {{&L.bo, d}});
      out.add(p + "ln_2.weight", L.ffn_norm);
      out.add(p + "ln_2.bias", L.ffn_norm_bias);
      out.add_conv1d(p + "mlp.c_fc.weight", {&L.w_up});
      out.add_joined(p + "mlp.c_fc.bias", {{&L.b_up, h}});
      out.add_conv1d(p + "mlp.c_proj.weight", {&L.w_down});
      out.add_joined(p + "mlp.c_proj.bias", {{&L.b_down, d}});
    }
    config["architectures"] = {"GPT2LMHeadModel"};
    config["model_type"] = "gpt2";
    config["n_embd"] = c.dim;
    config["n_layer"] = c.n_layers;
    config["n_head"] = c.n_heads;
    config["n_inner"] = c.hidden_dim;
    config["n_positions"] = c.context_length;
    config["n_ctx"] = c.context_length;
    config["vocab_size"] = c.vocab_size;
    config["layer_norm_epsilon"] = detail::shortest_decimal(c.norm_eps);
    config["activation_function"] = "gelu_new";
  } else {
    const index hd = c.head_dim();
    const auto& first = w.layers.front();
    // Qwen2 has q, k and v biases only; Llama's attention_bias puts one on o_proj too, and
    // mlp_bias on all three MLP maps (absent ones are written as zeros).
    const bool qwen2 = first.bq.present() && !first.bo.present() && !first.b_up.present() &&
                       !first.b_down.present();
    const bool attention_bias = !qwen2 && (first.bq.present() || first.bk.present() ||
                                           first.bv.present() || first.bo.present());
    const bool mlp_bias = first.b_up.present() || first.b_down.present();
    out.add("model.embed_tokens.weight", w.token_embedding);
    out.add("model.norm.weight", w.final_norm);
    if (!tied) out.add("lm_head.weight", w.output);
    for (index l = 0; l < c.n_layers; ++l) {
      const auto& L = w.layers[static_cast<std::size_t>(l)];
      const std::string p = "model.layers." + std::to_string(l) + ".";
      out.add(p + "input_layernorm.weight", L.attn_norm);
      out.add_rotate_half(p + "self_attn.q_proj.weight", L.wq, hd);
      out.add_rotate_half(p + "self_attn.k_proj.weight", L.wk, hd);
      out.add(p + "self_attn.v_proj.weight", L.wv);
      out.add(p + "self_attn.o_proj.weight", L.wo);
      if (qwen2 || attention_bias) {
        out.add_joined(p + "self_attn.v_proj.bias", {{&L.bv, c.kv_dim()}});
        // Permuted like the weights; zeros when absent.
        if (L.bq.present())
          out.add_rotate_half(p + "self_attn.q_proj.bias", L.bq, hd);
        else
          out.add_joined(p + "self_attn.q_proj.bias", {{&L.bq, c.dim}});
        if (L.bk.present())
          out.add_rotate_half(p + "self_attn.k_proj.bias", L.bk, hd);
        else
          out.add_joined(p + "self_attn.k_proj.bias", {{&L.bk, c.kv_dim()}});
      }
      if (attention_bias) out.add_joined(p + "self_attn.o_proj.bias", {{&L.bo, c.dim}});
      out.add(p + "post_attention_layernorm.weight", L.ffn_norm);
      out.add(p + "mlp.gate_proj.weight", L.w_gate);
      out.add(p + "mlp.up_proj.weight", L.w_up);
      out.add(p + "mlp.down_proj.weight", L.w_down);
      if (mlp_bias) {
        const weight_tensor none;
        out.add_joined(p + "mlp.gate_proj.bias", {{&none, c.hidden_dim}});
        out.add_joined(p + "mlp.up_proj.bias", {{&L.b_up, c.hidden_dim}});
        out.add_joined(p + "mlp.down_proj.bias", {{&L.b_down, c.dim}});
      }
    }
    config["architectures"] = {qwen2 ? "Qwen2ForCausalLM" : "LlamaForCausalLM"};
    config["model_type"] = qwen2 ? "qwen2" : "llama";
    config["hidden_size"] = c.dim;
    config["intermediate_size"] = c.hidden_dim;
    config["num_hidden_layers"] = c.n_layers;
    config["num_attention_heads"] = c.n_heads;
    config["num_key_value_heads"] = c.n_kv_heads;
    config["vocab_size"] = c.vocab_size;
    config["max_position_embeddings"] = c.context_length;
    config["rms_norm_eps"] = detail::shortest_decimal(c.norm_eps);
    config["rope_theta"] = detail::shortest_decimal(c.rope_theta);
    config["hidden_act"] = "silu";
    if (!qwen2) {
      config["attention_bias"] = attention_bias;
      config["mlp_bias"] = mlp_bias;
    }
    // Frequency factors (Llama 3.1 scaling, GGUF rope_freqs) verbatim; load_hf_model reads them.
    if (!c.rope_freq_factors.empty()) config["attrib_rope_freq_factors"] = c.rope_freq_factors;
  }
  config["tie_word_embeddings"] = tied;
  const ggml_type embedding_type = w.token_embedding.type;
  config["torch_dtype"] = embedding_type == ggml_type::f16    ? "float16"
                          : embedding_type == ggml_type::bf16 ? "bfloat16"
                                                              : "float32";
  write_file_atomically(dir / "config.json", config.dump(2) + "\n");
  write_stored_safetensors(dir / "model.safetensors", out.tensors());
}

}  // namespace attrib
