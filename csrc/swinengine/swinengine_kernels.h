// Per-instruction-set builds of the Swin engine's own hot loop, window
// attention (swinengine_cpu_kernel.inc). The dense layers (linear with a
// GELU or residual epilogue, LayerNorm) are the RBTransformer engine's
// kernels (rbengine_kernels.h).
#pragma once

namespace edgeaffect {
namespace swinengine {

// Attention inside the windows of one map, all heads: for window w and head
// h, the rows index[w * length + i] of qkv (tokens, 3 * dim: q pre-scaled,
// then k, then v, heads of dim / heads channels each) attend to each other
// with the additive term bias[(bias_windows > 1 ? w : 0)][h] (length rows
// of ldb = kBiasStride(length) floats, the padding after each row's length
// values kPaddingBias), and the result goes to the same rows of out (tokens, dim),
// columns of head h. Only jobs [first, last) of the windows x heads ones
// (job = window * heads + head) are computed: threads split a map this way.
// scratch: scratch_floats(length, head_dim) floats.
using WindowAttention = void (*)(const float* qkv, int dim, int heads, int length, const int* index,
                                 const float* bias, int ldb, int bias_windows, int first, int last, float* scratch,
                                 float* out);

#define EDGEAFFECT_DECLARE_SWINENGINE_ISA(isa)                                                               \
  namespace isa {                                                                                            \
  void window_attention(const float*, int, int, int, const int*, const float*, int, int, int, int, float*, float*); \
  }
EDGEAFFECT_DECLARE_SWINENGINE_ISA(baseline)
#if defined(__x86_64__)
EDGEAFFECT_DECLARE_SWINENGINE_ISA(avx2)
EDGEAFFECT_DECLARE_SWINENGINE_ISA(avx512)
#endif
#undef EDGEAFFECT_DECLARE_SWINENGINE_ISA

// The build for the CPU level in use (cpu_dispatch.h).
WindowAttention window_attention_kernel();

// A bias row: the keys padded to a multiple of 16 floats (the widest vector),
// so every build adds it in whole vectors.
// (Used by the engine only: the per-ISA kernels take the stride as ldb.)
constexpr int kBiasStride(int length) { return (length + 15) / 16 * 16; }
constexpr float kPaddingBias = -3.0e38f;

// Keys padded to a multiple of 16 floats (the widest vector), plus K^T,
// the score rows of one row block, and their V rows' sums.
inline int scratch_floats(int length, int head_dim) {
  const int lp = (length + 15) / 16 * 16;
  return head_dim * lp + 4 * lp + 16;
}

}  // namespace swinengine
}  // namespace edgeaffect
