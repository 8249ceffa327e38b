#pragma once
// The per-row numerics of a transformer, each forward next to its backward as in llm.c: norms
// (RMSNorm and LayerNorm), rotary embeddings, softmax, SiLU and GELU, and causal attention of
// one query. One set, templated on the scalar type: transformer_model runs them in float (as
// run.c and llm.c do), the tape (training/backward.hpp) in float for training and in double for
// finite-difference checks. Plain loops over plain arrays, so that a device kernel can run the
// same code per thread.
//
// Every reduction runs in a fixed order (dot: eight interleaved partial sums combined
// pairwise), so a token's activations do not depend on how many other tokens share its batch,
// on whether its prefix came from the KV cache, or on the thread count.
#include <algorithm>
#include <cmath>
#include <numbers>

#include "attrib/core/types.hpp"

namespace attrib::detail::kernels {

// sum a[i] b[i]: eight interleaved partial sums (which compilers map onto SIMD lanes) combined
// pairwise, then the tail.
template <class S>
S dot(const S* a, const S* b, index n) {
  S acc[8] = {};
  index j = 0;
  for (; j + 8 <= n; j += 8)
    for (int k = 0; k < 8; ++k) acc[k] += a[j + k] * b[j + k];
  S tail = 0;
  for (; j < n; ++j) tail += a[j] * b[j];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
}

// The mean m of x (0 for RMSNorm, centred = false) and r = 1 / sqrt(mean((x - m)^2) + eps).
template <class S>
struct norm_statistics {
  S mean = 0;
  S inverse_rms = 0;

  norm_statistics(const S* x, index n, S eps, bool centred) {
    if (centred) {
      S sum = 0;
      for (index i = 0; i < n; ++i) sum += x[i];
      mean = sum / static_cast<S>(n);
    }
    // The squares in dot's order, on x - m as it is stored: RMSNorm's sum is dot(x, x).
    S acc[8] = {};
    index j = 0;
    for (; j + 8 <= n; j += 8)
      for (int k = 0; k < 8; ++k) {
        const S d = x[j + k] - mean;
        acc[k] += d * d;
      }
    S tail = 0;
    for (; j < n; ++j) tail += (x[j] - mean) * (x[j] - mean);
    const S ss =
        ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
    inverse_rms = S(1) / std::sqrt(ss / static_cast<S>(n) + eps);
  }
};

// y = w * (x - m) * r + b (b may be null): RMSNorm (centred = false) or LayerNorm with the
// population variance (centred = true).
template <class S>
void norm(const S* x, const S* w, const S* b, S* y, index n, S eps, bool centred) {
  const norm_statistics<S> st(x, n, eps, centred);
  if (b)
    for (index i = 0; i < n; ++i) y[i] = w[i] * (st.inverse_rms * (x[i] - st.mean)) + b[i];
  else
    for (index i = 0; i < n; ++i) y[i] = w[i] * (st.inverse_rms * (x[i] - st.mean));
}

// dx += dL/dx; dw += dy * xhat; db += dy (dw, db may be null). With xhat = (x - m) r and
// g = dy * w: dx = r (g - mean(g) - xhat mean(g xhat)), the mean(g) term only when centred.
template <class S>
void norm_backward(const S* x, const S* w, const S* dy, S* dx, S* dw, S* db, index n, S eps,
                   bool centred) {
  const norm_statistics<S> st(x, n, eps, centred);
  const S r = st.inverse_rms;
  S g_mean = 0;
  S gx_mean = 0;
  for (index i = 0; i < n; ++i) {
    const S g = dy[i] * w[i];
    g_mean += g;
    gx_mean += g * (x[i] - st.mean) * r;
  }
  g_mean = centred ? g_mean / static_cast<S>(n) : S(0);
  gx_mean /= static_cast<S>(n);
  for (index i = 0; i < n; ++i) {
    const S xhat = (x[i] - st.mean) * r;
    dx[i] += r * (dy[i] * w[i] - g_mean - xhat * gx_mean);
    if (dw) dw[i] += dy[i] * xhat;
    if (db) db[i] += dy[i];
  }
}

// cos and sin of position * inv_freq[j] for the half = head_dim / 2 rotary pairs, computed in
// double and rounded to S once, so that the model and the tape rotate by the same numbers.
template <class S>
void rope_angles(index position, const double* inv_freq, index half, S* c, S* s) {
  for (index j = 0; j < half; ++j) {
    const double angle = static_cast<double>(position) * inv_freq[j];
    c[j] = static_cast<S>(std::cos(angle));
    s[j] = static_cast<S>(std::sin(angle));
  }
}

// Rotates adjacent pairs (2j, 2j+1) of each head by the angle whose cosine and sine are c[j],
// s[j] (llama2.c and GGUF layout; Hugging Face checkpoints pair j with j + head_dim/2 and are
// permuted on loading). With sign = -1 it rotates by the opposite angle, which is the backward
// pass: a rotation's transpose is its inverse.
template <class S>
void rope(S* v, index heads, index head_dim, const S* c, const S* s, S sign = S(1)) {
  for (index h = 0; h < heads; ++h)
    for (index j = 0; j < head_dim / 2; ++j) {
      S* pair = v + h * head_dim + 2 * j;
      const S a = pair[0];
      const S b = pair[1];
      const S sn = sign * s[j];
      pair[0] = a * c[j] - b * sn;
      pair[1] = a * sn + b * c[j];
    }
}

// Softmax of x[0, n) in place.
template <class S>
void softmax(S* x, index n) {
  S top = x[0];
  for (index i = 1; i < n; ++i) top = std::max(top, x[i]);
  S sum = 0;
  for (index i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - top);
    sum += x[i];
  }
  for (index i = 0; i < n; ++i) x[i] /= sum;
}

// Given p = softmax(s) and dp, overwrites dp with ds = p * (dp - p . dp).
template <class S>
void softmax_backward(const S* p, S* dp, index n) {
  S along = 0;
  for (index i = 0; i < n; ++i) along += p[i] * dp[i];
  for (index i = 0; i < n; ++i) dp[i] = p[i] * (dp[i] - along);
}

// SiLU, x sigmoid(x), written as run.c writes it.
template <class S>
S silu(S x) {
  return x / (S(1) + std::exp(-x));
}

template <class S>
S silu_derivative(S x) {
  const S sg = S(1) / (S(1) + std::exp(-x));
  return sg * (S(1) + x * (S(1) - sg));
}

// GPT-2's GELU, the tanh approximation: x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
template <class S>
S gelu(S x) {
  const S k = static_cast<S>(std::sqrt(2.0 / std::numbers::pi));
  return S(0.5) * x * (S(1) + std::tanh(k * (x + S(0.044715) * x * x * x)));
}

template <class S>
S gelu_derivative(S x) {
  const S k = static_cast<S>(std::sqrt(2.0 / std::numbers::pi));
  const S t = std::tanh(k * (x + S(0.044715) * x * x * x));
  return S(0.5) * (S(1) + t) + S(0.5) * x * (S(1) - t * t) * k * (S(1) + S(3 * 0.044715) * x * x);
}

// Causal attention of one query token over positions [0, length) of one cached sequence, for
// every query head: head h reads key/value head h / (heads / kv_heads). `scores` holds length
// entries of scratch. (The tape's attention over whole sequences is blocked matrix products
// with this softmax and softmax_backward per row; see training/backward.hpp.)
template <class S>
void attend(const S* q, const S* const* keys, const S* const* values, index length, index heads,
            index kv_heads, index head_dim, S* scores, S* out) {
  const index group = heads / kv_heads;
  const S scale = S(1) / std::sqrt(static_cast<S>(head_dim));
  for (index h = 0; h < heads; ++h) {
    const S* qh = q + h * head_dim;
    const index offset = (h / group) * head_dim;
    for (index t = 0; t < length; ++t) scores[t] = dot(qh, keys[t] + offset, head_dim) * scale;
    softmax(scores, length);
    S* oh = out + h * head_dim;
    std::fill(oh, oh + head_dim, S(0));
    for (index t = 0; t < length; ++t) {
      const S* v = values[t] + offset;
      for (index d = 0; d < head_dim; ++d) oh[d] += scores[t] * v[d];
    }
  }
}

}  // namespace attrib::detail::kernels
