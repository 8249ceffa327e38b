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

// A seeded citation-style graph with planted explanation paths. Authors write papers, papers
// cite papers, appear in a venue and carry terms. The link to predict is "author a cites paper
// t", and each such link is planted by one of two causes, drawn with equal odds:
//   citation chain  a -writes- p -cites- q -cites- t   (a's paper p cites q, which cites t)
//   shared term     a -writes- p -has- w -has- t       (a's paper p and t carry the term w)
// The ground truth of a link is every path of either kind in the graph (direction-respecting:
// p cites q, q cites t). The noise around them is what real citation graphs have and what gives
// 3-edge paths that are not causes: co-authors (a -writes- p -writes- b -writes- t), shared
// venues (a -writes- p -in- v -in- t), random citations and terms. As in
// user_item_attribute_graph, t is drawn among the papers that already close the chain or share
// the term, so planting adds no edge except when 16 draws find none. The planted links are not
// edges of the graph. Node features: a one-hot of the node type, a one-hot of the term for term
// nodes and of the venue for venue nodes, then `feature_dim` random N(0, 1) features of every
// node (a paper's "content", which is what lets a model tell the papers of a chain apart).
// Papers carry no random features by default: with them an R-GCN memorises node identities
// (training loss near 0, held-out link AUC below 0.5 in our runs), as the user-item graph's
// users and items would.
struct citation_config {
  index authors = 60;
  index papers = 120;
  index venues = 3;
  index terms = 20;
  index authors_per_paper = 2;
  index cites_per_paper = 2;   // random citations per paper
  index terms_per_paper = 1;
  index links_per_author = 5;  // planted "author cites paper" links per author
  index feature_dim = 0;
  double chain_share = 0.5;    // odds that a planted link's cause is a citation chain, not a term
};

struct planted_citation_graph {
  static constexpr int author = 0, paper = 1, venue = 2, term = 3;  // node types
  static constexpr int writes = 0, cites = 1, in = 2, has = 3;      // relations
  hetero_graph graph;
  std::vector<link_truth> links;
};

namespace detail {
// Every path a -writes- p -cites- q -cites- t and a -writes- p -has- w -has- t (p, q != t) in g.
inline link_truth planted_citation_paths(const hetero_graph& g, index a, index t) {
  using c = planted_citation_graph;
  link_truth truth{a, t, {}, {}};
  const graph& s = g.structure();
  // The edge x -> y of `relation`, oriented as stored, or -1.
  const auto directed = [&](index x, index y, int relation) {
    const index e = g.edge_between(x, y);
    return e >= 0 && g.edge(e).relation == relation && g.edge(e).source == x ? e : index{-1};
  };
  for (auto [p, pend] = boost::adjacent_vertices(static_cast<graph_node>(a), s); p != pend; ++p) {
    const auto ip = static_cast<index>(*p);
    if (ip == t || directed(a, ip, c::writes) < 0) continue;
    for (auto [x, xend] = boost::adjacent_vertices(*p, s); x != xend; ++x) {
      const auto ix = static_cast<index>(*x);
      if (ix == t || ix == a) continue;
      const bool chain = directed(ip, ix, c::cites) >= 0 && directed(ix, t, c::cites) >= 0;
      const bool shared = directed(ip, ix, c::has) >= 0 && directed(t, ix, c::has) >= 0;
      if (!chain && !shared) continue;
      truth.paths.push_back({a, ip, ix, t});
      for (index e : {g.edge_between(a, ip), g.edge_between(ip, ix), g.edge_between(ix, t)}) truth.edges.push_back(e);
    }
  }
  std::sort(truth.paths.begin(), truth.paths.end());
  std::sort(truth.edges.begin(), truth.edges.end());
  truth.edges.erase(std::unique(truth.edges.begin(), truth.edges.end()), truth.edges.end());
  return truth;
}
}  // namespace detail

inline planted_citation_graph citation_graph(const citation_config& c, std::uint64_t seed) {
  detail::require(c.authors >= 1 && c.papers >= 4 && c.venues >= 1 && c.terms >= 1 && c.feature_dim >= 0,
                  "citation_graph: need authors >= 1, papers >= 4, venues >= 1, terms >= 1, feature_dim >= 0");
  detail::require(c.authors_per_paper >= 1 && c.authors_per_paper <= c.authors,
                  "citation_graph: authors_per_paper must be in 1..authors");
  detail::require(c.cites_per_paper >= 1 && c.cites_per_paper < c.papers / 2,
                  "citation_graph: cites_per_paper must be in 1..papers / 2 - 1");
  detail::require(c.terms_per_paper >= 1 && c.terms_per_paper <= c.terms,
                  "citation_graph: terms_per_paper must be in 1..terms");
  detail::require(c.links_per_author >= 0 && c.links_per_author < c.papers / 2,
                  "citation_graph: links_per_author must be in 0..papers / 2 - 1");
  detail::require(c.chain_share >= 0.0 && c.chain_share <= 1.0, "citation_graph: chain_share must be in [0, 1]");
  using k = planted_citation_graph;
  planted_citation_graph out;
  out.graph = hetero_graph({"author", "paper", "venue", "term"}, {{"writes", k::author, k::paper},
                                                                  {"cites", k::paper, k::paper},
                                                                  {"in", k::paper, k::venue},
                                                                  {"has", k::paper, k::term}});
  hetero_graph& g = out.graph;
  rng random(seed);
  const index width = 4 + c.venues + c.terms + c.feature_dim;
  index venue_count = 0, term_count = 0;
  const auto node = [&](int type) {
    vector f = vector::Zero(width);
    f(type) = 1.0;
    if (type == k::venue) f(4 + venue_count++) = 1.0;
    if (type == k::term) f(4 + c.venues + term_count++) = 1.0;
    for (index i = 0; i < c.feature_dim; ++i) f(4 + c.venues + c.terms + i) = random.normal();
    return g.add_node(type, std::move(f));
  };
  std::vector<index> authors, papers, venues, terms;
  for (index i = 0; i < c.authors; ++i) authors.push_back(node(k::author));
  for (index i = 0; i < c.papers; ++i) papers.push_back(node(k::paper));
  for (index i = 0; i < c.venues; ++i) venues.push_back(node(k::venue));
  for (index i = 0; i < c.terms; ++i) terms.push_back(node(k::term));
  const auto pick = [&](const std::vector<index>& from) { return from[static_cast<std::size_t>(random.below(from.size()))]; };
  // Adds up to `count` distinct edges from x to nodes drawn from `to` (never x itself, never a
  // pair already joined either way; fewer only when too few such nodes are left, which small
  // paper counts can give as citations arrive before a paper draws its own).
  const auto join = [&](index x, const std::vector<index>& to, index count, int relation, bool x_is_source) {
    for (index added = 0; added < count; ++added) {
      std::vector<index> open;
      for (index y : to)
        if (y != x && !g.has_edge(x, y)) open.push_back(y);
      if (open.empty()) return;
      const index y = pick(open);
      if (x_is_source) g.add_edge(x, y, relation);
      else g.add_edge(y, x, relation);
    }
  };
  for (index p : papers) {
    join(p, authors, c.authors_per_paper, k::writes, false);
    g.add_edge(p, pick(venues), k::in);
    join(p, terms, c.terms_per_paper, k::has, true);
  }
  for (index p : papers) join(p, papers, c.cites_per_paper, k::cites, true);
  // Papers in writing order, and what each paper cites and carries.
  const auto targets_of = [&](index x, int relation) {
    std::vector<index> found;
    for (index e = 0; e < g.edge_count(); ++e)
      if (g.edge(e).source == x && g.edge(e).relation == relation) found.push_back(g.edge(e).target);
    return found;
  };
  const auto sources_of = [&](index y, int relation) {
    std::vector<index> found;
    for (index e = 0; e < g.edge_count(); ++e)
      if (g.edge(e).target == y && g.edge(e).relation == relation) found.push_back(g.edge(e).source);
    return found;
  };
  std::vector<std::pair<index, index>> planted;
  for (index a : authors) {
    const std::vector<index> own = targets_of(a, k::writes);
    if (own.empty()) continue;  // an author who wrote nothing has no reason to cite
    std::set<index> taken;
    const auto free = [&](index t) { return !g.has_edge(a, t) && !taken.count(t); };
    for (index l = 0; l < c.links_per_author; ++l) {
      index t = -1, p = -1, x = -1;
      bool chain = false;
      for (int attempt = 0; attempt < 16 && t < 0; ++attempt) {
        p = pick(own);
        x = -1;
        chain = random.uniform() < c.chain_share;
        std::vector<index> candidates;
        if (chain) {
          const auto cited = targets_of(p, k::cites);
          if (cited.empty()) continue;
          x = pick(cited);
          for (index q : targets_of(x, k::cites))
            if (q != p && free(q)) candidates.push_back(q);
        } else {
          x = pick(targets_of(p, k::has));
          for (index q : sources_of(x, k::has))
            if (q != p && free(q)) candidates.push_back(q);
        }
        if (!candidates.empty()) t = pick(candidates);
      }
      if (t < 0) {
        // No paper closes the last draw's path: close it with a new edge to a random free paper.
        if (x < 0) {  // the last draw was a chain from a paper that cites nothing: share a term
          chain = false;
          x = pick(targets_of(p, k::has));
        }
        std::vector<index> open;
        for (index q : papers)
          if (q != p && q != x && free(q) && !g.has_edge(x, q)) open.push_back(q);
        if (open.empty()) break;  // an author who wrote nearly every paper has nothing left to cite
        t = pick(open);
        if (chain) g.add_edge(x, t, k::cites);
        else g.add_edge(t, x, k::has);
      }
      taken.insert(t);
      planted.emplace_back(a, t);
    }
  }
  for (const auto& [a, t] : planted) out.links.push_back(detail::planted_citation_paths(g, a, t));
  return out;
}

}  // namespace attrib
