#pragma once
// What every subcommand does with files: reading tables from a file or, for "-", standard input;
// the CSV header choice (--header); refusing an output that is also an input before any work; and
// writing outputs whole - through a temporary file and a rename, or to standard output for "-".
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <iostream>
#include <iterator>
#include <ostream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <nlohmann/json.hpp>

#include "arguments.hpp"
#include "attrib/io/atomic_file.hpp"
#include "attrib/core/text.hpp"
#include "attrib/io/csv.hpp"

namespace cli {

// --header auto|yes|no: whether a CSV's first line names the columns (auto: only when no cell of
// it is a number; a line that mixes numbers and text is refused as ambiguous).
inline attrib::csv_header csv_header_option(const arguments& a) {
  const std::string h = a.text("header", "auto");
  if (h == "auto") return attrib::csv_header::detect;
  if (h == "yes") return attrib::csv_header::present;
  if (h == "no") return attrib::csv_header::absent;
  throw usage_error("--header must be auto, yes or no, got '" + h + "'");
}

// The bytes of an input: the file at `path`, or standard input for "-" (read once and kept, so
// that the format sniff and the parse see the same bytes).
inline std::string input_bytes(const std::string& path) {
  if (path != "-") return attrib::detail::read_file_bytes(path);
  static const std::string standard_input = [] {
    std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    if (std::cin.bad()) throw attrib::format_error("reading standard input failed");
    return text;
  }();
  return standard_input;
}

// How messages name an input.
inline std::string input_name(const std::string& path) { return path == "-" ? "<standard input>" : path; }

// A table in scikit-learn's format from a file or standard input.
inline attrib::labelled_dataset read_sklearn_table(const std::string& path) {
  return attrib::parse_sklearn_csv(input_bytes(path), input_name(path));
}

// A numeric CSV; says on standard error how its first line was read unless --quiet.
inline attrib::csv_table read_table(const arguments& a, const std::string& path, const std::string& who) {
  attrib::csv_table table = attrib::parse_csv(input_bytes(path), input_name(path), csv_header_option(a));
  if (!a.flag("quiet"))
    std::cerr << who << ": " << input_name(path) << ": " << table.values.rows() << " rows x " << table.values.cols()
              << " columns, " << (table.header.empty() ? "no header line" : "the first line is the header")
              << (a.has("header") ? "" : " (detected; --header yes|no to say otherwise)") << "\n";
  return table;
}

// The format of a table file: the value of option `option` (csv or sklearn) when given, else
// sniffed from the first line - scikit-learn's `n_rows,n_features,class names...` (two positive
// integers, then at least one name that is not a number; said on standard error), anything else
// csv (read_table then says how it read the first line).
inline std::string table_format(const arguments& a, const std::string& option, const std::string& path) {
  if (a.has(option)) {
    const std::string format = a.text(option);
    if (format != "csv" && format != "sklearn")
      throw usage_error("--" + option + " must be csv or sklearn, got '" + format + "'");
    return format;
  }
  std::string line;
  if (path == "-") {
    const std::string& text = input_bytes(path);
    line = text.substr(0, std::min(text.find('\n'), std::size_t{65536}));
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw attrib::format_error(path + ": cannot open file for reading");
    char c = 0;
    while (line.size() < 65536 && in.get(c) && c != '\n') line += c;
  }
  if (line.starts_with("\xEF\xBB\xBF")) line.erase(0, 3);
  std::vector<std::string_view> cells;
  std::string_view rest = line;
  for (auto comma = rest.find(','); ; comma = rest.find(',')) {
    cells.push_back(attrib::detail::trim(rest.substr(0, comma)));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  const auto positive_integer = [](std::string_view cell) {
    return !cell.empty() && cell.size() <= 18 && cell.find_first_not_of("0123456789") == std::string_view::npos &&
           cell.find_first_not_of('0') != std::string_view::npos;
  };
  double ignored = 0.0;
  bool names = cells.size() >= 3;
  for (std::size_t k = 2; k < cells.size() && names; ++k) names = !attrib::detail::parse_number(cells[k], ignored);
  if (!(cells.size() >= 3 && positive_integer(cells[0]) && positive_integer(cells[1]) && names)) return "csv";
  messages(a) << "attrib: " << input_name(path) << ": scikit-learn's format (line 1 is n_rows,n_features,class names; "
              << "detected, --" << option << " csv reads the file as plain CSV)\n";
  return "sklearn";
}

// Whether two paths name the same file: the same inode when both exist, else the same absolute,
// normalised path.
inline bool same_file(const std::filesystem::path& x, const std::filesystem::path& y) {
  std::error_code error;
  if (std::filesystem::exists(x, error) && std::filesystem::exists(y, error)) {
    const bool same = std::filesystem::equivalent(x, y, error);
    if (!error) return same;
  }
  return std::filesystem::absolute(x, error).lexically_normal() ==
         std::filesystem::absolute(y, error).lexically_normal();
}

// Refuses, before any work, an output option that names the same file as an input option (or
// another output): writing it would destroy what the run reads. Standard input ("-") can feed one
// input, and standard output take one output (--out, when absent, means standard output).
inline void refuse_overwriting_inputs(const arguments& a, std::initializer_list<const char*> outputs,
                                      std::initializer_list<const char*> inputs) {
  std::vector<std::string> from_stdin, to_stdout;
  for (const char* in : inputs)
    if (a.text(in) == "-") from_stdin.push_back(std::string("--") + in);
  for (const char* out : outputs)
    if (a.text(out) == "-" || (out == std::string("out") && !a.has(out))) to_stdout.push_back(std::string("--") + out);
  if (from_stdin.size() > 1)
    throw usage_error(from_stdin[0] + " and " + from_stdin[1] + " both read standard input; give one of them a file");
  if (to_stdout.size() > 1)
    throw usage_error(to_stdout[0] + " and " + to_stdout[1] + " would both write to standard output; give one of them a file");
  for (const char* out : outputs) {
    if (!a.has(out) || a.text(out) == "-") continue;
    const auto check = [&](const char* other) {
      if (other != std::string(out) && a.has(other) && same_file(a.text(out), a.text(other)))
        throw usage_error("--" + std::string(out) + " '" + a.text(out) + "' is the same file as --" + other +
                          "; writing it would destroy that file, so choose another output name");
    };
    for (const char* in : inputs) check(in);
    for (const char* other : outputs) check(other);
  }
}

// Writes through `emit` to the file named by option `name` (whole or not at all), or to standard
// output when the option is absent or "-". Returns whether a file was written.
inline bool write_output(const arguments& a, const std::string& name, const std::function<void(std::ostream&)>& emit) {
  if (!a.has(name) || a.text(name) == "-") {
    emit(std::cout);
    std::cout.flush();
    if (!std::cout) throw attrib::format_error("writing to standard output failed");
    return false;
  }
  attrib::atomic_file_writer file(a.text(name));
  emit(file.stream());
  file.commit();
  return true;
}

// A CSV cell: quoted when it holds a comma, quote or line break.
inline std::string csv_cell(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

// Writes a result table to --out (or standard output) in --format: csv (the default; values in
// the shortest form that reads back exactly) or json (an array with one object per row, mapping
// column names to values, in column order).
inline void write_table(const arguments& a, const std::vector<std::string>& columns, const attrib::matrix& values) {
  const std::string format = a.text("format", "csv");
  std::string text;
  if (format == "csv") {
    text = attrib::format_csv(columns, values);
  } else if (format == "json") {
    nlohmann::ordered_json rows = nlohmann::ordered_json::array();
    for (attrib::index r = 0; r < values.rows(); ++r) {
      nlohmann::ordered_json row = nlohmann::ordered_json::object();
      for (std::size_t c = 0; c < columns.size(); ++c) {
        // Counts and indices (row, output, evaluations) as integers.
        const double v = values(r, static_cast<attrib::index>(c));
        if (v == std::floor(v) && std::abs(v) < 9007199254740992.0)
          row[columns[c]] = static_cast<std::int64_t>(v);
        else
          row[columns[c]] = v;
      }
      rows.push_back(std::move(row));
    }
    text = rows.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  } else {
    throw usage_error("--format must be csv or json, got '" + format + "'");
  }
  write_output(a, "out", [&](std::ostream& out) { out << text; });
}

}  // namespace cli
