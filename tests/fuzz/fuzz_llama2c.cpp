// libFuzzer target: llama2.c checkpoint parsing, the model built from it and a forward pass.
// attrib::format_error and attrib::invalid_argument are the only acceptable failures.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "attrib/io/llama2c.hpp"
#include "attrib/transformer/loading/llama2c_loader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto checkpoint = attrib::parse_llama2c_checkpoint(std::as_bytes(std::span(data, size)));
    const auto model = attrib::transformer_model_from_llama2c(checkpoint);
    const std::vector<std::vector<attrib::token_id>> tokens = {{0}, {0, 0}};
    model.forward(tokens);
  } catch (const attrib::format_error&) {
  } catch (const attrib::invalid_argument&) {
  }
  return 0;
}
