// Component attribution against its baselines, timed in the same run (issue #13, item 7).
//
// BM_attribution_patching_vs_forward: every head of stories260K (5 layers x 8 heads) scored by
// attribution patching - the component game's gradient at the grand coalition, one forward and
// one backward pass on the tape - against the unit it is priced in, one forward pass of the same
// prompt. forward_equivalents = attribution-patching time / forward time (the gradient alone;
// the goal is at most 3 for all heads at once); explain_forward_equivalents also counts the two
// game values attribution_patching.explain evaluates beside it (v(all), v(none)).
//
// BM_exact_head_ablation_vs_attribution_patching: the same 40 heads by occlusion, one forward pass
// per head plus one, batched 32 rows a pass - the exact values attribution patching estimates.
// ratio = occlusion time / attribution-patching time; max_abs_difference between the two.
//
// BM_occlusion_prefix_reuse: the same occlusion with each game value started at the layer of its
// ablated head (component_game_options::reuse_prefix, the default) against every value run from
// the embeddings. ratio = reuse time / full time; the ideal for heads spread evenly over L layers
// is about (L + 1) / (2 L) of the layer work (0.6 for 5 layers), plus the embedding and logits.
//
// BM_acdc_edges: ACDC over the 66 block edges of stories260K (68 game values), per prompt;
// BM_acdc_prefix_reuse: the same with and without prefix reuse (ratio; the circuits agree).
#include <benchmark/benchmark.h>

#include <filesystem>
#include <vector>

#include "attrib/games/component_game.hpp"
#include "attrib/games/edge_game.hpp"
#include "attrib/methods/component/acdc.hpp"
#include "attrib/methods/component/attribution_patching.hpp"
#include "attrib/methods/feature/occlusion.hpp"
#include "attrib/tokenizers/sentencepiece_bpe.hpp"
#include "attrib/transformer/loading/llama2c_loader.hpp"
#include "common.hpp"

#ifndef ATTRIB_DATA_DIR
#define ATTRIB_DATA_DIR "data"
#endif

namespace {

const attrib::transformer_model& stories() {
  static const auto m = attrib::load_llama2c_model(std::filesystem::path(ATTRIB_DATA_DIR) / "models" / "stories260K" /
                                                   "stories260K.bin");
  return m;
}

const attrib::sentencepiece_bpe& tokenizer() {
  static const auto t = attrib::load_llama2c_tokenizer(
      std::filesystem::path(ATTRIB_DATA_DIR) / "models" / "stories260K" / "tok512.bin",
      static_cast<std::size_t>(stories().config().vocab_size));
  return t;
}

const std::vector<attrib::token_id>& clean() {
  static const auto p = tokenizer().encode("Lily saw a big dog in the park. The", true);
  return p;
}

// The most likely next token after `prompt`.
attrib::token_id top_token(const std::vector<attrib::token_id>& prompt) {
  attrib::forward_options run;
  run.last_position_only = true;
  attrib::index best = 0;
  stories().forward(std::vector<std::vector<attrib::token_id>>{prompt}, run)[0].row(0).maxCoeff(&best);
  return static_cast<attrib::token_id>(best);
}

// Every head patched from the " cat" prompt; the value logit(clean top) - logit(corrupted top).
attrib::transformer_component_game head_game(bool reuse_prefix = true) {
  const auto corrupted = tokenizer().encode("Lily saw a big cat in the park. The", true);
  return attrib::transformer_component_game(stories(), clean(), attrib::every_head(stories().config()),
                                            {.ablation = attrib::ablation_kind::patch,
                                             .reference = {corrupted},
                                             .metric = {.target = top_token(clean()), .contrast = top_token(corrupted)},
                                             .reuse_prefix = reuse_prefix});
}

void BM_attribution_patching_vs_forward(benchmark::State& state) {
  const auto game = head_game();
  const attrib::matrix all = attrib::matrix::Ones(1, game.player_count());
  (void)game.gradients(all);  // decodes the weights once, outside the timing
  const std::vector<std::vector<attrib::token_id>> one{clean()};
  attrib::forward_options run;
  run.last_position_only = true;
  const auto seconds = bench::time_against_baseline(
      state, [&] { benchmark::DoNotOptimize(game.gradients(all)); },
      [&] { benchmark::DoNotOptimize(stories().forward(std::span<const std::vector<attrib::token_id>>(one), run)); });
  const auto start = bench::clock_type::now();
  for (int i = 0; i < 5; ++i) benchmark::DoNotOptimize(attrib::attribution_patching.explain(game));
  const double explain = bench::seconds_since(start) / 5.0;
  const double iterations = static_cast<double>(state.iterations());
  state.counters["heads"] = static_cast<double>(game.player_count());
  state.counters["forward_equivalents"] = seconds.ratio();
  state.counters["explain_forward_equivalents"] = explain / (seconds.baseline / iterations);
}
BENCHMARK(BM_attribution_patching_vs_forward)->Unit(benchmark::kMillisecond)->UseManualTime()->MinTime(0.5);

void BM_exact_head_ablation_vs_attribution_patching(benchmark::State& state) {
  const auto game = head_game();
  attrib::vector exact, estimate;
  const auto seconds = bench::time_against_baseline(
      state, [&] { exact = attrib::occlusion{}.explain(game).values; },
      [&] { estimate = attrib::attribution_patching.explain(game).values; });
  state.counters["ratio"] = seconds.ratio();
  state.counters["max_abs_difference"] = (exact - estimate).cwiseAbs().maxCoeff();
}
BENCHMARK(BM_exact_head_ablation_vs_attribution_patching)->Unit(benchmark::kMillisecond)->UseManualTime()->MinTime(0.5);

void BM_occlusion_prefix_reuse(benchmark::State& state) {
  const auto reuse = head_game(true), full = head_game(false);
  attrib::vector a, b;
  const auto seconds = bench::time_against_baseline(
      state, [&] { a = attrib::occlusion{}.explain(reuse).values; }, [&] { b = attrib::occlusion{}.explain(full).values; });
  state.counters["ratio"] = seconds.ratio();
  state.counters["max_abs_difference"] = (a - b).cwiseAbs().maxCoeff();  // 0: the same bits
}
BENCHMARK(BM_occlusion_prefix_reuse)->Unit(benchmark::kMillisecond)->UseManualTime()->MinTime(0.5);

attrib::transformer_edge_game edge_game(bool reuse_prefix) {
  const auto corrupted = tokenizer().encode("Lily saw a big cat in the park. The", true);
  return attrib::transformer_edge_game(stories(), clean(), attrib::every_edge(stories().config()),
                                       {.ablation = attrib::ablation_kind::patch,
                                        .reference = {corrupted},
                                        .metric = {.kind = attrib::component_metric_kind::kl_to_clean},
                                        .reuse_prefix = reuse_prefix});
}

void BM_acdc_edges(benchmark::State& state) {
  const auto game = edge_game(true);
  double kept = 0.0;
  for (auto _ : state) kept = attrib::acdc(game, {.threshold = 0.02}).kept.sum();
  state.counters["edges"] = static_cast<double>(game.player_count());
  state.counters["kept"] = kept;
}
BENCHMARK(BM_acdc_edges)->Unit(benchmark::kMillisecond)->MinTime(0.5);

// ACDC with each game value started at its first cut edge's receiver, against every layer.
void BM_acdc_prefix_reuse(benchmark::State& state) {
  const auto reuse = edge_game(true), full = edge_game(false);
  double a = 0.0, b = 0.0;
  const auto seconds = bench::time_against_baseline(
      state, [&] { a = attrib::acdc(reuse, {.threshold = 0.02}).kept.sum(); },
      [&] { b = attrib::acdc(full, {.threshold = 0.02}).kept.sum(); });
  state.counters["ratio"] = seconds.ratio();
  state.counters["same_circuit"] = a == b ? 1.0 : 0.0;
}
BENCHMARK(BM_acdc_prefix_reuse)->Unit(benchmark::kMillisecond)->UseManualTime()->MinTime(0.5);

}  // namespace
