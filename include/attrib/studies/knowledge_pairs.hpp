#pragma once
// True/false statement pairs for causal tracing of factual knowledge, and the few-shot prompts
// they are read through, after "How Post-Training Reshapes LLMs" (Du et al., 2025), section 3.
//
// A pair is a true statement and a false one with the same object that differ only in the
// subject ("Maracay is in Venezuela." / "Bhilai is in Venezuela."), so that patching the true
// run's activations into the false run shows where the model keeps what it knows about the
// subject. Each is wrapped in a few-shot prompt: a fixed set of labelled examples, shuffled per
// pair, each "{statement}{suffix}{answer}\n", then "{statement}{suffix}". The model's verdict is
// d = logit(TRUE) - logit(FALSE) at the last position.
//
// The paper keeps only statements that match one hard-coded token template per model family; here
// the template is found from the data: a pair's two prompts must have the same number of tokens,
// and every kept pair the same shape - the same number of traced positions (the statement and the
// suffix), with its subject and object tokens at the same columns (the most common shape wins) -
// so that their heatmaps line up column by column and average. Pairs that fail either test are
// skipped and counted, as the paper does.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "attrib/concepts/tokenizer.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/random.hpp"
#include "attrib/core/types.hpp"
#include "attrib/studies/few_shot_prompt.hpp"
#include "attrib/studies/truth_datasets.hpp"

namespace attrib {

// What a traced column holds: part of the subject (where the pair's statements differ, or the
// subject's own tokens), part of the object, or anything else. Subject and object columns are the
// paper's "knowledge columns".
enum class column_role { other, subject, object };

inline const char* to_string(column_role r) {
  switch (r) {
    case column_role::other: return "other";
    case column_role::subject: return "subject";
    case column_role::object: return "object";
  }
  return "?";
}

struct knowledge_prompt_options {
  // The labelled examples every prompt starts with; empty: choose_few_shot(dataset, seed,
  // few_shot_per_label). Statements used here are never traced.
  std::vector<labelled_statement> few_shot = {};
  std::size_t few_shot_per_label = 2;
  statement_format format = {};
  std::uint64_t seed = 1;     // the few-shot choice and each pair's shuffle of it
  std::size_t max_pairs = 0;  // 0: every pair the filter keeps
};

struct knowledge_pair {
  labelled_statement true_statement;
  labelled_statement false_statement;
  std::vector<token_id> true_prompt;   // BOS, the few-shot examples, the statement, the suffix
  std::vector<token_id> false_prompt;  // the same examples in the same order
};

struct knowledge_pairs {
  std::vector<knowledge_pair> pairs;
  std::vector<labelled_statement> few_shot;
  // The traced columns are the last `window` positions of every prompt: the statement and the
  // suffix. roles and column_labels (the first pair's false-prompt tokens) have one entry each.
  index window = 0;
  std::vector<column_role> roles;
  std::vector<std::string> column_labels;
  // The first token of each answer after the prompt, the two logits d compares.
  token_id true_token = -1;
  token_id false_token = -1;
  // Why true statements were not traced.
  std::size_t candidates = 0;       // true statements that are not few-shot examples
  std::size_t without_partner = 0;  // no unused false statement has the same object
  std::size_t unequal_length = 0;   // partners exist, but none with the same token count
  // A pair of another shape than the kept pairs: its statement and suffix span another token
  // count, or its subject or object sits at other positions.
  std::size_t other_shape = 0;
  std::size_t beyond_max = 0;       // kept by the filter, dropped by max_pairs

  // One flag per column: subject or object.
  std::vector<bool> knowledge_columns() const {
    std::vector<bool> k;
    for (const auto r : roles) k.push_back(r != column_role::other);
    return k;
  }
};

// per_label true statements drawn with rng(seed), then as many false ones, preferring false
// statements about the chosen true statements' subjects (the paper's cities examples pair "Dar es
// Salaam is in Tanzania." with "Dar es Salaam is in Italy."). Throws invalid_argument when the
// dataset has fewer than per_label statements of either label.
inline std::vector<labelled_statement> choose_few_shot(const truth_dataset& data, std::uint64_t seed,
                                                       std::size_t per_label = 2) {
  require_both_labels(data, "choose_few_shot");
  if (per_label == 0) throw invalid_argument("choose_few_shot: per_label must be positive");
  std::vector<std::size_t> positives, negatives;
  for (std::size_t i = 0; i < data.statements.size(); ++i)
    (data.statements[i].label ? positives : negatives).push_back(i);
  if (positives.size() < per_label || negatives.size() < per_label)
    throw invalid_argument("choose_few_shot: the dataset '" + data.name + "' has " +
                           std::to_string(positives.size()) + " true and " +
                           std::to_string(negatives.size()) + " false statements; " +
                           std::to_string(per_label) + " of each are needed");
  rng gen(seed);
  gen.shuffle(positives.begin(), positives.end());
  gen.shuffle(negatives.begin(), negatives.end());
  positives.resize(per_label);
  std::vector<std::size_t> chosen_negatives;
  for (std::size_t p : positives) {
    const auto& subject = data.statements[p].subject;
    if (subject.empty()) continue;
    for (std::size_t n : negatives)
      if (data.statements[n].subject == subject &&
          std::find(chosen_negatives.begin(), chosen_negatives.end(), n) == chosen_negatives.end()) {
        chosen_negatives.push_back(n);
        break;
      }
  }
  for (std::size_t n : negatives) {
    if (chosen_negatives.size() >= per_label) break;
    if (std::find(chosen_negatives.begin(), chosen_negatives.end(), n) == chosen_negatives.end())
      chosen_negatives.push_back(n);
  }
  chosen_negatives.resize(per_label);
  std::vector<labelled_statement> out;
  for (std::size_t p : positives) out.push_back(data.statements[p]);
  for (std::size_t n : chosen_negatives) out.push_back(data.statements[n]);
  return out;
}

namespace detail {

inline std::string strip_trailing(std::string s, const char* characters) {
  s.erase(s.find_last_not_of(characters) + 1);
  return s;
}

// The token positions [first, last) of `part` of `statement` (found from the end when `from_end`)
// within a prompt that is `prefix + statement + ...`: the token counts of the prompt text before
// the part and through it. Empty when the part is absent or the tokenisation is not
// prefix-stable there.
template <tokenizer Tokenizer>
std::pair<index, index> token_span(const Tokenizer& tok, const std::string& prefix,
                                   const std::string& statement, const std::string& part,
                                   bool from_end, std::span<const token_id> prompt) {
  if (part.empty()) return {0, 0};
  const auto at = from_end ? statement.rfind(part) : statement.find(part);
  if (at == std::string::npos) return {0, 0};
  const auto before = tok.encode(prefix + strip_trailing(statement.substr(0, at), " "), true);
  const auto through = tok.encode(prefix + statement.substr(0, at + part.size()), true);
  const auto first = static_cast<index>(before.size()), last = static_cast<index>(through.size());
  if (first >= last || last > static_cast<index>(prompt.size()) ||
      !std::equal(before.begin(), before.end(), prompt.begin()))
    return {0, 0};
  return {first, last};
}

}  // namespace detail

// The pairs of `data` that the filter keeps, with their prompts. Throws invalid_argument when the
// dataset lacks either label, few-shot examples lack either label, the two answers begin with the
// same token, or no pair survives the filter (the message gives the counts).
template <tokenizer Tokenizer>
knowledge_pairs make_knowledge_pairs(const truth_dataset& data, const Tokenizer& tok,
                                     const knowledge_prompt_options& options = {}) {
  require_both_labels(data, "make_knowledge_pairs");
  knowledge_pairs out;
  out.few_shot = options.few_shot.empty()
                     ? choose_few_shot(data, options.seed, options.few_shot_per_label)
                     : options.few_shot;
  const auto labelled = [&](bool label) {
    return std::count_if(out.few_shot.begin(), out.few_shot.end(),
                         [&](const labelled_statement& s) { return s.label == label; });
  };
  if (labelled(true) == 0 || labelled(false) == 0)
    throw invalid_argument("make_knowledge_pairs: the few-shot examples need at least one true "
                           "and one false statement");
  std::set<std::string> examples;
  for (const auto& s : out.few_shot) examples.insert(s.statement);

  struct candidate {
    std::size_t true_index, false_index;
    std::string prefix;
    index window;
  };
  std::vector<candidate> found;
  std::vector<bool> used(data.statements.size(), false);
  for (std::size_t i = 0; i < data.statements.size(); ++i) {
    const auto& t = data.statements[i];
    if (!t.label || examples.contains(t.statement)) continue;
    ++out.candidates;
    // This pair's order of the examples depends on the seed and the statement's index alone.
    const std::string prefix = few_shot_context(out.few_shot, options.format, options.seed, i);
    const auto true_length = tok.encode(prefix + t.statement + options.format.suffix, true).size();
    bool partner = false, matched = false;
    for (std::size_t j = 0; j < data.statements.size() && !matched; ++j) {
      const auto& f = data.statements[j];
      if (f.label || used[j] || f.object.empty() || f.object != t.object || examples.contains(f.statement))
        continue;
      partner = true;
      if (tok.encode(prefix + f.statement + options.format.suffix, true).size() != true_length) continue;
      used[j] = matched = true;
      // The statement starts where the prompts stop agreeing with the examples' tokens alone (a
      // prefix ending in a space leaves a space token that the statement's first word absorbs).
      const auto examples_tokens = tok.encode(prefix, true);
      const auto true_prompt = tok.encode(prefix + t.statement + options.format.suffix, true);
      const auto shared = std::mismatch(examples_tokens.begin(), examples_tokens.end(), true_prompt.begin(), true_prompt.end());
      const auto prefix_length = static_cast<index>(shared.first - examples_tokens.begin());
      found.push_back({i, j, prefix, static_cast<index>(true_length) - prefix_length});
    }
    if (!partner) ++out.without_partner;
    else if (!matched) ++out.unequal_length;
  }

  // Each pair's prompts and the role of each traced column: where the two statements differ or
  // the subject lies, where the object lies.
  struct shaped_pair {
    knowledge_pair pair;
    std::string prefix;
    std::pair<index, std::vector<column_role>> shape;  // window, roles
  };
  std::vector<shaped_pair> shaped;
  for (const auto& c : found) {
    knowledge_pair p{data.statements[c.true_index], data.statements[c.false_index], {}, {}};
    p.true_prompt = tok.encode(c.prefix + p.true_statement.statement + options.format.suffix, true);
    p.false_prompt = tok.encode(c.prefix + p.false_statement.statement + options.format.suffix, true);
    const auto length = static_cast<index>(p.false_prompt.size());
    const index first = length - c.window;
    std::vector<column_role> roles(static_cast<std::size_t>(std::max<index>(c.window, 0)), column_role::other);
    auto mark = [&](std::pair<index, index> span, column_role role) {
      for (index q = std::max(span.first, first); q < span.second; ++q)
        if (roles[static_cast<std::size_t>(q - first)] == column_role::other) roles[static_cast<std::size_t>(q - first)] = role;
    };
    for (index q = std::max<index>(first, 0); q < length; ++q)
      if (p.true_prompt[static_cast<std::size_t>(q)] != p.false_prompt[static_cast<std::size_t>(q)])
        roles[static_cast<std::size_t>(q - first)] = column_role::subject;
    for (const auto* s : {&p.true_statement, &p.false_statement}) {
      const auto& prompt = s == &p.true_statement ? p.true_prompt : p.false_prompt;
      mark(detail::token_span(tok, c.prefix, s->statement, s->subject, false, prompt), column_role::subject);
      const std::string statement = detail::strip_trailing(s->statement, ".");
      mark(detail::token_span(tok, c.prefix, statement, s->object, true, prompt), column_role::object);
    }
    shaped.push_back({std::move(p), c.prefix, {c.window, std::move(roles)}});
  }

  // Keep the most common shape (the first such on a tie): the paper's token template, found
  // from the data, so that column c means the same token of every pair.
  std::map<std::pair<index, std::vector<column_role>>, std::size_t> shapes;
  for (const auto& s : shaped) ++shapes[s.shape];
  const std::pair<index, std::vector<column_role>>* kept = nullptr;
  std::size_t most = 0;
  for (const auto& s : shaped)
    if (s.shape.first > 0 && shapes[s.shape] > most) {
      most = shapes[s.shape];
      kept = &s.shape;
    }
  if (kept != nullptr) {
    out.window = kept->first;
    out.roles = kept->second;
  }
  for (auto& s : shaped) {
    if (kept == nullptr || s.shape != *kept) {
      ++out.other_shape;
      continue;
    }
    if (options.max_pairs != 0 && out.pairs.size() >= options.max_pairs) {
      ++out.beyond_max;
      continue;
    }
    auto& p = s.pair;
    if (out.pairs.empty()) {
      const std::string prompt_text = s.prefix + p.false_statement.statement + options.format.suffix;
      std::tie(out.true_token, out.false_token) =
          answer_tokens(tok, prompt_text, p.false_prompt, options.format, "make_knowledge_pairs");
      const auto length = static_cast<index>(p.false_prompt.size());
      for (index q = length - out.window; q < length; ++q)
        out.column_labels.push_back(tok.decode(std::span<const token_id>(&p.false_prompt[static_cast<std::size_t>(q)], 1)));
    }
    out.pairs.push_back(std::move(p));
  }
  if (out.pairs.empty())
    throw invalid_argument("make_knowledge_pairs: no pair of '" + data.name + "' passes the filter (" +
                           std::to_string(out.candidates) + " true statements, " +
                           std::to_string(out.without_partner) + " without a false statement of the same object, " +
                           std::to_string(out.unequal_length) + " with partners of other token counts only)");
  return out;
}

}  // namespace attrib
