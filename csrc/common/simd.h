// Portable SIMD: GCC/Clang vector extensions.
//
// Why vector extensions and not intrinsics: the same source lowers to
// AVX-512, AVX2, SSE2 or NEON depending on the flags of the translation unit
// that includes it, so one kernel serves x86 (with runtime dispatch between
// ISA builds) and aarch64 (Jetson) without x86-only code paths.
#pragma once

#include <cstddef>

#if !defined(__GNUC__)
#error "edgeaffect's native core needs GCC or Clang (vector extensions)"
#endif

namespace edgeaffect {

// A block of `Lanes` values of T processed as one vector; the compiler splits
// it into as many hardware registers as the target ISA needs.
template <typename T, int Lanes>
struct Simd {
  typedef T vec __attribute__((vector_size(sizeof(T) * Lanes)));
};

// Two-input lane shuffle with constant indices (GCC's and Clang's spellings);
// GCC's form needs an integer vector type named mask8 in scope.
#if defined(__clang__)
#define EDGEAFFECT_SHUFFLE(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
#define EDGEAFFECT_SHUFFLE(a, b, ...) __builtin_shuffle(a, b, mask8{__VA_ARGS__})
#endif

// Name of the instruction set this translation unit is compiled for. A macro,
// not an inline function: translation units built with different ISA flags
// must not share inline definitions (the linker would keep only one).
#if defined(__AVX512F__)
#define EDGEAFFECT_SIMD_LEVEL "avx512"
#elif defined(__AVX2__)
#define EDGEAFFECT_SIMD_LEVEL "avx2"
#elif defined(__SSE2__)
#define EDGEAFFECT_SIMD_LEVEL "sse2"
#elif defined(__ARM_NEON)
#define EDGEAFFECT_SIMD_LEVEL "neon"
#else
#define EDGEAFFECT_SIMD_LEVEL "scalar"
#endif

}  // namespace edgeaffect
