// CUDA fused attention for many short sequences: one block per
// (batch, head), one thread per query row. K and V of the sequence are
// staged in shared memory (when they fit: L * d * 2 floats <= 48 KiB), and
// each thread runs an online (streaming) softmax over the keys, so the score
// row never leaves registers. float32 or float16 storage, float32 math.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "attention_cuda.h"

namespace edgeaffect {
namespace attention {
namespace {

__device__ inline float to_float(float x) { return x; }
__device__ inline float to_float(__half x) { return __half2float(x); }
template <typename T>
__device__ inline T from_float(float x);
template <>
__device__ inline float from_float<float>(float x) { return x; }
template <>
__device__ inline __half from_float<__half>(float x) { return __float2half(x); }

template <typename T, int kDim>
__global__ void attention_kernel(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                                 const float* __restrict__ bias, int heads, int length, long long bias_batch,
                                 int bias_heads, float scale, bool staged, T* __restrict__ out) {
  extern __shared__ float shared[];
  const long long bh = blockIdx.x;  // batch * heads + head
  const long long b = bh / heads, h = bh % heads;
  const long long base = bh * length * kDim;
  float* ks = shared;
  float* vs = shared + length * kDim;
  if (staged) {
    for (int i = threadIdx.x; i < length * kDim; i += blockDim.x) {
      ks[i] = to_float(k[base + i]);
      vs[i] = to_float(v[base + i]);
    }
    __syncthreads();
  }
  const int row = threadIdx.x;
  if (row >= length) return;
  float qr[kDim], acc[kDim];
#pragma unroll
  for (int c = 0; c < kDim; ++c) {
    qr[c] = to_float(q[base + row * kDim + c]) * scale;
    acc[c] = 0.0f;
  }
  const float* brow = bias ? bias + (((b % bias_batch) * bias_heads + (bias_heads == 1 ? 0 : h)) * length + row) * length
                           : nullptr;
  float running_max = -INFINITY, running_sum = 0.0f;
  for (int j = 0; j < length; ++j) {
    float s = 0.0f;
#pragma unroll
    for (int c = 0; c < kDim; ++c) s += qr[c] * (staged ? ks[j * kDim + c] : to_float(k[base + j * kDim + c]));
    if (brow) s += brow[j];
    // Online softmax: rescale what was accumulated when the max grows.
    const float new_max = fmaxf(running_max, s);
    const float correction = __expf(running_max - new_max);
    const float p = __expf(s - new_max);
    running_sum = running_sum * correction + p;
#pragma unroll
    for (int c = 0; c < kDim; ++c)
      acc[c] = acc[c] * correction + p * (staged ? vs[j * kDim + c] : to_float(v[base + j * kDim + c]));
    running_max = new_max;
  }
  const float inv = 1.0f / running_sum;
#pragma unroll
  for (int c = 0; c < kDim; ++c) out[base + row * kDim + c] = from_float<T>(acc[c] * inv);
}

template <typename T, int kDim>
void launch(const T* q, const T* k, const T* v, const float* bias, long long batch, int heads, int length,
            long long bias_batch, int bias_heads, float scale, T* out) {
  const std::size_t shared_bytes = 2ull * length * kDim * sizeof(float);
  const bool staged = shared_bytes <= 48 * 1024;
  const int threads = ((length + 31) / 32) * 32;
  attention_kernel<T, kDim><<<static_cast<unsigned>(batch * heads), threads, staged ? shared_bytes : 0>>>(
      q, k, v, bias, heads, length, bias_batch, bias_heads, scale, staged, out);
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) throw std::runtime_error(std::string("attention CUDA kernel launch: ") + cudaGetErrorString(err));
}

template <typename T>
void dispatch(const T* q, const T* k, const T* v, const float* bias, long long batch, int heads, int length, int dim,
              long long bias_batch, int bias_heads, float scale, T* out) {
  if (length < 1 || length > kMaxCudaLength) throw std::invalid_argument("L must be 1..128");
  switch (dim) {
    case 16: launch<T, 16>(q, k, v, bias, batch, heads, length, bias_batch, bias_heads, scale, out); break;
    case 32: launch<T, 32>(q, k, v, bias, batch, heads, length, bias_batch, bias_heads, scale, out); break;
    case 64: launch<T, 64>(q, k, v, bias, batch, heads, length, bias_batch, bias_heads, scale, out); break;
    case 128: launch<T, 128>(q, k, v, bias, batch, heads, length, bias_batch, bias_heads, scale, out); break;
    default: throw std::invalid_argument("d must be 16, 32, 64 or 128");
  }
  // No device-wide synchronisation: the launch is asynchronous like any GPU
  // library call; the caller's finiteness check reads the output and so waits
  // for the kernel (and reports its errors).
}

}  // namespace

void attention_cuda_f32(const float* q, const float* k, const float* v, const float* bias, long long batch, int heads,
                        int length, int dim, long long bias_batch, int bias_heads, float scale, float* out) {
  dispatch<float>(q, k, v, bias, batch, heads, length, dim, bias_batch, bias_heads, scale, out);
}

void attention_cuda_f16(const void* q, const void* k, const void* v, const float* bias, long long batch, int heads,
                        int length, int dim, long long bias_batch, int bias_heads, float scale, void* out) {
  dispatch<__half>(static_cast<const __half*>(q), static_cast<const __half*>(k), static_cast<const __half*>(v), bias,
                   batch, heads, length, dim, bias_batch, bias_heads, scale, static_cast<__half*>(out));
}

}  // namespace attention
}  // namespace edgeaffect
