// attrib explain: feature attributions of a saved model for rows of a CSV file.
#include <cmath>
#include <cstdint>
#include <iostream>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "arguments.hpp"
#include "explain_context.hpp"
#include "feature_methods.hpp"
#include "files.hpp"
#include "processes.hpp"
#include "progress.hpp"
#include "attrib/core/feature_groups.hpp"
#include "attrib/core/run_settings.hpp"
#include "attrib/io/csv.hpp"
#include "attrib/io/model_file.hpp"
#include "commands.hpp"

namespace cli {
namespace {

const char* help = R"(usage: attrib explain --model FILE --data FILE --method NAME [options]

Writes one CSV row per explained instance: row, output, base_value (the model at the
baseline; absent for input-space methods, which have none), prediction, one column per
feature (or feature group), then se_<feature> standard errors when the method estimates by
sampling, and the number of model evaluations (the interaction methods and l2x write
the tables described below).

input:
  --model FILE          model config in attrib's JSON format (docs/model-format.md)
  --data FILE           CSV of instances, one per row
  --data-format F       csv or sklearn (first line n,d,class names; the last column is a label
                        and is dropped); default: detected from the first line
  --rows LIST           rows of --data to explain, e.g. 0,3,10-19 (default: all)
  --header H            csv: auto (default: the first line is a header when none of its
                        cells is a number), yes or no

baseline (what an absent feature is replaced by):
  --baseline FILE       CSV of baseline rows (default: the --data file)
  --baseline-format F   csv or sklearn; default: detected from the first line
  --baseline-mode M     background: the expectation over the rows (default with --baseline)
                        mean: the column means as one reference row (default without)
                        row: one row, chosen by --baseline-row
  --baseline-row N      the row for --baseline-mode row (default 0)
  --max-background N    use at most the first N background rows (default 100)

method:
  --method NAME         perturbation methods: exact-shapley, kernel-shap,
                        permutation-shapley, exact-banzhaf, msr-banzhaf, lime, lime-lasso,
                        clime, occlusion, rise (random masks), core-value (the least core's
                        point of minimal norm; exact, at most 16 players)
                        gradient methods: vanilla-gradient, gradient-x-input, smoothgrad,
                        smoothgrad-squared, vargrad, integrated-gradients,
                        expected-gradients (integrated-gradients over background rows),
                        guided-backprop (ReLU MLPs: the gradient with negative signals stopped
                        at every ReLU; input space, like vanilla-gradient)
                        interaction methods (a long table, below): shapley-taylor (exact
                        Shapley-Taylor index of order 2, at most 24 players),
                        permutation-shapley-taylor (the same, sampled over random orders),
                        banzhaf-interactions (exact, at most 24 players), msr-banzhaf-interactions
                        (sampled), integrated-hessians (MLPs: Integrated Gradients of Integrated
                        Gradients, against the baseline)
                        amortised: l2x (an explainer network trained on every row of --data
                        selects the --k features that keep the model's prediction)
  --output K            model output to explain: an index, or 'predicted' for the arg-max
                        output of each instance (default 0)
  --samples N           evaluation budget of sampling methods (default: the method's own;
                        permutation-shapley-taylor spends it on whole random orders of
                        1 + n + n(n-1)/2 game evaluations each, plus n + 1 for the diagonal)
  --seed S              random seed (default 0); same seed, same result
  --threads T           worker threads, 0 for all cores (default 1)
  --target-se E         kernel-shap, lime: stop early once every standard error is <= E
  --alpha A             lime (ridge, default 1) and lime-lasso (default 0.01) penalty
  --width W             lime kernel width (default: 1 for cosine, 0.75 sqrt(d) euclidean)
  --distance D          lime distance: cosine (default) or euclidean
  --keep-probability P  rise: the probability that a mask keeps a feature (default 0.5)
  --sigma S             clime, smoothgrad family: standard deviation of the Gaussian
                        offsets (default 0.1)
  --steps N             integrated/expected gradients: quadrature steps (default 50);
                        integrated-hessians: steps on each of its two path integrals (default
                        32; steps^2 path points, each with a Hessian-vector product per player)
  --rule R              integrated/expected gradients, integrated-hessians: gauss_legendre
                        (default), riemann_left, riemann_right, riemann_midpoint or trapezoid
  --groups LIST         one group label per feature, e.g. 0,0,1,2,2: players are groups
  --order K             shapley-taylor: the order of the index (default 2: the pairwise matrix;
                        another K writes every term of at most K players, n <= 16)
  --k K                 l2x: features selected per instance (default 1)
  --epochs N            l2x: passes over the rows of --data (default 20)
  --hidden LIST         l2x: the explainer's ReLU hidden widths (default 100,100)
  --temperature T       l2x: the concrete relaxation's temperature (default 0.1)
  --learning-rate R     l2x: Adam's step size (default 0.001)
  --batch-size N        l2x: rows per Adam step (default 64)
  --loss L              l2x: cross-entropy (default when the model's outputs are
                        probabilities) or squared-error (the default otherwise)

interaction output: one row per instance and pair of players, row, output, feature_i,
  feature_j (player indices from 0, in the order of the features or --groups), value, and
  se_value when sampled: the full n x n matrix, both (i, j) and (j, i). The diagonal holds
  v({i}) - v(empty) for Shapley-Taylor, the Banzhaf value for the Banzhaf index, and player i's
  self-interaction for Integrated Hessians (whose rows sum to integrated gradients). With
  --order K other than 2: row, output, size, feature_1 .. feature_K (-1 past the term's
  size), value. f(baseline), f(x) and the efficiency or completeness gap of each row go to
  standard error.
l2x output: row, output, base_value (f at the baseline), prediction, selected_prediction (f
  with only the selected features kept, the others at the baseline), one column per feature
  holding the explainer's selector score, then selected_<feature>: 1 for the K chosen. l2x
  replaces absent features by one reference row: --baseline-mode mean (its default) or row.

output:
  --format F            csv (default) or json (one object per row, keyed by the column names)
  --out FILE            write the table there (default or -: standard output)
  --svg FILE            also draw the attributions: a waterfall from the base value to the
                        prediction per instance (bars from zero for gradient methods; for the
                        pairwise interaction methods a heatmap of the matrix per instance)
  --quiet               no messages on standard error (progress: a bar with rate and time
                        left on a terminal, a line every 10 s in a log)
  Under mpirun (a build with ATTRIB_WITH_MPI) the rows are spread over the ranks (l2x, whose
  explainer trains by sequential steps, runs on rank 0); the results are those of one process,
  bit for bit, and rank 0 alone writes them (docs/distributed.md).
  --help                this text
)";

attrib::matrix read_rows(const arguments& a, const std::string& path, const std::string& format,
                         std::vector<std::string>* header) {
  if (format == "sklearn") return read_sklearn_table(path).features;
  if (format != "csv") throw usage_error("format must be csv or sklearn, got '" + format + "'");
  attrib::csv_table table = read_table(a, path, "attrib explain");
  if (header) *header = table.header;
  return table.values;
}

}  // namespace

int explain(const std::vector<std::string>& args) {
  const arguments a(args,
                    {"model", "data", "data-format", "rows", "baseline", "baseline-format", "baseline-mode",
                     "baseline-row", "max-background", "method", "output", "samples", "seed", "threads",
                     "target-se", "alpha", "width", "distance", "sigma", "steps", "rule", "groups", "header", "format", "out", "svg",
                     "keep-probability", "order", "k", "epochs", "hidden", "temperature", "learning-rate", "batch-size",
                     "loss"},
                    {"help", "quiet"});
  if (a.flag("help")) {
    std::cout << help;
    return 0;
  }
  refuse_overwriting_inputs(a, {"out", "svg"}, {"model", "data", "baseline", "groups"});
  const std::string method = a.required("method");
  const attrib::any_model model = attrib::load_model(a.required("model"));
  const Eigen::Index d = model.input_dim();

  std::vector<std::string> header;
  const attrib::matrix data = read_rows(a, a.required("data"), table_format(a, "data-format", a.required("data")), &header);
  if (data.cols() != d)
    throw usage_error("--data has " + std::to_string(data.cols()) + " columns but the model takes " +
                      std::to_string(d) + " inputs");
  const std::vector<Eigen::Index> rows = a.has("rows") ? parse_row_list(a.text("rows"), data.rows(), "--data") : [&] {
    std::vector<Eigen::Index> all(static_cast<std::size_t>(data.rows()));
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<Eigen::Index>(i);
    return all;
  }();

  // Baseline.
  const bool own_baseline = a.has("baseline");
  attrib::matrix baseline_rows =
      own_baseline ? read_rows(a, a.text("baseline"), table_format(a, "baseline-format", a.text("baseline")), nullptr) : data;
  if (baseline_rows.cols() != d)
    throw usage_error("--baseline has " + std::to_string(baseline_rows.cols()) + " columns, expected " + std::to_string(d));
  if (baseline_rows.rows() == 0) throw usage_error("--baseline has no rows");
  // L2X masks with one reference row, so its default stays the column means.
  const std::string mode =
      a.text("baseline-mode", (own_baseline && method != "l2x") || method == "expected-gradients" ? "background" : "mean");
  if (method == "expected-gradients" && mode != "background")
    throw usage_error("expected-gradients averages over background rows; use --baseline-mode background");
  attrib::matrix baseline;
  if (mode == "mean") {
    baseline = baseline_rows.colwise().mean();
  } else if (mode == "row") {
    const auto r = a.integer("baseline-row", 0, 0, std::numeric_limits<std::int64_t>::max());
    if (r >= baseline_rows.rows())
      throw usage_error("--baseline-row " + std::to_string(r) + " is out of range; the baseline has " +
                        std::to_string(baseline_rows.rows()) + " rows");
    baseline = baseline_rows.row(r);
  } else if (mode == "background") {
    const auto cap = a.integer("max-background", 100, 1, 1'000'000'000);
    if (baseline_rows.rows() > cap && !a.flag("quiet"))
      std::cerr << "attrib explain: using the first " << cap << " of " << baseline_rows.rows()
                << " background rows (--max-background)\n";
    baseline = baseline_rows.topRows(std::min(cap, baseline_rows.rows()));
  } else {
    throw usage_error("--baseline-mode must be background, mean or row, got '" + mode + "'");
  }

  // Players: features, or groups of them.
  std::vector<std::string> names = model.info().feature_names;
  if (names.empty() && static_cast<Eigen::Index>(header.size()) == d) names = header;
  if (names.empty())
    for (Eigen::Index f = 0; f < d; ++f) names.push_back("x" + std::to_string(f));
  attrib::feature_groups groups = attrib::feature_groups::singletons(d);
  if (a.has("groups")) {
    std::vector<Eigen::Index> labels;
    for (const std::string& s : split(a.text("groups"), ',')) {
      if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos)
        throw usage_error("--groups expects one non-negative integer label per feature, got '" + s + "'");
      labels.push_back(static_cast<Eigen::Index>(std::stoll(s)));
    }
    if (static_cast<Eigen::Index>(labels.size()) != d)
      throw usage_error("--groups has " + std::to_string(labels.size()) + " labels, expected one per feature (" +
                        std::to_string(d) + ")");
    groups = attrib::feature_groups::from_labels(labels);
    std::vector<std::string> group_names;
    for (Eigen::Index p = 0; p < groups.player_count(); ++p) {
      std::string joined;
      for (Eigen::Index f : groups.members(p)) joined += (joined.empty() ? "" : "+") + names[static_cast<std::size_t>(f)];
      group_names.push_back(joined);
    }
    names = group_names;
  }

  const std::string output_text = a.text("output", "0");
  const bool predicted = output_text == "predicted";
  const Eigen::Index fixed_output = predicted ? 0 : a.integer("output", 0, 0, std::numeric_limits<std::int64_t>::max());
  const attrib::run_settings settings{.seed = a.seed(), .threads = a.threads()};

  if (is_input_space_method(method) && a.has("groups")) throw usage_error("--groups does not apply to " + method);
  std::vector<Eigen::Index> outputs(rows.size(), fixed_output);
  if (predicted)
    for (std::size_t i = 0; i < rows.size(); ++i)
      model.predict(attrib::matrix(data.row(rows[i]))).row(0).maxCoeff(&outputs[i]);
  for (const char* option : {"order", "k", "epochs", "hidden", "temperature", "learning-rate", "batch-size", "loss"}) {
    const bool applies = std::string(option) == "order" ? method == "shapley-taylor" : method == "l2x";
    if (a.has(option) && !applies)
      throw usage_error("--" + std::string(option) + " applies to --method " +
                        (std::string(option) == "order" ? "shapley-taylor" : "l2x") + " only");
  }

  // Every process has read its inputs: under MPI, one that could not stops all of them here,
  // before any computes.
  const process_policy procs = processes();
  procs.agree();

  // The methods with their own translation units (their templates are the costly ones) spread
  // their rows over the processes through explain_each_row, and rank 0 writes; L2X trains one
  // explainer by sequential minibatch steps, which more processes would not speed up without
  // changing its bits, so the root runs it while the others wait at the last agreement.
  if (is_interaction_method(method) || is_guided_or_l2x_method(method)) {
    if (method == "l2x" && !procs.is_root()) return 0;
    if (fixed_output >= model.output_dim())
      throw usage_error("--output " + std::to_string(fixed_output) + " is out of range; the model has " +
                        std::to_string(model.output_dim()) + " outputs");
    const explain_context context{a, method, model, data, rows, baseline, groups, names, outputs, settings};
    if (is_interaction_method(method))
      explain_interactions(context);
    else
      explain_guided_l2x(context);
    return 0;
  }

  // The rows are spread over --threads workers (and under MPI over the ranks: the bar counts
  // this rank's rows), with the results of a row-by-row loop.
  progress bar(a, "attrib explain", "instances", static_cast<std::size_t>(procs.share(static_cast<Eigen::Index>(rows.size()))));
  attrib::run_settings batch = settings;
  batch.progress = [&](std::size_t done, std::size_t) { bar.update(done); };
  const auto results = explain_rows(method, a, model, data, rows, baseline, groups, outputs, batch, procs);
  if (!procs.is_root()) return 0;  // the results are on the root, which writes them once

  write_attribution_table(explain_context{a, method, model, data, rows, baseline, groups, names, outputs, settings},
                          results);
  return 0;
}

}  // namespace cli
