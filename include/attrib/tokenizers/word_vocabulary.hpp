#pragma once
// A whole-word vocabulary for a closed, generated corpus (the world of facts of
// studies/fact_world.hpp): every word of the given texts becomes one token of the
// SentencePiece-style BPE tokenizer (sentencepiece_bpe), so a small model spends its positions on
// words rather than on the letters of invented names, and true/false pairs whose subjects are
// different names have the same token count. Stored as a llama2.c tokenizer (.bin), the format
// attrib's command line tool reads with --tokenizer.
//
// How one word becomes one token: the tokenizer starts from characters and merges adjacent pieces
// whose concatenation is in the vocabulary. The vocabulary holds every prefix of each word, with
// and without its leading space (a word after a newline has none). A piece with a space holds it
// only in front, and no piece holds punctuation beside letters, so merges never cross a word's
// edge; the leftmost piece of a word is always a prefix of it, and that prefix joined with its
// neighbour is a longer prefix, so merging goes on until the word is a single piece. Text
// outside the corpus still encodes: characters of the corpus are pieces, anything else falls back
// to byte tokens.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <set>
#include <span>
#include <string>
#include <string_view>

#include "attrib/core/error.hpp"
#include "attrib/io/llama2c.hpp"
#include "attrib/tokenizers/sentencepiece_bpe.hpp"

namespace attrib {

namespace detail {
inline bool word_character(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}
}  // namespace detail

// Ids 0-2 are <unk>, <s> (BOS) and </s> as llama2.c spells them, 3-258 the byte tokens <0x00> to
// <0xFF>, then every character of the texts and the space, then the prefixes of every word (a
// maximal run of ASCII letters, digits and hyphens), with and without a leading space, each
// scored by its length; all in sorted order, so the same texts give the same vocabulary. Throws
// invalid_argument when the texts hold more than max_words distinct words or a word longer than
// 64 bytes (generated text has neither; a mistaken input would make a huge vocabulary).
inline llama2c_vocabulary word_vocabulary(std::span<const std::string> texts, std::size_t max_words = 20000) {
  std::set<std::string> characters{" "}, words;
  for (const auto& text : texts) {
    for (std::size_t i = 0; i < text.size();) {
      const std::size_t n = detail::utf8_length(text, i);
      characters.insert(text.substr(i, n));
      i += n;
    }
    for (std::size_t i = 0; i < text.size();) {
      if (!detail::word_character(text[i])) {
        ++i;
        continue;
      }
      std::size_t end = i;
      while (end < text.size() && detail::word_character(text[end])) ++end;
      if (end - i > 64)
        throw invalid_argument("word_vocabulary: a word of " + std::to_string(end - i) +
                               " bytes, expected at most 64: '" + text.substr(i, 64) + "...'");
      words.insert(text.substr(i, end - i));
      if (words.size() > max_words)
        throw invalid_argument("word_vocabulary: more than " + std::to_string(max_words) +
                               " distinct words; raise max_words if that is meant");
      i = end;
    }
  }
  std::set<std::string> prefixes;
  for (const auto& w : words)
    for (const std::string& spelled : {w, " " + w})
      for (std::size_t k = 2; k <= spelled.size(); ++k) prefixes.insert(spelled.substr(0, k));

  llama2c_vocabulary v;
  auto add = [&](std::string piece, float score) {
    v.max_token_length = std::max(v.max_token_length, static_cast<std::int32_t>(piece.size()));
    v.pieces.push_back(std::move(piece));
    v.scores.push_back(score);
  };
  add("<unk>", 0.0f);
  add("\n<s>\n", 0.0f);
  add("\n</s>\n", 0.0f);
  static constexpr char hex[] = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) add(std::string("<0x") + hex[b / 16] + hex[b % 16] + ">", 0.0f);
  for (const auto& c : characters) add(c, 0.0f);  // prefixes have two bytes or more: no repeats
  for (const auto& p : prefixes) add(p, static_cast<float>(p.size()));
  return v;
}

}  // namespace attrib
