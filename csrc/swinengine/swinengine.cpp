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

// fn(part, parts) once per thread, or fn(0, 1) when threads <= 1. One face
// is too little work per layer for more than a few threads; the caller
// chooses (the runtime passes its thread count).
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

// [first, last) of part `part` of `parts` of n items.
inline void share(std::int64_t n, int part, int parts, std::int64_t& first, std::int64_t& last) {
  first = n * part / parts;
  last = n * (part + 1) / parts;
}

void add_in_place(float* __restrict__ x, const float* __restrict__ y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) x[i] += y[i];
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
  fixed_floats_ = static_cast<std::size_t>(h1) * h1 * (9 + cfg.stem) + static_cast<std::size_t>(h2) * h2 * 9 * cfg.stem + 4 * map;
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
    hidden_floats_ = std::max(hidden_floats_, static_cast<std::size_t>(2 * dim + cfg.se_hidden[i]));  // SE vectors
    scratch_floats_ = std::max(scratch_floats_, static_cast<std::size_t>(scratch_floats(window * window, dim / heads)));
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
  float* proj = carve(map);
  float* qkv = carve(qkv_floats_);
  float* hidden = carve(hidden_floats_);
  float* scratch = carve(threads * scratch_floats_);  // one attention scratch per thread
  // Threads split a layer by output columns, each reading only its share
  // of the weights (stages 2-3: few rows, large weights), or by rows where
  // there are at least 64 per thread (the stem and stage 1: their weights
  // fit L2, and their 3 or 9 column strips split unevenly over 2 threads).
  // Rows go in blocks of 12, whole tiles of every build. Measured in one
  // process on the EPYC, 2 threads, batch 1: 0.76-0.91x the time of
  // splitting every layer by columns.
  auto dense = [&](const Linear& l, const float* in, int rows, float* out) {
    in_parts(threads, [&](int part, int parts) {
      if (rows < 64 * parts) {
        l.forward(in, rows, out, part, parts);
        return;
      }
      std::int64_t first, last;
      share(rows / 12, part, parts, first, last);
      first *= 12;
      last = part == parts - 1 ? rows : last * 12;
      l.forward(in + first * l.in, static_cast<int>(last - first), out + first * l.out);
    });
  };
  auto norm = [&](const LayerNorm& l, const float* in, int rows, int width, float* out) {
    in_parts(threads, [&](int part, int parts) {
      std::int64_t first, last;
      share(rows, part, parts, first, last);
      k.layernorm(in + first * width, static_cast<int>(last - first), width, l.w.data(), l.b.data(), out + first * width);
    });
  };
  auto gelu = [&](float* values, std::int64_t n) {
    in_parts(threads, [&](int part, int parts) {
      std::int64_t first, last;
      share(n, part, parts, first, last);
      k.gelu(values + first, last - first);
    });
  };

  // Stem: two stride-2 3x3 convolutions (padding 1) as im2col + dense.
  for (int oy = 0; oy < h1; ++oy)
    for (int ox = 0; ox < h1; ++ox)
      for (int t9 = 0; t9 < 9; ++t9) {
        const int iy = 2 * oy - 1 + t9 / 3, ix = 2 * ox - 1 + t9 % 3;
        cols1[(oy * h1 + ox) * 9 + t9] = (iy >= 0 && iy < image && ix >= 0 && ix < image) ? face[iy * image + ix] : 0.0f;
      }
  dense(conv1_, cols1, h1 * h1, map1);
  gelu(map1, static_cast<std::int64_t>(h1) * h1 * stem);
  for (int oy = 0; oy < h2; ++oy)
    for (int ox = 0; ox < h2; ++ox)
      for (int t9 = 0; t9 < 9; ++t9) {
        const int iy = 2 * oy - 1 + t9 / 3, ix = 2 * ox - 1 + t9 % 3;
        float* dst = cols2 + (static_cast<std::size_t>(oy * h2 + ox) * 9 + t9) * stem;
        if (iy >= 0 && iy < h1 && ix >= 0 && ix < h1) {
          const float* src = map1 + static_cast<std::size_t>(iy * h1 + ix) * stem;
          for (int c = 0; c < stem; ++c) dst[c] = src[c];
        } else {
          for (int c = 0; c < stem; ++c) dst[c] = 0.0f;
        }
      }
  dense(conv2_, cols2, h2 * h2, x);

  int size = h2, dim = cfg_.dim;
  for (const Stage& stage : stages_) {
    const int n = size * size;
    const std::size_t nd = static_cast<std::size_t>(n) * dim;
    for (const Block& b : stage.blocks) {
      const int tt = b.window * b.window, jobs = n / tt * b.heads;
      norm(b.norm1, x, n, dim, t);
      dense(b.qkv, t, n, qkv);
      in_parts(threads, [&](int part, int parts) {
        std::int64_t first, last;
        share(jobs, part, parts, first, last);
        attend(qkv, dim, b.heads, tt, b.index.data(), b.bias.data(), kBiasStride(tt), b.bias_windows,
               static_cast<int>(first), static_cast<int>(last), scratch + part * scratch_floats_, merged);
      });
      dense(b.proj, merged, n, proj);
      add_in_place(x, proj, nd);
      norm(b.norm2, x, n, dim, t);
      dense(b.fc1, t, n, hidden);
      gelu(hidden, static_cast<std::int64_t>(n) * b.fc1.out);
      dense(b.fc2, hidden, n, proj);
      add_in_place(x, proj, nd);
    }
    // Squeeze-and-excitation: a channel gate from the mean token.
    float* pooled = hidden;
    float* squeezed = pooled + dim;
    float* gate = squeezed + stage.se1.out;
    for (int c = 0; c < dim; ++c) pooled[c] = 0.0f;
    for (int i = 0; i < n; ++i)
      for (int c = 0; c < dim; ++c) pooled[c] += x[static_cast<std::size_t>(i) * dim + c];
    for (int c = 0; c < dim; ++c) pooled[c] /= static_cast<float>(n);
    stage.se1.forward(pooled, 1, squeezed);
    k.gelu(squeezed, stage.se1.out);
    stage.se2.forward(squeezed, 1, gate);
    for (int c = 0; c < dim; ++c) gate[c] = 1.0f / (1.0f + std::exp(-gate[c]));
    for (int i = 0; i < n; ++i)
      for (int c = 0; c < dim; ++c) x[static_cast<std::size_t>(i) * dim + c] *= gate[c];
    if (!stage.merge) break;
    // Patch merging: the 2x2 neighbours of each output token, concatenated
    // in torch's order (column offset, then row offset), normed and reduced.
    const int half = size / 2;
    for (int i = 0; i < half; ++i)
      for (int j = 0; j < half; ++j)
        for (int q = 0; q < 4; ++q) {
          const int dx = q / 2, dy = q % 2;
          const float* src = x + static_cast<std::size_t>((2 * i + dy) * size + 2 * j + dx) * dim;
          float* dst = merged + (static_cast<std::size_t>(i * half + j) * 4 + q) * dim;
          for (int c = 0; c < dim; ++c) dst[c] = src[c];
        }
    norm(stage.merge_norm, merged, half * half, 4 * dim, t);
    dense(stage.merge_reduce, t, half * half, x);
    size = half, dim *= 2;
  }

  const int n = size * size;
  k.layernorm(x, n, dim, norm_.w.data(), norm_.b.data(), t);
  float* pooled = qkv;
  for (int c = 0; c < dim; ++c) pooled[c] = 0.0f;
  for (int i = 0; i < n; ++i)
    for (int c = 0; c < dim; ++c) pooled[c] += t[static_cast<std::size_t>(i) * dim + c];
  for (int c = 0; c < dim; ++c) pooled[c] /= static_cast<float>(n);
  head_.forward(pooled, 1, logits);
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
