// The paper's conclusions checked on hand-made study results whose verdicts are known by
// construction: each measure computed by hand below, each threshold crossed or not on purpose.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "attrib/io/detail/file_bytes.hpp"
#include "attrib/studies/paper_conclusions.hpp"

namespace {

attrib::knowledge_trace trace(std::string source, std::string target, attrib::matrix effect, double false_effect) {
  attrib::knowledge_trace t;
  t.source = std::move(source);
  t.target = std::move(target);
  t.mean_effect = std::move(effect);
  t.false_effect = false_effect;
  return t;
}

attrib::matrix m2(double a, double b, double c, double d) {
  attrib::matrix m(2, 2);
  m << a, b, c, d;
  return m;
}

const attrib::conclusion_check& find(const std::vector<attrib::conclusion_check>& checks, const std::string& source,
                                     const std::string& model, const std::string& claim_part) {
  for (const auto& c : checks)
    if (c.source == source && c.model == model && c.claim.find(claim_part) != std::string::npos) return c;
  FAIL("no check " << source << " / " << model << " / " << claim_part);
  return checks.front();
}

}  // namespace

TEST_CASE("check_paper_conclusions: verdicts on hand-made results") {
  attrib::knowledge_study storage;
  storage.dataset = "cities";
  storage.traces = {trace("base", "base", m2(0, 0, 0, 1), 0), trace("post", "post", m2(0, 0, 0, 1), 0),
                    trace("sft", "sft", m2(0, 0, 0, 1), 0)};
  storage.comparisons = {{"base vs post", 0, 1, {0.95, 0.3, 0.1}}, {"base vs sft", 0, 2, {0.5, 0.9, 0.8}}};

  // Recovered effects (sum over cells of d above the false floor): base on base 1+3+0+2 = 6; post
  // on post (2-1)*4 = 4; base into post 0.5+1.5+0+2 = 4 (forward 4/4 = 1); post into base
  // 0.5+1+0+0 = 1.5 (backward 1.5/6 = 0.25).
  attrib::knowledge_study transfer;
  transfer.traces = {trace("base", "base", m2(1, 3, 0, 2), 0), trace("post", "post", m2(2, 2, 2, 2), 1),
                     trace("base", "post", m2(1.5, 2.5, 1, 3), 1), trace("post", "base", m2(0.5, 1, 0, -1), 0)};
  CHECK(attrib::detail::recovered_effect(transfer.traces[0]) == 6.0);
  CHECK(attrib::detail::effectiveness(transfer.traces[2], transfer.traces[1]) == 1.0);
  CHECK(attrib::detail::effectiveness(transfer.traces[3], transfer.traces[0]) == 0.25);

  attrib::truth_probe_study truth;
  truth.models = {"base", "post"};
  truth.datasets = {"larger_than", "cities"};
  truth.transfer_accuracy = m2(0.9, 0.88, 0.7, 0.9);
  truth.cosine = m2(1, 0.8, 0.8, 1);

  attrib::truth_intervention_study intervention;
  intervention.models = {"base", "post"};
  intervention.dataset = "cities";
  intervention.effect = m2(0.8, 0.5, 0.6, 0.9);

  attrib::refusal_study refusal;
  refusal.models = {"base", "post", "sft"};
  refusal.baseline_harmful = attrib::vector{{0.0, 0.9, 0.2}};
  refusal.baseline_harmless = attrib::vector{{0.0, 0.0, 0.0}};
  refusal.ablation_harmful = attrib::matrix::Zero(3, 3);
  refusal.ablation_harmful(1, 1) = 0.1;   // own direction ablated: 0.9 -> 0.1
  refusal.ablation_harmful(0, 1) = 0.85;  // the base's: stays
  refusal.addition_harmless = attrib::matrix::Zero(3, 3);
  refusal.addition_harmless(1, 1) = 1.0;
  refusal.addition_harmless(0, 1) = 0.1;
  refusal.addition_harmless(2, 2) = 0.3;  // sft's own addition barely works: does not apply
  refusal.cosine = attrib::matrix::Identity(3, 3);

  attrib::entropy_neuron_study entropy;
  entropy.options.count = 10;
  entropy.models.resize(3);
  entropy.models[0].model = "base";
  entropy.models[1].model = "post";
  entropy.models[2].model = "sft";
  entropy.comparisons = {{"base vs post", 0, 1, {8, 8.0 / 12.0, 0.0}}, {"base vs sft", 0, 2, {3, 3.0 / 17.0, 0.0}}};

  attrib::study_results results;
  results.storage = &storage;
  results.transfers = {&transfer};
  results.truth = &truth;
  results.intervention = &intervention;
  results.refusal = &refusal;
  results.entropy = &entropy;
  const auto checks = attrib::check_paper_conclusions(results);
  // 2 storage, 2 transfer, 1 truth, 1 intervention, 4 refusal (2 models x 2), 2 entropy.
  CHECK(checks.size() == 12);

  CHECK(find(checks, "Table 1", "post", "knowledge").holds == true);
  CHECK(find(checks, "Table 1", "post", "knowledge").observed == "0.950; 0.30, 0.10");
  CHECK(find(checks, "Table 1", "sft", "knowledge").holds == false);
  CHECK(find(checks, "section 3.2", "post", "almost as well").holds == true);
  CHECK(find(checks, "section 3.2", "post", "backward").holds == true);
  CHECK(find(checks, "section 3.2", "post", "backward").observed == "0.250 backward, 1.000 forward");
  CHECK(find(checks, "Table 2", "post", "probes").holds == true);  // 0.90 own, 0.88 from base
  CHECK(find(checks, "Table 3", "post", "steers").holds == false); // 0.9 own, 0.5 from base
  CHECK(find(checks, "Table 4", "post", "ablating").holds == true);
  CHECK(find(checks, "Table 4", "post", "adding").holds == true);
  CHECK_FALSE(find(checks, "Table 4", "sft", "ablating").holds.has_value());  // refuses 0.2 only
  CHECK_FALSE(find(checks, "Table 4", "sft", "adding").holds.has_value());
  CHECK(find(checks, "Table 4", "sft", "ablating").observed.find("does not apply") != std::string::npos);
  CHECK(find(checks, "Table 14", "post", "entropy").holds == true);
  CHECK(find(checks, "Table 14", "sft", "entropy").holds == false);

  // Thresholds are the caller's: a stricter storage criterion fails the 0.95 correlation.
  attrib::conclusion_thresholds strict;
  strict.storage_correlation = 0.99;
  CHECK(find(attrib::check_paper_conclusions(results, strict), "Table 1", "post", "knowledge").holds == false);
  // Missing studies leave their checks out.
  CHECK(attrib::check_paper_conclusions({.entropy = &entropy}).size() == 2);

  const auto md = attrib::conclusions_markdown(checks);
  CHECK(md.find("**holds**") != std::string::npos);
  CHECK(md.find("**does not hold**") != std::string::npos);
  CHECK(md.find("does not apply") != std::string::npos);
  const auto folder = std::filesystem::temp_directory_path() / "attrib_test_conclusions";
  std::filesystem::remove_all(folder);
  attrib::write_paper_conclusions(folder, "conclusions", checks);
  const auto csv = attrib::detail::read_file_bytes_at_most(folder / "conclusions.csv", 1 << 20, "csv");
  CHECK(csv.rfind("source,claim,model,measure,paper,observed,criterion,holds\n", 0) == 0);
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 13);
  const auto json = nlohmann::json::parse(attrib::detail::read_file_bytes_at_most(folder / "conclusions.json", 1 << 20, "json"));
  REQUIRE(json.size() == 12);
  CHECK(json[0]["holds"] == true);
  std::size_t nulls = 0;
  for (const auto& c : json) nulls += c["holds"].is_null();
  CHECK(nulls == 2);
  std::filesystem::remove_all(folder);
}
