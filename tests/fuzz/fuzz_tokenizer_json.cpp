// libFuzzer target: Hugging Face tokenizer.json loading, the PCRE2 pre-tokenizer and byte-level
// BPE. When the first byte is even, the rest is parsed as a tokenizer.json and a tokenizer that
// loads encodes and decodes fixed text and the input's own bytes. Always, the rest is also text for
// the GPT-2 and Llama 3 pre-tokenizers (whose pieces must concatenate back to it) and for a
// byte-level BPE over all 256 bytes (whose decode must give it back).
// attrib::format_error and attrib::invalid_argument are the only acceptable failures.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "attrib/tokenizers/byte_level_bpe.hpp"
#include "attrib/tokenizers/regex_pretokenizer.hpp"
#include "attrib/tokenizers/tokenizer_json.hpp"

namespace {

// Bytes as tokens, a few merges (" t", "he", " the", digit pairs) and one added token.
const attrib::byte_level_bpe& small_bpe() {
  static const attrib::byte_level_bpe tok = [] {
    const auto& alphabet = attrib::detail::gpt2_byte_alphabet();
    std::vector<std::string> vocab(alphabet.utf8.begin(), alphabet.utf8.end());
    const std::string G = alphabet.utf8[' '];
    const std::vector<std::pair<std::string, std::string>> merges = {
        {G, "t"}, {"h", "e"}, {G + "t", "he"}, {"1", "2"}, {"12", "3"}};
    for (const auto& [a, b] : merges) vocab.push_back(a + b);
    attrib::byte_level_bpe_options options;
    options.pretokenizer = {{std::string(attrib::llama3_pattern), false}};
    options.ignore_merges = true;
    return attrib::byte_level_bpe(std::move(vocab), merges, {{"<|eot|>", 261, true}}, options);
  }();
  return tok;
}

void check_text(std::string_view text) {
  static const attrib::regex_pretokenizer gpt2(attrib::gpt2_pattern);
  static const attrib::regex_pretokenizer llama3(attrib::llama3_pattern);
  try {
    for (const auto* p : {&gpt2, &llama3}) {
      std::string joined;
      for (auto piece : p->split(text)) {
        if (piece.empty()) __builtin_trap();
        joined += piece;
      }
      if (joined != text) __builtin_trap();
    }
    const auto& tok = small_bpe();
    const auto ids = tok.encode(text);
    if (tok.decode(ids) != text) __builtin_trap();
  } catch (const attrib::invalid_argument&) {  // text that is not UTF-8
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  if ((data[0] & 1) == 0) {
    try {
      const auto tokenizer = attrib::parse_hf_tokenizer(rest);
      for (std::string_view text : {std::string_view("Once upon a time, 12345 it's"), rest.substr(0, 64)}) {
        const auto ids = tokenizer.encode(text);
        for (auto id : ids)
          if (id < 0 || id >= tokenizer.vocab_size()) __builtin_trap();
        tokenizer.decode(ids);
      }
    } catch (const attrib::format_error&) {
    } catch (const attrib::invalid_argument&) {
    }
  }
  check_text(rest);
  return 0;
}
