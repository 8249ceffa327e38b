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
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "common.hpp"
#include "attrib/studies/entropy_neurons.hpp"
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
  static const auto m = [] {
    attrib::transformer_config c;
    c.architecture = attrib::transformer_architecture::gpt2;
    c.dim = 768;
    c.hidden_dim = 3072;
    c.n_layers = 1;
    c.n_heads = 12;
    c.n_kv_heads = 12;
    c.vocab_size = 50257;
    c.context_length = 1024;
    return attrib::random_transformer_model(c, 2024);
  }();
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
