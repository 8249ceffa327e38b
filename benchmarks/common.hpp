#pragma once
// Shared by the benchmarks: wall-clock timing and seeded random inputs.
#include <chrono>
#include <cstdint>

#include "attrib/core/random.hpp"
#include "attrib/core/types.hpp"

namespace bench {

using clock_type = std::chrono::steady_clock;

inline double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

// A rows x cols matrix of standard normal draws from rng(seed).
inline attrib::matrix random_rows(attrib::index rows, attrib::index cols, std::uint64_t seed) {
  attrib::rng random(seed);
  attrib::matrix m(rows, cols);
  for (attrib::index r = 0; r < rows; ++r)
    for (attrib::index c = 0; c < cols; ++c) m(r, c) = random.normal();
  return m;
}

}  // namespace bench
