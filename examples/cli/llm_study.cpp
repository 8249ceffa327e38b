// attrib llm study: the studies of "How Post-Training Reshapes LLMs" on a base model and its
// post-trained versions, each writing its tables (markdown, CSV, JSON) and figures (SVG) into
// --out.
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "../svg_heatmap.hpp"
#include "arguments.hpp"
#include "attrib/io/detail/wire.hpp"
#include "attrib/studies/edit_requests.hpp"
#include "attrib/studies/entropy_neurons.hpp"
#include "attrib/studies/instruction_corpus.hpp"
#include "attrib/studies/knowledge_report.hpp"
#include "attrib/studies/knowledge_tracing.hpp"
#include "attrib/studies/paper_conclusions.hpp"
#include "attrib/studies/refusal_direction.hpp"
#include "attrib/studies/truth_report.hpp"
#include "commands.hpp"
#include "files.hpp"
#include "llm_model.hpp"
#include "progress.hpp"
#include "rank_group.hpp"

namespace cli {

namespace {

const char* help = R"(usage: attrib llm study <knowledge|transfer|truth|intervene|refusal|edit|entropy|all> --base M --post M [--sft M] --out DIR [options]

The studies of "How Post-Training Reshapes LLMs" (Du et al., 2025) on a base model and its
post-trained versions (docs/studies.md).

studies:
  knowledge  where each model keeps the knowledge behind a true/false verdict: causal tracing
             with true/false pairs that differ only in the subject (the same object, the same
             token count); each cell patches the true prompt's resid_post of one layer at one
             position into the false prompt's run and reads d = logit(TRUE) - logit(FALSE) at
             the last position; the mean of d over pairs is quantised into the score M (20 bins,
             lower half 0). Writes knowledge.md/.csv/.json (Table 1: Corr(M1, M2), max|M1 - M2|,
             the same over the subject and object columns, for each model against the base) and
             knowledge.svg (each model's M and its difference from the base's).
  transfer   cross-model patching: the base model's activations patched into the post-trained
             model (forward) and the reverse (backward), each compared with the receiving model's
             own map. Writes transfer.md/.csv/.json and transfer.svg. With --sft, the SFT model
             is studied against the base the same way, into transfer_sft.*.
  truth      truth directions and their transfer (Table 2): mass-mean probes on each model's
             resid_post.--layer at the last token of each statement (activations centred per
             dataset), trained on --train and tested on --test; the accuracy of each model's
             probe on every model's activations, cos(theta_A, theta_B), and the same with each
             dataset held out in turn. Writes truth.md/.csv/.json.
  intervene  steering with truth directions (Table 3): each model's direction subtracted from
             true and added to false test statements (few-shot prompts) at resid_post of
             --layers, at the statement's last two tokens; PD = P(TRUE) - P(FALSE) and the
             effect (PD_int - PD_base) / (target - PD_base), for every direction on every
             model. Writes intervene.md/.csv/.json.
  refusal    refusal directions and their transfer (Table 4): each model's direction (mean
             resid_pre.--layer at the last prompt token over harmful minus harmless requests)
             ablated from every layer of every model on held-out harmful requests, and added at
             one layer on harmless ones, during KV-cached greedy generation; the refusal score is
             the fraction of completions that start with a refusal phrase. The requests come from
             attrib's instruction corpus, whose harmful side is a stand-in category (--requests,
             --test-requests, --seed). Writes refusal.md/.csv/.json.
  edit       knowledge editing ("better localisation, better editing"): each request of --edits
             edited in every model on its own by a rank-one ROME update of the MLP at --layer
             (the layer tracing located; default the middle), with efficacy, paraphrase and
             specificity; --sweep edits at every layer to show whether that layer edits best.
             Writes edit_<model>.md/.csv/.json.
  entropy    entropy neurons (Table 14): among the last MLP's neurons with the largest output
             weights (--top-fraction, default 0.25), the --count (default 10) whose output
             direction varies least across the unembedding (LogitVar, computed in Gram form
             without the neurons x vocabulary matrix); overlap and IoU of each model's set with
             the base's. The unembedding takes TransformerLens's defaults: the final norm folded
             in and centred over the vocabulary (--no-fold, --no-center turn them off). Needs no
             tokenizer. Writes entropy.md/.csv/.json.
  all        every study above into --out with one page, index.md, that links their tables and
             figures and checks the paper's qualitative conclusions one by one on these models
             (conclusions.md/.csv/.json: measure, the paper's value, this run's, the criterion,
             the verdict); without --data/--dataset, --train and --test it traces the generated
             cities and trains the probes on larger_than,smaller_than, tested on cities

models (.gguf, llama2.c .bin with --tokenizer, or Hugging Face directories; every model must have
the same layers and width, and their tokenizers must give the same tokens for every prompt):
  --base M, --post M    the base and the post-trained (instruct) model
  --sft M               a supervised-fine-tuned model, studied as a third model
  --base-name N, --post-name N, --sft-name N
                        names in tables and figures (default base, post, sft)
  --tokenizer FILE      the llama2.c tokenizer .bin, for .bin models and for Hugging Face
                        directories without a tokenizer.json

data (knowledge, transfer):
  --data CSV            statements in the geometry-of-truth layout: a header naming statement
                        and label (1/0 or true/false), optional subject and object columns
                        (the object defaults to the statement's last word)
  --dataset NAME        a generated set instead: cities, larger_than or smaller_than
  --max-pairs N         trace at most N pairs (default: all that pass the filter)

data (truth, intervene): each dataset a CSV file as for --data, or cities, larger_than, smaller_than
  --train LIST          comma-separated datasets the probes and directions are trained on
  --test D              the dataset they are tested or steered on
  --layer L             the probe layer (default 3/8 of the layers: 12 of 32, as the paper)
  --layers LIST         intervene: the steered layers, e.g. 8-12 (default 1/4 to 3/8 of the
                        layers: 8-12 of 32, as the paper)
  --coefficient C       intervene: the multiple of the direction added (default 1)
  --max-statements N    intervene: steer at most N test statements (default all)

refusal:
  --layer L             the direction's resid_pre layer (default 11/32 of the layers, as the paper)
  --template T          how a request is put to every model: qa ("Q: ...\nA:", default) or a chat
                        template: llama2, llama3, chatml, qwen, mistral, zephyr, tinyllama, plain
  --base-template T, --post-template T, --sft-template T
                        the same for one model (a base model and its chat version differ)
  --position P          the direction's position from the end of the prompt (default -1)
  --coefficient C       the multiple of the unit direction added (default 2; the paper adds it at
                        resid_pre, resid_mid and resid_post of the layer, 3C in all)
  --resid-pre-only      add it once, at resid_pre (Arditi et al.)
  --max-tokens N        tokens generated per completion (default 16)
  --requests N, --test-requests N
                        requests for the directions and for the completions (default 40 and 20;
                        the corpus alternates five harmful and five harmless, so multiples of 10
                        are half harmful)

edit:
  --edits FILE          a JSON array of requests {"prompt", "subject", "new_object", optional
                        "true_object", "paraphrases": [...], "neighbours": [...]}
  --layer L             the edited layer (default the middle one)
  --sweep               edit at every layer as well
  --sample FILE         text whose MLP keys give ROME's second moment C, one passage per line
                        (default: the requests' own prompts, paraphrases and neighbours)
  --lambda X            ridge added to C (default 0 with --sample, 0.1 without)
  --steps N             Adam steps on the MLP output (default 20)

prompts (knowledge, transfer, intervene):
  --few-shot N          knowledge, transfer: examples of each label per prompt (default 2)
  --seed S              the draw of the examples and each pair's order of them, and the false
                        countries of --dataset cities (default 1)
  --prefix TEXT         what precedes each statement, as in a Q/A or chat template (default none)
  --suffix TEXT         what follows each statement (default " This statement is:")
  --true-answer TEXT, --false-answer TEXT
                        the answers whose first tokens d compares (default " TRUE", " FALSE")

output:
  --out DIR             the folder for the tables and figures (created when missing)
  --threads N           worker threads (default 1; 0: all cores); results do not depend on it
  --quiet               no progress or messages on standard error
  --help                this text

Under mpirun, knowledge and transfer (and the tracing of all) spread the pairs of their maps over
the ranks; the other studies run on rank 0. Rank 0 writes what one process writes.
)";

struct study_model {
  std::string name;
  loaded_model loaded;
};

study_model load_study_model(const arguments& a, const std::string& option, bool need_tokenizer) {
  const std::string path = a.required(option);
  // load_model names the option it reads, --model; the user gave this one.
  if (!std::filesystem::exists(path)) throw usage_error("--" + option + " file '" + path + "' does not exist");
  std::vector<std::string> args = {"--model", path};
  const bool directory = std::filesystem::is_directory(path);
  if (a.has("tokenizer") && !directory) args.insert(args.end(), {"--tokenizer", a.text("tokenizer")});
  const arguments sub(args, {"model", "tokenizer"}, {});
  study_model m{a.text(option + "-name", option), load_model(sub, false)};
  if (!m.loaded.tokenizer && a.has("tokenizer")) {
    auto t = attrib::load_llama2c_tokenizer(a.text("tokenizer"), static_cast<std::size_t>(m.loaded.model->config().vocab_size));
    const std::vector<attrib::token_id> stop = {t.bos(), t.eos()};
    m.loaded.tokenizer = any_tokenizer{std::move(t), stop};
  }
  if (!m.loaded.tokenizer && need_tokenizer)
    throw usage_error("--" + option + " '" + path + "' brings no tokenizer; give the llama2.c tokenizer with --tokenizer");
  return m;
}

attrib::truth_dataset study_data(const arguments& a, std::uint64_t seed) {
  if (a.has("data") == a.has("dataset")) throw usage_error("give one of --data CSV and --dataset NAME");
  if (a.has("data")) return attrib::read_truth_csv(a.text("data"));
  const std::string name = a.text("dataset");
  if (name == "cities") return attrib::cities_dataset(seed);
  if (name == "larger_than") return attrib::larger_than_dataset();
  if (name == "smaller_than") return attrib::smaller_than_dataset();
  throw usage_error("--dataset must be cities, larger_than or smaller_than, got '" + name + "'");
}

// One panel per map, then the differences the study compares, on one colour scale.
void write_study_svg(const std::filesystem::path& path, const attrib::knowledge_study& s, const std::string& title) {
  std::vector<std::string> columns;
  for (std::size_t c = 0; c < s.column_labels.size(); ++c)
    columns.push_back(examples::visible_text(s.column_labels[c]) +
                      (s.roles[c] == attrib::column_role::subject ? " [s]"
                       : s.roles[c] == attrib::column_role::object ? " [o]" : ""));
  const auto panel = [&](const std::string& name, const attrib::matrix& m) {
    examples::heatmap_panel p;
    p.title = name;
    for (attrib::index l = 0; l < m.rows(); ++l) p.row_labels.push_back("resid_post." + std::to_string(l));
    p.column_labels = columns;
    for (attrib::index l = 0; l < m.rows(); ++l)
      for (attrib::index c = 0; c < m.cols(); ++c) p.values.push_back(m(l, c));
    return p;
  };
  std::vector<examples::heatmap_panel> panels;
  const auto name = [](const attrib::knowledge_trace& t) {
    return t.source == t.target ? "M, " + t.target : "M, " + t.source + " patched into " + t.target;
  };
  for (const auto& t : s.traces) panels.push_back(panel(name(t), t.score));
  for (const auto& c : s.comparisons)
    panels.push_back(panel("difference: " + c.name, s.traces[c.first].score - s.traces[c.second].score));
  attrib::atomic_file_writer file(path);
  examples::write_heatmap_svg(file.stream(), title, "score M (0 to 1); differences M1 - M2", panels);
  file.commit();
}

void report(const arguments& a, const attrib::knowledge_study& s, const std::filesystem::path& folder,
            const std::string& stem, const std::string& title) {
  attrib::write_knowledge_study(folder, stem, s);
  write_study_svg(folder / (stem + ".svg"), s, title);
  auto& out = messages(a);
  out << "attrib llm study: " << title << " (" << (s.traces.empty() ? 0 : s.traces.front().pairs) << " pairs)\n";
  for (const auto& c : s.comparisons)
    out << "  " << c.name << ": Corr " << attrib::detail::fixed(c.values.correlation) << ", max|M1 - M2| "
        << attrib::detail::fixed(c.values.max_difference, 1) << ", over knowledge columns "
        << attrib::detail::fixed(c.values.max_knowledge_difference, 1) << "\n";
  out << "  wrote " << (folder / (stem + ".md")).string() << " and .csv, .json, .svg\n";
}



attrib::statement_format statement_format_of(const arguments& a) {
  attrib::statement_format f;
  f.prefix = a.text("prefix", f.prefix);
  f.suffix = a.text("suffix", f.suffix);
  f.true_answer = a.text("true-answer", f.true_answer);
  f.false_answer = a.text("false-answer", f.false_answer);
  return f;
}

// Patching and steering across models pair token positions: every model must read the texts alike.
void require_same_tokens(const std::vector<study_model>& models, const std::vector<std::string>& texts) {
  for (std::size_t m = 1; m < models.size(); ++m)
    for (const auto& text : texts)
      if (models[m].loaded.tokenizer->encode(text) != models.front().loaded.tokenizer->encode(text))
        throw usage_error("the tokenizers of " + models[m].name + " and " + models.front().name +
                          " give different tokens for '" + text.substr(0, 60) +
                          "'; comparing the models position by position needs one tokenisation");
}

// What `all` keeps of each study, to check the paper's conclusions on.
struct kept_studies {
  std::optional<attrib::knowledge_study> storage;
  std::vector<attrib::knowledge_study> transfers;
  std::optional<attrib::truth_probe_study> truth;
  std::optional<attrib::truth_intervention_study> intervention;
  std::optional<attrib::refusal_study> refusal;
  std::optional<attrib::entropy_neuron_study> entropy;
};

// Distributed tracing. A study's maps are sweeps over the same pairs, one knowledge_tracer each (a
// source model's true prompts patched into a target model's false ones): under mpirun the ranks
// share out the (map, pair) items in fixed runs (rank_group.hpp), each rank holding every model
// once, and rank 0 adds each map's pairs in pair order and puts the study together as the
// library's knowledge_storage_study and knowledge_transfer_study do. Each map is the
// single-process map bit for bit (the same pairs added in the same order); one process runs the
// library's study functions themselves, so the tests comparing the outputs of one process and of
// several ranks check this assembly against the library's.
struct traced_run {
  std::size_t source = 0, target = 0;  // indices into the named models
};

// The traces of `runs`, in order, on rank 0 (empty elsewhere); progress counts this rank's pairs.
std::vector<attrib::knowledge_trace> traces_across_ranks(const arguments& a, const std::string& study,
                                                         const std::vector<attrib::named_model>& named,
                                                         const std::vector<traced_run>& runs,
                                                         const attrib::knowledge_pairs& pairs, const rank_group& ranks) {
  attrib::knowledge_tracing_options options;
  options.threads = a.threads();
  std::vector<std::unique_ptr<attrib::knowledge_tracer>> tracers;  // one per map; not movable
  for (const traced_run& run : runs)
    tracers.push_back(std::make_unique<attrib::knowledge_tracer>(*named[run.source].model, named[run.source].name,
                                                                 *named[run.target].model, named[run.target].name,
                                                                 pairs, options));
  const auto per_map = static_cast<attrib::index>(pairs.pairs.size());
  progress bar(a, "attrib llm study " + study, "pairs", 0);
  const auto parts = gather_item_runs(ranks, static_cast<attrib::index>(runs.size()) * per_map,
                                      [&](attrib::index first, attrib::index last) {
                                        attrib::detail::wire_writer w;
                                        for (attrib::index item = first; item < last; ++item) {
                                          const auto t = tracers[static_cast<std::size_t>(item / per_map)]->trace_pair(
                                              static_cast<std::size_t>(item % per_map));
                                          w.put(t.effect);
                                          w.put(t.true_effect);
                                          w.put(t.false_effect);
                                          w.put(t.right);
                                          bar.update(static_cast<std::size_t>(item - first + 1),
                                                     static_cast<std::size_t>(last - first));
                                        }
                                        return w.take();
                                      });
  std::vector<attrib::knowledge_trace> traces;
  if (!ranks.is_root()) return traces;
  attrib::index item = 0;
  for (const auto& part : parts) {
    attrib::detail::wire_reader r(part);
    for (; !r.done(); ++item) {
      attrib::knowledge_pair_trace t;
      r.get(t.effect);
      r.get(t.true_effect);
      r.get(t.false_effect);
      r.get(t.right);
      attrib::detail::require(item < static_cast<attrib::index>(runs.size()) * per_map,
                              "the ranks sent more traced pairs than the study has; do all ranks run the same build?");
      tracers[static_cast<std::size_t>(item / per_map)]->add(t);
    }
  }
  for (const auto& tracer : tracers) traces.push_back(tracer->result());
  return traces;
}

// knowledge_storage_study across the ranks: every model on itself, each later one compared with
// the first. The study on rank 0, nullopt elsewhere.
std::optional<attrib::knowledge_study> storage_across_ranks(const arguments& a,
                                                            const std::vector<attrib::named_model>& named,
                                                            const attrib::knowledge_pairs& pairs,
                                                            const std::string& dataset, const rank_group& ranks) {
  std::vector<traced_run> runs;
  for (std::size_t m = 0; m < named.size(); ++m) runs.push_back({m, m});
  auto traces = traces_across_ranks(a, "knowledge", named, runs, pairs, ranks);
  if (!ranks.is_root()) return std::nullopt;
  auto study = attrib::detail::study_frame(dataset, pairs);
  study.traces = std::move(traces);
  const auto knowledge = pairs.knowledge_columns();
  for (std::size_t m = 1; m < named.size(); ++m)
    attrib::detail::add_comparison(study, named.front().name + " vs " + named[m].name, 0, m, knowledge);
  return study;
}

// knowledge_transfer_study of named[0] (the base) and named[post] across the ranks: both models
// on themselves, then each one's activations patched into the other.
std::optional<attrib::knowledge_study> transfer_across_ranks(const arguments& a,
                                                             const std::vector<attrib::named_model>& named,
                                                             std::size_t post, const attrib::knowledge_pairs& pairs,
                                                             const std::string& dataset, const rank_group& ranks) {
  const std::vector<traced_run> runs = {{0, 0}, {post, post}, {0, post}, {post, 0}};
  auto traces = traces_across_ranks(a, "transfer", named, runs, pairs, ranks);
  if (!ranks.is_root()) return std::nullopt;
  auto study = attrib::detail::study_frame(dataset, pairs);
  study.traces = std::move(traces);
  const auto knowledge = pairs.knowledge_columns();
  const std::string& base_name = named[0].name;
  const std::string& post_name = named[post].name;
  attrib::detail::add_comparison(
      study, "forward transfer (" + base_name + " -> " + post_name + " vs " + post_name + ")", 2, 1, knowledge);
  attrib::detail::add_comparison(
      study, "backward transfer (" + post_name + " -> " + base_name + " vs " + base_name + ")", 3, 0, knowledge);
  attrib::detail::add_comparison(study, base_name + " vs " + post_name, 0, 1, knowledge);
  return study;
}

int knowledge_command(const arguments& a, const std::string& study, const std::vector<study_model>& models,
                      const std::vector<attrib::named_model>& named, kept_studies* keep = nullptr) {
  const auto seed = static_cast<std::uint64_t>(a.integer("seed", 1, 0, INT64_MAX));
  attrib::knowledge_prompt_options prompt;
  prompt.seed = seed;
  prompt.few_shot_per_label = static_cast<std::size_t>(a.integer("few-shot", 2, 1, 64));
  prompt.max_pairs = static_cast<std::size_t>(a.integer("max-pairs", 0, 0, INT64_MAX));
  prompt.format = statement_format_of(a);
  const auto data = study_data(a, seed);
  const auto pairs = attrib::make_knowledge_pairs(data, *models.front().loaded.tokenizer, prompt);
  for (std::size_t m = 1; m < models.size(); ++m) {
    const auto other = attrib::make_knowledge_pairs(data, *models[m].loaded.tokenizer, prompt);
    bool same = other.pairs.size() == pairs.pairs.size() && other.true_token == pairs.true_token &&
                other.false_token == pairs.false_token;
    for (std::size_t i = 0; same && i < pairs.pairs.size(); ++i)
      same = other.pairs[i].true_prompt == pairs.pairs[i].true_prompt &&
             other.pairs[i].false_prompt == pairs.pairs[i].false_prompt;
    if (!same)
      throw usage_error("the tokenizers of " + models[m].name + " and " + models.front().name +
                        " give different tokens for the study's prompts; patching across models needs one tokenisation");
  }
  messages(a) << "attrib llm study: " << pairs.pairs.size() << " pairs of " << data.name << " (" << pairs.candidates
              << " true statements; " << pairs.without_partner << " without a partner of the same object, "
              << pairs.unequal_length << " only with partners of other token counts, " << pairs.other_shape
              << " of another shape), " << pairs.window << " traced positions\n";
  const std::filesystem::path folder = a.required("out");
  // Each study's sweep with its own progress line.
  const auto traced = [&](auto&& run) {
    progress bar(a, "attrib llm study " + study, "pairs", 0);
    attrib::knowledge_tracing_options options;
    options.threads = a.threads();
    options.progress = [&](std::size_t done, std::size_t total) { bar.update(done, total); };
    return std::optional<attrib::knowledge_study>(run(options));
  };
  const rank_group& ranks = command_ranks();
  if (study == "knowledge") {
    const auto s = ranks.distributed()
                       ? storage_across_ranks(a, named, pairs, data.name, ranks)
                       : traced([&](const auto& o) { return attrib::knowledge_storage_study(named, pairs, data.name, o); });
    if (!s) return 0;  // the maps are on rank 0, which writes them once
    report(a, *s, folder, "knowledge", "knowledge storage: " + data.name);
    if (keep != nullptr) keep->storage = *s;
    return 0;
  }
  for (std::size_t m = 1; m < named.size(); ++m) {
    const auto transfer = [&](const auto& o) {
      return attrib::knowledge_transfer_study(named[0], named[m], pairs, data.name, o);
    };
    const auto s = ranks.distributed() ? transfer_across_ranks(a, named, m, pairs, data.name, ranks) : traced(transfer);
    if (!s) continue;
    report(a, *s, folder, m == 1 ? "transfer" : "transfer_sft",
           std::string(m == 1 ? "knowledge transfer: " : "knowledge transfer (SFT): ") + data.name);
    if (keep != nullptr) keep->transfers.push_back(*s);
  }
  return 0;
}

// A dataset named on the command line: a CSV file, or a generator's name.
attrib::truth_dataset dataset_from_spec(const std::string& option, const std::string& spec, std::uint64_t seed) {
  if (std::filesystem::is_regular_file(spec)) return attrib::read_truth_csv(spec);
  if (spec == "cities") return attrib::cities_dataset(seed);
  if (spec == "larger_than") return attrib::larger_than_dataset();
  if (spec == "smaller_than") return attrib::smaller_than_dataset();
  throw usage_error("--" + option + " '" + spec + "' is neither a CSV file nor one of cities, larger_than, smaller_than");
}

int truth_command(const arguments& a, const std::string& study, const std::vector<study_model>& models,
                  const std::vector<attrib::named_model>& named, kept_studies* keep = nullptr) {
  const auto seed = static_cast<std::uint64_t>(a.integer("seed", 1, 0, INT64_MAX));
  std::vector<attrib::truth_dataset> train;
  for (const auto& spec : split(a.required("train"), ',')) train.push_back(dataset_from_spec("train", spec, seed));
  const auto test = dataset_from_spec("test", a.required("test"), seed);
  const attrib::index layers = models.front().loaded.model->config().n_layers;
  // The paper probes Llama-3.1-8B's 32 layers at 12 and steers 8-12.
  const auto layer = static_cast<attrib::index>(a.integer("layer", 3 * layers / 8, 0, layers - 1));
  std::vector<std::string> texts;
  for (const auto* d : {&test}) for (const auto& st : d->statements) texts.push_back(st.statement);
  for (const auto& d : train) for (const auto& st : d.statements) texts.push_back(st.statement);
  require_same_tokens(models, texts);
  const std::filesystem::path folder = a.required("out");
  const auto& tok = *models.front().loaded.tokenizer;
  progress bar(a, "attrib llm study " + study, study == "truth" ? "models" : "cells", 0);
  const auto update = [&](std::size_t done, std::size_t total) { bar.update(done, total); };
  if (study == "truth") {
    attrib::truth_probe_options options;
    options.layer = layer;
    options.threads = a.threads();
    options.progress = update;
    const auto s = attrib::truth_probe_transfer_study(named, tok, train, test, options);
    attrib::write_truth_study(folder, "truth", s);
    auto& out = messages(a);
    out << "attrib llm study: truth probes at resid_post." << layer << ", tested on " << test.name << "\n";
    for (std::size_t i = 0; i < s.models.size(); ++i)
      for (std::size_t j = 0; j < s.models.size(); ++j)
        out << "  " << s.models[i] << " probe on " << s.models[j] << ": accuracy "
            << attrib::detail::fixed(s.transfer_accuracy(static_cast<attrib::index>(i), static_cast<attrib::index>(j)))
            << ", cos " << attrib::detail::fixed(s.cosine(static_cast<attrib::index>(i), static_cast<attrib::index>(j))) << "\n";
    out << "  wrote " << (folder / "truth.md").string() << " and .csv, .json\n";
    if (keep != nullptr) keep->truth = s;
    return 0;
  }
  attrib::truth_query_options query;
  query.seed = seed;
  query.format = statement_format_of(a);
  query.max_statements = static_cast<std::size_t>(a.integer("max-statements", 0, 0, INT64_MAX));
  attrib::truth_intervention_options options;
  if (a.has("layers"))
    for (auto l : parse_row_list(a.text("layers"), layers, "the model", "layers", "layers"))
      options.layers.push_back(static_cast<attrib::index>(l));
  else
    for (attrib::index l = layers / 4; l <= 3 * layers / 8; ++l) options.layers.push_back(l);
  options.coefficient = a.number("coefficient", 1.0);
  options.threads = a.threads();
  options.progress = update;
  const auto s = attrib::truth_intervention_study_of(named, tok, train, test, layer, query, options);
  attrib::write_truth_study(folder, "intervene", s);
  auto& out = messages(a);
  out << "attrib llm study: truth interventions on " << test.name << " (" << s.true_statements << " true, "
      << s.false_statements << " false)\n";
  for (std::size_t i = 0; i < s.models.size(); ++i)
    for (std::size_t j = 0; j < s.models.size(); ++j)
      out << "  " << s.models[i] << " direction steering " << s.models[j] << ": effect "
          << attrib::detail::fixed(s.effect(static_cast<attrib::index>(i), static_cast<attrib::index>(j))) << "\n";
  out << "  wrote " << (folder / "intervene.md").string() << " and .csv, .json\n";
  if (keep != nullptr) keep->intervention = s;
  return 0;
}

int entropy_command(const arguments& a, const std::vector<attrib::named_model>& named, kept_studies* keep = nullptr) {
  attrib::entropy_neuron_options options;
  options.count = static_cast<std::size_t>(a.integer("count", 10, 1, 1 << 20));
  options.top_norm_fraction = a.number("top-fraction", 0.25);
  options.fold_final_norm = !a.flag("no-fold");
  options.center_unembedding = !a.flag("no-center");
  options.center_layer_norm_weights = !a.flag("no-center");
  options.threads = a.threads();
  const auto s = attrib::entropy_neuron_study_of(named, options);
  const std::filesystem::path folder = a.required("out");
  attrib::write_entropy_neuron_study(folder, "entropy", s);
  auto& out = messages(a);
  out << "attrib llm study: entropy neurons of the last layer (" << options.count << " of the top "
      << attrib::detail::fixed(100.0 * options.top_norm_fraction, 0) << "% by output-weight norm)\n";
  for (const auto& c : s.comparisons)
    out << "  " << c.name << ": overlap " << c.values.overlap << ", IoU " << attrib::detail::fixed(c.values.iou) << "\n";
  out << "  wrote " << (folder / "entropy.md").string() << " and .csv, .json\n";
  if (keep != nullptr) keep->entropy = s;
  return 0;
}

int refusal_command(const arguments& a, const std::vector<study_model>& models,
                    const std::vector<attrib::named_model>& named, kept_studies* keep = nullptr) {
  const auto seed = static_cast<std::uint64_t>(a.integer("seed", 1, 0, INT64_MAX));
  attrib::instruction_corpus_options corpus;
  corpus.seed = seed;
  corpus.requests = static_cast<std::size_t>(a.integer("requests", 40, 2, 100000));
  const auto train = attrib::generate_instruction_corpus(corpus);
  corpus.requests = static_cast<std::size_t>(a.integer("test-requests", 20, 2, 100000));
  corpus.split = attrib::instruction_split::held_out;
  const auto test = attrib::generate_instruction_corpus(corpus);
  const auto data = attrib::refusal_instructions_of(train, test);
  std::vector<std::string> texts = data.train_harmful;
  for (const auto* list : {&data.train_harmless, &data.test_harmful, &data.test_harmless})
    texts.insert(texts.end(), list->begin(), list->end());
  require_same_tokens(models, texts);

  const attrib::index layers = models.front().loaded.model->config().n_layers;
  std::vector<attrib::refusal_model> steered;
  for (std::size_t m = 0; m < models.size(); ++m) {
    const std::string option = m == 0 ? "base" : m == 1 ? "post" : "sft";
    const std::string name = a.text(option + "-template", a.text("template", "qa"));
    attrib::refusal_model r;
    r.model = named[m];
    if (name == "qa") {
      r.prompt = [](const std::string& s) { return attrib::instruction_prompt(s); };
    } else {
      const auto family = attrib::chat_family_from_name(name);
      r.prompt = attrib::chat_template_wrapper(family);
      // These templates write the beginning-of-sequence token into the text themselves.
      r.add_bos = !(family == attrib::chat_family::llama2 || family == attrib::chat_family::llama3 ||
                    family == attrib::chat_family::mistral);
    }
    r.position_from_end = static_cast<attrib::index>(a.integer("position", -1, -4096, -1));
    r.addition_coefficient = a.number("coefficient", 2.0);
    steered.push_back(std::move(r));
  }
  attrib::refusal_study_options options;
  // The paper reads the direction at layer 11 of Llama-3.1-8B's 32.
  options.layer = static_cast<attrib::index>(a.integer("layer", 11 * layers / 32, 0, layers - 1));
  if (a.flag("resid-pre-only")) options.addition = attrib::addition_points::resid_pre;
  options.generation.max_new_tokens = static_cast<attrib::index>(a.integer("max-tokens", 16, 1, 4096));
  options.generation.threads = a.threads();
  progress bar(a, "attrib llm study refusal", "cells", 0);
  options.progress = [&](std::size_t done, std::size_t total) { bar.update(done, total); };
  const auto s = attrib::refusal_study_of(steered, *models.front().loaded.tokenizer, data, options);
  const std::filesystem::path folder = a.required("out");
  attrib::write_refusal_study(folder, "refusal", s);
  auto& out = messages(a);
  out << "attrib llm study: refusal directions at resid_pre." << options.layer << " (" << s.test_harmful
      << " harmful, " << s.test_harmless << " harmless held-out requests)\n";
  for (std::size_t j = 0; j < s.models.size(); ++j) {
    const auto b = static_cast<attrib::index>(j);
    out << "  " << s.models[j] << ": refuses " << attrib::detail::fixed(s.baseline_harmful(b), 2) << " of harmful, "
        << attrib::detail::fixed(s.baseline_harmless(b), 2) << " of harmless requests";
    for (std::size_t i = 0; i < s.models.size(); ++i)
      out << "; r_" << s.models[i] << " ablated " << attrib::detail::fixed(s.ablation_harmful(static_cast<attrib::index>(i), b), 2)
          << ", added " << attrib::detail::fixed(s.addition_harmless(static_cast<attrib::index>(i), b), 2);
    out << "\n";
  }
  out << "  wrote " << (folder / "refusal.md").string() << " and .csv, .json\n";
  if (keep != nullptr) keep->refusal = s;
  return 0;
}

int edit_command(const arguments& a, const std::vector<study_model>& models,
                 const std::vector<attrib::named_model>& named) {
  const auto requests = attrib::read_edit_requests(a.required("edits"));
  // The keys' second moment: the caller's text, one passage per line, or the requests' own
  // prompts, paraphrases and neighbours (few tokens: a ridge keeps C invertible).
  std::vector<std::string> passages;
  if (a.has("sample")) {
    const auto text = attrib::detail::read_file_bytes_at_most(a.text("sample"), std::size_t{64} << 20, "a text file of passages");
    for (const auto& line : split(text, '\n'))
      if (!line.empty()) passages.push_back(line);
    if (passages.empty()) throw usage_error("--sample '" + a.text("sample") + "' holds no text");
  } else {
    for (const auto& r : requests) {
      passages.push_back(r.prompt);
      passages.insert(passages.end(), r.paraphrases.begin(), r.paraphrases.end());
      passages.insert(passages.end(), r.neighbours.begin(), r.neighbours.end());
    }
  }
  attrib::knowledge_editing_options options;
  options.rome.lambda = a.number("lambda", a.has("sample") ? 0.0 : 0.1);
  options.rome.steps = static_cast<attrib::index>(a.integer("steps", options.rome.steps, 1, 100000));
  options.rome.threads = a.threads();
  const std::filesystem::path folder = a.required("out");
  for (std::size_t m = 0; m < models.size(); ++m) {
    const attrib::index layers = models[m].loaded.model->config().n_layers;
    const auto layer = static_cast<attrib::index>(a.integer("layer", layers / 2, 0, layers - 1));
    const auto& tok = *models[m].loaded.tokenizer;
    std::vector<std::vector<attrib::token_id>> sample;
    for (const auto& p : passages) sample.push_back(tok.encode(p));
    progress bar(a, "attrib llm study edit", "edits", 0);
    options.progress = [&](std::size_t done, std::size_t total) { bar.update(done, total); };
    const auto s = a.flag("sweep")
                       ? attrib::knowledge_editing_layer_sweep(named[m], tok, layer, requests, sample, options)
                       : attrib::knowledge_editing_study_of(named[m], tok, layer, requests, sample, options);
    const std::string stem = "edit_" + models[m].name;
    attrib::write_knowledge_editing_study(folder, stem, s);
    auto& out = messages(a);
    for (const auto& l : s.layers)
      out << "attrib llm study: " << models[m].name << ", " << requests.size() << " edits at layer " << l.layer
          << (l.traced ? " (traced)" : "") << ": efficacy " << attrib::detail::fixed(l.efficacy, 2) << ", paraphrase "
          << attrib::detail::fixed(l.paraphrase, 2) << ", specificity " << attrib::detail::fixed(l.specificity, 2)
          << "\n";
    out << "  wrote " << (folder / (stem + ".md")).string() << " and .csv, .json\n";
  }
  return 0;
}

// Every study into one folder, and a page that links their tables and figures.
int all_command(const std::vector<std::string>& options, const std::set<std::string>& valued,
                const std::set<std::string>& flags, const std::vector<study_model>& models,
                const std::vector<attrib::named_model>& named) {
  // The data each study reads, when the command line names none: the generated cities for the
  // tracing and as the truth studies' test set, the number comparisons to train their probes.
  std::vector<std::string> with_defaults = options;
  const arguments given(options, valued, flags);
  if (!given.has("data") && !given.has("dataset")) with_defaults.insert(with_defaults.end(), {"--dataset", "cities"});
  if (!given.has("train")) with_defaults.insert(with_defaults.end(), {"--train", "larger_than,smaller_than"});
  if (!given.has("test")) with_defaults.insert(with_defaults.end(), {"--test", "cities"});
  const arguments a(with_defaults, valued, flags);
  kept_studies kept;
  knowledge_command(a, "knowledge", models, named, &kept);
  knowledge_command(a, "transfer", models, named, &kept);
  // The other studies are not spread over ranks: rank 0 runs them, and the other ranks wait for it
  // at main()'s last checkpoint.
  if (!command_ranks().is_root()) return 0;
  truth_command(a, "truth", models, named, &kept);
  truth_command(a, "intervene", models, named, &kept);
  refusal_command(a, models, named, &kept);
  entropy_command(a, named, &kept);
  attrib::study_results results;
  const auto kept_or_null = [](const auto& study) { return study ? &*study : nullptr; };
  results.storage = kept_or_null(kept.storage);
  for (const auto& t : kept.transfers) results.transfers.push_back(&t);
  results.truth = kept_or_null(kept.truth);
  results.intervention = kept_or_null(kept.intervention);
  results.refusal = kept_or_null(kept.refusal);
  results.entropy = kept_or_null(kept.entropy);
  const auto checks = attrib::check_paper_conclusions(results);
  const std::filesystem::path out_folder = a.required("out");
  attrib::write_paper_conclusions(out_folder, "conclusions", checks);
  std::size_t hold = 0, apply = 0;
  for (const auto& c : checks)
    if (c.holds) {
      ++apply;
      hold += *c.holds;
    }
  std::string page = "# How post-training reshapes ";
  for (std::size_t m = 0; m < models.size(); ++m) page += (m == 0 ? "" : m + 1 == models.size() ? " and " : ", ") + models[m].name;
  page += "\n\nEvery study of Du et al. (2025) that attrib runs, on these models (docs/studies.md explains each).\n\n"
          "| study | paper | tables | figure |\n|---|---|---|---|\n"
          "| knowledge storage: causal tracing with true/false pairs | Table 1 | [knowledge.md](knowledge.md), "
          "[.csv](knowledge.csv), [.json](knowledge.json) | [knowledge.svg](knowledge.svg) |\n"
          "| knowledge transfer: cross-model patching | section 3.2 | [transfer.md](transfer.md), [.csv](transfer.csv), "
          "[.json](transfer.json) | [transfer.svg](transfer.svg) |\n";
  if (models.size() > 2)
    page += "| knowledge transfer, SFT model | section 3.2 | [transfer_sft.md](transfer_sft.md) | "
            "[transfer_sft.svg](transfer_sft.svg) |\n";
  page += "| truth directions and probe transfer | Table 2 | [truth.md](truth.md), [.csv](truth.csv), [.json](truth.json) | - |\n"
          "| truth interventions | Table 3 | [intervene.md](intervene.md), [.csv](intervene.csv), [.json](intervene.json) | - |\n"
          "| refusal directions | Table 4 | [refusal.md](refusal.md), [.csv](refusal.csv), [.json](refusal.json) | - |\n"
          "| entropy neurons | Table 14 | [entropy.md](entropy.md), [.csv](entropy.csv), [.json](entropy.json) | - |\n"
          "| the paper's conclusions, checked | all | [conclusions.md](conclusions.md), [.csv](conclusions.csv), "
          "[.json](conclusions.json) | - |\n\n"
          "## The paper's conclusions on these models\n\n" +
          std::to_string(hold) + " of the " + std::to_string(apply) +
          " checks that apply hold (the criteria are attrib's, docs/studies-miniature.md).\n\n" +
          attrib::conclusions_markdown(checks);
  attrib::write_file_atomically(out_folder / "index.md", page);
  messages(a) << "attrib llm study all: " << hold << " of " << apply << " applicable conclusions of the paper hold; wrote "
              << (out_folder / "index.md").string() << " and conclusions.md\n";
  return 0;
}

}  // namespace

int llm_study(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << help;
    return args.empty() ? 2 : 0;
  }
  const std::string study = args[0];
  const std::set<std::string> valued = {
      "base", "post", "sft", "base-name", "post-name", "sft-name", "tokenizer", "data", "dataset", "train", "test",
      "layer", "layers", "coefficient", "max-statements", "max-pairs", "few-shot", "seed", "prefix", "suffix",
      "true-answer", "false-answer", "out", "threads", "count", "top-fraction", "requests", "test-requests",
      "template", "base-template", "post-template", "sft-template", "position", "max-tokens", "edits", "sample",
      "lambda", "steps"};
  const std::set<std::string> flags = {"help", "quiet", "no-fold", "no-center", "resid-pre-only", "sweep"};
  const std::vector<std::string> options(args.begin() + 1, args.end());
  const arguments a(options, valued, flags);
  if (a.flag("help")) {
    std::cout << help;
    return 0;
  }
  const bool tracing = study == "knowledge" || study == "transfer";
  if (!tracing && study != "truth" && study != "intervene" && study != "entropy" && study != "refusal" && study != "all" &&
      study != "edit")
    throw usage_error("unknown study '" + study + "'; expected knowledge, transfer, truth, intervene, refusal, edit, entropy or all");
  a.required("out");
  // Under mpirun the tracing studies (and `all`'s tracing) spread their maps over the ranks; the
  // others run on rank 0 alone, and the other ranks wait for it at main()'s last checkpoint.
  if (!tracing && study != "all" && !command_ranks().is_root()) return 0;
  std::vector<study_model> models;
  // The entropy-neuron study reads weights alone; the others encode text.
  const bool text = study != "entropy";
  models.push_back(load_study_model(a, "base", text));
  models.push_back(load_study_model(a, "post", text));
  if (a.has("sft")) models.push_back(load_study_model(a, "sft", text));
  std::vector<attrib::named_model> named;
  for (const auto& m : models) named.push_back({m.name, m.loaded.model.get()});
  if (study == "all") return all_command(options, valued, flags, models, named);
  if (study == "edit") return edit_command(a, models, named);
  if (study == "entropy") return entropy_command(a, named);
  if (study == "refusal") return refusal_command(a, models, named);
  return tracing ? knowledge_command(a, study, models, named) : truth_command(a, study, models, named);
}

}  // namespace cli
