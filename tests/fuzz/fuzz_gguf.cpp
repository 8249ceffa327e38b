// libFuzzer target: GGUF parsing and everything built from a parsed file (dequantisation, the
// llama model and its forward pass, the SentencePiece vocabulary). attrib::format_error and
// attrib::invalid_argument are the only acceptable failures; a crash, a sanitizer report or any
// other exception is a bug.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "attrib/io/gguf.hpp"
#include "attrib/tokenizers/sentencepiece_bpe.hpp"
#include "attrib/transformer/loading/gguf_loader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  attrib::gguf_content content;
  try {
    content = attrib::parse_gguf(std::as_bytes(std::span(data, size)));
  } catch (const attrib::format_error&) {
    return 0;
  }
  // Every tensor's bytes must lie inside the input and convert without reading past them.
  std::vector<float> row;
  for (const auto& t : content.tensors) {
    row.resize(static_cast<std::size_t>(t.shape[0]));
    const std::size_t row_bytes = attrib::ggml_row_bytes(t.type, row.size());
    if (t.bytes.size() % row_bytes != 0) __builtin_trap();
    for (std::size_t at = 0; at < t.bytes.size(); at += row_bytes)
      attrib::dequantize_row(t.type, t.bytes.data() + at, row.data(), row.size());
  }
  try {
    const auto model = attrib::transformer_model_from_gguf(content);
    const std::vector<std::vector<attrib::token_id>> tokens = {{0, 1}};
    model.forward(tokens);
  } catch (const attrib::format_error&) {
  } catch (const attrib::invalid_argument&) {
  }
  try {
    const auto tokenizer = attrib::sentencepiece_bpe::from_gguf(content);
    tokenizer.decode(tokenizer.encode("Once upon a time, \xE2\x9C\x93 \xFF"));
  } catch (const attrib::format_error&) {
  }
  return 0;
}
