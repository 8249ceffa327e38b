#pragma once
// A link explanation (PaGE-Link and the other link explainers) as a standalone SVG: the explained
// link's source on the left and target on the right, the nodes of the best paths and of the
// edges of largest mask in columns by their distance from the source, each drawn edge as wide and
// as dark as its mask, the best path in red over it and the next paths in orange, and the planted
// explanation edges (when the caller knows them) dashed in green beneath, so that a reader sees at
// once whether the explainer's path is a planted one. A layered drawing rather than a spring
// layout: a path reads left to right, and the drawing stays legible on computation graphs of
// hundreds of nodes because only the explanation's nodes are drawn.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <map>
#include <ostream>
#include <queue>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "attrib/core/graph_attribution.hpp"
#include "attrib/graph/hetero_graph.hpp"
#include "svg_heatmap.hpp"
#include "table_format.hpp"

namespace examples {

struct link_drawing_options {
  std::size_t paths = 3;         // the best paths drawn (the first in red)
  std::size_t strong_edges = 8;  // further edges of largest mask drawn with their nodes
};

// Throws std::invalid_argument when the explanation does not fit the graph (a mask of another
// length than its edges, edge or node ids outside the graph).
inline void write_link_paths_svg(std::ostream& out, const std::string& title, const attrib::hetero_graph& g,
                                 const attrib::link_explanation& e, const std::vector<attrib::index>& planted_edges = {},
                                 const link_drawing_options& options = {}) {
  using attrib::index;
  if (e.mask.size() != static_cast<index>(e.edges.size()))
    throw std::invalid_argument("write_link_paths_svg: the mask has " + std::to_string(e.mask.size()) +
                                " entries for " + std::to_string(e.edges.size()) + " edges");
  const auto check_edge = [&](index id) {
    if (id < 0 || id >= g.edge_count())
      throw std::invalid_argument("write_link_paths_svg: edge " + std::to_string(id) + " is outside the graph's " +
                                  std::to_string(g.edge_count()) + " edges");
  };
  for (index id : e.edges) check_edge(id);
  for (index id : planted_edges) check_edge(id);
  for (index v : {e.source, e.target})
    if (v < 0 || v >= g.node_count())
      throw std::invalid_argument("write_link_paths_svg: node " + std::to_string(v) + " is outside the graph's " +
                                  std::to_string(g.node_count()) + " nodes");

  // The drawn edges (input-graph ids) with their masks: the paths' and the strongest others'.
  std::map<index, double> mask_of;
  for (std::size_t k = 0; k < e.edges.size(); ++k) mask_of[e.edges[k]] = e.mask[static_cast<index>(k)];
  std::set<index> drawn;
  const std::size_t path_count = std::min(options.paths, e.paths.size());
  for (std::size_t p = 0; p < path_count; ++p)
    for (index id : e.paths[p].edges) {
      check_edge(id);
      drawn.insert(id);
    }
  std::vector<std::size_t> order(e.edges.size());
  for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return e.mask[static_cast<index>(a)] > e.mask[static_cast<index>(b)];
  });
  for (std::size_t k = 0; k < std::min(options.strong_edges, order.size()); ++k) drawn.insert(e.edges[order[k]]);
  for (index id : planted_edges) drawn.insert(id);

  // Nodes in columns by their distance from the source over the drawn edges; the target last.
  std::map<index, std::vector<index>> neighbours;
  for (index id : drawn) {
    const auto& edge = g.edge(id);
    neighbours[edge.source].push_back(edge.target);
    neighbours[edge.target].push_back(edge.source);
  }
  // Breadth-first distances over the drawn edges from `start`, not passing through `wall`.
  const auto distances = [&](index start, index wall) {
    std::map<index, int> d{{start, 0}};
    std::queue<index> frontier;
    frontier.push(start);
    while (!frontier.empty()) {
      const index v = frontier.front();
      frontier.pop();
      if (v == wall) continue;
      for (index w : neighbours[v])
        if (!d.contains(w)) {
          d[w] = d[v] + 1;
          frontier.push(w);
        }
    }
    return d;
  };
  std::map<index, int> column = distances(e.source, e.target);
  int farthest = 0;
  for (const auto& [v, c] : column)
    if (v != e.target) farthest = std::max(farthest, c);
  const int last = std::max(column.contains(e.target) ? column[e.target] : 1, farthest + 1);
  column[e.target] = last;
  // Nodes the source does not reach (paths end at the target) sit by their distance from the
  // target; edges apart from both endpoints (a strong mask elsewhere) by their distance from their
  // component's first node, from column 1.
  for (const auto& [v, c] : distances(e.target, e.source))
    if (!column.contains(v)) column[v] = std::max(1, last - c);
  for (const auto& [v, list] : neighbours) {
    if (column.contains(v)) continue;
    for (const auto& [w, c] : distances(v, -1))
      if (!column.contains(w)) column[w] = std::min(last - 1, 1 + c);
  }
  std::map<int, std::vector<index>> members;
  for (const auto& [v, c] : column) members[c].push_back(v);

  const double column_gap = 150.0, row_gap = 46.0, radius = 15.0, margin = 40.0, top = 50.0, legend = 70.0;
  std::size_t tallest = 1;
  for (const auto& [c, list] : members) tallest = std::max(tallest, list.size());
  const double width = std::max(2 * margin + column_gap * last, 8.0 * static_cast<double>(title.size()) + 40.0);
  const double height = top + 2 * margin + row_gap * static_cast<double>(tallest - 1) + legend;
  std::map<index, std::pair<double, double>> at;
  for (const auto& [c, list] : members)
    for (std::size_t r = 0; r < list.size(); ++r) {
      const double spread = row_gap * static_cast<double>(list.size() - 1);
      at[list[r]] = {margin + column_gap * c,
                     top + margin + row_gap * static_cast<double>(tallest - 1) / 2.0 - spread / 2.0 + row_gap * r};
    }

  out << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << width / 2 << "\" y=\"24\" text-anchor=\"middle\" font-size=\"14\">" << escape_xml(title)
      << "</text>\n";
  // An edge between two nodes of one column bends to the right, by a third of its height, so that
  // it does not run through the nodes between them.
  const auto line = [&](index id, const std::string& style) {
    const auto& edge = g.edge(id);
    const auto [x1, y1] = at[edge.source];
    const auto [x2, y2] = at[edge.target];
    if (x1 == x2)
      out << "<path d=\"M " << x1 << " " << y1 << " Q " << x1 + std::abs(y2 - y1) / 3.0 << " " << (y1 + y2) / 2.0
          << " " << x2 << " " << y2 << "\" fill=\"none\" " << style << "/>\n";
    else
      out << "<line x1=\"" << x1 << "\" y1=\"" << y1 << "\" x2=\"" << x2 << "\" y2=\"" << y2 << "\" " << style
          << "/>\n";
  };
  for (index id : planted_edges) line(id, "stroke=\"#2ca02c\" stroke-width=\"9\" stroke-dasharray=\"10 6\" opacity=\"0.6\"");
  for (index id : drawn) {
    const auto found = mask_of.find(id);
    const double m = found == mask_of.end() ? 0.0 : std::clamp(found->second, 0.0, 1.0);
    const int grey = static_cast<int>(std::lround(200.0 - 170.0 * m));
    out << "<!-- edge " << id << ", mask " << attrib_examples::significant(m, 3) << " -->\n";
    line(id, "stroke=\"rgb(" + std::to_string(grey) + "," + std::to_string(grey) + "," + std::to_string(grey) +
                 ")\" stroke-width=\"" + attrib_examples::significant(1.0 + 5.0 * m, 3) + "\"");
  }
  for (std::size_t p = path_count; p-- > 0;)
    for (index id : e.paths[p].edges)
      line(id, std::string("stroke=\"") + (p == 0 ? "#d62728" : "#ff9f1c") + "\" stroke-width=\"" +
                   (p == 0 ? "3.5" : "2.5") + "\" opacity=\"0.9\"");
  for (const auto& [v, xy] : at) {
    const int type = g.node_type(v);
    const std::string& type_name = g.node_types()[static_cast<std::size_t>(type)];
    const bool end = v == e.source || v == e.target;
    out << "<circle cx=\"" << xy.first << "\" cy=\"" << xy.second << "\" r=\"" << radius << "\" fill=\""
        << (end ? "#1f3b73" : "#e8eef7") << "\" stroke=\"#1f3b73\" stroke-width=\"1.5\"><title>" << escape_xml(type_name)
        << " " << v << "</title></circle>\n<text x=\"" << xy.first << "\" y=\"" << xy.second + 4
        << "\" text-anchor=\"middle\" fill=\"" << (end ? "white" : "#222") << "\">"
        << escape_xml(type_name.substr(0, 1) + std::to_string(v)) << "</text>\n";
  }
  const double y = height - legend + 18;
  out << "<line x1=\"" << margin << "\" y1=\"" << y << "\" x2=\"" << margin + 30 << "\" y2=\"" << y
      << "\" stroke=\"#d62728\" stroke-width=\"3.5\"/><text x=\"" << margin + 38 << "\" y=\"" << y + 4
      << "\">best path</text>\n<line x1=\"" << margin + 130 << "\" y1=\"" << y << "\" x2=\"" << margin + 160
      << "\" y2=\"" << y << "\" stroke=\"#ff9f1c\" stroke-width=\"2.5\"/><text x=\"" << margin + 168 << "\" y=\""
      << y + 4 << "\">next paths</text>\n";
  if (!planted_edges.empty())
    out << "<line x1=\"" << margin + 260 << "\" y1=\"" << y << "\" x2=\"" << margin + 290 << "\" y2=\"" << y
        << "\" stroke=\"#2ca02c\" stroke-width=\"9\" stroke-dasharray=\"10 6\" opacity=\"0.6\"/><text x=\""
        << margin + 298 << "\" y=\"" << y + 4 << "\">planted explanation edges</text>\n";
  out << "<text x=\"" << margin << "\" y=\"" << y + 26
      << "\">grey edges: the explainer's mask (wider and darker is larger); labels: node type initial and id</text>\n"
      << "</svg>\n";
}

}  // namespace examples
