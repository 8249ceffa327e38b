// Runs a libFuzzer target without libFuzzer, so that every compiler builds the fuzz targets and ctest
// replays their corpora: first a few edge inputs, then every regular file under each argument (a file
// or a directory, searched recursively, in sorted order so that failures reproduce).
//
//   fuzz_<name>_replay [file-or-directory...]
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
// Optional in a fuzz target, as in libFuzzer.
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {

void run_one(const std::vector<std::uint8_t>& input) {
  // libFuzzer never passes a null pointer, even for an empty input; neither do we.
  static const std::uint8_t empty = 0;
  LLVMFuzzerTestOneInput(input.empty() ? &empty : input.data(), input.size());
}

std::vector<std::uint8_t> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);

  const std::vector<std::vector<std::uint8_t>> edge_inputs = {
      {}, {0x00}, {0xFF}, std::vector<std::uint8_t>(64, 0xFF), std::vector<std::uint8_t>(64, 0x00)};
  for (const auto& input : edge_inputs) run_one(input);
  std::size_t count = edge_inputs.size();

  try {
    for (int i = 1; i < argc; ++i) {
      const std::filesystem::path root = argv[i];
      std::vector<std::filesystem::path> files;
      if (std::filesystem::is_directory(root)) {
        for (const auto& entry : std::filesystem::recursive_directory_iterator(root))
          if (entry.is_regular_file()) files.push_back(entry.path());
        std::sort(files.begin(), files.end());
      } else if (std::filesystem::is_regular_file(root)) {
        files.push_back(root);
      } else {
        std::cerr << "replay: " << root << " is neither a file nor a directory\n";
        return 2;
      }
      for (const auto& file : files) {
        // Printed first, so a crash names the input that caused it.
        std::cerr << "replay: " << file.string() << '\n';
        run_one(read_file(file));
        ++count;
      }
    }
  } catch (const std::exception& e) {
    std::cerr << "replay: " << e.what() << '\n';
    return 2;
  }
  std::cout << "replay: " << count << " inputs ran\n";
  return 0;
}
