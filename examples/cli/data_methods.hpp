#pragma once
// The data-attribution methods of `attrib data` by name, on the models the tool fits: every
// training point scored for every test row. The command line and the Python module (python/src)
// both score through run_data_method, so the two front ends run the same code and read the same
// options. Diagnostics go to standard error unless --quiet.
#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <iostream>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "arguments.hpp"
#include "in_process.hpp"
#include "progress.hpp"
#include "attrib/core/shards.hpp"
#include "attrib/games/data_game.hpp"
#include "attrib/io/model_file.hpp"
#include "attrib/methods/data/evaluation.hpp"
#include "attrib/methods/data/fast_influence.hpp"
#include "attrib/methods/data/grad_similarity.hpp"
#include "attrib/methods/data/influence.hpp"
#include "attrib/methods/data/knn_shapley.hpp"
#include "attrib/methods/data/relatif.hpp"
#include "attrib/methods/data/semivalues.hpp"
#include "attrib/methods/data/sgd_influence.hpp"
#include "attrib/methods/data/sgd_trajectory.hpp"
#include "attrib/methods/data/source.hpp"
#include "attrib/methods/data/tracin.hpp"
#include "attrib/methods/data/training.hpp"
#include "attrib/methods/data/trak.hpp"
#include "attrib/models/linear_regression.hpp"
#include "attrib/models/logistic_regression.hpp"
#include "attrib/models/mlp.hpp"
#include "attrib/models/standardizer.hpp"
#include "attrib/solvers/arnoldi.hpp"
#include "attrib/solvers/conjugate_gradient.hpp"
#include "attrib/solvers/ekfac.hpp"
#include "attrib/solvers/lissa.hpp"
#include "attrib/solvers/maximum_sample_reuse.hpp"
#include "attrib/solvers/model_hessian.hpp"

namespace cli {

// A labelled table: features, targets, and class names when the file gives them.
struct dataset {
  attrib::matrix x;
  attrib::vector y;
  std::vector<std::string> class_names;
};

// Class labels must be integers in [0, classes).
// `rows` maps positions in y back to file rows (empty: the identity).
inline void check_labels(const attrib::vector& y, Eigen::Index classes, const std::string& who,
                  const std::vector<Eigen::Index>& rows = {}) {
  for (Eigen::Index i = 0; i < y.size(); ++i)
    if (y[i] != std::floor(y[i]) || y[i] < 0 || y[i] >= static_cast<double>(classes))
      throw attrib::invalid_argument(who + ": row " + std::to_string(rows.empty() ? i : rows[static_cast<std::size_t>(i)]) +
                                     " has label " + std::to_string(y[i]) +
                                     ", expected an integer class in [0, " + std::to_string(classes) + ")");
}

// Checks the labels of a classifier against its classes (train_name and test_name name the data
// in messages; `rows` maps test positions to file rows) and returns the max-norm of the
// training-loss gradient: every method here assumes the model sits at an optimum of the training
// loss, so a large value means its scores assume something false.
inline double check_fitted_model(const attrib::any_model::variant_type& fitted, const dataset& train,
                                 const attrib::vector& ty, const std::vector<Eigen::Index>& rows,
                                 const std::string& train_name, const std::string& test_name) {
  return std::visit(
      [&](const auto& m) {
        using M = std::decay_t<decltype(m)>;
        if constexpr (!std::is_same_v<M, attrib::linear_regression>) {
          const Eigen::Index classes = std::max<Eigen::Index>(2, m.output_dim());
          check_labels(train.y, classes, train_name);
          check_labels(ty, classes, test_name, rows);
        }
        return m.loss_gradient(train.x, train.y).template lpNorm<Eigen::Infinity>();
      },
      fitted);
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

inline void report(const arguments& a, const attrib::data_attribution& r, const std::vector<Eigen::Index>& rows) {
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

// The --model-type name of M, for messages.
template <class M>
std::string model_type_name() {
  return std::is_same_v<M, attrib::mlp> ? "mlp"
         : std::is_same_v<M, attrib::logistic_regression> ? "logistic_regression"
                                                            : "linear_regression";
}

// Hessian shards: the explicit Hessian is the sum over them of (n_b / n) H_b, H_b the Hessian of
// the mean regularised loss on shard b (the weights sum to 1, so the regulariser counts once).
// At most 16 shards, since the root holds every shard's p x p term before adding them in shard
// order; the shards depend on the training-set size alone, so the sum is the same bits on any
// number of processes.
inline attrib::shard_plan hessian_shards(Eigen::Index points) { return attrib::shard_plan::of(points, 16, 16); }

// Builds the inverse-Hessian solver --solver names (once per run: the Hessian, its factorisation
// or its eigenpairs) and returns score(solver). The explicit Hessian is summed over training
// shards spread over `processes` and shared with every process; the iterative solvers' Hessian-
// vector products run whole on every process.
template <class M, class Processes, class Score>
attrib::matrix with_influence_solver(const arguments& a, const M& model, const attrib::matrix& x,
                                     const attrib::vector& y, const Processes& processes, Score&& score) {
  const std::string solver = a.text("solver", "explicit");
  const double damping = a.number("damping", 0.0);
  const attrib::model_hessian<M> h(model, x, y);
  const Eigen::Index p = model.parameter_count();
  if (solver == "explicit") {
    const double n = static_cast<double>(x.rows());
    const attrib::matrix hessian =
        processes.sum_shards(hessian_shards(x.rows()), p, p, [&](Eigen::Index b, Eigen::Index e) {
          const attrib::matrix mean = model.hessian(x.middleRows(b, e - b), y.segment(b, e - b));
          return attrib::matrix(static_cast<double>(e - b) / n * mean);
        });
    const attrib::explicit_inverse_hessian ih(hessian, {.damping = damping});
    return score(ih);
  }
  if (solver == "cg")
    return score(attrib::conjugate_gradient_inverse_hessian(
        h, {.damping = damping, .max_iterations = a.integer("max-iterations", 0, 0, 1'000'000'000)}));
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
    return score(attrib::lissa_inverse_hessian(h, {.depth = a.integer("depth", 1000, 1, 1'000'000'000),
                                                   .scale = scale,
                                                   .damping = damping,
                                                   .seed = a.seed()}));
  }
  if (solver == "arnoldi") {
    const auto iterations = a.integer("iterations", std::min<Eigen::Index>(100, p), 1, 1'000'000'000);
    const auto top_k = a.integer("top-k", std::max<Eigen::Index>(1, iterations / 2), 1, 1'000'000'000);
    const attrib::arnoldi_inverse_hessian ar(
        h, {.iterations = iterations, .top_k = top_k, .damping = damping, .seed = a.seed()});
    return score(ar);
  }
  if (solver == "ekfac") {
    if constexpr (std::is_same_v<M, attrib::mlp>)
      return score(attrib::ekfac_inverse_hessian(model, x, y, {.damping = damping}));
    else
      throw usage_error("--solver ekfac needs --model-type mlp");
  }
  throw usage_error("--solver must be explicit, cg, lissa, arnoldi or ekfac, got '" + solver + "'");
}

// An SGD run from zero parameters for the methods that attribute one (SGD-influence, SOURCE):
// the same run on every process (its batches come from --seed).
template <class M>
std::pair<M, attrib::sgd_trajectory> sgd_run(const std::string& method, const arguments& a, const M& model,
                                             const dataset& train) {
  M sgd = model;
  sgd.set_parameters(attrib::vector::Zero(model.parameter_count()));
  auto trajectory = attrib::train_sgd(sgd, train.x, train.y,
                                      {.learning_rate = a.number("learning-rate", 0.1),
                                       .batch_size = a.integer("sgd-batch-size", 8, 1, 1'000'000'000),
                                       .epochs = a.integer("sgd-epochs", 5, 1, 1'000'000),
                                       .seed = a.seed()});
  messages(a) << "attrib data: " << method << ": attributes an SGD run of " << trajectory.steps()
              << " steps from zero parameters, not the Newton-fitted model\n";
  return {std::move(sgd), std::move(trajectory)};
}

template <class M>
void require_model_for(const std::string& method, bool ok, const std::string& models) {
  if (!ok) throw usage_error("--method " + method + " needs " + models + ", not " + model_type_name<M>());
}

// SOURCE is not sharded: its cost is the spectra of the segments' mean Hessians (a Hessian over
// every training point and an eigendecomposition per segment), which every score shares; the
// root computes it whole.
template <class M>
attrib::matrix run_source(const arguments& a, M& model, const dataset& train, const attrib::matrix& tx,
                          const attrib::vector& ty) {
  constexpr bool is_linear =
      std::is_same_v<M, attrib::logistic_regression> || std::is_same_v<M, attrib::linear_regression>;
  require_model_for<M>("source", is_linear, "logistic_regression or linear_regression (an SGD run from zero parameters)");
  if constexpr (is_linear) {
    const auto [sgd, trajectory] = sgd_run("source", a, model, train);
    return attrib::source(sgd, trajectory, train.x, train.y, tx, ty,
                          {.segments = a.integer("segments", 3, 1, trajectory.steps()), .threads = a.threads()})
        .scores;
  }
  return {};
}

// The methods whose score row i depends on training point i alone, given what every process
// computes once (the model, the test side, an inverse-Hessian solver, checkpoints): the training
// points are scored shard by shard (core/shards.hpp), the shards spread over `processes`. LOO's
// retrainings and Newton-LOO's factorisations are one per training point, so they spread the
// same way. TRAK's projected features are sharded the same way, its kernel solved by the root.
inline bool is_sharded_data_method(const std::string& method) {
  return method == "influence" || method == "grad-dot" || method == "grad-cos" || method == "tracin" ||
         method == "trak" || method == "loo" || method == "newton-loo" || method == "relatif";
}

// The methods whose score column k depends on test point k alone: KNN-Shapley (a sort of the
// training points by distance to it), FastIF (its nearest training points, then their influence)
// and SGD-influence (one adjoint replay of the SGD run): the test points are scored in fixed
// shards spread over `processes`.
inline bool is_test_sharded_data_method(const std::string& method) {
  return method == "knn-shapley" || method == "fastif" || method == "sgd-influence";
}

// Training points per shard: a shard is one matrix product, so shards hold up to 16 points
// rather than one; they depend on the training-set size alone (never on the process count),
// which keeps the scores bit-identical on any number of processes.
inline attrib::shard_plan training_shards(Eigen::Index points) { return attrib::shard_plan::of(points, 16); }

template <class M, class Processes>
attrib::matrix run_sharded_data_method(const std::string& method, const arguments& a, const M& model,
                                       const dataset& train, const attrib::matrix& tx, const attrib::vector& ty,
                                       const std::vector<Eigen::Index>& rows, const Processes& processes) {
  const attrib::matrix& x = train.x;
  const attrib::vector& y = train.y;
  const attrib::shard_plan shards = training_shards(x.rows());
  const Eigen::Index m = tx.rows();
  auto gradients = [&](const M& at, Eigen::Index b, Eigen::Index e) {
    return at.per_example_loss_gradients(x.middleRows(b, e - b), y.segment(b, e - b));
  };

  if (method == "influence") {
    const attrib::matrix gt = model.per_example_loss_gradients(tx, ty);
    return with_influence_solver(a, model, x, y, processes, [&](const auto& solver) {
      const attrib::inverse_hessian_transform transform(solver);
      const attrib::transformed_features test = attrib::transformed_test_features("influence", gt, transform);
      report(a,
             {test.diagnostics.empty() ? "influence" : "influence/" + test.diagnostics.front().method, {},
              test.diagnostics},
             rows);
      return processes.shard_rows(shards, m, [&](Eigen::Index b, Eigen::Index e) {
        return attrib::inner_product_scores("influence", gradients(model, b, e), test, transform, -1.0);
      });
    });
  }
  if (method == "grad-dot" || method == "grad-cos") {
    const attrib::matrix gt = model.per_example_loss_gradients(tx, ty);
    return processes.shard_rows(shards, m, [&](Eigen::Index b, Eigen::Index e) {
      return method == "grad-dot" ? attrib::grad_dot(gradients(model, b, e), gt).scores
                                  : attrib::grad_cos(gradients(model, b, e), gt).scores;
    });
  }
  if (method == "tracin") {
    if constexpr (std::is_same_v<M, attrib::mlp>) {
      throw usage_error("--method tracin needs logistic_regression or linear_regression (gradient-descent "
                        "checkpoints), not mlp");
    } else {
      M start = model;
      start.set_parameters(attrib::vector::Zero(model.parameter_count()));
      const double lr = a.number("learning-rate", 0.5);
      const auto count = a.integer("checkpoints", 5, 1, 1'000'000);
      const auto every = a.integer("checkpoint-every", 40, 1, 1'000'000'000);
      const auto checkpoints = attrib::gradient_descent_checkpoints(start, x, y, lr, count, every);
      const std::vector<double> rates(static_cast<std::size_t>(count), lr * static_cast<double>(every));
      return processes.shard_rows(shards, m, [&](Eigen::Index b, Eigen::Index e) {
        return attrib::tracin(checkpoints, rates, x.middleRows(b, e - b), y.segment(b, e - b), tx, ty).scores;
      });
    }
  }
  if (method == "trak") {
    if constexpr (!std::is_same_v<M, attrib::logistic_regression>) {
      throw usage_error("--method trak needs logistic_regression (margin gradients), not " + model_type_name<M>());
    } else {
      const Eigen::Index k = a.integer("projection-dim", 512, 1, 100'000);
      const std::size_t threads = a.threads();
      const attrib::random_projection projection(model.parameter_count(), k, a.seed());
      const attrib::matrix test_features = projection.project(attrib::margin_gradients(model, tx, ty), threads);
      // Row i: training point i's projected margin gradient, then its weight 1 - p_i.
      const attrib::matrix features = processes.shard_rows(shards, k + 1, [&](Eigen::Index b, Eigen::Index e) {
        const attrib::matrix xb = x.middleRows(b, e - b);
        const attrib::vector yb = y.segment(b, e - b);
        attrib::matrix out(e - b, k + 1);
        out.leftCols(k) = projection.project(attrib::margin_gradients(model, xb, yb), threads);
        out.col(k) = (1.0 - attrib::correct_class_probability(model, xb, yb).array()).matrix();
        return out;
      });
      // The k x k kernel Phi^T Phi sums over every training point: the root forms it from the
      // gathered rows in one product, as a single process does.
      return processes.on_root([&] {
        return attrib::trak_from_features(features.leftCols(k), test_features, features.col(k)).scores;
      });
    }
  }
  if (method == "loo") {
    constexpr bool is_linear = !std::is_same_v<M, attrib::mlp>;
    require_model_for<M>(method, is_linear, "logistic_regression or linear_regression (Newton retraining)");
    if constexpr (is_linear)
      return processes.shard_rows(shards, m, [&](Eigen::Index b, Eigen::Index e) {
        return attrib::exact_loo_rows(model, x, y, tx, ty, b, e, a.threads());
      });
  }
  if (method == "newton-loo") {
    const attrib::newton_loo_steps<M> steps(model, x, y);
    return processes.shard_rows(shards, m, [&](Eigen::Index b, Eigen::Index e) {
      return loss_change_after_steps(model, steps.rows(b, e, a.threads()), tx, ty);
    });
  }
  if (method == "relatif") {
    const std::string kind = a.text("relative", "theta");
    if (kind != "theta" && kind != "loss") throw usage_error("--relative must be theta or loss, got '" + kind + "'");
    const attrib::explicit_inverse_hessian ih(model.hessian(x, y), {.damping = a.number("damping", 0.0)});
    const attrib::matrix gt = model.per_example_loss_gradients(tx, ty);
    return processes.shard_rows(shards, m, [&](Eigen::Index b, Eigen::Index e) {
      const auto r = attrib::relatif(ih, gradients(model, b, e), gt, {.threads = a.threads()});
      return kind == "theta" ? r.theta_relative.scores : r.loss_relative.scores;
    });
  }
  throw usage_error("--method " + method + " is not scored by training shards");
}

// Test points per shard: as training_shards, fixed by the test-set size alone.
inline attrib::shard_plan test_shards(Eigen::Index points) { return attrib::shard_plan::of(points, 16); }

template <class M, class Processes>
attrib::matrix run_test_sharded_data_method(const std::string& method, const arguments& a, const M& model,
                                            const dataset& train, const attrib::matrix& tx, const attrib::vector& ty,
                                            const Processes& processes) {
  const attrib::matrix& x = train.x;
  const attrib::vector& y = train.y;
  const std::size_t threads = a.threads();
  // Each block is test points b .. e-1 by training points; the root turns the stack into the
  // training points x test points table.
  auto by_test_points = [&](auto&& block) -> attrib::matrix {
    return processes.shard_rows(test_shards(tx.rows()), x.rows(), block).transpose();
  };
  if (method == "knn-shapley") {
    require_model_for<M>(method, std::is_same_v<M, attrib::logistic_regression>, "class labels (logistic_regression)");
    const attrib::standardizer s = attrib::standardizer::fit(x);
    const attrib::matrix sx = s.transform(x), stx = s.transform(tx);
    const auto k = a.integer("k", 5, 1, 1'000'000'000);
    return by_test_points([&](Eigen::Index b, Eigen::Index e) {
      return attrib::knn_shapley_per_test(sx, y, stx.middleRows(b, e - b), ty.segment(b, e - b), k,
                                          {.threads = threads});
    });
  }
  if (method == "fastif") {
    const attrib::explicit_inverse_hessian ih(model.hessian(x, y), {.damping = a.number("damping", 0.0)});
    const auto k = a.integer("k", std::min<Eigen::Index>(100, x.rows()), 1, x.rows());
    const attrib::matrix rx = attrib::last_layer_inputs(model, x), rtx = attrib::last_layer_inputs(model, tx);
    const Eigen::Index n = x.rows();
    // Each shard's rows carry, past the n scores, the pairs it scored and the training gradients
    // it computed (on its first row), so that the root reports what the method did.
    const attrib::matrix stacked = processes.shard_rows(test_shards(tx.rows()), n + 2, [&](Eigen::Index b, Eigen::Index e) {
      const auto r = attrib::fast_influence(ih, model, x, y, tx.middleRows(b, e - b), ty.segment(b, e - b), rx,
                                            rtx.middleRows(b, e - b), {.k = k, .threads = threads});
      attrib::matrix block = attrib::matrix::Zero(e - b, n + 2);
      block.leftCols(n) = r.dense().transpose();
      block(0, n) = static_cast<double>(r.scored_pairs);
      block(0, n + 1) = static_cast<double>(r.gradient_evaluations);
      return block;
    });
    if (stacked.rows() == 0) return {};  // not the root
    messages(a) << "attrib data: fastif: " << stacked.col(n).sum() << " of " << n * tx.rows() << " pairs scored, "
                << stacked.col(n + 1).sum() << " training gradients computed (the candidates of each shard of up to "
                << "16 test rows), against " << n << " to score every pair\n";
    return stacked.leftCols(n).transpose();
  }
  if (method == "sgd-influence") {
    constexpr bool is_linear = !std::is_same_v<M, attrib::mlp>;
    require_model_for<M>(method, is_linear, "logistic_regression or linear_regression (an SGD run from zero parameters)");
    if constexpr (is_linear) {
      const auto run = sgd_run(method, a, model, train);  // (the SGD-trained model, its trajectory)
      return by_test_points([&](Eigen::Index b, Eigen::Index e) {
        return attrib::matrix(
            attrib::sgd_influence(run.first, run.second, x, y, tx.middleRows(b, e - b), ty.segment(b, e - b), threads)
                .scores.transpose());
      });
    }
  }
  throw usage_error("--method " + method + " is not scored by test shards");
}

// Data Shapley (TMC) and Data Banzhaf (MSR) of the data game on all chosen test rows: one
// retraining per game value, the retrainings spread over `processes` (the permutations of each
// wave, the sampled coalitions: mpi/explain_game.hpp); every process finishes with the same
// values, the root writes them.
template <class M, class Processes>
attrib::matrix run_data_game(const std::string& method, const arguments& a, const M& model, const dataset& train,
                             const attrib::matrix& tx, const attrib::vector& ty, std::vector<std::string>& columns,
                             const Processes& processes) {
  if constexpr (!std::is_same_v<M, attrib::logistic_regression>) {
    throw usage_error("--method " + method + " needs logistic_regression (Newton retraining of each coalition), not " +
                      model_type_name<M>());
  } else {
    const attrib::matrix& x = train.x;
    const attrib::vector& y = train.y;
    const attrib::logistic_trainer trainer{.inputs = x.cols(),
                                           .classes = model.classes(),
                                           .options = {.l2 = model.l2()},
                                           .scaling = model.input_standardizer()};
    progress bar(a, "attrib data", "coalition values", 0);
    const attrib::run_settings settings{
        .seed = a.seed(),
        .threads = a.threads(),
        .progress = [&](std::size_t done, std::size_t total) { bar.update(done, total); }};
    const std::size_t budget = static_cast<std::size_t>(a.integer("budget", 0, 0, 1'000'000'000'000));
    // One permutation gives values but no standard error (the library reports it infinite), and
    // the se column cannot hold that: ask for the budget of two.
    const auto per_permutation = static_cast<std::size_t>(std::max<attrib::index>(x.rows() - 1, 1));
    if (method == "tmc-shapley" && budget != 0 && budget < 2 + 2 * per_permutation)
      throw usage_error("--budget " + std::to_string(budget) + " covers fewer than two permutations of the " +
                        std::to_string(x.rows()) + " training points, and the standard errors need two: give at least " +
                        std::to_string(2 + 2 * per_permutation));
    auto value = [&](const auto& utility) {
      const attrib::data_game game(x, y, tx, ty, trainer, utility);
      return method == "tmc-shapley"
                 ? processes.explain_game(attrib::tmc_shapley{.solver = {.budget = budget}}, game, settings)
                 : processes.explain_game(attrib::msr_banzhaf{.solver = {.budget = budget}}, game, settings);
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

// Scores of every training point (rows) for every test row (columns), and the column names.
// `processes` spreads the work over processes (in_process.hpp; across_ranks.hpp: MPI ranks, the
// scores then on rank 0 alone): the sharded methods over training or test shards, the data
// games over their retrainings, SOURCE computed by the root alone.
template <class M, class Processes = in_process>
attrib::matrix run_data_method(const std::string& method, const arguments& a, M& model, const dataset& train,
                          const attrib::matrix& tx, const attrib::vector& ty, const std::vector<Eigen::Index>& rows,
                          std::vector<std::string>& columns, const Processes& processes = {}) {
  if (is_sharded_data_method(method)) return run_sharded_data_method(method, a, model, train, tx, ty, rows, processes);
  if (method == "tmc-shapley" || method == "data-banzhaf")
    return run_data_game(method, a, model, train, tx, ty, columns, processes);
  if (is_test_sharded_data_method(method)) return run_test_sharded_data_method(method, a, model, train, tx, ty, processes);
  if (method == "source") return processes.on_root([&] { return run_source(a, model, train, tx, ty); });
  throw usage_error("unknown --method '" + method + "' (see --help)");
}

}  // namespace cli
