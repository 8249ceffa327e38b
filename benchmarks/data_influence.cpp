// Data attribution against its ground truth and against its floor, timed in the same run.
//
// BM_influence_vs_loo: the influence of every training point on one test point (from the trained
// model: Hessian, LDLT, per-example gradients, one solve, one matrix-vector product) against exact
// leave-one-out retraining of the same model (warm-started Newton, one thread), on standardised
// breast cancer (455 training points, p = 31). speedup = LOO time / influence time; goal >= 1000.
//
// BM_influence_all_pairs: the same for all 114 test points at once (as GEMMs), against the
// final product alone; benchmarks/baselines.sh compares it with numpy's explicit-Hessian recipe.
//
// BM_trak_projection: G P for 4096 gradients of dimension p = 650 (digits' multinomial logistic
// regression) to k = 512, with P generated block by block, against a plain Eigen GEMM with a
// stored P of the same shape. fraction = GEMM time / projection time; goal >= 0.5.
#include <benchmark/benchmark.h>

#include "common.hpp"

#include <vector>

#include "attrib/io/train_test_split.hpp"
#include "attrib/io/csv.hpp"
#include "attrib/methods/data/evaluation.hpp"
#include "attrib/methods/data/influence.hpp"
#include "attrib/methods/data/trak.hpp"
#include "attrib/models/logistic_regression.hpp"

#ifndef ATTRIB_DATA_DIR
#define ATTRIB_DATA_DIR "data"
#endif

namespace {

using Idx = Eigen::Index;

// The trained model with the whole 80/20 split (455 training and 114 test points).
struct problem {
  attrib::matrix x, test_x;
  attrib::vector y, test_y;
  attrib::logistic_regression model{30, 1};
};

problem breast_cancer() {
  const auto d = attrib::read_sklearn_csv(ATTRIB_DATA_DIR "/breast_cancer/breast_cancer.csv");
  const attrib::dataset_split split = attrib::train_test_split(d, 0.8, 1);
  problem p;
  p.x = split.train.features;
  p.y = split.train.labels;
  p.test_x = split.test.features;
  p.test_y = split.test.labels;
  p.model.set_standardizer(attrib::standardizer::fit(p.x));
  p.model.train(p.x, p.y, {.l2 = 0.1});
  return p;
}

void BM_influence_vs_loo(benchmark::State& state) {
  problem p = breast_cancer();
  // One test point: exact LOO retrains once per training point, whatever the test set.
  p.test_x = attrib::matrix(p.test_x.topRows(1));
  p.test_y = attrib::vector(p.test_y.head(1));
  const auto seconds = bench::time_against_baseline(
      state,
      [&] {
        const attrib::explicit_inverse_hessian ih(p.model.hessian(p.x, p.y));
        const auto scores = attrib::influence(ih, p.model.per_example_loss_gradients(p.x, p.y),
                                              p.model.per_example_loss_gradients(p.test_x, p.test_y));
        benchmark::DoNotOptimize(scores.scores.data());
      },
      [&] {
        const attrib::matrix loo = attrib::exact_loo(p.model, p.x, p.y, p.test_x, p.test_y, 1);
        benchmark::DoNotOptimize(loo.data());
      });
  state.counters["points"] = static_cast<double>(p.x.rows());
  state.counters["loo_ms"] = 1e3 * seconds.baseline / static_cast<double>(state.iterations());
  state.counters["speedup"] = 1.0 / seconds.ratio();
}
BENCHMARK(BM_influence_vs_loo)->Unit(benchmark::kMicrosecond)->UseManualTime()->Iterations(5);

// Influence of all 455 training points on all 114 test points, from the trained model: Hessian,
// LDLT, per-example gradients of both sets, the solves and the 455 x 114 product. The floor is
// that last product alone (one GEMM of the same shapes); benchmarks/baselines.sh times numpy's
// explicit-Hessian recipe on the same shapes against us_per_call.
void BM_influence_all_pairs(benchmark::State& state) {
  const problem p = breast_cancer();
  const attrib::matrix train_g = p.model.per_example_loss_gradients(p.x, p.y);
  const attrib::matrix solved = p.model.per_example_loss_gradients(p.test_x, p.test_y);
  const auto seconds = bench::time_against_baseline(
      state,
      [&] {
        const attrib::explicit_inverse_hessian ih(p.model.hessian(p.x, p.y));
        const auto scores = attrib::influence(ih, p.model.per_example_loss_gradients(p.x, p.y),
                                              p.model.per_example_loss_gradients(p.test_x, p.test_y));
        benchmark::DoNotOptimize(scores.scores.data());
      },
      [&] {
        const attrib::matrix product = train_g * solved.transpose();
        benchmark::DoNotOptimize(product.data());
      });
  state.counters["train"] = static_cast<double>(p.x.rows());
  state.counters["test"] = static_cast<double>(p.test_x.rows());
  state.counters["us_per_call"] = 1e6 * seconds.method / static_cast<double>(state.iterations());
  state.counters["ratio"] = seconds.ratio();
}
BENCHMARK(BM_influence_all_pairs)->Unit(benchmark::kMicrosecond)->UseManualTime()->MinTime(1.0);

void BM_trak_projection(benchmark::State& state) {
  const Idx n = 4096, p = 650, k = 512;
  attrib::rng gen(3);
  attrib::matrix g(n, p);
  for (Idx i = 0; i < g.size(); ++i) g.data()[i] = gen.normal();
  const attrib::random_projection projection(p, k, 7, static_cast<attrib::projection_kind>(state.range(0)));
  const Eigen::MatrixXd stored = projection.materialize();
  const auto seconds = bench::time_against_baseline(
      state,
      [&] {
        const attrib::matrix phi = projection.project(g, 1);
        benchmark::DoNotOptimize(phi.data());
      },
      [&] {
        attrib::matrix plain(n, k);
        plain.noalias() = g * stored;
        benchmark::DoNotOptimize(plain.data());
      });
  state.SetLabel(state.range(0) == 0 ? "gaussian" : "rademacher");
  state.counters["fraction"] = 1.0 / seconds.ratio();
  state.counters["GFLOPS"] = 2.0 * static_cast<double>(n * p * k) * static_cast<double>(state.iterations()) /
                             seconds.method * 1e-9;
}
BENCHMARK(BM_trak_projection)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseManualTime()->MinTime(1.0);

}  // namespace
