// libFuzzer target: the llama2.c tokenizer file and SentencePiece BPE on what it loads. The first
// two bytes give the vocabulary size (the tokenizer file does not store it); the rest is the file.
// A tokenizer that loads encodes and decodes fixed text and the file's own bytes.
// attrib::format_error and attrib::invalid_argument are the only acceptable failures.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "attrib/io/llama2c.hpp"
#include "attrib/tokenizers/sentencepiece_bpe.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t vocab_size = data[0] | (std::size_t{data[1]} << 8);
  const auto file = std::as_bytes(std::span(data + 2, size - 2));
  try {
    const auto tokenizer =
        attrib::sentencepiece_bpe::from_llama2c(attrib::parse_llama2c_tokenizer(file, vocab_size));
    const std::string_view own(reinterpret_cast<const char*>(data), size < 64 ? size : 64);
    for (std::string_view text : {std::string_view("Once upon a time"), own}) {
      const auto ids = tokenizer.encode(text);
      for (auto id : ids)
        if (id < 0 || id >= tokenizer.vocab_size()) __builtin_trap();
      tokenizer.decode(ids);
    }
  } catch (const attrib::format_error&) {
  } catch (const attrib::invalid_argument&) {
  }
  return 0;
}
