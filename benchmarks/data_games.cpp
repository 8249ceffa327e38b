// Exact leave-one-out by retraining, the ground truth that influence functions approximate:
// binary L2 logistic regression (l2 = 0.01) on standardized breast cancer, 80/20 split (455
// training, 114 validation rows), each of the 455 retrainings warm-started at the full-data
// optimum and run by Newton to a gradient max-norm of 1e-10, on one thread. The counter
// seconds_per_retraining is the time of one retraining; another benchmark compares the time of
// an influence score against it. BM_knn_shapley times exact KNN-Shapley (K = 5) on digits.
#include <benchmark/benchmark.h>

#include <string>

#include "attrib/games/data_game.hpp"
#include "attrib/io/csv.hpp"
#include "attrib/methods/data/knn_shapley.hpp"
#include "attrib/methods/data/semivalues.hpp"
#include "attrib/methods/data/training.hpp"

#ifndef ATTRIB_DATA_DIR
#define ATTRIB_DATA_DIR "data"
#endif

namespace {

void BM_loo_retraining(benchmark::State& state) {
  const auto data = attrib::read_sklearn_csv(std::string(ATTRIB_DATA_DIR) + "/breast_cancer/breast_cancer.csv");
  const attrib::index n_train = 455, n_valid = data.features.rows() - n_train;
  const auto scaling = attrib::standardizer::fit(data.features.topRows(n_train));
  const attrib::matrix x_train = scaling.transform(data.features.topRows(n_train));
  const attrib::matrix x_valid = scaling.transform(data.features.bottomRows(n_valid));
  const attrib::vector y_train = data.labels.head(n_train), y_valid = data.labels.tail(n_valid);
  const attrib::logistic_trainer trainer{.inputs = x_train.cols(), .options = {.l2 = 0.01}};
  const auto game = attrib::data_game(x_train, y_train, x_valid, y_valid, trainer, attrib::log_likelihood{});
  for (auto _ : state) {
    const attrib::attribution loo = attrib::leave_one_out{}.explain(game, {.threads = 1});
    benchmark::DoNotOptimize(loo.values.data());
  }
  state.counters["retrainings"] = static_cast<double>(n_train);
  state.counters["seconds_per_retraining"] =
      benchmark::Counter(static_cast<double>(n_train), benchmark::Counter::kIsIterationInvariantRate |
                                                           benchmark::Counter::kInvert);
}
BENCHMARK(BM_loo_retraining)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_knn_shapley(benchmark::State& state) {
  const auto table = attrib::read_csv(std::string(ATTRIB_DATA_DIR) + "/digits/digits.csv");
  const attrib::matrix& all = table.values;
  const attrib::index n_train = 1437, n_test = all.rows() - n_train, d = all.cols() - 1;
  const attrib::matrix x_train = all.topLeftCorner(n_train, d), x_test = all.bottomLeftCorner(n_test, d);
  const attrib::vector y_train = all.col(d).head(n_train), y_test = all.col(d).tail(n_test);
  for (auto _ : state) {
    const attrib::attribution a = attrib::knn_shapley(x_train, y_train, x_test, y_test, 5);
    benchmark::DoNotOptimize(a.values.data());
  }
  state.counters["test_points_per_second"] =
      benchmark::Counter(static_cast<double>(n_test), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_knn_shapley)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
