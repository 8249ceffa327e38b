#pragma once
// Reverse-mode differentiation of a transformer (both families of config.hpp): the gradient of a
// scalar function of the logits with respect to every parameter and to the activation at any
// hook point. A forward pass over whole sequences records each layer's activations on a tape;
// a reverse sweep then carries the gradient from the logits back to the embeddings.
//
// Gradients at hook points are what attribution patching needs: F(run with the activation a at
// point p replaced by a') ~ F(run) + sum over positions of dF/da . (a' - a), one backward pass for
// every point and position at once (see patching_estimate and docs/transformer-backward.md).
//
// The tape is a template on the scalar type: float for training, double for finite-difference
// checks. Linear maps are Eigen matrix products over fixed blocks of tokens; the per-row numerics
// (norms, rotary embeddings, softmax, activations) and their backward counterparts are the
// kernels of model/kernels.hpp, the same code transformer_model runs in float. Work is split
// into blocks whose boundaries do not depend on the thread count and every reduction runs in a
// fixed order, so results are identical for any number of threads.
#include <Eigen/Core>
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/parallel.hpp"
#include "attrib/core/types.hpp"
#include "attrib/transformer/model/config.hpp"
#include "attrib/transformer/hooks/hooks.hpp"
#include "attrib/transformer/model/decoder_forward.hpp"
#include "attrib/transformer/model/kernels.hpp"
#include "attrib/transformer/model/model.hpp"
#include "attrib/transformer/training/parameters.hpp"

namespace attrib {

namespace detail {

template <class S>
using tape_matrix = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// An elementwise mix at a hook point: the activation a becomes source + weight * (a - source),
// one row per token (sequences stacked in order), so weight 1 keeps a and weight 0 replaces it by
// source. A continuous mask over components (component_game.hpp) is a mix, and the backward pass
// returns dF/dweight at every mixed point.
template <class S>
struct tape_mix {
  tape_matrix<S> source;
  tape_matrix<S> weight;
};

// Position of each per-layer tensor in layer_tensor_specs.
enum layer_field : int {
  f_attn_norm,
  f_attn_norm_bias,
  f_wq,
  f_wk,
  f_wv,
  f_wo,
  f_bq,
  f_bk,
  f_bv,
  f_bo,
  f_ffn_norm,
  f_ffn_norm_bias,
  f_w_gate,
  f_w_up,
  f_w_down,
  f_b_up,
  f_b_down,
  f_count
};
static_assert(f_count == std::size(layer_tensor_specs));

// Rows of a block of tokens in the products; fixed, so results do not depend on the threads.
inline constexpr index tape_token_block = 128;
// Rows of a weight gradient computed by one task.
inline constexpr index tape_weight_block = 32;

// y = x w^T (+ b), over fixed blocks of rows.
template <class S>
void tape_linear(const tape_matrix<S>& x, const tape_matrix<S>& w, const tape_matrix<S>* b,
                 tape_matrix<S>& y, std::size_t threads) {
  y.resize(x.rows(), w.rows());
  const index blocks = (x.rows() + tape_token_block - 1) / tape_token_block;
  parallel_for(static_cast<std::size_t>(blocks), threads, [&](std::size_t k) {
    const index first = static_cast<index>(k) * tape_token_block;
    const index count = std::min(tape_token_block, x.rows() - first);
    y.middleRows(first, count).noalias() = x.middleRows(first, count) * w.transpose();
    if (b)
      for (index i = first; i < first + count; ++i) y.row(i) += b->row(0);
  });
}

// dx (+)= dy w, over fixed blocks of rows.
template <class S>
void tape_linear_input_gradient(const tape_matrix<S>& dy, const tape_matrix<S>& w,
                                tape_matrix<S>& dx, bool accumulate, std::size_t threads) {
  if (!accumulate) dx.setZero(dy.rows(), w.cols());
  const index blocks = (dy.rows() + tape_token_block - 1) / tape_token_block;
  parallel_for(static_cast<std::size_t>(blocks), threads, [&](std::size_t k) {
    const index first = static_cast<index>(k) * tape_token_block;
    const index count = std::min(tape_token_block, dy.rows() - first);
    dx.middleRows(first, count).noalias() += dy.middleRows(first, count) * w;
  });
}

// dw += dy^T x and db += the column sums of dy (db may be null), over fixed blocks of rows of w.
template <class S>
void tape_linear_weight_gradient(const tape_matrix<S>& dy, const tape_matrix<S>& x,
                                 tape_matrix<S>& dw, tape_matrix<S>* db, std::size_t threads) {
  const index blocks = (dw.rows() + tape_weight_block - 1) / tape_weight_block;
  parallel_for(static_cast<std::size_t>(blocks), threads, [&](std::size_t k) {
    const index first = static_cast<index>(k) * tape_weight_block;
    const index count = std::min(tape_weight_block, dw.rows() - first);
    dw.middleRows(first, count).noalias() += dy.middleCols(first, count).transpose() * x;
  });
  if (db)
    for (index i = 0; i < dy.rows(); ++i) db->row(0) += dy.row(i);
}

// The forward pass over whole sequences (each from position 0) that keeps what the backward
// pass needs, and that backward pass. Rows of every activation matrix are the tokens of all
// sequences, one sequence after the other.
template <class S>
class transformer_tape {
 public:
  using matrix_type = tape_matrix<S>;

  struct gradients {
    std::vector<matrix_type> parameters;       // as transformer_parameters; empty if not asked
    std::map<hook_point, matrix_type> points;  // dF/d(activation) at each requested point
    std::map<hook_point, matrix_type> mixes;   // dF/dweight at each mixed point
  };

  // A float tape reads p's tensors in place (p must outlive it); any other S converts them to
  // a copy. Throws invalid_argument when a tensor is missing, misshapen or not finite.
  explicit transformer_tape(const transformer_parameters& p) : config_(p.config) {
    if (p.names.size() != p.tensors.size())
      throw invalid_argument("transformer_parameters: " + std::to_string(p.names.size()) +
                             " names for " + std::to_string(p.tensors.size()) + " tensors");
    try {
      (void)p.model();  // checks every shape against the configuration
    } catch (const format_error& e) {
      throw invalid_argument(std::string("transformer_parameters: ") + e.what());
    }
    for (std::size_t k = 0; k < p.tensors.size(); ++k) {
      if (!p.tensors[k].allFinite())
        throw invalid_argument("transformer_parameters: tensor '" + p.names[k] +
                               "' holds a non-finite value");
      if constexpr (std::is_same_v<S, float>)
        params_.push_back(&p.tensors[k]);
      else
        owned_.push_back(p.tensors[k].template cast<S>());
    }
    for (const auto& m : owned_) params_.push_back(&m);
    gpt2_ = config_.architecture == transformer_architecture::gpt2;
    token_embedding_ = require(p.find("token_embedding"), "token_embedding");
    position_embedding_ = p.find("position_embedding");
    if (gpt2_) require(position_embedding_, "position_embedding");
    final_norm_ = require(p.find("final_norm"), "final_norm");
    final_norm_bias_ = p.find("final_norm_bias");
    output_ = p.tied_output ? token_embedding_ : require(p.find("output"), "output");
    layers_.resize(static_cast<std::size_t>(config_.n_layers));
    for (index l = 0; l < config_.n_layers; ++l)
      for (int f = 0; f < f_count; ++f)
        layers_[static_cast<std::size_t>(l)][static_cast<std::size_t>(f)] =
            p.find("layers." + std::to_string(l) + "." + layer_tensor_specs[f].name);
    for (index l = 0; l < config_.n_layers; ++l) {
      const auto& ids = layers_[static_cast<std::size_t>(l)];
      std::vector<int> needed = {f_attn_norm, f_wq, f_wk, f_wv, f_wo, f_ffn_norm, f_w_up, f_w_down};
      if (!gpt2_) needed.push_back(f_w_gate);
      for (int f : needed)
        require(ids[static_cast<std::size_t>(f)],
                "layers." + std::to_string(l) + "." + layer_tensor_specs[f].name);
    }
    inv_freq_ = rope_inverse_frequencies(config_);  // as transformer_model rotates
  }

  transformer_tape(const transformer_tape&) = delete;  // params_ may point into owned_
  transformer_tape& operator=(const transformer_tape&) = delete;

  const transformer_config& config() const { return config_; }
  // The tape's own copy of the parameters in S (not float), in the order of
  // transformer_parameters, for a finite-difference test to perturb.
  std::vector<matrix_type>& parameters() {
    static_assert(!std::is_same_v<S, float>, "a float tape reads the caller's tensors");
    return owned_;
  }

  // Runs `sequences`, mixing the activation at each point of `mixes` (tape_mix) and then adding
  // offsets[p] (one row per token, stacked in sequence order) to it, and records the tape and the
  // activations at `record`. Throws invalid_argument on an empty batch or sequence, a token id
  // outside the vocabulary, a sequence longer than the context, or an offset or mix of the wrong
  // shape or not finite.
  void forward(std::span<const std::vector<token_id>> sequences,
               const std::map<hook_point, matrix_type>& offsets = {}, std::size_t threads = 1,
               std::span<const hook_point> record = {},
               const std::map<hook_point, tape_mix<S>>& mixes = {}) {
    check_sequences(sequences);
    const auto& c = config_;
    threads = resolve_threads(threads);
    first_row_.assign(1, 0);
    ids_.clear();
    positions_.clear();
    for (const auto& s : sequences) {
      for (std::size_t i = 0; i < s.size(); ++i) {
        ids_.push_back(s[i]);
        positions_.push_back(static_cast<index>(i));
      }
      first_row_.push_back(static_cast<index>(ids_.size()));
    }
    const index n = static_cast<index>(ids_.size());
    if (!gpt2_) rope_tables(positions_, inv_freq_.data(), c.head_dim() / 2, cos_, sin_);
    for (const auto& [p, m] : offsets)
      if (m.rows() != n || m.cols() != width(p))
        throw invalid_argument("transformer_tape: offset at " + to_string(p) + " is " +
                               std::to_string(m.rows()) + " x " + std::to_string(m.cols()) +
                               ", expected " + std::to_string(n) + " x " +
                               std::to_string(width(p)));
    for (const auto& [p, m] : mixes)
      for (const matrix_type* part : {&m.source, &m.weight})
        if (part->rows() != n || part->cols() != width(p) || !part->allFinite())
          throw invalid_argument("transformer_tape: the mix at " + to_string(p) + " is " +
                                 std::to_string(part->rows()) + " x " + std::to_string(part->cols()) +
                                 (part->allFinite() ? "" : " with a non-finite entry") + ", expected " +
                                 std::to_string(n) + " x " + std::to_string(width(p)) + ", finite");
    for (const auto& p : record) (void)width(p);
    recorded_.clear();
    mixes_ = mixes;
    mix_difference_.clear();
    layers_tape_.resize(static_cast<std::size_t>(c.n_layers));
    recording_pass pass(*this, offsets, record, threads);
    decoder_forward(pass, cos_, sin_, x_final_, xf_);
    tape_linear(xf_, *params_[static_cast<std::size_t>(output_)],
                static_cast<const matrix_type*>(nullptr), logits_, threads);
  }

  // Logits of the last forward: one row per token, sequences one after the other.
  const matrix_type& logits() const { return logits_; }
  // Row of the first token of sequence b in logits() and in every activation (b = count: end).
  index first_row(std::size_t b) const { return first_row_[b]; }
  std::size_t sequences() const { return first_row_.size() - 1; }

  // The activation at `p` recorded by the last forward (after its offset), if it was asked
  // for; rows as in logits().
  const matrix_type& activation(hook_point p) const {
    const auto it = recorded_.find(p);
    if (it == recorded_.end())
      throw invalid_argument("transformer_tape: the activation at " + to_string(p) +
                             " was not recorded; name it in forward()");
    return it->second;
  }

  // Carries dF/dlogits (the shape of logits()) back through the last forward. Returns the
  // gradients at `points` and, if asked, of every parameter.
  gradients backward(const matrix_type& dlogits, std::span<const hook_point> points,
                     bool parameter_gradient, std::size_t threads = 1) const {
    const auto& c = config_;
    const index n = logits_.rows();
    if (dlogits.rows() != n || dlogits.cols() != logits_.cols())
      throw invalid_argument("transformer_tape::backward: the logit gradient is " +
                             std::to_string(dlogits.rows()) + " x " +
                             std::to_string(dlogits.cols()) + ", expected " + std::to_string(n) +
                             " x " + std::to_string(logits_.cols()));
    for (const auto& p : points) (void)width(p);
    threads = resolve_threads(threads);
    gradients g;
    if (parameter_gradient)
      for (const auto* m : params_) g.parameters.push_back(matrix_type::Zero(m->rows(), m->cols()));
    auto grad = [&](index id) -> matrix_type* {
      return parameter_gradient && id >= 0 ? &g.parameters[static_cast<std::size_t>(id)] : nullptr;
    };
    // d is dF/d(the activation after p's hook); a mix at p turns it into dF/d(the activation
    // before it) and gives dF/dweight.
    auto record = [&](hook_point p, matrix_type& d) {
      if (std::find(points.begin(), points.end(), p) != points.end()) g.points[p] = d;
      const auto mixed = mixes_.find(p);
      if (mixed == mixes_.end()) return;
      g.mixes[p] = d.cwiseProduct(mix_difference_.at(p));
      d = d.cwiseProduct(mixed->second.weight);
    };
    // For a block whose output joins the stream at p, the stream's gradient dx is the output's;
    // the block receives it unchanged, or through p's mix (in `scratch`), while dx flows on.
    auto branch = [&](hook_point p, const matrix_type& dstream, matrix_type& scratch) -> const matrix_type& {
      if (!mixes_.contains(p)) {
        if (std::find(points.begin(), points.end(), p) != points.end()) g.points[p] = dstream;
        return dstream;
      }
      scratch = dstream;
      record(p, scratch);
      return scratch;
    };

    matrix_type dxf;
    tape_linear_input_gradient(dlogits, *params_[static_cast<std::size_t>(output_)], dxf, false,
                               threads);
    if (auto* dw = grad(output_))
      tape_linear_weight_gradient(dlogits, xf_, *dw, static_cast<matrix_type*>(nullptr), threads);
    record(hook_point::final_norm(), dxf);
    matrix_type dx = matrix_type::Zero(n, c.dim);
    norm_backward_rows(x_final_, final_norm_, dxf, dx, grad(final_norm_), grad(final_norm_bias_));

    matrix_type dh, dpre, dxn, dq, dk, dv, dattn, dblock, dinput;
    // A block's norm adds its input gradient into the stream's; where attn_in or mlp_in is
    // recorded or mixed it is formed apart first (the gradient of what that block alone reads).
    auto block_input_backward = [&](hook_point p, const matrix_type& input, index norm, index norm_bias) {
      if (!mixes_.contains(p) && std::find(points.begin(), points.end(), p) == points.end()) {
        norm_backward_rows(input, norm, dxn, dx, grad(norm), grad(norm_bias));
        return;
      }
      dinput = matrix_type::Zero(n, c.dim);
      norm_backward_rows(input, norm, dxn, dinput, grad(norm), grad(norm_bias));
      record(p, dinput);
      dx += dinput;
    };
    for (index l = c.n_layers - 1; l >= 0; --l) {
      const auto& t = layers_tape_[static_cast<std::size_t>(l)];
      const auto& ids = layers_[static_cast<std::size_t>(l)];
      auto pid = [&](int f) { return ids[static_cast<std::size_t>(f)]; };
      record(hook_point::resid_post(l), dx);
      // MLP.
      const matrix_type& dmlp = branch(hook_point::mlp_out(l), dx, dblock);
      if (auto* dw = grad(pid(f_w_down)))
        tape_linear_weight_gradient(dmlp, t.h, *dw, grad(pid(f_b_down)), threads);
      tape_linear_input_gradient(dmlp, param(l, f_w_down), dh, false, threads);
      record(hook_point::mlp_post(l), dh);
      dpre.resize(n, c.hidden_dim);
      if (gpt2_) {
        for (index i = 0; i < dh.size(); ++i)
          dpre.data()[i] = dh.data()[i] * kernels::gelu_derivative(t.up.data()[i]);
        tape_linear_input_gradient(dpre, param(l, f_w_up), dxn, false, threads);
        if (auto* dw = grad(pid(f_w_up)))
          tape_linear_weight_gradient(dpre, t.xn2, *dw, grad(pid(f_b_up)), threads);
      } else {
        matrix_type dgate(n, c.hidden_dim);
        for (index i = 0; i < dh.size(); ++i) {
          const S gate = t.gate.data()[i];
          dgate.data()[i] = dh.data()[i] * t.up.data()[i] * kernels::silu_derivative(gate);
          dpre.data()[i] = dh.data()[i] * kernels::silu(gate);
        }
        tape_linear_input_gradient(dpre, param(l, f_w_up), dxn, false, threads);
        tape_linear_input_gradient(dgate, param(l, f_w_gate), dxn, true, threads);
        if (auto* dw = grad(pid(f_w_up)))
          tape_linear_weight_gradient(dpre, t.xn2, *dw, grad(pid(f_b_up)), threads);
        if (auto* dw = grad(pid(f_w_gate)))
          tape_linear_weight_gradient(dgate, t.xn2, *dw, static_cast<matrix_type*>(nullptr),
                                      threads);
      }
      block_input_backward(hook_point::mlp_in(l), t.x_mid, pid(f_ffn_norm), pid(f_ffn_norm_bias));
      record(hook_point::resid_mid(l), dx);
      // Attention.
      const matrix_type& dout = branch(hook_point::attn_out(l), dx, dblock);
      if (auto* dw = grad(pid(f_wo)))
        tape_linear_weight_gradient(dout, t.attn, *dw, grad(pid(f_bo)), threads);
      tape_linear_input_gradient(dout, param(l, f_wo), dattn, false, threads);
      record(hook_point::attn_z(l), dattn);
      attention_backward(t, dattn, dq, dk, dv, threads);
      if (!gpt2_)
        for (index i = 0; i < n; ++i) {
          kernels::rope(dq.row(i).data(), c.n_heads, c.head_dim(), cos_.row(i).data(),
                         sin_.row(i).data(), S(-1));
          kernels::rope(dk.row(i).data(), c.n_kv_heads, c.head_dim(), cos_.row(i).data(),
                         sin_.row(i).data(), S(-1));
        }
      tape_linear_input_gradient(dq, param(l, f_wq), dxn, false, threads);
      tape_linear_input_gradient(dk, param(l, f_wk), dxn, true, threads);
      tape_linear_input_gradient(dv, param(l, f_wv), dxn, true, threads);
      if (auto* dw = grad(pid(f_wq)))
        tape_linear_weight_gradient(dq, t.xn1, *dw, grad(pid(f_bq)), threads);
      if (auto* dw = grad(pid(f_wk)))
        tape_linear_weight_gradient(dk, t.xn1, *dw, grad(pid(f_bk)), threads);
      if (auto* dw = grad(pid(f_wv)))
        tape_linear_weight_gradient(dv, t.xn1, *dw, grad(pid(f_bv)), threads);
      block_input_backward(hook_point::attn_in(l), t.x_pre, pid(f_attn_norm), pid(f_attn_norm_bias));
      record(hook_point::resid_pre(l), dx);
    }
    record(hook_point::embed(), dx);
    // Embedding rows in token order: a fixed order whatever the thread count.
    if (auto* de = grad(token_embedding_))
      for (index i = 0; i < n; ++i) de->row(ids_[static_cast<std::size_t>(i)]) += dx.row(i);
    if (auto* dp = grad(position_embedding_))
      for (index i = 0; i < n; ++i) dp->row(positions_[static_cast<std::size_t>(i)]) += dx.row(i);
    return g;
  }

  // Width of the activation at p; throws invalid_argument for a layer the model does not have.
  index width(hook_point p) const {
    if (detail::hook_has_layer(p.kind) && (p.layer < 0 || p.layer >= config_.n_layers))
      throw invalid_argument("hook point " + to_string(p) + " is beyond the model's " +
                             std::to_string(config_.n_layers) + " layers");
    if (!detail::hook_has_layer(p.kind) && p.layer != 0)
      throw invalid_argument("hook point " + to_string(p) + " has layer " +
                             std::to_string(p.layer) + ", but it names no layer");
    if (p.kind == hook_kind::attn_z) return config_.n_heads * config_.head_dim();
    return p.kind == hook_kind::mlp_post ? config_.hidden_dim : config_.dim;
  }

 private:
  using layer_tape = decoder_activations<matrix_type>;

  // The tape's side of decoder_forward: products with the parameters as Eigen matrices, whole
  // sequences attending to themselves, every layer's activations kept, and at each hook point
  // the offset added and the activation recorded when asked.
  class recording_pass {
   public:
    using matrix_type = tape_matrix<S>;
    static constexpr bool keeps_layer_inputs = true;

    recording_pass(transformer_tape& tape, const std::map<hook_point, matrix_type>& offsets,
                   std::span<const hook_point> record, std::size_t threads)
        : tape_(tape), offsets_(offsets), record_(record), threads_(threads) {}

    const transformer_config& config() const { return tape_.config_; }
    layer_tape& activations(index l) { return tape_.layers_tape_[static_cast<std::size_t>(l)]; }

    void embed(matrix_type& x) const {
      const auto& embedding = *tape_.params_[static_cast<std::size_t>(tape_.token_embedding_)];
      const auto n = static_cast<index>(tape_.ids_.size());
      x.resize(n, embedding.cols());
      for (index i = 0; i < n; ++i) {
        x.row(i) = embedding.row(tape_.ids_[static_cast<std::size_t>(i)]);
        if (tape_.gpt2_)
          x.row(i) += tape_.params_[static_cast<std::size_t>(tape_.position_embedding_)]->row(
              tape_.positions_[static_cast<std::size_t>(i)]);
      }
    }

    void normalize(index l, decoder_norm which, const matrix_type& x, matrix_type& y) const {
      switch (which) {
        case decoder_norm::attention:
          return tape_.normalize(tape_.layer_param(l, f_attn_norm),
                                 tape_.layer_param(l, f_attn_norm_bias), x, y);
        case decoder_norm::mlp:
          return tape_.normalize(tape_.layer_param(l, f_ffn_norm),
                                 tape_.layer_param(l, f_ffn_norm_bias), x, y);
        case decoder_norm::final:
          return tape_.normalize(tape_.final_norm_, tape_.final_norm_bias_, x, y);
      }
    }

    void linear(index l, decoder_map map, const matrix_type& x, matrix_type& y) const {
      // Weight and bias (-1: none) of each decoder_map, in its order.
      static constexpr int fields[][2] = {{f_wq, f_bq},     {f_wk, f_bk},     {f_wv, f_bv},
                                          {f_wo, f_bo},     {f_w_gate, -1},   {f_w_up, f_b_up},
                                          {f_w_down, f_b_down}};
      const auto& [weight, bias] = fields[static_cast<int>(map)];
      tape_linear(x, tape_.param(l, weight), bias < 0 ? nullptr : tape_.optional_param(l, bias),
                  y, threads_);
    }

    void attend(index, layer_tape& a) const { tape_.attention_forward(a, threads_); }

    bool active(hook_point p) const {
      return tape_.mixes_.contains(p) || offsets_.contains(p) ||
             std::find(record_.begin(), record_.end(), p) != record_.end();
    }

    void hook(hook_point p, matrix_type& values) const {
      const auto mixed = tape_.mixes_.find(p);
      if (mixed != tape_.mixes_.end()) {
        auto& difference = tape_.mix_difference_[p];
        difference = values - mixed->second.source;
        values = mixed->second.source + mixed->second.weight.cwiseProduct(difference);
      }
      const auto it = offsets_.find(p);
      if (it != offsets_.end()) values += it->second;
      if (std::find(record_.begin(), record_.end(), p) != record_.end())
        tape_.recorded_[p] = values;
    }

   private:
    transformer_tape& tape_;
    const std::map<hook_point, matrix_type>& offsets_;
    std::span<const hook_point> record_;
    std::size_t threads_;
  };

  static index require(index id, const std::string& name) {
    if (id < 0) throw invalid_argument("transformer_parameters: tensor '" + name + "' is missing");
    return id;
  }

  const matrix_type& param(index l, int f) const {
    return *params_[static_cast<std::size_t>(
        layers_[static_cast<std::size_t>(l)][static_cast<std::size_t>(f)])];
  }
  // The id of a layer's tensor in params_; -1 when absent.
  index layer_param(index l, int f) const {
    return layers_[static_cast<std::size_t>(l)][static_cast<std::size_t>(f)];
  }
  const matrix_type* optional_param(index l, int f) const {
    const index id = layers_[static_cast<std::size_t>(l)][static_cast<std::size_t>(f)];
    return id >= 0 ? params_[static_cast<std::size_t>(id)] : nullptr;
  }

  void check_sequences(std::span<const std::vector<token_id>> sequences) const {
    if (sequences.empty()) throw invalid_argument("transformer backward: the batch is empty");
    for (std::size_t b = 0; b < sequences.size(); ++b) {
      const auto& s = sequences[b];
      if (s.empty())
        throw invalid_argument("transformer backward: sequence " + std::to_string(b) + " is empty");
      if (static_cast<index>(s.size()) > config_.context_length)
        throw invalid_argument("transformer backward: sequence " + std::to_string(b) + " has " +
                               std::to_string(s.size()) + " tokens, more than the context length " +
                               std::to_string(config_.context_length));
      for (std::size_t i = 0; i < s.size(); ++i)
        if (s[i] < 0 || s[i] >= config_.vocab_size)
          throw invalid_argument("transformer backward: token id " + std::to_string(s[i]) +
                                 " at sequence " + std::to_string(b) + ", index " +
                                 std::to_string(i) + " is outside the vocabulary [0, " +
                                 std::to_string(config_.vocab_size) + ")");
    }
  }

  // y = norm(x) row by row with the gain and bias (-1: none) of these parameter ids.
  void normalize(index gain, index bias, const matrix_type& x, matrix_type& y) const {
    y.resize(x.rows(), x.cols());
    const S* b = bias >= 0 ? params_[static_cast<std::size_t>(bias)]->data() : nullptr;
    for (index i = 0; i < x.rows(); ++i)
      kernels::norm(x.row(i).data(), params_[static_cast<std::size_t>(gain)]->data(), b,
                    y.row(i).data(), x.cols(), static_cast<S>(config_.norm_eps), gpt2_);
  }

  void norm_backward_rows(const matrix_type& x, index gain, const matrix_type& dy, matrix_type& dx,
                          matrix_type* dgain, matrix_type* dbias) const {
    const S* w = params_[static_cast<std::size_t>(gain)]->data();
    for (index i = 0; i < x.rows(); ++i)
      kernels::norm_backward(x.row(i).data(), w, dy.row(i).data(), dx.row(i).data(),
                              dgain ? dgain->data() : nullptr, dbias ? dbias->data() : nullptr,
                              x.cols(), static_cast<S>(config_.norm_eps), gpt2_);
  }

  // Causal attention probabilities of query head h of sequence b for the queries at positions
  // [r0, r1): row i holds softmax over the keys at [0, r0 + i], zeros after. Queries go in
  // blocks so that the keys after a block's last query, all masked, are never multiplied.
  matrix_type probabilities(const layer_tape& t, std::size_t b, index h, index r0, index r1) const {
    const index first = first_row_[b];
    const index hd = config_.head_dim();
    const index kv = h / (config_.n_heads / config_.n_kv_heads);
    matrix_type p(r1 - r0, r1);
    p.noalias() =
        t.q.block(first + r0, h * hd, r1 - r0, hd) * t.k.block(first, kv * hd, r1, hd).transpose();
    const S scale = S(1) / std::sqrt(static_cast<S>(hd));
    for (index i = 0; i < r1 - r0; ++i) {
      S* row = p.row(i).data();
      const index keys = r0 + i + 1;
      for (index j = 0; j < keys; ++j) row[j] *= scale;
      kernels::softmax(row, keys);
      std::fill(row + keys, row + r1, S(0));
    }
    return p;
  }

  static constexpr index query_block = 64;

  // One task per (sequence, key/value head): it owns the query heads that read that head.
  void attention_forward(layer_tape& t, std::size_t threads) const {
    const index hd = config_.head_dim();
    const index group = config_.n_heads / config_.n_kv_heads;
    const auto kv = static_cast<std::size_t>(config_.n_kv_heads);
    t.attn.resize(t.q.rows(), config_.dim);
    parallel_for(sequences() * kv, threads, [&](std::size_t task) {
      const std::size_t b = task / kv;
      const auto g = static_cast<index>(task % kv);
      const index first = first_row_[b];
      const index len = first_row_[b + 1] - first;
      for (index h = g * group; h < (g + 1) * group; ++h)
        for (index r0 = 0; r0 < len; r0 += query_block) {
          const index r1 = std::min(len, r0 + query_block);
          t.attn.block(first + r0, h * hd, r1 - r0, hd).noalias() =
              probabilities(t, b, h, r0, r1) * t.v.block(first, g * hd, r1, hd);
        }
    });
  }

  void attention_backward(const layer_tape& t, const matrix_type& dattn, matrix_type& dq,
                          matrix_type& dk, matrix_type& dv, std::size_t threads) const {
    const index hd = config_.head_dim();
    const index group = config_.n_heads / config_.n_kv_heads;
    const auto kv = static_cast<std::size_t>(config_.n_kv_heads);
    const S scale = S(1) / std::sqrt(static_cast<S>(hd));
    dq.setZero(t.q.rows(), t.q.cols());
    dk.setZero(t.k.rows(), t.k.cols());
    dv.setZero(t.v.rows(), t.v.cols());
    parallel_for(sequences() * kv, threads, [&](std::size_t task) {
      const std::size_t b = task / kv;
      const auto g = static_cast<index>(task % kv);
      const index first = first_row_[b];
      const index len = first_row_[b + 1] - first;
      matrix_type ds;
      for (index h = g * group; h < (g + 1) * group; ++h)
        for (index r0 = 0; r0 < len; r0 += query_block) {
          const index r1 = std::min(len, r0 + query_block);
          const auto k = t.k.block(first, g * hd, r1, hd);
          const auto v = t.v.block(first, g * hd, r1, hd);
          const auto dout = dattn.block(first + r0, h * hd, r1 - r0, hd);
          const matrix_type p = probabilities(t, b, h, r0, r1);
          dv.block(first, g * hd, r1, hd).noalias() += p.transpose() * dout;
          ds.noalias() = dout * v.transpose();
          for (index i = 0; i < r1 - r0; ++i) {
            kernels::softmax_backward(p.row(i).data(), ds.row(i).data(), r0 + i + 1);
            std::fill(ds.row(i).data() + r0 + i + 1, ds.row(i).data() + r1, S(0));
          }
          ds *= scale;
          dq.block(first + r0, h * hd, r1 - r0, hd).noalias() = ds * k;
          dk.block(first, g * hd, r1, hd).noalias() +=
              ds.transpose() * t.q.block(first + r0, h * hd, r1 - r0, hd);
        }
    });
  }

  transformer_config config_;
  bool gpt2_ = false;
  // A float tape reads the caller's tensors in place; other scalar types read owned_, a copy.
  std::vector<matrix_type> owned_;
  std::vector<const matrix_type*> params_;
  index token_embedding_ = -1, position_embedding_ = -1, final_norm_ = -1, final_norm_bias_ = -1,
        output_ = -1;
  std::vector<std::array<index, f_count>> layers_;
  std::vector<double> inv_freq_;

  std::vector<index> first_row_;
  std::vector<token_id> ids_;
  std::vector<index> positions_;
  matrix_type cos_, sin_;
  std::vector<layer_tape> layers_tape_;
  matrix_type x_final_, xf_, logits_;
  std::map<hook_point, matrix_type> recorded_;
  std::map<hook_point, tape_mix<S>> mixes_;                // of the last forward
  std::map<hook_point, matrix_type> mix_difference_;       // activation - source before each mix
};

}  // namespace detail

// Next-token cross-entropy, averaged over the positions with positive weight: weights[b][t]
// weights the prediction of sequences[b][t+1] from position t (size = sequence length - 1).
// The loss is sum(w * cross-entropy) / sum(w), so 0/1 weights give the mean over the selected
// positions (an answer's tokens, say, and not its prompt's).
struct language_model_batch {
  std::vector<std::vector<token_id>> sequences;
  std::vector<std::vector<float>> weights;
};

namespace detail {
inline double total_weight(const language_model_batch& batch) {
  if (batch.sequences.empty()) throw invalid_argument("language_model_batch: no sequences");
  if (batch.weights.size() != batch.sequences.size())
    throw invalid_argument("language_model_batch: " + std::to_string(batch.weights.size()) +
                           " weight rows for " + std::to_string(batch.sequences.size()) +
                           " sequences");
  double total = 0;
  for (std::size_t b = 0; b < batch.sequences.size(); ++b) {
    const std::size_t predictions = batch.sequences[b].empty() ? 0 : batch.sequences[b].size() - 1;
    if (batch.weights[b].size() != predictions)
      throw invalid_argument("language_model_batch: sequence " + std::to_string(b) + " has " +
                             std::to_string(batch.sequences[b].size()) + " tokens, so " +
                             std::to_string(predictions) + " weights are expected, not " +
                             std::to_string(batch.weights[b].size()));
    for (float w : batch.weights[b]) {
      if (!std::isfinite(w) || w < 0.0f)
        throw invalid_argument(
            "language_model_batch: weights must be finite and non-negative, "
            "sequence " +
            std::to_string(b) + " has " + std::to_string(w));
      total += w;
    }
  }
  if (!(total > 0))
    throw invalid_argument("language_model_batch: no position has a positive weight");
  return total;
}

// The loss of a recorded forward and its gradient with respect to the logits. Each term is
// log-sum-exp minus the target's logit, in double, so a target whose probability underflows
// still costs a finite amount.
template <class S>
double next_token_loss(const transformer_tape<S>& tape, const language_model_batch& batch,
                       double total, tape_matrix<S>& dlogits, std::size_t threads) {
  const auto& logits = tape.logits();
  const index vocab = logits.cols();
  dlogits.setZero(logits.rows(), vocab);
  const std::size_t rows = batch.sequences.size();
  std::vector<double> partial(rows, 0.0);
  parallel_for(rows, threads, [&](std::size_t b) {
    const auto& seq = batch.sequences[b];
    for (std::size_t t = 0; t + 1 < seq.size(); ++t) {
      const double w = batch.weights[b][t];
      if (w == 0.0) continue;
      const index r = tape.first_row(b) + static_cast<index>(t);
      const S* z = logits.row(r).data();
      S* d = dlogits.row(r).data();
      const S top = *std::max_element(z, z + vocab);
      S sum = 0;
      for (index j = 0; j < vocab; ++j) sum += (d[j] = std::exp(z[j] - top));
      const auto target = static_cast<index>(seq[t + 1]);
      partial[b] += w * (static_cast<double>(top) + std::log(static_cast<double>(sum)) -
                         static_cast<double>(z[target]));
      // w / total * (softmax(z) - onehot(target)).
      const S scale = static_cast<S>(w / total) / sum;
      for (index j = 0; j < vocab; ++j) d[j] *= scale;
      d[target] -= static_cast<S>(w / total);
    }
  });
  double loss = 0;
  for (double v : partial) loss += v;
  return loss / total;
}
}  // namespace detail

// Returns the mean loss and ADDS its gradient into `gradient` (same layout as `parameters`,
// e.g. parameters.zeros_like()). Throws invalid_argument on an empty batch or sequence, weights
// that do not match the sequences or are negative or not finite, no positive weight, token ids
// outside the vocabulary, sequences longer than the context, non-finite parameters, or a
// gradient of another layout. Results do not depend on `threads` (0: all cores).
template <class = void>  // the tape compiles where it is used
double language_model_loss_and_gradient(const transformer_parameters& parameters,
                                        const language_model_batch& batch,
                                        transformer_parameters& gradient,
                                        std::size_t threads = 1) {
  const double total = detail::total_weight(batch);
  if (gradient.names != parameters.names || gradient.tensors.size() != parameters.tensors.size())
    throw invalid_argument(
        "language_model_loss_and_gradient: the gradient's tensors are not "
        "those of the parameters; make it with parameters.zeros_like()");
  for (std::size_t k = 0; k < parameters.tensors.size(); ++k)
    if (gradient.tensors[k].rows() != parameters.tensors[k].rows() ||
        gradient.tensors[k].cols() != parameters.tensors[k].cols())
      throw invalid_argument("language_model_loss_and_gradient: gradient tensor '" +
                             parameters.names[k] + "' has another shape than the parameter");
  detail::transformer_tape<float> tape(parameters);
  tape.forward(batch.sequences, {}, threads);
  float_matrix dlogits;
  const double loss = detail::next_token_loss(tape, batch, total, dlogits, threads);
  auto g = tape.backward(dlogits, {}, true, threads);
  for (std::size_t k = 0; k < g.parameters.size(); ++k) gradient.tensors[k] += g.parameters[k];
  return loss;
}

// The mean loss alone (a forward pass, no tape kept beyond the call).
template <class = void>  // the tape compiles where it is used
double language_model_loss(const transformer_parameters& parameters,
                           const language_model_batch& batch, std::size_t threads = 1) {
  const double total = detail::total_weight(batch);
  detail::transformer_tape<float> tape(parameters);
  tape.forward(batch.sequences, {}, threads);
  float_matrix dlogits;
  return detail::next_token_loss(tape, batch, total, dlogits, threads);
}

// A scalar function F of the logits, for transformer_backward: given one logits matrix per
// sequence (positions x vocabulary), returns F and writes dF/dlogits into `gradient` (resized
// by the caller to the logits' shapes and zeroed).
using logit_objective = std::function<double(const std::vector<float_matrix>& logits,
                                             std::vector<float_matrix>& gradient)>;

// F = logit of `good` minus logit of `bad` at `position` of `sequence` (-1: its last position),
// the usual metric of activation patching.
inline logit_objective logit_difference(std::size_t sequence, index position, token_id good,
                                        token_id bad) {
  return [=](const std::vector<float_matrix>& logits, std::vector<float_matrix>& gradient) {
    if (sequence >= logits.size())
      throw invalid_argument("logit_difference: sequence " + std::to_string(sequence) +
                             " of a batch of " + std::to_string(logits.size()));
    const auto& z = logits[sequence];
    const index t = position < 0 ? z.rows() + position : position;
    auto check = [&](token_id id) {
      if (id < 0 || id >= z.cols())
        throw invalid_argument("logit_difference: token id " + std::to_string(id) +
                               " is outside the vocabulary [0, " + std::to_string(z.cols()) + ")");
    };
    check(good);
    check(bad);
    if (t < 0 || t >= z.rows())
      throw invalid_argument("logit_difference: position " + std::to_string(position) +
                             " of a sequence of " + std::to_string(z.rows()) + " tokens");
    gradient[sequence](t, good) += 1.0f;
    gradient[sequence](t, bad) -= 1.0f;
    return static_cast<double>(z(t, good)) - static_cast<double>(z(t, bad));
  };
}

// At a hook point, the activation a becomes source + weight * (a - source) (detail::tape_mix).
using activation_mix = detail::tape_mix<float>;

struct backward_options {
  // Hook points at which to return activations and dF/d(activation).
  std::vector<hook_point> points = {};
  // Mixes applied in the forward pass, each before any read at its point; one row per token of
  // all sequences, stacked in order. dF/dweight comes back in mix_gradients.
  std::map<hook_point, activation_mix> mixes = {};
  // Also return dF/d(parameter) for every parameter.
  bool parameter_gradient = false;
  // Worker threads; 0 means all cores. Results do not depend on it.
  std::size_t threads = 1;
};

struct transformer_gradients {
  double value = 0;                  // F(logits)
  std::vector<float_matrix> logits;  // one per sequence: positions x vocabulary
  std::vector<hook_point> points;    // as requested
  // [k][b]: at points[k] for sequence b, positions x width (dim, or hidden_dim for mlp_post).
  std::vector<std::vector<float_matrix>> activations;
  std::vector<std::vector<float_matrix>> gradients;
  // dF/d(parameter), laid out as the parameters; when asked for.
  std::optional<transformer_parameters> parameters;
  // dF/dweight at each point of backward_options::mixes, rows as the mix's.
  std::map<hook_point, float_matrix> mix_gradients;

  const float_matrix& gradient(hook_point p, std::size_t sequence) const {
    return find(gradients, p, sequence);
  }
  const float_matrix& activation(hook_point p, std::size_t sequence) const {
    return find(activations, p, sequence);
  }

 private:
  const float_matrix& find(const std::vector<std::vector<float_matrix>>& v, hook_point p,
                           std::size_t sequence) const {
    for (std::size_t k = 0; k < points.size(); ++k)
      if (points[k] == p) {
        if (sequence >= v[k].size())
          throw invalid_argument("transformer_gradients: sequence " + std::to_string(sequence) +
                                 " of " + std::to_string(v[k].size()));
        return v[k][sequence];
      }
    throw invalid_argument("transformer_gradients: " + to_string(p) + " was not requested");
  }
};

// One forward and one backward pass over whole sequences (each from position 0): F, the
// logits, and the activations and gradients at the requested hook points (and of every
// parameter if asked). The gradient at p is dF/dδ for δ added to the activation at p, the
// value that flows on from p, so it is what attribution patching multiplies with an activation
// difference. Throws invalid_argument on an empty batch or sequence, token ids outside the
// vocabulary, sequences longer than the context, a hook point beyond the model, non-finite
// parameters, or an objective that writes a gradient of the wrong shape or a non-finite one.
template <class = void>  // the tape compiles where it is used
transformer_gradients transformer_backward(const transformer_parameters& parameters,
                                           std::span<const std::vector<token_id>> sequences,
                                           const logit_objective& objective,
                                           const backward_options& options = {}) {
  if (!objective) throw invalid_argument("transformer_backward: the objective is empty");
  detail::transformer_tape<float> tape(parameters);
  tape.forward(sequences, {}, options.threads, options.points, options.mixes);
  transformer_gradients out;
  out.points = options.points;
  const auto& logits = tape.logits();
  std::vector<float_matrix> dlogits(tape.sequences());
  for (std::size_t b = 0; b < tape.sequences(); ++b) {
    const index first = tape.first_row(b);
    const index rows = tape.first_row(b + 1) - first;
    out.logits.push_back(logits.middleRows(first, rows));
    dlogits[b].setZero(rows, logits.cols());
  }
  out.value = objective(out.logits, dlogits);
  float_matrix stacked(logits.rows(), logits.cols());
  if (dlogits.size() != tape.sequences())
    throw invalid_argument("transformer_backward: the objective resized its gradient list");
  for (std::size_t b = 0; b < dlogits.size(); ++b) {
    const index first = tape.first_row(b);
    const index rows = tape.first_row(b + 1) - first;
    if (dlogits[b].rows() != rows || dlogits[b].cols() != logits.cols())
      throw invalid_argument("transformer_backward: the objective's gradient for sequence " +
                             std::to_string(b) + " is " + std::to_string(dlogits[b].rows()) +
                             " x " + std::to_string(dlogits[b].cols()) + ", expected " +
                             std::to_string(rows) + " x " + std::to_string(logits.cols()));
    if (!dlogits[b].allFinite())
      throw invalid_argument("transformer_backward: the objective's gradient for sequence " +
                             std::to_string(b) + " is not finite");
    stacked.middleRows(first, rows) = dlogits[b];
  }
  auto g = tape.backward(stacked, options.points, options.parameter_gradient, options.threads);
  out.mix_gradients = std::move(g.mixes);
  for (const auto& p : options.points) {
    out.activations.emplace_back();
    out.gradients.emplace_back();
    for (std::size_t b = 0; b < tape.sequences(); ++b) {
      const index first = tape.first_row(b);
      const index rows = tape.first_row(b + 1) - first;
      out.activations.back().push_back(tape.activation(p).middleRows(first, rows));
      out.gradients.back().push_back(g.points.at(p).middleRows(first, rows));
    }
  }
  if (options.parameter_gradient) {
    out.parameters = parameters.zeros_like();
    for (std::size_t k = 0; k < g.parameters.size(); ++k)
      out.parameters->tensors[k] = std::move(g.parameters[k]);
  }
  return out;
}

// As above for a loaded model, whose weights are decoded to float32 first.
template <class = void>  // the tape compiles where it is used
transformer_gradients transformer_backward(const transformer_model& model,
                                           std::span<const std::vector<token_id>> sequences,
                                           const logit_objective& objective,
                                           const backward_options& options = {}) {
  return transformer_backward(transformer_parameters::from_model(model), sequences, objective,
                              options);
}

// Attribution patching (Nanda 2023; Kramar et al. 2024, AtP): the first-order estimate of how F
// changes when the activation at `p` of `sequence` is replaced, position by position, by the
// rows of `other` (from another run: a corrupted prompt, another model of the same width).
// Entry t is dF/da_t . (other_t - a_t); summing entries estimates patching several positions at
// once. `other` has one row per position of the sequence.
template <class = void>  // the tape compiles where it is used
vector patching_estimate(const transformer_gradients& g, hook_point p, std::size_t sequence,
                         const float_matrix& other) {
  const auto& a = g.activation(p, sequence);
  const auto& d = g.gradient(p, sequence);
  if (other.rows() != a.rows() || other.cols() != a.cols())
    throw invalid_argument("patching_estimate: the other activation at " + to_string(p) + " is " +
                           std::to_string(other.rows()) + " x " + std::to_string(other.cols()) +
                           ", expected " + std::to_string(a.rows()) + " x " +
                           std::to_string(a.cols()));
  vector out(a.rows());
  for (index t = 0; t < a.rows(); ++t)
    out(t) = d.row(t).cast<double>().dot((other.row(t) - a.row(t)).cast<double>());
  return out;
}

}  // namespace attrib
