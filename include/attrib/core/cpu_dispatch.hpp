#pragma once
// Run-time choice of instruction set, as glibc picks its exp and OpenBLAS its GEMM kernels: a
// build for the baseline x86-64 (SSE2) still runs its hottest loops with AVX2 and fused
// multiply-adds on processors that have them. Kernels for such a processor are functions marked
// ATTRIB_TARGET_AVX2_FMA, called only when has_avx2_fma() says so; everything else in the program
// stays baseline code. ATTRIB_X86_DISPATCH is undefined off x86-64 and in device code, where
// callers keep their portable paths.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(__CUDACC__)
#define ATTRIB_X86_DISPATCH 1
#define ATTRIB_TARGET_AVX2_FMA __attribute__((target("avx2,fma")))
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

}  // namespace attrib::detail
