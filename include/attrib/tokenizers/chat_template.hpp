#pragma once
// Chat templates of the common model families as plain string templates: what the families'
// Jinja chat templates (tokenizer_config.json) render, written out for the three roles system,
// user and assistant. Special tokens appear as their text (<s>, <|eot_id|>, ...); a
// byte_level_bpe encodes them as their added tokens.
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "attrib/core/error.hpp"
#include "attrib/core/text.hpp"

namespace attrib {

enum class chat_family {
  llama2,   // Llama-2-chat: <s>[INST] <<SYS>>\n...\n<</SYS>>\n\n... [/INST] ... </s>
  llama3,   // Llama-3-Instruct: <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|>
  chatml,   // ChatML (Qwen, Yi, OpenHermes, ...): <|im_start|>role\n...<|im_end|>\n
  mistral,  // Mistral-7B-Instruct v0.1: <s>[INST] ... [/INST]...</s>, no system message
  zephyr,   // Zephyr and TinyLlama-Chat: <|role|>\n...</s>\n
  plain,    // "User: ...\nAssistant: ...\n", for base models without a template
};

struct chat_message {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

// The family named `name`: llama2, llama3, chatml (or qwen), mistral, zephyr (or tinyllama),
// plain. Throws invalid_argument listing the names otherwise.
inline chat_family chat_family_from_name(std::string_view name) {
  constexpr std::pair<std::string_view, chat_family> names[] = {
      {"llama2", chat_family::llama2}, {"llama3", chat_family::llama3},   {"chatml", chat_family::chatml},
      {"qwen", chat_family::chatml},   {"mistral", chat_family::mistral}, {"zephyr", chat_family::zephyr},
      {"tinyllama", chat_family::zephyr}, {"plain", chat_family::plain}};
  for (const auto& [n, family] : names)
    if (n == name) return family;
  throw invalid_argument("chat template '" + std::string(name) +
                         "' is unknown; known are llama2, llama3, chatml, qwen, mistral, zephyr, tinyllama, plain");
}

namespace detail {
// The Llama 2 and Mistral templates require user and assistant turns to alternate, user first.
inline void require_alternation(std::span<const chat_message> turns, const char* family) {
  for (std::size_t k = 0; k < turns.size(); ++k) {
    const char* expected = k % 2 == 0 ? "user" : "assistant";
    if (turns[k].role != expected)
      throw invalid_argument(std::string(family) + " chat template: message " + std::to_string(k) + " has role '" +
                             turns[k].role + "', expected '" + expected +
                             "' (user and assistant must alternate, user first)");
  }
}
}  // namespace detail

// The prompt text of `messages` in `family`'s format, ending with the assistant's header when
// add_generation_prompt (Llama 2 and Mistral prompts end at [/INST] either way). Throws
// invalid_argument for a role other than system, user and assistant, a system message anywhere
// but first, or, for Llama 2 and Mistral, turns that do not alternate (Mistral v0.1 has no system
// role at all).
inline std::string apply_chat_template(chat_family family, std::span<const chat_message> messages,
                                       bool add_generation_prompt = true) {
  for (std::size_t k = 0; k < messages.size(); ++k) {
    const auto& role = messages[k].role;
    if (role != "system" && role != "user" && role != "assistant")
      throw invalid_argument("chat template: message " + std::to_string(k) + " has role '" + role +
                             "', expected system, user or assistant");
    if (role == "system" && k != 0)
      throw invalid_argument("chat template: message " + std::to_string(k) +
                             " is a system message; only the first message may be one");
  }
  const bool has_system = !messages.empty() && messages[0].role == "system";
  std::string out;
  switch (family) {
    case chat_family::llama2: {
      const auto turns = messages.subspan(has_system ? 1 : 0);
      detail::require_alternation(turns, "llama2");
      for (std::size_t k = 0; k < turns.size(); ++k) {
        std::string content = turns[k].content;
        if (k == 0 && has_system) content = "<<SYS>>\n" + messages[0].content + "\n<</SYS>>\n\n" + content;
        if (turns[k].role == "user")
          out += "<s>[INST] " + std::string(detail::trim(content)) + " [/INST]";
        else
          out += " " + std::string(detail::trim(content)) + " </s>";
      }
      break;
    }
    case chat_family::llama3:
      out = "<|begin_of_text|>";
      for (const auto& m : messages)
        out += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + std::string(detail::trim(m.content)) +
               "<|eot_id|>";
      if (add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
      break;
    case chat_family::chatml:
      for (const auto& m : messages) out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
      if (add_generation_prompt) out += "<|im_start|>assistant\n";
      break;
    case chat_family::mistral:
      if (has_system) throw invalid_argument("mistral chat template: Mistral-7B-Instruct has no system role");
      detail::require_alternation(messages, "mistral");
      out = "<s>";
      for (const auto& m : messages)
        out += m.role == "user" ? "[INST] " + m.content + " [/INST]" : m.content + "</s>";
      break;
    case chat_family::zephyr:
      for (const auto& m : messages) out += "<|" + m.role + "|>\n" + m.content + "</s>\n";
      if (add_generation_prompt) out += "<|assistant|>\n";
      break;
    case chat_family::plain:
      for (const auto& m : messages) {
        const char* label = m.role == "system" ? "System: " : m.role == "user" ? "User: " : "Assistant: ";
        out += label + m.content + "\n";
      }
      if (add_generation_prompt) out += "Assistant:";
      break;
  }
  return out;
}

}  // namespace attrib
