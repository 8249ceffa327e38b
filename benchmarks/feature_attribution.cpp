// Speed of the perturbation methods against their physical floor, measured in the same run.
// Every benchmark times the method and its baseline alternately inside one loop and reports
// ratio = method time / baseline time, so machine noise affects both alike.
//
//   BM_exact_shapley_cheap_game/n   exact Shapley on a game whose value costs O(1), against a
//                                   hand-written bitmask loop doing the same accumulation
//   BM_exact_shapley_mlp            exact Shapley of a 13-input MLP (2^13 coalitions), against
//                                   the 2^13 model evaluations alone (batched predict)
//   BM_exact_shapley_wine_logit     exact Shapley of the 13-16-16-3 wine-shaped MLP's class-0 logit
//                                   (zero baseline) per instance, on 1 and 2 threads, against its
//                                   own 8192 coalition rows predicted alone
//   BM_kernel_shap_mlp/background   KernelSHAP on the same MLP, against predicting the same
//                                   number of rows alone; the ratio - 1 is the library overhead
#include <benchmark/benchmark.h>

#include "common.hpp"

#include <bit>
#include <chrono>
#include <cstdint>
#include <vector>

#include "attrib/games/coalition_game.hpp"
#include "attrib/games/perturbed_model.hpp"
#include "attrib/methods/feature/shapley.hpp"
#include "attrib/models/mlp.hpp"

namespace {

using bench::random_rows;

// A cheap game: v(S) = (sum of the player ids in S) mod 7, plus |S|.
double cheap_value(std::uint64_t mask) {
  return static_cast<double>((mask * 0x9E3779B97F4A7C15ull) >> 61) + std::popcount(mask);
}

// The floor for exact Shapley on a cheap game: one pass over the bitmasks, phi_i accumulating
// v(S) (a_s + b_s) over the coalitions containing i, written directly.
std::vector<double> bitmask_shapley(int n) {
  std::vector<double> inside(static_cast<std::size_t>(n + 1)), outside(inside.size());
  for (int s = 0; s <= n; ++s) {
    const double a = s >= 1 ? 1.0 / (n * attrib::detail::binomial(n - 1, s - 1)) : 0.0;
    const double b = s <= n - 1 ? 1.0 / (n * attrib::detail::binomial(n - 1, s)) : 0.0;
    inside[static_cast<std::size_t>(s)] = a + b;
    outside[static_cast<std::size_t>(s)] = b;
  }
  std::vector<double> phi(static_cast<std::size_t>(n), 0.0);
  double out = 0.0;
  for (std::uint64_t mask = 0; mask < (std::uint64_t{1} << n); ++mask) {
    const double v = cheap_value(mask);
    const int s = std::popcount(mask);
    const double c = v * inside[static_cast<std::size_t>(s)];
    out += v * outside[static_cast<std::size_t>(s)];
    for (std::uint64_t m = mask; m != 0; m &= m - 1) phi[static_cast<std::size_t>(std::countr_zero(m))] += c;
  }
  for (auto& p : phi) p -= out;
  return phi;
}

void BM_exact_shapley_cheap_game(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const auto threads = static_cast<std::size_t>(state.range(1));
  const auto game = attrib::coalition_game(n, cheap_value);
  const auto seconds = bench::time_against_baseline(
      state,
      [&] {
        auto a = attrib::exact_shapley{}.explain(game, {.threads = threads});
        benchmark::DoNotOptimize(a.values.data());
      },
      [&] {
        auto phi = bitmask_shapley(n);
        benchmark::DoNotOptimize(phi.data());
      });
  const double coalitions = std::ldexp(1.0, n) * static_cast<double>(state.iterations());
  state.counters["coalitions_per_s"] = coalitions / seconds.method;
  state.counters["baseline_coalitions_per_s"] = coalitions / seconds.baseline;
  state.counters["ratio"] = seconds.ratio();
}
BENCHMARK(BM_exact_shapley_cheap_game)
    ->ArgsProduct({{16, 20, 24}, {1, 2}})
    ->ArgNames({"n", "threads"})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3)
    ->UseManualTime();

// A wine-sized MLP: 13 inputs, two tanh layers of 32, softmax over 3 classes.
attrib::mlp wine_sized_mlp() {
  using attrib::activation;
  return attrib::mlp({{13, 32, activation::tanh}, {32, 32, activation::tanh}, {32, 3, activation::identity}},
                     attrib::output_head::softmax, 7);
}

// The same rows a masked model asks for, predicted in chunks of the same size.
void predict_alone(const attrib::mlp& model, const attrib::matrix& rows) {
  for (attrib::index begin = 0; begin < rows.rows(); begin += 4096) {
    const attrib::index len = std::min<attrib::index>(4096, rows.rows() - begin);
    const attrib::matrix chunk = rows.middleRows(begin, len);
    auto out = model.predict(chunk);
    benchmark::DoNotOptimize(out.data());
  }
}

void BM_exact_shapley_mlp(benchmark::State& state) {
  const auto model = wine_sized_mlp();
  const attrib::vector x = random_rows(1, 13, 1).row(0).transpose();
  const attrib::matrix baseline = random_rows(1, 13, 2);
  const auto game = attrib::masked_model(model, x, baseline, 0);
  const attrib::matrix rows = random_rows(8192, 13, 3);  // what 2^13 model evaluations cost
  const auto seconds = bench::time_against_baseline(
      state,
      [&] {
        auto a = attrib::exact_shapley{}.explain(game, {.threads = 1});
        benchmark::DoNotOptimize(a.values.data());
      },
      [&] { predict_alone(model, rows); });
  state.counters["model_evals"] = 8192;
  state.counters["ratio"] = seconds.ratio();
}
BENCHMARK(BM_exact_shapley_mlp)->Unit(benchmark::kMillisecond)->UseManualTime()->MinTime(1.0);

// The wine study's shape: 13-16-16-3 tanh MLP, class-0 logit, zero baseline, one instance per
// call. The floor is the game's own 8192 coalition rows, predicted in the same chunks; the
// figure to compare with other tools (benchmarks/baselines.sh) is microseconds per instance, and
// minor page faults per call should stay flat. Arg: threads.
void BM_exact_shapley_wine_logit(benchmark::State& state) {
  using attrib::activation;
  const attrib::mlp model({{13, 16, activation::tanh}, {16, 16, activation::tanh}, {16, 3, activation::identity}},
                          attrib::output_head::identity, 11);
  const attrib::vector x = random_rows(1, 13, 1).row(0).transpose();
  const auto game = attrib::masked_model(model, x, attrib::matrix::Zero(1, 13), 0);
  attrib::matrix rows(8192, 13);
  for (std::uint64_t mask = 0; mask < 8192; ++mask)
    for (attrib::index j = 0; j < 13; ++j) rows(static_cast<attrib::index>(mask), j) = ((mask >> j) & 1) ? x(j) : 0.0;
  const auto threads = static_cast<std::size_t>(state.range(0));
  const double faults_before = bench::minor_faults();
  const auto seconds = bench::time_against_baseline(
      state,
      [&] {
        auto a = attrib::exact_shapley{}.explain(game, {.threads = threads});
        benchmark::DoNotOptimize(a.values.data());
      },
      [&] { predict_alone(model, rows); });
  const double iterations = static_cast<double>(state.iterations());
  state.counters["us_per_instance"] = 1e6 * seconds.method / iterations;
  state.counters["ratio"] = seconds.ratio();
  state.counters["minor_faults_per_call"] = (bench::minor_faults() - faults_before) / iterations;
}
BENCHMARK(BM_exact_shapley_wine_logit)->Arg(1)->Arg(2)->ArgName("threads")->Unit(benchmark::kMillisecond)->UseManualTime()->MinTime(1.0);

void BM_kernel_shap_mlp(benchmark::State& state) {
  const auto model = wine_sized_mlp();
  const attrib::index background_rows = state.range(0);
  const attrib::vector x = random_rows(1, 13, 1).row(0).transpose();
  const attrib::matrix background = random_rows(background_rows, 13, 2);
  const auto game = attrib::masked_model(model, x, background, 0);
  const attrib::kernel_shap method{.solver = {.budget = 2048}};
  const auto probe = method.explain(game, {.seed = 1, .threads = 1});
  const attrib::matrix rows = random_rows(static_cast<attrib::index>(probe.model_evaluations), 13, 3);
  std::uint64_t seed = 0;
  const auto seconds = bench::time_against_baseline(
      state,
      [&] {
        auto a = method.explain(game, {.seed = ++seed, .threads = 1});
        benchmark::DoNotOptimize(a.values.data());
      },
      [&] { predict_alone(model, rows); });
  state.counters["model_evals"] = static_cast<double>(probe.model_evaluations);
  state.counters["ratio"] = seconds.ratio();
  state.counters["overhead_percent"] = 100.0 * (seconds.ratio() - 1.0);
}
BENCHMARK(BM_kernel_shap_mlp)->Arg(1)->Arg(10)->Arg(100)->ArgName("background")->Unit(benchmark::kMillisecond)->UseManualTime()->MinTime(1.0);

}  // namespace
