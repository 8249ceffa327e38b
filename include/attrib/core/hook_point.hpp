#pragma once
// Named points in a model's forward pass where activations can be read, patched, added to or
// projected out: the components of component attribution. The transformer's hooks
// (transformer/hooks/hooks.hpp) act on them, and results of patching name them.
//
// Names and their TransformerLens and Hugging Face equivalents: docs/transformer-hooks.md.
#include <compare>
#include <string>
#include <string_view>
#include <utility>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"

namespace attrib {

enum class hook_kind {
  embed,       // token embedding (before layer 0)
  resid_pre,   // residual stream entering layer l
  attn_in,     // the stream as layer l's attention block alone reads it (its norm's input)
  attn_z,      // layer l's heads before the output projection: head h in columns [h, h + 1) * head_dim
  attn_out,    // output of layer l's attention, before it is added to the stream
  resid_mid,   // stream after attention, entering the MLP
  mlp_in,      // the stream as layer l's MLP alone reads it (its norm's input)
  mlp_post,    // layer l's neuron activations: silu(gate) * up, width hidden_dim
  mlp_out,     // output of layer l's MLP, before it is added to the stream
  resid_post,  // stream leaving layer l
  final_norm,  // output of the final RMSNorm, the input of the unembedding
};

struct hook_point {
  hook_kind kind = hook_kind::embed;
  index layer = 0;  // 0 for embed and final_norm

  static constexpr hook_point embed() { return {hook_kind::embed, 0}; }
  static constexpr hook_point resid_pre(index l) { return {hook_kind::resid_pre, l}; }
  static constexpr hook_point attn_in(index l) { return {hook_kind::attn_in, l}; }
  static constexpr hook_point mlp_in(index l) { return {hook_kind::mlp_in, l}; }
  static constexpr hook_point attn_z(index l) { return {hook_kind::attn_z, l}; }
  static constexpr hook_point attn_out(index l) { return {hook_kind::attn_out, l}; }
  static constexpr hook_point resid_mid(index l) { return {hook_kind::resid_mid, l}; }
  static constexpr hook_point mlp_post(index l) { return {hook_kind::mlp_post, l}; }
  static constexpr hook_point mlp_out(index l) { return {hook_kind::mlp_out, l}; }
  static constexpr hook_point resid_post(index l) { return {hook_kind::resid_post, l}; }
  static constexpr hook_point final_norm() { return {hook_kind::final_norm, 0}; }

  friend constexpr auto operator<=>(const hook_point&, const hook_point&) = default;
};

namespace detail {
inline constexpr std::pair<hook_kind, std::string_view> hook_names[] = {
    {hook_kind::embed, "embed"},           {hook_kind::resid_pre, "resid_pre"},
    {hook_kind::attn_in, "attn_in"},       {hook_kind::mlp_in, "mlp_in"},
    {hook_kind::attn_z, "attn_z"},         {hook_kind::attn_out, "attn_out"},     {hook_kind::resid_mid, "resid_mid"},
    {hook_kind::mlp_post, "mlp_post"},     {hook_kind::mlp_out, "mlp_out"},
    {hook_kind::resid_post, "resid_post"}, {hook_kind::final_norm, "final_norm"},
};
inline bool hook_has_layer(hook_kind k) {
  return k != hook_kind::embed && k != hook_kind::final_norm;
}
}  // namespace detail

// "embed", "final_norm", or "<kind>.<layer>" such as "resid_post.3".
inline std::string to_string(hook_point p) {
  for (const auto& [kind, name] : detail::hook_names)
    if (kind == p.kind)
      return detail::hook_has_layer(kind) ? std::string(name) + "." + std::to_string(p.layer)
                                          : std::string(name);
  return "unknown";
}

// Inverse of to_string; throws invalid_argument naming the text when it is not a hook name.
inline hook_point parse_hook_point(std::string_view text) {
  const auto dot = text.find('.');
  const auto kind_text = text.substr(0, dot);
  for (const auto& [kind, name] : detail::hook_names) {
    if (name != kind_text) continue;
    if (!detail::hook_has_layer(kind)) {
      if (dot == std::string_view::npos) return {kind, 0};
      break;
    }
    if (dot == std::string_view::npos || dot + 1 == text.size()) break;
    index layer = 0;
    for (char c : text.substr(dot + 1)) {
      if (c < '0' || c > '9' || layer > 100'000'000) {
        layer = -1;
        break;
      }
      layer = layer * 10 + (c - '0');
    }
    if (layer < 0) break;
    return {kind, layer};
  }
  throw invalid_argument("hook point '" + std::string(text) +
                         "' is not one of embed, resid_pre.L, attn_out.L, resid_mid.L, "
                         "mlp_post.L, mlp_out.L, resid_post.L, final_norm");
}

}  // namespace attrib
