#pragma once
// Labelled true and false statements for truth-direction studies (probes, mass-mean directions,
// causal tracing between a true statement and a false one). Two sources:
// - CSV files in the layout of the geometry-of-truth datasets: a header line naming at least
//   `statement` and `label`, one statement per row. Optional `subject` and `object` columns name
//   the entity a causal-tracing pair swaps and the word the model must produce; without an
//   `object` column the object is the statement's last word, which is how those datasets place it.
// - Generators written here: comparisons of English number words (larger_than, smaller_than) and
//   a table of cities and their countries (cities), so that a study runs without downloaded data.
// Every failure on user input throws attrib::invalid_argument naming the source, the line where
// there is one, and what was expected.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/random.hpp"
#include "attrib/core/text.hpp"
#include "attrib/io/atomic_file.hpp"
#include "attrib/io/detail/file_bytes.hpp"

namespace attrib {

struct labelled_statement {
  std::string statement;  // "The city of Paris is in France."
  bool label = false;     // whether the statement is true
  std::string subject;    // the entity a causal-tracing pair swaps ("Paris", "Fifty-one"); may be empty
  std::string object;     // the final word of the statement without the closing period ("France", "fifty-two")

  bool operator==(const labelled_statement&) const = default;
};

struct truth_dataset {
  std::string name;  // "cities", "larger_than", or a file's stem
  std::vector<labelled_statement> statements;

  // How many statements carry `label`.
  std::size_t count(bool label) const {
    return static_cast<std::size_t>(std::count_if(statements.begin(), statements.end(),
                                                   [&](const labelled_statement& s) { return s.label == label; }));
  }

  bool operator==(const truth_dataset&) const = default;
};

namespace detail {

// The geometry-of-truth files are a few thousand short sentences, well under a megabyte; a larger
// input is a wrong file, and refusing it bounds the memory a parse can take (each row becomes
// four strings, several times the bytes it was read from).
inline constexpr std::size_t truth_csv_max_bytes = std::size_t{32} << 20;
// Far beyond any real header; bounds the cells kept per row when a line holds only commas.
inline constexpr std::size_t truth_csv_max_columns = 4096;

[[noreturn]] inline void truth_csv_fail(const std::string& source, std::size_t line, const std::string& what) {
  throw invalid_argument(source + ": line " + std::to_string(line) + ": " + what);
}

inline bool truth_csv_space(char c) { return c == ' ' || c == '\t'; }

inline std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// One record of an RFC-4180 file: cells (the first `keep` of them; `cells_seen` counts all, so a
// line of a million commas costs no memory), the line it starts on, and whether it was a blank line.
struct truth_csv_record {
  std::vector<std::string> cells;
  std::size_t cells_seen = 0;
  std::size_t line = 0;
  bool blank = false;
};

// Reads records one at a time, so that the parse fails at the first bad row without splitting
// the whole text first.
class truth_csv_reader {
 public:
  truth_csv_reader(std::string_view text, const std::string& source) : text_(text), source_(source) {}

  // The next record into `record`, keeping at most `keep` cells; false at the end of the text.
  bool next(truth_csv_record& record, std::size_t keep) {
    if (pos_ >= text_.size()) return false;
    record.cells.clear();
    record.cells_seen = 0;
    record.line = line_;
    bool quoted_any = false;
    for (;;) {
      std::string cell;
      const std::size_t start = pos_;
      while (pos_ < text_.size() && truth_csv_space(text_[pos_])) ++pos_;
      if (pos_ < text_.size() && text_[pos_] == '"') {
        quoted_any = true;
        read_quoted(cell);
      } else {
        // Unquoted cells are trimmed (a CRLF's '\r' goes with the trim); a stray '"' inside one
        // is kept as text rather than refused, as spreadsheet programs read it.
        pos_ = start;
        auto end = text_.find_first_of(",\n", pos_);
        if (end == std::string_view::npos) end = text_.size();
        cell = std::string(trim(text_.substr(pos_, end - pos_)));
        pos_ = end;
      }
      if (record.cells_seen++ < keep) record.cells.push_back(std::move(cell));
      if (pos_ >= text_.size()) break;
      if (text_[pos_] == '\n') {
        ++pos_;
        ++line_;
        break;
      }
      ++pos_;  // the comma
    }
    record.blank = !quoted_any && record.cells_seen == 1 && record.cells.size() == 1 && record.cells[0].empty();
    return true;
  }

 private:
  // A quoted cell from its opening quote: text verbatim (commas, newlines included), "" as one
  // quote; after the closing quote only blanks until a comma or the end of the line.
  void read_quoted(std::string& cell) {
    const std::size_t opened = line_;
    ++pos_;
    for (;;) {
      const auto stop = text_.find_first_of("\"\n", pos_);
      if (stop == std::string_view::npos)
        truth_csv_fail(source_, opened,
                       "unterminated quote: a cell opened with '\"' never closes; expected a closing '\"' "
                       "(a quote inside a quoted cell is written \"\")");
      cell.append(text_.substr(pos_, stop - pos_));
      pos_ = stop + 1;
      if (text_[stop] == '\n') {
        cell += '\n';
        ++line_;
        continue;
      }
      if (pos_ < text_.size() && text_[pos_] == '"') {
        cell += '"';
        ++pos_;
        continue;
      }
      break;
    }
    while (pos_ < text_.size() && (truth_csv_space(text_[pos_]) || text_[pos_] == '\r')) ++pos_;
    if (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '\n')
      truth_csv_fail(source_, line_,
                     "unexpected '" + printable(text_.substr(pos_, 1)) +
                         "' after the closing quote of a cell; expected a comma or the end of the line");
  }

  std::string_view text_;
  const std::string& source_;
  std::size_t pos_ = 0;
  std::size_t line_ = 1;
};

// label cells: 1/0 or true/false in any case.
inline bool truth_label(std::string_view cell, const std::string& source, std::size_t line) {
  const std::string value = ascii_lower(trim(cell));
  if (value == "1" || value == "true") return true;
  if (value == "0" || value == "false") return false;
  truth_csv_fail(source, line, "label '" + printable(cell) + "' is not 0, 1, true or false");
}

// The statement's last space-separated word without a trailing '.': where the geometry-of-truth
// statements put the word a model must produce ("... is in France." -> "France").
inline std::string last_word(std::string_view statement) {
  statement = trim(statement);
  const auto space = statement.find_last_of(" \t\n\r\f\v");
  std::string_view word = space == std::string_view::npos ? statement : statement.substr(space + 1);
  if (word.ends_with('.')) word.remove_suffix(1);
  return std::string(word);
}

// A cell as the reader gives it back: quoted when it holds a separator, a quote, or blanks at an
// end (which an unquoted read trims).
inline void append_truth_cell(std::string& out, std::string_view cell) {
  const bool needs_quotes = cell.find_first_of(",\"\r\n") != std::string_view::npos ||
                            (!cell.empty() && trim(cell).size() != cell.size());
  if (!needs_quotes) {
    out += cell;
    return;
  }
  out += '"';
  for (char c : cell) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

// English words for 51..99 without the multiples of ten, in ascending order: "fifty-one", ...
inline std::vector<std::string> number_words_51_to_99() {
  static constexpr std::array<std::string_view, 5> tens = {"fifty", "sixty", "seventy", "eighty", "ninety"};
  static constexpr std::array<std::string_view, 9> units = {"one", "two",   "three", "four", "five",
                                                           "six", "seven", "eight", "nine"};
  std::vector<std::string> words;
  for (auto t : tens)
    for (auto u : units) words.push_back(std::string(t) + "-" + std::string(u));
  return words;
}

inline std::string capitalised(std::string word) {
  if (!word.empty() && word[0] >= 'a' && word[0] <= 'z') word[0] = static_cast<char>(word[0] - 'a' + 'A');
  return word;
}

// "{X} is {relation} {y}." for all ordered pairs of distinct number words; `truth` decides the
// label from the two numbers' ranks (ascending, so the rank order is the numeric order).
template <class Truth>
truth_dataset number_comparison(std::string name, std::string_view relation, Truth truth) {
  const auto words = number_words_51_to_99();
  truth_dataset d;
  d.name = std::move(name);
  d.statements.reserve(words.size() * (words.size() - 1));
  for (std::size_t x = 0; x < words.size(); ++x)
    for (std::size_t y = 0; y < words.size(); ++y) {
      if (x == y) continue;
      labelled_statement s;
      s.subject = capitalised(words[x]);
      s.object = words[y];
      s.statement = s.subject + " is " + std::string(relation) + " " + s.object + ".";
      s.label = truth(x, y);
      d.statements.push_back(std::move(s));
    }
  return d;
}

struct city_fact {
  std::string_view city, country;
};

// Well-known cities whose name is not also a well-known city elsewhere, four per country, and
// countries whose English name is one word, so that a statement's last word is its country.
inline constexpr std::array<city_fact, 100> city_table = {{
    {"Paris", "France"},           {"Marseille", "France"},       {"Lyon", "France"},
    {"Toulouse", "France"},        {"Berlin", "Germany"},         {"Munich", "Germany"},
    {"Hamburg", "Germany"},        {"Cologne", "Germany"},        {"Rome", "Italy"},
    {"Milan", "Italy"},            {"Naples", "Italy"},           {"Turin", "Italy"},
    {"Madrid", "Spain"},           {"Barcelona", "Spain"},        {"Seville", "Spain"},
    {"Bilbao", "Spain"},           {"Tokyo", "Japan"},            {"Osaka", "Japan"},
    {"Kyoto", "Japan"},            {"Yokohama", "Japan"},         {"Beijing", "China"},
    {"Shanghai", "China"},         {"Guangzhou", "China"},        {"Shenzhen", "China"},
    {"Mumbai", "India"},           {"Delhi", "India"},            {"Bangalore", "India"},
    {"Chennai", "India"},          {"Rio de Janeiro", "Brazil"},  {"Recife", "Brazil"},
    {"Curitiba", "Brazil"},        {"Manaus", "Brazil"},          {"Toronto", "Canada"},
    {"Montreal", "Canada"},        {"Vancouver", "Canada"},       {"Calgary", "Canada"},
    {"Sydney", "Australia"},       {"Melbourne", "Australia"},    {"Brisbane", "Australia"},
    {"Adelaide", "Australia"},     {"Monterrey", "Mexico"},       {"Tijuana", "Mexico"},
    {"Puebla", "Mexico"},          {"Acapulco", "Mexico"},        {"Moscow", "Russia"},
    {"Novosibirsk", "Russia"},     {"Yekaterinburg", "Russia"},   {"Kazan", "Russia"},
    {"Cairo", "Egypt"},            {"Luxor", "Egypt"},            {"Aswan", "Egypt"},
    {"Giza", "Egypt"},             {"Istanbul", "Turkey"},        {"Ankara", "Turkey"},
    {"Izmir", "Turkey"},           {"Antalya", "Turkey"},         {"Warsaw", "Poland"},
    {"Krakow", "Poland"},          {"Gdansk", "Poland"},          {"Wroclaw", "Poland"},
    {"Buenos Aires", "Argentina"}, {"Mendoza", "Argentina"},      {"Ushuaia", "Argentina"},
    {"Salta", "Argentina"},        {"Abuja", "Nigeria"},          {"Kano", "Nigeria"},
    {"Ibadan", "Nigeria"},         {"Port Harcourt", "Nigeria"},  {"Jakarta", "Indonesia"},
    {"Surabaya", "Indonesia"},     {"Bandung", "Indonesia"},      {"Medan", "Indonesia"},
    {"Karachi", "Pakistan"},       {"Lahore", "Pakistan"},        {"Islamabad", "Pakistan"},
    {"Peshawar", "Pakistan"},      {"Stockholm", "Sweden"},       {"Gothenburg", "Sweden"},
    {"Malmo", "Sweden"},           {"Uppsala", "Sweden"},         {"Oslo", "Norway"},
    {"Bergen", "Norway"},          {"Trondheim", "Norway"},       {"Stavanger", "Norway"},
    {"Lisbon", "Portugal"},        {"Porto", "Portugal"},         {"Coimbra", "Portugal"},
    {"Braga", "Portugal"},         {"Athens", "Greece"},          {"Thessaloniki", "Greece"},
    {"Heraklion", "Greece"},       {"Patras", "Greece"},          {"Zurich", "Switzerland"},
    {"Geneva", "Switzerland"},     {"Basel", "Switzerland"},      {"Bern", "Switzerland"},
    {"Vienna", "Austria"},         {"Salzburg", "Austria"},       {"Innsbruck", "Austria"},
    {"Graz", "Austria"},
}};

}  // namespace detail

// A table in the geometry-of-truth layout (see the top of this file): a header naming at least
// `statement` and `label` in any order (names trimmed, any case; `subject` and `object` are read
// when present, other columns ignored), then one row per statement. RFC-4180 quoting; CRLF or LF;
// a UTF-8 byte-order mark and blank lines skipped; unquoted cells trimmed, quoted ones verbatim.
// `source` names the text in error messages; `name` becomes the dataset's name.
inline truth_dataset parse_truth_csv(std::string_view text, const std::string& source = "<memory>",
                                     std::string name = "") {
  if (text.size() > detail::truth_csv_max_bytes)
    throw invalid_argument(source + ": input is " + std::to_string(text.size()) + " bytes, expected at most " +
                           std::to_string(detail::truth_csv_max_bytes) + " (32 MiB) for a truth dataset");
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  detail::truth_csv_reader reader(text, source);
  detail::truth_csv_record record;

  do {
    if (!reader.next(record, detail::truth_csv_max_columns))
      throw invalid_argument(source + ": empty input, expected a header line naming the statement and label columns");
  } while (record.blank);
  if (record.cells_seen > detail::truth_csv_max_columns)
    detail::truth_csv_fail(source, record.line,
                           "the header has " + std::to_string(record.cells_seen) + " columns, expected at most " +
                               std::to_string(detail::truth_csv_max_columns));
  constexpr std::size_t absent = static_cast<std::size_t>(-1);
  std::size_t statement_at = absent, label_at = absent, subject_at = absent, object_at = absent;
  for (std::size_t c = 0; c < record.cells.size(); ++c) {
    const std::string column = detail::ascii_lower(detail::trim(record.cells[c]));
    for (auto [wanted, at] : {std::pair<const char*, std::size_t*>{"statement", &statement_at},
                              {"label", &label_at},
                              {"subject", &subject_at},
                              {"object", &object_at}}) {
      if (column != wanted) continue;
      if (*at != absent)
        detail::truth_csv_fail(source, record.line,
                               std::string("the header names the column '") + wanted +
                                   "' twice, expected each of statement, label, subject, object at most once");
      *at = c;
    }
  }
  for (auto [wanted, at] : {std::pair<const char*, std::size_t>{"statement", statement_at}, {"label", label_at}})
    if (at == absent)
      detail::truth_csv_fail(source, record.line,
                             std::string("the header has no '") + wanted +
                                 "' column, expected a header line naming at least statement and label");
  const std::size_t columns = record.cells.size();

  truth_dataset d;
  d.name = std::move(name);
  while (reader.next(record, columns)) {
    if (record.blank) continue;
    if (record.cells_seen != columns)
      detail::truth_csv_fail(source, record.line,
                             "expected " + std::to_string(columns) + " cells as in the header, found " +
                                 std::to_string(record.cells_seen));
    labelled_statement s;
    s.statement = std::move(record.cells[statement_at]);
    if (detail::trim(s.statement).empty())
      detail::truth_csv_fail(source, record.line, "empty statement, expected a sentence in the statement column");
    s.label = detail::truth_label(record.cells[label_at], source, record.line);
    if (subject_at != absent) s.subject = std::move(record.cells[subject_at]);
    s.object = object_at != absent ? std::move(record.cells[object_at]) : detail::last_word(s.statement);
    d.statements.push_back(std::move(s));
  }
  if (d.statements.empty())
    throw invalid_argument(source + ": no data rows after the header line, expected one row per statement");
  return d;
}

// parse_truth_csv on a file's bytes, named after the file's stem ("cities" for cities.csv). The
// read stops past the size limit, so a huge or endless file (a device, a pipe) fails early.
inline truth_dataset read_truth_csv(const std::filesystem::path& path) {
  const auto bytes = detail::read_file_bytes_at_most(path, detail::truth_csv_max_bytes, "a truth dataset CSV (at most 32 MiB)");
  return parse_truth_csv(bytes, path.string(), path.stem().string());
}

// CSV text with the header statement,label,subject,object and labels as 1/0, one row per line;
// parse_truth_csv reads it back equal (name aside, which a file carries in its stem).
inline std::string format_truth_csv(const truth_dataset& d) {
  std::string out = "statement,label,subject,object\n";
  for (std::size_t k = 0; k < d.statements.size(); ++k) {
    const auto& s = d.statements[k];
    if (detail::trim(s.statement).empty())
      throw invalid_argument("format_truth_csv: statement " + std::to_string(k) + " of dataset '" + d.name +
                             "' is empty, expected a sentence (an empty one could not be read back)");
    detail::append_truth_cell(out, s.statement);
    out += s.label ? ",1," : ",0,";
    detail::append_truth_cell(out, s.subject);
    out += ',';
    detail::append_truth_cell(out, s.object);
    out += '\n';
  }
  return out;
}

inline void write_truth_csv(const std::filesystem::path& path, const truth_dataset& d) {
  write_file_atomically(path, format_truth_csv(d));
}

// Truth directions and probes contrast true with false statements; a dataset with one kind only
// would give a meaningless direction rather than an error, so studies call this first.
inline void require_both_labels(const truth_dataset& d, const std::string& who) {
  const std::size_t true_count = d.count(true), false_count = d.count(false);
  if (true_count == 0 || false_count == 0)
    throw invalid_argument(who + ": dataset '" + d.name + "' has " + std::to_string(true_count) + " true and " +
                           std::to_string(false_count) +
                           " false statements, expected at least one of each label");
}

// "Fifty-one is larger than fifty-two." for all 1980 ordered pairs of distinct number words for
// 51..99 without multiples of ten; x outer, y inner, both ascending; label x > y.
inline truth_dataset larger_than_dataset() {
  return detail::number_comparison("larger_than", "larger than", [](std::size_t x, std::size_t y) { return x > y; });
}

// As larger_than_dataset with "is smaller than"; label x < y.
inline truth_dataset smaller_than_dataset() {
  return detail::number_comparison("smaller_than", "smaller than", [](std::size_t x, std::size_t y) { return x < y; });
}

// "The city of {city} is in {country}." for each city of the table, in table order: the true
// statement, then a false one whose country is drawn uniformly (attrib::rng(seed)) from the other
// countries. Every country has several cities, so true and false statements share objects and a
// probe cannot tell them apart by the country alone.
inline truth_dataset cities_dataset(std::uint64_t seed = 0) {
  std::vector<std::string_view> countries;
  for (const auto& fact : detail::city_table)
    if (std::find(countries.begin(), countries.end(), fact.country) == countries.end())
      countries.push_back(fact.country);
  rng gen(seed);
  truth_dataset d;
  d.name = "cities";
  d.statements.reserve(2 * detail::city_table.size());
  for (const auto& fact : detail::city_table) {
    const auto truth_at =
        static_cast<std::uint64_t>(std::find(countries.begin(), countries.end(), fact.country) - countries.begin());
    // Draw from the countries less this one: indices at or past it shift up by one.
    std::uint64_t other = gen.below(countries.size() - 1);
    if (other >= truth_at) ++other;
    for (const auto country : {fact.country, countries[static_cast<std::size_t>(other)]}) {
      labelled_statement s;
      s.subject = std::string(fact.city);
      s.object = std::string(country);
      s.statement = "The city of " + s.subject + " is in " + s.object + ".";
      s.label = country == fact.country;
      d.statements.push_back(std::move(s));
    }
  }
  return d;
}

}  // namespace attrib
