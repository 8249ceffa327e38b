#pragma once
// SentencePiece-style BPE with byte fallback, as llama2.c (run.c) and llama.cpp's "llama"
// vocabulary tokenise: prepend BOS; prepend a space to non-empty text (the dummy prefix); split
// the text into UTF-8 characters, each its own piece or, when the vocabulary lacks it, one
// <0xNN> byte token per byte; then repeatedly merge the adjacent pair whose concatenation is a
// piece with the highest score (leftmost on ties). Vocabularies store spaces as spaces (llama2.c)
// or as U+2581 (GGUF); both load to the same tokenizer.
#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/io/detail/file_bytes.hpp"
#include "attrib/io/gguf.hpp"
#include "attrib/io/llama2c.hpp"
#include "attrib/core/types.hpp"

namespace attrib {

// Token types as GGUF's tokenizer.ggml.token_type numbers them.
enum class token_kind : std::int32_t {
  normal = 1,
  unknown = 2,
  control = 3,
  user_defined = 4,
  unused = 5,
  byte = 6,
};

namespace detail {
// The byte a "<0xNN>" piece stands for, or -1.
inline int byte_piece_value(std::string_view piece) {
  if (piece.size() != 6 || piece.substr(0, 3) != "<0x" || piece[5] != '>') return -1;
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  const int hi = hex(piece[3]);
  const int lo = hex(piece[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

// Length of the UTF-8 character starting at text[i]; a malformed sequence counts as one byte.
inline std::size_t utf8_length(std::string_view text, std::size_t i) {
  const auto lead = static_cast<unsigned char>(text[i]);
  const std::size_t n = lead < 0x80           ? 1
                        : (lead >> 5) == 0x6  ? 2
                        : (lead >> 4) == 0xE  ? 3
                        : (lead >> 3) == 0x1E ? 4
                                              : 1;
  if (n > text.size() - i) return 1;
  for (std::size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return 1;
  return n;
}

inline std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}
}  // namespace detail

class sentencepiece_bpe {
 public:
  // pieces[id] is the text of token id (spaces as ' '), scores[id] its merge priority (higher
  // merges first), kinds[id] its type. Byte tokens must be spelled <0xNN>. Throws
  // invalid_argument when the sizes differ, the vocabulary is empty, or bos/eos/unk are out of
  // range.
  sentencepiece_bpe(std::vector<std::string> pieces, std::vector<float> scores,
                    std::vector<token_kind> kinds, token_id bos, token_id eos, token_id unk,
                    bool add_space_prefix = true)
      : pieces_(std::move(pieces)),
        scores_(std::move(scores)),
        kinds_(std::move(kinds)),
        bos_(bos),
        eos_(eos),
        unk_(unk),
        add_space_prefix_(add_space_prefix) {
    if (pieces_.empty() || scores_.size() != pieces_.size() || kinds_.size() != pieces_.size())
      throw invalid_argument(
          "sentencepiece_bpe: pieces, scores and kinds must be non-empty and "
          "of equal length (" +
          std::to_string(pieces_.size()) + ", " + std::to_string(scores_.size()) + ", " +
          std::to_string(kinds_.size()) + ")");
    for (auto [id, name] : {std::pair{bos_, "bos"}, std::pair{eos_, "eos"}, std::pair{unk_, "unk"}})
      if (id < 0 || id >= vocab_size())
        throw invalid_argument(std::string("sentencepiece_bpe: ") + name + " id " +
                               std::to_string(id) + " is outside the vocabulary of " +
                               std::to_string(vocab_size()));
    byte_ids_.fill(-1);
    for (std::size_t id = 0; id < pieces_.size(); ++id) {
      const auto kind = kinds_[id];
      if (kind == token_kind::byte) {
        const int value = detail::byte_piece_value(pieces_[id]);
        if (value < 0)
          throw invalid_argument("sentencepiece_bpe: byte token " + std::to_string(id) +
                                 " is not spelled <0xNN>");
        if (byte_ids_[static_cast<std::size_t>(value)] < 0)
          byte_ids_[static_cast<std::size_t>(value)] = static_cast<token_id>(id);
      } else if (kind == token_kind::normal || kind == token_kind::user_defined) {
        // The first of duplicate pieces wins, as in SentencePiece.
        lookup_.emplace(pieces_[id], static_cast<token_id>(id));
      }
    }
  }

  // llama2.c fixes the special ids: 0 unknown, 1 BOS, 2 EOS; <0xNN> pieces are byte tokens.
  static sentencepiece_bpe from_llama2c(const llama2c_vocabulary& v) {
    if (v.pieces.size() < 3)
      throw invalid_argument("sentencepiece_bpe: a llama2.c vocabulary needs at least 3 tokens");
    std::vector<token_kind> kinds(v.pieces.size(), token_kind::normal);
    for (std::size_t id = 0; id < kinds.size(); ++id) {
      if (id == 0)
        kinds[id] = token_kind::unknown;
      else if (id <= 2)
        kinds[id] = token_kind::control;
      else if (detail::byte_piece_value(v.pieces[id]) >= 0)
        kinds[id] = token_kind::byte;
    }
    return {v.pieces, v.scores, std::move(kinds), 1, 2, 0};
  }

  // Reads tokenizer.ggml.{model, tokens, scores, token_type, bos_token_id, eos_token_id,
  // unknown_token_id, add_space_prefix}. Throws format_error when the model is not "llama" or an
  // array is missing, mistyped or of the wrong length.
  static sentencepiece_bpe from_gguf(const gguf_content& g) {
    const auto& model = g.at("tokenizer.ggml.model").as_string("tokenizer.ggml.model");
    if (model != "llama")
      throw format_error("GGUF tokenizer.ggml.model is '" + model +
                         "', but sentencepiece_bpe reads 'llama' vocabularies");
    const auto tokens = g.at("tokenizer.ggml.tokens").as_array("tokenizer.ggml.tokens");
    const std::size_t n = tokens.size();
    std::vector<std::string> pieces;
    pieces.reserve(n);
    for (const auto& t : tokens)
      pieces.push_back(
          detail::replace_all(t.as_string("tokenizer.ggml.tokens"), "\xE2\x96\x81", " "));
    std::vector<float> scores(n, 0.0f);
    if (const auto* s = g.find("tokenizer.ggml.scores")) {
      if (s->array_size("tokenizer.ggml.scores") != n)
        throw format_error("GGUF tokenizer.ggml.scores has " + std::to_string(s->array_size("tokenizer.ggml.scores")) +
                           " entries for " + std::to_string(n) + " tokens");
      const auto a = s->as_array("tokenizer.ggml.scores");
      for (std::size_t k = 0; k < n; ++k)
        scores[k] = static_cast<float>(a[k].as_float("tokenizer.ggml.scores"));
    }
    std::vector<token_kind> kinds(n, token_kind::normal);
    if (const auto* t = g.find("tokenizer.ggml.token_type")) {
      if (t->array_size("tokenizer.ggml.token_type") != n)
        throw format_error("GGUF tokenizer.ggml.token_type has " + std::to_string(t->array_size("tokenizer.ggml.token_type")) +
                           " entries for " + std::to_string(n) + " tokens");
      const auto a = t->as_array("tokenizer.ggml.token_type");
      for (std::size_t k = 0; k < n; ++k) {
        const auto kind = a[k].as_int("tokenizer.ggml.token_type");
        if (kind < 1 || kind > 6)
          throw format_error("GGUF tokenizer.ggml.token_type[" + std::to_string(k) + "] is " +
                             std::to_string(kind) + ", expected 1 to 6");
        kinds[k] = static_cast<token_kind>(kind);
        if (kinds[k] == token_kind::byte && detail::byte_piece_value(pieces[k]) < 0)
          throw format_error("GGUF byte token " + std::to_string(k) + " is not spelled <0xNN>");
      }
    }
    auto id = [&](const char* key, token_id fallback) {
      const auto* v = g.find(key);
      if (v == nullptr) return fallback;
      const auto value = v->as_uint(key);
      if (value >= n)
        throw format_error(std::string("GGUF ") + key + " is " + std::to_string(value) +
                           ", outside the vocabulary of " + std::to_string(n));
      return static_cast<token_id>(value);
    };
    // llama.cpp's defaults for SentencePiece vocabularies.
    const token_id bos = id("tokenizer.ggml.bos_token_id", 1);
    const token_id eos = id("tokenizer.ggml.eos_token_id", 2);
    const token_id unk = id("tokenizer.ggml.unknown_token_id", 0);
    bool space_prefix = true;
    if (const auto* v = g.find("tokenizer.ggml.add_space_prefix")) {
      const auto* b = std::get_if<bool>(&v->data);
      if (b == nullptr) throw format_error("GGUF tokenizer.ggml.add_space_prefix is not a boolean");
      space_prefix = *b;
    }
    if (n <= static_cast<std::size_t>(std::max({bos, eos, unk})))
      throw format_error("GGUF vocabulary of " + std::to_string(n) +
                         " tokens lacks the special ids");
    try {
      return {std::move(pieces), std::move(scores), std::move(kinds), bos, eos, unk, space_prefix};
    } catch (const invalid_argument& e) {
      throw format_error(std::string("GGUF vocabulary: ") + e.what());
    }
  }

  index vocab_size() const { return static_cast<index>(pieces_.size()); }
  token_id bos() const { return bos_; }
  token_id eos() const { return eos_; }
  token_id unk() const { return unk_; }

  const std::string& piece(token_id id) const {
    check(id);
    return pieces_[static_cast<std::size_t>(id)];
  }
  token_kind kind(token_id id) const {
    check(id);
    return kinds_[static_cast<std::size_t>(id)];
  }

  // The token ids of `text`, BOS first when add_bos.
  std::vector<token_id> encode(std::string_view text, bool add_bos = true) const {
    std::vector<token_id> ids;
    if (add_bos) ids.push_back(bos_);
    if (text.empty()) return ids;
    std::string buffer;
    if (add_space_prefix_) buffer.push_back(' ');
    buffer.append(text);

    std::vector<token_id> work;
    for (std::size_t i = 0; i < buffer.size();) {
      const std::size_t n = detail::utf8_length(buffer, i);
      const auto it = lookup_.find(std::string_view(buffer).substr(i, n));
      if (it != lookup_.end()) {
        work.push_back(it->second);
      } else {
        for (std::size_t k = 0; k < n; ++k) {
          const token_id b = byte_ids_[static_cast<unsigned char>(buffer[i + k])];
          work.push_back(b >= 0 ? b : unk_);
        }
      }
      i += n;
    }

    std::string joined;
    for (;;) {
      float best_score = 0.0f;
      token_id best_id = -1;
      std::size_t best_at = 0;
      for (std::size_t i = 0; i + 1 < work.size(); ++i) {
        joined = pieces_[static_cast<std::size_t>(work[i])];
        joined += pieces_[static_cast<std::size_t>(work[i + 1])];
        const auto it = lookup_.find(joined);
        if (it == lookup_.end()) continue;
        const float score = scores_[static_cast<std::size_t>(it->second)];
        if (best_id < 0 || score > best_score) {
          best_score = score;
          best_id = it->second;
          best_at = i;
        }
      }
      if (best_id < 0) break;
      work[best_at] = best_id;
      work.erase(work.begin() + static_cast<std::ptrdiff_t>(best_at) + 1);
    }
    ids.insert(ids.end(), work.begin(), work.end());
    return ids;
  }

  // The text of `id` as it follows `previous`: byte tokens become their byte, control tokens
  // nothing, and the dummy-prefix space of the first piece after BOS is dropped (as run.c does).
  std::string decode_piece(token_id previous, token_id id) const {
    check(id);
    const auto k = static_cast<std::size_t>(id);
    switch (kinds_[k]) {
      case token_kind::control:
      case token_kind::unused: return {};
      case token_kind::byte:
        return std::string(1, static_cast<char>(detail::byte_piece_value(pieces_[k])));
      default: break;
    }
    const std::string& p = pieces_[k];
    if (previous == bos_ && !p.empty() && p[0] == ' ') return p.substr(1);
    return p;
  }

  // The text of a token sequence; throws invalid_argument naming an id outside the vocabulary.
  std::string decode(std::span<const token_id> ids) const {
    std::string out;
    token_id previous = -1;
    for (token_id id : ids) {
      out += decode_piece(previous, id);
      previous = id;
    }
    return out;
  }

 private:
  void check(token_id id) const {
    if (id < 0 || id >= vocab_size())
      throw invalid_argument("sentencepiece_bpe: token id " + std::to_string(id) +
                             " is outside the vocabulary [0, " + std::to_string(vocab_size()) +
                             ")");
  }

  // Transparent, so that lookups by string_view build no string.
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  std::vector<token_kind> kinds_;
  token_id bos_;
  token_id eos_;
  token_id unk_;
  bool add_space_prefix_;
  std::array<token_id, 256> byte_ids_{};
  std::unordered_map<std::string, token_id, string_hash, std::equal_to<>> lookup_;
};

// Reads a llama2.c tokenizer `.bin` holding `vocab_size` tokens (the checkpoint's vocabulary size).
inline sentencepiece_bpe load_llama2c_tokenizer(const std::filesystem::path& path,
                                                std::size_t vocab_size) {
  const std::string bytes = detail::read_file_bytes(path);
  return sentencepiece_bpe::from_llama2c(parse_llama2c_tokenizer(
      std::as_bytes(std::span(bytes.data(), bytes.size())), vocab_size, path.string()));
}

}  // namespace attrib
