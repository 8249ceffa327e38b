// Knowledge editing with ROME (studies/knowledge_editing.hpp) on stories260K: the key covariance
// against a plain loop over cached activations; the rank-one update against its defining
// properties (W' k* = v*, and W' k = W k for k^T C^-1 k* = 0, with C^-1 from an LU inverse
// written here); the gradient that drives delta against central differences of the loss computed
// here on a double-precision tape; an edit that makes " big" follow "Lily has a red ball. The
// ball is", read back with a plain forward pass of the edited weights; the study and the layer
// sweep against those numbers; the reports; bad input by name.
#include <doctest/doctest.h>

#include <Eigen/LU>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "attrib/studies/edit_requests.hpp"
#include "attrib/studies/knowledge_editing.hpp"
#include "attrib/tokenizers/sentencepiece_bpe.hpp"
#include "attrib/transformer/loading/llama2c_loader.hpp"

#ifndef ATTRIB_DATA_DIR
#define ATTRIB_DATA_DIR "data"
#endif

namespace {

using attrib::edit_prompt;
using attrib::hook_point;
using attrib::token_id;

const std::filesystem::path models_dir = std::filesystem::path(ATTRIB_DATA_DIR) / "models";

const attrib::transformer_model& stories_model() {
  static const auto m = attrib::load_llama2c_model(models_dir / "stories260K" / "stories260K.bin");
  return m;
}
const attrib::sentencepiece_bpe& stories_tok() {
  static const auto t = attrib::load_llama2c_tokenizer(models_dir / "stories260K" / "tok512.bin",
                                                       static_cast<std::size_t>(stories_model().config().vocab_size));
  return t;
}
const attrib::transformer_parameters& stories_parameters() {
  static const auto p = attrib::transformer_parameters::from_model(stories_model());
  return p;
}

// Text in the style of the stories the model was trained on (written for this test), 851
// tokens: more than the hidden width (172), so the key covariance is invertible.
std::vector<std::vector<token_id>> story_sample() {
  static const char* stories[] = {
      "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she "
      "saw a big red ball under a tree. She ran to get it and threw it to her friend Tom. Tom laughed and threw it "
      "back. They played all day until the sun went down.",
      "Tom had a small dog named Max. Max liked to run and jump. Every morning, Tom and Max went for a walk. One "
      "day, Max found a stick in the grass. He was very happy and wagged his tail. Tom smiled and said, \"Good dog, "
      "Max!\"",
      "There was a big tree in the garden. A little bird lived in the tree with her mom. The bird wanted to fly, but "
      "she was scared. Her mom said, \"Do not be afraid. You can do it.\" The little bird flapped her wings and flew "
      "up into the blue sky.",
      "One day, a boy named Ben went to the store with his mom. He wanted a new toy car. His mom said he had to be "
      "good. Ben helped his mom carry the bags. When they got home, his mom gave him a shiny toy car. Ben was so "
      "happy.",
      "Sara liked to paint pictures. She painted a sun, a house and a cat. Her dad put the pictures on the wall. "
      "Sara felt proud. She wanted to paint more, so she got more paper and made a picture of her family.",
      "The cat was sleeping on the bed. A little mouse came out of a hole. The mouse wanted some cheese. It walked "
      "very slowly so the cat would not wake up. But the cat opened one eye and saw the mouse. The mouse ran back to "
      "its hole.",
      "Lily and her mom baked cookies. They mixed flour, sugar and eggs in a big bowl. Lily liked to stir. When the "
      "cookies were ready, they were warm and sweet. Lily gave one to her dad, and he said they were the best "
      "cookies ever.",
      "It was a rainy day. Tim could not play outside, so he built a fort with pillows and blankets. He took his "
      "teddy bear inside the fort. They read a book together. When the rain stopped, Tim ran outside to jump in the "
      "puddles.",
  };
  std::vector<std::vector<token_id>> out;
  for (const char* s : stories) out.push_back(stories_tok().encode(s, true));
  return out;
}

const std::string ball_prompt = "Lily has a red ball. The ball is";
const std::string ball_prefix = "Tom went to the park. ";
const std::vector<std::string> unrelated = {"Tom has a big dog. The dog is", "Once upon a time, there was a little girl named",
                                            "The sun was", "She went to the", "Lily liked to play with her",
                                            "The cat said"};
constexpr attrib::index traced_layer = 2;

// The last token of the last " The b all" in `tokens`: the subject "The ball" as tok512 splits it.
attrib::index subject_end(const std::vector<token_id>& tokens) {
  const auto pattern = stories_tok().encode("Lily. The ball", true);  // ..., " The", " b", "all"
  const std::vector<token_id> tail(pattern.end() - 3, pattern.end());
  const auto at = std::find_end(tokens.begin(), tokens.end(), tail.begin(), tail.end());
  REQUIRE(at != tokens.end());
  return static_cast<attrib::index>(at - tokens.begin()) + 2;
}

// mlp_post(layer) at every position of `tokens`, read with a cache hook on a plain forward pass.
attrib::float_matrix keys_of(const attrib::transformer_model& model, attrib::index layer, const std::vector<token_id>& tokens) {
  attrib::activation_cache cache;
  attrib::hook_set hooks;
  hooks.cache(hook_point::mlp_post(layer), cache);
  attrib::forward_options o;
  o.hooks = &hooks;
  (void)model.forward(std::vector<std::vector<token_id>>{tokens}, o);
  // The cache may hold rows beyond the positions run; keep those.
  return cache.at(hook_point::mlp_post(layer), 0).topRows(static_cast<attrib::index>(tokens.size()));
}

// The top token after each prompt, from a plain forward pass.
std::vector<attrib::index> top_tokens(const attrib::transformer_model& model, const std::vector<std::string>& prompts) {
  std::vector<attrib::index> out;
  for (const auto& p : prompts) {
    const auto logits = model.forward(std::vector<std::vector<token_id>>{stories_tok().encode(p, true)})[0];
    attrib::index best = 0;
    logits.row(logits.rows() - 1).maxCoeff(&best);
    out.push_back(best);
  }
  return out;
}

token_id big_token() {
  // " big" is one token of tok512 after the prompt (its first and only continuation token).
  const auto prompt = stories_tok().encode(ball_prompt, true);
  const auto with = stories_tok().encode(ball_prompt + " big", true);
  REQUIRE(with.size() == prompt.size() + 1);
  REQUIRE(std::equal(prompt.begin(), prompt.end(), with.begin()));
  return with.back();
}

std::vector<edit_prompt> ball_edit_prompts() {
  const auto bare = stories_tok().encode(ball_prompt, true);
  const auto prefixed = stories_tok().encode(ball_prefix + ball_prompt, true);
  return {{bare, subject_end(bare)}, {prefixed, subject_end(prefixed)}};
}

}  // namespace

TEST_CASE("knowledge editing: the key covariance is the mean of k k^T over every token, looped plainly") {
  const auto& model = stories_model();
  const auto sample = story_sample();
  const attrib::index hidden = model.config().hidden_dim;
  const attrib::matrix c = attrib::mlp_key_covariance(model, traced_layer, sample);
  REQUIRE(c.rows() == hidden);
  REQUIRE(c.cols() == hidden);

  attrib::matrix expected = attrib::matrix::Zero(hidden, hidden);
  std::size_t tokens = 0;
  for (const auto& s : sample) {
    const auto k = keys_of(model, traced_layer, s);
    for (attrib::index t = 0; t < static_cast<attrib::index>(s.size()); ++t, ++tokens)
      for (attrib::index i = 0; i < hidden; ++i)
        for (attrib::index j = 0; j < hidden; ++j) expected(i, j) += static_cast<double>(k(t, i)) * static_cast<double>(k(t, j));
  }
  CHECK(tokens == 851);
  expected /= static_cast<double>(tokens);
  const double scale = expected.cwiseAbs().maxCoeff();
  CHECK(scale > 0.0);
  CHECK((c - expected).cwiseAbs().maxCoeff() <= 1e-10 * scale);
  CHECK((c - c.transpose()).cwiseAbs().maxCoeff() == 0.0);

  // The parameters' overload reads the same float32 weights.
  CHECK((attrib::mlp_key_covariance(stories_parameters(), traced_layer, sample) - c).cwiseAbs().maxCoeff() <= 1e-12 * scale);
  // Five copies of the sample (4,255 tokens) cross a batch boundary; the mean does not move.
  std::vector<std::vector<token_id>> copies;
  for (int r = 0; r < 5; ++r) copies.insert(copies.end(), sample.begin(), sample.end());
  CHECK((attrib::mlp_key_covariance(model, traced_layer, copies) - c).cwiseAbs().maxCoeff() <= 1e-10 * scale);
}

TEST_CASE("rome_edit: W' k* = v*, and keys with k^T C^-1 k* = 0 keep their values") {
  const auto& params = stories_parameters();
  const auto sample = story_sample();
  const attrib::matrix c = attrib::mlp_key_covariance(params, traced_layer, sample);
  const auto prompts = ball_edit_prompts();
  const std::vector<token_id> target = {big_token()};
  const auto edit = attrib::rome_edit(params, traced_layer, prompts, target, c);
  const attrib::index hidden = params.config.hidden_dim;
  const attrib::index dim = params.config.dim;
  REQUIRE(edit.key.size() == hidden);
  REQUIRE(edit.delta.size() == dim);
  REQUIRE(edit.key_direction.size() == hidden);

  // k* is the mean of the two prompts' keys at their subjects' last tokens.
  attrib::vector key = attrib::vector::Zero(hidden);
  for (const auto& p : prompts) key += keys_of(stories_model(), traced_layer, p.tokens).row(p.subject_last).transpose().cast<double>();
  key /= 2.0;
  CHECK((edit.key - key).norm() <= 1e-6 * key.norm());

  // W' as stored, from the parameters after apply_rome_edit.
  auto edited = params;
  attrib::apply_rome_edit(edited, edit);
  const auto id = static_cast<std::size_t>(params.find("layers." + std::to_string(traced_layer) + ".w_down"));
  const Eigen::MatrixXd w = params.tensors[id].cast<double>();
  const Eigen::MatrixXd w_edited = edited.tensors[id].cast<double>();
  for (std::size_t k = 0; k < params.tensors.size(); ++k)
    if (k != id) CHECK((edited.tensors[k] - params.tensors[k]).cwiseAbs().maxCoeff() == 0.0f);

  // The constraint, from the definition v* = W k* + delta.
  const attrib::vector v = w * edit.key + edit.delta;
  CHECK((edit.value - v).norm() <= 1e-12 * v.norm());
  const double residual = (w_edited * edit.key - v).norm() / v.norm();
  MESSAGE("|W' k* - v*| / |v*| = " << residual << " (reported " << edit.residual << "), |delta| = " << edit.delta_norm);
  CHECK(residual <= 1e-5);
  CHECK(edit.residual <= 1e-5);
  CHECK(edit.residual == doctest::Approx(residual).epsilon(1e-3).scale(1e-9));
  CHECK(edit.delta_norm > 0.1);  // the edit does something

  // The direction is C^-1 k* / (k*^T C^-1 k*), C^-1 from an LU inverse (rome_edit factors by LDLT).
  const Eigen::MatrixXd c_inverse = Eigen::MatrixXd(c).inverse();
  const attrib::vector u = c_inverse * edit.key;
  CHECK((edit.key_direction - u / edit.key.dot(u)).norm() <= 1e-6 * edit.key_direction.norm());

  // A key with k^T C^-1 k* = 0 keeps its value; a generic key does not.
  std::mt19937 gen(7);
  std::normal_distribution<double> normal;
  attrib::vector k(hidden), generic(hidden);
  for (attrib::index i = 0; i < hidden; ++i) {
    k(i) = normal(gen);
    generic(i) = normal(gen);
  }
  k -= (k.dot(u) / u.dot(u)) * u;
  k *= key.norm() / k.norm();  // as large as a real key
  generic *= key.norm() / generic.norm();
  REQUIRE(std::abs(k.dot(u)) <= 1e-12 * k.norm() * u.norm());
  const attrib::vector before = w * k, after = w_edited * k;
  MESSAGE("|W' k - W k| / |W k| = " << (after - before).norm() / before.norm() << " for k^T C^-1 k* = 0; "
                                    << (w_edited * generic - w * generic).norm() / (w * generic).norm() << " for a generic k");
  CHECK((after - before).norm() <= 1e-5 * before.norm());
  CHECK(std::abs(edit.key_direction.dot(k)) <= 1e-10 * edit.key_direction.norm() * k.norm());
  CHECK((w_edited * generic - w * generic).norm() > 1e-3 * (w * generic).norm());

  // Deterministic, and the threads do not change a bit.
  attrib::rome_options two;
  two.threads = 2;
  const auto again = attrib::rome_edit(params, traced_layer, prompts, target, c, two);
  CHECK(again.delta == edit.delta);
  CHECK(again.key_direction == edit.key_direction);
  CHECK(again.objective == edit.objective);
}

TEST_CASE("rome_delta_objective: the gradient for delta matches central differences of the loss") {
  const auto& params = stories_parameters();
  const auto& config = params.config;
  const auto prompts = ball_edit_prompts();
  // " blue" is four tokens of tok512 (" b", "l", "u", "e"): the loss averages all four.
  const auto bare = stories_tok().encode(ball_prompt, true);
  const auto with_blue = stories_tok().encode(ball_prompt + " blue", true);
  const std::vector<token_id> target(with_blue.begin() + static_cast<std::ptrdiff_t>(bare.size()), with_blue.end());
  REQUIRE(target.size() == 4);

  std::mt19937 gen(3);
  std::normal_distribution<double> normal;
  attrib::vector delta(config.dim);
  for (attrib::index i = 0; i < config.dim; ++i) delta(i) = 0.3 * normal(gen);
  attrib::rome_options options;  // weight decay 0.5: its gradient is part of what is checked
  const auto value = attrib::rome_delta_objective(params, traced_layer, prompts, target, delta, options);

  // The loss written here: a double tape, delta added to mlp_out at each subject's last token,
  // -log softmax of each target token, averaged, plus 0.5 |delta| / |v0|^2.
  attrib::detail::transformer_tape<double> tape(params);
  std::vector<std::vector<token_id>> sequences;
  std::vector<attrib::index> subject_rows, prediction_rows;
  std::vector<token_id> predicted;
  attrib::index rows = 0;
  for (const auto& p : prompts) {
    auto s = p.tokens;
    s.insert(s.end(), target.begin(), target.end() - 1);
    subject_rows.push_back(rows + p.subject_last);
    for (std::size_t j = 0; j < target.size(); ++j) {
      prediction_rows.push_back(rows + static_cast<attrib::index>(p.tokens.size()) - 1 + static_cast<attrib::index>(j));
      predicted.push_back(target[j]);
    }
    rows += static_cast<attrib::index>(s.size());
    sequences.push_back(std::move(s));
  }
  const hook_point out = hook_point::mlp_out(traced_layer);
  const hook_point record[] = {out};
  tape.forward(sequences, {}, 1, record);
  attrib::vector v0 = attrib::vector::Zero(config.dim);
  for (const attrib::index r : subject_rows) v0 += tape.activation(out).row(r).transpose();
  v0 /= static_cast<double>(subject_rows.size());
  const auto loss = [&](const attrib::vector& d) {
    std::map<hook_point, attrib::detail::tape_matrix<double>> offsets;
    offsets[out] = attrib::detail::tape_matrix<double>::Zero(rows, config.dim);
    for (const attrib::index r : subject_rows) offsets[out].row(r) = d.transpose();
    tape.forward(sequences, offsets);
    double nll = 0.0;
    for (std::size_t k = 0; k < prediction_rows.size(); ++k) {
      const Eigen::RowVectorXd z = tape.logits().row(prediction_rows[k]);
      double sum = 0.0;
      for (attrib::index j = 0; j < z.size(); ++j) sum += std::exp(z(j) - z.maxCoeff());
      nll += z.maxCoeff() + std::log(sum) - z(predicted[k]);
    }
    return nll / static_cast<double>(prediction_rows.size()) + 0.5 * d.norm() / v0.squaredNorm();
  };
  CHECK(value.loss == doctest::Approx(loss(delta)).epsilon(1e-5));

  // The three largest coordinates of the gradient.
  std::vector<attrib::index> order(static_cast<std::size_t>(config.dim));
  for (attrib::index i = 0; i < config.dim; ++i) order[static_cast<std::size_t>(i)] = i;
  std::partial_sort(order.begin(), order.begin() + 3, order.end(),
                    [&](attrib::index a, attrib::index b) { return std::abs(value.gradient(a)) > std::abs(value.gradient(b)); });
  for (int n = 0; n < 3; ++n) {
    const attrib::index i = order[static_cast<std::size_t>(n)];
    const double h = 1e-4;
    attrib::vector plus = delta, minus = delta;
    plus(i) += h;
    minus(i) -= h;
    const double numeric = (loss(plus) - loss(minus)) / (2.0 * h);
    MESSAGE("d loss / d delta_" << i << ": " << value.gradient(i) << " analytic, " << numeric << " central difference");
    CHECK(value.gradient(i) == doctest::Approx(numeric).epsilon(1e-3));
  }
}

TEST_CASE("knowledge editing on stories260K: ' big' after 'Lily has a red ball. The ball is'") {
  const auto& params = stories_parameters();
  const auto sample = story_sample();
  const token_id big = big_token();
  const auto bare = stories_tok().encode(ball_prompt, true);
  const std::vector<std::string> prompt_only = {ball_prompt};
  const auto before = top_tokens(stories_model(), prompt_only);
  REQUIRE(before[0] != big);  // the model says " a"

  const attrib::matrix c = attrib::mlp_key_covariance(params, traced_layer, sample);
  const std::vector<token_id> target = {big};
  const auto edit = attrib::rome_edit(params, traced_layer, bare, subject_end(bare), target, c);
  auto edited = params;
  attrib::apply_rome_edit(edited, edit);
  const auto edited_model = edited.model();
  const auto after = top_tokens(edited_model, prompt_only);
  CHECK(after[0] == big);  // efficacy 1 for this prompt
  CHECK(edit.loss_after < edit.loss_before);

  const auto unrelated_before = top_tokens(stories_model(), unrelated);
  const auto unrelated_after = top_tokens(edited_model, unrelated);
  std::size_t kept = 0;
  for (std::size_t k = 0; k < unrelated.size(); ++k) kept += unrelated_before[k] == unrelated_after[k];
  const double specificity = static_cast<double>(kept) / static_cast<double>(unrelated.size());
  MESSAGE("layer " << traced_layer << ": loss " << edit.loss_before << " -> " << edit.loss_after << ", |delta| "
                   << edit.delta_norm << ", residual " << edit.residual << "; specificity " << kept << "/"
                   << unrelated.size());

  // The study reads the same numbers.
  attrib::edit_request request;
  request.prompt = ball_prompt;
  request.subject = "The ball";
  request.new_object = " big";
  request.paraphrases = {"Lily has a red ball. Her ball is"};
  request.neighbours = unrelated;
  const std::vector<attrib::edit_request> requests = {request};
  const attrib::named_model named{"stories260K", &stories_model()};
  const auto study = attrib::knowledge_editing_study_of(named, stories_tok(), traced_layer, requests, sample);
  REQUIRE(study.facts.size() == 1);
  REQUIRE(study.edits.size() == 1);
  REQUIRE(study.layers.size() == 1);
  const auto& fact = study.facts[0];
  CHECK(fact.new_token == big);
  CHECK(fact.true_token == before[0]);
  CHECK(fact.subject_last == subject_end(bare));
  CHECK(fact.efficacy == 0.0);
  CHECK(study.covariance_tokens == 851);
  const auto& e = study.edits[0];
  CHECK(e.efficacy == 1.0);
  CHECK(e.specificity == doctest::Approx(specificity));
  CHECK(e.delta_norm == doctest::Approx(edit.delta_norm));
  CHECK(e.residual <= 1e-5);
  CHECK(study.best_layer == traced_layer);
  MESSAGE("study at layer " << traced_layer << ": efficacy " << e.efficacy << ", paraphrase " << fact.paraphrase << " -> "
                            << e.paraphrase << ", specificity " << e.specificity << ", P(big) " << fact.probability
                            << " -> " << e.probability);
}

TEST_CASE("knowledge editing: the layer sweep edits at every layer, and the last layer cannot reach the answer") {
  const auto sample = story_sample();
  attrib::edit_request request;
  request.prompt = ball_prompt;
  request.subject = "The ball";
  request.new_object = " big";
  request.paraphrases = {"Lily has a red ball. Her ball is"};
  request.neighbours = unrelated;
  attrib::edit_request second;
  second.prompt = "Tom has a big dog. The dog is";
  second.subject = "The dog";
  second.new_object = " red";
  second.neighbours = {"The sun was", "She went to the"};
  const std::vector<attrib::edit_request> requests = {request, second};
  attrib::knowledge_editing_options options;
  options.context_prefixes = {ball_prefix};
  std::size_t calls = 0;
  options.progress = [&](std::size_t done, std::size_t total) {
    ++calls;
    CHECK(done == calls);
    CHECK(total == 10);
  };
  const attrib::named_model named{"stories260K", &stories_model()};
  const auto s = attrib::knowledge_editing_layer_sweep(named, stories_tok(), traced_layer, requests, sample, options);
  const attrib::index layers = stories_model().config().n_layers;
  REQUIRE(s.layers.size() == static_cast<std::size_t>(layers));
  REQUIRE(s.edits.size() == 2 * static_cast<std::size_t>(layers));
  CHECK(calls == 10);
  CHECK(s.facts[0].edit_prompts == 2);
  CHECK(std::isnan(s.facts[1].paraphrase));  // no paraphrases
  for (attrib::index l = 0; l < layers; ++l) {
    const auto& summary = s.layers[static_cast<std::size_t>(l)];
    CHECK(summary.layer == l);
    CHECK(summary.traced == (l == traced_layer));
    MESSAGE("layer " << l << std::string(l == traced_layer ? " (traced)" : "") << ": efficacy " << summary.efficacy << ", paraphrase "
                     << summary.paraphrase << ", specificity " << summary.specificity << ", score " << summary.score
                     << ", P(new) " << summary.probability << ", |delta| " << summary.delta_norm);
  }
  // The subject's last token is not the prompt's last, and the last layer's MLP output at one
  // position reaches no other position: delta gets no gradient and stays zero.
  const auto& last = s.layers.back();
  CHECK(last.delta_norm == 0.0);
  CHECK(last.efficacy == 0.0);
  for (const auto& e : s.edits)
    if (e.layer == layers - 1) CHECK(e.loss_after == e.loss_before);
  MESSAGE("best layer " << s.best_layer << ", traced " << traced_layer);

  // Reports.
  const auto md = attrib::format_markdown(s);
  CHECK(md.find("2 (traced)") != std::string::npos);
  CHECK(md.find("The traced layer") != std::string::npos);  // the verdict on the talk's claim
  CHECK(md.find("Lily has a red ball. The ball is") != std::string::npos);
  const auto csv = attrib::format_csv(s);
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 1 + 2 * layers);
  CHECK(csv.rfind("layer,traced,fact,prompt,", 0) == 0);
  const auto j = nlohmann::json::parse(attrib::format_json(s));
  CHECK(j["traced_layer"] == traced_layer);
  CHECK(j["layers"].size() == static_cast<std::size_t>(layers));
  CHECK(j["edits"].size() == 2 * static_cast<std::size_t>(layers));
  CHECK(j["facts"][1]["paraphrase"].is_null());
  CHECK(j["facts"][0]["new_token"] == big_token());
  const auto folder = std::filesystem::temp_directory_path() / "attrib_test_studies_editing";
  std::filesystem::remove_all(folder);
  attrib::write_knowledge_editing_study(folder, "editing", s);
  for (const char* ext : {".md", ".csv", ".json"}) CHECK(std::filesystem::exists(folder / (std::string("editing") + ext)));
  std::filesystem::remove_all(folder);
}

TEST_CASE("knowledge editing: bad input is refused by name") {
  const auto& params = stories_parameters();
  const auto sample = story_sample();
  const auto bare = stories_tok().encode(ball_prompt, true);
  const attrib::index at = subject_end(bare);
  const std::vector<token_id> target = {big_token()};
  const attrib::matrix c = attrib::mlp_key_covariance(params, traced_layer, sample);
  using attrib::invalid_argument;

  CHECK_THROWS_WITH_AS(attrib::mlp_key_covariance(params, 5, sample), doctest::Contains("layer 5 is outside"), invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::rome_edit(params, 5, bare, at, target, c), doctest::Contains("layer 5 is outside"),
                       invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::rome_edit(params, -1, bare, at, target, c), doctest::Contains("layer -1 is outside"),
                       invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::rome_edit(params, traced_layer, bare, static_cast<attrib::index>(bare.size()), target, c),
                       doctest::Contains("beyond edit prompt 0"), invalid_argument);
  const std::vector<token_id> outside = {512};
  CHECK_THROWS_WITH_AS(attrib::rome_edit(params, traced_layer, bare, at, outside, c),
                       doctest::Contains("target token 512 is outside the vocabulary"), invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::rome_edit(params, traced_layer, bare, at, std::vector<token_id>{}, c),
                       doctest::Contains("target is empty"), invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::rome_edit(params, traced_layer, bare, at, target, attrib::matrix::Identity(3, 3)),
                       doctest::Contains("expected hidden_dim x hidden_dim"), invalid_argument);

  // 15 tokens cannot span 172 dimensions: C is singular, and a ridge makes it usable.
  const std::vector<std::vector<token_id>> short_sample = {bare};
  const attrib::matrix singular = attrib::mlp_key_covariance(params, traced_layer, short_sample);
  CHECK_THROWS_WITH_AS(attrib::rome_edit(params, traced_layer, bare, at, target, singular), doctest::Contains("singular"),
                       invalid_argument);
  attrib::rome_options ridge;
  ridge.lambda = 1e-3 * singular.trace() / static_cast<double>(singular.rows());
  ridge.steps = 2;
  const auto edit = attrib::rome_edit(params, traced_layer, bare, at, target, singular, ridge);
  CHECK(edit.residual <= 1e-5);
  CHECK(edit.objective.size() == 2);
  attrib::rome_options negative;
  negative.lambda = -1.0;
  CHECK_THROWS_WITH_AS(attrib::rome_edit(params, traced_layer, bare, at, target, c, negative), doctest::Contains("lambda"),
                       invalid_argument);

  const attrib::named_model named{"stories260K", &stories_model()};
  attrib::edit_request good;
  good.prompt = ball_prompt;
  good.subject = "The ball";
  good.new_object = " big";
  const std::vector<attrib::edit_request> none;
  CHECK_THROWS_WITH_AS(attrib::knowledge_editing_study_of(named, stories_tok(), traced_layer, none, sample),
                       doctest::Contains("no edit requests"), invalid_argument);
  const std::vector<attrib::edit_request> one = {good};
  CHECK_THROWS_WITH_AS(attrib::knowledge_editing_study_of(named, stories_tok(), 7, one, sample),
                       doctest::Contains("layer 7 is outside"), invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::knowledge_editing_layer_sweep(named, stories_tok(), 7, one, sample),
                       doctest::Contains("layer 7 is outside"), invalid_argument);
  const std::vector<std::vector<token_id>> no_sample;
  CHECK_THROWS_WITH_AS(attrib::knowledge_editing_study_of(named, stories_tok(), traced_layer, one, no_sample),
                       doctest::Contains("no sequences"), invalid_argument);
  auto missing = good;
  missing.subject = "The cat";
  CHECK_THROWS_WITH_AS(attrib::knowledge_editing_study_of(named, stories_tok(), traced_layer,
                                                          std::vector<attrib::edit_request>{missing}, sample),
                       doctest::Contains("does not occur in the prompt"), invalid_argument);
  auto same = good;
  same.new_object = " a";  // the model's own answer
  CHECK_THROWS_WITH_AS(attrib::knowledge_editing_study_of(named, stories_tok(), traced_layer,
                                                          std::vector<attrib::edit_request>{same}, sample),
                       doctest::Contains("begins with the same token"), invalid_argument);
  const attrib::named_model null_model{"nothing", nullptr};
  CHECK_THROWS_WITH_AS(attrib::knowledge_editing_study_of(null_model, stories_tok(), traced_layer, one, sample),
                       doctest::Contains("is null"), invalid_argument);
}

TEST_CASE("edit requests: the JSON file's fields, and errors that name the request and the field") {
  const auto requests = attrib::parse_edit_requests(
      R"([{"prompt": "Lily has a red ball. The ball is", "subject": "The ball", "new_object": " big",
           "paraphrases": ["Her ball is"], "neighbours": ["The sun was", "She went to the"]},
          {"prompt": "Tom saw a cat. The cat", "subject": "The cat", "new_object": " ran", "true_object": " was"}])",
      "edits.json");
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].subject == "The ball");
  CHECK(requests[0].new_object == " big");
  CHECK(requests[0].true_object.empty());
  CHECK(requests[0].paraphrases == std::vector<std::string>{"Her ball is"});
  CHECK(requests[0].neighbours.size() == 2);
  CHECK(requests[1].true_object == " was");
  CHECK(requests[1].paraphrases.empty());
  const auto fails = [](const char* text, const char* message) {
    CHECK_THROWS_WITH_AS(attrib::parse_edit_requests(text, "edits.json"), doctest::Contains(message),
                         attrib::invalid_argument);
  };
  fails("[]", "non-empty array");
  fails("{\"prompt\": \"x\"}", "non-empty array");
  fails("[1]", "request 0 is 1, expected an object");
  fails(R"([{"prompt": "a b", "subject": "a"}])", "request 0 has no 'new_object'");
  fails(R"([{"prompt": "a b", "subject": 3, "new_object": " c"}])", "'subject' is 3, expected a string");
  fails(R"([{"prompt": "a b", "subject": "z", "new_object": " c"}])", "does not occur in the prompt");
  fails(R"([{"prompt": "a b", "subject": "a", "new_object": " c", "neighbours": "x"}])", "expected an array of strings");
  fails(R"([{"prompt": "a b", "subject": "a", "new_object": " c", "paraphrases": [""]}])", "expected non-empty strings");
  fails("[{\"prompt\": ", "not valid JSON");
  CHECK_THROWS_WITH_AS(attrib::read_edit_requests("/nonexistent/edits.json"), doctest::Contains("cannot open"),
                       attrib::invalid_argument);
}
