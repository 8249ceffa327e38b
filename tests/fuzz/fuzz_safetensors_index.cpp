// libFuzzer target: a checkpoint's model.safetensors.index.json and the resolution of the file
// names it (and a model config's "weights") inside the checkpoint's folder. format_error is the
// only acceptable failure; a name that resolves to an existing file resolves to a regular file
// inside the folder.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>

#include "attrib/io/detail/contained_path.hpp"
#include "attrib/transformer/loading/hf_loader.hpp"

namespace {

namespace fs = std::filesystem;

// A folder with a regular file, a subfolder, and links that lead out of it or to a device.
const fs::path& folder() {
  static const fs::path path = [] {
    const fs::path p = fs::temp_directory_path() / "attrib_fuzz_safetensors_index";
    std::error_code ignored;
    fs::create_directories(p / "sub", ignored);
    std::ofstream(p / "model.safetensors") << "x";
    std::ofstream(p / "sub" / "inner.safetensors") << "x";
    fs::create_symlink("/dev/zero", p / "zero", ignored);
    fs::create_symlink(fs::temp_directory_path(), p / "up", ignored);
    fs::create_symlink("model.safetensors", p / "alias", ignored);
    return p;
  }();
  return path;
}

void check_resolved(const std::string& name) {
  try {
    const fs::path resolved = attrib::detail::contained_path(folder(), name, "m.json", "weights");
    std::error_code error;
    if (!fs::exists(resolved, error)) return;
    if (!fs::is_regular_file(resolved)) std::abort();
    const auto inside = fs::weakly_canonical(folder()), target = fs::weakly_canonical(resolved);
    const auto rest = target.lexically_relative(inside);
    if (rest.empty() || *rest.begin() == "..") std::abort();
  } catch (const attrib::format_error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    for (const auto& [tensor, shard] : attrib::detail::parse_safetensors_index(text, "index.json")) {
      if (shard.empty() || shard.find('/') != std::string::npos || shard == "..") std::abort();
      check_resolved(shard);
    }
  } catch (const attrib::format_error&) {
  }
  // The whole input as one file name, up to the first NUL (names cannot hold one).
  if (size < 4096) check_resolved(std::string(text.substr(0, text.find('\0'))));
  return 0;
}
