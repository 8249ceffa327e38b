#pragma once
// Knowledge-editing requests (knowledge_editing.hpp) as a JSON file, the input of `attrib llm
// study edit`: an array of objects
//   {"prompt": "Lily has a red ball. The ball is", "subject": "The ball", "new_object": " big",
//    "true_object": "", "paraphrases": ["..."], "neighbours": ["..."]}
// where prompt, subject and new_object are required and the subject must occur in the prompt.
// Errors name the file, the request's index and the field.
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/io/detail/file_bytes.hpp"
#include "attrib/io/json.hpp"
#include "attrib/studies/knowledge_editing.hpp"

namespace attrib {

// Far beyond a study's few hundred facts; bounds what a wrong file can make the parser hold.
inline constexpr std::size_t edit_requests_max_bytes = std::size_t{16} << 20;

inline std::vector<edit_request> parse_edit_requests(std::string_view text, const std::string& source = "<memory>") {
  if (text.size() > edit_requests_max_bytes)
    throw invalid_argument(source + ": " + std::to_string(text.size()) + " bytes, expected at most " +
                           std::to_string(edit_requests_max_bytes) + " for a file of edit requests");
  nlohmann::json j;
  try {
    j = detail::parse_json(text, source, "the edit requests");
  } catch (const format_error& e) {
    throw invalid_argument(e.what());
  }
  if (!j.is_array() || j.empty())
    throw invalid_argument(source + ": expected a non-empty array of edit requests, found " + detail::json_excerpt(j));
  std::vector<edit_request> out;
  for (std::size_t i = 0; i < j.size(); ++i) {
    const auto& r = j[i];
    const std::string where = source + ": request " + std::to_string(i);
    if (!r.is_object()) throw invalid_argument(where + " is " + detail::json_excerpt(r) + ", expected an object");
    const auto text_field = [&](const char* name, bool required) {
      if (!r.contains(name)) {
        if (required) throw invalid_argument(where + " has no '" + name + "', expected a string");
        return std::string();
      }
      if (!r[name].is_string())
        throw invalid_argument(where + ": '" + name + "' is " + detail::json_excerpt(r[name]) + ", expected a string");
      return r[name].get<std::string>();
    };
    const auto list_field = [&](const char* name) {
      std::vector<std::string> list;
      if (!r.contains(name)) return list;
      if (!r[name].is_array())
        throw invalid_argument(where + ": '" + name + "' is " + detail::json_excerpt(r[name]) + ", expected an array of strings");
      for (const auto& e : r[name]) {
        if (!e.is_string() || e.get<std::string>().empty())
          throw invalid_argument(where + ": '" + name + "' holds " + detail::json_excerpt(e) + ", expected non-empty strings");
        list.push_back(e.get<std::string>());
      }
      return list;
    };
    edit_request e{text_field("prompt", true), text_field("subject", true), text_field("new_object", true),
                   text_field("true_object", false), list_field("paraphrases"), list_field("neighbours")};
    if (e.prompt.empty() || e.subject.empty() || e.new_object.empty())
      throw invalid_argument(where + ": prompt, subject and new_object must be non-empty");
    if (e.prompt.find(e.subject) == std::string::npos)
      throw invalid_argument(where + ": the subject '" + e.subject.substr(0, 60) + "' does not occur in the prompt");
    out.push_back(std::move(e));
  }
  return out;
}

inline std::vector<edit_request> read_edit_requests(const std::filesystem::path& path) {
  return parse_edit_requests(detail::read_file_bytes_at_most(path, edit_requests_max_bytes, "a JSON array of edit requests"),
                             path.string());
}

}  // namespace attrib
