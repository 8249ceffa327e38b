// attrib train: fit one of the documented models on a CSV and save it in attrib's format.
#include <iostream>
#include <string>
#include <vector>

#include "arguments.hpp"
#include "attrib/io/csv.hpp"
#include "attrib/io/model_file.hpp"
#include "attrib/models/activation.hpp"
#include "attrib/models/linear_regression.hpp"
#include "attrib/models/logistic_regression.hpp"
#include "attrib/models/mlp.hpp"
#include "attrib/models/output_head.hpp"
#include "attrib/models/standardizer.hpp"
#include "commands.hpp"

namespace cli {
namespace {

const char* help = R"(usage: attrib train --data FILE --model-type TYPE --out FILE [options]

Fits a model on a labelled CSV and saves it as a JSON config (docs/model-format.md), with the
weights inline or in a safetensors file. Features are standardized inside the model, so it
takes raw features. Prints the final training loss and accuracy (or RMSE) to standard error.

data:
  --data FILE           training data
  --data-format F       sklearn (default: first line n,d,class names; last column is the
                        integer label) or csv (header optional; the last column is the target)

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
  --help                this text
)";

}  // namespace

int train(const std::vector<std::string>& args) {
  const arguments a(args,
                    {"data", "data-format", "model-type", "hidden", "activation", "output", "l2", "epochs",
                     "learning-rate", "batch-size", "seed", "out", "weights-file"},
                    {"help"});
  if (a.flag("help")) {
    std::cout << help;
    return 0;
  }
  const std::string type = a.required("model-type");
  const std::string out = a.required("out");
  attrib::matrix features;
  attrib::vector targets;
  attrib::model_info info;
  const std::string format = a.text("data-format", "sklearn");
  if (format == "sklearn") {
    attrib::labelled_dataset data = attrib::read_sklearn_csv(a.required("data"));
    features = std::move(data.features);
    targets = std::move(data.labels);
    info.class_names = data.class_names;
  } else if (format == "csv") {
    attrib::csv_table table = attrib::read_csv(a.required("data"));
    if (table.values.cols() < 2) throw usage_error("--data needs at least one feature column and a target column");
    features = table.values.leftCols(table.values.cols() - 1);
    targets = table.values.col(table.values.cols() - 1);
    if (!table.header.empty()) info.feature_names.assign(table.header.begin(), table.header.end() - 1);
  } else {
    throw usage_error("--data-format must be sklearn or csv, got '" + format + "'");
  }
  const Eigen::Index d = features.cols();
  const double l2 = a.number("l2", 1e-3);
  const attrib::standardizer scale = attrib::standardizer::fit(features);

  auto classes = [&] {
    const Eigen::Index k = static_cast<Eigen::Index>(targets.maxCoeff()) + 1;
    if (!info.class_names.empty() && static_cast<Eigen::Index>(info.class_names.size()) != k)
      info.class_names.resize(static_cast<std::size_t>(std::max<Eigen::Index>(k, 0)));
    return k;
  };
  attrib::any_model::variant_type fitted = attrib::linear_regression(d);
  if (type == "mlp") {
    const attrib::output_head head = attrib::parse_output_head(a.text("output", "softmax"));
    const Eigen::Index outputs = head == attrib::output_head::softmax ? classes() : 1;
    std::vector<attrib::layer_shape> shapes;
    Eigen::Index inputs = d;
    const attrib::activation act = attrib::parse_activation(a.text("activation", "tanh"));
    for (const std::string& width : split(a.text("hidden", "16"), ',')) {
      if (width.empty() || width.find_first_not_of("0123456789") != std::string::npos || std::stoll(width) == 0)
        throw usage_error("--hidden expects positive layer widths like 16,16, got '" + a.text("hidden") + "'");
      shapes.push_back({inputs, static_cast<Eigen::Index>(std::stoll(width)), act});
      inputs = shapes.back().outputs;
    }
    shapes.push_back({inputs, outputs, attrib::activation::identity});
    attrib::mlp model(shapes, head, a.count("seed", 0));
    model.set_standardizer(scale);
    const auto history = model.train(features, targets,
                                     {.learning_rate = a.number("learning-rate", 0.01),
                                      .epochs = static_cast<Eigen::Index>(a.count("epochs", 200)),
                                      .batch_size = static_cast<Eigen::Index>(a.count("batch-size", 32)),
                                      .l2 = l2,
                                      .seed = a.count("seed", 0)});
    std::cerr << "attrib train: mlp, " << history.size() << " epochs, final loss "
              << (history.empty() ? model.loss(features, targets) : history.back()) << "\n";
    fitted = std::move(model);
  } else if (type == "logistic_regression") {
    const Eigen::Index k = classes();
    attrib::logistic_regression model(d, k == 2 ? 1 : k, attrib::parse_logistic_output(a.text("output", "probability")));
    model.set_standardizer(scale);
    const attrib::newton_report report = model.train(features, targets, {.l2 = l2});
    std::cerr << "attrib train: logistic regression, " << report.iterations << " Newton iterations, loss "
              << report.loss << ", gradient norm " << report.gradient_norm << (report.converged ? "" : " (not converged)")
              << "\n";
    fitted = std::move(model);
  } else if (type == "linear_regression") {
    attrib::linear_regression model(d);
    model.set_standardizer(scale);
    model.train(features, targets, l2);
    std::cerr << "attrib train: linear regression, loss " << model.loss(features, targets) << "\n";
    fitted = std::move(model);
  } else {
    throw usage_error("--model-type must be mlp, logistic_regression or linear_regression, got '" + type + "'");
  }
  const attrib::any_model model(std::move(fitted), info);

  // Training fit: accuracy for classifiers, RMSE for regression.
  const attrib::matrix predictions = model.predict(features);
  if (type == "linear_regression" || a.text("output") == "identity") {
    std::cerr << "attrib train: training RMSE "
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
    std::cerr << "attrib train: training accuracy " << correct / static_cast<double>(predictions.rows()) << "\n";
  }
  attrib::save_model(out, model, {.weights_file = a.text("weights-file")});
  std::cerr << "attrib train: saved " << out << "\n";
  return 0;
}

}  // namespace cli
