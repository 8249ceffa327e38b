#pragma once
// prompt_token_game: a transformer's next-token preference as a cooperative game whose players are
// the prompt's tokens. A coalition keeps its tokens and replaces every other one by a baseline
// token at the same position (positions, and so the rotary phases, do not move); the value is the
// logit of a target token at the last position, minus that of a contrast token when one is given.
// Every estimator of the game framework then explains prompts unchanged: exact Shapley, KernelSHAP,
// permutation sampling, Banzhaf, LIME, occlusion.
#include <algorithm>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"
#include "attrib/transformer/model/model.hpp"

namespace attrib {

struct prompt_token_game_options {
  token_id baseline = 0;              // what an absent token becomes (a pad, unk or space id)
  token_id target = 0;                // whose logit at the last position is the value
  std::optional<token_id> contrast{}; // subtracted when given: logit(target) - logit(contrast)
  index fixed_prefix = 0;             // leading tokens that always stay (a BOS): not players
  index batch_rows = 64;              // prompts per forward pass; bounds the KV cache's memory
  std::size_t threads = 1;            // threads inside each forward pass; results do not depend on it
};

class prompt_token_game {
 public:
  // Holds a reference to `model`, which must outlive the game. Throws invalid_argument when the
  // prompt leaves no players, or a token id is outside the vocabulary.
  prompt_token_game(const transformer_model& model, std::vector<token_id> prompt,
                    prompt_token_game_options options)
      : model_(&model), prompt_(std::move(prompt)), options_(std::move(options)) {
    const auto length = static_cast<index>(prompt_.size());
    detail::require(options_.fixed_prefix >= 0 && options_.fixed_prefix < length,
                    "prompt_token_game: the prompt has " + std::to_string(length) + " tokens and fixed_prefix " +
                        std::to_string(options_.fixed_prefix) + "; expected at least one token after the prefix");
    detail::require(options_.batch_rows >= 1, "prompt_token_game: batch_rows must be >= 1");
    const index vocab = model.config().vocab_size;
    auto check = [&](token_id t, const std::string& what) {
      detail::require(t >= 0 && t < vocab, "prompt_token_game: " + what + " " + std::to_string(t) +
                                               " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
    };
    for (token_id t : prompt_) check(t, "prompt token");
    check(options_.baseline, "baseline token");
    check(options_.target, "target token");
    if (options_.contrast) check(*options_.contrast, "contrast token");
  }

  index player_count() const { return static_cast<index>(prompt_.size()) - options_.fixed_prefix; }
  const std::vector<token_id>& prompt() const { return prompt_; }

  // The prompt a coalition row stands for: token j + fixed_prefix kept where row(j) > 0.5.
  template <class Row>
  std::vector<token_id> masked_prompt(const Row& row) const {
    std::vector<token_id> out = prompt_;
    for (index j = 0; j < player_count(); ++j)
      if (!(row(j) > 0.5)) out[static_cast<std::size_t>(j + options_.fixed_prefix)] = options_.baseline;
    return out;
  }

  vector values(const matrix& points) const {
    detail::require(points.cols() == player_count(),
                    "prompt_token_game: points have " + std::to_string(points.cols()) + " columns, expected " +
                        std::to_string(player_count()) + " (one per prompt token after the fixed prefix)");
    vector out(points.rows());
    forward_options forward;
    forward.logit_tokens = {options_.target};
    if (options_.contrast) forward.logit_tokens.push_back(*options_.contrast);
    forward.last_position_only = true;
    forward.threads = options_.threads;
    std::vector<std::vector<token_id>> batch;
    for (index begin = 0; begin < points.rows(); begin += options_.batch_rows) {
      const index rows = std::min(options_.batch_rows, points.rows() - begin);
      batch.clear();
      for (index r = 0; r < rows; ++r) batch.push_back(masked_prompt(points.row(begin + r)));
      const std::vector<float_matrix> logits = model_->forward(std::span<const std::vector<token_id>>(batch), forward);
      for (index r = 0; r < rows; ++r) {
        const float_matrix& l = logits[static_cast<std::size_t>(r)];
        out(begin + r) = static_cast<double>(l(0, 0)) - (options_.contrast ? static_cast<double>(l(0, 1)) : 0.0);
      }
    }
    return out;
  }

 private:
  const transformer_model* model_;
  std::vector<token_id> prompt_;
  prompt_token_game_options options_;
};

}  // namespace attrib
