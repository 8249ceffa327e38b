#pragma once
// PaGE-Link's search space for explaining a predicted link (src, tgt): the union of the
// `hops`-hop computation graphs of both endpoints, pruned to its k-core with src and tgt always
// kept, i.e. the largest node set containing src and tgt in which every other node has at least
// k neighbours inside the set (found by repeatedly peeling nodes of lower degree).
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/graph/graph.hpp"

namespace attrib {

// Returns a 0/1 flag per node of g.
inline std::vector<char> link_search_space(const graph& g, index source, index target, index hops = 2, index k = 2) {
  const index n = node_count(g);
  detail::require(source >= 0 && source < n && target >= 0 && target < n,
                  "link_search_space: source and target must be nodes 0.." + std::to_string(n - 1));
  detail::require(hops >= 0 && k >= 0, "link_search_space: hops and k must be >= 0");
  // Nodes within `hops` of either endpoint.
  std::vector<index> depth(static_cast<std::size_t>(n), -1);
  std::deque<index> queue{source, target};
  depth[static_cast<std::size_t>(source)] = depth[static_cast<std::size_t>(target)] = 0;
  while (!queue.empty()) {
    const index u = queue.front();
    queue.pop_front();
    if (depth[static_cast<std::size_t>(u)] == hops) continue;
    for (auto [a, end] = boost::adjacent_vertices(static_cast<graph_node>(u), g); a != end; ++a) {
      const auto v = static_cast<std::size_t>(*a);
      if (depth[v] >= 0) continue;
      depth[v] = depth[static_cast<std::size_t>(u)] + 1;
      queue.push_back(static_cast<index>(v));
    }
  }
  std::vector<char> in(static_cast<std::size_t>(n), 0);
  for (index i = 0; i < n; ++i) in[static_cast<std::size_t>(i)] = depth[static_cast<std::size_t>(i)] >= 0;
  // Peel: degree inside the set (distinct neighbours, no self-loops) below k, endpoints exempt.
  std::vector<index> degree(static_cast<std::size_t>(n), 0);
  const auto neighbours_in = [&](index u) {
    index d = 0;
    for (auto [a, end] = boost::adjacent_vertices(static_cast<graph_node>(u), g); a != end; ++a)
      if (static_cast<index>(*a) != u && in[static_cast<std::size_t>(*a)]) ++d;
    return d;
  };
  for (index i = 0; i < n; ++i)
    if (in[static_cast<std::size_t>(i)]) degree[static_cast<std::size_t>(i)] = neighbours_in(i);
  std::deque<index> peel;
  for (index i = 0; i < n; ++i)
    if (in[static_cast<std::size_t>(i)] && i != source && i != target && degree[static_cast<std::size_t>(i)] < k)
      peel.push_back(i);
  while (!peel.empty()) {
    const index u = peel.front();
    peel.pop_front();
    if (!in[static_cast<std::size_t>(u)]) continue;
    in[static_cast<std::size_t>(u)] = 0;
    for (auto [a, end] = boost::adjacent_vertices(static_cast<graph_node>(u), g); a != end; ++a) {
      const auto v = static_cast<index>(*a);
      if (v == u || !in[static_cast<std::size_t>(v)]) continue;
      if (--degree[static_cast<std::size_t>(v)] < k && v != source && v != target) peel.push_back(v);
    }
  }
  return in;
}

}  // namespace attrib
