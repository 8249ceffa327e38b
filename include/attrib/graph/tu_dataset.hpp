#pragma once
// Reader for the TU Dortmund graph-dataset format (Morris et al. 2020; MUTAG, PROTEINS, ...):
// DS_A.txt ("row, col" per directed edge), DS_graph_indicator.txt (graph id per node),
// DS_graph_labels.txt (class per graph), DS_node_labels.txt (label per node) and optionally
// DS_edge_labels.txt (label per line of DS_A.txt). Ids are 1-based. Node features are the
// one-hot node label; graph labels are mapped to 0..C-1 in ascending order (MUTAG: -1 -> 0, 1 -> 1).
#include <algorithm>
#include <charconv>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/text.hpp"
#include "attrib/graph/graph.hpp"
#include "attrib/io/detail/file_bytes.hpp"

namespace attrib {

struct graph_dataset {
  std::vector<labeled_graph> graphs;
  std::vector<long> class_values;       // original label of class c
  std::vector<long> node_label_values;  // original node label of feature column k
  index classes() const { return static_cast<index>(class_values.size()); }
};

namespace detail {

// Every line of `text` (the file `source`) as integers separated by commas and/or blanks;
// `width` per line.
inline std::vector<std::vector<long>> parse_integer_lines(std::string_view text, const std::string& source,
                                                          std::size_t width) {
  std::vector<std::vector<long>> rows;
  std::size_t number = 0;
  while (!text.empty()) {
    ++number;
    const auto newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view{} : text.substr(newline + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    std::vector<long> row;
    const char* p = line.data();
    const char* end = p + line.size();
    while (p < end) {
      while (p < end && (*p == ' ' || *p == '\t' || *p == ',')) ++p;
      if (p == end) break;
      long value = 0;
      const auto [next, ec] = std::from_chars(p, end, value);
      if (ec != std::errc{} || row.size() == width)
        throw format_error("read_tu_dataset: " + source + " line " + std::to_string(number) + ": expected " +
                           std::to_string(width) + " integer(s), got '" + printable(line) + "'");
      row.push_back(value);
      p = next;
    }
    if (row.size() != width)
      throw format_error("read_tu_dataset: " + source + " line " + std::to_string(number) + ": expected " +
                         std::to_string(width) + " integer(s), got " + std::to_string(row.size()));
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace detail

// The text of a dataset's files (see the top of this header); edge_labels is empty when the
// dataset has none.
struct tu_dataset_text {
  std::string_view edges, graph_indicator, graph_labels, node_labels, edge_labels;
};

// A dataset from its files' text; `name` names them in messages. Node features are one-hot, so
// the nodes times the distinct node labels are limited to 2^28 entries (2 GiB).
inline graph_dataset parse_tu_dataset(const tu_dataset_text& text, const std::string& name) {
  const auto edges = detail::parse_integer_lines(text.edges, name + "_A.txt", 2);
  const auto indicator = detail::parse_integer_lines(text.graph_indicator, name + "_graph_indicator.txt", 1);
  const auto graph_labels = detail::parse_integer_lines(text.graph_labels, name + "_graph_labels.txt", 1);
  const auto node_labels = detail::parse_integer_lines(text.node_labels, name + "_node_labels.txt", 1);
  std::vector<std::vector<long>> edge_labels;
  if (!text.edge_labels.empty()) {
    edge_labels = detail::parse_integer_lines(text.edge_labels, name + "_edge_labels.txt", 1);
    if (edge_labels.size() != edges.size())
      throw format_error("read_tu_dataset: " + name + "_edge_labels.txt has " + std::to_string(edge_labels.size()) +
                         " lines, expected one per line of " + name + "_A.txt (" + std::to_string(edges.size()) + ")");
    for (std::size_t e = 0; e < edge_labels.size(); ++e)
      if (edge_labels[e][0] < 0 || edge_labels[e][0] > 1'000'000)
        throw format_error("read_tu_dataset: " + name + "_edge_labels.txt line " + std::to_string(e + 1) +
                           ": edge label " + std::to_string(edge_labels[e][0]) + " is outside 0..1000000");
  }
  const auto nodes = static_cast<long>(indicator.size());
  const auto graphs = static_cast<long>(graph_labels.size());
  if (nodes == 0) throw format_error("read_tu_dataset: " + name + "_graph_indicator.txt lists no nodes");
  if (graphs == 0) throw format_error("read_tu_dataset: " + name + "_graph_labels.txt lists no graphs");
  if (static_cast<long>(node_labels.size()) != nodes)
    throw format_error("read_tu_dataset: " + name + "_node_labels.txt has " + std::to_string(node_labels.size()) +
                       " lines, expected one per node (" + std::to_string(nodes) + ")");

  std::vector<long> class_values, label_values;
  for (const auto& r : graph_labels) class_values.push_back(r[0]);
  for (const auto& r : node_labels) label_values.push_back(r[0]);
  for (auto* v : {&class_values, &label_values}) {
    std::sort(v->begin(), v->end());
    v->erase(std::unique(v->begin(), v->end()), v->end());
  }
  const auto rank = [](const std::vector<long>& values, long x) {
    return static_cast<int>(std::lower_bound(values.begin(), values.end(), x) - values.begin());
  };

  // Node i (0-based, global) -> its graph and its position inside that graph.
  std::vector<long> local(static_cast<std::size_t>(nodes));
  std::vector<long> sizes(static_cast<std::size_t>(graphs), 0);
  for (long i = 0; i < nodes; ++i) {
    const long gid = indicator[static_cast<std::size_t>(i)][0];
    if (gid < 1 || gid > graphs)
      throw format_error("read_tu_dataset: " + name + "_graph_indicator.txt line " + std::to_string(i + 1) +
                         ": graph id " + std::to_string(gid) + " is outside 1.." + std::to_string(graphs));
    local[static_cast<std::size_t>(i)] = sizes[static_cast<std::size_t>(gid - 1)]++;
  }
  graph_dataset data;
  data.class_values = class_values;
  data.node_label_values = label_values;
  data.graphs.resize(static_cast<std::size_t>(graphs));
  const auto features = static_cast<index>(label_values.size());
  if (static_cast<double>(features) * static_cast<double>(nodes) > static_cast<double>(1 << 28))
    throw format_error("read_tu_dataset: " + std::to_string(nodes) + " nodes with " + std::to_string(features) +
                       " distinct node labels need " + std::to_string(static_cast<double>(features) * static_cast<double>(nodes)) +
                       " one-hot feature entries, more than the limit of 2^28");
  for (long g = 0; g < graphs; ++g) {
    if (sizes[static_cast<std::size_t>(g)] == 0)
      throw format_error("read_tu_dataset: graph " + std::to_string(g + 1) + " has no nodes");
    auto& lg = data.graphs[static_cast<std::size_t>(g)];
    lg.structure = graph(static_cast<std::size_t>(sizes[static_cast<std::size_t>(g)]));
    lg.label = rank(class_values, graph_labels[static_cast<std::size_t>(g)][0]);
  }
  for (long i = 0; i < nodes; ++i) {
    auto& lg = data.graphs[static_cast<std::size_t>(indicator[static_cast<std::size_t>(i)][0] - 1)];
    auto& props = lg.structure[static_cast<graph_node>(local[static_cast<std::size_t>(i)])];
    props.label = rank(label_values, node_labels[static_cast<std::size_t>(i)][0]);
    props.features = vector::Zero(features);
    props.features(props.label) = 1.0;
  }
  for (std::size_t e = 0; e < edges.size(); ++e) {
    const long a = edges[e][0], b = edges[e][1];
    for (long id : {a, b})
      if (id < 1 || id > nodes)
        throw format_error("read_tu_dataset: " + name + "_A.txt line " + std::to_string(e + 1) + ": node id " +
                           std::to_string(id) + " is outside 1.." + std::to_string(nodes));
    const long ga = indicator[static_cast<std::size_t>(a - 1)][0], gb = indicator[static_cast<std::size_t>(b - 1)][0];
    if (ga != gb)
      throw format_error("read_tu_dataset: " + name + "_A.txt line " + std::to_string(e + 1) + ": edge " +
                         std::to_string(a) + ", " + std::to_string(b) + " joins graphs " + std::to_string(ga) +
                         " and " + std::to_string(gb));
    edge_properties p;
    if (!edge_labels.empty()) p.type = static_cast<int>(edge_labels[e][0]);
    add_undirected_edge(data.graphs[static_cast<std::size_t>(ga - 1)].structure,
                        static_cast<graph_node>(local[static_cast<std::size_t>(a - 1)]),
                        static_cast<graph_node>(local[static_cast<std::size_t>(b - 1)]), p);
  }
  return data;
}

// Reads dataset `name` from `directory` (files `name`_A.txt and so on).
inline graph_dataset read_tu_dataset(const std::filesystem::path& directory, const std::string& name) {
  const auto read = [&](const char* suffix) { return detail::read_file_bytes(directory / (name + suffix)); };
  const std::string edges = read("_A.txt"), indicator = read("_graph_indicator.txt"),
                    graph_labels = read("_graph_labels.txt"), node_labels = read("_node_labels.txt");
  const std::string edge_labels =
      std::filesystem::exists(directory / (name + "_edge_labels.txt")) ? read("_edge_labels.txt") : std::string();
  return parse_tu_dataset({edges, indicator, graph_labels, node_labels, edge_labels}, name);
}

}  // namespace attrib
