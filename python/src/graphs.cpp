// attrib.Graph, attrib.GraphModel and the node explanations of `attrib graph explain` (HN value,
// Myerson value, node Shapley, occlusion, GNNExplainer, Grad-CAM) for attrib's GNNs and for any
// Python value function over node coalitions; attrib.HeteroGraph, attrib.LinkModel and the link
// explainers (PaGE-Link, a GNNExplainer-style edge mask) scored against planted paths.
// The methods run through examples/cli/graph_methods.hpp, so they are the command line's.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "bindings.hpp"
#include "explain_inputs.hpp"
#include "graph_methods.hpp"
#include "labels.hpp"
#include "attrib/games/node_removal_game.hpp"
#include "attrib/graph/hetero_generators.hpp"
#include "attrib/graph/tu_dataset.hpp"
#include "attrib/methods/graph/fidelity.hpp"
#include "attrib/methods/graph/link_edge_mask.hpp"
#include "attrib/methods/graph/link_metrics.hpp"
#include "attrib/methods/graph/page_link.hpp"

namespace attrib_python {

namespace {

using attrib::index;

// A trained GCN or GIN (a struct, since pybind11 would otherwise convert the bare std::variant
// member by member) and the loss its training ended at.
struct graph_model {
  explicit graph_model(cli::any_graph_model m) : model(std::move(m)) {}
  cli::any_graph_model model;
  double training_loss = std::numeric_limits<double>::quiet_NaN();
};

std::string type_name(const py::handle& h) { return py::str(h.get_type().attr("__name__")); }

// An integer array (a list of ints, or a numpy array of an integer dtype) as int64; floats and
// booleans are refused rather than truncated, since a node index must be exact.
py::array_t<std::int64_t> integers_from(const py::handle& values, const std::string& what) {
  py::array a = py::array::ensure(values);
  if (!a) throw attrib::invalid_argument(what + " is a " + type_name(values) + "; expected an array of integers");
  const char kind = a.dtype().kind();
  if (a.size() > 0 && kind != 'i' && kind != 'u')
    throw attrib::invalid_argument(what + " holds " + std::string(py::str(a.dtype())) + " values; expected integers");
  return py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(a);
}

// A graph from an (E, 2) edge list with optional node features (n, d), node labels (n,), edge
// weights (E,) and a graph label. The pairs are undirected: (u, v) and (v, u) are one edge, as
// in a PyG edge_index that lists both directions.
attrib::labeled_graph make_graph(const py::handle& edges_arg, const py::object& node_count_arg,
                                 const py::handle& features_arg, const py::handle& labels_arg,
                                 const py::handle& weights_arg, const py::object& label_arg) {
  const auto edges = integers_from(edges_arg, "edges");
  const bool none = edges.size() == 0;
  if (!none && (edges.ndim() != 2 || edges.shape(1) != 2)) {
    std::string shape;
    for (py::ssize_t k = 0; k < edges.ndim(); ++k) shape += (k ? ", " : "") + std::to_string(edges.shape(k));
    throw attrib::invalid_argument("edges has shape (" + shape +
                                   "); expected (E, 2) node index pairs (a PyG edge_index of shape (2, E) is its "
                                   "transpose)");
  }
  const index e_count = none ? 0 : edges.shape(0);
  // The node count: given, or from the features, the labels or the largest node index.
  std::optional<index> n;
  const auto agree = [&](index count, const std::string& source) {
    if (n && *n != count)
      throw attrib::invalid_argument(source + " says the graph has " + std::to_string(count) + " nodes, but " +
                                     std::to_string(*n) + " were given or implied before it");
    n = count;
  };
  if (!node_count_arg.is_none()) {
    const auto count = node_count_arg.cast<index>();
    if (count < 1) throw attrib::invalid_argument("node_count is " + std::to_string(count) + "; expected at least 1");
    agree(count, "node_count");
  }
  attrib::matrix features;
  if (!features_arg.is_none()) {
    features = matrix_from(features_arg, "features", false);
    agree(features.rows(), "features (one row per node)");
    if (features.cols() == 0) throw attrib::invalid_argument("features has no columns; expected at least one per node");
  }
  std::optional<py::array_t<std::int64_t>> labels;
  if (!labels_arg.is_none()) {
    labels = integers_from(labels_arg, "node_labels");
    if (labels->ndim() != 1) throw attrib::invalid_argument("node_labels must be 1-D, one integer per node");
    agree(labels->shape(0), "node_labels (one per node)");
  }
  if (!n) {
    index largest = -1;
    for (index k = 0; k < 2 * e_count; ++k) largest = std::max<index>(largest, edges.data()[k]);
    n = largest + 1;
  }
  if (*n <= 0) throw attrib::invalid_argument("the graph has no nodes; expected at least one (give edges or node_count)");
  attrib::vector weights = attrib::vector::Ones(e_count);
  if (!weights_arg.is_none()) {
    weights = vector_from(weights_arg, "edge_weights");
    if (weights.size() != e_count)
      throw attrib::invalid_argument("edge_weights has " + std::to_string(weights.size()) +
                                     " entries, expected one per edge (" + std::to_string(e_count) + ")");
  }
  attrib::labeled_graph out;
  out.label = label_arg.is_none() ? -1 : label_arg.cast<int>();
  if (!label_arg.is_none() && out.label < 0)
    throw attrib::invalid_argument("label " + std::to_string(out.label) + " is negative; expected a class index >= 0");
  out.structure = attrib::graph(static_cast<std::size_t>(*n));
  for (index i = 0; i < *n; ++i) {
    auto& node = out.structure[static_cast<attrib::graph_node>(i)];
    // Without features every node carries one constant feature (PyG's usual stand-in).
    node.features = features.size() > 0 ? attrib::vector(features.row(i).transpose()) : attrib::vector::Ones(1);
    node.label = labels ? static_cast<int>(labels->data()[i]) : 0;
  }
  for (index k = 0; k < e_count; ++k) {
    const std::int64_t u = edges.data()[2 * k], v = edges.data()[2 * k + 1];
    const std::string pair = "edges[" + std::to_string(k) + "] = (" + std::to_string(u) + ", " + std::to_string(v) + ")";
    if (u < 0 || v < 0 || u >= *n || v >= *n)
      throw attrib::invalid_argument(pair + " names a node outside 0.." + std::to_string(*n - 1));
    if (u == v) throw attrib::invalid_argument(pair + " is a self-loop; drop it (the models add their own)");
    if (!(weights(k) > 0.0))
      throw attrib::invalid_argument("edge_weights[" + std::to_string(k) + "] is " + std::to_string(weights(k)) +
                                     "; expected a positive weight");
    const auto [existing, found] =
        boost::edge(static_cast<attrib::graph_node>(u), static_cast<attrib::graph_node>(v), out.structure);
    if (found) {
      if (out.structure[existing].weight != weights(k))
        throw attrib::invalid_argument(pair + " repeats an edge with another weight (" + std::to_string(weights(k)) +
                                       " against " + std::to_string(out.structure[existing].weight) + ")");
      continue;
    }
    attrib::add_undirected_edge(out.structure, static_cast<attrib::graph_node>(u), static_cast<attrib::graph_node>(v),
                                {.type = 0, .weight = weights(k)});
  }
  return out;
}

// One graph or a sequence of them; `what` names the argument in errors.
std::vector<const attrib::labeled_graph*> graphs_from(const py::handle& arg, const std::string& what) {
  if (py::isinstance<attrib::labeled_graph>(arg)) return {&arg.cast<const attrib::labeled_graph&>()};
  if (!py::isinstance<py::sequence>(arg) || py::isinstance<py::str>(arg))
    throw attrib::invalid_argument(what + " is a " + type_name(arg) + "; expected an attrib.Graph or a list of them");
  std::vector<const attrib::labeled_graph*> out;
  std::size_t k = 0;
  for (const auto& item : arg) {
    if (!py::isinstance<attrib::labeled_graph>(item))
      throw attrib::invalid_argument(what + "[" + std::to_string(k) + "] is a " + type_name(item) +
                                     "; expected an attrib.Graph");
    out.push_back(&item.cast<const attrib::labeled_graph&>());
    ++k;
  }
  if (out.empty()) throw attrib::invalid_argument(what + " is empty; expected at least one graph");
  return out;
}

std::vector<attrib::gcn_input> inputs_from(const std::vector<const attrib::labeled_graph*>& graphs) {
  std::vector<attrib::gcn_input> inputs;
  for (const auto* g : graphs) inputs.push_back(attrib::make_gcn_input(g->structure));
  return inputs;
}

template <class Model>
void require_features(const Model& m, const std::vector<attrib::gcn_input>& inputs, const std::string& what) {
  for (std::size_t k = 0; k < inputs.size(); ++k)
    if (inputs[k].features.cols() != m.inputs())
      throw attrib::invalid_argument(what + (inputs.size() > 1 ? "[" + std::to_string(k) + "]" : std::string()) +
                                     " has " + std::to_string(inputs[k].features.cols()) +
                                     " features per node but the model takes " + std::to_string(m.inputs()));
}

py::array_t<std::int64_t> int_array(const std::vector<index>& values) {
  py::array_t<std::int64_t> a(static_cast<py::ssize_t>(values.size()));
  for (std::size_t i = 0; i < values.size(); ++i) a.mutable_at(static_cast<py::ssize_t>(i)) = values[i];
  return a;
}

// The edges as (u, v) rows with u < v, in the graph's edge order, and their weights.
std::pair<py::array_t<std::int64_t>, attrib::vector> edge_arrays(const attrib::labeled_graph& g) {
  const auto& s = g.structure;
  const auto edge_count = static_cast<py::ssize_t>(boost::num_edges(s));
  py::array_t<std::int64_t> edges({edge_count, py::ssize_t{2}});
  attrib::vector weights(edge_count);
  py::ssize_t k = 0;
  for (auto [e, end] = boost::edges(s); e != end; ++e, ++k) {
    const auto u = boost::source(*e, s), v = boost::target(*e, s);
    edges.mutable_at(k, 0) = static_cast<std::int64_t>(std::min(u, v));
    edges.mutable_at(k, 1) = static_cast<std::int64_t>(std::max(u, v));
    weights(k) = s[*e].weight;
  }
  return {edges, weights};
}

// A Python callable from a batch of 0/1 node masks (coalitions x nodes) to one score per mask,
// as a game over the nodes; the GIL is taken only around each call (python_model).
class python_node_game {
 public:
  python_node_game(const py::object& f, index nodes)
      : f_(f, nodes, attrib::matrix::Ones(1, nodes)), nodes_(nodes) {
    if (f_.output_dim() != 1)
      throw attrib::invalid_argument("the value function returned " + std::to_string(f_.output_dim()) +
                                     " numbers per mask; expected one score per mask");
  }
  index player_count() const { return nodes_; }
  attrib::vector values(const attrib::matrix& masks) const {
    const attrib::vector v = f_.predict(masks).col(0);
    for (index r = 0; r < v.size(); ++r)
      if (!std::isfinite(v(r)))
        throw attrib::invalid_argument("the value function returned " + std::to_string(v(r)) + " for mask " +
                                       std::to_string(r) + " of a batch of " + std::to_string(v.size()) +
                                       "; expected finite scores");
    return v;
  }
  double value_of(const attrib::vector& keep) const { return values(keep.transpose()).value(); }

 private:
  python_model f_;
  index nodes_;
};

const std::set<std::string> graph_explain_options{"tau", "samples", "epochs", "sparsity", "layer"};

// Checked before the scores are computed, as the command line does, so a typo costs no run.
double sparsity_of(const cli::arguments& a) {
  const double sparsity = a.number("sparsity", 0.5);
  if (!(sparsity >= 0.0 && sparsity <= 1.0))
    throw attrib::invalid_argument("sparsity must be in [0, 1], got " + a.text("sparsity"));
  return sparsity;
}

py::dict fidelity_dict(const attrib::fidelity_scores& f, const std::vector<index>& selected) {
  py::dict d;
  d["harmonic"] = f.harmonic;
  d["fidelity"] = f.fidelity;
  d["inverse_fidelity"] = f.inverse_fidelity;
  d["sparsity"] = f.sparsity;
  d["selected"] = int_array(selected);
  return d;
}

// The explanation of one graph: the scores, H-fidelity of the top positive nodes at `sparsity`
// (GStarX's metric, with `probability` the score of a kept node set), and what the game was.
template <class Probability>
py::dict explanation_dict(const std::string& method, attrib::vector scores, const Probability& probability,
                          double sparsity) {
  const index n = scores.size();
  const auto selected = attrib::top_positive_nodes(scores, sparsity);
  const attrib::fidelity_scores f = attrib::evaluate_coalition(probability, n, selected);
  py::dict out;
  out["method"] = method;
  out["values"] = std::move(scores);
  out["fidelity"] = fidelity_dict(f, selected);
  out["probability"] = probability(attrib::vector(attrib::vector::Ones(n)));
  return out;
}

template <class Model>
double baseline_of(const Model& m, const py::handle& baseline, index c) {
  if (baseline.is_none()) return 0.0;
  if (py::isinstance<py::float_>(baseline) || py::isinstance<py::int_>(baseline)) {
    const double b = baseline.cast<double>();
    if (!std::isfinite(b)) throw attrib::invalid_argument("baseline is " + std::to_string(b) + "; expected a finite number");
    return b;
  }
  // Graphs: GStarX's norm_prob, the average probability of the class over them.
  const auto inputs = inputs_from(graphs_from(baseline, "baseline"));
  require_features(m, inputs, "baseline");
  return attrib::average_probability(m, inputs, c);
}

template <class Model>
py::dict explain_model(const Model& m, const attrib::labeled_graph& g, const std::string& method,
                       const py::handle& target, const py::handle& baseline, const cli::arguments& a,
                       const attrib::run_settings& settings) {
  const attrib::gcn_input in = attrib::make_gcn_input(g.structure);
  require_features(m, {in}, "graph");
  index c = 0;
  if (target.is_none()) {
    c = m.predict(in);
  } else {
    c = target.cast<index>();
    if (c < 0 || c >= m.classes())
      throw attrib::invalid_argument("target " + std::to_string(c) + " is out of range: the model has " +
                                     std::to_string(m.classes()) + " classes");
  }
  const double base = baseline_of(m, baseline, c);
  const double sparsity = sparsity_of(a);
  const attrib::node_removal_game game(m, in, c, base);
  const auto neighbors = attrib::neighbor_masks(g.structure);
  attrib::vector scores;
  {
    py::gil_scoped_release release;
    scores = cli::model_node_scores(method, a, m, in, c, game, neighbors, settings);
  }
  py::dict out = explanation_dict(method, std::move(scores), [&](const attrib::vector& keep) { return game.probability(keep); },
                                  sparsity);
  out["target"] = c;
  out["baseline"] = base;
  return out;
}

py::dict explain_function(const py::object& f, const attrib::labeled_graph& g, const std::string& method,
                          const py::handle& target, const py::handle& baseline, const cli::arguments& a,
                          const attrib::run_settings& settings) {
  if (!target.is_none())
    throw attrib::invalid_argument("target applies to an attrib.GraphModel; a value function scores its own output");
  if (!baseline.is_none())
    throw attrib::invalid_argument("baseline applies to an attrib.GraphModel; subtract it inside the value function");
  const index n = attrib::node_count(g.structure);
  const double sparsity = sparsity_of(a);
  const python_node_game game(f, n);
  const auto neighbors = attrib::neighbor_masks(g.structure);
  attrib::vector scores;
  {
    py::gil_scoped_release release;
    scores = cli::game_node_scores(method, a, game, neighbors, settings);
  }
  py::dict out = explanation_dict(method, std::move(scores), [&](const attrib::vector& keep) { return game.value_of(keep); },
                                  sparsity);
  out["target"] = py::none();
  out["baseline"] = 0.0;
  return out;
}

// ---- links ----

// Options of the link explainers by keyword; anything else is refused with the accepted names.
template <class Explainer>
Explainer link_explainer(const py::dict& options, const std::string& method) {
  Explainer x;
  std::set<std::string> known;
  const auto take = [&](const char* name, auto& field) {
    known.insert(name);
    if (options.contains(name)) field = options[name].cast<std::remove_reference_t<decltype(field)>>();
  };
  take("hops", x.hops);
  take("epochs", x.epochs);
  take("learning_rate", x.learning_rate);
  take("paths", x.paths);
  take("max_path_length", x.max_path_length);
  if constexpr (std::is_same_v<Explainer, attrib::page_link>) {
    take("k_core", x.k_core);
    take("alpha", x.alpha);
    take("beta", x.beta);
    take("loss_paths", x.loss_paths);
    take("early_stop", x.early_stop);
  } else {
    take("size", x.size);
    take("entropy", x.entropy);
  }
  for (const auto& item : options) {
    const std::string name = py::str(item.first);
    if (!known.count(name)) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      throw attrib::invalid_argument("unknown option " + name + " for method " + method + "; expected " + list);
    }
  }
  return x;
}

std::vector<std::pair<index, index>> pairs_from(const py::handle& arg, const attrib::hetero_graph& g,
                                                const std::string& what) {
  const auto a = integers_from(arg, what);
  if (a.size() > 0 && (a.ndim() != 2 || a.shape(1) != 2))
    throw attrib::invalid_argument(what + " must be (k, 2) (source, target) node pairs");
  std::vector<std::pair<index, index>> out;
  for (py::ssize_t k = 0; a.size() > 0 && k < a.shape(0); ++k) {
    const index u = a.at(k, 0), v = a.at(k, 1);
    for (index x : {u, v})
      if (x < 0 || x >= g.node_count())
        throw attrib::invalid_argument(what + "[" + std::to_string(k) + "] names node " + std::to_string(x) +
                                       " outside 0.." + std::to_string(g.node_count() - 1));
    out.emplace_back(u, v);
  }
  return out;
}

py::dict link_dict(const attrib::link_explanation& x, const attrib::hetero_graph& g, const py::handle& truth) {
  py::dict d;
  d["source"] = x.source;
  d["target"] = x.target;
  d["nodes"] = int_array(x.nodes);
  d["edges"] = int_array(x.edges);
  d["mask"] = x.mask;
  d["score"] = x.score;
  d["masked_score"] = x.masked_score;
  d["epochs"] = x.epochs;
  py::list paths;
  for (const auto& p : x.paths) {
    py::dict q;
    q["nodes"] = int_array(p.nodes);
    q["edges"] = int_array(p.edges);
    q["cost"] = p.cost;
    paths.append(q);
  }
  d["paths"] = paths;
  if (truth.is_none()) return d;
  // Ground truth: the planted node paths of this link.
  std::vector<std::vector<index>> truth_paths;
  for (const auto& p : truth) truth_paths.push_back(p.cast<std::vector<index>>());
  const auto truth_edges = attrib::path_edge_ids(g, truth_paths);
  std::vector<index> all;
  for (const auto& p : truth_edges) all.insert(all.end(), p.begin(), p.end());
  // The mask AUC needs planted and other edges in the computation graph; without both it is undefined.
  std::size_t inside = 0;
  for (index e : x.edges) inside += std::find(all.begin(), all.end(), e) != all.end();
  py::dict metrics;
  metrics["mask_auc"] = inside > 0 && inside < x.edges.size() ? attrib::link_mask_auc(x, all)
                                                               : std::numeric_limits<double>::quiet_NaN();
  metrics["top_path_hit"] = attrib::top_path_hit(x, truth_paths);
  metrics["hit_at_5"] = attrib::top_edges_path_hit(x, truth_edges, 5);
  metrics["hit_at_10"] = attrib::top_edges_path_hit(x, truth_edges, 10);
  d["metrics"] = metrics;
  return d;
}

attrib::hetero_graph make_hetero_graph(const std::vector<std::string>& node_types,
                                       const std::vector<std::tuple<std::string, int, int>>& relations,
                                       const py::handle& node_type, const py::handle& features, const py::handle& edges,
                                       const py::handle& edge_relations, const py::handle& edge_weights) {
  std::vector<attrib::relation_type> rs;
  for (const auto& [name, s, t] : relations) rs.push_back({name, s, t});
  attrib::hetero_graph g(node_types, rs);
  const auto types = integers_from(node_type, "node_type");
  const attrib::matrix x = matrix_from(features, "features", false);
  if (types.ndim() != 1 || types.shape(0) != x.rows())
    throw attrib::invalid_argument("node_type has " + std::to_string(types.size()) + " entries but features has " +
                                   std::to_string(x.rows()) + " rows; expected one of each per node");
  for (index v = 0; v < x.rows(); ++v) g.add_node(static_cast<int>(types.at(v)), x.row(v).transpose());
  const auto pairs = pairs_from(edges, g, "edges");
  const auto rel = integers_from(edge_relations, "edge_relations");
  if (static_cast<std::size_t>(rel.size()) != pairs.size())
    throw attrib::invalid_argument("edge_relations has " + std::to_string(rel.size()) + " entries, expected one per edge (" +
                                   std::to_string(pairs.size()) + ")");
  attrib::vector w = attrib::vector::Ones(static_cast<index>(pairs.size()));
  if (!edge_weights.is_none()) {
    w = vector_from(edge_weights, "edge_weights");
    if (w.size() != static_cast<index>(pairs.size()))
      throw attrib::invalid_argument("edge_weights has " + std::to_string(w.size()) + " entries, expected one per edge");
  }
  for (std::size_t k = 0; k < pairs.size(); ++k)
    g.add_edge(pairs[k].first, pairs[k].second, static_cast<int>(rel.data()[k]), w(static_cast<index>(k)));
  return g;
}

}  // namespace

void bind_graphs(py::module_& m) {
  py::class_<attrib::labeled_graph>(m, "Graph", py::dynamic_attr(), R"(An undirected graph with node features.

Graph(edges, node_count=None, features=None, node_labels=None, edge_weights=None, label=None):
edges is an (E, 2) integer array or a list of (u, v) pairs; (u, v) and (v, u) are the same edge.
features (n, d) default to one constant feature per node; label is the graph's class, if known.)")
      .def(py::init(&make_graph), py::arg("edges"), py::arg("node_count") = py::none(), py::arg("features") = py::none(),
           py::arg("node_labels") = py::none(), py::arg("edge_weights") = py::none(), py::arg("label") = py::none())
      .def_property_readonly("node_count", [](const attrib::labeled_graph& g) { return attrib::node_count(g.structure); })
      .def_property_readonly("edge_count",
                             [](const attrib::labeled_graph& g) { return static_cast<index>(boost::num_edges(g.structure)); })
      .def_property_readonly("label", [](const attrib::labeled_graph& g) { return g.label < 0 ? py::object(py::none()) : py::int_(g.label); })
      .def_property_readonly("edges", [](const attrib::labeled_graph& g) { return edge_arrays(g).first; },
                             "(E, 2) node pairs, u < v")
      .def_property_readonly("edge_weights", [](const attrib::labeled_graph& g) { return edge_arrays(g).second; })
      .def_property_readonly("features", [](const attrib::labeled_graph& g) { return attrib::feature_matrix(g.structure); },
                             "(n, d) node features")
      .def_property_readonly("node_labels",
                             [](const attrib::labeled_graph& g) {
                               std::vector<index> labels;
                               for (index i = 0; i < attrib::node_count(g.structure); ++i)
                                 labels.push_back(g.structure[static_cast<attrib::graph_node>(i)].label);
                               return int_array(labels);
                             })
      .def("__repr__", [](const attrib::labeled_graph& g) {
        return "attrib.Graph(" + std::to_string(attrib::node_count(g.structure)) + " nodes, " +
               std::to_string(boost::num_edges(g.structure)) + " edges" +
               (g.label >= 0 ? ", label " + std::to_string(g.label) : std::string()) + ")";
      });

  m.def(
      "read_tu_dataset",
      [](const std::filesystem::path& directory, const std::string& name) {
        attrib::graph_dataset data = attrib::read_tu_dataset(directory, name);
        py::list graphs;
        for (auto& g : data.graphs) graphs.append(py::cast(std::move(g)));
        py::dict out;
        out["graphs"] = graphs;
        out["class_values"] = data.class_values;
        out["node_label_values"] = data.node_label_values;
        return out;
      },
      py::arg("directory"), py::arg("name"));

  py::class_<graph_model>(m, "GraphModel", R"(A graph classifier attrib trains and explains: a GCN or a GIN.

GraphModel.fit(graphs, labels, model_type="gcn", ...) or GraphModel.load(path) (files of
attrib graph train); predict_proba(graphs) gives one row of class probabilities per graph.)")
      .def_static(
          "fit",
          [](const py::handle& graphs_arg, const py::handle& labels_arg, const std::string& model_type,
             const py::kwargs& kwargs) {
            const auto graphs = graphs_from(graphs_arg, "graphs");
            const auto inputs = inputs_from(graphs);
            std::vector<int> labels;
            if (labels_arg.is_none()) {
              for (std::size_t k = 0; k < graphs.size(); ++k) {
                if (graphs[k]->label < 0)
                  throw attrib::invalid_argument("graphs[" + std::to_string(k) +
                                                 "] has no label; give labels or build the graphs with label=...");
                labels.push_back(graphs[k]->label);
              }
            } else {
              const attrib::vector y = vector_from(labels_arg, "labels");
              if (static_cast<std::size_t>(y.size()) != graphs.size())
                throw attrib::invalid_argument("labels has " + std::to_string(y.size()) + " entries but there are " +
                                               std::to_string(graphs.size()) + " graphs");
              cli::class_count(y, "labels");
              for (index k = 0; k < y.size(); ++k) labels.push_back(static_cast<int>(y(k)));
            }
            const index d = inputs.front().features.cols();
            for (std::size_t k = 1; k < inputs.size(); ++k)
              if (inputs[k].features.cols() != d)
                throw attrib::invalid_argument("graphs[" + std::to_string(k) + "] has " +
                                               std::to_string(inputs[k].features.cols()) + " features per node, graphs[0] " +
                                               std::to_string(d));
            const cli::arguments a =
                options_from(kwargs, {"readout", "hidden", "layers", "epochs", "learning-rate", "batch-size", "seed"});
            graph_model out{cli::new_graph_model(a, model_type, d, cli::class_count(labels, "labels"))};
            const attrib::gnn_training options = cli::graph_training(a);
            py::gil_scoped_release release;
            out.training_loss = std::visit([&](auto& model) { return model.train(inputs, labels, options); }, out.model);
            return out;
          },
          py::arg("graphs"), py::arg("labels") = py::none(), py::arg("model_type") = "gcn",
          R"(Trains a GCN or GIN with Adam on cross-entropy (attrib graph train).

Options as its: readout (gcn: mean, sum, max; gin: sum, mean), hidden, layers, epochs,
learning_rate, batch_size, seed.)")
      .def_static(
          "load", [](const std::filesystem::path& path) { return graph_model{cli::load_graph_model(path.string())}; },
          py::arg("path"), "Loads a model file written by attrib graph train or GraphModel.save.")
      .def(
          "save",
          [](const graph_model& g, const std::filesystem::path& path) {
            std::ofstream file(path);
            if (!file) throw attrib::invalid_argument("cannot write the model file " + path.string());
            std::visit([&](const auto& model) { model.save(file); }, g.model);
            if (!file) throw attrib::invalid_argument("writing the model file " + path.string() + " failed");
          },
          py::arg("path"))
      .def(
          "predict_proba",
          [](const graph_model& g, const py::handle& graphs) {
            const auto inputs = inputs_from(graphs_from(graphs, "graphs"));
            return std::visit(
                [&](const auto& model) {
                  require_features(model, inputs, "graphs");
                  attrib::matrix p(static_cast<index>(inputs.size()), model.classes());
                  py::gil_scoped_release release;
                  for (std::size_t k = 0; k < inputs.size(); ++k)
                    p.row(static_cast<index>(k)) = model.probabilities(inputs[k]).transpose();
                  return p;
                },
                g.model);
          },
          py::arg("graphs"), "One row of class probabilities per graph (a single Graph gives one row).")
      .def(
          "predict",
          [](const graph_model& g, const py::handle& graphs) {
            const auto inputs = inputs_from(graphs_from(graphs, "graphs"));
            return std::visit(
                [&](const auto& model) {
                  require_features(model, inputs, "graphs");
                  std::vector<index> classes;
                  for (const auto& in : inputs) classes.push_back(model.predict(in));
                  return int_array(classes);
                },
                g.model);
          },
          py::arg("graphs"), "The predicted class of each graph.")
      .def_property_readonly("model_type", [](const graph_model& g) {
        return std::visit([](const auto& model) { return std::string(std::decay_t<decltype(model)>::name); }, g.model);
      })
      .def_property_readonly("input_dim", [](const graph_model& g) { return std::visit([](const auto& model) { return model.inputs(); }, g.model); })
      .def_property_readonly("classes", [](const graph_model& g) { return std::visit([](const auto& model) { return model.classes(); }, g.model); })
      .def_property_readonly("training_loss", [](const graph_model& g) { return g.training_loss; })
      .def("__repr__", [](const graph_model& g) {
        return std::visit(
            [](const auto& model) {
              return "attrib.GraphModel(" + std::string(std::decay_t<decltype(model)>::name) + ", " +
                     std::to_string(model.inputs()) + " node features, " + std::to_string(model.classes()) + " classes, " +
                     std::to_string(model.config().layers) + " layers of " + std::to_string(model.config().hidden) + ")";
            },
            g.model);
      });

  m.def(
      "explain_graph",
      [](const py::object& model, const attrib::labeled_graph& g, const std::string& method, const py::handle& target,
         const py::handle& baseline, std::uint64_t seed, std::size_t threads, const py::dict& options) {
        const cli::arguments a = options_from(options, graph_explain_options);
        const attrib::run_settings settings{.seed = seed, .threads = threads};
        if (py::isinstance<graph_model>(model))
          return std::visit([&](const auto& m) { return explain_model(m, g, method, target, baseline, a, settings); },
                            model.cast<const graph_model&>().model);
        if (!PyCallable_Check(model.ptr()))
          throw attrib::invalid_argument("model must be an attrib.GraphModel or a callable from a batch of 0/1 node "
                                         "masks to one score per mask, got a " + type_name(model));
        return explain_function(model, g, method, target, baseline, a, settings);
      },
      py::arg("model"), py::arg("graph"), py::arg("method"), py::arg("target"), py::arg("baseline"), py::arg("seed"),
      py::arg("threads"), py::arg("options"));

  py::class_<attrib::hetero_graph>(m, "HeteroGraph", R"(A heterogeneous graph: typed nodes with features, typed relations.

HeteroGraph(node_types, relations, node_type, features, edges, edge_relations, edge_weights=None):
relations are (name, source node type, target node type); edges (E, 2) are (source, target)
pairs of the relation edge_relations[k]. At most one edge joins two nodes.)")
      .def(py::init(&make_hetero_graph), py::arg("node_types"), py::arg("relations"), py::arg("node_type"),
           py::arg("features"), py::arg("edges"), py::arg("edge_relations"), py::arg("edge_weights") = py::none())
      .def_property_readonly("node_count", &attrib::hetero_graph::node_count)
      .def_property_readonly("edge_count", &attrib::hetero_graph::edge_count)
      .def_property_readonly("node_types", &attrib::hetero_graph::node_types)
      .def_property_readonly("relations",
                             [](const attrib::hetero_graph& g) {
                               std::vector<std::tuple<std::string, int, int>> out;
                               for (const auto& r : g.relations()) out.emplace_back(r.name, r.source_type, r.target_type);
                               return out;
                             })
      .def_property_readonly("edges",
                             [](const attrib::hetero_graph& g) {
                               py::array_t<std::int64_t> e({static_cast<py::ssize_t>(g.edge_count()), py::ssize_t{3}});
                               for (index k = 0; k < g.edge_count(); ++k) {
                                 e.mutable_at(k, 0) = g.edge(k).source;
                                 e.mutable_at(k, 1) = g.edge(k).target;
                                 e.mutable_at(k, 2) = g.edge(k).relation;
                               }
                               return e;
                             },
                             "(E, 3): source, target, relation")
      .def_property_readonly("node_type",
                             [](const attrib::hetero_graph& g) {
                               std::vector<index> t;
                               for (index v = 0; v < g.node_count(); ++v) t.push_back(g.node_type(v));
                               return int_array(t);
                             })
      .def_property_readonly("features", &attrib::hetero_graph::feature_matrix)
      .def("edge_between", &attrib::hetero_graph::edge_between, py::arg("u"), py::arg("v"), "The edge id joining u and v, or -1.")
      .def("__repr__", [](const attrib::hetero_graph& g) {
        return "attrib.HeteroGraph(" + std::to_string(g.node_count()) + " nodes of " + std::to_string(g.node_type_count()) +
               " types, " + std::to_string(g.edge_count()) + " edges of " + std::to_string(g.relation_count()) +
               " relations)";
      });

  m.def(
      "planted_link_graph",
      [](index users, index items, index attributes, index buys_per_user, index attributes_per_item,
         index likes_per_user, index feature_dim, std::uint64_t seed) {
        attrib::planted_link_graph data = attrib::user_item_attribute_graph(
            {users, items, attributes, buys_per_user, attributes_per_item, likes_per_user, feature_dim}, seed);
        py::list links;
        for (const auto& l : data.links) {
          py::dict d;
          d["source"] = l.source;
          d["target"] = l.target;
          d["paths"] = l.paths;
          d["edges"] = int_array(l.edges);
          links.append(d);
        }
        py::dict out;
        out["graph"] = std::move(data.graph);
        out["links"] = links;
        return out;
      },
      py::arg("users"), py::arg("items"), py::arg("attributes"), py::arg("buys_per_user"),
      py::arg("attributes_per_item"), py::arg("likes_per_user"), py::arg("feature_dim"), py::arg("seed"));

  py::class_<attrib::rgcn>(m, "LinkModel", R"(A relational GCN with a link scorer (the model PaGE-Link explains).

LinkModel.fit(graph, links, ...) trains it on observed (source, target) links against seeded
negatives; score(graph, pairs) gives one score per pair (> 0: predicted present).)")
      .def_static(
          "fit",
          [](const attrib::hetero_graph& g, const py::handle& links, index hidden, index layers, index bases,
             const std::string& scorer, index epochs, double learning_rate, index negatives, double l2,
             std::uint64_t seed) {
            if (scorer != "distmult" && scorer != "dot")
              throw attrib::invalid_argument("scorer must be distmult or dot, got '" + scorer + "'");
            const auto pairs = pairs_from(links, g, "links");
            attrib::rgcn model({.inputs = g.feature_count(), .hidden = hidden, .layers = layers,
                                .relations = g.relation_count(), .bases = bases,
                                .scorer = scorer == "dot" ? attrib::link_scorer::dot : attrib::link_scorer::distmult},
                               seed);
            py::gil_scoped_release release;
            model.train(g, pairs, {.epochs = epochs, .learning_rate = learning_rate, .negatives = negatives, .l2 = l2,
                                   .seed = seed});
            return model;
          },
          py::arg("graph"), py::arg("links"), py::arg("hidden") = 32, py::arg("layers") = 2, py::arg("bases") = 0,
          py::arg("scorer") = "distmult", py::arg("epochs") = 200, py::arg("learning_rate") = 0.01,
          py::arg("negatives") = 1, py::arg("l2") = 0.0, py::arg("seed") = 0)
      .def(
          "score",
          [](const attrib::rgcn& model, const attrib::hetero_graph& g, const py::handle& pairs_arg) {
            const auto pairs = pairs_from(pairs_arg, g, "pairs");
            if (g.feature_count() != model.config().inputs)
              throw attrib::invalid_argument("the graph's nodes have " + std::to_string(g.feature_count()) +
                                             " features but the model takes " + std::to_string(model.config().inputs));
            py::gil_scoped_release release;
            const attrib::matrix h = model.embed(g);
            attrib::vector s(static_cast<index>(pairs.size()));
            for (std::size_t k = 0; k < pairs.size(); ++k) s(static_cast<index>(k)) = model.score(h, pairs[k].first, pairs[k].second);
            return s;
          },
          py::arg("graph"), py::arg("pairs"))
      .def("save",
           [](const attrib::rgcn& model, const std::filesystem::path& path) {
             std::ofstream file(path);
             if (!file) throw attrib::invalid_argument("cannot write the model file " + path.string());
             model.save(file);
           },
           py::arg("path"))
      .def_static(
          "load",
          [](const std::filesystem::path& path) {
            std::ifstream file(path);
            if (!file) throw attrib::format_error("cannot open model file " + path.string());
            return attrib::rgcn::load(file);
          },
          py::arg("path"))
      .def("__repr__", [](const attrib::rgcn& model) {
        const auto& c = model.config();
        return "attrib.LinkModel(r-gcn, " + std::to_string(c.layers) + " layers of " + std::to_string(c.hidden) + ", " +
               std::to_string(c.relations) + " relations, " + (c.scorer == attrib::link_scorer::dot ? "dot" : "distmult") +
               ")";
      });

  m.def(
      "explain_links",
      [](const attrib::rgcn& model, const attrib::hetero_graph& g, const py::handle& links_arg, const std::string& method,
         const py::handle& truth, std::uint64_t seed, std::size_t threads, const py::dict& options) {
        const auto links = pairs_from(links_arg, g, "links");
        if (g.feature_count() != model.config().inputs)
          throw attrib::invalid_argument("the graph's nodes have " + std::to_string(g.feature_count()) +
                                         " features but the model takes " + std::to_string(model.config().inputs));
        if (!truth.is_none() && py::len(truth) != links.size())
          throw attrib::invalid_argument("truth has " + std::to_string(py::len(truth)) + " entries, expected one list of "
                                         "planted paths per link (" + std::to_string(links.size()) + ")");
        const attrib::run_settings settings{.seed = seed, .threads = threads};
        std::vector<attrib::link_explanation> results;
        if (method == "page-link") {
          const auto x = link_explainer<attrib::page_link>(options, method);
          py::gil_scoped_release release;
          results = attrib::explain_links(x, model, g, links, settings);
        } else if (method == "edge-mask") {
          const auto x = link_explainer<attrib::link_edge_mask_explainer>(options, method);
          py::gil_scoped_release release;
          results = attrib::explain_links(x, model, g, links, settings);
        } else {
          throw attrib::invalid_argument("unknown method '" + method + "' (page-link or edge-mask)");
        }
        py::list out;
        for (std::size_t k = 0; k < results.size(); ++k) {
          const py::object planted =
              truth.is_none() ? py::object(py::none()) : py::reinterpret_borrow<py::object>(truth)[py::int_(k)];
          out.append(link_dict(results[k], g, planted));
        }
        return out;
      },
      py::arg("model"), py::arg("graph"), py::arg("links"), py::arg("method"), py::arg("truth"), py::arg("seed"),
      py::arg("threads"), py::arg("options"));
}

}  // namespace attrib_python
