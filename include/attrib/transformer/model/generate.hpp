#pragma once
// Autoregressive generation with a KV cache: the prompts run in one call, then one token per row
// per step. Greedy at temperature 0, otherwise sampling from the temperature-scaled softmax,
// restricted to the smallest set of most likely tokens whose probability reaches top_p (nucleus
// sampling, as llama2.c's sample_topp). Hooks stay active on every step.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/random.hpp"
#include "attrib/transformer/hooks/hooks.hpp"
#include "attrib/transformer/model/model.hpp"

namespace attrib {

struct generation_settings {
  index max_new_tokens = 16;
  float temperature = 0.0f;  // 0: greedy (argmax, lowest id on ties)
  float top_p = 1.0f;        // in (0, 1]; 1 samples from the whole distribution
  std::uint64_t seed = 0;    // batch row b draws from rng::stream(seed, b)
  // A row stops after generating one of these (it is kept in the output).
  std::vector<token_id> stop_tokens = {};
  std::size_t threads = 1;  // for the forward passes; 0 means all cores
};

// Picks the next token from one row of logits; `coin` is uniform in [0, 1).
inline token_id sample_token(std::span<const float> logits, float temperature, float top_p,
                             double coin) {
  const auto n = logits.size();
  if (temperature == 0.0f)
    return static_cast<token_id>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  std::vector<double> p(n);
  const float top = *std::max_element(logits.begin(), logits.end());
  double sum = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    p[i] = std::exp(static_cast<double>(logits[i] - top) / temperature);
    sum += p[i];
  }
  std::vector<token_id> order(n);
  std::iota(order.begin(), order.end(), token_id{0});
  std::size_t keep = n;
  if (top_p < 1.0f) {
    // Most likely first; equal probabilities by id so that the result is reproducible.
    std::sort(order.begin(), order.end(), [&](token_id a, token_id b) {
      return p[static_cast<std::size_t>(a)] > p[static_cast<std::size_t>(b)] ||
             (p[static_cast<std::size_t>(a)] == p[static_cast<std::size_t>(b)] && a < b);
    });
    double cumulative = 0.0;
    for (keep = 0; keep < n;) {
      cumulative += p[static_cast<std::size_t>(order[keep++])];
      if (cumulative >= top_p * sum) break;
    }
    sum = cumulative;
  }
  const double target = coin * sum;
  double cumulative = 0.0;
  for (std::size_t k = 0; k < keep; ++k) {
    cumulative += p[static_cast<std::size_t>(order[k])];
    if (target < cumulative) return order[k];
  }
  return order[keep - 1];
}

// Continues each prompt by up to settings.max_new_tokens tokens, stopping a row early at a stop
// token or at the context length. Returns prompt + generated tokens per row. Throws
// invalid_argument for an empty prompt, a negative max_new_tokens, a negative or non-finite
// temperature, a top_p outside (0, 1], or (from the model) bad token ids and prompts longer than
// the context.
inline std::vector<std::vector<token_id>> generate(const transformer_model& model,
                                                   std::span<const std::vector<token_id>> prompts,
                                                   const generation_settings& settings,
                                                   const hook_set* hooks = nullptr) {
  if (settings.max_new_tokens < 0) throw invalid_argument("generate: max_new_tokens is negative");
  if (!(settings.temperature >= 0.0f) || !std::isfinite(settings.temperature))
    throw invalid_argument("generate: temperature must be finite and non-negative");
  if (!(settings.top_p > 0.0f && settings.top_p <= 1.0f))
    throw invalid_argument("generate: top_p must lie in (0, 1]");
  for (std::size_t b = 0; b < prompts.size(); ++b)
    if (prompts[b].empty())
      throw invalid_argument("generate: prompt of batch row " + std::to_string(b) + " is empty");

  const auto rows = prompts.size();
  std::vector<std::vector<token_id>> out(prompts.begin(), prompts.end());
  std::vector<rng> streams;
  for (std::size_t b = 0; b < rows; ++b) streams.push_back(rng::stream(settings.seed, b));
  kv_cache cache = model.make_cache(static_cast<index>(rows));
  forward_options options;
  options.hooks = hooks;
  options.last_position_only = true;
  options.threads = settings.threads;

  std::vector<std::vector<token_id>> step(prompts.begin(), prompts.end());
  std::vector<bool> done(rows, false);
  for (index produced = 0; produced < settings.max_new_tokens; ++produced) {
    const auto logits = model.forward(cache, step, options);
    bool any = false;
    for (std::size_t b = 0; b < rows; ++b) {
      step[b].clear();
      if (done[b]) continue;
      const auto& row = logits[b];
      const double coin = settings.temperature == 0.0f ? 0.0 : streams[b].uniform();
      const token_id next =
          sample_token(std::span<const float>(row.data(), static_cast<std::size_t>(row.cols())),
                       settings.temperature, settings.top_p, coin);
      out[b].push_back(next);
      const bool stop = std::find(settings.stop_tokens.begin(), settings.stop_tokens.end(), next) !=
                        settings.stop_tokens.end();
      if (stop || cache.length(static_cast<index>(b)) >= model.config().context_length) {
        done[b] = true;
        continue;
      }
      step[b].push_back(next);
      any = true;
    }
    if (!any) break;
  }
  return out;
}

}  // namespace attrib
