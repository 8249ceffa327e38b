#pragma once
// One dense layer over a batch of rows, pre = in W^T + b and post = act(pre), the step every MLP
// forward pass repeats. Games ask for thousands of rows of a narrow model (13-16-16-3 for the wine
// study): products of 13 or 16 columns are too short for Eigen's GEMM to reach speed, and the tanh
// after them cost as much again. On processors with AVX2 and FMA (core/cpu_dispatch.hpp) a
// register-tiled kernel computes 3 rows x 16 outputs (or more rows of fewer outputs) at a time,
// keeps the tile in registers from the bias to the activation, and stores it once; elsewhere, and
// for layers too large for the kernel's working set, Eigen's product and the batch activations
// run as before.
//
// Each output is b_j + sum_k x_k W_jk accumulated in k order with one fused multiply-add per term,
// in every tile shape, so a row's result never depends on its place in the batch or on the
// batch's size: results stay identical across batch splits and thread counts.
#include <algorithm>
#include <vector>

#include "attrib/core/cpu_dispatch.hpp"
#include "attrib/core/types.hpp"
#include "attrib/models/activation.hpp"
#include "attrib/models/detail/tanh_avx2.hpp"
#include "attrib/models/detail/tanh_avx512.hpp"

#ifdef ATTRIB_X86_DISPATCH
#include <immintrin.h>
#endif

namespace attrib::detail {

#ifdef ATTRIB_X86_DISPATCH
// Row-major operands: in is rows x in_cols, pre and post rows x outputs (pre may be null). The
// weights come transposed and packed, in_cols rows of `padded` outputs (a multiple of 4, or of 8
// for AVX-512; the padding zero), with the bias padded the same way, so every load is a whole
// register.
struct dense_operands {
  const double* in;
  index rows;
  index in_cols;
  const double* packed_weight;
  const double* packed_bias;
  index outputs;
  index padded;
  activation act;
  double* pre;
  double* post;
};

// R rows from r0 by JV registers of 4 outputs from output j0.
template <int R, int JV>
ATTRIB_TARGET_AVX2_FMA inline void dense_tile_avx2(const dense_operands& d, index r0, index j0) {
  // The fixed-count loops are unrolled by hand (the pragmas), so that acc and x live in registers.
  __m256d acc[R][JV];
  _Pragma("GCC unroll 8") for (int v = 0; v < JV; ++v) {
    const __m256d b = _mm256_loadu_pd(d.packed_bias + j0 + 4 * v);
    _Pragma("GCC unroll 8") for (int r = 0; r < R; ++r) acc[r][v] = b;
  }
  const double* row = d.in + r0 * d.in_cols;
  for (index k = 0; k < d.in_cols; ++k) {
    __m256d x[R];
    _Pragma("GCC unroll 8") for (int r = 0; r < R; ++r) x[r] = _mm256_broadcast_sd(row + r * d.in_cols + k);
    const double* w = d.packed_weight + k * d.padded + j0;
    _Pragma("GCC unroll 8") for (int v = 0; v < JV; ++v) {
      const __m256d wv = _mm256_loadu_pd(w + 4 * v);
      _Pragma("GCC unroll 8") for (int r = 0; r < R; ++r) acc[r][v] = _mm256_fmadd_pd(x[r], wv, acc[r][v]);
    }
  }
  const __m256i lanes = _mm256_set_epi64x(3, 2, 1, 0);
  _Pragma("GCC unroll 8") for (int r = 0; r < R; ++r) {
    _Pragma("GCC unroll 8") for (int v = 0; v < JV; ++v) {
      const index j = j0 + 4 * v;
      const index at = (r0 + r) * d.outputs + j;
      const __m256d value = d.act == activation::tanh ? tanh_avx2(acc[r][v]) : acc[r][v];
      if (j + 4 <= d.outputs) {
        if (d.pre) _mm256_storeu_pd(d.pre + at, acc[r][v]);
        _mm256_storeu_pd(d.post + at, value);
      } else {  // the row's last, partial register: only its live lanes are written
        const __m256i live = _mm256_cmpgt_epi64(_mm256_set1_epi64x(static_cast<long long>(d.outputs - j)), lanes);
        if (d.pre) _mm256_maskstore_pd(d.pre + at, live, acc[r][v]);
        _mm256_maskstore_pd(d.post + at, live, value);
      }
    }
  }
}

template <int R>
ATTRIB_TARGET_AVX2_FMA inline void dense_rows_avx2(const dense_operands& d, index r0) {
  index j = 0;
  for (; j + 16 <= d.padded; j += 16) dense_tile_avx2<R, 4>(d, r0, j);
  switch ((d.padded - j) / 4) {
    case 3: dense_tile_avx2<R, 3>(d, r0, j); break;
    case 2: dense_tile_avx2<R, 2>(d, r0, j); break;
    case 1: dense_tile_avx2<R, 1>(d, r0, j); break;
    default: break;
  }
}

template <int R>
ATTRIB_TARGET_AVX2_FMA inline void dense_blocks_avx2(const dense_operands& d) {
  index r = 0;
  for (; r + R <= d.rows; r += R) dense_rows_avx2<R>(d, r);
  for (; r < d.rows; ++r) dense_rows_avx2<1>(d, r);
}

// About 12 accumulators a tile, enough independent sums to hide the multiply-add's latency: 3 rows
// of 16 outputs, or more rows when the layer is narrower (8 rows of an output layer's 3 logits).
// Tanh and identity are applied in registers, the other activations after the layer.
ATTRIB_TARGET_AVX2_FMA inline void dense_forward_avx2(const dense_operands& d) {
  switch (d.padded / 4) {
    case 1: dense_blocks_avx2<8>(d); break;
    case 2: dense_blocks_avx2<6>(d); break;
    case 3: dense_blocks_avx2<4>(d); break;
    default: dense_blocks_avx2<3>(d); break;
  }
  if (d.act != activation::tanh && d.act != activation::identity)
    activate_in_place(d.act, d.post, d.rows * d.outputs);
}

ATTRIB_AVX512_WARNINGS_OFF
// The same kernel with AVX-512F: R rows by JV registers of 8 outputs, the same fused
// multiply-adds in the same order and the same tanh, so its results equal the AVX2 kernel's bit
// for bit (tested); it needs the outputs padded to a multiple of 8 (pack_dense does so on
// processors that run it).
template <int R, int JV>
ATTRIB_TARGET_AVX512 inline void dense_tile_avx512(const dense_operands& d, index r0, index j0) {
  __m512d acc[R][JV];
  _Pragma("GCC unroll 8") for (int v = 0; v < JV; ++v) {
    const __m512d b = _mm512_loadu_pd(d.packed_bias + j0 + 8 * v);
    _Pragma("GCC unroll 8") for (int r = 0; r < R; ++r) acc[r][v] = b;
  }
  const double* row = d.in + r0 * d.in_cols;
  for (index k = 0; k < d.in_cols; ++k) {
    __m512d x[R];
    _Pragma("GCC unroll 8") for (int r = 0; r < R; ++r) x[r] = _mm512_set1_pd(row[r * d.in_cols + k]);
    const double* w = d.packed_weight + k * d.padded + j0;
    _Pragma("GCC unroll 8") for (int v = 0; v < JV; ++v) {
      const __m512d wv = _mm512_loadu_pd(w + 8 * v);
      _Pragma("GCC unroll 8") for (int r = 0; r < R; ++r) acc[r][v] = _mm512_fmadd_pd(x[r], wv, acc[r][v]);
    }
  }
  _Pragma("GCC unroll 8") for (int r = 0; r < R; ++r) {
    _Pragma("GCC unroll 8") for (int v = 0; v < JV; ++v) {
      const index j = j0 + 8 * v;
      const index at = (r0 + r) * d.outputs + j;
      const __m512d value = d.act == activation::tanh ? tanh_avx512(acc[r][v]) : acc[r][v];
      // Only the live lanes are written (all eight but in a row's last, partial register).
      const auto live = static_cast<__mmask8>(j + 8 <= d.outputs ? 0xff : (1u << (d.outputs - j)) - 1u);
      if (d.pre) _mm512_mask_storeu_pd(d.pre + at, live, acc[r][v]);
      _mm512_mask_storeu_pd(d.post + at, live, value);
    }
  }
}

template <int R>
ATTRIB_TARGET_AVX512 inline void dense_rows_avx512(const dense_operands& d, index r0) {
  index j = 0;
  for (; j + 16 <= d.padded; j += 16) dense_tile_avx512<R, 2>(d, r0, j);
  if (j < d.padded) dense_tile_avx512<R, 1>(d, r0, j);
}

template <int R>
ATTRIB_TARGET_AVX512 inline void dense_blocks_avx512(const dense_operands& d) {
  index r = 0;
  for (; r + R <= d.rows; r += R) dense_rows_avx512<R>(d, r);
  for (; r < d.rows; ++r) dense_rows_avx512<1>(d, r);
}

// 3 rows of 16 outputs (6 accumulators, the 32 registers keeping tanh's constants), or 8 rows of
// an output layer's few logits; measured on the 13-16-16-3 MLP, 1.45x the AVX2 kernel.
ATTRIB_TARGET_AVX512 inline void dense_forward_avx512(const dense_operands& d) {
  if (d.padded == 8)
    dense_blocks_avx512<8>(d);
  else
    dense_blocks_avx512<3>(d);
  if (d.act != activation::tanh && d.act != activation::identity)
    activate_in_place(d.act, d.post, d.rows * d.outputs);
}
ATTRIB_AVX512_WARNINGS_ON

// Every tile streams all the packed weights, which must stay in the second-level cache: 8192
// doubles (64 KiB) cover the narrow models games and gradients evaluate by the thousand rows;
// larger layers go to Eigen's packed GEMM.
inline constexpr index dense_avx2_max_weights = 8192;
#endif

// A layer's weights as the tiled kernel reads them: W^T with the outputs padded to a multiple of
// 4, or 8 where the AVX-512 kernel runs (the padding zero), then the padded bias. Packed once per
// set of weights by the model that owns them (a pass of 50 rows, an IG path, would otherwise spend a fifth of its time packing);
// empty where the kernel does not run, which sends dense_forward to the portable path.
struct dense_packing {
  std::vector<double> values;
  index padded = 0;
};

// Packs into p, reusing its storage (training repacks after every step; no allocation then).
template <class = void>
void pack_dense(const matrix& weight, const vector& bias, dense_packing& p) {
  p.values.clear();
  p.padded = 0;
#ifdef ATTRIB_X86_DISPATCH
  const index outputs = weight.rows(), inputs = weight.cols();
  const index lanes = has_avx512f() ? 8 : 4;  // a whole register of outputs for the kernel that runs
  const index padded = (outputs + lanes - 1) / lanes * lanes;
  if (!has_avx2_fma() || inputs * padded > dense_avx2_max_weights) return;
  p.padded = padded;
  p.values.assign(static_cast<std::size_t>((inputs + 1) * padded), 0.0);
  for (index j = 0; j < outputs; ++j) {
    for (index k = 0; k < inputs; ++k) p.values[static_cast<std::size_t>(k * padded + j)] = weight(j, k);
    p.values[static_cast<std::size_t>(inputs * padded + j)] = bias(j);
  }
#else
  (void)weight;
  (void)bias;
#endif
}
template <class = void>
dense_packing pack_dense(const matrix& weight, const vector& bias) {
  dense_packing p;
  pack_dense(weight, bias, p);
  return p;
}

// The portable path: Eigen's product, then the batch activation.
template <class = void>
void dense_forward_portable(const double* in, index rows, index in_cols, const matrix& weight, const vector& bias,
                            activation act, double* pre, double* post) {
  Eigen::Map<matrix> out(post, rows, weight.rows());
  out.noalias() = Eigen::Map<const matrix>(in, rows, in_cols) * weight.transpose();
  out.rowwise() += bias.transpose();
  if (pre) Eigen::Map<matrix>(pre, rows, weight.rows()) = out;
  activate_in_place(act, post, out.size());
}

// post = act(in W^T + b) for the rows x in_cols row-major block at `in`, and pre = in W^T + b when
// pre is not null; both rows x weight.rows(), row-major, not overlapping `in`. `packing` is
// pack_dense(weight, bias).
template <class = void>
void dense_forward(const double* in, index rows, index in_cols, const matrix& weight, const vector& bias,
                   activation act, const dense_packing& packing, double* pre, double* post) {
#ifdef ATTRIB_X86_DISPATCH
  if (!packing.values.empty()) {
    const double* packed = packing.values.data();
    const dense_operands d{in, rows, in_cols, packed, packed + in_cols * packing.padded,
                           weight.rows(), packing.padded, act, pre, post};
    if (has_avx512f())
      dense_forward_avx512(d);
    else
      dense_forward_avx2(d);
    return;
  }
#endif
  dense_forward_portable(in, rows, in_cols, weight, bias, act, pre, post);
}

}  // namespace attrib::detail
