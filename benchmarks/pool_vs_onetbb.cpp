// attrib's worker pool against oneTBB's parallel_for (Debian's libtbb-dev), the same work in the
// same run: what one fork-join costs, and the speed-up of two threads over one, for chunk work
// from a few nanoseconds (a decode step's small products) to a hundred microseconds. Built only
// when CMake finds TBB; prints one table (best of 7 rounds, the rounds alternating the three).
//
// Why attrib keeps its own pool (docs/performance.md): at the grain the transformer and the
// coalition solvers use, the two cost the same within this machine's noise, while TBB would be a
// required dependency and its work stealing hands chunks to threads in no fixed order (attrib's
// determinism needs only fixed chunk boundaries, which TBB's simple partitioner also gives).
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>
#include <utility>
#include <vector>

#include "attrib/core/parallel.hpp"
#include "attrib/transformer/model/kernels.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

// Microseconds per call of `run`, best of `rounds` timings of `calls` calls.
template <class Run>
double best_us(int calls, Run&& run) {
  const auto start = clock_type::now();
  for (int i = 0; i < calls; ++i) run();
  return std::chrono::duration<double, std::micro>(clock_type::now() - start).count() / calls;
}

}  // namespace

int main() {
  std::vector<float> w(1 << 20, 0.5f), x(1 << 14, 1.0f), out(2);
  tbb::task_arena arena(2);
  std::printf("%-22s %10s %10s %10s %12s %12s\n", "work per chunk", "serial us", "attrib us", "oneTBB us",
              "attrib x2", "oneTBB x2");
  for (auto [len, reps] : {std::pair{8L, 1}, {256L, 1}, {1024L, 4}, {4096L, 16}, {4096L, 256}}) {
    auto chunk = [&, len = len, reps = reps](std::size_t c) {
      float s = 0;
      for (int r = 0; r < reps; ++r)
        s += attrib::detail::kernels::dot(x.data(), w.data() + static_cast<long>(c) * len, len);
      out[c] += s;
    };
    auto serial = [&] {
      chunk(0);
      chunk(1);
    };
    auto ours = [&] { attrib::parallel_for(2, 2, chunk); };
    auto theirs = [&] {
      arena.execute([&] {
        tbb::parallel_for(tbb::blocked_range<std::size_t>(0, 2, 1),
                          [&](const tbb::blocked_range<std::size_t>& r) {
                            for (std::size_t c = r.begin(); c != r.end(); ++c) chunk(c);
                          },
                          tbb::simple_partitioner());
      });
    };
    const int calls = static_cast<int>(std::max<long>(20, 200000 / (1 + len * reps / 64)));
    double t_serial = std::numeric_limits<double>::infinity(), t_ours = t_serial, t_theirs = t_serial;
    ours();  // start both pools' threads
    theirs();
    for (int round = 0; round < 7; ++round) {
      t_serial = std::min(t_serial, best_us(calls, serial));
      t_ours = std::min(t_ours, best_us(calls, ours));
      t_theirs = std::min(t_theirs, best_us(calls, theirs));
    }
    char label[32];
    std::snprintf(label, sizeof label, "%ld floats x %d", len, reps);
    std::printf("%-22s %10.3f %10.3f %10.3f %12.2f %12.2f\n", label, t_serial, t_ours, t_theirs, t_serial / t_ours,
                t_serial / t_theirs);
  }
  std::printf("(checksum %g)\n", static_cast<double>(out[0] + out[1]));
}
