// One command for the data-attribution results table: every gradient method against ground
// truth that attrib computes itself (exact leave-one-out retraining, retraining on random subsets,
// flipped labels).
//
//   data_attribution_table [out.md] [digits.csv] [breast_cancer.csv]
//
// Writes docs/data-attribution-results.md by default. digits.csv may be in scikit-learn's format
// or a plain table with the label in the last column (../shared/data/tabular/digits.csv.gz).
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "attrib/io/atomic_file.hpp"
#include "attrib/io/csv.hpp"
#include "attrib/methods/data/evaluation.hpp"
#include "attrib/methods/data/grad_similarity.hpp"
#include "attrib/methods/data/group_attribution.hpp"
#include "attrib/methods/data/influence.hpp"
#include "attrib/solvers/model_hessian.hpp"
#include "attrib/methods/data/tracin.hpp"
#include "attrib/methods/data/trak.hpp"
#include "attrib/models/logistic_regression.hpp"
#include "attrib/models/mlp.hpp"
#include "attrib/solvers/arnoldi.hpp"
#include "attrib/solvers/conjugate_gradient.hpp"
#include "attrib/solvers/ekfac.hpp"
#include "attrib/solvers/lissa.hpp"
#include "attrib/io/train_test_split.hpp"
#include "table_format.hpp"

#ifndef ATTRIB_DATA_DIR
#define ATTRIB_DATA_DIR "data"
#endif

namespace {

using attrib::matrix;
using attrib::vector;
using Idx = Eigen::Index;
using attrib_examples::clock_type;
using attrib_examples::sci;
using attrib_examples::seconds_since;

std::string fmt(double v, int digits = 4) { return attrib_examples::fixed(v, digits); }

struct split {
  matrix x, test_x;
  vector y, test_y;
};

// A seeded 80/20 split.
split split_80_20(const attrib::labelled_dataset& d, std::uint64_t seed) {
  const attrib::dataset_split parts = attrib::train_test_split(d, 0.8, seed);
  return {parts.train.features, parts.test.features, parts.train.labels, parts.test.labels};
}

attrib::labelled_dataset load_digits(const std::filesystem::path& path) {
  try {
    return attrib::read_sklearn_csv(path);
  } catch (const attrib::format_error&) {
    const attrib::csv_table t = attrib::read_csv(path);
    attrib::labelled_dataset d;
    d.features = t.values.leftCols(t.values.cols() - 1);
    d.labels = t.values.col(t.values.cols() - 1);
    for (int c = 0; c < 10; ++c) d.class_names.push_back(std::to_string(c));
    return d;
  }
}

attrib::logistic_regression fit_logistic(const split& s, Idx outputs, double l2) {
  attrib::logistic_regression m(s.x.cols(), outputs);
  m.set_standardizer(attrib::standardizer::fit(s.x));
  m.train(s.x, s.y, {.l2 = l2});
  return m;
}

// Test loss change per removed point, from one Newton step on each leave-one-out objective.
matrix newton_step_prediction(const attrib::logistic_regression& m, const split& s, const matrix& tx,
                              const vector& ty) {
  const matrix steps = attrib::newton_step_loo(m, s.x, s.y, 2);
  const vector base = attrib::example_losses(m, tx, ty);
  matrix out(steps.rows(), tx.rows());
  for (Idx i = 0; i < steps.rows(); ++i) {
    attrib::logistic_regression moved = m;
    moved.set_parameters(m.parameters() + steps.row(i).transpose());
    out.row(i) = (attrib::example_losses(moved, tx, ty) - base).transpose();
  }
  return out;
}

void breast_cancer_section(std::ostream& md, const std::filesystem::path& path) {
  const auto data = attrib::read_sklearn_csv(path);
  const Idx tests = 10;
  md << "## 1. Influence vs exact leave-one-out: binary logistic regression, breast cancer\n\n"
     << "569 x 30, standardised, seeded 80/20 splits (455 training points), Newton-trained with the L2 penalty "
        "(l2 / 2)||W||^2 on the mean cross-entropy. Ground truth: for every training point, warm-started Newton "
        "retraining without it (gradient max-norm 1e-10), and the change of the loss of the first "
     << tests
     << " test points. Predicted change: influence, g_test^T H^-1 (g_i + r) / (n - 1) (explicit Hessian, r the "
        "penalty gradient); Newton step: the test loss after one exact Newton step on each leave-one-out objective. "
        "Correlations are pooled over all 455 x 10 (point, test) pairs.\n\n"
     << "| l2 | split seed | influence Pearson | influence Spearman | Newton-step Pearson | Newton-step Spearman |\n"
     << "| --- | --- | --- | --- | --- | --- |\n";
  for (double l2 : {0.1, 0.01}) {
    for (std::uint64_t seed = 1; seed <= 5; ++seed) {
      const split s = split_80_20(data, seed);
      const auto m = fit_logistic(s, 1, l2);
      const matrix tx = s.test_x.topRows(tests);
      const vector ty = s.test_y.head(tests);
      const attrib::explicit_inverse_hessian ih(m.hessian(s.x, s.y));
      const matrix predicted =
          attrib::loo_loss_change(ih, m.per_example_loss_gradients(s.x, s.y), m.per_example_loss_gradients(tx, ty),
                                  attrib::penalty_gradient(m, s.x, s.y));
      const matrix loo = attrib::exact_loo(m, s.x, s.y, tx, ty, 2);
      const auto ci = attrib::pooled_correlation(predicted, loo);
      const auto cn = attrib::pooled_correlation(newton_step_prediction(m, s, tx, ty), loo);
      md << "| " << l2 << " | " << seed << " | " << fmt(ci.pearson) << " | " << fmt(ci.spearman) << " | "
         << fmt(cn.pearson) << " | " << fmt(cn.spearman) << " |\n";
      std::cerr << "breast cancer l2 " << l2 << " seed " << seed << " done\n";
    }
  }
  md << "\nTargets: influence Pearson >= 0.97 and Spearman >= 0.99, Newton step >= 0.999. At l2 = 0.1 every split "
        "meets them. At l2 = 0.01 the Spearman and Newton-step targets hold but the influence Pearson does not on "
        "every split: with 455 points a few high-leverage points change the loss by more than first order predicts "
        "(the Newton step, which includes example i's own Hessian, recovers them).\n\n";

  // Every inverse-Hessian solver on one split, with its diagnostics and timing.
  const split s = split_80_20(data, 1);
  const auto m = fit_logistic(s, 1, 0.1);
  const matrix tx = s.test_x.topRows(tests);
  const vector ty = s.test_y.head(tests);
  const matrix g = m.per_example_loss_gradients(s.x, s.y);
  const matrix gt = m.per_example_loss_gradients(tx, ty);
  const vector r = attrib::penalty_gradient(m, s.x, s.y);
  auto t0 = clock_type::now();
  const matrix loo = attrib::exact_loo(m, s.x, s.y, tx, ty, 1);
  const double loo_seconds = seconds_since(t0);
  const attrib::model_hessian<attrib::logistic_regression> h(m, s.x, s.y);
  md << "### Inverse-Hessian solvers (l2 = 0.1, split 1)\n\n"
     << "| solver | Pearson vs LOO | Spearman vs LOO | max residual | spectrum coverage | time, all 455 x 10 scores |\n"
     << "| --- | --- | --- | --- | --- | --- |\n";
  auto row = [&](const std::string& name, const auto& solver, double setup_seconds) {
    const auto start = clock_type::now();
    const auto attribution = attrib::influence(solver, g, gt);
    const matrix predicted = attrib::loo_loss_change(solver, g, gt, r);
    const double seconds = seconds_since(start) / 2 + setup_seconds;
    double worst = 0, coverage = std::numeric_limits<double>::quiet_NaN();
    for (const auto& d : attribution.diagnostics) {
      worst = std::max(worst, d.relative_residual);
      coverage = d.spectrum_coverage;
    }
    const auto c = attrib::pooled_correlation(predicted, loo);
    md << "| " << name << " | " << fmt(c.pearson) << " | " << fmt(c.spearman) << " | " << sci(worst) << " | "
       << (std::isnan(coverage) ? std::string("-") : fmt(coverage, 3)) << " | " << sci(seconds) << " s |\n";
  };
  t0 = clock_type::now();
  const attrib::explicit_inverse_hessian ih(m.hessian(s.x, s.y));
  row("explicit (LDLT)", ih, seconds_since(t0));
  row("conjugate gradient", attrib::conjugate_gradient_inverse_hessian(h, {.tolerance = 1e-10}), 0);
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(ih.hessian(), Eigen::EigenvaluesOnly);
  const double top = eig.eigenvalues().maxCoeff();
  row("LiSSA (depth 300, scale 1.1 lambda_max, batch 64)",
      attrib::lissa_inverse_hessian(h, {.depth = 300, .scale = 1.1 * top, .batch_size = 64, .seed = 3}), 0);
  row("LiSSA (depth 300, full batch)", attrib::lissa_inverse_hessian(h, {.depth = 300, .scale = 1.1 * top}), 0);
  t0 = clock_type::now();
  const attrib::arnoldi_inverse_hessian ar10(h, {.iterations = 20, .top_k = 10, .trace_probes = 31, .seed = 5});
  row("Arnoldi (top 10 of 20)", ar10, seconds_since(t0));
  t0 = clock_type::now();
  const attrib::arnoldi_inverse_hessian ar25(h, {.iterations = 31, .top_k = 25, .trace_probes = 31, .seed = 5});
  row("Arnoldi (top 25 of 31)", ar25, seconds_since(t0));
  md << "\nExact LOO retraining of all 455 points for the same 10 test points took " << fmt(loo_seconds, 2)
     << " s on one thread. The residual is ||(H + damping I) x - v|| / ||v|| measured with one exact "
        "Hessian-vector product, not the solver's own estimate. Arnoldi drops the directions outside its kept "
        "eigenvectors, and its residual and coverage say how much that costs: H^-1 is dominated by the smallest "
        "eigenvalues, exactly the ones a top-k method drops.\n\n";

  // Group attribution: k-means clusters, summed gradients, against exact group removal.
  const Idx k = 20;
  const auto clusters = attrib::kmeans(m.input_standardizer().transform(s.x), k, 11);
  const matrix gg = attrib::group_gradients(g, clusters.assignment, k);
  matrix group_pred(k, tests), group_true(k, tests);
  const vector base = attrib::example_losses(m, tx, ty);
  for (Idx c = 0; c < k; ++c) {
    std::vector<Idx> keep;
    for (Idx i = 0; i < s.x.rows(); ++i)
      if (clusters.assignment[static_cast<std::size_t>(i)] != c) keep.push_back(i);
    const double removed = static_cast<double>(s.x.rows()) - static_cast<double>(keep.size());
    const double n = static_cast<double>(s.x.rows());
    for (Idx j = 0; j < tests; ++j) {
      const vector sol = ih.solve(gt.row(j).transpose()).solution;
      // Removing a group of size m: the others keep weight 1/(n - m), to first order.
      group_pred(c, j) = (gg.row(c).dot(sol) + removed * r.dot(sol)) / (n - removed);
    }
    attrib::logistic_regression mm = m;
    attrib::retrain_newton(mm, attrib::detail::select_rows(s.x, keep), attrib::detail::select_rows(s.y, keep));
    group_true.row(c) = (attrib::example_losses(mm, tx, ty) - base).transpose();
  }
  const auto cg = attrib::pooled_correlation(group_pred, group_true);
  md << "### Group attribution\n\n20 k-means++ clusters of the standardised training inputs (seed 11); group "
        "influence from the summed group gradient, against exact retraining without the whole cluster: Pearson "
     << fmt(cg.pearson) << ", Spearman " << fmt(cg.spearman)
     << " (pooled over 20 clusters x 10 test points). Clusters remove whole regions, so this is far from the "
        "first-order regime and the agreement is looser than for single points.\n\n";
}

void digits_section(std::ostream& md, const std::filesystem::path& path) {
  const auto data = load_digits(path);
  const split s = split_80_20(data, 2);
  const double l2 = 1e-2;
  const Idx classes = 10, tests = 20, subsets = 40;
  const auto m = fit_logistic(s, classes, l2);
  const matrix tx = s.test_x.topRows(tests);
  const vector ty = s.test_y.head(tests);
  const Idx n = s.x.rows();
  md << "## 2. Multinomial logistic regression, digits: LDS and noisy-label detection\n\n"
     << "1797 x 64, seeded 80/20 split (" << n << " training points), 10 classes, p = " << m.parameter_count()
     << ", l2 = " << l2
     << ". LDS: " << subsets
     << " random 50% subsets, each retrained by warm-started Newton; Spearman across subsets between the summed "
        "scores of the subset and the retrained model's log-likelihood of the test label, averaged over "
     << tests << " test points. Influence scores are negated (I_up,loss is harmful-positive).\n\n";
  const matrix g = m.per_example_loss_gradients(s.x, s.y);
  const matrix gt = m.per_example_loss_gradients(tx, ty);
  auto t0 = clock_type::now();
  const matrix masks = attrib::random_subset_masks(n, subsets, 0.5, 21);
  const matrix outputs = attrib::subset_outputs(
      m, s.x, s.y, masks, tx, ty,
      [](const attrib::logistic_regression& model, const matrix& x, const vector& y) {
        return vector(-attrib::example_losses(model, x, y));
      },
      2);
  const double retrain_seconds = seconds_since(t0);
  std::cerr << "digits subsets retrained in " << retrain_seconds << " s\n";
  md << "| method | LDS | time |\n| --- | --- | --- |\n";
  // Callers compute the scores before the time: argument evaluation order is unspecified.
  auto lds_row = [&](const std::string& name, const matrix& scores, double seconds) {
    const auto lds = attrib::linear_datamodeling_score(scores, masks, outputs);
    md << "| " << name << " | " << fmt(lds.mean, 3) << " | " << sci(seconds) << " s |\n";
  };
  t0 = clock_type::now();
  const attrib::explicit_inverse_hessian ih(m.hessian(s.x, s.y));
  const auto inf = attrib::influence(ih, g, gt);
  const double inf_seconds = seconds_since(t0);
  lds_row("influence, explicit Hessian", -inf.scores, inf_seconds);
  const std::string damping_message = ih.message();
  const attrib::model_hessian<attrib::logistic_regression> h(m, s.x, s.y);
  t0 = clock_type::now();
  const auto inf_cg = attrib::influence(
      attrib::conjugate_gradient_inverse_hessian(h, {.damping = 1e-6, .tolerance = 1e-8}), g, gt);
  const double cg_seconds = seconds_since(t0);
  lds_row("influence, CG (damping 1e-6)", -inf_cg.scores, cg_seconds);
  t0 = clock_type::now();
  const attrib::arnoldi_inverse_hessian ar(h, {.iterations = 150, .top_k = 100, .damping = 1e-3, .seed = 1});
  const auto inf_ar = attrib::influence(ar, g, gt);
  const double ar_seconds = seconds_since(t0);
  lds_row("influence, Arnoldi top 100 (coverage " + fmt(ar.spectrum_coverage(), 3) + ")", -inf_ar.scores,
          ar_seconds);
  for (Idx members : {1, 10}) {
    t0 = clock_type::now();
    std::vector<attrib::trak_member> ms;
    if (members == 1)
      ms.push_back(attrib::trak_member_for(m, s.x, s.y, tx, ty));
    else
      ms = attrib::trak_subset_members(m, s.x, s.y, tx, ty, members, 0.5, 31, 2);
    const auto tr = attrib::trak(ms, {.projection_dim = 512, .seed = 7, .threads = 2});
    const double trak_seconds = seconds_since(t0);
    lds_row(members == 1 ? "TRAK, k = 512, final model" : "TRAK, k = 512, 10 members on 50% subsets", tr.scores,
            trak_seconds);
  }
  t0 = clock_type::now();
  attrib::logistic_regression start(s.x.cols(), classes);
  start.set_standardizer(m.input_standardizer());
  start.set_l2(l2);
  const auto checkpoints = attrib::gradient_descent_checkpoints(start, s.x, s.y, 0.5, 5, 40);
  const auto tracin = attrib::tracin(checkpoints, std::vector<double>(5, 0.5 * 40), s.x, s.y, tx, ty);
  const double tracin_seconds = seconds_since(t0);
  lds_row("TracIn, 5 checkpoints of gradient descent", tracin.scores, tracin_seconds);
  t0 = clock_type::now();
  const matrix dot = attrib::grad_dot(g, gt).scores;
  lds_row("Grad-Dot", dot, seconds_since(t0));
  t0 = clock_type::now();
  const matrix cosine = attrib::grad_cos(g, gt).scores;
  lds_row("Grad-Cos", cosine, seconds_since(t0));
  md << "\nRetraining the " << subsets << " subsets (the ground truth) took " << fmt(retrain_seconds, 1)
     << " s on two threads. The explicit solver said: \"" << damping_message
     << "\" (the softmax Hessian is singular along adding a constant to every class's bias; gradients are "
        "orthogonal to that direction).\n\n";

  // Noisy labels: flip 10%, retrain, rank by self-influence.
  const auto flipped = attrib::flip_labels(s.y, classes, 0.1, 5);
  split noisy = s;
  noisy.y = flipped.labels;
  const auto mn = fit_logistic(noisy, classes, l2);
  const matrix gn = mn.per_example_loss_gradients(noisy.x, noisy.y);
  const attrib::explicit_inverse_hessian ihn(mn.hessian(noisy.x, noisy.y));
  const vector self_inf = attrib::self_influence(ihn, gn);
  const auto trak_self = attrib::trak({attrib::trak_member_for(mn, noisy.x, noisy.y, noisy.x, noisy.y)},
                                      {.projection_dim = 512, .seed = 7, .threads = 2});
  vector tracin_self(n);
  const auto noisy_checkpoints = attrib::gradient_descent_checkpoints(
      [&] {
        attrib::logistic_regression st(s.x.cols(), classes);
        st.set_standardizer(mn.input_standardizer());
        st.set_l2(l2);
        return st;
      }(),
      noisy.x, noisy.y, 0.5, 5, 40);
  tracin_self.setZero();
  for (const auto& c : noisy_checkpoints)
    tracin_self += 20.0 * c.per_example_loss_gradients(noisy.x, noisy.y).rowwise().squaredNorm();
  md << "### Noisy-label detection (10% of training labels flipped, seed 5)\n\n| score | AUC |\n| --- | --- |\n"
     << "| self-influence g^T H^-1 g (explicit) | " << fmt(attrib::roc_auc(self_inf, flipped.flipped), 4) << " |\n"
     << "| TRAK self-score (k = 512) | " << fmt(attrib::roc_auc(trak_self.scores.diagonal(), flipped.flipped), 4)
     << " |\n"
     << "| TracIn self-influence | " << fmt(attrib::roc_auc(tracin_self, flipped.flipped), 4) << " |\n"
     << "| Grad-Dot self (squared gradient norm) | "
     << fmt(attrib::roc_auc(gn.rowwise().squaredNorm(), flipped.flipped), 4) << " |\n"
     << "| training loss (baseline) | "
     << fmt(attrib::roc_auc(attrib::example_losses(mn, noisy.x, noisy.y), flipped.flipped), 4) << " |\n\n"
     << "Target: AUC >= 0.95 for influence.\n\n";
}

void ekfac_section(std::ostream& md, const std::filesystem::path& path) {
  const auto data = load_digits(path);
  const split s = split_80_20(data, 2);
  attrib::mlp net({{64, 16, attrib::activation::tanh}, {16, 10, attrib::activation::identity}},
                  attrib::output_head::softmax, 3);
  net.set_standardizer(attrib::standardizer::fit(s.x));
  net.train(s.x, s.y, {.learning_rate = 3e-3, .epochs = 60, .batch_size = 32, .l2 = 1e-3, .seed = 4});
  const matrix g = net.per_example_loss_gradients(s.x, s.y);
  const matrix gt = net.per_example_loss_gradients(s.test_x.topRows(10), s.test_y.head(10));
  const double damping = 1e-2;
  attrib::explicit_inverse_hessian exact(net.hessian(s.x, s.y), {.damping = damping});
  md << "## 3. EK-FAC on an MLP (digits, 64-16-10 tanh, p = " << net.parameter_count()
     << ")\n\nInverse-Hessian products of 10 test gradients with damping " << damping
     << " against the explicit damped solve"
     << (exact.message().empty() ? std::string() : " (" + exact.message() + ")")
     << ": relative error ||x - x_exact|| / ||x_exact|| (median), cosine to x_exact (median), and the reported "
        "residual against the exact Hessian.\n\n| approximation | relative error | cosine | reported residual |\n"
        "| --- | --- | --- | --- |\n";
  auto row = [&](const std::string& name, const auto& solver) {
    std::vector<double> err, cosine, residual;
    for (Idx j = 0; j < gt.rows(); ++j) {
      const vector v = gt.row(j).transpose();
      const vector x0 = exact.solve(v).solution;
      const auto r = solver.solve(v);
      err.push_back((r.solution - x0).norm() / x0.norm());
      cosine.push_back(r.solution.dot(x0) / (r.solution.norm() * x0.norm()));
      residual.push_back(r.diagnostics.relative_residual);
    }
    auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    };
    md << "| " << name << " | " << fmt(median(err), 3) << " | " << fmt(median(cosine), 3) << " | "
       << sci(median(residual)) << " |\n";
  };
  row("K-FAC (empirical Fisher)", attrib::ekfac_inverse_hessian(net, s.x, s.y, {.damping = damping, .eigenvalue_correction = false}));
  row("EK-FAC (empirical Fisher)", attrib::ekfac_inverse_hessian(net, s.x, s.y, {.damping = damping}));
  row("EK-FAC (sampled labels)",
      attrib::ekfac_inverse_hessian(net, s.x, s.y, {.damping = damping, .labels = attrib::fisher_labels::sampled, .seed = 9}));
  const attrib::model_hessian<attrib::mlp> h(net, s.x, s.y);
  row("conjugate gradient (exact HVPs)", attrib::conjugate_gradient_inverse_hessian(h, {.damping = damping, .tolerance = 1e-8}));
  md << "\nThe MLP Hessian is indefinite away from a minimum; EK-FAC approximates the (positive) Fisher instead, "
        "so against the damped exact Hessian solve it is only roughly aligned (cosine about 0.84); the unit test "
        "checks what EK-FAC does promise: exactness for one layer and one example, and a closer Fisher fit than "
        "K-FAC.\n";
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::filesystem::path out = argc > 1 ? argv[1] : "docs/data-attribution-results.md";
    std::filesystem::path digits = argc > 2 ? argv[2] : ATTRIB_DATA_DIR "/digits/digits.csv";
    if (argc <= 2 && !std::filesystem::exists(digits)) digits = "/tmp/digits.csv";
    const std::filesystem::path cancer = argc > 3 ? argv[3] : ATTRIB_DATA_DIR "/breast_cancer/breast_cancer.csv";
    std::ostringstream md;
    const auto start = clock_type::now();
    md << "# Data attribution results\n\nProduced by `examples/data_attribution_table.cpp` (one command: "
          "`data_attribution_table docs/data-attribution-results.md data/digits/digits.csv`). Every ground truth "
          "here is computed by attrib itself, by exact retraining. All seeds are fixed; rerunning gives the same "
          "table except for the timings.\n\n";
    breast_cancer_section(md, cancer);
    digits_section(md, digits);
    ekfac_section(md, digits);
    md << "\nTotal run time: " << fmt(seconds_since(start), 1) << " s.\n";
    attrib::write_file_atomically(out, md.str());
    std::cout << md.str();
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "data_attribution_table: " << e.what() << "\n";
    return 1;
  }
}
