#pragma once
// A knowledge study (knowledge_tracing.hpp) as the files a reader opens: a markdown page with the
// comparison table and every score map, a CSV with one row per (map, layer, column), and JSON
// with everything. write_knowledge_study writes all three, each under its final name only once
// complete.
#include <cmath>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "attrib/io/atomic_file.hpp"
#include "attrib/studies/report_text.hpp"
#include "attrib/studies/knowledge_tracing.hpp"

namespace attrib {

namespace detail {

inline std::string column_heading(const knowledge_study& s, std::size_t c) {
  const char* mark = s.roles[c] == column_role::subject ? " [s]" : s.roles[c] == column_role::object ? " [o]" : "";
  return markdown_token(s.column_labels[c]) + mark;
}

inline std::string trace_name(const knowledge_trace& t) {
  return t.source == t.target ? t.target : t.source + " -> " + t.target;
}

}  // namespace detail

inline std::string format_markdown(const knowledge_study& s) {
  std::string out = "# Knowledge tracing: " + s.dataset + "\n\n";
  const std::size_t pairs = s.traces.empty() ? 0 : s.traces.front().pairs;
  out += std::to_string(pairs) + " true/false pairs from " + std::to_string(s.candidates) +
         " true statements (" + std::to_string(s.without_partner) + " without a false statement of the same object, " +
         std::to_string(s.unequal_length) + " whose partners all differ in token count, " +
         std::to_string(s.other_shape) + " of another shape: other token counts, or the subject or object elsewhere). Cells patch resid_post of a "
         "layer at one position; d = logit(TRUE) - logit(FALSE) at the last position; M is the 20-bin "
         "quantised score of the mean of d. Knowledge columns are marked [s] (subject) and [o] (object).\n\n";
  if (!s.comparisons.empty()) {
    out += "| comparison | Corr(M1, M2) | max abs(M1 - M2) | max abs(M1 - M2), knowledge columns |\n|---|---|---|---|\n";
    for (const auto& c : s.comparisons)
      out += "| " + c.name + " | " + detail::fixed(c.values.correlation) + " | " + detail::fixed(c.values.max_difference, 1) +
             " | " + detail::fixed(c.values.max_knowledge_difference, 1) + " |\n";
    out += "\n";
  }
  out += "| map | pairs | mean d, true prompts | mean d, false prompts | target's verdicts right |\n|---|---|---|---|---|\n";
  for (const auto& t : s.traces)
    out += "| " + detail::trace_name(t) + " | " + std::to_string(t.pairs) + " | " + detail::fixed(t.true_effect) +
           " | " + detail::fixed(t.false_effect) + " | " + detail::fixed(t.target_accuracy) + " |\n";
  for (const auto& t : s.traces) {
    out += "\n## M, " + detail::trace_name(t) + "\n\n| layer |";
    for (std::size_t c = 0; c < s.column_labels.size(); ++c) out += " " + detail::column_heading(s, c) + " |";
    out += "\n|---|";
    for (std::size_t c = 0; c < s.column_labels.size(); ++c) out += "---|";
    out += "\n";
    for (index l = 0; l < t.score.rows(); ++l) {
      out += "| " + std::to_string(l) + " |";
      for (index c = 0; c < t.score.cols(); ++c) out += " " + detail::fixed(t.score(l, c), 1) + " |";
      out += "\n";
    }
  }
  return out;
}

// source,target,layer,column,token,role,mean_effect,score: one row per cell of every map.
inline std::string format_csv(const knowledge_study& s) {
  std::string out = "source,target,layer,column,token,role,mean_effect,score\n";
  for (const auto& t : s.traces)
    for (index l = 0; l < t.mean_effect.rows(); ++l)
      for (index c = 0; c < t.mean_effect.cols(); ++c) {
        const auto column = static_cast<std::size_t>(c);
        out += detail::csv_cell(t.source) + "," + detail::csv_cell(t.target) + "," + std::to_string(l) + "," +
               std::to_string(c) + "," + detail::csv_cell(s.column_labels[column]) + "," + to_string(s.roles[column]) +
               "," + detail::fixed(t.mean_effect(l, c), 6) + "," + detail::fixed(t.score(l, c), 1) + "\n";
      }
  return out;
}

inline std::string format_json(const knowledge_study& s) {
  using nlohmann::json;
  json j;
  j["dataset"] = s.dataset;
  j["columns"] = json::array();
  for (std::size_t c = 0; c < s.column_labels.size(); ++c)
    j["columns"].push_back({{"token", s.column_labels[c]}, {"role", to_string(s.roles[c])}});
  j["filter"] = {{"true_statements", s.candidates},
                 {"without_partner", s.without_partner},
                 {"unequal_length", s.unequal_length},
                 {"other_shape", s.other_shape}};
  j["maps"] = json::array();
  for (const auto& t : s.traces)
    j["maps"].push_back({{"source", t.source},
                         {"target", t.target},
                         {"pairs", t.pairs},
                         {"true_effect", detail::json_number(t.true_effect)},
                         {"false_effect", detail::json_number(t.false_effect)},
                         {"target_accuracy", detail::json_number(t.target_accuracy)},
                         {"mean_effect", detail::json_matrix(t.mean_effect)},
                         {"score", detail::json_matrix(t.score)}});
  j["comparisons"] = json::array();
  for (const auto& c : s.comparisons)
    j["comparisons"].push_back({{"name", c.name},
                                {"first", c.first},
                                {"second", c.second},
                                {"correlation", detail::json_number(c.values.correlation)},
                                {"max_difference", detail::json_number(c.values.max_difference)},
                                {"max_knowledge_difference", detail::json_number(c.values.max_knowledge_difference)}});
  return j.dump(1) + "\n";
}

// Writes `stem`.md, `stem`.csv and `stem`.json into `folder` (created when missing).
inline void write_knowledge_study(const std::filesystem::path& folder, const std::string& stem,
                                  const knowledge_study& s) {
  detail::write_report_files(folder, stem, format_markdown(s), format_csv(s), format_json(s));
}

}  // namespace attrib
