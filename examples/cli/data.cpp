// attrib data: which training points made these predictions? Trains (or loads) a model on a
// labelled CSV and writes data-attribution scores for chosen test rows as CSV.
#include <algorithm>
#include <cmath>
#include <iostream>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "arguments.hpp"
#include "data_methods.hpp"
#include "files.hpp"
#include "fit_model.hpp"
#include "labels.hpp"
#include "processes.hpp"
#include "attrib/io/csv.hpp"
#include "attrib/io/model_file.hpp"
#include "attrib/models/linear_regression.hpp"
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
  Under mpirun (a build with ATTRIB_WITH_MPI), influence, grad-dot, grad-cos, tracin, trak,
  relatif, loo and newton-loo score the training points in shards spread over the ranks;
  knn-shapley, fastif and sgd-influence score the test rows in shards; tmc-shapley and
  data-banzhaf spread their retrainings (permutations, sampled coalitions); source (whose cost
  is the segments' Hessian spectra every score shares) runs on rank 0. The scores are those of one process, bit for bit; rank 0 alone writes
  (docs/distributed.md).
  --format F            csv (default) or json (one object per row, keyed by the column names)
  --out FILE            write the table there (default or -: standard output)
  --quiet               no messages on standard error
  --help                this text
)";

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

}  // namespace

int data(const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "split") {
    if (processes().size() > 1) throw usage_error("'data split' runs on one process; start it without mpirun");
    return data_split(std::vector<std::string>(args.begin() + 1, args.end()));
  }
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
    auto classes = [&]() -> Eigen::Index {
      const Eigen::Index k = train.class_names.empty()
                                 ? class_count(train.y, "--train")
                                 : std::max<Eigen::Index>(2, static_cast<Eigen::Index>(train.class_names.size()));
      check_labels(train.y, k, "--train");
      return k;
    };
    fitted = fit_model(a, type, train.x, train.y, classes, "attrib data");
  }

  const double gradient = check_fitted_model(fitted, train, ty, rows, "--train", "--test");
  if (a.has("model") && gradient > 1e-4)
    std::cerr << "attrib data: warning: the training-loss gradient of --model on --train has max-norm " << gradient
              << "; the model is not at an optimum of this data (was it trained on exactly --train, with "
                 "this l2?), so the scores assume something false\n";

  // Every process has its inputs and model: under MPI, one that could not stops all of them here.
  const process_policy procs = processes();
  procs.agree();

  std::vector<std::string> columns;
  for (Eigen::Index r : rows) columns.push_back("test_" + std::to_string(r));
  const attrib::matrix scores =
      std::visit([&](auto& m) { return run_data_method(method, a, m, train, tx, ty, rows, columns, procs); }, fitted);
  if (!procs.is_root()) return 0;  // the scores are on the root, which writes them once
  columns.insert(columns.begin(), "train_row");
  attrib::matrix table(scores.rows(), scores.cols() + 1);
  for (Eigen::Index i = 0; i < scores.rows(); ++i) table(i, 0) = static_cast<double>(i);
  table.rightCols(scores.cols()) = scores;
  write_table(a, columns, table);
  return 0;
}

}  // namespace cli
