#pragma once
// Pre-tokenisation by a Unicode-aware regular expression, on PCRE2 (link pcre2-8). Byte-level BPE
// tokenizers first cut text into pieces with a pattern over Unicode classes (\p{L}, \p{N}, \s)
// and a lookahead; PCRE2 with PCRE2_UTF | PCRE2_UCP evaluates those exactly as the reference
// implementations (Python's `regex`, Rust's `fancy-regex`) do, so no approximation is needed.
#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "attrib/core/error.hpp"

namespace attrib {

// GPT-2's pattern (openai/gpt-2 encoder.py), also GPT-J, RoBERTa and ByteLevel(use_regex=true).
inline constexpr std::string_view gpt2_pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// Llama 3's pattern (tiktoken cl100k-style): contractions in any case, at most three digits per
// piece, and a newline run kept with the punctuation before it.
inline constexpr std::string_view llama3_pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

namespace detail {
inline std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  const int n = pcre2_get_error_message(code, buffer, sizeof buffer);
  return n < 0 ? "PCRE2 error " + std::to_string(code)
               : std::string(reinterpret_cast<const char*>(buffer), static_cast<std::size_t>(n));
}

struct pcre2_code_deleter {
  void operator()(pcre2_code* p) const { pcre2_code_free(p); }
};
struct pcre2_match_data_deleter {
  void operator()(pcre2_match_data* p) const { pcre2_match_data_free(p); }
};
}  // namespace detail

// A compiled pattern that cuts text into pieces. Matches are pieces, and so is any unmatched text
// between them (Hugging Face's Split with behavior "Isolated"), so the pieces always concatenate
// back to the input. Copies share the compiled pattern, which PCRE2 allows to be used from
// several threads at once; each split() has its own match data.
class regex_pretokenizer {
 public:
  // Throws invalid_argument with PCRE2's message and the offset in the pattern when it does not
  // compile.
  explicit regex_pretokenizer(std::string_view pattern) : pattern_(pattern) {
    int code = 0;
    PCRE2_SIZE offset = 0;
    pcre2_code* compiled =
        pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern_.data()), pattern_.size(),
                      PCRE2_UTF | PCRE2_UCP, &code, &offset, nullptr);
    if (compiled == nullptr)
      throw invalid_argument("regex_pretokenizer: pattern does not compile at offset " +
                             std::to_string(offset) + ": " + detail::pcre2_message(code));
    code_.reset(compiled, detail::pcre2_code_deleter{});
    // JIT is an optimisation: where it is unavailable, pcre2_match interprets.
    jit_ = pcre2_jit_compile(compiled, PCRE2_JIT_COMPLETE) == 0;
  }

  const std::string& pattern() const { return pattern_; }
  bool uses_jit() const { return jit_; }

  // The pieces of `text`, as views into it. Throws invalid_argument, naming the byte offset, when
  // `text` is not valid UTF-8.
  std::vector<std::string_view> split(std::string_view text) const {
    std::vector<std::string_view> pieces;
    if (text.empty()) return pieces;
    std::unique_ptr<pcre2_match_data, detail::pcre2_match_data_deleter> match(
        pcre2_match_data_create_from_pattern(code_.get(), nullptr));
    if (!match) throw std::bad_alloc();
    const auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    std::size_t gap = 0;  // start of text not yet in a piece
    std::size_t at = 0;   // where the next search starts
    // The whole subject is checked for valid UTF-8 once; later searches start at character
    // boundaries and skip the check.
    std::uint32_t options = 0;
    while (at <= text.size()) {
      int rc = pcre2_match(code_.get(), subject, text.size(), at, options, match.get(), nullptr);
      if (rc == PCRE2_ERROR_JIT_STACKLIMIT)  // deep backtracking: the interpreter uses the heap
        rc = pcre2_match(code_.get(), subject, text.size(), at, options | PCRE2_NO_JIT,
                         match.get(), nullptr);
      if (rc == PCRE2_ERROR_NOMATCH) break;
      if (rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21)
        throw invalid_argument("regex_pretokenizer: text is not valid UTF-8 at byte " +
                               std::to_string(pcre2_get_startchar(match.get())) + ": " +
                               detail::pcre2_message(rc));
      if (rc < 0)
        throw invalid_argument("regex_pretokenizer: matching failed: " + detail::pcre2_message(rc));
      options = PCRE2_NO_UTF_CHECK;
      const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match.get());
      const std::size_t begin = ovector[0];
      const std::size_t end = ovector[1];
      if (begin < gap || end < begin)  // \K can move a match's start before the search start
        throw invalid_argument("regex_pretokenizer: pattern gives a match that does not move forward");
      if (end == begin) {
        // An empty match is no piece; step over one character so the search moves on.
        if (begin == text.size()) break;
        at = begin + utf8_char_length(text, begin);
        continue;
      }
      if (begin > gap) pieces.push_back(text.substr(gap, begin - gap));
      pieces.push_back(text.substr(begin, end - begin));
      gap = at = end;
    }
    if (gap < text.size()) pieces.push_back(text.substr(gap));
    return pieces;
  }

 private:
  // The subject is valid UTF-8 here, so the lead byte gives the length.
  static std::size_t utf8_char_length(std::string_view text, std::size_t i) {
    const auto lead = static_cast<unsigned char>(text[i]);
    return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
  }

  std::string pattern_;
  std::shared_ptr<pcre2_code> code_;
  bool jit_ = false;
};

}  // namespace attrib
