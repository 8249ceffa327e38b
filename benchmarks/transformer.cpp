// Transformer speed, as ratios measured within one run on one thread. Counters use the thread's
// CPU time (the GEMM reference too), so a busy machine slows both sides alike.
//
// BM_patching_sweep: the full activation-patching sweep over every (layer, resid_pre position) of
// stories260K on a 14-token story prompt pair that differs from position 5 on ("...a big dog in
// the park. The" / "...a big cat..."), efficient (patching.hpp) and naive (one full forward pass
// with a replace hook per cell). The efficient benchmark also times the naive sweep (best of 5)
// and reports efficient_over_naive (goal <= 0.25) and max_abs_difference (goal <= 1e-5); its
// argument turns skip_unchanged on (1) or off (0: every cell computed, even the no-op cells of
// the shared prefix).
//
// BM_prompt / BM_decode: prompt processing (one forward call over T tokens, logits of the last
// position only, as generate() does) and KV-cached greedy decoding (generate() from BOS, one
// token per call), for stories260K and for GPT-2 small with seeded random weights (the gpt2
// architecture at full size: d 768, 12 layers, 12 heads, GELU MLP 3072, vocab 50257, context
// 1024, learned positions, biases, tied embeddings: 124.4M parameters, 85.0M of them in the
// layers' matrices). Model FLOPs = 2 * P_layers * tokens + 2 * vocab * dim * logit_rows, where
// P_layers counts the matrices of the layers (norms, biases and attention scores are left out). The counters give the
// achieved GFLOP/s and its ratio to an Eigen float GEMM measured in the same process:
// gemm_ratio against a GEMM of the model's own shape (tokens x dim times dim x hidden_dim), and
// peak_ratio against a 512 x 768 x 3072 GEMM, the machine's FLOP limit for one thread.
#include <benchmark/benchmark.h>
#include <time.h>

#include <Eigen/Core>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "attrib/core/cpu_dispatch.hpp"
#include "attrib/core/random.hpp"
#include "common.hpp"
#include "attrib/tokenizers/sentencepiece_bpe.hpp"
#include "attrib/transformer/model/generate.hpp"
#include "attrib/transformer/loading/llama2c_loader.hpp"
#include "attrib/transformer/hooks/patching.hpp"
#include "attrib/transformer/model/random_model.hpp"

#ifdef ATTRIB_X86_DISPATCH
#include <immintrin.h>
#endif

#ifndef ATTRIB_DATA_DIR
#define ATTRIB_DATA_DIR "data"
#endif

namespace {

using attrib::index;
using attrib::token_id;

// CPU time of the calling thread. Everything here runs on one thread, and the machine may be
// shared: CPU time keeps the ratios meaningful when other processes take turns on the cores.
double thread_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

const std::filesystem::path model_dir =
    std::filesystem::path(ATTRIB_DATA_DIR) / "models" / "stories260K";

const attrib::transformer_model& stories() {
  static const auto m = attrib::load_llama2c_model(model_dir / "stories260K.bin");
  return m;
}

const attrib::sentencepiece_bpe& stories_tokenizer() {
  static const auto t = attrib::load_llama2c_tokenizer(model_dir / "tok512.bin", 512);
  return t;
}

const attrib::transformer_model& gpt2_shaped() {
  static const auto m = attrib::random_transformer_model(bench::gpt2_small_shape(), 2024);
  return m;
}

const attrib::transformer_model& model_for(int which) { return which == 0 ? stories() : gpt2_shaped(); }

double layer_params(const attrib::transformer_config& c) {
  const index mlp_matrices = c.architecture == attrib::transformer_architecture::gpt2 ? 2 : 3;
  return static_cast<double>(c.n_layers) *
         static_cast<double>(c.dim * (2 * c.dim + 2 * c.kv_dim()) + mlp_matrices * c.dim * c.hidden_dim);
}

double model_flops(const attrib::transformer_config& c, double tokens, double logit_rows) {
  return 2.0 * layer_params(c) * tokens +
         2.0 * static_cast<double>(c.vocab_size * c.dim) * logit_rows;
}

// GFLOP/s of Eigen's float GEMM (m x k) * (k x n), best of a few repetitions, measured once per
// shape in this process.
double gemm_gflops(index m, index k, index n) {
  static std::map<std::tuple<index, index, index>, double> measured;
  const auto key = std::make_tuple(m, k, n);
  if (const auto it = measured.find(key); it != measured.end()) return it->second;
  const Eigen::MatrixXf a = Eigen::MatrixXf::Random(m, k);
  const Eigen::MatrixXf b = Eigen::MatrixXf::Random(k, n);
  Eigen::MatrixXf c(m, n);
  const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(k) * static_cast<double>(n);
  const int repetitions = std::max(3, static_cast<int>(2e9 / flops));
  double best = 1e30;
  for (int r = 0; r < repetitions; ++r) {
    const double start = thread_seconds();
    c.noalias() = a * b;
    benchmark::DoNotOptimize(c.data());
    best = std::min(best, thread_seconds() - start);
  }
  return measured[key] = flops / best * 1e-9;
}

// The processor's float FMA peak on one thread: twelve independent chains of fused
// multiply-adds (enough to hide their latency) on the widest registers it has. Eigen's GEMM
// above is built, like every benchmark, for baseline x86-64 (SSE2, no FMA), which the model's
// float products pass on an AVX2 processor (they choose their kernels at run time); this is the
// ceiling that neither can pass.
#ifdef ATTRIB_X86_DISPATCH
// One kernel per register width: vector types cannot cross a function boundary whose target
// lacks them. Each returns the best of five runs of 2M iterations over the twelve chains.
constexpr long fma_iterations = 2'000'000;

ATTRIB_TARGET_AVX2_FMA double fma_peak_avx2() {
  double best = 1e30;
  for (int repetition = 0; repetition < 5; ++repetition) {
    __m256 acc[12];
    for (auto& a : acc) a = _mm256_set1_ps(1.0f);
    const __m256 scale = _mm256_set1_ps(0.999999f), shift = _mm256_set1_ps(1e-7f);
    const double begin = thread_seconds();
    for (long i = 0; i < fma_iterations; ++i)
#pragma GCC unroll 12
      for (auto& a : acc) a = _mm256_fmadd_ps(a, scale, shift);
    best = std::min(best, thread_seconds() - begin);
    benchmark::DoNotOptimize(acc);
  }
  return 2.0 * 12 * 8 * static_cast<double>(fma_iterations) / best * 1e-9;
}

ATTRIB_AVX512_WARNINGS_OFF
ATTRIB_TARGET_AVX512 double fma_peak_avx512() {
  double best = 1e30;
  for (int repetition = 0; repetition < 5; ++repetition) {
    __m512 acc[12];
    for (auto& a : acc) a = _mm512_set1_ps(1.0f);
    const __m512 scale = _mm512_set1_ps(0.999999f), shift = _mm512_set1_ps(1e-7f);
    const double begin = thread_seconds();
    for (long i = 0; i < fma_iterations; ++i)
#pragma GCC unroll 12
      for (auto& a : acc) a = _mm512_fmadd_ps(a, scale, shift);
    best = std::min(best, thread_seconds() - begin);
    benchmark::DoNotOptimize(acc);
  }
  return 2.0 * 12 * 16 * static_cast<double>(fma_iterations) / best * 1e-9;
}
ATTRIB_AVX512_WARNINGS_ON
#endif

// 0 where the processor has no vector FMA (or is not x86-64).
double fma_peak_gflops() {
  static const double peak = [] {
#ifdef ATTRIB_X86_DISPATCH
    if (attrib::detail::has_avx512f()) return fma_peak_avx512();
    if (attrib::detail::has_avx2_fma()) return fma_peak_avx2();
#endif
    return 0.0;
  }();
  return peak;
}

void report_flops(benchmark::State& state, const attrib::transformer_config& c, double flops,
                  double seconds, index gemm_rows) {
  const double achieved = flops / seconds * 1e-9;
  const double shaped = gemm_gflops(gemm_rows, c.dim, c.hidden_dim);
  const double peak = gemm_gflops(512, 768, 3072);
  state.counters["model_gflops"] = achieved;
  state.counters["gemm_gflops"] = shaped;
  state.counters["peak_gemm_gflops"] = peak;
  state.counters["gemm_ratio"] = achieved / shaped;
  state.counters["peak_ratio"] = achieved / peak;
  if (const double fma = fma_peak_gflops(); fma > 0) {
    state.counters["fma_peak_gflops"] = fma;
    state.counters["fma_peak_ratio"] = achieved / fma;
  }
}

// ---- activation patching -----------------------------------------------------------------------

struct sweep_case {
  std::vector<token_id> clean, corrupt;
  attrib::patching_sweep_options options;
};

const sweep_case& sweep() {
  static const sweep_case s = [] {
    sweep_case s;
    s.clean = stories_tokenizer().encode("Lily saw a big dog in the park. The");
    s.corrupt = stories_tokenizer().encode("Lily saw a big cat in the park. The");
    s.options.point = attrib::hook_kind::resid_pre;
    s.options.logit_tokens = {stories_tokenizer().encode("dog", false)[0],
                              stories_tokenizer().encode("cat", false)[0]};
    return s;
  }();
  return s;
}

void BM_patching_sweep_naive(benchmark::State& state) {
  const auto& s = sweep();
  for (auto _ : state) {
    auto r = attrib::naive_activation_patching_sweep(stories(), s.clean, s.corrupt, s.options);
    benchmark::DoNotOptimize(r.logits.data());
  }
  state.counters["cells"] = static_cast<double>(stories().config().n_layers * static_cast<index>(s.clean.size()));
}
BENCHMARK(BM_patching_sweep_naive)->Unit(benchmark::kMillisecond)->UseRealTime();

// Arg: skip_unchanged (1: cells whose clean activation equals the corrupted one are not computed;
// 0: every cell is computed).
void BM_patching_sweep_efficient(benchmark::State& state) {
  const auto& s = sweep();
  auto options = s.options;
  options.skip_unchanged = state.range(0) != 0;
  // The naive sweep, timed here too so that the ratio comes from one process.
  double naive = 1e30;
  attrib::patching_sweep_result reference;
  for (int r = 0; r < 5; ++r) {
    const double start = thread_seconds();
    reference = attrib::naive_activation_patching_sweep(stories(), s.clean, s.corrupt, s.options);
    naive = std::min(naive, thread_seconds() - start);
  }
  double best = 1e30;
  attrib::patching_sweep_result result;
  for (auto _ : state) {
    const double start = thread_seconds();
    result = attrib::activation_patching_sweep(stories(), s.clean, s.corrupt, options);
    best = std::min(best, thread_seconds() - start);
    benchmark::DoNotOptimize(result.logits.data());
  }
  state.counters["cells"] = static_cast<double>(result.logits.rows());
  state.counters["naive_ms"] = naive * 1e3;
  state.counters["efficient_ms"] = best * 1e3;
  state.counters["efficient_over_naive"] = best / naive;
  state.counters["max_abs_difference"] = (result.logits - reference.logits).cwiseAbs().maxCoeff();
}
BENCHMARK(BM_patching_sweep_efficient)->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime();

// ---- prompt processing and decoding --------------------------------------------------------------

// Args: model (0 stories260K, 1 GPT-2 small with random weights), prompt tokens.
void BM_prompt(benchmark::State& state) {
  const auto& model = model_for(static_cast<int>(state.range(0)));
  const index tokens = state.range(1);
  std::vector<std::vector<token_id>> prompt(1);
  attrib::rng gen(7);
  prompt[0].push_back(1);
  while (static_cast<index>(prompt[0].size()) < tokens)
    prompt[0].push_back(static_cast<token_id>(3 + gen.below(static_cast<std::uint64_t>(model.config().vocab_size - 3))));
  attrib::forward_options options;
  options.last_position_only = true;
  double seconds = 0.0;
  for (auto _ : state) {
    const double start = thread_seconds();
    auto logits = model.forward(prompt, options);
    seconds += thread_seconds() - start;
    benchmark::DoNotOptimize(logits[0].data());
  }
  const double iterations = static_cast<double>(state.iterations());
  state.counters["tokens_per_second"] = static_cast<double>(tokens) * iterations / seconds;
  report_flops(state, model.config(), model_flops(model.config(), static_cast<double>(tokens), 1.0),
               seconds / iterations, tokens);
}
BENCHMARK(BM_prompt)->Args({0, 128})->Args({1, 128})->Unit(benchmark::kMillisecond)->UseRealTime();

// Args: model, generated tokens (from BOS, greedy, no stop token).
void BM_decode(benchmark::State& state) {
  const auto& model = model_for(static_cast<int>(state.range(0)));
  const index steps = state.range(1);
  const std::vector<std::vector<token_id>> prompt = {{1}};
  attrib::generation_settings settings;
  settings.max_new_tokens = steps;
  double seconds = 0.0;
  for (auto _ : state) {
    const double start = thread_seconds();
    auto out = attrib::generate(model, prompt, settings);
    seconds += thread_seconds() - start;
    benchmark::DoNotOptimize(out[0].data());
  }
  const double iterations = static_cast<double>(state.iterations());
  state.counters["tokens_per_second"] = static_cast<double>(steps) * iterations / seconds;
  // Each step runs one token through the layers and computes its full-vocabulary logits.
  report_flops(state, model.config(),
               model_flops(model.config(), static_cast<double>(steps), static_cast<double>(steps)),
               seconds / iterations, 1);
}
BENCHMARK(BM_decode)->Args({0, 256})->Args({1, 32})->Unit(benchmark::kMillisecond)->UseRealTime();

// The same prompt (Arg 1: tokens) or generation (Arg 1 = 0: 256 greedy tokens from BOS for
// stories260K, as llama2.c's run.c -n 256 does; 32 for GPT-2 small) on 1 and on 2
// threads, alternately, in wall time: the speed-up the worker pool gives, and minor page faults per
// call (flat from call to call when nothing is allocated afresh). Arg 0: model as above.
void BM_threads(benchmark::State& state) {
  const auto& model = model_for(static_cast<int>(state.range(0)));
  const index prompt_tokens = state.range(1);
  std::vector<std::vector<token_id>> prompt(1, std::vector<token_id>{1});
  attrib::rng gen(7);
  while (static_cast<index>(prompt[0].size()) < prompt_tokens)
    prompt[0].push_back(static_cast<token_id>(3 + gen.below(static_cast<std::uint64_t>(model.config().vocab_size - 3))));
  const index steps = prompt_tokens > 0 ? 0 : state.range(0) == 0 ? 256 : 32;
  auto run = [&](std::size_t threads) {
    if (steps > 0) {
      attrib::generation_settings settings;
      settings.max_new_tokens = steps;
      settings.threads = threads;
      benchmark::DoNotOptimize(attrib::generate(model, prompt, settings)[0].data());
    } else {
      attrib::forward_options options;
      options.last_position_only = true;
      options.threads = threads;
      benchmark::DoNotOptimize(model.forward(prompt, options)[0].data());
    }
  };
  run(1);
  run(2);  // warm: the pool's worker and every buffer exist before timing
  double one = 0.0, two = 0.0, faults = 0.0;
  for (auto _ : state) {
    auto start = bench::clock_type::now();
    const double faults_before = bench::minor_faults();
    run(1);
    one += bench::seconds_since(start);
    start = bench::clock_type::now();
    run(2);
    two += bench::seconds_since(start);
    faults += bench::minor_faults() - faults_before;
  }
  const double iterations = static_cast<double>(state.iterations());
  const double tokens = static_cast<double>(steps > 0 ? steps : prompt_tokens);
  state.counters["tokens_per_s_1_thread"] = tokens * iterations / one;
  state.counters["tokens_per_s_2_threads"] = tokens * iterations / two;
  state.counters["speedup_2_over_1"] = one / two;
  state.counters["minor_faults_per_call"] = faults / (2.0 * iterations);
}
BENCHMARK(BM_threads)->Args({0, 0})->Args({0, 128})->Args({1, 0})->Args({1, 128})
    ->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);

}  // namespace

BENCHMARK_MAIN();
