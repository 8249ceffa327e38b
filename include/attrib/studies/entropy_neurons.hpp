#pragma once
// Entropy neurons and whether post-training keeps them, as in "How Post-Training Reshapes LLMs"
// (Du et al., 2025), Table 14, after Stolfo et al.'s `fig1.py`: neurons of the last MLP whose
// output weight is large yet nearly orthogonal to every unembedding direction, so that they move
// the final norm's scale (and with it the entropy of the next-token distribution) rather than any
// particular logit.
//
// For the last layer, w_i is neuron i's output direction (column i of w_down), norm_i = ||w_i||,
// u_v the unembedding row of token v, and cos_iv = (w_i / ||w_i||) . (u_v / ||u_v||).
// LogitVar_i is the unbiased variance over the V tokens of cos_iv (torch.var's default). The
// candidates are the neurons whose norm is above the 75th percentile of the layer's norms
// (np.percentile, linear interpolation, and a strict >); the entropy neurons are the `count`
// candidates of smallest LogitVar. Two models' sets are compared by overlap and IoU.
//
// The paper's code loads the models with TransformerLens's defaults, which change the weights
// the cosines read, and so do the defaults here:
// - the final norm's weight is folded into U (u_v scaled elementwise by it);
// - U is centred over the vocabulary (center_unembed: the mean row subtracted from every row);
// - LayerNorm models only (gpt2): fold_ln also centres each row of U over its dim entries and
//   center_writing_weights centres every w_i over its entries, since LayerNorm removes that
//   component from the residual stream anyway. This goes beyond the study's definitions, whose
//   models are all RMSNorm (llama), where nothing of the kind happens; it is what makes gpt2
//   numbers comparable with Stolfo's, and center_layer_norm_weights = false turns it off.
//
// The paper forms the N x V matrix of cosines (14336 x 128256 for Llama-3-8B: 7.4 GB in fp32).
// Here LogitVar_i = w^T C w / (V - 1) with w = w_i / ||w_i|| and C = sum_v (û_v - m)(û_v - m)^T,
// m = (1/V) sum_v û_v: a dim x dim matrix streamed from U in blocks of rows, the Gram form
// (w^T G w - (w^T s)^2 / V) / (V - 1) of G = sum_v û_v û_v^T and s = V m written about the mean,
// so that the difference of two large terms is never formed. Its cost is about d^2 V + 2 N d^2
// flops (the lower triangle of C, then the forms) and its memory O(d^2) (plus a float copy of
// w_down when it is not stored as float32), against 2 N d V flops and 8 N V bytes for the
// explicit cosines, which logit_variance_direct computes as a check and a baseline. For GPT-2
// small's last layer that is 2.8 s against 44 s, and 11 MB against 1.7 GB
// (benchmarks/studies.cpp, one thread).
//
// A zero vector has no direction: its unit vector is taken to be zero, so its cosines are 0. A
// neuron with w_i = 0 has LogitVar 0 and norm 0 (never a candidate); a token whose row is zero
// (after centring) adds a cosine of 0 for every neuron.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iterator>
#include <limits>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>
#include <nlohmann/json.hpp>

#include "attrib/core/error.hpp"
#include "attrib/core/parallel.hpp"
#include "attrib/core/types.hpp"
#include "attrib/io/atomic_file.hpp"
#include "attrib/studies/named_model.hpp"
#include "attrib/studies/report_text.hpp"
#include "attrib/transformer/model/model.hpp"

namespace attrib {

struct entropy_neuron_options {
  bool fold_final_norm = true;     // u_v scaled elementwise by the final norm's weight
  bool center_unembedding = true;  // the mean over the vocabulary subtracted from every u_v
  // LayerNorm (gpt2) models only: u_v and w_i centred over their dim entries (see the top of this
  // file). No effect on RMSNorm (llama) models.
  bool center_layer_norm_weights = true;
  // Candidates are the neurons whose norm is above the (1 - top_norm_fraction) percentile; in
  // (0, 1].
  double top_norm_fraction = 0.25;
  std::size_t count = 10;   // entropy neurons per model, at least 1
  std::size_t threads = 1;  // 0: all cores; results do not depend on it
};

// One entry per neuron of the last layer.
struct neuron_scores {
  vector norms;           // ||w_i||
  vector logit_variance;  // LogitVar_i
};

struct entropy_neurons {
  std::string model;
  neuron_scores scores;
  double norm_threshold = 0.0;     // the percentile the candidates' norms exceed
  std::vector<index> candidates;   // ascending neuron index
  std::vector<index> neurons;      // the `count` candidates of smallest LogitVar, ascending LogitVar
};

// The direct form refuses more cosines than this (2 GiB of doubles).
inline constexpr index logit_variance_direct_limit = index{1} << 28;

namespace detail {

inline void check_entropy_options(const entropy_neuron_options& o, const char* who) {
  if (!(o.top_norm_fraction > 0.0 && o.top_norm_fraction <= 1.0))
    throw invalid_argument(std::string(who) + ": top_norm_fraction is " + std::to_string(o.top_norm_fraction) +
                           ", expected a fraction in (0, 1]");
  if (o.count == 0) throw invalid_argument(std::string(who) + ": count is 0, expected at least one neuron");
}

inline void check_entropy_model(const transformer_model& m, const char* who) {
  if (m.config().vocab_size < 2)
    throw invalid_argument(std::string(who) + ": the vocabulary has " + std::to_string(m.config().vocab_size) +
                           " token, but a variance over tokens needs at least 2");
}

// U as the cosines read it: rows decoded block by block into a reused buffer, folded, centred
// and (optionally) scaled to unit length.
class unembedding_rows {
 public:
  static constexpr index block_rows = 256;

  unembedding_rows(const transformer_model& m, const entropy_neuron_options& o)
      : output_(m.weights().output),
        width_(m.config().dim),
        center_width_(o.center_layer_norm_weights && m.config().architecture == transformer_architecture::gpt2),
        threads_(o.threads),
        buffer_(static_cast<std::size_t>(block_rows * width_)),
        rows_(block_rows, width_) {
    if (o.fold_final_norm) {
      const auto g = m.weights().final_norm.decode_row(0);
      gain_ = Eigen::Map<const Eigen::RowVectorXf>(g.data(), width_).cast<double>();
    }
    if (o.center_unembedding) {
      Eigen::RowVectorXd sum = Eigen::RowVectorXd::Zero(width_);
      for_each_block(false, [&](matrix& x, index n) { sum += x.topRows(n).colwise().sum(); });
      vocab_mean_ = sum / static_cast<double>(vocabulary());
    }
  }

  index vocabulary() const { return output_.rows; }
  index width() const { return width_; }

  // Calls body(x, n) for each block of consecutive rows in order: x.topRows(n) holds them, body
  // may overwrite them.
  template <class Body>
  void for_each_block(bool unit, Body&& body) {
    for (index first = 0; first < vocabulary(); first += block_rows) {
      const index n = std::min(block_rows, vocabulary() - first);
      // Rows are independent, so any split gives the same numbers.
      parallel_chunks(static_cast<std::uint64_t>(n), 32, threads_,
                      [&](std::size_t, std::uint64_t b, std::uint64_t e) {
                        for (auto r = static_cast<index>(b); r < static_cast<index>(e); ++r)
                          prepare(first + r, r, unit);
                      });
      body(rows_, n);
    }
  }

 private:
  void prepare(index token, index r, bool unit) {
    float* raw = buffer_.data() + r * width_;
    output_.decode_rows(token, 1, raw);
    auto x = rows_.row(r);
    x = Eigen::Map<const Eigen::RowVectorXf>(raw, width_).cast<double>();
    if (gain_.size() != 0) x.array() *= gain_.array();
    if (center_width_) x.array() -= x.mean();
    if (vocab_mean_.size() != 0) x -= vocab_mean_;
    if (unit) {
      const double norm = x.norm();
      if (norm > 0.0) x /= norm;
      else x.setZero();
    }
  }

  const weight_tensor& output_;
  index width_;
  bool center_width_;
  std::size_t threads_;
  Eigen::RowVectorXd gain_;
  Eigen::RowVectorXd vocab_mean_;
  std::vector<float> buffer_;
  matrix rows_;
};

// The last layer's w_down ([dim][hidden], neuron i in column i) as floats: in place when it is
// stored as float32, otherwise one decoded copy (the size of the weight, not of N x V).
class neuron_directions {
 public:
  static constexpr index block_neurons = 64;

  neuron_directions(const transformer_model& m, const entropy_neuron_options& o)
      : center_width_(o.center_layer_norm_weights && m.config().architecture == transformer_architecture::gpt2) {
    const auto& w = m.weights().layers.back().w_down;
    width_ = w.rows;
    neurons_ = w.cols;
    data_ = w.f32_rows(0);
    if (data_ == nullptr) {
      copy_.resize(static_cast<std::size_t>(width_ * neurons_));
      w.decode_rows(0, width_, copy_.data());
      data_ = copy_.data();
    }
  }

  index neurons() const { return neurons_; }
  index width() const { return width_; }

  // Neurons [first, first + n) as the columns of out (width x n), each scaled to unit length (a
  // zero one stays zero); their norms before scaling go to norms[0 .. n).
  void unit_columns(index first, index n, Eigen::MatrixXd& out, double* norms) const {
    const Eigen::Map<const float_matrix> w(data_, width_, neurons_);
    out = w.middleCols(first, n).cast<double>();
    for (index j = 0; j < n; ++j) {
      auto c = out.col(j);
      if (center_width_) c.array() -= c.mean();
      norms[j] = c.norm();
      if (norms[j] > 0.0) c /= norms[j];
      else c.setZero();
    }
  }

 private:
  bool center_width_;
  index width_ = 0;
  index neurons_ = 0;
  const float* data_ = nullptr;
  std::vector<float> copy_;
};

// numpy's lerp: exact at both ends.
inline double numpy_lerp(double a, double b, double t) {
  const double diff = b - a;
  return t >= 0.5 ? b - diff * (1.0 - t) : a + diff * t;
}

}  // namespace detail

// np.percentile(values, q) with numpy's default (linear) method, q in [0, 100].
inline double linear_percentile(const vector& values, double q) {
  if (values.size() == 0) throw invalid_argument("linear_percentile: no values");
  if (!(q >= 0.0 && q <= 100.0))
    throw invalid_argument("linear_percentile: q is " + std::to_string(q) + ", expected a percentage in [0, 100]");
  std::vector<double> sorted(values.data(), values.data() + values.size());
  std::sort(sorted.begin(), sorted.end());
  const double rank = q / 100.0 * static_cast<double>(sorted.size() - 1);
  const auto below = static_cast<std::size_t>(std::floor(rank));
  const std::size_t above = std::min(below + 1, sorted.size() - 1);
  return detail::numpy_lerp(sorted[below], sorted[above], rank - static_cast<double>(below));
}

// Norms and LogitVar of every neuron of the last layer, LogitVar in the Gram form (see the top of
// this file). Throws invalid_argument for options out of range or a vocabulary of one token.
inline neuron_scores last_layer_neuron_scores(const transformer_model& model,
                                              const entropy_neuron_options& options = {}) {
  detail::check_entropy_options(options, "last_layer_neuron_scores");
  detail::check_entropy_model(model, "last_layer_neuron_scores");
  detail::unembedding_rows u(model, options);
  const index d = u.width();
  const auto tokens = static_cast<double>(u.vocabulary());
  Eigen::RowVectorXd mean = Eigen::RowVectorXd::Zero(d);
  u.for_each_block(true, [&](matrix& x, index n) { mean += x.topRows(n).colwise().sum(); });
  mean /= tokens;
  // The lower triangle of C, a panel of columns at a time: panels write disjoint columns, so they
  // run in parallel and each sums its tokens in the same order on any number of threads.
  constexpr index panel = 64;
  Eigen::MatrixXd c = Eigen::MatrixXd::Zero(d, d);
  const auto panels = static_cast<std::uint64_t>((d + panel - 1) / panel);
  u.for_each_block(true, [&](matrix& x, index n) {
    auto rows = x.topRows(n);
    rows.rowwise() -= mean;
    parallel_for(static_cast<std::size_t>(panels), options.threads, [&](std::size_t p) {
      const index first = static_cast<index>(p) * panel;
      const index w = std::min(panel, d - first);
      c.block(first, first, d - first, w).noalias() +=
          rows.middleCols(first, d - first).transpose() * rows.middleCols(first, w);
    });
  });
  for (index j = 1; j < d; ++j)
    for (index i = 0; i < j; ++i) c(i, j) = c(j, i);

  detail::neuron_directions w(model, options);
  const index neurons = w.neurons();
  neuron_scores scores{vector(neurons), vector(neurons)};
  constexpr index block = detail::neuron_directions::block_neurons;
  parallel_chunks(static_cast<std::uint64_t>(neurons), block, options.threads,
                  [&](std::size_t, std::uint64_t b, std::uint64_t e) {
                    const auto first = static_cast<index>(b);
                    const auto n = static_cast<index>(e - b);
                    Eigen::MatrixXd unit;
                    w.unit_columns(first, n, unit, scores.norms.data() + first);
                    const Eigen::MatrixXd cw = c * unit;
                    for (index j = 0; j < n; ++j)
                      // C is positive semi-definite: a negative value is rounding of a zero variance.
                      scores.logit_variance(first + j) = std::max(0.0, unit.col(j).dot(cw.col(j))) / (tokens - 1.0);
                  });
  return scores;
}

// LogitVar of every neuron of the last layer from the explicit N x V matrix of cosines, as the
// paper's code computes it (two-pass variance per neuron). Throws invalid_argument as
// last_layer_neuron_scores does, and when N x V exceeds logit_variance_direct_limit.
inline vector logit_variance_direct(const transformer_model& model, const entropy_neuron_options& options = {}) {
  detail::check_entropy_options(options, "logit_variance_direct");
  detail::check_entropy_model(model, "logit_variance_direct");
  const index neurons = model.config().hidden_dim;
  const index tokens = model.config().vocab_size;
  if (neurons > logit_variance_direct_limit / tokens)
    throw invalid_argument("logit_variance_direct: " + std::to_string(neurons) + " neurons x " +
                           std::to_string(tokens) + " tokens of cosines exceed the limit of " +
                           std::to_string(logit_variance_direct_limit) + "; use last_layer_neuron_scores");
  detail::unembedding_rows u(model, options);
  matrix unit_u(tokens, u.width());
  index next = 0;
  u.for_each_block(true, [&](matrix& x, index n) {
    unit_u.middleRows(next, n) = x.topRows(n);
    next += n;
  });
  detail::neuron_directions w(model, options);
  matrix cosines(neurons, tokens);
  std::vector<double> norms(static_cast<std::size_t>(neurons));
  parallel_chunks(static_cast<std::uint64_t>(neurons), detail::neuron_directions::block_neurons, options.threads,
                  [&](std::size_t, std::uint64_t b, std::uint64_t e) {
                    const auto first = static_cast<index>(b);
                    const auto n = static_cast<index>(e - b);
                    Eigen::MatrixXd unit;
                    w.unit_columns(first, n, unit, norms.data() + first);
                    cosines.middleRows(first, n).noalias() = unit.transpose() * unit_u.transpose();
                  });
  vector variance(neurons);
  for (index i = 0; i < neurons; ++i) {
    const auto row = cosines.row(i);
    const double mean = row.mean();
    variance(i) = (row.array() - mean).square().sum() / static_cast<double>(tokens - 1);
  }
  return variance;
}

// The candidates and entropy neurons of given scores. Throws invalid_argument for options out of
// range, or when fewer than `count` neurons are candidates.
inline entropy_neurons select_entropy_neurons(std::string model, neuron_scores scores,
                                              const entropy_neuron_options& options = {}) {
  detail::check_entropy_options(options, "select_entropy_neurons");
  if (scores.norms.size() == 0 || scores.norms.size() != scores.logit_variance.size())
    throw invalid_argument("select_entropy_neurons: model '" + model + "' has " +
                           std::to_string(scores.norms.size()) + " norms and " +
                           std::to_string(scores.logit_variance.size()) +
                           " LogitVar values, expected the same positive number");
  entropy_neurons out;
  out.model = std::move(model);
  out.norm_threshold = linear_percentile(scores.norms, 100.0 * (1.0 - options.top_norm_fraction));
  for (index i = 0; i < scores.norms.size(); ++i)
    if (scores.norms(i) > out.norm_threshold) out.candidates.push_back(i);
  if (out.candidates.size() < options.count)
    throw invalid_argument("select_entropy_neurons: model '" + out.model + "' has " +
                           std::to_string(out.candidates.size()) + " candidates (norm above " +
                           std::to_string(out.norm_threshold) + "), fewer than count " +
                           std::to_string(options.count));
  out.neurons = out.candidates;
  const auto& lv = scores.logit_variance;
  std::stable_sort(out.neurons.begin(), out.neurons.end(), [&](index a, index b) { return lv(a) < lv(b); });
  out.neurons.resize(options.count);
  out.scores = std::move(scores);
  return out;
}

// The entropy neurons of `model` (scores in the Gram form). Throws invalid_argument as
// last_layer_neuron_scores and select_entropy_neurons do.
inline entropy_neurons find_entropy_neurons(const transformer_model& model, std::string name,
                                            const entropy_neuron_options& options = {}) {
  return select_entropy_neurons(std::move(name), last_layer_neuron_scores(model, options), options);
}

// |norm / log(LogitVar)|, the quantity the paper tabulates per entropy neuron.
inline double norm_log_variance_ratio(double norm, double logit_variance) {
  return std::abs(norm / std::log(logit_variance));
}

struct entropy_neuron_comparison {
  std::size_t overlap = 0;  // neurons in both sets
  double iou = 0.0;         // overlap / size of the union
  // The mean over the shared neurons of the absolute difference of norm_log_variance_ratio
  // between the two models; NaN when none is shared.
  double mean_ratio_difference = std::numeric_limits<double>::quiet_NaN();
};

// Throws invalid_argument when the models' last layers differ in width (neuron indices would not
// name the same neurons) or a set is empty.
inline entropy_neuron_comparison compare_entropy_neurons(const entropy_neurons& a, const entropy_neurons& b) {
  if (a.scores.norms.size() != b.scores.norms.size())
    throw invalid_argument("compare_entropy_neurons: model '" + a.model + "' has " +
                           std::to_string(a.scores.norms.size()) + " last-layer neurons and '" + b.model + "' " +
                           std::to_string(b.scores.norms.size()) +
                           "; comparing neuron sets needs the same hidden size");
  if (a.neurons.empty() || b.neurons.empty())
    throw invalid_argument("compare_entropy_neurons: model '" + (a.neurons.empty() ? a.model : b.model) +
                           "' has no entropy neurons");
  std::vector<index> x = a.neurons, y = b.neurons, shared;
  std::sort(x.begin(), x.end());
  std::sort(y.begin(), y.end());
  x.erase(std::unique(x.begin(), x.end()), x.end());
  y.erase(std::unique(y.begin(), y.end()), y.end());
  std::set_intersection(x.begin(), x.end(), y.begin(), y.end(), std::back_inserter(shared));
  entropy_neuron_comparison c;
  c.overlap = shared.size();
  c.iou = static_cast<double>(shared.size()) / static_cast<double>(x.size() + y.size() - shared.size());
  if (!shared.empty()) {
    double sum = 0.0;
    for (const index i : shared)
      sum += std::abs(norm_log_variance_ratio(a.scores.norms(i), a.scores.logit_variance(i)) -
                      norm_log_variance_ratio(b.scores.norms(i), b.scores.logit_variance(i)));
    c.mean_ratio_difference = sum / static_cast<double>(shared.size());
  }
  return c;
}

// Table 14: each model's entropy neurons, every later model compared with the first (the base).
struct entropy_neuron_study {
  entropy_neuron_options options;
  std::vector<entropy_neurons> models;
  struct comparison {
    std::string name;       // "base vs instruct"
    std::size_t first = 0;  // indices into models
    std::size_t second = 0;
    entropy_neuron_comparison values;
  };
  std::vector<comparison> comparisons;
};

// Throws invalid_argument when no model is given, a model is null, a later model's last layer
// differs in width from the first's, or as find_entropy_neurons does.
inline entropy_neuron_study entropy_neuron_study_of(std::span<const named_model> models,
                                                    const entropy_neuron_options& options = {}) {
  if (models.empty()) throw invalid_argument("entropy_neuron_study_of: no models given");
  for (const auto& m : models)
    if (m.model == nullptr) throw invalid_argument("entropy_neuron_study_of: model '" + m.name + "' is null");
  // Checked before any model is scored, which takes long for a large model.
  for (const auto& m : models)
    if (m.model->config().hidden_dim != models.front().model->config().hidden_dim)
      throw invalid_argument("entropy_neuron_study_of: model '" + m.name + "' has " +
                             std::to_string(m.model->config().hidden_dim) + " last-layer neurons and '" +
                             models.front().name + "' " + std::to_string(models.front().model->config().hidden_dim) +
                             "; comparing neuron sets needs the same hidden size");
  entropy_neuron_study study;
  study.options = options;
  for (const auto& m : models) study.models.push_back(find_entropy_neurons(*m.model, m.name, options));
  for (std::size_t m = 1; m < models.size(); ++m)
    study.comparisons.push_back({models.front().name + " vs " + models[m].name, 0, m,
                                 compare_entropy_neurons(study.models.front(), study.models[m])});
  return study;
}

namespace detail::entropy_report {

inline std::string number(double v, const char* format = "%.4g") {
  if (std::isnan(v)) return "NaN";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, v);
  return buffer;
}

inline std::string weight_processing(const entropy_neuron_options& o) {
  std::string out;
  if (o.fold_final_norm) out += "the final norm's weight folded into W_U";
  if (o.center_unembedding) out += std::string(out.empty() ? "" : ", ") + "W_U centred over the vocabulary";
  if (o.center_layer_norm_weights)
    out += std::string(out.empty() ? "" : ", ") + "W_U and W_out centred over the width in LayerNorm models";
  return out.empty() ? "weights as stored" : out;
}

}  // namespace detail::entropy_report

inline std::string format_markdown(const entropy_neuron_study& s) {
  namespace r = detail::entropy_report;
  std::string out = "# Entropy neurons\n\n";
  out += "Last-layer MLP neurons with norm ||w_i|| above the " +
         r::number(100.0 * (1.0 - s.options.top_norm_fraction), "%g") + "th percentile, the " +
         std::to_string(s.options.count) +
         " of smallest LogitVar (unbiased variance over the vocabulary of cos(w_i, u_v)); " +
         r::weight_processing(s.options) + ". ratio = abs(norm / log(LogitVar)).\n\n";
  if (!s.comparisons.empty()) {
    out += "| comparison | overlap | IoU | mean abs ratio difference, shared neurons |\n|---|---|---|---|\n";
    for (const auto& c : s.comparisons)
      out += "| " + detail::markdown_cell(c.name) + " | " + std::to_string(c.values.overlap) + " | " +
             r::number(c.values.iou, "%.3f") + " | " + r::number(c.values.mean_ratio_difference) + " |\n";
    out += "\n";
  }
  out += "| model | neurons | candidates | norm threshold | entropy neurons |\n|---|---|---|---|---|\n";
  for (const auto& m : s.models) {
    std::string list;
    for (const index i : m.neurons) list += (list.empty() ? "" : ", ") + std::to_string(i);
    out += "| " + detail::markdown_cell(m.model) + " | " + std::to_string(m.scores.norms.size()) + " | " +
           std::to_string(m.candidates.size()) + " | " + r::number(m.norm_threshold) + " | " + list + " |\n";
  }
  for (const auto& m : s.models) {
    out += "\n## " + detail::markdown_cell(m.model) + "\n\n| rank | neuron | norm | LogitVar | ratio |\n|---|---|---|---|---|\n";
    for (std::size_t k = 0; k < m.neurons.size(); ++k) {
      const index i = m.neurons[k];
      const double norm = m.scores.norms(i), lv = m.scores.logit_variance(i);
      out += "| " + std::to_string(k + 1) + " | " + std::to_string(i) + " | " + r::number(norm) + " | " +
             r::number(lv) + " | " + r::number(norm_log_variance_ratio(norm, lv)) + " |\n";
    }
  }
  return out;
}

// model,neuron,norm,logit_variance,ratio,candidate,rank: one row per last-layer neuron of every
// model; candidate is 0 or 1, rank the 1-based place among the entropy neurons (empty for others).
inline std::string format_csv(const entropy_neuron_study& s) {
  namespace r = detail::entropy_report;
  std::string out = "model,neuron,norm,logit_variance,ratio,candidate,rank\n";
  for (const auto& m : s.models) {
    const auto n = static_cast<std::size_t>(m.scores.norms.size());
    std::vector<char> candidate(n, 0);
    std::vector<std::size_t> rank(n, 0);
    for (const index i : m.candidates) candidate[static_cast<std::size_t>(i)] = 1;
    for (std::size_t k = 0; k < m.neurons.size(); ++k) rank[static_cast<std::size_t>(m.neurons[k])] = k + 1;
    const std::string name = detail::csv_cell(m.model);
    for (std::size_t i = 0; i < n; ++i) {
      const double norm = m.scores.norms(static_cast<index>(i)), lv = m.scores.logit_variance(static_cast<index>(i));
      out += name + "," + std::to_string(i) + "," + r::number(norm, "%.9g") + "," + r::number(lv, "%.9g") + "," +
             r::number(norm_log_variance_ratio(norm, lv), "%.9g") + "," + (candidate[i] ? "1" : "0") + "," +
             (rank[i] ? std::to_string(rank[i]) : "") + "\n";
    }
  }
  return out;
}

inline std::string format_json(const entropy_neuron_study& s) {
  using nlohmann::json;
  const auto number = [](double v) { return std::isfinite(v) ? json(v) : json(nullptr); };
  const auto values = [&](const vector& v) {
    json a = json::array();
    for (index i = 0; i < v.size(); ++i) a.push_back(number(v(i)));
    return a;
  };
  json j;
  j["options"] = {{"fold_final_norm", s.options.fold_final_norm},
                  {"center_unembedding", s.options.center_unembedding},
                  {"center_layer_norm_weights", s.options.center_layer_norm_weights},
                  {"top_norm_fraction", s.options.top_norm_fraction},
                  {"count", s.options.count}};
  j["models"] = json::array();
  for (const auto& m : s.models) {
    json neurons = json::array();
    for (const index i : m.neurons) {
      const double norm = m.scores.norms(i), lv = m.scores.logit_variance(i);
      neurons.push_back({{"neuron", i},
                         {"norm", norm},
                         {"logit_variance", lv},
                         {"ratio", number(norm_log_variance_ratio(norm, lv))}});
    }
    j["models"].push_back({{"name", m.model},
                           {"norm_threshold", m.norm_threshold},
                           {"candidates", m.candidates},
                           {"entropy_neurons", std::move(neurons)},
                           {"norms", values(m.scores.norms)},
                           {"logit_variance", values(m.scores.logit_variance)}});
  }
  j["comparisons"] = json::array();
  for (const auto& c : s.comparisons)
    j["comparisons"].push_back({{"name", c.name},
                                {"first", c.first},
                                {"second", c.second},
                                {"overlap", c.values.overlap},
                                {"iou", number(c.values.iou)},
                                {"mean_ratio_difference", number(c.values.mean_ratio_difference)}});
  return j.dump(1) + "\n";
}

// Writes `stem`.md, `stem`.csv and `stem`.json into `folder` (created when missing).
inline void write_entropy_neuron_study(const std::filesystem::path& folder, const std::string& stem,
                                       const entropy_neuron_study& s) {
  detail::write_report_files(folder, stem, format_markdown(s), format_csv(s), format_json(s));
}

}  // namespace attrib
