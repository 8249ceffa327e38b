#pragma once
// Portable SIMD values: the widest register the build targets, through GCC's and clang's vector
// extensions (no intrinsics, so SSE2, AVX and NEON builds share one code), and e^x on a whole
// register of floats. (A double version was tried for the MLPs' tanh: a 13-term polynomial on
// two lanes is slower than glibc's table-driven exp on SSE2. The MLPs' tanh runs four lanes with
// fused multiply-adds instead, chosen at run time: models/detail/tanh_avx2.hpp.) Only ever local
// variables, loaded and stored through memcpy (any alignment) and passed by reference, so no
// function's ABI depends on -march. ATTRIB_SIMD is undefined elsewhere (MSVC, device code), where
// callers keep their scalar loops.
#include <cmath>
#include <cstdint>
#include <cstring>

#if (defined(__GNUC__) || defined(__clang__)) && !defined(__CUDA_ARCH__)
#define ATTRIB_SIMD 1
#endif

#ifdef ATTRIB_SIMD
namespace attrib::detail {

// AVX's 32 bytes, else SSE2's or NEON's 16.
#if defined(__AVX__)
inline constexpr int simd_bytes = 32;
#else
inline constexpr int simd_bytes = 16;
#endif
template <class S>
struct simd_of {
  typedef S type __attribute__((vector_size(simd_bytes)));
};
template <class S>
using simd = typename simd_of<S>::type;
template <class S>
inline constexpr int simd_width = simd_bytes / static_cast<int>(sizeof(S));

// e^x in every lane, for x in [-87, 88] (clamped there; NaN stays NaN): Cephes' expf - x = k ln 2
// + r with |r| <= ln 2 / 2, a degree-7 polynomial for e^r, and 2^k built in the exponent bits.
// Within 1 ulp of std::exp (tested), a register of values at once where glibc's expf takes one.
// k = floor(x log2 e + 1/2) through integer conversion, which -ffast-math cannot fold away.
inline void exp_simd(simd<float>& x) {
  using int_simd = simd<std::int32_t>;
  const simd<float> in = x;
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  const simd<float> v = x * 1.44269504088896341f + 0.5f;
  int_simd k = __builtin_convertvector(v, int_simd);  // towards zero
  k += __builtin_convertvector(k, simd<float>) > v;   // -1 where that rounded up: floor
  const simd<float> kf = __builtin_convertvector(k, simd<float>);
  const simd<float> r = (x - kf * 0.693359375f) - kf * -2.12194440e-4f;
  simd<float> p = 1.9875691500e-4f * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  const int_simd two_to_k_bits = (k + 127) << 23;
  simd<float> two_to_k;
  std::memcpy(&two_to_k, &two_to_k_bits, sizeof two_to_k);
  x = p * two_to_k;
  x = in == in ? x : in;  // NaN in, NaN out (min/max instructions would have replaced it)
}

}  // namespace attrib::detail
#endif
