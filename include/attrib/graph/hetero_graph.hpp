#pragma once
// hetero_graph: a heterogeneous graph (typed nodes with features, typed relations with edge
// weights) on Boost.Graph. The structure is an attrib::graph whose node label is the node type
// and whose edge type is the relation, so every homogeneous algorithm (link_search_space,
// k shortest paths) runs on it unchanged. Each relation joins a source node type to a target
// node type; an edge is stored once, oriented source -> target, and a relational GNN passes
// messages along it both ways with separate weights per direction (the "relation" and its
// reverse, as DGL graphs carry them). At most one edge joins two nodes, so a node pair names
// an edge, which is what path explanations need.
#include <cmath>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"
#include "attrib/graph/graph.hpp"

namespace attrib {

struct relation_type {
  std::string name;
  int source_type = 0;  // node type of an edge's source
  int target_type = 0;  // node type of an edge's target
};

struct hetero_edge {
  index source = 0;  // a node of the relation's source type
  index target = 0;  // a node of the relation's target type
  int relation = 0;
  double weight = 1.0;
};

// One message of a relational GNN: sender -> receiver along edge `edge`, scaled by `norm`, the
// inverse of the receiver's number of incoming messages of the same directed relation.
struct relation_message {
  index sender = 0;
  index receiver = 0;
  index edge = 0;
  double norm = 1.0;
};

class hetero_graph {
 public:
  hetero_graph() = default;
  hetero_graph(std::vector<std::string> node_types, std::vector<relation_type> relations)
      : node_types_(std::move(node_types)), relations_(std::move(relations)) {
    detail::require(!node_types_.empty(), "hetero_graph: need at least one node type");
    for (const auto& r : relations_)
      detail::require(valid_type(r.source_type) && valid_type(r.target_type),
                      "hetero_graph: relation '" + r.name + "' names a node type outside 0.." +
                          std::to_string(node_types_.size() - 1));
  }

  // Adds a node of type `type` and returns its id (0, 1, ...).
  index add_node(int type, vector features) {
    detail::require(valid_type(type), "hetero_graph::add_node: node type " + std::to_string(type) + " outside 0.." +
                                          std::to_string(node_types_.size() - 1));
    detail::require(features.allFinite(), "hetero_graph::add_node: features must be finite");
    if (node_count() > 0)
      detail::require(features.size() == structure_[0].features.size(),
                      "hetero_graph::add_node: node has " + std::to_string(features.size()) +
                          " features, the others " + std::to_string(structure_[0].features.size()));
    return static_cast<index>(boost::add_vertex(node_properties{std::move(features), type}, structure_));
  }

  // Adds the edge source -> target of `relation` and returns its id (0, 1, ...). Throws on
  // node ids out of range, node types that do not match the relation, self-loops, a second
  // edge between the same two nodes, and weights that are negative or not finite.
  index add_edge(index source, index target, int relation, double weight = 1.0) {
    detail::require(relation >= 0 && relation < relation_count(),
                    "hetero_graph::add_edge: relation " + std::to_string(relation) + " outside 0.." +
                        std::to_string(relation_count() - 1));
    require_node(source, "hetero_graph::add_edge");
    require_node(target, "hetero_graph::add_edge");
    const auto& r = relations_[static_cast<std::size_t>(relation)];
    detail::require(node_type(source) == r.source_type && node_type(target) == r.target_type,
                    "hetero_graph::add_edge: relation '" + r.name + "' joins types " + std::to_string(r.source_type) +
                        " -> " + std::to_string(r.target_type) + ", got nodes of types " +
                        std::to_string(node_type(source)) + " -> " + std::to_string(node_type(target)));
    detail::require(source != target, "hetero_graph::add_edge: self-loop at node " + std::to_string(source));
    detail::require(!has_edge(source, target), "hetero_graph::add_edge: nodes " + std::to_string(source) + " and " +
                                                    std::to_string(target) + " are already joined");
    detail::require(weight >= 0.0 && std::isfinite(weight), "hetero_graph::add_edge: weight must be finite and >= 0");
    const auto id = static_cast<index>(edges_.size());
    edges_.push_back({source, target, relation, weight});
    ids_.emplace(key(source, target), id);
    boost::add_edge(static_cast<graph_node>(source), static_cast<graph_node>(target), edge_properties{relation, weight},
                    structure_);
    return id;
  }

  index node_count() const { return static_cast<index>(boost::num_vertices(structure_)); }
  index edge_count() const { return static_cast<index>(edges_.size()); }
  int relation_count() const { return static_cast<int>(relations_.size()); }
  int node_type_count() const { return static_cast<int>(node_types_.size()); }
  const std::vector<std::string>& node_types() const { return node_types_; }
  const std::vector<relation_type>& relations() const { return relations_; }
  const std::vector<hetero_edge>& edges() const { return edges_; }
  const hetero_edge& edge(index e) const {
    detail::require(e >= 0 && e < edge_count(),
                    "hetero_graph::edge: edge " + std::to_string(e) + " outside 0.." + std::to_string(edge_count() - 1));
    return edges_[static_cast<std::size_t>(e)];
  }
  // The edge weights in edge-id order.
  vector weights() const {
    vector w(edge_count());
    for (index e = 0; e < edge_count(); ++e) w(e) = edges_[static_cast<std::size_t>(e)].weight;
    return w;
  }
  // The homogeneous view: node label = node type, edge type = relation.
  const graph& structure() const { return structure_; }

  int node_type(index v) const {
    require_node(v, "hetero_graph::node_type");
    return structure_[static_cast<graph_node>(v)].label;
  }
  const vector& features(index v) const {
    require_node(v, "hetero_graph::features");
    return structure_[static_cast<graph_node>(v)].features;
  }
  void set_features(index v, vector features) {
    require_node(v, "hetero_graph::set_features");
    detail::require(features.size() == feature_count() && features.allFinite(),
                    "hetero_graph::set_features: need " + std::to_string(feature_count()) + " finite features");
    structure_[static_cast<graph_node>(v)].features = std::move(features);
  }
  index feature_count() const { return node_count() > 0 ? structure_[0].features.size() : 0; }
  matrix feature_matrix() const { return attrib::feature_matrix(structure_); }

  std::vector<index> nodes_of_type(int type) const {
    std::vector<index> out;
    for (index v = 0; v < node_count(); ++v)
      if (structure_[static_cast<graph_node>(v)].label == type) out.push_back(v);
    return out;
  }

  // The id of the edge joining u and v (either orientation), or -1.
  index edge_between(index u, index v) const {
    const auto it = ids_.find(key(u, v));
    return it == ids_.end() ? -1 : it->second;
  }
  bool has_edge(index u, index v) const { return edge_between(u, v) >= 0; }

  void require_node(index v, const std::string& who) const {
    detail::require(v >= 0 && v < node_count(),
                    who + ": node " + std::to_string(v) + " outside 0.." + std::to_string(node_count() - 1));
  }

  // The per-relation normalised adjacency as message lists: directed relation 2r carries the
  // edges of relation r source -> target, 2r + 1 target -> source. norm is 1 / (number of
  // messages of that directed relation into the receiver): the mean aggregation of R-GCN
  // (Schlichtkrull et al. 2018), which does not depend on the edge weights.
  std::vector<std::vector<relation_message>> relation_messages() const {
    std::vector<std::vector<relation_message>> out(static_cast<std::size_t>(2 * relation_count()));
    std::vector<std::map<index, index>> incoming(out.size());
    for (index e = 0; e < edge_count(); ++e) {
      const auto& h = edges_[static_cast<std::size_t>(e)];
      const auto forward = static_cast<std::size_t>(2 * h.relation);
      out[forward].push_back({h.source, h.target, e, 1.0});
      out[forward + 1].push_back({h.target, h.source, e, 1.0});
      ++incoming[forward][h.target];
      ++incoming[forward + 1][h.source];
    }
    for (std::size_t r = 0; r < out.size(); ++r)
      for (auto& m : out[r]) m.norm = 1.0 / static_cast<double>(incoming[r][m.receiver]);
    return out;
  }

  // The subgraph on the nodes with keep[v] != 0 and the edges between them (also dropping the
  // edges with drop_edge[e] != 0 when given). node_map[new id] = old id, edge_map likewise.
  hetero_graph induced_subgraph(const std::vector<char>& keep, std::vector<index>& node_map,
                                std::vector<index>& edge_map, const std::vector<char>* drop_edge = nullptr) const {
    detail::require(static_cast<index>(keep.size()) == node_count(),
                    "hetero_graph::induced_subgraph: keep has " + std::to_string(keep.size()) + " flags, expected " +
                        std::to_string(node_count()));
    hetero_graph sub(node_types_, relations_);
    std::vector<index> renamed(keep.size(), -1);
    node_map.clear();
    edge_map.clear();
    for (index v = 0; v < node_count(); ++v)
      if (keep[static_cast<std::size_t>(v)]) {
        renamed[static_cast<std::size_t>(v)] = sub.add_node(node_type(v), features(v));
        node_map.push_back(v);
      }
    for (index e = 0; e < edge_count(); ++e) {
      const auto& h = edges_[static_cast<std::size_t>(e)];
      const index s = renamed[static_cast<std::size_t>(h.source)], t = renamed[static_cast<std::size_t>(h.target)];
      if (s < 0 || t < 0 || (drop_edge && (*drop_edge)[static_cast<std::size_t>(e)])) continue;
      sub.add_edge(s, t, h.relation, h.weight);
      edge_map.push_back(e);
    }
    return sub;
  }

 private:
  bool valid_type(int t) const { return t >= 0 && t < static_cast<int>(node_types_.size()); }
  static std::pair<index, index> key(index u, index v) { return u < v ? std::pair{u, v} : std::pair{v, u}; }

  std::vector<std::string> node_types_;
  std::vector<relation_type> relations_;
  graph structure_;
  std::vector<hetero_edge> edges_;
  std::map<std::pair<index, index>, index> ids_;
};

}  // namespace attrib
