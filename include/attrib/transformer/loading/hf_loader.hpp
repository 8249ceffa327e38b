#pragma once
// Builds a transformer_model from a Hugging Face checkpoint directory: config.json plus
// model.safetensors, or shards listed in model.safetensors.index.json. Families: Llama
// (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM) and GPT-2 (GPT2LMHeadModel).
//
// The shards are memory-mapped and weights stay in their stored type (F32, F16, BF16). Two
// layouts differ from attrib's and are rearranged into owned buffers, byte for byte:
// - Llama q_proj / k_proj (and their biases): Hugging Face rotates pairs (j, j + head_dim/2)
//   ("rotate_half"), attrib pairs (2j, 2j + 1) as llama2.c and GGUF do. The rows of each head are
//   permuted (attrib row 2j + r = Hugging Face row r * head_dim/2 + j), which leaves attention
//   scores, and so the logits, unchanged.
// - GPT-2's Conv1D weights are stored [in][out]; attrib's matrices are [out][in], so they are
//   transposed, and c_attn is split into q, k and v.
#include <cmath>
#include <cstddef>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/text.hpp"
#include "attrib/io/json.hpp"
#include "attrib/core/types.hpp"
#include "attrib/io/detail/contained_path.hpp"
#include "attrib/io/detail/file_bytes.hpp"
#include "attrib/io/mapped_file.hpp"
#include "attrib/io/safetensors.hpp"
#include "attrib/transformer/model/config.hpp"
#include "attrib/transformer/model/model.hpp"
#include "attrib/transformer/model/weights.hpp"

namespace attrib {

namespace detail {

// Bytes of one element of a type stored element by element (0 for block-quantised types).
inline std::size_t element_bytes(ggml_type t) {
  switch (t) {
    case ggml_type::f32: return 4;
    case ggml_type::f16:
    case ggml_type::bf16: return 2;
    default: return 0;
  }
}

// [rows][cols] elements of `element` bytes each, written out as [cols][rows].
inline std::vector<std::byte> transpose_elements(std::span<const std::byte> src, index rows,
                                                 index cols, std::size_t element) {
  std::vector<std::byte> out(src.size());
  for (index r = 0; r < rows; ++r)
    for (index c = 0; c < cols; ++c)
      std::memcpy(out.data() + static_cast<std::size_t>(c * rows + r) * element,
                  src.data() + static_cast<std::size_t>(r * cols + c) * element, element);
  return out;
}

// The Hugging Face (rotate_half) row holding attrib's (adjacent-pair) row `row` of a Q or K
// projection with heads of `head_dim` rows.
inline index rotate_half_row(index row, index head_dim) {
  const index i = row % head_dim;
  return row - i + (i % 2) * (head_dim / 2) + i / 2;
}

// Rows of `row_bytes` bytes each, reordered: out row r = src row source(r).
template <class Source>
std::vector<std::byte> gather_rows(std::span<const std::byte> src, index rows,
                                   std::size_t row_bytes, Source source) {
  std::vector<std::byte> out(src.size());
  for (index r = 0; r < rows; ++r)
    std::memcpy(out.data() + static_cast<std::size_t>(r) * row_bytes,
                src.data() + static_cast<std::size_t>(source(r)) * row_bytes, row_bytes);
  return out;
}

// What a Hugging Face model's weight views point into.
struct hf_storage {
  std::vector<std::shared_ptr<const mapped_file>> files;
  std::deque<std::vector<std::byte>> owned;  // rearranged weights; a deque never moves them

  std::span<const std::byte> keep(std::vector<std::byte> bytes) {
    owned.push_back(std::move(bytes));
    return owned.back();
  }
};

// Reads config.json fields, naming the field in every error.
class hf_config_reader {
 public:
  explicit hf_config_reader(const nlohmann::json& j) : j_(j) {}

  bool has(const char* key) const { return j_.contains(key) && !j_[key].is_null(); }

  index positive(const char* key, std::optional<index> fallback = std::nullopt) const {
    if (!has(key)) {
      if (fallback) return *fallback;
      fail(key, "is missing");
    }
    const auto& v = j_[key];
    if (!v.is_number_integer() || v.get<std::int64_t>() <= 0 ||
        v.get<std::int64_t>() > (std::int64_t{1} << 40))
      fail(key, "is " + detail::json_excerpt(v) + ", expected a positive integer");
    return static_cast<index>(v.get<std::int64_t>());
  }

  double number(const char* key, double fallback) const {
    if (!has(key)) return fallback;
    const auto& v = j_[key];
    if (!v.is_number() || !std::isfinite(v.get<double>()) || !(v.get<double>() > 0.0))
      fail(key, "is " + detail::json_excerpt(v) + ", expected a positive number");
    return v.get<double>();
  }

  bool flag(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    if (!j_[key].is_boolean()) fail(key, "is " + detail::json_excerpt(j_[key]) + ", expected true or false");
    return j_[key].get<bool>();
  }

  std::string text(const char* key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    if (!j_[key].is_string()) fail(key, "is " + detail::json_excerpt(j_[key]) + ", expected a string");
    return j_[key].get<std::string>();
  }

  const nlohmann::json& at(const char* key) const { return j_[key]; }

  [[noreturn]] static void fail(const std::string& key, const std::string& what) {
    throw format_error("config.json: field '" + key + "' " + what);
  }

 private:
  const nlohmann::json& j_;
};

inline std::string hf_model_type(const nlohmann::json& j) {
  const hf_config_reader r(j);
  if (r.has("model_type")) return r.text("model_type", "");
  if (r.has("architectures") && r.at("architectures").is_array() && !r.at("architectures").empty() &&
      r.at("architectures")[0].is_string()) {
    const auto a = r.at("architectures")[0].get<std::string>();
    if (a == "LlamaForCausalLM") return "llama";
    if (a == "MistralForCausalLM") return "mistral";
    if (a == "Qwen2ForCausalLM") return "qwen2";
    if (a == "GPT2LMHeadModel") return "gpt2";
    throw format_error("config.json: architecture '" + detail::printable(a) +
                       "' is not supported (expected LlamaForCausalLM, MistralForCausalLM, "
                       "Qwen2ForCausalLM or GPT2LMHeadModel)");
  }
  hf_config_reader::fail("model_type", "is missing (and there is no 'architectures' list)");
}

// Llama 3's rope_scaling: pair j turns factor_j times slower, interpolating between 1 for
// wavelengths below original/high_freq_factor and `factor` above original/low_freq_factor.
inline std::vector<float> llama3_rope_factors(const nlohmann::json& scaling, const transformer_config& c) {
  const hf_config_reader r(scaling);
  const double factor = r.number("factor", 0.0);
  const double low = r.number("low_freq_factor", 0.0);
  const double high = r.number("high_freq_factor", 0.0);
  const double original = r.number("original_max_position_embeddings", 0.0);
  if (!(factor > 0.0) || !(low > 0.0) || !(high > low) || !(original > 0.0))
    hf_config_reader::fail("rope_scaling",
                           "needs positive factor, low_freq_factor < high_freq_factor and "
                           "original_max_position_embeddings for rope_type llama3");
  std::vector<float> factors;
  const double pi = 3.14159265358979323846;
  for (index j = 0; j < c.head_dim() / 2; ++j) {
    const double freq = std::pow(static_cast<double>(c.rope_theta),
                                 -static_cast<double>(2 * j) / static_cast<double>(c.head_dim()));
    const double wavelength = 2.0 * pi / freq;
    double f = 1.0;
    if (wavelength > original / low) {
      f = factor;
    } else if (wavelength >= original / high) {
      const double smooth = (original / wavelength - low) / (high - low);
      f = 1.0 / ((1.0 - smooth) / factor + smooth);
    }
    factors.push_back(static_cast<float>(f));
  }
  return factors;
}

}  // namespace detail

// The configuration a Hugging Face config.json describes. Throws format_error naming the field
// for an unsupported model_type or architecture, a missing or non-positive size, an activation
// other than the family's (silu; gelu_new), partial rotary embeddings, a head_dim that is not
// hidden_size / num_attention_heads, an unsupported rope_scaling, or an invalid combination.
inline transformer_config hf_config_from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw format_error("config.json: not a JSON object");
  const detail::hf_config_reader r(j);
  const std::string type = detail::hf_model_type(j);
  transformer_config c;
  if (type == "gpt2") {
    c.architecture = transformer_architecture::gpt2;
    c.dim = r.positive("n_embd");
    c.n_layers = r.positive("n_layer");
    c.n_heads = r.positive("n_head");
    c.n_kv_heads = c.n_heads;
    c.hidden_dim = r.positive("n_inner", 4 * c.dim);
    c.vocab_size = r.positive("vocab_size");
    c.context_length = r.positive("n_positions", r.has("n_ctx") ? std::optional(r.positive("n_ctx")) : std::nullopt);
    c.norm_eps = static_cast<float>(r.number("layer_norm_epsilon", 1e-5));
    const auto act = r.text("activation_function", "gelu_new");
    if (act != "gelu_new" && act != "gelu_pytorch_tanh")
      detail::hf_config_reader::fail("activation_function",
                                     "is '" + detail::printable(act) + "', expected gelu_new (GELU, tanh approximation)");
  } else if (type == "llama" || type == "mistral" || type == "qwen2") {
    c.dim = r.positive("hidden_size");
    c.hidden_dim = r.positive("intermediate_size");
    c.n_layers = r.positive("num_hidden_layers");
    c.n_heads = r.positive("num_attention_heads");
    c.n_kv_heads = r.positive("num_key_value_heads", c.n_heads);
    c.vocab_size = r.positive("vocab_size");
    c.context_length = r.positive("max_position_embeddings");
    c.norm_eps = static_cast<float>(r.number("rms_norm_eps", 1e-6));
    c.rope_theta = static_cast<float>(r.number("rope_theta", 10000.0));
    const auto act = r.text("hidden_act", "silu");
    if (act != "silu") detail::hf_config_reader::fail("hidden_act", "is '" + detail::printable(act) + "', expected silu");
    if (r.has("head_dim") && (c.dim % c.n_heads != 0 || r.positive("head_dim") != c.dim / c.n_heads))
      detail::hf_config_reader::fail("head_dim", "is " + std::to_string(r.positive("head_dim")) +
                                                     ", but attrib needs hidden_size / num_attention_heads");
    if (r.has("partial_rotary_factor") && r.number("partial_rotary_factor", 1.0) != 1.0)
      detail::hf_config_reader::fail("partial_rotary_factor", "is not 1 (partial rotary embeddings)");
    // Attention beyond a sliding window is not computed: such a model is exact up to the window.
    const bool windowed = type == "mistral" || r.flag("use_sliding_window", false);
    if (windowed && r.has("sliding_window"))
      c.context_length = std::min(c.context_length, r.positive("sliding_window"));
  } else {
    throw format_error("config.json: model_type '" + detail::printable(type) +
                       "' is not supported (expected llama, mistral, qwen2 or gpt2)");
  }
  try {
    validate(c);
  } catch (const invalid_argument& e) {
    throw format_error(std::string("config.json: ") + e.what());
  }
  if (c.architecture == transformer_architecture::llama) {
    if (r.has("rope_scaling")) {
      const auto& scaling = r.at("rope_scaling");
      if (!scaling.is_object()) detail::hf_config_reader::fail("rope_scaling", "is not an object");
      const detail::hf_config_reader s(scaling);
      const auto kind = s.has("rope_type") ? s.text("rope_type", "") : s.text("type", "");
      if (kind != "llama3")
        detail::hf_config_reader::fail("rope_scaling", "has type '" + detail::printable(kind) +
                                                           "', but only llama3 is supported");
      c.rope_freq_factors = detail::llama3_rope_factors(scaling, c);
    }
    // Written by save_hf_checkpoint for frequency factors no rope_scaling describes.
    if (r.has("attrib_rope_freq_factors")) {
      const auto& f = r.at("attrib_rope_freq_factors");
      if (!f.is_array())
        detail::hf_config_reader::fail("attrib_rope_freq_factors", "is not a list of numbers");
      c.rope_freq_factors.clear();
      for (const auto& v : f) {
        if (!v.is_number())
          detail::hf_config_reader::fail("attrib_rope_freq_factors", "is not a list of numbers");
        c.rope_freq_factors.push_back(v.get<float>());
      }
    }
    try {
      validate(c);
    } catch (const invalid_argument& e) {
      throw format_error(std::string("config.json: ") + e.what());
    }
  }
  return c;
}

// hf_config_from_json on the text of a config.json.
inline transformer_config parse_hf_config(std::string_view text) {
  return hf_config_from_json(detail::parse_json(text, "config.json"));
}

namespace detail {

// The weight_map of a model.safetensors.index.json: tensor name -> shard file name, each shard a
// plain file name in the checkpoint's directory (no folder parts, never "." or "..").
inline std::vector<std::pair<std::string, std::string>> parse_safetensors_index(std::string_view text,
                                                                                const std::string& source) {
  const auto j = parse_json(text, source);
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
    throw format_error(source + ": expected a JSON object with a weight_map");
  std::vector<std::pair<std::string, std::string>> entries;
  for (const auto& [name, file] : j["weight_map"].items()) {
    if (!file.is_string())
      throw format_error(source + ": weight_map entry '" + printable(name) + "' is not a file name");
    auto shard = file.get<std::string>();
    if (shard.empty() || shard.find('/') != std::string::npos || shard.find('\\') != std::string::npos ||
        shard.find('\0') != std::string::npos || shard == "." || shard == "..")
      throw format_error(source + ": weight_map entry '" + printable(name) + "' names '" + printable(shard) +
                         "', which is not a file in the directory");
    entries.emplace_back(name, std::move(shard));
  }
  return entries;
}

// The tensors of all shards of a checkpoint, by name.
class hf_tensors {
 public:
  // One safetensors file in memory.
  hf_tensors(std::span<const std::byte> bytes, hf_storage& storage) : storage_(storage) {
    views_.push_back(parse_safetensors_view(bytes, "model.safetensors"));
    for (const auto& [name, t] : views_.back().tensors) tensors_.emplace(name, t);
  }

  // The shards of a checkpoint directory, mapped.
  hf_tensors(const std::filesystem::path& dir, hf_storage& storage) : storage_(storage) {
    const auto index_path = dir / "model.safetensors.index.json";
    if (std::filesystem::exists(index_path)) {
      std::map<std::string, std::size_t> shard_of_file;
      for (const auto& [name, shard] : parse_safetensors_index(read_file_bytes(index_path), index_path.string())) {
        if (!shard_of_file.contains(shard)) {
          shard_of_file[shard] = views_.size();
          map(contained_path(dir, shard, index_path.string(), "shard"));
        }
        const auto& view = views_[shard_of_file[shard]];
        const auto it = view.tensors.find(name);
        if (it == view.tensors.end())
          throw format_error(index_path.string() + ": tensor '" + detail::printable(name) + "' is not in " + detail::printable(shard));
        tensors_.emplace(name, it->second);
      }
    } else {
      map(dir / "model.safetensors");
      for (const auto& [name, t] : views_.back().tensors) tensors_.emplace(name, t);
    }
  }

  bool contains(const std::string& name) const { return tensors_.contains(name); }

  const stored_tensor& at(const std::string& name) const {
    const auto it = tensors_.find(name);
    if (it == tensors_.end()) throw format_error("Hugging Face checkpoint has no tensor '" + name + "'");
    return it->second;
  }

  // A [rows][cols] matrix, or a vector of cols entries when rows is 0, as stored.
  weight_tensor weight(const std::string& name, index rows, index cols) const {
    const auto& t = at(name);
    const std::vector<index> expected = rows == 0 ? std::vector<index>{cols} : std::vector<index>{rows, cols};
    if (t.shape != expected) {
      auto show = [](const std::vector<index>& s) {
        std::string out = "[";
        for (std::size_t k = 0; k < s.size(); ++k) out += (k ? ", " : "") + std::to_string(s[k]);
        return out + "]";
      };
      throw format_error("Hugging Face tensor '" + name + "' has shape " + show(t.shape) +
                         ", expected " + show(expected));
    }
    ggml_type type = ggml_type::f32;
    switch (t.dtype) {
      case tensor_dtype::f32: type = ggml_type::f32; break;
      case tensor_dtype::f16: type = ggml_type::f16; break;
      case tensor_dtype::bf16: type = ggml_type::bf16; break;
      default:
        throw format_error("Hugging Face tensor '" + name + "' has dtype " +
                           std::string(dtype_name(t.dtype)) + ", expected F32, F16 or BF16");
    }
    return {type, rows == 0 ? 1 : rows, cols, t.bytes};
  }

  // As weight(), or an absent tensor when the checkpoint has no `name`.
  weight_tensor optional(const std::string& name, index rows, index cols) const {
    return contains(name) ? weight(name, rows, cols) : weight_tensor{};
  }

 private:
  void map(const std::filesystem::path& path) {
    auto file = std::make_shared<const mapped_file>(path);
    views_.push_back(parse_safetensors_view(file->bytes(), path.string()));
    storage_.files.push_back(std::move(file));
  }

  hf_storage& storage_;
  std::vector<safetensors_view> views_;
  std::map<std::string, stored_tensor, std::less<>> tensors_;
};

// Q or K rows (or a bias) in Hugging Face's rotate_half order, permuted into adjacent pairs.
inline weight_tensor rotate_half_to_pairs(weight_tensor w, index head_dim, hf_storage& storage) {
  // A bias is one row; permute its elements as rows of one element.
  const bool vector = w.rows == 1;
  const index rows = vector ? w.cols : w.rows;
  const std::size_t row_bytes = vector ? element_bytes(w.type) : w.row_bytes();
  w.bytes = storage.keep(gather_rows(w.bytes, rows, row_bytes,
                                     [&](index r) { return rotate_half_row(r, head_dim); }));
  return w;
}

// A Conv1D weight stored [in][out], as the [out][in] matrix attrib multiplies with.
inline weight_tensor conv1d_weight(const hf_tensors& t, const std::string& name, index in, index out,
                                   hf_storage& storage) {
  weight_tensor w = t.weight(name, in, out);
  w.bytes = storage.keep(transpose_elements(w.bytes, in, out, element_bytes(w.type)));
  w.rows = out;
  w.cols = in;
  return w;
}

// Rows [first, first + count) of a matrix (or elements of a vector), as a view.
inline weight_tensor slice_rows(const weight_tensor& w, index first, index count) {
  if (w.rows == 1) {
    const std::size_t e = element_bytes(w.type);
    return {w.type, 1, count, w.bytes.subspan(static_cast<std::size_t>(first) * e, static_cast<std::size_t>(count) * e)};
  }
  return {w.type, count, w.cols,
          w.bytes.subspan(static_cast<std::size_t>(first) * w.row_bytes(),
                          static_cast<std::size_t>(count) * w.row_bytes())};
}

inline transformer_weights hf_llama_weights(const transformer_config& c, const hf_tensors& t,
                                            bool tied, hf_storage& storage) {
  const index d = c.dim;
  const index kv = c.kv_dim();
  const index h = c.hidden_dim;
  transformer_weights w;
  w.token_embedding = t.weight("model.embed_tokens.weight", c.vocab_size, d);
  w.final_norm = t.weight("model.norm.weight", 0, d);
  w.output = tied && !t.contains("lm_head.weight") ? w.token_embedding
                                                   : t.weight("lm_head.weight", c.vocab_size, d);
  for (index l = 0; l < c.n_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    transformer_layer_weights layer;
    layer.attn_norm = t.weight(p + "input_layernorm.weight", 0, d);
    layer.wq = rotate_half_to_pairs(t.weight(p + "self_attn.q_proj.weight", d, d), c.head_dim(), storage);
    layer.wk = rotate_half_to_pairs(t.weight(p + "self_attn.k_proj.weight", kv, d), c.head_dim(), storage);
    layer.wv = t.weight(p + "self_attn.v_proj.weight", kv, d);
    layer.wo = t.weight(p + "self_attn.o_proj.weight", d, d);
    if (t.contains(p + "self_attn.q_proj.bias"))
      layer.bq = rotate_half_to_pairs(t.weight(p + "self_attn.q_proj.bias", 0, d), c.head_dim(), storage);
    if (t.contains(p + "self_attn.k_proj.bias"))
      layer.bk = rotate_half_to_pairs(t.weight(p + "self_attn.k_proj.bias", 0, kv), c.head_dim(), storage);
    layer.bv = t.optional(p + "self_attn.v_proj.bias", 0, kv);
    layer.bo = t.optional(p + "self_attn.o_proj.bias", 0, d);
    layer.ffn_norm = t.weight(p + "post_attention_layernorm.weight", 0, d);
    layer.w_gate = t.weight(p + "mlp.gate_proj.weight", h, d);
    layer.w_up = t.weight(p + "mlp.up_proj.weight", h, d);
    layer.w_down = t.weight(p + "mlp.down_proj.weight", d, h);
    // Llama's mlp_bias puts a bias on the gate too; attrib's gate has none, so it must be zero.
    if (t.contains(p + "mlp.gate_proj.bias")) {
      const auto gate_bias = t.weight(p + "mlp.gate_proj.bias", 0, h).decode_row(0);
      for (float b : gate_bias)
        if (b != 0.0f)
          throw format_error("Hugging Face tensor '" + p +
                             "mlp.gate_proj.bias' is not zero, but attrib's gate has no bias");
    }
    layer.b_up = t.optional(p + "mlp.up_proj.bias", 0, h);
    layer.b_down = t.optional(p + "mlp.down_proj.bias", 0, d);
    w.layers.push_back(layer);
  }
  return w;
}

inline transformer_weights hf_gpt2_weights(const transformer_config& c, const hf_tensors& t,
                                           bool tied, hf_storage& storage) {
  const index d = c.dim;
  const index h = c.hidden_dim;
  // GPT2LMHeadModel saves its body under "transformer."; GPT2Model (and the hub's gpt2) without.
  const std::string root = t.contains("transformer.wte.weight") ? "transformer." : "";
  transformer_weights w;
  w.token_embedding = t.weight(root + "wte.weight", c.vocab_size, d);
  w.position_embedding = t.weight(root + "wpe.weight", c.context_length, d);
  w.final_norm = t.weight(root + "ln_f.weight", 0, d);
  w.final_norm_bias = t.weight(root + "ln_f.bias", 0, d);
  w.output = tied && !t.contains("lm_head.weight") ? w.token_embedding
                                                   : t.weight("lm_head.weight", c.vocab_size, d);
  for (index l = 0; l < c.n_layers; ++l) {
    const std::string p = root + "h." + std::to_string(l) + ".";
    transformer_layer_weights layer;
    layer.attn_norm = t.weight(p + "ln_1.weight", 0, d);
    layer.attn_norm_bias = t.weight(p + "ln_1.bias", 0, d);
    const weight_tensor qkv = conv1d_weight(t, p + "attn.c_attn.weight", d, 3 * d, storage);
    layer.wq = slice_rows(qkv, 0, d);
    layer.wk = slice_rows(qkv, d, d);
    layer.wv = slice_rows(qkv, 2 * d, d);
    if (t.contains(p + "attn.c_attn.bias")) {
      const weight_tensor b = t.weight(p + "attn.c_attn.bias", 0, 3 * d);
      layer.bq = slice_rows(b, 0, d);
      layer.bk = slice_rows(b, d, d);
      layer.bv = slice_rows(b, 2 * d, d);
    }
    layer.wo = conv1d_weight(t, p + "attn.c_proj.weight", d, d, storage);
    layer.bo = t.optional(p + "attn.c_proj.bias", 0, d);
    layer.ffn_norm = t.weight(p + "ln_2.weight", 0, d);
    layer.ffn_norm_bias = t.weight(p + "ln_2.bias", 0, d);
    layer.w_up = conv1d_weight(t, p + "mlp.c_fc.weight", d, h, storage);
    layer.b_up = t.optional(p + "mlp.c_fc.bias", 0, h);
    layer.w_down = conv1d_weight(t, p + "mlp.c_proj.weight", h, d, storage);
    layer.b_down = t.optional(p + "mlp.c_proj.bias", 0, d);
    w.layers.push_back(layer);
  }
  return w;
}

inline transformer_model hf_model(const nlohmann::json& j, const hf_tensors& tensors,
                                  std::shared_ptr<hf_storage> storage) {
  const transformer_config c = hf_config_from_json(j);
  const bool gpt2 = c.architecture == transformer_architecture::gpt2;
  // GPT-2 always ties its unembedding; LlamaConfig's default is untied.
  const bool tied = hf_config_reader(j).flag("tie_word_embeddings", gpt2);
  transformer_weights w = gpt2 ? hf_gpt2_weights(c, tensors, tied, *storage)
                               : hf_llama_weights(c, tensors, tied, *storage);
  w.storage = std::move(storage);
  return transformer_model(c, std::move(w));
}

}  // namespace detail

// A model from the text of a config.json and one safetensors file held in memory, which must
// outlive the model (the weights are views into it, or into rearranged copies the model owns).
// Throws as load_hf_model does.
inline transformer_model hf_model_from_memory(std::string_view config_json,
                                              std::span<const std::byte> safetensors) {
  const auto j = detail::parse_json(config_json, "config.json");
  auto storage = std::make_shared<detail::hf_storage>();
  const detail::hf_tensors tensors(safetensors, *storage);
  return detail::hf_model(j, tensors, std::move(storage));
}

// Loads a Hugging Face checkpoint directory (see the top of this file). Throws format_error
// naming the file, field or tensor for: a missing or invalid config.json (hf_config_from_json);
// no model.safetensors or index; a shard outside the directory; a malformed, truncated or
// unmappable safetensors file (offsets beyond the file, say); a missing tensor, a tensor of the
// wrong shape, or a dtype other than F32, F16 and BF16.
inline transformer_model load_hf_model(const std::filesystem::path& dir) {
  const auto config_path = dir / "config.json";
  const auto j = detail::parse_json(detail::read_file_bytes(config_path), config_path.string());
  (void)hf_config_from_json(j);  // a bad config is reported before any shard is mapped
  auto storage = std::make_shared<detail::hf_storage>();
  const detail::hf_tensors tensors(dir, *storage);
  return detail::hf_model(j, tensors, std::move(storage));
}

}  // namespace attrib
