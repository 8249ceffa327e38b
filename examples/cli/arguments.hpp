#pragma once
// Minimal command-line parsing for the attrib tool: --name value pairs and --flags, every
// unknown or malformed option reported by name.
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <iostream>
#include <map>
#include <ostream>
#include <set>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace cli {

struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class arguments {
 public:
  // `valued` lists the options that take a value, `flags` those that do not.
  arguments(const std::vector<std::string>& args, const std::set<std::string>& valued, const std::set<std::string>& flags) {
    for (std::size_t i = 0; i < args.size(); ++i) {
      const std::string& a = args[i] == "-h" ? std::string("--help") : args[i];
      if (a.rfind("--", 0) != 0) throw usage_error("unexpected argument '" + a + "'; options start with --");
      std::string name = a.substr(2), value;
      const auto eq = name.find('=');
      const bool inline_value = eq != std::string::npos;
      if (inline_value) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
      if (flags.count(name)) {
        if (inline_value) throw usage_error("option --" + name + " takes no value");
        flags_.insert(name);
      } else if (valued.count(name)) {
        if (!inline_value) {
          if (i + 1 >= args.size()) throw usage_error("option --" + name + " needs a value");
          value = args[++i];
        }
        values_[name] = value;
      } else {
        throw usage_error("unknown option --" + name + " (see --help)");
      }
    }
  }

  bool flag(const std::string& name) const { return flags_.count(name) > 0; }
  bool has(const std::string& name) const { return values_.count(name) > 0; }
  std::string text(const std::string& name, const std::string& fallback = "") const {
    const auto it = values_.find(name);
    return it == values_.end() ? fallback : it->second;
  }
  std::string required(const std::string& name) const {
    if (!has(name)) throw usage_error("option --" + name + " is required (see --help)");
    return values_.at(name);
  }
  double number(const std::string& name, double fallback) const {
    if (!has(name)) return fallback;
    try {
      std::size_t used = 0;
      const double v = std::stod(values_.at(name), &used);
      if (used != values_.at(name).size()) throw std::invalid_argument("trailing characters");
      return v;
    } catch (const std::exception&) {
      throw usage_error("option --" + name + " expects a number, got '" + values_.at(name) + "'");
    }
  }
  // An integer option within [lowest, highest]; anything else (signs where none may be, text,
  // values past the range, which a plain unsigned parse would wrap) is refused with the range.
  std::int64_t integer(const std::string& name, std::int64_t fallback, std::int64_t lowest,
                       std::int64_t highest) const {
    if (!has(name)) return fallback;
    const std::string& s = values_.at(name);
    std::int64_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || end != s.data() + s.size() || (ec != std::errc{} && ec != std::errc::result_out_of_range))
      throw usage_error("option --" + name + " expects an integer, got '" + s + "'");
    if (ec == std::errc::result_out_of_range || v < lowest || v > highest)
      throw usage_error("option --" + name + " must be between " + std::to_string(lowest) + " and " +
                        std::to_string(highest) + ", got '" + s + "'");
    return v;
  }
  // A random seed: any unsigned 64-bit integer.
  std::uint64_t seed(const std::string& name = "seed") const {
    if (!has(name)) return 0;
    const std::string& s = values_.at(name);
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || end != s.data() + s.size() || ec != std::errc{})
      throw usage_error("option --" + name + " expects an integer between 0 and 18446744073709551615, got '" + s + "'");
    return v;
  }
  // --threads: worker threads, 0 for all cores (the same in every command); at most 1024.
  std::size_t threads() const { return static_cast<std::size_t>(integer("threads", 1, 0, 1024)); }

 private:
  std::map<std::string, std::string> values_;
  std::set<std::string> flags_;
};

// Standard error, or a stream that discards everything under --quiet.
inline std::ostream& messages(const arguments& a) {
  static std::ostream discard(nullptr);
  return a.flag("quiet") ? discard : std::cerr;
}

// Splits "a,b,c" into its parts.
inline std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::string current;
  for (char c : text) {
    if (c == separator) {
      parts.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  parts.push_back(current);
  return parts;
}

// Parses index lists like "0,3,10-19" (option --`option`) against `available` entries of
// `owner` (rows of a table, layers of a model). An index may be listed once, so the list never
// outgrows the table (a short option such as "0-999999,0-999999,..." must not ask for billions).
inline std::vector<std::ptrdiff_t> parse_row_list(const std::string& text, std::ptrdiff_t available,
                                                  const std::string& owner, const std::string& option = "rows",
                                                  const std::string& unit = "rows") {
  std::vector<std::ptrdiff_t> rows;
  std::vector<bool> listed(static_cast<std::size_t>(available > 0 ? available : 0), false);
  const auto add = [&](std::ptrdiff_t r) {
    if (listed[static_cast<std::size_t>(r)])
      throw usage_error("--" + option + " lists " + std::to_string(r) + " more than once in '" + text.substr(0, 80) + "'");
    listed[static_cast<std::size_t>(r)] = true;
    rows.push_back(r);
  };
  auto parse = [&](const std::string& s) {
    if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos)
      throw usage_error("--" + option + " expects indices like 0,3,10-19, got '" + text.substr(0, 80) + "'");
    const auto v = static_cast<std::ptrdiff_t>(std::stoll(s));
    if (v >= available)
      throw usage_error("--" + option + " names " + s + " but " + owner + " has " + std::to_string(available) + " " + unit);
    return v;
  };
  for (const std::string& part : split(text, ',')) {
    const auto dash = part.find('-');
    if (dash == std::string::npos) {
      add(parse(part));
    } else {
      const std::ptrdiff_t first = parse(part.substr(0, dash)), last = parse(part.substr(dash + 1));
      if (last < first) throw usage_error("--" + option + " range '" + part + "' is decreasing");
      for (std::ptrdiff_t r = first; r <= last; ++r) add(r);
    }
  }
  return rows;
}

}  // namespace cli
