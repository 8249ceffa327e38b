#pragma once
// Numbers and text as the studies' reports write them: fixed decimals (NaN spelled out), markdown
// table cells, CSV cells quoted where needed, vectors and matrices as JSON arrays (NaN as null),
// and the three files every study writes.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "attrib/core/types.hpp"
#include "attrib/io/atomic_file.hpp"

namespace attrib::detail {

inline std::string fixed(double v, int digits = 3) {
  if (std::isnan(v)) return "NaN";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, v);
  return buffer;
}

// Text as a markdown table cell: '|' and line breaks escaped, other control bytes shown as '?'.
// A token's spaces matter (a leading space is part of it), so `visible_spaces` shows them as '·'.
inline std::string markdown_cell(const std::string& text, bool visible_spaces = false) {
  std::string out;
  for (const char c : text) {
    if (c == ' ' && visible_spaces) out += "\xC2\xB7";
    else if (c == '|') out += "\\|";
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (static_cast<unsigned char>(c) < 0x20) out += '?';
    else out += c;
  }
  return out;
}

inline std::string markdown_token(const std::string& token) { return markdown_cell(token, true); }

inline std::string csv_cell(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

inline nlohmann::json json_number(double v) { return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v); }

inline nlohmann::json json_vector(const vector& v) {
  nlohmann::json a = nlohmann::json::array();
  for (index i = 0; i < v.size(); ++i) a.push_back(json_number(v(i)));
  return a;
}

// One array per row.
inline nlohmann::json json_matrix(const matrix& m) {
  nlohmann::json a = nlohmann::json::array();
  for (index i = 0; i < m.rows(); ++i) a.push_back(json_vector(m.row(i).transpose()));
  return a;
}

// `stem`.md, .csv and .json in `folder` (created when missing), each under its final name only
// once complete.
inline void write_report_files(const std::filesystem::path& folder, const std::string& stem, const std::string& markdown,
                               const std::string& csv, const std::string& json) {
  std::filesystem::create_directories(folder);
  write_file_atomically(folder / (stem + ".md"), markdown);
  write_file_atomically(folder / (stem + ".csv"), csv);
  write_file_atomically(folder / (stem + ".json"), json);
}

}  // namespace attrib::detail
