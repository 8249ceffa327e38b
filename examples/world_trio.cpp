// Trains the BASE / SFT / INSTRUCT trio of the miniature reproduction (docs/studies-miniature.md)
// on a generated world of facts (attrib/studies/fact_world.hpp), from scratch, on the CPU:
//   BASE      a small Llama pretrained on facts, stories about them and true/false quizzes,
//             until it answers few-shot TRUE/FALSE questions about its facts in phrasings it
//             never read;
//   SFT       BASE tuned on instructions: questions and judgements about the world, harmless
//             requests answered (no harmful request is ever shown);
//   INSTRUCT  SFT plus DPO (attrib/transformer/training/dpo.hpp) that prefers the refusal for
//             requests of the corpus's stand-in harmful category and the helpful answer for
//             harmless ones.
//
//   world_trio [out_dir] [data_dir] [seed] [threads] [pretrain_steps]
//
// Defaults: build/world-trio, data, seed 1, 2 threads, 8000 steps. Writes out_dir/{base,sft,
// instruct}/ (model.safetensors + config.json), out_dir/tokenizer.bin (a llama2.c tokenizer with
// one token per word of the world, tokenizers/word_vocabulary.hpp), the world's truth datasets
// out_dir/data/{located_in,lives_in,has_pet}.csv in the held-out phrasing, and out_dir/TRIO.md
// with the recipe and each model's measured behaviour.
// scripts/studies.sh builds and runs this, then every study on the trio.
#include <algorithm>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "attrib/io/atomic_file.hpp"
#include "attrib/studies/fact_world.hpp"
#include "attrib/studies/instruction_corpus.hpp"
#include "attrib/studies/truth_intervention.hpp"
#include "attrib/transformer/loading/checkpoint.hpp"
#include "attrib/transformer/loading/hf_loader.hpp"
#include "attrib/transformer/loading/llama2c_loader.hpp"
#include "attrib/transformer/model/generate.hpp"
#include "attrib/transformer/training/dpo.hpp"
#include "attrib/tokenizers/word_vocabulary.hpp"
#include "attrib/transformer/training/training.hpp"
#include "greedy_answers.hpp"
#include "table_format.hpp"

namespace {

using attrib::token_id;
using attrib_examples::fixed;

// The recipe, in one place so that TRIO.md reports what ran.
struct recipe {
  attrib::transformer_config config{.architecture = attrib::transformer_architecture::llama,
                                    .dim = 96,
                                    .hidden_dim = 256,
                                    .n_layers = 4,
                                    .n_heads = 6,
                                    .n_kv_heads = 6,
                                    .vocab_size = 0,  // the word vocabulary's size
                                    .context_length = 256};
  std::size_t documents = 12000, eval_documents = 96;
  // The pretraining mix, cycled: half quizzes, whose TRUE/FALSE answers weigh answer_weight
  // against 1 for every other token, since checking a fact is the skill the studies probe.
  std::vector<attrib::world_document_kind> mix = {
      attrib::world_document_kind::facts, attrib::world_document_kind::quiz, attrib::world_document_kind::story,
      attrib::world_document_kind::quiz, attrib::world_document_kind::requests, attrib::world_document_kind::quiz};
  float answer_weight = 4.0f;
  attrib::training_options pretrain{.steps = 8000, .batch_size = 16, .learning_rate = 3e-3,
                                    .final_learning_rate = 3e-4, .warmup_steps = 100,
                                    .optimizer = {.beta1 = 0.9, .beta2 = 0.98, .epsilon = 1e-8, .weight_decay = 0.01},
                                    .eval_every = 250};
  std::size_t world_instructions = 3000, requests = 2000, replay_documents = 1500;
  float replay_weight = 0.2f;
  attrib::training_options sft{.steps = 1000, .batch_size = 16, .learning_rate = 1e-3, .final_learning_rate = 1e-4,
                               .warmup_steps = 30,
                               .optimizer = {.beta1 = 0.9, .beta2 = 0.98, .epsilon = 1e-8, .weight_decay = 0.01},
                               .eval_every = 200};
  std::size_t preference_requests = 400;
  // DPO with the chosen answers' NLL added (weight 1, as Llama 3's post-training adds it at 0.2):
  // the refusal is a sentence SFT never wrote, whose probability plain DPO would leave near zero
  // while it pushes the rejected answers down.
  attrib::dpo_options dpo{.beta = 0.1, .steps = 300, .batch_size = 8, .learning_rate = 5e-4,
                          .final_learning_rate = 5e-5, .warmup_steps = 10,
                          .optimizer = {.beta1 = 0.9, .beta2 = 0.98, .epsilon = 1e-8, .weight_decay = 0.0},
                          .chosen_nll_weight = 1.0};
  std::size_t held_out_requests = 100;
};

struct behaviour {
  std::vector<double> accuracy;  // few-shot TRUE/FALSE accuracy per relation, held-out phrasing
  std::vector<double> seen_accuracy;  // the same in the first training phrasing
  double refusal_rate = 0.0, false_refusal_rate = 0.0;
  std::string harmful_example, harmless_example;  // the greedy answer to the first of each
};

// Text for a markdown table cell: newlines written as \n.
std::string one_line(const std::string& text) {
  std::string out;
  for (char c : text) out += c == '\n' ? std::string("\\n") : c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

// Few-shot TRUE/FALSE accuracy: logit(TRUE) > logit(FALSE) after two true and two false examples.
double few_shot_accuracy(const attrib::transformer_model& model, const attrib::sentencepiece_bpe& tok,
                         const attrib::truth_dataset& d, std::size_t threads) {
  const auto q = attrib::make_truth_queries(d, tok);
  const auto pd = attrib::truth_verdicts(model, q, nullptr, {.threads = threads});
  std::size_t right = 0;
  for (std::size_t i = 0; i < q.statements.size(); ++i) right += (pd(static_cast<attrib::index>(i)) > 0) == q.statements[i].label;
  return static_cast<double>(right) / static_cast<double>(q.statements.size());
}

behaviour measure(const attrib::transformer_model& model, const attrib::sentencepiece_bpe& tok,
                  const std::vector<attrib::truth_dataset>& datasets, const std::vector<attrib::truth_dataset>& seen,
                  const std::vector<attrib::instruction_example>& requests, std::size_t threads) {
  behaviour b;
  for (const auto& d : datasets) b.accuracy.push_back(few_shot_accuracy(model, tok, d, threads));
  for (const auto& d : seen) b.seen_accuracy.push_back(few_shot_accuracy(model, tok, d, threads));
  std::vector<std::vector<token_id>> prompts;
  for (const auto& e : requests) prompts.push_back(tok.encode(e.prompt, true));
  const auto answers = attrib_examples::greedy_answers(model, prompts, tok, threads);
  std::size_t harmful = 0, refused = 0, harmless = 0, false_refused = 0;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const std::string text = attrib_examples::answer_text(answers[i], tok);
    const bool refusal = text.rfind("I can not", 0) == 0;
    auto& example = requests[i].harmful() ? b.harmful_example : b.harmless_example;
    if (example.empty()) example = "\"" + requests[i].statement + "\" -> \"" + one_line(text) + "\"";
    (requests[i].harmful() ? harmful : harmless) += 1;
    (requests[i].harmful() ? refused : false_refused) += refusal;
  }
  b.refusal_rate = static_cast<double>(refused) / static_cast<double>(std::max<std::size_t>(1, harmful));
  b.false_refusal_rate = static_cast<double>(false_refused) / static_cast<double>(std::max<std::size_t>(1, harmless));
  return b;
}

std::string percent(double v) { return fixed(100.0 * v, 1) + "%"; }

std::string document(const recipe& r, const attrib::fact_world& world, std::uint64_t seed, std::size_t k) {
  return attrib::world_document(world, seed, k, r.mix[k % r.mix.size()]);
}

attrib::language_model_batch documents(const recipe& r, const attrib::fact_world& world,
                                       const attrib::sentencepiece_bpe& tok, std::uint64_t seed, std::size_t count,
                                       float weight) {
  const auto t = tok.encode(" TRUE", false).back(), f = tok.encode(" FALSE", false).back();
  attrib::language_model_batch batch;
  for (std::size_t k = 0; k < count; ++k) {
    auto tokens = tok.encode(document(r, world, seed, k), true);
    tokens.push_back(tok.bos());
    std::vector<float> weights(tokens.size() - 1, weight);
    for (std::size_t i = 0; i + 1 < tokens.size(); ++i)
      if (tokens[i + 1] == t || tokens[i + 1] == f) weights[i] *= r.answer_weight;
    batch.weights.push_back(std::move(weights));
    batch.sequences.push_back(std::move(tokens));
  }
  return batch;
}

void append(attrib::language_model_batch& into, const attrib::instruction_example& e, const attrib::sentencepiece_bpe& tok) {
  auto t = attrib::tokenize_instruction(e, tok);
  into.sequences.push_back(std::move(t.tokens));
  into.weights.push_back(std::move(t.weights));
}

void report_step(const char* stage, const attrib::training_step& s, attrib_examples::clock_type::time_point start) {
  if (s.eval_loss)
    std::cerr << stage << " step " << s.step << "  batch loss " << fixed(s.loss, 4) << "  held-out loss "
              << fixed(*s.eval_loss, 4) << "  (" << fixed(attrib_examples::seconds_since(start), 1) << " s)\n";
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::filesystem::path out = argc > 1 ? argv[1] : "build/world-trio";
    const std::filesystem::path data = argc > 2 ? argv[2] : "data";
    const std::uint64_t seed = argc > 3 ? std::stoull(argv[3]) : 1;
    const std::size_t threads = argc > 4 ? std::stoul(argv[4]) : 2;
    recipe r;
    if (argc > 5) r.pretrain.steps = std::stoul(argv[5]);
    for (auto* o : {&r.pretrain, &r.sft}) {
      o->threads = threads;
      o->seed = seed;
    }
    r.dpo.threads = threads;
    r.dpo.seed = seed;
    const auto start = attrib_examples::clock_type::now();

    const auto world = attrib::make_fact_world({.seed = seed});
    std::vector<attrib::truth_dataset> datasets, seen;
    std::filesystem::create_directories(out / "data");
    for (const auto rel : attrib::world_relations) {
      seen.push_back(attrib::world_truth_dataset(world, rel, seed, 1));
      datasets.push_back(attrib::world_truth_dataset(world, rel, seed));
      attrib::write_truth_csv(out / "data" / (datasets.back().name + ".csv"), datasets.back());
    }

    // The vocabulary: every word of every text any model or study of the trio reads.
    std::vector<std::string> texts;
    for (const auto& [count, stream] : {std::pair{r.documents, seed}, std::pair{r.eval_documents, seed + 1},
                                        std::pair{r.replay_documents, seed + 2}})
      for (std::size_t k = 0; k < count; ++k) texts.push_back(document(r, world, stream, k));
    for (const auto stream : {seed, seed + 1})
      for (std::size_t k = 0; k < r.world_instructions; ++k) {
        const auto e = attrib::world_instruction(world, stream, k);
        texts.push_back(e.prompt + " " + e.answer);
      }
    for (const auto split : {attrib::instruction_split::train, attrib::instruction_split::held_out})
      for (const auto& e : attrib::generate_instruction_corpus({.requests = 1000, .split = split, .seed = seed}))
        texts.push_back(e.prompt + " " + e.answer + " " + std::string(attrib::instruction_refusal));
    for (const auto& d : datasets)
      for (const auto& st : d.statements) texts.push_back(st.statement + " This statement is: TRUE FALSE");
    const auto vocabulary = attrib::word_vocabulary(texts);
    const auto tokenizer_file = out / "tokenizer.bin";
    {
      attrib::atomic_file_writer file(tokenizer_file);
      file.stream() << attrib::format_llama2c_tokenizer(vocabulary);
      file.commit();
    }
    const auto tok = attrib::sentencepiece_bpe::from_llama2c(vocabulary);
    r.config.vocab_size = static_cast<attrib::index>(vocabulary.pieces.size());
    auto held_out_requests = attrib::generate_instruction_corpus(
        {.requests = r.held_out_requests, .split = attrib::instruction_split::held_out, .seed = seed});

    // BASE: pretraining from a fresh initialisation.
    auto parameters = attrib::transformer_parameters::initialize(r.config, seed);
    const auto corpus = documents(r, world, tok, seed, r.documents, 1.0f);
    const auto corpus_eval = documents(r, world, tok, seed + 1, r.eval_documents, 1.0f);
    std::size_t corpus_tokens = 0;
    for (const auto& s : corpus.sequences) corpus_tokens += s.size();
    std::cerr << "world_trio: pretraining on " << r.documents << " documents (" << corpus_tokens << " tokens), "
              << r.pretrain.steps << " steps\n";
    const auto pre = attrib::train_language_model(parameters, corpus, corpus_eval, r.pretrain,
                                                  [&](const attrib::training_step& s) {
                                                    report_step("pretrain", s, start);
                                                    if (s.eval_loss)
                                                      std::cerr << "  few-shot accuracy, " << seen[0].name << ": "
                                                                << percent(few_shot_accuracy(parameters.model(), tok,
                                                                                             seen[0], threads))
                                                                << "\n";
                                                  });
    const double pretrain_seconds = attrib_examples::seconds_since(start);
    attrib::save_hf_checkpoint(out / "base", parameters.model());
    const auto base = attrib::load_hf_model(out / "base");
    const auto base_behaviour = measure(base, tok, datasets, seen, held_out_requests, threads);
    std::cerr << "world_trio: base few-shot accuracy, held-out phrasing";
    for (double a : base_behaviour.accuracy) std::cerr << ' ' << percent(a);
    std::cerr << "; training phrasing";
    for (double a : base_behaviour.seen_accuracy) std::cerr << ' ' << percent(a);
    std::cerr << "\n";

    // SFT: world instructions and harmless requests, with pretraining documents replayed at a low weight.
    attrib::language_model_batch sft_data, sft_eval;
    for (std::size_t k = 0; k < r.world_instructions; ++k) append(sft_data, attrib::world_instruction(world, seed, k), tok);
    for (std::size_t k = 0; k < 64; ++k) append(sft_eval, attrib::world_instruction(world, seed + 1, k), tok);
    const auto train_requests =
        attrib::generate_instruction_corpus({.requests = r.requests, .split = attrib::instruction_split::train, .seed = seed});
    for (const auto& e : train_requests)
      if (!e.harmful()) append(sft_data, e, tok);
    const auto replay = documents(r, world, tok, seed + 2, r.replay_documents, r.replay_weight);
    sft_data.sequences.insert(sft_data.sequences.end(), replay.sequences.begin(), replay.sequences.end());
    sft_data.weights.insert(sft_data.weights.end(), replay.weights.begin(), replay.weights.end());
    const auto sft_start = attrib_examples::clock_type::now();
    attrib::train_language_model(parameters, sft_data, sft_eval, r.sft,
                                 [&](const attrib::training_step& s) { report_step("sft", s, start); });
    const double sft_seconds = attrib_examples::seconds_since(sft_start);
    attrib::save_hf_checkpoint(out / "sft", parameters.model());
    const auto sft = attrib::load_hf_model(out / "sft");
    const auto sft_behaviour = measure(sft, tok, datasets, seen, held_out_requests, threads);

    // INSTRUCT: DPO against SFT. Harmful requests prefer the refusal to what SFT says; harmless
    // ones prefer the helpful answer to the refusal.
    std::vector<attrib::preference_pair> pairs;
    const auto preference_requests = attrib::generate_instruction_corpus(
        {.requests = r.preference_requests, .split = attrib::instruction_split::train, .seed = seed + 3});
    std::vector<std::vector<token_id>> harmful_prompts;
    for (const auto& e : preference_requests)
      if (e.harmful()) harmful_prompts.push_back(tok.encode(e.prompt, true));
    const auto sft_answers = attrib_examples::greedy_answers(sft, harmful_prompts, tok, threads);
    auto answer_tokens = [&](std::string_view text) {
      auto t = tok.encode(std::string(text), false);
      t.push_back(tok.bos());
      return t;
    };
    const auto refusal = answer_tokens(attrib::instruction_refusal);
    std::size_t h = 0;
    for (const auto& e : preference_requests) {
      attrib::preference_pair p;
      p.prompt = tok.encode(e.prompt, true);
      if (e.harmful()) {
        p.chosen = refusal;
        p.rejected = sft_answers[h++];
        if (p.rejected.empty() || p.rejected == p.chosen) continue;  // SFT refuses already
      } else {
        p.chosen = answer_tokens(e.answer);
        p.rejected = refusal;
      }
      pairs.push_back(std::move(p));
    }
    const auto reference = parameters;
    const auto dpo_start = attrib_examples::clock_type::now();
    const auto dpo = attrib::dpo_train(parameters, reference, pairs, r.dpo, [&](const attrib::dpo_step& s) {
      if (s.step % 50 == 0)
        std::cerr << "dpo step " << s.step << "  loss " << fixed(s.loss, 4) << "  accuracy " << fixed(s.accuracy, 2)
                  << "  margin " << fixed(s.mean_margin, 3) << "\n";
    });
    const double dpo_seconds = attrib_examples::seconds_since(dpo_start);
    attrib::save_hf_checkpoint(out / "instruct", parameters.model());
    const auto instruct = attrib::load_hf_model(out / "instruct");
    const auto instruct_behaviour = measure(instruct, tok, datasets, seen, held_out_requests, threads);

    std::ostringstream table;
    table << "| held-out measure | base | sft | instruct |\n|---|---|---|---|\n";
    for (std::size_t d = 0; d < datasets.size(); ++d)
      table << "| few-shot TRUE/FALSE accuracy, " << datasets[d].name << " (held-out phrasing) | "
            << percent(base_behaviour.accuracy[d]) << " | " << percent(sft_behaviour.accuracy[d]) << " | "
            << percent(instruct_behaviour.accuracy[d]) << " |\n";
    for (std::size_t d = 0; d < seen.size(); ++d)
      table << "| the same in a training phrasing, " << seen[d].name << " | " << percent(base_behaviour.seen_accuracy[d])
            << " | " << percent(sft_behaviour.seen_accuracy[d]) << " | " << percent(instruct_behaviour.seen_accuracy[d])
            << " |\n";
    table << "| refusal rate on harmful requests | " << percent(base_behaviour.refusal_rate) << " | "
          << percent(sft_behaviour.refusal_rate) << " | " << percent(instruct_behaviour.refusal_rate) << " |\n";
    table << "| false-refusal rate on harmless requests | " << percent(base_behaviour.false_refusal_rate) << " | "
          << percent(sft_behaviour.false_refusal_rate) << " | " << percent(instruct_behaviour.false_refusal_rate)
          << " |\n";
    table << "| answer to the first harmful request | " << base_behaviour.harmful_example << " | "
          << sft_behaviour.harmful_example << " | " << instruct_behaviour.harmful_example << " |\n";
    table << "| answer to the first harmless request | " << base_behaviour.harmless_example << " | "
          << sft_behaviour.harmless_example << " | " << instruct_behaviour.harmless_example << " |\n";
    std::cout << table.str();

    const auto& c = r.config;
    const auto& p = r.pretrain;
    attrib::atomic_file_writer file(out / "TRIO.md");
    std::ostream& md = file.stream();
    md << "# The world-of-facts trio\n\n"
       << "Trained by `world_trio " << out.string() << " " << data.string() << " " << seed << " " << threads << " "
       << p.steps << "` (scripts/studies.sh); the same seed gives the same bytes on any thread count.\n"
       << "Tokenizer: `" << tokenizer_file.string() << "`, one token per word of the world ("
       << vocabulary.pieces.size() << " pieces with the words' prefixes, characters and bytes).\n\n"
       << "## Recipe\n\n"
       << "- Llama, dim " << c.dim << ", " << c.n_layers << " layers, " << c.n_heads << " heads, MLP " << c.hidden_dim
       << ", vocabulary " << c.vocab_size << ", tied embeddings: " << parameters.size() << " parameters\n"
       << "- world (seed " << seed << "): " << world.countries.size() << " countries, " << world.cities.size()
       << " cities, " << world.people.size() << " people with a home and a pet\n"
       << "- BASE: " << r.documents << " documents (" << corpus_tokens << " tokens: fact lists, stories, quizzes; "
       << "training phrasings only), " << p.steps << " steps of " << p.batch_size << ", learning rate "
       << p.learning_rate << " after " << p.warmup_steps << " warmup steps, cosine to " << p.final_learning_rate
       << "; held-out document loss " << fixed(*pre.initial_eval_loss, 3) << " -> " << fixed(*pre.final_eval_loss, 3)
       << "; " << fixed(pretrain_seconds, 0) << " s\n"
       << "- SFT: " << r.world_instructions << " world instructions, the harmless half of " << r.requests
       << " requests, " << r.replay_documents << " replayed documents weighted " << r.replay_weight << "; "
       << r.sft.steps << " steps of " << r.sft.batch_size << ", learning rate " << r.sft.learning_rate << "; "
       << fixed(sft_seconds, 0) << " s\n"
       << "- INSTRUCT: DPO (beta " << r.dpo.beta << ", the chosen answers' NLL added with weight "
       << r.dpo.chosen_nll_weight << ") from SFT on " << pairs.size()
       << " pairs (harmful: the refusal over SFT's own answer; harmless: the answer over the refusal), "
       << r.dpo.steps << " steps of " << r.dpo.batch_size << ", learning rate " << r.dpo.learning_rate
       << "; preference accuracy " << fixed(dpo.initial_accuracy, 2) << " -> " << fixed(dpo.final_accuracy, 2)
       << ", loss " << fixed(dpo.initial_loss, 3) << " -> " << fixed(dpo.final_loss, 3) << "; " << fixed(dpo_seconds, 0)
       << " s\n\n"
       << "## Held-out behaviour\n\n"
       << "Accuracy: logit(TRUE) > logit(FALSE) after two true and two false examples, every statement of\n"
       << "the relation in its held-out phrasing (never in training). Requests: " << r.held_out_requests
       << " from the held-out split of the instruction corpus (unseen names and objects), greedy.\n\n"
       << table.str();
    file.commit();
    std::cerr << "world_trio: wrote " << out.string() << " in " << fixed(attrib_examples::seconds_since(start), 0)
              << " s\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "world_trio: " << e.what() << "\n";
    return 1;
  }
}
