// Per-instruction-set builds of the engine's hot loops (rbengine_cpu_kernel.inc).
#pragma once

#include <cstdint>

namespace edgeaffect {
namespace rbengine {

// What a dense layer does with each output value v = (x Wt + b)[r, o] while
// it is still in a register: a separate pass over y would cost a memory round
// trip and, in a threaded forward pass, a barrier.
enum class Epilogue : int {
  kStore,  // y = v
  kGelu,   // y = gelu(v), erf form (torch's nn.GELU())
  kAdd,    // y += v: a residual connection (y holds the residual stream)
};

struct Kernels {
  // y (rows, out) = epilogue(x (rows, in) Wt (in, out) + b) for part `part`
  // of `parts` of the output columns (threads split a layer this way;
  // parts = 1: all; a row split passes each thread's rows with parts = 1).
  // packed: wt in this build's strip layout (pack); wt serves ragged columns.
  void (*linear_part)(const float* x, int rows, int in, int out, const float* packed, const float* wt, const float* b,
                      float* y, int part, int parts, Epilogue epilogue);
  std::int64_t (*packed_floats)(int in, int out);
  void (*pack)(const float* wt, int in, int out, float* packed);
  void (*layernorm)(const float* x, int rows, int dim, const float* w, const float* b, float* y);
};

#define EDGEAFFECT_DECLARE_RBENGINE_ISA(isa)                                                                       \
  namespace isa {                                                                                                  \
  void linear_part(const float*, int, int, int, const float*, const float*, const float*, float*, int, int, Epilogue); \
  std::int64_t packed_floats(int, int);                                                                            \
  void pack(const float*, int, int, float*);                                                                       \
  void layernorm(const float*, int, int, const float*, const float*, float*);                                      \
  }
EDGEAFFECT_DECLARE_RBENGINE_ISA(baseline)
#if defined(__x86_64__)
EDGEAFFECT_DECLARE_RBENGINE_ISA(avx2)
EDGEAFFECT_DECLARE_RBENGINE_ISA(avx512)
#endif
#undef EDGEAFFECT_DECLARE_RBENGINE_ISA

// The build for the CPU level in use (cpu_dispatch.h).
const Kernels& kernels();

}  // namespace rbengine
}  // namespace edgeaffect
