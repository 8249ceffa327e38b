#pragma once
// The qualitative conclusions of "How Post-Training Reshapes LLMs" (Du et al., 2025), checked one
// by one on the results of attrib's studies of a base model and its post-trained versions:
//   Table 1     knowledge storage locations change little           Corr(M_base, M_post) high
//   section 3.2 forward transfer works, backward transfer much less  patched effect, cross over own
//   Table 2     truth probes transfer                               acc(p_base -> h_post) ~ acc(p_post -> h_post)
//   Table 3     truth interventions transfer                        effect(t_base on post) ~ effect(t_post on post)
//   Table 4     refusal directions do not transfer                  r_base ablated/added in post does little
//   Table 14    entropy neurons overlap                             shared neurons among the 10
// Each check states its measure, the paper's value for Llama-3.1-8B, this run's value and the
// criterion (conclusion_thresholds, documented in docs/studies-miniature.md), so a reader can
// disagree with a threshold and still use the numbers. A check that cannot apply (a model that
// never refuses has no refusal to ablate) says why instead of passing or failing.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "attrib/studies/entropy_neurons.hpp"
#include "attrib/studies/knowledge_tracing.hpp"
#include "attrib/studies/refusal_direction.hpp"
#include "attrib/studies/report_text.hpp"
#include "attrib/studies/truth_intervention.hpp"
#include "attrib/studies/truth_probes.hpp"

namespace attrib {

// The studies of one run; any may be missing (null), and its checks are then left out. Model 0 of
// every study is the base model; the transfer studies hold one study per post-trained model.
struct study_results {
  const knowledge_study* storage = nullptr;
  std::vector<const knowledge_study*> transfers = {};
  const truth_probe_study* truth = nullptr;
  const truth_intervention_study* intervention = nullptr;
  const refusal_study* refusal = nullptr;
  const entropy_neuron_study* entropy = nullptr;
};

// When a conclusion counts as holding.
struct conclusion_thresholds {
  double storage_correlation = 0.9;   // Corr(M_base, M_post) at least this (paper: 0.98-0.998)
  double forward_transfer = 0.8;      // forward effectiveness at least this (paper: "almost as good")
  double backward_gap = 0.2;          // backward effectiveness at least this much below forward
  double probe_accuracy_gap = 0.05;   // |acc(p_base -> h_post) - acc(p_post -> h_post)| at most (paper: <= 0.038)
  double probe_accuracy = 0.6;        // and the post model's own probe at least this accurate
  double intervention_gap = 0.1;      // |effect(t_base) - effect(t_post)| on the post model at most (paper: <= 0.04)
  double intervention_effect = 0.2;   // and the own direction's effect at least this
  double refusal_rate = 0.5;          // the post model refuses at least this often without intervention
  double entropy_overlap = 0.7;       // shared entropy neurons / count at least this (paper: 8-10 of 10)
};

struct conclusion_check {
  std::string source;     // "Table 1", "section 3.2", ...
  std::string claim;      // the paper's conclusion
  std::string model;      // the post-trained model it is checked on
  std::string measure;    // what was computed
  std::string paper;      // the paper's value (Llama-3.1-8B)
  std::string observed;   // this run's value(s), or why the check does not apply
  std::string criterion;  // when it holds
  std::optional<bool> holds;  // empty: does not apply
};

namespace detail {

// The patched effect a map recovers: the sum over cells of d(l, p) above the target's unpatched
// d on the false prompts. Cross-model maps are read against the target's own map (same target,
// same floor), so the ratio is how much of the target's own patching effect the other model's
// activations reproduce.
inline double recovered_effect(const knowledge_trace& t) {
  return (t.mean_effect.array() - t.false_effect).max(0.0).sum();
}

inline double effectiveness(const knowledge_trace& cross, const knowledge_trace& own) {
  const double o = recovered_effect(own);
  return o > 0.0 ? recovered_effect(cross) / o : std::nan("");
}

inline std::string fixed2(double v) { return fixed(v, 2); }
inline std::string fixed3(double v) { return fixed(v, 3); }

}  // namespace detail

inline std::vector<conclusion_check> check_paper_conclusions(const study_results& r,
                                                             const conclusion_thresholds& t = {}) {
  std::vector<conclusion_check> out;
  if (r.storage != nullptr)
    for (const auto& c : r.storage->comparisons) {
      conclusion_check k;
      k.source = "Table 1";
      k.claim = "post-training has little influence on where knowledge is stored";
      k.model = r.storage->traces.at(c.second).target;
      k.measure = "Corr(M_" + r.storage->traces.at(c.first).target + ", M_" + k.model + ") on " + r.storage->dataset +
                  "; max|M1 - M2|, over knowledge columns";
      k.paper = "0.9923 (Instruct), 0.9962 (SFT) on cities; 0.4 / 0.2, 0.2 / 0.2";
      k.observed = detail::fixed3(c.values.correlation) + "; " + detail::fixed2(c.values.max_difference) + ", " +
                   detail::fixed2(c.values.max_knowledge_difference);
      k.criterion = "Corr >= " + detail::fixed2(t.storage_correlation);
      if (std::isfinite(c.values.correlation)) k.holds = c.values.correlation >= t.storage_correlation;
      else k.observed += " (a constant map has no correlation)";
      out.push_back(std::move(k));
    }
  for (const auto* s : r.transfers) {
    if (s == nullptr || s->traces.size() != 4) continue;
    // traces: base on base, post on post, base into post (forward), post into base (backward)
    const auto& base = s->traces[0];
    const auto& post = s->traces[1];
    const double forward = detail::effectiveness(s->traces[2], post);
    const double backward = detail::effectiveness(s->traces[3], base);
    conclusion_check f;
    f.source = "section 3.2";
    f.claim = "base-model activations patched into the post-trained model work almost as well as its own";
    f.model = post.target;
    f.measure = "forward effectiveness: patched effect of " + base.target + " -> " + post.target + " over " +
                post.target + "'s own map (sum over cells of d above the false prompts' d)";
    f.paper = "close to 1 (Figure: forward transfer)";
    f.observed = detail::fixed3(forward);
    f.criterion = ">= " + detail::fixed2(t.forward_transfer);
    if (std::isfinite(forward)) f.holds = forward >= t.forward_transfer;
    out.push_back(f);
    conclusion_check b;
    b.source = "section 3.2";
    b.claim = "backward transfer (post-trained into base) is much less effective";
    b.model = post.target;
    b.measure = "backward effectiveness: " + post.target + " -> " + base.target + " over " + base.target +
                "'s own map, against the forward one";
    b.paper = "much less than forward (Figure: backward transfer)";
    b.observed = detail::fixed3(backward) + " backward, " + detail::fixed3(forward) + " forward";
    b.criterion = "backward <= forward - " + detail::fixed2(t.backward_gap);
    if (std::isfinite(forward) && std::isfinite(backward)) b.holds = backward <= forward - t.backward_gap;
    out.push_back(b);
  }
  if (r.truth != nullptr)
    for (index p = 1; p < static_cast<index>(r.truth->models.size()); ++p) {
      const double own = r.truth->transfer_accuracy(p, p), from_base = r.truth->transfer_accuracy(0, p);
      conclusion_check k;
      k.source = "Table 2";
      k.claim = "truth probes of the base model classify the post-trained model's activations as well as its own";
      k.model = r.truth->models[static_cast<std::size_t>(p)];
      k.measure = "acc(p_" + k.model + " -> h_" + k.model + ") / acc(p_" + r.truth->models[0] + " -> h_" + k.model +
                  ") on " + r.truth->datasets.back() + " at resid_post." + std::to_string(r.truth->layer) +
                  "; cos(t_base, t_post)";
      k.paper = "94.65 / 95.91 (Instruct), 84.50 / 85.32 (SFT) on cities";
      k.observed = detail::fixed3(own) + " / " + detail::fixed3(from_base) + "; cos " + detail::fixed3(r.truth->cosine(0, p));
      k.criterion = "|difference| <= " + detail::fixed2(t.probe_accuracy_gap) + " and own accuracy >= " +
                    detail::fixed2(t.probe_accuracy);
      k.holds = std::abs(own - from_base) <= t.probe_accuracy_gap && own >= t.probe_accuracy;
      out.push_back(std::move(k));
    }
  if (r.intervention != nullptr)
    for (index p = 1; p < static_cast<index>(r.intervention->models.size()); ++p) {
      const double own = r.intervention->effect(p, p), from_base = r.intervention->effect(0, p);
      conclusion_check k;
      k.source = "Table 3";
      k.claim = "the base model's truth direction steers the post-trained model as well as its own";
      k.model = r.intervention->models[static_cast<std::size_t>(p)];
      k.measure = "effect(t_" + k.model + " on " + k.model + ") / effect(t_" + r.intervention->models[0] + " on " +
                  k.model + ") on " + r.intervention->dataset;
      k.paper = "0.88 / 0.90 (Instruct), 0.91 / 0.92 (SFT) on cities";
      k.observed = detail::fixed3(own) + " / " + detail::fixed3(from_base);
      k.criterion = "|difference| <= " + detail::fixed2(t.intervention_gap) + " and own effect >= " +
                    detail::fixed2(t.intervention_effect);
      if (std::isfinite(own) && std::isfinite(from_base))
        k.holds = std::abs(own - from_base) <= t.intervention_gap && own >= t.intervention_effect;
      out.push_back(std::move(k));
    }
  if (r.refusal != nullptr)
    for (index p = 1; p < static_cast<index>(r.refusal->models.size()); ++p) {
      const auto& s = *r.refusal;
      const std::string name = s.models[static_cast<std::size_t>(p)];
      const double baseline = s.baseline_harmful(p);
      conclusion_check a;
      a.source = "Table 4";
      a.claim = "the base model's refusal direction does not transfer: ablating it leaves refusal in place";
      a.model = name;
      a.measure = "refusal of harmful requests: no intervention / r_" + name + " ablated / r_" + s.models[0] +
                  " ablated, in " + name + "; cos(r_base, r_post)";
      a.paper = "0.98 / 0.01 / 0.95 (Instruct), 0.99 / 0.79 / 0.99 (SFT)";
      a.observed = detail::fixed2(baseline) + " / " + detail::fixed2(s.ablation_harmful(p, p)) + " / " +
                   detail::fixed2(s.ablation_harmful(0, p)) + "; cos " + detail::fixed3(s.cosine(0, p));
      a.criterion = "refuses >= " + detail::fixed2(t.refusal_rate) +
                    "; own ablation halves refusal; the base's ablation keeps more than half";
      if (baseline < t.refusal_rate) a.observed += " - does not apply: the model rarely refuses";
      else a.holds = s.ablation_harmful(p, p) <= baseline / 2 && s.ablation_harmful(0, p) > baseline / 2;
      out.push_back(a);
      conclusion_check d;
      d.source = "Table 4";
      d.claim = "the base model's refusal direction does not transfer: adding it does not make the model refuse";
      d.model = name;
      d.measure = "refusal of harmless requests: no intervention / r_" + name + " added / r_" + s.models[0] +
                  " added, in " + name;
      d.paper = "0.0 / 1.0 / 0.08 (Instruct), 0.01 / 1.0 / 0.85 (SFT)";
      const double own = s.addition_harmless(p, p), from_base = s.addition_harmless(0, p);
      d.observed = detail::fixed2(s.baseline_harmless(p)) + " / " + detail::fixed2(own) + " / " + detail::fixed2(from_base);
      d.criterion = "own addition makes it refuse >= " + detail::fixed2(t.refusal_rate) + "; the base's < half of that";
      if (own < t.refusal_rate) d.observed += " - does not apply: its own direction does not induce refusal";
      else d.holds = from_base < own / 2;
      out.push_back(d);
    }
  if (r.entropy != nullptr)
    for (const auto& c : r.entropy->comparisons) {
      conclusion_check k;
      k.source = "Table 14";
      k.claim = "base and post-trained models have very similar entropy neurons";
      k.model = r.entropy->models.at(c.second).model;
      const std::size_t count = r.entropy->options.count;
      k.measure = "entropy neurons shared with " + r.entropy->models.at(c.first).model + ", of " + std::to_string(count) +
                  "; IoU";
      k.paper = "8 of 10 (Instruct), 10 of 10 (SFT); Mistral 9 and 8";
      k.observed = std::to_string(c.values.overlap) + " of " + std::to_string(count) + "; IoU " + detail::fixed3(c.values.iou);
      k.criterion = "shared >= " + detail::fixed2(t.entropy_overlap) + " of the count";
      k.holds = static_cast<double>(c.values.overlap) >= t.entropy_overlap * static_cast<double>(count);
      out.push_back(std::move(k));
    }
  return out;
}

// conclusions.md (one row per check: source, claim, model, measure, paper, observed, criterion,
// verdict "holds", "does not hold" or "does not apply"), .csv and .json in `folder`.
inline std::string conclusions_markdown(std::span<const conclusion_check> checks) {
  std::string md = "| source | conclusion | model | measure | paper (Llama-3.1-8B) | this run | criterion | verdict |\n"
                   "|---|---|---|---|---|---|---|---|\n";
  for (const auto& c : checks)
    md += "| " + detail::markdown_cell(c.source) + " | " + detail::markdown_cell(c.claim) + " | " +
          detail::markdown_cell(c.model) + " | " + detail::markdown_cell(c.measure) + " | " +
          detail::markdown_cell(c.paper) + " | " + detail::markdown_cell(c.observed) + " | " +
          detail::markdown_cell(c.criterion) + " | " +
          (c.holds ? (*c.holds ? "**holds**" : "**does not hold**") : "does not apply") + " |\n";
  return md;
}

inline void write_paper_conclusions(const std::filesystem::path& folder, const std::string& stem,
                                    std::span<const conclusion_check> checks) {
  std::string csv = "source,claim,model,measure,paper,observed,criterion,holds\n";
  nlohmann::json json = nlohmann::json::array();
  for (const auto& c : checks) {
    const std::string verdict = c.holds ? (*c.holds ? "true" : "false") : "";
    for (const auto* cell : {&c.source, &c.claim, &c.model, &c.measure, &c.paper, &c.observed, &c.criterion})
      csv += detail::csv_cell(*cell) + ",";
    csv += verdict + "\n";
    json.push_back({{"source", c.source}, {"claim", c.claim}, {"model", c.model}, {"measure", c.measure},
                    {"paper", c.paper}, {"observed", c.observed}, {"criterion", c.criterion},
                    {"holds", c.holds ? nlohmann::json(*c.holds) : nlohmann::json(nullptr)}});
  }
  detail::write_report_files(folder, stem,
                             "# The paper's conclusions, checked on these models\n\n" + conclusions_markdown(checks),
                             csv, json.dump(1) + "\n");
}

}  // namespace attrib
