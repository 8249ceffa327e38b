#pragma once
// A transformer circuit (ACDC's result: a Boost.Graph over embed, attention, MLP and logits
// nodes) as a standalone SVG: the nodes in forward order from the bottom (embed) to the top
// (logits), attention blocks on the left and MLPs on the right, each edge drawn as a curve whose
// width grows with how much removing it would cost.
#include <algorithm>
#include <cmath>
#include <ostream>
#include <string>

#include "attrib/methods/component/acdc.hpp"
#include "svg_bar_chart.hpp"
#include "table_format.hpp"

namespace examples {

inline void write_circuit_svg(std::ostream& out, const std::string& title, const attrib::circuit_graph& g, attrib::index layers) {
  const double row = 56.0, width = std::max(420.0, 8.0 * static_cast<double>(title.size()) + 40.0);
  const double height = 90.0 + row * static_cast<double>(2 * layers + 1);
  // The node's centre: rank 0 (embed) at the bottom, the logits at the top.
  auto centre = [&](const attrib::circuit_node& n) {
    const double rank = static_cast<double>(attrib::detail::forward_rank(n, layers));
    const double x = n.kind == attrib::circuit_node_kind::attention ? width * 0.3
                     : n.kind == attrib::circuit_node_kind::mlp     ? width * 0.7
                                                                    : width * 0.5;
    return std::pair{x, height - 40.0 - row * rank};
  };
  double strongest = 0.0;
  for (auto [e, end] = boost::edges(g); e != end; ++e) strongest = std::max(strongest, std::abs(g[*e].increase));
  out << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" font-family=\"sans-serif\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << width / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">" << escape_xml(title) << "</text>\n";
  for (auto [e, end] = boost::edges(g); e != end; ++e) {
    const auto [x1, y1] = centre(g[boost::source(*e, g)]);
    const auto [x2, y2] = centre(g[boost::target(*e, g)]);
    const double stroke = 1.0 + 5.0 * (strongest > 0.0 ? std::abs(g[*e].increase) / strongest : 0.0);
    // A curve bowing sideways, so that edges between nodes of one column stay apart.
    const double bow = x1 == x2 ? 40.0 + 0.15 * std::abs(y1 - y2) : 0.0;
    out << "<path d=\"M " << x1 << ' ' << y1 << " C " << x1 + bow << ' ' << (2 * y1 + y2) / 3 << ", " << x2 + bow << ' '
        << (y1 + 2 * y2) / 3 << ", " << x2 << ' ' << y2 << "\" fill=\"none\" stroke=\"#555\" stroke-width=\"" << stroke
        << "\" opacity=\"0.7\"><title>" << escape_xml(attrib::to_string(g[boost::source(*e, g)])) << " -&gt; "
        << escape_xml(attrib::to_string(g[boost::target(*e, g)])) << ": " << attrib_examples::significant(g[*e].increase, 3)
        << "</title></path>\n";
  }
  for (auto [v, end] = boost::vertices(g); v != end; ++v) {
    const auto [x, y] = centre(g[*v]);
    const std::string label = attrib::to_string(g[*v]);
    const double w = 12.0 + 7.0 * static_cast<double>(label.size());
    out << "<rect x=\"" << x - w / 2 << "\" y=\"" << y - 12 << "\" width=\"" << w << "\" height=\"24\" rx=\"6\" fill=\""
        << (g[*v].kind == attrib::circuit_node_kind::attention ? "#dbe9f6" : g[*v].kind == attrib::circuit_node_kind::mlp ? "#fde2cf" : "#eeeeee")
        << "\" stroke=\"black\"/>\n"
        << "<text x=\"" << x << "\" y=\"" << y + 4 << "\" text-anchor=\"middle\" font-size=\"12\">" << escape_xml(label) << "</text>\n";
  }
  out << "</svg>\n";
}

}  // namespace examples
