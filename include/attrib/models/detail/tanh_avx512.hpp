#pragma once
// tanh of eight doubles at once with AVX-512F: the operations of tanh_avx2 (tanh_avx2.hpp, where
// the method and its accuracy are described) in registers twice as wide, so every lane's bits
// equal the four-lane kernel's (tested) and a processor's choice of kernel changes speed only.
#include "attrib/core/cpu_dispatch.hpp"
#include "attrib/models/detail/tanh_avx2.hpp"

#ifdef ATTRIB_X86_DISPATCH
#include <immintrin.h>

ATTRIB_AVX512_WARNINGS_OFF

namespace attrib::detail {

ATTRIB_TARGET_AVX512 inline __m512d tanh_avx512(__m512d x) {
  // Sign and magnitude through and/or with bit masks (AVX-512F has no floating-point and/or).
  const __m512i sign_bits = _mm512_set1_epi64(static_cast<long long>(0x8000000000000000ull));
  const __m512i magnitude_bits = _mm512_set1_epi64(0x7fffffffffffffffll);
  const __m512d a = _mm512_castsi512_pd(_mm512_and_si512(magnitude_bits, _mm512_castpd_si512(x)));
  const __m512d y = _mm512_max_pd(_mm512_mul_pd(a, _mm512_set1_pd(-2.0)), _mm512_set1_pd(-40.0));
  const __m512d shift = _mm512_set1_pd(tanh_kernel::shift);
  const __m512d shifted = _mm512_fmadd_pd(y, _mm512_set1_pd(tanh_kernel::inv_ln2), shift);
  const __m512d k = _mm512_sub_pd(shifted, shift);
  __m512d r = _mm512_fnmadd_pd(k, _mm512_set1_pd(tanh_kernel::ln2_high), y);
  r = _mm512_fnmadd_pd(k, _mm512_set1_pd(tanh_kernel::ln2_low), r);
  __m512d q = _mm512_set1_pd(tanh_kernel::series[0]);
  _Pragma("GCC unroll 12") for (int i = 1; i < 13; ++i)
      q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(tanh_kernel::series[i]));
  const __m512d em1_r = _mm512_mul_pd(q, r);
  const __m512i k_bits = _mm512_add_epi64(_mm512_castpd_si512(shifted), _mm512_set1_epi64(1023));
  const __m512d two_k = _mm512_castsi512_pd(_mm512_slli_epi64(k_bits, 52));
  const __m512d m = _mm512_fmadd_pd(two_k, em1_r, _mm512_sub_pd(two_k, _mm512_set1_pd(1.0)));
  const __m512d t = _mm512_div_pd(m, _mm512_sub_pd(_mm512_set1_pd(-2.0), m));  // -m / (2 + m)
  const __m512i signed_t = _mm512_or_si512(_mm512_and_si512(magnitude_bits, _mm512_castpd_si512(t)),
                                           _mm512_and_si512(sign_bits, _mm512_castpd_si512(x)));
  return _mm512_mask_blend_pd(_mm512_cmp_pd_mask(x, x, _CMP_UNORD_Q), _mm512_castsi512_pd(signed_t), x);
}

// out[i] = tanh(in[i]) for i < n, n a multiple of 8 (the AVX2 array version handles tails).
ATTRIB_TARGET_AVX512 inline void tanh_array_avx512(const double* in, double* out, index n) {
  for (index i = 0; i + 8 <= n; i += 8) _mm512_storeu_pd(out + i, tanh_avx512(_mm512_loadu_pd(in + i)));
}

}  // namespace attrib::detail

ATTRIB_AVX512_WARNINGS_ON
#endif
