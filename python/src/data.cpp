// attrib._attrib.data_attribution: every training point scored for every test row, with the
// methods and options of `attrib data`, on a model fitted here or an attrib.Model already fitted
// to the training data.
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bindings.hpp"
#include "data_methods.hpp"
#include "fit_model.hpp"
#include "labels.hpp"
#include "attrib/io/model_file.hpp"
#include "attrib/methods/data/evaluation.hpp"

namespace attrib_python {

namespace {

const std::set<std::string> data_options{
    "l2",         "hidden",      "activation",     "epochs",           "learning-rate", "batch-size",
    "solver",     "damping",     "max-iterations", "depth",            "scale",         "iterations",
    "top-k",      "checkpoints", "checkpoint-every", "projection-dim", "seed",          "k",
    "budget",     "utility",     "threads",        "relative",         "sgd-epochs",    "sgd-batch-size",
    "segments"};

}  // namespace

void bind_data(py::module_& m) {
  m.def(
      "data_attribution",
      [](const py::handle& x_train, const py::handle& y_train, const py::handle& x_test, const py::handle& y_test,
         const std::string& method, const py::object& model, const std::string& model_type, std::uint64_t seed,
         std::size_t threads, py::dict options) {
        cli::dataset train{matrix_from(x_train, "X_train"), vector_from(y_train, "y_train"), {}};
        const attrib::matrix tx = matrix_from(x_test, "X_test");
        const attrib::vector ty = vector_from(y_test, "y_test");
        if (train.y.size() != train.x.rows())
          throw attrib::invalid_argument("y_train has " + std::to_string(train.y.size()) + " targets but X_train has " +
                                         std::to_string(train.x.rows()) + " rows");
        if (ty.size() != tx.rows())
          throw attrib::invalid_argument("y_test has " + std::to_string(ty.size()) + " targets but X_test has " +
                                         std::to_string(tx.rows()) + " rows");
        if (train.x.rows() < 2)
          throw attrib::invalid_argument("X_train has " + std::to_string(train.x.rows()) +
                                         " rows; data attribution needs at least 2 training points");
        if (tx.cols() != train.x.cols())
          throw attrib::invalid_argument("X_test has " + std::to_string(tx.cols()) + " columns but X_train has " +
                                         std::to_string(train.x.cols()));
        options["seed"] = seed;
        options["threads"] = threads;
        const cli::arguments a = options_from(options, data_options);
        std::vector<Eigen::Index> rows(static_cast<std::size_t>(tx.rows()));
        for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<Eigen::Index>(i);

        std::optional<attrib::any_model::variant_type> fitted;
        const bool given = !model.is_none();
        if (given) {
          if (!py::isinstance<attrib::any_model>(model))
            throw attrib::invalid_argument("model must be an attrib.Model fitted to X_train, or None to fit one here");
          const auto& loaded = model.cast<const attrib::any_model&>();
          if (loaded.input_dim() != train.x.cols())
            throw attrib::invalid_argument("model takes " + std::to_string(loaded.input_dim()) +
                                           " inputs but X_train has " + std::to_string(train.x.cols()) + " columns");
          fitted = loaded.underlying();
          if (a.has("l2")) std::visit([&](auto& f) { f.set_l2(a.number("l2", 0.0)); }, *fitted);
        }
        std::vector<std::string> columns;
        double gradient = 0;
        attrib::matrix scores;
        {
          py::gil_scoped_release release;
          if (!given) {
            auto classes = [&]() -> Eigen::Index {
              const Eigen::Index k = cli::class_count(train.y, "y_train");
              cli::check_labels(train.y, k, "y_train");
              return k;
            };
            fitted = cli::fit_model(a, model_type, train.x, train.y, classes, "attrib.data_attribution");
          }
          gradient = cli::check_fitted_model(*fitted, train, ty, rows, "y_train", "y_test");
          scores = std::visit([&](auto& f) { return cli::run_data_method(method, a, f, train, tx, ty, rows, columns); },
                              *fitted);
        }
        py::dict out;
        out["method"] = method;
        out["scores"] = std::move(scores);
        out["columns"] = columns;
        out["training_gradient_norm"] = gradient;
        out["model"] = attrib::any_model(std::move(*fitted));
        return out;
      },
      py::arg("X_train"), py::arg("y_train"), py::arg("X_test"), py::arg("y_test"), py::arg("method"),
      py::arg("model"), py::arg("model_type"), py::arg("seed"), py::arg("threads"), py::arg("options"));

  // The linear datamodeling score (Park et al. 2023) of scores oriented so that positive means
  // "helps the test point": the model retrained (warm-started Newton) on random alpha-fractions
  // of the training set, each test point's log-likelihood recorded, and for each test point the
  // Spearman correlation across subsets between the summed scores of the kept points and it.
  m.def(
      "linear_datamodeling_score",
      [](const attrib::any_model& model, const py::handle& helpfulness, const py::handle& x_train,
         const py::handle& y_train, const py::handle& x_test, const py::handle& y_test, Eigen::Index subsets,
         double alpha, std::uint64_t seed, std::size_t threads) {
        const attrib::matrix x = matrix_from(x_train, "X_train"), tx = matrix_from(x_test, "X_test");
        const attrib::vector y = vector_from(y_train, "y_train"), ty = vector_from(y_test, "y_test");
        const attrib::matrix scores = matrix_from(helpfulness, "scores", false);
        if (y.size() != x.rows() || ty.size() != tx.rows() || tx.cols() != x.cols() || x.cols() != model.input_dim())
          throw attrib::invalid_argument("X_train, y_train, X_test, y_test and the model do not fit together: " +
                                         std::to_string(x.rows()) + "x" + std::to_string(x.cols()) + ", " +
                                         std::to_string(y.size()) + ", " + std::to_string(tx.rows()) + "x" +
                                         std::to_string(tx.cols()) + ", " + std::to_string(ty.size()) +
                                         ", a model of " + std::to_string(model.input_dim()) + " inputs");
        if (scores.rows() != x.rows() || scores.cols() != tx.rows())
          throw attrib::invalid_argument("scores are " + std::to_string(scores.rows()) + "x" +
                                         std::to_string(scores.cols()) + "; expected training points x test points, " +
                                         std::to_string(x.rows()) + "x" + std::to_string(tx.rows()));
        if (subsets < 3) throw attrib::invalid_argument("subsets must be at least 3 for a rank correlation");
        if (!(alpha > 0.0 && alpha < 1.0) || std::floor(alpha * static_cast<double>(x.rows())) < 1)
          throw attrib::invalid_argument("alpha must lie in (0, 1) and keep at least one training point");
        return std::visit(
            [&](const auto& fitted) -> py::dict {
              using M = std::decay_t<decltype(fitted)>;
              if constexpr (!std::is_same_v<M, attrib::logistic_regression> &&
                            !std::is_same_v<M, attrib::linear_regression>) {
                throw attrib::invalid_argument(
                    "the linear datamodeling score retrains the model by Newton's method on each subset: it needs a "
                    "logistic_regression or linear_regression model");
              } else {
                attrib::matrix masks, outputs;
                attrib::lds_result lds;
                {
                  py::gil_scoped_release release;
                  masks = attrib::random_subset_masks(x.rows(), subsets, alpha, seed);
                  const auto log_likelihood = [](const M& retrained, const attrib::matrix& qx, const attrib::vector& qy) {
                    return attrib::vector(-attrib::example_losses(retrained, qx, qy));
                  };
                  outputs = attrib::subset_outputs(fitted, x, y, masks, tx, ty, log_likelihood, threads);
                  lds = attrib::linear_datamodeling_score(scores, masks, outputs);
                }
                py::dict out;
                out["mean"] = lds.mean;
                out["per_test"] = std::move(lds.per_test);
                out["masks"] = std::move(masks);
                out["outputs"] = std::move(outputs);
                return out;
              }
            },
            model.underlying());
      },
      py::arg("model"), py::arg("scores"), py::arg("X_train"), py::arg("y_train"), py::arg("X_test"), py::arg("y_test"),
      py::arg("subsets"), py::arg("alpha"), py::arg("seed"), py::arg("threads"));
}

}  // namespace attrib_python
