#pragma once
// What `attrib explain` has read before it runs a method - the model, the rows to explain, the
// baseline, the players and their names, the output of each row - so that the methods kept in
// their own translation units (explain_interactions.cpp and explain_guided_l2x.cpp take about
// 27 s each at -O3, explain.cpp about 55 s: together they would double its compile and build
// one after the other) see the same inputs, and the one writer of the per-feature table that
// every row method shares.
#include <cmath>
#include <cstddef>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "arguments.hpp"
#include "files.hpp"
#include "progress.hpp"
#include "rank_group.hpp"
#include "../svg_waterfall.hpp"
#include "attrib/core/attribution.hpp"
#include "attrib/core/feature_groups.hpp"
#include "attrib/core/parallel.hpp"
#include "attrib/core/run_settings.hpp"
#include "attrib/core/types.hpp"
#include "attrib/io/detail/result_wire.hpp"
#include "attrib/io/model_file.hpp"

namespace cli {

// Model: attrib::any_model on the command line; the Python module also explains callables.
template <class Model = attrib::any_model>
struct basic_explain_context {
  const arguments& a;
  std::string method;
  const Model& model;
  attrib::matrix data;                  // every row of --data
  std::vector<Eigen::Index> rows;       // the rows to explain
  attrib::matrix baseline;              // one reference row, or the background rows
  attrib::feature_groups groups;        // the players
  std::vector<std::string> names;       // one per player
  std::vector<Eigen::Index> outputs;    // the output explained for each of `rows`
  attrib::run_settings settings;
};
using explain_context = basic_explain_context<>;

// The interaction methods (run by interaction_methods.hpp, written by explain_interactions.cpp).
inline constexpr const char* interaction_method_names =
    "shapley-taylor, permutation-shapley-taylor, banzhaf-interactions, msr-banzhaf-interactions, "
    "integrated-hessians";
inline bool is_interaction_method(const std::string& name) {
  return name == "shapley-taylor" || name == "permutation-shapley-taylor" || name == "banzhaf-interactions" ||
         name == "msr-banzhaf-interactions" || name == "integrated-hessians";
}
void explain_interactions(const explain_context& c);

// The methods of explain_guided_l2x.cpp: guided backpropagation (a row per instance, as the
// gradient methods) and L2X (trained on every row of --data, then a row per instance).
inline bool is_guided_or_l2x_method(const std::string& name) { return name == "guided-backprop" || name == "l2x"; }
void explain_guided_l2x(const explain_context& c);

// Runs explain_one(i, settings) for i in 0 .. c.rows.size()-1 with a progress bar: instances
// spread over --threads workers (one thread inside each), or one after another with the threads
// inside each instance. The methods' results do not depend on their thread count, so neither do
// these. Under mpirun (rank_group.hpp) the rows are spread over the ranks too, in fixed runs, and
// rank 0 receives every result in row order (the other ranks an empty list); each row is the same
// call wherever it runs, so rank 0's list is one process's, bit for bit.
template <class Result, class Model, class Explain>
std::vector<Result> explain_each_row(const basic_explain_context<Model>& c, Explain&& explain_one,
                                     const rank_group& ranks = command_ranks()) {
  const auto count = static_cast<attrib::index>(c.rows.size());
  const auto local = [&](attrib::index first, attrib::index last) {
    std::vector<Result> results(static_cast<std::size_t>(last - first));
    progress bar(c.a, "attrib explain", "instances", results.size());
    const std::size_t threads = attrib::resolve_threads(c.settings.threads);
    const bool across = results.size() > 1 && threads > 1;
    attrib::run_settings inner = c.settings;
    if (across) inner.threads = 1;
    std::mutex lock;
    std::size_t done = 0;
    const auto one = [&](std::size_t k) {
      const std::size_t i = static_cast<std::size_t>(first) + k;
      try {
        results[k] = explain_one(i, inner);
      } catch (const attrib::invalid_argument& e) {
        throw attrib::invalid_argument("row " + std::to_string(c.rows[i]) + ": " + e.what());
      }
      std::lock_guard guard(lock);
      bar.update(++done);
    };
    if (across)
      attrib::parallel_for(results.size(), threads, one);
    else
      for (std::size_t k = 0; k < results.size(); ++k) one(k);
    return results;
  };
  if (!ranks.distributed()) return local(0, count);
  const std::vector<std::string> parts = gather_item_runs(
      ranks, count, [&](attrib::index first, attrib::index last) { return attrib::detail::to_wire(local(first, last)); });
  std::vector<Result> all;
  for (const std::string& part : parts) attrib::detail::from_wire(part, all);
  return all;
}

// The per-feature table of explain: row, output, base_value (absent when the results have none:
// input-space methods), prediction, one column per player, se_<player> when the results carry
// standard errors, model_evaluations; to --out in --format, and the waterfalls to --svg.
inline void write_attribution_table(const explain_context& c, const std::vector<attrib::attribution>& results) {
  std::vector<std::vector<double>> table;
  bool with_errors = false, with_base = true;
  std::vector<examples::waterfall_panel> panels;  // for --svg
  for (std::size_t i = 0; i < c.rows.size(); ++i) {
    const attrib::attribution& r = results[i];
    const Eigen::Index output = c.outputs[i];
    with_base = std::isfinite(r.base_value);
    std::vector<double> line{static_cast<double>(c.rows[i]), static_cast<double>(output)};
    if (with_base) line.push_back(r.base_value);
    line.push_back(r.prediction);
    line.insert(line.end(), r.values.data(), r.values.data() + r.values.size());
    if (r.has_standard_errors()) {
      with_errors = true;
      line.insert(line.end(), r.standard_errors.data(), r.standard_errors.data() + r.standard_errors.size());
    }
    line.push_back(static_cast<double>(r.model_evaluations));
    table.push_back(std::move(line));
    if (c.a.has("svg"))
      panels.push_back({"row " + std::to_string(c.rows[i]) + ", output " + std::to_string(output),
                        std::vector<double>(r.values.data(), r.values.data() + r.values.size()), r.base_value,
                        r.prediction});
  }

  std::vector<std::string> columns{"row", "output"};
  if (with_base) columns.push_back("base_value");
  columns.push_back("prediction");
  columns.insert(columns.end(), c.names.begin(), c.names.end());
  if (with_errors)
    for (const auto& n : c.names) columns.push_back("se_" + n);
  columns.push_back("model_evaluations");
  attrib::matrix values(static_cast<Eigen::Index>(table.size()), static_cast<Eigen::Index>(columns.size()));
  for (std::size_t r = 0; r < table.size(); ++r) {
    if (table[r].size() != columns.size())
      throw std::runtime_error("some instances have standard errors and others not");
    for (std::size_t k = 0; k < columns.size(); ++k)
      values(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(k)) = table[r][k];
  }
  write_table(c.a, columns, values);
  if (c.a.has("svg"))
    write_output(c.a, "svg", [&](std::ostream& out) {
      examples::write_waterfall_svg(out, c.method + " attributions", c.names, panels);
    });
}

}  // namespace cli
