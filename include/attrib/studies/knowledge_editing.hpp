#pragma once
// Knowledge editing with ROME (Meng et al., 2022, "Locating and Editing Factual Associations in
// GPT"), for the talk's claim about "How Post-Training Reshapes LLMs" that better localisation
// implies better editing: a fact is rewritten by a rank-one change of one MLP's down projection,
// at the layer causal tracing located (knowledge_tracing.hpp) and, for comparison, at every other
// layer.
//
// ROME reads an MLP as a key-value memory: its hidden activation k = mlp_post(l) at the subject's
// last token is a key, and W k (W = w_down, dim x hidden) the value written into the residual
// stream. An edit
//   1. takes the key k*, the mean of mlp_post(l) at the subject's last token over the edit
//      prompts (the prompt, and the prompt after each context prefix, as ROME's templates);
//   2. finds a change delta of the value by Adam on -log P(new object | prompt) with delta added
//      to mlp_out(l) at the subject's last token of every edit prompt, plus ROME's weight decay
//      weight_decay * |delta| / |v0|^2 (v0: the MLP's output there), delta clamped to
//      clamp_norm_factor * |v0| after each step;
//   3. writes v* = W k* + delta with the least change of W that the keys' second moment allows:
//      W' = W + delta u^T with u = C^-1 k* / (k*^T C^-1 k*), C = E[k k^T] + lambda I over a
//      sample of text. Then W' k* = v* exactly, and W' k = W k for every key with
//      k^T C^-1 k* = 0: keys that C says look unlike k* keep their values.
//
// mlp_key_covariance estimates C, rome_edit computes one edit (rome_delta_objective is its loss,
// exposed so that a test can check the gradient), apply_rome_edit writes it into the weights.
// knowledge_editing_study_of edits every request of a list independently at the traced layer and
// scores efficacy (the new object beats the old one on the edit prompts), generalisation (the
// same on paraphrases) and specificity (prompts about other facts keep their top token);
// knowledge_editing_layer_sweep does the same at every layer, so a reader sees whether the traced
// layer edits best. The writers give markdown, CSV and JSON.
//
// Deviations from ROME's code (kmeng01/rome): C is estimated from the caller's sequences (ROME:
// 100,000 Wikipedia samples), with an optional ridge lambda because a small sample leaves it
// singular; the key k* and the constraint use the mean key over all edit prompts (ROME enforces
// W' k = v* at the key of the bare prompt and uses the mean key only for the direction; the same
// when there are no context prefixes); the context prefixes are the caller's (ROME samples them
// from the model); there is no essence-drift KL term and no early stop, so every edit makes
// exactly `steps` Adam updates from delta = 0 (ROME stops below a loss of 5e-2 and makes at most
// steps - 1; nothing here is random, so there is no seed); the objective is read in double from
// float32 logits.
#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <limits>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "attrib/concepts/tokenizer.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/hook_point.hpp"
#include "attrib/core/types.hpp"
#include "attrib/io/atomic_file.hpp"
#include "attrib/studies/named_model.hpp"
#include "attrib/studies/report_text.hpp"
#include "attrib/transformer/hooks/hooks.hpp"
#include "attrib/transformer/model/model.hpp"
#include "attrib/transformer/training/backward.hpp"
#include "attrib/transformer/training/parameters.hpp"

namespace attrib {

// ---------------------------------------------------------------------------------------------
// The keys' second moment.

namespace detail::knowledge_editing {

inline void check_layer(const transformer_config& c, index layer, const std::string& who) {
  if (layer < 0 || layer >= c.n_layers)
    throw invalid_argument(who + ": layer " + std::to_string(layer) + " is outside the model's layers [0, " +
                           std::to_string(c.n_layers) + ")");
}

// Tokens per forward pass while sampling keys: bounds the activations held at once, and fixes the
// order of the sums whatever the thread count.
inline constexpr std::size_t covariance_batch_tokens = 4096;

// The sum over every position of every sequence of k k^T, k = mlp_post(layer), and the number of
// positions.
inline std::pair<matrix, std::size_t> key_second_moment(const transformer_model& model, index layer,
                                                        std::span<const std::vector<token_id>> sequences,
                                                        std::size_t threads, const std::string& who) {
  const auto& c = model.config();
  check_layer(c, layer, who);
  if (sequences.empty()) throw invalid_argument(who + ": no sequences to estimate the key covariance from");
  for (std::size_t b = 0; b < sequences.size(); ++b) {
    if (sequences[b].empty()) throw invalid_argument(who + ": covariance sequence " + std::to_string(b) + " is empty");
    if (static_cast<index>(sequences[b].size()) > c.context_length)
      throw invalid_argument(who + ": covariance sequence " + std::to_string(b) + " has " +
                             std::to_string(sequences[b].size()) + " tokens, more than the context length " +
                             std::to_string(c.context_length));
  }
  Eigen::MatrixXd sum = Eigen::MatrixXd::Zero(c.hidden_dim, c.hidden_dim);
  hook_set hooks;
  hooks.call(hook_point::mlp_post(layer), [&sum](hook_point, float_matrix& values, std::span<const token_location>) {
    const Eigen::MatrixXd k = values.cast<double>();
    sum.noalias() += k.transpose() * k;
  });
  forward_options o;
  o.hooks = &hooks;
  // Only the keys are wanted: one logit of one row keeps the unembedding from costing anything.
  o.last_position_only = true;
  o.logit_tokens = {0};
  o.threads = threads;
  std::size_t tokens = 0;
  std::vector<std::vector<token_id>> batch;
  std::size_t batch_tokens = 0;
  const auto flush = [&] {
    if (batch.empty()) return;
    (void)model.forward(batch, o);
    batch.clear();
    batch_tokens = 0;
  };
  for (const auto& s : sequences) {
    if (batch_tokens + s.size() > covariance_batch_tokens) flush();
    batch.push_back(s);
    batch_tokens += s.size();
    tokens += s.size();
  }
  flush();
  // The product's two triangles may differ in rounding; C is symmetric by definition.
  matrix out = 0.5 * (sum + sum.transpose());
  return {std::move(out), tokens};
}

}  // namespace detail::knowledge_editing

// ROME's second-moment statistics of the keys of `layer`: C = (1/N) sum of k k^T over every
// position (BOS included) of every sequence, k = mlp_post(layer), hidden_dim x hidden_dim, in
// double. The sample is exactly the sequences given, each run from position 0 on its own; ROME
// uses 100,000 Wikipedia samples, so pass text like the model's training data, and at least
// hidden_dim tokens (more, in practice) for C to be invertible without rome_options::lambda.
// Throws invalid_argument for a layer outside the model, no sequences, an empty one, one longer
// than the context or holding a token outside the vocabulary.
inline matrix mlp_key_covariance(const transformer_model& model, index layer,
                                 std::span<const std::vector<token_id>> sequences, std::size_t threads = 1) {
  auto [sum, tokens] = detail::knowledge_editing::key_second_moment(model, layer, sequences, threads, "mlp_key_covariance");
  return sum / static_cast<double>(tokens);
}

inline matrix mlp_key_covariance(const transformer_parameters& parameters, index layer,
                                 std::span<const std::vector<token_id>> sequences, std::size_t threads = 1) {
  return mlp_key_covariance(parameters.model(), layer, sequences, threads);
}

// ---------------------------------------------------------------------------------------------
// One edit.

// A prompt an edit reads and optimises: its tokens as the model reads them (BOS first when the
// model expects one) and the position of the subject's last token, where the key is read and
// delta added.
struct edit_prompt {
  std::vector<token_id> tokens;
  index subject_last = 0;
};

// ROME's hyperparameters for GPT-2 XL (hparams/ROME/gpt2-xl.json) unless noted.
struct rome_options {
  // Ridge added to the key covariance, C + lambda I, before it is inverted. ROME adds none (its C
  // comes from 100,000 samples); a sample of fewer tokens than the hidden width leaves C singular,
  // and rome_edit then refuses to run without lambda > 0.
  double lambda = 0.0;
  index steps = 20;                // Adam steps on delta (v_num_grad_steps)
  double learning_rate = 0.5;      // v_lr
  double weight_decay = 0.5;       // v_weight_decay: weight_decay * |delta| / |v0|^2 joins the loss
  double clamp_norm_factor = 4.0;  // |delta| <= factor * |v0| after each step; 0: no clamp
  std::size_t threads = 1;         // 0: all cores; results do not depend on it
};

// An edit of layer `layer`'s w_down: W' = W + delta key_direction^T.
struct rome_edit_result {
  index layer = 0;
  vector key;            // k*: mean of mlp_post(layer) at the subject's last token (hidden_dim)
  vector value;          // v* = W k* + delta (dim)
  vector delta;          // the value change the optimisation found (dim)
  vector key_direction;  // u = C^-1 k* / (k*^T C^-1 k*), C regularised (hidden_dim); u . k* = 1
  // Mean -log P(target | prompt) over the edit prompts and target tokens (the loss without the
  // weight decay) at delta = 0 and at the final delta, with delta added to the activations: what
  // the optimisation achieved, before the weights are changed.
  double loss_before = 0.0;
  double loss_after = 0.0;
  double delta_norm = 0.0;
  // |W' k* - v*| / |v*| with W' rounded to float32 as apply_rome_edit stores it: zero up to
  // that rounding, since W' k* = v* holds exactly in real numbers.
  double residual = 0.0;
  std::vector<double> objective;  // the loss with weight decay at each step, before its update
};

// The value of ROME's objective at delta and its gradient with respect to delta.
struct rome_objective {
  double loss = 0.0;  // nll + weight decay
  double nll = 0.0;   // mean -log P(target) over prompts and target tokens
  vector gradient;    // d loss / d delta (dim)
};

namespace detail::knowledge_editing {

// Each prompt followed by the target but its last token, and where the loss and delta act, as
// rows of the tape's stacked sequences.
struct delta_problem {
  index layer = 0;
  std::vector<std::vector<token_id>> sequences;
  std::vector<index> subject_rows;
  std::vector<index> prediction_rows;  // rows whose next token is a target token
  std::vector<token_id> predicted;     // that target token
  index rows = 0;
};

inline delta_problem make_problem(const transformer_config& c, index layer, std::span<const edit_prompt> prompts,
                                  std::span<const token_id> target, const std::string& who) {
  check_layer(c, layer, who);
  if (prompts.empty()) throw invalid_argument(who + ": no edit prompts");
  if (target.empty()) throw invalid_argument(who + ": the target is empty; give the new object's token ids");
  for (const token_id t : target)
    if (t < 0 || t >= c.vocab_size)
      throw invalid_argument(who + ": target token " + std::to_string(t) + " is outside the vocabulary [0, " +
                             std::to_string(c.vocab_size) + ")");
  delta_problem p;
  p.layer = layer;
  for (std::size_t b = 0; b < prompts.size(); ++b) {
    const auto& prompt = prompts[b];
    const auto length = static_cast<index>(prompt.tokens.size());
    if (length == 0) throw invalid_argument(who + ": edit prompt " + std::to_string(b) + " is empty");
    if (prompt.subject_last < 0 || prompt.subject_last >= length)
      throw invalid_argument(who + ": the subject's last position " + std::to_string(prompt.subject_last) +
                             " is beyond edit prompt " + std::to_string(b) + " of " + std::to_string(length) +
                             " tokens (expected 0.." + std::to_string(length - 1) + ")");
    auto sequence = prompt.tokens;
    sequence.insert(sequence.end(), target.begin(), target.end() - 1);
    if (static_cast<index>(sequence.size()) > c.context_length)
      throw invalid_argument(who + ": edit prompt " + std::to_string(b) + " with the target has " +
                             std::to_string(sequence.size()) + " tokens, more than the context length " +
                             std::to_string(c.context_length));
    for (std::size_t i = 0; i < prompt.tokens.size(); ++i)
      if (prompt.tokens[i] < 0 || prompt.tokens[i] >= c.vocab_size)
        throw invalid_argument(who + ": token " + std::to_string(prompt.tokens[i]) + " at position " +
                               std::to_string(i) + " of edit prompt " + std::to_string(b) +
                               " is outside the vocabulary [0, " + std::to_string(c.vocab_size) + ")");
    // Rows stack the sequences one after the other, as the tape lays them out.
    p.subject_rows.push_back(p.rows + prompt.subject_last);
    for (std::size_t j = 0; j < target.size(); ++j) {
      p.prediction_rows.push_back(p.rows + length - 1 + static_cast<index>(j));
      p.predicted.push_back(target[j]);
    }
    p.rows += static_cast<index>(sequence.size());
    p.sequences.push_back(std::move(sequence));
  }
  return p;
}

// One forward pass with delta added, and the backward pass to delta when asked: the loss without
// weight decay, its gradient, the mean key and the mean MLP output without delta at the subject.
struct delta_pass {
  double nll = 0.0;
  vector gradient;
  vector key;
  vector output;
};

template <class S>
delta_pass run_delta(transformer_tape<S>& tape, const delta_problem& p, const vector& delta, bool with_gradient,
                     std::size_t threads) {
  using tape_type = tape_matrix<S>;
  const auto& c = tape.config();
  const hook_point out_point = hook_point::mlp_out(p.layer);
  std::map<hook_point, tape_type> offsets;
  tape_type& offset = offsets[out_point];
  offset.setZero(p.rows, c.dim);
  const auto delta_row = delta.cast<S>().transpose();
  for (const index r : p.subject_rows) offset.row(r) = delta_row;
  const hook_point record[] = {hook_point::mlp_post(p.layer), out_point};
  tape.forward(p.sequences, offsets, threads, record);

  const auto& logits = tape.logits();
  tape_type dlogits = tape_type::Zero(logits.rows(), logits.cols());
  const double weight = 1.0 / static_cast<double>(p.prediction_rows.size());
  delta_pass out;
  for (std::size_t k = 0; k < p.prediction_rows.size(); ++k) {
    const index r = p.prediction_rows[k];
    const Eigen::RowVectorXd z = logits.row(r).template cast<double>();
    const double top = z.maxCoeff();
    const Eigen::RowVectorXd e = (z.array() - top).exp().matrix();
    const double sum = e.sum();
    out.nll += weight * (top + std::log(sum) - z(p.predicted[k]));
    // d(-log softmax(z)_t)/dz = softmax(z) - onehot(t).
    Eigen::RowVectorXd d = (weight / sum) * e;
    d(p.predicted[k]) -= weight;
    dlogits.row(r) = d.cast<S>();
  }
  const auto& keys = tape.activation(hook_point::mlp_post(p.layer));
  const auto& outputs = tape.activation(out_point);
  out.key = vector::Zero(c.hidden_dim);
  out.output = vector::Zero(c.dim);
  for (const index r : p.subject_rows) {
    out.key += keys.row(r).transpose().template cast<double>();
    out.output += outputs.row(r).transpose().template cast<double>();
  }
  const auto n = static_cast<double>(p.subject_rows.size());
  out.key /= n;
  out.output = out.output / n - delta;  // the recorded output includes the offset
  if (with_gradient) {
    const hook_point points[] = {out_point};
    const auto g = tape.backward(dlogits, points, false, threads);
    const auto& at = g.points.at(out_point);
    out.gradient = vector::Zero(c.dim);
    // The same delta enters at every prompt's subject: its gradient is the sum over them.
    for (const index r : p.subject_rows) out.gradient += at.row(r).transpose().template cast<double>();
  }
  return out;
}

// ROME's weight decay, weight_decay * |delta| / |v0|^2 (the norm of delta, not its square, as
// ROME writes it), and its gradient (zero at delta = 0, where the norm has no derivative).
inline double weight_decay(const vector& delta, double reference, double factor, vector* gradient) {
  const double norm = delta.norm();
  const double scale = factor / (reference * reference);
  if (gradient && norm > 0.0) *gradient += (scale / norm) * delta;
  return scale * norm;
}

// |v0|, the scale ROME measures delta against; 1 when the MLP's output there is exactly zero.
inline double reference_norm(const vector& output) {
  const double norm = output.norm();
  return norm > 0.0 ? norm : 1.0;
}

inline void check_options(const rome_options& o, const std::string& who) {
  if (!(o.lambda >= 0.0) || !std::isfinite(o.lambda))
    throw invalid_argument(who + ": lambda must be finite and non-negative, not " + std::to_string(o.lambda));
  if (o.steps < 0) throw invalid_argument(who + ": steps must be non-negative, not " + std::to_string(o.steps));
  if (!(o.learning_rate > 0.0) || !std::isfinite(o.learning_rate))
    throw invalid_argument(who + ": learning_rate must be positive and finite, not " + std::to_string(o.learning_rate));
  if (!(o.weight_decay >= 0.0) || !std::isfinite(o.weight_decay))
    throw invalid_argument(who + ": weight_decay must be finite and non-negative, not " + std::to_string(o.weight_decay));
  if (!(o.clamp_norm_factor >= 0.0) || !std::isfinite(o.clamp_norm_factor))
    throw invalid_argument(who + ": clamp_norm_factor must be finite and non-negative (0: no clamp), not " +
                           std::to_string(o.clamp_norm_factor));
}

// C + lambda I, factored once for every edit at one layer.
class covariance_factor {
 public:
  covariance_factor(const matrix& covariance, double lambda, index hidden, index layer, const std::string& who) {
    if (covariance.rows() != hidden || covariance.cols() != hidden)
      throw invalid_argument(who + ": the key covariance is " + std::to_string(covariance.rows()) + " x " +
                             std::to_string(covariance.cols()) + ", expected hidden_dim x hidden_dim = " +
                             std::to_string(hidden) + " x " + std::to_string(hidden) + " (mlp_key_covariance)");
    if (!covariance.allFinite()) throw invalid_argument(who + ": the key covariance holds a non-finite value");
    if (!(lambda >= 0.0) || !std::isfinite(lambda))
      throw invalid_argument(who + ": lambda must be finite and non-negative, not " + std::to_string(lambda));
    Eigen::MatrixXd regularised = covariance;
    regularised.diagonal().array() += lambda;
    ldlt_.compute(regularised);
    // Pivots of an exactly singular matrix come out at rounding level, about eps |C| per step
    // (the tolerance of solvers/least_squares.hpp); C^-1 k* is then meaningless.
    const vector pivots = ldlt_.vectorD();
    const double top = hidden > 0 ? pivots.cwiseAbs().maxCoeff() : 0.0;
    const double tolerance = 64.0 * static_cast<double>(hidden) * std::numeric_limits<double>::epsilon() * top;
    index rank = 0;
    for (index i = 0; i < pivots.size(); ++i) rank += pivots(i) > tolerance;
    if (ldlt_.info() != Eigen::Success || rank < hidden || !(top > 0.0))
      throw invalid_argument(who + ": the key covariance of layer " + std::to_string(layer) +
                             (lambda > 0.0 ? " plus lambda I" : "") + " is singular (numerical rank " +
                             std::to_string(rank) + " of " + std::to_string(hidden) +
                             "); sample more tokens than the hidden width in mlp_key_covariance or set "
                             "rome_options::lambda > 0");
  }

  vector solve(const vector& k) const { return ldlt_.solve(k); }

 private:
  Eigen::LDLT<Eigen::MatrixXd> ldlt_;
};

inline const float_matrix& w_down(const transformer_parameters& p, index layer, const std::string& who) {
  const index id = p.find("layers." + std::to_string(layer) + ".w_down");
  if (id < 0) throw invalid_argument(who + ": the parameters have no tensor layers." + std::to_string(layer) + ".w_down");
  return p.tensors[static_cast<std::size_t>(id)];
}

// W + delta u^T rounded to float32, entry by entry: what apply_rome_edit stores.
inline float_matrix edited_weight(const float_matrix& w, const vector& delta, const vector& u) {
  float_matrix out(w.rows(), w.cols());
  for (index i = 0; i < w.rows(); ++i)
    for (index j = 0; j < w.cols(); ++j)
      out(i, j) = static_cast<float>(static_cast<double>(w(i, j)) + delta(i) * u(j));
  return out;
}

template <class = void>
rome_edit_result rome_edit_factored(const transformer_parameters& parameters, index layer,
                                    std::span<const edit_prompt> prompts, std::span<const token_id> target,
                                    const covariance_factor& factor, const rome_options& options,
                                    const std::string& who) {
  const auto& c = parameters.config;
  check_options(options, who);
  const delta_problem problem = make_problem(c, layer, prompts, target, who);
  const float_matrix& w = w_down(parameters, layer, who);
  transformer_tape<float> tape(parameters);

  rome_edit_result r;
  r.layer = layer;
  vector delta = vector::Zero(c.dim);
  // Adam with PyTorch's defaults, as ROME's torch.optim.Adam([delta], lr=v_lr).
  constexpr double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;
  vector m = vector::Zero(c.dim), v = vector::Zero(c.dim);
  double reference = 1.0;
  for (index step = 0; step <= options.steps; ++step) {
    const bool last = step == options.steps;
    const delta_pass pass = run_delta(tape, problem, delta, !last, options.threads);
    if (step == 0) {
      r.key = pass.key;
      r.loss_before = pass.nll;
      reference = reference_norm(pass.output);
    }
    if (last) {
      r.loss_after = pass.nll;
      break;
    }
    vector g = pass.gradient;
    r.objective.push_back(pass.nll + weight_decay(delta, reference, options.weight_decay, &g));
    const double t = static_cast<double>(step + 1);
    m = beta1 * m + (1.0 - beta1) * g;
    v = beta2 * v + (1.0 - beta2) * g.cwiseAbs2();
    const vector m_hat = m / (1.0 - std::pow(beta1, t));
    const vector v_hat = v / (1.0 - std::pow(beta2, t));
    delta -= options.learning_rate * (m_hat.array() / (v_hat.array().sqrt() + epsilon)).matrix();
    if (options.clamp_norm_factor > 0.0) {
      const double limit = options.clamp_norm_factor * reference;
      const double norm = delta.norm();
      if (norm > limit) delta *= limit / norm;
    }
  }

  const vector solved = factor.solve(r.key);
  const double denominator = r.key.dot(solved);
  if (!(denominator > 0.0) || !std::isfinite(denominator))
    throw invalid_argument(who + ": k*^T C^-1 k* = " + std::to_string(denominator) +
                           " at layer " + std::to_string(layer) + "; the subject's key is zero or C is not positive definite");
  r.key_direction = solved / denominator;
  r.delta = delta;
  r.delta_norm = delta.norm();
  const Eigen::MatrixXd wd = w.cast<double>();
  r.value = wd * r.key + delta;
  const float_matrix edited = edited_weight(w, delta, r.key_direction);
  const double value_norm = r.value.norm();
  const double miss = (edited.cast<double>() * r.key - r.value).norm();
  r.residual = value_norm > 0.0 ? miss / value_norm : miss;
  return r;
}

}  // namespace detail::knowledge_editing

// ROME's objective at `delta` for the edit of `layer`: the mean over prompts and target tokens of
// -log P(target token | prompt and the target's earlier tokens) with delta added to mlp_out(layer)
// at each prompt's subject_last, plus weight_decay * |delta| / |v0|^2, v0 the mean MLP output at
// the subjects without delta; and its gradient. Throws invalid_argument as rome_edit does.
template <class = void>
rome_objective rome_delta_objective(const transformer_parameters& parameters, index layer,
                                    std::span<const edit_prompt> prompts, std::span<const token_id> target,
                                    const vector& delta, const rome_options& options = {}) {
  namespace ke = detail::knowledge_editing;
  const std::string who = "rome_delta_objective";
  ke::check_options(options, who);
  const auto problem = ke::make_problem(parameters.config, layer, prompts, target, who);
  if (delta.size() != parameters.config.dim || !delta.allFinite())
    throw invalid_argument(who + ": delta has " + std::to_string(delta.size()) + " entries, expected " +
                           std::to_string(parameters.config.dim) + " finite ones");
  detail::transformer_tape<float> tape(parameters);
  const auto pass = ke::run_delta(tape, problem, delta, true, options.threads);
  rome_objective out;
  out.nll = pass.nll;
  out.gradient = pass.gradient;
  out.loss = pass.nll + ke::weight_decay(delta, ke::reference_norm(pass.output), options.weight_decay, &out.gradient);
  return out;
}

// The ROME edit of `layer`'s w_down that makes `target` (token ids of the new object, in order)
// follow each prompt, with `covariance` from mlp_key_covariance of the same layer. The parameters
// are not changed; apply_rome_edit writes the result into them. Throws invalid_argument for a
// layer outside the model, no prompts, an empty prompt or target, a subject position beyond its
// prompt, a token outside the vocabulary, a prompt and target longer than the context, a
// covariance of the wrong shape or singular (without lambda large enough), or options out of range.
template <class = void>
rome_edit_result rome_edit(const transformer_parameters& parameters, index layer, std::span<const edit_prompt> prompts,
                           std::span<const token_id> target, const matrix& covariance, const rome_options& options = {}) {
  namespace ke = detail::knowledge_editing;
  const std::string who = "rome_edit";
  ke::check_layer(parameters.config, layer, who);
  ke::check_options(options, who);
  (void)ke::make_problem(parameters.config, layer, prompts, target, who);  // bad input before the factorisation
  const ke::covariance_factor factor(covariance, options.lambda, parameters.config.hidden_dim, layer, who);
  return ke::rome_edit_factored(parameters, layer, prompts, target, factor, options, who);
}

// One prompt whose subject ends at `subject_last`.
template <class = void>
rome_edit_result rome_edit(const transformer_parameters& parameters, index layer, const std::vector<token_id>& prompt,
                           index subject_last, std::span<const token_id> target, const matrix& covariance,
                           const rome_options& options = {}) {
  const edit_prompt one[] = {{prompt, subject_last}};
  return rome_edit(parameters, layer, std::span<const edit_prompt>(one), target, covariance, options);
}

// Writes the edit into `parameters`: w_down of edit.layer becomes W + delta key_direction^T,
// rounded to float32. Throws invalid_argument when the edit does not fit the parameters' shapes.
inline void apply_rome_edit(transformer_parameters& parameters, const rome_edit_result& edit) {
  const std::string who = "apply_rome_edit";
  detail::knowledge_editing::check_layer(parameters.config, edit.layer, who);
  const index id = parameters.find("layers." + std::to_string(edit.layer) + ".w_down");
  if (id < 0) throw invalid_argument(who + ": the parameters have no tensor layers." + std::to_string(edit.layer) + ".w_down");
  auto& w = parameters.tensors[static_cast<std::size_t>(id)];
  if (edit.delta.size() != w.rows() || edit.key_direction.size() != w.cols())
    throw invalid_argument(who + ": the edit's delta has " + std::to_string(edit.delta.size()) + " and its key direction " +
                           std::to_string(edit.key_direction.size()) + " entries, but w_down is " +
                           std::to_string(w.rows()) + " x " + std::to_string(w.cols()));
  w = detail::knowledge_editing::edited_weight(w, edit.delta, edit.key_direction);
}

// ---------------------------------------------------------------------------------------------
// The study: edits scored by efficacy, generalisation and specificity, at one layer or all.

// One fact to rewrite, in text.
struct edit_request {
  std::string prompt;      // "Lily has a red ball. The ball is"
  std::string subject;     // "The ball": its first occurrence in the prompt; its last token is edited
  std::string new_object;  // " big": what the prompt should continue with after the edit
  // What it continues with now, whose first token's logit the new object must beat; empty: the
  // unedited model's top token after the prompt.
  std::string true_object = "";
  std::vector<std::string> paraphrases = {};  // the same fact in other words
  std::vector<std::string> neighbours = {};   // prompts about other facts; their top token should stay
};

struct knowledge_editing_options {
  rome_options rome = {};
  // ROME's context templates: the edit also reads k* and optimises delta at prefix + prompt for
  // each prefix (ROME samples ten short continuations of the model); the bare prompt always counts.
  std::vector<std::string> context_prefixes = {};
  // Called after each edit with (edits done, edits in all).
  std::function<void(std::size_t, std::size_t)> progress = {};
};

// A request as the study read it, and the unedited model's answers.
struct edited_fact {
  std::string prompt, subject, new_object;
  std::string true_object;  // as given, or the decoded top token when none was
  token_id new_token = -1;  // the first tokens of the new and true objects after the prompt,
  token_id true_token = -1;  // whose logits efficacy and generalisation compare
  std::size_t target_tokens = 0;  // tokens of the new object the optimisation makes likely
  index subject_last = 0;         // the subject's last token in the prompt (BOS counted)
  std::size_t edit_prompts = 0, paraphrases = 0, neighbours = 0;
  // Before any edit, over the edit prompts (efficacy, P(new), margin = logit(new) - logit(true))
  // and the paraphrases (NaN without any).
  double efficacy = 0.0, paraphrase = 0.0, probability = 0.0, margin = 0.0;
};

// One request edited at one layer; scores after the edit.
struct edit_outcome {
  std::size_t fact = 0;  // index into knowledge_editing_study::facts
  index layer = 0;
  double efficacy = 0.0;     // fraction of edit prompts where logit(new) > logit(true)
  double paraphrase = 0.0;   // the same over the paraphrases; NaN without any
  double specificity = 0.0;  // fraction of neighbours whose top token is unchanged; NaN without any
  double probability = 0.0;  // mean P(new token) over the edit prompts
  double margin = 0.0;       // mean logit(new) - logit(true) over the edit prompts
  double loss_before = 0.0, loss_after = 0.0, delta_norm = 0.0, residual = 0.0;  // rome_edit_result's
};

// Means over the facts edited at one layer; score = harmonic mean of efficacy, paraphrase and
// specificity (those that are not NaN), as CounterFact's score S.
struct editing_layer_summary {
  index layer = 0;
  bool traced = false;
  double efficacy = 0.0, paraphrase = 0.0, specificity = 0.0, score = 0.0, probability = 0.0, margin = 0.0,
         delta_norm = 0.0;
};

struct knowledge_editing_study {
  std::string model;
  index traced_layer = 0;
  std::size_t covariance_sequences = 0, covariance_tokens = 0;
  rome_options rome = {};
  std::size_t context_prefixes = 0;
  std::vector<edited_fact> facts;
  std::vector<edit_outcome> edits;  // layer by layer, each fact in order
  std::vector<editing_layer_summary> layers;
  index best_layer = -1;  // the highest score (ties: the larger mean margin, then the lower layer)
  // Means over the facts before any edit.
  double efficacy_before = 0.0, paraphrase_before = 0.0, probability_before = 0.0, margin_before = 0.0;
};

namespace detail::knowledge_editing {

// The tokens `continuation` adds after `prompt` (the ids of prompt_text); invalid_argument when
// encoding them together does not extend the prompt's tokens.
template <tokenizer Tokenizer>
std::vector<token_id> continuation_tokens(const Tokenizer& tok, const std::string& prompt_text,
                                          std::span<const token_id> prompt, const std::string& continuation,
                                          const std::string& who) {
  const auto with = tok.encode(prompt_text + continuation, true);
  if (with.size() <= prompt.size() || !std::equal(prompt.begin(), prompt.end(), with.begin()))
    throw invalid_argument(who + ": '" + continuation + "' does not start a token of its own after '" + prompt_text +
                           "'; choose an object the tokenizer separates from the prompt (a leading space helps)");
  return {with.begin() + static_cast<std::ptrdiff_t>(prompt.size()), with.end()};
}

// The subject's last token in `tokens` (the ids of `text`), the subject at [at, at + size) of text.
template <tokenizer Tokenizer>
index subject_last_token(const Tokenizer& tok, const std::string& text, std::size_t at, std::size_t size,
                         std::span<const token_id> tokens, const std::string& who) {
  const auto through = tok.encode(text.substr(0, at + size), true);
  // All but the subject's last token must read as in the prompt; the last may merge with what
  // follows and is still the token that holds the subject's end.
  if (through.empty() || through.size() > tokens.size() ||
      !std::equal(through.begin(), through.end() - 1, tokens.begin()))
    throw invalid_argument(who + ": the subject does not end on a token of '" + text + "'");
  return static_cast<index>(through.size()) - 1;
}

struct prompt_set {
  std::vector<std::vector<token_id>> prompts;  // edit prompts, then paraphrases, then neighbours
  std::size_t edit = 0, paraphrase = 0, neighbour = 0;
};

struct prompt_scores {
  double efficacy = 0.0, paraphrase = 0.0, probability = 0.0, margin = 0.0;
  std::vector<token_id> neighbour_top;
};

inline double mean_or_nan(double sum, std::size_t n) {
  return n == 0 ? std::numeric_limits<double>::quiet_NaN() : sum / static_cast<double>(n);
}

inline prompt_scores score_prompts(const transformer_model& model, const prompt_set& set, token_id new_token,
                                   token_id true_token, std::size_t threads) {
  forward_options o;
  o.last_position_only = true;
  o.threads = threads;
  const auto logits = model.forward(set.prompts, o);
  prompt_scores s;
  double efficacy = 0.0, paraphrase = 0.0;
  for (std::size_t i = 0; i < set.prompts.size(); ++i) {
    const auto& z = logits[i];
    if (i < set.edit) {
      const Eigen::RowVectorXd d = z.row(0).cast<double>();
      const double top = d.maxCoeff();
      s.probability += std::exp(d(new_token) - top) / (d.array() - top).exp().sum();
      s.margin += d(new_token) - d(true_token);
      efficacy += z(0, new_token) > z(0, true_token);
    } else if (i < set.edit + set.paraphrase) {
      paraphrase += z(0, new_token) > z(0, true_token);
    } else {
      index best = 0;
      z.row(0).maxCoeff(&best);
      s.neighbour_top.push_back(static_cast<token_id>(best));
    }
  }
  s.efficacy = mean_or_nan(efficacy, set.edit);
  s.paraphrase = mean_or_nan(paraphrase, set.paraphrase);
  s.probability = mean_or_nan(s.probability, set.edit);
  s.margin = mean_or_nan(s.margin, set.edit);
  return s;
}

// The mean of the values that are not NaN; NaN when none is.
template <class Get>
double mean_over(const std::vector<edit_outcome>& edits, std::size_t first, std::size_t count, Get get) {
  double sum = 0.0;
  std::size_t n = 0;
  for (std::size_t i = first; i < first + count; ++i) {
    const double v = get(edits[i]);
    if (std::isnan(v)) continue;
    sum += v;
    ++n;
  }
  return mean_or_nan(sum, n);
}

inline double harmonic_mean(std::initializer_list<double> values) {
  double inverse = 0.0;
  std::size_t n = 0;
  for (const double v : values) {
    if (std::isnan(v)) continue;
    if (v <= 0.0) return 0.0;
    inverse += 1.0 / v;
    ++n;
  }
  return n == 0 ? std::numeric_limits<double>::quiet_NaN() : static_cast<double>(n) / inverse;
}

struct prepared_request {
  std::vector<edit_prompt> edit_prompts;
  std::vector<token_id> target;
  prompt_set set;
  prompt_scores before;
};

template <tokenizer Tokenizer>
knowledge_editing_study run_study(const named_model& named, const Tokenizer& tok, index traced_layer,
                                  const std::vector<index>& layers, std::span<const edit_request> requests,
                                  std::span<const std::vector<token_id>> covariance_sample,
                                  const knowledge_editing_options& options, const std::string& who) {
  if (named.model == nullptr) throw invalid_argument(who + ": model '" + named.name + "' is null");
  const auto& c = named.model->config();
  check_layer(c, traced_layer, who);
  check_options(options.rome, who);
  if (requests.empty()) throw invalid_argument(who + ": no edit requests");
  if (covariance_sample.empty()) throw invalid_argument(who + ": no sequences to estimate the key covariance from");

  knowledge_editing_study s;
  s.model = named.name;
  s.traced_layer = traced_layer;
  s.covariance_sequences = covariance_sample.size();
  s.rome = options.rome;
  s.context_prefixes = options.context_prefixes.size();
  // float32 copies of the weights: the model edited, and the one every score reads (also before
  // the edit, so that a quantised model's scores differ by the edit alone).
  transformer_parameters parameters = transformer_parameters::from_model(*named.model);
  const std::size_t threads = options.rome.threads;

  std::vector<prepared_request> prepared;
  for (std::size_t q = 0; q < requests.size(); ++q) {
    const auto& r = requests[q];
    const std::string where = who + ": request " + std::to_string(q);
    if (r.prompt.empty()) throw invalid_argument(where + " has an empty prompt");
    if (r.subject.empty()) throw invalid_argument(where + " has an empty subject");
    if (r.new_object.empty()) throw invalid_argument(where + " has an empty new object");
    const auto at = r.prompt.find(r.subject);
    if (at == std::string::npos)
      throw invalid_argument(where + ": the subject '" + r.subject + "' does not occur in the prompt '" + r.prompt + "'");
    prepared_request p;
    edited_fact f;
    f.prompt = r.prompt;
    f.subject = r.subject;
    f.new_object = r.new_object;
    const auto prompt_tokens = tok.encode(r.prompt, true);
    p.target = continuation_tokens(tok, r.prompt, prompt_tokens, r.new_object, where);
    f.new_token = p.target.front();
    f.target_tokens = p.target.size();
    std::vector<std::string> texts = {r.prompt};
    for (const auto& prefix : options.context_prefixes) texts.push_back(prefix + r.prompt);
    for (std::size_t k = 0; k < texts.size(); ++k) {
      const auto tokens = k == 0 ? prompt_tokens : tok.encode(texts[k], true);
      const std::size_t offset = texts[k].size() - r.prompt.size();
      const index last = subject_last_token(tok, texts[k], offset + at, r.subject.size(), tokens, where);
      p.edit_prompts.push_back({tokens, last});
      p.set.prompts.push_back(tokens);
    }
    f.subject_last = p.edit_prompts.front().subject_last;
    p.set.edit = texts.size();
    for (const auto& text : r.paraphrases) p.set.prompts.push_back(tok.encode(text, true));
    for (const auto& text : r.neighbours) p.set.prompts.push_back(tok.encode(text, true));
    p.set.paraphrase = r.paraphrases.size();
    p.set.neighbour = r.neighbours.size();
    f.edit_prompts = p.set.edit;
    f.paraphrases = p.set.paraphrase;
    f.neighbours = p.set.neighbour;
    // Bad tokens or lengths fail here, naming the request, before any edit runs.
    (void)make_problem(c, traced_layer, p.edit_prompts, p.target, where);
    if (r.true_object.empty()) {
      forward_options o;
      o.last_position_only = true;
      o.threads = threads;
      const std::vector<std::vector<token_id>> one = {prompt_tokens};
      index best = 0;
      parameters.model().forward(one, o)[0].row(0).maxCoeff(&best);
      f.true_token = static_cast<token_id>(best);
      f.true_object = tok.decode(std::span<const token_id>(&f.true_token, 1));
    } else {
      f.true_token = continuation_tokens(tok, r.prompt, prompt_tokens, r.true_object, where).front();
      f.true_object = r.true_object;
    }
    if (f.true_token == f.new_token)
      throw invalid_argument(where + ": the new object '" + r.new_object + "' begins with the same token as the true one ('" +
                             f.true_object + "'), so their logits cannot be compared");
    p.before = score_prompts(parameters.model(), p.set, f.new_token, f.true_token, threads);
    f.efficacy = p.before.efficacy;
    f.paraphrase = p.before.paraphrase;
    f.probability = p.before.probability;
    f.margin = p.before.margin;
    s.facts.push_back(std::move(f));
    prepared.push_back(std::move(p));
  }
  {
    double e = 0.0, pr = 0.0, m = 0.0, para = 0.0;
    std::size_t with_paraphrases = 0;
    for (const auto& f : s.facts) {
      e += f.efficacy;
      pr += f.probability;
      m += f.margin;
      if (!std::isnan(f.paraphrase)) {
        para += f.paraphrase;
        ++with_paraphrases;
      }
    }
    s.efficacy_before = mean_or_nan(e, s.facts.size());
    s.probability_before = mean_or_nan(pr, s.facts.size());
    s.margin_before = mean_or_nan(m, s.facts.size());
    s.paraphrase_before = mean_or_nan(para, with_paraphrases);
  }

  const std::size_t total = layers.size() * requests.size();
  std::size_t done = 0;
  for (const index layer : layers) {
    auto [sum, tokens] = key_second_moment(parameters.model(), layer, covariance_sample, threads, who);
    s.covariance_tokens = tokens;
    const covariance_factor factor(sum / static_cast<double>(tokens), options.rome.lambda, c.hidden_dim, layer, who);
    const index id = parameters.find("layers." + std::to_string(layer) + ".w_down");
    if (id < 0) throw invalid_argument(who + ": the model has no w_down at layer " + std::to_string(layer));
    const std::size_t first = s.edits.size();
    for (std::size_t q = 0; q < prepared.size(); ++q) {
      const auto& p = prepared[q];
      const auto edit = rome_edit_factored(parameters, layer, p.edit_prompts, p.target, factor, options.rome, who);
      // Each request is edited alone: write the edit, score, and put the stored weights back.
      const float_matrix original = parameters.tensors[static_cast<std::size_t>(id)];
      apply_rome_edit(parameters, edit);
      const auto after = score_prompts(parameters.model(), p.set, s.facts[q].new_token, s.facts[q].true_token, threads);
      parameters.tensors[static_cast<std::size_t>(id)] = original;
      edit_outcome o;
      o.fact = q;
      o.layer = layer;
      o.efficacy = after.efficacy;
      o.paraphrase = after.paraphrase;
      std::size_t kept = 0;
      for (std::size_t k = 0; k < after.neighbour_top.size(); ++k) kept += after.neighbour_top[k] == p.before.neighbour_top[k];
      o.specificity = mean_or_nan(static_cast<double>(kept), after.neighbour_top.size());
      o.probability = after.probability;
      o.margin = after.margin;
      o.loss_before = edit.loss_before;
      o.loss_after = edit.loss_after;
      o.delta_norm = edit.delta_norm;
      o.residual = edit.residual;
      s.edits.push_back(o);
      if (options.progress) options.progress(++done, total);
    }
    editing_layer_summary l;
    l.layer = layer;
    l.traced = layer == traced_layer;
    const std::size_t n = prepared.size();
    l.efficacy = mean_over(s.edits, first, n, [](const edit_outcome& e) { return e.efficacy; });
    l.paraphrase = mean_over(s.edits, first, n, [](const edit_outcome& e) { return e.paraphrase; });
    l.specificity = mean_over(s.edits, first, n, [](const edit_outcome& e) { return e.specificity; });
    l.probability = mean_over(s.edits, first, n, [](const edit_outcome& e) { return e.probability; });
    l.margin = mean_over(s.edits, first, n, [](const edit_outcome& e) { return e.margin; });
    l.delta_norm = mean_over(s.edits, first, n, [](const edit_outcome& e) { return e.delta_norm; });
    l.score = harmonic_mean({l.efficacy, l.paraphrase, l.specificity});
    s.layers.push_back(l);
  }
  const editing_layer_summary* best = nullptr;
  for (const auto& l : s.layers) {
    if (std::isnan(l.score)) continue;
    if (best == nullptr || l.score > best->score || (l.score == best->score && l.margin > best->margin)) best = &l;
  }
  s.best_layer = best ? best->layer : -1;
  return s;
}

}  // namespace detail::knowledge_editing

// Edits every request independently at `traced_layer` (the layer causal tracing located) with
// ROME, C estimated at that layer from `covariance_sample` (mlp_key_covariance), and scores each
// edit against the unedited model: efficacy and P(new) on the edit prompts, generalisation on
// the paraphrases, specificity on the neighbours. Prompts are encoded with BOS. Throws
// invalid_argument for a null model, a layer outside it, no requests, no covariance sample, a
// request with an empty prompt, subject or new object, a subject missing from its prompt, a new
// (or given true) object that does not start a token of its own after the prompt or begins with
// the same token as the true one, a prompt beyond the context, or options out of range.
template <tokenizer Tokenizer>
knowledge_editing_study knowledge_editing_study_of(const named_model& model, const Tokenizer& tok, index traced_layer,
                                                   std::span<const edit_request> requests,
                                                   std::span<const std::vector<token_id>> covariance_sample,
                                                   const knowledge_editing_options& options = {}) {
  return detail::knowledge_editing::run_study(model, tok, traced_layer, {traced_layer}, requests, covariance_sample,
                                              options, "knowledge_editing_study_of");
}

// The same edits at every layer, each layer's C from the same sample; the summary marks the
// traced layer and names the layer that scores best, the talk's test of "better localisation
// implies better editing".
template <tokenizer Tokenizer>
knowledge_editing_study knowledge_editing_layer_sweep(const named_model& model, const Tokenizer& tok, index traced_layer,
                                                      std::span<const edit_request> requests,
                                                      std::span<const std::vector<token_id>> covariance_sample,
                                                      const knowledge_editing_options& options = {}) {
  const std::string who = "knowledge_editing_layer_sweep";
  if (model.model == nullptr) throw invalid_argument(who + ": model '" + model.name + "' is null");
  std::vector<index> layers;
  for (index l = 0; l < model.model->config().n_layers; ++l) layers.push_back(l);
  return detail::knowledge_editing::run_study(model, tok, traced_layer, layers, requests, covariance_sample, options, who);
}

// ---------------------------------------------------------------------------------------------
// Reports.

namespace detail::editing_report {

// Free text as a table cell: '|' and newlines escaped, spaces kept (markdown_token shows them as
// dots, which suits a token but not a sentence).
inline std::string cell(const std::string& text) {
  std::string out;
  for (const char ch : text) {
    if (ch == '|') out += "\\|";
    else if (ch == '\n') out += "\\n";
    else if (static_cast<unsigned char>(ch) < 0x20) out += '?';
    else out += ch;
  }
  return out;
}

inline nlohmann::json number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

// A residual of rounding size, 1.2e-08: fixed decimals would show zero.
inline std::string scientific(double v, int digits = 1) {
  if (std::isnan(v)) return "NaN";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*e", digits, v);
  return buffer;
}

inline std::string layer_name(const knowledge_editing_study& s, index layer) {
  return std::to_string(layer) + (layer == s.traced_layer ? " (traced)" : "");
}

}  // namespace detail::editing_report

inline std::string format_markdown(const knowledge_editing_study& s) {
  namespace r = detail::editing_report;
  std::string out = "# Knowledge editing (ROME): " + r::cell(s.model) + "\n\n";
  out += std::to_string(s.facts.size()) + (s.facts.size() == 1 ? " fact" : " facts") + ", each edited alone by a rank-one update of w_down (ROME) at " +
         (s.layers.size() == 1 ? "the traced layer " + std::to_string(s.traced_layer)
                               : "every layer (traced: " + std::to_string(s.traced_layer) + ")") +
         "; key covariance from " + std::to_string(s.covariance_sequences) + " sequences, " +
         std::to_string(s.covariance_tokens) + " tokens, lambda " + detail::fixed(s.rome.lambda, 6) + "; " +
         std::to_string(s.rome.steps) + " Adam steps of rate " + detail::fixed(s.rome.learning_rate, 3) +
         ", weight decay " + detail::fixed(s.rome.weight_decay, 3) + ", " + std::to_string(s.context_prefixes) +
         " context prefixes. Efficacy: fraction of edit prompts where logit(new) > logit(true); paraphrase: the same "
         "on paraphrases; specificity: fraction of neighbour prompts whose top token is unchanged; score: their "
         "harmonic mean.\n\n";
  out += "Before editing: efficacy " + detail::fixed(s.efficacy_before) + ", paraphrase " +
         detail::fixed(s.paraphrase_before) + ", P(new) " + detail::fixed(s.probability_before, 4) + ".\n\n";
  out += "| layer | efficacy | paraphrase | specificity | score | P(new) | logit(new) - logit(true) | mean abs(delta) |\n"
         "|---|---|---|---|---|---|---|---|\n";
  for (const auto& l : s.layers) {
    const std::string name = r::layer_name(s, l.layer);
    out += "| " + (l.layer == s.best_layer ? "**" + name + "**" : name) + " | " + detail::fixed(l.efficacy) + " | " +
           detail::fixed(l.paraphrase) + " | " + detail::fixed(l.specificity) + " | " + detail::fixed(l.score) + " | " +
           detail::fixed(l.probability, 4) + " | " + detail::fixed(l.margin, 2) + " | " + detail::fixed(l.delta_norm, 2) +
           " |\n";
  }
  if (s.layers.size() > 1 && s.best_layer >= 0) {
    // Scores are fractions of few prompts and tie often; name every layer that shares the best
    // one, so that the tie-break (the mean margin) is not read as a clear win.
    double top = 0.0;
    for (const auto& l : s.layers)
      if (l.layer == s.best_layer) top = l.score;
    std::string tied;
    std::size_t ties = 0;
    for (const auto& l : s.layers)
      if (l.score == top) {
        tied += (tied.empty() ? "" : ", ") + r::layer_name(s, l.layer);
        ++ties;
      }
    out += "\n" + std::string(ties > 1 ? "Layers " + tied + " share the best score, " + detail::fixed(top) +
                                             "; by the mean margin, layer " + std::to_string(s.best_layer) + ". "
                                       : "Layer " + r::layer_name(s, s.best_layer) + " scores best, " +
                                             detail::fixed(top) + ". ") +
           (s.best_layer == s.traced_layer ? "The traced layer edits best.\n"
                                            : "The traced layer " + std::to_string(s.traced_layer) + " is not the best.\n");
  }
  out += "\n## Facts\n\n| # | prompt | subject | true | new | efficacy before | paraphrase before | P(new) before |\n"
         "|---|---|---|---|---|---|---|---|\n";
  for (std::size_t f = 0; f < s.facts.size(); ++f) {
    const auto& x = s.facts[f];
    out += "| " + std::to_string(f) + " | " + r::cell(x.prompt) + " | " + r::cell(x.subject) + " | " +
           detail::markdown_token(x.true_object) + " | " + detail::markdown_token(x.new_object) + " | " +
           detail::fixed(x.efficacy) + " | " + detail::fixed(x.paraphrase) + " | " + detail::fixed(x.probability, 4) +
           " |\n";
  }
  out += "\n## Edits\n\n| layer | # | efficacy | paraphrase | specificity | P(new) | loss before | loss after | "
         "abs(delta) | residual |\n|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& e : s.edits)
    out += "| " + r::layer_name(s, e.layer) + " | " + std::to_string(e.fact) + " | " + detail::fixed(e.efficacy) + " | " +
           detail::fixed(e.paraphrase) + " | " + detail::fixed(e.specificity) + " | " + detail::fixed(e.probability, 4) +
           " | " + detail::fixed(e.loss_before) + " | " + detail::fixed(e.loss_after) + " | " +
           detail::fixed(e.delta_norm, 2) + " | " + r::scientific(e.residual) + " |\n";
  return out;
}

// layer,traced,fact,prompt,subject,true_object,new_object,efficacy_before,efficacy_after,
// paraphrase_before,paraphrase_after,specificity,probability_before,probability_after,
// margin_before,margin_after,loss_before,loss_after,delta_norm,residual: one row per edit.
inline std::string format_csv(const knowledge_editing_study& s) {
  std::string out =
      "layer,traced,fact,prompt,subject,true_object,new_object,efficacy_before,efficacy_after,paraphrase_before,"
      "paraphrase_after,specificity,probability_before,probability_after,margin_before,margin_after,loss_before,"
      "loss_after,delta_norm,residual\n";
  for (const auto& e : s.edits) {
    const auto& f = s.facts[e.fact];
    out += std::to_string(e.layer) + "," + (e.layer == s.traced_layer ? "1" : "0") + "," + std::to_string(e.fact) + "," +
           detail::csv_cell(f.prompt) + "," + detail::csv_cell(f.subject) + "," + detail::csv_cell(f.true_object) + "," +
           detail::csv_cell(f.new_object) + "," + detail::fixed(f.efficacy, 6) + "," + detail::fixed(e.efficacy, 6) + "," +
           detail::fixed(f.paraphrase, 6) + "," + detail::fixed(e.paraphrase, 6) + "," + detail::fixed(e.specificity, 6) +
           "," + detail::fixed(f.probability, 6) + "," + detail::fixed(e.probability, 6) + "," +
           detail::fixed(f.margin, 6) + "," + detail::fixed(e.margin, 6) + "," + detail::fixed(e.loss_before, 6) + "," +
           detail::fixed(e.loss_after, 6) + "," + detail::fixed(e.delta_norm, 6) + "," + detail::editing_report::scientific(e.residual, 6) +
           "\n";
  }
  return out;
}

inline std::string format_json(const knowledge_editing_study& s) {
  using nlohmann::json;
  using detail::editing_report::number;
  json j;
  j["model"] = s.model;
  j["traced_layer"] = s.traced_layer;
  j["best_layer"] = s.best_layer;
  j["covariance"] = {{"sequences", s.covariance_sequences}, {"tokens", s.covariance_tokens}, {"lambda", s.rome.lambda}};
  j["rome"] = {{"steps", s.rome.steps},
               {"learning_rate", s.rome.learning_rate},
               {"weight_decay", s.rome.weight_decay},
               {"clamp_norm_factor", s.rome.clamp_norm_factor},
               {"context_prefixes", s.context_prefixes}};
  j["before"] = {{"efficacy", number(s.efficacy_before)},
                 {"paraphrase", number(s.paraphrase_before)},
                 {"probability", number(s.probability_before)},
                 {"margin", number(s.margin_before)}};
  j["facts"] = json::array();
  for (const auto& f : s.facts)
    j["facts"].push_back({{"prompt", f.prompt},
                          {"subject", f.subject},
                          {"new_object", f.new_object},
                          {"true_object", f.true_object},
                          {"new_token", f.new_token},
                          {"true_token", f.true_token},
                          {"target_tokens", f.target_tokens},
                          {"subject_last", f.subject_last},
                          {"edit_prompts", f.edit_prompts},
                          {"paraphrases", f.paraphrases},
                          {"neighbours", f.neighbours},
                          {"efficacy", number(f.efficacy)},
                          {"paraphrase", number(f.paraphrase)},
                          {"probability", number(f.probability)},
                          {"margin", number(f.margin)}});
  j["layers"] = json::array();
  for (const auto& l : s.layers)
    j["layers"].push_back({{"layer", l.layer},
                           {"traced", l.traced},
                           {"efficacy", number(l.efficacy)},
                           {"paraphrase", number(l.paraphrase)},
                           {"specificity", number(l.specificity)},
                           {"score", number(l.score)},
                           {"probability", number(l.probability)},
                           {"margin", number(l.margin)},
                           {"delta_norm", number(l.delta_norm)}});
  j["edits"] = json::array();
  for (const auto& e : s.edits)
    j["edits"].push_back({{"fact", e.fact},
                          {"layer", e.layer},
                          {"efficacy", number(e.efficacy)},
                          {"paraphrase", number(e.paraphrase)},
                          {"specificity", number(e.specificity)},
                          {"probability", number(e.probability)},
                          {"margin", number(e.margin)},
                          {"loss_before", number(e.loss_before)},
                          {"loss_after", number(e.loss_after)},
                          {"delta_norm", number(e.delta_norm)},
                          {"residual", number(e.residual)}});
  return j.dump(1) + "\n";
}

// Writes `stem`.md, `stem`.csv and `stem`.json into `folder` (created when missing), each under
// its final name only when complete.
inline void write_knowledge_editing_study(const std::filesystem::path& folder, const std::string& stem,
                                          const knowledge_editing_study& s) {
  std::filesystem::create_directories(folder);
  write_file_atomically(folder / (stem + ".md"), format_markdown(s));
  write_file_atomically(folder / (stem + ".csv"), format_csv(s));
  write_file_atomically(folder / (stem + ".json"), format_json(s));
}

}  // namespace attrib
