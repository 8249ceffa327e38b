#pragma once
// Few-shot true/false prompts, shared by the studies that ask a model about statements (knowledge
// tracing, truth interventions): labelled examples, each "{prefix}{statement}{suffix}{answer}\n",
// shuffled per item, then the statement in question as "{prefix}{statement}{suffix}". The model's
// verdict is read from the logits of the answers' first tokens at the last position.
#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "attrib/concepts/tokenizer.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/random.hpp"
#include "attrib/core/types.hpp"
#include "attrib/studies/truth_datasets.hpp"

namespace attrib {

// How a statement is asked and answered: "{prefix}{statement}{suffix}" then an answer. The paper
// uses no prefix; a Q/A or chat template sets one (prefix "Q: ", suffix " TRUE or FALSE?\nA:").
struct statement_format {
  std::string prefix = "";
  std::string suffix = " This statement is:";
  std::string true_answer = " TRUE";
  std::string false_answer = " FALSE";
};

// The text a statement is appended to: the examples in the order rng::stream(seed, item) shuffles
// them to, each on its own line with its answer, then the format's prefix. The order depends on
// (seed, item) alone, so an item's prompt does not change when other items are added or dropped.
inline std::string few_shot_context(std::span<const labelled_statement> examples, const statement_format& f,
                                    std::uint64_t seed, std::uint64_t item) {
  std::vector<labelled_statement> order(examples.begin(), examples.end());
  rng shuffle = rng::stream(seed, item);
  shuffle.shuffle(order.begin(), order.end());
  std::string context;
  for (const auto& e : order)
    context += f.prefix + e.statement + f.suffix + (e.label ? f.true_answer : f.false_answer) + "\n";
  return context + f.prefix;
}

// The first token of `answer` after `prompt` (the ids of `prompt_text`); invalid_argument, naming
// `who`, when encoding the prompt and the answer together does not extend the prompt's tokens.
template <tokenizer Tokenizer>
token_id answer_token(const Tokenizer& tok, const std::string& prompt_text, std::span<const token_id> prompt,
                      const std::string& answer, const std::string& who) {
  const auto with_answer = tok.encode(prompt_text + answer, true);
  if (with_answer.size() <= prompt.size() || !std::equal(prompt.begin(), prompt.end(), with_answer.begin()))
    throw invalid_argument(who + ": the answer '" + answer +
                           "' does not start a token of its own after the prompt; choose answers "
                           "the tokenizer separates from the suffix");
  return with_answer[prompt.size()];
}

// The true and false answers' first tokens after `prompt`; invalid_argument when they are the
// same token, whose logits could not tell the answers apart.
template <tokenizer Tokenizer>
std::pair<token_id, token_id> answer_tokens(const Tokenizer& tok, const std::string& prompt_text,
                                            std::span<const token_id> prompt, const statement_format& f,
                                            const std::string& who) {
  const token_id t = answer_token(tok, prompt_text, prompt, f.true_answer, who);
  const token_id u = answer_token(tok, prompt_text, prompt, f.false_answer, who);
  if (t == u)
    throw invalid_argument(who + ": the answers '" + f.true_answer + "' and '" + f.false_answer +
                           "' begin with the same token, so their logits cannot be compared");
  return {t, u};
}

}  // namespace attrib
