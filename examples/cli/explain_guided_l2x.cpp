// attrib explain's methods that need more of the model than its outputs and gradients: guided
// backpropagation (the ReLU MLP's backward pass with negative signals stopped at every ReLU) and
// L2X (an explainer network trained on the rows of --data through the model's input gradients,
// then asked for the k features of each explained row). A translation unit of its own: the
// guided game and L2X's training loop are templates that would lengthen explain.cpp's compile.
#include <cmath>
#include <cstddef>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "arguments.hpp"
#include "explain_context.hpp"
#include "files.hpp"
#include "mlp_options.hpp"
#include "attrib/core/attribution.hpp"
#include "attrib/methods/feature/clime.hpp"
#include "attrib/methods/feature/gradients.hpp"
#include "attrib/methods/feature/guided_backprop.hpp"
#include "attrib/methods/feature/l2x.hpp"
#include "attrib/models/activation.hpp"
#include "attrib/models/mlp.hpp"

namespace cli {
namespace {

// Guided backpropagation is defined at ReLUs: the model must be an MLP whose hidden layers are
// all relu (the last layer relu or identity). Checked here to name the option and the layer.
const attrib::mlp& require_relu_mlp(const explain_context& c) {
  const auto* m = std::get_if<attrib::mlp>(&c.model.underlying());
  if (!m)
    throw usage_error("--method guided-backprop needs an MLP (model type mlp) whose hidden layers are relu; the model is a " +
                      std::string(c.model.type()));
  const auto& layers = m->layers();
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const bool last = l + 1 == layers.size();
    const attrib::activation act = layers[l].act;
    if (act == attrib::activation::relu || (last && act == attrib::activation::identity)) continue;
    throw usage_error("--method guided-backprop is defined for ReLU networks: every hidden layer must be relu and the "
                      "last relu or identity, but layer " + std::to_string(l) + " of the model has activation '" +
                      std::string(attrib::activation_name(act)) + "' (train one with --activation relu)");
  }
  return *m;
}

void explain_guided(const explain_context& c) {
  using namespace attrib;
  // The composition of guided_backprop.hpp: the vanilla gradient of the noisy game over the
  // model whose input vector-Jacobian product is the guided rule.
  const guided_mlp guided = guided_backprop(require_relu_mlp(c));
  const auto results = explain_each_row<attribution>(c, [&](std::size_t i, const run_settings& s) {
    return vanilla_gradient{}.explain(
        noisy_model(std::cref(guided), vector(c.data.row(c.rows[i]).transpose()), c.outputs[i]), s);
  });
  write_attribution_table(c, results);
}

// Whether every prediction is a probability vector (one column in [0, 1], or rows summing to 1):
// the condition of L2X's cross-entropy objective.
bool predicts_probabilities(const attrib::matrix& p) {
  for (attrib::index r = 0; r < p.rows(); ++r) {
    const bool in_unit = (p.row(r).array() >= 0.0).all() && (p.row(r).array() <= 1.0).all();
    if (!in_unit || (p.cols() > 1 && std::abs(p.row(r).sum() - 1.0) >= 1e-6)) return false;
  }
  return true;
}

void explain_l2x(const explain_context& c) {
  using namespace attrib;
  const arguments& a = c.a;
  if (a.has("svg"))
    throw usage_error("--svg draws additive attributions; l2x's columns are selector scores and a selection");
  if (c.baseline.rows() != 1)
    throw usage_error("l2x replaces absent features by one reference row, but --baseline-mode background gives " +
                      std::to_string(c.baseline.rows()) + " rows; use --baseline-mode mean or row");
  const attrib::index d = c.model.input_dim();
  l2x recipe;
  recipe.k = a.integer("k", 1, 1, d);
  recipe.epochs = a.integer("epochs", 20, 0, 1'000'000);
  recipe.batch_size = a.integer("batch-size", 64, 1, 1'000'000'000);
  recipe.temperature = a.number("temperature", 0.1);
  recipe.learning_rate = a.number("learning-rate", 1e-3);
  if (!(std::isfinite(recipe.temperature) && recipe.temperature > 0.0))
    throw usage_error("--temperature must be positive and finite, got '" + a.text("temperature") + "'");
  if (!(std::isfinite(recipe.learning_rate) && recipe.learning_rate > 0.0))
    throw usage_error("--learning-rate must be positive and finite, got '" + a.text("learning-rate") + "'");
  if (a.has("hidden")) {
    // The same widths and size limit as attrib train's MLPs; the last shape is the output layer.
    const auto shapes = mlp_layer_shapes(a, d, d);
    recipe.hidden.clear();
    for (std::size_t l = 0; l + 1 < shapes.size(); ++l) recipe.hidden.push_back(shapes[l].outputs);
  }
  const matrix training_predictions = c.model.predict(c.data);
  const bool probabilities = predicts_probabilities(training_predictions);
  const std::string loss = a.text("loss", probabilities ? "cross-entropy" : "squared-error");
  if (loss == "cross-entropy") {
    if (!probabilities)
      throw usage_error("--loss cross-entropy needs the model's outputs to be probabilities (one column in [0, 1], or "
                        "rows summing to 1) on every row of --data; use --loss squared-error");
    recipe.loss = l2x_loss::cross_entropy;
  } else if (loss == "squared-error") {
    recipe.loss = l2x_loss::squared_error;
  } else {
    throw usage_error("--loss must be cross-entropy or squared-error, got '" + loss + "'");
  }

  const vector baseline = c.baseline.row(0).transpose();
  messages(a) << "attrib explain: training the l2x explainer (k = " << recipe.k << ", " << loss << ") on the "
              << c.data.rows() << " rows of --data for " << recipe.epochs << " epochs\n";
  const l2x_explainer explainer = recipe.fit(c.model, c.data, baseline, c.settings.seed);

  matrix x(static_cast<attrib::index>(c.rows.size()), d);
  for (std::size_t i = 0; i < c.rows.size(); ++i) x.row(static_cast<attrib::index>(i)) = c.data.row(c.rows[i]);
  const l2x_explanation e = explainer.explain(x);
  // The model on the selected features alone, the others at the baseline: masking's map.
  const matrix kept = (e.mask.array() * x.array() +
                       (1.0 - e.mask.array()) * baseline.transpose().replicate(x.rows(), 1).array())
                          .matrix();
  const matrix prediction = c.model.predict(x), selected_prediction = c.model.predict(kept);
  const matrix base = c.model.predict(matrix(baseline.transpose()));

  std::vector<std::string> columns{"row", "output", "base_value", "prediction", "selected_prediction"};
  columns.insert(columns.end(), c.names.begin(), c.names.end());
  for (const auto& n : c.names) columns.push_back("selected_" + n);
  matrix table(x.rows(), static_cast<attrib::index>(columns.size()));
  for (attrib::index r = 0; r < x.rows(); ++r) {
    const attrib::index out = c.outputs[static_cast<std::size_t>(r)];
    table(r, 0) = static_cast<double>(c.rows[static_cast<std::size_t>(r)]);
    table(r, 1) = static_cast<double>(out);
    table(r, 2) = base(0, out);
    table(r, 3) = prediction(r, out);
    table(r, 4) = selected_prediction(r, out);
    table.block(r, 5, 1, d) = e.scores.row(r);
    table.block(r, 5 + d, 1, d) = e.mask.row(r);
  }
  write_table(a, columns, table);
}

}  // namespace

void explain_guided_l2x(const explain_context& c) {
  if (c.method == "guided-backprop")
    explain_guided(c);
  else
    explain_l2x(c);
}

}  // namespace cli
