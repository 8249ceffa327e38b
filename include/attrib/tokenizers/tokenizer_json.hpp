#pragma once
// Hugging Face tokenizer.json and GPT-2's encoder.json + vocab.bpe. A BPE model with a ByteLevel
// pre-tokenizer (GPT-2, Llama 3, ...) loads as byte_level_bpe; one with byte_fallback and a "▁"
// prefix (Llama 2, Mistral, TinyLlama) loads as sentencepiece_bpe. Every failure is a
// format_error naming the field at fault.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "attrib/core/error.hpp"
#include "attrib/io/json.hpp"
#include "attrib/io/detail/file_bytes.hpp"
#include "attrib/tokenizers/byte_level_bpe.hpp"
#include "attrib/tokenizers/regex_pretokenizer.hpp"
#include "attrib/tokenizers/sentencepiece_bpe.hpp"
#include "attrib/core/types.hpp"

namespace attrib {

// A tokenizer loaded from tokenizer.json: one of the two BPE kinds, behind one interface.
class hf_tokenizer {
 public:
  using model_type = std::variant<byte_level_bpe, sentencepiece_bpe>;

  explicit hf_tokenizer(model_type model) : model_(std::move(model)) {}

  const model_type& model() const { return model_; }
  index vocab_size() const {
    return std::visit([](const auto& m) { return m.vocab_size(); }, model_);
  }
  // The id that encode(text, true) puts first, if the tokenizer has one.
  std::optional<token_id> bos() const {
    return std::visit([](const auto& m) { return std::optional<token_id>(m.bos()); }, model_);
  }
  std::vector<token_id> encode(std::string_view text, bool add_bos = true) const {
    return std::visit([&](const auto& m) { return m.encode(text, add_bos); }, model_);
  }
  std::string decode(std::span<const token_id> ids) const {
    return std::visit([&](const auto& m) { return m.decode(ids); }, model_);
  }

 private:
  model_type model_;
};

namespace detail {
using json = nlohmann::json;

// Reads tokenizer.json fields, naming the file and the path to the field in every error.
class tokenizer_json_reader {
 public:
  explicit tokenizer_json_reader(std::string source) : source_(std::move(source)) {}

  [[noreturn]] void fail(const std::string& field, const std::string& what) const {
    throw format_error(source_ + ": " + field + " " + what);
  }

  json parse(std::string_view text) const {
    return parse_json(text, source_);
  }

  const json& member(const json& object, const char* key, const std::string& field) const {
    if (!object.is_object()) fail(parent(field), "is not an object");
    const auto it = object.find(key);
    if (it == object.end()) fail(field, "is missing");
    return *it;
  }
  const json* optional_member(const json& object, const char* key, const std::string& field) const {
    if (!object.is_object()) fail(parent(field), "is not an object");
    const auto it = object.find(key);
    return it == object.end() || it->is_null() ? nullptr : &*it;
  }
  std::string string(const json& value, const std::string& field) const {
    if (!value.is_string()) fail(field, "is not a string");
    return value.get<std::string>();
  }
  bool boolean(const json* value, const std::string& field, bool fallback) const {
    if (value == nullptr) return fallback;
    if (!value->is_boolean()) fail(field, "is not a boolean");
    return value->get<bool>();
  }
  token_id id(const json& value, const std::string& field) const {
    if (!value.is_number_integer() || value.get<std::int64_t>() < 0 ||
        value.get<std::int64_t>() > std::numeric_limits<token_id>::max())
      fail(field, "is not a token id (a non-negative integer)");
    return static_cast<token_id>(value.get<std::int64_t>());
  }

 private:
  static std::string parent(const std::string& field) {
    const auto dot = field.find_last_of(".[");
    return dot == std::string::npos ? std::string("the document") : field.substr(0, dot);
  }
  std::string source_;
};

// A literal string as a PCRE2 pattern: every ASCII punctuation character escaped.
inline std::string regex_quote(std::string_view literal) {
  std::string out;
  for (char c : literal) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x80 && !std::isalnum(u) && c != ' ') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

// The parts of tokenizer.json both BPE kinds share.
struct hf_bpe_parts {
  std::vector<std::string> vocab;  // by id
  std::vector<std::pair<std::string, std::string>> merges;
  std::vector<added_token> added;
};

inline hf_bpe_parts read_hf_bpe_parts(const tokenizer_json_reader& r, const json& root, const json& model) {
  hf_bpe_parts parts;
  const json& vocab = r.member(model, "vocab", "model.vocab");
  if (!vocab.is_object()) r.fail("model.vocab", "is not an object of token: id");
  std::vector<char> seen(vocab.size(), 0);
  parts.vocab.resize(vocab.size());
  for (const auto& [token, value] : vocab.items()) {
    const token_id id = r.id(value, "model.vocab[\"" + token + "\"]");
    if (static_cast<std::size_t>(id) >= vocab.size())
      r.fail("model.vocab[\"" + token + "\"]", "is " + std::to_string(id) + ", but the " +
                                                   std::to_string(vocab.size()) +
                                                   " ids must be 0 to " + std::to_string(vocab.size() - 1));
    if (seen[static_cast<std::size_t>(id)] != 0)
      r.fail("model.vocab[\"" + token + "\"]", "repeats id " + std::to_string(id));
    seen[static_cast<std::size_t>(id)] = 1;
    parts.vocab[static_cast<std::size_t>(id)] = token;
  }

  const json& merges = r.member(model, "merges", "model.merges");
  if (!merges.is_array()) r.fail("model.merges", "is not an array");
  parts.merges.reserve(merges.size());
  for (std::size_t k = 0; k < merges.size(); ++k) {
    const std::string field = "model.merges[" + std::to_string(k) + "]";
    const json& m = merges[k];
    if (m.is_string()) {  // "left right", the older form
      const std::string s = m.get<std::string>();
      const auto space = s.find(' ');
      if (space == std::string::npos || space == 0 || space + 1 == s.size() ||
          s.find(' ', space + 1) != std::string::npos)
        r.fail(field, "is not two tokens separated by one space");
      parts.merges.emplace_back(s.substr(0, space), s.substr(space + 1));
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      parts.merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else {
      r.fail(field, "is neither \"left right\" nor [\"left\", \"right\"]");
    }
  }

  if (const json* added = r.optional_member(root, "added_tokens", "added_tokens")) {
    if (!added->is_array()) r.fail("added_tokens", "is not an array");
    for (std::size_t k = 0; k < added->size(); ++k) {
      const std::string field = "added_tokens[" + std::to_string(k) + "]";
      const json& t = (*added)[k];
      added_token a;
      a.id = r.id(r.member(t, "id", field + ".id"), field + ".id");
      a.content = r.string(r.member(t, "content", field + ".content"), field + ".content");
      if (a.content.empty()) r.fail(field + ".content", "is empty");
      a.special = r.boolean(r.optional_member(t, "special", field + ".special"), field + ".special", false);
      parts.added.push_back(std::move(a));
    }
  }
  return parts;
}

// The id of the token a TemplateProcessing post-processor puts before the text, if any.
inline std::optional<token_id> template_bos(const tokenizer_json_reader& r, const json& root,
                                            const hf_bpe_parts& parts) {
  const json* post = r.optional_member(root, "post_processor", "post_processor");
  if (post == nullptr) return std::nullopt;
  std::vector<std::pair<const json*, std::string>> processors{{post, "post_processor"}};
  if (r.string(r.member(*post, "type", "post_processor.type"), "post_processor.type") == "Sequence") {
    processors.clear();
    const json& list = r.member(*post, "processors", "post_processor.processors");
    if (!list.is_array()) r.fail("post_processor.processors", "is not an array");
    for (std::size_t k = 0; k < list.size(); ++k)
      processors.emplace_back(&list[k], "post_processor.processors[" + std::to_string(k) + "]");
  }
  for (const auto& [p, field] : processors) {
    const std::string type = r.string(r.member(*p, "type", field + ".type"), field + ".type");
    if (type == "ByteLevel") continue;  // offsets only
    if (type != "TemplateProcessing")
      r.fail(field + ".type", "is '" + type + "'; supported are TemplateProcessing, ByteLevel and Sequence");
    const json& single = r.member(*p, "single", field + ".single");
    if (!single.is_array() || single.empty()) r.fail(field + ".single", "is not a non-empty array");
    const json* special = r.optional_member(single[0], "SpecialToken", field + ".single[0].SpecialToken");
    if (special == nullptr) return std::nullopt;
    const std::string name = r.string(r.member(*special, "id", field + ".single[0].SpecialToken.id"),
                                      field + ".single[0].SpecialToken.id");
    for (const auto& a : parts.added)
      if (a.content == name) return a.id;
    for (std::size_t id = 0; id < parts.vocab.size(); ++id)
      if (parts.vocab[id] == name) return static_cast<token_id>(id);
    r.fail(field + ".single[0].SpecialToken.id", "names '" + name + "', which is not a token");
  }
  return std::nullopt;
}

// Appends the steps of a pre_tokenizer to `steps`; false when it contains no ByteLevel.
inline bool read_pretokenizer(const tokenizer_json_reader& r, const json& p, const std::string& field,
                              std::vector<pretokenizer_step>& steps) {
  const std::string type = r.string(r.member(p, "type", field + ".type"), field + ".type");
  if (type == "Sequence") {
    const json& list = r.member(p, "pretokenizers", field + ".pretokenizers");
    if (!list.is_array()) r.fail(field + ".pretokenizers", "is not an array");
    bool byte_level = false;
    for (std::size_t k = 0; k < list.size(); ++k)
      byte_level |= read_pretokenizer(r, list[k], field + ".pretokenizers[" + std::to_string(k) + "]", steps);
    return byte_level;
  }
  if (type == "ByteLevel") {
    const bool prefix =
        r.boolean(r.optional_member(p, "add_prefix_space", field + ".add_prefix_space"), field + ".add_prefix_space",
                  true);
    const bool regex =
        r.boolean(r.optional_member(p, "use_regex", field + ".use_regex"), field + ".use_regex", true);
    steps.push_back({regex ? std::string(gpt2_pattern) : std::string(), prefix});
    return true;
  }
  if (type == "Split") {
    const json& pattern = r.member(p, "pattern", field + ".pattern");
    std::string regex;
    if (const json* re = r.optional_member(pattern, "Regex", field + ".pattern.Regex"))
      regex = r.string(*re, field + ".pattern.Regex");
    else if (const json* s = r.optional_member(pattern, "String", field + ".pattern.String"))
      regex = regex_quote(r.string(*s, field + ".pattern.String"));
    else
      r.fail(field + ".pattern", "has neither Regex nor String");
    const std::string behavior =
        r.string(r.member(p, "behavior", field + ".behavior"), field + ".behavior");
    if (behavior != "Isolated")
      r.fail(field + ".behavior", "is '" + behavior + "'; only Isolated is supported");
    if (r.boolean(r.optional_member(p, "invert", field + ".invert"), field + ".invert", false))
      r.fail(field + ".invert", "is true; only false is supported");
    try {
      regex_pretokenizer check(regex);
    } catch (const invalid_argument& e) {
      r.fail(field + ".pattern", std::string("is not a usable regex: ") + e.what());
    }
    steps.push_back({std::move(regex), false});
    return false;
  }
  r.fail(field + ".type", "is '" + type + "'; supported are ByteLevel, Split and Sequence (or Metaspace for "
                                          "SentencePiece-style models)");
}

// Llama 2 style: SentencePiece pieces with "▁" for spaces and <0xNN> byte tokens. SentencePiece
// merges the pair whose merged piece scores highest; the merges list is in that order, so a
// piece's score is minus the rank of the first merge that makes it.
inline sentencepiece_bpe sentencepiece_from_hf(const tokenizer_json_reader& r, const json& root,
                                               const json& model, hf_bpe_parts parts) {
  const std::size_t n = parts.vocab.size();
  for (const auto& a : parts.added)
    if (static_cast<std::size_t>(a.id) >= n)
      r.fail("added_tokens", "adds id " + std::to_string(a.id) + " beyond model.vocab, which a SentencePiece-style "
                                                                 "model does not support");
  std::unordered_map<std::string, std::size_t> lookup;
  for (std::size_t id = 0; id < n; ++id) lookup.emplace(parts.vocab[id], id);
  // Pieces no merge makes (characters, bytes, specials) rank below every merged piece.
  std::vector<float> scores(n, -static_cast<float>(parts.merges.size()) - 1.0f);
  std::vector<char> scored(n, 0);
  for (std::size_t k = 0; k < parts.merges.size(); ++k) {
    const auto& [a, b] = parts.merges[k];
    for (const std::string* s : {&a, &b})
      if (!lookup.contains(*s))
        r.fail("model.merges[" + std::to_string(k) + "]", "names '" + *s + "', which is not in model.vocab");
    const auto it = lookup.find(a + b);
    if (it == lookup.end())
      r.fail("model.merges[" + std::to_string(k) + "]", "makes '" + a + b + "', which is not in model.vocab");
    if (scored[it->second] == 0) {
      scores[it->second] = -static_cast<float>(k);
      scored[it->second] = 1;
    }
  }
  std::vector<token_kind> kinds(n, token_kind::normal);
  for (std::size_t id = 0; id < n; ++id)
    if (detail::byte_piece_value(parts.vocab[id]) >= 0) kinds[id] = token_kind::byte;
  for (const auto& a : parts.added) kinds[static_cast<std::size_t>(a.id)] = a.special ? token_kind::control
                                                                                       : token_kind::user_defined;
  auto named = [&](const std::string& name, const std::string& field) -> token_id {
    const auto it = lookup.find(name);
    if (it == lookup.end()) r.fail(field, "names '" + name + "', which is not in model.vocab");
    return static_cast<token_id>(it->second);
  };
  const json* unk_field = r.optional_member(model, "unk_token", "model.unk_token");
  const token_id unk = named(unk_field ? r.string(*unk_field, "model.unk_token") : "<unk>", "model.unk_token");
  kinds[static_cast<std::size_t>(unk)] = token_kind::unknown;
  const token_id bos = template_bos(r, root, parts).value_or(named("<s>", "the BOS token"));
  const token_id eos = named("</s>", "the EOS token");

  // The space prefix comes from the normalizer (Prepend "▁") or a Metaspace pre-tokenizer.
  bool prefix = false;
  const auto scan = [&](const json& node, const std::string& field, auto&& self) -> void {
    const std::string type = r.string(r.member(node, "type", field + ".type"), field + ".type");
    if (type == "Sequence") {
      const char* key = node.contains("normalizers") ? "normalizers" : "pretokenizers";
      const json& list = r.member(node, key, field + "." + key);
      if (!list.is_array()) r.fail(field + "." + key, "is not an array");
      for (std::size_t k = 0; k < list.size(); ++k)
        self(list[k], field + "." + key + "[" + std::to_string(k) + "]", self);
    } else if (type == "Prepend") {
      prefix = true;
    } else if (type == "Metaspace") {
      const json* scheme = r.optional_member(node, "prepend_scheme", field + ".prepend_scheme");
      prefix = scheme ? r.string(*scheme, field + ".prepend_scheme") != "never"
                      : r.boolean(r.optional_member(node, "add_prefix_space", field + ".add_prefix_space"),
                                  field + ".add_prefix_space", true);
    } else if (type != "Replace") {
      r.fail(field + ".type", "is '" + type + "', which a SentencePiece-style model does not support");
    }
  };
  for (const char* key : {"normalizer", "pre_tokenizer"})
    if (const json* node = r.optional_member(root, key, key)) scan(*node, key, scan);

  for (auto& piece : parts.vocab) piece = detail::replace_all(std::move(piece), "\xE2\x96\x81", " ");
  try {
    return {std::move(parts.vocab), std::move(scores), std::move(kinds), bos, eos, unk, prefix};
  } catch (const invalid_argument& e) {
    r.fail("model", std::string("is not a usable SentencePiece vocabulary: ") + e.what());
  }
}
}  // namespace detail

// Parses the text of a tokenizer.json; `source` names it in errors.
inline hf_tokenizer parse_hf_tokenizer(std::string_view text, const std::string& source = "tokenizer.json") {
  const detail::tokenizer_json_reader r(source);
  const detail::json root = r.parse(text);
  if (!root.is_object()) r.fail("the document", "is not a JSON object");
  const detail::json& model = r.member(root, "model", "model");
  const std::string type = r.string(r.member(model, "type", "model.type"), "model.type");
  if (type != "BPE") r.fail("model.type", "is '" + type + "'; only BPE is supported");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (const auto* v = r.optional_member(model, key, std::string("model.") + key);
        v != nullptr && !(v->is_string() && v->get<std::string>().empty()))
      r.fail(std::string("model.") + key, "is set; subword prefixes and suffixes are not supported");
  auto parts = detail::read_hf_bpe_parts(r, root, model);

  std::vector<pretokenizer_step> steps;
  bool byte_level = false;
  if (const auto* p = r.optional_member(root, "pre_tokenizer", "pre_tokenizer")) {
    const std::string ptype = r.string(r.member(*p, "type", "pre_tokenizer.type"), "pre_tokenizer.type");
    if (ptype != "Metaspace") byte_level = detail::read_pretokenizer(r, *p, "pre_tokenizer", steps);
  }
  if (!byte_level) {
    if (!r.boolean(r.optional_member(model, "byte_fallback", "model.byte_fallback"), "model.byte_fallback", false))
      r.fail("pre_tokenizer", "has no ByteLevel step and model.byte_fallback is not true: neither a byte-level nor a "
                              "SentencePiece-style BPE");
    return hf_tokenizer(detail::sentencepiece_from_hf(r, root, model, std::move(parts)));
  }
  if (const auto* n = r.optional_member(root, "normalizer", "normalizer"))
    r.fail("normalizer", "is set (" + n->dump().substr(0, 60) +
                             "); byte-level models are supported without a normalizer only");
  if (const auto* d = r.optional_member(root, "decoder", "decoder")) {
    const std::string dtype = r.string(r.member(*d, "type", "decoder.type"), "decoder.type");
    if (dtype != "ByteLevel") r.fail("decoder.type", "is '" + dtype + "'; a byte-level model needs ByteLevel");
  }
  byte_level_bpe_options options;
  options.pretokenizer = std::move(steps);
  options.ignore_merges =
      r.boolean(r.optional_member(model, "ignore_merges", "model.ignore_merges"), "model.ignore_merges", false);
  options.bos = detail::template_bos(r, root, parts);
  try {
    return hf_tokenizer(byte_level_bpe(std::move(parts.vocab), parts.merges, std::move(parts.added), options));
  } catch (const invalid_argument& e) {
    r.fail("model", std::string("is not a usable byte-level BPE: ") + e.what());
  }
}

// Reads a Hugging Face tokenizer.json.
inline hf_tokenizer load_hf_tokenizer(const std::filesystem::path& path) {
  return parse_hf_tokenizer(detail::read_file_bytes(path), path.string());
}

// GPT-2's original pair: encoder.json (token: id) and vocab.bpe ("#version" line, then one
// "left right" merge per line). <|endoftext|> is a special added token; there is no BOS.
inline byte_level_bpe parse_gpt2_tokenizer(std::string_view encoder_json, std::string_view vocab_bpe,
                                           const std::string& source = "encoder.json") {
  const detail::tokenizer_json_reader r(source);
  const detail::json encoder = r.parse(encoder_json);
  if (!encoder.is_object()) r.fail("the document", "is not an object of token: id");
  std::vector<std::string> vocab(encoder.size());
  std::vector<char> seen(encoder.size(), 0);
  for (const auto& [token, value] : encoder.items()) {
    const token_id id = r.id(value, "[\"" + token + "\"]");
    if (static_cast<std::size_t>(id) >= vocab.size() || seen[static_cast<std::size_t>(id)] != 0)
      r.fail("[\"" + token + "\"]", "is " + std::to_string(id) + ": ids must be 0 to " +
                                        std::to_string(vocab.size()) + " - 1, each once");
    seen[static_cast<std::size_t>(id)] = 1;
    vocab[static_cast<std::size_t>(id)] = token;
  }
  std::vector<std::pair<std::string, std::string>> merges;
  std::size_t line_no = 0;
  for (std::size_t at = 0; at < vocab_bpe.size(); ++line_no) {
    std::size_t end = vocab_bpe.find('\n', at);
    if (end == std::string_view::npos) end = vocab_bpe.size();
    std::string_view line = vocab_bpe.substr(at, end - at);
    at = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.starts_with("#version")) continue;
    const auto space = line.find(' ');
    if (space == std::string_view::npos || space == 0 || space + 1 == line.size() ||
        line.find(' ', space + 1) != std::string_view::npos)
      throw format_error("vocab.bpe: line " + std::to_string(line_no + 1) +
                         " is not two tokens separated by one space");
    merges.emplace_back(line.substr(0, space), line.substr(space + 1));
  }
  std::vector<added_token> added;
  for (std::size_t id = 0; id < vocab.size(); ++id)
    if (vocab[id] == "<|endoftext|>") added.push_back({vocab[id], static_cast<token_id>(id), true});
  try {
    return byte_level_bpe(std::move(vocab), merges, std::move(added));
  } catch (const invalid_argument& e) {
    throw format_error(source + " + vocab.bpe: " + e.what());
  }
}

inline byte_level_bpe load_gpt2_tokenizer(const std::filesystem::path& encoder_json,
                                          const std::filesystem::path& vocab_bpe) {
  return parse_gpt2_tokenizer(detail::read_file_bytes(encoder_json), detail::read_file_bytes(vocab_bpe),
                              encoder_json.string());
}

}  // namespace attrib
