#pragma once
// Steering a model's true/false verdicts along a truth direction, and whether one model's
// direction steers another: "How Post-Training Reshapes LLMs" (Du et al., 2025), Table 3, after
// geometry-of-truth's interventions.
//
// Each test statement is asked in a few-shot prompt (few_shot_prompt.hpp). The direction v (a
// mass-mean probe's theta, truth_probes.hpp) is subtracted from the residual stream of true
// statements and added to that of false ones, after each chosen layer (resid_post) at the
// statement's last two tokens (its last word and the period: the paper's positions -6 and -5 for
// Llama-3, whose suffix " This statement is:" is four tokens). The readout is
// PD = P(TRUE) - P(FALSE) under the full-vocabulary softmax at the last position, averaged over the
// statements of each label; the effect of turning true into false is
// (PD_int - PD_base) / (-1 - PD_base), of false into true (PD_int - PD_base) / (1 - PD_base), and
// a cell of Table 3 is their mean: 1 when every verdict flips completely, 0 when nothing moves.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "attrib/concepts/tokenizer.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"
#include "attrib/studies/few_shot_prompt.hpp"
#include "attrib/studies/knowledge_pairs.hpp"
#include "attrib/studies/named_model.hpp"
#include "attrib/studies/truth_probes.hpp"
#include "attrib/transformer/hooks/hooks.hpp"
#include "attrib/transformer/model/model.hpp"

namespace attrib {

// How far an intervention moved the verdict toward `target` (+1 for TRUE, -1 for FALSE):
// (pd_intervened - pd_base) / (target - pd_base). NaN when pd_base already equals the target.
inline double intervention_effect(double pd_intervened, double pd_base, double target) {
  const double room = target - pd_base;
  return room == 0.0 ? std::nan("") : (pd_intervened - pd_base) / room;
}

// Test statements in their few-shot prompts, with the positions an intervention touches.
struct truth_queries {
  std::vector<labelled_statement> statements;
  std::vector<std::vector<token_id>> prompts;
  std::vector<std::pair<index, index>> positions;  // the statement's last two tokens
  token_id true_token = -1;
  token_id false_token = -1;
};

struct truth_query_options {
  std::vector<labelled_statement> few_shot = {};  // empty: choose_few_shot(data, seed, 2)
  statement_format format = {};
  std::uint64_t seed = 1;  // the example choice and each statement's order of the examples
  std::size_t max_statements = 0;  // 0: every statement that is not an example
};

template <tokenizer Tokenizer>
truth_queries make_truth_queries(const truth_dataset& data, const Tokenizer& tok, const truth_query_options& options = {}) {
  require_both_labels(data, "make_truth_queries");
  const auto examples = options.few_shot.empty() ? choose_few_shot(data, options.seed, 2) : options.few_shot;
  truth_queries q;
  for (std::size_t i = 0; i < data.statements.size(); ++i) {
    const auto& s = data.statements[i];
    if (std::any_of(examples.begin(), examples.end(), [&](const labelled_statement& e) { return e.statement == s.statement; }))
      continue;
    if (options.max_statements != 0 && q.statements.size() >= options.max_statements) break;
    const std::string context = few_shot_context(examples, options.format, options.seed, i);
    const std::string text = context + s.statement + options.format.suffix;
    auto prompt = tok.encode(text, true);
    // The statement ends where the prompt stops agreeing with the statement's text alone.
    const auto through = tok.encode(context + s.statement, true);
    const auto end = static_cast<index>(std::mismatch(through.begin(), through.end(), prompt.begin(), prompt.end()).first -
                                        through.begin());
    const auto start = static_cast<index>(tok.encode(context, true).size()) - 1;
    if (end - 2 < start)
      throw invalid_argument("make_truth_queries: statement " + std::to_string(i) + " of '" + data.name +
                             "' is shorter than the two tokens an intervention touches");
    if (q.prompts.empty()) std::tie(q.true_token, q.false_token) = answer_tokens(tok, text, prompt, options.format, "make_truth_queries");
    q.statements.push_back(s);
    q.positions.push_back({end - 2, end - 1});
    q.prompts.push_back(std::move(prompt));
  }
  if (q.statements.empty()) throw invalid_argument("make_truth_queries: '" + data.name + "' has no statements besides the examples");
  std::size_t n_true = 0;
  for (const auto& s : q.statements) n_true += s.label;
  if (n_true == 0 || n_true == q.statements.size())
    throw invalid_argument("make_truth_queries: the queries of '" + data.name + "' need both labels");
  return q;
}

struct truth_intervention_options {
  std::vector<index> layers = {};  // resid_post layers steered; empty: every layer
  double coefficient = 1.0;
  std::size_t batch_rows = 16;
  std::size_t threads = 1;
  // Called after each steered (direction, model) cell with (cells done, cells in all).
  std::function<void(std::size_t, std::size_t)> progress = {};
};

// PD = P(TRUE) - P(FALSE) of each query, steered by `direction` (null: unsteered): subtracted for
// true statements, added for false ones, coefficient times, at the options' layers and the
// queries' positions.
inline vector truth_verdicts(const transformer_model& model, const truth_queries& q, const vector* direction,
                             const truth_intervention_options& options) {
  const auto& c = model.config();
  std::vector<index> layers = options.layers;
  if (layers.empty())
    for (index l = 0; l < c.n_layers; ++l) layers.push_back(l);
  for (index l : layers)
    if (l < 0 || l >= c.n_layers)
      throw invalid_argument("truth_verdicts: layer " + std::to_string(l) + " is outside [0, " + std::to_string(c.n_layers) + ")");
  if (direction != nullptr && direction->size() != c.dim)
    throw invalid_argument("truth_verdicts: a direction of width " + std::to_string(direction->size()) +
                           " for a model of width " + std::to_string(c.dim));
  if (options.batch_rows == 0) throw invalid_argument("truth_verdicts: batch_rows must be positive");
  for (const token_id t : {q.true_token, q.false_token})
    if (t < 0 || t >= c.vocab_size)
      throw invalid_argument("truth_verdicts: answer token " + std::to_string(t) + " is outside the vocabulary");
  vector pd(static_cast<index>(q.prompts.size()));
  forward_options run;
  run.last_position_only = true;
  run.threads = options.threads;
  const float_vector v = direction != nullptr ? float_vector(direction->cast<float>()) : float_vector();
  for (std::size_t first = 0; first < q.prompts.size(); first += options.batch_rows) {
    const std::size_t count = std::min(options.batch_rows, q.prompts.size() - first);
    const std::span<const std::vector<token_id>> batch(q.prompts.data() + first, count);
    hook_set hooks;
    if (direction != nullptr)
      for (std::size_t r = 0; r < count; ++r) {
        const auto [a, b] = q.positions[first + r];
        const auto sign = q.statements[first + r].label ? -1.0 : 1.0;
        for (index l : layers)
          hooks.add(hook_point::resid_post(l), v, static_cast<float>(sign * options.coefficient),
                    {.rows = {static_cast<index>(r)}, .positions = {a, b}});
      }
    run.hooks = direction != nullptr ? &hooks : nullptr;
    const auto logits = model.forward(batch, run);
    for (std::size_t r = 0; r < count; ++r) {
      const auto row = logits[r].row(0).cast<double>();
      const double top = row.maxCoeff();
      const double total = (row.array() - top).exp().sum();
      pd(static_cast<index>(first + r)) = (std::exp(row(q.true_token) - top) - std::exp(row(q.false_token) - top)) / total;
    }
  }
  return pd;
}

// Table 3: every model's truth direction (a mass-mean probe trained on `train` at
// `probe_layer`) applied to every model.
struct truth_intervention_study {
  std::vector<std::string> models;
  std::string dataset;
  std::vector<index> layers;
  double coefficient = 1.0;
  std::size_t true_statements = 0, false_statements = 0;
  vector base_true_pd, base_false_pd;  // per model, unsteered, mean over each label
  // [direction's model][steered model]
  matrix true_pd, false_pd;            // steered means
  matrix true_to_false, false_to_true, effect;
};

template <tokenizer Tokenizer>
truth_intervention_study truth_intervention_study_of(std::span<const named_model> models, const Tokenizer& tok,
                                                     std::span<const truth_dataset> train, const truth_dataset& test,
                                                     index probe_layer, const truth_query_options& query_options = {},
                                                     const truth_intervention_options& options = {}) {
  if (models.empty()) throw invalid_argument("truth_intervention_study_of: no models given");
  // Every model checked before any is used: non-null, and of the first one's width and depth.
  for (const auto& m : models) {
    if (m.model == nullptr) throw invalid_argument("truth_intervention_study_of: model '" + m.name + "' is null");
    if (m.model->config().dim != models.front().model->config().dim)
      throw invalid_argument("truth_intervention_study_of: model '" + m.name + "' has another width than '" +
                             models.front().name + "'; directions transfer between equal widths only");
    if (m.model->config().n_layers != models.front().model->config().n_layers)
      throw invalid_argument("truth_intervention_study_of: model '" + m.name + "' has another number of layers than '" +
                             models.front().name + "'; the steered layers must exist in every model");
  }
  const auto queries = make_truth_queries(test, tok, query_options);
  truth_intervention_study s;
  s.dataset = test.name;
  s.coefficient = options.coefficient;
  s.layers = options.layers;
  if (s.layers.empty())
    for (index l = 0; l < models.front().model->config().n_layers; ++l) s.layers.push_back(l);
  for (const auto& st : queries.statements) (st.label ? s.true_statements : s.false_statements) += 1;
  std::vector<vector> directions;
  for (const auto& m : models) {
    s.models.push_back(m.name);
    const auto acts = centred_truth_activations(*m.model, tok, train, probe_layer, options.threads);
    directions.push_back(fit_mass_mean_probe(acts.centred, acts.labels).direction);
  }
  const auto n = static_cast<index>(models.size());
  const auto means = [&](const vector& pd, double& t, double& f) {
    t = f = 0.0;
    for (index i = 0; i < pd.size(); ++i) (queries.statements[static_cast<std::size_t>(i)].label ? t : f) += pd(i);
    t /= static_cast<double>(s.true_statements);
    f /= static_cast<double>(s.false_statements);
  };
  s.base_true_pd.resize(n);
  s.base_false_pd.resize(n);
  for (index j = 0; j < n; ++j)
    means(truth_verdicts(*models[static_cast<std::size_t>(j)].model, queries, nullptr, options), s.base_true_pd(j), s.base_false_pd(j));
  s.true_pd.resize(n, n);
  s.false_pd.resize(n, n);
  s.true_to_false.resize(n, n);
  s.false_to_true.resize(n, n);
  s.effect.resize(n, n);
  std::size_t done = 0;
  for (index i = 0; i < n; ++i)
    for (index j = 0; j < n; ++j) {
      means(truth_verdicts(*models[static_cast<std::size_t>(j)].model, queries, &directions[static_cast<std::size_t>(i)], options),
            s.true_pd(i, j), s.false_pd(i, j));
      s.true_to_false(i, j) = intervention_effect(s.true_pd(i, j), s.base_true_pd(j), -1.0);
      s.false_to_true(i, j) = intervention_effect(s.false_pd(i, j), s.base_false_pd(j), 1.0);
      s.effect(i, j) = 0.5 * (s.true_to_false(i, j) + s.false_to_true(i, j));
      if (options.progress) options.progress(++done, static_cast<std::size_t>(n * n));
    }
  return s;
}

}  // namespace attrib
