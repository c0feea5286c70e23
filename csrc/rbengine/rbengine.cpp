#include "rbengine.h"

#include <cmath>
#include <stdexcept>

#include "../attention/attention.h"
#include "../common/cpu_dispatch.h"
#include "rbengine_kernels.h"

namespace edgeaffect {
namespace rbengine {
namespace {

const std::vector<float>& take(const std::map<std::string, std::vector<float>>& w, const std::string& name,
                               std::size_t size) {
  auto it = w.find(name);
  if (it == w.end()) throw std::invalid_argument("RBTransformer weights lack " + name);
  if (it->second.size() != size)
    throw std::invalid_argument(name + " has " + std::to_string(it->second.size()) + " values, expected " +
                                std::to_string(size));
  return it->second;
}

Linear make_linear(const std::map<std::string, std::vector<float>>& w, const std::string& name, int in, int out) {
  const auto& weight = take(w, name + ".weight", static_cast<std::size_t>(in) * out);  // torch: (out, in)
  Linear l;
  l.in = in;
  l.out = out;
  l.wt.resize(static_cast<std::size_t>(in) * out);
  for (int o = 0; o < out; ++o)
    for (int i = 0; i < in; ++i) l.wt[static_cast<std::size_t>(i) * out + o] = weight[static_cast<std::size_t>(o) * in + i];
  l.b = take(w, name + ".bias", out);
  return l;
}

LayerNorm make_norm(const std::map<std::string, std::vector<float>>& w, const std::string& name, int dim) {
  return LayerNorm{take(w, name + ".weight", dim), take(w, name + ".bias", dim)};
}

}  // namespace

const Kernels& kernels() {
  static const Kernels chosen = [] {
    const std::string& level = selected_cpu_level();
#if defined(__x86_64__)
    if (level == "avx512") return Kernels{avx512::linear, avx512::gelu};
    if (level == "avx2") return Kernels{avx2::linear, avx2::gelu};
#endif
    return Kernels{baseline::linear, baseline::gelu};
  }();
  return chosen;
}

void Linear::forward(const float* x, int rows, float* y) const {
  kernels().linear(x, rows, in, out, wt.data(), b.data(), y);
}

void LayerNorm::forward(const float* x, int rows, int dim, float* y) const {
  // Eight independent partial sums: a single running sum is a chain of
  // dependent adds (latency-bound, about a third of the whole forward pass
  // when it was one double accumulator); eight chains overlap in the
  // pipeline. Partial sums of at most dim/8 floats keep float32 accuracy.
  constexpr int kLanes = 8;
  for (int r = 0; r < rows; ++r) {
    const float* xr = x + static_cast<std::size_t>(r) * dim;
    float part[kLanes] = {};
    int i = 0;
    for (; i + kLanes <= dim; i += kLanes)
      for (int l = 0; l < kLanes; ++l) part[l] += xr[i + l];
    double total = 0;
    for (int l = 0; l < kLanes; ++l) total += part[l];
    for (; i < dim; ++i) total += xr[i];
    const float mean = static_cast<float>(total / dim);
    float sq[kLanes] = {};
    i = 0;
    for (; i + kLanes <= dim; i += kLanes)
      for (int l = 0; l < kLanes; ++l) sq[l] += (xr[i + l] - mean) * (xr[i + l] - mean);
    double var = 0;
    for (int l = 0; l < kLanes; ++l) var += sq[l];
    for (; i < dim; ++i) var += static_cast<double>(xr[i] - mean) * (xr[i] - mean);
    const float inv = static_cast<float>(1.0 / std::sqrt(var / dim + 1e-5));  // torch's default eps
    float* yr = y + static_cast<std::size_t>(r) * dim;
    for (int j = 0; j < dim; ++j) yr[j] = (xr[j] - mean) * inv * w[j] + b[j];
  }
}

Engine::Engine(const Config& cfg, const std::map<std::string, std::vector<float>>& w) : cfg_(cfg) {
  if (cfg.heads * cfg.head_dim <= 0 || cfg.electrodes <= 0 || cfg.electrodes > attention::kMaxLength)
    throw std::invalid_argument("bad RBTransformer configuration");
  const int inner = cfg.heads * cfg.head_dim;
  embed_ = make_linear(w, "embed", cfg.bands, cfg.dim);
  electrode_ = take(w, "electrode", static_cast<std::size_t>(cfg.electrodes) * cfg.dim);
  for (int i = 0; i < cfg.depth; ++i) {
    const std::string p = "blocks." + std::to_string(i) + ".";
    blocks_.push_back(Block{make_norm(w, p + "norm1", cfg.dim), make_norm(w, p + "norm2", cfg.dim),
                            make_linear(w, p + "attn.qkv", cfg.dim, 3 * inner),
                            make_linear(w, p + "attn.out", inner, cfg.dim), make_linear(w, p + "ff.0", cfg.dim, cfg.ff),
                            make_linear(w, p + "ff.3", cfg.ff, cfg.dim)});
  }
  norm_ = make_norm(w, "norm", cfg.dim);
  head1_ = make_linear(w, "head.0", cfg.dim, cfg.dim);
  head2_ = make_linear(w, "head.3", cfg.dim, cfg.outputs);
}

void Engine::forward(const float* tokens, int batch, float* logits) const {
  const int e = cfg_.electrodes, d = cfg_.dim, h = cfg_.heads, hd = cfg_.head_dim, inner = h * hd;
  const int rows = batch * e;
  std::vector<float> x(static_cast<std::size_t>(rows) * d), t(x.size()), qkv(static_cast<std::size_t>(rows) * 3 * inner);
  std::vector<float> q(static_cast<std::size_t>(rows) * inner), k(q.size()), v(q.size()), att(q.size()), merged(q.size());
  std::vector<float> hidden(static_cast<std::size_t>(rows) * cfg_.ff), proj(x.size());

  embed_.forward(tokens, rows, x.data());
  for (int r = 0; r < rows; ++r)
    for (int i = 0; i < d; ++i) x[static_cast<std::size_t>(r) * d + i] += electrode_[static_cast<std::size_t>(r % e) * d + i];

  for (const Block& blk : blocks_) {
    blk.norm1.forward(x.data(), rows, d, t.data());
    blk.qkv.forward(t.data(), rows, qkv.data());
    // (batch, electrodes, 3, heads, head_dim) -> three (batch, heads, electrodes, head_dim)
    for (int b = 0; b < batch; ++b)
      for (int n = 0; n < e; ++n)
        for (int hh = 0; hh < h; ++hh)
          for (int c = 0; c < hd; ++c) {
            const std::size_t src = ((static_cast<std::size_t>(b) * e + n) * 3) * inner + hh * hd + c;
            const std::size_t dst = ((static_cast<std::size_t>(b) * h + hh) * e + n) * hd + c;
            q[dst] = qkv[src];
            k[dst] = qkv[src + inner];
            v[dst] = qkv[src + 2 * inner];
          }
    attention::attention_cpu(q.data(), k.data(), v.data(), nullptr, batch, h, e, hd, 1, 1,
                             1.0f / std::sqrt(static_cast<float>(hd)), 1, att.data());
    for (int b = 0; b < batch; ++b)
      for (int hh = 0; hh < h; ++hh)
        for (int n = 0; n < e; ++n)
          for (int c = 0; c < hd; ++c)
            merged[((static_cast<std::size_t>(b) * e + n) * h + hh) * hd + c] =
                att[((static_cast<std::size_t>(b) * h + hh) * e + n) * hd + c];
    blk.out.forward(merged.data(), rows, proj.data());
    for (std::size_t i = 0; i < x.size(); ++i) x[i] += proj[i];

    blk.norm2.forward(x.data(), rows, d, t.data());
    blk.ff1.forward(t.data(), rows, hidden.data());
    kernels().gelu(hidden.data(), static_cast<std::int64_t>(hidden.size()));
    blk.ff2.forward(hidden.data(), rows, proj.data());
    for (std::size_t i = 0; i < x.size(); ++i) x[i] += proj[i];
  }

  norm_.forward(x.data(), rows, d, t.data());
  std::vector<float> pooled(static_cast<std::size_t>(batch) * d, 0.0f), head(pooled.size());
  for (int b = 0; b < batch; ++b)
    for (int n = 0; n < e; ++n)
      for (int i = 0; i < d; ++i) pooled[static_cast<std::size_t>(b) * d + i] += t[(static_cast<std::size_t>(b) * e + n) * d + i] / e;
  head1_.forward(pooled.data(), batch, head.data());
  kernels().gelu(head.data(), static_cast<std::int64_t>(head.size()));
  head2_.forward(head.data(), batch, logits);
}

}  // namespace rbengine
}  // namespace edgeaffect
