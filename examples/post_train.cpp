// Post-trains stories260K on attrib's instruction corpus and compares the base and post-trained
// models on held-out items: the base/post-trained pair that the LLM studies compare.
//
//   post_train [out_dir] [data_dir] [steps] [seed] [threads]
//
// Defaults: data/models/stories260K-instruct, data, 1500 steps, seed 1, 2 threads.
// scripts/post_train.sh builds and runs this. It writes the post-trained model to out_dir as
// model.safetensors + config.json, loads it back from there, evaluates both models, prints a
// markdown table and writes out_dir/SOURCE.md with the recipe and the results.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "attrib/io/atomic_file.hpp"
#include "attrib/tokenizers/sentencepiece_bpe.hpp"
#include "attrib/transformer/model/generate.hpp"
#include "attrib/transformer/loading/hf_loader.hpp"
#include "attrib/studies/instruction_corpus.hpp"
#include "attrib/transformer/loading/llama2c_loader.hpp"
#include "attrib/transformer/training/training.hpp"
#include "greedy_answers.hpp"
#include "table_format.hpp"

namespace {

using attrib::instruction_example;
using attrib::instruction_kind;
using attrib::token_id;
using attrib_examples::fixed;

// The recipe, in one place so that SOURCE.md reports what ran.
struct recipe {
  std::size_t judgements = 6000, requests = 1000, questions = 1000;  // training items
  std::size_t held_out_judgements = 200, held_out_requests = 200, held_out_questions = 100;
  std::size_t stories = 16, story_tokens = 128;  // base-model samples for perplexity
  // Replay: base-model samples mixed into training, each token weighted story_weight against 1
  // for an answer token, so that post-training keeps the model a storyteller.
  std::size_t replay_stories = 600, replay_tokens = 64;
  float story_weight = 0.2f;
  attrib::training_options training;
};

attrib::language_model_batch tokenize_all(const std::vector<instruction_example>& corpus,
                                          const attrib::sentencepiece_bpe& tok) {
  attrib::language_model_batch out;
  for (const auto& e : corpus) {
    auto t = attrib::tokenize_instruction(e, tok);
    out.sequences.push_back(std::move(t.tokens));
    out.weights.push_back(std::move(t.weights));
  }
  return out;
}

// Held-out material, tokenized once and shared by both models.
struct evaluation_set {
  std::vector<instruction_example> items;
  attrib::language_model_batch answers;  // every held-out item with its answer
  attrib::language_model_batch stories;  // plain text, every position weighted
  std::array<token_id, 2> true_false{};
};

struct scores {
  double judgement_accuracy = 0.0;
  std::vector<double> topic_accuracy = std::vector<double>(5, 0.0);
  double refusal_rate = 0.0;        // harmful prompts answered with the refusal
  double false_refusal_rate = 0.0;  // harmless prompts answered with the refusal
  double question_exact = 0.0;      // questions answered exactly
  double answer_loss = 0.0;         // mean cross-entropy on held-out answer tokens
  double story_perplexity = 0.0;
};

scores evaluate(const attrib::transformer_model& model, const attrib::sentencepiece_bpe& tok,
                const evaluation_set& set, std::size_t threads) {
  scores s;
  std::vector<std::vector<token_id>> judgement_prompts, request_prompts, question_prompts;
  std::vector<const instruction_example*> judgements, requests, questions;
  for (const auto& e : set.items) {
    auto prompt = tok.encode(e.prompt);
    if (e.kind == instruction_kind::judgement) {
      judgement_prompts.push_back(std::move(prompt));
      judgements.push_back(&e);
    } else if (e.kind == instruction_kind::question) {
      question_prompts.push_back(std::move(prompt));
      questions.push_back(&e);
    } else {
      request_prompts.push_back(std::move(prompt));
      requests.push_back(&e);
    }
  }

  // TRUE/FALSE: the studies' readout, logit(TRUE) - logit(FALSE) at the last prompt position.
  const auto logits = model.forward(
      judgement_prompts,
      {.logit_tokens = {set.true_false[0], set.true_false[1]}, .last_position_only = true, .threads = threads});
  std::vector<int> topic_right(5, 0), topic_total(5, 0);
  int right = 0;
  for (std::size_t i = 0; i < judgements.size(); ++i) {
    const bool says_true = logits[i](0, 0) > logits[i](0, 1);
    const bool ok = says_true == *judgements[i]->truth;
    right += ok;
    topic_right[judgements[i]->template_id] += ok;
    ++topic_total[judgements[i]->template_id];
  }
  s.judgement_accuracy = static_cast<double>(right) / static_cast<double>(judgements.size());
  for (std::size_t t = 0; t < 5; ++t)
    s.topic_accuracy[t] = static_cast<double>(topic_right[t]) / std::max(1, topic_total[t]);

  // Greedy answers; the answer is what comes before the closing BOS.
  auto answer_texts = [&](const std::vector<std::vector<token_id>>& prompts) {
    std::vector<std::string> texts;
    for (auto& answer : attrib_examples::greedy_answers(model, prompts, tok, threads))
      texts.push_back(attrib_examples::answer_text(std::move(answer), tok));
    return texts;
  };
  const auto replies = answer_texts(request_prompts);
  int harmful = 0, refused = 0, harmless = 0, false_refused = 0;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const bool refusal = replies[i].rfind("I can not", 0) == 0;
    if (requests[i]->harmful()) {
      ++harmful;
      refused += refusal;
    } else {
      ++harmless;
      false_refused += refusal;
    }
  }
  s.refusal_rate = static_cast<double>(refused) / harmful;
  s.false_refusal_rate = static_cast<double>(false_refused) / harmless;
  const auto answers = answer_texts(question_prompts);
  int exact = 0;
  for (std::size_t i = 0; i < questions.size(); ++i) exact += answers[i] == questions[i]->answer;
  s.question_exact = static_cast<double>(exact) / static_cast<double>(questions.size());

  const auto parameters = attrib::transformer_parameters::from_model(model);
  s.answer_loss = attrib::language_model_loss(parameters, set.answers, threads);
  s.story_perplexity = std::exp(attrib::language_model_loss(parameters, set.stories, threads));
  return s;
}

std::string percent(double v) { return fixed(100.0 * v, 1) + "%"; }

// `seen`: fresh items built from the training names and objects, to separate learning a skill
// from learning the entities.
std::string results_table(const scores& base, const scores& post, const scores& base_seen,
                          const scores& post_seen) {
  std::ostringstream t;
  t << "| held-out measure | stories260K | stories260K-instruct |\n|---|---|---|\n";
  auto row = [&](const std::string& name, const std::string& a, const std::string& b) {
    t << "| " << name << " | " << a << " | " << b << " |\n";
  };
  row("TRUE/FALSE accuracy, logit(TRUE) > logit(FALSE)", percent(base.judgement_accuracy),
      percent(post.judgement_accuracy));
  for (std::size_t k = 0; k < 5; ++k)
    row(std::string("&nbsp;&nbsp;topic ") + attrib::to_string(static_cast<attrib::judgement_topic>(k)),
        percent(base.topic_accuracy[k]), percent(post.topic_accuracy[k]));
  row("TRUE/FALSE accuracy, fresh items with training names", percent(base_seen.judgement_accuracy),
      percent(post_seen.judgement_accuracy));
  row("refusal rate on harmful requests", percent(base.refusal_rate), percent(post.refusal_rate));
  row("false-refusal rate on harmless requests", percent(base.false_refusal_rate),
      percent(post.false_refusal_rate));
  row("questions answered exactly (greedy)", percent(base.question_exact), percent(post.question_exact));
  row("questions answered exactly, fresh items with training names", percent(base_seen.question_exact),
      percent(post_seen.question_exact));
  row("answer loss (nats/token)", fixed(base.answer_loss, 3), fixed(post.answer_loss, 3));
  row("perplexity on base-model stories", fixed(base.story_perplexity, 2), fixed(post.story_perplexity, 2));
  return t.str();
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::filesystem::path out = argc > 1 ? argv[1] : "data/models/stories260K-instruct";
    const std::filesystem::path data = argc > 2 ? argv[2] : "data";
    recipe r;
    r.training.steps = argc > 3 ? std::stoul(argv[3]) : 1500;
    const std::uint64_t seed = argc > 4 ? std::stoull(argv[4]) : 1;
    r.training.threads = argc > 5 ? std::stoul(argv[5]) : 2;
    r.training.batch_size = 16;
    r.training.learning_rate = 2e-3;
    r.training.final_learning_rate = 2e-4;
    r.training.warmup_steps = std::min<std::size_t>(50, r.training.steps / 10);
    r.training.optimizer = {.beta1 = 0.9, .beta2 = 0.99, .epsilon = 1e-8, .weight_decay = 0.01};
    r.training.clip_norm = 1.0;
    r.training.eval_every = 100;
    r.training.seed = seed;

    const auto start = attrib_examples::clock_type::now();
    const auto base_dir = data / "models" / "stories260K";
    const auto base = attrib::load_llama2c_model(base_dir / "stories260K.bin");
    const auto tok = attrib::load_llama2c_tokenizer(base_dir / "tok512.bin",
                                                    static_cast<std::size_t>(base.config().vocab_size));

    const auto train_items = attrib::generate_instruction_corpus(
        {.judgements = r.judgements, .requests = r.requests, .questions = r.questions,
         .split = attrib::instruction_split::train, .seed = seed});
    evaluation_set set;
    set.items = attrib::generate_instruction_corpus(
        {.judgements = r.held_out_judgements, .requests = r.held_out_requests,
         .questions = r.held_out_questions, .split = attrib::instruction_split::held_out, .seed = seed});
    set.answers = tokenize_all(set.items, tok);
    set.true_false = attrib::judgement_answer_tokens(tok);
    // Plain text the base model would write: its own samples at temperature 1, from BOS.
    auto sample_stories = [&](std::size_t count, std::size_t tokens, std::uint64_t stream, float weight,
                              attrib::language_model_batch& into) {
      const std::vector<std::vector<token_id>> bos(count, std::vector<token_id>{tok.bos()});
      for (auto& story : attrib::generate(base, bos,
                                          {.max_new_tokens = static_cast<attrib::index>(tokens),
                                           .temperature = 1.0f, .seed = stream, .threads = r.training.threads})) {
        if (story.back() == tok.bos()) story.pop_back();
        if (story.size() < 2) continue;
        into.weights.emplace_back(story.size() - 1, weight);
        into.sequences.push_back(std::move(story));
      }
    };
    sample_stories(r.stories, r.story_tokens, seed, 1.0f, set.stories);

    auto parameters = attrib::transformer_parameters::from_model(base);
    auto train = tokenize_all(train_items, tok);
    sample_stories(r.replay_stories, r.replay_tokens, seed + 1, r.story_weight, train);
    std::cerr << "post_train: " << train.sequences.size() << " training sequences ("
              << r.replay_stories << " replayed stories), "
              << set.items.size() << " held-out items, " << r.training.steps << " steps\n";
    const auto result = attrib::train_language_model(
        parameters, train, set.answers, r.training, [&](const attrib::training_step& s) {
          if (s.eval_loss)
            std::cerr << "step " << s.step << "  lr " << attrib_examples::sci(s.learning_rate)
                      << "  batch loss " << fixed(s.loss, 4) << "  |g| " << fixed(s.gradient_norm, 3)
                      << "  held-out answer loss " << fixed(*s.eval_loss, 4) << "  ("
                      << fixed(attrib_examples::seconds_since(start), 1) << " s)\n";
        });
    const double train_seconds = attrib_examples::seconds_since(start);

    std::filesystem::create_directories(out);
    attrib::save_hf_checkpoint(out, parameters.model());
    const auto post = attrib::load_hf_model(out);  // evaluate what was shipped

    evaluation_set seen = set;
    seen.items = attrib::generate_instruction_corpus(
        {.judgements = r.held_out_judgements, .requests = r.held_out_requests,
         .questions = r.held_out_questions, .split = attrib::instruction_split::train, .seed = seed + 2});
    // Drop the ones whose prompt occurs in training (arithmetic has only 15 sums, say).
    std::set<std::string> trained;
    for (const auto& e : train_items) trained.insert(e.prompt);
    std::erase_if(seen.items, [&](const instruction_example& e) { return trained.count(e.prompt) > 0; });
    seen.answers = tokenize_all(seen.items, tok);
    const auto base_scores = evaluate(base, tok, set, r.training.threads);
    const auto post_scores = evaluate(post, tok, set, r.training.threads);
    const std::string table =
        results_table(base_scores, post_scores, evaluate(base, tok, seen, r.training.threads),
                      evaluate(post, tok, seen, r.training.threads));
    std::cout << table;

    double last_losses = 0.0;  // mean batch loss over the last 50 steps
    const std::size_t tail = std::min<std::size_t>(50, result.history.size());
    for (std::size_t k = result.history.size() - tail; k < result.history.size(); ++k)
      last_losses += result.history[k].loss / static_cast<double>(tail);

    attrib::atomic_file_writer source_file(out / "SOURCE.md");
    std::ostream& source = source_file.stream();
    const auto& o = r.training;
    source << "# stories260K-instruct\n\n"
           << "stories260K (`../stories260K/`, Karpathy's llama2.c model, MIT) post-trained by attrib on its\n"
           << "generated instruction corpus (`attrib/studies/instruction_corpus.hpp`). Produced by\n\n"
           << "```sh\nbash scripts/post_train.sh   # = post_train " << out.string() << " " << data.string()
           << " " << o.steps << " " << seed << " " << o.threads << "\n```\n\n"
           << "Deterministic: the same seed gives the same bytes on any thread count.\n\n"
           << "## Files\n\n"
           << "`model.safetensors` + `config.json` (Hugging Face Llama layout, float32), written by\n"
           << "`attrib::save_hf_checkpoint`; load with `attrib::load_hf_model`. The tokenizer is\n"
           << "`../stories260K/tok512.bin`. Licence: MIT, as the base model (`../stories260K/LICENSE`).\n\n"
           << "## Recipe\n\n"
           << "- corpus seed " << seed << ": " << r.judgements << " TRUE/FALSE judgements, " << r.requests
           << " requests (half harmful, refused), " << r.questions << " questions (train split); held out: "
           << r.held_out_judgements << " / " << r.held_out_requests << " / " << r.held_out_questions
           << " items with unseen names and objects\n"
           << "- replay: " << r.replay_stories << " stories of up to " << r.replay_tokens
           << " tokens sampled from the base model (temperature 1, seed " << seed + 1
           << "), every token weighted " << r.story_weight << "\n"
           << "- prompt `Q: <text>\\nA:`, answer after it, closing BOS; loss on the answer and BOS only\n"
           << "- AdamW beta1 " << o.optimizer.beta1 << ", beta2 " << o.optimizer.beta2 << ", eps "
           << o.optimizer.epsilon << ", weight decay " << o.optimizer.weight_decay
           << " on matrices; " << o.steps << " steps of " << o.batch_size << " sequences; learning rate "
           << o.learning_rate << " after " << o.warmup_steps << " warmup steps, cosine to "
           << o.final_learning_rate << "; gradient norm clipped at " << o.clip_norm << "\n"
           << "- held-out answer loss " << fixed(*result.initial_eval_loss, 4) << " before, "
           << fixed(*result.final_eval_loss, 4) << " after; mean training batch loss over the last "
           << tail << " steps " << fixed(last_losses, 4) << "; training took " << fixed(train_seconds, 0)
           << " s on " << o.threads << " threads\n\n"
           << "## Held-out results\n\n"
           << "Held-out items use names and objects never seen in training; the rows \"with training\n"
           << "names\" use fresh items (corpus seed " << seed + 2 << ") built from the training names and objects,\n"
           << "less those whose prompt occurs in training (" << seen.items.size() << " of "
           << r.held_out_judgements + r.held_out_requests + r.held_out_questions << " remain).\n"
           << "Perplexity is on " << r.stories << " stories of up to " << r.story_tokens
           << " tokens sampled from the base model at temperature 1 (seed " << seed << ").\n\n"
           << table;
    source_file.commit();
    std::cerr << "post_train: wrote " << (out / "model.safetensors").string() << " and SOURCE.md in "
              << fixed(attrib_examples::seconds_since(start), 1) << " s\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "post_train: " << e.what() << "\n";
    return 1;
  }
}
