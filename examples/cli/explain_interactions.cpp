// attrib explain's interaction methods: the Shapley-Taylor and Banzhaf interaction indices
// (exact and sampled) of the masked game, and Integrated Hessians of an MLP. Each explains a row
// by an n x n matrix of pairs of players, written as a long table (one line per row and pair).
// A translation unit of its own: the exhaustive pair sums and the Hessian-vector products are
// templates that would otherwise lengthen explain.cpp's compile.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <ostream>
#include <sstream>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "../svg_heatmap.hpp"
#include "arguments.hpp"
#include "explain_context.hpp"
#include "files.hpp"
#include "attrib/core/interaction_attribution.hpp"
#include "attrib/core/quadrature.hpp"
#include "attrib/games/perturbed_model.hpp"
#include "attrib/methods/feature/integrated_hessians.hpp"
#include "attrib/methods/feature/interactions.hpp"
#include "attrib/models/activation.hpp"
#include "attrib/models/mlp.hpp"
#include "attrib/models/mlp_input_hessian.hpp"
#include "attrib/models/output_head.hpp"
#include "attrib/perturbations/masking.hpp"

namespace cli {
namespace {

using model_ref = std::reference_wrapper<const attrib::any_model>;
using hessian_ref = std::reference_wrapper<const attrib::mlp_input_hessian>;

// Exact enumeration reads all 2^n coalitions: refused past the library's limit with the way out.
void require_exact_players(const explain_context& c, attrib::index limit, const std::string& what) {
  const attrib::index n = c.groups.player_count();
  if (n > limit)
    throw usage_error("--method " + c.method + what + " enumerates all 2^n coalitions and takes at most " +
                      std::to_string(limit) + " players; the model has " + std::to_string(n) +
                      (c.a.has("groups") ? " groups" : " features") +
                      " (merge features with --groups, or use permutation-shapley-taylor or msr-banzhaf-interactions)");
  if (n < 2)
    throw usage_error("--method " + c.method + " needs at least 2 players; the model has " + std::to_string(n));
}

// --samples for permutation-shapley-taylor: game evaluations, spent on whole orders.
std::size_t permutations_for(const explain_context& c, std::size_t samples) {
  if (samples == 0) return 0;  // the library's default, 1000 orders
  const auto n = static_cast<std::size_t>(c.groups.player_count());
  const std::size_t per_order = (n + 1) + n * (n - 1) / 2, fixed = n + 1;
  const std::size_t needed = 2 * per_order + fixed;
  if (samples < needed)
    throw usage_error("--samples " + std::to_string(samples) + " is too small for permutation-shapley-taylor: with " +
                      std::to_string(n) + " players each random order costs " + std::to_string(per_order) +
                      " evaluations and the diagonal " + std::to_string(fixed) + ", so at least " +
                      std::to_string(needed) + " (two orders) are needed");
  return (samples - fixed) / per_order;
}

// Integrated Hessians needs the input Hessian, which attrib computes for MLPs.
const attrib::mlp& require_mlp(const explain_context& c) {
  const auto* m = std::get_if<attrib::mlp>(&c.model.underlying());
  if (!m)
    throw usage_error("--method integrated-hessians needs the input Hessian of an MLP (model type mlp); the model is a " +
                      std::string(c.model.type()));
  return *m;
}

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
  using namespace attrib;
  const std::string& name = c.method;
  const auto samples = static_cast<std::size_t>(c.a.integer("samples", 0, 0, 1'000'000'000'000));
  const auto masked = [&](std::size_t i) {
    return perturbed_model<model_ref, masking>(std::cref(c.model), c.data.row(c.rows[i]).transpose(),
                                               masking(c.baseline, c.groups), c.outputs[i]);
  };
  const attrib::index order = c.a.integer("order", 2, 1, max_shapley_taylor_terms_players);
  if (order != 2) {  // only shapley-taylor reads --order (explain.cpp refuses it elsewhere)
    if (c.a.has("svg"))
      throw usage_error("--svg draws the pairwise matrix; shapley-taylor with --order other than 2 writes terms only");
    require_exact_players(c, max_shapley_taylor_terms_players, " --order " + std::to_string(order));
    if (order > c.groups.player_count())
      throw usage_error("--order " + std::to_string(order) + " exceeds the " + std::to_string(c.groups.player_count()) +
                        " players");
    write_terms(c, order, explain_each_row<std::vector<interaction_term>>(c, [&](std::size_t i, const run_settings& s) {
                  return shapley_taylor_terms(masked(i), order, s);
                }));
    return;
  }

  std::vector<interaction_attribution> results;
  if (name == "shapley-taylor" || name == "banzhaf-interactions") {
    require_exact_players(c, max_pairwise_interaction_players, "");
    const bool taylor = name == "shapley-taylor";
    results = explain_each_row<interaction_attribution>(c, [&](std::size_t i, const run_settings& s) {
      return taylor ? shapley_taylor_interactions(masked(i), s) : banzhaf_interactions(masked(i), s);
    });
  } else if (name == "permutation-shapley-taylor") {
    const permutation_interaction_options options{.permutations = permutations_for(c, samples)};
    results = explain_each_row<interaction_attribution>(c, [&](std::size_t i, const run_settings& s) {
      return permutation_shapley_taylor_interactions(masked(i), options, s);
    });
  } else if (name == "msr-banzhaf-interactions") {
    const msr_interaction_options options{.budget = samples};
    results = explain_each_row<interaction_attribution>(c, [&](std::size_t i, const run_settings& s) {
      return msr_banzhaf_interactions(masked(i), options, s);
    });
  } else {  // integrated-hessians
    const mlp& network = require_mlp(c);
    const auto& layers = network.layers();
    bool curved = network.head() != output_head::identity;
    for (const auto& layer : layers) curved = curved || (layer.act != activation::relu && layer.act != activation::identity);
    if (!curved)
      messages(c.a) << "attrib explain: note: every layer of this MLP is relu or identity and its head is identity, so its "
                       "input Hessian is 0 almost everywhere and every off-diagonal interaction is 0\n";
    const mlp_input_hessian hessian = with_input_hessian(network);
    const integrated_hessians method{.rule = parse_quadrature_rule(c.a.text("rule", "gauss_legendre")),
                                     .steps = static_cast<int>(c.a.integer("steps", 32, 1, integrated_hessians::max_steps))};
    results = explain_each_row<interaction_attribution>(c, [&](std::size_t i, const run_settings& s) {
      return method.explain(perturbed_model<hessian_ref, masking>(std::cref(hessian), c.data.row(c.rows[i]).transpose(),
                                                                  masking(c.baseline, c.groups), c.outputs[i]),
                            s);
    });
  }
  write_pairs(c, results);
}

}  // namespace cli
