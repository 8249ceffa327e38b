#pragma once
// A node-scored graph as a standalone SVG: the graph drawn by Kamada-Kawai spring layout
// (Boost.Graph; each connected component on its own, placed side by side), each node filled on
// the diverging scale of its score (red above zero, blue below), its label written inside, the
// nodes of the explanation ringed in black, and a legend with the scale and the node scores.
#include <boost/graph/circle_layout.hpp>
#include <boost/graph/connected_components.hpp>
#include <boost/graph/kamada_kawai_spring_layout.hpp>
#include <boost/graph/topology.hpp>

#include <algorithm>
#include <cmath>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "attrib/graph/graph.hpp"
#include "svg_bar_chart.hpp"
#include "svg_heatmap.hpp"
#include "table_format.hpp"

namespace examples {

struct point_2d {
  double x = 0.0, y = 0.0;
};

// Node positions in units of one edge length: Kamada-Kawai per connected component, started from
// a circle (so the layout is deterministic), components left to right one unit apart.
inline std::vector<point_2d> spring_layout(const attrib::graph& g) {
  const std::size_t n = boost::num_vertices(g);
  std::vector<point_2d> out(n);
  if (n == 0) return out;
  std::vector<int> component(n);
  const int components = boost::connected_components(g, component.data());
  double offset = 0.0;
  for (int c = 0; c < components; ++c) {
    std::vector<std::size_t> members;
    for (std::size_t v = 0; v < n; ++v)
      if (component[v] == c) members.push_back(v);
    std::vector<std::size_t> local(n);
    for (std::size_t i = 0; i < members.size(); ++i) local[members[i]] = i;
    using part_graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::undirectedS>;
    part_graph part(members.size());
    for (auto [e, end] = boost::edges(g); e != end; ++e) {
      const auto u = boost::source(*e, g), v = boost::target(*e, g);
      if (component[u] == c) boost::add_edge(local[u], local[v], part);
    }
    using topology = boost::square_topology<>;
    std::vector<topology::point_type> position(members.size());
    auto position_map = boost::make_iterator_property_map(position.begin(), boost::get(boost::vertex_index, part));
    if (members.size() > 1) {
      boost::circle_graph_layout(part, position_map, static_cast<double>(members.size()) / 6.0 + 0.5);
      if (members.size() > 2)
        boost::kamada_kawai_spring_layout(part, position_map,
                                          boost::make_constant_property<part_graph::edge_descriptor>(1.0),
                                          topology(), boost::edge_length(1.0));
    }
    double min_x = position[0][0], max_x = min_x, min_y = position[0][1];
    for (const auto& p : position) {
      min_x = std::min(min_x, p[0]);
      max_x = std::max(max_x, p[0]);
      min_y = std::min(min_y, p[1]);
    }
    for (std::size_t i = 0; i < members.size(); ++i)
      out[members[i]] = {position[i][0] - min_x + offset, position[i][1] - min_y};
    offset += max_x - min_x + 1.0;
  }
  return out;
}

// Draws `g` with one score and one label per node; `selected` nodes (the explanation) get a ring.
// Throws std::invalid_argument when the sizes do not match the graph.
inline void write_graph_svg(std::ostream& out, const std::string& title, const attrib::graph& g,
                            const std::vector<std::string>& labels, const std::vector<double>& scores,
                            const std::vector<bool>& selected) {
  const std::size_t n = boost::num_vertices(g);
  if (labels.size() != n || scores.size() != n || selected.size() != n)
    throw std::invalid_argument("write_graph_svg: " + std::to_string(n) + " nodes but " + std::to_string(labels.size()) +
                                " labels, " + std::to_string(scores.size()) + " scores and " +
                                std::to_string(selected.size()) + " selection flags");
  const std::vector<point_2d> at = spring_layout(g);
  double width_units = 0.0, height_units = 0.0, limit = 0.0;
  for (std::size_t v = 0; v < n; ++v) {
    width_units = std::max(width_units, at[v].x);
    height_units = std::max(height_units, at[v].y);
    if (std::isfinite(scores[v])) limit = std::max(limit, std::abs(scores[v]));
  }
  const double unit = 48.0, radius = 13.0, margin = 30.0, top = 40.0, legend = 60.0;
  // Wide enough for the drawing, the title (about 8 px a character at 14 px) and the legend.
  const double width = std::max({unit * width_units + 2 * margin, 8.0 * static_cast<double>(title.size()) + 20.0,
                                 2 * margin + 300.0 + 80.0});
  const double height = top + unit * height_units + 2 * margin + legend;
  const auto x_of = [&](std::size_t v) { return margin + unit * at[v].x; };
  const auto y_of = [&](std::size_t v) { return top + margin + unit * at[v].y; };
  out << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << width / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">" << escape_xml(title)
      << "</text>\n";
  for (auto [e, end] = boost::edges(g); e != end; ++e) {
    const auto u = boost::source(*e, g), v = boost::target(*e, g);
    out << "<line x1=\"" << x_of(u) << "\" y1=\"" << y_of(u) << "\" x2=\"" << x_of(v) << "\" y2=\"" << y_of(v)
        << "\" stroke=\"#777\" stroke-width=\"2\"/>\n";
  }
  for (std::size_t v = 0; v < n; ++v) {
    out << "<circle cx=\"" << x_of(v) << "\" cy=\"" << y_of(v) << "\" r=\"" << radius << "\" fill=\""
        << (std::isfinite(scores[v]) ? detail::diverging_colour(scores[v], limit) : std::string("#cccccc"))
        << "\" stroke=\"" << (selected[v] ? "black" : "#999") << "\" stroke-width=\"" << (selected[v] ? 3 : 1)
        << "\"><title>node " << v << " (" << escape_xml(labels[v]) << "): " << attrib_examples::significant(scores[v], 4)
        << "</title></circle>\n<text x=\"" << x_of(v) << "\" y=\"" << y_of(v) + 4 << "\" text-anchor=\"middle\" fill=\""
        << (limit > 0 && std::abs(scores[v]) > 0.6 * limit ? "white" : "#222") << "\">" << escape_xml(labels[v])
        << "</text>\n";
  }
  const double legend_y = height - legend + 10;
  detail::write_colour_legend(out, margin, legend_y, 300.0, limit, "node score");
  out << "<text x=\"" << margin << "\" y=\"" << legend_y + 42 << "\">ringed: the nodes of the explanation</text>\n</svg>\n";
}

}  // namespace examples
