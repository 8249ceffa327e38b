#pragma once
// A seeded synthetic user-item-attribute graph with planted explanation paths, in the spirit
// of PaGE-Link's synthetic data (Zhang et al. 2023): users buy items, items have attributes,
// and a user "likes" an item because an item the user bought shares an attribute with it, so
// the predicted link (u, t) is explained by the path u -buys- j -has- a -has- t. The liked
// pairs are the links to predict and are not edges of the graph (PaGE-Link removes the
// predicted relation from the message-passing graph). Random purchases and random attributes
// are the noise around the planted paths. Node features: a one-hot of the node type, then a
// one-hot of the attribute for attribute nodes (users and items are known only through their
// edges, so a model cannot memorise them), then `feature_dim` random normal features.
#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/random.hpp"
#include "attrib/core/types.hpp"
#include "attrib/graph/hetero_graph.hpp"

namespace attrib {

struct user_item_attribute_config {
  index users = 80;
  index items = 60;
  index attributes = 20;
  index buys_per_user = 3;        // random purchases per user
  index attributes_per_item = 1;  // random attributes per item (before planting)
  index likes_per_user = 3;       // planted links per user
  index feature_dim = 0;          // random N(0, 1) features of every node, after the one-hots
};

// A link to explain and its ground truth: every path source -buys- j -has- a -has- target in
// the graph (node sequences) and the union of their edges (sorted edge ids).
struct link_truth {
  index source = 0;
  index target = 0;
  std::vector<std::vector<index>> paths;
  std::vector<index> edges;
};

struct planted_link_graph {
  static constexpr int user = 0, item = 1, attribute = 2;  // node types
  static constexpr int buys = 0, has = 1;                  // relations
  hetero_graph graph;
  std::vector<link_truth> links;
};

namespace detail {
// Every path u -buys- j -has- a -has- t (j != t) in g.
inline link_truth planted_paths(const hetero_graph& g, index u, index t) {
  link_truth truth{u, t, {}, {}};
  const graph& s = g.structure();
  for (auto [j, jend] = boost::adjacent_vertices(static_cast<graph_node>(u), s); j != jend; ++j) {
    const auto ij = static_cast<index>(*j);
    if (ij == t || g.node_type(ij) != planted_link_graph::item) continue;
    for (auto [a, aend] = boost::adjacent_vertices(*j, s); a != aend; ++a) {
      const auto ia = static_cast<index>(*a);
      if (g.node_type(ia) != planted_link_graph::attribute || !g.has_edge(ia, t)) continue;
      truth.paths.push_back({u, ij, ia, t});
      for (index e : {g.edge_between(u, ij), g.edge_between(ij, ia), g.edge_between(ia, t)}) truth.edges.push_back(e);
    }
  }
  std::sort(truth.paths.begin(), truth.paths.end());
  std::sort(truth.edges.begin(), truth.edges.end());
  truth.edges.erase(std::unique(truth.edges.begin(), truth.edges.end()), truth.edges.end());
  return truth;
}
}  // namespace detail

inline planted_link_graph user_item_attribute_graph(const user_item_attribute_config& c, std::uint64_t seed) {
  detail::require(c.users >= 1 && c.items >= 2 && c.attributes >= 1 && c.feature_dim >= 0,
                  "user_item_attribute_graph: need users >= 1, items >= 2, attributes >= 1, feature_dim >= 0");
  detail::require(c.buys_per_user >= 1 && c.attributes_per_item >= 1 && c.likes_per_user >= 0,
                  "user_item_attribute_graph: need buys_per_user >= 1, attributes_per_item >= 1, likes_per_user >= 0");
  detail::require(c.buys_per_user + c.likes_per_user < c.items && c.attributes_per_item <= c.attributes,
                  "user_item_attribute_graph: too few items for the purchases and likes, or attributes per item");
  planted_link_graph out;
  out.graph = hetero_graph({"user", "item", "attribute"},
                           {{"buys", planted_link_graph::user, planted_link_graph::item},
                            {"has", planted_link_graph::item, planted_link_graph::attribute}});
  hetero_graph& g = out.graph;
  rng random(seed);
  index attribute_count = 0;
  const auto node = [&](int type) {
    vector f = vector::Zero(3 + c.attributes + c.feature_dim);
    f(type) = 1.0;
    if (type == planted_link_graph::attribute) f(3 + attribute_count++) = 1.0;
    for (index k = 0; k < c.feature_dim; ++k) f(3 + c.attributes + k) = random.normal();
    return g.add_node(type, std::move(f));
  };
  std::vector<index> users, items, attributes;
  for (index i = 0; i < c.users; ++i) users.push_back(node(planted_link_graph::user));
  for (index i = 0; i < c.items; ++i) items.push_back(node(planted_link_graph::item));
  for (index i = 0; i < c.attributes; ++i) attributes.push_back(node(planted_link_graph::attribute));
  const auto pick = [&](const std::vector<index>& from) { return from[static_cast<std::size_t>(random.below(from.size()))]; };
  for (index it : items)
    for (index k = 0; k < c.attributes_per_item;) {
      const index a = pick(attributes);
      if (g.has_edge(it, a)) continue;
      g.add_edge(it, a, planted_link_graph::has);
      ++k;
    }
  for (index u : users)
    for (index k = 0; k < c.buys_per_user;) {
      const index it = pick(items);
      if (g.has_edge(u, it)) continue;
      g.add_edge(u, it, planted_link_graph::buys);
      ++k;
    }
  // Plant: u likes t because an item j that u bought shares an attribute a with t. t is drawn
  // among the items that already have a (so planting adds no edge and every liked item looks
  // like any other); only when 16 draws of (j, a) find none is a given to a random item.
  std::vector<std::pair<index, index>> liked;
  for (index u : users) {
    std::set<index> taken;
    std::vector<index> bought;
    for (index it : items)
      if (g.has_edge(u, it)) bought.push_back(it);
    const auto free = [&](index t) { return !g.has_edge(u, t) && !taken.count(t); };
    for (index k = 0; k < c.likes_per_user; ++k) {
      index t = -1, a = -1;
      for (int attempt = 0; attempt < 16 && t < 0; ++attempt) {
        const index j = pick(bought);
        std::vector<index> own, sharing;
        for (index x : attributes)
          if (g.has_edge(j, x)) own.push_back(x);
        a = pick(own);
        for (index it : items)
          if (it != j && free(it) && g.has_edge(it, a)) sharing.push_back(it);
        if (!sharing.empty()) t = pick(sharing);
      }
      if (t < 0) {
        do t = pick(items);
        while (!free(t));
        g.add_edge(t, a, planted_link_graph::has);
      }
      taken.insert(t);
      liked.emplace_back(u, t);
    }
  }
  for (const auto& [u, t] : liked) out.links.push_back(detail::planted_paths(g, u, t));
  return out;
}

}  // namespace attrib
