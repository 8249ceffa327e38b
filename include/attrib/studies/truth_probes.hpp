#pragma once
// Truth directions and probes, and whether they transfer between a base model and its
// post-trained versions: "How Post-Training Reshapes LLMs" (Du et al., 2025), section 4 and
// Table 2, after Marks and Tegmark's mass-mean probes (geometry-of-truth).
//
// A statement's activation is the residual stream after layer l (resid_post.l) at its last token,
// the statement read alone after BOS. Activations are centred per dataset (each dataset's mean
// subtracted), so that a direction found on several datasets is not a direction between their
// topics. The probe's direction is theta = mu_true - mu_false of the pooled centred activations;
// a one-dimensional logistic regression on x . theta supplies the threshold. A probe trained on
// model A's activations is applied to model B's (both centred with their own means): accuracy
// p_A -> h_B and cos(theta_A, theta_B) are Table 2.
#include <cmath>
#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "attrib/concepts/tokenizer.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"
#include "attrib/studies/named_model.hpp"
#include "attrib/studies/truth_datasets.hpp"
#include "attrib/transformer/hooks/hooks.hpp"
#include "attrib/transformer/model/model.hpp"

namespace attrib {

// The resid_post.layer activation at the last token of each statement (BOS + statement), one row
// per statement, computed batch_rows statements per forward pass. Throws invalid_argument for a
// layer outside the model, an empty dataset or an empty statement.
template <tokenizer Tokenizer>
matrix statement_activations(const transformer_model& model, const Tokenizer& tok, const truth_dataset& data,
                             index layer, std::size_t threads = 1, std::size_t batch_rows = 16) {
  const auto& c = model.config();
  if (layer < 0 || layer >= c.n_layers)
    throw invalid_argument("statement_activations: layer " + std::to_string(layer) + " is outside [0, " +
                           std::to_string(c.n_layers) + ")");
  if (data.statements.empty())
    throw invalid_argument("statement_activations: the dataset '" + data.name + "' has no statements");
  if (batch_rows == 0) throw invalid_argument("statement_activations: batch_rows must be positive");
  matrix out(static_cast<index>(data.statements.size()), c.dim);
  forward_options options;
  options.logit_tokens = {0};  // the logits are not read
  options.last_position_only = true;
  options.threads = threads;
  for (std::size_t first = 0; first < data.statements.size(); first += batch_rows) {
    const std::size_t count = std::min(batch_rows, data.statements.size() - first);
    std::vector<std::vector<token_id>> batch;
    for (std::size_t i = first; i < first + count; ++i) {
      batch.push_back(tok.encode(data.statements[i].statement, true));
      if (batch.back().size() < 2)
        throw invalid_argument("statement_activations: statement " + std::to_string(i) + " of '" + data.name +
                               "' encodes to no tokens");
    }
    activation_cache cache;
    hook_set hooks;
    hooks.cache(hook_point::resid_post(layer), cache);
    options.hooks = &hooks;
    model.forward(batch, options);
    for (std::size_t r = 0; r < count; ++r) {
      const auto last = static_cast<index>(batch[r].size()) - 1;
      out.row(static_cast<index>(first + r)) = cache.at(hook_point::resid_post(layer), static_cast<index>(r), last).cast<double>().transpose();
    }
  }
  return out;
}

// Each row minus the mean of its own dataset's rows: `groups` gives each row's dataset index.
inline matrix centred_per_group(const matrix& x, std::span<const index> groups) {
  if (static_cast<index>(groups.size()) != x.rows())
    throw invalid_argument("centred_per_group: " + std::to_string(groups.size()) + " group indices for " +
                           std::to_string(x.rows()) + " rows");
  index count = 0;
  for (index g : groups) {
    if (g < 0) throw invalid_argument("centred_per_group: negative group index");
    count = std::max(count, g + 1);
  }
  matrix sums = matrix::Zero(count, x.cols());
  vector sizes = vector::Zero(count);
  for (index i = 0; i < x.rows(); ++i) {
    sums.row(groups[static_cast<std::size_t>(i)]) += x.row(i);
    sizes(groups[static_cast<std::size_t>(i)]) += 1.0;
  }
  matrix out = x;
  for (index i = 0; i < x.rows(); ++i) {
    const index g = groups[static_cast<std::size_t>(i)];
    out.row(i) -= sums.row(g) / sizes(g);
  }
  return out;
}

// A mass-mean probe: direction theta = mean(true rows) - mean(false rows), and a logistic model
// sigma(weight * (x . theta) + bias) fitted without a penalty (scikit-learn's
// LogisticRegression(penalty=None) on the one feature x . theta).
struct mass_mean_probe {
  vector direction;
  double weight = 0.0;
  double bias = 0.0;

  // The projection x . theta above which a statement is called true.
  double threshold() const { return -bias / weight; }
  bool predict(const Eigen::Ref<const vector>& x) const { return weight * x.dot(direction) + bias > 0.0; }
  double accuracy(const matrix& x, const std::vector<bool>& labels) const {
    if (static_cast<std::size_t>(x.rows()) != labels.size() || x.rows() == 0)
      throw invalid_argument("mass_mean_probe::accuracy: " + std::to_string(x.rows()) + " rows and " +
                             std::to_string(labels.size()) + " labels");
    if (x.cols() != direction.size())
      throw invalid_argument("mass_mean_probe::accuracy: rows of width " + std::to_string(x.cols()) +
                             " for a direction of width " + std::to_string(direction.size()));
    std::size_t right = 0;
    for (index i = 0; i < x.rows(); ++i) right += predict(x.row(i).transpose()) == labels[static_cast<std::size_t>(i)];
    return static_cast<double>(right) / static_cast<double>(x.rows());
  }
};

namespace detail {

// Unpenalised logistic regression on one feature by Newton's method. On separable data the
// likelihood has no maximum and the weight grows without bound while -bias / weight settles in
// the gap between the classes; the steps stop when the curvature vanishes in double precision,
// or after 100 (scikit-learn's lbfgs stops at its max_iter the same way).
inline void fit_logistic_1d(const vector& z, const std::vector<bool>& y, double& weight, double& bias) {
  const double scale = std::max(z.cwiseAbs().maxCoeff(), 1e-300);
  const vector s = z / scale;  // a unit feature keeps the Newton steps well conditioned
  double w = 0.0, b = 0.0;
  for (int step = 0; step < 100; ++step) {
    double gw = 0.0, gb = 0.0, hww = 0.0, hwb = 0.0, hbb = 0.0;
    for (index i = 0; i < s.size(); ++i) {
      const double p = 1.0 / (1.0 + std::exp(-(w * s(i) + b)));
      const double r = p - (y[static_cast<std::size_t>(i)] ? 1.0 : 0.0);
      const double h = p * (1.0 - p);
      gw += r * s(i);
      gb += r;
      hww += h * s(i) * s(i);
      hwb += h * s(i);
      hbb += h;
    }
    if (std::abs(gw) + std::abs(gb) < 1e-12 * static_cast<double>(s.size())) break;  // the maximum
    const double det = hww * hbb - hwb * hwb;
    if (!(det > 0.0) || !std::isfinite(det)) break;  // saturated: separable data, threshold settled
    const double next_w = w - (hbb * gw - hwb * gb) / det;
    const double next_b = b - (hww * gb - hwb * gw) / det;
    if (!std::isfinite(next_w) || !std::isfinite(next_b)) break;
    w = next_w;
    b = next_b;
  }
  weight = w / scale;
  bias = b;
}

}  // namespace detail

// Throws invalid_argument when the rows and labels disagree in number or a label is missing.
inline mass_mean_probe fit_mass_mean_probe(const matrix& centred, const std::vector<bool>& labels) {
  if (static_cast<std::size_t>(centred.rows()) != labels.size())
    throw invalid_argument("fit_mass_mean_probe: " + std::to_string(centred.rows()) + " rows and " +
                           std::to_string(labels.size()) + " labels");
  if (!centred.allFinite()) throw invalid_argument("fit_mass_mean_probe: the activations hold NaN or infinity");
  vector sum_true = vector::Zero(centred.cols()), sum_false = vector::Zero(centred.cols());
  std::size_t n_true = 0, n_false = 0;
  for (index i = 0; i < centred.rows(); ++i)
    if (labels[static_cast<std::size_t>(i)]) {
      sum_true += centred.row(i).transpose();
      ++n_true;
    } else {
      sum_false += centred.row(i).transpose();
      ++n_false;
    }
  if (n_true == 0 || n_false == 0)
    throw invalid_argument("fit_mass_mean_probe: the training rows need both labels (" + std::to_string(n_true) +
                           " true, " + std::to_string(n_false) + " false)");
  mass_mean_probe p;
  p.direction = sum_true / static_cast<double>(n_true) - sum_false / static_cast<double>(n_false);
  detail::fit_logistic_1d(centred * p.direction, labels, p.weight, p.bias);
  return p;
}

// Datasets read by one model: activations centred per dataset, labels, and each row's dataset.
struct truth_activations {
  matrix centred;
  std::vector<bool> labels;
  std::vector<index> dataset_of;
};

template <tokenizer Tokenizer>
truth_activations centred_truth_activations(const transformer_model& model, const Tokenizer& tok,
                                            std::span<const truth_dataset> datasets, index layer,
                                            std::size_t threads = 1) {
  if (datasets.empty()) throw invalid_argument("centred_truth_activations: no datasets given");
  truth_activations out;
  index rows = 0;
  for (const auto& d : datasets) rows += static_cast<index>(d.statements.size());
  matrix raw(rows, model.config().dim);
  index at = 0;
  for (std::size_t k = 0; k < datasets.size(); ++k) {
    const matrix a = statement_activations(model, tok, datasets[k], layer, threads);
    raw.middleRows(at, a.rows()) = a;
    at += a.rows();
    for (const auto& s : datasets[k].statements) {
      out.labels.push_back(s.label);
      out.dataset_of.push_back(static_cast<index>(k));
    }
  }
  out.centred = centred_per_group(raw, out.dataset_of);
  return out;
}

struct truth_probe_options {
  index layer = 0;          // the probe layer (resid_post.layer)
  std::size_t threads = 1;  // 0: all cores; results do not depend on it
  // Called after each model's activations with (models done, models in all).
  std::function<void(std::size_t, std::size_t)> progress = {};
};

// Table 2 and its leave-one-dataset-out version.
struct truth_probe_study {
  std::vector<std::string> models;
  std::vector<std::string> datasets;  // every dataset read; the last is the test set
  index layer = 0;
  std::vector<mass_mean_probe> probes;  // per model, trained on every dataset but the last
  matrix transfer_accuracy;             // [probe's model][activations' model], on the test set
  matrix cosine;                        // cos(theta_i, theta_j)
  // held_out_accuracy[k](i, j): probe of model i trained on every dataset but k, applied to
  // model j's activations of dataset k.
  std::vector<matrix> held_out_accuracy;
};

namespace detail {
inline mass_mean_probe probe_without(const truth_activations& a, index held_out) {
  std::vector<index> rows;
  for (index i = 0; i < a.centred.rows(); ++i)
    if (a.dataset_of[static_cast<std::size_t>(i)] != held_out) rows.push_back(i);
  matrix x(static_cast<index>(rows.size()), a.centred.cols());
  std::vector<bool> y;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    x.row(static_cast<index>(r)) = a.centred.row(rows[r]);
    y.push_back(a.labels[static_cast<std::size_t>(rows[r])]);
  }
  return fit_mass_mean_probe(x, y);
}

inline double accuracy_on(const mass_mean_probe& p, const truth_activations& a, index dataset) {
  std::vector<index> rows;
  for (index i = 0; i < a.centred.rows(); ++i)
    if (a.dataset_of[static_cast<std::size_t>(i)] == dataset) rows.push_back(i);
  matrix x(static_cast<index>(rows.size()), a.centred.cols());
  std::vector<bool> y;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    x.row(static_cast<index>(r)) = a.centred.row(rows[r]);
    y.push_back(a.labels[static_cast<std::size_t>(rows[r])]);
  }
  return p.accuracy(x, y);
}
}  // namespace detail

// Probes of every model trained on `train`, tested on `test` across models, and the same with
// each dataset held out in turn. The models must have the same width. Throws invalid_argument
// for no models, models of different widths, or a dataset without both labels.
template <tokenizer Tokenizer>
truth_probe_study truth_probe_transfer_study(std::span<const named_model> models, const Tokenizer& tok,
                                             std::span<const truth_dataset> train, const truth_dataset& test,
                                             const truth_probe_options& options = {}) {
  if (models.empty()) throw invalid_argument("truth_probe_transfer_study: no models given");
  if (train.empty()) throw invalid_argument("truth_probe_transfer_study: no training datasets given");
  std::vector<truth_dataset> all(train.begin(), train.end());
  all.push_back(test);
  for (const auto& d : all) require_both_labels(d, "truth_probe_transfer_study");
  truth_probe_study s;
  s.layer = options.layer;
  for (const auto& d : all) s.datasets.push_back(d.name);
  std::vector<truth_activations> acts;
  for (std::size_t m = 0; m < models.size(); ++m) {
    if (models[m].model == nullptr) throw invalid_argument("truth_probe_transfer_study: model '" + models[m].name + "' is null");
    if (models[m].model->config().dim != models.front().model->config().dim)
      throw invalid_argument("truth_probe_transfer_study: model '" + models[m].name + "' has width " +
                             std::to_string(models[m].model->config().dim) + " and '" + models.front().name + "' " +
                             std::to_string(models.front().model->config().dim) + "; probes transfer between equal widths only");
    s.models.push_back(models[m].name);
    acts.push_back(centred_truth_activations(*models[m].model, tok, all, options.layer, options.threads));
    if (options.progress) options.progress(m + 1, models.size());
  }
  const auto n = static_cast<index>(models.size());
  const auto test_index = static_cast<index>(all.size()) - 1;
  for (const auto& a : acts) s.probes.push_back(detail::probe_without(a, test_index));
  s.transfer_accuracy.resize(n, n);
  s.cosine.resize(n, n);
  for (index i = 0; i < n; ++i)
    for (index j = 0; j < n; ++j) {
      const auto& pi = s.probes[static_cast<std::size_t>(i)];
      const auto& pj = s.probes[static_cast<std::size_t>(j)];
      s.transfer_accuracy(i, j) = detail::accuracy_on(pi, acts[static_cast<std::size_t>(j)], test_index);
      s.cosine(i, j) = pi.direction.dot(pj.direction) / (pi.direction.norm() * pj.direction.norm());
    }
  for (index k = 0; k < static_cast<index>(all.size()); ++k) {
    matrix a(n, n);
    std::vector<mass_mean_probe> probes;
    for (const auto& x : acts) probes.push_back(detail::probe_without(x, k));
    for (index i = 0; i < n; ++i)
      for (index j = 0; j < n; ++j)
        a(i, j) = detail::accuracy_on(probes[static_cast<std::size_t>(i)], acts[static_cast<std::size_t>(j)], k);
    s.held_out_accuracy.push_back(std::move(a));
  }
  return s;
}

}  // namespace attrib
