#pragma once
// A grouped horizontal bar chart as a standalone SVG: one group per feature, one bar per
// series (method). Enough for the demo; no plotting dependency.
#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "attrib/io/atomic_file.hpp"

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

// About five round tick positions covering [low, high]: steps of 1, 2 or 5 times a power of ten.
inline std::vector<double> nice_ticks(double low, double high) {
  if (!(high > low)) high = low + 1.0;
  const double raw = (high - low) / 5.0;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  const double step = raw / power < 1.5 ? power : raw / power < 3.5 ? 2 * power : raw / power < 7.5 ? 5 * power : 10 * power;
  std::vector<double> ticks;
  for (double t = std::ceil(low / step) * step; t <= high + step * 1e-9; t += step) ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
  return ticks;
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
  const double height = top + group * static_cast<double>(categories.size()) + 40.0 + 16.0 * static_cast<double>(series.size());
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
      // One pixel at least, so that a small value is still seen to be there.
      svg << "<rect x=\"" << x << "\" y=\"" << y0 + static_cast<double>(s) * bar << "\" width=\"" << std::max(std::abs(v) * scale, 1.0)
          << "\" height=\"" << bar - 1 << "\" fill=\"" << colours[s % 9] << "\"><title>" << escape_xml(series[s].name)
          << ": " << v << "</title></rect>\n";
    }
  }
  const double axis_bottom = top + group * static_cast<double>(categories.size());
  svg << "<line x1=\"" << zero << "\" y1=\"" << top - 4 << "\" x2=\"" << zero << "\" y2=\"" << axis_bottom
      << "\" stroke=\"black\"/>\n";
  // The value axis, with round ticks over the symmetric range shown.
  svg << "<line x1=\"" << label_width << "\" y1=\"" << axis_bottom << "\" x2=\"" << label_width + plot_width << "\" y2=\""
      << axis_bottom << "\" stroke=\"black\"/>\n";
  for (double t : nice_ticks(-extent, extent))
    if (std::abs(t) <= extent)
      svg << "<line x1=\"" << zero + t * scale << "\" y1=\"" << axis_bottom << "\" x2=\"" << zero + t * scale << "\" y2=\""
          << axis_bottom + 4 << "\" stroke=\"black\"/><text x=\"" << zero + t * scale << "\" y=\"" << axis_bottom + 14
          << "\" text-anchor=\"middle\" font-size=\"9\">" << t << "</text>\n";
  for (std::size_t s = 0; s < series.size(); ++s) {
    const double y = axis_bottom + 30 + 16.0 * static_cast<double>(s);
    svg << "<rect x=\"" << label_width << "\" y=\"" << y - 9 << "\" width=\"10\" height=\"10\" fill=\"" << colours[s % 9]
        << "\"/><text x=\"" << label_width + 16 << "\" y=\"" << y << "\">" << escape_xml(series[s].name) << "</text>\n";
  }
  svg << "</svg>\n";
  attrib::write_file_atomically(path, svg.str());
}

}  // namespace examples
