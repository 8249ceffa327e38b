#pragma once
// Numeric CSV files: plain tables with an optional header line, and scikit-learn's bundled
// dataset format (first line `n_rows,n_features,class names...`, then features and an integer
// label per row). Cells are separated by commas; quoting is supported only around header names.
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/text.hpp"
#include "attrib/core/types.hpp"
#include "attrib/io/atomic_file.hpp"
#include "attrib/io/detail/file_bytes.hpp"

namespace attrib {

// Whether a table's first line names its columns: `detect` takes it as a header only when none
// of its cells is a number, as data when all are, and refuses a mixed line (one malformed cell
// must not make a data row vanish as a "header"); `present` and `absent` say it outright.
enum class csv_header { detect, present, absent };

struct csv_table {
  std::vector<std::string> header;  // empty when the file has no header line
  matrix values;                    // one row per data line
};

struct labelled_dataset {
  matrix features;  // n_rows x n_features
  vector labels;    // integer class indices in [0, class_names.size())
  std::vector<std::string> class_names;
};

namespace detail {

struct csv_line {
  std::size_t number = 0;  // 1-based line number in the source
  std::vector<std::string_view> cells;
};

// Non-blank lines split into trimmed cells; a UTF-8 byte-order mark (as spreadsheet programs
// write) is skipped.
inline std::vector<csv_line> split_csv(std::string_view text) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  std::vector<csv_line> lines;
  std::size_t number = 0;
  while (!text.empty()) {
    ++number;
    const auto end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    if (trim(line).empty()) continue;
    csv_line parsed{number, {}};
    std::string_view rest = line;
    for (;;) {
      const auto comma = rest.find(',');
      parsed.cells.push_back(trim(rest.substr(0, comma)));
      if (comma == std::string_view::npos) break;
      rest = rest.substr(comma + 1);
    }
    lines.push_back(std::move(parsed));
  }
  return lines;
}

[[noreturn]] inline void csv_fail(const std::string& source, std::size_t line, std::size_t column,
                                  const std::string& what) {
  std::string where = source + ": line " + std::to_string(line);
  if (column > 0) where += ", column " + std::to_string(column);
  throw format_error(where + ": " + what);
}

// A number in the cell, if it is one: from_chars syntax plus an optional leading '+'. Values
// beyond double's range read as +-inf (and are then rejected as non-finite); values below it
// round to zero or a subnormal, as strtod does.
inline bool parse_number(std::string_view cell, double& value) {
  if (!cell.empty() && cell.front() == '+') {
    cell.remove_prefix(1);
    if (!cell.empty() && cell.front() == '-') return false;
  }
  if (cell.empty()) return false;
  const auto [end, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), value);
  if (end != cell.data() + cell.size()) return false;
  if (ec == std::errc::result_out_of_range) value = std::strtod(std::string(cell).c_str(), nullptr);
  return ec == std::errc{} || ec == std::errc::result_out_of_range;
}

// A finite number, or a format_error that names the cell.
inline double number_cell(std::string_view cell, const std::string& source, std::size_t line,
                          std::size_t column) {
  double value = 0.0;
  if (!parse_number(cell, value))
    csv_fail(source, line, column, "expected a number, got '" + printable(cell) + "'");
  if (!std::isfinite(value))
    csv_fail(source, line, column, "non-finite value '" + printable(cell) + "' is not allowed");
  return value;
}

inline bool all_numeric(const csv_line& line) {
  double ignored = 0.0;
  for (auto cell : line.cells)
    if (!parse_number(cell, ignored)) return false;
  return true;
}

inline std::string unquote(std::string_view cell) {
  if (cell.size() >= 2 && cell.front() == '"' && cell.back() == '"')
    cell = cell.substr(1, cell.size() - 2);
  return std::string(cell);
}

// Rows of exactly `columns` numbers from lines[first..].
inline matrix numeric_rows(const std::vector<csv_line>& lines, std::size_t first, index columns,
                           const std::string& source) {
  matrix values(static_cast<index>(lines.size() - first), columns);
  for (std::size_t r = first; r < lines.size(); ++r) {
    const auto& line = lines[r];
    if (static_cast<index>(line.cells.size()) != columns)
      csv_fail(source, line.number, 0,
               "expected " + std::to_string(columns) + " cells, found " +
                   std::to_string(line.cells.size()));
    for (std::size_t c = 0; c < line.cells.size(); ++c)
      values(static_cast<index>(r - first), static_cast<index>(c)) =
          number_cell(line.cells[c], source, line.number, c + 1);
  }
  return values;
}

inline std::size_t count_cell(std::string_view cell, const std::string& source, std::size_t column,
                              const char* what) {
  unsigned long long value = 0;
  const auto [end, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), value);
  if (ec != std::errc{} || end != cell.data() + cell.size() || value == 0)
    csv_fail(
        source, 1, column,
        std::string("expected ") + what + " as a positive integer, got '" + printable(cell) + "'");
  return static_cast<std::size_t>(value);
}

}  // namespace detail

// A numeric table whose first non-blank line is a header or not as `header` says (see
// csv_header). Every row must have the same number of cells; every value must be finite.
inline csv_table parse_csv(std::string_view text, const std::string& source = "<memory>",
                           csv_header header = csv_header::detect) {
  const auto lines = detail::split_csv(text);
  if (lines.empty()) throw format_error(source + ": empty file, expected CSV rows");
  csv_table table;
  std::size_t first = 0;
  bool take_header = header == csv_header::present;
  if (header == csv_header::detect) {
    std::size_t numbers = 0;
    double ignored = 0.0;
    for (auto cell : lines.front().cells) numbers += detail::parse_number(cell, ignored) ? 1 : 0;
    const std::size_t cells = lines.front().cells.size();
    if (numbers > 0 && numbers < cells)
      detail::csv_fail(source, lines.front().number, 0,
                       "the first line mixes " + std::to_string(numbers) + " numbers with " +
                           std::to_string(cells - numbers) +
                           " other cells, so it is neither clearly a header nor a data row; say which "
                           "(csv_header::present or absent; --header yes or no in the attrib tool)");
    take_header = numbers == 0;
  }
  if (take_header) {
    for (auto cell : lines.front().cells) table.header.push_back(detail::unquote(cell));
    first = 1;
  }
  if (first == lines.size()) throw format_error(source + ": no data rows after the header line");
  const auto columns = static_cast<index>(lines[first].cells.size());
  if (!table.header.empty() && static_cast<index>(table.header.size()) != columns)
    detail::csv_fail(source, lines[first].number, 0,
                     "expected " + std::to_string(table.header.size()) +
                         " cells as in the header, found " + std::to_string(columns));
  table.values = detail::numeric_rows(lines, first, columns, source);
  return table;
}

inline csv_table read_csv(const std::filesystem::path& path, csv_header header = csv_header::detect) {
  return parse_csv(detail::read_file_bytes(path), path.string(), header);
}

// scikit-learn's format: `n_rows,n_features,class names...`, then n_rows lines of n_features
// values and an integer label in [0, number of class names).
inline labelled_dataset parse_sklearn_csv(std::string_view text,
                                          const std::string& source = "<memory>") {
  const auto lines = detail::split_csv(text);
  if (lines.empty()) throw format_error(source + ": empty file, expected a header line");
  const auto& head = lines.front();
  if (head.number != 1 || head.cells.size() < 3)
    detail::csv_fail(source, head.number, 0,
                     "expected the header `n_rows,n_features,class names...` with at least one "
                     "class name on line 1");
  const std::size_t rows = detail::count_cell(head.cells[0], source, 1, "n_rows");
  const std::size_t features = detail::count_cell(head.cells[1], source, 2, "n_features");
  labelled_dataset data;
  for (std::size_t c = 2; c < head.cells.size(); ++c)
    data.class_names.push_back(detail::unquote(head.cells[c]));
  if (lines.size() - 1 != rows)
    throw format_error(source + ": header declares " + std::to_string(rows) + " rows, found " +
                       std::to_string(lines.size() - 1));
  if (features + 1 != lines[1].cells.size())
    detail::csv_fail(source, lines[1].number, 0,
                     "header declares " + std::to_string(features) + " features, so expected " +
                         std::to_string(features + 1) + " cells, found " +
                         std::to_string(lines[1].cells.size()));
  const matrix all = detail::numeric_rows(lines, 1, static_cast<index>(features + 1), source);
  const auto f = static_cast<index>(features);
  data.features = all.leftCols(f);
  data.labels = all.col(f);
  const auto classes = static_cast<double>(data.class_names.size());
  for (index i = 0; i < data.labels.size(); ++i) {
    const double l = data.labels[i];
    if (l != std::floor(l) || l < 0 || l >= classes)
      detail::csv_fail(
          source, lines[static_cast<std::size_t>(i) + 1].number, features + 1,
          "label " + detail::printable(lines[static_cast<std::size_t>(i) + 1].cells[features]) +
              " is not an integer in [0, " + std::to_string(data.class_names.size()) + ")");
  }
  return data;
}

inline labelled_dataset read_sklearn_csv(const std::filesystem::path& path) {
  return parse_sklearn_csv(detail::read_file_bytes(path), path.string());
}

// CSV text with an optional header; values in the shortest form that reads back exactly.
inline std::string format_csv(const std::vector<std::string>& header, const matrix& values) {
  if (!header.empty() && static_cast<index>(header.size()) != values.cols())
    throw invalid_argument("write_csv: header has " + std::to_string(header.size()) +
                           " names, but values have " + std::to_string(values.cols()) + " columns");
  std::string out;
  for (std::size_t c = 0; c < header.size(); ++c) {
    if (header[c].find_first_of(",\"\r\n") != std::string::npos)
      throw invalid_argument("write_csv: header name '" + header[c] +
                             "' contains a comma, quote or newline");
    out += (c ? "," : "") + header[c];
  }
  if (!header.empty()) out += '\n';
  char buffer[32];
  for (index r = 0; r < values.rows(); ++r) {
    for (index c = 0; c < values.cols(); ++c) {
      const double v = values(r, c);
      if (!std::isfinite(v))
        throw invalid_argument("write_csv: values(" + std::to_string(r) + ", " + std::to_string(c) +
                               ") is not finite");
      const auto result = std::to_chars(buffer, buffer + sizeof buffer, v);
      if (c) out += ',';
      out.append(buffer, result.ptr);
    }
    out += '\n';
  }
  return out;
}

inline void write_csv(const std::filesystem::path& path, const std::vector<std::string>& header,
                      const matrix& values) {
  write_file_atomically(path, format_csv(header, values));
}

}  // namespace attrib
