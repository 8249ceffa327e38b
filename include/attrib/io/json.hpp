#pragma once
// JSON as attrib reads it (model configs, Hugging Face config.json and tokenizer.json, safetensors
// headers): nlohmann::json behind a nesting limit, and values quoted in error messages in a line.
//
// nlohmann's parser and destructor are iterative, but dump() and a few of its other operations
// recurse once per level: a 200 KB file of 100,000 nested brackets, echoed in an error message,
// overflowed the stack. No file attrib reads nests deeper than a handful of levels, so a document
// nested deeper than json_max_depth is refused before it is parsed, with the byte where the limit
// was passed; and no message quotes a whole value, only json_excerpt of it.
#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>
#include <string_view>

#include "attrib/core/error.hpp"

namespace attrib {

// The deepest nesting of arrays and objects a JSON document may have.
inline constexpr std::size_t json_max_depth = 128;

namespace detail {

// Throws format_error when `text` nests arrays and objects deeper than json_max_depth. One pass,
// brackets inside strings (escapes included) not counted; malformed text is left to the parser.
inline void check_json_depth(std::string_view text, const std::string& source) {
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (in_string) {
      if (ch == '\\')
        ++i;  // the escaped character cannot end the string
      else if (ch == '"')
        in_string = false;
    } else if (ch == '"') {
      in_string = true;
    } else if (ch == '[' || ch == '{') {
      if (++depth > json_max_depth)
        throw format_error(source + ": JSON nested deeper than " + std::to_string(json_max_depth) +
                           " levels (at byte " + std::to_string(i) + ")");
    } else if ((ch == ']' || ch == '}') && depth > 0) {
      --depth;
    }
  }
}

// The JSON value of `text`. Throws format_error "<source>: <what> is not valid JSON: ..." for a
// syntax error, and as check_json_depth for a document nested too deep.
inline nlohmann::json parse_json(std::string_view text, const std::string& source,
                                 const std::string& what = "the file") {
  check_json_depth(text, source);
  try {
    return nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    throw format_error(source + ": " + what + " is not valid JSON (" + e.what() + ")");
  }
}

// A value as an error message quotes it, in at most about 80 characters and without recursion:
// a number, boolean or null as JSON, a string quoted and cut, an array or object by its size.
inline std::string json_excerpt(const nlohmann::json& v) {
  constexpr std::size_t longest = 64;
  switch (v.type()) {
    case nlohmann::json::value_t::array: {
      // A short array of scalars is shown as it is (["LlamaForCausalLM"], say).
      bool flat = v.size() <= 8;
      for (const auto& e : v) flat = flat && !e.is_structured();
      if (flat) {
        std::string text = v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        if (text.size() <= 80) return text;
      }
      return "an array of " + std::to_string(v.size()) + (v.size() == 1 ? " value" : " values");
    }
    case nlohmann::json::value_t::object:
      return "an object of " + std::to_string(v.size()) + (v.size() == 1 ? " member" : " members");
    case nlohmann::json::value_t::string: {
      // A cut may split a UTF-8 sequence: the broken bytes are written as U+FFFD.
      const auto quoted = [](const std::string& s) {
        return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      };
      const auto& s = v.get_ref<const std::string&>();
      if (s.size() <= longest) return quoted(s);
      return quoted(s.substr(0, longest)) + "... (" + std::to_string(s.size()) + " bytes)";
    }
    default:
      return v.dump();  // a scalar: short, and dump() does not recurse
  }
}

}  // namespace detail
}  // namespace attrib
