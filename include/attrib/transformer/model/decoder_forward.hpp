#pragma once
// The forward pass of a pre-norm decoder (either family of config.hpp), written once.
//
// transformer_model (inference on stored weights, with a KV cache and a hook_set) and the tape of
// the backward pass (whole sequences in float or double, keeping what the reverse sweep reads)
// differ in four things only: where a weight comes from and how a product with it is computed,
// how a query reads the keys and values, what a hook point does, and whether a layer's inputs
// are kept. Each supplies those as a *pass*; the order of the operations, the hook points and
// the elementwise numerics (rotary embedding, SiLU gate, GELU, residual adds) are here, so a hook
// sees the same activation in a gradient as in a generation, and a change to the architecture
// is made in one place.
//
// A pass P provides:
//   using matrix_type;                           row-major Eigen matrix of P's scalar
//   static constexpr bool keeps_layer_inputs;    copy resid_pre and resid_mid into x_pre, x_mid
//   const transformer_config& config() const;
//   decoder_activations<matrix_type>& activations(index layer);   one per layer, or one reused
//   void embed(matrix_type& x);                  token (and position) embeddings, a row per token
//   void normalize(index layer, decoder_norm, const matrix_type& x, matrix_type& y);
//   void linear(index layer, decoder_map, const matrix_type& x, matrix_type& y);  y = x W^T + b
//   void attend(index layer, decoder_activations<matrix_type>& a);  a.attn from rotated a.q, a.k, a.v
//   void hook(hook_point, matrix_type& values);
//   bool active(hook_point) const;               whether hook(p) may change or read the values
// and may provide
//   index first_layer() const;  void resume(matrix_type& x);
//                                                start at that layer from a given residual stream
//                                                (resid_pre.first_layer), skipping the layers and
//                                                hooks before it
#include <cmath>
#include <cstddef>
#include <vector>

#include "attrib/core/hook_point.hpp"
#include "attrib/core/types.hpp"
#include "attrib/transformer/model/config.hpp"
#include "attrib/transformer/model/kernels.hpp"

namespace attrib::detail {

// Which norm a pass applies (the layer argument is 0 for the final one).
enum class decoder_norm { attention, mlp, final };

// The linear maps of a layer, each with its optional bias.
enum class decoder_map { q, k, v, o, gate, up, down };

// What one layer computes, named as the backward pass reads it: the inputs of its two blocks
// (x_pre, x_mid, kept only when the pass asks), their normalisations (xn1, xn2), the rotated
// queries and keys, the values, the attention mix, and the MLP's pre-activations and neurons.
template <class Matrix>
struct decoder_activations {
  Matrix x_pre, xn1, q, k, v, attn, x_mid, xn2, gate, up, h;
};

// h = gelu(up) (gpt2) or silu(gate) * up (llama), elementwise: the neurons of hook point mlp_post.
template <class Matrix>
void mlp_activation(const transformer_config& c, const Matrix& up, const Matrix& gate, Matrix& h) {
  h.resize(up.rows(), up.cols());
  if (c.architecture == transformer_architecture::gpt2)
    for (index i = 0; i < up.size(); ++i) h.data()[i] = kernels::gelu(up.data()[i]);
  else
    for (index i = 0; i < up.size(); ++i)
      h.data()[i] = kernels::silu(gate.data()[i]) * up.data()[i];
}

// Runs the tokens whose rows `pass` embeds through every layer: on return `x` holds the residual
// stream after the last layer (resid_post.(n_layers - 1), after its hook) and `final_normed` its
// final normalisation (after the final_norm hook). `cosines` and `sines` hold each token's rotary
// table (a row per token, head_dim / 2 columns; unused for gpt2).
template <class Pass, class Matrix = typename Pass::matrix_type>
void decoder_forward(Pass& pass, const Matrix& cosines, const Matrix& sines, Matrix& x,
                     Matrix& final_normed) {
  const transformer_config& c = pass.config();
  const bool rotary = c.architecture == transformer_architecture::llama;
  index first = 0;
  if constexpr (requires { pass.first_layer(); }) {
    first = pass.first_layer();
    if (first > 0) pass.resume(x);
  }
  if (first == 0) {
    pass.embed(x);
    pass.hook(hook_point::embed(), x);
  }
  Matrix out, read;
  // attn_in and mlp_in are the stream as one block alone reads it: a copy, hooked when a hook acts
  // there, so that an edit reaches that block and not the residual path or later layers.
  auto block_input = [&](hook_point p) -> const Matrix& {
    if (!pass.active(p)) return x;
    read = x;
    pass.hook(p, read);
    return read;
  };
  for (index l = first; l < c.n_layers; ++l) {
    auto& a = pass.activations(l);
    pass.hook(hook_point::resid_pre(l), x);
    const Matrix& attention_input = block_input(hook_point::attn_in(l));
    if constexpr (Pass::keeps_layer_inputs) a.x_pre = attention_input;
    pass.normalize(l, decoder_norm::attention, attention_input, a.xn1);
    pass.linear(l, decoder_map::q, a.xn1, a.q);
    pass.linear(l, decoder_map::k, a.xn1, a.k);
    pass.linear(l, decoder_map::v, a.xn1, a.v);
    if (rotary)
      for (index i = 0; i < x.rows(); ++i) {
        kernels::rope(a.q.row(i).data(), c.n_heads, c.head_dim(), cosines.row(i).data(),
                      sines.row(i).data());
        kernels::rope(a.k.row(i).data(), c.n_kv_heads, c.head_dim(), cosines.row(i).data(),
                      sines.row(i).data());
      }
    pass.attend(l, a);
    pass.hook(hook_point::attn_z(l), a.attn);
    pass.linear(l, decoder_map::o, a.attn, out);
    pass.hook(hook_point::attn_out(l), out);
    x += out;
    pass.hook(hook_point::resid_mid(l), x);
    const Matrix& mlp_input = block_input(hook_point::mlp_in(l));
    if constexpr (Pass::keeps_layer_inputs) a.x_mid = mlp_input;

    pass.normalize(l, decoder_norm::mlp, mlp_input, a.xn2);
    pass.linear(l, decoder_map::up, a.xn2, a.up);
    if (c.architecture == transformer_architecture::llama)
      pass.linear(l, decoder_map::gate, a.xn2, a.gate);
    mlp_activation(c, a.up, a.gate, a.h);
    pass.hook(hook_point::mlp_post(l), a.h);
    pass.linear(l, decoder_map::down, a.h, out);
    pass.hook(hook_point::mlp_out(l), out);
    x += out;
    pass.hook(hook_point::resid_post(l), x);
  }
  pass.normalize(0, decoder_norm::final, x, final_normed);
  pass.hook(hook_point::final_norm(), final_normed);
}

// rope_theta^(-2j / head_dim) / rope_freq_factors[j] per rotary pair j (llama; empty for gpt2).
inline std::vector<double> rope_inverse_frequencies(const transformer_config& c) {
  if (c.architecture != transformer_architecture::llama) return {};
  const index half = c.head_dim() / 2;
  std::vector<double> inv_freq(static_cast<std::size_t>(half));
  for (index j = 0; j < half; ++j) {
    inv_freq[static_cast<std::size_t>(j)] =
        std::pow(static_cast<double>(c.rope_theta),
                 -static_cast<double>(2 * j) / static_cast<double>(c.head_dim()));
    if (!c.rope_freq_factors.empty())
      inv_freq[static_cast<std::size_t>(j)] /= c.rope_freq_factors[static_cast<std::size_t>(j)];
  }
  return inv_freq;
}

// Each token's rotary table: row i holds cos and sin of position positions[i] times every
// inverse frequency (see rope_inverse_frequencies), rounded to the scalar of Matrix.
template <class Matrix, class Positions>
void rope_tables(const Positions& positions, const double* inv_freq, index half, Matrix& cosines,
                 Matrix& sines) {
  const auto n = static_cast<index>(positions.size());
  cosines.resize(n, half);
  sines.resize(n, half);
  for (index i = 0; i < n; ++i)
    kernels::rope_angles(static_cast<index>(positions[static_cast<std::size_t>(i)]), inv_freq, half,
                         cosines.row(i).data(), sines.row(i).data());
}

}  // namespace attrib::detail
