// GPT-2 and biased Llama forward passes against a naive double-precision reference written here
// from the textbook formulas; KV-cached decoding; hooks; the Hugging Face loader and checkpoint
// writer.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <vector>

#include "attrib/transformer/generate.hpp"
#include "attrib/transformer/hooks.hpp"
#include "attrib/transformer/model.hpp"
#include "attrib/transformer/patching.hpp"
#include "attrib/transformer/random_model.hpp"

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

// Rotary embedding with pairs (2j, 2j+1) as complex numbers times exp(i pos theta^(-2j/d)).
void naive_rope(const attrib::transformer_config& c, dvec& v, Index heads, Index pos) {
  const Index hd = c.head_dim();
  for (Index h = 0; h < heads; ++h)
    for (Index j = 0; j < hd / 2; ++j) {
      const double angle =
          static_cast<double>(pos) * std::pow(c.rope_theta, -2.0 * static_cast<double>(j) / static_cast<double>(hd));
      const std::size_t a = static_cast<std::size_t>(h * hd + 2 * j);
      const double re = v[a], im = v[a + 1];
      v[a] = re * std::cos(angle) - im * std::sin(angle);
      v[a + 1] = re * std::sin(angle) + im * std::cos(angle);
    }
}

// A hook on the residual stream entering a layer: (layer, position, stream) -> changed stream.
using naive_hook = std::function<void(Index, Index, dvec&)>;

// Logits [T][vocab] of one sequence, computed position by position from scratch.
std::vector<dvec> naive_forward(const attrib::transformer_model& model,
                                const std::vector<token_id>& tokens,
                                const naive_hook& resid_pre_hook = {}) {
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
        naive_rope(c, q[static_cast<std::size_t>(t)], c.n_heads, t);
        naive_rope(c, k[static_cast<std::size_t>(t)], c.n_kv_heads, t);
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
