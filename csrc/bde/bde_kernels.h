// Declarations of the per-instruction-set builds of the CPU BDE block kernel
// (bde_cpu_kernel.inc). Plain functions over raw pointers, so that nothing
// inline is shared between translation units compiled with different flags.
#pragma once

#include <cstdint>

namespace edgeaffect {
namespace bde {

// Runs n samples of channels [0, nch) starting at x (channel stride cstride,
// sample stride 1) through nb bands of ns sections each (coeffs: (g, a1, a2)
// per section, band-major), continuing from `state` (updated in place), and
// adds each band's sum and sum of squares to sum/sumsq, laid out (band, lane).
// A block is lanes_f32() / lanes_f64() channels wide; the state holds
// (2 + 2 * nb * ns) * lanes values.
using RunBlockF32 = void (*)(int nb, int ns, const float* coeffs, float* state, const float* x,
                             std::int64_t cstride, int nch, std::int64_t n, double* sum, double* sumsq);
using RunBlockF64 = void (*)(int nb, int ns, const double* coeffs, double* state, const double* x,
                             std::int64_t cstride, int nch, std::int64_t n, double* sum, double* sumsq);

#define EDGEAFFECT_DECLARE_BDE_ISA(isa)                                                                          \
  namespace isa {                                                                                                \
  void run_block_f32(int, int, const float*, float*, const float*, std::int64_t, int, std::int64_t, double*,     \
                     double*);                                                                                   \
  void run_block_f64(int, int, const double*, double*, const double*, std::int64_t, int, std::int64_t, double*,  \
                     double*);                                                                                   \
  int lanes_f32();                                                                                               \
  int lanes_f64();                                                                                               \
  const char* simd_level();                                                                                      \
  }
EDGEAFFECT_DECLARE_BDE_ISA(baseline)
#if defined(__x86_64__)
EDGEAFFECT_DECLARE_BDE_ISA(avx2)
EDGEAFFECT_DECLARE_BDE_ISA(avx512)
#endif
#undef EDGEAFFECT_DECLARE_BDE_ISA

}  // namespace bde
}  // namespace edgeaffect
