// The studies' own computations against the way the paper's code does them, timed in the same run.
//
// BM_logit_variance_gram_vs_direct: LogitVar of every last-layer neuron (entropy_neurons.hpp) in
// the Gram form (C = sum_v (û_v - m)(û_v - m)^T streamed from the unembedding, then one quadratic
// form per neuron: about d^2 V + 2 N d^2 flops, O(d^2) memory) against the explicit N x V matrix
// of cosines and its row variances (2 N d V flops, 8 N V bytes), one thread. Arg 0: stories260K
// (d 64, N 172, V 512); Arg 1: the last layer of GPT-2 small with seeded random weights (d 768,
// N 3072, V 50257; one layer, since the others do not enter: the cosine matrix alone is 1.2 GB).
// ratio = Gram time / direct time (the goal for GPT-2's shape is <= 0.25: the flop counts alone
// give 0.14); max_relative_difference between the two forms (goal <= 1e-9). gram_peak_rss_bytes
// and direct_peak_rss_bytes are how much each form's first call raised the process's peak
// resident set: what it allocated and touched, read from getrusage, so an allocation that reuses
// memory freed earlier does not show.
//
// BM_knowledge_trace_vs_per_cell_forward: a Table-1 map of stories260K (every layer x every
// traced column) over the pairs of the generated cities dataset, by trace_knowledge (a shared
// few-shot context recorded once, each pair's two prompts continued from it, only what each patch
// changes computed, cells batched) against the paper's method, one full forward pass of the
// false prompt per cell with a replace hook. time_ratio = per-cell forwards / trace_knowledge;
// token_layer_ratio = the token-layers the per-cell forwards compute over those trace_knowledge
// computes (recordings included), the work ratio independent of timing noise (goal >= 10);
// max_difference between the two maps (goal: 0 up to float rounding, <= 1e-5).
//
// BM_steered_generation_vs_recompute: 16 greedy tokens after a 40-token prompt with a steering
// hook (a direction added to resid_post of two layers at every position), by generate()'s KV
// cache against the paper's refusal code, which runs the whole sequence again for every new
// token: 760 token-forwards against 55. Arg 0: stories260K; Arg 1: a seeded random Llama of
// width 256, 4 layers, 1024 hidden, 4096 vocabulary (17 MB of weights, which a decoding step
// streams from memory for one token while the recomputation reads them once for 40-55). ratio =
// recompute time / cached time (goal >= 10); same_tokens = 1 when both produced the same ids.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <cmath>
#include <filesystem>

#include "common.hpp"
#include "attrib/studies/entropy_neurons.hpp"
#include "attrib/studies/knowledge_tracing.hpp"
#include "attrib/transformer/model/generate.hpp"
#include "attrib/tokenizers/sentencepiece_bpe.hpp"
#include "attrib/transformer/loading/llama2c_loader.hpp"
#include "attrib/transformer/model/random_model.hpp"

#ifndef ATTRIB_DATA_DIR
#define ATTRIB_DATA_DIR "data"
#endif

namespace {

const attrib::transformer_model& stories() {
  static const auto m = attrib::load_llama2c_model(std::filesystem::path(ATTRIB_DATA_DIR) / "models" / "stories260K" /
                                                   "stories260K.bin");
  return m;
}

const attrib::transformer_model& gpt2_last_layer() {
  static const auto m = attrib::random_transformer_model(bench::gpt2_small_shape(1), 2024);
  return m;
}

double peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return 1024.0 * static_cast<double>(usage.ru_maxrss);  // kilobytes on Linux
}

void BM_logit_variance_gram_vs_direct(benchmark::State& state) {
  const auto& model = state.range(0) == 0 ? stories() : gpt2_last_layer();
  attrib::neuron_scores gram;
  attrib::vector direct;
  double gram_rss = -1.0, direct_rss = -1.0;
  const auto seconds = bench::time_against_baseline(
      state,
      [&] {
        const double before = peak_rss_bytes();
        gram = attrib::last_layer_neuron_scores(model);
        if (gram_rss < 0.0) gram_rss = peak_rss_bytes() - before;
        benchmark::DoNotOptimize(gram.logit_variance.data());
      },
      [&] {
        const double before = peak_rss_bytes();
        direct = attrib::logit_variance_direct(model);
        if (direct_rss < 0.0) direct_rss = peak_rss_bytes() - before;
        benchmark::DoNotOptimize(direct.data());
      });
  double worst = 0.0;
  for (attrib::index i = 0; i < direct.size(); ++i)
    worst = std::max(worst, std::abs(gram.logit_variance(i) - direct(i)) / std::abs(direct(i)));
  const double iterations = static_cast<double>(state.iterations());
  state.counters["gram_ms"] = 1e3 * seconds.method / iterations;
  state.counters["direct_ms"] = 1e3 * seconds.baseline / iterations;
  state.counters["ratio"] = seconds.ratio();
  state.counters["max_relative_difference"] = worst;
  state.counters["gram_peak_rss_bytes"] = gram_rss;
  state.counters["direct_peak_rss_bytes"] = direct_rss;
}
const attrib::sentencepiece_bpe& stories_tokenizer() {
  static const auto t = attrib::load_llama2c_tokenizer(
      std::filesystem::path(ATTRIB_DATA_DIR) / "models" / "stories260K" / "tok512.bin", 512);
  return t;
}

void BM_knowledge_trace_vs_per_cell_forward(benchmark::State& state) {
  const auto& model = stories();
  attrib::knowledge_prompt_options o;
  o.max_pairs = static_cast<std::size_t>(state.range(0));
  const auto pairs = attrib::make_knowledge_pairs(attrib::cities_dataset(1), stories_tokenizer(), o);
  const attrib::index layers = model.config().n_layers, window = pairs.window;
  const auto length = static_cast<attrib::index>(pairs.pairs.front().false_prompt.size());
  // Per-cell forwards of the paper's method, timed once (they take seconds).
  const auto naive_start = std::chrono::steady_clock::now();
  attrib::matrix naive = attrib::matrix::Zero(layers, window);
  for (const auto& pair : pairs.pairs) {
    attrib::activation_cache clean;
    attrib::hook_set record;
    for (attrib::index l = 0; l < layers; ++l) record.cache(attrib::hook_point::resid_post(l), clean);
    attrib::forward_options f;
    f.hooks = &record;
    f.logit_tokens = {pairs.true_token, pairs.false_token};
    f.last_position_only = true;
    model.forward(std::vector<std::vector<attrib::token_id>>{pair.true_prompt}, f);
    for (attrib::index l = 0; l < layers; ++l)
      for (attrib::index c = 0; c < window; ++c) {
        attrib::hook_set patch;
        patch.replace(attrib::hook_point::resid_post(l), clean, {.rows = {}, .positions = {length - window + c}});
        f.hooks = &patch;
        const auto logits = model.forward(std::vector<std::vector<attrib::token_id>>{pair.false_prompt}, f)[0];
        naive(l, c) += (static_cast<double>(logits(0, 0)) - logits(0, 1)) / static_cast<double>(pairs.pairs.size());
      }
  }
  const double naive_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - naive_start).count();
  attrib::knowledge_trace trace;
  const auto trace_start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    trace = attrib::trace_knowledge(model, "base", model, "base", pairs);
    benchmark::DoNotOptimize(trace.mean_effect.data());
  }
  const double trace_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - trace_start).count() /
                               static_cast<double>(state.iterations());
  // Token-layers: per-cell forwards run every layer over every token, plus the clean recording;
  // trace_knowledge records the prompts' tails after a shared context (and each distinct context
  // once), then a patch at (l, c) runs layers l+1.. over positions c.. of the window (the last
  // layer at the last position only, which this count overstates).
  const double cells = static_cast<double>(layers * window);
  const double naive_work = static_cast<double>(pairs.pairs.size()) * (cells + 1.0) * static_cast<double>(layers * length);
  std::set<std::vector<attrib::token_id>> contexts;
  for (const auto& p : pairs.pairs) contexts.insert({p.false_prompt.begin(), p.false_prompt.end() - window});
  double trace_work = static_cast<double>(contexts.size()) * static_cast<double>(layers * (length - window)) +
                      2.0 * static_cast<double>(pairs.pairs.size()) * static_cast<double>(layers * window);
  for (attrib::index l = 0; l < layers; ++l)
    for (attrib::index c = 0; c < window; ++c)
      trace_work += static_cast<double>(pairs.pairs.size()) * static_cast<double>((layers - l - 1) * (window - c));
  state.counters["pairs"] = static_cast<double>(pairs.pairs.size());
  state.counters["per_cell_forward_s"] = naive_seconds;
  state.counters["time_ratio"] = naive_seconds / trace_seconds;
  state.counters["token_layer_ratio"] = naive_work / trace_work;
  state.counters["max_difference"] = (trace.mean_effect - naive).cwiseAbs().maxCoeff();
}
BENCHMARK(BM_knowledge_trace_vs_per_cell_forward)->Arg(8)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

void BM_steered_generation_vs_recompute(benchmark::State& state) {
  static const auto wide = [] {
    attrib::transformer_config c;
    c.dim = 256;
    c.hidden_dim = 1024;
    c.n_layers = 4;
    c.n_heads = 8;
    c.n_kv_heads = 8;
    c.vocab_size = 4096;
    c.context_length = 256;
    return attrib::random_transformer_model(c, 11);
  }();
  const auto& model = state.range(0) == 0 ? stories() : wide;
  const attrib::index dim = model.config().dim;
  std::vector<attrib::token_id> prompt;
  attrib::rng gen(3);
  for (int i = 0; i < 40; ++i) prompt.push_back(static_cast<attrib::token_id>(1 + gen.below(500)));
  attrib::hook_set steer;
  const attrib::float_vector direction = attrib::float_vector::LinSpaced(dim, -0.5f, 0.5f);
  for (const attrib::index l : {1, 2}) steer.add(attrib::hook_point::resid_post(l), direction, 2.0f);
  attrib::generation_settings settings;
  settings.max_new_tokens = 16;
  const std::vector<std::vector<attrib::token_id>> prompts = {prompt};
  // The recomputing loop, timed over three runs.
  std::vector<attrib::token_id> recomputed;
  const auto start = std::chrono::steady_clock::now();
  for (int run = 0; run < 3; ++run) {
    recomputed = prompt;
    attrib::forward_options f;
    f.hooks = &steer;
    f.last_position_only = true;
    for (int step = 0; step < 16; ++step) {
      const auto logits = model.forward(std::vector<std::vector<attrib::token_id>>{recomputed}, f)[0];
      attrib::index best = 0;
      logits.row(0).maxCoeff(&best);
      recomputed.push_back(static_cast<attrib::token_id>(best));
    }
  }
  const double recompute_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / 3.0;
  std::vector<std::vector<attrib::token_id>> cached;
  const auto cached_start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    cached = attrib::generate(model, prompts, settings, &steer);
    benchmark::DoNotOptimize(cached.data());
  }
  const double cached_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - cached_start).count() /
                                static_cast<double>(state.iterations());
  state.counters["recompute_ms"] = 1e3 * recompute_seconds;
  state.counters["ratio"] = recompute_seconds / cached_seconds;
  state.counters["same_tokens"] = cached.front() == recomputed ? 1.0 : 0.0;
}
BENCHMARK(BM_steered_generation_vs_recompute)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK(BM_logit_variance_gram_vs_direct)
    ->Arg(0)
    ->Iterations(20)
    ->Unit(benchmark::kMillisecond)
    ->UseManualTime();
BENCHMARK(BM_logit_variance_gram_vs_direct)
    ->Arg(1)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseManualTime();

}  // namespace
