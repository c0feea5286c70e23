// Fused short-sequence attention: out = softmax(Q K^T * scale + bias) V for
// many short sequences (batch, heads, L, d), L <= 128. One pass per query
// row: the score row stays in L1, the softmax is the stable one (max
// subtracted), nothing L x L reaches memory beyond one row block.
#pragma once

#include <cstdint>

namespace edgeaffect {
namespace attention {

constexpr int kMaxLength = 128;

// q, k, v, out: (batch, heads, L, d) float32, contiguous. bias: nullptr, or
// (bias_batch, bias_heads, L, L) contiguous where bias_heads is 1 or heads
// and the bias of (b, h) is bias[b % bias_batch][bias_heads == 1 ? 0 : h]
// (relative-position biases: bias_batch 1; shifted-window masks: bias_batch
// = windows, with the batch ordered (images, windows)).
// Returns the number of (batch, head) slices whose output is not finite
// (NaN/inf inputs, or every key of a row masked with -inf).
std::int64_t attention_cpu(const float* q, const float* k, const float* v, const float* bias, std::int64_t batch,
                           std::int64_t heads, std::int64_t length, std::int64_t dim, std::int64_t bias_batch,
                           std::int64_t bias_heads, float scale, int threads, float* out);

// Per-ISA kernel: one (batch, head) slice; returns false when an output is
// NaN or infinite. scratch holds (dim + 4) * round_up(L, 16) + 64 floats.
using HeadKernel = bool (*)(const float* q, const float* k, const float* v, const float* bias, int length, int dim,
                            float scale, float* scratch, float* out);

#define EDGEAFFECT_DECLARE_ATTENTION_ISA(isa)                                                              \
  namespace isa {                                                                                          \
  bool attention_head(const float*, const float*, const float*, const float*, int, int, float, float*, float*); \
  }
EDGEAFFECT_DECLARE_ATTENTION_ISA(baseline)
#if defined(__x86_64__)
EDGEAFFECT_DECLARE_ATTENTION_ISA(avx2)
EDGEAFFECT_DECLARE_ATTENTION_ISA(avx512)
#endif
#undef EDGEAFFECT_DECLARE_ATTENTION_ISA

std::size_t scratch_floats(int length, int dim);

}  // namespace attention
}  // namespace edgeaffect
