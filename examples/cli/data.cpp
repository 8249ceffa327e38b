// attrib data: which training points made these predictions? Trains (or loads) a model on a
// labelled CSV and writes data-attribution scores for chosen test rows as CSV.
#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <iostream>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "arguments.hpp"
#include "files.hpp"
#include "mlp_options.hpp"
#include "progress.hpp"
#include "labels.hpp"
#include "attrib/io/csv.hpp"
#include "attrib/io/model_file.hpp"
#include "attrib/models/activation.hpp"
#include "attrib/models/linear_regression.hpp"
#include "attrib/models/logistic_regression.hpp"
#include "attrib/models/mlp.hpp"
#include "attrib/models/output_head.hpp"
#include "attrib/models/standardizer.hpp"
#include "attrib/games/data_game.hpp"
#include "attrib/methods/data/evaluation.hpp"
#include "attrib/methods/data/fast_influence.hpp"
#include "attrib/methods/data/relatif.hpp"
#include "attrib/methods/data/sgd_influence.hpp"
#include "attrib/methods/data/sgd_trajectory.hpp"
#include "attrib/methods/data/source.hpp"
#include "attrib/methods/data/grad_similarity.hpp"
#include "attrib/methods/data/influence.hpp"
#include "attrib/solvers/model_hessian.hpp"
#include "attrib/methods/data/knn_shapley.hpp"
#include "attrib/methods/data/semivalues.hpp"
#include "attrib/methods/data/tracin.hpp"
#include "attrib/methods/data/training.hpp"
#include "attrib/methods/data/trak.hpp"
#include "attrib/solvers/arnoldi.hpp"
#include "attrib/solvers/conjugate_gradient.hpp"
#include "attrib/solvers/ekfac.hpp"
#include "attrib/solvers/lissa.hpp"
#include "attrib/solvers/maximum_sample_reuse.hpp"
#include "commands.hpp"

namespace cli {
namespace {

const char* help = R"(usage: attrib data --train FILE --test FILE --method NAME [options]
       attrib data split --data FILE --train-out FILE --test-out FILE [--test-size S] [--seed S]

Scores every training point for each chosen test row and writes CSV: a header, then one row
per training point: its row index in --train (train_row), then one column per test row
(test_<row>). Diagnostics (inverse-Hessian residuals, added damping, training fit) go to
standard error.

data:
  --train FILE          labelled training data
  --test FILE           labelled test data, the same format and feature columns as --train
  --data-format F       sklearn (first line n,d,class names; the last column is the integer
                        label) or csv (the last column is the target); default: detected from
                        the first line
  --rows LIST           rows of --test to attribute, e.g. 0,3,10-19 (default: all)
  --header H            csv: auto (default: the first line is a header when none of its
                        cells is a number), yes or no

model (trained on --train unless --model is given):
  --model FILE          a saved model (attrib train) instead of training; it must have been
                        trained on exactly --train (with its l2), since every method assumes
                        it sits at the optimum of the training loss; a warning is printed when
                        the training-loss gradient is not near zero
  --model-type TYPE     logistic_regression (default; Newton's method, binary or multinomial),
                        mlp (Adam) or linear_regression (closed form; real-valued target)
  --l2 L                L2 penalty (l2/2) ||W||^2 on the mean loss (default 1e-3; with
                        --model, the file's l2)
  --hidden LIST         mlp hidden widths, e.g. 16,16 (default 16)
  --activation A        mlp hidden activation: tanh (default), relu, gelu, sigmoid, identity
  --epochs N            mlp: Adam epochs (default 200)
  --learning-rate R     mlp: Adam learning rate (default 0.01); tracin: gradient-descent step
                        (default 0.5)
  --batch-size B        mlp: minibatch size (default 32)

method (--method NAME; models: L = logistic_regression, R = linear_regression, M = mlp):
  influence             L R M. Koh and Liang's I_up,loss = -g_test^T (H + damping I)^-1 g_i:
                        the change of the test loss per unit up-weighting of point i
                        (negative: point i helps). H is the Hessian of the mean regularised
                        training loss, g the per-example loss gradients.
    --solver S          explicit (default; dense Hessian, LDLT; adds damping with a message
                        when H is singular or indefinite), cg (conjugate gradient), lissa,
                        arnoldi (top-k eigenpairs), ekfac (mlp only)
    --damping D         added to H (default 0; lissa: in its own units, effective D * scale)
    --max-iterations N  cg: iteration cap (default 2 p)
    --depth N           lissa: recursion depth (default 1000)
    --scale S           lissa: must exceed H's largest eigenvalue (default 1.1 times the
                        power-iteration estimate)
    --iterations N      arnoldi: Krylov dimension (default min(100, p))
    --top-k K           arnoldi: eigenpairs kept (default half of --iterations)
  relatif               L R M. RelatIF (Barshan et al. 2020): influence with each training point's
                        H^-1 g_i normalised, so that points whose influence comes from a large
                        global effect (outliers) stop dominating; explicit solver, --damping
    --relative R        theta (default: / ||H^-1 g_i||) or loss (/ sqrt(g_i^T H^-1 g_i))
  fastif                L R M. FastIF (Guo et al. 2021): influence of each test point's --k
                        nearest training points only (exact kNN in the last hidden layer of an
                        mlp, the standardised inputs of a linear model); the other points get 0;
                        explicit solver, --damping; --k defaults to 100
  newton-loo            L R M. Change of each test loss when point i is removed, predicted by
                        one exact Newton step on the leave-one-out objective (includes point
                        i's own Hessian; one p x p factorisation per point)
  loo                   L R. Exact leave-one-out: the change of each test loss when the model
                        is retrained without point i (warm-started Newton, --threads)
  grad-dot              L R M. <g_test, g_i> (positive: a gradient step on i lowers the test
                        loss)
  grad-cos              L R M. cos(g_test, g_i)
  tracin                L R. sum over checkpoints c of lr_c <g_test(c), g_i(c)>, checkpoints of
                        full-batch gradient descent from zero parameters:
    --checkpoints N     number of checkpoints (default 5)
    --checkpoint-every N  gradient-descent steps between checkpoints (default 40)
  sgd-influence         L R. SGD-Influence (Hara et al. 2019): the model retrained from zero by
                        mini-batch SGD with its trajectory recorded, and the change of each test
                        loss when point i is dropped from every batch, by replaying the
                        linearised SGD steps backwards (positive: point i helps)
    --learning-rate R   the SGD step (default 0.1)
    --sgd-epochs N      epochs (default 5)
    --sgd-batch-size B  batch size (default 8)
    --seed S            batch order seed (default 0)
  source                L R. SOURCE (Bae et al. 2024) on the same recorded SGD run: the trajectory
                        cut into segments, each with its mean Hessian and gradients (positive:
                        point i helps)
    --segments L        segments (default 3)
  trak                  L. TRAK on margin gradients of the final model, projected to k
                        dimensions (positive: supports the test prediction)
    --projection-dim K  k (default 512)
    --seed S            projection seed (default 0)
  knn-shapley           L (labels only; no model is used). Exact KNN-Shapley (Jia et al.
                        2019) of each point for each test row, on standardised features
    --k K               neighbours (default 5)
  tmc-shapley           L. TMC Data Shapley of the data game whose value is the utility, on
                        all chosen test rows together, of the model retrained on a coalition:
                        one column (shapley) plus its standard error (se)
  data-banzhaf          L. Data Banzhaf of the same game by maximum sample reuse: columns
                        banzhaf and se
    --budget N          tmc-shapley, data-banzhaf: game evaluations, i.e. retrainings
                        (default: the method's own, 100 permutations / 2n + 2048)
    --utility U         log-likelihood (default) or accuracy
    --seed S            sampling seed (default 0)

output:
  --threads T           worker threads for loo, trak, knn-shapley and the games (default 1;
                        0: all cores); results do not depend on it
  --format F            csv (default) or json (one object per row, keyed by the column names)
  --out FILE            write the table there (default or -: standard output)
  --quiet               no messages on standard error
  --help                this text
)";

struct dataset {
  attrib::matrix x;
  attrib::vector y;
  std::vector<std::string> class_names;
};

dataset read_data(const arguments& a, const std::string& path, const std::string& format, const std::string& option) {
  if (format == "sklearn") {
    attrib::labelled_dataset d = read_sklearn_table(path);
    return {std::move(d.features), std::move(d.labels), std::move(d.class_names)};
  }
  if (format != "csv") throw usage_error("--data-format must be sklearn or csv, got '" + format + "'");
  const attrib::csv_table t = read_table(a, path, "attrib data");
  if (t.values.cols() < 2)
    throw attrib::invalid_argument(option + " " + path + " has " + std::to_string(t.values.cols()) +
                                   " column; expected at least one feature column and a target column");
  return {t.values.leftCols(t.values.cols() - 1), t.values.col(t.values.cols() - 1), {}};
}

// Class labels must be integers in [0, classes).
// `rows` maps positions in y back to file rows (empty: the identity).
void check_labels(const attrib::vector& y, Eigen::Index classes, const std::string& who,
                  const std::vector<Eigen::Index>& rows = {}) {
  for (Eigen::Index i = 0; i < y.size(); ++i)
    if (y[i] != std::floor(y[i]) || y[i] < 0 || y[i] >= static_cast<double>(classes))
      throw attrib::invalid_argument(who + ": row " + std::to_string(rows.empty() ? i : rows[static_cast<std::size_t>(i)]) +
                                     " has label " + std::to_string(y[i]) +
                                     ", expected an integer class in [0, " + std::to_string(classes) + ")");
}

// The change of every test loss when the model's parameters move by each row of `steps`.
template <class M>
attrib::matrix loss_change_after_steps(const M& model, const attrib::matrix& steps, const attrib::matrix& tx,
                                       const attrib::vector& ty) {
  const attrib::vector base = attrib::example_losses(model, tx, ty);
  attrib::matrix out(steps.rows(), tx.rows());
  for (Eigen::Index i = 0; i < steps.rows(); ++i) {
    M moved = model;
    moved.set_parameters(model.parameters() + steps.row(i).transpose());
    out.row(i) = (attrib::example_losses(moved, tx, ty) - base).transpose();
  }
  return out;
}

void report(const arguments& a, const attrib::data_attribution& r, const std::vector<Eigen::Index>& rows) {
  double worst = 0;
  std::string message;
  for (std::size_t j = 0; j < r.diagnostics.size(); ++j) {
    const auto& d = r.diagnostics[j];
    worst = std::max(worst, d.relative_residual);
    if (!d.message.empty() && d.message != message) {
      message = d.message;
      std::cerr << "attrib data: test row " << rows[j] << ": " << d.message << "\n";
    }
  }
  if (!r.diagnostics.empty()) {
    const auto& d = r.diagnostics.front();
    messages(a) << "attrib data: " << r.method << ": largest relative residual ||(H + damping I) x - g_test|| / "
              << "||g_test|| = " << worst << ", damping " << d.damping;
    if (std::isfinite(d.spectrum_coverage)) messages(a) << ", spectrum coverage " << d.spectrum_coverage;
    if (d.iterations > 0) messages(a) << ", iterations (first test row) " << d.iterations;
    messages(a) << "\n";
  }
}

template <class M>
attrib::data_attribution run_influence(const arguments& a, const M& model, const attrib::matrix& x,
                                       const attrib::vector& y, const attrib::matrix& g, const attrib::matrix& gt) {
  const std::string solver = a.text("solver", "explicit");
  const double damping = a.number("damping", 0.0);
  const attrib::model_hessian<M> h(model, x, y);
  const Eigen::Index p = model.parameter_count();
  if (solver == "explicit") {
    const attrib::explicit_inverse_hessian ih(model.hessian(x, y), {.damping = damping});
    return attrib::influence(ih, g, gt);
  }
  if (solver == "cg")
    return attrib::influence(
        attrib::conjugate_gradient_inverse_hessian(
            h, {.damping = damping, .max_iterations = a.integer("max-iterations", 0, 0, 1'000'000'000)}),
        g, gt);
  if (solver == "lissa") {
    double scale = a.number("scale", 0.0);
    if (!a.has("scale")) {  // power iteration for the largest eigenvalue
      attrib::vector v = attrib::vector::Ones(p).normalized();
      double lambda = 0;
      for (int it = 0; it < 50; ++it) {
        const attrib::vector hv = h.apply(v);
        lambda = v.dot(hv);
        if (hv.norm() == 0) break;
        v = hv.normalized();
      }
      scale = 1.1 * std::max(lambda, 1e-12);
      messages(a) << "attrib data: lissa scale " << scale << " (1.1 times the largest Hessian eigenvalue estimate)\n";
    }
    return attrib::influence(
        attrib::lissa_inverse_hessian(h, {.depth = a.integer("depth", 1000, 1, 1'000'000'000),
                                          .scale = scale,
                                          .damping = damping,
                                          .seed = a.seed()}),
        g, gt);
  }
  if (solver == "arnoldi") {
    const auto iterations = a.integer("iterations", std::min<Eigen::Index>(100, p), 1, 1'000'000'000);
    const auto top_k = a.integer("top-k", std::max<Eigen::Index>(1, iterations / 2), 1, 1'000'000'000);
    const attrib::arnoldi_inverse_hessian ar(
        h, {.iterations = iterations, .top_k = top_k, .damping = damping, .seed = a.seed()});
    return attrib::influence(ar, g, gt);
  }
  if (solver == "ekfac") {
    if constexpr (std::is_same_v<M, attrib::mlp>)
      return attrib::influence(attrib::ekfac_inverse_hessian(model, x, y, {.damping = damping}), g, gt);
    else
      throw usage_error("--solver ekfac needs --model-type mlp");
  }
  throw usage_error("--solver must be explicit, cg, lissa, arnoldi or ekfac, got '" + solver + "'");
}

// Scores of every training point (rows) for every test row (columns), and the column names.
template <class M>
attrib::matrix run_method(const std::string& method, const arguments& a, M& model, const dataset& train,
                          const attrib::matrix& tx, const attrib::vector& ty, const std::vector<Eigen::Index>& rows,
                          std::vector<std::string>& columns) {
  constexpr bool is_logistic = std::is_same_v<M, attrib::logistic_regression>;
  constexpr bool is_linear = is_logistic || std::is_same_v<M, attrib::linear_regression>;
  const std::size_t threads = a.threads();
  const std::string type = std::is_same_v<M, attrib::mlp> ? "mlp" : is_logistic ? "logistic_regression" : "linear_regression";
  auto needs = [&](bool ok, const std::string& models) {
    if (!ok) throw usage_error("--method " + method + " needs " + models + ", not " + type);
  };
  const attrib::matrix& x = train.x;
  const attrib::vector& y = train.y;

  if (method == "influence") {
    const attrib::data_attribution r =
        run_influence(a, model, x, y, model.per_example_loss_gradients(x, y), model.per_example_loss_gradients(tx, ty));
    report(a, r, rows);
    return r.scores;
  }
  if (method == "relatif") {
    const std::string kind = a.text("relative", "theta");
    if (kind != "theta" && kind != "loss") throw usage_error("--relative must be theta or loss, got '" + kind + "'");
    const attrib::explicit_inverse_hessian ih(model.hessian(x, y), {.damping = a.number("damping", 0.0)});
    const auto r = attrib::relatif(ih, model.per_example_loss_gradients(x, y), model.per_example_loss_gradients(tx, ty),
                                   {.threads = threads});
    return kind == "theta" ? r.theta_relative.scores : r.loss_relative.scores;
  }
  if (method == "fastif") {
    const attrib::explicit_inverse_hessian ih(model.hessian(x, y), {.damping = a.number("damping", 0.0)});
    const auto k = a.integer("k", std::min<Eigen::Index>(100, x.rows()), 1, x.rows());
    const auto r = attrib::fast_influence(ih, model, x, y, tx, ty, attrib::last_layer_inputs(model, x),
                                          attrib::last_layer_inputs(model, tx), {.k = k, .threads = threads});
    messages(a) << "attrib data: fastif: " << r.scored_pairs << " of " << r.full_scored_pairs << " pairs scored, "
                << r.gradient_evaluations << " of " << r.full_gradient_evaluations << " gradients computed\n";
    return r.dense();
  }
  if (method == "sgd-influence" || method == "source") {
    needs(is_linear, "logistic_regression or linear_regression (an SGD run from zero parameters)");
    if constexpr (is_linear) {
      M sgd = model;
      sgd.set_parameters(attrib::vector::Zero(model.parameter_count()));
      const auto trajectory = attrib::train_sgd(sgd, x, y,
                                                {.learning_rate = a.number("learning-rate", 0.1),
                                                 .batch_size = a.integer("sgd-batch-size", 8, 1, 1'000'000'000),
                                                 .epochs = a.integer("sgd-epochs", 5, 1, 1'000'000),
                                                 .seed = a.seed()});
      messages(a) << "attrib data: " << method << ": attributes an SGD run of " << trajectory.steps()
                  << " steps from zero parameters, not the Newton-fitted model\n";
      if (method == "sgd-influence") return attrib::sgd_influence(sgd, trajectory, x, y, tx, ty, threads).scores;
      return attrib::source(sgd, trajectory, x, y, tx, ty,
                            {.segments = a.integer("segments", 3, 1, trajectory.steps()), .threads = threads})
          .scores;
    }
  }
  if (method == "newton-loo")
    return loss_change_after_steps(model, attrib::newton_step_loo(model, x, y, threads), tx, ty);
  if (method == "grad-dot")
    return attrib::grad_dot(model.per_example_loss_gradients(x, y), model.per_example_loss_gradients(tx, ty)).scores;
  if (method == "grad-cos")
    return attrib::grad_cos(model.per_example_loss_gradients(x, y), model.per_example_loss_gradients(tx, ty)).scores;

  if (method == "loo") {
    needs(is_linear, "logistic_regression or linear_regression (Newton retraining)");
    if constexpr (is_linear) return attrib::exact_loo(model, x, y, tx, ty, threads);
  }
  if (method == "tracin") {
    needs(is_linear, "logistic_regression or linear_regression (gradient-descent checkpoints)");
    if constexpr (is_linear) {
      M start = model;
      start.set_parameters(attrib::vector::Zero(model.parameter_count()));
      const double lr = a.number("learning-rate", 0.5);
      const auto count = a.integer("checkpoints", 5, 1, 1'000'000);
      const auto every = a.integer("checkpoint-every", 40, 1, 1'000'000'000);
      const auto checkpoints = attrib::gradient_descent_checkpoints(start, x, y, lr, count, every);
      return attrib::tracin(checkpoints, std::vector<double>(static_cast<std::size_t>(count), lr * static_cast<double>(every)),
                            x, y, tx, ty)
          .scores;
    }
  }
  if (method == "trak") {
    needs(is_logistic, "logistic_regression (margin gradients)");
    if constexpr (is_logistic)
      return attrib::trak({attrib::trak_member_for(model, x, y, tx, ty)},
                          {.projection_dim = a.integer("projection-dim", 512, 1, 100'000),
                           .seed = a.seed(),
                           .threads = threads})
          .scores;
  }
  if (method == "knn-shapley") {
    needs(is_logistic, "class labels (logistic_regression)");
    const attrib::standardizer s = attrib::standardizer::fit(x);
    const auto k = a.integer("k", 5, 1, 1'000'000'000);
    return attrib::knn_shapley_per_test(s.transform(x), y, s.transform(tx), ty, k, {.threads = threads}).transpose();
  }
  if (method == "tmc-shapley" || method == "data-banzhaf") {
    needs(is_logistic, "logistic_regression (Newton retraining of each coalition)");
    if constexpr (is_logistic) {
      const attrib::logistic_trainer trainer{.inputs = x.cols(),
                                             .classes = model.classes(),
                                             .options = {.l2 = model.l2()},
                                             .scaling = model.input_standardizer()};
      progress bar(a, "attrib data", "coalition values", 0);
      const attrib::run_settings settings{
          .seed = a.seed(), .threads = threads, .progress = [&](std::size_t done, std::size_t total) { bar.update(done, total); }};
      const std::size_t budget = static_cast<std::size_t>(a.integer("budget", 0, 0, 1'000'000'000'000));
      auto value = [&](const auto& utility) {
        const attrib::data_game game(x, y, tx, ty, trainer, utility);
        return method == "tmc-shapley" ? attrib::tmc_shapley{.solver = {.budget = budget}}.explain(game, settings)
                                       : attrib::msr_banzhaf{.solver = {.budget = budget}}.explain(game, settings);
      };
      const std::string utility = a.text("utility", "log-likelihood");
      attrib::attribution r;
      if (utility == "log-likelihood")
        r = value(attrib::log_likelihood{.classes = model.classes()});
      else if (utility == "accuracy")
        r = value(attrib::accuracy{.classes = model.classes()});
      else
        throw usage_error("--utility must be log-likelihood or accuracy, got '" + utility + "'");
      // model_evaluations counts rows touched: n_train + n_test per coalition value.
      messages(a) << "attrib data: " << method << ": v(all) " << r.prediction << ", v(empty) " << r.base_value << ", "
                << r.model_evaluations / static_cast<std::size_t>(x.rows() + tx.rows()) << " coalition values\n";
      columns = {method == "tmc-shapley" ? "shapley" : "banzhaf", "se"};
      attrib::matrix out(x.rows(), 2);
      out.col(0) = r.values;
      out.col(1) = r.has_standard_errors() ? r.standard_errors : attrib::vector::Zero(x.rows());
      return out;
    }
  }
  throw usage_error("unknown --method '" + method + "' (see --help)");
}

}  // namespace

int data(const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "split") return data_split(std::vector<std::string>(args.begin() + 1, args.end()));
  const arguments a(args,
                    {"train", "test", "data-format", "rows", "model", "model-type", "l2", "hidden", "activation",
                     "epochs", "learning-rate", "batch-size", "method", "solver", "damping", "max-iterations", "depth",
                     "scale", "iterations", "top-k", "checkpoints", "checkpoint-every", "projection-dim", "seed", "k",
                     "budget", "utility", "threads", "header", "format", "out", "relative", "sgd-epochs",
                     "sgd-batch-size", "segments"},
                    {"help", "quiet"});
  if (a.flag("help")) {
    std::cout << help;
    return 0;
  }
  refuse_overwriting_inputs(a, {"out"}, {"train", "test", "model"});
  const std::string method = a.required("method");
  const dataset train = read_data(a, a.required("train"), table_format(a, "data-format", a.required("train")), "--train");
  const dataset test = read_data(a, a.required("test"), table_format(a, "data-format", a.required("test")), "--test");
  if (train.x.rows() < 2)
    throw attrib::invalid_argument("--train has " + std::to_string(train.x.rows()) +
                                   " rows; data attribution needs at least 2 training points");
  if (test.x.cols() != train.x.cols())
    throw attrib::invalid_argument("--test has " + std::to_string(test.x.cols()) + " feature columns but --train has " +
                                   std::to_string(train.x.cols()));
  const std::vector<Eigen::Index> rows = a.has("rows") ? parse_row_list(a.text("rows"), test.x.rows(), "--test") : [&] {
    std::vector<Eigen::Index> all(static_cast<std::size_t>(test.x.rows()));
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<Eigen::Index>(i);
    return all;
  }();
  if (rows.empty()) throw usage_error("--rows selects no test row");
  const attrib::matrix tx = attrib::detail::select_rows(test.x, rows);
  const attrib::vector ty = attrib::detail::select_rows(test.y, rows);
  const Eigen::Index d = train.x.cols();

  // The model: loaded, or trained here.
  attrib::any_model::variant_type fitted = attrib::linear_regression(d);
  if (a.has("model")) {
    for (const char* option : {"model-type", "hidden", "activation", "epochs", "batch-size"})
      if (a.has(option)) throw usage_error(std::string("--") + option + " does not apply with --model");
    attrib::any_model loaded = attrib::load_model(a.text("model"));
    if (loaded.input_dim() != d)
      throw attrib::invalid_argument("--model takes " + std::to_string(loaded.input_dim()) + " inputs but --train has " +
                                     std::to_string(d) + " feature columns");
    fitted = std::move(loaded.underlying());
    if (a.has("l2")) std::visit([&](auto& m) { m.set_l2(a.number("l2", 0.0)); }, fitted);
  } else {
    const std::string type = a.text("model-type", "logistic_regression");
    const double l2 = a.number("l2", 1e-3);
    if (!(l2 >= 0)) throw usage_error("--l2 must be non-negative");
    const attrib::standardizer scale = attrib::standardizer::fit(train.x);
    if (type == "logistic_regression" || type == "mlp") {
      const Eigen::Index classes = train.class_names.empty()
                                       ? class_count(train.y, "--train")
                                       : std::max<Eigen::Index>(2, static_cast<Eigen::Index>(train.class_names.size()));
      check_labels(train.y, classes, "--train");
      if (type == "logistic_regression") {
        attrib::logistic_regression m(d, classes == 2 ? 1 : classes);
        m.set_standardizer(scale);
        const attrib::newton_report r = m.train(train.x, train.y, {.l2 = l2});
        messages(a) << "attrib data: logistic regression, " << classes << " classes, " << r.iterations
                  << " Newton iterations, loss " << r.loss << ", gradient norm " << r.gradient_norm
                  << (r.converged ? "" : " (not converged)") << "\n";
        fitted = std::move(m);
      } else {
        attrib::mlp m(mlp_layer_shapes(a, d, classes), attrib::output_head::softmax, a.seed());
        m.set_standardizer(scale);
        progress bar(a, "attrib data", "epochs", 0);
        const auto history = m.train(train.x, train.y,
                                     {.learning_rate = a.number("learning-rate", 0.01),
                                      .epochs = a.integer("epochs", 200, 0, 1'000'000'000),
                                      .batch_size = a.integer("batch-size", 32, 1, 1'000'000'000),
                                      .l2 = l2,
                                      .seed = a.seed(),
                                      .progress = [&](std::size_t done, std::size_t total) { bar.update(done, total); }});
        messages(a) << "attrib data: mlp, " << history.size() << " epochs, final loss "
                  << m.loss(train.x, train.y) << "\n";
        fitted = std::move(m);
      }
    } else if (type == "linear_regression") {
      attrib::linear_regression m(d);
      m.set_standardizer(scale);
      m.train(train.x, train.y, l2);
      messages(a) << "attrib data: linear regression, loss " << m.loss(train.x, train.y) << "\n";
      fitted = std::move(m);
    } else {
      throw usage_error("--model-type must be logistic_regression, mlp or linear_regression, got '" + type + "'");
    }
  }

  // Labels against the model's classes, and the optimum check every method relies on.
  std::visit(
      [&](auto& m) {
        using M = std::decay_t<decltype(m)>;
        if constexpr (!std::is_same_v<M, attrib::linear_regression>) {
          const Eigen::Index classes = std::max<Eigen::Index>(2, m.output_dim());
          check_labels(train.y, classes, "--train");
          check_labels(ty, classes, "--test", rows);
        }
        const double gradient = m.loss_gradient(train.x, train.y).template lpNorm<Eigen::Infinity>();
        if (a.has("model") && gradient > 1e-4)
          std::cerr << "attrib data: warning: the training-loss gradient of --model on --train has max-norm " << gradient
                    << "; the model is not at an optimum of this data (was it trained on exactly --train, with "
                       "this l2?), so the scores assume something false\n";
      },
      fitted);

  std::vector<std::string> columns;
  for (Eigen::Index r : rows) columns.push_back("test_" + std::to_string(r));
  const attrib::matrix scores =
      std::visit([&](auto& m) { return run_method(method, a, m, train, tx, ty, rows, columns); }, fitted);
  columns.insert(columns.begin(), "train_row");
  attrib::matrix table(scores.rows(), scores.cols() + 1);
  for (Eigen::Index i = 0; i < scores.rows(); ++i) table(i, 0) = static_cast<double>(i);
  table.rightCols(scores.cols()) = scores;
  write_table(a, columns, table);
  return 0;
}

}  // namespace cli
