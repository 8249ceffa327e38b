#pragma once
// What the link explainers (PaGE-Link, the GNNExplainer-style edge mask, the PGExplainer-style
// link MLP) share: the computation
// graph of a link, the result type, and the extraction of paths from an edge mask under
// PaGE-Link's edge cost log in-degree(v) - log mask(e), by Yen's k shortest paths.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/parallel.hpp"
#include "attrib/core/random.hpp"
#include "attrib/core/run_settings.hpp"
#include "attrib/core/types.hpp"
#include "attrib/core/graph_attribution.hpp"
#include "attrib/graph/hetero_graph.hpp"
#include "attrib/graph/k_shortest_paths.hpp"
#include "attrib/graph/search_space.hpp"

namespace attrib {

// The computation graph of a link: the subgraph induced by the nodes within `hops` of either
// endpoint. With hops >= the model's layers the endpoints' embeddings, and so the score, are
// the same as on the whole graph.
struct link_computation_graph {
  hetero_graph graph;
  std::vector<index> nodes;  // graph node id -> input-graph node id
  std::vector<index> edges;  // graph edge id -> input-graph edge id
  index source = 0, target = 0;  // ids in graph
};

inline link_computation_graph computation_graph_of(const hetero_graph& g, index source, index target, index hops) {
  g.require_node(source, "computation_graph_of: source");
  g.require_node(target, "computation_graph_of: target");
  detail::require(source != target, "computation_graph_of: source and target must differ");
  detail::require(hops >= 1, "computation_graph_of: hops must be >= 1");
  link_computation_graph c;
  c.graph = g.induced_subgraph(link_search_space(g.structure(), source, target, hops, 0), c.nodes, c.edges);
  c.source = static_cast<index>(std::find(c.nodes.begin(), c.nodes.end(), source) - c.nodes.begin());
  c.target = static_cast<index>(std::find(c.nodes.begin(), c.nodes.end(), target) - c.nodes.begin());
  return c;
}

namespace detail {
// Whether some path joins u and v in g.
inline bool joined(const hetero_graph& g, index u, index v) {
  std::vector<char> seen(static_cast<std::size_t>(g.node_count()), 0);
  std::vector<index> stack{u};
  seen[static_cast<std::size_t>(u)] = 1;
  while (!stack.empty()) {
    const index x = stack.back();
    stack.pop_back();
    if (x == v) return true;
    for (auto [a, end] = boost::adjacent_vertices(static_cast<graph_node>(x), g.structure()); a != end; ++a)
      if (!seen[*a]) {
        seen[*a] = 1;
        stack.push_back(static_cast<index>(*a));
      }
  }
  return false;
}

// What every link explainer fills in before it learns a mask: the link, its computation graph
// (in input-graph ids) and the model's score of the link on it.
template <class Model>
link_explanation begin_link_explanation(const Model& model, const link_computation_graph& c, index source,
                                        index target) {
  link_explanation out;
  out.source = source;
  out.target = target;
  out.nodes = c.nodes;
  out.edges = c.edges;
  out.score = model.score(c.graph, c.source, c.target);
  return out;
}
}  // namespace detail

// The up to k cheapest simple paths source -> target of at most max_length edges under
// PaGE-Link's cost: edge u -> v costs log in-degree(v) - log mask(e), the endpoints' degrees
// counted as 1 (PaGE-Link's get_neg_path_score_func), so paths through hubs and through
// low-mask edges are expensive. Edges with mask 0 are absent. Yen's order is by cost, so the
// bounded paths among the k' cheapest are the cheapest bounded ones; k' doubles until k are
// found or no more paths exist (capped at 64 k). With degree_cost = false an edge costs
// -log mask(e) alone, which separates what the mask ranks from what the degrees add.
inline std::vector<explanation_path> mask_paths(const hetero_graph& g, const vector& mask, index source, index target,
                                                std::size_t k, index max_length, bool degree_cost = true) {
  detail::require(mask.size() == g.edge_count(), "mask_paths: mask has " + std::to_string(mask.size()) +
                                                     " entries for " + std::to_string(g.edge_count()) + " edges");
  detail::require(mask.allFinite() && (mask.array() >= 0.0).all() && (mask.array() <= 1.0).all(),
                  "mask_paths: mask values must be in [0, 1]");
  detail::require(k >= 1, "mask_paths: need k >= 1 paths");
  detail::require(max_length >= 1, "mask_paths: the path length bound must be >= 1");
  const index n = g.node_count();
  std::vector<index> degree(static_cast<std::size_t>(n), 0);
  for (index e = 0; e < g.edge_count(); ++e)
    if (mask(e) > 0.0) {
      ++degree[static_cast<std::size_t>(g.edge(e).source)];
      ++degree[static_cast<std::size_t>(g.edge(e).target)];
    }
  const auto log_degree = [&](index v) {
    return !degree_cost || v == source || v == target ? 0.0
                                                       : std::log(static_cast<double>(degree[static_cast<std::size_t>(v)]));
  };
  weighted_adjacency out(static_cast<std::size_t>(n));
  for (index e = 0; e < g.edge_count(); ++e) {
    if (!(mask(e) > 0.0)) continue;
    const double minus_log_mask = -std::log(std::max(mask(e), std::numeric_limits<double>::min()));
    const index u = g.edge(e).source, v = g.edge(e).target;
    out[static_cast<std::size_t>(u)].emplace_back(v, log_degree(v) + minus_log_mask);
    out[static_cast<std::size_t>(v)].emplace_back(u, log_degree(u) + minus_log_mask);
  }
  std::vector<explanation_path> bounded;
  for (std::size_t wanted = k;; wanted *= 2) {
    const auto paths = k_shortest_paths(out, source, target, wanted);
    bounded.clear();
    for (const auto& p : paths) {
      if (static_cast<index>(p.nodes.size()) - 1 > max_length) continue;
      explanation_path q{p.nodes, {}, p.cost};
      for (std::size_t i = 0; i + 1 < p.nodes.size(); ++i) q.edges.push_back(g.edge_between(p.nodes[i], p.nodes[i + 1]));
      bounded.push_back(std::move(q));
      if (bounded.size() == k) return bounded;
    }
    if (paths.size() < wanted || wanted >= 64 * k) return bounded;
  }
}

// Explains every link with `explainer.explain(model, g, source, target, seed)`, link i seeded
// by rng::stream(settings.seed, i), on settings.threads threads: the same results for any
// thread count. settings.progress is not called (explanations finish out of order).
template <class Explainer, class Model>
std::vector<link_explanation> explain_links(const Explainer& explainer, const Model& model, const hetero_graph& g,
                                            const std::vector<std::pair<index, index>>& links,
                                            const run_settings& settings = {}) {
  std::vector<link_explanation> out(links.size());
  parallel_for(links.size(), settings.threads, [&](std::size_t i) {
    const std::uint64_t seed = rng::stream(settings.seed, i)();
    out[i] = explainer.explain(model, g, links[i].first, links[i].second, seed);
  });
  return out;
}

}  // namespace attrib
