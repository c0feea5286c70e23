// CPU BDE: ISA dispatch, the threaded batch loop, and streaming.
#include "bde_cpu.h"

#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <type_traits>

#include "../common/cpu_dispatch.h"
#include "bde_kernels.h"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace edgeaffect {
namespace bde {
namespace {

struct IsaBuild {
  const char* name;
  RunBlockF32 f32;
  RunBlockF64 f64;
  int (*lanes_f32)();
  int (*lanes_f64)();
};

const std::vector<IsaBuild>& builds() {
  static const std::vector<IsaBuild> all = {
#if defined(__x86_64__)
      {"avx512", avx512::run_block_f32, avx512::run_block_f64, avx512::lanes_f32, avx512::lanes_f64},
      {"avx2", avx2::run_block_f32, avx2::run_block_f64, avx2::lanes_f32, avx2::lanes_f64},
#endif
      {"baseline", baseline::run_block_f32, baseline::run_block_f64, baseline::lanes_f32, baseline::lanes_f64},
  };
  return all;
}

const IsaBuild& select_build() {
  static const IsaBuild& chosen = []() -> const IsaBuild& {
    const std::string& level = selected_cpu_level();
    for (const IsaBuild& b : builds())
      if (level == b.name) return b;
    throw std::runtime_error("internal error: no BDE build for CPU level " + level);
  }();
  return chosen;
}

template <typename T>
int lanes(const IsaBuild& isa) {
  return std::is_same_v<T, float> ? isa.lanes_f32() : isa.lanes_f64();
}

template <typename T>
void run_block(const IsaBuild& isa, int nb, int ns, const T* coeffs, T* state, const T* x, std::int64_t cstride,
               int nch, std::int64_t n, double* sum, double* sumsq) {
  if constexpr (std::is_same_v<T, float>)
    isa.f32(nb, ns, coeffs, state, x, cstride, nch, n, sum, sumsq);
  else
    isa.f64(nb, ns, coeffs, state, x, cstride, nch, n, sum, sumsq);
}

}  // namespace

std::string cpu_simd_level() {
  const IsaBuild& b = select_build();
  // The baseline build reports what the compiler's default target gave it.
  return b.f32 == baseline::run_block_f32 ? baseline::simd_level() : b.name;
}

std::vector<std::string> compiled_simd_levels() { return compiled_cpu_levels(); }

template <typename T>
void band_differential_entropy_cpu(const FilterBank& bank, const T* x, std::int64_t windows, std::int64_t channels,
                                   std::int64_t samples, double log_base, int threads, T* out) {
  const IsaBuild& isa = select_build();
  const int L = lanes<T>(isa);
  const int nb = bank.num_bands();
  const std::int64_t blocks = (channels + L - 1) / L;
  const std::vector<T> coeffs = flatten_coefficients<T>(bank);
  const std::size_t state_values = state_size(bank, L);
#if defined(_OPENMP)
  if (threads <= 0) threads = omp_get_max_threads();
#endif
  (void)threads;

#pragma omp parallel num_threads(threads) if (threads > 1 && windows * blocks > 1)
  {
    std::vector<T, AlignedAllocator<T>> state(state_values);
    std::vector<double> sum(nb * L), sumsq(nb * L);
#pragma omp for schedule(static)
    for (std::int64_t job = 0; job < windows * blocks; ++job) {
      const std::int64_t w = job / blocks, c0 = (job % blocks) * L;
      const int nch = static_cast<int>(std::min<std::int64_t>(L, channels - c0));
      std::fill(state.begin(), state.end(), T(0));
      std::fill(sum.begin(), sum.end(), 0.0);
      std::fill(sumsq.begin(), sumsq.end(), 0.0);
      run_block<T>(isa, nb, bank.order, coeffs.data(), state.data(), x + (w * channels + c0) * samples, samples, nch,
                   samples, sum.data(), sumsq.data());
      for (int l = 0; l < nch; ++l)
        for (int b = 0; b < nb; ++b)
          out[(w * channels + c0 + l) * nb + b] =
              static_cast<T>(entropy_from_sums(sum[b * L + l], sumsq[b * L + l], samples, log_base));
    }
  }
}

template void band_differential_entropy_cpu<float>(const FilterBank&, const float*, std::int64_t, std::int64_t,
                                                   std::int64_t, double, int, float*);
template void band_differential_entropy_cpu<double>(const FilterBank&, const double*, std::int64_t, std::int64_t,
                                                    std::int64_t, double, int, double*);

// ---------------------------------------------------------------- streaming

template <typename T>
StreamingBde<T>::StreamingBde(std::shared_ptr<const FilterBank> bank, std::int64_t channels, std::int64_t window,
                              std::int64_t hop, double log_base)
    : bank_(std::move(bank)),
      lanes_(lanes<T>(select_build())),
      channels_(channels),
      window_(window),
      hop_(hop),
      blocks_((channels + lanes_ - 1) / lanes_),
      log_base_(log_base),
      coeffs_(flatten_coefficients<T>(*bank_)) {
  if (channels < 1) throw std::invalid_argument("channels must be >= 1");
  if (window < 2) throw std::invalid_argument("window must be >= 2 samples");
  if (hop < 1) throw std::invalid_argument("hop must be >= 1 sample");
  reset();
}

template <typename T>
void StreamingBde<T>::reset() {
  state_.assign(blocks_ * state_size(*bank_, lanes_), T(0));
  const std::size_t acc = static_cast<std::size_t>(blocks_) * bank_->num_bands() * lanes_;
  open_ = Segment{0, 0, std::vector<double>(acc, 0.0), std::vector<double>(acc, 0.0)};
  closed_.clear();
  pos_ = 0;
  next_window_ = 0;
}

// The next window edge (a start k*hop or an end k*hop + window) after p.
template <typename T>
std::int64_t StreamingBde<T>::next_boundary(std::int64_t p) const {
  const std::int64_t next_start = (p / hop_ + 1) * hop_;
  const std::int64_t next_end = p < window_ ? window_ : ((p - window_) / hop_ + 1) * hop_ + window_;
  return std::min(next_start, next_end);
}

template <typename T>
void StreamingBde<T>::close_segment() {
  const std::size_t acc = open_.sum.size();
  closed_.push_back(std::move(open_));
  open_ = Segment{pos_, pos_, std::vector<double>(acc, 0.0), std::vector<double>(acc, 0.0)};
}

// Sums the closed segments of the next window, in stream order (so the result
// does not depend on how the stream was chunked), then drops the segments no
// later window needs.
template <typename T>
void StreamingBde<T>::emit_window(std::vector<T>& out) {
  const int L = lanes_;
  const int nb = bank_->num_bands();
  const std::int64_t start = next_window_ * hop_, end = start + window_;
  std::vector<double> sum(open_.sum.size(), 0.0), sumsq(open_.sum.size(), 0.0);
  for (const Segment& seg : closed_) {
    if (seg.start < start || seg.end > end) continue;
    for (std::size_t i = 0; i < sum.size(); ++i) {
      sum[i] += seg.sum[i];
      sumsq[i] += seg.sumsq[i];
    }
  }
  for (std::int64_t c = 0; c < channels_; ++c) {
    const std::int64_t blk = c / L, lane = c % L;
    for (int b = 0; b < nb; ++b) {
      const std::size_t i = (blk * nb + b) * L + lane;
      out.push_back(static_cast<T>(entropy_from_sums(sum[i], sumsq[i], window_, log_base_)));
    }
  }
  ++next_window_;
  const std::int64_t next_start = next_window_ * hop_;
  closed_.erase(std::remove_if(closed_.begin(), closed_.end(),
                               [next_start](const Segment& s) { return s.end <= next_start; }),
                closed_.end());
}

template <typename T>
std::int64_t StreamingBde<T>::push(const T* chunk, std::int64_t cstride, std::int64_t n, std::vector<T>& out) {
  const int L = lanes_;
  const IsaBuild& isa = select_build();
  const int nb = bank_->num_bands();
  const std::size_t block_state = state_size(*bank_, L);
  const std::int64_t emitted_before = next_window_;
  std::int64_t done = 0;
  while (done < n) {
    const std::int64_t boundary = next_boundary(pos_);
    const std::int64_t len = std::min(n - done, boundary - pos_);
    for (std::int64_t blk = 0; blk < blocks_; ++blk) {
      const int nch = static_cast<int>(std::min<std::int64_t>(L, channels_ - blk * L));
      run_block<T>(isa, nb, bank_->order, coeffs_.data(), state_.data() + blk * block_state,
                   chunk + blk * L * cstride + done, cstride, nch, len, open_.sum.data() + blk * nb * L,
                   open_.sumsq.data() + blk * nb * L);
    }
    done += len;
    pos_ += len;
    open_.end = pos_;
    if (pos_ == boundary) {
      close_segment();
      while (next_window_ * hop_ + window_ <= pos_) emit_window(out);
    }
  }
  return next_window_ - emitted_before;
}

template class StreamingBde<float>;
template class StreamingBde<double>;

}  // namespace bde
}  // namespace edgeaffect
