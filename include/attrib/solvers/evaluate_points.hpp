#pragma once
// Evaluating a game on many points, the one way every solver does it: fixed-size chunks spread
// over threads by parallel_chunks (so the values do not depend on the thread count), each chunk's
// values checked by checked_values, progress reported as chunks finish.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <mutex>
#include <string>

#include "attrib/concepts/game.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/parallel.hpp"
#include "attrib/core/run_settings.hpp"
#include "attrib/core/validate.hpp"

namespace attrib::detail {

// Points per chunk so that one chunk asks the model for about 4096 rows.
template <game G>
index chunk_points(const G& g) {
  return std::max<index>(1, 4096 / std::max<index>(1, model_evaluations_per_value(g)));
}

class progress_counter {
 public:
  progress_counter(const run_settings& settings, std::size_t total) : settings_(settings), total_(total) {}
  void add(std::size_t done) {
    const std::size_t now = done_.fetch_add(done) + done;
    if (!settings_.progress) return;
    std::lock_guard lock(mutex_);
    settings_.progress(now, total_);
  }

 private:
  const run_settings& settings_;
  std::size_t total_;
  std::atomic<std::size_t> done_{0};
  std::mutex mutex_;
};

// Values of `expected` points checked: the right count, every one finite. `first` numbers the
// points in messages (the chunk's offset in the whole batch); `what` names them ("point", "coalition").
inline void check_values(const vector& v, index expected, std::uint64_t first, const char* what) {
  if (v.size() != expected)
    fail("game returned " + std::to_string(v.size()) + " values for " + std::to_string(expected) + " points");
  if (all_finite(v)) return;
  for (index r = 0; r < v.size(); ++r)
    if (!std::isfinite(v(r)))
      fail(std::string("game value at ") + what + " " + std::to_string(first + static_cast<std::uint64_t>(r)) +
           " is not finite (" + std::to_string(v(r)) + ")");
}

// g.values(points), checked.
template <game G, class Points>
vector checked_values(const G& g, const Points& points, std::uint64_t first, const char* what = "point") {
  vector v = g.values(points);
  check_values(v, points.rows(), first, what);
  return v;
}

template <game G>
vector evaluate_points(const G& g, const matrix& points, const run_settings& settings) {
  const index n = points.rows();
  progress_counter progress(settings, static_cast<std::size_t>(n));
  if (n <= chunk_points(g)) {  // one chunk: the points themselves, without a copy
    vector out = checked_values(g, points, 0);
    progress.add(static_cast<std::size_t>(n));
    return out;
  }
  vector out(n);
  parallel_chunks(static_cast<std::uint64_t>(n), static_cast<std::uint64_t>(chunk_points(g)), settings.threads,
                  [&](std::size_t, std::uint64_t begin, std::uint64_t end) {
                    const auto b = static_cast<index>(begin), len = static_cast<index>(end - begin);
                    const matrix block = points.middleRows(b, len);
                    out.segment(b, len) = checked_values(g, block, begin);
                    progress.add(static_cast<std::size_t>(len));
                  });
  return out;
}

// v(empty) and v(full).
template <game G>
std::pair<double, double> endpoint_values(const G& g) {
  matrix ends(2, g.player_count());
  ends.row(0).setZero();
  ends.row(1).setOnes();
  const vector v = checked_values(g, ends, 0, "coalition (0: empty, 1: full)");
  return {v(0), v(1)};
}

template <game G>
index require_players(const G& g, const std::string& method) {
  const index n = g.player_count();
  if (n < 1) fail(method + ": the game has " + std::to_string(n) + " players; expected at least 1");
  return n;
}

}  // namespace attrib::detail
