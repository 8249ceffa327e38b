// Exact HN value (GStarX) by iteration on the values of connected coalitions, against the
// dense matrix-power definition where its (2^n - 1)^2 matrices fit (n <= 10 here; n = 16 would
// need 34 GB per matrix). The game is a cheap pseudo-random bitmask game, so the timings are the
// solver's; BM_hn_gcn adds a trained GCN's node-removal game on a MUTAG molecule. H-fidelity
// tables are examples/graph_explanation_table.cpp (scripts/graph_tables.sh).
// Graphs: "sparse" = a Barabasi-Albert tree plus a few chords (molecule-like), "dense" =
// Erdos-Renyi p = 0.5, "complete" = every pair (all 2^n - 1 coalitions connected).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "attrib/games/coalition_game.hpp"
#include "attrib/models/gnn/gcn.hpp"
#include "attrib/graph/generators.hpp"
#include "attrib/games/node_removal_game.hpp"
#include "attrib/graph/tu_dataset.hpp"
#include "../tests/reference/hn_matrix_power.hpp"  // the dense reference, not a public header
#include "attrib/methods/graph/hn_value.hpp"

#ifndef ATTRIB_DATA_DIR
#define ATTRIB_DATA_DIR "data"
#endif

namespace {

std::vector<std::uint64_t> make_graph(int n, int kind) {
  std::vector<std::uint64_t> nb(static_cast<std::size_t>(n), 0);
  attrib::rng r(static_cast<std::uint64_t>(100 + n));
  const auto link = [&](int a, int b) {
    if (a == b) return;
    nb[static_cast<std::size_t>(a)] |= std::uint64_t{1} << b;
    nb[static_cast<std::size_t>(b)] |= std::uint64_t{1} << a;
  };
  if (kind == 0) {  // tree by preferential attachment, then n/5 chords (rings, as in molecules)
    for (int i = 1; i < n; ++i) link(i, static_cast<int>(r.below(static_cast<std::uint64_t>(i))));
    for (int k = 0; k < n / 5; ++k)
      link(static_cast<int>(r.below(static_cast<std::uint64_t>(n))), static_cast<int>(r.below(static_cast<std::uint64_t>(n))));
  } else {
    const double p = kind == 1 ? 0.5 : 1.0;
    for (int i = 0; i < n; ++i)
      for (int j = i + 1; j < n; ++j)
        if (r.uniform() < p) link(i, j);
  }
  return nb;
}

auto random_game(int n) {
  return attrib::coalition_game(n, [](std::uint64_t m) {
    std::uint64_t s = m * 0x9E3779B97F4A7C15ull;
    return static_cast<double>(attrib::detail::splitmix64(s) >> 11) * 0x1.0p-53 - 0.5;
  });
}

void BM_hn_exact(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0)), kind = static_cast<int>(state.range(1));
  const auto nb = make_graph(n, kind);
  const auto game = random_game(n);
  attrib::hn_result r;
  for (auto _ : state) {
    r = attrib::hn_value{.tau = 0.01}.run(game, nb, {.threads = 2});
    benchmark::DoNotOptimize(r.values.values.data());
  }
  state.counters["connected"] = static_cast<double>(r.connected_coalitions);
  state.counters["iterations"] = static_cast<double>(r.iterations);
  state.counters["converged"] = r.values.fit.converged ? 1 : 0;
  state.SetLabel(kind == 0 ? "sparse" : kind == 1 ? "dense" : "complete");
}
BENCHMARK(BM_hn_exact)
    ->ArgsProduct({{10, 16, 20}, {0, 1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

// GStarX's own step (tau = 0.01, no fast step) to a converged limit: the iteration count the
// fast step saves.
void BM_hn_exact_tau001(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const auto nb = make_graph(n, 0);
  const auto game = random_game(n);
  attrib::hn_result r;
  for (auto _ : state) {
    r = attrib::hn_value{.tau = 0.01, .fast_step = false}.run(game, nb, {.threads = 2});
    benchmark::DoNotOptimize(r.values.values.data());
  }
  state.counters["iterations"] = static_cast<double>(r.iterations);
  state.counters["converged"] = r.values.fit.converged ? 1 : 0;
}
BENCHMARK(BM_hn_exact_tau001)->Arg(16)->Arg(20)->Unit(benchmark::kMillisecond)->Iterations(1);

// The dense definition as GStarX runs it: H = P M P, 7 squarings (H^128).
void BM_hn_matrix_power(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const auto nb = make_graph(n, 0);
  const auto game = random_game(n);
  for (auto _ : state) {
    const auto r = attrib::hn_matrix_power{.tau = 0.01, .max_squarings = 7, .threshold = 1e-3}.run(game, nb);
    benchmark::DoNotOptimize(r.values.data());
  }
}
BENCHMARK(BM_hn_matrix_power)->Arg(8)->Arg(10)->Unit(benchmark::kMillisecond)->Iterations(1);

// A trained GCN's node-removal game on the largest MUTAG molecule of <= 20 nodes.
void BM_hn_gcn(benchmark::State& state) {
  const auto mutag = attrib::read_tu_dataset(std::string(ATTRIB_DATA_DIR) + "/graphs/MUTAG", "MUTAG");
  std::vector<attrib::gcn_input> inputs;
  std::vector<int> labels;
  std::size_t pick = 0;
  for (std::size_t k = 0; k < mutag.graphs.size(); ++k) {
    inputs.push_back(attrib::make_gcn_input(mutag.graphs[k].structure));
    labels.push_back(mutag.graphs[k].label);
    const auto n = attrib::node_count(mutag.graphs[k].structure);
    if (n <= 20 && n > attrib::node_count(mutag.graphs[pick].structure)) pick = k;
  }
  attrib::gcn model({.inputs = 7, .hidden = 16, .layers = 3, .classes = 2}, 4);
  model.train(inputs, labels, {.epochs = 60, .learning_rate = 0.01, .seed = 5});
  const auto c = model.predict(inputs[pick]);
  const attrib::node_removal_game game(model, inputs[pick], c, attrib::average_probability(model, inputs, c));
  const auto nb = attrib::neighbor_masks(mutag.graphs[pick].structure);
  attrib::hn_result r;
  for (auto _ : state) {
    r = attrib::hn_value{.tau = 0.01}.run(game, nb, {.threads = 2});
    benchmark::DoNotOptimize(r.values.values.data());
  }
  state.counters["nodes"] = static_cast<double>(game.player_count());
  state.counters["connected"] = static_cast<double>(r.connected_coalitions);
  state.counters["iterations"] = static_cast<double>(r.iterations);
}
BENCHMARK(BM_hn_gcn)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
