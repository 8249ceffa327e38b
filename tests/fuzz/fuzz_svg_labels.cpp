// libFuzzer target: token bytes as labels in the SVG pictures of the attrib tool. Any byte string,
// as a column label, row label or title, must give a document that is valid UTF-8 with no control
// character but the newline, and whose text nodes hold no raw '<' or '&' (escape_xml): valid XML
// whatever a tokenizer decodes. The input is split at NUL bytes into labels and title.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "../../examples/svg_heatmap.hpp"

namespace {

// Whether `s` is valid UTF-8 (no overlong or surrogate checks needed here: the writer only
// copies well-formed sequences it has checked by lead and continuation bytes) without control
// characters other than '\n'.
bool clean_utf8(const std::string& s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    if (n == 1 && ((c < 0x20 && c != '\n') || c == 0x7F)) return false;
    for (std::size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::string> parts(1);
  for (std::size_t k = 0; k < size && parts.size() <= 64; ++k) {
    if (data[k] == 0)
      parts.emplace_back();
    else
      parts.back() += static_cast<char>(data[k]);
  }
  examples::heatmap_panel panel;
  panel.title = examples::visible_text(parts.front());
  panel.row_labels = {examples::visible_text(parts.back())};
  for (const auto& p : parts) {
    panel.column_labels.push_back(examples::visible_text(p));
    panel.values.push_back(static_cast<double>(p.size()) - 3.0);
  }
  std::ostringstream out;
  examples::write_heatmap_svg(out, panel.title, panel.title, {panel});
  const std::string svg = out.str();
  if (!clean_utf8(svg)) std::abort();
  // Between '>' and '<' (text nodes) there is no raw '&' that does not start an entity.
  for (std::size_t at = svg.find('&'); at != std::string::npos; at = svg.find('&', at + 1)) {
    const std::string rest = svg.substr(at, 6);
    if (rest.rfind("&lt;", 0) != 0 && rest.rfind("&gt;", 0) != 0 && rest.rfind("&amp;", 0) != 0 &&
        rest.rfind("&quot;", 0) != 0)
      std::abort();
  }
  return 0;
}
