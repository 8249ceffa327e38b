#pragma once
// A grouped horizontal bar chart as a standalone SVG: one group per feature, one bar per
// series (method). Enough for the demo; no plotting dependency.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace examples {

struct bar_series {
  std::string name;
  std::vector<double> values;  // one per category
};

inline std::string escape_xml(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

inline void write_bar_chart(const std::string& path, const std::string& title,
                            const std::vector<std::string>& categories, const std::vector<bar_series>& series) {
  static const char* colours[] = {"#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666", "#1f78b4"};
  const double bar = 7.0, gap = 8.0, label_width = 190.0, plot_width = 520.0, top = 50.0;
  const double group = static_cast<double>(series.size()) * bar + gap;
  double extent = 1e-12;
  for (const auto& s : series)
    for (double v : s.values) extent = std::max(extent, std::abs(v));
  const double scale = plot_width / 2.0 / extent;
  const double zero = label_width + plot_width / 2.0;
  const double height = top + group * static_cast<double>(categories.size()) + 30.0 + 16.0 * static_cast<double>(series.size());
  const double width = label_width + plot_width + 40.0;

  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" font-family=\"sans-serif\" font-size=\"11\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << width / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">" << escape_xml(title) << "</text>\n";
  for (std::size_t c = 0; c < categories.size(); ++c) {
    const double y0 = top + group * static_cast<double>(c);
    svg << "<text x=\"" << label_width - 6 << "\" y=\"" << y0 + group / 2 << "\" text-anchor=\"end\">"
        << escape_xml(categories[c]) << "</text>\n";
    for (std::size_t s = 0; s < series.size(); ++s) {
      const double v = series[s].values.at(c);
      const double x = v >= 0 ? zero : zero + v * scale;
      svg << "<rect x=\"" << x << "\" y=\"" << y0 + static_cast<double>(s) * bar << "\" width=\"" << std::abs(v) * scale
          << "\" height=\"" << bar - 1 << "\" fill=\"" << colours[s % 9] << "\"><title>" << escape_xml(series[s].name)
          << ": " << v << "</title></rect>\n";
    }
  }
  const double axis_bottom = top + group * static_cast<double>(categories.size());
  svg << "<line x1=\"" << zero << "\" y1=\"" << top - 4 << "\" x2=\"" << zero << "\" y2=\"" << axis_bottom
      << "\" stroke=\"black\"/>\n";
  for (std::size_t s = 0; s < series.size(); ++s) {
    const double y = axis_bottom + 20 + 16.0 * static_cast<double>(s);
    svg << "<rect x=\"" << label_width << "\" y=\"" << y - 9 << "\" width=\"10\" height=\"10\" fill=\"" << colours[s % 9]
        << "\"/><text x=\"" << label_width + 16 << "\" y=\"" << y << "\">" << escape_xml(series[s].name) << "</text>\n";
  }
  svg << "</svg>\n";
  std::ofstream out(path);
  if (!out) throw std::runtime_error("cannot write " + path);
  out << svg.str();
}

}  // namespace examples
