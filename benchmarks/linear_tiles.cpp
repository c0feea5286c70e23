// The native engines' linear kernel as shipped (packed column strips
// outermost, kRowTile rows x kTile vectors per tile) against the form it had
// before (4-row tiles outermost, weights in place, tiles of the same width), interleaved in one process: one line per shape,
// "rows in out us_shipped us_4row max_abs_diff" (medians of 21 rounds).
// Built and run by bench_linear_tiles.py once per instruction set.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

#include "common/simd.h"
#include "rbengine/rbengine_kernels.h"

namespace edgeaffect {
namespace tiles {
using rbengine::Epilogue;
#include "rbengine/rbengine_cpu_kernel.inc"

// The kernel before: 4-row tiles outermost, every column strip per row tile,
// weights read in place from wt (in, out) (the benchmark's shapes have no
// ragged columns).
template <int R>
void rows_4row(const float* x, int in, int out, const float* wt, const float* b, float* y) {
  int o0 = 0;
  for (; o0 + kTile * kW <= out; o0 += kTile * kW) linear_tile<Epilogue::kStore, R, kTile>(x, in, wt + o0, out, b + o0, y + o0, out);
  for (; o0 + kW <= out; o0 += kW) linear_tile<Epilogue::kStore, R, 1>(x, in, wt + o0, out, b + o0, y + o0, out);
}

void linear_4row(const float* x, int rows, int in, int out, const float* wt, const float* b, float* y) {
  int r = 0;
  for (; r + 4 <= rows; r += 4) rows_4row<4>(x + r * in, in, out, wt, b, y + r * out);
  for (; r < rows; ++r) rows_4row<1>(x + r * in, in, out, wt, b, y + r * out);
}
}  // namespace tiles
}  // namespace edgeaffect

double median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

int main() {
  using namespace edgeaffect::tiles;
  std::mt19937 gen(0);
  std::normal_distribution<float> normal;
  // the EEG student's projections at batch 1 (32 electrode rows) and batch 32;
  // the FER student's stem (im2col) and per-stage layers at batch 1
  const int shapes[][3] = {{32, 64, 192}, {32, 64, 64},  {1024, 64, 192}, {1024, 64, 64}, {576, 9, 32},
                           {144, 288, 48}, {144, 48, 144}, {144, 144, 48},  {36, 96, 288},  {36, 288, 96},
                           {9, 192, 576},  {9, 576, 192}};
  for (const auto& s : shapes) {
    const int rows = s[0], in = s[1], out = s[2];
    std::vector<float> x(rows * in), w(in * out), b(out), y_new(rows * out), y_old(rows * out);
    for (auto* v : {&x, &w, &b})
      for (float& f : *v) f = normal(gen);
    std::vector<float> packed(packed_floats(in, out));
    pack(w.data(), in, out, packed.data());
    const int reps = std::max(20, 200000 / rows);
    std::vector<double> t_new, t_old;
    for (int round = 0; round < 21; ++round) {
      const auto a = std::chrono::steady_clock::now();
      for (int i = 0; i < reps; ++i) linear_part(x.data(), rows, in, out, packed.data(), w.data(), b.data(), y_new.data(), 0, 1,
                                            Epilogue::kStore);
      const auto m = std::chrono::steady_clock::now();
      for (int i = 0; i < reps; ++i) linear_4row(x.data(), rows, in, out, w.data(), b.data(), y_old.data());
      const auto e = std::chrono::steady_clock::now();
      t_new.push_back(std::chrono::duration<double, std::micro>(m - a).count() / reps);
      t_old.push_back(std::chrono::duration<double, std::micro>(e - m).count() / reps);
    }
    double diff = 0.0;
    for (int i = 0; i < rows * out; ++i) diff = std::max(diff, static_cast<double>(std::fabs(y_new[i] - y_old[i])));
    std::printf("%d %d %d %.4f %.4f %.3g\n", rows, in, out, median(t_new), median(t_old), diff);
  }
  return 0;
}
