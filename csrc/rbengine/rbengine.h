// A small native forward pass of the RBTransformer (edgeaffect/eeg/model.py):
// DE tokens (batch, electrodes, bands) -> logits (batch, outputs), with no
// framework underneath. The GEMMs are hand-written: at these sizes (32
// tokens x 64-128 features) a loop over transposed weights that the compiler
// vectorises beats calling into a BLAS, and it keeps the engine free of
// dependencies that Jetson images may lack. Attention uses our fused kernel.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "rbengine_kernels.h"

namespace edgeaffect {
namespace rbengine {

struct Config {
  int electrodes = 0, bands = 0, dim = 0, depth = 0, heads = 0, head_dim = 0, ff = 0, outputs = 0;
};

// A linear layer stored transposed: wt is (in, out), so y = x Wt + b is a
// sum of scaled rows (vectorises without reassociating sums).
struct Linear {
  int in = 0, out = 0;
  std::vector<float> wt, b;
  std::vector<float> packed;  // wt in the kernel build's strip layout (rbengine_cpu_kernel.inc)
  // y = epilogue(x Wt + b) (see Epilogue); part/parts: only that share of
  // the output columns (threads; a row split passes its rows, parts = 1).
  void forward(const float* x, int rows, float* y, Epilogue epilogue = Epilogue::kStore, int part = 0,
               int parts = 1) const;
};

struct LayerNorm {
  std::vector<float> w, b;
  void forward(const float* x, int rows, int dim, float* y) const;
};

using WeightMap = std::map<std::string, std::vector<float>>;

// Consecutive float buffers carved out of one block that the caller keeps
// per thread (thread_local) and reuses across calls: a forward pass at batch 1
// takes microseconds, so per-call allocation and zeroing showed up in
// profiles. The block grows to the largest request; buffers are uninitialised.
class Workspace {
 public:
  Workspace(std::vector<float>& block, std::size_t floats) {
    if (block.size() < floats) block.resize(floats);
    next_ = block.data();
  }
  float* carve(std::size_t n) {
    float* p = next_;
    next_ += n;
    return p;
  }

 private:
  float* next_ = nullptr;
};

// Weight lookup with a size check; std::invalid_argument names what is wrong.
const std::vector<float>& take_weight(const WeightMap& w, const std::string& name, std::size_t size);
// A Linear from torch's (out, in) weight and a bias (empty: zeros).
Linear make_linear(const std::vector<float>& weight, std::vector<float> bias, int in, int out);
// name.weight (and name.bias unless has_bias is false) from a state_dict.
Linear load_linear(const WeightMap& w, const std::string& name, int in, int out, bool has_bias = true);
LayerNorm load_norm(const WeightMap& w, const std::string& name, int dim);

struct Block {
  LayerNorm norm1, norm2;
  Linear qkv, out, ff1, ff2;
};

class Engine {
 public:
  // weights: torch state_dict names -> float32 arrays (shape implied by cfg).
  Engine(const Config& cfg, const WeightMap& weights);
  // tokens (batch, electrodes, bands) -> logits (batch, outputs).
  void forward(const float* tokens, int batch, float* logits) const;
  const Config& config() const { return cfg_; }

 private:
  Config cfg_;
  Linear embed_, head1_, head2_;
  std::vector<float> electrode_;
  std::vector<Block> blocks_;
  LayerNorm norm_;
};

}  // namespace rbengine
}  // namespace edgeaffect
