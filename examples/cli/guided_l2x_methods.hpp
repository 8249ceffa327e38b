#pragma once
// attrib explain's methods that need more of the model than its outputs and gradients: guided
// backpropagation (the ReLU MLP's backward pass with negative signals stopped at every ReLU) and
// L2X (an explainer network trained on the rows of --data through the model's input gradients,
// then asked for the k features of each explained row). Both need one of attrib's own models.
// The command line (explain_guided_l2x.cpp) and the Python module run them through these
// functions.
#include <cmath>
#include <cstddef>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "arguments.hpp"
#include "explain_context.hpp"
#include "mlp_options.hpp"
#include "attrib/core/attribution.hpp"
#include "attrib/methods/feature/clime.hpp"
#include "attrib/methods/feature/gradients.hpp"
#include "attrib/methods/feature/guided_backprop.hpp"
#include "attrib/methods/feature/l2x.hpp"
#include "attrib/models/activation.hpp"
#include "attrib/models/mlp.hpp"

namespace cli {

namespace detail {

// Guided backpropagation is defined at ReLUs: the model must be an MLP whose hidden layers are
// all relu (the last layer relu or identity). Checked here to name the option and the layer.
inline const attrib::mlp& require_relu_mlp(const explain_context& c) {
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

// Whether every prediction is a probability vector (one column in [0, 1], or rows summing to 1):
// the condition of L2X's cross-entropy objective.
inline bool predicts_probabilities(const attrib::matrix& p) {
  for (attrib::index r = 0; r < p.rows(); ++r) {
    const bool in_unit = (p.row(r).array() >= 0.0).all() && (p.row(r).array() <= 1.0).all();
    if (!in_unit || (p.cols() > 1 && std::abs(p.row(r).sum() - 1.0) >= 1e-6)) return false;
  }
  return true;
}

}  // namespace detail

// Guided backpropagation of each row: the composition of guided_backprop.hpp, the vanilla
// gradient of the noisy game over the model whose input vector-Jacobian product is the guided rule.
inline std::vector<attrib::attribution> explain_guided_rows(const explain_context& c) {
  using namespace attrib;
  const guided_mlp guided = guided_backprop(detail::require_relu_mlp(c));
  return explain_each_row<attribution>(c, [&](std::size_t i, const run_settings& s) {
    return vanilla_gradient{}.explain(
        noisy_model(std::cref(guided), vector(c.data.row(c.rows[i]).transpose()), c.outputs[i]), s);
  });
}

// L2X: the explainer trained on every row of c.data, then asked about the rows of x (the command
// line's are rows of c.data; c.outputs has one entry per row of x).
struct l2x_rows {
  attrib::l2x_explanation explanation;  // scores and the 0/1 selection of each explained row
  attrib::matrix prediction;            // the model at each explained row, every output
  attrib::matrix selected_prediction;   // ... with only the selected features kept, the rest at the baseline
  attrib::matrix base;                  // the model at the baseline (one row)
};

inline l2x_rows explain_l2x_rows(const explain_context& c, const attrib::matrix& x) {
  using namespace attrib;
  const arguments& a = c.a;
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
  const bool probabilities = detail::predicts_probabilities(training_predictions);
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

  l2x_rows out{explainer.explain(x), {}, {}, {}};
  const l2x_explanation& e = out.explanation;
  // The model on the selected features alone, the others at the baseline: masking's map.
  const matrix kept = (e.mask.array() * x.array() +
                       (1.0 - e.mask.array()) * baseline.transpose().replicate(x.rows(), 1).array())
                          .matrix();
  out.prediction = c.model.predict(x);
  out.selected_prediction = c.model.predict(kept);
  out.base = c.model.predict(matrix(baseline.transpose()));
  return out;
}

}  // namespace cli

