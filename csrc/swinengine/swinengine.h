// A native forward pass of the Swin-SE FER student (edgeaffect/fer/model.py):
// standardised grey faces (batch, 1, image, image) -> logits (batch, classes),
// with no framework underneath. At batch 1 a framework spends more time
// dispatching the graph's ~200 small operators than computing its 25 M
// multiply-adds; here a forward pass is a fixed sequence of loops over one
// reused workspace. BatchNorm is folded into the stem's convolutions (run as
// im2col + the dense kernel), the attention scale into the query weights,
// and the cyclic shift and window partition into a token index, so no map
// is ever rolled or permuted. GELU and the residual additions happen in the
// dense kernel's epilogue, while the outputs are in registers. The dense
// layers are the RBTransformer engine's kernels; window attention has its
// own (swinengine_kernels.h).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "../rbengine/rbengine.h"

namespace edgeaffect {
namespace swinengine {

// SwinSEConfig's fields (edgeaffect.fer.model), hidden widths resolved.
struct Config {
  int image = 48, stem = 32, dim = 48, classes = 7;
  std::vector<int> depths, heads, windows;
  std::vector<int> mlp_hidden, se_hidden;  // per stage
};

struct Block {
  int size = 0, dim = 0, heads = 0, window = 0, shift = 0;
  rbengine::LayerNorm norm1, norm2;
  rbengine::Linear qkv, proj, fc1, fc2;
  std::vector<int> index;   // (windows, window^2): token of each window slot, shift applied
  std::vector<float> bias;  // (1 or windows, heads, window^2, kBiasStride): position bias (+ shift mask)
  int bias_windows = 1;
};

struct Stage {
  std::vector<Block> blocks;
  rbengine::Linear se1, se2;
  bool merge = false;
  rbengine::LayerNorm merge_norm;
  rbengine::Linear merge_reduce;
};

class Engine {
 public:
  // weights: the torch state_dict of SwinSE (names as torch writes them).
  Engine(const Config& cfg, const std::map<std::string, std::vector<float>>& weights);
  // faces (batch, 1, image, image), standardised -> logits (batch, classes).
  // threads > 1 (OpenMP builds): a batch's faces run in parallel, one face
  // per thread; a single face runs in one parallel region whose threads
  // split each dense layer by rows or output columns, the attention by
  // windows x heads and the SE pooling by channels, waiting only where a
  // step reads what other threads wrote. The result does not depend on the
  // thread count, to the bit.
  void forward(const float* faces, int batch, float* logits, int threads) const;
  const Config& config() const { return cfg_; }

 private:
  void forward_one(const float* face, float* logits, int threads) const;
  Config cfg_;
  rbengine::Linear conv1_, conv2_, head_;  // stem convolutions as im2col weights, BatchNorm folded
  std::vector<Stage> stages_;
  rbengine::LayerNorm norm_;
  std::size_t fixed_floats_ = 0, qkv_floats_ = 0, hidden_floats_ = 0, scratch_floats_ = 0;  // workspace parts
};

}  // namespace swinengine
}  // namespace edgeaffect
