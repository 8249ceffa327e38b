#pragma once
// Greedy answers to Q/A prompts, as the post-training examples read them: each answer is what the
// model writes after its prompt, up to and including the closing BOS (llama2.c's separator), and
// its text is that answer without the BOS and without leading spaces.
#include <cstddef>
#include <string>
#include <vector>

#include "attrib/tokenizers/sentencepiece_bpe.hpp"
#include "attrib/transformer/model/generate.hpp"

namespace attrib_examples {

// The generated tokens after each prompt (at most 16), the closing BOS kept when written.
inline std::vector<std::vector<attrib::token_id>> greedy_answers(const attrib::transformer_model& model,
                                                                 const std::vector<std::vector<attrib::token_id>>& prompts,
                                                                 const attrib::sentencepiece_bpe& tok, std::size_t threads) {
  const auto out = attrib::generate(model, prompts, {.max_new_tokens = 16, .stop_tokens = {tok.bos()}, .threads = threads});
  std::vector<std::vector<attrib::token_id>> answers;
  for (std::size_t b = 0; b < out.size(); ++b)
    answers.emplace_back(out[b].begin() + static_cast<std::ptrdiff_t>(prompts[b].size()), out[b].end());
  return answers;
}

// An answer's text: without the closing BOS and the leading spaces.
inline std::string answer_text(std::vector<attrib::token_id> answer, const attrib::sentencepiece_bpe& tok) {
  if (!answer.empty() && answer.back() == tok.bos()) answer.pop_back();
  const std::string text = tok.decode(answer);
  const auto at = text.find_first_not_of(' ');
  return at == std::string::npos ? std::string() : text.substr(at);
}

}  // namespace attrib_examples
