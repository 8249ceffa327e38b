#pragma once
// tanh of four doubles at once with AVX2 and fused multiply-adds, for processors that have them
// (see core/cpu_dispatch.hpp). glibc's scalar exp, which the portable path uses, costs about
// 3.5 ns an element here, and tanh needs a division after it; this kernel computes a register of
// four in about the time glibc computes one.
//
// tanh|x| = -m / (2 + m) with m = e^y - 1, y = -2|x|, computed without cancellation: y = k ln 2 + r
// with |r| <= ln 2 / 2 (Cody and Waite's two-part ln 2), e^r - 1 = r (1 + r/2! + ... + r^12/13!)
// (the first dropped term is below 1e-17 of the sum), and m = 2^k (e^r - 1) + (2^k - 1). For
// |x| < 0.17, k = 0 and m is the series itself, so small arguments stay accurate relative to their
// own size with no separate branch. Within about 3 ulp of std::tanh (tested); y is clamped at -40,
// where tanh already rounds to 1; NaN in, NaN out; the sign of zero is kept.
#include "attrib/core/cpu_dispatch.hpp"
#include "attrib/core/types.hpp"

#ifdef ATTRIB_X86_DISPATCH
#include <immintrin.h>

namespace attrib::detail {

// The kernel's constants, shared with its eight-lane version (tanh_avx512.hpp), which must compute
// the same operations to give the same bits.
namespace tanh_kernel {
inline constexpr double shift = 6755399441055744.0;  // 1.5 * 2^52: k = round(y / ln 2) in the low bits
inline constexpr double inv_ln2 = 1.4426950408889634;
inline constexpr double ln2_high = 6.93145751953125e-1;  // Cody and Waite's two parts of ln 2
inline constexpr double ln2_low = 1.42860682030941723212e-6;
// 1/13!, ..., 1/2!, 1: Horner's order for e^r - 1 = r (1 + r/2! + ... + r^12/13!).
inline constexpr double series[] = {1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0,
                                    1.0 / 362880.0,     1.0 / 40320.0,     1.0 / 5040.0,     1.0 / 720.0,
                                    1.0 / 120.0,        1.0 / 24.0,        1.0 / 6.0,        0.5,
                                    1.0};
}  // namespace tanh_kernel

ATTRIB_TARGET_AVX2_FMA inline __m256d tanh_avx2(__m256d x) {
  const __m256d sign = _mm256_set1_pd(-0.0);
  const __m256d a = _mm256_andnot_pd(sign, x);
  // max() returns its second operand for NaN, so a NaN lane computes tanh(20) and is put back below.
  const __m256d y = _mm256_max_pd(_mm256_mul_pd(a, _mm256_set1_pd(-2.0)), _mm256_set1_pd(-40.0));
  // k = round(y / ln 2): adding 1.5 * 2^52 leaves k in the low bits of the sum.
  const __m256d shift = _mm256_set1_pd(tanh_kernel::shift);
  const __m256d shifted = _mm256_fmadd_pd(y, _mm256_set1_pd(tanh_kernel::inv_ln2), shift);
  const __m256d k = _mm256_sub_pd(shifted, shift);
  __m256d r = _mm256_fnmadd_pd(k, _mm256_set1_pd(tanh_kernel::ln2_high), y);
  r = _mm256_fnmadd_pd(k, _mm256_set1_pd(tanh_kernel::ln2_low), r);
  // e^r - 1 by Horner on the Taylor coefficients.
  __m256d q = _mm256_set1_pd(tanh_kernel::series[0]);
  _Pragma("GCC unroll 12") for (int i = 1; i < 13; ++i)
      q = _mm256_fmadd_pd(q, r, _mm256_set1_pd(tanh_kernel::series[i]));
  const __m256d em1_r = _mm256_mul_pd(q, r);
  // 2^k from its exponent bits: the low 12 bits of the shifted sum plus the bias, moved up 52.
  const __m256i k_bits = _mm256_add_epi64(_mm256_castpd_si256(shifted), _mm256_set1_epi64x(1023));
  const __m256d two_k = _mm256_castsi256_pd(_mm256_slli_epi64(k_bits, 52));
  const __m256d one = _mm256_set1_pd(1.0);
  const __m256d m = _mm256_fmadd_pd(two_k, em1_r, _mm256_sub_pd(two_k, one));
  const __m256d t = _mm256_div_pd(m, _mm256_sub_pd(_mm256_set1_pd(-2.0), m));  // -m / (2 + m)
  const __m256d signed_t = _mm256_or_pd(_mm256_andnot_pd(sign, t), _mm256_and_pd(sign, x));
  return _mm256_blendv_pd(signed_t, x, _mm256_cmp_pd(x, x, _CMP_UNORD_Q));
}

// out[i] = tanh(in[i]) for i < n; in and out may be the same array. The last partial register is
// loaded and stored under a mask, so every element goes through the same instructions.
ATTRIB_TARGET_AVX2_FMA inline void tanh_array_avx2(const double* in, double* out, index n) {
  index i = 0;
  for (; i + 4 <= n; i += 4) _mm256_storeu_pd(out + i, tanh_avx2(_mm256_loadu_pd(in + i)));
  if (i < n) {
    const __m256i lanes = _mm256_set_epi64x(3, 2, 1, 0);
    const __m256i mask = _mm256_cmpgt_epi64(_mm256_set1_epi64x(static_cast<long long>(n - i)), lanes);
    _mm256_maskstore_pd(out + i, mask, tanh_avx2(_mm256_maskload_pd(in + i, mask)));
  }
}

}  // namespace attrib::detail
#endif
