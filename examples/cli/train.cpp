// attrib train: fit one of the documented models on a CSV and save it in attrib's format.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "arguments.hpp"
#include "files.hpp"
#include "fit_model.hpp"
#include "labels.hpp"
#include "attrib/io/csv.hpp"
#include "attrib/io/model_file.hpp"
#include "commands.hpp"

namespace cli {
namespace {

const char* help = R"(usage: attrib train --data FILE --model-type TYPE --out FILE [options]

Fits a model on a labelled CSV and saves it as a JSON config (docs/model-format.md), with the
weights inline or in a safetensors file. Features are standardized inside the model, so it
takes raw features. Prints the final training loss and accuracy (or RMSE) to standard error.

data:
  --data FILE           training data
  --data-format F       sklearn (first line n,d,class names; the last column is the integer
                        label) or csv (the last column is the target); default: detected from
                        the first line
  --header H            csv: auto (default: the first line is a header when none of its
                        cells is a number), yes or no

model:
  --model-type TYPE     mlp, logistic_regression or linear_regression
  --hidden LIST         mlp hidden layer widths, e.g. 16,16 (default 16)
  --activation A        mlp hidden activation: tanh (default), relu, gelu, sigmoid, identity
  --output O            mlp head: softmax (default; classes), sigmoid (binary 0/1 target),
                        identity (regression); logistic_regression: probability (default)
                        or logit
  --l2 L                L2 penalty (l2/2) ||W||^2 (default 1e-3)

training:
  --epochs N            mlp: Adam epochs (default 200)
  --learning-rate R     mlp: Adam learning rate (default 0.01)
  --batch-size B        mlp: minibatch size (default 32)
  --seed S              mlp: initialisation and shuffling seed (default 0)

output:
  --out FILE            the model config to write
  --weights-file NAME   write the weights to NAME (safetensors, beside --out) instead of inline
  --quiet               no messages on standard error
  --help                this text
)";

}  // namespace

int train(const std::vector<std::string>& args) {
  const arguments a(args,
                    {"data", "data-format", "model-type", "hidden", "activation", "output", "l2", "epochs",
                     "learning-rate", "batch-size", "seed", "header", "out", "weights-file"},
                    {"help", "quiet"});
  if (a.flag("help")) {
    std::cout << help;
    return 0;
  }
  const std::string type = a.required("model-type");
  const std::string out = a.required("out");
  refuse_overwriting_inputs(a, {"out"}, {"data"});
  if (a.has("weights-file")) {
    const auto weights = std::filesystem::path(out).parent_path() / a.text("weights-file");
    if (same_file(weights, a.required("data")) || same_file(weights, out))
      throw usage_error("--weights-file '" + a.text("weights-file") + "' (beside --out) is the " +
                        (same_file(weights, out) ? "--out" : "--data") + " file; choose another name");
  }
  attrib::matrix features;
  attrib::vector targets;
  attrib::model_info info;
  const std::string format = table_format(a, "data-format", a.required("data"));
  if (format == "sklearn") {
    attrib::labelled_dataset data = read_sklearn_table(a.required("data"));
    features = std::move(data.features);
    targets = std::move(data.labels);
    info.class_names = data.class_names;
  } else if (format == "csv") {
    attrib::csv_table table = read_table(a, a.required("data"), "attrib train");
    if (table.values.cols() < 2) throw usage_error("--data needs at least one feature column and a target column");
    features = table.values.leftCols(table.values.cols() - 1);
    targets = table.values.col(table.values.cols() - 1);
    if (!table.header.empty()) info.feature_names.assign(table.header.begin(), table.header.end() - 1);
  } else {
    throw usage_error("--data-format must be sklearn or csv, got '" + format + "'");
  }
  auto classes = [&]() -> Eigen::Index {
    if (info.class_names.empty()) return class_count(targets, "--data");
    const auto k = std::max<Eigen::Index>(2, static_cast<Eigen::Index>(info.class_names.size()));
    info.class_names.resize(static_cast<std::size_t>(k));
    return k;
  };
  attrib::any_model::variant_type fitted = fit_model(a, type, features, targets, classes, "attrib train");
  const attrib::any_model model(std::move(fitted), info);

  // Training fit: accuracy for classifiers, RMSE for regression.
  const attrib::matrix predictions = model.predict(features);
  if (type == "linear_regression" || a.text("output") == "identity") {
    messages(a) << "attrib train: training RMSE "
              << std::sqrt((predictions.col(0) - targets).squaredNorm() / static_cast<double>(targets.size())) << "\n";
  } else {
    double correct = 0;
    for (Eigen::Index r = 0; r < predictions.rows(); ++r) {
      Eigen::Index label = 0;
      if (predictions.cols() == 1)
        label = predictions(r, 0) > (a.text("output") == "logit" ? 0.0 : 0.5) ? 1 : 0;
      else
        predictions.row(r).maxCoeff(&label);
      correct += static_cast<double>(label) == targets(r);
    }
    messages(a) << "attrib train: training accuracy " << correct / static_cast<double>(predictions.rows()) << "\n";
  }
  attrib::save_model(out, model, {.weights_file = a.text("weights-file")});
  messages(a) << "attrib train: saved " << out << "\n";
  return 0;
}

}  // namespace cli
