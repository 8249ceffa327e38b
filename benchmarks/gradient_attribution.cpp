// Gradient methods against their physical floor: the forward and backward passes they need.
// For a batch of 100 instances of a 13-16-16-3 MLP, Integrated Gradients with 50 Gauss-Legendre
// steps (and SmoothGrad with 50 samples) is timed against 100 direct calls of the model's
// batched vector-Jacobian product on 50 rows each, the same passes written by hand, in the same
// loop. ratio = method / floor; the goal is at most 1.2.
#include <benchmark/benchmark.h>

#include "common.hpp"

#include <chrono>
#include <vector>

#include "attrib/methods/feature/gradients.hpp"
#include "attrib/models/mlp.hpp"

namespace {

using bench::random_rows;

attrib::mlp mlp_13_16_16_3() {
  using attrib::activation;
  return attrib::mlp({{13, 16, activation::tanh}, {16, 16, activation::tanh}, {16, 3, activation::identity}},
                     attrib::output_head::softmax, 11);
}

// The floor: 100 hand-written batched forward+backward passes of 50 rows each, on the same
// rows the method evaluates (tanh costs depend on the input, so the rows must match).
std::vector<attrib::matrix> ig_rows(const attrib::matrix& instances, const attrib::vector& baseline) {
  const attrib::quadrature q = attrib::make_quadrature(attrib::quadrature_rule::gauss_legendre, 50);
  std::vector<attrib::matrix> rows;
  for (attrib::index i = 0; i < instances.rows(); ++i) {
    attrib::matrix path(50, instances.cols());
    for (attrib::index k = 0; k < 50; ++k)
      path.row(k) = baseline.transpose() + q.nodes[static_cast<std::size_t>(k)] * (instances.row(i) - baseline.transpose());
    rows.push_back(path);
  }
  return rows;
}

std::vector<attrib::matrix> noisy_rows(const attrib::matrix& instances, double sigma) {
  std::vector<attrib::matrix> rows;
  for (attrib::index i = 0; i < instances.rows(); ++i) {
    attrib::rng random(static_cast<std::uint64_t>(i));
    attrib::matrix noisy(50, instances.cols());
    for (attrib::index k = 0; k < 50; ++k)
      for (attrib::index c = 0; c < instances.cols(); ++c) noisy(k, c) = instances(i, c) + sigma * random.normal();
    rows.push_back(noisy);
  }
  return rows;
}

void direct_passes(const attrib::mlp& model, const std::vector<attrib::matrix>& rows) {
  attrib::matrix cotangent = attrib::matrix::Zero(50, 3);
  cotangent.col(0).setOnes();
  for (const auto& batch : rows) {
    auto g = model.vjp_inputs(batch, cotangent);
    benchmark::DoNotOptimize(g.data());
  }
}

void BM_integrated_gradients(benchmark::State& state) {
  const auto model = mlp_13_16_16_3();
  const attrib::matrix instances = random_rows(100, 13, 1);
  const attrib::vector baseline = attrib::vector::Zero(13);
  const attrib::integrated_gradients method{.neighborhood = {.rule = attrib::quadrature_rule::gauss_legendre, .steps = 50}};
  const auto rows = ig_rows(instances, baseline);
  const auto seconds = bench::time_against_baseline(
      state,
      [&] {
        for (attrib::index i = 0; i < instances.rows(); ++i) {
          const auto game = attrib::masked_model(std::cref(model), instances.row(i).transpose(), attrib::matrix(baseline.transpose()), 0);
          auto a = method.explain(game);
          benchmark::DoNotOptimize(a.values.data());
        }
      },
      [&] { direct_passes(model, rows); });
  state.counters["rows"] = 5000;
  state.counters["ratio"] = seconds.ratio();
}
BENCHMARK(BM_integrated_gradients)->Unit(benchmark::kMillisecond)->UseManualTime()->MinTime(1.0);

void BM_smoothgrad(benchmark::State& state) {
  const auto model = mlp_13_16_16_3();
  const attrib::matrix instances = random_rows(100, 13, 1);
  const attrib::smoothgrad method{.neighborhood = {.sigma = 0.1}, .solver = {.budget = 50}};
  const auto rows = noisy_rows(instances, 0.1);
  const auto seconds = bench::time_against_baseline(
      state,
      [&] {
        for (attrib::index i = 0; i < instances.rows(); ++i) {
          auto a = method.explain(attrib::noisy_model(std::cref(model), instances.row(i).transpose(), 0), {.seed = 1});
          benchmark::DoNotOptimize(a.values.data());
        }
      },
      [&] { direct_passes(model, rows); });
  state.counters["rows"] = 5000;
  state.counters["ratio"] = seconds.ratio();
}
BENCHMARK(BM_smoothgrad)->Unit(benchmark::kMillisecond)->UseManualTime()->MinTime(1.0);

}  // namespace
