#pragma once
// The models the tool fits to a labelled table - mlp, logistic_regression, linear_regression -
// with the options `attrib train`, `attrib data` and the Python module read the same way: --l2,
// --hidden, --activation, --output, --epochs, --learning-rate, --batch-size, --seed. Each
// classifier's inputs are standardised by the training data's column statistics.
#include <functional>
#include <string>

#include "arguments.hpp"
#include "mlp_options.hpp"
#include "progress.hpp"
#include "attrib/io/model_file.hpp"
#include "attrib/models/linear_regression.hpp"
#include "attrib/models/logistic_regression.hpp"
#include "attrib/models/mlp.hpp"
#include "attrib/models/output_head.hpp"
#include "attrib/models/standardizer.hpp"

namespace cli {

inline constexpr const char* fitted_model_types = "mlp, logistic_regression or linear_regression";

// Fits a model of `type` to (x, y). `classes` gives the number of classes (at least 2) when a
// classifier needs it: a regression target is never asked for one. `who` starts the messages.
inline attrib::any_model::variant_type fit_model(const arguments& a, const std::string& type, const attrib::matrix& x,
                                                 const attrib::vector& y,
                                                 const std::function<Eigen::Index()>& classes, const std::string& who) {
  const Eigen::Index d = x.cols();
  const double l2 = a.number("l2", 1e-3);
  if (!(l2 >= 0)) throw usage_error("--l2 must be non-negative, got " + a.text("l2"));
  const attrib::standardizer scale = attrib::standardizer::fit(x);
  if (type == "mlp") {
    const attrib::output_head head = attrib::parse_output_head(a.text("output", "softmax"));
    attrib::mlp m(mlp_layer_shapes(a, d, head == attrib::output_head::softmax ? classes() : 1), head, a.seed());
    m.set_standardizer(scale);
    progress bar(a, who, "epochs", 0);
    const auto history = m.train(x, y,
                                 {.learning_rate = a.number("learning-rate", 0.01),
                                  .epochs = a.integer("epochs", 200, 0, 1'000'000'000),
                                  .batch_size = a.integer("batch-size", 32, 1, 1'000'000'000),
                                  .l2 = l2,
                                  .seed = a.seed(),
                                  .progress = [&](std::size_t done, std::size_t total) { bar.update(done, total); }});
    messages(a) << who << ": mlp, " << history.size() << " epochs, final loss "
                << (history.empty() ? m.loss(x, y) : history.back()) << "\n";
    return m;
  }
  if (type == "logistic_regression") {
    const Eigen::Index k = classes();
    attrib::logistic_regression m(d, k == 2 ? 1 : k, attrib::parse_logistic_output(a.text("output", "probability")));
    m.set_standardizer(scale);
    const attrib::newton_report r = m.train(x, y, {.l2 = l2});
    messages(a) << who << ": logistic regression, " << k << " classes, " << r.iterations << " Newton iterations, loss "
                << r.loss << ", gradient norm " << r.gradient_norm << (r.converged ? "" : " (not converged)") << "\n";
    return m;
  }
  if (type == "linear_regression") {
    attrib::linear_regression m(d);
    m.set_standardizer(scale);
    m.train(x, y, l2);
    messages(a) << who << ": linear regression, loss " << m.loss(x, y) << "\n";
    return m;
  }
  throw usage_error("--model-type must be " + std::string(fitted_model_types) + ", got '" + type + "'");
}

}  // namespace cli
