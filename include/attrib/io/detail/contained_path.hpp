#pragma once
// A file that one file names relative to itself (a model config's weights, a checkpoint's
// shards) must lie inside the naming file's folder: a relative path without "..", that does not
// leave the folder through a symbolic link, and that is a regular file when it exists - never a
// device such as /dev/zero, whose endless bytes a reader would try to hold.
#include <filesystem>
#include <string>
#include <system_error>

#include "attrib/core/error.hpp"

namespace attrib::detail {

// folder / name, checked as above; `source` and `what` name the file and field in messages.
inline std::filesystem::path contained_path(const std::filesystem::path& folder, const std::string& name,
                                            const std::string& source, const std::string& what) {
  const auto refuse = [&](const std::string& why) -> std::filesystem::path {
    throw format_error(source + ": " + what + " '" + name.substr(0, 200) + "' " + why);
  };
  const std::filesystem::path relative(name);
  if (name.empty()) return refuse("is empty, expected a file name");
  if (name.find('\0') != std::string::npos) return refuse("contains a NUL byte");
  if (relative.is_absolute() || relative.has_root_name() || relative.has_root_directory())
    return refuse("is an absolute path; expected a file in the folder of " + source);
  for (const auto& part : relative)
    if (part == "..") return refuse("leaves the folder of " + source + " through '..'");
  const std::filesystem::path joined = folder / relative;
  std::error_code error;
  const auto status = std::filesystem::status(joined, error);
  if (error || !std::filesystem::exists(status)) return joined;  // the reader reports a missing file
  if (!std::filesystem::is_regular_file(status)) return refuse("is not a regular file");
  const auto inside = std::filesystem::weakly_canonical(folder.empty() ? "." : folder, error);
  const auto target = std::filesystem::weakly_canonical(joined, error);
  if (error) return refuse("cannot be resolved (" + error.message() + ")");
  const auto rest = target.lexically_relative(inside);
  if (rest.empty() || *rest.begin() == "..")
    return refuse("resolves to " + target.string() + ", outside the folder of " + source);
  return joined;
}

}  // namespace attrib::detail
