#pragma once
// Shared by the benchmarks: wall-clock timing and seeded random inputs.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdint>

#include "attrib/core/random.hpp"
#include "attrib/core/types.hpp"
#include "attrib/transformer/model/config.hpp"

namespace bench {

using clock_type = std::chrono::steady_clock;

inline double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

// Minor page faults of this process so far: each is a kernel entry (20-30 microseconds on a
// virtual machine), so a hot path that keeps allocating fresh pages shows here before it shows in
// time. Reported per call, it should stay flat when a call is repeated.
inline double minor_faults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_minflt);
}

// Seconds spent in a method and in its baseline over all iterations of a benchmark.
struct paired_seconds {
  double method = 0.0;
  double baseline = 0.0;
  double ratio() const { return method / baseline; }
};

// Runs `method` and `baseline` alternately once per iteration, so that machine noise affects both
// alike; the method's time is the iteration time Google Benchmark reports (use UseManualTime).
template <class Method, class Baseline>
paired_seconds time_against_baseline(benchmark::State& state, Method&& method, Baseline&& baseline) {
  paired_seconds total;
  for (auto _ : state) {
    auto start = clock_type::now();
    method();
    const double t = seconds_since(start);
    total.method += t;
    start = clock_type::now();
    baseline();
    total.baseline += seconds_since(start);
    state.SetIterationTime(t);
  }
  return total;
}

// A rows x cols matrix of standard normal draws from rng(seed).
// GPT-2 small's shape (124M parameters with 12 layers); fewer layers for benchmarks that read
// one layer alone.
inline attrib::transformer_config gpt2_small_shape(attrib::index layers = 12) {
  attrib::transformer_config c;
  c.architecture = attrib::transformer_architecture::gpt2;
  c.dim = 768;
  c.hidden_dim = 3072;
  c.n_layers = layers;
  c.n_heads = 12;
  c.n_kv_heads = 12;
  c.vocab_size = 50257;
  c.context_length = 1024;
  return c;
}

inline attrib::matrix random_rows(attrib::index rows, attrib::index cols, std::uint64_t seed) {
  attrib::rng random(seed);
  attrib::matrix m(rows, cols);
  for (attrib::index r = 0; r < rows; ++r)
    for (attrib::index c = 0; c < cols; ++c) m(r, c) = random.normal();
  return m;
}

}  // namespace bench
