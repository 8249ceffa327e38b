#pragma once
// SubgraphX (Yuan et al., ICML 2021) for graph classification: a Monte-Carlo tree search over
// connected subgraphs, each scored by a Monte-Carlo estimate of its Shapley value as one player.
//
// Search. The root is the whole graph. Expanding a subgraph prunes one node at a time (the
// expand_atoms nodes of lowest degree inside the subgraph first, as DIG's default high2low =
// false) and keeps the largest connected component of what remains, so every state is a
// connected subgraph; equal subgraphs reached along different paths are one state. A rollout
// descends by PUCT, Q + c_puct * P * sqrt(sum of the siblings' visits) / (1 + visits), with P
// the state's score and Q its mean backed-up reward, until a state of at most min_atoms nodes,
// whose score is backed up along the path.
//
// Score (DIG's mc_l_shapley). The subgraph C is one player; the other players are the nodes
// within local_radius - 1 hops of C, and nodes farther away are always present. For each of
// `samples` random orders of those players, S = the players before C:
//   score(C) = mean[ v(S u C u far) - v(S u far) ],
// with v the game (for the node-removal game the baseline cancels in the difference). Draws for
// the k-th state created come from rng::stream(seed, k), so a run is reproducible and does not
// depend on the thread count (threads only split the batch of model evaluations). A coalition
// drawn twice in one explanation is evaluated once.
//
// Result. best(max_nodes) is DIG's find_closest_node_result: among the scored subgraphs with at
// most max_nodes nodes, the highest score; GStarX evaluates SubgraphX at sparsity s with
// max_nodes = n (1 - s). node_scores turns the search into one ranking for methods that need
// scores: going through the sizes m of the scored subgraphs from small to large, the nodes of
// best(m) that are not ranked yet get n + 1 - m, so a node scores higher the smaller the best
// subgraph that first contains it; nodes in no best(m) get 0 (outside every explanation).
//
// Cost. Each new state costs up to 2 * samples model evaluations, and each rollout expands
// every unexpanded state on its way down (up to expand_atoms children each), so a rollout on an
// n-node graph costs up to (n - min_atoms) * expand_atoms * 2 * samples evaluations. DIG's
// defaults (20 rollouts, min_atoms 5, expand_atoms 14, 100 samples, radius 4, c_puct 10) take
// minutes per molecule on two cores; the members default to them, and a caller on a small
// machine lowers rollouts, expand_atoms and samples (examples/graph_explanation_table.cpp).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "attrib/concepts/game.hpp"
#include "attrib/concepts/graph_model.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/random.hpp"
#include "attrib/core/run_settings.hpp"
#include "attrib/core/types.hpp"
#include "attrib/games/node_removal_game.hpp"
#include "attrib/solvers/evaluate_points.hpp"

namespace attrib {

struct subgraphx_result {
  // Every state of the search in order of creation (the whole graph first), as sorted node ids.
  std::vector<std::vector<index>> subgraphs;
  // Each state's Monte-Carlo L-Shapley score; the whole graph is never scored (0, as in DIG).
  std::vector<double> scores;
  vector node_scores;                 // the ranking described in the header comment
  std::size_t game_evaluations = 0;   // distinct coalitions evaluated
  std::size_t rollouts = 0;

  // The highest-scoring subgraph with at most max_nodes nodes (the smallest one when none of
  // them scores above it): DIG's find_closest_node_result.
  std::vector<index> best(double max_nodes) const {
    detail::require(!subgraphs.empty(), "subgraphx_result::best: the result is empty");
    std::vector<std::size_t> order(subgraphs.size());
    for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return subgraphs[a].size() < subgraphs[b].size(); });
    std::size_t chosen = order.front();
    for (std::size_t k : order)
      if (static_cast<double>(subgraphs[k].size()) <= max_nodes && scores[k] > scores[chosen]) chosen = k;
    return subgraphs[chosen];
  }
};

struct subgraphx {
  static constexpr const char* name = "subgraphx";
  std::size_t rollouts = 20;   // MCTS iterations from the root
  index min_atoms = 5;         // states of at most this many nodes are leaves
  index expand_atoms = 14;     // children per expansion: prune one of this many lowest-degree nodes
  double c_puct = 10.0;        // exploration weight of the prior (the score) in PUCT
  index local_radius = 4;      // L: the players are the nodes within L - 1 hops of the subgraph
  std::size_t samples = 100;   // Monte-Carlo orders per score
  bool high_degree_first = false;  // DIG's high2low: prune high-degree nodes first

  // Any game whose players are the nodes of the graph with this adjacency (n x n, an edge where
  // an entry is > 0).
  template <game G>
  subgraphx_result explain(const G& g, const matrix& adjacency, const run_settings& settings = {}) const {
    check();
    const index n = g.player_count();
    detail::require(n >= 1, "subgraphx: the graph has no nodes; expected at least one");
    detail::require(adjacency.rows() == n && adjacency.cols() == n,
                    "subgraphx: adjacency is " + std::to_string(adjacency.rows()) + " x " +
                        std::to_string(adjacency.cols()) + ", expected " + std::to_string(n) + " x " +
                        std::to_string(n) + " (one row per player)");
    search<G> s(*this, g, adjacency, settings);
    return s.run();
  }

  // GStarX's game: the model's probability of target_class with only the subgraph kept.
  template <node_mask_model Model>
  subgraphx_result explain(const node_removal_game<Model>& g, const run_settings& settings = {}) const {
    return explain(g, g.input().adjacency, settings);
  }

  template <node_mask_model Model>
  subgraphx_result explain(const Model& model, const gcn_input& input, index target_class,
                           const run_settings& settings = {}) const {
    detail::require(input.node_count() >= 1, "subgraphx: the graph has no nodes; expected at least one");
    const index classes = static_cast<index>(vector(model.probabilities(input, vector::Ones(input.node_count()))).size());
    detail::require(target_class >= 0 && target_class < classes,
                    "subgraphx: target class " + std::to_string(target_class) + " is outside the model's classes 0.." +
                        std::to_string(classes - 1));
    return explain(node_removal_game<Model>(model, input, target_class), settings);
  }

 private:
  void check() const {
    detail::require(rollouts >= 1, "subgraphx: rollouts must be >= 1, got 0");
    detail::require(samples >= 1, "subgraphx: samples must be >= 1, got 0");
    detail::require(min_atoms >= 1, "subgraphx: min_atoms must be >= 1, got " + std::to_string(min_atoms));
    detail::require(expand_atoms >= 1, "subgraphx: expand_atoms must be >= 1, got " + std::to_string(expand_atoms));
    detail::require(local_radius >= 1, "subgraphx: local_radius must be >= 1, got " + std::to_string(local_radius));
    detail::require(std::isfinite(c_puct) && c_puct >= 0.0,
                    "subgraphx: c_puct must be finite and >= 0, got " + std::to_string(c_puct));
  }

  struct state {
    std::vector<index> nodes;  // sorted
    double score = 0.0, reward = 0.0;
    std::size_t visits = 0;
    std::vector<std::size_t> children;
    bool expanded = false, scored = false;
  };

  template <game G>
  struct search {
    const subgraphx& options;
    const G& game;
    const run_settings& settings;
    index n;
    std::vector<std::vector<index>> neighbors;
    std::vector<state> states;
    std::map<std::vector<index>, std::size_t> known;
    std::unordered_map<std::string, double> cache;

    search(const subgraphx& o, const G& g, const matrix& adjacency, const run_settings& s)
        : options(o), game(g), settings(s), n(g.player_count()), neighbors(static_cast<std::size_t>(n)) {
      for (index u = 0; u < n; ++u)
        for (index v = 0; v < n; ++v)
          if (u != v && adjacency(u, v) > 0.0) neighbors[static_cast<std::size_t>(u)].push_back(v);
    }

    std::size_t intern(std::vector<index> nodes) {
      const auto [it, fresh] = known.emplace(nodes, states.size());
      if (fresh) {
        states.emplace_back();
        states.back().nodes = std::move(nodes);
      }
      return it->second;
    }

    // The largest connected component of `nodes` without `removed` (ties: the one holding the
    // smallest node id), sorted.
    std::vector<index> largest_rest(const std::vector<index>& nodes, index removed) const {
      std::vector<char> inside(static_cast<std::size_t>(n), 0), seen(static_cast<std::size_t>(n), 0);
      for (index u : nodes) inside[static_cast<std::size_t>(u)] = 1;
      inside[static_cast<std::size_t>(removed)] = 0;
      std::vector<index> best, part, frontier;
      for (index start : nodes) {
        if (!inside[static_cast<std::size_t>(start)] || seen[static_cast<std::size_t>(start)]) continue;
        part.assign(1, start);
        seen[static_cast<std::size_t>(start)] = 1;
        for (std::size_t k = 0; k < part.size(); ++k)
          for (index v : neighbors[static_cast<std::size_t>(part[k])])
            if (inside[static_cast<std::size_t>(v)] && !seen[static_cast<std::size_t>(v)]) {
              seen[static_cast<std::size_t>(v)] = 1;
              part.push_back(v);
            }
        if (part.size() > best.size()) best = part;
      }
      std::sort(best.begin(), best.end());
      return best;
    }

    // Values of the rows, each coalition evaluated once per explanation.
    vector values(const matrix& rows) {
      std::vector<std::string> keys(static_cast<std::size_t>(rows.rows()));
      std::vector<index> fresh;
      for (index r = 0; r < rows.rows(); ++r) {
        std::string& key = keys[static_cast<std::size_t>(r)];
        key.resize(static_cast<std::size_t>(n));
        for (index i = 0; i < n; ++i) key[static_cast<std::size_t>(i)] = rows(r, i) > 0.5 ? '1' : '0';
        if (cache.emplace(key, 0.0).second) fresh.push_back(r);
      }
      if (!fresh.empty()) {
        matrix points(static_cast<index>(fresh.size()), n);
        for (std::size_t k = 0; k < fresh.size(); ++k) points.row(static_cast<index>(k)) = rows.row(fresh[k]);
        const vector v = detail::evaluate_points(game, points, run_settings{.seed = settings.seed, .threads = settings.threads});
        for (std::size_t k = 0; k < fresh.size(); ++k) cache[keys[static_cast<std::size_t>(fresh[k])]] = v(static_cast<index>(k));
      }
      vector out(rows.rows());
      for (index r = 0; r < rows.rows(); ++r) out(r) = cache.at(keys[static_cast<std::size_t>(r)]);
      return out;
    }

    double mc_l_shapley(std::size_t id) {
      const std::vector<index>& coalition = states[id].nodes;
      std::vector<char> in_coalition(static_cast<std::size_t>(n), 0), in_region(static_cast<std::size_t>(n), 0);
      for (index u : coalition) in_coalition[static_cast<std::size_t>(u)] = in_region[static_cast<std::size_t>(u)] = 1;
      std::vector<index> frontier = coalition;
      for (index hop = 1; hop < options.local_radius && !frontier.empty(); ++hop) {
        std::vector<index> next;
        for (index u : frontier)
          for (index v : neighbors[static_cast<std::size_t>(u)])
            if (!in_region[static_cast<std::size_t>(v)]) {
              in_region[static_cast<std::size_t>(v)] = 1;
              next.push_back(v);
            }
        frontier.swap(next);
      }
      std::vector<index> others;
      for (index u = 0; u < n; ++u)
        if (in_region[static_cast<std::size_t>(u)] && !in_coalition[static_cast<std::size_t>(u)]) others.push_back(u);
      const auto m = static_cast<index>(options.samples);
      // Row 2k: S u far; row 2k + 1: S u C u far.
      matrix rows(2 * m, n);
      rng random = rng::stream(settings.seed, id);
      std::vector<index> order = others;
      for (index k = 0; k < m; ++k) {
        random.shuffle(order.begin(), order.end());
        // C's place among the |others| + 1 players of a uniform random order.
        const auto before = static_cast<std::size_t>(random.below(others.size() + 1));
        for (index u = 0; u < n; ++u) rows(2 * k, u) = in_region[static_cast<std::size_t>(u)] ? 0.0 : 1.0;
        for (std::size_t p = 0; p < before; ++p) rows(2 * k, order[p]) = 1.0;
        rows.row(2 * k + 1) = rows.row(2 * k);
        for (index u : coalition) rows(2 * k + 1, u) = 1.0;
      }
      const vector v = values(rows);
      double total = 0.0;
      for (index k = 0; k < m; ++k) total += v(2 * k + 1) - v(2 * k);
      return total / static_cast<double>(m);
    }

    void expand(std::size_t id) {
      const std::vector<index> nodes = states[id].nodes;
      std::vector<char> inside(static_cast<std::size_t>(n), 0);
      for (index u : nodes) inside[static_cast<std::size_t>(u)] = 1;
      std::vector<std::pair<index, index>> by_degree;  // (degree inside, node)
      for (index u : nodes) {
        index degree = 0;
        for (index v : neighbors[static_cast<std::size_t>(u)]) degree += inside[static_cast<std::size_t>(v)];
        by_degree.emplace_back(degree, u);
      }
      std::stable_sort(by_degree.begin(), by_degree.end(), [&](const auto& a, const auto& b) {
        return options.high_degree_first ? a.first > b.first : a.first < b.first;
      });
      const std::size_t count = std::min(by_degree.size(), static_cast<std::size_t>(options.expand_atoms));
      std::vector<std::size_t> children;
      for (std::size_t k = 0; k < count; ++k) {
        const std::size_t child = intern(largest_rest(nodes, by_degree[k].second));
        if (std::find(children.begin(), children.end(), child) == children.end()) children.push_back(child);
      }
      for (std::size_t child : children)
        if (!states[child].scored) {
          const double score = mc_l_shapley(child);
          states[child].score = score;
          states[child].scored = true;
        }
      states[id].children = std::move(children);
      states[id].expanded = true;
    }

    void rollout() {
      std::vector<std::size_t> path;
      std::size_t current = 0;
      double reward = 0.0;
      for (;;) {
        if (static_cast<index>(states[current].nodes.size()) <= options.min_atoms) {
          reward = states[current].score;
          break;
        }
        if (!states[current].expanded) expand(current);
        const state& here = states[current];
        std::size_t visits = 0;
        for (std::size_t c : here.children) visits += states[c].visits;
        const double root = std::sqrt(static_cast<double>(visits));
        std::size_t chosen = here.children.front();
        double best = -std::numeric_limits<double>::infinity();
        for (std::size_t c : here.children) {
          const state& s = states[c];
          const double q = s.visits > 0 ? s.reward / static_cast<double>(s.visits) : 0.0;
          const double u = options.c_puct * s.score * root / (1.0 + static_cast<double>(s.visits));
          if (q + u > best) {
            best = q + u;
            chosen = c;
          }
        }
        path.push_back(chosen);
        current = chosen;
      }
      for (std::size_t s : path) {
        states[s].reward += reward;
        states[s].visits += 1;
      }
    }

    subgraphx_result run() {
      std::vector<index> all(static_cast<std::size_t>(n));
      for (index u = 0; u < n; ++u) all[static_cast<std::size_t>(u)] = u;
      intern(all);
      for (std::size_t r = 0; r < options.rollouts; ++r) rollout();
      subgraphx_result result;
      result.rollouts = options.rollouts;
      result.game_evaluations = cache.size();
      for (const state& s : states) {
        result.subgraphs.push_back(s.nodes);
        result.scores.push_back(s.score);
      }
      std::vector<std::size_t> sizes;
      for (const auto& s : result.subgraphs) sizes.push_back(s.size());
      std::sort(sizes.begin(), sizes.end());
      sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());
      result.node_scores = vector::Zero(n);
      for (std::size_t m : sizes)
        for (index u : result.best(static_cast<double>(m)))
          if (result.node_scores(u) == 0.0) result.node_scores(u) = static_cast<double>(n + 1) - static_cast<double>(m);
      return result;
    }
  };
};

}  // namespace attrib
