#pragma once
// Byte-level BPE, as GPT-2 (openai/gpt-2 encoder.py) and Llama 3 tokenise. Added tokens
// (<|endoftext|>, <|begin_of_text|>, ...) are cut out of the text first; each remaining segment
// is split into pieces by regular expressions (regex_pretokenizer); each piece's UTF-8 bytes are
// spelled with GPT-2's bytes_to_unicode alphabet, one character per byte; then the adjacent pair
// with the lowest merge rank is merged, all its non-overlapping occurrences left to right, until no
// pair has a rank. Every byte has a token, so any text encodes and decoding restores its bytes.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/text.hpp"
#include "attrib/tokenizers/regex_pretokenizer.hpp"
#include "attrib/core/types.hpp"

namespace attrib {

namespace detail {
// GPT-2's bytes_to_unicode: the printable Latin-1 bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for
// themselves, the other 68 bytes for U+0100, U+0101, ... in byte order, so that no token
// contains whitespace or control characters.
struct byte_alphabet {
  std::array<char32_t, 256> code_point{};
  std::array<std::string, 256> utf8{};
  static constexpr std::size_t span = 256 + 68;
  std::array<int, span> byte_of{};  // -1 where a code point stands for no byte

  byte_alphabet() {
    byte_of.fill(-1);
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      const char32_t cp = printable ? static_cast<char32_t>(b) : next++;
      code_point[static_cast<std::size_t>(b)] = cp;
      byte_of[cp] = b;
      // Every code point here is below U+0800: one or two UTF-8 bytes.
      std::string& s = utf8[static_cast<std::size_t>(b)];
      if (cp < 0x80) {
        s.push_back(static_cast<char>(cp));
      } else {
        s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      }
    }
  }
};

inline const byte_alphabet& gpt2_byte_alphabet() {
  static const byte_alphabet alphabet;
  return alphabet;
}

// The text with each byte spelled in GPT-2's alphabet.
inline std::string to_byte_level(std::string_view text) {
  const auto& a = gpt2_byte_alphabet();
  std::string out;
  out.reserve(2 * text.size());
  for (char c : text) out += a.utf8[static_cast<unsigned char>(c)];
  return out;
}

// The code point of the UTF-8 character at text[i] and its length, or nothing when the bytes
// there are not a well-formed character.
inline std::optional<std::pair<char32_t, std::size_t>> utf8_code_point(std::string_view text,
                                                                        std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[i + k]); };
  const unsigned lead = byte(0);
  const std::size_t n = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xE ? 3
                                        : (lead >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || n > text.size() - i) return std::nullopt;
  char32_t cp = n == 1 ? lead : n == 2 ? (lead & 0x1F) : n == 3 ? (lead & 0x0F) : (lead & 0x07);
  for (std::size_t k = 1; k < n; ++k) {
    if ((byte(k) & 0xC0) != 0x80) return std::nullopt;
    cp = (cp << 6) | (byte(k) & 0x3F);
  }
  return std::pair{cp, n};
}
}  // namespace detail

// A token matched verbatim in the text before pre-tokenisation. Special tokens (BOS, EOS, chat
// headers) can be skipped when decoding.
struct added_token {
  std::string content;
  token_id id = 0;
  bool special = true;
};

// One pre-tokenisation step, applied to every piece of the step before (Hugging Face's Split and
// ByteLevel pre-tokenizers): prepend a space to a piece that does not start with one, then cut it
// by `pattern` (no cut when empty).
struct pretokenizer_step {
  std::string pattern;
  bool add_prefix_space = false;
};

struct byte_level_bpe_options {
  std::vector<pretokenizer_step> pretokenizer{{std::string(gpt2_pattern), false}};
  // A piece that is itself in the vocabulary becomes that token without merging (Llama 3).
  bool ignore_merges = false;
  // Put before the text by encode(..., add_bos = true).
  std::optional<token_id> bos;
};

class byte_level_bpe {
 public:
  // vocab[id] is token id spelled in GPT-2's byte alphabet; merges in rank order, each a pair of
  // vocabulary strings whose concatenation is also in the vocabulary; added tokens may reuse a
  // vocabulary id or extend the vocabulary, leaving no id unused. Throws invalid_argument naming
  // the entry at fault: a duplicate string or id, a byte with no token, a merge naming an unknown
  // token, a bos outside the vocabulary, a pattern that does not compile.
  byte_level_bpe(std::vector<std::string> vocab, std::span<const std::pair<std::string, std::string>> merges,
                 std::vector<added_token> added, byte_level_bpe_options options = {})
      : pieces_(std::move(vocab)), ignore_merges_(options.ignore_merges), bos_(options.bos),
        cache_(std::make_shared<cache>()) {
    const std::size_t base = pieces_.size();
    for (std::size_t id = 0; id < base; ++id)
      if (!lookup_.emplace(pieces_[id], static_cast<token_id>(id)).second)
        throw invalid_argument("byte_level_bpe: vocabulary entry '" + detail::printable(pieces_[id]) + "' appears twice (ids " +
                               std::to_string(lookup_.find(pieces_[id])->second) + " and " +
                               std::to_string(id) + ")");
    const auto& alphabet = detail::gpt2_byte_alphabet();
    for (std::size_t b = 0; b < 256; ++b) {
      const auto it = lookup_.find(alphabet.utf8[b]);
      if (it == lookup_.end())
        throw invalid_argument("byte_level_bpe: the vocabulary has no token for byte " + std::to_string(b) +
                               " ('" + alphabet.utf8[b] + "')");
      byte_ids_[b] = it->second;
    }
    for (std::size_t rank = 0; rank < merges.size(); ++rank) {
      const auto& [left, right] = merges[rank];
      if (left.empty() || right.empty())
        throw invalid_argument("byte_level_bpe: merges[" + std::to_string(rank) + "] has an empty token");
      const auto id_of = [&](const std::string& s, const char* what) {
        const auto it = lookup_.find(s);
        if (it == lookup_.end())
          throw invalid_argument("byte_level_bpe: merges[" + std::to_string(rank) + "] names " + what + " '" + detail::printable(s) +
                                 "', which is not in the vocabulary");
        return it->second;
      };
      const token_id a = id_of(left, "left token");
      const token_id b = id_of(right, "right token");
      const token_id merged = id_of(left + right, "the merged token");
      // A repeated pair keeps its first (best) rank.
      merges_.emplace(pair_key(a, b), merge{static_cast<std::uint32_t>(rank), merged});
    }

    added_flag_.assign(base, 0);
    for (const auto& t : added) {
      if (t.content.empty()) throw invalid_argument("byte_level_bpe: an added token has empty content");
      if (t.id < 0)
        throw invalid_argument("byte_level_bpe: added token '" + detail::printable(t.content) + "' has negative id " +
                               std::to_string(t.id));
      const auto id = static_cast<std::size_t>(t.id);
      if (id >= pieces_.size()) {
        pieces_.resize(id + 1);
        added_flag_.resize(id + 1, 0);
      }
      if (added_flag_[id] != 0)
        throw invalid_argument("byte_level_bpe: added token id " + std::to_string(id) + " appears twice");
      added_flag_[id] = t.special ? 2 : 1;
      pieces_[id] = t.content;
      added_.push_back(t);
      if (added_first_bytes_.find(t.content[0]) == std::string::npos) added_first_bytes_ += t.content[0];
    }
    for (std::size_t id = base; id < pieces_.size(); ++id)
      if (added_flag_[id] == 0)
        throw invalid_argument("byte_level_bpe: token id " + std::to_string(id) +
                               " is neither in the vocabulary nor an added token");
    // Longest first, so that among added tokens starting at the same place the longest wins.
    std::sort(added_.begin(), added_.end(),
              [](const added_token& x, const added_token& y) { return x.content.size() > y.content.size(); });
    if (bos_ && (*bos_ < 0 || *bos_ >= vocab_size()))
      throw invalid_argument("byte_level_bpe: bos id " + std::to_string(*bos_) + " is outside the vocabulary of " +
                             std::to_string(vocab_size()));
    for (auto& step : options.pretokenizer)
      steps_.push_back({step.pattern.empty() ? std::nullopt : std::optional<regex_pretokenizer>(step.pattern),
                        step.add_prefix_space});
  }

  index vocab_size() const { return static_cast<index>(pieces_.size()); }
  std::optional<token_id> bos() const { return bos_; }

  // Token id `id` as stored: byte-level spelling for vocabulary tokens, the text of added ones.
  const std::string& piece(token_id id) const {
    check(id);
    return pieces_[static_cast<std::size_t>(id)];
  }
  bool is_special(token_id id) const {
    check(id);
    return added_flag_[static_cast<std::size_t>(id)] == 2;
  }

  // The id of an added token's text, or of a vocabulary string in byte-level spelling.
  std::optional<token_id> find(std::string_view text) const {
    for (const auto& t : added_)
      if (t.content == text) return t.id;
    const auto it = lookup_.find(text);
    if (it == lookup_.end()) return std::nullopt;
    return it->second;
  }

  // The token ids of `text`, bos first when add_bos and the tokenizer has one. With
  // split_special_tokens false, added tokens' text is tokenised like any other text. Throws
  // invalid_argument when `text` is not valid UTF-8.
  std::vector<token_id> encode(std::string_view text, bool add_bos = true, bool split_special_tokens = true) const {
    std::vector<token_id> ids;
    if (add_bos && bos_) ids.push_back(*bos_);
    std::size_t segment = 0;  // start of the text not yet encoded
    std::size_t at = split_special_tokens ? text.find_first_of(added_first_bytes_) : std::string_view::npos;
    while (at != std::string_view::npos) {
      const added_token* hit = nullptr;
      for (const auto& t : added_)  // longest first
        if (text.substr(at, t.content.size()) == t.content) {
          hit = &t;
          break;
        }
      if (hit != nullptr) {
        encode_segment(text.substr(segment, at - segment), ids);
        ids.push_back(hit->id);
        segment = at + hit->content.size();
      }
      at = text.find_first_of(added_first_bytes_, hit != nullptr ? segment : at + 1);
    }
    encode_segment(text.substr(segment), ids);
    return ids;
  }

  // The bytes of a token sequence (not necessarily valid UTF-8 when it ends inside a character).
  // Throws invalid_argument naming an id outside the vocabulary.
  std::string decode(std::span<const token_id> ids, bool skip_special = false) const {
    const auto& alphabet = detail::gpt2_byte_alphabet();
    std::string out;
    for (token_id id : ids) {
      check(id);
      const auto k = static_cast<std::size_t>(id);
      if (added_flag_[k] != 0) {
        if (!(skip_special && added_flag_[k] == 2)) out += pieces_[k];
        continue;
      }
      const std::string& p = pieces_[k];
      for (std::size_t i = 0; i < p.size();) {
        const auto c = detail::utf8_code_point(p, i);
        if (c && c->first < alphabet.span && alphabet.byte_of[c->first] >= 0) {
          out.push_back(static_cast<char>(alphabet.byte_of[c->first]));
          i += c->second;
        } else {  // not a byte-level character: kept as it is
          const std::size_t n = c ? c->second : 1;
          out.append(p, i, n);
          i += n;
        }
      }
    }
    return out;
  }

 private:
  struct merge {
    std::uint32_t rank;
    token_id merged;
  };
  struct cache {
    std::mutex mutex;
    std::unordered_map<std::string, std::vector<token_id>> words;
  };
  static constexpr std::size_t cache_limit = std::size_t{1} << 16;
  static constexpr std::size_t cache_word_limit = 256;  // bytes of byte-level spelling

  static std::uint64_t pair_key(token_id a, token_id b) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32) | static_cast<std::uint32_t>(b);
  }

  void check(token_id id) const {
    if (id < 0 || id >= vocab_size())
      throw invalid_argument("byte_level_bpe: token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                             std::to_string(vocab_size()) + ")");
  }

  void encode_segment(std::string_view segment, std::vector<token_id>& ids) const {
    if (segment.empty()) return;
    check_utf8(segment);
    std::vector<std::string> pieces{std::string(segment)};
    for (const auto& step : steps_) {
      std::vector<std::string> finer;
      for (auto& p : pieces) {
        if (step.add_prefix_space && p.front() != ' ') p.insert(p.begin(), ' ');
        if (!step.splitter) {
          finer.push_back(std::move(p));
          continue;
        }
        for (auto q : step.splitter->split(p)) finer.emplace_back(q);
      }
      pieces = std::move(finer);
    }
    for (const auto& p : pieces) encode_word(detail::to_byte_level(p), p, ids);
  }

  // The pattern would also reject malformed text, but a tokenizer without one must too.
  static void check_utf8(std::string_view text) {
    for (std::size_t i = 0; i < text.size();) {
      const auto c = detail::utf8_code_point(text, i);
      if (!c || (c->first >= 0xD800 && c->first <= 0xDFFF) || c->first > 0x10FFFF)
        throw invalid_argument("byte_level_bpe: text is not valid UTF-8 at byte " + std::to_string(i));
      i += c->second;
    }
  }

  // GPT-2's loop (merge every occurrence of the lowest-ranked pair, left to right, then look
  // again) in O(n log n): a heap of (rank, left position) over a linked list of symbols. Pairs
  // that a merge creates wait until the current rank's pass is over, as in GPT-2's loop.
  std::vector<token_id> merge_bytes(std::string_view raw) const {
    struct symbol {
      token_id id;  // -1 once merged into its left neighbour
      std::ptrdiff_t next;
      std::ptrdiff_t prev;
    };
    const auto n = static_cast<std::ptrdiff_t>(raw.size());
    std::vector<symbol> sym(raw.size());
    for (std::ptrdiff_t i = 0; i < n; ++i)
      sym[static_cast<std::size_t>(i)] = {byte_ids_[static_cast<unsigned char>(raw[static_cast<std::size_t>(i)])],
                                          i + 1 < n ? i + 1 : -1, i - 1};
    const auto at = [&](std::ptrdiff_t i) -> symbol& { return sym[static_cast<std::size_t>(i)]; };
    const auto merge_at = [&](std::ptrdiff_t i) -> const merge* {
      const std::ptrdiff_t j = at(i).next;
      if (j < 0) return nullptr;
      const auto it = merges_.find(pair_key(at(i).id, at(j).id));
      return it == merges_.end() ? nullptr : &it->second;
    };
    using entry = std::pair<std::uint32_t, std::ptrdiff_t>;
    std::priority_queue<entry, std::vector<entry>, std::greater<>> heap;
    for (std::ptrdiff_t i = 0; i + 1 < n; ++i)
      if (const merge* m = merge_at(i)) heap.emplace(m->rank, i);
    std::vector<entry> created;
    std::uint32_t pass = 0;
    for (;;) {
      if (!created.empty() && (heap.empty() || heap.top().first != pass)) {
        for (const auto& e : created) heap.push(e);
        created.clear();
      }
      if (heap.empty()) break;
      const auto [rank, i] = heap.top();
      heap.pop();
      pass = rank;
      // Skip entries whose left symbol was merged away or whose pair has changed since.
      const merge* m = at(i).id < 0 ? nullptr : merge_at(i);
      if (m == nullptr || m->rank != rank) continue;
      const std::ptrdiff_t j = at(i).next;
      at(i).id = m->merged;
      at(i).next = at(j).next;
      if (at(j).next >= 0) at(at(j).next).prev = i;
      at(j).id = -1;
      if (at(i).prev >= 0)
        if (const merge* left = merge_at(at(i).prev)) created.emplace_back(left->rank, at(i).prev);
      if (const merge* right = merge_at(i)) created.emplace_back(right->rank, i);
    }
    std::vector<token_id> out;
    for (std::ptrdiff_t i = n > 0 ? 0 : -1; i >= 0; i = at(i).next) out.push_back(at(i).id);
    return out;
  }

  void encode_word(const std::string& word, std::string_view raw, std::vector<token_id>& ids) const {
    if (ignore_merges_) {
      if (const auto it = lookup_.find(word); it != lookup_.end()) {
        ids.push_back(it->second);
        return;
      }
    }
    {
      std::lock_guard lock(cache_->mutex);
      if (const auto it = cache_->words.find(word); it != cache_->words.end()) {
        ids.insert(ids.end(), it->second.begin(), it->second.end());
        return;
      }
    }
    const std::vector<token_id> symbols = merge_bytes(raw);
    ids.insert(ids.end(), symbols.begin(), symbols.end());
    if (word.size() > cache_word_limit) return;
    std::lock_guard lock(cache_->mutex);
    if (cache_->words.size() >= cache_limit) cache_->words.clear();
    cache_->words.emplace(word, symbols);
  }

  // Transparent, so that lookups by string_view build no string.
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  std::vector<std::string> pieces_;
  std::vector<char> added_flag_;  // 0 vocabulary, 1 added, 2 added special
  std::vector<added_token> added_;
  std::string added_first_bytes_;  // where an added token can start
  std::unordered_map<std::string, token_id, string_hash, std::equal_to<>> lookup_;
  std::unordered_map<std::uint64_t, merge> merges_;
  std::array<token_id, 256> byte_ids_{};
  struct step {
    std::optional<regex_pretokenizer> splitter;
    bool add_prefix_space;
  };
  std::vector<step> steps_;
  bool ignore_merges_;
  std::optional<token_id> bos_;
  // Shared by copies: it depends only on the vocabulary and merges, which copies share.
  std::shared_ptr<cache> cache_;
};

}  // namespace attrib
