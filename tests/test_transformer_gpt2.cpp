// GPT-2 and biased Llama forward passes against a naive double-precision reference written here
// from the textbook formulas; KV-cached decoding; hooks; the Hugging Face loader and checkpoint
// writer.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "attrib/io/atomic_file.hpp"
#include "attrib/io/detail/file_bytes.hpp"
#include "attrib/io/safetensors.hpp"
#include "attrib/transformer/loading/checkpoint.hpp"
#include "attrib/transformer/model/generate.hpp"
#include "attrib/transformer/loading/hf_loader.hpp"
#include "attrib/transformer/hooks/hooks.hpp"
#include "attrib/transformer/loading/llama2c_loader.hpp"
#include "attrib/transformer/model/model.hpp"
#include "attrib/transformer/hooks/patching.hpp"
#include "attrib/transformer/model/random_model.hpp"
#include "hf_checkpoint_tensors.hpp"

#ifndef ATTRIB_DATA_DIR
#define ATTRIB_DATA_DIR "data"
#endif

using attrib::token_id;
using attrib::transformer_architecture;
using Eigen::Index;

namespace {

using dvec = std::vector<double>;

dvec row_of(const attrib::weight_tensor& w, Index r) {
  const auto f = w.decode_row(r);
  return dvec(f.begin(), f.end());
}

// y = W x + b, W given as [out][in] rows.
dvec naive_affine(const attrib::weight_tensor& w, const attrib::weight_tensor& b, const dvec& x) {
  dvec y(static_cast<std::size_t>(w.rows), 0.0);
  for (Index o = 0; o < w.rows; ++o) {
    const dvec r = row_of(w, o);
    for (std::size_t i = 0; i < x.size(); ++i) y[static_cast<std::size_t>(o)] += r[i] * x[i];
  }
  if (b.present()) {
    const dvec bias = row_of(b, 0);
    for (std::size_t o = 0; o < y.size(); ++o) y[o] += bias[o];
  }
  return y;
}

dvec naive_norm(const attrib::transformer_config& c, const attrib::weight_tensor& w,
                const attrib::weight_tensor& b, const dvec& x) {
  const auto n = static_cast<double>(x.size());
  const dvec g = row_of(w, 0);
  dvec y(x.size());
  if (c.architecture == transformer_architecture::gpt2) {
    double mean = 0.0, var = 0.0;
    for (double v : x) mean += v / n;
    for (double v : x) var += (v - mean) * (v - mean) / n;
    const dvec beta = row_of(b, 0);
    for (std::size_t i = 0; i < x.size(); ++i)
      y[i] = (x[i] - mean) / std::sqrt(var + c.norm_eps) * g[i] + beta[i];
  } else {
    double ms = 0.0;
    for (double v : x) ms += v * v / n;
    for (std::size_t i = 0; i < x.size(); ++i) y[i] = x[i] / std::sqrt(ms + c.norm_eps) * g[i];
  }
  return y;
}

// Rotary embedding: pair j of each head, taken as a complex number, times
// exp(i pos theta^(-2j/d)). Pair j is (2j, 2j+1) (llama2.c) or, with rotate_half (Hugging Face),
// (j, j + d/2).
void naive_rope(const attrib::transformer_config& c, dvec& v, Index heads, Index pos,
                bool rotate_half) {
  const Index hd = c.head_dim();
  for (Index h = 0; h < heads; ++h)
    for (Index j = 0; j < hd / 2; ++j) {
      const double angle =
          static_cast<double>(pos) * std::pow(c.rope_theta, -2.0 * static_cast<double>(j) / static_cast<double>(hd));
      const std::size_t a = static_cast<std::size_t>(h * hd + (rotate_half ? j : 2 * j));
      const std::size_t b = rotate_half ? a + static_cast<std::size_t>(hd / 2) : a + 1;
      const double re = v[a], im = v[b];
      v[a] = re * std::cos(angle) - im * std::sin(angle);
      v[b] = re * std::sin(angle) + im * std::cos(angle);
    }
}

// A hook on the residual stream entering a layer: (layer, position, stream) -> changed stream.
using naive_hook = std::function<void(Index, Index, dvec&)>;

// Logits [T][vocab] of one sequence, computed position by position from scratch. With
// rotate_half, the model's Q and K rows are in Hugging Face's layout.
std::vector<dvec> naive_forward(const attrib::transformer_model& model,
                                const std::vector<token_id>& tokens,
                                const naive_hook& resid_pre_hook = {}, bool rotate_half = false) {
  const auto& c = model.config();
  const auto& w = model.weights();
  const bool gpt2 = c.architecture == transformer_architecture::gpt2;
  const auto T = static_cast<Index>(tokens.size());
  const Index hd = c.head_dim();
  std::vector<dvec> x(tokens.size());
  for (Index t = 0; t < T; ++t) {
    x[static_cast<std::size_t>(t)] = row_of(w.token_embedding, tokens[static_cast<std::size_t>(t)]);
    if (gpt2) {
      const dvec p = row_of(w.position_embedding, t);
      for (Index i = 0; i < c.dim; ++i) x[static_cast<std::size_t>(t)][static_cast<std::size_t>(i)] += p[static_cast<std::size_t>(i)];
    }
  }
  for (Index l = 0; l < c.n_layers; ++l) {
    const auto& L = w.layers[static_cast<std::size_t>(l)];
    if (resid_pre_hook)
      for (Index t = 0; t < T; ++t) resid_pre_hook(l, t, x[static_cast<std::size_t>(t)]);
    std::vector<dvec> q(tokens.size()), k(tokens.size()), v(tokens.size());
    for (Index t = 0; t < T; ++t) {
      const dvec h = naive_norm(c, L.attn_norm, L.attn_norm_bias, x[static_cast<std::size_t>(t)]);
      q[static_cast<std::size_t>(t)] = naive_affine(L.wq, L.bq, h);
      k[static_cast<std::size_t>(t)] = naive_affine(L.wk, L.bk, h);
      v[static_cast<std::size_t>(t)] = naive_affine(L.wv, L.bv, h);
      if (!gpt2) {
        naive_rope(c, q[static_cast<std::size_t>(t)], c.n_heads, t, rotate_half);
        naive_rope(c, k[static_cast<std::size_t>(t)], c.n_kv_heads, t, rotate_half);
      }
    }
    for (Index t = 0; t < T; ++t) {
      dvec attn(static_cast<std::size_t>(c.dim), 0.0);
      for (Index h = 0; h < c.n_heads; ++h) {
        const Index kvh = h / (c.n_heads / c.n_kv_heads);
        dvec s(static_cast<std::size_t>(t + 1));
        double top = -1e300;
        for (Index u = 0; u <= t; ++u) {
          double dot = 0.0;
          for (Index d = 0; d < hd; ++d)
            dot += q[static_cast<std::size_t>(t)][static_cast<std::size_t>(h * hd + d)] *
                   k[static_cast<std::size_t>(u)][static_cast<std::size_t>(kvh * hd + d)];
          s[static_cast<std::size_t>(u)] = dot / std::sqrt(static_cast<double>(hd));
          top = std::max(top, s[static_cast<std::size_t>(u)]);
        }
        double z = 0.0;
        for (double& e : s) z += (e = std::exp(e - top));
        for (Index u = 0; u <= t; ++u)
          for (Index d = 0; d < hd; ++d)
            attn[static_cast<std::size_t>(h * hd + d)] +=
                s[static_cast<std::size_t>(u)] / z * v[static_cast<std::size_t>(u)][static_cast<std::size_t>(kvh * hd + d)];
      }
      const dvec o = naive_affine(L.wo, L.bo, attn);
      for (Index i = 0; i < c.dim; ++i) x[static_cast<std::size_t>(t)][static_cast<std::size_t>(i)] += o[static_cast<std::size_t>(i)];
    }
    for (Index t = 0; t < T; ++t) {
      const dvec h = naive_norm(c, L.ffn_norm, L.ffn_norm_bias, x[static_cast<std::size_t>(t)]);
      dvec a = naive_affine(L.w_up, L.b_up, h);
      if (gpt2) {
        for (double& e : a)
          e = 0.5 * e * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (e + 0.044715 * e * e * e)));
      } else {
        const dvec g = naive_affine(L.w_gate, attrib::weight_tensor{}, h);
        for (std::size_t j = 0; j < a.size(); ++j) a[j] *= g[j] / (1.0 + std::exp(-g[j]));
      }
      const dvec m = naive_affine(L.w_down, L.b_down, a);
      for (Index i = 0; i < c.dim; ++i) x[static_cast<std::size_t>(t)][static_cast<std::size_t>(i)] += m[static_cast<std::size_t>(i)];
    }
  }
  std::vector<dvec> logits;
  for (Index t = 0; t < T; ++t)
    logits.push_back(naive_affine(
        w.output, attrib::weight_tensor{},
        naive_norm(c, w.final_norm, w.final_norm_bias, x[static_cast<std::size_t>(t)])));
  return logits;
}

// max |a - b| / max |b| over all logits.
double relative_error(const attrib::float_matrix& a, const std::vector<dvec>& b) {
  double diff = 0.0, scale = 0.0;
  REQUIRE(a.rows() == static_cast<Index>(b.size()));
  for (Index t = 0; t < a.rows(); ++t)
    for (Index j = 0; j < a.cols(); ++j) {
      const double r = b[static_cast<std::size_t>(t)][static_cast<std::size_t>(j)];
      diff = std::max(diff, std::abs(a(t, j) - r));
      scale = std::max(scale, std::abs(r));
    }
  return diff / scale;
}

attrib::transformer_config tiny_gpt2_config() {
  attrib::transformer_config c;
  c.architecture = transformer_architecture::gpt2;
  c.dim = 16;
  c.hidden_dim = 64;
  c.n_layers = 2;
  c.n_heads = 4;
  c.n_kv_heads = 4;
  c.vocab_size = 23;
  c.context_length = 12;
  return c;
}

attrib::transformer_config tiny_llama_config() {
  attrib::transformer_config c;
  c.dim = 16;
  c.hidden_dim = 40;
  c.n_layers = 2;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.vocab_size = 19;
  c.context_length = 12;
  return c;
}

const std::vector<token_id> prompt = {3, 7, 1, 0, 12, 5, 5, 9, 18};

attrib::float_matrix logits_of(const attrib::transformer_model& m, const std::vector<token_id>& tokens) {
  return m.forward(std::vector<std::vector<token_id>>{tokens})[0];
}

bool identical(const attrib::float_matrix& a, const attrib::float_matrix& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         std::memcmp(a.data(), b.data(), static_cast<std::size_t>(a.size()) * sizeof(float)) == 0;
}

// A fresh directory under the system's temporary folder, removed at scope exit.
struct scratch_dir {
  std::filesystem::path path;
  scratch_dir() {
    path = std::filesystem::temp_directory_path() /
           ("attrib_test_gpt2_" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(path);
  }
  ~scratch_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

const char* const qwen2_config = R"({
  "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 16,
  "intermediate_size": 40, "num_hidden_layers": 2, "num_attention_heads": 4,
  "num_key_value_heads": 2, "vocab_size": 19, "max_position_embeddings": 12,
  "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "hidden_act": "silu",
  "tie_word_embeddings": false, "use_sliding_window": false, "sliding_window": 4096
})";

// GPT-2 as the hub stores it (no "transformer." prefix), with the causal-mask buffers that
// checkpoints carry and the loader must ignore.
attrib::tensor_map hf_gpt2_tensors_with_masks(const attrib::transformer_model& m) {
  auto t = attrib_test::hf_gpt2_tensors(m);
  for (Index l = 0; l < m.config().n_layers; ++l)
    t["h." + std::to_string(l) + ".attn.bias"] =
        attrib::tensor{{1, 1, 12, 12}, attrib::vector::Ones(144), attrib::tensor_dtype::f32};
  return t;
}

const char* const gpt2_config = R"({
  "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "n_embd": 16, "n_layer": 2,
  "n_head": 4, "n_positions": 12, "n_ctx": 12, "vocab_size": 23, "layer_norm_epsilon": 1e-5,
  "activation_function": "gelu_new", "n_inner": null
})";

// Writes a checkpoint directory from a config and tensors stored as F32.
void write_hf(const std::filesystem::path& dir, const std::string& config,
              const attrib::tensor_map& tensors) {
  attrib::write_file_atomically(dir / "config.json", config);
  attrib::write_safetensors(dir / "model.safetensors", tensors, attrib::tensor_dtype::f32);
}

}  // namespace

TEST_CASE("gpt2: forward pass equals a naive double-precision implementation") {
  const auto model = attrib::random_transformer_model(tiny_gpt2_config(), 11, {.scale = 0.3f});
  const auto logits = model.forward(std::vector<std::vector<token_id>>{prompt})[0];
  const auto reference = naive_forward(model, prompt);
  const double error = relative_error(logits, reference);
  MESSAGE("gpt2 relative logit error " << error);
  CHECK(error < 1e-4);
  // A different weight (the positions) would change it: the comparison can fail.
  CHECK(relative_error(model.forward(std::vector<std::vector<token_id>>{{prompt.begin() + 1, prompt.end()}})[0],
                       {reference.begin() + 1, reference.end()}) > 1e-3);
}

TEST_CASE("gpt2: llama with biases on every linear map equals the naive implementation") {
  const auto model = attrib::random_transformer_model(tiny_llama_config(), 12,
                                                      {.scale = 0.3f, .biases = true, .tied_output = false});
  const auto logits = model.forward(std::vector<std::vector<token_id>>{prompt})[0];
  const double error = relative_error(logits, naive_forward(model, prompt));
  MESSAGE("biased llama relative logit error " << error);
  CHECK(error < 1e-4);
}

TEST_CASE("gpt2: KV-cached decoding equals full recomputation, bit for bit") {
  const auto model = attrib::random_transformer_model(tiny_gpt2_config(), 13, {.scale = 0.3f});
  const auto full = model.forward(std::vector<std::vector<token_id>>{prompt})[0];
  auto cache = model.make_cache(1);
  // A 3-token prefix, then one token per call: positions must continue from the cache.
  std::vector<std::vector<token_id>> step = {{prompt.begin(), prompt.begin() + 3}};
  auto first = model.forward(cache, step)[0];
  for (Index t = 0; t < 3; ++t) CHECK((first.row(t).array() == full.row(t).array()).all());
  for (std::size_t t = 3; t < prompt.size(); ++t) {
    step[0] = {prompt[t]};
    const auto one = model.forward(cache, step)[0];
    CHECK((one.row(0).array() == full.row(static_cast<Index>(t)).array()).all());
  }
  // Greedy generation (KV-cached) equals argmax of a from-scratch forward at every step.
  attrib::generation_settings settings;
  settings.max_new_tokens = 6;
  const auto generated = attrib::generate(model, std::vector<std::vector<token_id>>{{3, 7}}, settings)[0];
  REQUIRE(generated.size() == 8);
  for (std::size_t t = 2; t < generated.size(); ++t) {
    const auto ref = naive_forward(model, {generated.begin(), generated.begin() + static_cast<long>(t)});
    const auto& last = ref.back();
    CHECK(generated[t] == static_cast<token_id>(std::max_element(last.begin(), last.end()) - last.begin()));
  }
  // The context length bounds a gpt2 sequence: it has no position embedding beyond it.
  CHECK_THROWS_AS(model.forward(std::vector<std::vector<token_id>>{std::vector<token_id>(13, 1)}),
                  attrib::invalid_argument);
}

TEST_CASE("gpt2: resid_pre interventions equal the same edit in the naive implementation") {
  const auto model = attrib::random_transformer_model(tiny_gpt2_config(), 14, {.scale = 0.3f});
  attrib::float_vector direction(16), shift(16);
  for (Index i = 0; i < 16; ++i) {
    direction(i) = static_cast<float>(std::sin(1.0 + static_cast<double>(i)));
    shift(i) = static_cast<float>(0.5 * std::cos(2.0 * static_cast<double>(i)));
  }
  attrib::hook_set hooks;
  hooks.project_out(attrib::hook_point::resid_pre(1), direction);
  hooks.add(attrib::hook_point::resid_pre(0), shift, 1.0f, {.rows = {}, .positions = {2}});
  attrib::forward_options options;
  options.hooks = &hooks;
  const auto logits = model.forward(std::vector<std::vector<token_id>>{prompt}, options)[0];
  const double dn = direction.cast<double>().squaredNorm();
  const auto reference = naive_forward(model, prompt, [&](Index l, Index t, dvec& x) {
    if (l == 0 && t == 2)
      for (Index i = 0; i < 16; ++i) x[static_cast<std::size_t>(i)] += shift(i);
    if (l == 1) {
      double along = 0.0;
      for (Index i = 0; i < 16; ++i) along += x[static_cast<std::size_t>(i)] * direction(i);
      for (Index i = 0; i < 16; ++i) x[static_cast<std::size_t>(i)] -= along / dn * direction(i);
    }
  });
  CHECK(relative_error(logits, reference) < 1e-4);
  CHECK(relative_error(logits, naive_forward(model, prompt)) > 1e-3);

  // mlp_post is the GELU output, hidden_dim wide.
  attrib::activation_cache cache;
  attrib::hook_set read;
  read.cache(attrib::hook_point::mlp_post(0), cache);
  options.hooks = &read;
  (void)model.forward(std::vector<std::vector<token_id>>{prompt}, options);
  CHECK(cache.at(attrib::hook_point::mlp_post(0), 0).cols() == 64);
  // The tanh approximation's minimum is -0.17004; negative values show it is not a ReLU.
  CHECK(cache.at(attrib::hook_point::mlp_post(0), 0).minCoeff() >= -0.1701f);
  CHECK(cache.at(attrib::hook_point::mlp_post(0), 0).minCoeff() < -0.01f);
}

TEST_CASE("gpt2: activation patching reuses the cached run exactly as a replace hook would") {
  const auto model = attrib::random_transformer_model(tiny_gpt2_config(), 15, {.scale = 0.3f});
  const std::vector<token_id> clean = {3, 7, 1, 0, 12, 5};
  const std::vector<token_id> corrupt = {3, 7, 2, 0, 12, 5};
  const auto fast = attrib::activation_patching_sweep(model, clean, corrupt);
  const auto naive = attrib::naive_activation_patching_sweep(model, clean, corrupt);
  CHECK((fast.logits - naive.logits).cwiseAbs().maxCoeff() <= 1e-5f);
}

TEST_CASE("gpt2: validation names the weight or field that does not fit the family") {
  auto c = tiny_gpt2_config();
  c.n_kv_heads = 2;
  CHECK_THROWS_WITH_AS(attrib::validate(c), doctest::Contains("grouped-query"), attrib::invalid_argument);
  c = tiny_gpt2_config();
  c.n_heads = 16;  // head_dim 1: odd is fine without rotary pairs
  c.n_kv_heads = 16;
  CHECK_NOTHROW(attrib::validate(c));
  const auto model = attrib::random_transformer_model(tiny_gpt2_config(), 16);
  auto w = model.weights();
  w.position_embedding = {};
  CHECK_THROWS_WITH_AS(attrib::transformer_model(model.config(), w), doctest::Contains("position_embedding"),
                       attrib::format_error);
  w = model.weights();
  w.layers[1].w_gate = w.layers[1].w_up;
  CHECK_THROWS_WITH_AS(attrib::transformer_model(model.config(), w), doctest::Contains("layers.1.w_gate"),
                       attrib::format_error);
  w = model.weights();
  w.layers[0].bk.cols = 15;
  CHECK_THROWS_WITH_AS(attrib::transformer_model(model.config(), w), doctest::Contains("layers.0.bk"),
                       attrib::format_error);
  const auto llama = attrib::random_transformer_model(tiny_llama_config(), 17);
  w = llama.weights();
  w.final_norm_bias = w.final_norm;
  CHECK_THROWS_WITH_AS(attrib::transformer_model(llama.config(), w), doctest::Contains("final_norm_bias"),
                       attrib::format_error);
}

TEST_CASE("gpt2: HF Llama loader permutes rotate_half Q/K rows into the pairs attrib rotates") {
  // The random model's Q/K rows are read as Hugging Face rows: naive rotate_half RoPE on them
  // must equal attrib on the permuted weights.
  const auto hf = attrib::random_transformer_model(tiny_llama_config(), 21,
                                                   {.scale = 0.3f, .biases = true, .tied_output = false});
  scratch_dir dir;
  write_hf(dir.path, qwen2_config, attrib_test::hf_llama_tensors(hf));
  const auto model = attrib::load_hf_model(dir.path);
  CHECK(model.config().n_kv_heads == 2);
  CHECK(model.config().norm_eps == 1e-5f);
  CHECK(model.weights().layers[0].bo.present());
  CHECK(model.weights().layers[1].bk.present());
  const auto logits = logits_of(model, prompt);
  const auto reference = naive_forward(hf, prompt, {}, /*rotate_half=*/true);
  const double error = relative_error(logits, reference);
  MESSAGE("HF rotate_half relative logit error " << error);
  CHECK(error < 1e-4);
  // Without the permutation the adjacent-pair rotation gives other logits.
  CHECK(relative_error(logits, naive_forward(hf, prompt)) > 1e-3);

  // Sharded: two files and an index give the same model.
  scratch_dir sharded;
  auto tensors = attrib_test::hf_llama_tensors(hf);
  attrib::tensor_map first, second;
  nlohmann::json index;
  for (auto& [name, t] : tensors) {
    const bool one = name.find("layers.1.") == std::string::npos;
    (one ? first : second)[name] = t;
    index["weight_map"][name] = one ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
  }
  attrib::write_safetensors(sharded.path / "model-00001-of-00002.safetensors", first, attrib::tensor_dtype::f32);
  attrib::write_safetensors(sharded.path / "model-00002-of-00002.safetensors", second, attrib::tensor_dtype::f32);
  attrib::write_file_atomically(sharded.path / "model.safetensors.index.json", index.dump());
  attrib::write_file_atomically(sharded.path / "config.json", qwen2_config);
  CHECK(identical(logits_of(attrib::load_hf_model(sharded.path), prompt), logits));
}

TEST_CASE("gpt2: HF GPT-2 loader transposes Conv1D weights and splits c_attn") {
  const auto original = attrib::random_transformer_model(tiny_gpt2_config(), 22, {.scale = 0.3f});
  scratch_dir dir;
  write_hf(dir.path, gpt2_config, hf_gpt2_tensors_with_masks(original));
  const auto model = attrib::load_hf_model(dir.path);
  CHECK(model.config().architecture == transformer_architecture::gpt2);
  CHECK(model.config().hidden_dim == 64);  // n_inner null: 4 * n_embd
  CHECK(model.weights().output.bytes.data() == model.weights().token_embedding.bytes.data());
  CHECK(identical(logits_of(model, prompt), logits_of(original, prompt)));
  // The same checkpoint from memory.
  const auto bytes = attrib::detail::read_file_bytes(dir.path / "model.safetensors");
  const auto in_memory = attrib::hf_model_from_memory(gpt2_config, std::as_bytes(std::span(bytes.data(), bytes.size())));
  CHECK(identical(logits_of(in_memory, prompt), logits_of(original, prompt)));
}

TEST_CASE("gpt2: F16 and BF16 weights stay in their stored type through load and save") {
  // Multiples of 1/256 in (-1, 1) are exact in F16; multiples of 1/64 in BF16 too.
  const auto c = tiny_llama_config();
  auto values = attrib::random_transformer_model(c, 23, {.scale = 0.3f, .tied_output = false});
  auto tensors = attrib_test::hf_llama_tensors(values);
  for (auto& [name, t] : tensors)
    for (Index k = 0; k < t.values.size(); ++k) t.values[k] = std::round(t.values[k] * 64.0) / 64.0;
  for (const auto half : {attrib::tensor_dtype::f16, attrib::tensor_dtype::bf16}) {
    CAPTURE(attrib::dtype_name(half));
    // Stored half bytes, written with the stored-bytes writer.
    std::vector<std::vector<std::byte>> buffers;
    attrib::stored_tensor_map stored;
    for (const auto& [name, t] : tensors) {
      if (name.find("bias") != std::string::npos) continue;  // a plain Llama
      std::vector<std::byte> bytes;
      for (Index k = 0; k < t.values.size(); ++k) {
        const auto bits = std::bit_cast<std::uint32_t>(static_cast<float>(t.values[k]));
        std::uint16_t h = static_cast<std::uint16_t>(bits >> 16);  // exact for these values
        if (half == attrib::tensor_dtype::f16) {
          const int e = static_cast<int>((bits >> 23) & 0xFF);
          h = t.values[k] == 0.0 ? std::uint16_t{0}
                                 : static_cast<std::uint16_t>(((bits >> 16) & 0x8000) | ((e - 112) << 10) |
                                                              ((bits >> 13) & 0x3FF));
        }
        bytes.push_back(static_cast<std::byte>(h & 0xFF));
        bytes.push_back(static_cast<std::byte>(h >> 8));
      }
      buffers.push_back(std::move(bytes));
      stored[name] = {half, t.shape, buffers.back()};
    }
    scratch_dir dir, f32_dir;
    attrib::write_file_atomically(dir.path / "config.json", qwen2_config);
    attrib::write_stored_safetensors(dir.path / "model.safetensors", stored);
    attrib::tensor_map plain;
    for (const auto& [name, t] : tensors)
      if (name.find("bias") == std::string::npos) plain[name] = t;
    write_hf(f32_dir.path, qwen2_config, plain);
    const auto model = attrib::load_hf_model(dir.path);
    const auto expected = attrib::load_hf_model(f32_dir.path);
    const auto type = half == attrib::tensor_dtype::f16 ? attrib::ggml_type::f16 : attrib::ggml_type::bf16;
    CHECK(model.weights().layers[0].wq.type == type);
    CHECK(model.weights().layers[1].w_down.type == type);
    CHECK(identical(logits_of(model, prompt), logits_of(expected, prompt)));
    scratch_dir saved;
    attrib::save_hf_checkpoint(saved.path, model);
    const auto file = attrib::read_safetensors(saved.path / "model.safetensors");
    CHECK(file.tensors.at("model.layers.0.self_attn.q_proj.weight").dtype == half);
    CHECK(identical(logits_of(attrib::load_hf_model(saved.path), prompt), logits_of(model, prompt)));
  }
}

TEST_CASE("gpt2: stories260K saved as a HF checkpoint loads back to bit-identical logits") {
  const auto model = attrib::load_llama2c_model(std::filesystem::path(ATTRIB_DATA_DIR) / "models" /
                                                "stories260K" / "stories260K.bin");
  scratch_dir dir;
  attrib::save_hf_checkpoint(dir.path, model);
  const auto config = nlohmann::json::parse(attrib::detail::read_file_bytes(dir.path / "config.json"));
  CHECK(config["model_type"] == "llama");
  CHECK(config["hidden_size"] == 64);
  CHECK(config["num_key_value_heads"] == 4);
  CHECK(config["tie_word_embeddings"] == true);  // llama2.c's shared classifier
  const auto back = attrib::load_hf_model(dir.path);
  const std::vector<token_id> story = {1, 403, 407, 261, 378, 414, 273, 471, 259, 280};
  CHECK(identical(logits_of(back, story), logits_of(model, story)));
  // The file holds Hugging Face's layout: q_proj row h*hd + r*hd/2 + j is attrib's row
  // h*hd + 2j + r (hd = 8 for stories260K).
  const auto file = attrib::read_safetensors(dir.path / "model.safetensors");
  const auto& q = file.tensors.at("model.layers.2.self_attn.q_proj.weight");
  const Index hd = model.config().head_dim();
  REQUIRE(hd == 8);
  for (Index row : {Index{0}, Index{1}, Index{5}, Index{9}, Index{63}}) {
    const Index h = row / hd, i = row % hd;
    const Index hf_row = h * hd + (i % 2) * (hd / 2) + i / 2;
    const auto expected = model.weights().layers[2].wq.decode_row(row);
    for (Index col = 0; col < 64; col += 7)
      CHECK(q.values[hf_row * 64 + col] == expected[static_cast<std::size_t>(col)]);
  }
}

TEST_CASE("gpt2: a random GPT-2 round-trips through save_hf_checkpoint") {
  const auto model = attrib::random_transformer_model(tiny_gpt2_config(), 24, {.scale = 0.3f, .tied_output = false});
  scratch_dir dir;
  attrib::save_hf_checkpoint(dir.path, model);
  const auto back = attrib::load_hf_model(dir.path);
  CHECK(identical(logits_of(back, prompt), logits_of(model, prompt)));
  // c_attn holds [in][3 * dim]: element (i, dim + o) is wk's (o, i).
  const auto file = attrib::read_safetensors(dir.path / "model.safetensors");
  const auto& qkv = file.tensors.at("transformer.h.1.attn.c_attn.weight");
  REQUIRE(qkv.shape == std::vector<Index>{16, 48});
  const auto wk_row = model.weights().layers[1].wk.decode_row(3);
  for (Index i = 0; i < 16; ++i) CHECK(qkv.values[i * 48 + 16 + 3] == wk_row[static_cast<std::size_t>(i)]);
  CHECK(file.tensors.contains("lm_head.weight"));
  // A biased Llama (attention_bias and mlp_bias) round-trips too.
  const auto llama = attrib::random_transformer_model(tiny_llama_config(), 25, {.scale = 0.3f, .biases = true});
  scratch_dir llama_dir;
  attrib::save_hf_checkpoint(llama_dir.path, llama);
  CHECK(identical(logits_of(attrib::load_hf_model(llama_dir.path), prompt), logits_of(llama, prompt)));
}

TEST_CASE("gpt2: malformed HF checkpoints are format_errors naming the tensor or field") {
  const auto original = attrib::random_transformer_model(tiny_gpt2_config(), 26, {.scale = 0.3f});
  scratch_dir dir;
  const auto tensors = hf_gpt2_tensors_with_masks(original);
  auto fails_with = [&](const std::string& config, const attrib::tensor_map& t, const std::string& what) {
    write_hf(dir.path, config, t);
    CHECK_THROWS_WITH_AS(attrib::load_hf_model(dir.path), doctest::Contains(what.c_str()), attrib::format_error);
  };
  auto missing = tensors;
  missing.erase("h.1.mlp.c_fc.weight");
  fails_with(gpt2_config, missing, "h.1.mlp.c_fc.weight");
  auto wrong = tensors;
  wrong["h.0.ln_2.bias"].shape = {8, 2};
  fails_with(gpt2_config, wrong, "'h.0.ln_2.bias' has shape [8, 2], expected [16]");
  std::string unknown = gpt2_config;
  unknown.replace(unknown.find("\"gpt2\""), 6, "\"bert\"");
  fails_with(unknown, tensors, "model_type 'bert'");
  std::string no_heads = gpt2_config;
  no_heads.replace(no_heads.find("\"n_head\""), 8, "\"n_hxad\"");
  fails_with(no_heads, tensors, "'n_head' is missing");
  std::string relu = gpt2_config;
  relu.replace(relu.find("gelu_new"), 8, "relu");
  fails_with(relu, tensors, "activation_function");
  fails_with(qwen2_config, tensors, "model.embed_tokens.weight");
  // A double-precision tensor is not a stored type attrib computes with.
  attrib::write_file_atomically(dir.path / "config.json", gpt2_config);
  attrib::write_safetensors(dir.path / "model.safetensors", tensors, attrib::tensor_dtype::f64);
  CHECK_THROWS_WITH_AS(attrib::load_hf_model(dir.path), doctest::Contains("dtype F64"), attrib::format_error);
  // Truncated: the last tensor's offsets reach beyond the file.
  write_hf(dir.path, gpt2_config, tensors);
  const auto bytes = attrib::detail::read_file_bytes(dir.path / "model.safetensors");
  attrib::write_file_atomically(dir.path / "model.safetensors", bytes.substr(0, bytes.size() - 10));
  CHECK_THROWS_WITH_AS(attrib::load_hf_model(dir.path), doctest::Contains("data_offsets"), attrib::format_error);
  // A shard may not name a file outside the directory.
  attrib::write_file_atomically(dir.path / "model.safetensors.index.json",
                                   R"({"weight_map": {"wte.weight": "../model.safetensors"}})");
  CHECK_THROWS_WITH_AS(attrib::load_hf_model(dir.path), doctest::Contains("not a file in the directory"),
                       attrib::format_error);
  std::filesystem::remove(dir.path / "model.safetensors.index.json");
  std::filesystem::remove(dir.path / "model.safetensors");
  CHECK_THROWS_WITH_AS(attrib::load_hf_model(dir.path), doctest::Contains("model.safetensors"), attrib::format_error);
  CHECK_THROWS_WITH_AS(attrib::parse_hf_config("[1, 2]"), doctest::Contains("not a JSON object"), attrib::format_error);
  CHECK_THROWS_WITH_AS(attrib::parse_hf_config(R"({"model_type": "llama", "hidden_size": 16,
      "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 4, "vocab_size": 5,
      "max_position_embeddings": 8, "rope_scaling": {"rope_type": "yarn", "factor": 4}})"),
                       doctest::Contains("rope_scaling"), attrib::format_error);
  CHECK_THROWS_WITH_AS(attrib::parse_hf_config(R"({"model_type": "llama", "hidden_size": 16,
      "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 3, "vocab_size": 5,
      "max_position_embeddings": 8})"),
                       doctest::Contains("not a multiple of n_heads"), attrib::format_error);
}

TEST_CASE("gpt2: HF rope_scaling llama3 gives Llama 3.1's frequency factors") {
  // Llama 3.1 8B: theta 500000, head_dim 128, factor 8, low 1, high 4, original 8192.
  const auto c = attrib::parse_hf_config(R"({"architectures": ["LlamaForCausalLM"],
      "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
      "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256,
      "max_position_embeddings": 131072, "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
      "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                       "original_max_position_embeddings": 8192, "rope_type": "llama3"}})");
  REQUIRE(c.rope_freq_factors.size() == 64);
  // Wavelength 2 pi 500000^(2j/128): below 8192/4 = 2048 for small j (factor 1), above 8192 for
  // large j (factor 8); in between 1 / ((1 - s)/8 + s), s = (8192/wavelength - 1) / 3.
  const double pi = 3.14159265358979323846;
  for (std::size_t j = 0; j < 64; ++j) {
    const double wavelength = 2 * pi * std::pow(500000.0, 2.0 * static_cast<double>(j) / 128.0);
    double expected = 1.0;
    if (wavelength > 8192.0) expected = 8.0;
    else if (wavelength >= 2048.0) {
      const double s = (8192.0 / wavelength - 1.0) / 3.0;
      expected = 1.0 / ((1.0 - s) / 8.0 + s);
    }
    CHECK(c.rope_freq_factors[j] == doctest::Approx(expected).epsilon(1e-6));
  }
  CHECK(c.rope_freq_factors.front() == 1.0f);
  CHECK(c.rope_freq_factors.back() == 8.0f);
}

TEST_CASE("config.json: nesting beyond json_max_depth is refused; bad values are quoted in one line") {
  const std::string deep = "{\"model_type\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  CHECK_THROWS_WITH_AS(attrib::parse_hf_config(deep), doctest::Contains("config.json: JSON nested deeper"),
                       attrib::format_error);
  const std::string nested = std::string(100, '[') + std::string(100, ']');
  CHECK_THROWS_WITH_AS(attrib::parse_hf_config(R"({"model_type": "llama", "hidden_size": )" + nested + "}"),
                       doctest::Contains("is an array of 1 value, expected a positive integer"),
                       attrib::format_error);
}
