#pragma once
// Run-time choice of instruction set, as glibc picks its exp and OpenBLAS its GEMM kernels: a
// build for the baseline x86-64 (SSE2) still runs its hottest loops with AVX2 and fused
// multiply-adds on processors that have them. Kernels for such a processor are functions marked
// ATTRIB_TARGET_AVX2_FMA (or ATTRIB_TARGET_AVX512), called only when has_avx2_fma() (or
// has_avx512f()) says so; everything else in the program stays baseline code.
// ATTRIB_X86_DISPATCH is undefined off x86-64 and in device code, where callers keep their
// portable paths.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(__CUDACC__)
#define ATTRIB_X86_DISPATCH 1
#define ATTRIB_TARGET_AVX2_FMA __attribute__((target("avx2,fma")))
// AVX2 without FMA: kernels whose sums must equal the baseline build's bit for bit (the
// compiler fuses a multiply and an add wherever the target allows it).
#define ATTRIB_TARGET_AVX2 __attribute__((target("avx2")))
#define ATTRIB_TARGET_AVX512 __attribute__((target("avx512f,avx2,fma")))
// GCC 12 warns that the AVX-512 intrinsics' own "undefined" source registers are used
// uninitialised (GCC bug 105593, fixed in 13): AVX-512 kernels sit between these two, so that
// their callers see no warning.
#if defined(__clang__)
#define ATTRIB_AVX512_WARNINGS_OFF
#define ATTRIB_AVX512_WARNINGS_ON
#else
#define ATTRIB_AVX512_WARNINGS_OFF                                   \
  _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wmaybe-uninitialized\"") \
      _Pragma("GCC diagnostic ignored \"-Wuninitialized\"")
#define ATTRIB_AVX512_WARNINGS_ON _Pragma("GCC diagnostic pop")
#endif
#endif

namespace attrib::detail {

// Whether this processor (and the operating system, which must save the 256-bit registers) runs
// AVX2 and FMA instructions. Asked once; the answer never changes within a run, so every call of
// a dispatched kernel takes the same path and results stay identical across calls and threads.
inline bool has_avx2_fma() {
#ifdef ATTRIB_X86_DISPATCH
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return yes;
#else
  return false;
#endif
}

// Whether this processor (and the operating system) runs AVX2 instructions.
inline bool has_avx2() {
#ifdef ATTRIB_X86_DISPATCH
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
  }();
  return yes;
#else
  return false;
#endif
}

// Whether this processor runs AVX-512F (with AVX2 and FMA), the operating system saving the
// 512-bit registers (which __builtin_cpu_supports checks). Kernels that have an AVX-512 version
// compute the same operations per element in eight lanes instead of four, so the answer changes
// speed, never results.
inline bool has_avx512f() {
#ifdef ATTRIB_X86_DISPATCH
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && has_avx2_fma();
  }();
  return yes;
#else
  return false;
#endif
}

}  // namespace attrib::detail
