#pragma once
// Evaluating a game on many points: fixed-size chunks spread over threads, so the values do
// not depend on the thread count, and progress reported as chunks finish.
#include <algorithm>
#include <atomic>
#include <mutex>
#include <string>

#include "attrib/concepts/game.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/parallel.hpp"
#include "attrib/core/run_settings.hpp"

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

template <game G>
vector evaluate_points(const G& g, const matrix& points, const run_settings& settings) {
  const index n = points.rows();
  vector out(n);
  if (n == 0) return out;
  const index chunk = chunk_points(g);
  const auto chunks = static_cast<std::size_t>((n + chunk - 1) / chunk);
  progress_counter progress(settings, static_cast<std::size_t>(n));
  parallel_for(chunks, settings.threads, [&](std::size_t c) {
    const index begin = static_cast<index>(c) * chunk;
    const index len = std::min(chunk, n - begin);
    const matrix block = points.middleRows(begin, len);
    const vector v = g.values(block);
    require(v.size() == len, "game returned " + std::to_string(v.size()) + " values for " +
                                 std::to_string(len) + " points");
    out.segment(begin, len) = v;
    progress.add(static_cast<std::size_t>(len));
  });
  for (index i = 0; i < n; ++i)
    if (!std::isfinite(out(i)))
      fail("game value at point " + std::to_string(i) + " is not finite (" + std::to_string(out(i)) + ")");
  return out;
}

// v(empty) and v(full).
template <game G>
std::pair<double, double> endpoint_values(const G& g) {
  matrix ends(2, g.player_count());
  ends.row(0).setZero();
  ends.row(1).setOnes();
  const vector v = g.values(ends);
  require(v.size() == 2 && std::isfinite(v(0)) && std::isfinite(v(1)),
          "game values at the empty and full coalitions must be finite");
  return {v(0), v(1)};
}

template <game G>
index require_players(const G& g, const std::string& method) {
  const index n = g.player_count();
  require(n >= 1, method + ": the game has " + std::to_string(n) + " players; expected at least 1");
  return n;
}

}  // namespace attrib::detail
