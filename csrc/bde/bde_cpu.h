// CPU BDE: the batch kernel and the streaming state, with runtime dispatch
// between instruction-set builds of the same kernel (bde_cpu_kernel.inc).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "bde.h"

namespace edgeaffect {
namespace bde {

// Values of streaming/batch filter state for one channel block of `lanes`:
// the raw input history (2 rows) and (y[t-2], y[t-1]) per section.
inline std::size_t state_size(const FilterBank& bank, int lanes) {
  return static_cast<std::size_t>(2 + 2 * bank.num_bands() * bank.order) * lanes;
}

// (g, a1, a2) per section, band-major, in the kernel's type. Where it is
// safe, each band's total gain moves to its first section and the others get
// g = 1 exactly, which the kernels run without the multiply. The scale of
// the intermediate signals then shrinks by at most the total gain, so this
// is skipped when that gain is tiny enough to push float32 towards
// underflow (extreme orders and narrow bands).
template <typename T>
std::vector<T> flatten_coefficients(const FilterBank& bank) {
  std::vector<T> c;
  c.reserve(3 * bank.sections.size());
  for (int b = 0; b < bank.num_bands(); ++b) {
    const Section* band = bank.sections.data() + b * bank.order;
    double total = 1.0;
    for (int s = 0; s < bank.order; ++s) total *= band[s].g;
    const bool fold = total >= 1e-30;
    for (int s = 0; s < bank.order; ++s) {
      const double g = fold ? (s == 0 ? total : 1.0) : band[s].g;
      c.push_back(static_cast<T>(g));
      c.push_back(static_cast<T>(band[s].a1));
      c.push_back(static_cast<T>(band[s].a2));
    }
  }
  return c;
}

template <typename T>
struct AlignedAllocator {
  using value_type = T;
  AlignedAllocator() = default;
  template <typename U>
  AlignedAllocator(const AlignedAllocator<U>&) {}
  T* allocate(std::size_t n) {
    void* p = std::aligned_alloc(128, ((n * sizeof(T) + 127) / 128) * 128);
    if (!p) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t) { std::free(p); }
  template <typename U>
  bool operator==(const AlignedAllocator<U>&) const { return true; }
  template <typename U>
  bool operator!=(const AlignedAllocator<U>&) const { return false; }
};

// The instruction set the dispatcher picked on this CPU ("avx512", "avx2",
// "sse2", "neon", ...). EDGEAFFECT_SIMD=baseline|avx2|avx512 overrides it
// (for benchmarks and tests; a level the CPU lacks is an error).
std::string cpu_simd_level();
// Every level compiled into this build, best first.
std::vector<std::string> compiled_simd_levels();

// Batch BDE: x is (windows, channels, samples) contiguous; out is
// (windows, channels, bands). threads <= 0 uses OpenMP's default.
template <typename T>
void band_differential_entropy_cpu(const FilterBank& bank, const T* x, std::int64_t windows, std::int64_t channels,
                                   std::int64_t samples, double log_base, int threads, T* out);

// Streaming BDE over one continuous signal: the filter state is carried from
// chunk to chunk and each band's filtered signal is summarised per segment
// between window edges, so every sample is filtered exactly once. Window k
// covers samples [k*hop, k*hop + window) of the stream; its DE equals the
// batch formula applied to those samples of the signal filtered continuously
// from the first sample (zero initial state), not to the window filtered on
// its own.
template <typename T>
class StreamingBde {
 public:
  StreamingBde(std::shared_ptr<const FilterBank> bank, std::int64_t channels, std::int64_t window, std::int64_t hop,
               double log_base);
  // chunk is (channels, n) with channel stride `cstride`. Appends the DE of
  // every window completed by this chunk to `out` (windows, channels, bands).
  // Returns the number of windows completed.
  std::int64_t push(const T* chunk, std::int64_t cstride, std::int64_t n, std::vector<T>& out);
  void reset();
  std::int64_t samples_seen() const { return pos_; }
  std::int64_t windows_emitted() const { return next_window_; }
  std::int64_t channels() const { return channels_; }
  int num_bands() const { return bank_->num_bands(); }

 private:
  struct Segment {
    std::int64_t start, end;
    std::vector<double> sum, sumsq;  // (block, band, lane)
  };
  std::int64_t next_boundary(std::int64_t p) const;
  void close_segment();
  void emit_window(std::vector<T>& out);

  std::shared_ptr<const FilterBank> bank_;
  int lanes_;
  std::int64_t channels_, window_, hop_, blocks_;
  double log_base_;
  std::vector<T> coeffs_;
  std::vector<T, AlignedAllocator<T>> state_;  // per block
  Segment open_;
  std::vector<Segment> closed_;
  std::int64_t pos_ = 0, next_window_ = 0;
};

}  // namespace bde
}  // namespace edgeaffect
