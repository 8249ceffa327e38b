#pragma once
// explain_instances: one method, many instances, one call. Users rarely explain a single row:
// a test set, a table, every prompt of a study. Instance i's game comes from make_game(i), and
// the instances are spread over the worker pool (each explained on one thread: independent
// instances split more evenly than the coalitions of one, and need no synchronisation), so two
// cores explain a table about twice as fast as one.
//
// Results are those of the loop `for i: method.explain(make_game(i), settings)`, bit for bit, on
// any number of threads: every method's result is independent of its thread count, and each
// instance gets the caller's seed, as in the loop. With one instance, or one thread, the call is
// that loop, and the method may use the threads inside the instance.
#include <concepts>
#include <cstddef>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "attrib/core/attribution.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/parallel.hpp"
#include "attrib/core/run_settings.hpp"
#include "attrib/core/types.hpp"

namespace attrib {

// Explains instances first .. last-1 (a slice of a larger set: a rank's share of a distributed
// run, attrib/mpi/explain_instances.hpp) and returns their results in order; messages name the
// instance by its number in the whole set. make_game is called from several threads at once, so
// it must only read shared state (as building a game from a model, a data row and a baseline
// does). settings.progress, if set, is called with (instances done, instances in the slice) -
// from the worker that finished one, under a lock - instead of per game evaluation. An instance
// that throws stops the call; its error is rethrown with the instance named.
template <class Method, class MakeGame>
  requires requires(const Method& m, MakeGame& make, index i, const run_settings& s) {
    { m.explain(make(i), s) } -> std::same_as<attribution>;
  }
std::vector<attribution> explain_instances(const Method& method, index first, index last, MakeGame&& make_game,
                                           const run_settings& settings = {}) {
  detail::require(first >= 0 && first <= last, "explain_instances: the instances are " + std::to_string(first) +
                                                   " .. " + std::to_string(last) +
                                                   " (exclusive); expected 0 <= first <= last");
  std::vector<attribution> results(static_cast<std::size_t>(last - first));
  const std::size_t threads = resolve_threads(settings.threads);
  const bool across_instances = results.size() > 1 && threads > 1;
  run_settings per_instance = settings;
  per_instance.progress = nullptr;
  if (across_instances) per_instance.threads = 1;

  std::mutex progress_mutex;
  std::size_t done = 0;
  auto explain_one = [&](std::size_t i) {
    const index instance = first + static_cast<index>(i);
    try {
      results[i] = method.explain(make_game(instance), per_instance);
    } catch (const invalid_argument& e) {
      throw invalid_argument("instance " + std::to_string(instance) + ": " + e.what());
    } catch (const format_error& e) {
      throw format_error("instance " + std::to_string(instance) + ": " + e.what());
    }
    if (settings.progress) {
      std::lock_guard lock(progress_mutex);
      settings.progress(++done, results.size());
    }
  };
  if (across_instances)
    parallel_for(results.size(), threads, explain_one);
  else
    for (std::size_t i = 0; i < results.size(); ++i) explain_one(i);
  return results;
}

// Explains instances 0 .. count-1.
template <class Method, class MakeGame>
  requires requires(const Method& m, MakeGame& make, index i, const run_settings& s) {
    { m.explain(make(i), s) } -> std::same_as<attribution>;
  }
std::vector<attribution> explain_instances(const Method& method, index count, MakeGame&& make_game,
                                           const run_settings& settings = {}) {
  detail::require(count >= 0, "explain_instances: the instance count is " + std::to_string(count) +
                                  "; expected a non-negative number");
  return explain_instances(method, index{0}, count, make_game, settings);
}

}  // namespace attrib
