#include "rbengine.h"

#include <cmath>
#include <stdexcept>

#include "../attention/attention.h"
#include "../common/cpu_dispatch.h"
#include "rbengine_kernels.h"

namespace edgeaffect {
namespace rbengine {
const std::vector<float>& take_weight(const WeightMap& w, const std::string& name, std::size_t size) {
  auto it = w.find(name);
  if (it == w.end()) throw std::invalid_argument("the weights lack " + name);
  if (it->second.size() != size)
    throw std::invalid_argument(name + " has " + std::to_string(it->second.size()) + " values, expected " +
                                std::to_string(size));
  return it->second;
}

Linear make_linear(const std::vector<float>& weight, std::vector<float> bias, int in, int out) {
  if (weight.size() != static_cast<std::size_t>(in) * out) throw std::invalid_argument("linear weight size mismatch");
  Linear l;
  l.in = in;
  l.out = out;
  l.wt.resize(static_cast<std::size_t>(in) * out);  // torch: (out, in)
  for (int o = 0; o < out; ++o)
    for (int i = 0; i < in; ++i) l.wt[static_cast<std::size_t>(i) * out + o] = weight[static_cast<std::size_t>(o) * in + i];
  l.b = bias.empty() ? std::vector<float>(out, 0.0f) : std::move(bias);
  l.packed.resize(static_cast<std::size_t>(kernels().packed_floats(in, out)));
  kernels().pack(l.wt.data(), in, out, l.packed.data());
  return l;
}

Linear load_linear(const WeightMap& w, const std::string& name, int in, int out, bool has_bias) {
  const auto& weight = take_weight(w, name + ".weight", static_cast<std::size_t>(in) * out);
  return make_linear(weight, has_bias ? take_weight(w, name + ".bias", out) : std::vector<float>(), in, out);
}

LayerNorm load_norm(const WeightMap& w, const std::string& name, int dim) {
  return LayerNorm{take_weight(w, name + ".weight", dim), take_weight(w, name + ".bias", dim)};
}

const Kernels& kernels() {
  static const Kernels chosen = [] {
    const std::string& level = selected_cpu_level();
#if defined(__x86_64__)
    if (level == "avx512") return Kernels{avx512::linear_part, avx512::packed_floats, avx512::pack, avx512::layernorm};
    if (level == "avx2") return Kernels{avx2::linear_part, avx2::packed_floats, avx2::pack, avx2::layernorm};
#endif
    return Kernels{baseline::linear_part, baseline::packed_floats, baseline::pack, baseline::layernorm};
  }();
  return chosen;
}

void Linear::forward(const float* x, int rows, float* y, Epilogue epilogue, int part, int parts) const {
  kernels().linear_part(x, rows, in, out, packed.data(), wt.data(), b.data(), y, part, parts, epilogue);
}

void LayerNorm::forward(const float* x, int rows, int dim, float* y) const {
  kernels().layernorm(x, rows, dim, w.data(), b.data(), y);
}

Engine::Engine(const Config& cfg, const WeightMap& w) : cfg_(cfg) {
  if (cfg.heads * cfg.head_dim <= 0 || cfg.electrodes <= 0 || cfg.electrodes > attention::kMaxLength)
    throw std::invalid_argument("bad RBTransformer configuration");
  const int inner = cfg.heads * cfg.head_dim;
  embed_ = load_linear(w, "embed", cfg.bands, cfg.dim);
  electrode_ = take_weight(w, "electrode", static_cast<std::size_t>(cfg.electrodes) * cfg.dim);
  for (int i = 0; i < cfg.depth; ++i) {
    const std::string p = "blocks." + std::to_string(i) + ".";
    blocks_.push_back(Block{load_norm(w, p + "norm1", cfg.dim), load_norm(w, p + "norm2", cfg.dim),
                            load_linear(w, p + "attn.qkv", cfg.dim, 3 * inner),
                            load_linear(w, p + "attn.out", inner, cfg.dim), load_linear(w, p + "ff.0", cfg.dim, cfg.ff),
                            load_linear(w, p + "ff.3", cfg.ff, cfg.dim)});
  }
  norm_ = load_norm(w, "norm", cfg.dim);
  head1_ = load_linear(w, "head.0", cfg.dim, cfg.dim);
  head2_ = load_linear(w, "head.3", cfg.dim, cfg.outputs);
}

void Engine::forward(const float* tokens, int batch, float* logits) const {
  const int e = cfg_.electrodes, d = cfg_.dim, h = cfg_.heads, hd = cfg_.head_dim, inner = h * hd;
  const std::size_t rows = static_cast<std::size_t>(batch) * e;
  // Every buffer below is written before it is read.
  thread_local std::vector<float> block;
  Workspace workspace(block, rows * (2 * d + 8 * inner + cfg_.ff) + 2 * static_cast<std::size_t>(batch) * d);
  auto carve = [&workspace](std::size_t n) { return workspace.carve(n); };
  float* x = carve(rows * d);
  float* t = carve(rows * d);
  float* qkv = carve(rows * 3 * inner);
  float* q = carve(rows * inner);
  float* k = carve(rows * inner);
  float* v = carve(rows * inner);
  float* att = carve(rows * inner);
  float* merged = carve(rows * inner);
  float* hidden = carve(rows * cfg_.ff);
  float* pooled = carve(static_cast<std::size_t>(batch) * d);
  float* head = carve(static_cast<std::size_t>(batch) * d);
  // A head's slice is hd floats: an inline loop, not a libc call per slice.
  auto copy_slice = [hd](float* __restrict__ dst, const float* __restrict__ src) {
    for (int c = 0; c < hd; ++c) dst[c] = src[c];
  };

  embed_.forward(tokens, static_cast<int>(rows), x);
  for (std::size_t r = 0; r < rows; ++r)
    for (int i = 0; i < d; ++i) x[r * d + i] += electrode_[(r % e) * d + i];

  for (const Block& blk : blocks_) {
    blk.norm1.forward(x, static_cast<int>(rows), d, t);
    blk.qkv.forward(t, static_cast<int>(rows), qkv);
    // (batch, electrodes, 3, heads, head_dim) -> three (batch, heads, electrodes, head_dim)
    for (int b = 0; b < batch; ++b)
      for (int n = 0; n < e; ++n)
        for (int hh = 0; hh < h; ++hh) {
          const float* src = qkv + ((static_cast<std::size_t>(b) * e + n) * 3) * inner + hh * hd;
          const std::size_t dst = ((static_cast<std::size_t>(b) * h + hh) * e + n) * hd;
          copy_slice(q + dst, src);
          copy_slice(k + dst, src + inner);
          copy_slice(v + dst, src + 2 * inner);
        }
    attention::attention_cpu(q, k, v, nullptr, batch, h, e, hd, 1, 1, 1.0f / std::sqrt(static_cast<float>(hd)), 1, att);
    for (int b = 0; b < batch; ++b)
      for (int hh = 0; hh < h; ++hh)
        for (int n = 0; n < e; ++n)
          copy_slice(merged + ((static_cast<std::size_t>(b) * e + n) * h + hh) * hd,
                     att + ((static_cast<std::size_t>(b) * h + hh) * e + n) * hd);
    blk.out.forward(merged, static_cast<int>(rows), x, Epilogue::kAdd);

    blk.norm2.forward(x, static_cast<int>(rows), d, t);
    blk.ff1.forward(t, static_cast<int>(rows), hidden, Epilogue::kGelu);
    blk.ff2.forward(hidden, static_cast<int>(rows), x, Epilogue::kAdd);
  }

  norm_.forward(x, static_cast<int>(rows), d, t);
  for (int b = 0; b < batch; ++b) {
    float* pb = pooled + static_cast<std::size_t>(b) * d;
    for (int i = 0; i < d; ++i) pb[i] = 0.0f;
    for (int n = 0; n < e; ++n)
      for (int i = 0; i < d; ++i) pb[i] += t[(static_cast<std::size_t>(b) * e + n) * d + i];
    for (int i = 0; i < d; ++i) pb[i] /= static_cast<float>(e);
  }
  head1_.forward(pooled, batch, head, Epilogue::kGelu);
  head2_.forward(head, batch, logits);
}

}  // namespace rbengine
}  // namespace edgeaffect
