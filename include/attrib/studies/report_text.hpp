#pragma once
// Numbers and text as the studies' reports write them: fixed decimals (NaN spelled out), table
// cells that keep a token's spaces visible, CSV cells quoted where needed.
#include <cmath>
#include <cstdio>
#include <string>

namespace attrib::detail {

inline std::string fixed(double v, int digits = 3) {
  if (std::isnan(v)) return "NaN";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, v);
  return buffer;
}

// A token as a table cell: spaces shown as '·' (leading spaces matter), '|' and newlines escaped.
inline std::string markdown_token(const std::string& token) {
  std::string out;
  for (const char c : token) {
    if (c == ' ') out += "\xC2\xB7";
    else if (c == '|') out += "\\|";
    else if (c == '\n') out += "\\n";
    else if (static_cast<unsigned char>(c) < 0x20) out += '?';
    else out += c;
  }
  return out;
}

inline std::string csv_cell(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace attrib::detail
