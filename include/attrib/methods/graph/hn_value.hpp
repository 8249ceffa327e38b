#pragma once
// The Hamiache-Navarro (HN) value, the node score of GStarX (Zhang et al., NeurIPS 2022).
//
// With P the graph restriction (v/G(S) = sum of v over the components of G[S]) and M the
// associated game with surplus tau,
//   (M v)(S) = v(S) + tau * sum_{j not in S} [v(S u {j}) - v(S) - v({j})],
// the HN value is phi_i = (lim_k H^k v)({i}) with H = P M P. On a restricted game only graph
// neighbours j of S contribute (for any other j the bracket is 0), S u {j} is connected when S
// is, and a restricted game is fixed by its values on connected coalitions. So H maps the
// values on connected coalitions to themselves,
//   x'(S) = x(S) + tau * sum_{j in boundary(S)} [x(S u {j}) - x(S) - x({j})],   S connected,
// and the limit is computed by iterating this on a vector indexed by the connected coalitions:
// never a 2^n x 2^n matrix, and for sparse graphs far fewer than 2^n entries.
//
// H = I + tau * B with B independent of tau, so whenever the iteration converges its limit is
// the projection onto ker B along range B: the HN value does not depend on tau inside the
// valid range 0 < tau < 2/n (Hamiache 2001 for the complete graph, where B has eigenvalues
// -2, ..., -n; tests/test_graph.cpp checks the range on other graphs). GStarX stops at H^128
// with tau = 0.01, which is not yet the limit: max_iterations = 128 with tolerance = 0
// reproduces that truncation.
//
// Exact up to max_exact_nodes (default 20, at most 24); beyond, GStarX's estimate: exact HN
// values on seeded random connected subgraphs of sample_size nodes, averaged per node, drawing
// until every node is covered and at least n subgraphs are drawn.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "attrib/core/graph_attribution.hpp"
#include "attrib/concepts/game.hpp"
#include "attrib/core/attribution.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/parallel.hpp"
#include "attrib/core/random.hpp"
#include "attrib/core/run_settings.hpp"
#include "attrib/graph/components.hpp"
#include "attrib/graph/connected_sets.hpp"
#include "attrib/solvers/evaluate_points.hpp"

namespace attrib {

namespace detail {

// A game on `nodes.size()` players: local player k is node nodes[k] of the full game.
template <game G>
struct induced_subgame {
  const G* full;
  std::vector<index> nodes;
  index player_count() const { return static_cast<index>(nodes.size()); }
  vector values(const matrix& points) const {
    matrix rows = matrix::Zero(points.rows(), full->player_count());
    for (index r = 0; r < points.rows(); ++r)
      for (std::size_t k = 0; k < nodes.size(); ++k) rows(r, nodes[k]) = points(r, static_cast<index>(k));
    return full->values(rows);
  }
};

// The game's values on every connected coalition, in the order of sets.masks.
template <game G>
std::vector<double> connected_values(const G& g, const connected_sets& sets, std::size_t threads) {
  const std::size_t count = sets.size();
  std::vector<double> out(count);
  parallel_chunks(count, 256, threads, [&](std::size_t, std::uint64_t begin, std::uint64_t end) {
    if constexpr (bitmask_game<G>) {
      for (std::uint64_t k = begin; k < end; ++k) out[k] = static_cast<double>(g.value(sets.masks[k]));
    } else {
      const index n = g.player_count();
      matrix rows = matrix::Zero(static_cast<index>(end - begin), n);
      for (std::uint64_t k = begin; k < end; ++k)
        for (std::uint32_t m = sets.masks[k]; m != 0; m &= m - 1) rows(static_cast<index>(k - begin), std::countr_zero(m)) = 1.0;
      const vector v = checked_values(g, rows, begin, "connected coalition");
      for (std::uint64_t k = begin; k < end; ++k) out[k] = v(static_cast<index>(k - begin));
    }
  });
  for (std::size_t k = 0; k < count; ++k)
    if (!std::isfinite(out[k]))
      fail("hn_value: game value of coalition " + std::to_string(sets.masks[k]) + " is not finite");
  return out;
}

}  // namespace detail

struct hn_value {
  double tau = 0.01;                 // surplus share; valid range 0 < tau < 2/n
  double tolerance = 1e-10;          // stop when the estimated distance to the limit is below tolerance * max|v|
  std::size_t max_iterations = 100'000;
  index max_exact_nodes = 20;        // larger graphs are sampled
  index sample_size = 10;            // nodes per sampled subgraph (GStarX's max_sample_size)
  // The limit does not depend on tau, so by default the iteration steps with max(tau, 1/n),
  // which converges several times faster than GStarX's 0.01; false iterates with tau itself
  // (needed to reproduce a truncated H^k with max_iterations = k).
  bool fast_step = true;

  static constexpr const char* name = "hn_value";

  // The valid surplus range for an n-node graph: 0 < tau < 2/n.
  static double max_tau(index n) { return 2.0 / static_cast<double>(n); }

  // The HN value of `g` on the graph with neighbourhood bitmasks `neighbors` (n <= 64), or of
  // any graph given as adjacency lists when sampling (see explain_sampled).
  template <game G>
  hn_result run(const G& g, const std::vector<std::uint64_t>& neighbors, const run_settings& settings = {}) const {
    const index n = g.player_count();
    detail::require(n >= 1, "hn_value: the game has no players");
    detail::require(static_cast<index>(neighbors.size()) == n,
                    "hn_value: neighbors has " + std::to_string(neighbors.size()) + " entries, expected " +
                        std::to_string(n));
    check_tau(n <= max_exact_nodes ? n : std::min(n, sample_size));
    detail::require(max_exact_nodes >= 1 && max_exact_nodes <= connected_sets::max_nodes,
                    "hn_value: max_exact_nodes must be in [1, 24], got " + std::to_string(max_exact_nodes));
    if (n <= max_exact_nodes) return exact(g, neighbors, settings);
    std::vector<std::vector<index>> adjacency(static_cast<std::size_t>(n));
    for (index i = 0; i < n; ++i)
      for (std::uint64_t m = neighbors[static_cast<std::size_t>(i)]; m != 0; m &= m - 1)
        adjacency[static_cast<std::size_t>(i)].push_back(std::countr_zero(m));
    return sampled(g, adjacency, settings);
  }

  template <game G>
  attribution explain(const G& g, const std::vector<std::uint64_t>& neighbors, const run_settings& settings = {}) const {
    return run(g, neighbors, settings).values;
  }

  // GStarX's sampled estimate for graphs of any size, given as adjacency lists.
  template <game G>
  hn_result sampled(const G& g, const std::vector<std::vector<index>>& adjacency, const run_settings& settings = {}) const {
    const index n = g.player_count();
    detail::require(static_cast<index>(adjacency.size()) == n,
                    "hn_value: adjacency has " + std::to_string(adjacency.size()) + " entries, expected " + std::to_string(n));
    detail::require(sample_size >= 1 && sample_size <= connected_sets::max_nodes,
                    "hn_value: sample_size must be in [1, 24], got " + std::to_string(sample_size));
    for (const auto& list : adjacency)
      for (index j : list)
        detail::require(j >= 0 && j < n, "hn_value: adjacency names node " + std::to_string(j) + " outside 0.." +
                                             std::to_string(n - 1));
    // Draw the subgraphs first (cheap, sequential, seeded), then evaluate them in parallel.
    check_tau(std::min(n, sample_size));
    std::vector<std::vector<index>> samples;
    std::vector<char> covered(static_cast<std::size_t>(n), 0);
    index uncovered = n;
    rng random = rng::stream(settings.seed, 0x9a);
    while (uncovered > 0 || static_cast<index>(samples.size()) < n) {
      index start;
      if (uncovered > 0) {  // start at a uniformly drawn uncovered node, so coverage always grows
        auto pick = static_cast<index>(random.below(static_cast<std::uint64_t>(uncovered)));
        start = 0;
        for (index i = 0; i < n; ++i)
          if (!covered[static_cast<std::size_t>(i)] && pick-- == 0) { start = i; break; }
      } else {
        start = static_cast<index>(random.below(static_cast<std::uint64_t>(n)));
      }
      std::vector<index> nodes{start}, frontier;
      std::vector<char> in(static_cast<std::size_t>(n), 0);
      in[static_cast<std::size_t>(start)] = 1;
      for (index j : adjacency[static_cast<std::size_t>(start)]) frontier.push_back(j);
      while (static_cast<index>(nodes.size()) < sample_size) {
        std::erase_if(frontier, [&](index j) { return in[static_cast<std::size_t>(j)] != 0; });
        if (frontier.empty()) break;
        const index next = frontier[random.below(frontier.size())];
        in[static_cast<std::size_t>(next)] = 1;
        nodes.push_back(next);
        for (index j : adjacency[static_cast<std::size_t>(next)]) frontier.push_back(j);
      }
      std::sort(nodes.begin(), nodes.end());
      for (index i : nodes)
        if (!covered[static_cast<std::size_t>(i)]) {
          covered[static_cast<std::size_t>(i)] = 1;
          --uncovered;
        }
      samples.push_back(std::move(nodes));
    }
    std::vector<hn_result> parts(samples.size());
    const hn_value& inner = *this;
    parallel_for(samples.size(), settings.threads, [&](std::size_t s) {
      const auto& nodes = samples[s];
      std::vector<std::uint64_t> local(nodes.size(), 0);
      for (std::size_t a = 0; a < nodes.size(); ++a)
        for (index j : adjacency[static_cast<std::size_t>(nodes[a])]) {
          const auto b = std::lower_bound(nodes.begin(), nodes.end(), j);
          if (b != nodes.end() && *b == j) local[a] |= std::uint64_t{1} << (b - nodes.begin());
        }
      parts[s] = inner.exact(detail::induced_subgame<G>{&g, nodes}, local, run_settings{.seed = settings.seed, .threads = 1});
    });
    hn_result result;
    vector sum = vector::Zero(n), hits = vector::Zero(n);
    for (std::size_t s = 0; s < samples.size(); ++s) {
      for (std::size_t a = 0; a < samples[s].size(); ++a) {
        sum(samples[s][a]) += parts[s].values.values(static_cast<index>(a));
        hits(samples[s][a]) += 1.0;
      }
      result.iterations += parts[s].iterations;
      result.last_change = std::max(result.last_change, parts[s].last_change);
      result.connected_coalitions = std::max(result.connected_coalitions, parts[s].connected_coalitions);
      result.values.game_evaluations += parts[s].values.game_evaluations;
      result.values.fit.converged = result.values.fit.converged && parts[s].values.fit.converged;
    }
    result.samples = samples.size();
    result.values.method = "hn_value (sampled)";
    result.values.values = sum.array() / hits.array();
    result.values.model_evaluations =
        result.values.game_evaluations * static_cast<std::size_t>(model_evaluations_per_value(g));
    return result;
  }

  // The exact limit on an n <= 24 node graph.
  template <game G>
  hn_result exact(const G& g, const std::vector<std::uint64_t>& neighbors, const run_settings& settings = {}) const {
    const index n = g.player_count();
    check_tau(n);
    detail::require(static_cast<index>(neighbors.size()) == n,
                    "hn_value: neighbors has " + std::to_string(neighbors.size()) + " entries, expected " +
                        std::to_string(n));
    const std::uint64_t everyone = n == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << n) - 1;
    for (std::size_t i = 0; i < neighbors.size(); ++i) {
      detail::require((neighbors[i] & ~everyone) == 0 && !((neighbors[i] >> i) & 1u),
                      "hn_value: neighbors[" + std::to_string(i) + "] names itself or a node outside 0.." +
                          std::to_string(n - 1));
      for (std::uint64_t m = neighbors[i]; m != 0; m &= m - 1)
        detail::require((neighbors[static_cast<std::size_t>(std::countr_zero(m))] >> i) & 1u,
                        "hn_value: neighbors is not symmetric at node " + std::to_string(i));
    }
    const connected_sets sets(neighbors);
    std::vector<double> x = detail::connected_values(g, sets, settings.threads), next(x.size());
    std::vector<std::int32_t> single(static_cast<std::size_t>(n));
    for (index j = 0; j < n; ++j) single[static_cast<std::size_t>(j)] = sets.position[std::uint32_t{1} << j];
    double scale = 0.0, full_value = 0.0;
    for (double v : x) scale = std::max(scale, std::abs(v));
    const std::uint64_t all = (std::uint64_t{1} << n) - 1;
    for_each_component(neighbors, all, [&](std::uint64_t c) {
      full_value += x[static_cast<std::size_t>(sets.position[static_cast<std::uint32_t>(c)])];
    });
    const double target = tolerance * std::max(scale, std::numeric_limits<double>::min());

    const double step = fast_step ? std::max(tau, 1.0 / static_cast<double>(n)) : tau;
    const std::size_t count = x.size();
    constexpr std::size_t chunk = 1 << 14;
    const std::size_t chunks = count == 0 ? 0 : (count - 1) / chunk + 1;
    const std::size_t threads = count >= 4 * chunk ? settings.threads : 1;
    std::vector<double> chunk_change(chunks);
    hn_result result;
    result.values.fit.converged = false;
    double previous = std::numeric_limits<double>::infinity();
    for (std::size_t it = 0; it < max_iterations; ++it) {
      parallel_chunks(count, chunk, threads, [&](std::size_t c, std::uint64_t begin, std::uint64_t end) {
        double change = 0.0;
        for (std::size_t k = begin; k < end; ++k) {
          const std::uint32_t s = sets.masks[k];
          const double xs = x[k];
          double surplus = 0.0;
          for (std::uint32_t b = sets.boundary[k]; b != 0; b &= b - 1) {
            const int j = std::countr_zero(b);
            surplus += x[static_cast<std::size_t>(sets.position[s | (std::uint32_t{1} << j)])] - xs -
                       x[static_cast<std::size_t>(single[static_cast<std::size_t>(j)])];
          }
          next[k] = xs + step * surplus;
          change = std::max(change, std::abs(step * surplus));
        }
        chunk_change[c] = change;
      });
      x.swap(next);
      const double change = *std::max_element(chunk_change.begin(), chunk_change.end());
      result.iterations = it + 1;
      result.last_change = change;
      // Geometric convergence: the remaining distance is about change * r / (1 - r).
      const double ratio = change / previous;
      const bool estimable = std::isfinite(previous) && ratio < 1.0;
      previous = change;
      // Steps at the rounding level mean the limit is reached as closely as doubles allow.
      const bool rounding = change <= 32.0 * std::numeric_limits<double>::epsilon() * scale;
      if (change == 0.0 || rounding || (estimable && change * ratio / (1.0 - ratio) <= target)) {
        result.values.fit.converged = true;
        break;
      }
      if (!std::isfinite(change)) detail::fail("hn_value: the iteration diverged (tau = " + std::to_string(tau) + ")");
    }
    attribution& a = result.values;
    a.method = name;
    a.values.resize(n);
    for (index j = 0; j < n; ++j) a.values(j) = x[static_cast<std::size_t>(single[static_cast<std::size_t>(j)])];
    a.game_evaluations = sets.size();
    a.model_evaluations = sets.size() * static_cast<std::size_t>(model_evaluations_per_value(g));
    a.prediction = full_value;  // v/G(N): the HN value is efficient on every component
    a.base_value = 0.0;
    a.fit.exhaustive = true;
    a.fit.distinct_points = sets.size();
    result.connected_coalitions = sets.size();
    return result;
  }

 private:
  void check_tau(index n) const {
    detail::require(std::isfinite(tau) && tau > 0.0 && tau < max_tau(n),
                    "hn_value: tau must satisfy 0 < tau < 2/n = " + std::to_string(max_tau(n)) + " for n = " +
                        std::to_string(n) + ", got " + std::to_string(tau));
    detail::require(tolerance >= 0.0, "hn_value: tolerance must be >= 0, got " + std::to_string(tolerance));
  }
};

}  // namespace attrib
