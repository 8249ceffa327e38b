// attrib data split: a seeded random split of a labelled table into training and test files, in
// the input's format, so that the `attrib data` examples run on the shipped data.
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "arguments.hpp"
#include "attrib/io/csv.hpp"
#include "attrib/io/train_test_split.hpp"
#include "commands.hpp"
#include "files.hpp"

namespace cli {
namespace {

const char* help = R"(usage: attrib data split --data FILE --train-out FILE --test-out FILE [options]

Shuffles the rows of a labelled table with a seed and writes the first part as the training
file and the rest as the test file, both in the input's format (scikit-learn's, with its class
names, or CSV, with its header). The same seed gives the same files.

  --data FILE           the table to split
  --data-format F       sklearn or csv; default: detected from the first line
  --header H            csv: auto (default), yes or no
  --test-size S         test rows: a count (e.g. 169) or a fraction with a point (default 0.2)
  --seed S              shuffling seed (default 0)
  --train-out FILE      where the training rows go
  --test-out FILE       where the test rows go
  --quiet               no messages on standard error
  --help                this text
)";

// scikit-learn's format: `n_rows,n_features,class names...`, then features and the label.
std::string format_sklearn(const attrib::labelled_dataset& d) {
  std::string out = std::to_string(d.features.rows()) + "," + std::to_string(d.features.cols());
  for (const auto& name : d.class_names) out += "," + name;
  attrib::matrix all(d.features.rows(), d.features.cols() + 1);
  all << d.features, d.labels;
  return out + "\n" + attrib::format_csv({}, all);
}

}  // namespace

int data_split(const std::vector<std::string>& args) {
  const arguments a(args, {"data", "data-format", "header", "test-size", "seed", "train-out", "test-out"},
                    {"help", "quiet"});
  if (a.flag("help")) {
    std::cout << help;
    return 0;
  }
  const std::string path = a.required("data");
  a.required("train-out");
  a.required("test-out");
  refuse_overwriting_inputs(a, {"train-out", "test-out"}, {"data"});
  const bool sklearn = table_format(a, "data-format", path) == "sklearn";
  attrib::labelled_dataset data;
  std::vector<std::string> header;
  if (sklearn) {
    data = read_sklearn_table(path);
  } else {
    attrib::csv_table table = read_table(a, path, "attrib data split");
    if (table.values.cols() < 2) throw usage_error("--data needs at least one feature column and a target column");
    header = table.header;
    data.features = table.values.leftCols(table.values.cols() - 1);
    data.labels = table.values.col(table.values.cols() - 1);
  }
  const auto n = data.features.rows();
  const std::string size = a.text("test-size", "0.2");
  attrib::index test_rows = 0;
  if (size.find('.') != std::string::npos) {
    const double fraction = a.number("test-size", 0.2);
    if (!(fraction > 0.0 && fraction < 1.0)) throw usage_error("--test-size as a fraction must lie in (0, 1), got " + size);
    test_rows = n - static_cast<attrib::index>(static_cast<double>(n) * (1.0 - fraction));
  } else {
    test_rows = a.integer("test-size", 0, 1, n - 1);
  }
  if (test_rows < 1 || test_rows >= n)
    throw usage_error("--test-size " + size + " leaves no training or no test row of " + std::to_string(n));
  // train_test_split keeps floor(train_fraction * n) rows; this fraction gives exactly n - test_rows.
  const double train_fraction = (static_cast<double>(n - test_rows) + 0.5) / static_cast<double>(n);
  const attrib::dataset_split parts = attrib::train_test_split(data, train_fraction, a.seed());
  const auto text = [&](const attrib::labelled_dataset& part) {
    if (sklearn) return format_sklearn(part);
    attrib::matrix all(part.features.rows(), part.features.cols() + 1);
    all << part.features, part.labels;
    return attrib::format_csv(header, all);
  };
  write_output(a, "train-out", [&](std::ostream& out) { out << text(parts.train); });
  write_output(a, "test-out", [&](std::ostream& out) { out << text(parts.test); });
  messages(a) << "attrib data split: " << parts.train.features.rows() << " training rows to " << a.text("train-out")
              << ", " << parts.test.features.rows() << " test rows to " << a.text("test-out") << "\n";
  return 0;
}

}  // namespace cli
