#pragma once
// The truthfulness studies (truth_probes.hpp, truth_intervention.hpp) as files: markdown tables
// laid out as the paper's Tables 2 and 3, a CSV with one row per cell, and JSON with everything.
#include <cmath>
#include <concepts>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "attrib/io/atomic_file.hpp"
#include "attrib/studies/report_text.hpp"
#include "attrib/studies/truth_intervention.hpp"
#include "attrib/studies/truth_probes.hpp"

namespace attrib {

namespace detail {

// A models x models table, rows and columns named by model, `corner` naming the axes.
inline std::string model_table(const std::vector<std::string>& models, const matrix& m, const std::string& corner,
                               int digits = 3) {
  std::string out = "| " + corner + " |";
  for (const auto& name : models) out += " " + name + " |";
  out += "\n|---|";
  for (std::size_t j = 0; j < models.size(); ++j) out += "---|";
  out += "\n";
  for (index i = 0; i < m.rows(); ++i) {
    out += "| " + models[static_cast<std::size_t>(i)] + " |";
    for (index j = 0; j < m.cols(); ++j) out += " " + fixed(m(i, j), digits) + " |";
    out += "\n";
  }
  return out;
}

}  // namespace detail

inline std::string format_markdown(const truth_probe_study& s) {
  std::string out = "# Truth probes: transfer between models\n\nMass-mean probes on resid_post." + std::to_string(s.layer) +
                    " at each statement's last token, activations centred per dataset; trained on";
  for (std::size_t k = 0; k + 1 < s.datasets.size(); ++k) out += (k == 0 ? " " : ", ") + s.datasets[k];
  out += ", tested on " + s.datasets.back() + ".\n\n## Accuracy of the row model's probe on the column model's activations (" +
         s.datasets.back() + ")\n\n" + detail::model_table(s.models, s.transfer_accuracy, "probe \\ activations") +
         "\n## cos(theta_row, theta_column)\n\n" + detail::model_table(s.models, s.cosine, "direction") +
         "\n## Leave one dataset out\n\nEach dataset held out in turn, probes trained on the others.\n\n| held out |";
  for (const auto& a : s.models)
    for (const auto& b : s.models) out += " " + a + " -> " + b + " |";
  out += "\n|---|";
  for (std::size_t k = 0; k < s.models.size() * s.models.size(); ++k) out += "---|";
  out += "\n";
  for (std::size_t k = 0; k < s.datasets.size(); ++k) {
    out += "| " + s.datasets[k] + " |";
    const auto& m = s.held_out_accuracy[k];
    for (index i = 0; i < m.rows(); ++i)
      for (index j = 0; j < m.cols(); ++j) out += " " + detail::fixed(m(i, j)) + " |";
    out += "\n";
  }
  return out;
}

// table,held_out,probe,activations,value: transfer accuracy, cosine and held-out accuracy.
inline std::string format_csv(const truth_probe_study& s) {
  std::string out = "table,held_out,probe,activations,value\n";
  const auto rows = [&](const std::string& table, const std::string& held_out, const matrix& m) {
    for (index i = 0; i < m.rows(); ++i)
      for (index j = 0; j < m.cols(); ++j)
        out += table + "," + detail::csv_cell(held_out) + "," + detail::csv_cell(s.models[static_cast<std::size_t>(i)]) + "," +
               detail::csv_cell(s.models[static_cast<std::size_t>(j)]) + "," + detail::fixed(m(i, j), 6) + "\n";
  };
  rows("transfer_accuracy", s.datasets.back(), s.transfer_accuracy);
  rows("cosine", "", s.cosine);
  for (std::size_t k = 0; k < s.datasets.size(); ++k) rows("held_out_accuracy", s.datasets[k], s.held_out_accuracy[k]);
  return out;
}

inline std::string format_json(const truth_probe_study& s) {
  nlohmann::json j;
  j["models"] = s.models;
  j["datasets"] = s.datasets;
  j["layer"] = s.layer;
  j["transfer_accuracy"] = detail::json_matrix(s.transfer_accuracy);
  j["cosine"] = detail::json_matrix(s.cosine);
  j["held_out_accuracy"] = nlohmann::json::array();
  for (const auto& m : s.held_out_accuracy) j["held_out_accuracy"].push_back(detail::json_matrix(m));
  j["probes"] = nlohmann::json::array();
  for (const auto& p : s.probes) {
    nlohmann::json d = nlohmann::json::array();
    for (index i = 0; i < p.direction.size(); ++i) d.push_back(p.direction(i));
    j["probes"].push_back({{"direction", d}, {"weight", p.weight}, {"bias", p.bias}});
  }
  return j.dump(1) + "\n";
}

inline std::string format_markdown(const truth_intervention_study& s) {
  std::string out = "# Truth interventions: steering with one model's direction\n\n" + s.dataset + ": " +
                    std::to_string(s.true_statements) + " true and " + std::to_string(s.false_statements) +
                    " false statements; the row model's truth direction (coefficient " + detail::fixed(s.coefficient, 2) +
                    ") subtracted from true and added to false statements at resid_post of layers";
  for (std::size_t k = 0; k < s.layers.size(); ++k) out += (k == 0 ? " " : ", ") + std::to_string(s.layers[k]);
  out += ", at each statement's last two tokens. PD = P(TRUE) - P(FALSE) at the last position.\n\n"
         "## Effect, the mean of true -> false and false -> true (1: every verdict flipped)\n\n" +
         detail::model_table(s.models, s.effect, "direction \\ steered") + "\n## True -> false\n\n" +
         detail::model_table(s.models, s.true_to_false, "direction \\ steered") + "\n## False -> true\n\n" +
         detail::model_table(s.models, s.false_to_true, "direction \\ steered") +
         "\n## Unsteered PD\n\n| model | true statements | false statements |\n|---|---|---|\n";
  for (std::size_t m = 0; m < s.models.size(); ++m)
    out += "| " + s.models[m] + " | " + detail::fixed(s.base_true_pd(static_cast<index>(m))) + " | " +
           detail::fixed(s.base_false_pd(static_cast<index>(m))) + " |\n";
  return out;
}

// direction,steered,true_pd,false_pd,true_to_false,false_to_true,effect: one row per cell.
inline std::string format_csv(const truth_intervention_study& s) {
  std::string out = "direction,steered,true_pd,false_pd,true_to_false,false_to_true,effect\n";
  for (index i = 0; i < s.effect.rows(); ++i)
    for (index j = 0; j < s.effect.cols(); ++j)
      out += detail::csv_cell(s.models[static_cast<std::size_t>(i)]) + "," + detail::csv_cell(s.models[static_cast<std::size_t>(j)]) +
             "," + detail::fixed(s.true_pd(i, j), 6) + "," + detail::fixed(s.false_pd(i, j), 6) + "," +
             detail::fixed(s.true_to_false(i, j), 6) + "," + detail::fixed(s.false_to_true(i, j), 6) + "," +
             detail::fixed(s.effect(i, j), 6) + "\n";
  return out;
}

inline std::string format_json(const truth_intervention_study& s) {
  nlohmann::json j;
  j["models"] = s.models;
  j["dataset"] = s.dataset;
  j["layers"] = s.layers;
  j["coefficient"] = s.coefficient;
  j["true_statements"] = s.true_statements;
  j["false_statements"] = s.false_statements;
  j["base_true_pd"] = detail::json_matrix(s.base_true_pd.transpose());
  j["base_false_pd"] = detail::json_matrix(s.base_false_pd.transpose());
  for (const auto& [name, m] : {std::pair<const char*, const matrix*>{"true_pd", &s.true_pd}, {"false_pd", &s.false_pd},
                                {"true_to_false", &s.true_to_false}, {"false_to_true", &s.false_to_true}, {"effect", &s.effect}})
    j[name] = detail::json_matrix(*m);
  return j.dump(1) + "\n";
}

// Writes `stem`.md, .csv and .json into `folder` (detail::write_report_files).
template <class Study>
  requires std::same_as<Study, truth_probe_study> || std::same_as<Study, truth_intervention_study>
void write_truth_study(const std::filesystem::path& folder, const std::string& stem, const Study& s) {
  detail::write_report_files(folder, stem, format_markdown(s), format_csv(s), format_json(s));
}

}  // namespace attrib
