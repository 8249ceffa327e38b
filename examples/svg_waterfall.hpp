#pragma once
// Feature attributions as a standalone SVG, one panel per explained instance. With a base value
// (perturbation methods): a waterfall from the base value E[f] to the prediction f(x), one bar per
// feature in order of |attribution|, red where a feature raises the output and blue where it
// lowers it. Without one (input-space gradient methods): bars from zero. Every panel has an axis
// with ticks, each bar its value, and bars too small to see are drawn one pixel wide.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <ostream>
#include <string>
#include <vector>

#include "svg_bar_chart.hpp"
#include "table_format.hpp"

namespace examples {

struct waterfall_panel {
  std::string title;                 // e.g. "row 5, output 0"
  std::vector<double> values;        // one per feature
  double base_value = std::nan("");  // NaN: bars start at zero
  double prediction = std::nan("");
};

namespace detail {

inline std::string number_text(double v) { return attrib_examples::significant(v, 4); }

}  // namespace detail

// Writes the panels to `out`; `features` names the values (at most `max_features` are drawn per
// panel, the rest summed into one "N other features" bar).
inline void write_waterfall_svg(std::ostream& out, const std::string& title, const std::vector<std::string>& features,
                                const std::vector<waterfall_panel>& panels, std::size_t max_features = 15) {
  const double label_width = 200.0, plot_width = 460.0, value_width = 70.0, row = 20.0, panel_gap = 56.0, top = 40.0;
  struct bar {
    std::string name;
    double value;
  };
  std::vector<std::vector<bar>> bars(panels.size());
  double height = top;
  for (std::size_t p = 0; p < panels.size(); ++p) {
    std::vector<std::size_t> order(panels[p].values.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::size_t i, std::size_t j) {
      return std::abs(panels[p].values[i]) > std::abs(panels[p].values[j]);
    });
    for (std::size_t k = 0; k < order.size(); ++k) {
      if (k + 1 == max_features && order.size() > max_features) {
        double rest = 0.0;
        for (std::size_t m = k; m < order.size(); ++m) rest += panels[p].values[order[m]];
        bars[p].push_back({std::to_string(order.size() - k) + " other features", rest});
        break;
      }
      bars[p].push_back({order[k] < features.size() ? features[order[k]] : "x" + std::to_string(order[k]),
                         panels[p].values[order[k]]});
    }
    height += panel_gap + row * static_cast<double>(bars[p].size() + 1);
  }
  const double width = label_width + plot_width + value_width + 20.0;
  out << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height + 10
      << "\" font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << width / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">" << escape_xml(title)
      << "</text>\n";
  double y0 = top;
  for (std::size_t p = 0; p < panels.size(); ++p) {
    const auto& panel = panels[p];
    const bool waterfall = std::isfinite(panel.base_value);
    // The value range the bars span: running sums from the base value, or the values and zero.
    double position = waterfall ? panel.base_value : 0.0, low = position, high = position;
    for (const auto& b : bars[p]) {
      const double end = waterfall ? position + b.value : b.value;
      low = std::min({low, end, waterfall ? position : 0.0});
      high = std::max({high, end, waterfall ? position : 0.0});
      if (waterfall) position = end;
    }
    const std::vector<double> ticks = nice_ticks(low, high);
    low = std::min(low, ticks.front());
    high = std::max(high, ticks.back());
    const double scale = plot_width / (high - low);
    const auto x_of = [&](double v) { return label_width + (v - low) * scale; };
    std::string heading = panel.title;
    if (waterfall) heading += ": E[f] = " + detail::number_text(panel.base_value);
    if (std::isfinite(panel.prediction)) heading += ", f(x) = " + detail::number_text(panel.prediction);
    out << "<text x=\"" << label_width << "\" y=\"" << y0 + 12 << "\" font-weight=\"bold\">" << escape_xml(heading)
        << "</text>\n";
    const double plot_top = y0 + 20;
    position = waterfall ? panel.base_value : 0.0;
    for (std::size_t k = 0; k < bars[p].size(); ++k) {
      const auto& b = bars[p][k];
      const double from = waterfall ? position : 0.0, to = from + b.value;
      const double x = std::min(x_of(from), x_of(to)), w = std::max(std::abs(x_of(to) - x_of(from)), 1.0);
      const double y = plot_top + row * static_cast<double>(k);
      out << "<text x=\"" << label_width - 6 << "\" y=\"" << y + 13 << "\" text-anchor=\"end\">" << escape_xml(b.name)
          << "</text>\n<rect x=\"" << x << "\" y=\"" << y + 3 << "\" width=\"" << w << "\" height=\"" << row - 6
          << "\" fill=\"" << (b.value >= 0 ? "#d62728" : "#1f77b4") << "\"/>\n<text x=\""
          << std::max(x_of(from), x_of(to)) + 4 << "\" y=\"" << y + 13 << "\" fill=\"#333\">"
          << (b.value >= 0 ? "+" : "") << detail::number_text(b.value) << "</text>\n";
      if (waterfall) position = to;
    }
    const double axis_y = plot_top + row * static_cast<double>(bars[p].size()) + 4;
    out << "<line x1=\"" << label_width << "\" y1=\"" << axis_y << "\" x2=\"" << label_width + plot_width << "\" y2=\""
        << axis_y << "\" stroke=\"black\"/>\n";
    for (double t : ticks)
      out << "<line x1=\"" << x_of(t) << "\" y1=\"" << axis_y << "\" x2=\"" << x_of(t) << "\" y2=\"" << axis_y + 4
          << "\" stroke=\"black\"/><text x=\"" << x_of(t) << "\" y=\"" << axis_y + 15 << "\" text-anchor=\"middle\">"
          << detail::number_text(t) << "</text>\n";
    // Reference lines: the base value and the prediction (waterfall), or zero.
    const auto reference = [&](double v, const char* colour) {
      out << "<line x1=\"" << x_of(v) << "\" y1=\"" << plot_top << "\" x2=\"" << x_of(v) << "\" y2=\"" << axis_y
          << "\" stroke=\"" << colour << "\" stroke-dasharray=\"3,3\"/>\n";
    };
    if (waterfall) {
      reference(panel.base_value, "#888");
      if (std::isfinite(panel.prediction)) reference(panel.prediction, "#000");
    } else {
      reference(0.0, "#888");
    }
    y0 += panel_gap + row * static_cast<double>(bars[p].size() + 1);
  }
  out << "</svg>\n";
}

}  // namespace examples
