#pragma once
// EK-FAC (George et al. 2018; Grosse et al. 2023) inverse-Hessian products for any layered_model
// (concepts/layered_model.hpp: an mlp, or a linear or logistic regression as one layer). Per dense
// layer, with a = [layer input, 1] and e = d loss / d pre-activation (the bias gradient):
//   A = E[a a^T] = Q_A diag Q_A^T,   S = E[e e^T] = Q_S diag Q_S^T,
//   Lambda(o, i) = E[(Q_S^T G_n Q_A)(o, i)^2]   (eigenvalue correction, G_n = e_n a_n^T),
//   V -> Q_S [(Q_S^T V Q_A) / (Lambda + l2 + damping)] Q_A^T,
// where V is the layer's block of the right-hand side as an outputs x (inputs + 1) matrix (bias
// last). Layers are treated as independent (block-diagonal) and the penalty l2 is added to every
// eigenvalue (the bias is in fact unpenalised). The Fisher is estimated from per-example gradients
// with the given labels (empirical) or with labels sampled from the model (true Fisher, seeded).
// Each solve reports its residual against the model's exact Hessian (one extra HVP).
#include <Eigen/Eigenvalues>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "attrib/concepts/inverse_hessian.hpp"
#include "attrib/concepts/layered_model.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/random.hpp"
#include "attrib/models/mlp.hpp"  // the default model type
#include "attrib/solvers/model_hessian.hpp"

namespace attrib {

enum class fisher_labels { empirical, sampled };

struct ekfac_options {
  double damping = 0.0;                  // absolute, added to every corrected eigenvalue
  bool eigenvalue_correction = true;     // false: plain K-FAC eigenvalues (products of A's and S's)
  fisher_labels labels = fisher_labels::empirical;
  std::uint64_t seed = 0;                // for sampled labels: example i draws from rng::stream(seed, i)
};

// The model's dense layers are the factored blocks. Class template argument deduction makes
// `ekfac_inverse_hessian(model, x, y)` pick the model type.
template <layered_model Model = mlp>
class ekfac_inverse_hessian {
 public:
  ekfac_inverse_hessian(const Model& model, const matrix& x, const vector& y, ekfac_options options = {})
      : model_(&model), x_(&x), y_(&y), options_(options) {
    detail::require(x.rows() > 0, "ekfac: the training set must not be empty");
    detail::require(std::isfinite(options.damping) && options.damping >= 0,
                    "ekfac: damping must be finite and non-negative");
    detail::require(options.labels == fisher_labels::empirical || model.head() != output_head::identity ||
                        model.output_dim() == 1,
                    "ekfac: sampled labels need a softmax or sigmoid head, or one identity output");
    const vector labels = options.labels == fisher_labels::empirical ? y : sample_labels(model, x);
    const matrix grads = model.per_example_loss_gradients(x, labels);
    const index n = x.rows();
    const std::vector<matrix> inputs = model.dense_block_inputs(x);
    const std::vector<dense_block> blocks = model.dense_blocks();
    detail::require(inputs.size() == blocks.size(),
                    "ekfac: the model lists " + std::to_string(blocks.size()) + " dense blocks but " +
                        std::to_string(inputs.size()) + " block inputs");
    for (std::size_t l = 0; l < blocks.size(); ++l) {
      const index in = blocks[l].inputs, out = blocks[l].outputs, at = blocks[l].offset;
      detail::require(inputs[l].rows() == n && inputs[l].cols() == in && at >= 0 &&
                          at + in * out + out <= grads.cols(),
                      "ekfac: dense block " + std::to_string(l) + " does not fit the parameters");
      factor f;
      f.offset = at;
      f.in = in;
      f.out = out;
      matrix a(n, in + 1);
      a.leftCols(in) = inputs[l];
      a.col(in).setOnes();
      const matrix e = grads.middleCols(at + in * out, out);
      const Eigen::MatrixXd cov_a = a.transpose() * a / static_cast<double>(n);
      const Eigen::MatrixXd cov_s = e.transpose() * e / static_cast<double>(n);
      Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> ea(cov_a), es(cov_s);
      f.qa = ea.eigenvectors();
      f.qs = es.eigenvectors();
      if (options.eigenvalue_correction) {
        f.lambda = Eigen::MatrixXd::Zero(out, in + 1);
        Eigen::MatrixXd g(out, in + 1);
        for (index i = 0; i < n; ++i) {
          g.leftCols(in) = Eigen::Map<const matrix>(grads.row(i).data() + at, out, in);
          g.col(in) = e.row(i).transpose();
          f.lambda += (f.qs.transpose() * g * f.qa).cwiseAbs2();
        }
        f.lambda /= static_cast<double>(n);
      } else {
        f.lambda = es.eigenvalues().cwiseMax(0.0) * ea.eigenvalues().cwiseMax(0.0).transpose();
      }
      factors_.push_back(std::move(f));
    }
  }

  index dim() const { return model_->parameter_count(); }

  ihvp_result solve(const vector& v) const {
    detail::require_rhs(v, dim(), "ekfac");
    ihvp_result out;
    out.diagnostics.method = options_.eigenvalue_correction ? "ekfac" : "kfac";
    out.diagnostics.damping = options_.damping;
    out.solution = vector(dim());
    const double shift = model_->l2() + options_.damping;
    for (const auto& f : factors_) {
      Eigen::MatrixXd block(f.out, f.in + 1);
      block.leftCols(f.in) = Eigen::Map<const matrix>(v.data() + f.offset, f.out, f.in);
      block.col(f.in) = v.segment(f.offset + f.in * f.out, f.out);
      const Eigen::MatrixXd rotated = f.qs.transpose() * block * f.qa;
      const Eigen::MatrixXd scaled = rotated.array() / (f.lambda.array() + shift);
      const Eigen::MatrixXd back = f.qs * scaled * f.qa.transpose();
      Eigen::Map<matrix>(out.solution.data() + f.offset, f.out, f.in) = back.leftCols(f.in);
      out.solution.segment(f.offset + f.in * f.out, f.out) = back.col(f.in);
    }
    if (!(shift > 0))
      out.diagnostics.message = "ekfac: l2 + damping is 0; directions with zero eigenvalue are not damped";
    const model_hessian<Model> h(*model_, *x_, *y_);
    // The residual is against the exact Hessian plus the damping only (not the l2 shift, which is
    // part of the Hessian already).
    out.diagnostics.relative_residual = detail::relative_residual(h, options_.damping, out.solution, v);
    out.diagnostics.hvp_count = 1;
    return out;
  }

 private:
  struct factor {
    index offset = 0, in = 0, out = 0;
    Eigen::MatrixXd qa, qs, lambda;
  };

  vector sample_labels(const Model& model, const matrix& x) const {
    const matrix p = model.predict(x);
    vector labels(x.rows());
    for (index i = 0; i < x.rows(); ++i) {
      rng gen = rng::stream(options_.seed, static_cast<std::uint64_t>(i));
      if (model.head() == output_head::identity) {
        labels[i] = p(i, 0) + gen.normal();
      } else if (model.head() == output_head::sigmoid) {
        labels[i] = gen.uniform() < p(i, 0) ? 1.0 : 0.0;
      } else {
        double u = gen.uniform();
        index c = 0;
        for (; c + 1 < p.cols(); ++c) {
          u -= p(i, c);
          if (u < 0) break;
        }
        labels[i] = static_cast<double>(c);
      }
    }
    return labels;
  }

  const Model* model_;
  const matrix* x_;
  const vector* y_;
  ekfac_options options_;
  std::vector<factor> factors_;
};

static_assert(inverse_hessian_product<ekfac_inverse_hessian<>>);

}  // namespace attrib
