// The RBTransformer engine's hot loops compiled for the "avx512" instruction
// set (flags from CMakeLists.txt; rbengine.cpp picks a build at run time).
#include <cstdint>

#include "../common/simd.h"
#include "rbengine_kernels.h"

namespace edgeaffect {
namespace rbengine {
namespace avx512 {
#include "rbengine_cpu_kernel.inc"
}  // namespace avx512
}  // namespace rbengine
}  // namespace edgeaffect
