// The Swin engine's window attention compiled for the "avx2" instruction
// set (flags from CMakeLists.txt; swinengine.cpp picks a build at run time).
#include <cstdint>

#include "../common/simd.h"
#include "swinengine_kernels.h"

namespace edgeaffect {
namespace swinengine {
namespace avx2 {
#include "swinengine_cpu_kernel.inc"
}  // namespace avx2
}  // namespace swinengine
}  // namespace edgeaffect
