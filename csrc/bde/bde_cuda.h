// CUDA BDE: the same contract as the CPU kernel (bde.h), one thread per
// (window, channel, band).
#pragma once

#include <cstdint>

#include "bde.h"

namespace edgeaffect {
namespace bde {

// Bands x order may not exceed this (the coefficients are a kernel argument,
// which must stay within CUDA's 4 KiB parameter limit in float64).
constexpr int kMaxCudaSections = 128;

// x and out are device pointers: x (windows, channels, samples) contiguous,
// out (windows, channels, bands). Runs on the default stream and synchronises
// it; throws std::runtime_error with the CUDA error text on failure.
template <typename T>
void band_differential_entropy_cuda(const FilterBank& bank, const T* x, std::int64_t windows, std::int64_t channels,
                                    std::int64_t samples, double log_base, T* out);

}  // namespace bde
}  // namespace edgeaffect
