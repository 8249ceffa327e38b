#pragma once
// The k shortest simple paths between two nodes (Yen 1971), the path search of PaGE-Link: each
// candidate deviates from an accepted path at a spur node, with the accepted paths' next edges
// and the root's nodes removed, and a Dijkstra search completes it. Non-negative edge costs;
// directed adjacency lists (list an undirected edge in both directions).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <queue>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"
#include "attrib/graph/graph.hpp"

namespace attrib {

struct weighted_path {
  std::vector<index> nodes;  // source first, target last
  double cost = 0.0;
  friend bool operator==(const weighted_path&, const weighted_path&) = default;
};

// out[u] = list of (v, cost of u -> v).
using weighted_adjacency = std::vector<std::vector<std::pair<index, double>>>;

namespace detail {

// Dijkstra from `source` to `target` avoiding `blocked_nodes` and the edges in `blocked_edges`.
inline weighted_path dijkstra_path(const weighted_adjacency& out, index source, index target,
                                   const std::vector<char>& blocked_nodes,
                                   const std::set<std::pair<index, index>>& blocked_edges) {
  const auto n = static_cast<index>(out.size());
  std::vector<double> dist(static_cast<std::size_t>(n), std::numeric_limits<double>::infinity());
  std::vector<index> parent(static_cast<std::size_t>(n), -1);
  using item = std::pair<double, index>;
  std::priority_queue<item, std::vector<item>, std::greater<>> queue;
  dist[static_cast<std::size_t>(source)] = 0.0;
  queue.emplace(0.0, source);
  while (!queue.empty()) {
    const auto [d, u] = queue.top();
    queue.pop();
    if (d > dist[static_cast<std::size_t>(u)]) continue;
    if (u == target) break;
    for (const auto& [v, c] : out[static_cast<std::size_t>(u)]) {
      if (blocked_nodes[static_cast<std::size_t>(v)] || blocked_edges.count({u, v})) continue;
      const double nd = d + c;
      if (nd < dist[static_cast<std::size_t>(v)]) {
        dist[static_cast<std::size_t>(v)] = nd;
        parent[static_cast<std::size_t>(v)] = u;
        queue.emplace(nd, v);
      }
    }
  }
  weighted_path p;
  if (!std::isfinite(dist[static_cast<std::size_t>(target)])) return p;
  for (index v = target; v != -1; v = v == source ? -1 : parent[static_cast<std::size_t>(v)]) p.nodes.push_back(v);
  std::reverse(p.nodes.begin(), p.nodes.end());
  p.cost = dist[static_cast<std::size_t>(target)];
  return p;
}

inline double edge_cost(const weighted_adjacency& out, index u, index v) {
  double best = std::numeric_limits<double>::infinity();
  for (const auto& [w, c] : out[static_cast<std::size_t>(u)])
    if (w == v) best = std::min(best, c);
  return best;
}

}  // namespace detail

// Up to k loopless paths from source to target in order of cost (ties by node sequence).
inline std::vector<weighted_path> k_shortest_paths(const weighted_adjacency& out, index source, index target,
                                                   std::size_t k) {
  const auto n = static_cast<index>(out.size());
  detail::require(source >= 0 && source < n && target >= 0 && target < n,
                  "k_shortest_paths: source and target must be nodes 0.." + std::to_string(n - 1));
  detail::require(source != target, "k_shortest_paths: source and target must differ");
  for (std::size_t u = 0; u < out.size(); ++u)
    for (const auto& [v, c] : out[u]) {
      detail::require(v >= 0 && v < n, "k_shortest_paths: edge to node " + std::to_string(v) + " outside the graph");
      detail::require(c >= 0.0 && std::isfinite(c), "k_shortest_paths: edge costs must be finite and >= 0, got " +
                                                        std::to_string(c) + " on " + std::to_string(u) + " -> " +
                                                        std::to_string(v));
    }
  std::vector<weighted_path> accepted;
  if (k == 0) return accepted;
  std::vector<char> none(static_cast<std::size_t>(n), 0);
  weighted_path first = detail::dijkstra_path(out, source, target, none, {});
  if (first.nodes.empty()) return accepted;
  accepted.push_back(std::move(first));
  const auto order = [](const weighted_path& a, const weighted_path& b) {
    return a.cost != b.cost ? a.cost < b.cost : a.nodes < b.nodes;
  };
  std::set<weighted_path, decltype(order)> candidates(order);
  while (accepted.size() < k) {
    const weighted_path& last = accepted.back();
    for (std::size_t i = 0; i + 1 < last.nodes.size(); ++i) {
      const index spur = last.nodes[i];
      const std::vector<index> root(last.nodes.begin(), last.nodes.begin() + static_cast<std::ptrdiff_t>(i + 1));
      std::set<std::pair<index, index>> blocked_edges;
      for (const auto& p : accepted)
        if (p.nodes.size() > i + 1 && std::equal(root.begin(), root.end(), p.nodes.begin()))
          blocked_edges.insert({p.nodes[i], p.nodes[i + 1]});
      std::vector<char> blocked(static_cast<std::size_t>(n), 0);
      for (std::size_t r = 0; r < i; ++r) blocked[static_cast<std::size_t>(root[r])] = 1;
      const weighted_path spur_path = detail::dijkstra_path(out, spur, target, blocked, blocked_edges);
      if (spur_path.nodes.empty()) continue;
      weighted_path total;
      total.nodes = root;
      total.nodes.insert(total.nodes.end(), spur_path.nodes.begin() + 1, spur_path.nodes.end());
      for (std::size_t r = 0; r + 1 < root.size(); ++r) total.cost += detail::edge_cost(out, root[r], root[r + 1]);
      total.cost += spur_path.cost;
      candidates.insert(std::move(total));
    }
    // The cheapest candidate not yet accepted.
    while (!candidates.empty() &&
           std::find(accepted.begin(), accepted.end(), *candidates.begin()) != accepted.end())
      candidates.erase(candidates.begin());
    if (candidates.empty()) break;
    accepted.push_back(*candidates.begin());
    candidates.erase(candidates.begin());
  }
  return accepted;
}

// Both directions of every edge of an attrib::graph, with cost(u, v, edge properties).
template <class Cost>
weighted_adjacency weighted_adjacency_of(const graph& g, Cost&& cost) {
  weighted_adjacency out(boost::num_vertices(g));
  for (auto [e, end] = boost::edges(g); e != end; ++e) {
    const auto u = static_cast<index>(boost::source(*e, g)), v = static_cast<index>(boost::target(*e, g));
    out[static_cast<std::size_t>(u)].emplace_back(v, cost(u, v, g[*e]));
    out[static_cast<std::size_t>(v)].emplace_back(u, cost(v, u, g[*e]));
  }
  return out;
}

}  // namespace attrib
