#include "swinengine.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "../common/cpu_dispatch.h"
#include "../rbengine/rbengine_kernels.h"
#include "swinengine_kernels.h"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace edgeaffect {
namespace swinengine {
namespace {

using rbengine::LayerNorm;
using rbengine::Linear;
using rbengine::WeightMap;

constexpr float kBatchNormEps = 1e-5f;  // torch's BatchNorm2d default
constexpr float kWindowMask = -1e4f;    // edgeaffect.fer.model._shift_mask's value

// Conv2d(cin -> cout, 3x3, no bias) followed by BatchNorm2d (eval), as one
// im2col Linear: inputs ordered (ky, kx, cin) to match the HWC maps here.
Linear folded_conv3x3(const WeightMap& w, const std::string& conv, const std::string& bn, int cin, int cout) {
  const auto& k = rbengine::take_weight(w, conv + ".weight", static_cast<std::size_t>(cout) * cin * 9);
  const auto& gamma = rbengine::take_weight(w, bn + ".weight", cout);
  const auto& beta = rbengine::take_weight(w, bn + ".bias", cout);
  const auto& mean = rbengine::take_weight(w, bn + ".running_mean", cout);
  const auto& var = rbengine::take_weight(w, bn + ".running_var", cout);
  std::vector<float> weight(static_cast<std::size_t>(cout) * 9 * cin), bias(cout);
  for (int o = 0; o < cout; ++o) {
    const double scale = gamma[o] / std::sqrt(static_cast<double>(var[o]) + kBatchNormEps);
    bias[o] = static_cast<float>(beta[o] - mean[o] * scale);
    for (int c = 0; c < cin; ++c)
      for (int t = 0; t < 9; ++t)  // torch: (cout, cin, ky, kx)
        weight[(static_cast<std::size_t>(o) * 9 + t) * cin + c] =
            static_cast<float>(k[(static_cast<std::size_t>(o) * cin + c) * 9 + t] * scale);
  }
  return rbengine::make_linear(weight, std::move(bias), 9 * cin, cout);
}

// Region of a position of the cyclically shifted map (0, 1, 2 along one axis),
// as edgeaffect.fer.model._shift_mask cuts it.
int shift_band(int p, int size, int window, int shift) { return p < size - window ? 0 : (p < size - shift ? 1 : 2); }

Block make_block(const WeightMap& w, const std::string& p, int size, int dim, int heads, int window, int shift,
                 int hidden) {
  Block b;
  b.size = size, b.dim = dim, b.heads = heads, b.window = window, b.shift = shift;
  b.norm1 = rbengine::load_norm(w, p + "norm1", dim);
  b.norm2 = rbengine::load_norm(w, p + "norm2", dim);
  {
    // The attention scale goes into the query rows (torch scales q itself).
    std::vector<float> weight = rbengine::take_weight(w, p + "attn.qkv.weight", static_cast<std::size_t>(3) * dim * dim);
    std::vector<float> bias = rbengine::take_weight(w, p + "attn.qkv.bias", 3 * dim);
    const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(dim / heads)));
    for (std::size_t i = 0; i < static_cast<std::size_t>(dim) * dim; ++i) weight[i] *= scale;
    for (int o = 0; o < dim; ++o) bias[o] *= scale;
    b.qkv = rbengine::make_linear(weight, std::move(bias), dim, 3 * dim);
  }
  b.proj = rbengine::load_linear(w, p + "attn.proj", dim, dim);
  b.fc1 = rbengine::load_linear(w, p + "mlp.0", dim, hidden);
  b.fc2 = rbengine::load_linear(w, p + "mlp.2", hidden, dim);

  const int t = window * window, per_row = size / window, windows = per_row * per_row, span = 2 * window - 1;
  b.index.resize(static_cast<std::size_t>(windows) * t);
  for (int wy = 0; wy < per_row; ++wy)
    for (int wx = 0; wx < per_row; ++wx)
      for (int a = 0; a < t; ++a) {
        // torch.roll(x, -shift): position r of the rolled map holds token (r + shift) mod size
        const int r = wy * window + a / window, c = wx * window + a % window;
        b.index[(wy * per_row + wx) * t + a] = ((r + shift) % size) * size + (c + shift) % size;
      }
  const auto& table = rbengine::take_weight(w, p + "attn.bias_table", static_cast<std::size_t>(span) * span * heads);
  b.bias_windows = shift ? windows : 1;
  const int stride = kBiasStride(t);
  b.bias.assign(static_cast<std::size_t>(b.bias_windows) * heads * t * stride, kPaddingBias);
  for (int win = 0; win < b.bias_windows; ++win)
    for (int h = 0; h < heads; ++h)
      for (int a = 0; a < t; ++a)
        for (int k = 0; k < t; ++k) {
          const int rel = (a / window - k / window + window - 1) * span + (a % window - k % window + window - 1);
          float value = table[static_cast<std::size_t>(rel) * heads + h];
          if (shift) {
            const int wy = win / per_row, wx = win % per_row;
            auto label = [&](int slot) {
              return shift_band(wy * window + slot / window, size, window, shift) * 3 +
                     shift_band(wx * window + slot % window, size, window, shift);
            };
            if (label(a) != label(k)) value += kWindowMask;
          }
          b.bias[((static_cast<std::size_t>(win) * heads + h) * t + a) * stride + k] = value;
        }
  return b;
}

// fn(part, parts) once per thread of one OpenMP region, or fn(0, 1) when
// threads <= 1. A forward pass runs in one region: a fork and join costs
// about 1.5 us here against 0.6 us for a barrier, and a face has ~50 layers.
template <typename Fn>
void in_parts(int threads, const Fn& fn) {
#if defined(_OPENMP)
  if (threads > 1) {
#pragma omp parallel num_threads(threads)
    fn(omp_get_thread_num(), omp_get_num_threads());
    return;
  }
#endif
  fn(0, 1);
}

// Waits for every thread of the region in_parts opened (parts > 1 only: a
// single-threaded pass may itself run inside another region, one face of a
// batch per thread, whose threads must not be waited for).
inline void wait_for_all(int parts) {
#if defined(_OPENMP)
  if (parts > 1) {
#pragma omp barrier
  }
#else
  (void)parts;
#endif
}

// [first, last) of part `part` of `parts` of n items.
inline void share(std::int64_t n, int part, int parts, std::int64_t& first, std::int64_t& last) {
  first = n * part / parts;
  last = n * (part + 1) / parts;
}

}  // namespace

WindowAttention window_attention_kernel() {
  static const WindowAttention chosen = [] {
    const std::string& level = selected_cpu_level();
#if defined(__x86_64__)
    if (level == "avx512") return &avx512::window_attention;
    if (level == "avx2") return &avx2::window_attention;
#endif
    return &baseline::window_attention;
  }();
  return chosen;
}

Engine::Engine(const Config& cfg, const WeightMap& w) : cfg_(cfg) {
  const std::size_t stages = cfg.depths.size();
  if (stages == 0 || cfg.heads.size() != stages || cfg.windows.size() != stages || cfg.mlp_hidden.size() != stages ||
      cfg.se_hidden.size() != stages)
    throw std::invalid_argument("Swin-SE configuration: depths, heads, windows and hidden widths need one entry per stage");
  if (cfg.image % 4 || cfg.image < 8 || cfg.stem < 1 || cfg.dim < 1 || cfg.classes < 1)
    throw std::invalid_argument("Swin-SE configuration: the image size must be a multiple of 4 (>= 8)");
  const int h1 = cfg.image / 2, h2 = cfg.image / 4;
  // The shape first, so that a shape the engine cannot run is named as such
  // rather than as weights of unexpected sizes.
  for (int i = 0, size = h2, dim = cfg.dim; i < static_cast<int>(stages); ++i, size /= 2, dim *= 2) {
    const int heads = cfg.heads[i], window = std::min(cfg.windows[i], size);
    if (heads < 1 || dim % heads || (dim / heads) % 8)
      throw std::invalid_argument("Swin-SE stage " + std::to_string(i) + ": width " + std::to_string(dim) + " over " +
                                  std::to_string(heads) + " heads; the native engine needs head widths that are "
                                  "multiples of 8");
    if (window < 1 || size % window || window * window > 256)
      throw std::invalid_argument("Swin-SE stage " + std::to_string(i) + ": window " + std::to_string(window) +
                                  " must divide the map size " + std::to_string(size) + " (and be at most 16)");
    if (i + 1 < static_cast<int>(stages) && size % 2)
      throw std::invalid_argument("Swin-SE stage " + std::to_string(i) + ": map size " + std::to_string(size) +
                                  " is odd and cannot be merged 2x2");
  }
  conv1_ = folded_conv3x3(w, "stem.0", "stem.1", 1, cfg.stem);
  conv2_ = folded_conv3x3(w, "stem.3", "stem.4", cfg.stem, cfg.dim);
  const std::size_t map = static_cast<std::size_t>(h2) * h2 * cfg.dim;  // tokens x channels: constant across merges
  fixed_floats_ = static_cast<std::size_t>(h1) * h1 * (9 + cfg.stem) + static_cast<std::size_t>(h2) * h2 * 9 * cfg.stem + 3 * map;
  int size = h2, dim = cfg.dim;
  for (std::size_t i = 0; i < stages; ++i) {
    const int heads = cfg.heads[i], window = std::min(cfg.windows[i], size), n = size * size;
    Stage stage;
    for (int j = 0; j < cfg.depths[i]; ++j) {
      const int shift = (j % 2 && window < size) ? window / 2 : 0;
      stage.blocks.push_back(make_block(w, "stages." + std::to_string(i) + "." + std::to_string(j) + ".", size, dim,
                                        heads, window, shift, cfg.mlp_hidden[i]));
    }
    const std::string se = "se." + std::to_string(i) + ".";
    stage.se1 = rbengine::load_linear(w, se + "fc1", dim, cfg.se_hidden[i]);
    stage.se2 = rbengine::load_linear(w, se + "fc2", cfg.se_hidden[i], dim);
    qkv_floats_ = std::max(qkv_floats_, static_cast<std::size_t>(n) * 3 * dim);
    hidden_floats_ = std::max(hidden_floats_, static_cast<std::size_t>(n) * cfg.mlp_hidden[i]);
    hidden_floats_ = std::max(hidden_floats_, static_cast<std::size_t>(dim));  // the SE's mean token
    scratch_floats_ = std::max(scratch_floats_, static_cast<std::size_t>(scratch_floats(window * window, dim / heads)));
    scratch_floats_ = std::max(scratch_floats_, static_cast<std::size_t>(cfg.se_hidden[i] + dim));  // an SE gate
    if (i + 1 < stages) {
      const std::string m = "merges." + std::to_string(i) + ".";
      stage.merge = true;
      stage.merge_norm = rbengine::load_norm(w, m + "norm", 4 * dim);
      stage.merge_reduce = rbengine::load_linear(w, m + "reduce", 4 * dim, 2 * dim, /*has_bias=*/false);
      size /= 2, dim *= 2;
    }
    stages_.push_back(std::move(stage));
  }
  norm_ = rbengine::load_norm(w, "norm", dim);
  head_ = rbengine::load_linear(w, "head", dim, cfg.classes);
  qkv_floats_ = std::max(qkv_floats_, static_cast<std::size_t>(dim));  // the pooled final token
}

void Engine::forward_one(const float* face, float* logits, int threads) const {
  const rbengine::Kernels& k = rbengine::kernels();
  const WindowAttention attend = window_attention_kernel();
  threads = std::max(1, threads);
  thread_local std::vector<float> block;
  rbengine::Workspace workspace(block, fixed_floats_ + qkv_floats_ + hidden_floats_ + threads * scratch_floats_);
  auto carve = [&workspace](std::size_t n) { return workspace.carve(n); };
  const int image = cfg_.image, h1 = image / 2, h2 = image / 4, stem = cfg_.stem;
  float* cols1 = carve(static_cast<std::size_t>(h1) * h1 * 9);
  float* map1 = carve(static_cast<std::size_t>(h1) * h1 * stem);
  float* cols2 = carve(static_cast<std::size_t>(h2) * h2 * 9 * stem);
  const std::size_t map = static_cast<std::size_t>(h2) * h2 * cfg_.dim;
  float* x = carve(map);
  float* t = carve(map);
  float* merged = carve(map);
  float* qkv = carve(qkv_floats_);
  float* hidden = carve(hidden_floats_);
  float* scratch = carve(threads * scratch_floats_);  // per thread: attention's, later the SE gate's

  in_parts(threads, [&](int part, int parts) {
    // A dense layer is split by rows where there are at least 64 per thread
    // (at 2 threads the stem and stage 1: their weights fit L2, and their 3
    // or 9 column strips split unevenly over 2 threads), otherwise by output
    // columns, each thread reading only its share of the weights (stages
    // 2-3: few rows, large weights). Measured in one process on the EPYC, 2 threads,
    // batch 1: 0.76-0.91x the time of splitting every layer by columns.
    auto by_rows = [parts](int rows) { return rows >= 64 * parts; };
    // This thread's rows: whole blocks of 12 (a tile of every build), the
    // rest to the last thread. Every row-wise step of a map uses the same
    // rows, so a thread that wrote its rows reads them back without a wait.
    auto my_rows = [part, parts](int rows, int& first, int& last) {
      std::int64_t f, l;
      share(rows / 12, part, parts, f, l);
      first = static_cast<int>(f * 12);
      last = part == parts - 1 ? rows : static_cast<int>(l * 12);
    };
    auto dense = [&](const Linear& l, const float* in, int rows, float* out, rbengine::Epilogue epilogue) {
      if (!by_rows(rows)) {
        l.forward(in, rows, out, epilogue, part, parts);
        return;
      }
      int first, last;
      my_rows(rows, first, last);
      l.forward(in + static_cast<std::size_t>(first) * l.in, last - first, out + static_cast<std::size_t>(first) * l.out,
                epilogue);
    };
    auto norm = [&](const LayerNorm& l, const float* in, int rows, int width, float* out) {
      int first, last;
      my_rows(rows, first, last);
      k.layernorm(in + static_cast<std::size_t>(first) * width, last - first, width, l.w.data(), l.b.data(),
                  out + static_cast<std::size_t>(first) * width);
    };
    // A layer split by columns writes every row: wait before reading rows.
    auto wait_unless_by_rows = [&](int rows) {
      if (!by_rows(rows)) wait_for_all(parts);
    };
    int first, last;

    // Stem: two stride-2 3x3 convolutions (padding 1) as im2col + dense.
    my_rows(h1 * h1, first, last);
    for (int r = first; r < last; ++r)
      for (int t9 = 0; t9 < 9; ++t9) {
        const int iy = 2 * (r / h1) - 1 + t9 / 3, ix = 2 * (r % h1) - 1 + t9 % 3;
        cols1[r * 9 + t9] = (iy >= 0 && iy < image && ix >= 0 && ix < image) ? face[iy * image + ix] : 0.0f;
      }
    wait_unless_by_rows(h1 * h1);
    dense(conv1_, cols1, h1 * h1, map1, rbengine::Epilogue::kGelu);
    wait_for_all(parts);  // the next im2col reads neighbouring rows
    my_rows(h2 * h2, first, last);
    for (int r = first; r < last; ++r)
      for (int t9 = 0; t9 < 9; ++t9) {
        const int iy = 2 * (r / h2) - 1 + t9 / 3, ix = 2 * (r % h2) - 1 + t9 % 3;
        float* dst = cols2 + (static_cast<std::size_t>(r) * 9 + t9) * stem;
        if (iy >= 0 && iy < h1 && ix >= 0 && ix < h1) {
          const float* src = map1 + static_cast<std::size_t>(iy * h1 + ix) * stem;
          for (int c = 0; c < stem; ++c) dst[c] = src[c];
        } else {
          for (int c = 0; c < stem; ++c) dst[c] = 0.0f;
        }
      }
    wait_unless_by_rows(h2 * h2);
    dense(conv2_, cols2, h2 * h2, x, rbengine::Epilogue::kStore);

    int size = h2, dim = cfg_.dim;
    for (const Stage& stage : stages_) {
      const int n = size * size;
      wait_unless_by_rows(n);  // x came from the stem or a merge, split as this stage splits
      for (const Block& b : stage.blocks) {
        const int tt = b.window * b.window, jobs = n / tt * b.heads;
        norm(b.norm1, x, n, dim, t);
        wait_unless_by_rows(n);
        dense(b.qkv, t, n, qkv, rbengine::Epilogue::kStore);
        wait_for_all(parts);  // a window gathers tokens from every thread's rows
        std::int64_t job0, job1;
        share(jobs, part, parts, job0, job1);
        attend(qkv, dim, b.heads, tt, b.index.data(), b.bias.data(), kBiasStride(tt), b.bias_windows,
               static_cast<int>(job0), static_cast<int>(job1), scratch + part * scratch_floats_, merged);
        wait_for_all(parts);
        dense(b.proj, merged, n, x, rbengine::Epilogue::kAdd);  // the residual added in the kernel
        wait_unless_by_rows(n);
        norm(b.norm2, x, n, dim, t);
        wait_unless_by_rows(n);
        dense(b.fc1, t, n, hidden, rbengine::Epilogue::kGelu);
        wait_unless_by_rows(n);
        dense(b.fc2, hidden, n, x, rbengine::Epilogue::kAdd);
        wait_unless_by_rows(n);
      }
      // Squeeze-and-excitation: a channel gate from the mean token. Each
      // thread sums its channels over all tokens (in token order, so the
      // sums do not depend on the thread count); each then computes the
      // whole gate itself, which is cheaper than waiting for one thread.
      if (by_rows(n)) wait_for_all(parts);
      float* pooled = hidden;
      std::int64_t c0, c1;
      share(dim, part, parts, c0, c1);
      for (std::int64_t c = c0; c < c1; ++c) pooled[c] = 0.0f;
      for (int i = 0; i < n; ++i)
        for (std::int64_t c = c0; c < c1; ++c) pooled[c] += x[static_cast<std::size_t>(i) * dim + c];
      for (std::int64_t c = c0; c < c1; ++c) pooled[c] /= static_cast<float>(n);
      wait_for_all(parts);
      float* squeezed = scratch + part * scratch_floats_;
      float* gate = squeezed + stage.se1.out;
      stage.se1.forward(pooled, 1, squeezed, rbengine::Epilogue::kGelu);
      stage.se2.forward(squeezed, 1, gate);
      for (int c = 0; c < dim; ++c) gate[c] = 1.0f / (1.0f + std::exp(-gate[c]));
      if (!stage.merge) {
        // The last map is a few tokens: one thread gates, norms, pools and
        // classifies. The other threads leave here, so no barrier may follow.
        if (part != 0) return;
        for (int i = 0; i < n; ++i)
          for (int c = 0; c < dim; ++c) x[static_cast<std::size_t>(i) * dim + c] *= gate[c];
        k.layernorm(x, n, dim, norm_.w.data(), norm_.b.data(), t);
        float* final_pooled = qkv;
        for (int c = 0; c < dim; ++c) final_pooled[c] = 0.0f;
        for (int i = 0; i < n; ++i)
          for (int c = 0; c < dim; ++c) final_pooled[c] += t[static_cast<std::size_t>(i) * dim + c];
        for (int c = 0; c < dim; ++c) final_pooled[c] /= static_cast<float>(n);
        head_.forward(final_pooled, 1, logits);
        return;
      }
      // Patch merging: the 2x2 neighbours of each output token, gated and
      // concatenated in torch's order (column offset, then row offset),
      // normed and reduced.
      const int half = size / 2;
      my_rows(half * half, first, last);
      for (int r = first; r < last; ++r)
        for (int q = 0; q < 4; ++q) {
          const int dx = q / 2, dy = q % 2;
          const float* src = x + static_cast<std::size_t>((2 * (r / half) + dy) * size + 2 * (r % half) + dx) * dim;
          float* dst = merged + (static_cast<std::size_t>(r) * 4 + q) * dim;
          for (int c = 0; c < dim; ++c) dst[c] = src[c] * gate[c];
        }
      norm(stage.merge_norm, merged, half * half, 4 * dim, t);
      wait_for_all(parts);  // the reduction overwrites x, which other threads may still be gathering from
      dense(stage.merge_reduce, t, half * half, x, rbengine::Epilogue::kStore);
      size = half, dim *= 2;
    }
  });
}

void Engine::forward(const float* faces, int batch, float* logits, int threads) const {
  const std::size_t pixels = static_cast<std::size_t>(cfg_.image) * cfg_.image;
#if defined(_OPENMP)
  if (threads > 1 && batch > 1) {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int b = 0; b < batch; ++b) forward_one(faces + b * pixels, logits + static_cast<std::size_t>(b) * cfg_.classes, 1);
    return;
  }
#endif
  for (int b = 0; b < batch; ++b)
    forward_one(faces + b * pixels, logits + static_cast<std::size_t>(b) * cfg_.classes, batch == 1 ? threads : 1);
}

}  // namespace swinengine
}  // namespace edgeaffect
