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
//
// On GCC and clang the hot loops hold the eight partial sums as one vector of eight lanes (one
// AVX register, two SSE registers): the same additions in the same order as the scalar loop, so
// the results are bitwise those of the plain code, at SIMD speed whatever -march says. The
// plain loops remain the definition, and are what a device compiler sees.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <numbers>
#include <type_traits>

#include "attrib/core/cpu_dispatch.hpp"
#include "attrib/core/simd.hpp"
#include "attrib/core/types.hpp"

#ifdef ATTRIB_X86_DISPATCH
#include <immintrin.h>
#endif

namespace attrib::detail::kernels {

#ifdef ATTRIB_SIMD
// Eight values of S - dot()'s eight partial sums - as `parts` whole SIMD registers (one AVX
// register of floats, two SSE registers, four of doubles): arrays of native vectors whose loops
// unroll completely, which is what lets the compiler keep them in registers (a 32-byte vector on
// an SSE build, or a struct, lives on the stack). Loaded and stored through memcpy: any alignment.
template <class S>
inline constexpr int parts = static_cast<int>(8 * sizeof(S)) / simd_bytes;
template <class S>
inline constexpr int per_part = simd_bytes / static_cast<int>(sizeof(S));

template <class S>
inline void load8(simd<S>* v, const S* p) {
#pragma GCC unroll 8
  for (int i = 0; i < parts<S>; ++i) std::memcpy(&v[i], p + i * per_part<S>, sizeof(simd<S>));
}

// dot()'s pairwise combination of its eight partial sums, then the tail.
template <class S>
inline S combine(const simd<S>* acc, S tail) {
  auto lane = [&](int k) { return acc[k / per_part<S>][k % per_part<S>]; };
  return ((lane(0) + lane(4)) + (lane(1) + lane(5))) + ((lane(2) + lane(6)) + (lane(3) + lane(7))) +
         tail;
}
#endif

// sum a[i] b[i]: eight interleaved partial sums (acc[k] holds the terms with i = k mod 8)
// combined pairwise, then the tail.
template <class S>
inline S dot(const S* a, const S* b, index n) {
  index j = 0;
#ifdef ATTRIB_SIMD
  simd<S> acc[parts<S>] = {};
  for (; j + 8 <= n; j += 8) {
    simd<S> x[parts<S>], y[parts<S>];
    load8(x, a + j);
    load8(y, b + j);
#pragma GCC unroll 8
    for (int p = 0; p < parts<S>; ++p) acc[p] += x[p] * y[p];
  }
  S tail = 0;
  for (; j < n; ++j) tail += a[j] * b[j];
  return combine(acc, tail);
#else
  S acc[8] = {};
  for (; j + 8 <= n; j += 8)
    for (int k = 0; k < 8; ++k) acc[k] += a[j + k] * b[j + k];
  S tail = 0;
  for (; j < n; ++j) tail += a[j] * b[j];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
#endif
}

// y[r y_stride + c] = dot(x + r x_stride, w + c w_stride, n) for r < R, c < C: an R x C tile of
// a product x w^T. Each loaded vector of x serves C sums and each of w serves R, which is what
// lifts a matrix product from load-bound towards arithmetic-bound; every sum is still dot()'s.
template <int R, int C, class S>
inline void dot_tile(const S* x, index x_stride, const S* w, index w_stride, index n, S* y,
                     index y_stride) {
#ifdef ATTRIB_SIMD
  constexpr int P = parts<S>;
  simd<S> acc[R][C][P] = {};
  index j = 0;
  for (; j + 8 <= n; j += 8) {
    simd<S> xv[R][P];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) load8(xv[r], x + r * x_stride + j);
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) {
      simd<S> wv[P];
      load8(wv, w + c * w_stride + j);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
        for (int p = 0; p < P; ++p) acc[r][c][p] += xv[r][p] * wv[p];
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) {
      S tail = 0;
      for (index k = j; k < n; ++k) tail += x[r * x_stride + k] * w[c * w_stride + k];
      y[r * y_stride + c] = combine(acc[r][c], tail);
    }
#else
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) y[r * y_stride + c] = dot(x + r * x_stride, w + c * w_stride, n);
#endif
}

// out[r] = dot(x, w[r], n) for four rows, bit for bit. The rows share the loads of x, and their
// partial sums are reduced together - a 4 x 4 transpose, then two vector adds - instead of one
// horizontal reduction per row, which costs as much as the products for short rows (the heads
// and matrices of small models).
template <class S>
inline void dot4(const S* x, const S* const* w, index n, S* out) {
#ifdef ATTRIB_SIMD
  if constexpr (std::is_same_v<S, float>) {
    typedef float f4 __attribute__((vector_size(4 * sizeof(float))));
    constexpr int P = parts<float>;
    const index body = n - n % 8;
    simd<float> acc[4][P] = {};
    for (index j = 0; j < body; j += 8) {
      simd<float> xv[P];
      load8(xv, x + j);
#pragma GCC unroll 4
      for (int r = 0; r < 4; ++r) {
        simd<float> wv[P];
        load8(wv, w[r] + j);
#pragma GCC unroll 8
        for (int p = 0; p < P; ++p) acc[r][p] += xv[p] * wv[p];
      }
    }
    // l[r] = (a0 + a4, a1 + a5, a2 + a6, a3 + a7) of row r; transposed, combine()'s pairs.
    f4 l[4];
    f4 tail = {};
#pragma GCC unroll 4
    for (int r = 0; r < 4; ++r) {
      f4 half[2];
      std::memcpy(half, acc[r], sizeof half);
      l[r] = half[0] + half[1];
      float rest = 0;
      for (index j = body; j < n; ++j) rest += x[j] * w[r][j];
      tail[r] = rest;
    }
    const f4 t0 = __builtin_shufflevector(l[0], l[1], 0, 4, 1, 5);
    const f4 t1 = __builtin_shufflevector(l[2], l[3], 0, 4, 1, 5);
    const f4 t2 = __builtin_shufflevector(l[0], l[1], 2, 6, 3, 7);
    const f4 t3 = __builtin_shufflevector(l[2], l[3], 2, 6, 3, 7);
    const f4 c0 = __builtin_shufflevector(t0, t1, 0, 1, 4, 5);
    const f4 c1 = __builtin_shufflevector(t0, t1, 2, 3, 6, 7);
    const f4 c2 = __builtin_shufflevector(t2, t3, 0, 1, 4, 5);
    const f4 c3 = __builtin_shufflevector(t2, t3, 2, 3, 6, 7);
    const f4 result = ((c0 + c1) + (c2 + c3)) + tail;
    std::memcpy(out, &result, sizeof result);
    return;
  }
#endif
  for (int r = 0; r < 4; ++r) out[r] = dot(x, w[r], n);
}

#ifdef ATTRIB_X86_DISPATCH
// dot_tile for floats on a processor with AVX2 under a baseline build: each sum's eight lanes in
// one 256-bit register instead of two SSE ones, so a 3 x 3 tile fits AVX's sixteen registers
// (3 x 4 spills) and every instruction does twice the work: 71 against 35 GFLOP/s on GPT-2
// small's 768 x 3072 layer here. The same lane-wise multiplies and adds - the target leaves out
// FMA, so the compiler cannot fuse them - and dot()'s combination and tail: the bits of dot(),
// whichever path a processor takes (tested).
template <int R, int C>
ATTRIB_TARGET_AVX2 void dot_tile_avx2(const float* x, index x_stride, const float* w, index w_stride,
                                      index n, float* y, index y_stride) {
  __m256 acc[R][C];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_ps();
  index j = 0;
  for (; j + 8 <= n; j += 8) {
    __m256 xv[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) xv[r] = _mm256_loadu_ps(x + r * x_stride + j);
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) {
      const __m256 wv = _mm256_loadu_ps(w + c * w_stride + j);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) acc[r][c] = _mm256_add_ps(acc[r][c], _mm256_mul_ps(xv[r], wv));
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) {
      float lane[8];
      _mm256_storeu_ps(lane, acc[r][c]);
      float tail = 0;
      for (index k = j; k < n; ++k) tail += x[r * x_stride + k] * w[c * w_stride + k];
      y[r * y_stride + c] =
          ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7])) + tail;
    }
}
#endif

// y[i y_stride + o] = dot(x_i, w_o, n) for the rows i < rows of x and o < outputs of w: a block
// of x w^T in tiles of several rows and outputs (fewer at the edges).
template <class S>
void dot_rows(const S* x, index x_stride, index rows, const S* w, index w_stride, index outputs,
              index n, S* y, index y_stride) {
  // 3 x 2 tiles of eight-lane sums fill 12 of SSE's 16 registers (2 x 4 spilled: 0.54 of the
  // same-run GEMM's speed on GPT-2 small's prompt, against 0.73); AVX holds eight lanes in one,
  // and a baseline build on an AVX2 processor takes dot_tile_avx2 for floats.
  constexpr int tile_rows = 3;
#ifdef ATTRIB_SIMD
  constexpr int tile_cols = simd_bytes == 32 ? 4 : 2;
#else
  constexpr int tile_cols = 2;
#endif
  index i = 0;
#ifdef ATTRIB_X86_DISPATCH
  if constexpr (std::is_same_v<S, float> && simd_bytes == 16)
    if (has_avx2()) {
      for (; i + 3 <= rows; i += 3) {
        const float* xi = x + i * x_stride;
        float* yi = y + i * y_stride;
        index o = 0;
        for (; o + 3 <= outputs; o += 3)
          dot_tile_avx2<3, 3>(xi, x_stride, w + o * w_stride, w_stride, n, yi + o, y_stride);
        for (; o < outputs; ++o)
          dot_tile_avx2<3, 1>(xi, x_stride, w + o * w_stride, w_stride, n, yi + o, y_stride);
      }
    }
#endif
  for (; i + tile_rows <= rows; i += tile_rows) {
    const S* xi = x + i * x_stride;
    S* yi = y + i * y_stride;
    index o = 0;
    for (; o + tile_cols <= outputs; o += tile_cols)
      dot_tile<tile_rows, tile_cols>(xi, x_stride, w + o * w_stride, w_stride, n, yi + o, y_stride);
    for (; o < outputs; ++o)
      dot_tile<tile_rows, 1>(xi, x_stride, w + o * w_stride, w_stride, n, yi + o, y_stride);
  }
  // A lone row (a decode step) streams w once, row after row. Short rows go four at a time
  // through dot4 (neighbours in memory, so still one stream); long ones one by one: four streams
  // of long rows ran at 0.55-0.6 of one sequential stream here, in and out of cache.
  for (; i < rows; ++i) {
    const S* xi = x + i * x_stride;
    S* yi = y + i * y_stride;
    index o = 0;
    if (n <= 256)
      for (; o + 4 <= outputs; o += 4) {
        const S* four[4] = {w + o * w_stride, w + (o + 1) * w_stride, w + (o + 2) * w_stride,
                            w + (o + 3) * w_stride};
        dot4(xi, four, n, yi + o);
      }
    for (; o < outputs; ++o) yi[o] = dot(xi, w + o * w_stride, n);
  }
}

// out[d] = sum_t weights[t] rows[t][offset + d] for d < n, summed in t order from zero: the
// weighted sum of value rows that ends attention. Blocks of 32 outputs stay in registers across
// all rows (accumulating through memory would chain every row's add behind the previous store).
template <class S>
inline void weighted_rows(const S* weights, const S* const* rows, index offset, index length,
                          index n, S* out) {
  index d = 0;
#ifdef ATTRIB_SIMD
  constexpr int P = parts<S>;
  for (; d + 32 <= n; d += 32) {
    simd<S> acc[4][P] = {};
    for (index t = 0; t < length; ++t) {
      const S* row = rows[t] + offset + d;
      const S w = weights[t];
#pragma GCC unroll 4
      for (int b = 0; b < 4; ++b) {
        simd<S> v[P];
        load8(v, row + 8 * b);
#pragma GCC unroll 8
        for (int p = 0; p < P; ++p) acc[b][p] += w * v[p];
      }
    }
    std::memcpy(out + d, acc, sizeof acc);
  }
  for (; d + 8 <= n; d += 8) {
    simd<S> acc[P] = {};
    for (index t = 0; t < length; ++t) {
      simd<S> v[P];
      load8(v, rows[t] + offset + d);
#pragma GCC unroll 8
      for (int p = 0; p < P; ++p) acc[p] += weights[t] * v[p];
    }
    std::memcpy(out + d, acc, sizeof acc);
  }
#endif
  for (; d < n; ++d) {
    S acc = 0;
    for (index t = 0; t < length; ++t) acc += weights[t] * rows[t][offset + d];
    out[d] = acc;
  }
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

// x[i] = e^(x[i] - shift) for i < n. Every element takes the same path (the tail is padded to a
// full vector), so a value's result does not depend on its place in the array.
template <class S>
void exp_shifted(S* x, index n, S shift) {
#ifdef ATTRIB_SIMD
  if constexpr (std::is_same_v<S, float>) {
    constexpr index width = simd_bytes / static_cast<index>(sizeof(float));
    index i = 0;
    simd<float> v;
    for (; i + width <= n; i += width) {
      std::memcpy(&v, x + i, sizeof v);
      v -= shift;
      exp_simd(v);
      std::memcpy(x + i, &v, sizeof v);
    }
    if (i < n) {
      const auto tail = static_cast<std::size_t>(n - i) * sizeof(float);
      v = simd<float>{};
      std::memcpy(&v, x + i, tail);
      v -= shift;
      exp_simd(v);
      std::memcpy(x + i, &v, tail);
    }
    return;
  }
#endif
  for (index i = 0; i < n; ++i) x[i] = std::exp(x[i] - shift);
}

// sum x[i]: dot()'s order (eight interleaved partial sums combined pairwise, then the tail).
template <class S>
inline S sum(const S* x, index n) {
  index j = 0;
#ifdef ATTRIB_SIMD
  simd<S> acc[parts<S>] = {};
  for (; j + 8 <= n; j += 8) {
    simd<S> v[parts<S>];
    load8(v, x + j);
#pragma GCC unroll 8
    for (int p = 0; p < parts<S>; ++p) acc[p] += v[p];
  }
  S tail = 0;
  for (; j < n; ++j) tail += x[j];
  return combine(acc, tail);
#else
  S acc[8] = {};
  for (; j + 8 <= n; j += 8)
    for (int k = 0; k < 8; ++k) acc[k] += x[j + k];
  S tail = 0;
  for (; j < n; ++j) tail += x[j];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
#endif
}

// The largest of x[0, n), skipping NaNs after x[0] as std::max does.
template <class S>
inline S max_of(const S* x, index n) {
  S top = x[0];
  index i = 1;
#ifdef ATTRIB_SIMD
  constexpr index width = per_part<S>;
  if (n > width) {
    simd<S> best = top - simd<S>{};  // every lane x[0]
    for (; i + width <= n; i += width) {
      simd<S> v;
      std::memcpy(&v, x + i, sizeof v);
      best = best < v ? v : best;
    }
    for (index k = 0; k < width; ++k) top = std::max(top, best[k]);
  }
#endif
  for (; i < n; ++i) top = std::max(top, x[i]);
  return top;
}

// x[i] /= d for i < n.
template <class S>
inline void divide(S* x, index n, S d) {
  index i = 0;
#ifdef ATTRIB_SIMD
  constexpr index width = per_part<S>;
  for (; i + width <= n; i += width) {
    simd<S> v;
    std::memcpy(&v, x + i, sizeof v);
    v /= d;
    std::memcpy(x + i, &v, sizeof v);
  }
#endif
  for (; i < n; ++i) x[i] /= d;
}

// Softmax of x[0, n) in place.
template <class S>
void softmax(S* x, index n) {
  exp_shifted(x, n, max_of(x, n));
  divide(x, n, sum(x, n));
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

// out[t] = scale * dot(q, rows[t] + offset, n) for t < length: attention's scores.
template <class S>
void scaled_dots(const S* q, const S* const* rows, index offset, index length, index n, S scale,
                 S* out) {
  index t = 0;
  for (; t + 4 <= length; t += 4) {
    const S* four[4] = {rows[t] + offset, rows[t + 1] + offset, rows[t + 2] + offset,
                        rows[t + 3] + offset};
    dot4(q, four, n, out + t);
    for (int r = 0; r < 4; ++r) out[t + r] *= scale;
  }
  for (; t < length; ++t) out[t] = dot(q, rows[t] + offset, n) * scale;
}

// Causal attention of one query token over positions [0, length) of one cached sequence, for
// every query head: head h reads key/value head h / (heads / kv_heads). `scores` holds length
// entries of scratch. The softmax's normalisation is applied to the head's output (head_dim
// divisions instead of length), as flash attention does. (The tape's attention over whole
// sequences is blocked matrix products with softmax and softmax_backward per row; see
// training/backward.hpp.)
template <class S>
void attend(const S* q, const S* const* keys, const S* const* values, index length, index heads,
            index kv_heads, index head_dim, S* scores, S* out) {
  const index group = heads / kv_heads;
  const S scale = S(1) / std::sqrt(static_cast<S>(head_dim));
  for (index h = 0; h < heads; ++h) {
    const index offset = (h / group) * head_dim;
    scaled_dots(q + h * head_dim, keys, offset, length, head_dim, scale, scores);
    exp_shifted(scores, length, max_of(scores, length));
    S* oh = out + h * head_dim;
    weighted_rows(scores, values, offset, length, head_dim, oh);
    divide(oh, head_dim, sum(scores, length));
  }
}

}  // namespace attrib::detail::kernels
