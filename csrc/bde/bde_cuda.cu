// CUDA BDE kernel. Each thread runs one band's cascade over one channel of
// one window, keeping the section state in registers and accumulating the
// sum and sum of squares in double; the filtered signal is never stored.
// Threads of one (window, channel) are adjacent, so they read the same
// samples (one cache line serves every band).
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "bde_cuda.h"

namespace edgeaffect {
namespace bde {
namespace {

void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(err));
}

__device__ double entropy_device(double sum, double sumsq, long long n, double log_base) {
  const double mean = sum / static_cast<double>(n);
  const double raw = sumsq / static_cast<double>(n) - mean * mean;
  // Not fmax: fmax(NaN, 0) is 0, which would turn a NaN sample into the -inf
  // of a silent channel; NaN must reach the output, where the caller reports it.
  const double var = raw < 0.0 ? 0.0 : raw;
  // 0.5 * ln(2 * pi * e)
  const double nats = 0.5 * log(var) + 1.4189385332046727;
  return log_base > 0 ? nats / log(log_base) : nats;
}

// Coefficients travel as a kernel argument (no allocation or copy per call,
// and safe when several host threads launch at once).
template <typename T>
struct Coefficients {
  T c[3 * kMaxCudaSections];  // (g, a1, a2) per section, band-major
};

// kMaxOrder is a compile-time bound so the state arrays live in registers;
// sections past `order` are skipped by a uniform branch.
template <typename T, int kMaxOrder>
__global__ void bde_kernel(const T* __restrict__ x, long long windows, long long channels, long long samples,
                           int bands, int order, const Coefficients<T> coeffs, double log_base,
                           T* __restrict__ out) {
  const long long idx = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= windows * channels * bands) return;
  const int b = static_cast<int>(idx % bands);
  const long long wc = idx / bands;  // window * channels + channel
  const T* src = x + wc * samples;

  T g[kMaxOrder], a1[kMaxOrder], a2[kMaxOrder], y1[kMaxOrder], y2[kMaxOrder];
#pragma unroll
  for (int s = 0; s < kMaxOrder; ++s) {
    const bool used = s < order;
    g[s] = used ? coeffs.c[3 * (b * order + s)] : T(0);
    a1[s] = used ? coeffs.c[3 * (b * order + s) + 1] : T(0);
    a2[s] = used ? coeffs.c[3 * (b * order + s) + 2] : T(0);
    y1[s] = T(0);
    y2[s] = T(0);
  }
  T xh1 = 0, xh2 = 0;
  double sum = 0, sumsq = 0;
  for (long long t = 0; t < samples; ++t) {
    const T xt = src[t];
    T in = xt, in2 = xh2;  // this section's input now and two samples ago
#pragma unroll
    for (int s = 0; s < kMaxOrder; ++s) {
      if (s < order) {
        const T y = g[s] * (in - in2) - a2[s] * y2[s] - a1[s] * y1[s];
        // The next section's input history is this section's output history.
        in2 = y2[s];
        y2[s] = y1[s];
        y1[s] = y;
        in = y;
      }
    }
    xh2 = xh1;
    xh1 = xt;
    const double yd = static_cast<double>(in);
    sum += yd;
    sumsq += yd * yd;
  }
  out[idx] = static_cast<T>(entropy_device(sum, sumsq, samples, log_base));
}

template <typename T, int kMaxOrder>
void launch(const T* x, long long w, long long c, long long s, int nb, int ns, const Coefficients<T>& coeffs,
            double log_base, T* out) {
  const long long total = w * c * nb;
  const int threads = 128;
  const long long blocks = (total + threads - 1) / threads;
  bde_kernel<T, kMaxOrder><<<static_cast<unsigned>(blocks), threads>>>(x, w, c, s, nb, ns, coeffs, log_base, out);
  check(cudaGetLastError(), "BDE CUDA kernel launch");
}

}  // namespace

template <typename T>
void band_differential_entropy_cuda(const FilterBank& bank, const T* x, std::int64_t windows, std::int64_t channels,
                                    std::int64_t samples, double log_base, T* out) {
  const int nb = bank.num_bands(), ns = bank.order;
  if (nb * ns > kMaxCudaSections)
    throw std::invalid_argument("the CUDA BDE kernel takes at most " + std::to_string(kMaxCudaSections) +
                                " sections (bands x order); got " + std::to_string(nb) + " x " + std::to_string(ns));
  if (windows * channels == 0) return;
  Coefficients<T> coeffs{};
  for (std::size_t i = 0; i < bank.sections.size(); ++i) {
    coeffs.c[3 * i] = static_cast<T>(bank.sections[i].g);
    coeffs.c[3 * i + 1] = static_cast<T>(bank.sections[i].a1);
    coeffs.c[3 * i + 2] = static_cast<T>(bank.sections[i].a2);
  }
  if (ns <= 4)
    launch<T, 4>(x, windows, channels, samples, nb, ns, coeffs, log_base, out);
  else if (ns <= 8)
    launch<T, 8>(x, windows, channels, samples, nb, ns, coeffs, log_base, out);
  else
    launch<T, 16>(x, windows, channels, samples, nb, ns, coeffs, log_base, out);
  check(cudaDeviceSynchronize(), "BDE CUDA kernel");
}

template void band_differential_entropy_cuda<float>(const FilterBank&, const float*, std::int64_t, std::int64_t,
                                                    std::int64_t, double, float*);
template void band_differential_entropy_cuda<double>(const FilterBank&, const double*, std::int64_t, std::int64_t,
                                                     std::int64_t, double, double*);

}  // namespace bde
}  // namespace edgeaffect
