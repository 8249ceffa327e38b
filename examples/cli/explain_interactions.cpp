// attrib explain's interaction methods (interaction_methods.hpp) written out: a long table with
// one line per row and pair of players (or per term of another Shapley-Taylor order), the
// summary of each row on standard error, and heatmaps for --svg. A translation unit of its own:
// the exhaustive pair sums and the Hessian-vector products are templates that would otherwise
// lengthen explain.cpp's compile.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "../svg_heatmap.hpp"
#include "arguments.hpp"
#include "explain_context.hpp"
#include "files.hpp"
#include "interaction_methods.hpp"
#include "attrib/core/interaction_attribution.hpp"
#include "attrib/methods/feature/interactions.hpp"

namespace cli {
namespace {

// The pairwise table, the stderr summary and the heatmaps.
void write_pairs(const explain_context& c, const std::vector<attrib::interaction_attribution>& results) {
  const auto n = static_cast<attrib::index>(c.names.size());
  const bool sampled = !results.empty() && results.front().has_standard_errors();
  std::vector<std::string> columns{"row", "output", "feature_i", "feature_j", "value"};
  if (sampled) columns.push_back("se_value");
  attrib::matrix table(static_cast<attrib::index>(results.size()) * n * n, static_cast<attrib::index>(columns.size()));
  std::vector<examples::heatmap_panel> panels;
  attrib::index line = 0;
  for (std::size_t k = 0; k < results.size(); ++k) {
    const attrib::interaction_attribution& r = results[k];
    for (attrib::index i = 0; i < n; ++i)
      for (attrib::index j = 0; j < n; ++j, ++line) {
        table(line, 0) = static_cast<double>(c.rows[k]);
        table(line, 1) = static_cast<double>(c.outputs[k]);
        table(line, 2) = static_cast<double>(i);
        table(line, 3) = static_cast<double>(j);
        table(line, 4) = r.values(i, j);
        if (sampled) table(line, 5) = r.standard_errors(i, j);
      }
    std::ostringstream summary;
    summary << "attrib explain: row " << c.rows[k] << ", output " << c.outputs[k] << ": f(baseline) " << r.base_value
            << ", f(x) " << r.prediction;
    if (c.method == "integrated-hessians")
      summary << ", completeness delta " << r.completeness_delta();
    else if (c.method.find("shapley-taylor") != std::string::npos)
      summary << ", efficiency gap " << r.efficiency_gap();
    summary << ", " << r.model_evaluations << " model evaluations\n";
    messages(c.a) << summary.str();
    if (c.a.has("svg")) {
      // Row-major, as the panel reads it (values is column-major; Integrated Hessians' matrix is
      // symmetric only up to quadrature and rounding).
      std::vector<double> cells;
      for (attrib::index i = 0; i < n; ++i)
        for (attrib::index j = 0; j < n; ++j) cells.push_back(r.values(i, j));
      panels.push_back({"row " + std::to_string(c.rows[k]) + ", output " + std::to_string(c.outputs[k]), c.names,
                        c.names, std::move(cells)});
    }
  }
  write_table(c.a, columns, table);
  if (c.a.has("svg"))
    write_output(c.a, "svg", [&](std::ostream& out) {
      examples::write_heatmap_svg(out, c.method + " interactions (row: feature_i, column: feature_j)", "interaction",
                                  panels);
    });
}

// Shapley-Taylor of order K != 2: every term of at most K players.
void write_terms(const explain_context& c, attrib::index order,
                 const std::vector<std::vector<attrib::interaction_term>>& results) {
  std::vector<std::string> columns{"row", "output", "size"};
  for (attrib::index p = 1; p <= order; ++p) columns.push_back("feature_" + std::to_string(p));
  columns.push_back("value");
  std::size_t lines = 0;
  for (const auto& terms : results) lines += terms.size();
  attrib::matrix table(static_cast<attrib::index>(lines), static_cast<attrib::index>(columns.size()));
  table.setConstant(-1.0);
  attrib::index line = 0;
  for (std::size_t k = 0; k < results.size(); ++k)
    for (const attrib::interaction_term& t : results[k]) {
      table(line, 0) = static_cast<double>(c.rows[k]);
      table(line, 1) = static_cast<double>(c.outputs[k]);
      table(line, 2) = static_cast<double>(t.players.size());
      for (std::size_t p = 0; p < t.players.size(); ++p)
        table(line, 3 + static_cast<attrib::index>(p)) = static_cast<double>(t.players[p]);
      table(line, table.cols() - 1) = t.value;
      ++line;
    }
  write_table(c.a, columns, table);
}

}  // namespace

void explain_interactions(const explain_context& c) {
  const attrib::index order = c.a.integer("order", 2, 1, attrib::max_shapley_taylor_terms_players);
  // The rows are spread over the ranks under mpirun (explain_each_row) and gathered on rank 0,
  // which alone writes.
  const bool writes = command_ranks().is_root();
  if (order == 2) {
    const auto results = explain_pair_interactions(c);
    if (writes) write_pairs(c, results);
    return;
  }
  // Only shapley-taylor reads --order (explain.cpp refuses it elsewhere).
  if (c.a.has("svg"))
    throw usage_error("--svg draws the pairwise matrix; shapley-taylor with --order other than 2 writes terms only");
  const auto terms = explain_interaction_terms(c, order);
  if (writes) write_terms(c, order, terms);
}

}  // namespace cli
