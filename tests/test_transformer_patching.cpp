// The efficient activation-patching sweep (patching.hpp) against the naive one, a full forward pass
// with a replace hook per cell, on stories260K with prompts encoded by its tokenizer.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "attrib/games/prompt_token_game.hpp"
#include "attrib/methods/feature/lime.hpp"
#include "attrib/methods/feature/shapley.hpp"
#include "attrib/tokenizers/sentencepiece_bpe.hpp"
#include "attrib/transformer/loading/llama2c_loader.hpp"
#include "attrib/transformer/hooks/patching.hpp"

#ifndef ATTRIB_DATA_DIR
#define ATTRIB_DATA_DIR "data"
#endif

namespace {

using attrib::token_id;

const std::filesystem::path model_dir =
    std::filesystem::path(ATTRIB_DATA_DIR) / "models" / "stories260K";

const attrib::transformer_model& model() {
  static const auto m = attrib::load_llama2c_model(model_dir / "stories260K.bin");
  return m;
}

const attrib::sentencepiece_bpe& tokenizer() {
  static const auto t =
      attrib::load_llama2c_tokenizer(model_dir / "tok512.bin", static_cast<std::size_t>(model().config().vocab_size));
  return t;
}

float max_abs_difference(const attrib::float_matrix& a, const attrib::float_matrix& b) {
  REQUIRE(a.rows() == b.rows());
  REQUIRE(a.cols() == b.cols());
  return a.size() == 0 ? 0.0f : (a - b).cwiseAbs().maxCoeff();
}

}  // namespace

TEST_CASE("patching sweep: efficient equals naive on stories260K, resid_pre and resid_post") {
  const auto clean = tokenizer().encode("Lily saw a big dog in the park. The");
  const auto corrupt = tokenizer().encode("Lily saw a big cat in the park. The");
  REQUIRE(clean.size() == corrupt.size());
  REQUIRE(clean.size() >= 8);
  // " dog" starts with the piece " do", " cat" with " c".
  const token_id a = tokenizer().encode("dog", false)[0];
  const token_id b = tokenizer().encode("cat", false)[0];

  for (const auto point : {attrib::hook_kind::resid_pre, attrib::hook_kind::resid_post}) {
    CAPTURE(static_cast<int>(point));
    attrib::patching_sweep_options options;
    options.point = point;
    options.logit_tokens = {a, b, 2};
    options.batch_cells = 7;  // batches that split layers and positions unevenly
    // Progress: one report per batch, counting up to every cell.
    std::vector<std::pair<std::size_t, std::size_t>> reports;
    options.progress = [&](std::size_t done, std::size_t total) { reports.emplace_back(done, total); };
    const auto fast = attrib::activation_patching_sweep(model(), clean, corrupt, options);
    const std::size_t cells = static_cast<std::size_t>(model().config().n_layers) * clean.size();
    REQUIRE(reports.size() == (cells + 6) / 7);
    CHECK(reports.front() == std::pair<std::size_t, std::size_t>{7, cells});
    CHECK(reports.back() == std::pair<std::size_t, std::size_t>{cells, cells});
    options.progress = {};
    const auto naive = attrib::naive_activation_patching_sweep(model(), clean, corrupt, options);
    CHECK(fast.layers.size() == static_cast<std::size_t>(model().config().n_layers));
    CHECK(fast.positions.size() == clean.size());
    CHECK(max_abs_difference(fast.logits, naive.logits) <= 1e-5f);
    CHECK(max_abs_difference(fast.clean_logits, naive.clean_logits) <= 1e-5f);
    CHECK(max_abs_difference(fast.corrupted_logits, naive.corrupted_logits) <= 1e-5f);
    const auto grid = fast.logit_difference(a, b);
    CHECK(max_abs_difference(grid, naive.logit_difference(a, b)) <= 1e-5f);

    // Patching the shared prefix changes nothing (those cells take the skip_unchanged path).
    const float corrupted_diff = fast.corrupted_logits(0, 0) - fast.corrupted_logits(0, 1);
    for (attrib::index l = 0; l < grid.rows(); ++l)
      for (attrib::index p = 0; p < 5; ++p) CHECK(grid(l, p) == corrupted_diff);
    options.skip_unchanged = false;
    const auto computed = attrib::activation_patching_sweep(model(), clean, corrupt, options);
    CHECK(max_abs_difference(computed.logits, naive.logits) <= 1e-5f);
    // Patching the last position of the last layer's output gives exactly the clean logits.
    if (point == attrib::hook_kind::resid_post) {
      const float clean_diff = fast.clean_logits(0, 0) - fast.clean_logits(0, 1);
      CHECK(grid(grid.rows() - 1, grid.cols() - 1) == clean_diff);
    }
  }
}

TEST_CASE("patching sweep: full vocabulary, a sub-grid, and batch size do not change results") {
  const auto clean = tokenizer().encode("Once upon a time, there was a big dog");
  const auto corrupt = tokenizer().encode("Once upon a time, there was a big cat");
  REQUIRE(clean.size() == corrupt.size());
  attrib::patching_sweep_options options;
  options.layers = {1, 3};
  options.positions = {0, static_cast<attrib::index>(clean.size()) - 2,
                       static_cast<attrib::index>(clean.size()) - 1};
  options.batch_cells = 1;
  const auto one = attrib::activation_patching_sweep(model(), clean, corrupt, options);
  options.batch_cells = 64;
  const auto all = attrib::activation_patching_sweep(model(), clean, corrupt, options);
  const auto naive = attrib::naive_activation_patching_sweep(model(), clean, corrupt, options);
  // Position 0 (BOS in both) is a no-op patch; computing it anyway gives the same bits.
  options.skip_unchanged = false;
  const auto computed = attrib::activation_patching_sweep(model(), clean, corrupt, options);
  CHECK(max_abs_difference(computed.logits, all.logits) == 0.0f);
  CHECK(one.logits.cols() == model().config().vocab_size);
  CHECK(one.logits.rows() == 6);
  CHECK(max_abs_difference(one.logits, all.logits) == 0.0f);
  CHECK(max_abs_difference(all.logits, naive.logits) <= 1e-5f);
}

TEST_CASE("patched_logits: arbitrary replacement values equal a replace hook") {
  const auto tokens = tokenizer().encode("The sun was shining and the birds sang");
  const auto base = attrib::record_run(model(), tokens, {5, 6, 7});
  const auto n = static_cast<attrib::index>(tokens.size());
  CHECK(base.residual.size() == static_cast<std::size_t>(model().config().n_layers + 1));
  CHECK(base.residual[0].rows() == n);
  // A steering-like value: twice the stream of another position.
  const attrib::float_vector value = 2.0f * base.residual[2].row(1).transpose();
  const attrib::residual_patch patch{2, 4, {value.data(), static_cast<std::size_t>(value.size())}};
  const auto fast = attrib::patched_logits(model(), base, std::span(&patch, 1), {.logit_tokens = {5, 6, 7}});

  attrib::activation_cache source;
  source.store(attrib::hook_point::resid_pre(2), {0, 4}, value.data(), value.size());
  attrib::hook_set hooks;
  hooks.replace(attrib::hook_point::resid_pre(2), source, {.rows = {}, .positions = {4}});
  attrib::forward_options o;
  o.hooks = &hooks;
  o.logit_tokens = {5, 6, 7};
  o.last_position_only = true;
  const auto full = model().forward(std::vector<std::vector<token_id>>{tokens}, o)[0];
  CHECK(max_abs_difference(fast, full) <= 1e-5f);
}

TEST_CASE("extend_run: continuing a recorded prefix gives record_run's bits") {
  const auto tokens = tokenizer().encode("Lily saw a big dog in the park. The dog ran to her.");
  const std::vector<token_id> prefix(tokens.begin(), tokens.begin() + 6);
  const auto whole = attrib::record_run(model(), tokens, {}, 2);
  const auto continued = attrib::extend_run(model(), attrib::record_run(model(), prefix), tokens, {}, 2);
  CHECK(continued.tokens == whole.tokens);
  REQUIRE(continued.residual.size() == whole.residual.size());
  for (std::size_t l = 0; l < whole.residual.size(); ++l) CHECK((continued.residual[l].array() == whole.residual[l].array()).all());
  for (std::size_t l = 0; l < whole.queries.size(); ++l) CHECK((continued.queries[l].array() == whole.queries[l].array()).all());
  CHECK((continued.last_logits.array() == whole.last_logits.array()).all());
  const auto& c = model().config();
  for (attrib::index l = 0; l < c.n_layers; ++l)
    for (attrib::index t = 0; t < static_cast<attrib::index>(tokens.size()); ++t)
      for (attrib::index j = 0; j < c.kv_dim(); ++j) {
        CHECK(continued.cache.key(0, l, t)[j] == whole.cache.key(0, l, t)[j]);
        CHECK(continued.cache.value(0, l, t)[j] == whole.cache.value(0, l, t)[j]);
      }
  CHECK_THROWS_WITH_AS(attrib::extend_run(model(), whole, prefix), doctest::Contains("not a proper prefix"),
                       attrib::invalid_argument);
  auto other = tokens;
  other[3] = other[3] == 1 ? 2 : 1;
  CHECK_THROWS_WITH_AS(attrib::extend_run(model(), attrib::record_run(model(), prefix), other), doctest::Contains("not a proper prefix"),
                       attrib::invalid_argument);
}

TEST_CASE("patching: bad input names the argument") {
  const auto tokens = tokenizer().encode("Lily and Tom");
  const auto base = attrib::record_run(model(), tokens);
  const std::vector<float> value(static_cast<std::size_t>(model().config().dim), 0.0f);
  const std::vector<float> narrow(3, 0.0f);
  const auto n = static_cast<attrib::index>(tokens.size());
  using patch = attrib::residual_patch;
  const std::vector<patch> bad_layer = {{model().config().n_layers + 1, 0, value}};
  const std::vector<patch> bad_position = {{0, n, value}};
  const std::vector<patch> bad_width = {{0, 0, narrow}};
  CHECK_THROWS_AS(attrib::patched_logits(model(), base, bad_layer), attrib::invalid_argument);
  CHECK_THROWS_AS(attrib::patched_logits(model(), base, bad_position), attrib::invalid_argument);
  CHECK_THROWS_AS(attrib::patched_logits(model(), base, bad_width), attrib::invalid_argument);
  const std::vector<patch> fine = {{0, 0, value}};
  CHECK_THROWS_AS(attrib::patched_logits(model(), base, fine, {.batch_cells = 0}),
                  attrib::invalid_argument);
  CHECK_THROWS_AS(attrib::patched_logits(model(), base, fine, {.logit_tokens = {100000}}),
                  attrib::invalid_argument);
  CHECK_THROWS_AS(attrib::record_run(model(), std::vector<token_id>{}), attrib::invalid_argument);

  const auto shorter = tokenizer().encode("Lily");
  CHECK_THROWS_AS(attrib::activation_patching_sweep(model(), tokens, shorter),
                  attrib::invalid_argument);
  attrib::patching_sweep_options options;
  options.point = attrib::hook_kind::mlp_out;
  CHECK_THROWS_AS(attrib::activation_patching_sweep(model(), tokens, tokens, options),
                  attrib::invalid_argument);
  options.point = attrib::hook_kind::resid_pre;
  options.layers = {model().config().n_layers};
  CHECK_THROWS_AS(attrib::activation_patching_sweep(model(), tokens, tokens, options),
                  attrib::invalid_argument);
  const auto sweep = attrib::activation_patching_sweep(model(), tokens, tokens, {.logit_tokens = {4}});
  CHECK_THROWS_AS(sweep.logit_difference(4, 5), attrib::invalid_argument);
}

TEST_CASE("prompt tokens as players: Shapley and LIME over a prompt are compositions of the game framework") {
  const auto prompt = tokenizer().encode("Lily saw a big dog. The");
  const token_id dog = tokenizer().encode("dog", false)[0];
  const token_id cat = tokenizer().encode("cat", false)[0];
  const token_id space = tokenizer().encode(" ", false).back();
  // BOS and the first token stay; exact Shapley over the other seven is 128 forward passes.
  const std::size_t prefix = 2;
  const attrib::prompt_token_game game(model(), prompt,
                                       {.baseline = space, .target = dog, .contrast = cat, .fixed_prefix = prefix});
  const auto n = static_cast<Eigen::Index>(prompt.size() - prefix);
  REQUIRE(game.player_count() == n);

  // The value of a coalition is the logit difference of a plain forward pass on the masked prompt.
  auto direct = [&](std::vector<token_id> tokens) {
    const std::vector<std::vector<token_id>> one{std::move(tokens)};
    const attrib::float_matrix logits = model().forward(std::span<const std::vector<token_id>>(one))[0];
    const auto last = logits.rows() - 1;
    return static_cast<double>(logits(last, dog)) - static_cast<double>(logits(last, cat));
  };
  attrib::matrix points = attrib::matrix::Ones(3, n);
  points(1, 0) = 0.0;  // the first free token replaced
  points.row(2).setZero();
  const attrib::vector v = game.values(points);
  CHECK(v(0) == doctest::Approx(direct(prompt)).epsilon(1e-6));
  std::vector<token_id> without = prompt;
  without[prefix] = space;
  CHECK(v(1) == doctest::Approx(direct(without)).epsilon(1e-6));
  std::vector<token_id> empty(prompt.size(), space);
  std::copy_n(prompt.begin(), prefix, empty.begin());
  CHECK(v(2) == doctest::Approx(direct(empty)).epsilon(1e-6));

  // Exact Shapley over the prompt's tokens: efficient, and the same on 1 and 2 threads.
  const auto one = attrib::exact_shapley{}.explain(game, {.threads = 1});
  const auto two = attrib::exact_shapley{}.explain(game, {.threads = 2});
  CHECK(one.values == two.values);
  CHECK(one.values.sum() == doctest::Approx(v(0) - v(2)).epsilon(1e-9));
  // " dog" itself carries the most weight towards "dog" over "cat".
  Eigen::Index top = 0;
  one.values.maxCoeff(&top);
  const auto dog_position = static_cast<Eigen::Index>(std::find(prompt.begin(), prompt.end(), dog) - prompt.begin());
  REQUIRE(dog_position < static_cast<Eigen::Index>(prompt.size()));
  CHECK(top == dog_position - static_cast<Eigen::Index>(prefix));
  // LIME on the same game: a composition too; finite, one value per token.
  const auto lime = attrib::lime<>{.solver = {.budget = 256}}.explain(game, {.seed = 3});
  CHECK(lime.values.size() == n);
  CHECK(lime.values.allFinite());

  CHECK_THROWS_AS(attrib::prompt_token_game(model(), prompt, {.target = 100000}), attrib::invalid_argument);
  CHECK_THROWS_AS(attrib::prompt_token_game(model(), {prompt[0]}, {.fixed_prefix = 1}), attrib::invalid_argument);
}
