// libFuzzer target: Hugging Face checkpoints. The input is a config.json text, optionally followed
// by a NUL byte and a model.safetensors file. format_error is the only acceptable failure; a
// config that parses must be a valid configuration, and a model that loads must run a token.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>
#include <vector>

#include "attrib/transformer/loading/hf_loader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto split = input.find('\0');
  const auto config_text = input.substr(0, split);
  try {
    const auto config = attrib::parse_hf_config(config_text);
    attrib::validate(config);  // invalid_argument here would be a bug: it aborts the fuzzer
    if (split == std::string_view::npos) return 0;
    const auto rest = std::as_bytes(std::span(data + split + 1, size - split - 1));
    const auto model = attrib::hf_model_from_memory(config_text, rest);
    const std::vector<std::vector<attrib::token_id>> one = {{0}};
    (void)model.forward(one);
  } catch (const attrib::format_error&) {
  }
  return 0;
}
