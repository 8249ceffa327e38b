#pragma once
// Heatmaps as a standalone SVG: one or more panels of rows x columns (layers x tokens for a
// patching sweep, one row of tokens for a prompt attribution), every cell coloured on one
// diverging scale shared by all panels (red above zero, blue below, white at zero) so that the
// panels compare, with the value written in the cell where it fits, the column labels (tokens)
// under each panel and a colour legend with ticks.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "svg_bar_chart.hpp"
#include "table_format.hpp"

namespace examples {

struct heatmap_panel {
  std::string title;
  std::vector<std::string> row_labels;
  std::vector<std::string> column_labels;
  std::vector<double> values;  // row-major, row_labels.size() x column_labels.size()
};

// A token's text as a label: valid UTF-8 is kept, a space shown as '·' so that leading spaces are
// visible, control characters and stray bytes written as escapes (\n, \x0b), so that any byte
// string makes valid XML.
inline std::string visible_text(const std::string& text) {
  std::string out;
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  for (std::size_t i = 0; i < text.size();) {
    const unsigned char c = byte(i);
    std::size_t length = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool valid = length > 0 && i + length <= text.size();
    for (std::size_t k = 1; valid && k < length; ++k) valid = (byte(i + k) & 0xC0) == 0x80;
    if (valid && length == 1 && (c < 0x20 || c == 0x7F)) valid = false;
    if (!valid) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
      out += c == '\n' ? std::string("\\n") : c == '\t' ? std::string("\\t") : std::string(escaped);
      ++i;
      continue;
    }
    if (c == ' ')
      out += "\xC2\xB7";
    else
      out.append(text, i, length);
    i += length;
  }
  return out;
}

namespace detail {

// The colour of v on the diverging scale [-limit, limit]: white at zero, #d62728 at +limit,
// #1f77b4 at -limit, linear in between.
inline std::string diverging_colour(double v, double limit) {
  const double t = limit > 0.0 ? std::clamp(v / limit, -1.0, 1.0) : 0.0;
  const double end[3] = {t >= 0 ? 214.0 : 31.0, t >= 0 ? 39.0 : 119.0, t >= 0 ? 40.0 : 180.0};
  char colour[8];
  const auto channel = [&](int k) { return static_cast<int>(std::lround(255.0 + (end[k] - 255.0) * std::abs(t))); };
  std::snprintf(colour, sizeof colour, "#%02x%02x%02x", channel(0), channel(1), channel(2));
  return colour;
}

// A colour legend at (x, y): the diverging scale from -limit to +limit, `width` wide, with ticks
// and `caption` after it.
inline void write_colour_legend(std::ostream& out, double x, double y, double width, double limit,
                                const std::string& caption) {
  const int steps = 40;
  for (int k = 0; k < steps; ++k)
    out << "<rect x=\"" << x + width * k / steps << "\" y=\"" << y << "\" width=\"" << width / steps + 0.5
        << "\" height=\"10\" fill=\"" << diverging_colour(-limit + 2.0 * limit * (k + 0.5) / steps, limit) << "\"/>\n";
  if (limit > 0.0)
    for (double t : nice_ticks(-limit, limit)) {
      if (std::abs(t) > limit * (1 + 1e-9)) continue;
      const double at = x + width * (t + limit) / (2 * limit);
      out << "<line x1=\"" << at << "\" y1=\"" << y + 10 << "\" x2=\"" << at << "\" y2=\"" << y + 14
          << "\" stroke=\"black\"/><text x=\"" << at << "\" y=\"" << y + 25 << "\" text-anchor=\"middle\">"
          << attrib_examples::significant(t, 3) << "</text>\n";
    }
  out << "<text x=\"" << x + width + 10 << "\" y=\"" << y + 9 << "\">" << escape_xml(caption) << "</text>\n";
}

}  // namespace detail

// Writes the panels, stacked, to `out`. `caption` names the values (under the legend). Throws
// std::invalid_argument when a panel's values do not fill its rows x columns.
inline void write_heatmap_svg(std::ostream& out, const std::string& title, const std::string& caption,
                              const std::vector<heatmap_panel>& panels) {
  double limit = 0.0;
  std::size_t widest_label = 0, columns = 1;
  for (const auto& p : panels) {
    if (p.values.size() != p.row_labels.size() * p.column_labels.size())
      throw std::invalid_argument("heatmap panel '" + p.title + "' has " + std::to_string(p.values.size()) +
                                  " values, expected rows x columns = " +
                                  std::to_string(p.row_labels.size() * p.column_labels.size()));
    for (double v : p.values)
      if (std::isfinite(v)) limit = std::max(limit, std::abs(v));
    for (const auto& label : p.row_labels) widest_label = std::max(widest_label, label.size());
    columns = std::max(columns, p.column_labels.size());
  }
  const double cell_width = columns <= 24 ? 44.0 : columns <= 64 ? 22.0 : 12.0, cell_height = 22.0;
  const bool values_fit = cell_width >= 44.0;
  const double left = 20.0 + 7.0 * static_cast<double>(widest_label), top = 44.0, label_band = 80.0, gap = 30.0;
  const double plot_width = cell_width * static_cast<double>(columns);
  // Wide enough for the grid, the title (about 8 px a character at 14 px) and the legend's caption.
  const double width = std::max({left + plot_width + 30.0, 8.0 * static_cast<double>(title.size()) + 20.0,
                                 left + std::min(plot_width, 300.0) + 20.0 + 7.0 * static_cast<double>(caption.size())});
  double height = top;
  for (const auto& p : panels) height += 20.0 + cell_height * static_cast<double>(p.row_labels.size()) + label_band + gap;
  const double legend_height = 50.0;
  height += legend_height;
  out << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << width / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">" << escape_xml(title)
      << "</text>\n";
  double y0 = top;
  for (const auto& p : panels) {
    out << "<text x=\"" << left << "\" y=\"" << y0 + 12 << "\" font-weight=\"bold\">" << escape_xml(p.title)
        << "</text>\n";
    const double grid_top = y0 + 20.0;
    const std::size_t cols = p.column_labels.size();
    for (std::size_t r = 0; r < p.row_labels.size(); ++r) {
      const double y = grid_top + cell_height * static_cast<double>(r);
      out << "<text x=\"" << left - 6 << "\" y=\"" << y + 15 << "\" text-anchor=\"end\">" << escape_xml(p.row_labels[r])
          << "</text>\n";
      for (std::size_t c = 0; c < cols; ++c) {
        const double v = p.values[r * cols + c];
        const double x = left + cell_width * static_cast<double>(c);
        out << "<rect x=\"" << x << "\" y=\"" << y << "\" width=\"" << cell_width << "\" height=\"" << cell_height
            << "\" fill=\"" << (std::isfinite(v) ? detail::diverging_colour(v, limit) : std::string("#cccccc"))
            << "\" stroke=\"#eee\"><title>" << escape_xml(p.row_labels[r]) << ", "
            << escape_xml(p.column_labels[c]) << ": " << attrib_examples::significant(v, 4) << "</title></rect>\n";
        if (values_fit && std::isfinite(v))
          out << "<text x=\"" << x + cell_width / 2 << "\" y=\"" << y + 15 << "\" text-anchor=\"middle\" font-size=\"9\" fill=\""
              << (limit > 0 && std::abs(v) > 0.6 * limit ? "white" : "#222") << "\">"
              << attrib_examples::significant(v, 2) << "</text>\n";
      }
    }
    // Column labels under the grid, turned 45 degrees so that long tokens do not overlap.
    const double label_y = grid_top + cell_height * static_cast<double>(p.row_labels.size()) + 10.0;
    for (std::size_t c = 0; c < cols; ++c) {
      const double x = left + cell_width * (static_cast<double>(c) + 0.5);
      std::string label = p.column_labels[c];
      if (label.size() > 24) {  // cut at a character boundary, so that the text stays UTF-8
        std::size_t cut = 21;
        while (cut > 0 && (static_cast<unsigned char>(label[cut]) & 0xC0) == 0x80) --cut;
        label = label.substr(0, cut) + "...";
      }
      out << "<text x=\"" << x << "\" y=\"" << label_y << "\" text-anchor=\"end\" transform=\"rotate(-45 " << x << " "
          << label_y << ")\">" << escape_xml(label) << "</text>\n";
    }
    y0 = grid_top + cell_height * static_cast<double>(p.row_labels.size()) + label_band + gap;
  }
  detail::write_colour_legend(out, left, y0, std::min(plot_width, 300.0), limit, caption);
  out << "</svg>\n";
}

}  // namespace examples
