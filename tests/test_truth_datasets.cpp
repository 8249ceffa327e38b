// Truth datasets: the geometry-of-truth CSV reader and writer, and the number-comparison and
// cities generators. Expected values are written out by hand.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/studies/truth_datasets.hpp"

namespace {

namespace fs = std::filesystem;

// A fresh directory under the system's temporary folder, removed at scope exit.
struct truth_scratch_dir {
  fs::path path;
  truth_scratch_dir() {
    path = fs::temp_directory_path() / ("attrib_test_truth_" + std::to_string(std::random_device{}()));
    fs::create_directories(path);
  }
  ~truth_scratch_dir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

std::string file_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

const attrib::labelled_statement* find_statement(const attrib::truth_dataset& d, const std::string& text) {
  for (const auto& s : d.statements)
    if (s.statement == text) return &s;
  return nullptr;
}

}  // namespace

TEST_CASE("parse_truth_csv: quoting, CRLF, BOM, extra columns, subject and object columns") {
  const std::string text =
      "\xEF\xBB\xBFid, Label ,statement,subject,object,notes\r\n"
      "1,1,\"The city of Paris, the capital, is in France.\",Paris,France,\"a \"\"quoted\"\" note, with comma\"\r\n"
      "\r\n"
      "2,FALSE,\"He said \"\"hi\"\".\",He,hi,\r\n"
      "   \r\n"
      "3,true,\"Two\nlines.\",,lines,x\r\n";
  const auto d = attrib::parse_truth_csv(text, "t.csv", "mine");
  CHECK(d.name == "mine");
  REQUIRE(d.statements.size() == 3);
  CHECK(d.statements[0].statement == "The city of Paris, the capital, is in France.");
  CHECK(d.statements[0].label == true);
  CHECK(d.statements[0].subject == "Paris");
  CHECK(d.statements[0].object == "France");
  CHECK(d.statements[1].statement == "He said \"hi\".");
  CHECK(d.statements[1].label == false);
  CHECK(d.statements[1].subject == "He");
  CHECK(d.statements[1].object == "hi");
  CHECK(d.statements[2].statement == "Two\nlines.");
  CHECK(d.statements[2].label == true);
  CHECK(d.statements[2].subject == "");
  CHECK(d.statements[2].object == "lines");
  CHECK(d.count(true) == 2);
  CHECK(d.count(false) == 1);
}

TEST_CASE("parse_truth_csv: without an object column the object is the last word less its period") {
  const auto d = attrib::parse_truth_csv(
      "label,statement\n0,Fifty-one is larger than fifty-two.\n1,The city of Rio de Janeiro is in Brazil.\n"
      "True,  Plain  \n");
  CHECK(d.name == "");
  REQUIRE(d.statements.size() == 3);
  CHECK(d.statements[0].statement == "Fifty-one is larger than fifty-two.");
  CHECK(d.statements[0].label == false);
  CHECK(d.statements[0].subject == "");
  CHECK(d.statements[0].object == "fifty-two");
  CHECK(d.statements[1].object == "Brazil");
  CHECK(d.statements[1].label == true);
  CHECK(d.statements[2].statement == "Plain");  // unquoted cells are trimmed
  CHECK(d.statements[2].object == "Plain");
  CHECK(d.statements[2].label == true);
}

TEST_CASE("parse_truth_csv: malformed input names the source, the line and the expectation") {
  auto fails_with = [](const std::string& text, const std::string& phrase) {
    CAPTURE(text);
    CHECK_THROWS_WITH_AS(attrib::parse_truth_csv(text, "t.csv"), doctest::Contains(phrase.c_str()),
                         attrib::invalid_argument);
  };
  fails_with("", "t.csv: empty input");
  fails_with("\n   \r\n\n", "t.csv: empty input");
  fails_with("\xEF\xBB\xBF", "t.csv: empty input");
  fails_with("statement,label\n", "t.csv: no data rows after the header line");
  fails_with("statement,label\n\n\r\n", "t.csv: no data rows after the header line");
  fails_with("label,subject\n1,a\n", "t.csv: line 1: the header has no 'statement' column");
  fails_with("statement,object\nA.,b\n", "t.csv: line 1: the header has no 'label' column");
  fails_with("statement,label,Statement\nA.,1,B.\n", "line 1: the header names the column 'statement' twice");
  fails_with("statement,label\nA.,1,extra\n", "t.csv: line 2: expected 2 cells as in the header, found 3");
  fails_with("statement,label\nA.,1\nB.\n", "t.csv: line 3: expected 2 cells as in the header, found 1");
  fails_with("statement,label\nA.,1\n\"B.,0\nC.,1\n", "t.csv: line 3: unterminated quote");
  fails_with("statement,label\nA.,yes\n", "t.csv: line 2: label 'yes' is not 0, 1, true or false");
  fails_with("statement,label\nA.,\n", "t.csv: line 2: label '' is not 0, 1, true or false");
  fails_with("statement,label\nA.,1.0\n", "label '1.0' is not 0, 1, true or false");
  fails_with("statement,label\n   ,1\n", "t.csv: line 2: empty statement");
  fails_with("statement,label\n\"\",1\n", "t.csv: line 2: empty statement");
  fails_with("statement,label\n\"A.\"x,1\n", "t.csv: line 2: unexpected 'x' after the closing quote");
  // Line numbers count the newlines inside quoted cells.
  fails_with("statement,label\n\"a\nb\",1\nc,2\n", "t.csv: line 4: label '2'");
  fails_with(std::string(4096, ','), "line 1: the header has 4097 columns, expected at most 4096");
  const std::string huge(attrib::detail::truth_csv_max_bytes + 1, 'a');
  fails_with(huge, "t.csv: input is 33554433 bytes, expected at most 33554432");
}

TEST_CASE("format_truth_csv: quotes what needs quoting and parses back equal") {
  attrib::truth_dataset d;
  d.name = "t";
  d.statements = {{"Paris is in France.", true, "Paris", "France"},
                  {"A \"quoted\", odd one.", false, "", " padded"}};
  CHECK(attrib::format_truth_csv(d) ==
        "statement,label,subject,object\n"
        "Paris is in France.,1,Paris,France\n"
        "\"A \"\"quoted\"\", odd one.\",0,,\" padded\"\n");
  CHECK(attrib::parse_truth_csv(attrib::format_truth_csv(d), "round trip", "t") == d);

  attrib::truth_dataset awkward;
  awkward.name = "awkward";
  awkward.statements = {{"  two\r\nlines, \"and\" more\t", true, "\"x\"", ""},
                        {"tab\tinside", false, "trailing ", "\fform"},
                        {"last", true, "a,b", "c\nd"}};
  const auto back = attrib::parse_truth_csv(attrib::format_truth_csv(awkward), "round trip", "awkward");
  CHECK(back == awkward);

  attrib::truth_dataset blank;
  blank.name = "blank";
  blank.statements = {{" ", true, "", ""}};
  CHECK_THROWS_WITH_AS(attrib::format_truth_csv(blank), doctest::Contains("statement 0 of dataset 'blank' is empty"),
                       attrib::invalid_argument);
}

TEST_CASE("write_truth_csv writes atomically and read_truth_csv names the dataset after the file") {
  truth_scratch_dir dir;
  attrib::truth_dataset d;
  d.name = "ignored";
  d.statements = {{"One, two.", true, "One", "two"}, {"Three four.", false, "Three", "four"}};
  const auto path = dir.path / "numbers.csv";
  attrib::write_truth_csv(path, d);
  CHECK(file_text(path) ==
        "statement,label,subject,object\n\"One, two.\",1,One,two\nThree four.,0,Three,four\n");
  std::vector<fs::path> entries;
  for (const auto& entry : fs::directory_iterator(dir.path)) entries.push_back(entry.path().filename());
  REQUIRE(entries.size() == 1);  // no temporary left beside it
  CHECK(entries[0] == "numbers.csv");

  const auto back = attrib::read_truth_csv(path);
  CHECK(back.name == "numbers");
  CHECK(back.statements == d.statements);

  CHECK_THROWS_WITH_AS(attrib::read_truth_csv(dir.path / "missing.csv"), doctest::Contains("cannot open"),
                       attrib::invalid_argument);
  std::ofstream(dir.path / "bad.csv") << "statement,label\nX.,maybe\n";
  CHECK_THROWS_WITH_AS(attrib::read_truth_csv(dir.path / "bad.csv"),
                       doctest::Contains("bad.csv: line 2: label 'maybe'"), attrib::invalid_argument);
}

TEST_CASE("larger_than_dataset: all ordered pairs of number words for 51..99 without tens") {
  const auto d = attrib::larger_than_dataset();
  CHECK(d.name == "larger_than");
  REQUIRE(d.statements.size() == 1980);
  CHECK(d.count(true) == 990);
  CHECK(d.count(false) == 990);
  CHECK(d.statements[0].statement == "Fifty-one is larger than fifty-two.");
  CHECK(d.statements[0].label == false);
  CHECK(d.statements[0].subject == "Fifty-one");
  CHECK(d.statements[0].object == "fifty-two");
  // x = fifty-one pairs with 44 others first; then x = fifty-two starts with y = fifty-one.
  CHECK(d.statements[43].statement == "Fifty-one is larger than ninety-nine.");
  CHECK(d.statements[44].statement == "Fifty-two is larger than fifty-one.");
  CHECK(d.statements[44].label == true);
  CHECK(d.statements[1979].statement == "Ninety-nine is larger than ninety-eight.");
  CHECK(d.statements[1979].label == true);

  const auto* s = find_statement(d, "Ninety-nine is larger than fifty-one.");
  REQUIRE(s != nullptr);
  CHECK(s->label == true);
  CHECK(s->subject == "Ninety-nine");
  CHECK(s->object == "fifty-one");
  s = find_statement(d, "Sixty-one is larger than fifty-nine.");
  REQUIRE(s != nullptr);
  CHECK(s->label == true);
  s = find_statement(d, "Seventy-three is larger than eighty-eight.");
  REQUIRE(s != nullptr);
  CHECK(s->label == false);
  CHECK(find_statement(d, "Sixty is larger than fifty-one.") == nullptr);
  CHECK(find_statement(d, "Fifty-five is larger than fifty-five.") == nullptr);

  const std::vector<std::string> words = {
      "fifty-one",   "fifty-two",   "fifty-three",   "fifty-four",   "fifty-five",   "fifty-six",
      "fifty-seven", "fifty-eight", "fifty-nine",    "sixty-one",    "sixty-two",    "sixty-three",
      "sixty-four",  "sixty-five",  "sixty-six",     "sixty-seven",  "sixty-eight",  "sixty-nine",
      "seventy-one", "seventy-two", "seventy-three", "seventy-four", "seventy-five", "seventy-six",
      "seventy-seven", "seventy-eight", "seventy-nine", "eighty-one", "eighty-two", "eighty-three",
      "eighty-four", "eighty-five", "eighty-six",    "eighty-seven", "eighty-eight", "eighty-nine",
      "ninety-one",  "ninety-two",  "ninety-three",  "ninety-four",  "ninety-five",  "ninety-six",
      "ninety-seven", "ninety-eight", "ninety-nine"};
  std::vector<std::string> objects_in_order;
  for (const auto& st : d.statements)
    if (std::find(objects_in_order.begin(), objects_in_order.end(), st.object) == objects_in_order.end())
      objects_in_order.push_back(st.object);
  std::sort(objects_in_order.begin(), objects_in_order.end());
  auto sorted_words = words;
  std::sort(sorted_words.begin(), sorted_words.end());
  CHECK(objects_in_order == sorted_words);
  for (const auto& st : d.statements)
    for (const char* tens : {"fifty", "sixty", "seventy", "eighty", "ninety", "Fifty", "Sixty", "Seventy",
                             "Eighty", "Ninety"}) {
      CHECK(st.object != tens);
      CHECK(st.subject != tens);
    }
}

TEST_CASE("smaller_than_dataset mirrors larger_than_dataset") {
  const auto smaller = attrib::smaller_than_dataset();
  const auto larger = attrib::larger_than_dataset();
  CHECK(smaller.name == "smaller_than");
  REQUIRE(smaller.statements.size() == 1980);
  CHECK(smaller.count(true) == 990);
  CHECK(smaller.statements[0].statement == "Fifty-one is smaller than fifty-two.");
  CHECK(smaller.statements[0].label == true);
  CHECK(smaller.statements[0].subject == "Fifty-one");
  CHECK(smaller.statements[0].object == "fifty-two");
  const auto* s = find_statement(smaller, "Ninety-nine is smaller than fifty-one.");
  REQUIRE(s != nullptr);
  CHECK(s->label == false);
  for (std::size_t k = 0; k < smaller.statements.size(); ++k) {
    const auto& a = smaller.statements[k];
    const auto& b = larger.statements[k];
    CHECK(a.subject == b.subject);
    CHECK(a.object == b.object);
    CHECK(a.label == !b.label);
    CHECK(a.statement == a.subject + " is smaller than " + a.object + ".");
  }
}

TEST_CASE("cities_dataset: real facts, seeded false countries, both labels over shared objects") {
  const auto d = attrib::cities_dataset(7);
  CHECK(d.name == "cities");
  CHECK(d == attrib::cities_dataset(7));
  CHECK(attrib::cities_dataset() == attrib::cities_dataset(0));
  CHECK(attrib::cities_dataset(0) != attrib::cities_dataset(1));
  REQUIRE(d.statements.size() >= 160);
  REQUIRE(d.statements.size() % 2 == 0);
  CHECK(d.count(true) == d.statements.size() / 2);
  CHECK(d.count(false) == d.statements.size() / 2);
  CHECK_NOTHROW(attrib::require_both_labels(d, "test"));

  CHECK(d.statements[0].statement == "The city of Paris is in France.");
  CHECK(d.statements[0].label == true);
  CHECK(d.statements[0].subject == "Paris");
  CHECK(d.statements[0].object == "France");
  for (const char* fact : {"The city of Tokyo is in Japan.", "The city of Toronto is in Canada.",
                           "The city of Rio de Janeiro is in Brazil.", "The city of Vienna is in Austria.",
                           "The city of Karachi is in Pakistan."}) {
    CAPTURE(fact);
    const auto* s = find_statement(d, fact);
    REQUIRE(s != nullptr);
    CHECK(s->label == true);
  }

  std::map<std::string, int> true_per_country;
  for (std::size_t k = 0; k < d.statements.size(); k += 2) {
    const auto& t = d.statements[k];
    const auto& f = d.statements[k + 1];
    CHECK(t.label == true);
    CHECK(f.label == false);
    CHECK(t.subject == f.subject);
    CHECK(f.object != t.object);
    CHECK(t.statement == "The city of " + t.subject + " is in " + t.object + ".");
    CHECK(f.statement == "The city of " + f.subject + " is in " + f.object + ".");
    ++true_per_country[t.object];
  }
  CHECK(true_per_country.size() >= 20);
  for (const auto& entry : true_per_country) {
    CAPTURE(entry.first);
    CHECK(entry.second >= 3);
  }
  std::set<std::string> false_countries;
  for (const auto& s : d.statements)
    if (!s.label) {
      CHECK(true_per_country.count(s.object) == 1);  // drawn from the table's countries
      false_countries.insert(s.object);
    }
  CHECK(false_countries.size() >= 10);  // the draws spread over the table

  // Countries are one word, so the object a file without an object column gets is the same.
  std::string text = "statement,label\n";
  for (const auto& s : d.statements) text += s.statement + (s.label ? ",1\n" : ",0\n");
  const auto read = attrib::parse_truth_csv(text);
  REQUIRE(read.statements.size() == d.statements.size());
  for (std::size_t k = 0; k < d.statements.size(); ++k) CHECK(read.statements[k].object == d.statements[k].object);
}

TEST_CASE("require_both_labels refuses a dataset with one label") {
  attrib::truth_dataset only_true;
  only_true.name = "only_true";
  only_true.statements = {{"A is A.", true, "A", "A"}, {"B is B.", true, "B", "B"}};
  CHECK_THROWS_WITH_AS(attrib::require_both_labels(only_true, "truth_direction"),
                       doctest::Contains("truth_direction: dataset 'only_true' has 2 true and 0 false statements"),
                       attrib::invalid_argument);
  attrib::truth_dataset empty;
  CHECK_THROWS_WITH_AS(attrib::require_both_labels(empty, "probe"),
                       doctest::Contains("expected at least one of each label"), attrib::invalid_argument);
  only_true.statements.push_back({"A is B.", false, "A", "B"});
  CHECK_NOTHROW(attrib::require_both_labels(only_true, "truth_direction"));
  CHECK_NOTHROW(attrib::require_both_labels(attrib::larger_than_dataset(), "truth_direction"));
}
