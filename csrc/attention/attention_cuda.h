// CUDA fused attention (device pointers, (batch, heads, L, d) contiguous;
// bias float32 (bias_batch, bias_heads, L, L) or null). Synchronises the
// default stream; throws with the CUDA error text on failure.
#pragma once

namespace edgeaffect {
namespace attention {

constexpr int kMaxCudaLength = 128;

void attention_cuda_f32(const float* q, const float* k, const float* v, const float* bias, long long batch, int heads,
                        int length, int dim, long long bias_batch, int bias_heads, float scale, float* out);
void attention_cuda_f16(const void* q, const void* k, const void* v, const float* bias, long long batch, int heads,
                        int length, int dim, long long bias_batch, int bias_heads, float scale, void* out);

}  // namespace attention
}  // namespace edgeaffect
