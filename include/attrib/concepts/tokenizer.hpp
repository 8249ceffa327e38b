#pragma once
// tokenizer: text to token ids and back, as the LLM studies need it. SentencePiece vocabularies
// (llama2.c, GGUF), tokenizer.json ones and a user's own type all model it, so a study is written
// once for every checkpoint family.
#include <concepts>
#include <span>
#include <string>
#include <vector>

#include "attrib/core/types.hpp"

namespace attrib {

// encode(text, add_bos) gives the ids of `text`, with the beginning-of-sequence id first when
// add_bos; decode(ids) gives their text; vocab_size() bounds every id encode returns.
template <class T>
concept tokenizer = requires(const T& t, const std::string& text, bool add_bos,
                             std::span<const token_id> ids) {
  { t.encode(text, add_bos) } -> std::convertible_to<std::vector<token_id>>;
  { t.decode(ids) } -> std::convertible_to<std::string>;
  { t.vocab_size() } -> std::convertible_to<index>;
};

namespace archetypes {
// The least a type must provide to be a tokenizer.
struct tokenizer {
  std::vector<token_id> encode(const std::string&, bool) const { return {}; }
  std::string decode(std::span<const token_id>) const { return {}; }
  index vocab_size() const { return 0; }
};
}  // namespace archetypes

static_assert(tokenizer<archetypes::tokenizer>);

}  // namespace attrib
