// attrib explain's guided backpropagation and L2X (guided_l2x_methods.hpp) written out: the
// per-feature table for guided backpropagation; for L2X, the selector scores, the selection and
// the model's output on the selected features. A translation unit of its own: the guided game and
// L2X's training loop are templates that would lengthen explain.cpp's compile.
#include <string>
#include <vector>

#include "arguments.hpp"
#include "explain_context.hpp"
#include "files.hpp"
#include "guided_l2x_methods.hpp"

namespace cli {
namespace {

void write_l2x(const explain_context& c) {
  if (c.a.has("svg"))
    throw usage_error("--svg draws additive attributions; l2x's columns are selector scores and a selection");
  const attrib::index d = c.model.input_dim();
  attrib::matrix x(static_cast<attrib::index>(c.rows.size()), d);
  for (std::size_t i = 0; i < c.rows.size(); ++i) x.row(static_cast<attrib::index>(i)) = c.data.row(c.rows[i]);
  const l2x_rows l = explain_l2x_rows(c, x);
  std::vector<std::string> columns{"row", "output", "base_value", "prediction", "selected_prediction"};
  columns.insert(columns.end(), c.names.begin(), c.names.end());
  for (const auto& n : c.names) columns.push_back("selected_" + n);
  attrib::matrix table(l.prediction.rows(), static_cast<attrib::index>(columns.size()));
  for (attrib::index r = 0; r < table.rows(); ++r) {
    const attrib::index out = c.outputs[static_cast<std::size_t>(r)];
    table(r, 0) = static_cast<double>(c.rows[static_cast<std::size_t>(r)]);
    table(r, 1) = static_cast<double>(out);
    table(r, 2) = l.base(0, out);
    table(r, 3) = l.prediction(r, out);
    table(r, 4) = l.selected_prediction(r, out);
    table.block(r, 5, 1, d) = l.explanation.scores.row(r);
    table.block(r, 5 + d, 1, d) = l.explanation.mask.row(r);
  }
  write_table(c.a, columns, table);
}

}  // namespace

void explain_guided_l2x(const explain_context& c) {
  if (c.method == "guided-backprop") {
    const auto results = explain_guided_rows(c);
    if (command_ranks().is_root()) write_attribution_table(c, results);  // the rows are on rank 0
  } else {
    write_l2x(c);
  }
}

}  // namespace cli
