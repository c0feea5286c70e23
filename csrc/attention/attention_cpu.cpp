// CPU attention: ISA dispatch and threading over (batch, head).
#include <stdexcept>
#include <string>
#include <vector>

#include "../common/cpu_dispatch.h"
#include "attention.h"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace edgeaffect {
namespace attention {
namespace {

HeadKernel select_kernel() {
  static const HeadKernel kernel = [] {
    const std::string& level = selected_cpu_level();
#if defined(__x86_64__)
    if (level == "avx512") return &avx512::attention_head;
    if (level == "avx2") return &avx2::attention_head;
#endif
    return &baseline::attention_head;
  }();
  return kernel;
}

}  // namespace

std::size_t scratch_floats(int length, int dim) {
  const int lp = (length + 15) / 16 * 16;
  return static_cast<std::size_t>(dim + 4) * lp + 64;
}

std::int64_t attention_cpu(const float* q, const float* k, const float* v, const float* bias, std::int64_t batch,
                           std::int64_t heads, std::int64_t length, std::int64_t dim, std::int64_t bias_batch,
                           std::int64_t bias_heads, float scale, int threads, float* out) {
  if (length < 1 || length > kMaxLength) throw std::invalid_argument("sequence length must be 1.." + std::to_string(kMaxLength));
  const HeadKernel kernel = select_kernel();
  const std::int64_t jobs = batch * heads, slice = length * dim;
#if defined(_OPENMP)
  if (threads <= 0) threads = omp_get_max_threads();
#endif
  (void)threads;
  auto run_job = [&](std::int64_t job, float* scratch) {
    const std::int64_t b = job / heads, h = job % heads;
    const float* bias_bh =
        bias ? bias + ((b % bias_batch) * bias_heads + (bias_heads == 1 ? 0 : h)) * length * length : nullptr;
    return kernel(q + job * slice, k + job * slice, v + job * slice, bias_bh, static_cast<int>(length),
                  static_cast<int>(dim), scale, scratch, out + job * slice);
  };
  std::int64_t non_finite = 0;
  if (threads <= 1 || jobs <= 1) {
    // Serial callers (the native engine at batch 1 calls this per layer):
    // no parallel region and no allocation per call, a reused scratch.
    thread_local std::vector<float> scratch;
    const std::size_t need = scratch_floats(static_cast<int>(length), static_cast<int>(dim));
    if (scratch.size() < need) scratch.resize(need);
    for (std::int64_t job = 0; job < jobs; ++job)
      if (!run_job(job, scratch.data())) ++non_finite;
    return non_finite;
  }
#pragma omp parallel num_threads(threads) reduction(+ : non_finite)
  {
    std::vector<float> scratch(scratch_floats(static_cast<int>(length), static_cast<int>(dim)));
#pragma omp for schedule(static)
    for (std::int64_t job = 0; job < jobs; ++job)
      if (!run_job(job, scratch.data())) ++non_finite;
  }
  return non_finite;
}

}  // namespace attention
}  // namespace edgeaffect
