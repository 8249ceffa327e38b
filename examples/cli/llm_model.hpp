#pragma once
// The model and tokenizer of the `attrib llm` commands: a GGUF file, a llama2.c checkpoint with its
// tokenizer .bin, or a Hugging Face directory, loaded the same way for every command.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "arguments.hpp"
#include "attrib/tokenizers/sentencepiece_bpe.hpp"
#include "attrib/tokenizers/tokenizer_json.hpp"
#include "attrib/transformer/model/model.hpp"

namespace cli {

struct tensor_row {
  std::string name;
  std::string type;
  std::vector<std::uint64_t> shape;  // row-major: the last entry is the row length
};

// A SentencePiece-style vocabulary (llama2.c, GGUF) or a tokenizer.json one, with the ids that
// end generation.
struct any_tokenizer {
  std::variant<attrib::sentencepiece_bpe, attrib::hf_tokenizer> model;
  std::vector<attrib::token_id> stop;

  attrib::index vocab_size() const {
    return std::visit([](const auto& m) { return m.vocab_size(); }, model);
  }
  std::vector<attrib::token_id> encode(const std::string& text, bool add_bos = true) const {
    return std::visit([&](const auto& m) { return m.encode(text, add_bos); }, model);
  }
  std::string decode(std::span<const attrib::token_id> ids) const {
    return std::visit([&](const auto& m) { return m.decode(ids); }, model);
  }
};

struct loaded_model {
  std::string format;
  std::string architecture;
  std::unique_ptr<attrib::transformer_model> model;
  std::optional<any_tokenizer> tokenizer;
  std::vector<tensor_row> tensors;
};

// Loads --model (and --tokenizer). Without a tokenizer and with `need_tokenizer`, a usage error
// says what to give.
loaded_model load_model(const arguments& a, bool need_tokenizer);

// The tokens of a prompt: option `ids` as comma-separated token ids, or option `text` encoded
// with BOS first. Usage errors name the option.
std::vector<attrib::token_id> prompt_tokens(const arguments& a, const loaded_model& m, const std::string& text = "prompt",
                                            const std::string& ids = "tokens");

// One token named by an option: a token id, or text that the tokenizer encodes as one token
// (after the leading space SentencePiece adds, so "Paris" names the token "▁Paris").
attrib::token_id token_option(const arguments& a, const loaded_model& m, const std::string& option);

// The text of one token (its id when there is no tokenizer).
std::string piece_of(const loaded_model& m, attrib::token_id id);

// A token as a label for pictures and messages: its text with spaces and control bytes made
// visible, or "<id>" for a token without text (BOS, EOS).
std::string token_label(const loaded_model& m, attrib::token_id id);

}  // namespace cli
